//! The items of the usage limit, plan budgets and hosts: one item for every
//! parked session and the held queue (*Start anyway*), Codex's offer of a
//! lighter model near the limit, each plan stopped by its budget (*Raise
//! budget*), and queued departments waiting for their host (*Check again*).

use serde_json::json;

use super::parts::{Action, Call, Does, Fill, InputView};
use super::words::plural;
use super::{Inputs, NeedView};
use crate::model::QueueItem;
use crate::policy::needs_you as rules;

/// "1 queued department waits", "3 queued departments wait".
fn queued_wait(n: usize) -> String {
    match n {
        1 => "1 queued department waits".into(),
        _ => format!("{n} queued departments wait"),
    }
}

/// The usage limit's item, the lighter model's offer and the budgets'.
pub(super) fn items(inputs: &Inputs) -> Vec<NeedView> {
    let mut out = Vec::new();
    out.extend(limit(inputs));
    out.extend(model_switch(inputs));
    out.extend(inputs.quota.budgets.iter().map(budget));
    out
}

/// The usage limit: every parked session and the held queue in one item.
fn limit(inputs: &Inputs) -> Option<NeedView> {
    let q = inputs.quota;
    let queued = inputs.snap.state.queue.len();
    let parked = &q.parked;
    let first = parked.first();
    let text = match (first, &q.hold) {
        (Some(p), hold) => format!(
            "Waiting for quota until {}: {} session{} parked",
            hold.as_ref()
                .and_then(|h| h.until_local.as_deref())
                .unwrap_or(&p.until_local),
            parked.len(),
            plural(parked.len())
        ),
        (None, Some(hold)) => format!("New departments wait: {}", hold.text),
        (None, None) => return None,
    };
    let who: Vec<&str> = parked.iter().map(|p| p.session_id.as_str()).collect();
    let held_queue = q.hold.is_some() && queued > 0;
    let detail: Vec<String> = [
        q.limit.as_ref().map(|l| format!("Limit: {l}.")),
        (!who.is_empty()).then(|| {
            format!(
                "Parked: {}; each continues by itself at the reset.",
                who.join(", ")
            )
        }),
        held_queue.then(|| format!("{}.", queued_wait(queued))),
        first.map(|p| p.reason.clone()),
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.is_empty())
    .collect();
    let mut item = NeedView::new(
        format!("quota:{text}"),
        "quota",
        first.map_or("", |p| p.since.as_str()),
        text,
    )
    .detail(detail.join(" "))
    .told(rules::quota_hold(&inputs.snap.state));
    if held_queue {
        item.actions = vec![Call::one(
            "/api/quota/start_anyway",
            json!({}),
            "Could not start anyway",
        )
        .done("Departments start despite the usage limit until it resets.")
        .action("Start anyway", "primary", "start-anyway")];
    }
    Some(item)
}

/// Near the usage limit, Codex's offer: the running sessions switch to a
/// lighter model for their next turns, keep theirs, or keep them and stop asking.
fn model_switch(inputs: &Inputs) -> Option<NeedView> {
    let q = inputs.quota;
    let offer = q.model_switch.as_ref()?;
    let n = offer.sessions.len();
    let answer = |choice: &str, done: &str| {
        Call::one(
            "/api/quota/model_switch",
            json!({"choice": choice}),
            "Could not answer",
        )
        .done(done)
    };
    let keep = "The sessions keep their models.";
    let mut item = NeedView::new(
        format!("model-switch:{}:{}", offer.model, offer.sessions.join(",")),
        "rate_limit",
        q.updated_at.as_deref().unwrap_or(""),
        format!(
            "Approaching the usage limit ({}% of the {} window): switch to {} for the next turns?",
            offer.used_percent.round(),
            offer.window,
            offer.model
        ),
    )
    .detail(format!(
        "{n} running session{} would switch: {}. A lighter model uses less of the limit.",
        plural(n),
        offer.sessions.join(", ")
    ));
    item.actions = vec![
        answer(
            "switch",
            "The running sessions use the lighter model from their next turn.",
        )
        .action(
            format!("Switch to {}", offer.model),
            "primary",
            "switch-model",
        ),
        answer("keep", keep).action("Keep current models", "", "keep-model"),
        answer("never", keep).action("Keep, and stop asking", "", "never-switch"),
    ];
    Some(item)
}

/// A plan stopped by its budget: a new budget (twice the old one to start
/// with) and *Raise budget*.
pub(super) fn budget(b: &crate::views::quota::BudgetView) -> NeedView {
    let in_tokens = b.budget_usd.is_none();
    let (field, step, value, label) = match in_tokens {
        true => (
            "budget_tokens",
            "1000",
            (b.budget_tokens.unwrap_or(0) * 2).to_string(),
            "new budget in tokens",
        ),
        false => (
            "budget_usd",
            "0.5",
            (b.budget_usd.unwrap_or(0.0) * 2.0).to_string(),
            "new budget in US dollars",
        ),
    };
    let mut item = NeedView::new(
        format!("budget:{}:{}", b.zhongshu_id, b.text),
        "budget",
        "",
        format!("{}: its plan {}", b.zhongshu_id, b.text),
    )
    .of(&b.zhongshu_id)
    .detail(
        "No more of its departments start, and running ones wait after their turn, until you \
         raise the budget.",
    );
    item.input = Some(InputView {
        name: field,
        class: "budget-input",
        in_actions: true,
        rows: None,
        label: label.into(),
        placeholder: None,
        step: Some(step.into()),
        value: Some(value),
    });
    item.actions = vec![Call::one(
        "/api/plan_budget",
        json!({"zhongshu_id": b.zhongshu_id}),
        "Could not raise the budget",
    )
    .fill(Fill {
        field,
        required: Some("A budget is a number above 0.".into()),
        number: true,
        whole: in_tokens,
        clear: false,
    })
    .action("Raise budget", "primary", "raise-budget")];
    item
}

/// Queued departments that wait for their host (issue 53): one item per
/// host, with why, and *Check again* (the host's pre-flight anew).
pub(super) fn hosts(queue: &[QueueItem]) -> Vec<NeedView> {
    let mut by_host: Vec<(&str, Vec<&QueueItem>)> = Vec::new();
    for q in queue.iter().filter(|q| q.waiting.is_some()) {
        let host = q.remote.as_deref().unwrap_or("");
        match by_host.iter_mut().find(|(h, _)| *h == host) {
            Some((_, waiting)) => waiting.push(q),
            None => by_host.push((host, vec![q])),
        }
    }
    by_host
        .into_iter()
        .map(|(host, waiting)| {
            let why = waiting[0].waiting.clone().unwrap_or_default();
            let mut item = NeedView::new(
                format!("host:{host}:{why}"),
                "host",
                &waiting[0].queued_at,
                format!("{} for {host}", queued_wait(waiting.len())),
            )
            .detail(why);
            item.actions = vec![Action::new(
                "Check again",
                "primary",
                "check-hosts",
                Does::CheckHosts,
            )];
            item
        })
        .collect()
}
