//! The JSON API (SPEC 10): a compatible superset of the Python launcher's.
//! Handlers parse, call the launcher, and shape `{"ok": true, ...}` answers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::routes::Routes;
use super::{failure, JsonBody};
use crate::credentials::Principal;
use crate::launcher::{LResult, Launcher};
use crate::sessions::queue::{AssignmentInput, Dispatch, PlanInput};
use crate::sessions::StartSpec;

type L = State<Arc<Launcher>>;

pub fn routes() -> Routes {
    Routes::new()
        .get("/healthz", healthz)
        .get("/api/status", status)
        .get("/api/sessions", status)
        .get("/api/zhongshu_sessions", zhongshu_sessions)
        .get("/api/zhongshu_plan", zhongshu_plan)
        .get("/api/zhongshu_inbox", zhongshu_inbox)
        .get("/api/zhongshu_context", zhongshu_context)
        .get("/api/report", report)
        .get("/api/browser_terminals", browser_terminals)
        .get("/api/audit", audit)
        .post("/api/start_zhongshu_session", start_zhongshu)
        .post("/api/start_zhongshu", start_zhongshu)
        .post("/api/restart_zhongshu_session", restart_zhongshu)
        .post("/api/report_zhongshu_plan", report_plan)
        .post("/api/plan_assignments", plan_assignments)
        .post("/api/start_assignments", start_assignments)
        .post("/api/start_department", start_department)
        .post("/api/start_department_for_zhongshu", start_department)
        .post("/api/session_input", session_input)
        .post("/api/close_session", close_session)
        .post("/api/notify_zhongshu", notify_zhongshu)
        .post("/api/browser_terminal/start", browser_terminal_start)
        .post(
            "/api/session_browser_terminal/start",
            session_browser_terminal_start,
        )
        .post("/api/browser_terminal/close", browser_terminal_close)
        .post("/api/submit_result", submit_result)
}

type Caller = axum::Extension<Principal>;

/// 403 unless the caller acts for session `id` (a session token owns only itself).
fn not_owner(p: &Principal, id: &str) -> Option<Response> {
    (!p.owns(id)).then(|| {
        failure(
            StatusCode::FORBIDDEN,
            &format!("this session's token may not touch the data of session {id}"),
        )
    })
}

fn ok(mut body: Value) -> Response {
    if let Some(obj) = body.as_object_mut() {
        obj.insert("ok".into(), true.into());
    }
    Json(body).into_response()
}

fn reply(result: LResult<Value>) -> Response {
    match result {
        Ok(v) => ok(v),
        Err(e) => e.into_response(),
    }
}

/// The query string as a map; a malformed one is a 400 in the failure shape.
struct QueryMap(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| QueryMap(q))
            .map_err(|e| failure(StatusCode::BAD_REQUEST, &format!("bad query string: {e}")))
    }
}

/// A validated `?id=` (alias `session_id`) plus the rest of the query.
struct IdQuery(String, HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for IdQuery {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let QueryMap(q) = QueryMap::from_request_parts(parts, state).await?;
        let id = q
            .get("id")
            .or_else(|| q.get("session_id"))
            .ok_or_else(|| failure(StatusCode::BAD_REQUEST, "missing ?id="))?;
        crate::ids::check_id("id", id).map_err(|e| failure(StatusCode::BAD_REQUEST, &e))?;
        Ok(IdQuery(id.clone(), q))
    }
}

/// 200 while the launcher works; 503 when the mailbox ingestion is stuck.
async fn healthz(State(l): L) -> Response {
    let ingestion = l.mailbox.ingestion_health();
    let chain = l.audit_chain_problem();
    let degraded = ingestion.is_stuck() || chain.is_some();
    let body = json!({"status": if degraded { "degraded" } else { "ok" },
    "mailbox_ingestion": ingestion.to_json(),
    "audit_chain": match chain {
        None => json!({"ok": true}),
        Some(problem) => json!({"ok": false, "problem": problem}),
    }});
    if ingestion.is_stuck() {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    ok(body)
}

async fn status(State(l): L, axum::Extension(p): Caller) -> Response {
    if !p.is_user() {
        // Agents see no terminal URLs: each carries a token that types into a PTY.
        return Json(l.status_for_agents()).into_response();
    }
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        l.status_bytes(),
    )
        .into_response()
}

async fn zhongshu_sessions(State(l): L) -> Response {
    Json(l.zhongshu_sessions_view()).into_response()
}

async fn zhongshu_plan(
    State(l): L,
    axum::Extension(p): Caller,
    IdQuery(id, _): IdQuery,
) -> Response {
    if let Some(r) = not_owner(&p, &id) {
        return r;
    }
    reply(
        l.sessions
            .require_session(&id)
            .map(|_| l.zhongshu_plan_view(&id)),
    )
}

