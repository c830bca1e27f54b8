//! Isolated departments (issue 26) end to end: real Git repositories in
//! temporary folders, a real launcher, the fake agent (`tools/fake-agent`) in real PTYs
//! writing into its working folder. Each department works in its own
//! worktree; the launcher records its work as a commit, checks it against its
//! scope and its claim, and integrates it only when asked: Apply, Merge,
//! Discard, Send back, with conflicts predicted and nothing half-applied.

use crate::common::browser;
use crate::common::launcher as support;
use crate::common::scenario::{self, id_of, recorded, Scenario};

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use support::*;

/// A repository whose `governance.yaml` adds `launcher_extra` (lines under
/// `launcher:`), holding `files`, everything committed.
fn isolated(launcher_extra: &str, files: &[(&str, &str)]) -> Scenario {
    Scenario::new()
        .launcher(launcher_extra)
        .files(files)
        .committed()
}

/// Whether the working tree has no change (ignored files aside).
fn clean(root: &Path) -> bool {
    let git = git2::Repository::open(root).unwrap();
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true).include_ignored(false);
    let statuses = git.statuses(Some(&mut opts)).unwrap();
    statuses.is_empty()
}

fn head_of(root: &Path) -> String {
    let git = git2::Repository::open(root).unwrap();
    let id = git.head().unwrap().peel_to_commit().unwrap().id();
    id.to_string()
}

fn branch_exists(root: &Path, branch: &str) -> bool {
    let git = git2::Repository::open(root).unwrap();
    let found = git.find_branch(branch, git2::BranchType::Local).is_ok();
    found
}

/// A department assignment whose fake agent writes `writes` and claims `claims`.
fn assignment(task: &str, files: &[&str], writes: &[(&str, &str)], claims: &[&str]) -> Value {
    let mut directive = String::from("--work-seconds 1");
    for (path, text) in writes {
        directive.push_str(&format!(" --write {path}={text}"));
    }
    for c in claims {
        directive.push_str(&format!(" --changed-file {c}"));
    }
    json!({"department": "lingyubu", "task": format!("{task} [[fake-agent: {directive}]]"),
           "files": files})
}

/// Starts a Zhongshu and registers `assignments` as its plan (no confirmation).
async fn plan(api: &Api, assignments: Vec<Value>) -> String {
    scenario::start_plan(api, "isolated work", "isolated", assignments).await
}

/// A launcher on a repository holding `src/a.rs` (with `launcher_extra`),
/// and one lingyubu department assigned `src/a.rs` that writes `writes` and
/// claims `claims`, its work recorded: its Zhongshu and the department.
async fn one_recorded(
    launcher_extra: &str,
    writes: &[(&str, &str)],
    claims: &[&str],
) -> (TestRepo, InProcess, String, String) {
    let work = assignment("edit a", &["src/a.rs"], writes, claims);
    let (repo, server, z, d) = one_assigned(launcher_extra, work).await;
    (repo, server, z, id_of(&d))
}

/// A launcher on a repository holding `src/a.rs` (with `launcher_extra`)
/// and a plan of one `assignment`, its work recorded: its Zhongshu and the
/// department.
async fn one_assigned(
    launcher_extra: &str,
    assignment: Value,
) -> (TestRepo, InProcess, String, Value) {
    let (repo, server) = isolated(launcher_extra, &[("src/a.rs", "a\n")])
        .serve()
        .await;
    let z = plan(&server.api, vec![assignment]).await;
    let d = recorded(&server.api, &z, 1).await.remove(0);
    (repo, server, z, d)
}

/// An assignment of `src/` whose agent writes `A1` into `src/a.rs`.
fn a1_in_src(task: &str) -> Value {
    assignment(task, &["src/"], &[("src/a.rs", "A1")], &["src/a.rs"])
}

/// `POST /api/integrate` of department `id` in `mode` ("apply", "merge").
async fn integrate(api: &Api, id: &str, mode: &str) -> (StatusCode, Value) {
    api.post("/api/integrate", &json!({"session_id": id, "mode": mode}))
        .await
}

fn workspace_path(d: &Value) -> PathBuf {
    PathBuf::from(d["workspace"]["path"].as_str().expect("a worktree path"))
}

/// The inbox result of `z` from `department_session`, once it is in (its
/// report may be read after its worktree's record).
async fn result_of(api: &Api, z: &str, department_session: &str) -> Value {
    wait_until(
        &format!("a result of {department_session}"),
        PATIENCE,
        || async {
            let inbox = api
                .get_ok(&format!("/api/zhongshu_inbox?id={z}&peek=1"))
                .await;
            inbox["results"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["department_session_id"] == department_session)
                .cloned()
        },
    )
    .await
}

/// The dashboard of `server`; a failure leaves `<artifact>.png`.
async fn page(server: &InProcess, artifact: &str) -> browser::Browser {
    scenario::dashboard(&server.url, &server.token, artifact).await
}

/// An assignment of `src/shared.rs` whose agent writes `text` into it.
fn edit_shared(task: &str, text: &str) -> Value {
    assignment(
        task,
        &["src/shared.rs"],
        &[("src/shared.rs", text)],
        &["src/shared.rs"],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_departments_edit_one_file_apart_and_the_second_merge_names_the_conflict() {
    let repo = isolated(
        "",
        &[("src/shared.rs", "fn one() {}\n"), ("docs/guide.md", "g\n")],
    )
    .repo();
    let base = head_of(&repo.path);
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = plan(
        api,
        vec![edit_shared("edit A", "by-a"), edit_shared("edit B", "by-b")],
    )
    .await;
    // Both work at the same time, each in its own worktree.
    api.wait_status("both departments running", |s| {
        running(&departments(s)).len() == 2
    })
    .await;
    let ds = recorded(api, &z, 2).await;
    let (a, b) = (&ds[0], &ds[1]);
    let a_id = a["id"].as_str().unwrap();
    each_worked_in_its_own_worktree(&repo, &z, &base, &ds);
    assert_eq!(
        std::fs::read_to_string(repo.path.join("src/shared.rs")).unwrap(),
        "fn one() {}\n",
        "the user's working tree saw neither"
    );
    let result = recorded_as_a_commit_by_the_department(&repo, api, &z, a).await;

    let merged = api
        .post_ok(
            "/api/integrate",
            &json!({"session_id": a_id, "mode": "merge"}),
        )
        .await;
    assert_eq!(merged["workspace"]["state"], "merged", "{merged}");
    assert_eq!(merged["workspace"]["removed"], true, "{merged}");
    assert!(!workspace_path(a).exists(), "the merged worktree is gone");
    assert_eq!(
        std::fs::read_to_string(repo.path.join("src/shared.rs")).unwrap(),
        "by-a"
    );
    let head = squashed_in_the_users_name(&repo, &base, &z, a_id, &result);
    the_second_merge_names_the_conflict(&repo, api, b, &head).await;
    server.stop().await;
}

/// Walk 3 of issue 49: two departments made the same edit; merging the
/// second made an empty commit. Work already on the user's branch is refused
/// with what to do, and the branch gets no commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_already_on_the_branch_is_not_merged_as_an_empty_commit() {
    let repo = isolated("", &[("src/shared.rs", "fn one() {}\n")]).repo();
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = plan(
        api,
        vec![edit_shared("edit A", "same"), edit_shared("edit B", "same")],
    )
    .await;
    let ds = recorded(api, &z, 2).await;
    for (i, mode) in ["merge", "merge", "apply"].into_iter().enumerate() {
        let id = id_of(&ds[i.min(1)]);
        let (status, body) = api
            .post("/api/integrate", &json!({"session_id": id, "mode": mode}))
            .await;
        if i == 0 {
            assert_eq!(status, StatusCode::OK, "{body}");
            continue;
        }
        let head = head_of(&repo.path);
        assert_eq!(status, StatusCode::CONFLICT, "{mode}: {body}");
        // Said before it is pressed, in the drawer's view (walk 4 of issue 49).
        let view = api.get_ok(&format!("/api/changes?session_id={id}")).await;
        let said = view["integration_blocked"].as_str().unwrap_or_default();
        assert!(said.contains("already on your branch"), "{view}");
        let words = body["error"].as_str().unwrap_or_default();
        assert!(words.contains("already on your branch"), "{words}");
        assert!(words.contains("Discard"), "{words}");
        assert_eq!(head_of(&repo.path), head, "no commit");
        assert_eq!(api.session(&id).await["workspace"]["state"], "pending");
    }
    server.stop().await;
}

/// Walk 4 of issue 49: a file holding one department's Apply, not yet
/// committed, is that Apply's in another's drawer, not "your uncommitted
/// changes".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncommitted_apply_in_the_way_is_named_as_the_departments() {
    let repo = isolated("", &[("src/shared.rs", "fn one() {}\n")]).repo();
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = plan(
        api,
        vec![edit_shared("edit A", "by-a"), edit_shared("edit B", "by-b")],
    )
    .await;
    let ds = recorded(api, &z, 2).await;
    let (a, b) = (id_of(&ds[0]), id_of(&ds[1]));
    let (status, body) = integrate(api, &a, "apply").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view = api.get_ok(&format!("/api/changes?session_id={b}")).await;
    assert_eq!(
        view["tree_applied"],
        json!([{"path": "src/shared.rs", "session_id": a}]),
        "{view}"
    );
    // The user edits it too: then it is the user's.
    std::fs::write(repo.path.join("src/shared.rs"), "the user's\n").unwrap();
    let view = api.get_ok(&format!("/api/changes?session_id={b}")).await;
    assert_eq!(view["tree_applied"], json!([]), "{view}");
    assert_eq!(view["tree_uncommitted"], json!(["src/shared.rs"]), "{view}");
    server.stop().await;
}

/// Each department of `ds` wrote in its own worktree (its transcript says
/// so), on its own branch, from the plan's base.
fn each_worked_in_its_own_worktree(repo: &TestRepo, z: &str, base: &str, ds: &[Value]) {
    for (d, text) in [(&ds[0], "by-a"), (&ds[1], "by-b")] {
        let path = workspace_path(d);
        assert!(path.starts_with(repo.root.join("repo.worktrees")), "{d}");
        assert_eq!(
            std::fs::read_to_string(path.join("src/shared.rs")).unwrap(),
            text
        );
        assert_eq!(d["workspace"]["base"], base, "from the plan's base: {d}");
        let branch = d["workspace"]["branch"].as_str().unwrap();
        assert_eq!(
            branch,
            format!("governance/{z}/{}", d["id"].as_str().unwrap())
        );
        let log = repo.log(d["id"].as_str().unwrap());
        assert!(log.contains(&format!("in {}", path.display())), "{log}");
    }
}

