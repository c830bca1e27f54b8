//! Route by route: every field that the Python tool's dashboard and agent
//! prompts read is present, with a compatible JSON type, at the same route and
//! nesting. The table cites the Python function each field comes from
//! (GitLaughs/codex-governance, `codex_launcher.py`); what reads it is
//! `dashboard.html` (`checkLauncher`, `refreshSessions`, `renderSessions`,
//! `terminalFromSession`, `showAssignmentModal`, `confirmAssignments`,
//! `pollZhongshuPlan`, `restartZhongshu`, `startDepartment`, the terminal
//! buttons) and the launcher's prompts (`build_zhongshu_resume_prompt` reads
//! the context; the inbox monitor posts `notify_zhongshu` and reads its answer;
//! the Zhongshu and its departments read the inbox and the plan's answer).
//! Where Python gives a string (possibly empty), a string is checked, not null.

use crate::common::launcher as support;

use serde_json::{json, Value};
use support::*;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Bool,
    Num,
    Str,
    StrOrNull,
    Arr,
    Obj,
    ObjOrNull,
    Any,
}

fn fits(v: &Value, k: Kind) -> bool {
    match k {
        Kind::Bool => v.is_boolean(),
        Kind::Num => v.is_number(),
        Kind::Str => v.is_string(),
        Kind::StrOrNull => v.is_string() || v.is_null(),
        Kind::Arr => v.is_array(),
        Kind::Obj => v.is_object(),
        Kind::ObjOrNull => v.is_object() || v.is_null(),
        Kind::Any => true,
    }
}

use Kind::*;