async fn zhongshu_inbox(
    State(l): L,
    axum::Extension(p): Caller,
    IdQuery(id, q): IdQuery,
) -> Response {
    if let Some(r) = not_owner(&p, &id) {
        return r;
    }
    let peek = matches!(
        q.get("peek").map(String::as_str),
        Some("1" | "true" | "yes")
    );
    let limit = match q.get("limit").map(|s| s.parse::<usize>()) {
        None => 50,
        Some(Ok(n)) => n.clamp(1, 1000),
        Some(Err(_)) => return failure(StatusCode::BAD_REQUEST, "limit must be a whole number"),
    };
    let before = match q.get("before").map(|s| s.parse::<i64>()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return failure(StatusCode::BAD_REQUEST, "before must be a whole number"),
    };
    let count = matches!(
        q.get("count").map(String::as_str),
        Some("1" | "true" | "yes")
    );
    reply(l.mailbox.inbox_view(&id, peek, limit, before, count))
}

async fn zhongshu_context(
    State(l): L,
    axum::Extension(p): Caller,
    IdQuery(id, _): IdQuery,
) -> Response {
    if let Some(r) = not_owner(&p, &id) {
        return r;
    }
    reply(
        l.sessions
            .require_session(&id)
            .map(|_| l.zhongshu_context_view(&id)),
    )
}