/// The launcher recorded department `a`'s work as a commit by the
/// department, reviewed PASS; returns its result.
async fn recorded_as_a_commit_by_the_department(
    repo: &TestRepo,
    api: &Api,
    z: &str,
    a: &Value,
) -> Value {
    let a_id = a["id"].as_str().unwrap();
    let result = result_of(api, z, a_id).await;
    assert_eq!(
        result["actual_changed_files"],
        json!(["src/shared.rs"]),
        "{result}"
    );
    assert_eq!(result["diff_stat"]["files"], 1, "{result}");
    assert_eq!(result["commit"], a["workspace"]["commit"], "{result}");
    assert_eq!(result["review"]["decision"], "PASS", "{result}");
    let git = git2::Repository::open(&repo.path).unwrap();
    let commit = git
        .find_commit(git2::Oid::from_str(result["commit"].as_str().unwrap()).unwrap())
        .unwrap();
    assert_eq!(
        commit.author().name(),
        Some(format!("lingyubu ({a_id})").as_str())
    );
    result
}

/// The Merge of `a_id` is one commit on `base`, squashed, in the user's
/// name; the department a co-author (issue 34 item 4), its summary the
/// message with the governance trailers. Returns that commit's id.
fn squashed_in_the_users_name(
    repo: &TestRepo,
    base: &str,
    z: &str,
    a_id: &str,
    result: &Value,
) -> git2::Oid {
    let git = git2::Repository::open(&repo.path).unwrap();
    let head = git.head().unwrap().peel_to_commit().unwrap();
    assert_eq!(head.parent_count(), 1, "one commit per department attempt");
    assert_eq!(head.parent_id(0).unwrap().to_string(), base);
    for who in [head.author(), head.committer()] {
        assert_eq!(
            (who.name(), who.email()),
            (Some("The User"), Some("user@example.com"))
        );
    }
    let message = head.message().unwrap();
    let summary = result["summary"].as_str().unwrap();
    assert!(
        message.starts_with(summary.lines().next().unwrap()),
        "{message:?} {summary:?}"
    );
    for trailer in [
        format!("Co-authored-by: lingyubu ({a_id}) <{a_id}@codex-governance.invalid>"),
        format!("Governance-Session: {a_id}"),
        format!("Governance-Plan: {z}"),
    ] {
        assert!(message.contains(&trailer), "{trailer} in {message:?}");
    }
    head.id()
}

/// Merging `b` after the first is refused, naming the file, with nothing
/// changed (HEAD stays `head`); `b` is conflicting, audited, its work kept.
async fn the_second_merge_names_the_conflict(
    repo: &TestRepo,
    api: &Api,
    b: &Value,
    head: &git2::Oid,
) {
    let b_id = b["id"].as_str().unwrap();
    let (status, answer) = integrate(api, b_id, "merge").await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.contains("src/shared.rs") && error.contains("nothing was changed"),
        "{error}"
    );
    assert_eq!(
        std::fs::read_to_string(repo.path.join("src/shared.rs")).unwrap(),
        "by-a"
    );
    assert_eq!(head_of(&repo.path), head.to_string());
    let b_now = api.session(b_id).await;
    assert_eq!(b_now["workspace"]["state"], "conflicting", "{b_now}");
    // The drawer's data: the file is in the way because both sides changed
    // it, not because of uncommitted changes of yours (the second walk found
    // "conflicts with your working tree … Commit, stash or revert them" after
    // a clean commit).
    let changes = api.get_ok(&format!("/api/changes?session_id={b_id}")).await;
    assert_eq!(
        changes["tree_conflicts"],
        json!(["src/shared.rs"]),
        "{changes}"
    );
    assert_eq!(changes["tree_uncommitted"], json!([]), "{changes}");
    // Apply and Merge are off in the drawer, and say why.
    let said = changes["integration_blocked"].as_str().unwrap_or_default();
    assert!(said.contains("would be refused"), "{changes}");
    assert_eq!(
        b_now["workspace"]["conflicts"],
        json!(["src/shared.rs"]),
        "{b_now}"
    );
    let conflicts = api.audit_events("integration_conflict").await;
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0]["files"], json!(["src/shared.rs"]));
    assert!(workspace_path(b).exists(), "un-integrated work stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_shows_in_the_governance_report_and_discard_keeps_the_branch() {
    let repo = isolated("", &[("src/a.rs", "a\n"), ("src/b.rs", "b\n")]).repo();
    let base = head_of(&repo.path);
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = plan(
        api,
        vec![
            assignment("edit a", &["src/a.rs"], &[("src/a.rs", "A")], &["src/a.rs"]),
            assignment(
                "edit b",
                &["src/b.rs"],
                &[("src/b.rs", "B"), ("src/new.rs", "N")],
                &["src/b.rs", "src/new.rs"],
            ),
        ],
    )
    .await;
    let ds = recorded(api, &z, 2).await;
    let (a_id, b_id) = (ds[0]["id"].as_str().unwrap(), ds[1]["id"].as_str().unwrap());
    let before = api.get_ok("/api/report").await;
    assert_eq!(before["changed_count"], 0, "{before}");
    applied_into_the_report_with_nothing_committed(&repo, api, a_id, &base).await;
    discarded_with_its_branch_kept(&repo, api, &z, &ds[1]).await;
    let events: Vec<String> = api.get_ok("/api/audit?limit=1000").await["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    for e in [
        "worktree_created",
        "worktree_recorded",
        "integration_started",
        "integration_done",
        "worktree_discarded",
        "worktree_removed",
    ] {
        assert!(events.iter().any(|x| x == e), "{e} audited: {events:?}");
    }
    // Applied and discarded work cannot be integrated again.
    let (status, body) = integrate(api, b_id, "apply").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Integrated work's branch goes (issue 34 item 4); the discarded one's stays.
    let a_branch = format!("governance/{z}/{a_id}");
    assert!(
        !branch_exists(&repo.path, &a_branch),
        "{a_branch} is still there"
    );
    let deleted = api.audit_events("branch_deleted").await;
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0]["branch"], a_branch.as_str());
    server.stop().await;
    prune_deletes_a_discarded_branch_after_its_days(&repo, &format!("governance/{z}/{b_id}"));
}

/// Apply of `a_id` brings its file into the tree and the governance report
/// and commits nothing (HEAD stays `base`).
async fn applied_into_the_report_with_nothing_committed(
    repo: &TestRepo,
    api: &Api,
    a_id: &str,
    base: &str,
) {
    let applied = api
        .post_ok(
            "/api/integrate",
            &json!({"session_id": a_id, "mode": "apply"}),
        )
        .await;
    assert_eq!(applied["workspace"]["state"], "applied", "{applied}");
    assert_eq!(head_of(&repo.path), base, "Apply commits nothing");
    let report = api.get_ok("/api/report").await;
    assert_eq!(report["changed_paths"], json!(["src/a.rs"]), "{report}");
    assert_eq!(report["departments"][0]["key"], "lingyubu", "{report}");
    assert_eq!(
        std::fs::read_to_string(repo.path.join("src/a.rs")).unwrap(),
        "A"
    );
}

/// Discard of department `b` removes its folder and brings nothing in; its
/// branch is kept at its recorded commit, its new file in it.
async fn discarded_with_its_branch_kept(repo: &TestRepo, api: &Api, z: &str, b: &Value) {
    let b_id = b["id"].as_str().unwrap();
    let b_commit = b["workspace"]["commit"].as_str().unwrap().to_string();
    let discarded = api
        .post_ok("/api/discard", &json!({"session_id": b_id}))
        .await;
    assert_eq!(discarded["workspace"]["state"], "discarded", "{discarded}");
    assert!(!workspace_path(b).exists(), "the folder is gone");
    assert!(
        !repo.path.join("src/new.rs").exists(),
        "nothing of it came in"
    );
    let git = git2::Repository::open(&repo.path).unwrap();
    let branch = git
        .find_branch(&format!("governance/{z}/{b_id}"), git2::BranchType::Local)
        .expect("the branch is kept");
    let tip = branch.get().peel_to_commit().unwrap();
    assert_eq!(tip.id().to_string(), b_commit);
    assert!(tip
        .tree()
        .unwrap()
        .get_path(Path::new("src/new.rs"))
        .is_ok());
}

