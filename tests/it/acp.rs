//! The ACP backend against the scripted ACP agent (`fake-agent --acp`): a
//! session's agent process in its working folder, its turns as
//! `session/prompt`s filling the conversation, *Stop* as `session/cancel`,
//! a message as a new prompt, and `session/request_permission` as a Needs-you
//! approval answered with the agent's own option.

// A session's turns, its approvals, its tools and the unconfined department's
// worktree are tried on Windows too (under Wine); the rest drive a sandbox,
// links, `ps` or signals.
#![cfg_attr(windows, allow(dead_code, unused_imports))]

use crate::common::launcher::*;

use serde_json::{json, Value};

/// A repository whose agents are the fake agent speaking ACP, let run unconfined.
fn acp_repo() -> TestRepo {
    acp_repo_unsandboxed(true)
}

fn acp_repo_unsandboxed(unsandboxed: bool) -> TestRepo {
    acp_repo_of(&["--acp"], unsandboxed)
}

/// As [`acp_repo`], the fake agent run with `args`.
fn acp_repo_of(args: &[&str], unsandboxed: bool) -> TestRepo {
    acp_repo_with(args, unsandboxed, "")
}

/// As [`acp_repo_of`], with more `launcher:` lines (each ending in a newline);
/// committed, so that departments work in worktrees of their own.
fn acp_repo_with(args: &[&str], unsandboxed: bool, more: &str) -> TestRepo {
    let repo = TestRepo::with_flags(&[]);
    write_acp_config(&repo, args, unsandboxed, more);
    crate::common::git::commit_all(&repo.path, "start");
    repo
}

