//! A worktree ready to work (issue 52) end to end: the user's set-up
//! commands run in a department's new worktree before its agent starts (a
//! failure or the time limit waits in "Needs you" with the agent not
//! started: Retry set-up, Start anyway, Discard), teardown commands run
//! before the worktree goes, and copied files are there for the agent and
//! never recorded or integrated. With `caches: auto` a Cargo department
//! finds its own copy of the user's build in its `target/`.

use crate::common::launcher as support;
use crate::common::model_server::{exec, tool_call};
use crate::common::scenario::{self, id_of, recorded, Codex, Scenario};
use crate::common::scripted;

use std::path::PathBuf;

use serde_json::{json, Value};

use support::*;

/// One lingyubu assignment of `src/` whose fake agent writes `src/a.rs`.
fn edit_a() -> Value {
    json!({"department": "lingyubu",
           "task": "edit a [[fake-agent: --work-seconds 1 --write src/a.rs=A1 --changed-file src/a.rs]]",
           "files": ["src/a.rs"]})
}

/// A launcher on a committed repository with `worktree` (lines under
/// `launcher.worktree:`); each department's agent first notes, in the
/// ignored `agent.ready`, whether the set-up's `setup.ready` was there.
async fn served(worktree: &str, extra_files: &[(&str, &str)]) -> (TestRepo, InProcess) {
    served_with(
        worktree,
        extra_files,
        "if [ -f setup.ready ]; then echo saw > agent.ready; else echo none > agent.ready; fi",
    )
    .await
}

/// As [`served`], each department's agent running `script` first.
async fn served_with(
    worktree: &str,
    extra_files: &[(&str, &str)],
    script: &str,
) -> (TestRepo, InProcess) {
    Scenario::new()
        .launcher(&format!("  worktree:\n{worktree}"))
        .files(&[(".gitignore", "*.ready\n.env\n"), ("src/a.rs", "a\n")])
        .files(extra_files)
        .committed()
        .department_script(script)
        .serve()
        .await
}

/// The department of `z` once its worktree's set-up stands at `state`.
async fn with_setup(api: &Api, z: &str, state: &str) -> Value {
    let status = api
        .wait_status(
            &format!("a department of {z} whose set-up is {state}"),
            |s| {
                departments(s).iter().any(|d| {
                    d["parent_session_id"] == z && d["workspace"]["setup"]["state"] == state
                })
            },
        )
        .await;
    departments(&status)
        .into_iter()
        .find(|d| d["parent_session_id"] == z)
        .unwrap()
}

fn worktree_of(d: &Value) -> PathBuf {
    PathBuf::from(d["workspace"]["path"].as_str().expect("a worktree"))
}