/// `worktrees --prune` keeps a discarded branch launcher.keep_discarded_days
/// (7) days, then deletes it.
fn prune_deletes_a_discarded_branch_after_its_days(repo: &TestRepo, b_branch: &str) {
    let repo_arg = repo.path.display().to_string();
    let prune = || run_binary(&["worktrees", "--repo", &repo_arg, "--prune"]);
    let (code, _, err) = prune();
    assert_eq!(code, 0, "{err}");
    assert!(branch_exists(&repo.path, b_branch), "{err}");
    let config = repo.path.join("governance.yaml");
    let yaml = std::fs::read_to_string(&config)
        .unwrap()
        .replace("launcher:\n", "launcher:\n  keep_discarded_days: 0\n");
    std::fs::write(&config, yaml).unwrap();
    let (code, listed, err) = prune();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!(
            "deleted the branch {b_branch} (discarded 0 days ago"
        )),
        "{err}"
    );
    assert!(!branch_exists(&repo.path, b_branch));
    assert!(listed.contains("discarded · branch deleted"), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_scope_and_a_wrong_claim_are_review_findings_that_warn() {
    // lingyubu's globs are src/**, app/**…: output/ is outside its scope.
    let (repo, server, z, id) = one_recorded(
        "",
        &[("src/a.rs", "A"), ("output/build.log", "x")],
        &["src/a.rs", "src/never.rs"],
    )
    .await;
    let (api, id) = (&server.api, id.as_str());
    let r = result_of(api, &z, id).await;
    let review = &r["review"];
    assert_eq!(review["decision"], "REVIEW", "{r}");
    assert_eq!(
        review["scope"]["out_of_scope"],
        json!(["output/build.log"]),
        "{r}"
    );
    assert_eq!(
        review["claim"]["unreported"],
        json!(["output/build.log"]),
        "{r}"
    );
    assert_eq!(review["claim"]["unchanged"], json!(["src/never.rs"]), "{r}");
    assert_eq!(review["risks"][0]["name"], "runtime_artifact", "{r}");
    assert_eq!(
        r["changed_files"],
        json!(["src/a.rs", "src/never.rs"]),
        "the claim is kept"
    );
    let packet = std::fs::read_to_string(r["handoff_packet"].as_str().unwrap()).unwrap();
    assert!(
        packet.contains("\n## Review\n\ndecision: REVIEW\n"),
        "{packet}"
    );
    assert!(
        packet.contains("`output/build.log`") || packet.contains("output/build.log"),
        "{packet}"
    );
    assert!(
        packet.contains("reported but not changed: src/never.rs"),
        "{packet}"
    );
    // The session's workspace carries the same findings (Needs you shows them:
    // needs_you_names_dirty_plan_files_review_findings_and_conflicts_until_resolved).
    let s = api.session(id).await;
    assert_eq!(s["workspace"]["review"]["decision"], "REVIEW", "{s}");
    assert!(s.get("integration_needs_override").is_none(), "{s}");
    // warn: it integrates all the same.
    let (status, applied) = integrate(api, id, "apply").await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["workspace"]["state"], "applied", "{applied}");
    assert!(repo.path.join("output/build.log").exists());
    assert!(api.audit_events("scope_overridden").await.is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_refuses_out_of_scope_work_until_an_audited_override() {
    let (repo, server, _, id) = one_recorded(
        "  scope: block\n",
        &[("src/a.rs", "A"), ("notes.txt", "n")],
        &["src/a.rs", "notes.txt"],
    )
    .await;
    refused_until_overridden(&repo, &server.api, &id, json!(["notes.txt"])).await;
    assert!(repo.path.join("notes.txt").exists());
    server.stop().await;
}

/// Under `scope: block`, department `id`'s work out of scope (`files`) is
/// refused by Merge and Apply, naming them, with nothing brought in, then
/// merged with the override, which is audited.
async fn refused_until_overridden(repo: &TestRepo, api: &Api, id: &str, files: Value) {
    for mode in ["merge", "apply"] {
        let (status, body) = integrate(api, id, mode).await;
        assert_eq!(status, StatusCode::CONFLICT, "{mode}: {body}");
        let error = body["error"].as_str().unwrap();
        for f in files.as_array().unwrap() {
            assert!(error.contains(f.as_str().unwrap()), "{error}");
        }
        assert!(error.contains("override"), "{error}");
    }
    assert!(clean(&repo.path), "nothing came in");
    let s = api.session(id).await;
    assert_eq!(s["workspace"]["state"], "pending");
    assert_eq!(
        s["integration_needs_override"], true,
        "Needs you says so: {s}"
    );
    let merged = api
        .post_ok(
            "/api/integrate",
            &json!({"session_id": id, "mode": "merge", "override_scope": true}),
        )
        .await;
    assert_eq!(merged["workspace"]["state"], "merged", "{merged}");
    let overridden = api.audit_events("scope_overridden").await;
    assert_eq!(overridden.len(), 1, "{overridden:?}");
    assert_eq!(overridden[0]["files"], files);
    assert_eq!(overridden[0]["session_id"], id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_an_out_of_scope_file_into_the_scope_is_out_of_scope() {
    let (repo, server) = isolated(
        "  scope: block\n",
        &[
            ("src/a.rs", "a\n"),
            (
                "Cargo.toml",
                "[package]\nname = \"moved\"\nversion = \"0.1.0\"\n",
            ),
            (".github/workflows/ci.yml", "on: push\njobs: {}\n"),
        ],
    )
    .department_script("mv Cargo.toml src/Cargo.toml && mv .github/workflows/ci.yml src/ci.yml")
    .serve()
    .await;
    let api = &server.api;
    let z = plan(
        api,
        vec![assignment(
            "tidy",
            &["src/a.rs"],
            &[],
            &["src/Cargo.toml", "src/ci.yml"],
        )],
    )
    .await;
    let ds = recorded(api, &z, 1).await;
    let id = ds[0]["id"].as_str().unwrap();
    let r = result_of(api, &z, id).await;
    let review = &r["review"];
    assert_eq!(review["decision"], "REVIEW", "{r}");
    let left = json!([".github/workflows/ci.yml", "Cargo.toml"]);
    // Its files (src/a.rs) narrow its globs: what it moved into src/ is out too.
    let out = json!([
        ".github/workflows/ci.yml",
        "Cargo.toml",
        "src/Cargo.toml",
        "src/ci.yml"
    ]);
    assert_eq!(review["scope"]["out_of_scope"], out, "{r}");
    assert_eq!(review["claim"]["unreported"], left, "{r}");
    let actual = json!([
        ".github/workflows/ci.yml",
        "Cargo.toml",
        "src/Cargo.toml",
        "src/ci.yml"
    ]);
    assert_eq!(r["actual_changed_files"], actual, "{r}");
    let findings = review["findings"].to_string();
    assert!(
        findings.contains("scope (src/a.rs within 11 globs)")
            && findings.contains(".github/workflows/ci.yml, Cargo.toml"),
        "{findings}"
    );
    // block: neither Merge nor Apply deletes Cargo.toml without the override.
    refused_until_overridden(&repo, api, id, out).await;
    assert!(!repo.path.join("Cargo.toml").exists());
    assert!(repo.path.join("src/Cargo.toml").exists());
    server.stop().await;
    // `report --session` sees both ends of each move too.
    let repo_arg = repo.path.display().to_string();
    let (code, out, err) = run_binary(&["report", "--repo", &repo_arg, "--session", id, "--json"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["changed_paths"], actual, "{report}");
}

/// Starts a Zhongshu with one department doing `task`, which first writes
/// `src/<its id>.rs` (see the test below); returns once that file is in its
/// worktree: the department, that file's repository path, its Zhongshu.
async fn at_work(api: &Api, task: &str) -> (Value, String, String) {
    let z = plan(
        api,
        vec![json!({"department": "lingyubu", "files": ["src/"], "task": task})],
    )
    .await;
    let d = wait_until("the department at work", PATIENCE, || async {
        departments(&api.status().await)
            .into_iter()
            .find(|d| d["parent_session_id"] == z)
    })
    .await;
    let file = format!("src/{}.rs", d["id"].as_str().unwrap());
    let written = workspace_path(&d).join(&file);
    wait_until("its edit", PATIENCE, || async {
        written.exists().then_some(())
    })
    .await;
    (d, file, z)
}

/// The lock file of a worktree's index (in its folder under `.git/worktrees`).
fn index_lock(worktree: &Path) -> PathBuf {
    let link = std::fs::read_to_string(worktree.join(".git")).unwrap();
    let gitdir = link
        .trim()
        .strip_prefix("gitdir: ")
        .expect("a linked worktree");
    Path::new(gitdir).join("index.lock")
}

/// The state of `id`'s worktree as `codex-governance worktrees` lists it
/// (read from the state folder, no launcher running).
fn listed_state(repo: &TestRepo, id: &str) -> Value {
    let repo_arg = repo.path.display().to_string();
    let (code, out, err) = run_binary(&["worktrees", "--repo", &repo_arg, "--json"]);
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["session_id"] == id);
    row.unwrap_or_else(|| panic!("{id} is not listed: {listed}"))["state"].clone()
}

#[test]
fn departments_cut_off_by_a_kill_or_a_stop_are_recorded_and_can_be_settled() {
    // Each department writes a file, then locks its worktree's index, so the
    // launcher cannot record it until the test lifts the lock.
    let repo = isolated("", &[("src/a.rs", "a\n")])
        .department_script(
            "echo \"by $CODEX_GOVERNANCE_SESSION_ID\" > \"src/$CODEX_GOVERNANCE_SESSION_ID.rs\" && \
             touch \"$(sed -n 's/^gitdir: //p' .git)/index.lock\"",
        )
        .repo();
    let rt = test_runtime();
    // One reports and exits while it cannot be recorded; the launcher is then
    // killed (-9): the restart records it.
    let mut launcher = spawn_launcher(&repo.path, &[]);
    let (killed, killed_file) = rt.block_on(reported_but_not_recorded(&launcher.api));
    launcher.kill9();
    assert_eq!(listed_state(&repo, &killed), "working");
    let mut launcher = spawn_launcher(&repo.path, &[]);
    let stopped = rt.block_on(async {
        let api = &launcher.api;
        recorded_at_the_restart_and_applied(api, &killed, &killed_file).await;
        // The next one is still at work when the launcher stops: the stop records it.
        let (d, file, _) = at_work(api, "work long [[fake-agent: --work-seconds 600]]").await;
        let lock = index_lock(&workspace_path(&d));
        wait_until("its index locked", PATIENCE, || async {
            lock.exists().then_some(())
        })
        .await;
        std::fs::remove_file(lock).unwrap();
        (id_of(&d), file)
    });
    assert!(repo.path.join(&killed_file).exists(), "applied");
    launcher.terminate();
    assert_eq!(
        listed_state(&repo, &stopped.0),
        "pending",
        "recorded at the stop"
    );
    let mut launcher = spawn_launcher(&repo.path, &[]);
    rt.block_on(async {
        let api = &launcher.api;
        let s = api.session(&stopped.0).await;
        assert_eq!(
            s["workspace"]["actual_changed_files"],
            json!([stopped.1]),
            "{s}"
        );
        let discarded = api
            .post_ok("/api/discard", &json!({"session_id": stopped.0}))
            .await;
        assert_eq!(discarded["workspace"]["state"], "discarded", "{discarded}");
    });
    launcher.terminate();
    assert!(!repo.path.join(&stopped.1).exists(), "discarded");
}

/// A department that reports and exits while its index is locked: its work
/// is not recorded. The lock is then lifted; returns it and its file.
async fn reported_but_not_recorded(api: &Api) -> (String, String) {
    let (d, file, z) = at_work(api, "report [[fake-agent: --work-seconds 1]]").await;
    let id = id_of(&d);
    wait_until("its report registered and its exit", PATIENCE, || async {
        let s = api.session(&id).await;
        let inbox = api
            .get_ok(&format!("/api/zhongshu_inbox?id={z}&peek=1"))
            .await;
        let reported = inbox["results"].as_array().is_some_and(|r| !r.is_empty());
        (reported && s["status"] == "exited").then_some(())
    })
    .await;
    let s = api.session(&id).await;
    assert_eq!(s["workspace"]["state"], "working", "not recorded: {s}");
    std::fs::remove_file(index_lock(&workspace_path(&d))).unwrap();
    (id, file)
}

/// The restarted launcher records the cut-off department `killed` with its
/// file, and its work applies.
async fn recorded_at_the_restart_and_applied(api: &Api, killed: &str, killed_file: &str) {
    let s = wait_until("the cut-off department recorded", PATIENCE, || async {
        let s = api.session(killed).await;
        (s["workspace"]["state"] != "working").then_some(s)
    })
    .await;
    assert_eq!(s["workspace"]["state"], "pending", "{s}");
    assert_eq!(
        s["workspace"]["actual_changed_files"],
        json!([killed_file]),
        "{s}"
    );
    let (status, applied) = integrate(api, killed, "apply").await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["workspace"]["state"], "applied", "{applied}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_back_work_goes_on_in_the_same_worktree() {
    crate::needs!(Chromium);
    let (_repo, server, z, d) = one_assigned("", a1_in_src("first try")).await;
    let api = &server.api;
    let first = id_of(&d);
    let (status, body) = api
        .post("/api/send_back", &json!({"session_id": first, "note": " "}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an empty note: {body}");
    let sent = api
        .post_ok(
            "/api/send_back",
            &json!({"session_id": first,
                    "note": "also add src/b.rs [[fake-agent: --write src/b.rs=B --changed-file src/a.rs --changed-file src/b.rs]]"}),
        )
        .await;
    let second = sent["successor"]
        .as_str()
        .expect("a successor session")
        .to_string();
    let next = &api
        .wait_session(&second, "recorded", |s| {
            s["status"] == "exited" && s["workspace"]["state"] == "pending"
        })
        .await;
    assert_eq!(
        next["workspace"]["path"], d["workspace"]["path"],
        "the same worktree"
    );
    assert_eq!(next["workspace"]["predecessor"], first.as_str());
    let old = api.session(&first).await;
    assert_eq!(old["workspace"]["state"], "sent_back", "{old}");
    assert_eq!(old["workspace"]["successor"], second.as_str(), "{old}");
    let r = result_of(api, &z, &second).await;
    assert_eq!(
        r["actual_changed_files"],
        json!(["src/a.rs", "src/b.rs"]),
        "{r}"
    );
    assert_eq!(r["review"]["decision"], "PASS", "{r}");
    let prompt = std::fs::read_to_string(next["prompt_path"].as_str().unwrap()).unwrap();
    assert!(
        prompt.contains("[Sent back by the user] also add src/b.rs"),
        "{prompt}"
    );
    assert!(prompt.contains("own git worktree"), "{prompt}");
    the_plan_follows_the_new_attempt(api, &z, &first, &second).await;
    the_card_and_the_row_say_it_was_sent_back(&server, &first, &second).await;
    server.stop().await;
}

/// The plan follows the new attempt `second`; the first is history (issue 34
/// item 3), superseded.
async fn the_plan_follows_the_new_attempt(api: &Api, z: &str, first: &str, second: &str) {
    let sent_back = api.audit_events("sent_back").await;
    assert_eq!(sent_back[0]["successor"], second, "{sent_back:?}");
    let plan = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    let a = &plan["plan"]["assignments"][0];
    assert_eq!(a["session_id"], second, "{plan}");
    assert_eq!(a["earlier_sessions"], json!([first]), "{plan}");
    assert_eq!(a["sent_back"], 1, "{plan}");
    let status = api.status().await;
    let old = departments(&status)
        .into_iter()
        .find(|d| d["id"] == first)
        .unwrap();
    assert_eq!(old["superseded_by"], second, "{old}");
}

/// The plan card says so, and counts the current attempt only; the new
/// session's row shows the task and the user's note, not the launcher's
/// words to the agent around them (issue 37).
async fn the_card_and_the_row_say_it_was_sent_back(server: &InProcess, first: &str, second: &str) {
    let page = page(server, "isolation-sent-back-failure").await;
    let card = page
        .wait_js(
            "the plan card's history",
            "const n = document.querySelector('.plan-view .reruns');              const c = document.querySelector('.plan-integration');              return n && c ? n.textContent + ' | ' + c.textContent : null;",
            vec![],
            Duration::from_secs(45),
        )
        .await;
    let card = card.as_str().unwrap();
    let task = page
        .wait_js(
            "the sent-back session's task",
            "const t = document.querySelector(`.session-row[data-id=\"${arguments[0]}\"] .row-task`); return t && t.textContent;",
            vec![json!(second)],
            Duration::from_secs(45),
        )
        .await;
    let task = task.as_str().unwrap();
    assert!(
        task.contains("\nSent back by you: also add src/b.rs")
            && !task.contains("Your earlier work")
            && !task.contains("[Sent back by the user]"),
        "{task:?}"
    );
    assert!(
        card.contains(&format!("sent back once; earlier {first}"))
            && card.contains("0 integrated, 1 waiting for your review."),
        "{card}"
    );
    page.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dirty_working_tree_under_the_plans_files_is_said() {
    let repo = isolated("", &[("src/a.rs", "a\n"), ("src/b.rs", "b\n")]).repo();
    std::fs::write(repo.path.join("src/a.rs"), "uncommitted\n").unwrap();
    std::fs::write(repo.path.join("src/b.rs"), "uncommitted too\n").unwrap();
    let base = head_of(&repo.path);
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = api.start_zhongshu("dirty").await;
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": "s", "needs_confirmation": true,
                "assignments": [{"department": "lingyubu", "task": "t", "files": ["src/a.rs"]}]}),
    )
    .await;
    let p = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_eq!(p["plan"]["base"]["commit"], base.as_str(), "{p}");
    assert_eq!(p["plan"]["base"]["dirty_files"], json!(["src/a.rs"]), "{p}");
    let zs = api.session(&z).await;
    assert_eq!(zs["plan_dirty_files"], json!(["src/a.rs"]), "{zs}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_isolation_and_a_repository_without_a_commit_keep_the_one_tree() {
    for (extra, commit) in [("  isolation: shared\n", true), ("", false)] {
        let scenario = Scenario::new().launcher(extra);
        let scenario = if commit {
            scenario.committed()
        } else {
            scenario
        };
        let (repo, server) = scenario.serve().await;
        let api = &server.api;
        let z = plan(
            api,
            vec![assignment(
                "edit",
                &[],
                &[("shared.txt", "s")],
                &["shared.txt"],
            )],
        )
        .await;
        let d = api
            .wait_status("the department reported", |s| {
                departments(s)
                    .iter()
                    .any(|d| d["report_status"] == "reported")
            })
            .await;
        let d = departments(&d).into_iter().next().unwrap();
        assert!(d.get("workspace").is_none(), "{d}");
        wait_until("its file in the shared tree", PATIENCE, || async {
            repo.path.join("shared.txt").exists().then_some(())
        })
        .await;
        assert!(!repo.root.join("repo.worktrees").exists());
        let _ = &z;
        server.stop().await;
    }
}

#[test]
fn report_session_is_the_governance_report_of_one_departments_diff() {
    let repo = isolated("", &[("src/a.rs", "a\n"), ("docs/x.md", "x\n")]).repo();
    let rt = test_runtime();
    let id = rt.block_on(async {
        let server = InProcess::start(&repo).await;
        let api = &server.api;
        let z = plan(
            api,
            vec![assignment(
                "edit",
                &["src/a.rs"],
                &[
                    ("src/a.rs", "A"),
                    ("docs/new.md", "n"),
                    ("AGENTS.md", "see_/home/alice/notes"),
                ],
                &["src/a.rs"],
            )],
        )
        .await;
        let ds = recorded(api, &z, 1).await;
        let id = id_of(&ds[0]);
        // The user's own change is not the department's.
        std::fs::write(repo.path.join("docs/x.md"), "the user's\n").unwrap();
        // The stop ends its agent and records what its exit left: nothing
        // records the folder after it.
        server.stop().await;
        // Its folder changed after the last record (the agent, or anyone):
        // the report reads what was recorded.
        let wt = workspace_path(&ds[0]);
        std::fs::write(wt.join("AGENTS.md"), "clean\n").unwrap();
        std::fs::write(wt.join("README.md"), "see /home/bob/late\n").unwrap();
        id
    });
    let repo_arg = repo.path.display().to_string();
    let (code, out, err) = run_binary(&["report", "--repo", &repo_arg, "--session", &id, "--json"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["mode"], "session", "{report}");
    assert_eq!(
        report["changed_paths"],
        json!(["AGENTS.md", "docs/new.md", "src/a.rs"]),
        "{report}"
    );
    assert!(report["title"].as_str().unwrap().contains(&id), "{report}");
    let scan = &report["preflight"]["checks"]["portability_reference_scan"];
    let found: Vec<&str> = scan["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        found,
        ["AGENTS.md"],
        "the recorded blob, not the folder: {scan}"
    );
    let depts: Vec<&str> = report["departments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert_eq!(depts, ["zhilibu", "lingyubu"], "{report}");
    let (code, _, err) = run_binary(&["report", "--repo", &repo_arg, "--session", "nobody-1"]);
    assert_eq!(code, 2);
    assert!(err.contains("no session nobody-1"), "{err}");
}

#[test]
fn nothing_unintegrated_is_deleted_by_close_stop_restart_or_prune() {
    let repo = isolated("", &[("src/a.rs", "a\n"), ("src/b.rs", "b\n")]).repo();
    let rt = test_runtime();
    let (pending, applied) = rt.block_on(one_closed_pending_and_one_applied(&repo));
    let kept = workspace_path(&pending);
    assert!(
        kept.join("src/b.rs").exists(),
        "closing and stopping delete nothing"
    );
    // A restart deletes nothing un-integrated either.
    let mut launcher = spawn_launcher(&repo.path, &[]);
    rt.block_on(async {
        let id = pending["id"].as_str().unwrap();
        let s = launcher.api.session(id).await;
        assert_eq!(s["workspace"]["state"], "pending", "{s}");
    });
    // Pruning by hand while it runs goes through it, and keeps this work too.
    let repo_arg = repo.path.display().to_string();
    let (code, _, err) = run_binary(&["worktrees", "--repo", &repo_arg, "--prune"]);
    assert_eq!(code, 0, "{err}");
    assert!(kept.join("src/b.rs").exists(), "{err}");
    launcher.terminate();
    assert!(kept.exists());
    pruned_the_applied_and_kept_the_pending(&repo, &pending, &applied);
}

/// In a launcher of its own, two departments record their work: a's is
/// applied, b's agent waits after its report and the launcher closes it;
/// then the launcher stops. (b, pending; a, applied.)
async fn one_closed_pending_and_one_applied(repo: &TestRepo) -> (Value, Value) {
    let server = InProcess::start(repo).await;
    let api = &server.api;
    let z = plan(
        api,
        vec![
            assignment("edit a", &["src/a.rs"], &[("src/a.rs", "A")], &["src/a.rs"]),
            // b's agent waits after its report: the launcher closes it.
            assignment(
                "edit b [[fake-agent: --after-report wait]]",
                &["src/b.rs"],
                &[("src/b.rs", "B")],
                &["src/b.rs"],
            ),
        ],
    )
    .await;
    let ds = recorded(api, &z, 2).await;
    let (a, b) = (ds[0].clone(), ds[1].clone());
    assert_eq!(b["close_reason"], "reported", "{b}");
    api.post_ok(
        "/api/integrate",
        &json!({"session_id": a["id"], "mode": "apply"}),
    )
    .await;
    server.stop().await;
    (b, a)
}

/// `worktrees --prune` with no launcher running keeps the pending work,
/// its worktree and branch, and removes the applied one's (issue 34 item
/// 4: applied work is in the user's tree); both are still listed.
fn pruned_the_applied_and_kept_the_pending(repo: &TestRepo, pending: &Value, applied: &Value) {
    let repo_arg = repo.path.display().to_string();
    let (code, out, err) = run_binary(&["worktrees", "--repo", &repo_arg, "--prune"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        workspace_path(pending).join("src/b.rs").exists(),
        "prune keeps un-integrated work: {out}"
    );
    assert!(
        out.contains(pending["id"].as_str().unwrap()) && out.contains("pending"),
        "{out}"
    );
    assert!(
        out.contains("integrated (applied) · branch deleted"),
        "{out}"
    );
    assert!(!workspace_path(applied).exists());
    let branch_of = |d: &Value| d["workspace"]["branch"].as_str().unwrap().to_string();
    assert!(
        branch_exists(&repo.path, &branch_of(pending)),
        "the pending branch is kept"
    );
    assert!(!branch_exists(&repo.path, &branch_of(applied)));
    let (code, json_out, _) = run_binary(&["worktrees", "--repo", &repo_arg, "--json"]);
    assert_eq!(code, 0);
    let listed: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
}

/// Files a department writes for the kill test: enough that an integration
/// takes a while, each with its own text.
const MANY: usize = 600;

/// How many of the kill test's files are in the user's tree.
fn present(repo: &TestRepo) -> usize {
    (0..MANY)
        .filter(|i| repo.path.join(format!("gen/f{i}.txt")).exists())
        .count()
}

#[test]
fn kill_9_during_an_integration_leaves_it_done_or_undone() {
    // The department's agent writes MANY files, then runs the fake agent.
    let repo = isolated("", &[("src/keep.rs", "k\n")])
        .department_script(&format!(
            "mkdir -p gen; i=0; \
             while [ $i -lt {MANY} ]; do echo \"file $i\" > gen/f$i.txt; i=$((i+1)); done"
        ))
        .max_departments(3)
        .repo();
    let rt = test_runtime();
    let tasks = ["one", "two", "three", "four", "five"];
    let ids: Vec<String> = rt.block_on(async {
        let server = InProcess::start(&repo).await;
        let api = &server.api;
        let a = |t: &str| json!({"department": "lingyubu", "task": t, "files": ["gen/"]});
        let z = plan(api, tasks.iter().map(|t| a(t)).collect()).await;
        let ds = recorded(api, &z, tasks.len()).await;
        server.stop().await;
        ds.iter().map(id_of).collect()
    });
    // Each integration stops at a known point of its saga (a debug-build
    // setting), the launcher is killed there, and the next one settles it:
    // cut after its intent, before the Git job, nothing was written; half an
    // Apply is undone, a whole Apply is finished, a Merge whose branch has
    // not moved is undone; cut after the Git job, before its done change, a
    // Merge is finished (last: it moves HEAD).
    let head_before = head_of(&repo.path);
    let cycles = [
        ("apply", "intent".to_string(), "pending"),
        ("apply", (MANY / 2).to_string(), "pending"),
        ("apply", "end".to_string(), "applied"),
        ("merge", "end".to_string(), "pending"),
        ("merge", "done".to_string(), "merged"),
    ];
    for (cycle, (id, (mode, pause, expected))) in ids.iter().zip(cycles).enumerate() {
        let branch = killed_at_the_pause(&rt, &repo, id, mode, &pause);
        let mut launcher = spawn_launcher(&repo.path, &[]);
        let (state, settled) = rt.block_on(settled_after_the_restart(&launcher.api, id));
        assert_eq!(state, expected, "cycle {cycle}: {mode} paused at {pause}");
        match state.as_str() {
            "applied" => {
                assert_eq!(settled["event"], "integration_done", "{settled}");
                assert_eq!(settled["recovered"], true, "{settled}");
                assert_eq!(present(&repo), MANY, "cycle {cycle}: all done");
                // The next department integrates onto a clean tree again.
                std::fs::remove_dir_all(repo.path.join("gen")).unwrap();
            }
            "merged" => {
                merged_by_the_restart(&rt, &launcher.api, &repo, id, &branch, &settled);
                assert_eq!(head_parent(&repo.path), head_before, "cycle {cycle}");
            }
            _ => {
                assert_eq!(settled["event"], "integration_undone", "{settled}");
                let error = settled["error"].as_str().unwrap_or("");
                assert!(error.contains("launcher stopped"), "{settled}");
                let nothing_written = error.contains("before the integration wrote anything");
                assert_eq!(nothing_written, pause == "intent", "{settled}");
                assert_eq!(present(&repo), 0, "cycle {cycle}: nothing done");
            }
        }
        if state != "merged" {
            assert_eq!(
                head_of(&repo.path),
                head_before,
                "cycle {cycle}: HEAD stays"
            );
        }
        assert!(clean(&repo.path), "cycle {cycle}: a clean tree");
        launcher.terminate();
    }
}

/// The first parent of HEAD in `root`.
fn head_parent(root: &Path) -> String {
    let git = git2::Repository::open(root).unwrap();
    let head = git.head().unwrap().peel_to_commit().unwrap();
    let parent = head.parent_id(0).unwrap();
    parent.to_string()
}

/// A Merge whose Git job was done (files, index, branch, the worktree and
/// its branch gone) when the launcher was killed: the restart records it
/// done, recovered, with the removal, once.
fn merged_by_the_restart(
    rt: &tokio::runtime::Runtime,
    api: &Api,
    repo: &TestRepo,
    id: &str,
    branch: &str,
    settled: &Value,
) {
    assert_eq!(settled["event"], "integration_done", "{settled}");
    assert_eq!(settled["recovered"], true, "{settled}");
    assert_eq!(present(repo), MANY, "all merged");
    assert!(!branch_exists(&repo.path, branch), "{branch} went");
    rt.block_on(async {
        let ws = api.session(id).await["workspace"].clone();
        let tidied = (&ws["removed"], &ws["branch_deleted"]);
        assert_eq!(
            tidied,
            (&json!(true), &json!(true)),
            "removed, branch_deleted"
        );
        for event in ["worktree_removed", "branch_deleted"] {
            let mine: Vec<Value> = api
                .audit_events(event)
                .await
                .into_iter()
                .filter(|e| e["session_id"] == id)
                .collect();
            assert_eq!(mine.len(), 1, "{event} once: {mine:?}");
        }
    });
}

/// A launcher told to pause integrations at `pause` integrates `id` in
/// `mode`, and is killed (-9) once the integration reached the pause: its
/// intent stored, its writes up to the pause done (after the Git job: the
/// department's branch deleted, its last step). Returns that branch.
fn killed_at_the_pause(
    rt: &tokio::runtime::Runtime,
    repo: &TestRepo,
    id: &str,
    mode: &'static str,
    pause: &str,
) -> String {
    let env = [(
        "CODEX_GOVERNANCE_TEST_PAUSE_INTEGRATION".to_string(),
        pause.to_string(),
    )];
    let mut launcher = spawn_launcher_env(&repo.path, &[], &env);
    let api = launcher.api.clone();
    let branch = rt.block_on(async {
        let s = api.session(id).await;
        s["workspace"]["branch"].as_str().unwrap().to_string()
    });
    let id2 = id.to_string();
    let call = rt.spawn(async move { integrate(&api, &id2, mode).await });
    let written = match pause {
        "intent" => 0,
        "end" | "done" => MANY,
        _ => MANY / 2,
    };
    rt.block_on(async {
        wait_until("the integration started", PATIENCE, || async {
            let started = launcher.api.audit_events("integration_started").await;
            started.iter().any(|e| e["session_id"] == id).then_some(())
        })
        .await;
        wait_until("the writes up to the pause", PATIENCE, || async {
            (present(repo) == written).then_some(())
        })
        .await;
        if pause == "done" {
            wait_until("the Git job's last step", PATIENCE, || async {
                (!branch_exists(&repo.path, &branch)).then_some(())
            })
            .await;
        }
    });
    launcher.kill9();
    call.abort();
    branch
}

/// The state `id`'s integration settled in after the restart (applied,
/// merged or pending), and the one audit event that ended it.
async fn settled_after_the_restart(api: &Api, id: &str) -> (String, Value) {
    let state = wait_until("the integration settled", PATIENCE, || async {
        let s = api.session(id).await;
        let st = s["workspace"]["state"].as_str().unwrap_or("").to_string();
        matches!(st.as_str(), "applied" | "merged" | "pending").then_some(st)
    })
    .await;
    let mut events = api.audit_events("integration_done").await;
    events.extend(api.audit_events("integration_undone").await);
    let mine: Vec<Value> = events
        .into_iter()
        .filter(|e| e["session_id"] == id)
        .collect();
    assert_eq!(mine.len(), 1, "one ending audited: {mine:?}");
    (state, mine[0].clone())
}

/// Clicks the first element matching `css` once there is one.
async fn click_when(d: &browser::Browser, what: &str, css: &str) {
    d.wait_js(
        what,
        "const e = document.querySelector(arguments[0]); if (e) e.click(); return !!e;",
        vec![json!(css)],
        Duration::from_secs(45),
    )
    .await;
}

/// The dashboard (headless Chromium): a department's changes open in the
/// drawer from its row, with its files and their diffs; Apply brings them
/// into the working tree and the plan then counts the result as integrated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_a_departments_changes_and_applies_them() {
    crate::needs!(Chromium);
    let (repo, server, _, id) =
        one_recorded("", &[("src/a.rs", "A-FROM-DEPT")], &["src/a.rs"]).await;
    let d = page(&server, "isolation-changes-failure").await;
    let wait = Duration::from_secs(45);
    let opener = format!("[data-open-changes='{id}']");
    click_when(&d, "the department's changes button", &opener).await;
    let body = d
        .wait_js(
            "its changes in the drawer",
            "const b = document.querySelector('#drawer-body'); \
             return b && b.textContent.includes('src/a.rs') && b.textContent.includes('Apply') \
               ? b.textContent : null;",
            vec![],
            wait,
        )
        .await;
    let body = body.as_str().unwrap();
    assert!(body.contains("changes pending"), "{body}");
    assert!(
        body.contains("Merge") && body.contains("Discard") && body.contains("Send back"),
        "{body}"
    );
    // One file's diff, inline: its recorded commit against its base.
    d.wait_js(
        "the file's diff",
        "const t = document.querySelector('#drawer-body details.file-diff[open] table.diff'); \
         return !!t && t.textContent.includes('A-FROM-DEPT');",
        vec![],
        wait,
    )
    .await;
    click_when(&d, "the changes again", &opener).await;
    // Apply is the first of the four choices.
    click_when(&d, "Apply", "#drawer-body .changes-actions button").await;
    wait_until("the change in the working tree", wait, || async {
        let text = std::fs::read_to_string(repo.path.join("src/a.rs")).unwrap_or_default();
        (text == "A-FROM-DEPT").then_some(())
    })
    .await;
    d.wait_js(
        "the plan counts it integrated",
        "const p = document.querySelector('.plan-integration'); \
         return !!p && p.textContent.includes('1 integrated');",
        vec![],
        wait,
    )
    .await;
    // Undo, from the same drawer: the file is as it was, the work pending again.
    click_when(&d, "the changes after the Apply", &opener).await;
    click_when(
        &d,
        "Undo",
        "#drawer-body .changes-actions button.undo-integration",
    )
    .await;
    wait_until("the Apply taken back", wait, || async {
        let text = std::fs::read_to_string(repo.path.join("src/a.rs")).unwrap_or_default();
        (text == "a\n").then_some(())
    })
    .await;
    // The files come back before the undo is recorded: wait for the state.
    wait_until("the work pending again after the Undo", wait, || async {
        (api_session_state(&server, &id).await == "pending").then_some(())
    })
    .await;
    d.quit().await;
    server.stop().await;
}

async fn api_session_state(server: &InProcess, id: &str) -> String {
    let s = server.api.session(id).await;
    s["workspace"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The text of the Needs you item with key `key` once it shows and `script`
/// (given the item as `li`) holds; every item is shown (no "Show N more").
async fn need_item(d: &browser::Browser, what: &str, key: &str, holds: &str) -> String {
    let script = format!(
        "const more = document.querySelector('#needs-you-more'); \
         if (more && !more.hidden && more.getAttribute('aria-expanded') !== 'true') more.click(); \
         const li = [...document.querySelectorAll('#needs-you-list > li')] \
           .find((x) => x.dataset.key === arguments[0]); \
         return li && ({holds}) ? li.textContent : null;"
    );
    let text = d
        .wait_js(what, &script, vec![json!(key)], Duration::from_secs(45))
        .await;
    text.as_str().unwrap().to_string()
}

/// Waits until Needs you holds no item with key `key`.
async fn need_gone(d: &browser::Browser, what: &str, key: &str) {
    d.wait_js(
        what,
        "return ![...document.querySelectorAll('#needs-you-list > li')] \
           .some((x) => x.dataset.key === arguments[0]);",
        vec![json!(key)],
        Duration::from_secs(45),
    )
    .await;
}

/// The department of `ds` whose task contains `task`.
fn by_task(ds: &[Value], task: &str) -> String {
    ds.iter()
        .find(|d| d["task"].as_str().unwrap_or("").contains(task))
        .and_then(|d| d["id"].as_str())
        .unwrap_or_else(|| panic!("no department with task {task}: {ds:?}"))
        .to_string()
}

/// The dashboard's Needs you (headless Chromium) with real departments in
/// their worktrees, `launcher.scope: block`: a plan naming a file the user
/// has not committed, a department's work out of scope with a wrong claim
/// (one file name written by the agent as HTML), and an integration refused
/// for a predicted conflict show naming their files (the last two in the one
/// item for all waiting work, issue 37); each goes when resolved (Discard
/// from the drawer the queue opens by keyboard, the user's file reverted, the
/// conflicting work discarded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn needs_you_names_dirty_plan_files_review_findings_and_conflicts_until_resolved() {
    crate::needs!(Chromium);
    let repo = isolated(
        "  scope: block\n",
        &[
            ("src/a.rs", "a\n"),
            ("src/d.rs", "d\n"),
            ("src/shared.rs", "fn one() {}\n"),
        ],
    )
    .repo();
    std::fs::write(repo.path.join("src/d.rs"), "the user's own edit\n").unwrap();
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = plan(
        api,
        vec![
            // A waits after its report, so that its exit (the launcher closes
            // it) is recorded after the report and with its claim.
            assignment(
                "edit A [[fake-agent: --after-report wait]]",
                &["src/a.rs", "src/d.rs"],
                &[("src/a.rs", "A"), (HOSTILE, "x")],
                &["src/a.rs", "src/never.rs"],
            ),
            edit_shared("edit B", "by-b"),
            edit_shared("edit C", "by-c"),
        ],
    )
    .await;
    let ds = recorded(api, &z, 3).await;
    let (a, b, c) = (
        by_task(&ds, "edit A"),
        by_task(&ds, "edit B"),
        by_task(&ds, "edit C"),
    );
    api.post_ok("/api/integrate", &json!({"session_id": b, "mode": "merge"}))
        .await;
    let (status, answer) = integrate(api, &c, "merge").await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");

    let d = page(&server, "isolation-needs-you-failure").await;
    let dirty = need_item(&d, "the plan's dirty file", &format!("dirty:{z}"), "true").await;
    assert!(
        dirty.contains("src/d.rs") && dirty.contains("did not commit"),
        "{dirty}"
    );
    findings_and_the_conflict_in_the_one_item(&d, &c).await;
    merge_is_off_in_the_drawer_of_conflicting_work(&d, &c).await;
    discarded_from_the_drawer_the_queue_opens(&d, &a).await;
    assert_eq!(api.session(&a).await["workspace"]["state"], "discarded");

    // Reverting the user's file ends the plan's item ("Check again").
    std::fs::write(repo.path.join("src/d.rs"), "d\n").unwrap();
    d.js(
        "const li = [...document.querySelectorAll('#needs-you-list > li')] \
           .find((x) => x.dataset.key === arguments[0]); \
         if (li) li.querySelector('[data-action=check-dirty]').click();",
        vec![json!(format!("dirty:{z}"))],
    )
    .await;
    need_gone(&d, "the dirty item after the revert", &format!("dirty:{z}")).await;
    need_item(&d, "C's conflict still", "changes", &queue_entry_of(&c)).await;

    api.post_ok("/api/discard", &json!({"session_id": c})).await;
    need_gone(&d, "the queue after C's Discard", "changes").await;
    // Nothing is left to decide: only the offer to close the planner, whose
    // plan is done (issue 49 item 9).
    d.wait_js(
        "Needs you holds only the finished planner",
        "const items = [...document.querySelectorAll('#needs-you-list > li')]; \
         return items.length === 1 && items[0].dataset.kind === 'finished-planners';",
        vec![],
        Duration::from_secs(45),
    )
    .await;
    d.quit().await;
    server.stop().await;
}

/// A file name the agent writes as HTML.
const HOSTILE: &str = "output/<i>x.log";

/// A Needs you item's check that the queue's entry of department `id` is in it.
fn queue_entry_of(id: &str) -> String {
    format!("li.querySelector('.queue-entry[data-session=\"{id}\"]')")
}

/// A's findings and C's conflict are in the one item for all waiting work;
/// the agent's file name is text, never markup; the badge counts the items.
async fn findings_and_the_conflict_in_the_one_item(d: &browser::Browser, c: &str) {
    let review = need_item(
        d,
        "A's review findings",
        "changes",
        "li.textContent.includes('src/never.rs')",
    )
    .await;
    for part in [
        HOSTILE,
        "out of its scope",
        "src/never.rs",
        "reported but not changed",
        "override",
    ] {
        assert!(review.contains(part), "{part} in {review}");
    }
    let conflict = need_item(d, "C's conflict", "changes", &queue_entry_of(c)).await;
    assert!(
        conflict.contains("conflicting: src/shared.rs"),
        "{conflict}"
    );
    let markup = d
        .js(
            "return document.querySelectorAll('#needs-you-list i').length \
               + ':' + document.querySelector('#needs-you-count').textContent;",
            vec![],
        )
        .await;
    let (tags, count) = markup.as_str().unwrap().split_once(':').unwrap();
    assert_eq!(tags, "0", "no <i> element from a file name");
    assert!(count.parse::<usize>().unwrap() >= 2, "count {count}");
}

/// C's drawer says its Apply and Merge would be refused before either is
/// pressed: both are off, with the reason and Check again (walk 4 of issue 49).
async fn merge_is_off_in_the_drawer_of_conflicting_work(d: &browser::Browser, c: &str) {
    d.js(
        "document.querySelector(`#needs-you-list .queue-entry[data-session=\"${arguments[0]}\"] [data-open-changes]`).click();",
        vec![json!(c)],
    )
    .await;
    let state = d
        .wait_js(
            "C's decision in the drawer",
            "const m = document.querySelector('#drawer-body [data-decide=merge]'); \
             const a = document.querySelector('#drawer-body [data-decide=apply]'); \
             const why = document.querySelector('#drawer-body .decision-blocked'); \
             return m && a && why ? [m.getAttribute('aria-disabled') === 'true', a.getAttribute('aria-disabled') === 'true', m.title, why.textContent] : null;",
            vec![],
            Duration::from_secs(45),
        )
        .await;
    assert_eq!(
        (&state[0], &state[1]),
        (&json!(true), &json!(true)),
        "{state}"
    );
    assert!(
        state[2].as_str().unwrap().contains("would be refused"),
        "{state}"
    );
    assert!(
        state[3].as_str().unwrap().contains("Check again"),
        "{state}"
    );
    // Pressed all the same: asked again, still refused, and said why.
    d.click("#drawer-body [data-decide=merge]").await;
    d.wait(
        "the reason, said",
        "return [...document.querySelectorAll('#toasts .toast-error')].some((t) => t.textContent.includes('would be refused')) || null;",
        vec![],
    )
    .await;
    d.js("document.querySelector('#drawer-close').click();", vec![])
        .await;
}

/// The queue's entry opens A's changes by keyboard; Discard there (it asks
/// first) resolves it.
async fn discarded_from_the_drawer_the_queue_opens(d: &browser::Browser, a: &str) {
    d.js(
        "document.querySelector(`#needs-you-list .queue-entry[data-session=\"${arguments[0]}\"] [data-open-changes]`).focus();",
        vec![json!(a)],
    )
    .await;
    d.press_keys(browser::ENTER).await;
    d.wait_js(
        "A's changes in the drawer",
        "const b = document.querySelector('#drawer-body'); \
         return !!b && b.textContent.includes(arguments[0]) && b.textContent.includes('Discard');",
        vec![json!(HOSTILE)],
        Duration::from_secs(45),
    )
    .await;
    d.js(
        "document.querySelector('#drawer-body .changes-actions [data-decide=discard]').click(); \
         document.querySelector('#drawer-body .changes-actions [data-confirm=discard]').click();",
        vec![],
    )
    .await;
    d.wait_js(
        "A gone from the queue after Discard",
        "return !document.querySelector(`#needs-you-list .queue-entry[data-session=\"${arguments[0]}\"]`);",
        vec![json!(a)],
        Duration::from_secs(45),
    )
    .await;
}

/// Issue 34 item 5: a department that ended having changed nothing leaves
/// nothing pending: it is settled, its worktree and branch go, and it is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_that_changed_nothing_is_settled_and_its_worktree_and_branch_go() {
    let (repo, server) = isolated("", &[("src/a.rs", "a\n")]).serve().await;
    let api = &server.api;
    let z = plan(api, vec![assignment("only look", &["src/a.rs"], &[], &[])]).await;
    let status = api
        .wait_status("the department settled", |s| {
            departments(s)
                .iter()
                .any(|d| d["workspace"]["state"] == "no_changes")
        })
        .await;
    let d = departments(&status).into_iter().next().unwrap();
    let id = d["id"].as_str().unwrap();
    assert_eq!(d["parent_session_id"], z.as_str());
    assert_eq!(d["workspace"]["removed"], true, "{d}");
    assert!(!workspace_path(&d).exists(), "{d}");
    let branch = d["workspace"]["branch"].as_str().unwrap();
    assert!(
        !branch_exists(&repo.path, branch),
        "{branch} is still there"
    );
    // Its audit line follows the store's change: waited for.
    let settled = wait_until("the settled audit line", PATIENCE, || async {
        let all = api.audit_events("worktree_settled_empty").await;
        (!all.is_empty()).then_some(all)
    })
    .await;
    assert_eq!(settled.len(), 1, "{settled:?}");
    assert_eq!(settled[0]["session_id"], id);
    let (code, answer) = integrate(api, id, "apply").await;
    assert_eq!(code, StatusCode::CONFLICT, "{answer}");
    assert!(clean(&repo.path));
    server.stop().await;
}

/// Issue 34 item 6: a file that holds a department's applied change is the
/// department's, not the user's: Needs you asks to commit it when ready and
/// never to revert it; the user's own uncommitted file is still named.
/// Issue 49 item 14: two plans that name it make one item, not two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_file_is_the_departments_not_a_dirty_file_of_the_user() {
    crate::needs!(Chromium);
    let (repo, server) = isolated("", &[("src/a.rs", "a\n"), ("src/b.rs", "b\n")])
        .serve()
        .await;
    let api = &server.api;
    let z1 = plan(
        api,
        vec![assignment(
            "edit a",
            &["src/a.rs"],
            &[("src/a.rs", "A")],
            &["src/a.rs"],
        )],
    )
    .await;
    let ds = recorded(api, &z1, 1).await;
    let d = id_of(&ds[0]);
    let (status, answer) = integrate(api, &d, "apply").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // Its own plan reminds of it, with no other plan under way (walk 4 of
    // issue 49: the reminder came and went with unrelated plans).
    let alone = json!([{"path": "src/a.rs", "session_id": d}]);
    wait_until("the applied file's reminder", PATIENCE, || async {
        (api.status().await["applied_files"] == alone).then_some(())
    })
    .await;
    std::fs::write(repo.path.join("src/b.rs"), "the user's own edit\n").unwrap();
    let z2 = two_more_plans_name_it(api, &d).await;
    let page = page(&server, "isolation-applied-failure").await;
    one_item_for_the_applied_file_and_one_for_the_users(&page, &d, &z2).await;
    // Once the user edits the applied file too, it is the user's.
    std::fs::write(repo.path.join("src/a.rs"), "A, and the user's edit\n").unwrap();
    let z2_view = wait_until("src/a.rs is the user's", PATIENCE, || async {
        let v = api.session(&z2).await;
        (v["plan_dirty_files"] == json!(["src/a.rs", "src/b.rs"])).then_some(v)
    })
    .await;
    assert!(z2_view.get("plan_applied_files").is_none(), "{z2_view}");
    // And its own plan neither reminds of it nor calls it dirty.
    wait_until("no reminder left", PATIENCE, || async {
        let st = api.status().await;
        (st["applied_files"] == json!([])).then_some(())
    })
    .await;
    let z1_view = api.session(&z1).await;
    assert!(
        z1_view["plan_dirty_files"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{z1_view}"
    );
    server.stop().await;
}

/// A plan of one department of `dept` on `files` that works on (for ten
/// minutes): its planner.
async fn still_working_on(api: &Api, dept: &str, files: &[&str], task: &str) -> String {
    let task = format!("{task} [[fake-agent: --work-seconds 600]]");
    plan(
        api,
        vec![json!({"department": dept, "files": files, "task": task})],
    )
    .await
}

/// A second plan names the applied `src/a.rs` and the user's own edited
/// `src/b.rs` (dirty), a third names `src/a.rs` too; both say it holds
/// department `d`'s applied change. The second's planner.
async fn two_more_plans_name_it(api: &Api, d: &str) -> String {
    let z2 = still_working_on(
        api,
        "lingyubu",
        &["src/a.rs", "src/b.rs"],
        "more on a and b",
    )
    .await;
    let z2_view = api.session(&z2).await;
    assert_eq!(
        z2_view["plan_dirty_files"],
        json!(["src/b.rs"]),
        "{z2_view}"
    );
    assert_eq!(
        z2_view["plan_applied_files"],
        json!([{"path": "src/a.rs", "session_id": d}]),
        "{z2_view}"
    );
    let z3 = still_working_on(api, "zhilibu", &["src/a.rs"], "more on a").await;
    wait_until("both plans name it", PATIENCE, || async {
        let v = api.session(&z3).await;
        (v["plan_applied_files"] == z2_view["plan_applied_files"]).then_some(())
    })
    .await;
    z2
}

/// Needs you holds one item for the applied file however many plans name
/// it, asking to commit it and never to revert it, and the second plan
/// `z2`'s item names the user's own file alone.
async fn one_item_for_the_applied_file_and_one_for_the_users(
    page: &browser::Browser,
    d: &str,
    z2: &str,
) {
    let applied = need_item(page, "the applied file", "applied", "true").await;
    assert_eq!(
        page.count("#needs-you-list > li[data-kind=\"applied\"]")
            .await,
        1,
        "one item for the file however many plans name it"
    );
    page.shoot_at("applied-once-1440x900.png", 1440, 900, None)
        .await;
    page.shoot_at("applied-once-390x844.png", 390, 844, None)
        .await;
    assert!(
        applied.contains(&format!("src/a.rs holds {d}'s applied change"))
            && applied.contains("commit it when ready")
            && !applied.contains("revert"),
        "{applied}"
    );
    let dirty = need_item(page, "the user's file", &format!("dirty:{z2}"), "true").await;
    assert!(
        dirty.contains("src/b.rs") && !dirty.contains("src/a.rs"),
        "{dirty}"
    );
}

/// Issue 34 item 4: Undo of an Apply puts back what it replaced, of a Merge
/// moves the branch back too; refused, naming what changed, once the user
/// edited a file it wrote or committed on top of the merge. Audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_takes_back_an_apply_or_a_merge_until_the_user_changed_what_it_wrote() {
    let undo = |api: &Api, id: &str| {
        let (api, id) = (api.clone(), id.to_string());
        async move {
            api.post("/api/undo_integration", &json!({"session_id": id}))
                .await
        }
    };
    let read = |repo: &TestRepo| std::fs::read_to_string(repo.path.join("src/a.rs")).unwrap();

    // Apply, Undo, Apply again; then the user edits the file: refused.
    let (repo, server, _, id) =
        one_recorded("", &[("src/a.rs", "A-FROM-DEPT")], &["src/a.rs"]).await;
    let api = &server.api;
    let (status, body) = integrate(api, &id, "apply").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(read(&repo), "A-FROM-DEPT");
    let (status, body) = undo(api, &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["workspace"]["state"], "pending", "{body}");
    assert_eq!(read(&repo), "a\n");
    assert!(clean(&repo.path), "as before the Apply");
    let branch = body["workspace"]["branch"].as_str().unwrap().to_string();
    assert!(branch_exists(&repo.path, &branch));
    let (status, body) = integrate(api, &id, "apply").await;
    assert_eq!(status, StatusCode::OK, "applied again: {body}");
    std::fs::write(repo.path.join("src/a.rs"), "the user's edit\n").unwrap();
    let (status, body) = undo(api, &id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("src/a.rs (changed since)"), "{error}");
    assert_eq!(read(&repo), "the user's edit\n", "nothing was changed");
    let reverted = api.audit_events("integration_reverted").await;
    assert_eq!(reverted.len(), 1, "{reverted:?}");
    assert_eq!(reverted[0]["mode"], "apply");
    server.stop().await;

    // Merge, Undo (the branch moves back), Merge again; a commit on top: refused.
    let (repo, server, _, id) =
        one_recorded("", &[("src/a.rs", "A-FROM-DEPT")], &["src/a.rs"]).await;
    let api = &server.api;
    let base = head_of(&repo.path);
    let (status, body) = integrate(api, &id, "merge").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let merged = head_of(&repo.path);
    assert_ne!(merged, base);
    let (status, body) = undo(api, &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(head_of(&repo.path), base, "the branch is back");
    assert_eq!(read(&repo), "a\n");
    assert!(clean(&repo.path), "index and tree as before the Merge");
    let (status, body) = integrate(api, &id, "merge").await;
    assert_eq!(status, StatusCode::OK, "merged again: {body}");
    std::fs::write(repo.path.join("later.txt"), "later\n").unwrap();
    commit_all(&repo.path, "the user's next commit");
    let (status, body) = undo(api, &id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("commits came after it"),
        "{body}"
    );
    assert_eq!(read(&repo), "A-FROM-DEPT");
    server.stop().await;
}

/// Issue 33 item 8: the plan review says, once per assignment, when files
/// reach outside the department's globs (`files: ["*"]` for a docs
/// department) and when a scope is open under `launcher.scope: block`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_review_names_files_outside_the_globs_and_an_open_scope_under_block() {
    let (_repo, server) = isolated("  scope: block\n", &[("src/a.rs", "a\n")])
        .serve()
        .await;
    let api = &server.api;
    let z = api.start_zhongshu("review the plan").await;
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": "three", "assignments": [
            {"department": "zhilibu", "task": "docs", "files": ["*"]},
            {"department": "menxia", "task": "review"},
            {"department": "lingyubu", "task": "code", "files": ["src/a.rs"]}]}),
    )
    .await;
    let plan = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    let notes: Vec<Value> = plan["plan"]["assignments"]
        .as_array()
        .unwrap_or_else(|| panic!("{plan}"))
        .iter()
        .map(|a| a["scope_note"].clone())
        .collect();
    let docs = notes[0].as_str().unwrap_or_default();
    assert!(
        docs.contains("files reaching outside zhilibu's scope")
            && docs.contains(": *:")
            && docs.contains("needs your override"),
        "{plan}"
    );
    let open = notes[1].as_str().unwrap_or_default();
    assert!(
        open.starts_with("open scope under launcher.scope: block: menxia"),
        "{plan}"
    );
    assert!(notes[2].is_null(), "{plan}");
    server.stop().await;
}

/// Issue 34 item 1 (PTY agents): a clean stop ends them ("stopped with the
/// launcher": no fallback result, the plan is not finished); Resume plan
/// brings a planner back and queues the cut-off department again in its
/// own worktree, its work so far in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pty_plan_cut_off_by_a_stop_resumes_in_its_worktrees() {
    crate::needs!(Chromium);
    let repo = isolated("", &[("src/a.rs", "a\n")]).repo();
    let mut first = spawn_launcher(&repo.path, &[]);
    let api = first.api.clone();
    let z = api.start_zhongshu("long work").await;
    scenario::register_plan(
        &api,
        &z,
        "slow",
        json!([{"department": "lingyubu", "files": ["src/a.rs"],
                "task": "slow work [[fake-agent: --work-seconds 600]]"}]),
    )
    .await;
    let d = api
        .wait_status("the department at work", |s| {
            departments(s)
                .iter()
                .any(|d| d["status"] == "running" && d["workspace"]["path"].is_string())
        })
        .await;
    let d = departments(&d).remove(0);
    let id = id_of(&d);
    let worktree = workspace_path(&d);
    std::fs::write(worktree.join("src/a.rs"), "half done\n").unwrap();
    first.terminate();

    let mut second = spawn_launcher(&repo.path, &[]);
    let api = second.api.clone();
    let cut = api.session(&id).await;
    assert_eq!(cut["state"], "stopped_with_launcher", "{cut}");
    assert_eq!(cut["state_text"], "stopped with the launcher", "{cut}");
    let plan = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_ne!(plan["plan"]["status"], "finished", "{plan}");
    let fallbacks = api.audit_events("result_registered").await;
    assert!(fallbacks.is_empty(), "no fallback result: {fallbacks:?}");
    let planner = resumed_from_the_plan_card(&second, &id).await;
    assert_ne!(planner, z, "a PTY planner comes back as a new session");
    let (code, again) = api
        .post("/api/resume_plan", &json!({"session_id": z}))
        .await;
    assert!(!code.is_success(), "nothing left to resume: {again}");
    again_in_its_worktree_with_its_work(&api, &d, &planner).await;
    second.terminate();
}

/// The plan card offers Resume plan for the department `id` stopped with
/// the launcher; the page's button (the API's call) queues it again under
/// a planner, whose id it returns.
async fn resumed_from_the_plan_card(launcher: &Subprocess, id: &str) -> String {
    let page = scenario::dashboard(
        &launcher.url,
        &launcher.token,
        "isolation-resume-plan-failure",
    )
    .await;
    let offered = page
        .wait_js(
            "the plan's Resume plan",
            "const p = document.querySelector('.plan-resume'); return p ? p.textContent : null;",
            vec![],
            Duration::from_secs(45),
        )
        .await;
    assert!(
        offered
            .as_str()
            .unwrap()
            .contains("1 department was stopped with the launcher"),
        "{offered}"
    );
    click_when(&page, "Resume plan", ".plan-resume button.resume-plan").await;
    let queued = wait_until("the cut-off department queued again", PATIENCE, || async {
        let q = launcher.api.audit_events("assignment_retried").await;
        (!q.is_empty()).then_some(q)
    })
    .await;
    page.quit().await;
    assert_eq!(queued[0]["retried_session_id"], id, "{queued:?}");
    queued[0]["parent_session_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{queued:?}"))
        .to_string()
}

