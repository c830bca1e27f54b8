//! The core loop as a Windows user runs it (issue 24), with the real binary.
//! It runs on every platform; the Windows lane of `tools/test.sh` runs it on
//! the `.exe` under Wine, which is what it is for.
//!
//! The agent command names a bare `fake-codex`, as npm installs `codex`: a
//! folder on PATH (with a space in its name) holds an extension-less shell
//! script and, on Windows, `fake-codex.cmd`, so the launcher must find the
//! batch file through PATHEXT and run it through `cmd.exe`. A Zhongshu posts a
//! plan; one department reports through the launcher's own `mailbox send`, and
//! the report reaches the inbox with its handoff packet; another exits 3 without
//! a report. The department's terminal streams over a WebSocket and takes input.
//! Closing a session ends its whole tree, a grandchild included. Then the
//! launcher is killed: its agents die with it, and a new launcher has lost
//! nothing. Last, Ctrl-C typed into the launcher's console stops it gracefully.
//!
//! Nothing asserts on time: every wait polls for an event with a generous limit.

use crate::common::launcher as support;
use crate::common::mailbox as extra;
use crate::common::terminal as client;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use support::*;

/// A folder for PATH holding `fake-codex` the way npm lays out `codex`.
fn wrapper_folder(root: &Path) -> PathBuf {
    let dir = root.join("fake codex bin");
    std::fs::create_dir_all(&dir).unwrap();
    let agent = dir.join(format!("fake-agent{}", std::env::consts::EXE_SUFFIX));
    std::fs::copy(fake_agent(), &agent).unwrap();
    // What npm puts beside `codex.cmd`: a shell script Windows cannot start.
    let script = dir.join("fake-codex");
    std::fs::write(
        &script,
        "#!/bin/sh\nexec \"$(dirname \"$0\")/fake-agent\" \"$@\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    if cfg!(windows) {
        std::fs::write(
            dir.join("fake-codex.cmd"),
            "@\"%~dp0fake-agent.exe\" %*\r\n",
        )
        .unwrap();
    }
    dir
}

/// PATH with `first` in front.
fn path_with(first: &Path) -> String {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    let all = std::iter::once(first.to_path_buf()).chain(std::env::split_paths(&rest));
    std::env::join_paths(all)
        .unwrap()
        .into_string()
        .expect("a UTF-8 PATH")
}

