//! `GET /api/quota` and the status's `quota`: the header's meter (with which
//! limit binds, and a model's own limits), the queue's hold, the parked
//! sessions (one "Needs you" item for all of them),
//! the plans stopped by their budget and the offer of a lighter model.

use serde::Serialize;

use super::snapshot::Snapshot;
use crate::model::{HoldReason, PlanStatus, QuotaWindow, SwitchOffer};
use crate::policy::quota::which_limit;

/// One window of the meter: used, and the reset in the user's local time.
#[derive(Debug, Clone, Serialize)]
pub struct WindowView {
    pub used_percent: f64,
    pub window_minutes: Option<i64>,
    pub resets_at: Option<i64>,
    pub resets_local: Option<String>,
}

/// A metered limit besides the default one (a model's own).
#[derive(Debug, Clone, Serialize)]
pub struct BucketView {
    pub limit_id: String,
    /// What Codex calls it (a model), else its id.
    pub name: String,
    pub primary: Option<WindowView>,
    pub secondary: Option<WindowView>,
}

/// Why no department starts, and until when.
#[derive(Debug, Clone, Serialize)]
pub struct HoldView {
    pub reason: HoldReason,
    pub text: String,
    pub until: Option<i64>,
    pub until_local: Option<String>,
}

/// A session waiting for the usage limit's reset.
#[derive(Debug, Clone, Serialize)]
pub struct ParkedView {
    pub session_id: String,
    pub until: i64,
    pub until_local: String,
    pub reason: String,
    pub since: String,
    /// `until` is the reset Codex reported, not a back-off guessed before it did.
    pub known_reset: bool,
}

/// A plan whose departments spent its budget.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetView {
    pub zhongshu_id: String,
    pub text: String,
    pub budget_usd: Option<f64>,
    pub budget_tokens: Option<u64>,
}

/// The quota as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct QuotaView {
    /// The 5-hour window.
    pub primary: Option<WindowView>,
    /// The weekly window.
    pub secondary: Option<WindowView>,
    /// Which limit binds while one does ("credits used up", "spend cap
    /// reached", "5-hour window", a model's own limit), in words.
    pub limit: Option<String>,
    pub reached_type: Option<String>,
    pub credits: Option<serde_json::Value>,
    pub spend_control_reached: Option<bool>,
    /// Codex's `ordinaryUsageAllowed` (none: not known).
    pub ordinary_usage_allowed: Option<bool>,
    /// The other metered limits.
    pub buckets: Vec<BucketView>,
    pub updated_at: Option<String>,
    pub reserve_percent: f64,
    pub hold: Option<HoldView>,
    pub start_anyway_until: Option<i64>,
    pub parked: Vec<ParkedView>,
    pub budgets: Vec<BudgetView>,
    pub plan_budget_usd: Option<f64>,
    pub plan_budget_tokens: Option<u64>,
    /// Near the limit: switch the running sessions to a lighter model?
    pub model_switch: Option<SwitchOffer>,
}

fn window(w: &Option<QuotaWindow>) -> Option<WindowView> {
    w.as_ref().map(|w| WindowView {
        used_percent: w.used_percent,
        window_minutes: w.window_minutes,
        resets_at: w.resets_at,
        resets_local: w.resets_at.map(crate::clock::local_time),
    })
}

/// The snapshot's quota.
pub fn quota(snap: &Snapshot) -> QuotaView {
    let (state, config) = (&snap.state, &snap.config.launcher);
    let q = &state.quota;
    let parked = parked(snap);
    // A session parked at its agent's own limit says nothing of the account.
    let account_parked = state
        .sessions
        .values()
        .filter(|s| s.is_running())
        .any(|s| s.agent.parked.as_ref().is_some_and(|p| !p.own));
    let binding = account_parked
        || q.hold
            .as_ref()
            .is_some_and(|h| h.reason == HoldReason::Limit);
    QuotaView {
        primary: window(&q.account.primary),
        secondary: window(&q.account.secondary),
        limit: which_limit(&q.account, snap.at.unix).filter(|_| binding),
        reached_type: q.account.reached_type.clone(),
        credits: q.account.credits.clone(),
        spend_control_reached: q.account.spend_control_reached,
        ordinary_usage_allowed: q.account.ordinary_usage_allowed,
        buckets: q
            .account
            .buckets
            .iter()
            .map(|(id, b)| BucketView {
                limit_id: id.clone(),
                name: b.name.clone().unwrap_or_else(|| id.clone()),
                primary: window(&b.primary),
                secondary: window(&b.secondary),
            })
            .collect(),
        updated_at: q.account.updated_at.clone(),
        reserve_percent: config.quota_reserve_percent,
        hold: q.hold.as_ref().map(|h| HoldView {
            reason: h.reason,
            text: h.text.clone(),
            until: h.until,
            until_local: h.until.map(crate::clock::local_time),
        }),
        start_anyway_until: q.start_anyway_until.filter(|&t| t > snap.at.unix),
        parked,
        budgets: state
            .plans
            .values()
            .filter(|p| p.status != PlanStatus::Finished)
            .filter_map(|p| {
                Some(BudgetView {
                    zhongshu_id: p.session_id.clone(),
                    text: p.budget_reached.clone()?,
                    budget_usd: p.budget_usd.or(config.plan_budget_usd),
                    budget_tokens: p.budget_tokens.or(config.plan_budget_tokens),
                })
            })
            .collect(),
        plan_budget_usd: config.plan_budget_usd,
        plan_budget_tokens: config.plan_budget_tokens,
        model_switch: snap.launcher.model_switch.clone(),
    }
}

/// The running parked sessions, in the order they parked.
fn parked(snap: &Snapshot) -> Vec<ParkedView> {
    let mut parked: Vec<(u64, ParkedView)> = snap
        .state
        .sessions
        .values()
        .filter(|s| s.is_running())
        .filter_map(|s| {
            let p = s.agent.parked.as_ref()?;
            Some((
                p.order,
                ParkedView {
                    session_id: s.id.clone(),
                    until: p.until,
                    until_local: crate::clock::local_time(p.until),
                    reason: p.reason.clone(),
                    since: p.since.clone(),
                    known_reset: p.known_reset,
                },
            ))
        })
        .collect();
    parked.sort_by_key(|(order, _)| *order);
    parked.into_iter().map(|(_, p)| p).collect()
}