/// The cut-off department `d` runs again under `planner`, in its worktree
/// with its work so far, and the planner's plan follows the new attempt.
async fn again_in_its_worktree_with_its_work(api: &Api, d: &Value, planner: &str) {
    let id = d["id"].as_str().unwrap();
    let next = api
        .wait_status("the department again, in its worktree", |s| {
            departments(s).iter().any(|x| {
                x["status"] == "running"
                    && x["id"] != id
                    && x["workspace"]["path"] == d["workspace"]["path"]
            })
        })
        .await;
    let next = departments(&next)
        .into_iter()
        .find(|x| x["id"] != id && x["status"] == "running")
        .unwrap();
    assert_eq!(next["parent_session_id"], planner, "{next}");
    assert!(
        next["task"].as_str().unwrap().contains("[Resumed]"),
        "{next}"
    );
    assert_eq!(
        std::fs::read_to_string(workspace_path(d).join("src/a.rs")).unwrap(),
        "half done\n",
        "its work so far is still there"
    );
    let plan = api
        .get_ok(&format!("/api/zhongshu_plan?id={planner}"))
        .await;
    let a = &plan["plan"]["assignments"][0];
    assert_eq!(a["session_id"], next["id"], "{plan}");
    assert_eq!(a["earlier_sessions"], json!([id]), "{plan}");
}

