//! The Codex backend with the real Codex CLI (pinned 0.169.0, installed by
//! `tools/test.sh`) against the scripted model server of
//! `common/model_server.rs`, on loopback only: the launcher binary runs as a
//! subprocess with a private CODEX_HOME, real app-servers, real TUIs in PTYs,
//! real Git repositories. The set-up is `Scenario::codex()`
//! (`common/scenario/codex.rs`).

use crate::common::axe;
use crate::common::browser;
use crate::common::launcher as support;
use crate::common::model_server;
use crate::common::scenario::{id_of, register_plan, Codex, Scenario, CODEX_PATIENCE};
use crate::common::scripted::runs_then_reports;
use crate::common::terminal;

use std::path::Path;

use model_server::{exec, exec_escalated, tool_call};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_plan_and_report_through_the_governance_tools() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    c.server.set_usage(
        json!({"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 400},
        "output_tokens": 100, "output_tokens_details": null, "total_tokens": 1100}),
    );
    script_a_bad_plan_a_plan_a_report_and_two_inbox_reads(&c);
    let api = c.api();
    let z = api.start_zhongshu("Plan one change").await;
    let zs = api.session(&z).await;
    assert_eq!(zs["backend"], "codex", "{zs}");
    assert!(
        zs["thread_id"].as_str().is_some_and(|t| !t.is_empty()),
        "{zs}"
    );
    let dept_id = the_plans_are_answered_and_a_codex_department_starts(&c).await;
    let z_tools = offered(&c, "You are Zhongshu");
    assert!(
        z_tools.iter().any(|t| t == "governance_register_plan")
            && z_tools.iter().any(|t| t == "governance_read_inbox")
            && !z_tools.iter().any(|t| t == "governance_report_result"),
        "{z_tools:?}"
    );
    the_report_reaches_the_zhongshu_as_a_turn(&c, &z, &dept_id).await;
    let answered = api.audit_events("tool_answered").await;
    let ok_calls: Vec<(&str, bool)> = answered
        .iter()
        .map(|e| (e["call_id"].as_str().unwrap_or(""), e["success"] == true))
        .collect();
    for (call, success) in [
        ("call_bad", false),
        ("call_plan", true),
        ("call_report", true),
    ] {
        assert!(ok_calls.contains(&(call, success)), "{call}: {answered:?}");
    }
    the_zhongshus_turns_are_counted_and_priced(&c, &z).await;
    c.stop().await;
}

/// A plan naming no real department first (the validation error is the
/// tool's answer), then a good one; the department reports through its tool
/// (no token, no network, no command); the Zhongshu reads its inbox when
/// told of the result, and again when told of the plan's end.
fn script_a_bad_plan_a_plan_a_report_and_two_inbox_reads(c: &Codex) {
    c.server.on(
        "You are Zhongshu",
        vec![tool_call(
            "call_bad",
            "governance_register_plan",
            json!({"summary": "bad", "assignments": [{"department": "nosuchbu", "task": "x"}]}),
        )],
    );
    c.server.on(
        "call_bad",
        vec![tool_call(
            "call_plan",
            "governance_register_plan",
            json!({"summary": "one department",
                   "assignments": [{"department": "zhilibu", "task": "Write NOTES.md"}]}),
        )],
    );
    c.server.on(
        "department (zhilibu)",
        vec![tool_call(
            "call_report",
            "governance_report_result",
            json!({"summary": "DEPT-SUMMARY-MARK", "changed_files": ["NOTES.md"],
                   "risks": ["RISK-MARK"], "next_action": "review it"}),
        )],
    );
    c.server.on(
        "new result | risks",
        vec![tool_call("call_inbox", "governance_read_inbox", json!({}))],
    );
    // When the plan's end is steered into the turn of the first notice while
    // that answer streams, Codex drops the answer's tool call and asks again:
    // the model then reads its inbox on the second ask.
    c.server.on(
        "your plan finished",
        vec![tool_call(
            "call_inbox_again",
            "governance_read_inbox",
            json!({}),
        )],
    );
}

/// The bad plan is answered with the HTTP API's own validation error, the
/// good one is registered; its department runs on Codex. Returns its id.
async fn the_plans_are_answered_and_a_codex_department_starts(c: &Codex) -> String {
    let bad = c.output("call_bad").await;
    assert!(
        bad.contains("unknown department") && bad.contains("nosuchbu") && bad.contains("zhilibu"),
        "the same validation error as the HTTP API: {bad}"
    );
    let planned = c.output("call_plan").await;
    assert!(planned.contains("Plan registered"), "{planned}");
    let dept = wait_until("a department session", CODEX_PATIENCE, || async {
        departments(&c.api().status().await).into_iter().next()
    })
    .await;
    assert_eq!(dept["backend"], "codex", "{dept}");
    id_of(&dept)
}

/// The tools the model was offered in the first request containing `needle`.
fn offered(c: &Codex, needle: &str) -> Vec<String> {
    let requests = c.server.requests();
    requests
        .iter()
        .find(|r| r.to_string().contains(needle))
        .map(model_server::tool_names)
        .unwrap_or_default()
}

/// The department's report arrives verified and it is closed; it was offered
/// one governance tool; the Zhongshu hears of it as a user message (a turn,
/// never keystrokes) and reads it through its inbox tool, in the
/// departments' own words.
async fn the_report_reaches_the_zhongshu_as_a_turn(c: &Codex, z: &str, dept_id: &str) {
    let inbox = c.peek_inbox_with(z, "DEPT-SUMMARY-MARK").await;
    assert!(inbox.to_string().contains("\"verified\":true"), "{inbox}");
    let reported = c.output("call_report").await;
    assert!(reported.contains("registered"), "{reported}");
    let d_tools = offered(c, "department (zhilibu)");
    assert_eq!(
        d_tools
            .iter()
            .filter(|t| t.starts_with("governance_"))
            .count(),
        1,
        "{d_tools:?}"
    );
    c.told("DEPT-SUMMARY-MARK").await;
    let read = wait_until("the inbox tool's answer", CODEX_PATIENCE, || async {
        let mut outputs = c.server.outputs("call_inbox");
        outputs.extend(c.server.outputs("call_inbox_again"));
        outputs.into_iter().next()
    })
    .await;
    assert!(
        read.contains("DEPT-SUMMARY-MARK")
            && read.contains("RISK-MARK")
            && read.contains("departments' own words"),
        "{read}"
    );
    // Walk 3 of issue 49: "planner hasn't read 1" stayed after this read.
    c.wait_agent(z, "its inbox read through the tool", |s| {
        s["unread_result_count"] == 0
    })
    .await;
    let closed = c
        .wait_agent(dept_id, "closed after its report", |s| {
            s["status"] == "exited"
        })
        .await;
    assert_eq!(closed["agent_state"], "exited", "{closed}");
    assert_eq!(closed["report_status"], "reported", "{closed}");
    let notice = c.wait_audit("zhongshu_notified", |_| true).await;
    assert_eq!(notice["status"], "sent", "{notice}");
    assert!(
        notice["delivery"] == "turn_start" || notice["delivery"] == "turn_steer",
        "a notice is a turn, never keystrokes: {notice}"
    );
}

/// Nothing was typed into the Zhongshu's TUI: its turns came over the API,
/// with their usage. Its model has a price: every answer reports 1,000 input
/// tokens (400 of them cached) and 100 output tokens, so k answers counted
/// cost k * (600 * 1.25 + 400 * 0.125 + 100 * 10) / 1e6 = k * 0.0018
/// dollars. (An answer Codex dropped for a steered input is not counted: k
/// is read from the input tokens, at most the requests made on its thread.)
async fn the_zhongshus_turns_are_counted_and_priced(c: &Codex, z: &str) {
    let z_after = c.api().session(z).await;
    assert!(z_after["turn_count"].as_u64().unwrap() >= 2, "{z_after}");
    assert!(
        z_after["token_usage"]["total_tokens"].as_u64().unwrap() > 0,
        "{z_after}"
    );
    let zs_thread = z_after["thread_id"].as_str().unwrap().to_string();
    let priced = c
        .wait_agent(z, "idle with its usage", |s| {
            s["agent_state"] == "idle" && s["token_usage"]["input_tokens"].as_u64().unwrap_or(0) > 0
        })
        .await;
    let usage = &priced["token_usage"];
    let input = usage["input_tokens"].as_u64().unwrap();
    assert_eq!(input % 1000, 0, "{usage}");
    let k = input / 1000;
    let requests = c
        .server
        .recorded()
        .iter()
        .filter(|r| r.thread() == Some(zs_thread.as_str()))
        .count() as u64;
    assert!(
        k <= requests,
        "{k} answers counted, {requests} asked: {usage}"
    );
    assert_eq!(usage["cached_input_tokens"], 400 * k, "{usage}");
    assert_eq!(usage["output_tokens"], 100 * k, "{usage}");
    let cost = priced["cost_usd"].as_f64().expect("a cost");
    assert!(
        (cost - 0.0018 * k as f64).abs() < 1e-9,
        "{cost} for {k} answers: {priced}"
    );
}

/// The environment of a running process, as `KEY=value` lines (Linux `/proc`).
fn environ(pid: &str) -> String {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', "\n"))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_agents_hold_no_key_and_reach_no_network() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    let api = c.api();
    let state = c.repo.state_dir();
    // From its sandbox the agent tries the launcher's API, the developer's token
    // on disk, another session's mailbox and its own environment.
    let probe = format!(
        "curl -s -m 5 -o /dev/null -w 'HTTP=%{{http_code}}' {url}/healthz; echo \" CURL-RC=$?\"; \
         cat {state}/codex_governance_launcher.json; echo \" CAT-RC=$?\"; \
         touch {state}/codex_governance_mailbox/planted.json; echo \" TOUCH-RC=$?\"; \
         echo \"TOKENS=$(env | grep -c CODEX_GOVERNANCE_TOKEN)\"; \
         echo \"ID=$CODEX_GOVERNANCE_SESSION_ID KIND=$CODEX_GOVERNANCE_SESSION_KIND\"",
        url = c.launcher.url,
        state = state.display()
    );
    c.server
        .on("You are Zhongshu", vec![exec("call_probe", &probe)]);
    let z = api.start_zhongshu("Probe the sandbox").await;
    // Then its own terminal's listener (its URL carries the terminal's token),
    // opened as the page opens it (its TUI runs only for viewers).
    let opened = api
        .post_ok("/api/session_terminal/attach", &json!({"session_id": z}))
        .await;
    let terminal = opened["url"].as_str().expect("a terminal URL").to_string();
    c.server.on(
        "call_probe",
        vec![exec(
            "call_term",
            &format!("curl -s -m 5 -o /dev/null -w 'TERM=%{{http_code}}' '{terminal}'; echo \" TERM-RC=$?\""),
        )],
    );
    let out = c.output("call_probe").await;
    println!("[sandbox probe] {out}");
    the_probe_reached_nothing(&c, &out, &z);
    let term = c.output("call_term").await;
    println!("[sandbox probe] {term}");
    assert!(
        term.contains("TERM=000") && !term.contains("TERM-RC=0"),
        "{term}"
    );
    // No Codex process (app-server, TUI, sandboxes) has a token in its environment.
    let processes = c.codex_processes();
    assert!(!processes.is_empty());
    for line in &processes {
        let pid = line.split_whitespace().next().unwrap();
        let env = environ(pid);
        assert!(
            !env.contains("CODEX_GOVERNANCE_TOKEN=") && !env.contains(&c.launcher.token),
            "a token in the environment of {line}"
        );
    }
    c.stop().await;
}

/// The sandbox probe's output `out`: the API out of reach, the launcher file
/// hidden, the state folder not writable, no token, the identity kept.
fn the_probe_reached_nothing(c: &Codex, out: &str, z: &str) {
    let state = c.repo.state_dir();
    assert!(out.contains("HTTP=000"), "the API is out of reach: {out}");
    assert!(!out.contains("CURL-RC=0"), "{out}");
    assert!(
        !out.contains(&c.launcher.token),
        "the developer token leaked: {out}"
    );
    assert!(
        !out.contains("CAT-RC=0"),
        "the launcher file is hidden: {out}"
    );
    assert!(
        !out.contains("TOUCH-RC=0"),
        "the state folder is not writable: {out}"
    );
    assert!(!state.join("codex_governance_mailbox/planted.json").exists());
    assert!(
        out.contains("TOKENS=0"),
        "no token in the agent's environment: {out}"
    );
    assert!(
        out.contains(&format!("ID={z} KIND=zhongshu")),
        "the identity variables stay: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_agent_network_on_the_state_folder_stays_hidden() {
    crate::needs!(Codex);
    let mut c = Scenario::codex()
        .launcher("  agent_network: on\n")
        .start()
        .await;
    let api = c.api();
    let state = c.repo.state_dir();
    let probe = format!(
        "curl -s -m 5 -o /dev/null -w 'HTTP=%{{http_code}}' {url}/healthz; echo; \
         cat {state}/codex_governance_launcher.json; echo \" CAT-RC=$?\"; \
         echo \"TOKENS=$(env | grep -c CODEX_GOVERNANCE_TOKEN)\"",
        url = c.launcher.url,
        state = state.display()
    );
    c.server
        .on("You are Zhongshu", vec![exec("call_net", &probe)]);
    api.start_zhongshu("Probe with the network on").await;
    let out = c.output("call_net").await;
    println!("[sandbox probe, network on] {out}");
    assert!(
        out.contains("HTTP=200"),
        "the network is on, as configured: {out}"
    );
    assert!(
        !out.contains("CAT-RC=0"),
        "the launcher file stays hidden: {out}"
    );
    assert!(!out.contains(&c.launcher.token), "{out}");
    assert!(out.contains("TOKENS=0"), "{out}");
    let agents = api.status().await["agents"].clone();
    assert_eq!(agents["network"], true, "{agents}");
    assert!(
        agents["reach"].as_str().unwrap().contains("network ON"),
        "{agents}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_dropped_file_cannot_close_a_live_codex_department() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    let api = c.api();
    let hold = c.server.on_held(
        "department (zhilibu)",
        vec![model_server::message("working")],
    );
    let z = api.start_zhongshu("Plan").await;
    let id = c.one_department(&z, "Work for a while").await;
    // A file in the shared incoming/ speaking for the live Codex department.
    let mb = c.repo.state_dir().join("codex_governance_mailbox").join(&z);
    let forged = json!({"parent_session_id": z, "department_session_id": id,
        "department": "zhilibu", "summary": "done, close me"});
    std::fs::write(mb.join("incoming/.forged.tmp"), forged.to_string()).unwrap();
    std::fs::rename(
        mb.join("incoming/.forged.tmp"),
        mb.join("incoming/forged.json"),
    )
    .unwrap();
    let reason = wait_until("the forged file is rejected", CODEX_PATIENCE, || async {
        let text = std::fs::read_to_string(mb.join("rejected/forged.json.reason.json")).ok()?;
        serde_json::from_str::<Value>(&text).ok()
    })
    .await;
    assert!(
        reason["error"]
            .as_str()
            .unwrap()
            .contains("own drop folder"),
        "{reason}"
    );
    let s = api.session(&id).await;
    assert_eq!(s["status"], "running", "{s}");
    assert_ne!(s["report_status"], "reported", "{s}");
    hold.notify_one();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_notice_steers_a_working_zhongshu_and_starts_an_idle_one() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    let api = c.api();
    // The first answer is held: the Zhongshu keeps working until it is released.
    let hold = c.server.on_held(
        "You are Zhongshu",
        vec![model_server::message("first answer")],
    );
    let z = api.start_zhongshu("Keep working").await;
    c.wait_agent(&z, "working", |s| s["agent_state"] == "working")
        .await;
    let sent = api
        .post_ok(
            "/api/notify_zhongshu",
            &json!({"parent_session_id": z, "summary": "STEER-MARK"}),
        )
        .await;
    assert_eq!(sent["status"], "sent", "{sent}");
    let steered = c
        .wait_audit("zhongshu_notified", |e| e["delivery"] == "turn_steer")
        .await;
    assert_eq!(steered["session_id"], z.as_str());
    hold.notify_one();
    c.told("STEER-MARK").await;
    c.idle(&z).await;
    api.post_ok(
        "/api/notify_zhongshu",
        &json!({"parent_session_id": z, "summary": "IDLE-MARK"}),
    )
    .await;
    c.wait_audit("zhongshu_notified", |e| e["delivery"] == "turn_start")
        .await;
    c.told("IDLE-MARK").await;
    c.stop().await;
}

/// Issue 37 item 5 and issue 49 item 12: a planner whose turn ended without
/// a plan is a Needs you item that shows what it said last (its question,
/// from the view) with a box whose answer reaches the model as its next
/// turn; Ask for the plan does too. Screenshots of the item at 1440x900 and
/// 390x844 go to `tests/artifacts/codex-question-*.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planner_that_ended_its_turn_without_a_plan_needs_you() {
    crate::needs!(Codex, Chromium);
    let mut c = Scenario::codex().start().await;
    c.server.on(
        "You are Zhongshu",
        vec![model_server::message(
            "Which module should I look at first?",
        )],
    );
    let z = c.api().start_zhongshu("Tidy the notes").await;
    c.wait_agent(&z, "idle after its turn", |s| {
        s["agent_state"] == "idle" && s["turn_count"].as_u64().unwrap_or(0) > 0
    })
    .await;
    let d = c.dashboard("codex-no-plan-failure").await;
    let item = format!("#needs-you-list .need[data-kind=\"no-plan\"][data-session=\"{z}\"]");
    its_question_is_in_needs_you(&d, &z, &item).await;
    d.shoot_at("codex-question-1440x900.png", 1440, 900, None)
        .await;
    d.shoot_at("codex-question-390x844.png", 390, 844, Some(&item))
        .await;
    d.resize(1440, 900).await;
    answered_then_asked_for_its_plan_from_the_item(&c, &d, &z, &item).await;
    d.quit().await;
    // Walk 5 of issue 49: suspended after a restart without Codex, it still
    // says what it asked (its live conversation is not back yet).
    let asked = c
        .wait_agent(&z, "idle after the third turn", |s| {
            s["agent_state"] == "idle"
                && s["turn_count"].as_u64().unwrap_or(0) > 2
                && s["awaits_reply"]["last_message"].is_string()
        })
        .await;
    let said = asked["awaits_reply"]["last_message"].clone();
    c.stop().await;
    let _gone = relaunched_where_codex_is_not(&mut c);
    let suspended = c
        .wait_agent(&z, "suspended", |s| s["state_text"] == "suspended")
        .await;
    assert_eq!(
        suspended["awaits_reply"]["last_message"], said,
        "{suspended}"
    );
    assert!(
        suspended["agent"].get("last_message").is_none() && suspended.get("last_message").is_none(),
        "the record does not carry it: {suspended}"
    );
    c.stop().await;
}

/// The planner `z`'s Needs you `item` says it ended its turn without a
/// plan, with its question; nothing to be reminded of (no plan: walk 5 of
/// issue 49), and "idle" said once in its tile and its row.
async fn its_question_is_in_needs_you(d: &browser::Browser, z: &str, item: &str) {
    let text = d
        .wait_text("the planner in Needs you", item, "without a plan")
        .await;
    assert!(
        text.starts_with(&format!("Planner {z} ended its turn without a plan")),
        "{text}"
    );
    assert_eq!(
        d.text_of(&format!("{item} .need-said")).await,
        "Which module should I look at first?",
        "its question, in the item"
    );
    assert!(
        d.hidden(&format!(".session-row[data-id=\"{z}\"] .act-resume"))
            .await
    );
    // Issue 49 item 14: its tile and its row say "idle" once (the state),
    // not again in the heartbeat ("active · idle 4s" was beside it).
    let idle_words = d
        .js(
            "return [`#grid .slot[data-session='${arguments[0]}'] .slot-meta`,
                     `.session-row[data-id='${arguments[0]}'] .row-head, .session-row[data-id='${arguments[0]}'] .row-meta`]
               .map((css) => [...document.querySelectorAll(css)].map((e) => e.textContent).join(' '))
               .map((text) => [text, (text.match(/idle/g) || []).length]);",
            vec![json!(z)],
        )
        .await;
    for pair in idle_words.as_array().unwrap() {
        assert_eq!(pair[1], 1, "\"idle\" once: {pair}");
    }
}

