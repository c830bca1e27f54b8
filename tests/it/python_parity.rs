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
//!
//! Line numbers cite GitLaughs/codex-governance at commit 7da9f0b
//! (`codex_launcher.py`, `dashboard.html`, `launch.ps1`, `codex_governance.py`,
//! `test_codex_launcher.py`). Below the field table, one test per behaviour a
//! Python client branches on.

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
/// `probe_ttyd` (codex_launcher.py:148-160; test_codex_launcher.py:512-518
/// asserts `enabled`, `available`, `port`).
const TTYD: &[(&str, Kind)] = &[("enabled", Bool), ("available", Bool), ("port", Num)];
/// A Zhongshu session (`start_codex_terminal`, `require_zhongshu_session`;
/// `department` is its id prefix `zhongshu`, codex_launcher.py:1450).
const ZHONGSHU: &[(&str, Kind)] = &[
    ("department", Str),
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
/// `input_history[]` items (`send_session_input`, codex_launcher.py:1356).
const INPUT: &[(&str, Kind)] = &[
    ("text", Str),
    ("prompt", Str),
    ("sent_at", Str),
    ("ok", Bool),
    ("error", Str),
];
/// `send_session_input`'s answer.
const SENT: &[(&str, Kind)] = &[("ok", Bool), ("session_id", Str), ("sent_at", Str)];
/// A Zhongshu after `register_zhongshu_plan` (codex_launcher.py:1017-1019).
const ZHONGSHU_PLANNED: &[(&str, Kind)] = &[
    ("plan_status", Str),
    ("plan_reported_at", Str),
    ("plan_auto_dispatch", Obj),
];
/// `queue_snapshot()` items: the queue, `queued_departments`.
const QUEUED: &[(&str, Kind)] = &[
    ("department", Str),
    ("title", Str),
    ("model", Str),
    ("parent_session_id", Str),
    ("queued_at", Str),
];
/// `browser_terminal_public` (read by `terminalFromSession`, the terminal wall;
/// `host` from codex_launcher.py:354-359, asserted by test_codex_launcher.py:565).
const TERMINAL: &[(&str, Kind)] = &[
    ("id", Str),
    ("host", Str),
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
/// `notify_zhongshu_from_monitor`'s answer (codex_launcher.py:879-888).
const NOTIFIED: &[(&str, Kind)] = &[
    ("ok", Bool),
    ("status", Str),
    ("error", Str),
    ("prompt", Str),
];
/// `restart_zhongshu_session` inline (codex_launcher.py:1583-1588).
const RESTARTED_INLINE: &[(&str, Kind)] = &[
    ("ok", Bool),
    ("resumed_inline", Bool),
    ("source_session_id", Str),
    ("session", Obj),
];
/// The `result_registered` audit line (codex_launcher.py:1130-1138;
/// test_codex_launcher.py:364-366 reads `risk_count`).
const AUDIT_RESULT: &[(&str, Kind)] = &[
    ("ts", Str),
    ("event", Str),
    ("parent_session_id", Str),
    ("report_id", Str),
    ("department", Str),
    ("source", Str),
    ("needs_user_confirmation", Bool),
    ("risk_count", Num),
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

/// The GET routes whose answer is `ok` and one object: the path, the
/// answer's fields, the object's key and the field tables it must meet.
type Route = (
    String,
    &'static [(&'static str, Kind)],
    &'static str,
    &'static [&'static [(&'static str, Kind)]],
);

/// The plan of planner `z` once its departments reported.
fn the_plan_route(z: &str) -> Route {
    (
        format!("/api/zhongshu_plan?id={z}"),
        &[("ok", Bool), ("session", Obj), ("plan", Obj)],
        "plan",
        &[PLAN, PLAN_COUNTS],
    )
}

/// The routes read after the inbox, named for planner `z`.
fn routes_after_the_inbox(z: &str) -> Vec<Route> {
    vec![
        (
            format!("/api/zhongshu_context?id={z}"),
            &[("ok", Bool), ("context", Obj)],
            "context",
            &[CONTEXT],
        ),
        (
            "/api/report".into(),
            &[("ok", Bool), ("report", Obj)],
            "report",
            &[&[
                ("mode", Str),
                ("changed_count", Num),
                ("provinces", Arr),
                ("departments", Arr),
                ("risks", Arr),
                ("verify_commands", Arr),
                ("preflight", Obj),
            ]],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_python_era_field_is_present() {
    let (repo, l) = serve(&["--lines", "2", "--summary", "parity summary"]).await;
    let mut p = Parity {
        api: &l.api,
        missing: Vec::new(),
    };
    let z = p.start_a_planner().await;
    p.register_a_plan(&z).await;
    p.queue_three_departments(&z).await;
    p.type_into_the_planner(&z).await;
    p.wait_until_every_department_reported().await;
    p.the_status_and_its_sessions().await;
    p.the_planners_list().await;
    let (path, top, key, inner) = the_plan_route(&z);
    p.get_checked(&path, top, key, inner).await;
    p.the_inbox_and_its_packet(&z).await;
    for (path, top, key, inner) in routes_after_the_inbox(&z) {
        p.get_checked(&path, top, key, inner).await;
    }
    p.a_proposal_from_the_report().await;
    p.a_department_and_a_shell_by_hand(&z).await;
    p.notify_and_resume_the_planner(&z).await;
    p.restart_the_exited_planner(&z).await;
    assert!(
        p.missing.is_empty(),
        "Python-era fields missing or of another type:\n{}",
        p.missing.join("\n")
    );
    drop(repo);
    l.stop().await;
}

/// Walks the routes in the order a Python client meets them, collecting
/// every field that is missing or of another type (the test fails once, on
/// the whole list); values a client branches on are asserted on the spot.
struct Parity<'a> {
    api: &'a Api,
    missing: Vec<String>,
}

impl Parity<'_> {
    fn check(&mut self, route: &str, v: &Value, fields: &[(&str, Kind)]) {
        for (name, kind) in fields {
            match v.get(name) {
                Some(x) if fits(x, *kind) => {}
                Some(x) => self
                    .missing
                    .push(format!("{route}: {name} is {x} (expected {kind:?})")),
                None => self.missing.push(format!("{route}: {name} missing")),
            }
        }
    }

    /// GETs `path`: its answer meets `top`, its object `key` each of `inner`.
    async fn get_checked(
        &mut self,
        path: &str,
        top: &[(&str, Kind)],
        key: &str,
        inner: &[&[(&str, Kind)]],
    ) {
        let answer = self.api.get_ok(path).await;
        let route = path.split('?').next().unwrap();
        self.check(&format!("GET {route}"), &answer, top);
        let name = format!("{}.{key}", route.trim_start_matches("/api/"));
        for fields in inner {
            self.check(&name, &answer[key], fields);
        }
    }

    /// A Zhongshu started as the dashboard starts one; no plan yet. Returns it.
    async fn start_a_planner(&mut self) -> String {
        let api = self.api;
        let started = api
            .post_ok("/api/start_zhongshu_session", &json!({"task": "parity"}))
            .await;
        self.check("POST /api/start_zhongshu_session", &started, STARTED);
        let z = started["session_id"].as_str().unwrap().to_string();
        self.check("start.session", &started["session"], SESSION);
        self.check("start.session", &started["session"], ZHONGSHU);
        self.check(
            "start.browser_terminal",
            &started["browser_terminal"],
            TERMINAL,
        );
        let plan = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
        assert_eq!(plan["plan"]["ready"], false, "no plan yet: {plan}");
        // Values the Python clients branch on.
        let first = api.status().await;
        // launch.ps1:45 `[bool]$status.ok -and [int]$status.api_version -ge 3`.
        assert!(first["api_version"].as_u64().unwrap() >= 3, "{first}");
        let session = &started["session"];
        // dashboard.html:1108 (`session_kind === "zhongshu"`), codex_launcher.py:1450.
        assert_eq!(session["session_kind"], "zhongshu", "{session}");
        assert_eq!(session["department"], "zhongshu", "{session}");
        assert_eq!(session["status"], "running", "dashboard.html:1372, :1391");
        // dashboard.html:1131: a session's own terminal types (`read_only` false).
        assert_eq!(session["browser_terminal_kind"], "codex_session");
        assert_eq!(
            started["browser_terminal"]["status"], "running",
            "dashboard.html:1185"
        );
        assert_eq!(started["browser_terminal"]["read_only"], false);
        z
    }

    /// A plan registered over the API: its answer is the Python tool's plan.
    async fn register_a_plan(&mut self, z: &str) {
        let registered = self
            .api
            .post_ok(
                "/api/report_zhongshu_plan",
                &json!({"session_id": z, "summary": "s",
                        "assignments": [{"department": "zhilibu", "task": "d"}]}),
            )
            .await;
        self.check(
            "POST /api/report_zhongshu_plan",
            &registered,
            &[("ok", Bool), ("session_id", Str), ("plan", Obj)],
        );
        let planned = self.api.session(z).await;
        self.check("zhongshu after a plan", &planned, ZHONGSHU_PLANNED);
        let p = &registered["plan"];
        self.check("report_zhongshu_plan.plan", p, REGISTERED);
        // dashboard.html:1773-1780: ready, then `auto_dispatch.started.length`.
        assert_eq!(p["ready"], true, "{p}");
        assert_eq!(
            p["auto_dispatch"]["started"].as_array().map(Vec::len),
            Some(1),
            "{p}"
        );
        self.check("report_zhongshu_plan.plan", p, PLAN_COUNTS);
        self.check("plan.auto_dispatch", &p["auto_dispatch"], DISPATCH);
        self.check("plan.assignments[0]", &p["assignments"][0], ASSIGNMENT);
    }

    /// Three departments that work a moment: the third waits in the queue.
    async fn queue_three_departments(&mut self, z: &str) {
        let work = "[[fake-agent: --work-seconds 3]]";
        let assigned = self
            .api
            .post_ok(
                "/api/start_assignments",
                &json!({"parent_session_id": z, "assignments": [
                    {"department": "zhilibu", "task": format!("a {work}")},
                    {"department": "lingyubu", "task": format!("b {work}")},
                    {"department": "gongchengbu", "task": format!("c {work}")}]}),
            )
            .await;
        self.check("POST /api/start_assignments", &assigned, ASSIGNED);
        assert_eq!(
            assigned["queued_count"].as_u64().unwrap() as usize,
            assigned["queued"].as_array().unwrap().len(),
            "{assigned}"
        );
        match assigned["queued"].as_array().and_then(|q| q.first()) {
            Some(q) => self.check("start_assignments.queued[0]", q, QUEUED),
            None => self
                .missing
                .push(format!("nothing queued beyond the limit: {assigned}")),
        }
        let status = self.api.status().await;
        match status["queue"].as_array().and_then(|q| q.first()) {
            Some(q) => self.check("status.queue[0]", q, QUEUED),
            None => self.missing.push(format!("the queue is empty: {status}")),
        }
    }

    /// Typing into the Zhongshu: the answer and the history in Python's words.
    async fn type_into_the_planner(&mut self, z: &str) {
        let sent = self
            .api
            .post_ok(
                "/api/session_input",
                &json!({"session_id": z, "input": "hello"}),
            )
            .await;
        self.check("POST /api/session_input", &sent, SENT);
        let zs = self.api.session(z).await;
        self.check("input_history[0]", &zs["input_history"][0], INPUT);
    }

    /// The departments report (the fake agent writes into the mailbox).
    async fn wait_until_every_department_reported(&self) {
        wait_until("every department reported", PATIENCE, || async {
            let s = self.api.status().await;
            let all = departments(&s);
            let idle = s["queue"].as_array()?.is_empty()
                && all.len() == 4
                && all.iter().all(|d| d["report_status"] == "reported");
            idle.then_some(())
        })
        .await;
    }

    /// `GET /api/status`: its fields, ttyd, every session by its kind, every
    /// terminal; departments as `{key: [title, duty]}`.
    async fn the_status_and_its_sessions(&mut self) {
        let status = self.api.status().await;
        self.check("GET /api/status", &status, STATUS);
        self.check("status.ttyd", &status["ttyd"], TTYD);
        assert_eq!(
            status["departments"]["zhilibu"][0], "治理部",
            "{{key: [title, duty]}}"
        );
        for s in status["sessions"].as_array().unwrap() {
            self.check("status.sessions[]", s, SESSION);
            let kind = if s["session_kind"] == "zhongshu" {
                ZHONGSHU
            } else {
                DEPARTMENT
            };
            self.check("status.sessions[]", s, kind);
        }
        for t in status["browser_terminals"].as_array().unwrap() {
            self.check("status.browser_terminals[]", t, TERMINAL);
        }
    }

    /// `GET /api/zhongshu_sessions`: each planner with its child departments.
    async fn the_planners_list(&mut self) {
        let zs = self.api.get_ok("/api/zhongshu_sessions").await;
        self.check("GET /api/zhongshu_sessions", &zs, ZHONGSHU_SESSIONS);
        let entry = &zs["zhongshu_sessions"][0];
        self.check("zhongshu_sessions[0]", entry, ZHONGSHU_ENTRY);
        for child in entry["child_departments"].as_array().unwrap() {
            self.check("child_departments[]", child, SESSION);
            self.check("child_departments[]", child, DEPARTMENT);
        }
    }

    /// The inbox, peeked: its results, the handoff packet with the Python
    /// tool's header lines; a read answers the newly read results as unread,
    /// as the Python tool does.
    async fn the_inbox_and_its_packet(&mut self, z: &str) {
        let api = self.api;
        let peek = api
            .get_ok(&format!("/api/zhongshu_inbox?id={z}&peek=1"))
            .await;
        self.check("GET /api/zhongshu_inbox", &peek, INBOX);
        self.check(
            "inbox.unread_results[0]",
            &peek["unread_results"][0],
            RESULT,
        );
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
    }

    /// A proposal from the report (README.md routes to zhilibu).
    async fn a_proposal_from_the_report(&mut self) {
        let proposal = self
            .api
            .post_ok("/api/plan_assignments", &json!({"task": "tidy the docs"}))
            .await;
        self.check(
            "POST /api/plan_assignments",
            &proposal,
            &[("ok", Bool), ("plan", Obj), ("report", Obj)],
        );
        self.check("plan_assignments.plan", &proposal["plan"], PROPOSED);
        self.check(
            "plan_assignments.report",
            &proposal["report"],
            &[("departments", Arr), ("risks", Arr), ("changed_count", Num)],
        );
        for a in proposal["plan"]["assignments"].as_array().unwrap() {
            self.check(
                "plan_assignments.plan.assignments[]",
                a,
                PROPOSED_ASSIGNMENT,
            );
        }
    }

    /// A department started by hand, now that slots are free; terminals: the
    /// list, a shell started and closed.
    async fn a_department_and_a_shell_by_hand(&mut self, z: &str) {
        let api = self.api;
        let dept = api
            .post_ok(
                "/api/start_department",
                &json!({"parent_session_id": z, "department": "menxia", "task": "review"}),
            )
            .await;
        self.check("POST /api/start_department", &dept, STARTED);
        let terms = api.get_ok("/api/browser_terminals").await;
        self.check(
            "GET /api/browser_terminals",
            &terms,
            &[("ok", Bool), ("terminals", Arr)],
        );
        for t in terms["terminals"].as_array().unwrap() {
            self.check("browser_terminals.terminals[]", t, TERMINAL);
        }
        let shell = api.post_ok("/api/browser_terminal/start", &json!({})).await;
        self.check(
            "browser_terminal/start.terminal",
            &shell["terminal"],
            TERMINAL,
        );
        let closed = api
            .post_ok(
                "/api/browser_terminal/close",
                &json!({"id": shell["terminal"]["id"]}),
            )
            .await;
        self.check(
            "browser_terminal/close.terminal",
            &closed["terminal"],
            TERMINAL,
        );
    }

    /// What the inbox monitor posts, a resume of the running planner
    /// (inline), and the audit line the Python tool wrote for each result.
    async fn notify_and_resume_the_planner(&mut self, z: &str) {
        let api = self.api;
        let notified = api
            .post_ok(
                "/api/notify_zhongshu",
                &json!({"parent_session_id": z, "summary": "two reported", "risk_count": 0}),
            )
            .await;
        self.check("POST /api/notify_zhongshu", &notified, NOTIFIED);
        let resumed = api
            .post_ok("/api/restart_zhongshu_session", &json!({"session_id": z}))
            .await;
        self.check(
            "POST /api/restart_zhongshu_session",
            &resumed,
            RESTARTED_INLINE,
        );
        // dashboard.html:1813 branches on `resumed_inline`.
        assert_eq!(resumed["resumed_inline"], true, "{resumed}");
        assert_eq!(resumed["session"]["id"], json!(z), "{resumed}");
        let registered = api.audit_events("result_registered").await;
        match registered.last() {
            Some(e) => self.check("audit result_registered", e, AUDIT_RESULT),
            None => self.missing.push("no result_registered audit line".into()),
        }
    }

    /// An exited Zhongshu restarts as a new session, answered like a start
    /// (codex_launcher.py:1618; dashboard.html:1811 reads session.id).
    async fn restart_the_exited_planner(&mut self, z: &str) {
        let api = self.api;
        api.post_ok("/api/close_session", &json!({"session_id": z}))
            .await;
        let renewed = api
            .post_ok("/api/restart_zhongshu_session", &json!({"session_id": z}))
            .await;
        self.check(
            "POST /api/restart_zhongshu_session (exited)",
            &renewed,
            STARTED,
        );
        assert_ne!(renewed["resumed_inline"], true, "a new session: {renewed}");
        assert_ne!(renewed["session"]["id"], json!(z), "{renewed}");
    }
}

/// Polls until the inbox of `z` (peeked) holds a result matching `pred`.
async fn wait_result(api: &Api, z: &str, pred: impl Fn(&Value) -> bool) -> Value {
    wait_until("a result in the inbox", PATIENCE, || async {
        let inbox = api
            .get_ok(&format!("/api/zhongshu_inbox?id={z}&peek=1"))
            .await;
        ["unread_results", "read_results"]
            .iter()
            .flat_map(|k| inbox[*k].as_array().cloned().unwrap_or_default())
            .find(|r| pred(r))
    })
    .await
}

/// A department that ends without a report: the launcher's fallback result,
/// as the Python tool registered it (codex_launcher.py:1177-1211): its
/// session says `reported` (`register_result`, :1146; the Python dashboard
/// shows `回传 reported`, dashboard.html:1398), its packet has the `Skipped:`
/// line (:600-603), and its audit line counts its risks (:1130-1138).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_department_is_reported_by_the_launchers_fallback_as_in_python() {
    let (repo, l) = serve(&[]).await;
    let api = &l.api;
    let z = api.start_zhongshu("fallback").await;
    let d = api
        .post_ok(
            "/api/start_department",
            &json!({"parent_session_id": z, "department": "lingyubu",
                    "task": "quiet [[fake-agent: --no-report]]"}),
        )
        .await["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = wait_result(api, &z, |r| r["source"] == "launcher_fallback").await;
    let s = api
        .wait_session(&d, "reported", |s| s["report_status"] == "reported")
        .await;
    assert_eq!(s["last_report_id"], r["report_id"], "{s}");
    assert!(s["reported_at"].is_string(), "{s}");
    assert_eq!(
        s["state"], "no_report",
        "its state still says it ended without a report: {s}"
    );
    let packet = std::fs::read_to_string(r["handoff_packet"].as_str().unwrap()).unwrap();
    assert!(packet.lines().any(|l| l == "Skipped:"), "{packet}");
    let line = api
        .audit_events("result_registered")
        .await
        .into_iter()
        .find(|e| e["department_session_id"] == d)
        .expect("the fallback's audit line");
    assert_eq!(line["risk_count"], json!(1), "{line}");
    assert_eq!(line["needs_user_confirmation"], json!(false), "{line}");
    drop(repo);
    l.stop().await;
}

/// `plan.auto_dispatch` is this plan's dispatch: the Python dashboard says
/// "中书省已自动委派：启动 N 个部门" from `started.length` (dashboard.html:1778-1780),
/// so a new plan that waits for confirmation must not list the sessions of
/// the plan before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_awaiting_confirmation_lists_none_of_the_previous_plans_sessions() {
    let (repo, l) = serve(&[]).await;
    let api = &l.api;
    let z = api.start_zhongshu("two plans").await;
    let first = api
        .post_ok(
            "/api/report_zhongshu_plan",
            &json!({"session_id": z, "summary": "one",
                    "assignments": [{"department": "zhilibu", "task": "docs"}]}),
        )
        .await;
    assert_eq!(
        first["plan"]["auto_dispatch"]["started"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{first}"
    );
    let second = api
        .post_ok(
            "/api/report_zhongshu_plan",
            &json!({"session_id": z, "summary": "two", "needs_confirmation": true,
                    "assignments": [{"department": "lingyubu", "task": "code"}]}),
        )
        .await;
    assert_eq!(
        second["plan"]["auto_dispatch"]["started"],
        json!([]),
        "{second}"
    );
    assert_eq!(second["plan"]["auto_dispatch"]["queued_count"], json!(0));
    let shown = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_eq!(
        shown["plan"]["auto_dispatch"]["started"],
        json!([]),
        "{shown}"
    );
    assert_eq!(shown["plan"]["requested_confirmation"], json!(true));
    assert_eq!(shown["plan"]["needs_confirmation"], json!(true), "waiting");
    let started = api
        .post_ok("/api/start_assignments", &json!({"parent_session_id": z}))
        .await;
    let shown = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_eq!(
        shown["plan"]["needs_confirmation"],
        json!(false),
        "confirmed, it waits no more: {shown}"
    );
    assert_eq!(shown["plan"]["requested_confirmation"], json!(true));
    assert_eq!(
        shown["plan"]["auto_dispatch"]["started"],
        json!([started["started"][0]["id"]]),
        "{shown}"
    );
    drop(repo);
    l.stop().await;
}

/// A read that marks results answers them as `unread_results` and, as the
/// Python tool did (codex_launcher.py:1228-1233), every read result, those
/// just marked included, as `read_results`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_answers_what_it_marked_in_read_results_too() {
    let (repo, l) = serve(&[]).await;
    let api = &l.api;
    let z = api.start_zhongshu("read").await;
    api.post_ok(
        "/api/start_department",
        &json!({"parent_session_id": z, "department": "zhilibu", "task": "docs"}),
    )
    .await;
    let r = wait_result(api, &z, |r| r["source"] == "mailbox").await;
    let read = api.get_ok(&format!("/api/zhongshu_inbox?id={z}")).await;
    let ids = |k: &str| -> Vec<Value> {
        read[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["report_id"].clone())
            .collect()
    };
    assert_eq!(ids("unread_results"), [r["report_id"].clone()], "{read}");
    assert_eq!(ids("read_results"), [r["report_id"].clone()], "{read}");
    drop(repo);
    l.stop().await;
}

/// The keys the Python server took besides the documented ones:
/// `report_zhongshu_plan` by `parent_session_id` or `zhongshu_session_id`
/// (codex_launcher.py:2088-2091), `start_assignments` and `start_department`
/// by `zhongshu_session_id` (:2064-2066, :2079-2081; the `_for_zhongshu`
/// route only with one named, :2067-2068), `notify_zhongshu` by
/// `session_id` (:2100-2103).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_servers_other_request_keys_are_accepted() {
    let (repo, l) = serve(&[]).await;
    let api = &l.api;
    let z = api.start_zhongshu("keys").await;
    for key in ["parent_session_id", "zhongshu_session_id"] {
        let p = api
            .post_ok(
                "/api/report_zhongshu_plan",
                &json!({key: z, "summary": key, "assignments": []}),
            )
            .await;
        assert_eq!(p["session_id"], json!(z), "{key}: {p}");
        assert_eq!(p["plan"]["summary"], json!(key));
    }
    let d = api
        .post_ok(
            "/api/start_department",
            &json!({"zhongshu_session_id": z, "department": "zhilibu", "task": "docs"}),
        )
        .await;
    assert_eq!(d["session"]["parent_session_id"], json!(z), "{d}");
    // ...but `start_department_for_zhongshu` needs it named (:2067-2068).
    let (code, refused) = api
        .post(
            "/api/start_department_for_zhongshu",
            &json!({"department": "lingyubu", "task": "code"}),
        )
        .await;
    assert_eq!(code.as_u16(), 400, "{refused}");
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": "s", "needs_confirmation": true,
                "assignments": [{"department": "lingyubu", "task": "code"}]}),
    )
    .await;
    let a = api
        .post_ok("/api/start_assignments", &json!({"zhongshu_session_id": z}))
        .await;
    assert_eq!(a["plan"]["session_id"], json!(z), "{a}");
    let n = api
        .post_ok(
            "/api/notify_zhongshu",
            &json!({"session_id": z, "summary": "two reported"}),
        )
        .await;
    assert_eq!(n["status"], json!("sent"), "{n}");
    assert_eq!(n["error"], json!(""), "{n}");
    drop(repo);
    l.stop().await;
}

