//! A new user's first contact, with the real binary: a fresh repository, a
//! subfolder, a folder that is no repository, two launchers on one state
//! folder, the state folder kept out of Git, `url`, `init`, a port in use and
//! a reader that goes away (`report | head`).

use crate::common::demo;
use crate::common::launcher as support;

use std::io::Read;
use std::process::{Command, Stdio};

use serde_json::Value;
use support::*;

fn git(repo: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    windows,
    ignore = "runs the git command line, which the Wine prefix has not"
)]
async fn the_state_folder_never_shows_in_git_or_the_report() {
    let repo = TestRepo::with_flags(&["--lines", "2"]);
    let mut l = spawn_launcher(&repo.path, &[]);
    let z = l.api.start_zhongshu("first task").await;
    l.api
        .wait_session(&z, "output", |s| s["log_path"].is_string())
        .await;
    std::fs::write(repo.path.join("real.txt"), "a real change\n").unwrap();
    let ignore = std::fs::read_to_string(repo.state_dir().join(".gitignore")).unwrap();
    assert_eq!(ignore.lines().last(), Some("*"), "{ignore}");
    let status = git(
        &repo.path,
        &["status", "--porcelain", "--untracked-files=all"],
    );
    assert!(
        !status.contains(".tmp"),
        "git status shows the state folder:\n{status}"
    );
    assert!(status.contains("real.txt"), "{status}");
    let (code, stdout, stderr) =
        run_binary(&["report", "--json", "--repo", repo.path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let text = report.to_string();
    assert!(
        !text.contains(".tmp/"),
        "the report lists the launcher's files: {text}"
    );
    assert!(text.contains("real.txt"), "{text}");
    l.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_from_a_subfolder_serves_the_root_and_a_plain_folder_is_refused() {
    let repo = TestRepo::with_flags(&[]);
    let sub = repo.path.join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    let mut l = spawn_launcher(&sub, &[]);
    let status = l.api.status().await;
    assert!(status.is_object(), "{status}");
    assert!(repo
        .state_dir()
        .join("codex_governance_launcher.json")
        .exists());
    assert!(
        !sub.join(".tmp").exists(),
        "the subfolder got a state folder"
    );
    l.terminate();
    assert!(
        l.stderr().contains(&format!(
            "serving the repository at {}",
            repo.path.display()
        )),
        "{}",
        l.stderr()
    );

    let plain = tempfile::tempdir().unwrap();
    for args in [
        vec!["serve", "--port", "0", "--repo"],
        vec!["report", "--repo"],
        vec!["url", "--repo"],
    ] {
        let mut args: Vec<&str> = args;
        args.push(plain.path().to_str().unwrap());
        let (code, stdout, stderr) = run_binary(&args);
        assert_eq!(code, 2, "{args:?}: {stdout} {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(
            stderr.contains("is not inside a Git repository"),
            "{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_launcher_is_refused_and_the_first_is_untouched() {
    let repo = TestRepo::with_flags(&[]);
    let mut first = spawn_launcher(&repo.path, &[]);
    let z = first.api.start_zhongshu("keep me").await;
    let before = first.api.status().await;
    let (code, _, stderr) = run_binary(&[
        "serve",
        "--port",
        "0",
        "--repo",
        repo.path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "already running at {} (pid {})",
            first.url,
            first.pid()
        )),
        "{stderr}"
    );
    let after = first.api.status().await;
    assert_eq!(
        after["sessions"].as_array().unwrap().len(),
        before["sessions"].as_array().unwrap().len()
    );
    assert_eq!(first.api.session(&z).await["status"], "running");
    // `url` names the running launcher; `audit verify` finds the chain whole.
    let (code, stdout, _) = run_binary(&["url", "--repo", repo.path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        format!("{}/#token={}", first.url, first.token)
    );
    first.terminate();
    let (code, stdout, stderr) =
        run_binary(&["audit", "verify", "--repo", repo.path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout} {stderr}");
    assert!(stdout.starts_with("ok: "), "{stdout}");
    let (code, _, stderr) = run_binary(&["url", "--repo", repo.path.to_str().unwrap()]);
    assert_eq!(code, 1, "no launcher runs any more: {stderr}");
    assert!(stderr.contains("no launcher is running"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    windows,
    ignore = "Wine keeps a deleted file's name while it is open (Windows 10 NTFS frees it at once)"
)]
async fn a_launcher_that_lost_its_lock_never_writes() {
    let repo = TestRepo::with_flags(&[]);
    let mut first = spawn_launcher(&repo.path, &[]);
    std::fs::remove_file(repo.state_dir().join("codex_governance.lock")).unwrap();
    let mut second = spawn_launcher(&repo.path, &[]);
    // Within a second or two the first notices, says so, and refuses every change.
    wait_until("the first launcher notices", PATIENCE, || async {
        first
            .stderr()
            .contains("this launcher stops writing")
            .then_some(())
    })
    .await;
    let (status, refused) = first
        .api
        .post(
            "/api/start_zhongshu_session",
            &serde_json::json!({"task": "t"}),
        )
        .await;
    assert_eq!(
        status,
        reqwest::StatusCode::SERVICE_UNAVAILABLE,
        "{refused}"
    );
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("nothing is written any more"),
        "{refused}"
    );
    let z = second.api.start_zhongshu("the owner works").await;
    assert_eq!(second.api.session(&z).await["status"], "running");
    first.terminate();
    second.terminate();
    let (code, stdout, stderr) =
        run_binary(&["audit", "verify", "--repo", repo.path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout} {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setup_problem_is_said_once_plainly_and_a_failed_start_leaves_no_session() {
    let repo = TestRepo::with_flags(&[]);
    std::fs::write(
        repo.path.join("governance.yaml"),
        "launcher:\n  backend: codex\n  codex_command: /nonexistent/codex-missing\n",
    )
    .unwrap();
    let mut l = spawn_launcher(&repo.path, &[]);
    let status = wait_until("the problem in the status", PATIENCE, || async {
        let s = l.api.status().await;
        (!s["agents"]["problems"].as_array()?.is_empty()).then_some(s)
    })
    .await;
    let problem = status["agents"]["problems"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        problem.contains("npm install -g @openai/codex"),
        "{problem}"
    );
    // The status may show the problem before its line reached our reader.
    let err = wait_until("the problem on stderr", PATIENCE, || async {
        let err = l.stderr();
        err.contains("codex-missing").then_some(err)
    })
    .await;
    assert_eq!(
        err.matches("codex-missing").count(),
        1,
        "the warning is printed once: {err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "no colour codes into a pipe: {err:?}"
    );
    // Starting fails with the fix, and leaves no session behind.
    let (code, body) = l
        .api
        .post(
            "/api/start_zhongshu_session",
            &serde_json::json!({"task": "t"}),
        )
        .await;
    assert!(code.is_client_error(), "{code} {body}");
    assert!(
        !body["error"].as_str().unwrap().contains("/usr/bin"),
        "the error does not list PATH: {body}"
    );
    let s = l.api.status().await;
    assert_eq!(s["sessions"], serde_json::json!([]), "{s}");
    l.terminate();
}

#[test]
fn a_port_in_use_says_what_to_do() {
    let repo = TestRepo::with_flags(&[]);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, _, stderr) = run_binary(&[
        "serve",
        "--port",
        &port,
        "--repo",
        repo.path.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("is in use by another program: pass --port 0"),
        "{stderr}"
    );
    // The lock was given back: a launcher starts on the same folder.
    let mut l = spawn_launcher(&repo.path, &[]);
    let other = TestRepo::with_flags(&[]);
    let ours = l.port.to_string();
    let (code, _, stderr) = run_binary(&[
        "serve",
        "--port",
        &ours,
        "--repo",
        other.path.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("in use by a codex-governance launcher"),
        "{stderr}"
    );
    l.terminate();
}

#[test]
fn a_log_filter_it_cannot_read_is_said_and_the_command_still_runs() {
    let repo = TestRepo::with_flags(&[]);
    let run = |filter: &str| {
        base_command()
            .env("CODEX_GOVERNANCE_LOG", filter)
            .args(["report", "--json", "--repo", repo.path.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let bad = run("codex_governance=loudest");
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(bad.status.success(), "{said}");
    assert!(
        said.contains("CODEX_GOVERNANCE_LOG=\"codex_governance=loudest\" is not a log filter"),
        "{said}"
    );
    for good in ["info", "warn,codex_governance::forge=debug", " warn , ", ""] {
        let out = run(good);
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{said}");
        assert!(!said.contains("is not a log filter"), "{good}: {said}");
    }
    // What a filter lets through is logged, debug too; what it does not, is not.
    let serve_said = |filter: Option<&str>| {
        let mut cmd = base_command();
        if let Some(f) = filter {
            cmd.env("CODEX_GOVERNANCE_LOG", f);
        }
        // Into a file: a pipe nobody reads before the ready line could fill.
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = cmd
            .args([
                "serve",
                "--port",
                "0",
                "--repo",
                repo.path.to_str().unwrap(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut ready,
        )
        .unwrap();
        assert!(ready.contains("listening on"), "{ready}");
        let _ = child.kill();
        let _ = child.wait();
        std::fs::read_to_string(log.path()).unwrap()
    };
    let serving = format!("serving {}", repo.path.display());
    for (filter, shown) in [
        (Some("codex_governance=debug"), true),
        (Some("debug"), true),
        (Some("codex_governance::forge=debug"), false),
        (Some("info"), false),
        (None, false),
    ] {
        let said = serve_said(filter);
        assert_eq!(said.contains(&serving), shown, "{filter:?}: {said}");
    }
}

#[test]
fn report_into_a_closed_pipe_ends_quietly() {
    let repo = TestRepo::with_flags(&[]);
    // Long names: the report lists every file, far more than a pipe holds
    // (64 KiB), so the writer meets the closed pipe mid-report.
    let long = "a-rather-long-file-name-so-that-the-report-grows-quickly";
    for i in 0..2500 {
        std::fs::write(repo.path.join(format!("{long}-{i:04}.txt")), "x\n").unwrap();
    }
    let whole = base_command()
        .args(["report", "--json", "--repo", repo.path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(whole.status.success());
    assert!(
        whole.stdout.len() > 4 * 65536,
        "the report must outgrow the pipe: {} bytes",
        whole.stdout.len()
    );
    let mut child = base_command()
        .args(["report", "--json", "--repo", repo.path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like `| head -1`: read a little, then go away.
    let mut first = [0u8; 16];
    let mut stdout = child.stdout.take().unwrap();
    let _ = stdout.read(&mut first).unwrap();
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "", "nothing said about the closed pipe");
}

#[test]
fn init_writes_the_defaults_once() {
    let repo = TestRepo::with_flags(&[]);
    std::fs::remove_file(repo.path.join("governance.yaml")).unwrap();
    let (code, stdout, stderr) = run_binary(&["init", "--repo", repo.path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("governance.yaml"), "{stdout}");
    let text = std::fs::read_to_string(repo.path.join("governance.yaml")).unwrap();
    assert!(
        text.contains("departments:") && text.contains("# "),
        "{text}"
    );
    let (code, _, stderr) = run_binary(&["init", "--repo", repo.path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("exists; nothing was written"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(repo.path.join("governance.yaml")).unwrap(),
        text
    );
}

#[test]
fn every_flag_has_help_text() {
    for cmd in [
        vec![],
        vec!["serve"],
        vec!["report"],
        vec!["url"],
        vec!["init"],
        vec!["audit", "verify"],
        vec!["mailbox", "send"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let (code, stdout, _) = run_binary(&args);
        assert_eq!(code, 0, "{args:?}");
        for line in stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("--") || l.trim_start().starts_with("-"))
        {
            // `  -r, --repo <DIR>  What it is`: text after the flag's own gap.
            let described = line
                .trim_start()
                .split_once("  ")
                .is_some_and(|(_, help)| !help.trim().is_empty());
            assert!(described, "{args:?}: a flag without help: {line:?}");
        }
    }
}

/// The README's "A demo without Codex", as written: `codex-governance demo`
/// run as `cargo run` runs it (CARGO and CARGO_MANIFEST_DIR set: the fake
/// agent is built from the checkout), then a plain task with no directive. The planner registers a
/// plan over the departments, each department changes its notes file and
/// reports with `mailbox send`, and the plan finishes with its counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    windows,
    ignore = "under Wine the planner's notice, typed into its pseudo console, never showed in its transcript (seen in the Wine lane); the demo runs whole on Linux"
)]
async fn the_readme_demo_runs_a_plain_task_to_a_finished_plan() {
    let (mut l, path, said) = demo::start_demo("press Start").await;
    let repo = demo::DemoRepo(path);
    assert!(repo.0.join(".git").is_dir(), "{said}");
    assert!(said.contains("configuration from"), "{said}");
    if cfg!(unix) {
        // As under `cargo run`, which names the checkout: the agent is built first.
        assert!(
            said.contains("building the demo's scripted agent"),
            "{said}"
        );
    }

    let z = l.api.start_zhongshu("Tidy the notes").await;
    let plan = wait_until("the plan to finish", PATIENCE * 2, || async {
        let p = l.api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await["plan"].clone();
        (p["status"] == "finished").then_some(p)
    })
    .await;
    assert_eq!(
        plan["outcome"],
        serde_json::json!({"assignments": 3, "reported": 3, "failed": 0, "no_report": 0, "stopped": 0}),
        "{plan}"
    );
    let departments: Vec<&str> = plan["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["department"].as_str().unwrap())
        .collect();
    assert_eq!(departments, ["zhilibu", "gongchengbu", "lingyubu"]);

    each_department_worked_in_its_worktree_and_reported(&l.api, &z, &repo.0).await;
    // Your working tree has none of it yet: the report shows no change.
    let report = l.api.get_ok("/api/report").await;
    assert_eq!(report["changed_paths"], serde_json::json!([]), "{report}");
    // The planner is told its plan finished, and tells it as an agent would:
    // no echo of the notice (found walking the demo: "Heard: [codex-governance]
    // 3 new results | …", then the terminal's own echo of it).
    let log_path = repo.0.join(format!(".tmp/codex_governance_logs/{z}.log"));
    let log = wait_until("the planner's words", PATIENCE, || async {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        log.contains("My plan finished (3 of 3 ended: 3 reported)")
            .then_some(log)
    })
    .await;
    assert!(!log.contains("Heard:"), "{log}");
    if cfg!(unix) {
        assert!(!log.contains("[codex-governance] "), "{log}");
    }
    l.terminate();
}

/// `demo --dir DIR` again serves the same demo, trusted, on the port it had,
/// so a tab left open on it comes back (the second walk: a new port each
/// start left the tab "reconnecting…" for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_comes_back_on_its_folder_and_its_port() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("demo");
    let folder_arg = folder.display().to_string();
    let (mut first, path, _) = demo::start_demo_with("press Start", &["--dir", &folder_arg]).await;
    let _repo = demo::DemoRepo(path.clone());
    let url = first.url.clone();
    first.terminate();
    let (mut again, path_again, said) =
        demo::start_demo_with("press Start", &["--dir", &folder_arg]).await;
    assert_eq!(path_again, path, "{said}");
    assert!(said.contains("as you left it"), "{said}");
    assert!(
        !said.contains("trust"),
        "its own configuration asks nothing: {said}"
    );
    assert_eq!(again.url, url, "the same port: {said}");
    again.terminate();
}

/// Each department changed its notes file in its own worktree and said so
/// in a verified report; zhilibu asks about its README line, lingyubu
/// wrote README.md outside its scope without saying so (issue 37 item 7).
async fn each_department_worked_in_its_worktree_and_reported(
    api: &Api,
    z: &str,
    repo: &std::path::Path,
) {
    let inbox = api
        .get_ok(&format!("/api/zhongshu_inbox?id={z}&peek=1"))
        .await;
    let results: Vec<Value> = ["unread_results", "read_results"]
        .iter()
        .flat_map(|k| inbox[*k].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(results.len(), 3, "{inbox}");
    let status = api.status().await;
    for (department, file, reported) in [
        (
            "zhilibu",
            "docs/notes.md",
            vec!["docs/notes.md", "README.md"],
        ),
        ("gongchengbu", "tests/notes.md", vec!["tests/notes.md"]),
        ("lingyubu", "src/notes.md", vec!["src/notes.md"]),
    ] {
        let session = support::departments(&status)
            .into_iter()
            .find(|d| d["department"] == department)
            .unwrap_or_else(|| panic!("no {department}: {status}"));
        assert_worked_in_its_worktree(&session, file, repo);
        it_speaks_like_an_agent(&session, file);
        let r = results
            .iter()
            .find(|r| r["department"] == department)
            .unwrap_or_else(|| panic!("no result of {department}: {inbox}"));
        assert_reported_and_reviewed(&session, r, &reported);
    }
}

/// The demo's agent reads like an agent (issue 49 item 14): what it was
/// asked, what it changed, that it reported; none of the fake agent's
/// marker lines or dumps of its arguments and environment.
fn it_speaks_like_an_agent(session: &Value, file: &str) {
    let log = std::fs::read_to_string(session["log_path"].as_str().unwrap()).unwrap();
    for said in [
        "My task: Tidy the notes".to_string(),
        format!("Added a dated line to {file}."),
        "Reported to the launcher.".to_string(),
    ] {
        assert!(log.contains(&said), "{said:?} in {log}");
    }
    for dump in ["FAKE_AGENT_", "CODEX_GOVERNANCE_"] {
        assert!(!log.contains(dump), "{dump} in {log}");
    }
}

/// The demo department `session` changed `file` in its own worktree, and
/// not yet in yours (`repo`).
fn assert_worked_in_its_worktree(session: &Value, file: &str, repo: &std::path::Path) {
    let department = session["department"].as_str().unwrap();
    let worktree = std::path::PathBuf::from(session["workspace"]["path"].as_str().unwrap());
    let notes = std::fs::read_to_string(worktree.join(file)).unwrap();
    assert!(
        notes.contains(&format!("{department}: Tidy the notes")),
        "{file}: {notes}"
    );
    let mine = std::fs::read_to_string(repo.join(file)).unwrap();
    assert!(
        !mine.contains("Tidy the notes"),
        "not in your tree until applied: {mine}"
    );
}

/// Its result `r` names the files it `reported`, is verified (sent with
/// `mailbox send`), asks for confirmation only from zhilibu; its review
/// passes, except lingyubu's, which wrote README.md outside its scope.
fn assert_reported_and_reviewed(session: &Value, r: &Value, reported: &[&str]) {
    let department = session["department"].as_str().unwrap();
    assert_eq!(r["changed_files"], serde_json::json!(reported), "{r}");
    assert_eq!(r["verified"], true, "sent with `mailbox send`: {r}");
    assert_eq!(r["needs_user_confirmation"], department == "zhilibu", "{r}");
    let review = &session["workspace"]["review"];
    let stray = department == "lingyubu";
    assert_eq!(
        review["decision"],
        if stray { "REVIEW" } else { "PASS" },
        "{session}"
    );
    if stray {
        assert_eq!(
            review["scope"]["out_of_scope"],
            serde_json::json!(["README.md"])
        );
    }
}

/// Without the fake agent beside it, on PATH or a checkout to build it in,
/// `demo` says how to get it and writes nothing.
#[test]
fn the_demo_without_its_agent_says_how_to_get_it() {
    let lone = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let bin = lone
        .path()
        .join(format!("codex-governance{}", std::env::consts::EXE_SUFFIX));
    std::fs::hard_link(BIN, &bin).unwrap();
    let target = lone.path().join("demo");
    let out = Command::new(&bin)
        .args(["demo", "--dir"])
        .arg(&target)
        .env("PATH", lone.path())
        .env_remove("CARGO")
        .env_remove("CARGO_MANIFEST_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cargo build --release -p fake-agent") && stderr.contains("--agent"),
        "{stderr}"
    );
    assert!(!target.exists(), "nothing was written");
}
