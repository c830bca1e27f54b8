//! Route by route: every field that the Python tool's dashboard and agent
//! prompts read is present, with a compatible JSON type, at the same route and
//! nesting. The table cites the Python function each field comes from
//! (GitLaughs/codex-governance, `codex_launcher.py`).

#[path = "support/launcher.rs"]
mod support;

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
/// `session_public` fields the dashboard reads (`session.*`).
const SESSION: &[(&str, Kind)] = &[
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
/// `result_public` fields the dashboard and prompts read.
const RESULT: &[(&str, Kind)] = &[
    ("summary", Str),
    ("department", Str),
    ("needs_user_confirmation", Bool),
    ("department_session_id", Str),
    ("parent_session_id", Str),
    ("changed_files", Arr),
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
    ("active_department_sessions", Num),
    ("max_department_sessions", Num),
    ("active_zhongshu_sessions", Num),
    ("model_choices", Arr),
    ("max_terminals", Num),
    ("active_terminals", Num),
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
    let plan = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_eq!(plan["plan"]["ready"], false, "no plan yet: {plan}");
    let assigned = api
        .post_ok(
            "/api/start_assignments",
            &json!({"parent_session_id": z, "assignments": [
                {"department": "zhilibu", "task": "a"}, {"department": "lingyubu", "task": "b"},
                {"department": "gongchengbu", "task": "c"}]}),
        )
        .await;
    check(
        "POST /api/start_assignments",
        &assigned,
        ASSIGNED,
        &mut missing,
    );
    // Fake departments report at once, so how many waited varies: the count
    // must match the list.
    assert_eq!(
        assigned["queued_count"].as_u64().unwrap() as usize,
        assigned["queued"].as_array().unwrap().len(),
        "{assigned}"
    );
    // The departments report (the fake agent writes into the mailbox).
    wait_until("a result", PATIENCE, || async {
        let b = api
            .get_ok(&format!("/api/zhongshu_inbox?id={z}&peek=1"))
            .await;
        (!b["unread_results"].as_array()?.is_empty()).then_some(())
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
    }
    let zs = api.get_ok("/api/zhongshu_sessions").await;
    check(
        "GET /api/zhongshu_sessions",
        &zs,
        ZHONGSHU_SESSIONS,
        &mut missing,
    );
    check(
        "zhongshu_sessions[0]",
        &zs["zhongshu_sessions"][0],
        ZHONGSHU_ENTRY,
        &mut missing,
    );
    let plan = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    check(
        "GET /api/zhongshu_plan",
        &plan,
        &[("ok", Bool), ("session", Obj), ("plan", Obj)],
        &mut missing,
    );
    // Plans registered through start_assignments have no `plan` record: register one.
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": "s", "assignments": [{"department": "zhilibu", "task": "d"}]}),
    )
    .await;
    let plan = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    check("zhongshu_plan.plan", &plan["plan"], PLAN, &mut missing);
    // Every department reports; then the inbox holds still for the read checks.
    wait_until("every department reported", PATIENCE, || async {
        let s = api.status().await;
        let all = departments(&s);
        let idle = s["queue"].as_array()?.is_empty()
            && all.len() == 4
            && all.iter().all(|d| d["report_status"] == "reported");
        idle.then_some(())
    })
    .await;
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
        &[("departments", Arr), ("preflight", Obj)],
        &mut missing,
    );
    let terms = api.get_ok("/api/browser_terminals").await;
    check(
        "GET /api/browser_terminals",
        &terms,
        &[("ok", Bool), ("terminals", Arr)],
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