/// `build_status_payload`.
const STATUS: &[(&str, Kind)] = &[
    ("ok", Bool),
    ("api_version", Any),
    ("repo", Str),
    ("project_name", Str),
    ("workflow_doc", Str),
    ("departments", Obj),
    ("active_terminals", Num),
    ("active_department_sessions", Num),
    ("active_zhongshu_sessions", Num),
    ("active_sessions_total", Num),
    ("max_terminals", Num),
    ("max_department_sessions", Num),
    ("model_choices", Arr),
    ("zhongshu_model", Str),
    ("department_model", Str),
    ("ttyd", Obj),
    ("browser_terminals", Arr),
    ("queue", Arr),
    ("department_queue", Arr),
    ("sessions", Arr),
    ("zhongshu_sessions", Arr),
    ("department_sessions", Arr),
];
/// `session_public` fields the dashboard reads (`session.*`), and what
/// `start_codex_terminal` records on every session.
const SESSION: &[(&str, Kind)] = &[
    ("heartbeat_status", Str),
    ("last_activity_at", StrOrNull),
    ("input_history", Arr),
    ("mailbox", Obj),
    ("id", Str),
    ("title", Str),
    ("status", Str),
    ("session_kind", Str),
    ("model", Str),
    ("started_at", Str),
    ("ended_at", StrOrNull),
    ("pid", Any),
    ("prompt_path", Str),
    ("log_path", Str),
    ("department", StrOrNull),
    ("browser_terminal_id", StrOrNull),
    ("browser_terminal_url", StrOrNull),
    ("browser_terminal_kind", StrOrNull),
    ("browser_terminal_title", StrOrNull),
    ("browser_terminal_status", StrOrNull),
    ("browser_terminal_started_at", StrOrNull),
    ("browser_terminal_scope", StrOrNull),
    ("transcript_preview", Str),
    ("role", Str),
];
/// A Zhongshu session (`start_codex_terminal`, `require_zhongshu_session`).
const ZHONGSHU: &[(&str, Kind)] = &[
    ("unread_result_count", Num),
    ("child_department_ids", Arr),
    ("task", Str),
    ("plan_status", Str),
];
/// A department session (`start_codex_terminal`, `register_result`).
const DEPARTMENT: &[(&str, Kind)] = &[
    ("parent_session_id", Str),
    ("report_status", Str),
    ("reported_at", StrOrNull),
    ("auto_closed", Bool),
    ("auto_close_reason", StrOrNull),
    ("last_report_id", StrOrNull),
];
/// `input_history[]` items (`send_session_input`).
const INPUT: &[(&str, Kind)] = &[("text", Str), ("sent_at", Str)];
/// `send_session_input`'s answer.
const SENT: &[(&str, Kind)] = &[("ok", Bool), ("session_id", Str), ("sent_at", Str)];
/// `queue_snapshot()` items: the queue, `queued_departments`.
const QUEUED: &[(&str, Kind)] = &[
    ("department", Str),
    ("title", Str),
    ("model", Str),
    ("parent_session_id", Str),
    ("queued_at", Str),
];
/// `browser_terminal_public` (read by `terminalFromSession`, the terminal wall).
const TERMINAL: &[(&str, Kind)] = &[
    ("id", Str),
    ("status", Str),
    ("pid", Num),
    ("url", Str),
    ("started_at", Str),
    ("ended_at", StrOrNull),
    ("scope", Str),
    ("kind", Str),
    ("read_only", Bool),
    ("title", Str),
    ("session_id", StrOrNull),
];
/// `normalize_plan_assignment`: what `showAssignmentModal` shows.
const ASSIGNMENT: &[(&str, Kind)] = &[
    ("department", Str),
    ("title", Str),
    ("duty", Str),
    ("model", Str),
    ("model_reason", Str),
    ("reason", Str),
    ("task", Str),
    ("files", Arr),
    ("verify", Arr),
    ("selected", Bool),
];
/// `register_zhongshu_plan`'s answer to `POST /api/report_zhongshu_plan`.
const REGISTERED: &[(&str, Kind)] = &[
    ("session_id", Str),
    ("summary", Str),
    ("reported_at", Str),
    ("source", Str),
    ("ready", Bool),
    ("needs_confirmation", Bool),
    ("requested_confirmation", Bool),
    ("assignments", Arr),
    ("auto_dispatch", Obj),
];
/// The limits and counts every plan answer carries (`zhongshu_plan_payload`,
/// `register_zhongshu_plan`, `plan_assignments`).
const PLAN_COUNTS: &[(&str, Kind)] = &[
    ("active_department_sessions", Num),
    ("max_department_sessions", Num),
    ("active_zhongshu_sessions", Num),
    ("model_choices", Arr),
    ("max_terminals", Num),
    ("active_terminals", Num),
];
/// `plan.auto_dispatch` (`pollZhongshuPlan` reads `started.length`, `queued_count`).
const DISPATCH: &[(&str, Kind)] = &[("started", Arr), ("queued_count", Num), ("active", Num)];
/// `plan_assignments`' plan (`POST /api/plan_assignments`).
const PROPOSED: &[(&str, Kind)] = &[
    ("summary", Str),
    ("menxia_required", Bool),
    ("zhongshu_model", Str),
    ("department_model", Str),
    ("assignments", Arr),
];
const PROPOSED_ASSIGNMENT: &[(&str, Kind)] = &[
    ("department", Str),
    ("title", Str),
    ("duty", Str),
    ("files", Arr),
    ("model", Str),
    ("model_reason", Str),
    ("task", Str),
];
/// `zhongshu_context_snapshot` (read by `build_zhongshu_resume_prompt`).
const CONTEXT: &[(&str, Kind)] = &[
    ("session", Obj),
    ("task", Str),
    ("plan", Obj),
    ("reports", Arr),
    ("children", Arr),
];
/// `notify_zhongshu_from_monitor`'s answer.
const NOTIFIED: &[(&str, Kind)] = &[("ok", Bool), ("status", Str), ("prompt", Str)];
/// `zhongshu_sessions_payload`.
const ZHONGSHU_SESSIONS: &[(&str, Kind)] = &[
    ("ok", Bool),
    ("active_zhongshu_sessions", Num),
    ("active_department_sessions", Num),
    ("max_department_sessions", Num),
    ("queue", Arr),
    ("zhongshu_sessions", Arr),
];
const ZHONGSHU_ENTRY: &[(&str, Kind)] = &[
    ("child_departments", Arr),
    ("queued_departments", Arr),
    ("report_count", Num),
    ("unread_result_count", Num),
];
/// `zhongshu_inbox_payload`.
const INBOX: &[(&str, Kind)] = &[
    ("ok", Bool),
    ("session", Obj),
    ("unread_results", Arr),
    ("read_results", Arr),
    ("running_departments", Arr),
    ("completed_departments", Arr),
    ("queued_departments", Arr),
    ("unread_count", Num),
];
/// `result_public` fields the dashboard and prompts read (a mailbox result).
const RESULT: &[(&str, Kind)] = &[
    ("report_id", Str),
    ("summary", Str),
    ("department", Str),
    ("needs_user_confirmation", Bool),
    ("department_session_id", Str),
    ("parent_session_id", Str),
    ("changed_files", Arr),
    ("verifications_run", Arr),
    ("verifications_skipped", Arr),
    ("risks", Arr),
    ("next_action", Str),
    ("reported_at", Str),
    ("source", Str),
    ("read", Bool),
    ("mailbox_file", Str),
    ("handoff_packet", Str),
];
/// `zhongshu_plan_payload` / `register_zhongshu_plan`.
const PLAN: &[(&str, Kind)] = &[
    ("session_id", Str),
    ("summary", Str),
    ("reported_at", StrOrNull),
    ("source", StrOrNull),
    ("ready", Bool),
    ("needs_confirmation", Bool),
    ("requested_confirmation", Bool),
    ("assignments", Arr),
    ("auto_dispatch", Obj),
];
/// `start_codex_session`'s answer.
const STARTED: &[(&str, Kind)] = &[
    ("ok", Bool),
    ("prompt_path", Str),
    ("pid", Num),
    ("active", Num),
    ("active_zhongshu_sessions", Num),
    ("active_department_sessions", Num),
    ("active_sessions_total", Num),
    ("session", Obj),
    ("browser_terminal", ObjOrNull),
];
/// `queue_assignments`' answer (`/api/start_assignments`).
const ASSIGNED: &[(&str, Kind)] = &[
    ("ok", Bool),
    ("started", Arr),
    ("queued", Arr),
    ("queued_count", Num),
    ("active", Num),
    ("active_department_sessions", Num),
    ("active_zhongshu_sessions", Num),
];