/// An answer typed in the `item`'s box reaches the model as `z`'s next
/// turn; the item of that turn's end asks for the plan, which reaches the
/// model too.
async fn answered_then_asked_for_its_plan_from_the_item(
    c: &Codex,
    d: &browser::Browser,
    z: &str,
    item: &str,
) {
    d.type_into(
        &format!("{item} textarea.need-reply"),
        "Start with the parser. REPLY-MARK",
    )
    .await;
    d.click(&format!("{item} button[data-action=\"reply\"]"))
        .await;
    c.told("Start with the parser. REPLY-MARK").await;
    c.wait_agent(z, "idle after the answer's turn", |s| {
        s["agent_state"] == "idle" && s["turn_count"].as_u64().unwrap_or(0) > 1
    })
    .await;
    let next = format!("{item}[data-key=\"no-plan:{z}:2\"]");
    d.present("the item of its next turn", &next).await;
    d.click(&format!("{next} button[data-action=\"ask-plan\"]"))
        .await;
    c.told("register your plan now with the governance_register_plan tool")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_approvals_are_accepted_and_declined_through_the_api() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    let outside = tempfile::tempdir().unwrap();
    let accepted = outside.path().join("accepted.txt");
    let declined = outside.path().join("declined.txt");
    let api = c.api();
    c.server.on(
        "You are Zhongshu",
        vec![exec_escalated(
            "call_a",
            &format!("touch {}", accepted.display()),
            "APPROVE-ME",
        )],
    );
    c.server.on(
        "call_a",
        vec![exec_escalated(
            "call_d",
            &format!("touch {}", declined.display()),
            "DECLINE-ME",
        )],
    );
    let z = api.start_zhongshu("Write outside the repository").await;
    for (reason, decision) in [("APPROVE-ME", "accept"), ("DECLINE-ME", "decline")] {
        let pending = approval_asking(&c, reason).await;
        assert_eq!(pending["session_id"], z.as_str(), "{pending}");
        assert_eq!(pending["kind"], "command", "{pending}");
        let s = api.session(&z).await;
        assert_eq!(s["agent_state"], "needs_user", "{s}");
        assert_eq!(s["attention"]["kind"], "approval", "{s}");
        let answer = c.decide(&z, &pending["request_id"], decision).await;
        assert_eq!(answer["decision"], decision, "{answer}");
        // The same request cannot be answered twice.
        let body =
            json!({"session_id": z, "request_id": pending["request_id"], "decision": decision});
        let (status, _) = api.post("/api/approval", &body).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    c.wait_agent(&z, "idle after both decisions", |s| {
        s["agent_state"] == "idle"
    })
    .await;
    assert!(accepted.exists(), "the accepted command ran");
    assert!(!declined.exists(), "the declined command did not run");
    let decided = api.audit_events("approval_decided").await;
    let words: Vec<&str> = decided
        .iter()
        .filter_map(|e| e["decision"].as_str())
        .collect();
    assert_eq!(words, ["accept", "decline"], "{decided:?}");
    let (status, body) = api
        .post(
            "/api/approval",
            &json!({"session_id": z, "request_id": 0, "decision": "maybe"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_department_without_a_report_is_reminded_then_falls_back() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    let api = c.api();
    let z = api.start_zhongshu("Plan").await;
    let id = c.one_department(&z, "Do nothing and say so").await;
    c.wait_audit("department_reminded", |e| e["session_id"] == id.as_str())
        .await;
    c.told("Your turn ended without a report").await;
    let ended = c
        .wait_agent(&id, "closed after the reminder", |s| {
            s["status"] == "exited"
        })
        .await;
    assert_eq!(ended["reminders_sent"], 1, "{ended}");
    let inbox = c.peek_inbox_with(&z, "launcher_fallback").await;
    assert!(inbox.to_string().contains(&id), "{inbox}");
    let status = api.status().await;
    assert!(
        departments(&status).iter().all(|d| d["status"] == "exited"),
        "the slot is free: {status}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_threads_resume_after_kill_9_with_their_history() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    let z = c.api().start_zhongshu("Remember this").await;
    c.idle(&z).await;
    c.say(&z, "BEFORE-CRASH").await;
    c.wait_agent(&z, "second turn done", |s| {
        s["turn_count"] == 2 && s["agent_state"] == "idle"
    })
    .await;
    let before = c.api().session(&z).await;
    c.launcher.kill9();
    c.relaunch();
    // Until its agent is back it says so (starting, with no server known
    // yet: the new launcher forgets the old one's until the thread resumed on
    // it), and input waits for it instead of failing.
    let early = c.api().session(&z).await;
    assert!(
        early["agent_state"] == "starting" || early["server_pid"].is_number(),
        "not idle before it resumed: {early}"
    );
    c.say(&z, "AFTER-RESTART").await;
    let resumed = c
        .wait_agent(&z, "resumed", |s| {
            s["status"] == "running"
                && s["agent_state"] != "starting"
                && s["server_pid"].is_number()
        })
        .await;
    assert_eq!(resumed["thread_id"], before["thread_id"], "{resumed}");
    c.wait_audit("session_resumed", |e| e["session_id"] == z.as_str())
        .await;
    let request = wait_until(
        "the model gets the resumed conversation",
        CODEX_PATIENCE,
        || async {
            c.server.requests().into_iter().find(|r| {
                model_server::user_texts(r)
                    .iter()
                    .any(|t| t.contains("AFTER-RESTART"))
            })
        },
    )
    .await;
    let texts = model_server::user_texts(&request);
    let earlier = texts.iter().filter(|t| t.contains("BEFORE-CRASH")).count();
    assert_eq!(
        earlier, 1,
        "the history came back once, not doubled: {texts:?}"
    );
    c.stop().await;
}

/// Files under `dir` (Codex's rollouts) that contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read_to_string(&p).is_ok_and(|t| t.contains(needle)) {
                n += 1;
            }
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_pending_when_the_launcher_dies_is_answered_once_after_restart() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    let hold = c.server.on_held(
        "You are Zhongshu",
        vec![tool_call(
            "call_pending",
            "governance_register_plan",
            json!({"summary": "PENDING-PLAN", "assignments": []}),
        )],
    );
    let z = c.api().start_zhongshu("Plan while the launcher dies").await;
    wait_until("the model is asked", CODEX_PATIENCE, || async {
        (!c.server.requests().is_empty()).then_some(())
    })
    .await;
    // The launcher stops answering; the call is made; then it dies.
    c.launcher.signal(libc::SIGSTOP);
    hold.notify_one();
    let home = Path::new(c.env_var("CODEX_HOME")).to_path_buf();
    wait_until("Codex records the call", CODEX_PATIENCE, || async {
        (files_containing(&home.join("sessions"), "call_pending") > 0).then_some(())
    })
    .await;
    c.launcher.kill9();
    c.relaunch();
    let api = c.api();
    let answer = c.output("call_pending").await;
    assert!(answer.contains("Plan registered"), "{answer}");
    let plan = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert!(plan.to_string().contains("PENDING-PLAN"), "{plan}");
    // Once: one registration, one answer, one output in the model's history.
    let registered = api.audit_events("zhongshu_plan_registered").await;
    assert_eq!(registered.len(), 1, "{registered:?}");
    let answered: Vec<Value> = api
        .audit_events("tool_answered")
        .await
        .into_iter()
        .filter(|e| e["call_id"] == "call_pending")
        .collect();
    assert_eq!(answered.len(), 1, "{answered:?}");
    assert_eq!(c.server.outputs("call_pending").len(), 1);
    c.stop().await;
}

/// Issue 50 item 7: the app-server a `kill -9`ed launcher left, which no
/// session of the next launcher takes over (its only session had closed), is
/// ended by that next launcher; it no longer outlives both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_server_a_killed_launcher_left_and_no_session_takes_over_is_ended_at_the_next_start()
{
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    c.server
        .on("You are Zhongshu", vec![model_server::message("Looking.")]);
    let z = c.api().start_zhongshu("Look around").await;
    c.wait_agent(&z, "idle after its turn", |s| {
        s["agent_state"] == "idle" && s["turn_count"].as_u64().unwrap_or(0) > 0
    })
    .await;
    c.api()
        .post_ok("/api/close_session", &json!({"session_id": z}))
        .await;
    let record = c.repo.state_dir().join("codex").join("app-server.json");
    let recorded: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    let server = recorded["pid"].as_u64().expect("the app-server's pid") as i32;
    c.launcher.kill9();
    assert!(
        runs(server),
        "the app-server outlives a killed launcher by design"
    );
    c.relaunch();
    // Ended, and its record with it.
    wait_until("the next launcher ends it", CODEX_PATIENCE, || async {
        (!runs(server) && !record.exists()).then_some(())
    })
    .await;
    c.stop().await;
}

/// Whether process `pid` runs (a zombie waiting for its reaper does not).
fn runs(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

/// Whether the page's Start button is off.
async fn start_is_off(d: &browser::Browser) -> bool {
    d.js(
        "return document.querySelector('#start-zhongshu').disabled;",
        vec![],
    )
    .await
        == json!(true)
}

/// Where the page shows a problem of the agents' command.
const AGENTS_PROBLEM: &str = "#agents-banner:not([hidden]) .agents-problem";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_not_logged_in_or_missing_is_a_clear_4xx() {
    crate::needs!(Codex, Chromium);
    let mut c = Scenario::codex().logged_out().start().await;
    logged_out_blocks_the_start_with_its_fix(&c).await;
    c.stop().await;
    missing_then_installed_is_found_by_check_again(&mut c).await;
    c.stop().await;

    let env = c.env_with_codex_bin("/nonexistent/codex");
    c.relaunch_with(&env);
    let missing = &c.launcher;
    let (status, body) = missing
        .api
        .post("/api/start_zhongshu_session", &json!({"task": "t"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("npm install -g @openai/codex"), "{error}");
    // The page says so from the start, with the fix.
    let agents = missing.api.status().await["agents"].clone();
    assert!(
        agents["problems"][0]
            .as_str()
            .is_some_and(|p| p.contains("npm install -g @openai/codex")),
        "{agents}"
    );
    c.launcher.terminate();
    assert!(
        c.launcher
            .stderr()
            .contains("Codex sessions cannot start until Codex is installed"),
        "{}",
        c.launcher.stderr()
    );
    assert!(Path::new(&c.repo.path).exists());
}

/// Logged out: the status says so on load, with the fix, before anything is
/// started (asked of Codex at start, as a session's start asks it); a start
/// is a 409. The page (issue 37 item 5): Start is off, the reason beside it,
/// and Check again asks Codex anew.
async fn logged_out_blocks_the_start_with_its_fix(c: &Codex) {
    let api = c.api();
    let agents = wait_until(
        "the login problem in the status",
        CODEX_PATIENCE,
        || async {
            let agents = api.status().await["agents"].clone();
            (!agents["problems"].as_array()?.is_empty()).then_some(agents)
        },
    )
    .await;
    assert_eq!(
        agents["problems"],
        json!(["Codex is not logged in: run codex login"]),
        "{agents}"
    );
    let (status, body) = api
        .post("/api/start_zhongshu_session", &json!({"task": "t"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["error"], "Codex is not logged in: run codex login",
        "{body}"
    );
    assert!(api.status().await["sessions"]
        .as_array()
        .unwrap()
        .is_empty());
    let d = c.dashboard("codex-start-blocked-failure").await;
    d.wait_text(
        "the login problem in the page",
        AGENTS_PROBLEM,
        "not logged in",
    )
    .await;
    assert!(
        start_is_off(&d).await,
        "Start is off while Codex is logged out"
    );
    assert_eq!(
        d.text_of("#start-msg").await,
        "Start is off until the problem above is fixed."
    );
    d.click("#agents-banner button.check-agents").await;
    d.wait_text(
        "Check again's answer",
        "#toasts",
        "Still: Codex is not logged in",
    )
    .await;
    d.quit().await;
}

/// Codex missing, then installed: the page says how to install it, Start
/// is off, and Check again finds it (logged out still).
async fn missing_then_installed_is_found_by_check_again(c: &mut Codex) {
    let (_later, installed) = relaunched_where_codex_is_not(c);
    let d = c.dashboard("codex-start-missing-failure").await;
    d.wait_text(
        "the missing Codex in the page",
        AGENTS_PROBLEM,
        "npm install -g @openai/codex",
    )
    .await;
    assert!(
        start_is_off(&d).await,
        "Start is off while Codex is missing"
    );
    // Walk 3 of issue 49: said three times, with Markdown's backticks.
    let said = d
        .js(
            "return [document.body.innerText.split('npm install -g @openai/codex').length - 1,
                     document.querySelector('#agents-banner').innerText.includes('`'),
                     [...document.querySelectorAll('#agents-banner code')].map((c) => c.textContent)];",
            vec![],
        )
        .await;
    assert_eq!(said[0], 1, "said once: {said}");
    assert_eq!(said[1], false, "no raw backticks: {said}");
    assert!(
        said[2]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "npm install -g @openai/codex"),
        "{said}"
    );
    d.shoot("codex-start-blocked-1440x900.png", None).await;
    let real = c.env_var("CODEX_GOVERNANCE_CODEX_BIN").to_string();
    std::os::unix::fs::symlink(&real, &installed).unwrap();
    d.click("#agents-banner button.check-agents").await;
    d.wait_text(
        "the page after Check again",
        AGENTS_PROBLEM,
        "not logged in",
    )
    .await;
    d.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_over_the_token_guarded_websocket_transport() {
    crate::needs!(Codex);
    // Windows' transport (Codex cannot listen on a unix socket there), proven here.
    let mut c = Scenario::codex()
        .env("CODEX_GOVERNANCE_CODEX_TRANSPORT", "ws")
        .start()
        .await;
    let z = c.api().start_zhongshu("Over WebSocket").await;
    c.idle(&z).await;
    let token_file = c.repo.state_dir().join("codex").join("app-server.token");
    assert!(
        token_file.exists(),
        "the capability token is in a private file"
    );
    let listing = c.codex_processes().join("\n");
    assert!(listing.contains("--listen ws://127.0.0.1:"), "{listing}");
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert!(
        !listing.contains(token.trim()),
        "the token is on no command line: {listing}"
    );
    c.say(&z, "WS-INPUT").await;
    c.told("WS-INPUT").await;
    c.stop().await;
    assert!(!token_file.exists(), "the token file goes with its server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_approvals_are_answered_from_the_dashboard() {
    crate::needs!(Codex, Chromium);
    let mut c = Scenario::codex().start().await;
    let outside = tempfile::tempdir().unwrap();
    let accepted = outside.path().join("from-the-page.txt");
    let declined = outside.path().join("declined-on-the-page.txt");
    c.server.on(
        "You are Zhongshu",
        vec![exec_escalated(
            "call_p",
            &format!("touch {}", accepted.display()),
            "PAGE-APPROVE",
        )],
    );
    c.server.on(
        "call_p",
        vec![exec_escalated(
            "call_q",
            &format!("touch {}", declined.display()),
            "PAGE-DECLINE",
        )],
    );
    let z = c.api().start_zhongshu("Ask me from the page").await;
    let d = c.dashboard("codex-approvals-failure").await;
    for (reason, decision) in [("PAGE-APPROVE", "accept"), ("PAGE-DECLINE", "decline")] {
        decide_on_the_page(&c, &d, reason, decision).await;
    }
    c.idle(&z).await;
    d.wait_js(
        "the approvals panel to hide",
        "return document.querySelector('#approvals').hidden",
        vec![],
        CODEX_PATIENCE,
    )
    .await;
    // Tokens and, its model having a price, the cost: in its row and the header.
    let shown = d
        .wait_js(
            "tokens and cost on the page",
            "const row = document.querySelector(`.session-row[data-id=\"${arguments[0]}\"] .row-model`);
             const total = document.querySelector('#tokens-total');
             const has = (e) => e && /tokens · \\$\\d+\\.\\d\\d/.test(e.textContent);
             return has(row) && has(total) && !total.hidden ? [row.textContent, total.textContent] : null;",
            vec![json!(z)],
            CODEX_PATIENCE,
        )
        .await;
    assert!(shown.to_string().contains('$'), "{shown}");
    assert!(accepted.exists(), "the command approved on the page ran");
    assert!(
        !declined.exists(),
        "the command declined on the page did not run"
    );
    d.quit().await;
    c.stop().await;
}

/// The approval asking `reason` shows on the page with its command; the
/// page's `decision` button answers it, audited as the dashboard's. The
/// first (accepted) one is checked for accessibility in both themes.
async fn decide_on_the_page(c: &Codex, d: &browser::Browser, reason: &str, decision: &str) {
    let card = d
        .wait_js(
            &format!("the approval {reason} on the page"),
            "const c = [...document.querySelectorAll('#approval-list .approval-card')]
               .find((c) => c.textContent.includes(arguments[0]));
             return c && !document.querySelector('#approvals').hidden ? c.dataset.request : null;",
            vec![json!(reason)],
            CODEX_PATIENCE,
        )
        .await;
    let text = d
        .js(
            "return document.querySelector('#approval-list').textContent",
            vec![],
        )
        .await;
    assert!(
        text.as_str().unwrap().contains("touch "),
        "the command is shown: {text}"
    );
    if let Ok(png) = d.screenshot_png().await {
        browser::save_artifact(&format!("codex-approval-{decision}-1440x900.png"), &png);
    }
    if decision == "accept" {
        // The approval card, its buttons and the tile's state, in both themes.
        axe::accessible(d, "an approval waiting, system theme").await;
        d.click("#theme-toggle").await;
        axe::accessible(d, "an approval waiting, other theme").await;
    }
    d.click(&format!(
        "#approval-list .approval-card[data-request='{}'] button[data-decision='{decision}']",
        card.as_str().unwrap()
    ))
    .await;
    let decided = c
        .wait_audit("approval_decided", |e| {
            e["decision"] == decision && e["request_id"] == card
        })
        .await;
    assert_eq!(decided["by"], "dashboard", "{decided}");
}

/// Where a department's sandbox probe tries to write: another department's
/// worktree, the worktrees folder itself and a file in /tmp.
struct OutOfBounds {
    worktrees: std::path::PathBuf,
    other: std::path::PathBuf,
    slash_tmp: std::path::PathBuf,
}

impl OutOfBounds {
    /// Under the repository of `c`; `prefix` names the /tmp file.
    fn of(c: &Codex, prefix: &str) -> OutOfBounds {
        let worktrees = c.repo.root.join("repo.worktrees");
        let other = worktrees.join("lingyubu-9");
        std::fs::create_dir_all(&other).unwrap();
        let slash_tmp = std::path::PathBuf::from("/tmp").join(format!(
            "{prefix}-{}.txt",
            c.repo.root.file_name().unwrap().to_string_lossy()
        ));
        OutOfBounds {
            worktrees,
            other,
            slash_tmp,
        }
    }

    /// Each probe's return code (`RC=`) is in `out`, none is 0, and nothing
    /// was planted.
    fn all_refused(&self, out: &str, more: &[(&str, std::path::PathBuf)]) {
        let mut probes = vec![
            ("OTHER-RC", self.other.join("planted.txt")),
            ("WTS-RC", self.worktrees.join("planted.txt")),
            ("SLASH-TMP-RC", self.slash_tmp.clone()),
        ];
        probes.extend(more.iter().cloned());
        for (rc, planted) in probes {
            assert!(out.contains(&format!("{rc}=")), "{rc}: {out}");
            assert!(!out.contains(&format!("{rc}=0")), "{rc}: {out}");
            assert!(!planted.exists(), "{}", planted.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codex_department_works_in_its_worktree_as_its_writable_root() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().committed().start().await;
    c.plans_one_notes_department();
    let bounds = OutOfBounds::of(&c, "planted");
    // The department writes in its working folder, then tries the user's
    // tree, another department's worktree, the worktrees folder and /tmp;
    // its own $TMPDIR takes a file.
    let repo = c.repo.path.display().to_string();
    let work = format!(
        "echo \"CWD=$(pwd)\"; echo notes > NOTES.md; echo \" WT-RC=$?\"; \
         touch {repo}/planted.txt; echo \" REPO-RC=$?\"; \
         echo x >> {repo}/README.md; echo \" README-RC=$?\"; \
         touch {}/planted.txt; echo \" OTHER-RC=$?\"; \
         touch {}/planted.txt; echo \" WTS-RC=$?\"; \
         touch {}; echo \" SLASH-TMP-RC=$?\"; \
         echo \"TMPDIR=$TMPDIR\"; echo t > \"$TMPDIR/scratch.txt\"; echo \" TMPDIR-RC=$?\"",
        bounds.other.display(),
        bounds.worktrees.display(),
        bounds.slash_tmp.display(),
    );
    c.server
        .on("department (zhilibu)", vec![exec("call_work", &work)]);
    // Its report waits until the Zhongshu's answers naming it are scripted.
    let report = c.server.on_held(
        "call_work",
        vec![tool_call(
            "call_report",
            "governance_report_result",
            json!({"summary": "WORKTREE-MARK", "changed_files": ["NOTES.md", "README.md"]}),
        )],
    );
    let z = c.api().start_zhongshu("Plan one change").await;
    let out = c.output("call_work").await;
    println!("[worktree probe] {out}");
    let dept = departments(&c.api().status().await).remove(0);
    let id = id_of(&dept);
    script_the_zhongshus_read_and_proposal(&c, &id);
    report.notify_one();
    let worktree = dept["workspace"]["path"]
        .as_str()
        .expect("the department has a worktree")
        .to_string();
    assert_ne!(worktree, repo);
    let temp = only_its_worktree_and_temp_are_writable(&c, &bounds, &out, &worktree);
    its_work_is_recorded_with_its_claim(&c, &id, &worktree).await;
    the_proposal_waits_for_the_user(&c, &z, &id).await;
    // The user applies it: the note lands in the tree, uncommitted.
    let applied = c
        .api()
        .post_ok(
            "/api/integrate",
            &json!({"session_id": id, "mode": "apply"}),
        )
        .await;
    assert_eq!(applied["workspace"]["state"], "applied", "{applied}");
    assert_eq!(
        std::fs::read_to_string(c.repo.path.join("NOTES.md")).unwrap(),
        "notes\n"
    );
    wait_until("its temporary folder removed", CODEX_PATIENCE, || async {
        (!temp.exists()).then_some(())
    })
    .await;
    c.stop().await;
}

/// Told of the result (or of the plan's end), the Zhongshu reads department
/// `id`'s recorded changes, then proposes to apply them.
fn script_the_zhongshus_read_and_proposal(c: &Codex, id: &str) {
    let read_changes = |call: &str| {
        vec![tool_call(
            call,
            "governance_read_changes",
            json!({"department_session_id": id}),
        )]
    };
    c.server.on("new result |", read_changes("call_changes"));
    c.server
        .on("your plan finished", read_changes("call_changes_again"));
    c.server.on(
        "call_changes",
        vec![tool_call(
            "call_propose",
            "governance_propose_integration",
            json!({"department_session_id": id, "mode": "apply", "note": "PROPOSE-MARK"}),
        )],
    );
    c.server
        .on("call_propose", vec![model_server::message("proposed")]);
}

/// The probe's output `out`: its working folder is its worktree, writable;
/// the user's tree, the other worktrees and /tmp are not; its own $TMPDIR,
/// outside its worktree, is. Returns that temporary folder.
fn only_its_worktree_and_temp_are_writable(
    c: &Codex,
    bounds: &OutOfBounds,
    out: &str,
    worktree: &str,
) -> std::path::PathBuf {
    assert!(
        out.contains(&format!("CWD={worktree}")),
        "its working folder is its worktree: {out}"
    );
    assert!(out.contains("WT-RC=0"), "the worktree is writable: {out}");
    assert!(
        !out.contains("REPO-RC=0") && !out.contains("README-RC=0"),
        "the user's working tree is not: {out}"
    );
    assert!(!c.repo.path.join("planted.txt").exists());
    assert!(!c.repo.path.join("NOTES.md").exists());
    bounds.all_refused(out, &[]);
    let name = Path::new(worktree).file_name().unwrap();
    let temp = bounds.worktrees.join(".tmp").join(name);
    assert!(
        out.contains(&format!("TMPDIR={}\n", temp.display())) && out.contains("TMPDIR-RC=0"),
        "its own $TMPDIR is writable: {out}"
    );
    assert_eq!(
        std::fs::read_to_string(temp.join("scratch.txt")).unwrap(),
        "t\n"
    );
    temp
}

/// The launcher records its work: the claim names a file it could not
/// change. No trust screen in the worktree, and Codex's config gained no
/// entry for it.
async fn its_work_is_recorded_with_its_claim(c: &Codex, id: &str, worktree: &str) {
    let recorded = c
        .wait_agent(id, "its work recorded", |s| {
            s["status"] == "exited" && s["workspace"]["state"] == "pending"
        })
        .await;
    let ws = &recorded["workspace"];
    assert_eq!(ws["actual_changed_files"], json!(["NOTES.md"]), "{ws}");
    assert!(ws["commit"].as_str().is_some_and(|c| c.len() == 40), "{ws}");
    assert_eq!(
        ws["review"]["claim"]["unchanged"],
        json!(["README.md"]),
        "{ws}"
    );
    let worktree_notes = Path::new(worktree).join("NOTES.md");
    assert_eq!(std::fs::read_to_string(worktree_notes).unwrap(), "notes\n");
    let screen = c.repo.log(id);
    assert!(
        !screen.contains("trust the contents") && !screen.contains("Do you trust"),
        "{screen}"
    );
    let home = c.repo.root.join("codex-home/config.toml");
    let config = std::fs::read_to_string(home).unwrap();
    assert!(!config.contains(worktree), "{config}");
}

/// The Zhongshu `z` read the launcher's record through its tool, and its
/// proposal waits for the user: nothing reaches the user's tree by itself.
async fn the_proposal_waits_for_the_user(c: &Codex, z: &str, id: &str) {
    let seen = wait_until(
        "the Zhongshu's read of the changes",
        CODEX_PATIENCE,
        || async {
            let mut all = c.server.outputs("call_changes");
            all.extend(c.server.outputs("call_changes_again"));
            all.into_iter().find(|o| o.contains("actual_changed_files"))
        },
    )
    .await;
    assert!(
        seen.contains("launcher's record") && seen.contains("\"NOTES.md\""),
        "{seen}"
    );
    let proposed = c
        .wait_audit("integration_proposed", |e| e["session_id"] == id)
        .await;
    assert_eq!(proposed["by"], z, "{proposed}");
    assert_eq!(proposed["mode"], "apply", "{proposed}");
    let changes = c
        .api()
        .get_ok(&format!("/api/changes?session_id={id}"))
        .await;
    let proposal = &changes["workspace"]["proposal"];
    assert_eq!(proposal["note"], "PROPOSE-MARK", "{changes}");
    assert_eq!(changes["workspace"]["state"], "pending", "{changes}");
    assert!(!c.repo.path.join("NOTES.md").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codex_department_sent_back_carries_on_its_conversation() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().committed().start().await;
    script_a_first_try_and_a_second_after_the_note(&c);
    let api = c.api();
    api.start_zhongshu("Plan one change").await;
    let dept = c.first_recorded().await;
    let id = id_of(&dept);
    let thread = dept["thread_id"].as_str().expect("a thread").to_string();
    let sent = api
        .post_ok(
            "/api/send_back",
            &json!({"session_id": id, "note": "SENDBACK-MARK add a second line"}),
        )
        .await;
    let successor = sent["successor"]
        .as_str()
        .expect("a new session")
        .to_string();
    let (asked, _) = wait_until(
        "the note on the department's thread",
        CODEX_PATIENCE,
        || async { c.server.first_asking("SENDBACK-MARK") },
    )
    .await;
    assert_eq!(
        asked.thread(),
        Some(thread.as_str()),
        "the same conversation"
    );
    let history = asked.body.to_string();
    assert!(
        history.contains("call_first") && history.contains("FIRST-REPORT"),
        "its earlier work is in the conversation: {history}"
    );
    let done = c
        .wait_agent(&successor, "reported again and recorded", |s| {
            s["status"] == "exited" && s["workspace"]["state"] == "pending"
        })
        .await;
    assert_eq!(done["thread_id"], thread.as_str(), "{done}");
    assert_eq!(
        done["workspace"]["actual_changed_files"],
        json!(["NOTES.md"])
    );
    let worktree = done["workspace"]["path"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(Path::new(worktree).join("NOTES.md")).unwrap(),
        "first\nsecond\n"
    );
    let first = api.session(&id).await;
    assert_eq!(first["workspace"]["state"], "sent_back", "{first}");
    c.stop().await;
}

/// The Zhongshu plans one notes department, which writes a first line and
/// reports; sent back, the same conversation takes the user's note
/// (`SENDBACK-MARK`), adds a second line and reports again.
fn script_a_first_try_and_a_second_after_the_note(c: &Codex) {
    c.plans_one_notes_department();
    c.server.on(
        "department (zhilibu)",
        vec![exec("call_first", "echo first > NOTES.md")],
    );
    c.server.on(
        "call_first",
        vec![tool_call(
            "call_report",
            "governance_report_result",
            json!({"summary": "FIRST-REPORT", "changed_files": ["NOTES.md"]}),
        )],
    );
    c.server.on(
        "SENDBACK-MARK",
        vec![exec("call_second", "echo second >> NOTES.md")],
    );
    c.server.on(
        "call_second",
        vec![tool_call(
            "call_report_again",
            "governance_report_result",
            json!({"summary": "SECOND-REPORT", "changed_files": ["NOTES.md"]}),
        )],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_interrupt_from_the_tile_stops_the_running_turn_and_the_session_stays() {
    crate::needs!(Codex, Chromium);
    let mut c = Scenario::codex().start().await;
    let api = c.api().clone();
    // The first answer never comes on its own: the turn keeps working.
    let hold = c.server.on_held(
        "You are Zhongshu",
        vec![model_server::message("an answer nobody waits for")],
    );
    let z = api.start_zhongshu("Work until interrupted").await;
    c.wait_agent(&z, "working", |s| s["agent_state"] == "working")
        .await;
    let d = c.dashboard("codex-interrupt-failure").await;
    let row = format!(".session-row[data-id=\"{z}\"] button.act-interrupt");
    let tile = format!(".slot[data-session=\"{z}\"] button.slot-interrupt");
    d.wait_js(
        "Interrupt on the working session's row and tile",
        "return [arguments[0], arguments[1]].every((s) => { const b = document.querySelector(s); return b && !b.hidden; });",
        vec![json!(row), json!(tile)],
        CODEX_PATIENCE,
    )
    .await;
    if let Ok(png) = d.screenshot_png().await {
        browser::save_artifact("codex-interrupt-1440x900.png", &png);
    }
    d.click(&tile).await;
    c.wait_audit("session_interrupted", |e| e["session_id"] == z.as_str())
        .await;
    let ended = c
        .wait_audit("turn_completed", |e| e["session_id"] == z.as_str())
        .await;
    assert_eq!(ended["status"], "interrupted", "{ended}");
    c.wait_agent(&z, "idle after the interrupt", |s| {
        s["agent_state"] == "idle" && s["status"] == "running"
    })
    .await;
    d.wait_js(
        "Interrupt gone once the turn ended",
        "const b = document.querySelector(arguments[0]); return !!b && b.hidden;",
        vec![json!(row)],
        CODEX_PATIENCE,
    )
    .await;
    hold.notify_one();
    // The session takes the next turn.
    c.server
        .on("AFTER-INTERRUPT", vec![model_server::message("back at it")]);
    c.say(&z, "AFTER-INTERRUPT").await;
    c.told("AFTER-INTERRUPT").await;
    // An unknown session is a 404.
    let (code, body) = api
        .post("/api/interrupt", &json!({"session_id": "zhongshu-404"}))
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
    d.quit().await;
    c.stop().await;
}

/// Headers every successful answer carries: the 5-hour window at 40 %, the
/// weekly one at 12 %, resets far ahead.
const NORMAL_LIMITS: &[(&str, &str)] = &[
    ("x-codex-primary-used-percent", "40"),
    ("x-codex-primary-window-minutes", "300"),
    ("x-codex-primary-reset-at", "{now+3600}"),
    ("x-codex-secondary-used-percent", "12"),
    ("x-codex-secondary-window-minutes", "10080"),
    ("x-codex-secondary-reset-at", "{now+86400}"),
];

/// The usage limit as ChatGPT answers it: 429, the window used up until
/// `reset` (`{now+N}`).
fn hit_the_limit(c: &Codex, needle: &str, reset: &str) {
    c.server.on_status(
        needle,
        429,
        &[
            ("x-codex-primary-used-percent", "100"),
            ("x-codex-primary-window-minutes", "300"),
            ("x-codex-primary-reset-at", reset),
        ],
        model_server::usage_limit_body(model_server::unix_now() + 60),
    );
}

/// The answer to the next request containing `needle`: a report of `summary`.
fn reports_on(c: &Codex, needle: &str, call: &str, summary: &str) {
    c.server.on(
        needle,
        vec![tool_call(
            call,
            "governance_report_result",
            json!({"summary": summary}),
        )],
    );
}

/// Asks for a lingyubu department for `z` now (`POST /api/start_department`).
async fn ask_for_a_second_department(api: &Api, z: &str) -> (StatusCode, Value) {
    api.post(
        "/api/start_department",
        &json!({"parent_session_id": z, "department": "lingyubu", "task": "Second"}),
    )
    .await
}

/// The audit events of these kinds in order, as `ts event session/department`.
async fn timeline(api: &Api, kinds: &[&str]) -> Vec<(u64, String)> {
    let body = api.get_ok("/api/audit?limit=1000").await;
    body["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| kinds.contains(&e["event"].as_str().unwrap_or("")))
        .map(|e| {
            let who = e["session_id"]
                .as_str()
                .or(e["department"].as_str())
                .or(e["text"].as_str())
                .unwrap_or("");
            (
                e["seq"].as_u64().unwrap(),
                format!(
                    "{} {} {who}",
                    e["ts"].as_str().unwrap_or("?"),
                    e["event"].as_str().unwrap()
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_at_the_usage_limit_parks_holds_the_queue_and_continues_at_the_reset() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    c.server.set_headers(NORMAL_LIMITS);
    hit_the_limit(&c, "department (zhilibu)", "{now+25}");
    reports_on(&c, "stopped your turn", "call_after", "AFTER-RESET-MARK");
    reports_on(&c, "department (lingyubu)", "call_second", "SECOND-MARK");
    let z = c.api().start_zhongshu("Plan").await;
    the_meter_follows_the_headers(&c).await;
    let id = c.one_department(&z, "Write NOTES.md").await;
    parked_until_the_windows_reset(&c, &id).await;
    the_queue_is_held_until_the_reset(&c, &z).await;
    one_continue_turn_at_the_reset_then_the_queue_goes_on(&c, &z, &id).await;
    the_continue_and_the_notice_go_to_their_own_threads(&c, &z, &id).await;
    let kinds = [
        "session_parked",
        "queue_held",
        "session_unparked",
        "queue_released",
        "assignment_started",
        "result_registered",
    ];
    let events = timeline(c.api(), &kinds).await;
    eprintln!("quota timeline:");
    for (seq, line) in &events {
        eprintln!("  {seq:>4} {line}");
    }
    let at = |name: &str, who: &str| {
        events
            .iter()
            .find(|(_, l)| l.contains(name) && l.contains(who))
            .map(|(seq, _)| *seq)
            .unwrap_or_else(|| panic!("no {name} {who} in {events:?}"))
    };
    // The hold begins with the limit (the 429's headers or the park, whichever
    // the launcher hears first) and lasts until the parked department continues.
    assert!(at("assignment_started", "zhilibu") < at("queue_held", ""));
    assert!(at("session_parked", &id) < at("session_unparked", &id));
    assert!(at("queue_held", "") < at("session_unparked", &id));
    assert!(at("session_unparked", &id) <= at("queue_released", ""));
    assert!(at("queue_released", "") < at("assignment_started", "lingyubu"));
    c.stop().await;
}

/// A workspace out of credits as Codex 0.169 hears it: the 429
/// `usage_limit_reached` with `x-codex-rate-limit-reached-type` and the
/// credits headers, no window used up. Codex ends the turn with
/// `usageLimitExceeded` ("Your workspace is out of credits...") and sends a
/// snapshot naming the kind.
fn the_credits_run_out(c: &Codex, needle: &str) {
    c.server.on_status(
        needle,
        429,
        &[
            (
                "x-codex-rate-limit-reached-type",
                "workspace_owner_credits_depleted",
            ),
            ("x-codex-credits-has-credits", "false"),
            ("x-codex-credits-unlimited", "false"),
            ("x-codex-credits-balance", "0"),
        ],
        model_server::usage_limit_body(model_server::unix_now() + 60),
    );
}

/// Issue 50 item 8: a spend-limited account parks its department like a
/// rate-limited one (no failure, no reminder, no fallback), holds the queue,
/// and the meter says which limit it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_whose_workspace_ran_out_of_credits_parks_and_the_meter_says_so() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    c.server.set_headers(NORMAL_LIMITS);
    the_credits_run_out(&c, "department (zhilibu)");
    let z = c.api().start_zhongshu("Plan").await;
    let id = c.one_department(&z, "Write NOTES.md").await;
    let parked = c
        .wait_agent(&id, "parked", |s| s["state"] == "waiting_for_quota")
        .await;
    assert!(
        parked["state_reason"]
            .as_str()
            .unwrap()
            .contains("out of credits"),
        "{parked}"
    );
    let q = wait_until("the meter says which limit", CODEX_PATIENCE, || async {
        let q = c.api().get_ok("/api/quota").await;
        (q["limit"] == "credits used up").then_some(q)
    })
    .await;
    assert_eq!(q["reached_type"], "workspace_owner_credits_depleted", "{q}");
    assert_eq!(q["credits"]["hasCredits"], false, "{q}");
    assert_eq!(q["primary"]["used_percent"], 40.0, "no window binds: {q}");
    assert_eq!(q["parked"][0]["session_id"], id.as_str(), "{q}");
    // The queue is held, saying why.
    let (code, queued) = ask_for_a_second_department(c.api(), &z).await;
    assert_eq!(code, StatusCode::OK, "{queued}");
    c.wait_audit("queue_held", |e| {
        e["text"]
            .as_str()
            .is_some_and(|t| t.contains("credits used up"))
    })
    .await;
    let status = c.api().status().await;
    assert_eq!(status["quota"]["hold"]["reason"], "limit", "{status}");
    assert_eq!(departments(&status).len(), 1, "nothing else started");
    // Parked, not failed: running, not reminded, no fallback result.
    assert_eq!(c.api().session(&id).await["status"], "running");
    assert!(c.api().audit_events("department_reminded").await.is_empty());
    let inbox = c
        .api()
        .get_ok(&format!("/api/zhongshu_inbox?id={z}&peek=1"))
        .await;
    assert!(!inbox.to_string().contains("launcher_fallback"), "{inbox}");
    c.stop().await;
}

/// The meter follows the headers of the Zhongshu's first answer, in
/// `/api/quota` and the status alike.
async fn the_meter_follows_the_headers(c: &Codex) {
    let api = c.api();
    let meter = wait_until("the meter shows the headers", CODEX_PATIENCE, || async {
        let q = api.get_ok("/api/quota").await;
        (q["secondary"]["used_percent"] == 12.0).then_some(q)
    })
    .await;
    assert_eq!(meter["primary"]["used_percent"], 40.0, "{meter}");
    assert_eq!(meter["primary"]["window_minutes"], 300, "{meter}");
    assert_eq!(meter["secondary"]["window_minutes"], 10080, "{meter}");
    assert!(meter["primary"]["resets_local"].is_string(), "{meter}");
    assert!(meter["hold"].is_null(), "{meter}");
    assert_eq!(api.status().await["quota"]["primary"], meter["primary"]);
}

/// Department `id` hit the limit: it is parked, saying why and until when.
/// The 429's snapshot can reach the launcher after the turn's end parked the
/// department: it comes, and the park follows its reset.
async fn parked_until_the_windows_reset(c: &Codex, id: &str) {
    let parked = c
        .wait_agent(id, "parked", |s| s["state"] == "waiting_for_quota")
        .await;
    assert!(
        parked["state_text"]
            .as_str()
            .unwrap()
            .starts_with("waiting for quota until "),
        "{parked}"
    );
    assert!(
        parked["state_reason"]
            .as_str()
            .unwrap()
            .contains("usage limit"),
        "{parked}"
    );
    let q = wait_until("the meter shows the limit", CODEX_PATIENCE, || async {
        let q = c.api().get_ok("/api/quota").await;
        (q["primary"]["used_percent"] == 100.0).then_some(q)
    })
    .await;
    assert_eq!(q["parked"].as_array().unwrap().len(), 1, "{q}");
    let parked_until = q["parked"][0]["until"].as_i64().unwrap();
    let resets = q["primary"]["resets_at"].as_i64().unwrap();
    assert!(
        (resets..=resets + 3).contains(&parked_until),
        "parked until the used-up window's reset: {q}"
    );
    assert_eq!(q["parked"][0]["session_id"], id, "{q}");
}

/// A department asked for now waits: the queue is held until the reset, and
/// the Zhongshu hears why its work waits (once).
async fn the_queue_is_held_until_the_reset(c: &Codex, z: &str) {
    let api = c.api();
    let (code, queued) = ask_for_a_second_department(api, z).await;
    assert_eq!(code, StatusCode::OK, "{queued}");
    let held = c.wait_audit("queue_held", |_| true).await;
    assert_eq!(held["reason"], "limit", "{held}");
    let status = api.status().await;
    assert_eq!(status["queued_count"], 1, "{status}");
    assert_eq!(status["quota"]["hold"]["reason"], "limit", "{status}");
    assert_eq!(
        departments(&status).len(),
        1,
        "nothing else started: {status}"
    );
    c.told("work is held").await;
}

/// At the reset: one continue turn, the report (not a fallback, no
/// reminder), the queue released and the second department's report.
async fn one_continue_turn_at_the_reset_then_the_queue_goes_on(c: &Codex, z: &str, id: &str) {
    c.wait_audit("session_unparked", |e| e["session_id"] == id)
        .await;
    let inbox = c.inbox_with(z, "AFTER-RESET-MARK").await;
    assert!(!inbox.to_string().contains("fallback"), "{inbox}");
    c.wait_audit("queue_released", |_| true).await;
    c.inbox_with(z, "SECOND-MARK").await;
    let continues = model_server::user_texts_everywhere(&c.server.requests(), "stopped your turn");
    assert_eq!(continues, 1, "exactly one continue turn");
    assert!(c.api().audit_events("department_reminded").await.is_empty());
}

/// The continue turn went to the parked department's own thread and model;
/// the notice of its report to the Zhongshu's thread, no other.
async fn the_continue_and_the_notice_go_to_their_own_threads(c: &Codex, z: &str, id: &str) {
    let dept_now = c.api().session(id).await;
    let continued = c
        .server
        .recorded()
        .into_iter()
        .find(|r| r.body.to_string().contains("stopped your turn"))
        .unwrap();
    assert_eq!(
        continued.thread(),
        dept_now["thread_id"].as_str(),
        "{dept_now}"
    );
    assert_eq!(continued.model(), dept_now["model"].as_str(), "{dept_now}");
    let zs = c.api().session(z).await;
    let notice = wait_until("the notice reaches the model", CODEX_PATIENCE, || async {
        c.server.recorded().into_iter().find(|r| {
            model_server::user_texts(&r.body)
                .iter()
                .any(|t| t.contains("[codex-governance]") && t.contains("AFTER-RESET-MARK"))
        })
    })
    .await;
    assert_eq!(notice.thread(), zs["thread_id"].as_str(), "{zs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_session_survives_a_launcher_kill_9_and_continues_at_the_reset() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    c.server.set_headers(NORMAL_LIMITS);
    hit_the_limit(&c, "department (zhilibu)", "{now+30}");
    reports_on(&c, "stopped your turn", "call_after", "AFTER-RESTART-MARK");
    let z = c.api().start_zhongshu("Plan").await;
    let id = c.one_department(&z, "Write NOTES.md").await;
    c.wait_agent(&id, "parked", |s| s["state"] == "waiting_for_quota")
        .await;
    // Codex's rate-limit report (the reset the 429 named) may come after the
    // turn ended: until it does, the park waits a guessed back-off, which the
    // report then brings forward (and its words with it). The kill comes once
    // the reset is known.
    let until = wait_until("the park to know its reset", CODEX_PATIENCE, || async {
        let parked = c.api().get_ok("/api/quota").await["parked"][0].clone();
        (parked["known_reset"] == true).then(|| parked["until"].as_i64())?
    })
    .await;
    let parked = c.api().session(&id).await;
    assert_eq!(parked["state"], "waiting_for_quota", "{parked}");
    c.launcher.kill9();

    c.relaunch();
    let api = c.api();
    let back = api.session(&id).await;
    let q = api.get_ok("/api/quota").await;
    // A loaded machine may take the reset's whole wait to start again: then
    // the new launcher continues it at once. Never before its reset.
    if back["state"] != "waiting_for_quota" {
        assert!(
            model_server::unix_now() as i64 >= until,
            "unparked before its reset {until}: {back}"
        );
    } else {
        assert_eq!(back["state_text"], parked["state_text"], "{back}");
        assert_eq!(q["parked"][0]["session_id"], id.as_str(), "{q}");
        assert_eq!(q["parked"][0]["until"], until, "{q}");
    }
    let unparked = c
        .wait_audit("session_unparked", |e| e["session_id"] == id.as_str())
        .await;
    let restarts = api.audit_events("launcher_started").await;
    let started_again = restarts.iter().filter_map(|e| e["seq"].as_u64()).max();
    assert!(
        restarts.len() >= 2 && unparked["seq"].as_u64() > started_again,
        "the launcher started again continues it: {unparked} {restarts:?}"
    );
    c.inbox_with(&z, "AFTER-RESTART-MARK").await;
    let continues = model_server::user_texts_everywhere(&c.server.requests(), "stopped your turn");
    assert_eq!(continues, 1, "exactly one continue turn across the restart");
    // Parked, it is not also told to go on when its conversation resumes
    // after the restart: that turn would come before the reset.
    let nudged =
        model_server::user_texts_everywhere(&c.server.requests(), "The launcher restarted");
    assert_eq!(
        nudged, 0,
        "a parked department is continued only at its reset"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_shows_as_reconnecting_and_recovers() {
    crate::needs!(Codex);
    // Codex's own retries on (the other tests turn them off).
    let mut c = Scenario::codex().codex_retries(5).start().await;
    let busy = json!({"error": {"type": "rate_limit_exceeded", "message": "Slow down"}});
    for _ in 0..3 {
        c.server
            .on_status("RETRY-ME", 429, &[("retry-after", "3")], busy.clone());
    }
    c.server
        .on("RETRY-ME", vec![model_server::message("RECOVERED-MARK")]);
    let api = c.api();
    let z = api.start_zhongshu("Plan").await;
    c.idle(&z).await;
    c.say(&z, "RETRY-ME").await;
    let reconnecting = c
        .wait_agent(&z, "reconnecting", |s| {
            s["state_text"]
                .as_str()
                .is_some_and(|t| t.starts_with("reconnecting ("))
        })
        .await;
    assert_eq!(reconnecting["state"], "working", "{reconnecting}");
    let done = c
        // Idle and the turn's status come in two notifications: a loaded
        // machine may show the first before the second.
        .wait_agent(&z, "recovered", |s| {
            s["agent_state"] == "idle"
                && s["turn_count"] == 2
                && s["last_turn_status"] != "inProgress"
        })
        .await;
    assert_eq!(done["last_turn_status"], "completed", "{done}");
    assert_eq!(done["state"], "idle", "not a failure: {done}");
    assert!(c
        .server
        .requests()
        .iter()
        .any(|r| r.to_string().contains("RETRY-ME")));
    // Codex said so itself ("Reconnecting... k/5"), each time with willRetry.
    let retries = api.audit_events("agent_error").await;
    assert_eq!(retries.len(), 3, "{retries:?}");
    assert!(
        retries.iter().all(|e| e["will_retry"] == true),
        "{retries:?}"
    );
    assert!(api.get_ok("/api/quota").await["parked"]
        .as_array()
        .unwrap()
        .is_empty());
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_that_spent_its_budget_starts_no_more_departments_until_raised() {
    crate::needs!(Codex);
    let mut c = Scenario::codex()
        .launcher("  plan_budget_tokens: 1000\n")
        .start()
        .await;
    // Each answer costs 1,500 tokens: the first is over the plan's budget.
    c.server.set_usage(
        json!({"input_tokens": 1400, "input_tokens_details": {"cached_tokens": 400},
        "output_tokens": 100, "output_tokens_details": null, "total_tokens": 1500}),
    );
    c.server.on(
        "department (zhilibu)",
        vec![model_server::message("WORKING")],
    );
    reports_on(&c, "raised your plan's budget", "call_first", "FIRST-MARK");
    reports_on(&c, "department (lingyubu)", "call_second", "SECOND-MARK");
    let api = c.api();
    let z = api.start_zhongshu("Plan").await;
    let assignments = json!([{"department": "zhilibu", "task": "First"}]);
    register_plan(api, &z, "one department", assignments).await;
    let reached = c
        .wait_audit("budget_reached", |e| e["zhongshu_id"] == z.as_str())
        .await;
    assert!(
        reached["text"]
            .as_str()
            .unwrap()
            .contains("of its 1000 token budget"),
        "{reached}"
    );
    // The department finished its turn and is held: not reminded, not closed.
    let id = id_of(&departments(&api.status().await).remove(0));
    c.idle(&id).await;
    the_next_department_waits_for_the_budget(&c, &z).await;
    assert!(api.audit_events("department_reminded").await.is_empty());
    assert_eq!(api.session(&id).await["status"], "running");

    let (code, bad) = api
        .post(
            "/api/plan_budget",
            &json!({"zhongshu_id": z, "budget_tokens": 0}),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}");
    api.post_ok(
        "/api/plan_budget",
        &json!({"zhongshu_id": z, "budget_tokens": 1_000_000}),
    )
    .await;
    c.wait_audit("budget_raised", |e| e["zhongshu_id"] == z.as_str())
        .await;
    for mark in ["FIRST-MARK", "SECOND-MARK"] {
        c.inbox_with(&z, mark).await;
    }
    c.stop().await;
}

/// A department asked for now waits for the budget, though a slot is free,
/// and the Zhongshu `z` is told why.
async fn the_next_department_waits_for_the_budget(c: &Codex, z: &str) {
    let (code, queued) = ask_for_a_second_department(c.api(), z).await;
    assert_eq!(code, StatusCode::OK, "{queued}");
    let status = c.api().status().await;
    assert_eq!(status["quota"]["budgets"][0]["zhongshu_id"], z, "{status}");
    assert_eq!(status["queued_count"], 1, "the second waits: {status}");
    assert_eq!(departments(&status).len(), 1, "{status}");
    c.told("token budget").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_anyway_from_needs_you_lifts_the_hold_and_the_meter_shows_the_limit() {
    crate::needs!(Codex, Chromium);
    let mut c = Scenario::codex().start().await;
    c.server.set_headers(NORMAL_LIMITS);
    // The reset is far away: only the user's "start anyway" lets work start.
    hit_the_limit(&c, "department (zhilibu)", "{now+3000}");
    reports_on(&c, "department (lingyubu)", "call_second", "ANYWAY-MARK");
    let (z, id) = a_parked_department_and_the_queue_held(&c).await;
    let d = c.dashboard("codex-quota-failure").await;
    let meter = d
        .wait_js(
            "the meter at the limit",
            "const w = document.querySelector('#quota-meter [data-window=\"5h\"]'); \
             return w && w.classList.contains('quota-limit') && w.textContent;",
            vec![],
            CODEX_PATIENCE,
        )
        .await;
    assert!(
        meter.as_str().unwrap().starts_with("5h 100% · resets "),
        "{meter}"
    );
    let which = d
        .wait_js(
            "the meter says which limit",
            "const w = document.querySelector('#quota-meter .quota-which'); \
             return w && w.textContent;",
            vec![],
            CODEX_PATIENCE,
        )
        .await;
    assert_eq!(which, "5-hour window");
    let item = d
        .wait_js(
            "one Needs you item for the parked session",
            "const b = document.querySelector('#needs-you button[data-action=\"start-anyway\"]'); \
             return b && b.closest('li').textContent;",
            vec![],
            CODEX_PATIENCE,
        )
        .await;
    let item = item.as_str().unwrap();
    assert!(item.contains("Waiting for quota until"), "{item}");
    assert!(item.contains("1 session parked"), "{item}");
    assert!(item.contains(&id), "{item}");
    if let Ok(png) = d.screenshot_png().await {
        browser::save_artifact("codex-quota-1440x900.png", &png);
    }
    d.click("#needs-you button[data-action=\"start-anyway\"]")
        .await;
    c.wait_audit("quota_overridden", |_| true).await;
    c.inbox_with(&z, "ANYWAY-MARK").await;
    // The parked department still waits for its reset.
    assert_eq!(c.api().session(&id).await["state"], "waiting_for_quota");
    the_meter_collapses_on_a_phone(&d).await;
    d.quit().await;
    c.stop().await;
}

/// A plan whose department hits the limit and is parked, and a second
/// department asked for, held. The Zhongshu's first turn ends on normal
/// limits first: an answer of it read after the switch to a used-up window
/// would hold the queue before the plan came. Returns the Zhongshu and the
/// parked department.
async fn a_parked_department_and_the_queue_held(c: &Codex) -> (String, String) {
    let api = c.api();
    let z = api.start_zhongshu("Plan").await;
    c.wait_agent(&z, "its first turn ended", |s| {
        s["agent_state"] == "idle" && s["turn_count"].as_u64().unwrap_or(0) > 0
    })
    .await;
    // From now on every answer says the window is used up (as the service would).
    c.server.set_headers(&[
        ("x-codex-primary-used-percent", "100"),
        ("x-codex-primary-window-minutes", "300"),
        ("x-codex-primary-reset-at", "{now+3000}"),
    ]);
    let id = c.one_department(&z, "Write NOTES.md").await;
    c.wait_agent(&id, "parked", |s| s["state"] == "waiting_for_quota")
        .await;
    let (code, queued) = ask_for_a_second_department(api, &z).await;
    assert_eq!(code, StatusCode::OK, "{queued}");
    c.wait_audit("queue_held", |_| true).await;
    (z, id)
}

/// On a phone the meter collapses to its percentages (issue 37 item 6):
/// nothing is wider than the screen.
async fn the_meter_collapses_on_a_phone(d: &browser::Browser) {
    d.set_size(390, 844).await;
    let overflow = d
        .wait_js(
            "the phone width with the meter",
            "if (window.innerWidth > 450) return null; \
             const m = document.querySelector('#quota-meter'); \
             if (!m || m.hidden) return null; \
             return [document.documentElement.scrollWidth - window.innerWidth, m.innerText];",
            vec![],
            CODEX_PATIENCE,
        )
        .await;
    if let Ok(png) = d.screenshot_png().await {
        browser::save_artifact("codex-quota-390x844.png", &png);
    }
    assert!(
        overflow[0].as_i64().unwrap() <= 0,
        "wider than the phone: {overflow}"
    );
    assert!(
        !overflow[1].as_str().unwrap().contains("resets"),
        "the meter collapses: {overflow}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_error_and_a_cut_stream_fail_the_turn_not_the_session() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    c.server.on_status(
        "FAIL-500",
        500,
        &[],
        json!({"error": {"type": "server_error", "message": "BOOM-500"}}),
    );
    c.server
        .on_cut("CUT-ME", vec![model_server::message("half an answer")]);
    let api = c.api();
    let z = api.start_zhongshu("Plan").await;
    c.idle(&z).await;
    for (turn, input) in [(2, "FAIL-500"), (3, "CUT-ME")] {
        c.say(&z, input).await;
        let failed = c
            .wait_agent(&z, &format!("{input} failed"), |s| {
                s["turn_count"] == turn && s["last_turn_status"] == "failed"
            })
            .await;
        // The user sees why; the session is not parked and keeps running.
        assert_eq!(failed["state"], "needs_you", "{failed}");
        assert_eq!(failed["attention"]["kind"], "error", "{failed}");
        assert_eq!(failed["status"], "running", "{failed}");
    }
    let errors = api.audit_events("agent_error").await;
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.iter().all(|e| e["will_retry"] == false),
        "{errors:?}"
    );
    c.say(&z, "AFTER-FAILURES").await;
    let fine = c
        .wait_agent(&z, "the next turn works", |s| {
            s["turn_count"] == 4 && s["last_turn_status"] == "completed"
        })
        .await;
    assert_eq!(fine["state"], "idle", "{fine}");
    assert!(api.get_ok("/api/quota").await["parked"]
        .as_array()
        .unwrap()
        .is_empty());
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_for_the_session_is_asked_once_and_cancel_stops_the_turn() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    let outside = tempfile::tempdir().unwrap();
    let once = outside.path().join("asked-once.txt");
    let cancelled = outside.path().join("cancelled.txt");
    let same = format!("touch {}", once.display());
    c.server.on(
        "You are Zhongshu",
        vec![exec_escalated("call_s1", &same, "SESSION-ME")],
    );
    // The very same command again: approved for the session, so not asked.
    c.server.on(
        "call_s1",
        vec![exec_escalated("call_s2", &same, "SESSION-AGAIN")],
    );
    c.server.on(
        "call_s2",
        vec![exec_escalated(
            "call_c",
            &format!("touch {}", cancelled.display()),
            "CANCEL-ME",
        )],
    );
    let api = c.api();
    let z = api.start_zhongshu("Ask me for the session").await;
    let first = approval_asking(&c, "SESSION-ME").await;
    c.decide(&z, &first["request_id"], "accept_for_session")
        .await;
    let cancel = approval_asking(&c, "CANCEL-ME").await;
    // The repeat ran without a question.
    assert!(once.exists(), "the approved command ran");
    // A waiting approval shows in /api/approvals as soon as its row is
    // stored; its audit line is appended right after: wait for it.
    c.wait_audit("approval_requested", |e| e["reason"] == "CANCEL-ME")
        .await;
    assert_eq!(
        audited_words(api, "approval_requested", "reason").await,
        ["SESSION-ME", "CANCEL-ME"],
        "asked once for the session"
    );
    assert!(
        !c.server.outputs("call_s2").is_empty(),
        "the repeat's output reached the model"
    );
    c.decide(&z, &cancel["request_id"], "cancel").await;
    let ended = c
        .wait_audit("turn_completed", |e| e["session_id"] == z.as_str())
        .await;
    assert_eq!(
        ended["status"], "interrupted",
        "cancel stops the turn: {ended}"
    );
    assert!(!cancelled.exists(), "the cancelled command did not run");
    c.wait_audit("approval_decided", |e| e["decision"] == "cancel")
        .await;
    assert_eq!(
        audited_words(api, "approval_decided", "decision").await,
        ["accept_for_session", "cancel"]
    );
    c.stop().await;
}

/// The waiting approval whose reason is `reason`, once there is one.
async fn approval_asking(c: &Codex, reason: &str) -> Value {
    c.wait_approval(&format!("approval {reason}"), |a| a["reason"] == reason)
        .await
}

/// The `field` of each audit event named `event`, oldest first.
async fn audited_words(api: &Api, event: &str, field: &str) -> Vec<String> {
    api.audit_events(event)
        .await
        .iter()
        .filter_map(|e| e[field].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_waiting_when_the_launcher_dies_is_asked_again_and_answered() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    let outside = tempfile::tempdir().unwrap();
    let approved = outside.path().join("approved-after-restart.txt");
    c.server.on(
        "You are Zhongshu",
        vec![exec_escalated(
            "call_wait",
            &format!("touch {}", approved.display()),
            "ACROSS-RESTART",
        )],
    );
    let z = c.api().start_zhongshu("Ask, then lose the launcher").await;
    let is_ours = |a: &Value| a["reason"] == "ACROSS-RESTART";
    c.wait_approval("the approval waits", is_ours).await;
    c.launcher.kill9();
    c.relaunch();
    // Codex asks again when the thread resumes: answered here, it runs once.
    let again = c.wait_approval("the approval waits", is_ours).await;
    assert_eq!(again["session_id"], z.as_str(), "{again}");
    c.decide(&z, &again["request_id"], "accept").await;
    wait_until(
        "the approved command's output reaches the model",
        CODEX_PATIENCE,
        || async { (!c.server.outputs("call_wait").is_empty()).then_some(()) },
    )
    .await;
    assert!(approved.exists(), "the command ran after the restart");
    assert_eq!(c.server.outputs("call_wait").len(), 1, "once");
    c.idle(&z).await;
    c.stop().await;
}

/// A patch of `path` replacing line `old` by `new`, as the model writes one.
fn patch_line(path: &Path, old: &str, new: &str) -> String {
    format!(
        "*** Begin Patch\n*** Update File: {}\n@@\n one\n-{old}\n+{new}\n*** End Patch",
        path.display()
    )
}

/// A temporary folder outside the repository, /tmp and $TMPDIR (which
/// Codex's `:workspace` profile lets an agent write): a patch there is asked.
/// The build's temporary folder, unless the checkout lies under /tmp (a fresh
/// clone in CI); then one under $HOME/.cache.
pub(crate) fn not_writable_by_codex() -> tempfile::TempDir {
    let tmpdir = std::env::var_os("TMPDIR").map(std::path::PathBuf::from);
    let writable =
        |p: &Path| p.starts_with("/tmp") || tmpdir.as_deref().is_some_and(|t| p.starts_with(t));
    let target = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let base = if writable(&target) {
        let home = std::env::var_os("HOME").expect("HOME, for a folder Codex may not write");
        std::path::PathBuf::from(home).join(".cache/codex-governance/test-files")
    } else {
        target
    };
    assert!(
        !writable(&base),
        "no folder outside /tmp and $TMPDIR for the file-change tests: {}",
        base.display()
    );
    std::fs::create_dir_all(&base).unwrap();
    tempfile::tempdir_in(&base).unwrap()
}

/// The patches in the order the model makes them: each answer is a patch
/// of the file; the last one, of the same file as the one approved for the
/// session, is not asked.
const PATCHES: [&str; 3] = ["call_decl", "call_acc", "call_s1"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_change_is_shown_with_its_diff_then_declined_approved_and_approved_for_the_session()
{
    crate::needs!(Codex, Chromium);
    let mut c = Scenario::codex().start().await;
    // Outside what Codex's workspace lets it write, so the default
    // `on-request` policy makes Codex ask.
    let outside = not_writable_by_codex();
    let target = outside.path().join("notes.txt");
    std::fs::write(&target, "one\ntwo\n").unwrap();
    let shown_path = target.display().to_string();
    for (after, call, old, new) in [
        ("You are Zhongshu", "call_decl", "two", "TWO"),
        ("call_decl", "call_acc", "two", "TWO"),
        ("call_acc", "call_s1", "TWO", "three"),
        ("call_s1", "call_s2", "three", "four"),
    ] {
        let patch = patch_line(&target, old, new);
        c.server
            .on(after, vec![model_server::apply_patch(call, &patch)]);
    }
    let z = c
        .api()
        .start_zhongshu("Change a file outside the repository")
        .await;

    // 1. Shown with its file and diff (API, session, page), declined on the page.
    let first = the_patch_asked(&c, "call_decl").await;
    assert_eq!(first["session_id"], z.as_str(), "{first}");
    assert_eq!(first["kind"], "file_change", "{first}");
    assert_eq!(first["changes"][0]["path"], shown_path.as_str(), "{first}");
    assert_eq!(first["changes"][0]["kind"], "update", "{first}");
    let diff = first["changes"][0]["diff"].as_str().unwrap();
    assert!(diff.contains("-two\n+TWO"), "the change itself: {diff:?}");
    let s = c.api().session(&z).await;
    assert_eq!(s["agent_state"], "needs_user", "{s}");
    assert_eq!(s["attention"]["kind"], "approval", "{s}");
    assert_eq!(
        s["attention"]["text"],
        format!("update {shown_path}").as_str(),
        "{s}"
    );
    declined_on_the_page_with_its_diff(&c, &first, &shown_path).await;
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "one\ntwo\n",
        "a declined patch leaves the file untouched"
    );

    // 2. The same patch approved: exactly that change is written.
    let second = the_patch_asked(&c, "call_acc").await;
    assert_eq!(
        second["changes"][0]["path"],
        shown_path.as_str(),
        "{second}"
    );
    let applied = answer_and_hear(&c, &z, second, "accept", "call_acc").await;
    assert!(applied.contains("Success"), "{applied}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "one\nTWO\n");

    // 3. Approved for the session: the next patch of the same file is not asked.
    let third = the_patch_asked(&c, "call_s1").await;
    let diff = third["changes"][0]["diff"].as_str().unwrap_or_default();
    assert!(diff.contains("-TWO\n+three"), "{third}");
    answer_and_hear(&c, &z, third, "accept_for_session", "call_s2").await;
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "one\nfour\n");
    c.wait_agent(&z, "idle after the patches", |s| s["agent_state"] == "idle")
        .await;
    asked_three_times_and_decided_on_the_page(c.api(), &shown_path).await;
    c.stop().await;
}

/// The approval of the patch `call` once it is asked: the n-th question is
/// the n-th patch of [`PATCHES`].
async fn the_patch_asked(c: &Codex, call: &str) -> Value {
    let n = PATCHES.iter().position(|p| *p == call).unwrap();
    let api = c.api();
    wait_until(
        &format!("the approval of {call}"),
        CODEX_PATIENCE,
        || async {
            let asked = api.audit_events("approval_requested").await.len();
            let all = api.get_ok("/api/approvals").await["approvals"].clone();
            (asked == n + 1)
                .then(|| all.as_array().and_then(|a| a.first()).cloned())
                .flatten()
        },
    )
    .await
}

/// The file-change approval `first` on the page with its path and diff
/// (accessible), declined there; the model hears it in Codex's own words.
async fn declined_on_the_page_with_its_diff(c: &Codex, first: &Value, shown_path: &str) {
    let d = c.dashboard("codex-file-change-failure").await;
    let card = d
        .wait_js(
            "the file-change approval on the page",
            "const c = document.querySelector(`#approval-list .approval-card[data-kind='file_change']`);
             return c && !document.querySelector('#approvals').hidden
               ? [c.dataset.request, c.querySelector('.approval-path').textContent,
                  c.querySelector('.approval-diff').textContent] : null;",
            vec![],
            CODEX_PATIENCE,
        )
        .await;
    assert_eq!(card[0], first["request_id"], "{card}");
    assert_eq!(card[1], format!("update {shown_path}").as_str(), "{card}");
    assert!(
        card[2].as_str().unwrap().contains("-two\n+TWO"),
        "the page shows the diff: {card}"
    );
    if let Ok(png) = d.screenshot_png().await {
        browser::save_artifact("codex-file-change-approval-1440x900.png", &png);
    }
    axe::accessible(&d, "a file-change approval waiting").await;
    d.click(&format!(
        "#approval-list .approval-card[data-request='{}'] button[data-decision='decline']",
        card[0].as_str().unwrap()
    ))
    .await;
    let told = wait_until(
        "the model is told of the decline",
        CODEX_PATIENCE,
        || async { c.server.outputs("call_decl").pop() },
    )
    .await;
    // Codex's own words for a declined patch, as the patch tool's output.
    assert_eq!(
        told, "patch rejected by user",
        "the model hears it was declined"
    );
    d.quit().await;
}

/// Answers the approval `asked` of `z` from the API with `decision` and
/// waits for the model to get `call`'s output, which it returns.
async fn answer_and_hear(c: &Codex, z: &str, asked: Value, decision: &str, call: &str) -> String {
    c.decide(z, &asked["request_id"], decision).await;
    wait_until(&format!("{call}'s output"), CODEX_PATIENCE, || async {
        c.server.outputs(call).pop()
    })
    .await
}

/// Three questions, each a file change of `shown_path`, decided on the
/// page: decline, accept, accept for the session.
async fn asked_three_times_and_decided_on_the_page(api: &Api, shown_path: &str) {
    let asked = api.audit_events("approval_requested").await;
    let paths: Vec<&str> = asked
        .iter()
        .filter_map(|e| e["changes"][0]["path"].as_str())
        .collect();
    assert_eq!(paths, [shown_path; 3], "asked three times: {asked:?}");
    assert!(
        asked.iter().all(|e| e["kind"] == "file_change"),
        "{asked:?}"
    );
    let decided: Vec<(String, String)> = api
        .audit_events("approval_decided")
        .await
        .iter()
        .map(|e| (e["decision"].to_string(), e["by"].to_string()))
        .collect();
    assert_eq!(
        decided,
        [
            ("\"decline\"".into(), "\"dashboard\"".into()),
            ("\"accept\"".into(), "\"dashboard\"".into()),
            ("\"accept_for_session\"".into(), "\"dashboard\"".into()),
        ],
        "{decided:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_change_waiting_when_the_launcher_dies_is_shown_again_with_its_diff_and_applied() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    let outside = not_writable_by_codex();
    let target = outside.path().join("across.txt");
    std::fs::write(&target, "one\ntwo\n").unwrap();
    let patch = patch_line(&target, "two", "AFTER-RESTART");
    c.server.on(
        "You are Zhongshu",
        vec![model_server::apply_patch("call_restart", &patch)],
    );
    let z = c
        .api()
        .start_zhongshu("Patch, then lose the launcher")
        .await;
    let is_patch = |a: &Value| a["kind"] == "file_change";
    let before = c.wait_approval("the file change waits", is_patch).await;
    assert_eq!(before["kind"], "file_change", "{before}");
    c.launcher.kill9();
    c.relaunch();
    let again = c
        .wait_approval("the file change asked again", is_patch)
        .await;
    assert_eq!(again["session_id"], z.as_str(), "{again}");
    // Codex asks again naming only the item: its diff comes from the resumed turn.
    assert_eq!(again["changes"], before["changes"], "{again}");
    c.decide(&z, &again["request_id"], "accept").await;
    wait_until("the patch's output", CODEX_PATIENCE, || async {
        c.server.outputs("call_restart").pop()
    })
    .await;
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "one\nAFTER-RESTART\n"
    );
    c.idle(&z).await;
    c.stop().await;
}

/// Issue 33 item 4 (B5): a Codex Zhongshu, its repository under /tmp, writes
/// its working tree and its own temporary folder, and nothing of the
/// worktrees folder (a department's worktree, its temporary folder, the
/// folder itself) nor /tmp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codex_zhongshu_keeps_out_of_the_worktrees_folder_with_the_repository_in_tmp() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().committed().start().await;
    assert!(
        c.repo.path.starts_with(std::env::temp_dir()),
        "the repository lives under the temporary folder"
    );
    let bounds = OutOfBounds::of(&c, "zplanted");
    let other_temp = bounds.worktrees.join(".tmp/lingyubu-9");
    std::fs::create_dir_all(&other_temp).unwrap();
    let work = format!(
        "echo z > ZNOTES.md; echo \" OWN-RC=$?\"; \
         touch {}/planted.txt; echo \" OTHER-RC=$?\"; \
         touch {}/planted.txt; echo \" OTHER-TMP-RC=$?\"; \
         touch {}/planted.txt; echo \" WTS-RC=$?\"; \
         touch {}; echo \" SLASH-TMP-RC=$?\"; \
         echo \"TMPDIR=$TMPDIR\"; echo t > \"$TMPDIR/scratch.txt\"; echo \" TMPDIR-RC=$?\"",
        bounds.other.display(),
        other_temp.display(),
        bounds.worktrees.display(),
        bounds.slash_tmp.display()
    );
    c.server
        .on("You are Zhongshu", vec![exec("call_zprobe", &work)]);
    c.server
        .on("call_zprobe", vec![model_server::message("probed")]);
    let z = c.api().start_zhongshu("Probe the sandbox").await;
    let out = c.output("call_zprobe").await;
    println!("[zhongshu probe] {out}");
    assert!(
        out.contains("OWN-RC=0"),
        "its working tree is writable: {out}"
    );
    assert_eq!(
        std::fs::read_to_string(c.repo.path.join("ZNOTES.md")).unwrap(),
        "z\n"
    );
    bounds.all_refused(&out, &[("OTHER-TMP-RC", other_temp.join("planted.txt"))]);
    let temp = c.repo.state_dir().join("codex_governance_tmp").join(&z);
    assert!(
        out.contains(&format!("TMPDIR={}\n", temp.display())) && out.contains("TMPDIR-RC=0"),
        "its own $TMPDIR is writable: {out}"
    );
    assert_eq!(
        std::fs::read_to_string(temp.join("scratch.txt")).unwrap(),
        "t\n"
    );
    c.stop().await;
}

/// Issue 34 item 1: a clean stop (Ctrl-C) with a department at work, then a
/// start with the same environment: the department comes back on its own
/// thread, keeps its place in the plan, gets no reminder and no fallback
/// result, and the plan goes on. Prints the audit lines of the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_and_a_restart_resume_a_working_department_on_its_thread() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().start().await;
    c.plans_one_notes_department();
    // The department's turn stays in flight until the stop (only its requests
    // offer the report tool; the Zhongshu's history names its task too).
    let _held = c.server.on_held(
        "governance_report_result",
        vec![model_server::message("NOTES.md is written")],
    );
    let z = c.api().start_zhongshu("Plan one department").await;
    let dept = wait_until("the department at work", CODEX_PATIENCE, || async {
        departments(&c.api().status().await)
            .into_iter()
            .find(|d| d["thread_id"].is_string() && d["agent_state"] == "working")
    })
    .await;
    let id = id_of(&dept);
    c.told("Write NOTES.md").await;
    let at_stop = a_clean_stop(&mut c).await;

    // After the restart it carries on and reports.
    c.server.on(
        "Continue your task where it stopped",
        vec![tool_call(
            "call_report_after_restart",
            "governance_report_result",
            json!({"summary": "REPORTED-AFTER-RESTART", "changed_files": []}),
        )],
    );
    let seen = extra_audit_lines(&c.repo.state_dir()).len();
    c.relaunch();
    // No TUI runs for it (nobody opened its terminal): its agent is back
    // once it is no longer starting.
    let back = c
        .wait_agent(&id, "resumed on its thread", |s| {
            s["status"] == "running" && s["agent_state"] != "starting"
        })
        .await;
    assert!(back["pid"].is_null(), "{back}");
    assert_eq!(back["thread_id"], dept["thread_id"], "{back}");
    c.wait_audit("session_resumed", |e| e["session_id"] == id.as_str())
        .await;
    // Its cut-off turn goes on (one continue turn, not a reminder) and ends
    // in its own report, not a fallback.
    let inbox = c.peek_inbox_with(&z, "REPORTED-AFTER-RESTART").await;
    assert!(!inbox.to_string().contains("launcher_fallback"), "{inbox}");
    its_conversation_survived_the_restart(c.api(), &id).await;
    let after: Vec<Value> = extra_audit_lines(&c.repo.state_dir()).split_off(seen);
    println!("audit at the restart:");
    for l in &after {
        println!("  {l}");
    }
    let all: Vec<Value> = at_stop.iter().chain(&after).cloned().collect();
    suspended_not_ended_and_the_plan_went_on(&all, &id);
    c.stop().await;
}

/// Ctrl-C: the launcher stops cleanly, printing no raw warnings. Returns
/// (and prints) the audit lines written at the stop.
async fn a_clean_stop(c: &mut Codex) -> Vec<Value> {
    let state = c.repo.state_dir();
    let seen = extra_audit_lines(&state).len();
    c.launcher.signal(libc::SIGINT);
    let stopped = c.launcher.wait();
    assert!(stopped.success(), "{stopped:?}: {}", c.launcher.stderr());
    let at_stop: Vec<Value> = extra_audit_lines(&state).split_off(seen);
    println!("audit at the stop:");
    for l in &at_stop {
        println!("  {l}");
    }
    assert!(
        !c.launcher.stderr().contains(" WARN "),
        "a clean stop prints no raw warnings:\n{}",
        c.launcher.stderr()
    );
    at_stop
}

/// Department `id`'s conversation survived the restart: its task from before
/// the stop, the continue turn and its report after it, each once.
async fn its_conversation_survived_the_restart(api: &Api, id: &str) {
    let c = api
        .get_ok(&format!("/api/session_conversation?id={id}"))
        .await;
    let entries = c["entries"].as_array().cloned().unwrap_or_default();
    let told: Vec<&str> = entries
        .iter()
        .filter(|e| e["type"] == "user")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert!(told.iter().any(|t| t.contains("Write NOTES.md")), "{c}");
    assert!(
        told.iter()
            .any(|t| t.contains("Continue your task where it stopped")),
        "{c}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["type"] == "tool_call" && e["tool"] == "governance_report_result"),
        "{c}"
    );
    let mut ids: Vec<&str> = entries.iter().filter_map(|e| e["id"].as_str()).collect();
    let all_ids = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all_ids, "no entry twice: {c}");
}

/// In the audit lines `all` of the stop and the restart, department `id`
/// was suspended once, never ended nor reminded, and nothing ended the plan
/// before its own report (from the mailbox).
fn suspended_not_ended_and_the_plan_went_on(all: &[Value], id: &str) {
    let named = |event: &str| -> Vec<&Value> {
        all.iter()
            .filter(|l| l["event"] == event && l["session_id"] == id)
            .collect()
    };
    assert!(named("session_exited").is_empty(), "{all:#?}");
    assert!(named("department_reminded").is_empty(), "{all:#?}");
    assert_eq!(named("session_suspended").len(), 1, "{all:#?}");
    let reported = all
        .iter()
        .position(|l| l["event"] == "result_registered")
        .expect("its result");
    assert_eq!(all[reported]["source"], "mailbox", "{all:#?}");
    assert!(
        !all[..reported]
            .iter()
            .any(|l| l["event"] == "plan_finished"),
        "{all:#?}"
    );
}

/// The audit log's lines, parsed.
fn extra_audit_lines(state: &Path) -> Vec<Value> {
    std::fs::read_to_string(state.join("codex_governance_audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Issue 33 B1 with the real Codex CLI: a sandboxed department writes a
/// forged report for its live sibling and a hot SQLite journal under `.tmp/`
/// in its own worktree, changes README.md and reports. The user's Apply
/// brings README.md in and nothing into the launcher's state folder: no
/// forged result, the sibling runs on, the database takes later changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codex_departments_files_under_the_state_folders_name_never_reach_it() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().committed().start().await;
    let outside = tempfile::tempdir().unwrap();
    script_an_attacker_beside_a_working_sibling(&c, outside.path());
    let api = c.api();
    let z = api.start_zhongshu("Plan two departments").await;
    assert_eq!(z, "zhongshu-1");
    let out = c.output("call_attack").await;
    assert!(
        out.contains(" RC=0"),
        "the sandbox let it write its worktree: {out}"
    );
    let attacker = wait_until("the attacker recorded", CODEX_PATIENCE, || async {
        departments(&api.status().await).into_iter().find(|d| {
            d["department"] == "lingyubu"
                && d["status"] == "exited"
                && d["workspace"]["state"] == "pending"
        })
    })
    .await;
    let id = id_of(&attacker);
    let findings = attacker["workspace"]["review"]["findings"].to_string();
    assert!(
        findings.contains("launcher's state folder")
            && findings.contains(".tmp/codex_governance.db-journal"),
        "{findings}"
    );
    assert_eq!(
        attacker["workspace"]["actual_changed_files"],
        json!(["README.md"]),
        "{attacker}"
    );
    let (code, body) = api
        .post(
            "/api/integrate",
            &json!({"session_id": id, "mode": "apply"}),
        )
        .await;
    println!("[attack] Apply of a real Codex department's .tmp/ files -> {code}");
    assert_eq!(code.as_u16(), 200, "{body}");
    assert_eq!(
        std::fs::read_to_string(c.repo.path.join("README.md")).unwrap(),
        "changed\n"
    );
    // SQLite's own journal of that name comes and goes with each write of
    // the launcher's store (journal_mode=DELETE): only the attacker's bytes
    // there would be the attack.
    let state = c.repo.state_dir();
    let planted = std::fs::read(outside.path().join("journal")).unwrap();
    match std::fs::read(state.join("codex_governance.db-journal")) {
        Ok(bytes) => assert_ne!(bytes, planted, "the hot journal reached the state folder"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}"),
    }
    assert!(!state
        .join("codex_governance_mailbox/zhongshu-1/incoming/zhilibu-1/forged.json")
        .exists());
    let inbox = api
        .get_ok(&format!("/api/zhongshu_inbox?id={z}&peek=1"))
        .await;
    assert!(!inbox.to_string().contains("FORGED"), "{inbox}");
    let sibling = api.session("zhilibu-1").await;
    assert_eq!(sibling["status"], "running", "{sibling}");
    // The database takes a later change.
    api.post_ok("/api/close_session", &json!({"session_id": "zhilibu-1"}))
        .await;
    c.stop().await;
}

/// Two departments: zhilibu stays at work (its answer held); lingyubu copies
/// a forged report for zhilibu (from `outside`) into a mailbox path and a hot
/// SQLite journal under `.tmp/` of its worktree, edits README.md and reports.
fn script_an_attacker_beside_a_working_sibling(c: &Codex, outside: &Path) {
    let forged = outside.join("forged.json");
    std::fs::write(
        &forged,
        json!({"department_session_id": "zhilibu-1", "parent_session_id": "zhongshu-1",
               "department": "zhilibu", "report_id": "zhilibu-1", "summary": "FORGED",
               "changed_files": []})
        .to_string(),
    )
    .unwrap();
    let mut journal = vec![0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];
    for word in [0u32, 0x1234_5678, 1, 512, 4096] {
        journal.extend(word.to_be_bytes());
    }
    journal.resize(512, 0);
    let journal_file = outside.join("journal");
    std::fs::write(&journal_file, journal).unwrap();
    c.server.on(
        "You are Zhongshu",
        vec![tool_call(
            "call_plan",
            "governance_register_plan",
            json!({"summary": "two departments", "assignments": [
                {"department": "zhilibu", "task": "Stay at SIBLING-WORK", "files": ["docs/"]},
                {"department": "lingyubu", "task": "Edit README.md", "files": ["README.md"]}]}),
        )],
    );
    let attack = format!(
        "inbox=.tmp/codex_governance_mailbox/zhongshu-1/incoming/zhilibu-1; \
         mkdir -p \"$inbox\" && cp '{}' \"$inbox/forged.json\" && \
         cp '{}' .tmp/codex_governance.db-journal && echo changed > README.md; echo \" RC=$?\"",
        forged.display(),
        journal_file.display()
    );
    c.server
        .on("department (lingyubu)", vec![exec("call_attack", &attack)]);
    c.server.on(
        "call_attack",
        vec![tool_call(
            "call_attack_report",
            "governance_report_result",
            json!({"summary": "README edited", "changed_files": ["README.md"]}),
        )],
    );
    // Held for the whole test: the notifier is dropped, the answer never comes.
    let _sibling = c.server.on_held(
        "department (zhilibu)",
        vec![model_server::message("still at it")],
    );
}

/// The Codex TUI processes (`codex resume <thread> --remote`) attached to `thread`.
fn tuis_of(thread: &str) -> Vec<String> {
    let out = std::process::Command::new("ps")
        .args(["-eo", "pid,args"])
        .output()
        .expect("ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(" resume ") && l.contains(thread) && l.contains("--remote"))
        .map(str::to_string)
        .collect()
}

/// A department's tile on the page.
fn tile_of(dept: &str) -> String {
    format!(".slot[data-session='{dept}']")
}

/// Issue 36 item 1 and issue 37 item 3: a department is a thread, not a
/// process. It works, asks and is answered from the page without any TUI;
/// opening its terminal in its tile attaches one, leaving the tile's
/// conversation stops it after the idle time; and once it ended its tile
/// still shows everything it did (a command with its exit code and output, a
/// file change with its diff, the approval), whole characters and all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codex_department_runs_without_a_tui_and_its_conversation_stays_in_the_page() {
    crate::needs!(Codex, Chromium);
    let mut c = Scenario::codex()
        .launcher("  tui_idle_seconds: 1\n")
        // The model whose edit tool is the freeform apply_patch.
        .env("CODEX_GOVERNANCE_DEPARTMENT_MODEL", "gpt-5.5")
        .committed()
        .start()
        .await;
    let outside = not_writable_by_codex();
    let approved = outside.path().join("approved-in-the-tile.txt");
    let report = script_a_command_a_patch_an_approval_and_a_held_report(&c, &approved);
    c.api().start_zhongshu("Plan one change").await;
    let d = c.dashboard("codex-conversation-failure").await;
    let approval = c
        .wait_approval("the department's approval", |a| {
            a["reason"] == "TILE-APPROVE"
        })
        .await;
    let dept = approval["session_id"].as_str().unwrap().to_string();
    let thread = no_tui_runs_for_it(&c, &dept).await;
    the_tile_shows_the_live_conversation(&d, &dept).await;
    approved_in_the_tile(&c, &d, &dept, &approval).await;
    wait_until("the approved command ran", CODEX_PATIENCE, || async {
        approved.exists().then_some(())
    })
    .await;
    assert!(tuis_of(&thread).is_empty(), "still no TUI");
    a_tui_while_its_terminal_is_watched(&c, &d, &dept, &thread).await;
    // It reports and ends; its conversation stays in its tile.
    report.notify_one();
    c.wait_agent(&dept, "ended after its report", |s| s["status"] == "exited")
        .await;
    the_finished_conversation_stays_in_the_tile(&d, &dept).await;
    what_it_did_in_the_drawer(&d, &dept).await;
    the_api_serves_the_same_conversation(&c, &dept).await;
    the_planners_notice_is_one_part_a_line(&c, &dept).await;
    d.quit().await;
    c.stop().await;
}

/// No TUI runs for department `dept`, whose terminal was never opened,
/// though it could open one: its thread.
async fn no_tui_runs_for_it(c: &Codex, dept: &str) -> String {
    let thread = c.api().session(dept).await["thread_id"]
        .as_str()
        .expect("a thread")
        .to_string();
    assert!(
        tuis_of(&thread).is_empty(),
        "a TUI runs for {dept}: {:?}",
        tuis_of(&thread)
    );
    let s = c.api().session(dept).await;
    assert!(s["browser_terminal_url"].is_null(), "{s}");
    assert_eq!(s["capabilities"]["terminal_on_demand"], true, "{s}");
    thread
}

/// After its end, the API serves the conversation the tile showed: its
/// user turn, command, file change, approval and tool call, each in words
/// beside its raw form.
async fn the_api_serves_the_same_conversation(c: &Codex, dept: &str) {
    let conversation = c
        .api()
        .get_ok(&format!("/api/session_conversation?id={dept}"))
        .await;
    assert_eq!(conversation["kind"], "items", "{conversation}");
    let entries = conversation["entries"].as_array().unwrap();
    let types: Vec<&str> = entries.iter().filter_map(|e| e["type"].as_str()).collect();
    for t in ["user", "command", "file_change", "approval", "tool_call"] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    let command = entries
        .iter()
        .find(|e| e["type"] == "command" && e["command"].as_str().unwrap().contains("CMD-MARK"))
        .expect("the command");
    assert_eq!(
        command["plain"]["text"], "printf 'CMD-MARK 治理部\\n'; exit 3",
        "{command}"
    );
    assert_ne!(command["command"], command["plain"]["text"], "{command}");
    let patch = entries
        .iter()
        .find(|e| e["type"] == "file_change")
        .expect("the patch");
    assert!(
        Path::new(patch["changes"][0]["path"].as_str().unwrap()).is_absolute(),
        "{patch}"
    );
    assert_eq!(patch["plain"]["paths"], json!(["NOTES.md"]), "{patch}");
}

/// The planner's notice of `dept`'s report: one part a line (walk 3 of
/// issue 49), its raw form the launcher's.
async fn the_planners_notice_is_one_part_a_line(c: &Codex, dept: &str) {
    let z = c.api().session(dept).await["parent_session_id"]
        .as_str()
        .expect("its planner")
        .to_string();
    let notice = wait_until("the planner's notice in words", CODEX_PATIENCE, || async {
        let planner = c
            .api()
            .get_ok(&format!("/api/session_conversation?id={z}"))
            .await;
        planner["entries"].as_array()?.iter().find_map(|e| {
            let text = e["plain"]["text"].as_str()?;
            (e["type"] == "user" && text.starts_with("1 new result\n")).then(|| e.clone())
        })
    })
    .await;
    assert!(
        notice["text"]
            .as_str()
            .unwrap()
            .starts_with("[codex-governance] 1 new result | "),
        "{notice}"
    );
}

/// Issue 49 item 9: a planner that keeps its TUI (`planner_keeps_tui: true`,
/// off by default since issue 71 item 6) keeps it while its plan goes on;
/// once the plan finished and nothing of it runs it is finished, not running,
/// and its TUI stops after `tui_idle_seconds` as a department's does (the
/// planner goes on without it, on its thread).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planner_done_with_its_plan_drops_its_tui() {
    crate::needs!(Codex);
    let mut c = Scenario::codex()
        .launcher("  tui_idle_seconds: 1\n  planner_keeps_tui: true\n")
        .committed()
        .start()
        .await;
    c.plans_one_notes_department();
    let report = c.server.on_held(
        "department (zhilibu)",
        vec![tool_call(
            "call_report",
            "governance_report_result",
            json!({"summary": "NOTES-SUMMARY", "changed_files": []}),
        )],
    );
    let z = c.api().start_zhongshu("Plan one change").await;
    let planner = c
        .wait_agent(&z, "its thread", |s| s["thread_id"].is_string())
        .await;
    let thread = planner["thread_id"].as_str().unwrap().to_string();
    wait_until(
        "the planner's TUI while its plan goes on",
        CODEX_PATIENCE,
        || async { (!tuis_of(&thread).is_empty()).then_some(()) },
    )
    .await;
    let going = c.api().status().await;
    assert_eq!(going["planners_running"], 1, "{going}");
    report.notify_one();
    let done = c
        .api()
        .wait_status("the planner done with its plan", |s| {
            s["finished_planners"] == json!([z])
        })
        .await;
    assert_eq!(done["planners_running"], 0, "{done}");
    wait_until(
        "the finished planner's TUI stopped after the idle time",
        CODEX_PATIENCE,
        || async { tuis_of(&thread).is_empty().then_some(()) },
    )
    .await;
    // Its turn on the plan's last notice may still run (seen under load):
    // finished once it ends.
    let s = c
        .wait_agent(&z, "the planner finished", |s| s["state"] == "finished")
        .await;
    assert_eq!(s["status"], "running", "it goes on without its TUI: {s}");
    assert_eq!(s["thread_id"], thread.as_str());
    assert!(tuis_of(&thread).is_empty(), "no TUI came back");
    c.stop().await;
}

/// Issue 71 item 6: a planner's TUI runs only while someone watches its
/// terminal, as a department's does. None runs for it once its turn was
/// answered, and its conversation is whole in the page; opening its terminal
/// starts one for the viewer; once the viewer left it stops after
/// `tui_idle_seconds`, and the planner goes on, its conversation whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planners_tui_runs_only_while_its_terminal_is_watched() {
    crate::needs!(Codex);
    let mut c = Scenario::codex()
        .launcher("  tui_idle_seconds: 1\n")
        .start()
        .await;
    c.server.on(
        "You are Zhongshu",
        vec![model_server::message("PLANNER-SAID 中书省")],
    );
    let z = c.api().start_zhongshu("PLANNER-TASK: say hello").await;
    let thread = no_tui_runs_for_the_planner(&c, &z).await;
    let before = the_planners_conversation_is_whole(&c, &z).await;
    let opened = c
        .api()
        .post_ok("/api/session_terminal/attach", &json!({"session_id": z}))
        .await;
    wait_until("a TUI for the planner", CODEX_PATIENCE, || async {
        (!tuis_of(&thread).is_empty()).then_some(())
    })
    .await;
    let viewer = terminal::connect_url(opened["url"].as_str().expect("its URL")).await;
    c.wait_agent(&z, "a viewer of its terminal", |s| {
        s["terminal_viewers"].as_u64().is_some_and(|n| n >= 1)
    })
    .await;
    drop(viewer);
    wait_until(
        "the planner's TUI stopped after the idle time",
        CODEX_PATIENCE,
        || async { tuis_of(&thread).is_empty().then_some(()) },
    )
    .await;
    let detached = c
        .wait_agent(&z, "no terminal", |s| s["browser_terminal_url"].is_null())
        .await;
    assert_eq!(detached["status"], "running", "{detached}");
    let after = the_planners_conversation_is_whole(&c, &z).await;
    assert_eq!(after, before, "the same conversation, without a TUI again");
    c.stop().await;
}

/// No TUI runs for the planner `z` once its first turn ended, though it could
/// open one; its thread.
async fn no_tui_runs_for_the_planner(c: &Codex, z: &str) -> String {
    let idle = c
        .wait_agent(z, "its turn answered", |s| {
            s["agent_state"] == "idle" && s["thread_id"].is_string()
        })
        .await;
    let thread = idle["thread_id"].as_str().unwrap().to_string();
    assert!(
        tuis_of(&thread).is_empty(),
        "a TUI runs for the planner nobody watches: {:?}",
        tuis_of(&thread)
    );
    assert!(idle["browser_terminal_url"].is_null(), "{idle}");
    assert_eq!(idle["capabilities"]["terminal_on_demand"], true, "{idle}");
    assert_eq!(idle["capabilities"]["conversation"], true, "{idle}");
    thread
}

/// The planner `z`'s conversation as the page reads it: its task as told and
/// its answer, whole characters; its entries.
async fn the_planners_conversation_is_whole(c: &Codex, z: &str) -> Vec<Value> {
    let path = format!("/api/session_conversation?id={z}");
    let answered = |e: &Value| e["type"] == "agent" && e["text"] == "PLANNER-SAID 中书省";
    let conversation = wait_until("the planner's answer", CODEX_PATIENCE, || async {
        let conversation = c.api().get_ok(&path).await;
        let said = conversation["entries"].as_array()?.iter().any(answered);
        said.then_some(conversation)
    })
    .await;
    assert_eq!(conversation["kind"], "items", "{conversation}");
    let entries = conversation["entries"].as_array().unwrap().clone();
    let told = |e: &Value| {
        e["text"]
            .as_str()
            .is_some_and(|t| t.contains("PLANNER-TASK"))
    };
    assert!(
        entries.iter().any(|e| e["type"] == "user" && told(e)),
        "its task as told: {conversation}"
    );
    entries
}

/// The notes department runs a command (output in Chinese, exit 3), adds
/// NOTES.md with a patch, asks to touch `approved` outside its sandbox, then
/// reports once the returned handle is notified.
fn script_a_command_a_patch_an_approval_and_a_held_report(
    c: &Codex,
    approved: &Path,
) -> std::sync::Arc<tokio::sync::Notify> {
    c.plans_one_notes_department();
    c.server.on(
        "department (zhilibu)",
        vec![exec("call_cmd", "printf 'CMD-MARK 治理部\\n'; exit 3")],
    );
    c.server.on(
        "call_cmd",
        vec![model_server::apply_patch(
            "call_patch",
            "*** Begin Patch\n*** Add File: NOTES.md\n+NOTES-MARK 治理部\n*** End Patch",
        )],
    );
    c.server.on(
        "call_patch",
        vec![exec_escalated(
            "call_ask",
            &format!("touch {}", approved.display()),
            "TILE-APPROVE",
        )],
    );
    // Its report waits while the terminal is opened and closed.
    c.server.on_held(
        "call_ask",
        vec![tool_call(
            "call_report",
            "governance_report_result",
            json!({"summary": "TILE-SUMMARY", "changed_files": ["NOTES.md"]}),
        )],
    )
}

/// The tile shows the conversation: the command, its exit code and output,
/// the file change, and the approval with its buttons; whole characters,
/// accessible in both themes.
async fn the_tile_shows_the_live_conversation(d: &browser::Browser, dept: &str) {
    let shown = d
        .wait_js(
            "the department's conversation in its tile",
            "const c = document.querySelector(arguments[0] + ' .conversation');
             const t = c && c.textContent;
             return t && t.includes('CMD-MARK 治理部') && t.includes('exit 3')
               && t.includes('NOTES.md') && t.includes('NOTES-MARK 治理部')
               && c.querySelector('.conv-approval button[data-decision=\"accept\"]') ? t : null;",
            vec![json!(tile_of(dept))],
            CODEX_PATIENCE,
        )
        .await;
    assert!(!shown.as_str().unwrap().contains('\u{fffd}'), "{shown}");
    axe::accessible(d, "a live conversation with an approval, system theme").await;
    d.click("#theme-toggle").await;
    axe::accessible(d, "a live conversation with an approval, other theme").await;
    d.click("#theme-toggle").await;
    if let Ok(png) = d.screenshot_png().await {
        browser::save_artifact("codex-conversation-live-1440x900.png", &png);
    }
}

/// The tile's Accept answers `approval`, audited as the dashboard's.
async fn approved_in_the_tile(c: &Codex, d: &browser::Browser, dept: &str, approval: &Value) {
    d.click(&format!(
        "{} .conv-approval button[data-decision='accept']",
        tile_of(dept)
    ))
    .await;
    let decided = c
        .wait_audit("approval_decided", |e| {
            e["request_id"] == approval["request_id"]
        })
        .await;
    assert_eq!(decided["by"], "dashboard", "{decided}");
}

/// Opening its terminal in the tile attaches a TUI for this viewer, whose
/// socket connects (the idle clock starts after it); back to the
/// conversation, nobody watches the terminal, and after the idle time (1 s
/// here) its TUI is stopped; the department goes on.
async fn a_tui_while_its_terminal_is_watched(
    c: &Codex,
    d: &browser::Browser,
    dept: &str,
    thread: &str,
) {
    let tile = tile_of(dept);
    d.click(&format!("{tile} .slot-view")).await;
    d.wait_js(
        "the department's terminal in its tile",
        "return document.querySelector(arguments[0] + ' iframe.slot-frame') ? true : null;",
        vec![json!(tile)],
        CODEX_PATIENCE,
    )
    .await;
    let attached = wait_until("a TUI for the department", CODEX_PATIENCE, || async {
        let t = tuis_of(thread);
        (!t.is_empty()).then_some(t)
    })
    .await;
    println!("[attached] {attached:?}");
    let with_terminal = c
        .wait_agent(dept, "its terminal URL", |s| {
            s["browser_terminal_url"].is_string()
        })
        .await;
    assert!(with_terminal["browser_terminal_url"].is_string());
    c.wait_agent(dept, "a viewer of its terminal", |s| {
        s["terminal_viewers"].as_u64().is_some_and(|n| n >= 1)
    })
    .await;
    d.click(&format!("{tile} .slot-view")).await;
    wait_until(
        "the TUI stopped after the idle time",
        CODEX_PATIENCE,
        || async { tuis_of(thread).is_empty().then_some(()) },
    )
    .await;
    let detached = c
        .wait_agent(dept, "no terminal", |s| s["browser_terminal_url"].is_null())
        .await;
    assert_eq!(detached["status"], "running", "{detached}");
}

/// Once it ended, its tile still shows all it did, whole characters, in a
/// log that scrolls; accessible in both themes.
async fn the_finished_conversation_stays_in_the_tile(d: &browser::Browser, dept: &str) {
    let tile = tile_of(dept);
    let finished = d
        .wait_js(
            "the finished conversation in the tile",
            "const c = document.querySelector(arguments[0] + ' .conversation');
             const t = c && c.dataset.live === '0' && c.textContent;
             return t && t.includes('CMD-MARK 治理部') && t.includes('exit 3')
               && t.includes('NOTES-MARK 治理部') && t.includes('approved')
               && t.includes('governance_report_result') ? t : null;",
            vec![json!(tile)],
            CODEX_PATIENCE,
        )
        .await;
    let finished = finished.as_str().unwrap();
    assert!(!finished.contains('\u{fffd}'), "{finished}");
    in_peoples_words(d, &tile).await;
    let scrolls = d
        .js(
            "const l = document.querySelector(arguments[0] + ' .conv-log');
             return getComputedStyle(l).overflowY;",
            vec![json!(tile)],
        )
        .await;
    assert_eq!(scrolls, "auto", "the conversation scrolls");
    if let Ok(png) = d.screenshot_png().await {
        browser::save_artifact("codex-conversation-finished-1440x900.png", &png);
    }
    axe::accessible(d, "a finished conversation, system theme").await;
    d.click("#theme-toggle").await;
    axe::accessible(d, "a finished conversation, other theme").await;
}

/// The tile says what was done in people's words (issue 49): the command as
/// written, not wrapped in the shell that ran it; the report as what it
/// reported; the file by its path in the repository. The raw form is one
/// click away.
async fn in_peoples_words(d: &browser::Browser, tile: &str) {
    let shown = d
        .js(
            "const c = document.querySelector(arguments[0] + ' .conversation');
             const first = (css) => { const n = c.querySelector(css); return n ? n.textContent : null; };
             return {
               command: first('.conv-command .conv-head .conv-command'),
               report: first('.conv-tool_call .conv-plain'),
               raw: [...c.querySelectorAll('.conv-tool_call details.conv-raw')].some((r) => !r.open
                 && r.textContent.includes('governance_report_result')),
               path: [...c.querySelectorAll('.conv-file_change .conv-path')].map((p) => p.textContent),
             };",
            vec![json!(tile)],
        )
        .await;
    assert_eq!(
        shown["command"], "printf 'CMD-MARK 治理部\\n'; exit 3",
        "the command as written, unwrapped from its shell: {shown}"
    );
    assert_eq!(shown["report"], "reported: 1 file, 0 checks", "{shown}");
    assert_eq!(shown["raw"], true, "the raw call one click away: {shown}");
    assert_eq!(shown["path"], json!(["add NOTES.md"]), "{shown}");
    d.click(&format!(
        "{tile} .conv-tool_call details.conv-raw > summary"
    ))
    .await;
    if let Ok(png) = d.screenshot_png().await {
        browser::save_artifact("codex-conversation-words-1440x900.png", &png);
    }
    d.shoot_at("codex-conversation-words-390x844.png", 390, 844, Some(tile))
        .await;
    d.resize(1440, 900).await;
}

/// The changes drawer shows the same record as "What it did" (it fills in
/// once its changes arrive).
async fn what_it_did_in_the_drawer(d: &browser::Browser, dept: &str) {
    d.click(&format!(
        ".session-row[data-id='{dept}'] [data-open-changes]"
    ))
    .await;
    d.present(
        "the drawer's What it did",
        ".decision-what-it-did > summary",
    )
    .await;
    d.click(".decision-what-it-did > summary").await;
    d.wait_js(
        "What it did in the drawer",
        "const c = document.querySelector('.decision-what-it-did .conversation');
         const t = c && c.textContent;
         return t && t.includes('CMD-MARK 治理部') && t.includes('NOTES-MARK 治理部') ? t : null;",
        vec![],
        CODEX_PATIENCE,
    )
    .await;
    if let Ok(png) = d.screenshot_png().await {
        browser::save_artifact("codex-what-it-did-drawer-1440x900.png", &png);
    }
    axe::accessible(d, "What it did in the drawer, other theme").await;
}

/// Issue 37 item 5 (Codex's own prompts): at 93 % of the 5-hour window
/// Codex's TUI asked "Approaching rate limits · Switch to …?" inside one tile.
/// The launcher asks instead, as a Needs-you item; "Switch" moves the running
/// sessions' next turns to the lighter model through the app-server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_the_limit_needs_you_offers_the_lighter_model_for_the_next_turns() {
    crate::needs!(Codex, Chromium);
    let mut c = Scenario::codex().start().await;
    c.server.set_headers(&[
        ("x-codex-primary-used-percent", "93"),
        ("x-codex-primary-window-minutes", "300"),
        ("x-codex-primary-reset-at", "{now+3000}"),
    ]);
    c.server
        .on("You are Zhongshu", vec![model_server::message("thinking")]);
    let z = c.api().start_zhongshu("Plan later").await;
    let thread = c
        .wait_agent(&z, "idle after its first turn", |s| {
            s["agent_state"] == "idle"
        })
        .await["thread_id"]
        .as_str()
        .unwrap()
        .to_string();
    let d = c.dashboard("codex-model-switch-failure").await;
    let item = d
        .wait_js(
            "the model switch in Needs you",
            "const b = document.querySelector('#needs-you button[data-action=\"switch-model\"]');
             return b && b.closest('li').textContent;",
            vec![],
            CODEX_PATIENCE,
        )
        .await;
    let item = item.as_str().unwrap();
    assert!(
        item.contains("93%") && item.contains("gpt-5.4") && item.contains(&z),
        "{item}"
    );
    axe::accessible(&d, "the model switch offer, system theme").await;
    d.click("#theme-toggle").await;
    axe::accessible(&d, "the model switch offer, other theme").await;
    d.click("#needs-you button[data-action='switch-model']")
        .await;
    let answered = c.wait_audit("model_switch_answered", |_| true).await;
    assert_eq!(answered["choice"], "switch", "{answered}");
    assert_eq!(answered["sessions"], json!([z]), "{answered}");
    d.gone(
        "the answered offer",
        "#needs-you button[data-action='switch-model']",
    )
    .await;
    // Its next turn runs on the lighter model.
    c.server
        .on("NEXT-TURN-MARK", vec![model_server::message("ok")]);
    c.say(&z, "NEXT-TURN-MARK").await;
    let model = wait_until("the next turn's request", CODEX_PATIENCE, || async {
        c.server
            .recorded()
            .into_iter()
            .rev()
            .find(|r| {
                r.thread() == Some(thread.as_str()) && r.body.to_string().contains("NEXT-TURN-MARK")
            })
            .and_then(|r| r.model().map(str::to_string))
    })
    .await;
    assert_eq!(model, "gpt-5.4");
    assert_eq!(c.api().session(&z).await["model"], "gpt-5.4");
    d.quit().await;
    c.stop().await;
}

/// Issue 48 item 2 with two real sandboxed Codex agents: a department's work
/// is `a/one.txt` and `b/codex_governance.db-journal`; `b` does not exist in
/// the user's tree, so the prediction finds nothing unsafe. While the user's
/// Apply writes (held after its first file), the Codex planner, whose
/// sandbox may write the user's tree, runs `ln -s .tmp b`. The write of
/// `b/…` is refused at the moment of writing, the Apply is undone, and
/// nothing reaches the state folder (before: the journal went through the
/// link and the database was cut).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_a_codex_planner_links_into_the_state_folder_during_an_apply_is_never_written_through(
) {
    crate::needs!(Codex);
    let resume = tempfile::tempdir().unwrap();
    let resume_file = resume.path().join("go");
    let mut c = Scenario::codex()
        .env("CODEX_GOVERNANCE_TEST_PAUSE_INTEGRATION", "1")
        .env(
            "CODEX_GOVERNANCE_TEST_RESUME_FILE",
            resume_file.to_str().unwrap(),
        )
        .committed()
        .start()
        .await;
    plans_a_journal_in_b_and_links_b_when_told(&c);
    let api = c.api().clone();
    let z = api.start_zhongshu("Plan one department").await;
    assert!(c.output("call_write").await.contains(" RC=0"));
    let d = c.first_recorded().await;
    let id = id_of(&d);
    assert_eq!(
        d["workspace"]["actual_changed_files"],
        json!(["a/one.txt", "b/codex_governance.db-journal"]),
        "{d}"
    );
    c.idle(&z).await;
    let apply = {
        let (api, id) = (api.clone(), id.clone());
        tokio::spawn(async move {
            api.post(
                "/api/integrate",
                &json!({"session_id": id, "mode": "apply"}),
            )
            .await
        })
    };
    the_planner_links_b_while_the_apply_waits(&c, &z).await;
    std::fs::write(&resume_file, "").unwrap();
    let (code, body) = apply.await.unwrap();
    println!(
        "[attack] Apply while a Codex planner links b -> .tmp: {code} {}",
        body["error"]
    );
    assert_eq!(code.as_u16(), 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("b is a link"),
        "{body}"
    );
    nothing_went_through_the_link(&c, &id).await;
    // The database is whole: a later change is stored, and a new launcher opens it.
    api.post_ok("/api/close_session", &json!({"session_id": z}))
        .await;
    c.stop().await;
    c.relaunch();
    let s = c.api().session(&id).await;
    assert_eq!(s["workspace"]["state"], "pending", "{s}");
    c.stop().await;
}

/// The planner plans one lingyubu department that writes `a/one.txt` and a
/// journal in `b/` and reports both; told LINK-B-NOW, the planner links `b`
/// to the state folder (`.tmp`).
fn plans_a_journal_in_b_and_links_b_when_told(c: &Codex) {
    c.server.on(
        "You are Zhongshu",
        vec![tool_call(
            "call_plan",
            "governance_register_plan",
            json!({"summary": "one department", "assignments": [
                {"department": "lingyubu", "task": "Write a and b", "files": ["a/", "b/"]}]}),
        )],
    );
    runs_then_reports(
        &c.server,
        "lingyubu",
        "call_write",
        "mkdir -p a b && echo one > a/one.txt && printf 'hot journal' > \
         b/codex_governance.db-journal; echo \" RC=$?\"",
        "a and b",
        &["a/one.txt", "b/codex_governance.db-journal"],
    );
    c.server.on(
        "LINK-B-NOW",
        vec![exec("call_link", "ln -s .tmp b; echo \" RC=$?\"")],
    );
}

/// Once the Apply wrote its first file (and waits), the planner `z` is told
/// to link `b`, and its sandbox lets it.
async fn the_planner_links_b_while_the_apply_waits(c: &Codex, z: &str) {
    let repo = c.repo.path.clone();
    wait_until("the first file written", CODEX_PATIENCE, || async {
        repo.join("a/one.txt").exists().then_some(())
    })
    .await;
    c.say(z, "LINK-B-NOW").await;
    let out = c.output("call_link").await;
    assert!(
        out.contains(" RC=0"),
        "the planner's sandbox let it link: {out}"
    );
    assert!(std::fs::symlink_metadata(repo.join("b"))
        .unwrap()
        .file_type()
        .is_symlink());
}

/// The department's journal is not in the state folder, and the Apply is
/// undone: the user's tree as it was, the work `id` pending.
async fn nothing_went_through_the_link(c: &Codex, id: &str) {
    // SQLite's own journal of that name comes and goes with each write of
    // the launcher's store (journal_mode=DELETE): only the department's bytes
    // there would be the attack.
    let state = c.repo.state_dir();
    match std::fs::read(state.join("codex_governance.db-journal")) {
        Ok(bytes) => assert_ne!(bytes, b"hot journal", "written through the link"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}"),
    }
    assert!(
        !c.repo.path.join("a/one.txt").exists(),
        "the Apply was undone"
    );
    let s = c.api().session(id).await;
    assert_eq!(s["workspace"]["state"], "pending", "{s}");
}

/// Issue 49 item 1 with the real Codex CLI: stopped with a department
/// mid-turn, then started where Codex cannot run. Every session of the
/// earlier run stays suspended, saying what it waits for (no failure, no
/// fallback result, no finished plan); *Check again* once Codex is there
/// resumes each on its own thread, and the department finishes its turn and
/// reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_without_codex_suspends_every_session_and_check_again_resumes_them() {
    crate::needs!(Codex, Chromium);
    let mut c = Scenario::codex().committed().start().await;
    c.server.on(
        "The launcher restarted",
        vec![tool_call(
            "call_report_after",
            "governance_report_result",
            json!({"summary": "NOTES after the restart", "changed_files": []}),
        )],
    );
    let (z, dept, thread, _cut) = stopped_mid_turn(&mut c).await;
    // Codex is not where the launcher looks: every session waits, suspended.
    let (_later, installed) = relaunched_where_codex_is_not(&mut c);
    every_session_waits_for_codex(&c, &z, &dept).await;
    // Check again while Codex is still missing: still suspended.
    let api = c.api().clone();
    let answer = api.post_ok("/api/check_agents", &json!({})).await;
    assert!(
        !answer["problems"].as_array().unwrap().is_empty(),
        "{answer}"
    );
    assert_eq!(api.session(&dept).await["state_text"], "suspended");
    let d = c.dashboard("codex-suspended-failure").await;
    needs_you_says_once_what_waits_and_why(&d).await;
    nothing_suspended_is_said_to_run(&d).await;
    d.shoot("codex-suspended-1440x900.png", None).await;
    // Codex is back: Check again resumes each on its own thread.
    let real = c.env_var("CODEX_GOVERNANCE_CODEX_BIN").to_string();
    std::os::unix::fs::symlink(&real, &installed).unwrap();
    d.click("#needs-you button[data-action=\"check-agents\"]")
        .await;
    // Each resumes on its own thread. (Whether the cut-off turn then goes on
    // to its report depends on how the stop left the turn: see the closing
    // note; the clean-stop test covers the continue turn.)
    resumed_on_their_threads(&c, &z, &dept, &thread).await;
    let z_now = api.session(&z).await;
    assert_ne!(z_now["state"], "failed", "{z_now}");
    d.quit().await;
    c.stop().await;
}

/// A new launcher whose Codex is a path in a new folder where there is none
/// (yet): the folder, and that path.
fn relaunched_where_codex_is_not(c: &mut Codex) -> (tempfile::TempDir, std::path::PathBuf) {
    let later = tempfile::tempdir().unwrap();
    let installed = later.path().join("codex");
    let env = c.env_with_codex_bin(&installed.display().to_string());
    c.relaunch_with(&env);
    (later, installed)
}

/// The planner `z` and its department `dept` are suspended, waiting for
/// their agent program, and neither failed nor ended: no exit audited, no
/// fallback result in the planner's inbox.
async fn every_session_waits_for_codex(c: &Codex, z: &str, dept: &str) {
    for id in [z, dept] {
        let s = c
            .wait_agent(id, "suspended", |s| s["state_text"] == "suspended")
            .await;
        assert_eq!(s["status"], "running", "{s}");
        assert_eq!(s["attention"]["kind"], "backend", "{s}");
        assert!(
            s["state_reason"]
                .as_str()
                .unwrap()
                .contains("waiting for its agent program"),
            "{s}"
        );
    }
    c.wait_audit("session_waiting_for_agent", |e| e["session_id"] == dept)
        .await;
    assert!(c
        .api()
        .audit_events("session_exited")
        .await
        .iter()
        .all(|e| e["session_id"] != dept));
    let inbox = c
        .api()
        .get_ok(&format!("/api/zhongshu_inbox?id={z}&peek=1"))
        .await;
    assert!(!inbox.to_string().contains("launcher_fallback"), "{inbox}");
}

/// One Needs-you item says what waits, with Check again; why is said once,
/// in the note at the top, and the item and the rows point there.
async fn needs_you_says_once_what_waits_and_why(d: &browser::Browser) {
    d.wait_text(
        "the suspended sessions in Needs you",
        "#needs-you",
        "2 sessions suspended",
    )
    .await;
    d.wait_text(
        "why they wait",
        "#agents-banner",
        "Codex sessions cannot start until Codex is installed",
    )
    .await;
    let item = d
        .wait_text("the item points to it", "#needs-you", "the note at the top")
        .await;
    assert!(!item.contains("npm install"), "said once: {item}");
    let rows = d.text_of("#sessions").await;
    assert!(
        !rows.contains("npm install") && !rows.contains('`'),
        "{rows}"
    );
}

/// Nothing of the suspended sessions runs: they are counted apart, and no
/// running time or work in progress is claimed (walk 4 of issue 49).
async fn nothing_suspended_is_said_to_run(d: &browser::Browser) {
    d.wait_text("suspended apart in the header", "#stats", "2 suspended")
        .await;
    d.wait_text("the planner's count", "#stats", "0 planners running")
        .await;
    d.wait_text(
        "the plan's count",
        "#sessions",
        "1 department: 0 running, 1 suspended",
    )
    .await;
    d.wait_text(
        "the worktree's badge",
        "#sessions",
        "its work waits in its worktree",
    )
    .await;
    let rows = d.text_of("#sessions").await;
    assert!(
        !rows.contains("running 0") && !rows.contains("working in its worktree"),
        "{rows}"
    );
}

/// Walk 5 of issue 49 (security): a restart under a changed configuration
/// that waits for trust resumes nothing under it: every session waits,
/// suspended, saying why; once the user trusts the file, each resumes on
/// its own thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_under_an_untrusted_configuration_resumes_nothing_until_trusted() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().committed().start().await;
    let (z, dept, thread, _cut) = stopped_mid_turn(&mut c).await;

    // The file now hands agents a variable of the user's: it asks for trust.
    let config = c.repo.path.join("governance.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    let changed = text.replacen(
        "launcher:\n",
        "launcher:\n  agent_env: [\"CG_WALK_SECRET\"]\n",
        1,
    );
    assert_ne!(text, changed, "{text}");
    std::fs::write(&config, changed).unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut env = c.env.clone();
    env.retain(|(k, _)| k != "CODEX_GOVERNANCE_TRUST_CONFIG");
    env.extend([
        ("CODEX_GOVERNANCE_TRUST_CONFIG".to_string(), "0".to_string()),
        (
            "CODEX_GOVERNANCE_CONFIG_HOME".to_string(),
            home.path().display().to_string(),
        ),
        ("CG_WALK_SECRET".to_string(), "leak123".to_string()),
    ]);
    c.relaunch_with(&env);
    for id in [&z, &dept] {
        let s = c
            .wait_agent(id, "suspended for trust", |s| {
                s["attention"]["kind"] == "config_trust"
            })
            .await;
        assert_eq!(s["state_text"], "suspended", "{s}");
        assert!(s["state_reason"].as_str().unwrap().contains("trust"), "{s}");
    }
    let api = c.api().clone();
    let resumed = api.audit_events("session_resumed").await;
    assert!(
        resumed.is_empty(),
        "nothing resumed under the untrusted file: {resumed:?}"
    );
    let status = api.status().await;
    let hash = status["config_trust"]["hash"].as_str().unwrap().to_string();
    api.post_ok("/api/trust_config", &json!({"hash": hash}))
        .await;
    resumed_on_their_threads(&c, &z, &dept, &thread).await;
    c.stop().await;
}

/// A plan of one department whose turn the model holds; the launcher is
/// stopped mid-turn. (planner, department, the department's thread, the
/// hold: the turn goes on while it is kept.)
async fn stopped_mid_turn(
    c: &mut Codex,
) -> (String, String, String, std::sync::Arc<tokio::sync::Notify>) {
    c.plans_one_notes_department();
    let cut = c.server.on_held(
        "department (zhilibu)",
        vec![model_server::message("working on it")],
    );
    let z = c.api().start_zhongshu("Plan one department").await;
    let dept = c.first_department().await;
    let before = c
        .wait_agent(&dept, "mid-turn", |s| s["agent_state"] == "working")
        .await;
    let thread = before["thread_id"].as_str().unwrap().to_string();
    c.stop().await;
    (z, dept, thread, cut)
}

/// Both sessions resumed, the department on its own thread, no longer suspended.
async fn resumed_on_their_threads(c: &Codex, z: &str, dept: &str, thread: &str) {
    for id in [z, dept] {
        c.wait_audit("session_resumed", |e| e["session_id"] == id)
            .await;
    }
    let back = c
        .wait_agent(dept, "no longer suspended", |s| {
            s["state_text"] != "suspended"
        })
        .await;
    assert_eq!(back["thread_id"], thread, "{back}");
}
