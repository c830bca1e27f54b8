//! Approvals from the dashboard: what agents wait for (`GET /api/approvals`)
//! and the developer's decision (`POST /api/approval`). Agents' tokens reach
//! neither (the scopes give them to the developer only).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::owned::Caller;
use super::routes::Routes;
use super::JsonBody;
use crate::launcher::Launcher;
use crate::model::{ApprovalDecision, PendingApproval};
use crate::policy::notice::PageAnswer;

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/approvals", list)
        .post("/api/approval", decide)
}

#[derive(Serialize)]
struct ApprovalList {
    ok: bool,
    approvals: Vec<PendingApproval>,
}

async fn list(State(l): State<Arc<Launcher>>) -> Response {
    Json(ApprovalList {
        ok: true,
        approvals: l.sessions.live.approvals(),
    })
    .into_response()
}

#[derive(Deserialize)]
struct Decision {
    session_id: String,
    /// A number or a string, as the agent's request had it.
    request_id: serde_json::Value,
    decision: ApprovalDecision,
}

#[derive(Serialize)]
struct Decided {
    ok: bool,
    session_id: String,
    request_id: String,
    decision: ApprovalDecision,
    pending_approvals: Vec<PendingApproval>,
}

async fn decide(
    State(l): State<Arc<Launcher>>,
    caller: Caller,
    JsonBody(b): JsonBody<Decision>,
) -> Response {
    let request_id = match &b.request_id {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let file_change = l
        .sessions
        .patch_stays_in_worktree(&b.session_id, &request_id);
    let accept = matches!(
        b.decision,
        ApprovalDecision::Accept | ApprovalDecision::AcceptForSession
    );
    let answer = PageAnswer::Approval {
        accept,
        file_change,
        for_session: b.decision == ApprovalDecision::AcceptForSession,
    };
    if let Err(e) = caller.may_answer(&l, answer) {
        return e.into_response();
    }
    match l
        .sessions
        .live
        .decide_by(&b.session_id, &request_id, b.decision, caller.by(), None)
        .await
    {
        Ok(session) => Json(Decided {
            ok: true,
            session_id: session.id,
            request_id,
            decision: b.decision,
            pending_approvals: session.agent.pending_approvals,
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}
