//! The developer's control routes (issue 25): interrupt a turn, stop a plan,
//! retry a department, answer or put aside a report's confirmation request,
//! dismiss a failure from "Needs you". All are the developer's only (no agent
//! token reaches them: `policy::scopes`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::L;
use crate::error::LauncherError;
use crate::model::{ConfirmationAnswer, ConfirmationDecision, QueueItem};
use crate::plans::control::{RetryTarget, Stopped};
use crate::views::session::SessionView;
use crate::web::answer::reply;
use crate::web::owned::Caller;
use crate::web::JsonBody;

#[derive(Deserialize)]
pub(super) struct SessionRef {
    session_id: String,
}

#[derive(Serialize)]
pub(super) struct SessionAnswer {
    session: Option<SessionView>,
}

/// `POST /api/interrupt`: stops the session's running turn (Codex
/// `turn/interrupt`; Ctrl-C for a PTY agent). The session keeps running.
pub(super) async fn interrupt(
    State(l): L,
    caller: Caller,
    JsonBody(b): JsonBody<SessionRef>,
) -> Response {
    reply(
        l.sessions
            .live
            .interrupt(&b.session_id)
            .await
            .map(|()| SessionAnswer {
                session: l.session_view(&b.session_id).map(|v| caller.show(v)),
            }),
    )
}

#[derive(Serialize)]
pub(super) struct StopAnswer {
    #[serde(flatten)]
    stopped: Stopped,
    session: Option<SessionView>,
}

/// `POST /api/stop_plan`: the planner, its departments and its queued
/// assignments stop.
pub(super) async fn stop_plan(State(l): L, JsonBody(b): JsonBody<SessionRef>) -> Response {
    reply(
        l.dispatcher
            .stop_plan(&b.session_id)
            .await
            .map(|stopped| StopAnswer {
                session: l.session_view(&stopped.session_id),
                stopped,
            }),
    )
}

/// A department session to run again, or a queue item whose start failed.
#[derive(Deserialize)]
pub(super) struct Retry {
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    queue_id: Option<String>,
}

#[derive(Serialize)]
pub(super) struct RetryAnswer {
    queue_item: QueueItem,
}

/// `POST /api/retry`.
pub(super) async fn retry(State(l): L, JsonBody(b): JsonBody<Retry>) -> Response {
    let target = match (b.session_id, b.queue_id) {
        (Some(s), None) => RetryTarget::Session(s),
        (None, Some(q)) => RetryTarget::Queued(q),
        _ => {
            return LauncherError::BadRequest(
                "name what to retry: session_id (a department that failed or ended without a \
                 report) or queue_id (a start that failed), not both"
                    .into(),
            )
            .into_response()
        }
    };
    reply(
        l.dispatcher
            .retry(target)
            .await
            .map(|queue_item| RetryAnswer { queue_item }),
    )
}

/// A queued assignment and the machine it should wait for.
#[derive(Deserialize)]
pub(super) struct Place {
    queue_id: String,
    /// A host of `launcher.remotes`; null or absent: this machine.
    #[serde(default, rename = "where")]
    host: Option<String>,
}

#[derive(Serialize)]
pub(super) struct Placed {
    queue_item: QueueItem,
}

/// `POST /api/queue/place`.
pub(super) async fn place(State(l): L, JsonBody(b): JsonBody<Place>) -> Response {
    reply(
        l.dispatcher
            .place(&b.queue_id, b.host)
            .await
            .map(|queue_item| Placed { queue_item }),
    )
}

/// The developer's answer as the request words it.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Decision {
    #[serde(alias = "confirmed")]
    Confirm,
    #[serde(alias = "rejected")]
    Reject,
    #[serde(alias = "dismissed")]
    Dismiss,
}

#[derive(Deserialize)]
pub(super) struct Answer {
    department_session_id: String,
    report_id: String,
    decision: Decision,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Serialize)]
pub(super) struct Answered {
    confirmation: ConfirmationAnswer,
}

/// `POST /api/answer_confirmation`: confirm or reject (the Zhongshu is told,
/// with the note), or dismiss (nothing is sent).
pub(super) async fn answer_confirmation(
    State(l): L,
    caller: Caller,
    JsonBody(b): JsonBody<Answer>,
) -> Response {
    let confirm = matches!(b.decision, Decision::Confirm);
    let with_note = b.note.as_deref().is_some_and(|n| !n.trim().is_empty());
    let answer = crate::policy::notice::PageAnswer::Question { confirm, with_note };
    if let Err(e) = caller.may_answer(&l, answer) {
        return e.into_response();
    }
    let decision = match b.decision {
        Decision::Confirm => ConfirmationDecision::Confirmed,
        Decision::Reject => ConfirmationDecision::Rejected,
        Decision::Dismiss => ConfirmationDecision::Dismissed,
    };
    reply(
        l.mailbox
            .notices
            .answer_confirmation(
                &b.department_session_id,
                &b.report_id,
                decision,
                b.note.as_deref(),
            )
            .await
            .map(|confirmation| Answered { confirmation }),
    )
}

/// `POST /api/dismiss`: a failed department leaves "Needs you" for good.
pub(super) async fn dismiss(State(l): L, JsonBody(b): JsonBody<SessionRef>) -> Response {
    reply(l.dispatcher.dismiss(&b.session_id).map(|()| SessionAnswer {
        session: l.session_view(&b.session_id),
    }))
}

#[derive(Deserialize)]
pub(super) struct SetupAnswer {
    session_id: String,
    action: crate::sessions::start::setup::SetupAction,
}

/// `POST /api/worktree_setup`: the answer to a department's failed worktree
/// set-up (issue 52): `retry`, `start_anyway` or `discard`.
pub(super) async fn worktree_setup(State(l): L, JsonBody(b): JsonBody<SetupAnswer>) -> Response {
    let answered = crate::sessions::start::setup::answer(&l.sessions, &b.session_id, b.action);
    reply(answered.await.map(|()| SessionAnswer {
        session: l.session_view(&b.session_id),
    }))
}