/// `repo`'s agents are the fake agent speaking ACP with `args`.
fn write_acp_config(repo: &TestRepo, args: &[&str], unsandboxed: bool, more: &str) {
    let mut argv = vec![fake_agent().display().to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let command = serde_json::to_string(&argv).unwrap();
    let yaml = format!(
        "launcher:\n  backend: acp\n  acp_agent: other\n  acp_command: {command}\n  \
         acp_unsandboxed: {unsandboxed}\n  \
         max_departments: 2\n  models: [m1]\n  require_plan_confirmation: false\n{more}"
    );
    std::fs::write(repo.path.join("governance.yaml"), yaml).unwrap();
}

/// The session's conversation entries.
async fn entries(api: &Api, id: &str) -> Vec<Value> {
    let body = api
        .get_ok(&format!("/api/session_conversation?id={id}"))
        .await;
    body["conversation"]["entries"]
        .as_array()
        .or_else(|| body["entries"].as_array())
        .cloned()
        .unwrap_or_default()
}

/// The agent's pid, as its log's first line says it.
fn agent_pid(log: &str) -> u32 {
    log.split("FAKE_ACP_START pid=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("the agent's pid")
}

async fn wait_entry(api: &Api, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    wait_until(what, PATIENCE, || async {
        entries(api, id).await.into_iter().find(|e| pred(e))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acp_turns_fill_the_conversation_stop_cancels_and_a_message_is_a_new_prompt() {
    let repo = acp_repo();
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = api.start_zhongshu("Plan one change [[acp: wait]]").await;
    let log = wait_log(&repo, &z, "FAKE_ACP_PROMPT").await;
    // The agent runs in the session's folder, its role prompt before the task.
    assert!(
        log.contains(&format!("cwd={}", repo.path.display())),
        "{log}"
    );
    assert!(log.contains("You are Zhongshu"), "{log}");
    let s = api
        .wait_session(&z, "working", |s| s["agent_state"] == "working")
        .await;
    assert_eq!(s["backend"], "acp", "{s}");
    wait_entry(api, &z, "the agent's message", |e| {
        e["type"] == "agent"
            && e["text"]
                .as_str()
                .is_some_and(|t| t.contains("[[acp: wait]]"))
    })
    .await;

    // Stop: session/cancel, and the turn ends as interrupted.
    api.post_ok("/api/interrupt", &json!({"session_id": z}))
        .await;
    wait_log(&repo, &z, "FAKE_ACP_CANCELLED").await;
    let s = api
        .wait_session(&z, "idle after the cancel", |s| s["agent_state"] == "idle")
        .await;
    assert_eq!(s["last_turn_status"], "interrupted", "{s}");

    // A message: a new prompt on the same session, with its tool call.
    api.post_ok(
        "/api/session_input",
        &json!({"session_id": z, "input": "carry on"}),
    )
    .await;
    wait_entry(api, &z, "the tool call of the second turn", |e| {
        e["type"] == "tool_call" && e["tool"] == "echo done" && e["success"] == true
    })
    .await;
    let s = api
        .wait_session(&z, "the second turn completed", |s| {
            s["agent_state"] == "idle" && s["last_turn_status"] == "completed"
        })
        .await;
    assert_eq!(s["turn_count"], 2, "{s}");
    let all = entries(api, &z).await;
    let told: Vec<&str> = all
        .iter()
        .filter(|e| e["type"] == "user")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(told.last(), Some(&"carry on"), "{all:?}");
    assert!(
        all.iter()
            .any(|e| e["type"] == "agent" && e["text"] == "heard: carry on"),
        "{all:?}"
    );
    // One agent process: the second prompt went to the same session.
    let log = repo.log(&z);
    assert_eq!(log.matches("FAKE_ACP_START").count(), 1, "{log}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acp_permission_is_a_needs_you_approval_answered_with_the_agents_own_option() {
    let repo = acp_repo();
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = api.start_zhongshu("Plan one change [[acp: ask]]").await;
    let approval = wait_showing("the agent's permission request", PATIENCE, || async {
        let all = api.get_ok("/api/approvals").await;
        let found = all["approvals"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["session_id"] == z.as_str())
            .cloned();
        found.ok_or_else(|| format!("{all}; the session: {}", repo.log(&z)))
    })
    .await;
    assert_eq!(approval["command"], "touch asked.txt", "{approval}");
    let s = api
        .wait_session(&z, "needs the user", |s| s["agent_state"] == "needs_user")
        .await;
    assert_eq!(s["attention"]["kind"], "approval", "{s}");
    let body = json!({"session_id": z, "request_id": approval["request_id"],
                      "decision": "accept_for_session"});
    api.post_ok("/api/approval", &body).await;
    // The agent got its own "allow always" option, by its id.
    let log = wait_log(&repo, &z, "FAKE_ACP_PERMISSION").await;
    let outcome = log_json(&log, "FAKE_ACP_PERMISSION ").expect("the outcome");
    assert_eq!(
        outcome,
        json!({"outcome": "selected", "optionId": "yes-always"})
    );
    api.wait_session(&z, "the turn completed", |s| {
        s["agent_state"] == "idle" && s["last_turn_status"] == "completed"
    })
    .await;
    server.stop().await;
}

/// The `FAKE_ACP_TOOL <name> {..}` answers in a transcript, in order.
fn tool_answers(log: &str, tool: &str) -> Vec<Value> {
    let prefix = format!("FAKE_ACP_TOOL {tool} ");
    log.lines()
        .filter_map(|l| l.find(&prefix).map(|i| &l[i + prefix.len()..]))
        .filter_map(|rest| serde_json::from_str(rest.trim()).ok())
        .collect()
}

/// `id`'s transcript once it holds `n` whole answers of `tool` (a line
/// read while it is written is not one yet).
async fn wait_answers(repo: &TestRepo, id: &str, tool: &str, n: usize) -> String {
    wait_until(
        &format!("{n} answers of {tool} to {id}"),
        PATIENCE,
        || async {
            let log = repo.log(id);
            (tool_answers(&log, tool).len() >= n).then_some(log)
        },
    )
    .await
}

/// Writes `calls` as a file of `[[acp: script PATH]]` at `path` (a line
/// `NAME {JSON}` each, called in order): its path.
fn tool_script(path: std::path::PathBuf, calls: &[(&str, Value)]) -> std::path::PathBuf {
    let lines: String = calls
        .iter()
        .map(|(tool, args)| format!("{tool} {args}\n"))
        .collect();
    std::fs::write(&path, lines).unwrap();
    path
}

/// The planner's script: it registers a plan of one zhilibu assignment
/// doing `task`.
fn plans_one_change(repo: &TestRepo, task: &str) -> std::path::PathBuf {
    let plan =
        json!({"summary": "one change", "assignments": [{"department": "zhilibu", "task": task}]});
    tool_script(
        repo.files.join("z.txt"),
        &[("governance_register_plan", plan)],
    )
}

/// The first department's session, once there is one.
async fn first_department(api: &Api) -> String {
    let status = api
        .wait_status("a department", |s| !departments(s).is_empty())
        .await;
    departments(&status)[0]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acp_agents_use_their_sessions_own_mcp_tools_and_cannot_speak_for_another() {
    let repo = acp_repo();
    let report = "governance_report_result";
    let dept_script = tool_script(
        repo.files.join("dept.txt"),
        &[
            (
                report,
                json!({"summary": "as another", "department_session_id": "zhongshu-1"}),
            ),
            (report, json!({"summary": "the change is made"})),
        ],
    );
    let z_script = plans_one_change(
        &repo,
        &format!("Change it [[acp: script {}]]", dept_script.display()),
    );
    // The launcher binary itself, so the relay it names is its own.
    let launcher = spawn_launcher(&repo.path, &[]);
    let api = &launcher.api;
    let z = api
        .start_zhongshu(&format!("Plan [[acp: script {}]]", z_script.display()))
        .await;
    the_planner_has_its_own_tool_through_a_relay_without_the_token(&repo, &z, &launcher.token)
        .await;

    let dept = first_department(api).await;
    let d_log = wait_answers(&repo, &dept, report, 2).await;
    let offered = log_json(&d_log, "FAKE_ACP_TOOLS ").expect("the department's tools");
    assert_eq!(offered, json!([report]));
    let answers = tool_answers(&d_log, report);
    assert_eq!(answers.len(), 2, "{answers:?}");
    // Speaking for another session is refused; its own report is taken.
    assert_eq!(answers[0]["error"], true, "{answers:?}");
    assert!(
        answers[0]["text"]
            .as_str()
            .unwrap()
            .contains("department_session_id"),
        "{answers:?}"
    );
    assert_eq!(answers[1]["error"], false, "{answers:?}");
    let reported = api
        .wait_session(&dept, "reported", |s| s["report_status"] == "reported")
        .await;
    assert_eq!(reported["backend"], "acp", "{reported}");
    let z_now = api.session(&z).await;
    assert_ne!(z_now["report_status"], "reported", "{z_now}");
}

/// The planner `z` is offered its own tool (not a department's), which
/// registers its plan; its MCP server entry reaches the launcher through a
/// relay of its own (a socket in the state folder; on Windows a named pipe
/// of a random name), never through the launcher's API or its `token`.
async fn the_planner_has_its_own_tool_through_a_relay_without_the_token(
    repo: &TestRepo,
    z: &str,
    token: &str,
) {
    let z_log = wait_answers(repo, z, "governance_register_plan", 1).await;
    let offered = log_json(&z_log, "FAKE_ACP_TOOLS ").expect("the planner's tools");
    let offered = offered.as_array().unwrap();
    assert!(
        offered.contains(&json!("governance_register_plan"))
            && !offered.contains(&json!("governance_report_result")),
        "{offered:?}"
    );
    let answers = tool_answers(&z_log, "governance_register_plan");
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0]["error"], false, "{answers:?}");
    let session = log_json(&z_log, "FAKE_ACP_SESSION ").expect("session/new's params");
    let entry = session["mcpServers"][0].to_string();
    let reached = if cfg!(windows) {
        r#"\\\\.\\pipe\\codex-governance-"#
    } else {
        ".sock"
    };
    assert!(
        entry.contains("mcp-serve") && entry.contains(reached),
        "{entry}"
    );
    for secret in [token, "TOKEN", "http"] {
        assert!(!entry.contains(secret), "{secret} in {entry}");
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acp_agent_that_cannot_be_confined_starts_only_when_the_user_lets_it_run_unsandboxed() {
    // No Codex, so no sandbox to hold it.
    let repo = acp_repo_with(&["--acp"], false, "  codex_command: /nonexistent/codex\n");
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let agents = api.status().await["agents"].clone();
    let problems = agents["problems"].to_string();
    assert!(
        problems.contains("Codex's sandbox") && problems.contains("/nonexistent/codex"),
        "{agents}"
    );
    assert!(problems.contains("acp_unsandboxed: true"), "{agents}");
    // They would run confined; none runs unconfined meanwhile.
    assert_eq!(agents["sandboxed"], true, "{agents}");
    let (code, body) = api
        .post(
            "/api/start_zhongshu_session",
            &json!({"task": "Plan one change"}),
        )
        .await;
    assert!(!code.is_success(), "{code} {body}");
    // No agent process ever ran.
    let logs = repo.state_dir().join("codex_governance_logs");
    let ran = std::fs::read_dir(&logs)
        .into_iter()
        .flatten()
        .flatten()
        .any(|f| std::fs::read_to_string(f.path()).is_ok_and(|t| t.contains("FAKE_ACP_START")));
    assert!(!ran, "an agent started");
    server.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acp_agents_file_requests_are_held_to_its_folder() {
    let repo = acp_repo();
    let outside = repo.files.join("outside.txt");
    std::fs::write(&outside, "not the agent's").unwrap();
    std::os::unix::fs::symlink(&outside, repo.path.join("link.txt")).unwrap();
    let escaped = repo.files.join("escaped.txt");
    // A FIFO it made in its own folder (issue 69 item 3): refused at once,
    // and the requests after it are answered.
    let fifo = repo.path.join("pipe");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let p = |path: &std::path::Path| path.display().to_string();
    let task = format!(
        "Look [[acp: fs-read {}]] [[acp: fs-read {}]] [[acp: fs-read {}]] [[acp: fs-read {}]] \
         [[acp: fs-write {}]] [[acp: fs-write {}]]",
        p(&fifo),
        p(&repo.path.join("README.md")),
        p(&repo.state_dir().join("launcher.json")),
        p(&repo.path.join("link.txt")),
        p(&escaped),
        p(&repo.path.join("notes.txt")),
    );
    let server = InProcess::start(&repo).await;
    let z = server.api.start_zhongshu(&task).await;
    let log = wait_until("the six answers", PATIENCE, || async {
        let log = repo.log(&z);
        (log.matches("FAKE_ACP_FS ").count() == 6).then_some(log)
    })
    .await;
    let mut answers: Vec<Value> = log
        .lines()
        .filter_map(|l| l.split_once("FAKE_ACP_FS ").map(|(_, r)| r))
        .filter_map(|r| {
            r.split_once(' ')
                .and_then(|(_, j)| serde_json::from_str(j).ok())
        })
        .collect();
    let fifo_answer = answers.remove(0);
    assert!(
        fifo_answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("not a regular file")),
        "{fifo_answer}"
    );
    assert_eq!(answers[0]["content"], "# test repo\n", "{answers:?}");
    let error = |i: usize| answers[i]["error"].as_str().unwrap_or("").to_string();
    assert!(error(1).contains("state folder"), "{answers:?}");
    assert!(error(2).contains("a link"), "{answers:?}");
    assert!(
        error(3).contains("not an absolute path inside"),
        "{answers:?}"
    );
    assert!(answers[4].get("error").is_none(), "{answers:?}");
    assert!(!escaped.exists(), "a write outside the folder");
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "not the agent's"
    );
    assert_eq!(
        std::fs::read_to_string(repo.path.join("notes.txt")).unwrap(),
        "written by fake-acp"
    );
    server.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acp_agent_that_dies_ends_its_session_and_is_not_started_again_as_a_stranger() {
    let repo = acp_repo();
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = api.start_zhongshu("Plan one change [[acp: wait]]").await;
    let pid = agent_pid(&wait_log(&repo, &z, "FAKE_ACP_PROMPT").await) as i32;
    // SAFETY: a signal to the agent this test's launcher started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    let s = api
        .wait_session(&z, "ended", |s| s["status"] == "exited")
        .await;
    assert!(s["thread_id"].is_null(), "{s}");
    // Not started again without its conversation.
    let log = repo.log(&z);
    assert_eq!(log.matches("FAKE_ACP_START").count(), 1, "{log}");
    server.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acp_agent_left_by_a_crashed_launcher_is_ended_at_the_next_start() {
    let repo = acp_repo();
    let mut launcher = spawn_launcher(&repo.path, &[]);
    let z = launcher
        .api
        .start_zhongshu("Plan one change [[acp: wait]] [[acp: linger]]")
        .await;
    let pid = agent_pid(&wait_log(&repo, &z, "FAKE_ACP_PROMPT").await);
    launcher.kill9();
    wait_log(&repo, &z, "FAKE_ACP_EOF").await;
    assert!(!process_gone(pid), "the stuck agent outlived its launcher");
    let again = spawn_launcher(&repo.path, &[]);
    wait_gone(pid, "the agent a crashed launcher left").await;
    let s = again.api.session(&z).await;
    assert_eq!(s["ended_reason"], "launcher_restart", "{s}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acp_agent_that_loads_its_session_goes_on_with_it_after_a_restart_and_one_that_cannot_says_so(
) {
    let repo = acp_repo_of(&["--acp", "--load-session"], true);
    let mut launcher = spawn_launcher(&repo.path, &[]);
    let api = launcher.api.clone();
    let z = api.start_zhongshu("Plan one change").await;
    let s = api
        .wait_session(&z, "its first turn done", |s| {
            s["agent_state"] == "idle" && s["last_turn_status"] == "completed"
        })
        .await;
    // Its capabilities are what it said at initialize: it loads sessions.
    let thread = s["thread_id"]
        .as_str()
        .expect("its ACP session")
        .to_string();
    assert!(thread.starts_with("fake-acp-"), "{s}");
    assert_eq!(s["capabilities"]["resumes"], true, "{s}");
    assert_eq!(s["ends_at_stop"], false, "{s}");
    let before = entries(&api, &z).await;
    // A clean stop suspends it; the next start loads the same ACP session.
    launcher.terminate();
    let again = spawn_launcher(&repo.path, &[]);
    let api = again.api.clone();
    let resumed = wait_until("the session resumed", PATIENCE, || async {
        api.audit_events("session_resumed")
            .await
            .into_iter()
            .find(|e| e["session_id"] == z.as_str())
    })
    .await;
    assert_eq!(resumed["thread_id"], thread.as_str(), "{resumed}");
    let log = wait_log(&repo, &z, "FAKE_ACP_LOAD").await;
    assert!(
        log.contains(&format!("\"sessionId\":\"{thread}\"")),
        "{log}"
    );
    // Its governance tools come with the loaded session too.
    let load_line = log
        .lines()
        .find(|l| l.starts_with("FAKE_ACP_LOAD"))
        .unwrap();
    assert!(load_line.contains("mcp-serve"), "{load_line}");
    api.post_ok(
        "/api/session_input",
        &json!({"session_id": z, "input": "after the restart"}),
    )
    .await;
    wait_entry(&api, &z, "the answer after the restart", |e| {
        e["type"] == "agent" && e["text"] == "heard: after the restart"
    })
    .await;
    let all = entries(&api, &z).await;
    // The replay at load is not recorded twice: what the page had, then the new turn.
    assert!(
        !all.iter().any(|e| e["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("replayed:"))),
        "{all:?}"
    );
    assert_eq!(&all[..before.len()], &before[..], "{all:?}");
    let s = api.session(&z).await;
    assert_eq!(s["status"], "running", "{s}");
    drop(again);

    // An agent without session/load: the page says beforehand that a stop ends it.
    let plain = acp_repo();
    let server = InProcess::start(&plain).await;
    let y = server.api.start_zhongshu("Plan one change").await;
    let s = server
        .api
        .wait_session(&y, "its first turn done", |s| s["agent_state"] == "idle")
        .await;
    assert!(s["thread_id"].is_null(), "{s}");
    assert_eq!(s["ends_at_stop"], true, "{s}");
    server.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acp_agents_reported_usage_is_its_meter_and_its_cost_counts_against_the_plans_budget() {
    let repo = acp_repo();
    let config = repo.path.join("governance.yaml");
    let mut yaml = std::fs::read_to_string(&config).unwrap();
    yaml.push_str("  plan_budget_usd: 0.04\n");
    std::fs::write(&config, yaml).unwrap();
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = crate::common::scenario::start_plan(
        api,
        "Plan one change [[acp: wait]]",
        "one change",
        vec![json!({"department": "zhilibu", "task": "Change it", "files": ["README.md"]})],
    )
    .await;
    let d = wait_until("the department's turn reported", PATIENCE, || async {
        let status = api.get_ok("/api/status").await;
        status["department_sessions"]
            .as_array()?
            .iter()
            .find(|s| s["parent_session_id"] == z.as_str() && !s["reported_usage"].is_null())
            .cloned()
    })
    .await;
    // The meter is what the agent reports: its context and its cost.
    assert_eq!(
        d["reported_usage"],
        json!({"context_used": 1200, "context_size": 200000, "cost": 0.05, "currency": "USD"}),
        "{d}"
    );
    assert_eq!(d["cost_usd"], 0.05, "{d}");
    // Its cost counts against the plan's budget ($0.04): reached.
    let reached = wait_until("the plan's budget reached", PATIENCE, || async {
        api.audit_events("budget_reached")
            .await
            .into_iter()
            .find(|e| e["zhongshu_id"] == z.as_str())
    })
    .await;
    assert!(
        reached["text"].as_str().is_some_and(|t| t.contains('$')),
        "{reached}"
    );
    server.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acp_agent_a_crashed_launcher_left_is_ended_and_its_session_loaded_in_a_new_one() {
    let repo = acp_repo_of(&["--acp", "--load-session"], true);
    let mut launcher = spawn_launcher(&repo.path, &[]);
    let z = launcher
        .api
        .start_zhongshu("Plan one change [[acp: linger]]")
        .await;
    let s = launcher
        .api
        .wait_session(&z, "its first turn done", |s| s["agent_state"] == "idle")
        .await;
    let thread = s["thread_id"].as_str().unwrap().to_string();
    let pid = agent_pid(&wait_log(&repo, &z, "FAKE_ACP_PROMPT").await);
    launcher.kill9();
    wait_log(&repo, &z, "FAKE_ACP_EOF").await;
    assert!(!process_gone(pid), "the stuck agent outlived its launcher");
    let again = spawn_launcher(&repo.path, &[]);
    wait_gone(pid, "the agent a crashed launcher left").await;
    let resumed = wait_until("the session resumed", PATIENCE, || async {
        again
            .api
            .audit_events("session_resumed")
            .await
            .into_iter()
            .find(|e| e["session_id"] == z.as_str())
    })
    .await;
    assert_eq!(resumed["thread_id"], thread.as_str(), "{resumed}");
    let log = wait_log(&repo, &z, "FAKE_ACP_LOAD").await;
    assert_eq!(log.matches("FAKE_ACP_START").count(), 2, "{log}");
}

/// What the agent's own writes came to (`FAKE_ACP_WRITE`): path → error.
fn own_writes(log: &str) -> Vec<(String, Option<String>)> {
    attempts(log, "FAKE_ACP_WRITE ", "path")
}

/// What the agent's own attempts of one kind (`FAKE_ACP_WRITE `,
/// `FAKE_ACP_CONNECT `) in its log were: each thing tried and its error.
fn attempts(log: &str, mark: &str, what: &str) -> Vec<(String, Option<String>)> {
    log.lines()
        .filter_map(|l| l.split_once(mark).map(|(_, r)| r))
        .filter_map(|r| serde_json::from_str::<Value>(r.trim()).ok())
        .map(|v| {
            (
                v[what].as_str().unwrap_or("").to_string(),
                v["error"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// Processes still running for session `id` (their environment names it).
fn processes_of(repo: &TestRepo, id: &str) -> Vec<u32> {
    // Other tests run sessions of the same ids at the same time: only a
    // process whose environment also names this test's state folder (its
    // temporary folder, its prompt) is this one's.
    let needle = format!("CODEX_GOVERNANCE_SESSION_ID={id}\0");
    let state = repo.state_dir().display().to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                let env = String::from_utf8_lossy(&env);
                env.contains(&needle) && env.contains(&state)
            })
        })
        .collect()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acp_department_runs_in_codexs_sandbox_and_writes_only_its_own_worktree() {
    crate::needs!(Codex);
    // A port of the host's, and its model's (named in acp_model_hosts).
    let host = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let model = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = |l: &std::net::TcpListener| l.local_addr().unwrap().port();
    let repo = confined_acp_repo(port(&model));
    let outside = Outside::of(&repo);
    let dept_script = tool_script(
        repo.files.join("dept.txt"),
        &[(
            "governance_report_result",
            json!({"summary": "wrote inside.txt"}),
        )],
    );
    let z_script = plans_one_change(
        &repo,
        &format!(
            "Write [[acp: write inside.txt]] {} [[acp: connect 127.0.0.1:{}]] \
             [[acp: connect 127.0.0.1:{}]] [[acp: script {}]]",
            outside.writes(),
            port(&host),
            port(&model),
            dept_script.display(),
        ),
    );
    let by_planner = a_link_where_the_planners_socket_folder_goes(&repo);
    let codex_home = repo.files.join("codex-home");
    std::fs::create_dir_all(&codex_home).unwrap();
    let env = vec![("CODEX_HOME".to_string(), codex_home.display().to_string())];
    let mut launcher = spawn_launcher_env(&repo.path, &[], &env);
    let api = &launcher.api;
    let agents = api.status().await["agents"].clone();
    assert_eq!(agents["sandboxed"], true, "{agents}");
    assert_eq!(agents["problems"], json!([]), "{agents}");
    assert!(
        agents["reach"]
            .as_str()
            .unwrap()
            .contains("Codex's sandbox"),
        "{agents}"
    );
    let z = api
        .start_zhongshu(&format!(
            "Plan [[acp: write {}]] [[acp: script {}]]",
            by_planner.display(),
            z_script.display()
        ))
        .await;
    the_planner_is_confined_and_reaches_its_tools(&repo, &z, &by_planner).await;
    let dept = first_department(api).await;
    let d_log = wait_answers(&repo, &dept, "governance_report_result", 1).await;
    outside.only_inside_was_written(&d_log);
    its_network_holds_only_its_model(&d_log, &host, &model);
    its_report_is_taken_and_its_write_is_in_its_worktree(api, &dept, &d_log).await;
    // Its agent, inside the sandbox, ends with the launcher.
    assert!(!processes_of(&repo, &dept).is_empty(), "its agent runs");
    crate::common::scenario::merging::ends_well(&mut launcher);
    wait_until("the agents ended", PATIENCE, || async {
        (processes_of(&repo, &dept).is_empty() && processes_of(&repo, &z).is_empty()).then_some(())
    })
    .await;
}

/// A committed repository whose agents are the fake ACP agent confined by
/// the pinned Codex, departments in worktrees of their own, its model at
/// `model_port` on loopback.
#[cfg(unix)]
fn confined_acp_repo(model_port: u16) -> TestRepo {
    let more = format!(
        "  codex_command: {}\n  isolation: worktree\n  acp_model_hosts: [\"127.0.0.1:{model_port}\"]\n",
        crate::common::model_server::codex_bin().display()
    );
    let repo = acp_repo_with(&["--acp"], false, &more);
    // A commit, so the department gets a worktree of its own.
    crate::common::git::commit_all(&repo.path, "start");
    repo
}

/// The files outside its worktree a confined department tries to write:
/// in your tree, in the state folder, in the system's temporary folder,
/// beside the repository.
struct Outside([std::path::PathBuf; 4]);

impl Outside {
    fn of(repo: &TestRepo) -> Outside {
        Outside([
            repo.path.join("escaped.txt"),
            repo.state_dir().join("planted.txt"),
            std::env::temp_dir().join(format!("acp-escape-{}", std::process::id())),
            repo.files.join("outside.txt"),
        ])
    }

    /// The fake ACP agent's directives that write each.
    fn writes(&self) -> String {
        let each = self
            .0
            .iter()
            .map(|p| format!("[[acp: write {}]]", p.display()));
        each.collect::<Vec<_>>().join(" ")
    }

    /// Its log says `inside.txt` was written and each of these refused,
    /// and none of these exists.
    fn only_inside_was_written(&self, log: &str) {
        let writes = own_writes(log);
        assert_eq!(writes.len(), 5, "{log}");
        assert_eq!(writes[0], ("inside.txt".to_string(), None), "{writes:?}");
        for (path, error) in &writes[1..] {
            assert!(error.is_some(), "{path} was written: {writes:?}");
        }
        for path in &self.0 {
            assert!(!path.exists(), "{} exists", path.display());
        }
    }
}

/// A cloned repository's link where the planner's socket folder goes, to
/// the state folder: it must not become the planner's to write. The file
/// the planner will try to write there.
#[cfg(unix)]
fn a_link_where_the_planners_socket_folder_goes(repo: &TestRepo) -> std::path::PathBuf {
    let planted = repo.state_dir().join("codex_governance_acp");
    std::fs::create_dir_all(&planted).unwrap();
    std::os::unix::fs::symlink(repo.state_dir(), planted.join("zhongshu-1")).unwrap();
    repo.state_dir().join("written-by-the-planner.txt")
}

/// The planner, confined too, could not write `by_planner` in the state
/// folder, and reaches its tools through its own socket.
async fn the_planner_is_confined_and_reaches_its_tools(
    repo: &TestRepo,
    z: &str,
    by_planner: &std::path::Path,
) {
    let z_log = wait_answers(repo, z, "governance_register_plan", 1).await;
    let planner_writes = own_writes(&z_log);
    assert!(planner_writes[0].1.is_some(), "{planner_writes:?}");
    assert!(!by_planner.exists(), "the planner wrote the state folder");
    assert_eq!(
        tool_answers(&z_log, "governance_register_plan")[0]["error"],
        false,
        "{z_log}"
    );
}

/// Its network holds only its model: the host's port is out of reach, its
/// model's is relayed.
fn its_network_holds_only_its_model(
    log: &str,
    host: &std::net::TcpListener,
    model: &std::net::TcpListener,
) {
    let connects = attempts(log, "FAKE_ACP_CONNECT ", "place");
    assert_eq!(connects.len(), 2, "{log}");
    assert!(connects[0].1.is_some(), "{connects:?}");
    assert_eq!(connects[1].1, None, "{connects:?}");
    host.set_nonblocking(true).unwrap();
    assert!(host.accept().is_err(), "the host's port was reached");
    model.set_nonblocking(true).unwrap();
    let reached = (0..500).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(10));
        model.accept().is_ok()
    });
    assert!(reached, "its model's port was not relayed");
}

/// The department's report is taken, and what it wrote inside is in its
/// worktree.
async fn its_report_is_taken_and_its_write_is_in_its_worktree(api: &Api, dept: &str, log: &str) {
    assert_eq!(
        tool_answers(log, "governance_report_result")[0]["error"],
        false,
        "{log}"
    );
    let session = api
        .wait_session(dept, "reported", |s| s["report_status"] == "reported")
        .await;
    let worktree = session["workspace"]["path"]
        .as_str()
        .map(std::path::PathBuf::from)
        .expect("its worktree");
    assert_eq!(
        std::fs::read_to_string(worktree.join("inside.txt")).unwrap(),
        "written by fake-acp's process"
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_mixes_backends_each_department_driven_by_its_own() {
    // The launcher's agents run in a PTY; one department names an ACP agent.
    let repo = TestRepo::with_flags(&[]);
    let config = repo.path.join("governance.yaml");
    let acp = serde_json::to_string(&[fake_agent().display().to_string(), "--acp".into()]).unwrap();
    let mut yaml = std::fs::read_to_string(&config).unwrap();
    yaml.push_str(&format!(
        "  acp_unsandboxed: true\ndepartments:\n  zhilibu:\n    title: Docs\n    \
         globs: [docs/**]\n  gongbu:\n    title: Code\n    globs: [src/**]\n    \
         backend: acp\n    acp_command: {acp}\n"
    ));
    std::fs::write(&config, yaml).unwrap();
    crate::common::git::commit_all(&repo.path, "start");
    let launcher = spawn_launcher(&repo.path, &[]);
    let api = &launcher.api;
    let agents = api.status().await["agents"].clone();
    assert_eq!(agents["backend"], "pty", "{agents}");
    assert_eq!(agents["departments"][0]["department"], "gongbu", "{agents}");
    assert_eq!(agents["departments"][0]["backend"], "acp", "{agents}");
    assert!(
        agents["reach"]
            .as_str()
            .unwrap()
            .contains("Department gongbu runs ACP agent other instead"),
        "{agents}"
    );
    let z = api.start_zhongshu("Plan two changes").await;
    let script = tool_script(
        repo.files.join("gongbu.txt"),
        &[(
            "governance_report_result",
            json!({"summary": "the code is changed"}),
        )],
    );
    crate::common::scenario::register_plan(
        api,
        &z,
        "two changes",
        json!([
            {"department": "zhilibu", "task": "Write the docs"},
            {"department": "gongbu",
             "task": format!("Change the code [[acp: script {}]]", script.display())},
        ]),
    )
    .await;
    let status = api
        .wait_status("both departments reported", |s| {
            let ds = departments(s);
            ds.len() == 2 && ds.iter().all(|d| d["report_status"] == "reported")
        })
        .await;
    for d in departments(&status) {
        let id = d["id"].as_str().unwrap();
        let session = api.session(id).await;
        match d["department"].as_str().unwrap() {
            // The ACP department reported through its own tool, in its own
            // worktree; the PTY one through its drop folder.
            "gongbu" => {
                let log = wait_log(&repo, id, "FAKE_ACP_TOOL governance_report_result").await;
                assert_eq!(session["backend"], "acp", "{session}");
                assert!(log.contains(".worktrees/gongbu-1"), "{log}");
                let answers = tool_answers(&log, "governance_report_result");
                assert_eq!(answers.len(), 1, "{log}");
                assert_eq!(answers[0]["error"], false, "{answers:?}");
                assert!(log.contains("FAKE_ACP_START"), "{log}");
            }
            "zhilibu" => {
                let log = repo.log(id);
                assert_eq!(session["backend"], "pty", "{session}");
                assert!(!log.contains("FAKE_ACP_START"), "{log}");
                assert!(log.contains("FAKE_AGENT_REPORT_WRITTEN"), "{log}");
            }
            other => panic!("a department of no assignment: {other}"),
        }
    }
    let z_now = api.session(&z).await;
    assert_eq!(z_now["backend"], "pty", "{z_now}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfined_acp_department_starts_only_in_a_worktree_of_its_own() {
    // No commit yet: a department would work in the user's own tree.
    let repo = TestRepo::with_flags(&[]);
    write_acp_config(&repo, &["--acp"], true, "");
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = crate::common::scenario::start_plan(
        api,
        "Plan one change",
        "one change",
        vec![json!({"department": "zhilibu", "task": "Change it"})],
    )
    .await;
    let status = api
        .wait_status("the department's start refused", |s| {
            s["queue"].as_array().into_iter().flatten().any(|q| {
                q["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("worktree of its own"))
            })
        })
        .await;
    assert!(departments(&status).is_empty(), "{status}");
    // Only the planner's agent ever ran.
    let logs = repo.state_dir().join("codex_governance_logs");
    let ran: Vec<String> = std::fs::read_dir(&logs)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|f| std::fs::read_to_string(f.path()).is_ok_and(|t| t.contains("FAKE_ACP_START")))
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert!(ran[0].contains(&z), "{ran:?}");
    server.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acp_agent_that_names_a_usage_limit_is_parked_and_another_failure_is_not() {
    let repo = acp_repo();
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = crate::common::scenario::start_plan(
        api,
        "Plan two changes",
        "two changes",
        // The plain failure first: a parked session holds the queue.
        vec![
            json!({"department": "gongchengbu", "task": "Change that [[acp: refuse]]"}),
            json!({"department": "zhilibu", "task": "Change it [[acp: limit]]"}),
        ],
    )
    .await;
    let status = api
        .wait_status("both departments started", |s| departments(s).len() == 2)
        .await;
    let (limited, failed) = (
        department_id(&status, "zhilibu"),
        department_id(&status, "gongchengbu"),
    );
    // The error that names a limit parks its session, as Codex's does.
    let parked = api
        .wait_session(&limited, "parked", |s| s["state"] == "waiting_for_quota")
        .await;
    assert!(
        parked["state_reason"]
            .as_str()
            .unwrap_or("")
            .contains("usage limit (rate_limit)"),
        "{parked}"
    );
    let q = api.get_ok("/api/quota").await;
    assert_eq!(q["parked"][0]["session_id"], limited.as_str(), "{q}");
    assert_eq!(q["parked"].as_array().unwrap().len(), 1, "{q}");
    // It waits alone: the queue is not held for an agent's own word.
    assert!(q["hold"].is_null(), "{q}");
    eprintln!("quota: {q}");
    // A plain failure is a failed turn, not a limit.
    wait_until("its turn failed", PATIENCE, || async {
        let audit = api.get_ok("/api/audit?limit=200").await;
        audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| {
                e["event"] == "turn_completed"
                    && e["session_id"] == failed.as_str()
                    && e["status"] == "failed"
            })
            .then_some(())
    })
    .await;
    let other = api.session(&failed).await;
    assert_ne!(other["state"], "waiting_for_quota", "{other}");
    let q = api.get_ok("/api/quota").await;
    assert_eq!(q["parked"].as_array().unwrap().len(), 1, "{q}");
    let planner = api.session(&z).await;
    assert_ne!(planner["state"], "waiting_for_quota", "{planner}");
    server.stop().await;
}
