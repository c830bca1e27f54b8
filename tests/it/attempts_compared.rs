//! Several attempts at one task (issue 74) end to end: a real launcher, the
//! fake agent in real PTYs, the launcher's checks in Codex's real sandbox
//! (the pinned CLI), real Git. One assignment asks for two attempts; each
//! writes its own session id, and the check passes only for the one whose
//! id ends in `-1`: the comparison shows one green and one red attempt from
//! one base commit, a `kill -9` before the choice loses nothing, the green
//! one is chosen and merges, and the other is settled with its branch kept.

use crate::common::audit::{audited, audited_once};
use crate::common::browser::Browser;
use crate::common::launcher::*;
use crate::common::scenario::drawer::{self, Shot};
use crate::common::scenario::{self, attempts, id_of, merging, Scenario};

use reqwest::StatusCode;
use serde_json::{json, Value};

const CHECK: &str = "grep -q -- '-1$' src/who.txt";

fn repo() -> TestRepo {
    repo_with(CHECK, "")
}

/// A repository whose landing check is `check`, `more` under `launcher:`.
fn repo_with(check: &str, more: &str) -> TestRepo {
    Scenario::new()
        .launcher(&format!(
            "  codex_command: {}\n  landing:\n    verify: [\"{check}\"]\n{more}",
            crate::common::model_server::codex_bin().display()
        ))
        .files(&[("src/lib.rs", "// a crate\n")])
        .committed()
        .max_departments(2)
        .repo()
}

/// `id`'s attempts as `GET /api/attempts` compares them, once both have
/// their verification.
async fn compared(api: &Api, id: &str) -> Value {
    attempts::compared(api, id, 2).await
}

/// One assignment of lingyubu asking for two attempts; each writes its own
/// session id into `src/who.txt` after `--work-seconds 1` (`extra`: more of
/// the fake agent's words).
fn two_attempts(extra: &str) -> Value {
    json!({"department": "lingyubu", "files": ["src/"], "attempts": 2,
        "task": format!("Say who [[fake-agent: --work-seconds 1 --write 'src/who.txt={{session}}' \
                 --changed-file src/who.txt --summary 'I wrote who I am' {extra}]]")})
}

#[test]
fn two_attempts_are_verified_compared_kept_across_kill_9_and_the_chosen_one_merges() {
    crate::needs!(Codex);
    let repo = repo();
    let rt = test_runtime();
    let mut launcher = spawn_launcher(&repo.path, &[]);
    let (z, ids) = rt.block_on(two_attempts_verified_from_one_base(&launcher.api));
    // Cut before the choice: both attempts and their verification stay.
    launcher.kill9();
    let launcher = spawn_launcher(&repo.path, &[]);
    rt.block_on(async {
        let api = &launcher.api;
        let (g, r) = one_green_and_one_red(api, &ids[1]).await;
        no_attempt_by_an_agent_the_launcher_has_not(api, &g).await;
        // Their trees, one against the other.
        let between = api.get_ok(&format!("/api/attempts/diff?a={g}&b={r}")).await;
        let diff = between["diff"].as_str().unwrap();
        assert!(
            diff.contains(&format!("-{g}")) && diff.contains(&format!("+{r}")),
            "{diff}"
        );
        let t = a_third_attempt_from_the_same_base_and_task(api, &g, &r).await;
        // Each one's own change, to set side by side.
        let own = api.get_ok(&format!("/api/attempts/diff?a={g}")).await;
        let own = own["diff"].as_str().unwrap();
        assert!(
            own.contains(&format!("+{g}")) && !own.contains(&format!("+{r}")),
            "{own}"
        );
        // Neither goes on before it is chosen.
        merging::merge_refused(api, &g, "choose it among them first").await;
        let chosen = api
            .post_ok("/api/choose_attempt", &json!({"session_id": g}))
            .await;
        assert_eq!(chosen["others"], json!([r, t]), "{chosen}");
        let (code, body) = api
            .post("/api/choose_attempt", &json!({"session_id": r}))
            .await;
        assert_eq!(code, StatusCode::CONFLICT, "a second choice: {body}");
        the_other_is_settled_its_branch_kept(api, &repo, &r).await;
        the_chosen_one_merges_and_merges_again_after_an_undo(api, &repo, &g).await;
    });
    assert_eq!(audited(&repo, "attempt_started").len(), 3);
    assert_eq!(audited(&repo, "attempt_checked").len(), 3);
    let chosen = audited(&repo, "attempt_chosen");
    assert_eq!(chosen.len(), 1, "{chosen:?}");
    assert_eq!(chosen[0]["zhongshu_id"], z.as_str());
    assert_eq!(chosen[0]["by"], "user");
    drop(launcher);
}