/// Send back starts a department like the queue does, so it waits for the
/// same things: the queue's hold and its plan's budget (issue 35 item 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_back_waits_while_the_queue_is_held_or_the_plan_is_over_budget() {
    let (_repo, server, z, d) = one_assigned("", a1_in_src("first")).await;
    let api = &server.api;
    let first = id_of(&d);
    let store = &server.launcher.ctx.store;
    let in_an_hour = chrono::Utc::now().timestamp() + 3600;
    store
        .update(|tx| {
            tx.quota_mut().account.primary = Some(codex_governance::model::QuotaWindow {
                used_percent: 97.0,
                window_minutes: Some(300),
                resets_at: Some(in_an_hour),
            })
        })
        .unwrap();
    let note = json!({"session_id": first, "note": "once more [[fake-agent: --work-seconds 1]]"});
    let (status, body) = api.post("/api/send_back", &note).await;
    assert_eq!(status, StatusCode::CONFLICT, "held: {body}");
    assert!(body["error"].as_str().unwrap().contains("held"), "{body}");
    // Over its plan's budget: still refused once the hold is gone.
    store
        .update(|tx| {
            tx.quota_mut().account.primary = None;
            if let Some(s) = tx.session_mut(&first) {
                s.agent.token_usage = Some(codex_governance::model::TokenUsage {
                    total_tokens: 5_000,
                    ..Default::default()
                });
            }
        })
        .unwrap();
    api.post_ok(
        "/api/plan_budget",
        &json!({"zhongshu_id": z, "budget_tokens": 1_000}),
    )
    .await;
    let (status, body) = api.post("/api/send_back", &note).await;
    assert_eq!(status, StatusCode::CONFLICT, "over budget: {body}");
    assert!(body["error"].as_str().unwrap().contains("budget"), "{body}");
    let old = api.session(&first).await;
    assert_eq!(
        old["workspace"]["state"], "pending",
        "nothing sent back: {old}"
    );
    // Raised: it goes.
    api.post_ok(
        "/api/plan_budget",
        &json!({"zhongshu_id": z, "budget_tokens": 1_000_000}),
    )
    .await;
    let sent = api.post_ok("/api/send_back", &note).await;
    assert!(sent["successor"].is_string(), "{sent}");
}