/// The Python dashboard's manual start sends no parent (dashboard.html:1611-1614):
/// Python took the newest running Zhongshu (codex_launcher.py:922-939). With
/// every slot taken it answered 400 "active Codex terminals limit reached"
/// (:1397-1398), which that page shows; a queued answer would print
/// "已启动部门终端：undefined" (it reads `prompt_path`, :1615).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_start_goes_to_the_newest_zhongshu_and_is_refused_when_full() {
    let (repo, l) = serve(&[]).await;
    let api = &l.api;
    let _older = api.start_zhongshu("older").await;
    let newer = api.start_zhongshu("newer").await;
    let busy = "[[fake-agent: --no-report --work-seconds 120]]";
    for department in ["zhilibu", "gongchengbu"] {
        let d = api
            .post_ok(
                "/api/start_department",
                &json!({"department": department, "task": format!("work {busy}")}),
            )
            .await;
        assert_eq!(d["session"]["parent_session_id"], json!(newer), "{d}");
        assert!(d["prompt_path"].is_string(), "{d}");
    }
    let (code, full) = api
        .post(
            "/api/start_department",
            &json!({"department": "lingyubu", "task": "more"}),
        )
        .await;
    assert_eq!(code.as_u16(), 400, "{full}");
    assert_eq!(full["ok"], json!(false));
    assert!(
        full["error"]
            .as_str()
            .unwrap()
            .starts_with("active Codex terminals limit reached: 2"),
        "{full}"
    );
    assert!(api.status().await["queue"].as_array().unwrap().is_empty());
    drop(repo);
    l.stop().await;
}