/// A plan of one assignment asking for two attempts, both recorded from one
/// base commit and verified, none chosen: the planner and the attempts.
async fn two_attempts_verified_from_one_base(api: &Api) -> (String, Vec<String>) {
    let z = scenario::start_plan(
        api,
        "one task, two attempts",
        "two attempts",
        vec![two_attempts("")],
    )
    .await;
    let ds = scenario::recorded(api, &z, 2).await;
    let ids: Vec<String> = ds.iter().map(id_of).collect();
    // One base commit for both.
    assert_eq!(
        ds[0]["workspace"]["base"], ds[1]["workspace"]["base"],
        "{ds:?}"
    );
    let v = compared(api, &ids[0]).await;
    assert_eq!(v["chosen"], Value::Null, "{v}");
    (z, ids)
}

/// The attempts of `id` compared: one green (its id ends in `-1`) and one
/// red with its check's words, each with its change, its report, waiting
/// for you. The green one and the red one.
async fn one_green_and_one_red(api: &Api, id: &str) -> (String, String) {
    let v = compared(api, id).await;
    let attempts = v["attempts"].as_array().unwrap();
    let (green, red): (Vec<&Value>, Vec<&Value>) =
        attempts.iter().partition(|a| a["check"]["passed"] == true);
    assert_eq!((green.len(), red.len()), (1, 1), "{v}");
    let (green, red) = (green[0], red[0]);
    let (g, r) = (
        green["session_id"].as_str().unwrap().to_string(),
        red["session_id"].as_str().unwrap().to_string(),
    );
    assert!(g.ends_with("-1"), "{v}");
    assert_eq!(
        red["check"]["failure"],
        format!("`{CHECK}` exited with 1"),
        "{v}"
    );
    for a in attempts {
        assert_eq!(a["diff_stat"]["files"], 1, "{v}");
        assert_eq!(a["reported"], "I wrote who I am", "{v}");
        assert_eq!(a["awaits_user"], true, "{v}");
        assert_eq!(a["of"], 2, "{v}");
    }
    (g, r)
}

/// Another attempt by an agent the launcher does not run is refused, in
/// words that name it.
async fn no_attempt_by_an_agent_the_launcher_has_not(api: &Api, id: &str) {
    let (code, body) = api
        .post(
            "/api/attempts/another",
            &json!({"session_id": id, "agent": "gemini"}),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        merging::error_of(&body).contains("no agent of this launcher is \"gemini\""),
        "{body}"
    );
}

/// *Try again with…*: a third attempt from the same base and task, with
/// your note, verified (red: its id does not end in `-1`). Its session.
async fn a_third_attempt_from_the_same_base_and_task(api: &Api, g: &str, r: &str) -> String {
    let queued = api
        .post_ok(
            "/api/attempts/another",
            &json!({"session_id": r, "agent": "lingyubu", "note": "mind the suffix"}),
        )
        .await;
    assert_eq!(queued["attempt"]["n"], 3, "{queued}");
    assert!(
        queued["task"]
            .as_str()
            .unwrap()
            .ends_with("mind the suffix"),
        "{queued}"
    );
    let v = attempts::compared(api, g, 3).await;
    let third = &v["attempts"][2];
    assert_eq!(third["n"], 3, "{v}");
    assert_eq!(third["check"]["passed"], false, "{v}");
    third["session_id"].as_str().unwrap().to_string()
}

/// The other attempt `r` is settled: its worktree gone, its branch kept.
async fn the_other_is_settled_its_branch_kept(api: &Api, repo: &TestRepo, r: &str) {
    let settled = api
        .wait_status("the other attempt settled", |s| {
            departments(s)
                .iter()
                .any(|d| d["id"] == r && d["workspace"]["state"] == "discarded")
        })
        .await;
    let other = departments(&settled)
        .into_iter()
        .find(|d| d["id"] == r)
        .unwrap();
    let path = other["workspace"]["path"].as_str().unwrap();
    assert!(!std::path::Path::new(path).exists(), "its worktree is gone");
    let branch = other["workspace"]["branch"].as_str().unwrap();
    let git = git2::Repository::open(&repo.path).unwrap();
    assert!(
        git.find_branch(branch, git2::BranchType::Local).is_ok(),
        "its branch stays"
    );
}