/// The department branches and Git's linked worktrees left in `root`.
fn leftovers(root: &Path) -> (Vec<String>, Vec<String>) {
    let git = git2::Repository::open(root).unwrap();
    let branches = git
        .branches(Some(git2::BranchType::Local))
        .unwrap()
        .map(|b| b.unwrap().0.name().unwrap().unwrap().to_string())
        .filter(|name| name.starts_with("governance/"))
        .collect();
    let worktrees = git.worktrees().unwrap();
    let worktrees = worktrees.iter().flatten().map(String::from).collect();
    (branches, worktrees)
}

/// Issue 49 item 8: an integrated attempt leaves no branch and no worktree,
/// whatever the order of Undo and the integrations (seen: Undo then Merge
/// left the branch, through four restarts); the temporary folders' folder
/// goes with the last worktree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integrated_attempt_leaves_no_branch_or_worktree_whatever_the_order_of_undo() {
    for steps in [
        ["apply", "undo", "merge"],
        ["merge", "undo", "apply"],
        ["merge", "undo", "merge"],
    ] {
        let (repo, server, _, id) =
            one_recorded("", &[("src/a.rs", "A-FROM-DEPT")], &["src/a.rs"]).await;
        let api = &server.api;
        for step in steps {
            let (status, body) = match step {
                "undo" => {
                    api.post("/api/undo_integration", &json!({"session_id": id}))
                        .await
                }
                mode => integrate(api, &id, mode).await,
            };
            assert_eq!(status, StatusCode::OK, "{steps:?}, at {step}: {body}");
        }
        let a = std::fs::read_to_string(repo.path.join("src/a.rs")).unwrap();
        assert_eq!(a, "A-FROM-DEPT", "{steps:?}");
        assert_eq!(leftovers(&repo.path), (vec![], vec![]), "{steps:?}");
        let temp_root = repo.root.join("repo.worktrees/.tmp");
        assert!(!temp_root.exists(), "{steps:?}: {temp_root:?} is left");
        server.stop().await;
    }
}