/// A file outside every repository, in the test's folder (beside the repository).
fn beside(repo: &TestRepo, name: &str) -> PathBuf {
    repo.path.parent().unwrap().join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_runs_before_the_agent_and_teardown_before_the_worktree_goes() {
    let (repo, server) = served(
        "    setup:\n      - echo \"$CODEX_GOVERNANCE_SESSION $CODEX_GOVERNANCE_WORKTREE\" > setup.ready; echo set-up said hello\n    teardown:\n      - echo \"$CODEX_GOVERNANCE_WORKTREE\" >> \"$CODEX_GOVERNANCE_REPO/../teardown.log\"\n",
        &[],
    )
    .await;
    let api = &server.api;
    let z = scenario::start_plan(api, "ready", "ready", vec![edit_a()]).await;
    let d = recorded(api, &z, 1).await.remove(0);
    let (id, wt) = (id_of(&d), worktree_of(&d));
    assert_eq!(d["workspace"]["setup"]["state"], "done", "{d}");
    let output = d["workspace"]["setup"]["output"].as_str().unwrap();
    assert!(output.contains("set-up said hello"), "{output}");
    let transcript = repo.log(&id);
    assert!(
        transcript.contains("set-up commands (launcher.worktree.setup) ran before you started")
            && transcript.contains("set-up said hello"),
        "its transcript opens with the set-up: {transcript}"
    );
    let said = std::fs::read_to_string(wt.join("setup.ready")).unwrap();
    assert_eq!(
        said.trim(),
        format!("{id} {}", wt.display()),
        "the names it was given"
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("agent.ready"))
            .unwrap()
            .trim(),
        "saw",
        "the agent started after the set-up"
    );
    api.post_ok("/api/discard", &json!({"session_id": id}))
        .await;
    let log = beside(&repo, "teardown.log");
    let torn = wait_until("the teardown to run", PATIENCE, || async {
        std::fs::read_to_string(&log).ok().filter(|t| !t.is_empty())
    })
    .await;
    assert_eq!(torn.trim(), wt.display().to_string());
    wait_until("the worktree to go", PATIENCE, || async {
        (!wt.exists()).then_some(())
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_setup_waits_for_the_user_with_the_agent_not_started_and_retry_starts_it() {
    let (repo, server) = served(
        "    setup:\n      - test -f \"$CODEX_GOVERNANCE_REPO/../go.flag\" || { echo not yet; exit 7; }\n      - touch setup.ready\n",
        &[],
    )
    .await;
    let api = &server.api;
    let z = scenario::start_plan(api, "ready", "ready", vec![edit_a()]).await;
    let d = with_setup(api, &z, "failed").await;
    let (id, wt) = (id_of(&d), worktree_of(&d));
    let setup = &d["workspace"]["setup"];
    assert!(
        setup["failure"].as_str().unwrap().contains("exited with 7"),
        "{setup}"
    );
    assert!(
        setup["output"].as_str().unwrap().contains("not yet"),
        "{setup}"
    );
    assert_eq!(d["status"], "running", "{d}");
    assert_eq!(d["state_text"], "set-up failed", "{d}");
    assert!(d["pid"].is_null(), "no agent process: {d}");
    assert!(!wt.join("agent.ready").exists(), "the agent did not start");
    assert!(
        !wt.join("setup.ready").exists(),
        "the commands after the failure did not run"
    );
    std::fs::write(beside(&repo, "go.flag"), "").unwrap();
    api.post_ok(
        "/api/worktree_setup",
        &json!({"session_id": id, "action": "retry"}),
    )
    .await;
    let d = recorded(api, &z, 1).await.remove(0);
    assert_eq!(d["workspace"]["setup"]["state"], "done", "{d}");
    assert_eq!(
        std::fs::read_to_string(wt.join("agent.ready"))
            .unwrap()
            .trim(),
        "saw"
    );
    // Answered once: nothing waits any more.
    let (code, _) = api
        .post(
            "/api/worktree_setup",
            &json!({"session_id": id, "action": "retry"}),
        )
        .await;
    assert_eq!(code, reqwest::StatusCode::CONFLICT);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setup_past_its_time_limit_fails_and_discard_ends_the_department() {
    let (_repo, server) = served(
        "    setup_timeout_seconds: 1\n    setup:\n      - echo slow; sleep 30; touch setup.ready\n",
        &[],
    )
    .await;
    let api = &server.api;
    let z = scenario::start_plan(api, "ready", "ready", vec![edit_a()]).await;
    let d = with_setup(api, &z, "failed").await;
    let (id, wt) = (id_of(&d), worktree_of(&d));
    let failure = d["workspace"]["setup"]["failure"].as_str().unwrap();
    assert!(failure.contains("time limit"), "{failure}");
    assert!(!wt.join("agent.ready").exists() && !wt.join("setup.ready").exists());
    api.post_ok(
        "/api/worktree_setup",
        &json!({"session_id": id, "action": "discard"}),
    )
    .await;
    let s = api
        .wait_status("the department to end", |s| {
            departments(s)
                .iter()
                .any(|d| d["id"] == id.as_str() && d["status"] == "exited")
        })
        .await;
    let d = departments(&s)
        .into_iter()
        .find(|d| d["id"] == id.as_str())
        .unwrap();
    assert_eq!(d["state_text"], "stopped by you", "{d}");
    assert!(!wt.join("agent.ready").exists(), "its agent never started");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_anyway_starts_the_agent_after_a_failed_setup() {
    let (_repo, server) = served("    setup:\n      - exit 3\n", &[]).await;
    let api = &server.api;
    let z = scenario::start_plan(api, "ready", "ready", vec![edit_a()]).await;
    let id = id_of(&with_setup(api, &z, "failed").await);
    api.post_ok(
        "/api/worktree_setup",
        &json!({"session_id": id, "action": "start_anyway"}),
    )
    .await;
    let d = recorded(api, &z, 1).await.remove(0);
    assert_eq!(d["workspace"]["setup"]["state"], "overridden", "{d}");
    let wt = worktree_of(&d);
    assert_eq!(
        std::fs::read_to_string(wt.join("agent.ready"))
            .unwrap()
            .trim(),
        "none"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copied_files_are_there_for_the_agent_and_never_recorded_or_integrated() {
    let (repo, server) = served_with(
        "    copy: [.env, local/]\n",
        &[],
        "cat .env local/settings.json > agent.ready; echo changed >> local/settings.json; echo X >> .env",
    )
    .await;
    // Ignored and untracked files of the user's tree, made after the commit.
    std::fs::write(repo.path.join(".env"), "TOKEN=mine\n").unwrap();
    std::fs::create_dir_all(repo.path.join("local")).unwrap();
    std::fs::write(repo.path.join("local/settings.json"), "{}\n").unwrap();
    let api = &server.api;
    let z = scenario::start_plan(api, "ready", "ready", vec![edit_a()]).await;
    let d = recorded(api, &z, 1).await.remove(0);
    let wt = worktree_of(&d);
    assert_eq!(
        std::fs::read_to_string(wt.join("agent.ready")).unwrap(),
        "TOKEN=mine\n{}\n",
        "the agent read the copied files"
    );
    assert_eq!(
        d["workspace"]["copied"],
        json!([".env", "local/settings.json"]),
        "{d}"
    );
    assert_eq!(
        d["workspace"]["actual_changed_files"],
        json!(["src/a.rs"]),
        "the copied files, changed or not, are not the department's work: {d}"
    );
    let id = id_of(&d);
    api.post_ok(
        "/api/integrate",
        &json!({"session_id": id, "mode": "apply"}),
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(repo.path.join("src/a.rs")).unwrap(),
        "A1"
    );
    assert_eq!(
        std::fs::read_to_string(repo.path.join("local/settings.json")).unwrap(),
        "{}\n",
        "never integrated back"
    );
    assert_eq!(
        std::fs::read_to_string(repo.path.join(".env")).unwrap(),
        "TOKEN=mine\n"
    );
    server.stop().await;
}

/// The page's item for a failed set-up: what failed, the commands' output
/// (as text), and Retry set-up starting the agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_lists_a_failed_setup_in_needs_you_and_retries_it() {
    crate::needs!(Chromium);
    let (repo, server) = served(
        "    setup:\n      - test -f \"$CODEX_GOVERNANCE_REPO/../go.flag\" || { echo '<b>not yet</b>'; exit 7; }\n",
        &[],
    )
    .await;
    let api = &server.api;
    let d = crate::common::browser::Browser::start(1440, 900)
        .await
        .with_failure_artifact("worktree-setup-failure.png");
    d.open_dashboard(&server.url, &server.token).await;
    let z = scenario::start_plan(api, "ready", "ready", vec![edit_a()]).await;
    let id = id_of(&with_setup(api, &z, "failed").await);
    let item = format!("#needs-you li[data-key=\"setup:{id}\"]");
    let text = d
        .wait_text("the failed set-up's item", &item, "exited with 7")
        .await;
    assert!(
        text.contains("<b>not yet</b>"),
        "the output, as text: {text}"
    );
    for action in ["setup-retry", "setup-start-anyway", "setup-discard"] {
        d.wait_count(
            action,
            &format!("{item} button[data-action=\"{action}\"]"),
            1,
        )
        .await;
    }
    std::fs::write(beside(&repo, "go.flag"), "").unwrap();
    d.click(&format!("{item} button[data-action=\"setup-retry\"]"))
        .await;
    d.gone("the retried set-up's item", &item).await;
    let done = recorded(api, &z, 1).await.remove(0);
    assert_eq!(done["workspace"]["setup"]["state"], "done", "{done}");
    d.quit().await;
    server.stop().await;
}

/// A Cargo workspace whose user built it (an ignored `target/` made after
/// the commit) under `caches`; its department's agent notes in `agent.ready`
/// what it found in its own `target/`, then builds over it. Returns the
/// department, its worktree and the user's build file.
async fn cargo_department(caches: &str) -> (TestRepo, InProcess, Value, PathBuf) {
    let (repo, server) = served_with(
        &format!(
            "    caches: {caches}\n    setup:\n      - echo \"prefer offline=[$npm_config_prefer_offline]\"\n"
        ),
        &[
            (".gitignore", "*.ready\n/target\n"),
            ("Cargo.toml", "[workspace]\nmembers = []\n"),
        ],
        "cat target/debug/built.txt > agent.ready 2>/dev/null || echo none > agent.ready; \
         echo department >> target/debug/built.txt",
    )
    .await;
    let built = repo.path.join("target/debug/built.txt");
    std::fs::create_dir_all(built.parent().unwrap()).unwrap();
    std::fs::write(&built, "the user's build\n").unwrap();
    let z = scenario::start_plan(&server.api, "ready", "ready", vec![edit_a()]).await;
    let d = recorded(&server.api, &z, 1).await.remove(0);
    (repo, server, d, built)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_auto_gives_a_department_its_own_copy_of_the_users_cargo_build() {
    let (_repo, server, d, built) = cargo_department("auto").await;
    let wt = worktree_of(&d);
    assert_eq!(
        std::fs::read_to_string(wt.join("agent.ready")).unwrap(),
        "the user's build\n",
        "the agent found the user's build in its target/"
    );
    assert_eq!(
        std::fs::read_to_string(&built).unwrap(),
        "the user's build\n",
        "its build wrote its copy, not the user's target/"
    );
    assert_eq!(
        d["workspace"]["actual_changed_files"],
        json!(["src/a.rs"]),
        "its target/ is not its work: {d}"
    );
    let output = d["workspace"]["setup"]["output"].as_str().unwrap();
    assert!(output.contains("prefer offline=[true]"), "{output}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_off_gives_a_department_none() {
    let (_repo, server, d, _built) = cargo_department("off").await;
    let wt = worktree_of(&d);
    assert_eq!(
        std::fs::read_to_string(wt.join("agent.ready")).unwrap(),
        "none\n"
    );
    let output = d["workspace"]["setup"]["output"].as_str().unwrap();
    assert!(output.contains("prefer offline=[]"), "{output}");
    server.stop().await;
}

/// A launcher with real Codex on a committed Cargo workspace that ignores
/// its `target/`.
async fn cargo_codex() -> Codex {
    Scenario::codex()
        .file(".gitignore", "/target\n")
        .file("Cargo.toml", "[workspace]\nmembers = []\n")
        .committed()
        .start()
        .await
}

/// Issue 52: under real Codex, a Cargo department given a copy of the
/// user's build works at the user's tree's path, its worktree shown there
/// in a namespace of its own (where rustc's incremental caches of the
/// user's build apply): `pwd` is the user's path and `git status` there is
/// its worktree's; what it writes by the user's paths (a file, the user's
/// `target/`, an `apply_patch` edit) lands in its worktree and its own copy
/// of the build, never in the user's tree; another department's copy and a
/// folder outside refuse its writes; its drop folder is where its
/// environment says, and the state folder around it is not readable, by its
/// path or through another process's `/proc/<pid>/cwd`. Its record holds
/// its two files. (Codex 0.169 offers no `apply_patch` tool where an
/// exec-server runs a thread's commands; it applies the same patch given as
/// a command.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codex_cargo_department_works_at_the_users_path_in_its_own_worktree() {
    crate::needs!(Codex);
    let mut c = cargo_codex().await;
    let builds = Builds::of_the_user_and_another_department(&c);
    c.plans_one_notes_department();
    works_at_the_users_path_then_patches(&c, &builds);
    c.api().start_zhongshu("Plan one change").await;
    let dept = c.first_department().await;
    let out = c.output("call_work").await;
    println!("[at the user's path] {out}");
    let wt = c.repo.root.join(format!("repo.worktrees/{dept}"));
    it_worked_at_the_users_path_on_its_own_copy(&c, &out);
    its_writes_landed_in_its_worktree_only(&builds, &wt);
    println!("[its patch] {}", c.output("call_patch").await);
    c.output("call_report").await;
    let d = c
        .wait_agent(&dept, "its record", |s| {
            s["workspace"]["actual_changed_files"]
                .as_array()
                .is_some_and(|f| !f.is_empty())
        })
        .await;
    assert_eq!(d["workspace"]["at_users_path"], true, "{d}");
    assert_eq!(
        d["workspace"]["actual_changed_files"],
        json!(["MADE.txt", "PATCHED.txt"]),
        "{d}"
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("PATCHED.txt")).unwrap(),
        "patched\n"
    );
    for made in ["MADE.txt", "PATCHED.txt"] {
        assert!(
            !c.repo.path.join(made).exists(),
            "{made} in the user's tree"
        );
    }
    c.stop().await;
}

/// The user's build, another department's copy of it, and a file outside
/// the repository a department must not write.
struct Builds {
    users: PathBuf,
    others: PathBuf,
    outside: PathBuf,
}

impl Builds {
    /// The user built `target/`; another department (lingyubu-9) has its copy.
    fn of_the_user_and_another_department(c: &Codex) -> Builds {
        let write = |path: &PathBuf, text: &str| {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        let users = c.repo.path.join("target/debug/built.txt");
        write(&users, "the user's build\n");
        let others = c
            .repo
            .root
            .join("repo.worktrees/lingyubu-9/target/debug/built.txt");
        write(&others, "another's build\n");
        let outside = c.repo.root.join("outside.txt");
        Builds {
            users,
            others,
            outside,
        }
    }
}

/// The department's first command says where it works, reads and appends
/// to the user's build by its path, tries the other department's copy, a
/// file outside, its drop folder and the state folder (by path and through
/// `/proc/*/cwd`), writes MADE.txt and shows `git status`; then it applies
/// a patch adding PATCHED.txt, and reports both.
fn works_at_the_users_path_then_patches(c: &Codex, b: &Builds) {
    let work = format!(
        "echo \" AT=$(pwd)\"; cat {users}; echo mine >> {users}; echo \" USERS-RC=$?\"; \
         echo x >> {others}; echo \" OTHERS-RC=$?\"; touch {outside}; echo \" OUT-RC=$?\"; \
         echo made > MADE.txt; git status --porcelain | sed 's/^/ GIT /'; \
         touch \"$CODEX_GOVERNANCE_MAILBOX/probe\"; echo \" DROP-RC=$?\"; \
         head -c1 \"$CODEX_GOVERNANCE_MAILBOX/../../../../codex_governance.db\" >/dev/null; \
         echo \" STATE-RC=$?\"; \
         echo \" PROC-STATE=$(ls /proc/*/cwd/.tmp/codex_governance.db 2>/dev/null | wc -l)\"",
        users = b.users.display(),
        others = b.others.display(),
        outside = b.outside.display(),
    );
    c.server
        .on("department (zhilibu)", vec![exec("call_work", &work)]);
    c.server.on(
        "call_work",
        vec![exec(
            "call_patch",
            "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: PATCHED.txt\n+patched\n*** End Patch\nEOF",
        )],
    );
    scripted::reports_after(
        &c.server,
        "call_patch",
        "call_report",
        "worked at the user's path",
        &["MADE.txt", "PATCHED.txt"],
    );
}

/// Its command ran at the user's path, read its own copy of the user's
/// build, saw its worktree's `git status`, and was let write only its own.
fn it_worked_at_the_users_path_on_its_own_copy(c: &Codex, out: &str) {
    assert!(
        out.contains(&format!("AT={}\n", c.repo.path.display())),
        "{out}"
    );
    assert!(out.contains("the user's build"), "its copy: {out}");
    let status: Vec<&str> = out.lines().filter(|l| l.starts_with(" GIT ")).collect();
    assert_eq!(status, [" GIT ?? MADE.txt"], "{out}");
    scripted::done(out, &["USERS-RC", "DROP-RC", "PROC-STATE"]);
    scripted::refused(out, &["OTHERS-RC", "OUT-RC", "STATE-RC"]);
}

/// What it wrote by the user's paths is in its worktree `wt` (its copy of
/// the build): the user's build, the other department's and the outside
/// are as they were.
fn its_writes_landed_in_its_worktree_only(b: &Builds, wt: &std::path::Path) {
    assert_eq!(
        std::fs::read_to_string(&b.users).unwrap(),
        "the user's build\n"
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("target/debug/built.txt")).unwrap(),
        "the user's build\nmine\n"
    );
    assert_eq!(
        std::fs::read_to_string(&b.others).unwrap(),
        "another's build\n"
    );
    assert!(!b.outside.exists());
}

/// Issue 52: a restart resumes a department that works at the user's path
/// mid-turn; its next command runs there again, in the same worktree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_a_department_at_the_users_path() {
    crate::needs!(Codex);
    use crate::common::model_server::message;
    let mut c = cargo_codex().await;
    std::fs::create_dir_all(c.repo.path.join("target/debug")).unwrap();
    c.plans_one_notes_department();
    c.server.on(
        "department (zhilibu)",
        vec![exec("call_before", "echo before > NOTES.md")],
    );
    let _held = c
        .server
        .on_held("call_before", vec![message("still working")]);
    c.server.on(
        "The launcher restarted",
        vec![exec(
            "call_after",
            "echo after >> NOTES.md; echo \" AT=$(pwd)\"",
        )],
    );
    c.server.on(
        "call_after",
        vec![tool_call(
            "call_report",
            "governance_report_result",
            json!({"summary": "notes before and after", "changed_files": ["NOTES.md"]}),
        )],
    );
    c.api().start_zhongshu("Plan one change").await;
    let dept = c.first_department().await;
    c.output("call_before").await;
    c.wait_agent(&dept, "mid-turn", |s| s["agent_state"] == "working")
        .await;
    c.stop().await;

    c.relaunch();
    c.wait_audit("session_resumed", |e| e["session_id"] == dept)
        .await;
    let out = c.output("call_after").await;
    assert!(
        out.contains(&format!("AT={}\n", c.repo.path.display())),
        "{out}"
    );
    c.output("call_report").await;
    let wt = c.repo.root.join(format!("repo.worktrees/{dept}"));
    assert_eq!(
        std::fs::read_to_string(wt.join("NOTES.md")).unwrap(),
        "before\nafter\n"
    );
    assert!(!c.repo.path.join("NOTES.md").exists());
    let d = c.api().session(&dept).await;
    assert_eq!(d["workspace"]["at_users_path"], true, "{d}");
    c.stop().await;
}

/// Issue 52: a department at the user's path sent back goes on there in
/// the same worktree, its relay kept; the drop folder its environment names
/// is writable there (the namespace carries the state folder, not one
/// session's folder).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_at_the_users_path_sent_back_goes_on_there() {
    crate::needs!(Codex);
    let mut c = cargo_codex().await;
    std::fs::create_dir_all(c.repo.path.join("target/debug")).unwrap();
    c.plans_one_notes_department();
    c.server.on(
        "department (zhilibu)",
        vec![exec("call_first", "echo first > NOTES.md")],
    );
    c.server.on(
        "call_first",
        vec![tool_call(
            "call_report_first",
            "governance_report_result",
            json!({"summary": "first", "changed_files": ["NOTES.md"]}),
        )],
    );
    c.server.on(
        "SENDBACK-MARK",
        vec![exec(
            "call_second",
            "echo second >> NOTES.md; echo \" AT=$(pwd)\"; \
             echo \" DROP=$CODEX_GOVERNANCE_MAILBOX\"; \
             touch \"$CODEX_GOVERNANCE_MAILBOX/probe\"; echo \" DROP-RC=$?\"",
        )],
    );
    c.server.on(
        "call_second",
        vec![tool_call(
            "call_report_second",
            "governance_report_result",
            json!({"summary": "second", "changed_files": ["NOTES.md"]}),
        )],
    );
    c.api().start_zhongshu("Plan one change").await;
    let dept = c.first_department().await;
    c.output("call_report_first").await;
    c.wait_agent(&dept, "closed", |s| s["agent_state"] == "exited")
        .await;
    let sent = c
        .api()
        .post_ok(
            "/api/send_back",
            &json!({"session_id": dept, "note": "SENDBACK-MARK add a second line"}),
        )
        .await;
    let successor = sent["successor"].as_str().unwrap().to_string();
    let out = c.output("call_second").await;
    assert!(
        out.contains(&format!("AT={}\n", c.repo.path.display())),
        "{out}"
    );
    // The drop folder its environment names (the thread's, resumed as it
    // was: Codex keeps a loaded thread's settings) is reached through the
    // carried state folder.
    assert!(out.contains("DROP-RC=0"), "{out}");
    assert!(
        out.contains(".shown/carried-0/codex_governance_mailbox/"),
        "{out}"
    );
    let done = c
        .wait_agent(&successor, "reported again and recorded", |s| {
            s["status"] == "exited" && s["workspace"]["state"] == "pending"
        })
        .await;
    assert_eq!(done["workspace"]["at_users_path"], true, "{done}");
    let wt = c.repo.root.join(format!("repo.worktrees/{dept}"));
    assert_eq!(
        std::fs::read_to_string(wt.join("NOTES.md")).unwrap(),
        "first\nsecond\n"
    );
    assert!(!c.repo.path.join("NOTES.md").exists());
    c.stop().await;
}