async fn report(State(l): L, QueryMap(q): QueryMap) -> Response {
    let mode = match crate::report::Mode::parse(
        q.get("mode").map(String::as_str),
        q.get("base").map(String::as_str),
    ) {
        Ok(m) => m,
        Err(e) => return failure(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let launcher = Arc::clone(&l);
    let built = tokio::task::spawn_blocking(move || {
        crate::report::build_report(&launcher.ctx.repo, &launcher.ctx.config, &mode)
    })
    .await;
    match built {
        Ok(Ok(report)) => {
            // The Python tool's shape (`{ok, report}`), and ours flat beside it.
            let inner = serde_json::to_value(&report).unwrap_or_default();
            let mut v = inner.clone();
            v["ok"] = true.into();
            v["report"] = inner;
            Json(v).into_response()
        }
        Ok(Err(e)) => failure(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(e) => failure(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn browser_terminals(State(l): L) -> Response {
    let terminals = l.ctx.store.read(|s| {
        s.terminals
            .values()
            .filter(|t| t.status != crate::model::TerminalStatus::Closed)
            .cloned()
            .collect::<Vec<_>>()
    });
    ok(json!({"terminals": terminals, "browser_terminals": terminals}))
}

async fn audit(State(l): L, QueryMap(q): QueryMap) -> Response {
    let since = match q.get("since").map(|s| s.parse::<u64>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return failure(StatusCode::BAD_REQUEST, "since must be a whole number"),
    };
    let limit = match q.get("limit").map(|s| s.parse::<usize>()) {
        None => 1000,
        Some(Ok(n)) => n.clamp(1, 10_000),
        Some(Err(_)) => return failure(StatusCode::BAD_REQUEST, "limit must be a whole number"),
    };
    match l.ctx.store.audit_log().read_since(since, limit) {
        Ok(events) => ok(json!({"events": events, "last_seq": l.ctx.store.audit_log().last_seq()})),
        Err(e) => failure(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

#[derive(Deserialize)]
struct StartZhongshu {
    #[serde(default)]
    task: String,
    #[serde(default)]
    model: Option<String>,
}

async fn start_zhongshu(State(l): L, JsonBody(b): JsonBody<StartZhongshu>) -> Response {
    let started = l
        .sessions
        .start_session(StartSpec::zhongshu(b.task, b.model))
        .await;
    reply(started.map(|s| l.started_view(&s.id)))
}

#[derive(Deserialize)]
struct Restart {
    session_id: String,
    #[serde(default)]
    model: Option<String>,
}

async fn restart_zhongshu(State(l): L, JsonBody(b): JsonBody<Restart>) -> Response {
    reply(
        l.mailbox
            .restart_zhongshu(&b.session_id, b.model.as_deref())
            .await,
    )
}

async fn report_plan(
    State(l): L,
    axum::Extension(p): Caller,
    JsonBody(b): JsonBody<PlanInput>,
) -> Response {
    if let Some(r) = not_owner(&p, &b.session_id) {
        return r;
    }
    if let Err(e) = crate::ids::check_id("session_id", &b.session_id) {
        return failure(StatusCode::BAD_REQUEST, &e);
    }
    reply(
        l.dispatcher
            .register_plan(b)
            .await
            .map(|plan| json!({"plan": plan})),
    )
}

#[derive(Deserialize)]
struct Propose {
    #[serde(default)]
    task: String,
}

async fn plan_assignments(State(l): L, JsonBody(b): JsonBody<Propose>) -> Response {
    let launcher = Arc::clone(&l);
    match tokio::task::spawn_blocking(move || launcher.dispatcher.propose_plan(&b.task)).await {
        Ok(r) => reply(r),
        Err(e) => failure(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

#[derive(Deserialize)]
struct StartAssignments {
    parent_session_id: String,
    #[serde(default)]
    assignments: Option<Vec<AssignmentInput>>,
}

async fn start_assignments(State(l): L, JsonBody(b): JsonBody<StartAssignments>) -> Response {
    reply(
        l.dispatcher
            .start_assignments(&b.parent_session_id, b.assignments)
            .await
            .map(|plan| l.assignments_view(&plan)),
    )
}

#[derive(Deserialize)]
struct StartDepartment {
    #[serde(flatten)]
    assignment: AssignmentInput,
    #[serde(default)]
    parent_session_id: Option<String>,
}

async fn start_department(State(l): L, JsonBody(b): JsonBody<StartDepartment>) -> Response {
    reply(
        l.dispatcher
            .start_department(b.assignment, b.parent_session_id)
            .await
            .map(|d| match d {
                Dispatch::Started(id) => {
                    let mut v = l.started_view(&id);
                    v["queued"] = json!(false);
                    v
                }
                Dispatch::Queued(item) => json!({"queued": true, "queue_item": item}),
            }),
    )
}

#[derive(Deserialize)]
struct SessionInput {
    session_id: String,
    #[serde(default, alias = "text")]
    input: String,
}

async fn session_input(State(l): L, JsonBody(b): JsonBody<SessionInput>) -> Response {
    if b.input.is_empty() {
        return failure(StatusCode::BAD_REQUEST, "input must not be empty");
    }
    reply(
        l.sessions
            .session_input(&b.session_id, &b.input)
            .await
            .map(|s| json!({"session": l.sessions.session_json(&s.id)})),
    )
}

#[derive(Deserialize)]
struct SessionRef {
    session_id: String,
}

async fn close_session(State(l): L, JsonBody(b): JsonBody<SessionRef>) -> Response {
    reply(
        l.sessions
            .close_session(&b.session_id, "api")
            .await
            .map(|s| json!({"session": l.sessions.session_json(&s.id)})),
    )
}

async fn notify_zhongshu(
    State(l): L,
    axum::Extension(p): Caller,
    JsonBody(b): JsonBody<crate::mailbox::inbox::NotifyInput>,
) -> Response {
    if let Some(r) = not_owner(&p, &b.parent_session_id) {
        return r;
    }
    reply(l.mailbox.notify_zhongshu_request(b).await)
}

#[derive(Deserialize)]
struct TerminalStart {
    #[serde(default)]
    shell: Option<String>,
    #[serde(default)]
    shell_args: Option<Vec<String>>,
}

async fn browser_terminal_start(State(l): L, JsonBody(b): JsonBody<TerminalStart>) -> Response {
    reply(
        l.sessions
            .start_interactive_terminal(b.shell, b.shell_args.unwrap_or_default())
            .await
            .map(|(t, reused)| json!({"terminal": t, "id": t.id, "url": t.url, "reused": reused})),
    )
}

async fn session_browser_terminal_start(
    State(l): L,
    JsonBody(b): JsonBody<SessionRef>,
) -> Response {
    reply(
        l.sessions
            .start_preview_terminal(&b.session_id)
            .await
            .map(|(t, reused)| json!({"terminal": t, "id": t.id, "url": t.url, "reused": reused})),
    )
}

#[derive(Deserialize)]
struct TerminalRef {
    id: String,
}

async fn browser_terminal_close(State(l): L, JsonBody(b): JsonBody<TerminalRef>) -> Response {
    if let Err(e) = crate::ids::check_id("id", &b.id) {
        return failure(StatusCode::BAD_REQUEST, &e);
    }
    reply(l.sessions.close_terminal(&b.id).await)
}

/// `POST /api/submit_result`: a department's report, bound to its session.
async fn submit_result(
    State(l): L,
    axum::Extension(p): Caller,
    JsonBody(b): JsonBody<serde_json::Map<String, Value>>,
) -> Response {
    let Principal::Session(grant) = p else {
        return failure(
            StatusCode::FORBIDDEN,
            "results are submitted with a department session's token (codex-governance mailbox send)",
        );
    };
    reply(l.mailbox.submit_result(&grant, b).await)
}