/// `plan_assignments` with a high risk: the Menxia first (`insert(0, ...)`,
/// codex_launcher.py:1799-1811) on the Zhongshu's model (`recommended_model`,
/// :1760-1764), and every department on it too while a high risk fired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_menxia_comes_first_on_the_zhongshu_model_as_python_proposed() {
    let (repo, l) = serve(&[]).await;
    std::fs::write(repo.path.join(".env"), "TOKEN=1\n").unwrap();
    std::fs::write(repo.path.join("README.md"), "# changed\n").unwrap();
    let p = l
        .api
        .post_ok("/api/plan_assignments", &json!({"task": "tidy"}))
        .await;
    let plan = &p["plan"];
    let a = plan["assignments"].as_array().unwrap();
    assert_eq!(a[0]["department"], json!("menxia"), "{plan}");
    assert_eq!(a[0]["model"], plan["zhongshu_model"], "{plan}");
    assert_eq!(a[0]["files"], json!([".env"]), "{plan}");
    assert!(
        a.iter().all(|x| x["model"] == plan["zhongshu_model"]),
        "{plan}"
    );
    drop(repo);
    l.stop().await;
}

/// An auto-closed department's terminal stays in the list as `exited`
/// (codex_launcher.py:838-842, :1925), where the Python dashboard's wall
/// skips it (`status === "running"`, dashboard.html:1185-1191).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_closed_departments_terminal_stays_listed_as_exited() {
    let (repo, l) = serve(&[]).await;
    let api = &l.api;
    let z = api.start_zhongshu("terminals").await;
    let d = api
        .post_ok(
            "/api/start_department",
            &json!({"parent_session_id": z, "department": "zhilibu",
                    "task": "report [[fake-agent: --after-report wait]]"}),
        )
        .await;
    let id = d["session"]["id"].as_str().unwrap().to_string();
    let s = api
        .wait_session(&id, "auto-closed", |s| {
            s["auto_closed"] == true && s["status"] == "exited"
        })
        .await;
    let tid = s["browser_terminal_id"].clone();
    assert_eq!(s["browser_terminal_status"], json!("exited"), "{s}");
    let listed = api.get_ok("/api/browser_terminals").await;
    let t = listed["terminals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == tid)
        .unwrap_or_else(|| panic!("{tid} listed: {listed}"))
        .clone();
    assert_eq!(t["status"], json!("exited"), "{t}");
    assert_eq!(t["host"], json!("127.0.0.1"), "{t}");
    let status = api.status().await;
    assert!(
        status["browser_terminals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == tid && t["status"] == "exited"),
        "{status}"
    );
    drop(repo);
    l.stop().await;
}

/// Both the root's `governance.yaml` and the Python tool's installed one: the
/// root's is read, as in Python (codex_governance.py:109-115), and the start
/// and the page say so. Python settings this launcher ignores are named once
/// at start with what replaces them (codex_launcher.py:58-72 read them).
#[test]
fn two_config_files_and_ignored_python_variables_are_named_at_start() {
    let repo = TestRepo::with_flags(&[]);
    let installed = repo
        .path
        .join("tools")
        .join("codex_governance")
        .join("governance.yaml");
    std::fs::create_dir_all(installed.parent().unwrap()).unwrap();
    std::fs::write(
        &installed,
        "risk_rules:\n  - {name: custom, level: high, pattern: x/}\n",
    )
    .unwrap();
    let env = [
        ("CODEX_GOVERNANCE_ALLOW_ORIGIN".to_string(), "*".to_string()),
        ("CODEX_GOVERNANCE_TTYD_ENABLED".to_string(), "1".to_string()),
    ];
    let mut launcher = spawn_launcher_env(&repo.path, &[], &env);
    let status = test_runtime().block_on(launcher.api.status());
    let file = &status["config_file"];
    assert_eq!(
        file["path"],
        json!(repo.path.join("governance.yaml").display().to_string()),
        "{file}"
    );
    assert_eq!(
        file["shadowed"],
        json!(installed.display().to_string()),
        "{file}"
    );
    let note = file["note"].as_str().unwrap();
    assert!(note.contains("is not") && note.contains("root"), "{note}");
    let stderr = launcher.stderr();
    assert!(stderr.contains(note), "the start says it too:\n{stderr}");
    for name in [
        "CODEX_GOVERNANCE_ALLOW_ORIGIN",
        "CODEX_GOVERNANCE_TTYD_ENABLED",
    ] {
        assert_eq!(stderr.matches(name).count(), 1, "{name} once:\n{stderr}");
    }
    assert!(
        stderr.contains("403"),
        "ALLOW_ORIGIN's own explanation:\n{stderr}"
    );
    launcher.terminate();
}
