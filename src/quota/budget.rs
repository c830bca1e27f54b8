//! A plan's budget: what its departments spent against it (an agent's
//! reported cost as it says, else tokens at the configured prices), the
//! plans that reached it (recorded once, audited), and the user raising it.

use crate::model::{AuditEvent, State};
use crate::policy::quota::{budget_reached, cost_usd};
use crate::store::Tx;

use super::{Agents, Quota};
use crate::error::LResult;

/// Plans whose departments spent their budget.
#[derive(Default)]
pub(crate) struct BudgetStops {
    /// Every plan (by Zhongshu) over its budget, with what it spent in words.
    pub plans: std::collections::BTreeMap<String, String>,
    /// Those that reached it in this change, with the words.
    pub newly: Vec<(String, String)>,
}

/// Which plans are over budget; a plan that just reached it is recorded
/// (once, audited).
pub(crate) fn budget_stops(tx: &mut Tx, config: &crate::config::LauncherSettings) -> BudgetStops {
    let mut stops = BudgetStops::default();
    let plans: Vec<String> = tx
        .state()
        .plans
        .values()
        .filter(|p| p.status != crate::model::PlanStatus::Finished)
        .map(|p| p.session_id.clone())
        .collect();
    for id in plans {
        let Some(text) = plan_over_budget(tx.state(), &id, config) else {
            continue;
        };
        stops.plans.insert(id.clone(), text.clone());
        let Some(plan) = tx.plan_mut(&id) else {
            continue;
        };
        if plan.budget_reached.is_some() {
            continue;
        }
        plan.budget_reached = Some(text.clone());
        tx.audit(AuditEvent::BudgetReached {
            zhongshu_id: id.clone(),
            text: text.clone(),
        });
        stops.newly.push((id, text));
    }
    stops
}

/// A plan's departments' spending against its budget, in words, once reached.
pub(crate) fn plan_over_budget(
    state: &State,
    zhongshu_id: &str,
    config: &crate::config::LauncherSettings,
) -> Option<String> {
    let plan = state.plans.get(zhongshu_id)?;
    let budget_usd = plan.budget_usd.or(config.plan_budget_usd);
    let budget_tokens = plan.budget_tokens.or(config.plan_budget_tokens);
    if budget_usd.is_none() && budget_tokens.is_none() {
        return None;
    }
    let (mut usd, mut tokens) = (0.0, 0u64);
    for s in state.working_for(zhongshu_id) {
        // What an agent reports it cost counts as it says (ACP).
        let reported = s.agent.reported_usage.as_ref().and_then(|r| r.cost_usd());
        if let Some(cost) = reported {
            usd += cost;
        }
        let Some(usage) = &s.agent.token_usage else {
            continue;
        };
        tokens += usage.total_tokens;
        if let (None, Some(price)) = (reported, config.model_prices.get(&s.model)) {
            usd += cost_usd(usage, price);
        }
    }
    budget_reached(usd, tokens, budget_usd, budget_tokens)
}

/// `POST /api/plan_budget`'s body: the plan's new budget.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetInput {
    pub zhongshu_id: String,
    #[serde(default)]
    pub budget_usd: Option<f64>,
    #[serde(default)]
    pub budget_tokens: Option<u64>,
}

impl Quota {
    /// The user raises a plan's budget: its departments start again, and the
    /// ones held after their turn are told to go on. Audited.
    pub async fn raise_budget(&self, b: BudgetInput, agents: &dyn Agents) -> LResult<()> {
        use crate::error::LauncherError;
        if b.budget_usd.is_none() && b.budget_tokens.is_none() {
            return Err(LauncherError::BadRequest(
                "give budget_usd (US dollars) or budget_tokens, or both".into(),
            ));
        }
        if b.budget_usd.is_some_and(|u| !u.is_finite() || u <= 0.0) || b.budget_tokens == Some(0) {
            return Err(LauncherError::BadRequest(
                "a budget is a number above 0".into(),
            ));
        }
        agents.require_zhongshu(&b.zhongshu_id)?;
        let held: Vec<String> = self.ctx.store.update(|tx| {
            let Some(plan) = tx.plan_mut(&b.zhongshu_id) else {
                return Err(LauncherError::NotFound(format!(
                    "{} has no plan",
                    b.zhongshu_id
                )));
            };
            plan.budget_usd = b.budget_usd.or(plan.budget_usd);
            plan.budget_tokens = b.budget_tokens.or(plan.budget_tokens);
            plan.budget_reached = None;
            tx.audit(AuditEvent::BudgetRaised {
                zhongshu_id: b.zhongshu_id.clone(),
                budget_usd: b.budget_usd,
                budget_tokens: b.budget_tokens,
            });
            Ok(tx
                .state()
                .working_for(&b.zhongshu_id)
                .filter(|s| {
                    let reported = match s.reviewer() {
                        Some(r) => r.reported_at.is_some(),
                        None => s.has_reported(),
                    };
                    s.is_running() && !reported && s.agent.parked.is_none()
                })
                .filter(|s| s.agent.agent_state == crate::model::AgentState::Idle)
                .map(|s| s.id.clone())
                .collect())
        })??;
        for id in held {
            let text = "[codex-governance] The user raised your plan's budget. Continue your \
                        assignment where you left off, and report when done.";
            if let Err(e) = agents.deliver(&id, text).await {
                tracing::warn!("telling {id} its plan's budget was raised: {e}");
            }
        }
        Ok(())
    }
}