/// The chosen attempt `g` merges (its session id is the file's words) and
/// stays chosen; undone, its work waits, still chosen, and merges again.
async fn the_chosen_one_merges_and_merges_again_after_an_undo(api: &Api, repo: &TestRepo, g: &str) {
    merging::merged(api, g).await;
    assert_eq!(
        std::fs::read_to_string(repo.path.join("src/who.txt")).unwrap(),
        g
    );
    let v = attempts::attempts_of(api, g).await;
    assert_eq!(v["chosen"], g, "{v}");
    // Undo brings the choice back: its work waits, still chosen, and
    // goes on again; the others stay settled.
    let undone = api
        .post_ok("/api/undo_integration", &json!({"session_id": g}))
        .await;
    assert_eq!(undone["workspace"]["state"], "pending", "{undone}");
    let v = attempts::attempts_of(api, g).await;
    assert_eq!(v["chosen"], g, "{v}");
    merging::merged(api, g).await;
}

/// `attempts_stop: first_verified` stops the slow attempt once the other is
/// verified green (its close says why); `attempts_choose: verified` then
/// chooses the green one by itself, audited so, and it merges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_verified_attempt_stops_the_other_and_is_chosen_by_itself() {
    crate::needs!(Codex);
    let repo = repo_with(
        CHECK,
        "  attempts_choose: verified\n  attempts_stop: first_verified\n",
    );
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = scenario::start_plan(
        api,
        "one task, a fast and a slow attempt",
        "two attempts",
        vec![two_attempts("--slow-session -2=300")],
    )
    .await;
    let settled = api
        .wait_status("one attempt chosen, the other stopped", |s| {
            let ds = departments(s);
            let of_z: Vec<&Value> = ds.iter().filter(|d| d["parent_session_id"] == z).collect();
            of_z.len() == 2
                && of_z.iter().any(|d| d["close_reason"] == "attempt_settled")
                && !audited(&repo, "attempt_chosen").is_empty()
        })
        .await;
    let ds = departments(&settled);
    let slow = ds
        .iter()
        .find(|d| d["close_reason"] == "attempt_settled")
        .unwrap();
    assert!(id_of(slow).ends_with("-2"), "{slow}");
    let chosen = audited(&repo, "attempt_chosen");
    assert_eq!(chosen[0]["by"], "attempts_choose: verified", "{chosen:?}");
    let fast = chosen[0]["chosen"].as_str().unwrap().to_string();
    assert!(fast.ends_with("-1"), "{chosen:?}");
    assert_eq!(chosen[0]["others"], json!([id_of(slow)]));
    merging::merged(api, &fast).await;
    server.stop().await;
}

/// Two attempts both verified green: `attempts_choose: verified` leaves the
/// choice to you. The drawer compares them side by side (screenshots
/// `attempts-compare-{1440x900,390x844}.png`), shows one tree against the
/// other, and *Choose this one* chooses. Agent words are set as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_green_attempts_wait_for_you_and_the_drawer_compares_and_chooses() {
    crate::needs!(Codex, Chromium);
    let repo = repo_with("test -s src/who.txt", "  attempts_choose: verified\n");
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = scenario::start_plan(
        api,
        "one task, two attempts",
        "two attempts",
        vec![two_attempts("")],
    )
    .await;
    let ds = scenario::recorded(api, &z, 2).await;
    let (first, second) = (id_of(&ds[0]), id_of(&ds[1]));
    let v = compared(api, &first).await;
    assert!(
        v["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["check"]["passed"] == true),
        "{v}"
    );
    assert_eq!(v["chosen"], Value::Null, "two green: you choose");
    assert!(audited(&repo, "attempt_chosen").is_empty());
    let page = scenario::dashboard(&server.url, &server.token, "attempts-compare").await;
    drawer::open_changes(&page, &first).await;
    the_drawer_compares_them_side_by_side(&page, &first, &second).await;
    let at = Shot::Centered("#drawer-body .attempts");
    drawer::at_desk_and_on_a_phone(
        &page,
        "attempts-compare",
        "attempts compared in the drawer",
        at,
        at,
    )
    .await;
    page.click(&format!(
        "#drawer-body .attempt-card[data-id=\"{first}\"] .attempt-choose"
    ))
    .await;
    wait_until("the choice made from the page", PATIENCE, || async {
        let v = attempts::attempts_of(api, &first).await;
        (v["chosen"] == first.as_str()).then_some(())
    })
    .await;
    let chosen = audited_once(&repo, "attempt_chosen", 1).await;
    assert_eq!(chosen[0]["by"], "user", "{chosen:?}");
    server.stop().await;
}

