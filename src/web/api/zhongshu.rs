//! A Zhongshu's routes: its plan, inbox and context, a restart, plan proposals,
//! starting a plan's assignments, and notices.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{flag, not_owner, number, Caller, IdQuery, L};
use crate::plans::queue::{AssignmentInput, PlanInput};
use crate::web::answer::{failure, reply};
use crate::web::JsonBody;

pub(super) async fn zhongshu_plan(
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

/// `GET /api/zhongshu_context`: what a restart needs (its own data for a Zhongshu token).
pub(super) async fn zhongshu_context(
    State(l): L,
    axum::Extension(p): Caller,
    IdQuery(id, _): IdQuery,
) -> Response {
    match not_owner(&p, &id) {
        Some(r) => r,
        None => reply(l.zhongshu_context_view(&id)),
    }
}

pub(super) async fn zhongshu_inbox(
    State(l): L,
    axum::Extension(p): Caller,
    IdQuery(id, q): IdQuery,
) -> Response {
    if let Some(r) = not_owner(&p, &id) {
        return r;
    }
    let (limit, before) = match (number::<usize>(&q, "limit"), number::<i64>(&q, "before")) {
        (Ok(l), Ok(b)) => (l.unwrap_or(50).clamp(1, 1000), b),
        (Err(e), _) | (_, Err(e)) => return failure(StatusCode::BAD_REQUEST, &e),
    };
    let (peek, count) = (flag(&q, "peek"), flag(&q, "count"));
    reply(crate::mailbox::inbox_view::inbox_view(
        &l.ctx,
        &l.sessions,
        &id,
        peek,
        limit,
        before,
        count,
    ))
}

#[derive(Deserialize)]
pub(super) struct Restart {
    session_id: String,
    #[serde(default)]
    model: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ResumePlan {
    session_id: String,
}

/// `POST /api/resume_plan {session_id}`: the planner back, its cut-off
/// assignments queued again in their worktrees.
pub(super) async fn resume_plan(State(l): L, JsonBody(b): JsonBody<ResumePlan>) -> Response {
    if let Err(e) = crate::ids::check_id("session_id", &b.session_id) {
        return failure(StatusCode::BAD_REQUEST, &e);
    }
    reply(crate::launcher::resume_plan::resume_plan(&l, &b.session_id).await)
}

pub(super) async fn restart_zhongshu(State(l): L, JsonBody(b): JsonBody<Restart>) -> Response {
    reply(
        l.mailbox
            .restart_zhongshu(&b.session_id, b.model.as_deref())
            .await,
    )
}

pub(super) async fn report_plan(
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
    let session_id = b.session_id.clone();
    reply(
        l.dispatcher
            .register_plan(b, None)
            .await
            .map(|_| PlanAnswer {
                plan: l.zhongshu_plan_view(&session_id).plan,
                session_id,
            }),
    )
}

#[derive(Deserialize)]
pub(super) struct Propose {
    #[serde(default)]
    task: String,
}

pub(super) async fn plan_assignments(State(l): L, JsonBody(b): JsonBody<Propose>) -> Response {
    let launcher = Arc::clone(&l);
    match tokio::task::spawn_blocking(move || launcher.dispatcher.propose_plan(&b.task)).await {
        Ok(r) => reply(r),
        Err(e) => failure(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

#[derive(Deserialize)]
pub(super) struct StartAssignments {
    parent_session_id: String,
    #[serde(default)]
    assignments: Option<Vec<AssignmentInput>>,
    /// The plan revision the user saw (the dashboard sends it); absent from
    /// Python-era scripts, which confirm whatever plan is there.
    #[serde(default)]
    revision: Option<u64>,
}

pub(super) async fn start_assignments(
    State(l): L,
    JsonBody(b): JsonBody<StartAssignments>,
) -> Response {
    reply(
        l.dispatcher
            .start_assignments(&b.parent_session_id, b.assignments, b.revision)
            .await
            .map(|plan| l.assignments_view(&plan)),
    )
}

pub(super) async fn notify_zhongshu(
    State(l): L,
    axum::Extension(p): Caller,
    JsonBody(b): JsonBody<crate::mailbox::notices::inbox::NotifyInput>,
) -> Response {
    if let Some(r) = not_owner(&p, &b.parent_session_id) {
        return r;
    }
    reply(l.mailbox.notices.notify_zhongshu_request(b).await)
}

/// The registered plan as `GET /api/zhongshu_plan` shows it (the Python
/// tool's answer: `ready`, `auto_dispatch`, `requested_confirmation`, counts).
#[derive(Serialize)]
pub(super) struct PlanAnswer {
    session_id: String,
    plan: crate::launcher::PlanBody,
}
