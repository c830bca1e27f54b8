//! The account's usage limits: the meter and hold (`GET /api/quota`), the
//! user's "start anyway", and raising a plan's budget. The developer's only.

use axum::extract::State;
use axum::response::Response;

use super::L;
use crate::quota::BudgetInput;
use crate::web::answer::reply;
use crate::web::JsonBody;

/// `GET /api/quota`: the 5-hour and weekly windows, the hold, parked sessions.
pub(super) async fn quota(State(l): L) -> Response {
    reply(Ok::<_, crate::error::LauncherError>(l.quota_view()))
}

/// A body that must be a JSON object with nothing in it (`{}`), as every
/// POST takes an object.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoFields {}

/// `POST /api/quota/start_anyway {}`: departments start despite the hold
/// until it would have lifted.
pub(super) async fn start_anyway(State(l): L, JsonBody(_): JsonBody<NoFields>) -> Response {
    let started = l.quota.start_anyway();
    if started.is_ok() {
        l.dispatcher.pump_queue().await;
        l.second_opinion.start_due().await;
    }
    reply(started.map(|_| l.quota_view()))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SwitchAnswer {
    choice: crate::quota::model_switch::SwitchChoice,
}

/// `POST /api/quota/model_switch {choice: switch|keep|never}`: the answer to
/// "switch the running sessions to a lighter model for their next turns?".
pub(super) async fn model_switch(State(l): L, JsonBody(b): JsonBody<SwitchAnswer>) -> Response {
    let answered = l
        .quota
        .answer_model_switch(b.choice, l.sessions.as_ref())
        .await;
    reply(answered.map(|()| l.quota_view()))
}

/// `POST /api/plan_budget {zhongshu_id, budget_usd?, budget_tokens?}`.
pub(super) async fn plan_budget(State(l): L, JsonBody(b): JsonBody<BudgetInput>) -> Response {
    let raised = l.quota.raise_budget(b, l.sessions.as_ref()).await;
    if raised.is_ok() {
        l.dispatcher.pump_queue().await;
        l.second_opinion.start_due().await;
    }
    reply(raised.map(|()| l.quota_view()))
}