fn check(route: &str, v: &Value, fields: &[(&str, Kind)], missing: &mut Vec<String>) {
    for (name, kind) in fields {
        match v.get(name) {
            Some(x) if fits(x, *kind) => {}
            Some(x) => missing.push(format!("{route}: {name} is {x} (expected {kind:?})")),
            None => missing.push(format!("{route}: {name} missing")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_python_era_field_is_present() {
    let (repo, l) = serve(&["--lines", "2", "--summary", "parity summary"]).await;
    let api = &l.api;
    let mut missing = Vec::new();
    let started = api
        .post_ok("/api/start_zhongshu_session", &json!({"task": "parity"}))
        .await;
    check(
        "POST /api/start_zhongshu_session",
        &started,
        STARTED,
        &mut missing,
    );
    let z = started["session_id"].as_str().unwrap().to_string();
    check("start.session", &started["session"], SESSION, &mut missing);
    check("start.session", &started["session"], ZHONGSHU, &mut missing);
    check(
        "start.browser_terminal",
        &started["browser_terminal"],
        TERMINAL,
        &mut missing,
    );
    let plan = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_eq!(plan["plan"]["ready"], false, "no plan yet: {plan}");

    // A plan registered over the API: its answer is the Python tool's plan.
    let registered = api
        .post_ok(
            "/api/report_zhongshu_plan",
            &json!({"session_id": z, "summary": "s",
                    "assignments": [{"department": "zhilibu", "task": "d"}]}),
        )
        .await;
    check(
        "POST /api/report_zhongshu_plan",
        &registered,
        &[("ok", Bool), ("session_id", Str), ("plan", Obj)],
        &mut missing,
    );
    let p = &registered["plan"];
    check("report_zhongshu_plan.plan", p, REGISTERED, &mut missing);
    check("report_zhongshu_plan.plan", p, PLAN_COUNTS, &mut missing);
    check(
        "plan.auto_dispatch",
        &p["auto_dispatch"],
        DISPATCH,
        &mut missing,
    );
    check(
        "plan.assignments[0]",
        &p["assignments"][0],
        ASSIGNMENT,
        &mut missing,
    );

    // Three departments that work a moment: the third waits in the queue.
    let work = "[[fake-agent: --work-seconds 3]]";
    let assigned = api
        .post_ok(
            "/api/start_assignments",
            &json!({"parent_session_id": z, "assignments": [
                {"department": "zhilibu", "task": format!("a {work}")},
                {"department": "lingyubu", "task": format!("b {work}")},
                {"department": "gongchengbu", "task": format!("c {work}")}]}),
        )
        .await;
    check(
        "POST /api/start_assignments",
        &assigned,
        ASSIGNED,
        &mut missing,
    );
    assert_eq!(
        assigned["queued_count"].as_u64().unwrap() as usize,
        assigned["queued"].as_array().unwrap().len(),
        "{assigned}"
    );
    match assigned["queued"].as_array().and_then(|q| q.first()) {
        Some(q) => check("start_assignments.queued[0]", q, QUEUED, &mut missing),
        None => missing.push(format!("nothing queued beyond the limit: {assigned}")),
    }
    let status = api.status().await;
    match status["queue"].as_array().and_then(|q| q.first()) {
        Some(q) => check("status.queue[0]", q, QUEUED, &mut missing),
        None => missing.push(format!("the queue is empty: {status}")),
    }

    // Typing into the Zhongshu: the answer and the history in Python's words.
    let sent = api
        .post_ok(
            "/api/session_input",
            &json!({"session_id": z, "input": "hello"}),
        )
        .await;
    check("POST /api/session_input", &sent, SENT, &mut missing);
    let zs = api.session(&z).await;
    check(
        "input_history[0]",
        &zs["input_history"][0],
        INPUT,
        &mut missing,
    );

    // The departments report (the fake agent writes into the mailbox).
    wait_until("every department reported", PATIENCE, || async {
        let s = api.status().await;
        let all = departments(&s);
        let idle = s["queue"].as_array()?.is_empty()
            && all.len() == 4
            && all.iter().all(|d| d["report_status"] == "reported");
        idle.then_some(())
    })
    .await;
    let status = api.status().await;
    check("GET /api/status", &status, STATUS, &mut missing);
    assert_eq!(
        status["departments"]["zhilibu"][0], "治理部",
        "{{key: [title, duty]}}"
    );
    for s in status["sessions"].as_array().unwrap() {
        check("status.sessions[]", s, SESSION, &mut missing);
        let kind = if s["session_kind"] == "zhongshu" {
            ZHONGSHU
        } else {
            DEPARTMENT
        };
        check("status.sessions[]", s, kind, &mut missing);
    }
    for t in status["browser_terminals"].as_array().unwrap() {
        check("status.browser_terminals[]", t, TERMINAL, &mut missing);
    }
    let zs = api.get_ok("/api/zhongshu_sessions").await;
    check(
        "GET /api/zhongshu_sessions",
        &zs,
        ZHONGSHU_SESSIONS,
        &mut missing,
    );
    let entry = &zs["zhongshu_sessions"][0];
    check("zhongshu_sessions[0]", entry, ZHONGSHU_ENTRY, &mut missing);
    for child in entry["child_departments"].as_array().unwrap() {
        check("child_departments[]", child, SESSION, &mut missing);
        check("child_departments[]", child, DEPARTMENT, &mut missing);
    }
    let plan = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    check(
        "GET /api/zhongshu_plan",
        &plan,
        &[("ok", Bool), ("session", Obj), ("plan", Obj)],
        &mut missing,
    );
    check("zhongshu_plan.plan", &plan["plan"], PLAN, &mut missing);
    check(
        "zhongshu_plan.plan",
        &plan["plan"],
        PLAN_COUNTS,
        &mut missing,
    );
    let peek = api
        .get_ok(&format!("/api/zhongshu_inbox?id={z}&peek=1"))
        .await;
    check("GET /api/zhongshu_inbox", &peek, INBOX, &mut missing);
    check(
        "inbox.unread_results[0]",
        &peek["unread_results"][0],
        RESULT,
        &mut missing,
    );
    // The handoff packet starts with the Python tool's header lines.
    let packet = peek["unread_results"][0]["handoff_packet"]
        .as_str()
        .expect("a packet path");
    let text = std::fs::read_to_string(packet).unwrap();
    let head: Vec<&str> = text.lines().take(7).collect();
    assert_eq!(head[0], "# Codex Department Handoff", "{text}");
    for (line, key) in head[2..7].iter().zip([
        "parent_session_id: ",
        "department_session_id: ",
        "department: ",
        "source: ",
        "reported_at: ",
    ]) {
        assert!(line.starts_with(key), "{key:?} in {head:?}");
    }
    // Reading (no peek) answers the newly read results as unread, as the Python tool does.
    let unread_before = peek["unread_results"].as_array().unwrap().len();
    let read = api.get_ok(&format!("/api/zhongshu_inbox?id={z}")).await;
    assert_eq!(
        read["unread_results"].as_array().unwrap().len(),
        unread_before,
        "{read}"
    );
    let again = api.get_ok(&format!("/api/zhongshu_inbox?id={z}")).await;
    assert!(
        again["unread_results"].as_array().unwrap().is_empty(),
        "{again}"
    );
    assert!(
        again["read_results"].as_array().unwrap().len() >= unread_before,
        "{again}"
    );
    let ctx = api.get_ok(&format!("/api/zhongshu_context?id={z}")).await;
    check(
        "GET /api/zhongshu_context",
        &ctx,
        &[("ok", Bool), ("context", Obj)],
        &mut missing,
    );
    check(
        "zhongshu_context.context",
        &ctx["context"],
        CONTEXT,
        &mut missing,
    );
    let report = api.get_ok("/api/report").await;
    check(
        "GET /api/report",
        &report,
        &[("ok", Bool), ("report", Obj)],
        &mut missing,
    );
    check(
        "report.report",
        &report["report"],
        &[
            ("mode", Str),
            ("changed_count", Num),
            ("provinces", Arr),
            ("departments", Arr),
            ("risks", Arr),
            ("verify_commands", Arr),
            ("preflight", Obj),
        ],
        &mut missing,
    );

    // A proposal from the report (README.md routes to zhilibu).
    let proposal = api
        .post_ok("/api/plan_assignments", &json!({"task": "tidy the docs"}))
        .await;
    check(
        "POST /api/plan_assignments",
        &proposal,
        &[("ok", Bool), ("plan", Obj), ("report", Obj)],
        &mut missing,
    );
    check(
        "plan_assignments.plan",
        &proposal["plan"],
        PROPOSED,
        &mut missing,
    );
    check(
        "plan_assignments.report",
        &proposal["report"],
        &[("departments", Arr), ("risks", Arr), ("changed_count", Num)],
        &mut missing,
    );
    for a in proposal["plan"]["assignments"].as_array().unwrap() {
        check(
            "plan_assignments.plan.assignments[]",
            a,
            PROPOSED_ASSIGNMENT,
            &mut missing,
        );
    }

    // A department started by hand, now that slots are free.
    let dept = api
        .post_ok(
            "/api/start_department",
            &json!({"parent_session_id": z, "department": "menxia", "task": "review"}),
        )
        .await;
    check("POST /api/start_department", &dept, STARTED, &mut missing);

    // Terminals: the list, a shell started and closed.
    let terms = api.get_ok("/api/browser_terminals").await;
    check(
        "GET /api/browser_terminals",
        &terms,
        &[("ok", Bool), ("terminals", Arr)],
        &mut missing,
    );
    for t in terms["terminals"].as_array().unwrap() {
        check("browser_terminals.terminals[]", t, TERMINAL, &mut missing);
    }
    let shell = api.post_ok("/api/browser_terminal/start", &json!({})).await;
    check(
        "browser_terminal/start.terminal",
        &shell["terminal"],
        TERMINAL,
        &mut missing,
    );
    let closed = api
        .post_ok(
            "/api/browser_terminal/close",
            &json!({"id": shell["terminal"]["id"]}),
        )
        .await;
    check(
        "browser_terminal/close.terminal",
        &closed["terminal"],
        TERMINAL,
        &mut missing,
    );

    // What the inbox monitor posts, and a resume.
    let notified = api
        .post_ok(
            "/api/notify_zhongshu",
            &json!({"parent_session_id": z, "summary": "two reported", "risk_count": 0}),
        )
        .await;
    check(
        "POST /api/notify_zhongshu",
        &notified,
        NOTIFIED,
        &mut missing,
    );
    let resumed = api
        .post_ok("/api/restart_zhongshu_session", &json!({"session_id": z}))
        .await;
    check(
        "POST /api/restart_zhongshu_session",
        &resumed,
        &[("ok", Bool), ("resumed_inline", Bool), ("session", Obj)],
        &mut missing,
    );
    assert!(
        missing.is_empty(),
        "Python-era fields missing or of another type:\n{}",
        missing.join("\n")
    );
    drop(repo);
    l.stop().await;
}