/// The drawer of `first` compares the two attempts (each passed, its
/// report as text), shows one tree against the other, and each one's
/// changes side by side.
async fn the_drawer_compares_them_side_by_side(page: &Browser, first: &str, second: &str) {
    let text = page
        .wait_text(
            "the attempts compared",
            "#drawer-body .attempts",
            "Attempt 2 of 2",
        )
        .await;
    assert!(
        text.contains("Attempt 1 of 2") && text.contains("passed"),
        "{text}"
    );
    assert!(text.contains("I wrote who I am"), "{text}");
    page.click("#drawer-body .attempt-diff").await;
    page.wait_text(
        "one tree against the other",
        "#drawer-body .attempt-diff-text",
        "who.txt",
    )
    .await;
    page.click("#drawer-body .attempt-side-by-side").await;
    let columns = page
        .wait(
            "each attempt's changes side by side",
            "const c = [...document.querySelectorAll('#drawer-body .attempt-column pre')]\
               .map((p) => p.textContent); return c.length === 2 ? c : null;",
            vec![],
        )
        .await;
    assert!(
        columns[0].as_str().unwrap().contains(&format!("+{first}")),
        "{columns}"
    );
    assert!(
        columns[1].as_str().unwrap().contains(&format!("+{second}")),
        "{columns}"
    );
}

/// With `launcher.auto_integrate`, the planner's proposal of one attempt is
/// carried out: the launcher chooses it (audited `by: auto_integrate`),
/// settles the other and merges it. Without the proposal nothing is chosen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_integrate_chooses_the_attempt_the_planner_proposes() {
    crate::needs!(Codex);
    let repo = repo_with(CHECK, "  auto_integrate: true\n");
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = scenario::start_plan(
        api,
        "one task, two attempts",
        "two attempts",
        vec![two_attempts("")],
    )
    .await;
    let ds = scenario::recorded(api, &z, 2).await;
    let v = compared(api, &id_of(&ds[0])).await;
    assert_eq!(v["chosen"], Value::Null, "{v}");
    // The green one (its id ends in -1), proposed as the planner would.
    let ids: Vec<String> = ds.iter().map(id_of).collect();
    let proposed = ids.iter().find(|i| i.ends_with("-1")).unwrap().clone();
    let other = ids.iter().find(|i| **i != proposed).unwrap().clone();
    let merged = api
        .post_ok(
            "/api/propose_integration",
            &json!({"session_id": proposed, "mode": "merge", "parent_session_id": z}),
        )
        .await;
    assert_eq!(merged["workspace"]["state"], "merged", "{merged}");
    let chosen = audited_once(&repo, "attempt_chosen", 1).await;
    assert_eq!(chosen.len(), 1, "{chosen:?}");
    assert_eq!(
        (chosen[0]["chosen"].as_str(), chosen[0]["by"].as_str()),
        (Some(proposed.as_str()), Some("auto_integrate"))
    );
    api.wait_status("the other attempt settled", |s| {
        departments(s)
            .iter()
            .any(|d| d["id"] == other && d["workspace"]["state"] == "discarded")
    })
    .await;
    server.stop().await;
}

/// Attempts that failed (exited with 3, no report) stay comparable with the
/// work they left: recorded, verified, listed with their changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempts_stay_comparable_with_their_partial_work() {
    crate::needs!(Codex);
    let repo = repo();
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = scenario::start_plan(
        api,
        "one task, two attempts that fail",
        "two attempts",
        vec![two_attempts("--no-report --exit-code 3")],
    )
    .await;
    let ds = scenario::recorded(api, &z, 2).await;
    for d in &ds {
        assert_eq!(d["exit_code"], 3, "{d}");
    }
    let v = compared(api, &id_of(&ds[0])).await;
    for a in v["attempts"].as_array().unwrap() {
        assert_eq!(a["diff_stat"]["files"], 1, "{v}");
        assert_eq!(a["awaits_user"], true, "{v}");
        assert_eq!(a["state"], "pending", "{v}");
    }
    let green: Vec<&Value> = v["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["check"]["passed"] == true)
        .collect();
    assert_eq!(
        green.len(),
        1,
        "its partial work still passes or fails the checks: {v}"
    );
    server.stop().await;
}
