//! Attacks on the launcher's state at rest (issue 23, items 2, 3 and 10):
//! another local user reading the state folder, terminal tokens in the
//! database, a foreign or lost database, and an audit log rewritten with its
//! whole chain recomputed.
//!
//! The other-user cases need root (CI runs as root): a child process runs as
//! uid/gid 65534 and tries to read every file the launcher keeps.
//!
//! Part of `attacks`; uses its `support` and `extra` modules.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::Digest;

use codex_governance::audit;

use super::extra;
use super::support::*;

const NOBODY: u32 = 65534;

fn say(case: &str, got: impl std::fmt::Display) {
    println!("[attack] {case} -> {got}");
}

fn mode(p: &Path) -> u32 {
    mode_if_there(p).unwrap_or_else(|| panic!("{} is gone", p.display()))
}

/// The mode, or None for a file that went away (a journal, a temporary file).
fn mode_if_there(p: &Path) -> Option<u32> {
    let meta = std::fs::symlink_metadata(p).ok()?;
    Some(meta.permissions().mode() & 0o7777)
}

fn chmod(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

fn sha(p: &Path) -> Vec<u8> {
    sha2::Sha256::digest(std::fs::read(p).unwrap()).to_vec()
}

/// Every file and folder under `dir` (links not followed), `dir` first. A
/// running launcher's short-lived files may come and go meanwhile.
fn everything_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

/// Lets any user walk down to the repository, so only the state folder's own
/// modes decide (the test's temporary folder is 0700 by itself).
fn open_the_way(repo: &TestRepo) {
    chmod(&repo.root, 0o755);
    chmod(&repo.path, 0o755);
}

/// Which of `paths` a process of uid/gid 65534 can read (files) or list
/// (folders).
fn readable_by_nobody(paths: &[PathBuf]) -> Vec<PathBuf> {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the other-user attacks run as root (as CI does), to start a process as uid 65534"
    );
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"for p in "$@"; do if [ -d "$p" ]; then ls "$p" >/dev/null 2>&1 && echo "$p"; else cat "$p" >/dev/null 2>&1 && echo "$p"; fi; done"#)
        .arg("sh")
        .args(paths)
        .uid(NOBODY)
        .gid(NOBODY)
        .stdin(Stdio::null())
        .output()
        .expect("run sh as uid 65534");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(PathBuf::from)
        .collect()
}

/// The launcher binary run with umask 000, until its ready line.
struct Umasked {
    child: Child,
    api: Api,
    stderr: Arc<Mutex<String>>,
}

impl Umasked {
    fn spawn(repo: &Path) -> Umasked {
        let mut cmd = base_command();
        cmd.args(["serve", "--repo"])
            .arg(repo)
            .args(["--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: umask(2) is async-signal-safe; it runs in the child before exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::umask(0);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn the launcher");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.starts_with("codex-governance listening on ") {
                    let _ = tx.send(line);
                }
            }
        });
        let Ok(ready) = rx.recv_timeout(PATIENCE) else {
            let _ = child.kill();
            panic!("no ready line; stderr:\n{}", stderr.lock().unwrap());
        };
        let (url, token) = parse_ready_line(&ready);
        Umasked {
            child,
            api: Api::new(&url, &token),
            stderr,
        }
    }

    fn stop(mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "{status:?}\n{}",
            self.stderr.lock().unwrap()
        );
    }
}