/// A repository whose agent command is the bare `fake-codex`. No `{prompt}`:
/// a batch file cannot carry a multi-line argument; the agent reads the prompt
/// file the launcher names in its environment.
fn repo_with_wrapper() -> (TestRepo, String) {
    let agent_command = [
        "fake-codex",
        "--bin",
        BIN,
        "--model",
        "{model}",
        "--session",
        "{session_id}",
        "--prompt-file",
        "{prompt_file}",
        "--quiet-env",
        "--max-lifetime",
        "300",
    ];
    let repo = TestRepo::new(RepoOptions {
        agent_command: Some(agent_command.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    });
    let path = path_with(&wrapper_folder(&repo.root));
    (repo, path)
}

fn session_of<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["sessions"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no session {id} in {status}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_core_loop_runs_through_a_batch_file_and_survives_a_kill() {
    let (repo, path) = repo_with_wrapper();
    let env = [("PATH".to_string(), path.clone())];
    let mut first = spawn_launcher_env(&repo.path, &[], &env);
    let api = first.api.clone();
    let (z, worker, failing) = a_plan_of_two_departments(&repo, &api).await;
    let (result, packet_path, packet) =
        the_report_reaches_the_inbox(&repo, &api, &z, &worker).await;

    // The exit code through cmd.exe and the pseudo console.
    let failed = api
        .wait_session(&failing, "exited", |s| s["status"] == "exited")
        .await;
    assert_eq!(failed["exit_code"], json!(3), "{failed}");

    let worker_session = api.session(&worker).await;
    the_terminal_streams_and_takes_input(&worker_session).await;
    closing_ends_the_whole_tree(&repo, &api, &worker, &worker_session).await;

    // A killed launcher takes its agents with it.
    let zhongshu_pid = api.session(&z).await["pid"].as_u64().unwrap() as u32;
    assert!(!process_gone(zhongshu_pid));
    assert!(!first.kill9().success());
    wait_gone(zhongshu_pid, "the Zhongshu of the killed launcher").await;

    // A new launcher has lost nothing.
    let second = spawn_launcher_env(&repo.path, &[], &env);
    let status = second.api.status().await;
    for id in [&z, &worker, &failing] {
        let s = session_of(&status, id);
        assert_eq!(s["status"], "exited", "{s}");
    }
    assert_eq!(session_of(&status, &failing)["exit_code"], json!(3));
    let kept = extra::wait_result(&second.api, &z, "the report after the restart", |r| {
        r["summary"] == "ported on windows"
    })
    .await;
    assert_eq!(kept["handoff_packet"], result["handoff_packet"]);
    assert_eq!(std::fs::read_to_string(&packet_path).unwrap(), packet);
    drop(second);
    let (code, stdout, stderr) =
        run_binary(&["audit", "verify", "--repo", repo.path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout} {stderr}");
    assert!(stdout.starts_with("ok: "), "{stdout}");
}

/// A Zhongshu whose plan starts two departments: a worker that reports
/// through `mailbox send`, spawns a child and waits, and one that exits 3
/// without a report. Returns the Zhongshu, the worker and the failing one.
async fn a_plan_of_two_departments(repo: &TestRepo, api: &Api) -> (String, String, String) {
    let plan = repo.write_json(
        "plan.json",
        &json!({"summary": "windows loop", "assignments": [
            {"department": "lingyubu", "files": ["src/lib.rs"],
             "task": "Port it [[fake-agent: --report-via cli --summary 'ported on windows' --changed-file src/lib.rs --risk 'CRLF in reports' --after-report wait --spawn-child]]"},
            {"department": "zhilibu",
             "task": "Fail it [[fake-agent: --no-report --exit-code 3]]"}
        ]}),
    );
    let z = api
        .start_zhongshu(&format!(
            "Ship the Windows loop [[fake-agent: --plan-file '{}']]",
            plan.display()
        ))
        .await;
    wait_plan_accepted(repo, &z).await;
    let status = api
        .wait_status("both departments started", |s| departments(s).len() == 2)
        .await;
    let dept_of = |key: &str| {
        departments(&status)
            .iter()
            .find(|d| d["department"] == key)
            .and_then(|d| d["id"].as_str())
            .unwrap_or_else(|| panic!("no {key} in {status}"))
            .to_string()
    };
    (z, dept_of("lingyubu"), dept_of("zhilibu"))
}

/// The worker ran the launcher's own `mailbox send`; its report is in the
/// inbox with its handoff packet, every path as a user reads it. Returns the
/// result, the packet's path and its text.
async fn the_report_reaches_the_inbox(
    repo: &TestRepo,
    api: &Api,
    z: &str,
    worker: &str,
) -> (Value, PathBuf, String) {
    let log = wait_log(repo, worker, "FAKE_AGENT_REPORT_CLI").await;
    assert!(log.contains("FAKE_AGENT_REPORT_CLI 0 "), "{log}");
    let result = extra::wait_result(api, z, "the worker's report", |r| {
        r["summary"] == "ported on windows"
    })
    .await;
    assert_eq!(result["source"], "mailbox", "{result}");
    assert_eq!(result["changed_files"], json!(["src/lib.rs"]), "{result}");
    let packet_path = PathBuf::from(result["handoff_packet"].as_str().unwrap());
    let packet = std::fs::read_to_string(&packet_path).unwrap();
    assert!(packet.contains("ported on windows"), "{packet}");
    assert!(packet.contains("CRLF in reports"), "{packet}");
    for key in ["handoff_packet", "mailbox_file"] {
        let shown = result[key].as_str().unwrap();
        assert!(
            !shown.starts_with(r"\\?\"),
            "{key} as a user reads it: {shown}"
        );
    }
    assert!(
        !api.status().await["repo"]
            .as_str()
            .unwrap()
            .starts_with(r"\\?\"),
        "the repository as a user reads it"
    );
    (result, packet_path, packet)
}

/// The worker's terminal streams over the WebSocket and takes input.
async fn the_terminal_streams_and_takes_input(worker: &Value) {
    let url = worker["browser_terminal_url"].as_str().unwrap();
    let mut ws = client::connect_url(url).await;
    let mut seen = client::Seen::default();
    client::read_output(&mut ws, &mut seen, "FAKE_AGENT_WAITING").await;
    client::type_line(&mut ws, "hello from the browser").await;
    client::read_output(&mut ws, &mut seen, "ECHO: hello from the browser").await;
}

/// Closing a session ends its whole tree: the agent and its child.
async fn closing_ends_the_whole_tree(repo: &TestRepo, api: &Api, id: &str, session: &Value) {
    let child = child_pid(&wait_log(repo, id, "CHILD_PID=").await).expect("CHILD_PID");
    let worker_pid = session["pid"].as_u64().unwrap() as u32;
    assert!(!process_gone(child), "the child runs before the close");
    api.post_ok("/api/close_session", &json!({"session_id": id}))
        .await;
    api.wait_session(id, "exited", |s| s["status"] == "exited")
        .await;
    wait_gone(worker_pid, "the closed agent").await;
    wait_gone(child, "the closed agent's child").await;
}

/// Ctrl-C typed into the launcher's console (a pseudo-terminal here) is the
/// graceful stop on every platform: sessions end, `launcher_stopped` is
/// audited, the launcher file is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    windows,
    ignore = "Wine 8 raises no console control event for a Ctrl-C typed into a pseudo console; needs a real Windows"
)]
async fn ctrl_c_in_its_console_stops_the_launcher_gracefully() {
    let (repo, path) = repo_with_wrapper();
    let launcher = codex_governance::pty::Pty::spawn(codex_governance::pty::SpawnSpec {
        program: BIN.into(),
        args: ["serve", "--port", "0", "--repo"]
            .iter()
            .map(|s| s.to_string())
            .chain([repo.path.display().to_string()])
            .collect(),
        cwd: repo.path.clone(),
        env: vec![
            ("PATH".into(), path),
            ("CODEX_GOVERNANCE_TRUST_CONFIG".into(), "1".into()),
        ],
        cols: 120,
        rows: 30,
        transcript: None,
    })
    .expect("the launcher starts in a pseudo-terminal");
    // Its URL from `codex-governance url`: under Wine a console program's own
    // output does not reach the pseudo console.
    let repo_arg = repo.path.to_str().unwrap().to_string();
    let url = wait_until("the launcher answers `url`", PATIENCE, || {
        let repo_arg = repo_arg.clone();
        async move {
            let (code, stdout, _) = run_binary(&["url", "--repo", &repo_arg]);
            (code == 0).then(|| stdout.trim().to_string())
        }
    })
    .await;
    let (base, token) = url.split_once("/#token=").expect("a dashboard URL");
    let api = Api::new(base, token);
    let z = api.start_zhongshu("wait for the stop").await;
    let agent = api
        .wait_session(&z, "running with a pid", |s| s["pid"].is_u64())
        .await["pid"]
        .as_u64()
        .unwrap() as u32;
    wait_log(&repo, &z, "FAKE_AGENT_WAITING").await;

    launcher.write(b"\x03").unwrap();
    let exit = tokio::time::timeout(PATIENCE, launcher.wait())
        .await
        .expect("the launcher stops after Ctrl-C");
    wait_gone(agent, "the agent of the stopped launcher").await;
    let audit = extra::audit_lines(&repo.state_dir());
    assert!(
        extra::audit_events(&audit, "launcher_stopped").len() == 1,
        "a graceful stop is audited (exit {exit}): {:?}",
        audit.iter().map(|l| &l["event"]).collect::<Vec<_>>()
    );
    assert!(
        !repo
            .state_dir()
            .join("codex_governance_launcher.json")
            .exists(),
        "the launcher file is removed on a graceful stop"
    );
}

/// Every string in `value` (recursively).
fn strings_in(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings_in(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings_in(v, out)),
        _ => {}
    }
}

/// A state folder given in Windows' verbatim form (what `canonicalize` makes
/// there) is still shown as a user writes it, in the API and the sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verbatim_state_folder_is_shown_plainly() {
    let repo = TestRepo::with_flags(&[]);
    std::fs::create_dir_all(repo.state_dir()).unwrap();
    let verbatim = std::fs::canonicalize(repo.state_dir()).unwrap();
    let server = InProcess::start_with_state_dir(&repo, Some(verbatim)).await;
    let z = server.api.start_zhongshu("paths").await;
    wait_log(&repo, &z, "FAKE_AGENT_WAITING").await;
    let mut shown = Vec::new();
    strings_in(&server.api.status().await, &mut shown);
    assert!(
        shown.iter().any(|s| s.contains("codex_governance_prompts")),
        "the status names the prompt file: {shown:?}"
    );
    let verbatim: Vec<&String> = shown.iter().filter(|s| s.contains(r"\\?\")).collect();
    assert!(verbatim.is_empty(), "{verbatim:?}");
    server.stop().await;
}

/// The agent command as Python-era Windows users write it (issue 39): `cmd /c`
/// and one command line with a quoted path (a space in it) and quoted
/// arguments. cmd.exe reads that command line itself, so the launcher passes
/// it as written (it quoted it word by word before: exit 9009, "Can't
/// recognize '\"Z:\…\"' as an internal or external command"). A Zhongshu
/// started so posts a plan; its department reports through `mailbox send`.
#[cfg(windows)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cmd_c_command_line_with_quoted_paths_runs_as_written() {
    let bin_dir = tempfile::Builder::new()
        .prefix("cg-cmd-")
        .tempdir()
        .unwrap();
    let agent_dir = dunce::canonicalize(bin_dir.path())
        .unwrap()
        .join("agent bin");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let agent = agent_dir.join("fake-agent.exe");
    std::fs::copy(fake_agent(), &agent).unwrap();
    let line = format!(
        "\"{}\" --bin \"{}\" --model \"{{model}}\" --session {{session_id}} \
         --prompt-file \"{{prompt_file}}\" --quiet-env --max-lifetime 300",
        agent.display(),
        BIN
    );
    let repo = TestRepo::new(RepoOptions {
        agent_command: Some(vec!["cmd".into(), "/c".into(), line]),
        ..Default::default()
    });
    let launcher = spawn_launcher(&repo.path, &[]);
    let api = launcher.api.clone();
    let plan = repo.write_json(
        "plan.json",
        &json!({"summary": "cmd loop", "assignments": [
            {"department": "lingyubu", "files": ["src/lib.rs"],
             "task": "Port it [[fake-agent: --report-via cli --summary 'reported through cmd' --changed-file src/lib.rs]]"}
        ]}),
    );
    let z = api
        .start_zhongshu(&format!(
            "Ship it through cmd [[fake-agent: --plan-file '{}']]",
            plan.display()
        ))
        .await;
    wait_plan_accepted(&repo, &z).await;
    let result = extra::wait_result(&api, &z, "the department's report through cmd", |r| {
        r["summary"] == "reported through cmd"
    })
    .await;
    assert_eq!(result["source"], "mailbox", "{result}");
    assert_eq!(result["changed_files"], json!(["src/lib.rs"]), "{result}");
}
