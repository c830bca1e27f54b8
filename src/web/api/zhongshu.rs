//! A Zhongshu's routes: its plan, inbox and context, a restart, plan proposals,
//! starting a plan's assignments, and notices.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::L;
use crate::error::LauncherError;
use crate::plans::queue::{first_named, AssignmentInput, PlanInput};
use crate::web::answer::reply;
use crate::web::owned::{named_or_newest, Caller, ForZhongshu, Owned};
use crate::web::query::{flag, whole};
use crate::web::JsonBody;

pub(super) async fn zhongshu_plan(State(l): L, own: Owned) -> Response {
    let id = &own.id;
    reply(
        l.sessions
            .require_session(id)
            .map(|_| own.show(l.zhongshu_plan_view(id))),
    )
}

/// `GET /api/zhongshu_context`: what a restart needs (its own data for a Zhongshu token).
pub(super) async fn zhongshu_context(State(l): L, own: Owned) -> Response {
    reply(l.zhongshu_context_view(&own.id).map(|view| own.show(view)))
}

/// `GET /api/zhongshu_inbox`'s parameters beside the id.
#[derive(Deserialize)]
pub(super) struct InboxQuery {
    /// Results per page (50 unless given; 1 to 1000).
    #[serde(default, deserialize_with = "whole")]
    limit: Option<usize>,
    /// The page before this result order (the last page's `next_before`).
    #[serde(default, deserialize_with = "whole")]
    before: Option<i64>,
    /// Look without marking anything read.
    #[serde(default, deserialize_with = "flag")]
    peek: bool,
    /// Count the Zhongshu's results too.
    #[serde(default, deserialize_with = "flag")]
    count: bool,
}

pub(super) async fn zhongshu_inbox(State(l): L, own: Owned<InboxQuery>) -> Response {
    let q = &own.params;
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let read = l.inbox_view(&own.id, q.peek, (limit, q.before), q.count);
    reply(read.map(|view| own.show(view)))
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
        return LauncherError::from(e).into_response();
    }
    reply(crate::launcher::resume_plan::resume_plan(&l, &b.session_id).await)
}

pub(super) async fn restart_zhongshu(State(l): L, JsonBody(b): JsonBody<Restart>) -> Response {
    reply(
        l.mailbox
            .restart_zhongshu(&b.session_id, b.model.as_deref())
            .await
            .map(|r| {
                let view = l.started_view(&r.session_id);
                RestartAnswer {
                    session: view.session.clone(),
                    started: (!r.resumed_inline).then(|| StartFacts::of(view)),
                    restarted: r,
                }
            }),
    )
}

/// A restart: inline, or a new session answered as the Python tool answered
/// a start (its prompt file, pid, terminal and the counts).
#[derive(Serialize)]
pub(super) struct RestartAnswer {
    #[serde(flatten)]
    restarted: crate::mailbox::notices::restart::Restarted,
    session: Option<crate::views::session::SessionView>,
    #[serde(flatten)]
    started: Option<StartFacts>,
}

#[derive(Serialize)]
pub(super) struct StartFacts {
    prompt_path: Option<String>,
    pid: Option<u32>,
    browser_terminal: Option<crate::views::terminals::TerminalView>,
    active: usize,
    active_zhongshu_sessions: usize,
    active_department_sessions: usize,
    active_sessions_total: usize,
}

impl StartFacts {
    fn of(v: crate::views::session::StartedView) -> StartFacts {
        StartFacts {
            prompt_path: v.prompt_path,
            pid: v.pid,
            browser_terminal: v.browser_terminal,
            active: v.active,
            active_zhongshu_sessions: v.active_zhongshu_sessions,
            active_department_sessions: v.active_department_sessions,
            active_sessions_total: v.active_sessions_total,
        }
    }
}

pub(super) async fn report_plan(State(l): L, plan: ForZhongshu<PlanInput>) -> Response {
    let mut b = plan.body;
    b.session_id = plan.id;
    if let Err(e) = crate::ids::check_id("session_id", &b.session_id) {
        return LauncherError::from(e).into_response();
    }
    let session_id = b.session_id.clone();
    reply(
        l.dispatcher
            .register_plan(b, None)
            .await
            .map(|_| PlanAnswer {
                plan: l.zhongshu_plan_body(&session_id),
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
    let proposed = tokio::task::spawn_blocking(move || launcher.dispatcher.propose_plan(&b.task));
    reply(proposed.await.map_err(LauncherError::from).and_then(|r| r))
}

#[derive(Deserialize)]
pub(super) struct StartAssignments {
    #[serde(default)]
    parent_session_id: Option<String>,
    /// The Python tool's other name for it.
    #[serde(default)]
    zhongshu_session_id: Option<String>,
    #[serde(default)]
    assignments: Option<Vec<AssignmentInput>>,
    /// The plan revision the user saw (the dashboard sends it); absent from
    /// Python-era scripts, which confirm whatever plan is there.
    #[serde(default)]
    revision: Option<u64>,
}

pub(super) async fn start_assignments(
    State(l): L,
    Caller(p): Caller,
    JsonBody(b): JsonBody<StartAssignments>,
) -> Response {
    let named = first_named([b.parent_session_id.as_ref(), b.zhongshu_session_id.as_ref()]);
    let parent = match named_or_newest(&l, &p, named) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let caller = Caller(p);
    if let (crate::credentials::Principal::Phone(_), Some(_)) = (&caller.0, &b.assignments) {
        return LauncherError::Forbidden(
            "a phone confirms a plan as it stands: edit its assignments at the desk".into(),
        )
        .into_response();
    }
    if let Err(e) = caller.may_answer(&l, crate::policy::notice::PageAnswer::ConfirmPlan) {
        return e.into_response();
    }
    if matches!(caller.0, crate::credentials::Principal::Phone(_)) && b.revision.is_none() {
        return LauncherError::BadRequest(
            "a phone confirms the plan it was shown: send its revision".into(),
        )
        .into_response();
    }
    reply(
        l.dispatcher
            .start_assignments(&parent, b.assignments, b.revision, None)
            .await
            .map(|plan| caller.show(l.assignments_view(&plan))),
    )
}

/// `POST /api/decline_plan`'s body: the plan the user was shown.
#[derive(Deserialize)]
pub(super) struct DeclinePlan {
    parent_session_id: String,
    revision: u64,
}

/// `POST /api/decline_plan`: the plan awaiting confirmation at `revision`
/// is declined (issue 70 item 10): nothing of it starts, its planner is told.
/// Declining is always a phone's to do, whatever `remote_decisions` says.
pub(super) async fn decline_plan(
    State(l): L,
    caller: Caller,
    JsonBody(b): JsonBody<DeclinePlan>,
) -> Response {
    reply(
        l.dispatcher
            .decline_plan(&b.parent_session_id, b.revision, caller.by(), None)
            .await
            .map(|()| serde_json::json!({"declined": b.parent_session_id, "revision": b.revision})),
    )
}

pub(super) async fn notify_zhongshu(
    State(l): L,
    notice: ForZhongshu<crate::mailbox::notices::inbox::NotifyInput>,
) -> Response {
    let mut b = notice.body;
    b.parent_session_id = notice.id;
    reply(l.mailbox.notices.notify_zhongshu_request(b).await)
}

/// The registered plan as `GET /api/zhongshu_plan` shows it (the Python
/// tool's answer: `ready`, `auto_dispatch`, `requested_confirmation`, counts).
#[derive(Serialize)]
pub(super) struct PlanAnswer {
    session_id: String,
    plan: crate::views::plan::PlanBody,
}