impl Drop for Umasked {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `serve` expecting it to refuse: (exit code, stderr). A launcher that
/// starts instead is stopped and the test fails.
fn serve_expecting_refusal(repo: &TestRepo) -> (i32, String) {
    let mut child = base_command()
        .args(["serve", "--port", "0", "--repo"])
        .arg(&repo.path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the launcher started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A first run on `repo`: a launcher in this process starts a Zhongshu (and
/// waits for its terminal), then stops. Returns the Zhongshu's id.
fn first_run(repo: &TestRepo, task: &str) -> String {
    test_runtime().block_on(async {
        let server = InProcess::start(repo).await;
        let z = server.api.start_zhongshu(task).await;
        server
            .api
            .wait_session(&z, "has a terminal", |s| {
                s["browser_terminal_id"].is_string()
            })
            .await;
        server.stop().await;
        z
    })
}

// ---------------------------------------------------------------------------
// Item 2: private files

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_reads_nothing_the_launcher_keeps_even_under_umask_000() {
    let repo = TestRepo::with_flags(&["--max-lifetime", "120"]);
    open_the_way(&repo);
    let server = tokio::task::spawn_blocking({
        let path = repo.path.clone();
        move || Umasked::spawn(&path)
    })
    .await
    .unwrap();
    let api = &server.api;
    let z = api.start_zhongshu("private files").await;
    let d = extra::start_department(
        api,
        &z,
        "lingyubu",
        "report [[fake-agent: --report-via cli --summary 'done']]",
    )
    .await;
    let r = extra::wait_result(api, &z, "the department's report", |r| {
        r["department_session_id"] == json!(d)
    })
    .await;
    let packet = PathBuf::from(r["handoff_packet"].as_str().unwrap());
    let shell = api
        .post_ok("/api/browser_terminal/start", &json!({"shell": "/bin/sh"}))
        .await;
    let terminal_url = shell["url"].as_str().unwrap().to_string();

    let state = repo.state_dir();
    let all = everything_in(&state);
    for name in [
        "codex_governance.db",
        "codex_governance_audit.jsonl",
        "codex_governance_launcher.json",
        "codex_governance.lock",
        "codex_governance_logs",
        "codex_governance_prompts",
        "codex_governance_mailbox",
    ] {
        assert!(all.contains(&state.join(name)), "{name} is there");
    }
    assert!(all.contains(&packet), "the packet is there");
    // A file anyone may read proves the other user's process really reads.
    let control = repo.path.join("README.md");
    chmod(&control, 0o644);
    let mut probe = all.clone();
    probe.push(control.clone());
    let read = readable_by_nobody(&probe);
    assert_eq!(read, vec![control], "uid 65534 read these");
    let wide: Vec<String> = all
        .iter()
        .filter_map(|p| {
            let want = if p.is_dir() { 0o700 } else { 0o600 };
            let mode = mode_if_there(p)?;
            (mode != want).then(|| format!("{} {mode:o}", p.display()))
        })
        .collect();
    assert!(wide.is_empty(), "not owner-only under umask 000: {wide:#?}");
    server.stop();
    say(
        "uid 65534 reads the state folder of a launcher run with umask 000",
        format!(
            "{} entries (database, audit log, transcripts, prompts, mailbox, packet, launcher file), all 0700/0600, none readable; terminal {} not reachable",
            all.len(),
            terminal_url.split('?').next().unwrap()
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_terminal_token_is_kept_at_rest_and_the_dashboard_still_gets_it() {
    let (repo, server) = serve(&["--max-lifetime", "120"]).await;
    let api = &server.api;
    let z = api.start_zhongshu("tokens at rest").await;
    let s = api
        .wait_session(&z, "has a terminal", |s| {
            s["browser_terminal_url"].is_string()
        })
        .await;
    let shell = api
        .post_ok("/api/browser_terminal/start", &json!({"shell": "/bin/sh"}))
        .await;
    let mut tokens = Vec::new();
    for url in [&s["browser_terminal_url"], &shell["url"]] {
        let url = url.as_str().unwrap();
        let token = url.split_once("token=").expect("a tokenized URL").1;
        assert_eq!(token.len(), 64, "{url}");
        tokens.push(token.to_string());
    }
    // The dashboard gets the tokenized URLs from memory.
    let listed = api.get_ok("/api/browser_terminals").await;
    let text = listed.to_string();
    assert!(tokens.iter().all(|t| text.contains(t.as_str())), "{listed}");
    let developer_token = server.token.clone();
    server.stop().await;
    let mut holders = Vec::new();
    for p in everything_in(&repo.state_dir())
        .iter()
        .filter(|p| p.is_file())
    {
        let bytes = std::fs::read(p).unwrap();
        let holds = |s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
        for t in &tokens {
            if holds(t) {
                holders.push(format!("terminal token in {}", p.display()));
            }
        }
        // The developer's token is kept on purpose in one owner-only file,
        // so open tabs survive a restart (issue 49 item 2); nowhere else.
        let kept = p.file_name() == Some(std::ffi::OsStr::new("codex_governance_token"));
        if holds(&developer_token) && !kept {
            holders.push(format!("the developer's token in {}", p.display()));
        }
        if kept {
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }
    assert!(holders.is_empty(), "live secrets at rest: {holders:#?}");
    say(
        "terminal tokens and the developer's token searched in every file of the state folder after a run",
        "no terminal token; the developer's token only in the owner-only codex_governance_token (the database keeps `http://127.0.0.1:PORT/` only)",
    );
}

#[test]
fn a_state_folder_left_wide_by_an_older_launcher_is_tightened_and_said() {
    let repo = TestRepo::with_flags(&[]);
    first_run(&repo, "before the upgrade");
    // As an older launcher left it: 0755 folders, 0644 files; another tool's file too.
    let state = repo.state_dir();
    for p in everything_in(&state) {
        chmod(&p, if p.is_dir() { 0o755 } else { 0o644 });
    }
    let other = state.join("another-tool.txt");
    std::fs::write(&other, "not ours").unwrap();
    chmod(&other, 0o644);
    let mut launcher = spawn_launcher(&repo.path, &[]);
    // stderr is read by a thread of its own: wait for the line.
    let told = super::attack::poll(PATIENCE, || {
        launcher.stderr().contains("readable by other users")
    });
    let said = launcher.stderr();
    assert!(
        told && said.contains("was 0755, readable by other users: now 0700"),
        "{said}"
    );
    let lines = extra::audit_lines(&state);
    let events = extra::audit_events(&lines, "state_folder_tightened");
    assert_eq!(events.len(), 1, "{lines:?}");
    assert_eq!(events[0]["was_mode"], json!("0755"), "{}", events[0]);
    assert!(events[0]["entries"].as_u64().unwrap() >= 5, "{}", events[0]);
    let wide: Vec<String> = everything_in(&state)
        .into_iter()
        .filter(|p| *p != other)
        .filter_map(|p| {
            let mode = mode_if_there(&p)?;
            (mode & 0o077 != 0).then(|| format!("{} {mode:o}", p.display()))
        })
        .collect();
    assert!(wide.is_empty(), "{wide:#?}");
    assert_eq!(mode(&other), 0o644, "another tool's file keeps its mode");
    launcher.terminate();
    say(
        "a state folder of 0755/0644 from an older launcher",
        format!(
            "tightened at start: {}",
            said.lines().find(|l| l.contains("readable")).unwrap()
        ),
    );
}

// ---------------------------------------------------------------------------
// Item 3: refuse before touching

#[test]
fn a_foreign_database_is_refused_byte_for_byte_before_any_ddl() {
    let repo = TestRepo::with_flags(&[]);
    let state = repo.state_dir();
    std::fs::create_dir_all(&state).unwrap();
    let db = state.join("codex_governance.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("create table sessions(x)")
        .unwrap();
    let before = std::fs::read(&db).unwrap();
    let (code, err) = serve_expecting_refusal(&repo);
    assert_eq!(std::fs::read(&db).unwrap(), before, "byte-identical: {err}");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("is not a codex-governance database")
            && err.contains("\"sessions\" has the columns (x)")
            && err.contains("left as it is"),
        "{err}"
    );
    assert!(!state.join("codex_governance.db-journal").exists());
    say(
        "`create table sessions(x)` as the state database",
        format!("exit 2, file byte-identical: {}", err.trim()),
    );
}

#[test]
fn a_lost_database_beside_an_audit_log_with_history_is_refused_with_the_fix() {
    let repo = TestRepo::with_flags(&[]);
    first_run(&repo, "history");
    let state = repo.state_dir();
    let db = state.join("codex_governance.db");
    let log = state.join("codex_governance_audit.jsonl");
    let log_before = std::fs::read(&log).unwrap();
    for (case, zero_bytes) in [("deleted", false), ("zero-byte", true)] {
        let _ = std::fs::remove_file(&db);
        if zero_bytes {
            std::fs::write(&db, b"").unwrap();
        }
        let (code, err) = serve_expecting_refusal(&repo);
        assert_eq!(code, 2, "{case}: {err}");
        assert!(
            err.contains("is missing or empty") && err.contains("mv "),
            "{case}: {err}"
        );
        assert_eq!(db.exists(), zero_bytes, "{case}: nothing created");
        assert_eq!(std::fs::read(&log).unwrap(), log_before, "{case}");
        say(
            &format!("a {case} database beside an audit log with history"),
            format!("exit 2: {}", err.trim()),
        );
    }
    // The fix it names: the log moved aside, a new history starts.
    std::fs::rename(&log, state.join("old-audit.jsonl")).unwrap();
    let mut launcher = spawn_launcher(&repo.path, &[]);
    launcher.terminate();
}

#[test]
fn a_database_of_ours_from_before_the_application_id_still_opens() {
    let repo = TestRepo::with_flags(&[]);
    let z = first_run(&repo, "made by an older launcher");
    // Back to schema 1, as the launchers before the id wrote it.
    let db = repo.state_dir().join("codex_governance.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "PRAGMA application_id = 0; PRAGMA user_version = 0;
         ALTER TABLE outbox DROP COLUMN line;
         DROP TABLE review_comments;
         DELETE FROM meta WHERE key = 'audit_head';
         UPDATE meta SET value = '1' WHERE key = 'schema';",
    )
    .unwrap();
    drop(conn);
    let launcher = spawn_launcher(&repo.path, &[]);
    let s = test_runtime().block_on(launcher.api.session(&z));
    assert_eq!(s["id"], json!(z), "{s}");
    let mut launcher = launcher;
    launcher.terminate();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_ne!(id, 0, "migrated: the id is set");
    let (code, out, err) = run_binary(&[
        "audit",
        "verify",
        "--repo",
        &repo.path.display().to_string(),
    ]);
    assert_eq!(code, 0, "{out} {err}");
}

// ---------------------------------------------------------------------------
// Item 10: the audit chain anchored in the database

/// The log's lines with one value changed and every hash recomputed.
fn rewrite_with_the_chain_recomputed(log: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(log).unwrap();
    assert!(text.contains(from), "{from} is in the log");
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    for line in text.replacen(from, to, 1).lines() {
        let (line, hash) = audit::seal(serde_json::from_str(line).unwrap(), &prev).unwrap();
        out.push_str(&line);
        out.push('\n');
        prev = hash;
    }
    std::fs::write(log, out).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_log_rewritten_with_its_whole_chain_recomputed_no_longer_passes() {
    let repo = TestRepo::with_flags(&[]);
    let z = tokio::task::block_in_place(|| first_run(&repo, "the real task"));
    let log = repo.state_dir().join("codex_governance_audit.jsonl");
    rewrite_with_the_chain_recomputed(
        &log,
        &format!("\"session_id\":\"{z}\""),
        "\"session_id\":\"zhongshu-77\"",
    );
    assert!(
        audit::verify(&log).is_ok(),
        "the forged chain holds by itself"
    );
    let sd = repo.state_dir().display().to_string();
    let (code, out, err) = run_binary(&["audit", "verify", "--state-dir", &sd]);
    assert_eq!(code, 1, "{out} {err}");
    assert!(out.contains("the log was rewritten"), "{out} {err}");
    // The next start says so too, before it writes anything.
    let second = InProcess::start(&repo).await;
    let health = wait_until("/healthz reports the rewrite", PATIENCE, || async {
        let (_, v) = second.api.get("/healthz").await;
        (v["audit_chain"]["ok"] == json!(false)).then_some(v)
    })
    .await;
    assert!(
        health["audit_chain"]["problem"]
            .as_str()
            .unwrap()
            .contains("rewritten"),
        "{health}"
    );
    second.stop().await;
    say(
        "an audit line edited and every hash after it recomputed",
        format!("audit verify exit 1: {}", out.trim()),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_page_before_a_seq_past_the_end_is_the_newest_page() {
    let (_repo, server) = serve(&[]).await;
    let api = &server.api;
    api.start_zhongshu("some history").await;
    let all = api.get_ok("/api/audit?since=0&limit=10000").await;
    let last = all["last_seq"].as_u64().unwrap();
    assert!(last >= 3, "{all}");
    let page = api
        .get_ok(&format!("/api/audit?before={}&limit=2", last + 1_000))
        .await;
    let seqs: Vec<u64> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![last - 1, last], "{page}");
    assert_eq!(page["next_before"], json!(last - 1));
    server.stop().await;
    say(
        &format!(
            "/api/audit?before={}&limit=2 (last seq {last})",
            last + 1_000
        ),
        format!("the newest page: {seqs:?}"),
    );
}

// ---------------------------------------------------------------------------
// Issue 33 item 2: nothing is written through a planted link

/// What `POST /api/start_department` did: the session's id, or why it did
/// not start (a start that fails is a failed queue item, with the reason).
fn started_or_why(code: reqwest::StatusCode, body: &Value) -> Result<String, String> {
    if !code.is_success() {
        return Err(format!(
            "{code} {}",
            body["error"].as_str().unwrap_or_default()
        ));
    }
    let item = &body["queue_item"];
    if item["status"] == "failed" {
        return Err(item["error"].as_str().unwrap_or_default().to_string());
    }
    body["session_id"]
        .as_str()
        .or(body["session"]["id"].as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("neither started nor failed: {body}"))
}

/// The session's transcript once it has some output.
fn wait_transcript(repo: &TestRepo, id: &str) -> String {
    let mut got = String::new();
    let seen = super::attack::poll(PATIENCE, || {
        got = repo.log(id);
        !got.is_empty()
    });
    assert!(seen, "{id} wrote no transcript");
    got
}

#[test]
fn a_link_under_the_launchers_names_is_moved_aside_or_refused_and_never_written_through() {
    let repo = TestRepo::with_flags(&[]);
    let outside = tempfile::tempdir().unwrap();
    let rc = outside.path().join("bashrc");
    std::fs::write(&rc, "mine\n").unwrap();
    let other = outside.path().join("profile");
    std::fs::write(&other, "mine too\n").unwrap();
    // As a cloned repository that committed them (`git add -f`) would leave them.
    let logs = repo.state_dir().join("codex_governance_logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::os::unix::fs::symlink(&rc, logs.join("zhongshu-1.log")).unwrap();
    std::fs::hard_link(&other, logs.join("zhongshu-2.log")).unwrap();

    let mut launcher = spawn_launcher(&repo.path, &[]);
    let rt = test_runtime();
    let api = launcher.api.clone();
    let z = rt.block_on(api.start_zhongshu("write your transcript"));
    assert_eq!(z, "zhongshu-1");
    let transcript = wait_transcript(&repo, &z);
    assert_eq!(
        std::fs::read_to_string(&rc).unwrap(),
        "mine\n",
        "the transcript went through the link"
    );
    assert!(!std::fs::symlink_metadata(logs.join("zhongshu-1.log"))
        .unwrap()
        .file_type()
        .is_symlink());
    the_links_were_set_aside_as_they_were(&launcher, &repo);
    let drop_target = outside.path().join("folder");
    std::fs::create_dir(&drop_target).unwrap();
    chmod(&drop_target, 0o755);
    rt.block_on(links_planted_while_it_runs_fail_the_start_and_spend_no_id(
        &api,
        &repo,
        &z,
        (&rc, &drop_target),
    ));
    launcher.terminate();
    say(
        "a cloned repository's transcript link to ~/.bashrc",
        format!(
            "moved aside at start; the transcript ({} bytes) is the launcher's own file",
            transcript.len()
        ),
    );
}

/// The launcher said so of both planted names, audited it, and kept the link
/// where it moved it, as it was.
fn the_links_were_set_aside_as_they_were(launcher: &Subprocess, repo: &TestRepo) {
    let said = launcher.stderr();
    assert!(
        said.contains("zhongshu-1.log is a symbolic link, not the launcher's: moved aside to")
            && said.contains("zhongshu-2.log is a file with 2 names"),
        "{said}"
    );
    let lines = extra::audit_lines(&repo.state_dir());
    let set_aside = extra::audit_events(&lines, "state_entry_set_aside");
    assert_eq!(set_aside.len(), 2, "{lines:?}");
    let moved = PathBuf::from(set_aside[0]["moved_to"].as_str().unwrap());
    assert!(
        std::fs::symlink_metadata(&moved)
            .unwrap()
            .file_type()
            .is_symlink(),
        "kept as it was: {}",
        moved.display()
    );
}

/// Planted while the launcher runs: the next department's transcript as a
/// link to `rc`, then its drop folder as a link to `drop_target`. Each start
/// fails naming the link and changes nothing outside; then one starts as
/// lingyubu-1.
async fn links_planted_while_it_runs_fail_the_start_and_spend_no_id(
    api: &Api,
    repo: &TestRepo,
    z: &str,
    (rc, drop_target): (&Path, &Path),
) {
    let state = repo.state_dir();
    let start = json!({"parent_session_id": z, "department": "lingyubu", "task": "t"});
    let planted = state.join("codex_governance_logs/lingyubu-1.log");
    std::os::unix::fs::symlink(rc, &planted).unwrap();
    let (code, body) = api.post("/api/start_department", &start).await;
    let why = started_or_why(code, &body).unwrap_err();
    say(
        "a department whose transcript name is a link to ~/.bashrc",
        &why,
    );
    assert!(why.contains("lingyubu-1.log is a symbolic link"), "{body}");
    assert_eq!(std::fs::read_to_string(rc).unwrap(), "mine\n");
    // The failed start took its files with it (the link, not what it names).
    let _ = std::fs::remove_file(&planted);

    let drop_folder = state.join(format!("codex_governance_mailbox/{z}/incoming/lingyubu-1"));
    assert!(
        !drop_folder.exists(),
        "the failed start left its drop folder (or an agent that wrote into it)"
    );
    std::os::unix::fs::symlink(drop_target, &drop_folder).unwrap();
    let (code, body) = api.post("/api/start_department", &start).await;
    let why = started_or_why(code, &body).unwrap_err();
    say(
        "a department whose drop folder is a link to an outside folder",
        &why,
    );
    assert!(why.contains("the launcher did not make it"), "{body}");
    assert_eq!(mode(drop_target), 0o755, "the outside folder was changed");
    std::fs::remove_file(&drop_folder).unwrap();

    // The failed starts spent no id.
    let (code, body) = api.post("/api/start_department", &start).await;
    assert_eq!(
        started_or_why(code, &body).as_deref(),
        Ok("lingyubu-1"),
        "{body}"
    );
}

// ---------------------------------------------------------------------------
// Issue 33 item 3: folders another user owns or may write

/// A folder owned by uid 65534 that everyone may write.
fn foreign_folder(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
    std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).expect("chown needs root");
    chmod(path, 0o777);
}

#[test]
fn a_state_folder_of_another_user_is_refused_before_anything_is_touched() {
    let repo = TestRepo::with_flags(&[]);
    let theirs = repo.root.join("theirs");
    foreign_folder(&theirs);
    let _ = std::fs::remove_dir_all(repo.state_dir());
    std::os::unix::fs::symlink(&theirs, repo.state_dir()).unwrap();
    let (code, err) = serve_expecting_refusal(&repo);
    say("a .tmp linked to a folder of uid 65534, mode 0777", &err);
    assert_ne!(code, 0);
    assert!(
        err.contains("is owned by another user (uid 65534)") && err.contains("--state-dir"),
        "{err}"
    );
    assert_eq!(mode(&theirs), 0o777, "left as it was");
    assert_eq!(
        std::fs::read_dir(&theirs).unwrap().count(),
        0,
        "nothing made in it"
    );
}

#[test]
fn a_worktrees_folder_of_another_user_or_open_to_all_is_refused() {
    let repo = TestRepo::with_flags(&[]);
    commit_all(&repo.path, "initial");
    let worktrees = repo.root.join("repo.worktrees");
    foreign_folder(&worktrees);
    let mut launcher = spawn_launcher(&repo.path, &[]);
    let rt = test_runtime();
    let api = launcher.api.clone();
    let z = rt.block_on(api.start_zhongshu("one department"));
    let start = json!({"parent_session_id": z, "department": "lingyubu", "task": "t"});
    let (code, body) = rt.block_on(api.post("/api/start_department", &start));
    let why = started_or_why(code, &body).unwrap_err();
    say("a worktrees folder of uid 65534", &why);
    assert!(
        why.contains("repo.worktrees is owned by another user (uid 65534)"),
        "{body}"
    );
    assert_eq!(std::fs::read_dir(&worktrees).unwrap().count(), 0, "{body}");

    std::os::unix::fs::chown(&worktrees, Some(0), Some(0)).unwrap();
    let (code, body) = rt.block_on(api.post("/api/start_department", &start));
    let why = started_or_why(code, &body).unwrap_err();
    say("a worktrees folder of mode 0777", &why);
    assert!(
        why.contains("is writable by other users (mode 0777)"),
        "{body}"
    );
    chmod(&worktrees, 0o700);
    let (code, body) = rt.block_on(api.post("/api/start_department", &start));
    assert_eq!(
        started_or_why(code, &body).as_deref(),
        Ok("lingyubu-1"),
        "{body}"
    );
    launcher.terminate();
}

#[test]
fn the_demo_makes_its_own_folder_and_refuses_one_of_another_user() {
    let root = tempfile::tempdir().unwrap();
    let theirs = root.path().join("demo");
    foreign_folder(&theirs);
    let agent = fake_agent();
    let (code, _, err) = run_binary(&[
        "demo",
        "--agent",
        agent.to_str().unwrap(),
        "--dir",
        theirs.to_str().unwrap(),
    ]);
    say("demo --dir with a folder of uid 65534", err.trim());
    assert_ne!(code, 0);
    assert!(
        err.contains("is owned by another user (uid 65534)"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 0);
}