/// Issue 49 item 8: a branch its integration could not delete (Git's lock
/// on it was held) is found and deleted at the next start, audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_start_deletes_an_integrated_branch_left_behind() {
    let (repo, server, _, id) =
        one_recorded("", &[("src/a.rs", "A-FROM-DEPT")], &["src/a.rs"]).await;
    let branch = server.api.session(&id).await["workspace"]["branch"]
        .as_str()
        .unwrap()
        .to_string();
    let lock = repo.path.join(format!(".git/refs/heads/{branch}.lock"));
    std::fs::write(&lock, "").unwrap();
    let (status, body) = integrate(&server.api, &id, "apply").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(branch_exists(&repo.path, &branch), "its deletion failed");
    server.stop().await;
    std::fs::remove_file(&lock).unwrap();
    let server = InProcess::start(&repo).await;
    let deleted = wait_until("the branch deleted at start", PATIENCE, || async {
        let d = server.api.audit_events("branch_deleted").await;
        (!d.is_empty()).then_some(d)
    })
    .await;
    assert_eq!(deleted[0]["branch"], branch.as_str(), "{deleted:?}");
    assert_eq!(leftovers(&repo.path), (vec![], vec![]));
    server.stop().await;
}

/// Issue 49 item 8: `worktrees --prune` while the launcher runs goes through
/// it (it refused before): a branch discarded longer than
/// `launcher.keep_discarded_days` (0 here) is deleted, audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_works_through_the_running_launcher() {
    let (repo, server, _, id) = one_recorded(
        "  keep_discarded_days: 0\n",
        &[("src/a.rs", "A-FROM-DEPT")],
        &["src/a.rs"],
    )
    .await;
    let api = &server.api;
    let discarded = api
        .post_ok("/api/discard", &json!({"session_id": id}))
        .await;
    let branch = discarded["workspace"]["branch"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(branch_exists(&repo.path, &branch), "a discard keeps it");
    let repo_arg = repo.path.display().to_string();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        run_binary(&["worktrees", "--repo", &repo_arg, "--prune"])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!(
            "deleted the branch {branch} (discarded 0 days ago"
        )),
        "{err}"
    );
    assert!(out.contains("discarded · branch deleted"), "{out}");
    assert!(!branch_exists(&repo.path, &branch));
    let deleted = api.audit_events("branch_deleted").await;
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert!(
        deleted[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("pruned: discarded 0 days ago"),
        "{deleted:?}"
    );
    server.stop().await;
}

/// Issue 49 item 8: a discarded branch follows `launcher.keep_discarded_days`
/// at each start too (0 here: the next start deletes it, audited).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_start_deletes_a_discarded_branch_past_its_days() {
    let (repo, server, _, id) = one_recorded(
        "  keep_discarded_days: 0\n",
        &[("src/a.rs", "A-FROM-DEPT")],
        &["src/a.rs"],
    )
    .await;
    let discarded = server
        .api
        .post_ok("/api/discard", &json!({"session_id": id}))
        .await;
    let branch = discarded["workspace"]["branch"]
        .as_str()
        .unwrap()
        .to_string();
    server.stop().await;
    assert!(branch_exists(&repo.path, &branch), "a discard keeps it");
    let server = InProcess::start(&repo).await;
    let deleted = wait_until("the branch deleted at start", PATIENCE, || async {
        let d = server.api.audit_events("branch_deleted").await;
        (!d.is_empty()).then_some(d)
    })
    .await;
    assert_eq!(deleted[0]["branch"], branch.as_str(), "{deleted:?}");
    let reason = deleted[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("at start: discarded 0 days ago"),
        "{reason}"
    );
    assert!(!branch_exists(&repo.path, &branch));
    server.stop().await;
}
