//! Items that stand for several sessions: every suspended session in one,
//! every planner done with its plan in one.

use std::collections::HashSet;

use serde_json::json;

use super::parts::{Action, Call, Does, Hold, Request};
use super::words::{plural, sentences, title};
use super::{Inputs, NeedView};
use crate::policy::needs_you as rules;

/// One item for every session suspended (its agent program cannot start,
/// or the repository's changed configuration waits for trust): the note at
/// the top of the page says what to do, once. A planner done with its plan
/// is not of them: it waits for nothing of the user's.
pub(super) fn suspended(inputs: &Inputs) -> Option<NeedView> {
    let restful: HashSet<&str> = inputs
        .finished_planners
        .iter()
        .map(String::as_str)
        .collect();
    let suspended: Vec<_> = inputs
        .sessions
        .iter()
        .filter(|v| v.suspended && !restful.contains(v.session.id.as_str()))
        .collect();
    let first = &suspended.first()?.session;
    let n = suspended.len();
    let ids: Vec<&str> = suspended.iter().map(|v| v.session.id.as_str()).collect();
    let (who, resume) = match n {
        1 => (title(first), "it resumes"),
        _ => (format!("{n} sessions"), "they resume"),
    };
    let detail = match n {
        1 => sentences(&[
            first.agent.attention.as_ref().map(|a| a.text.as_str()),
            Some("Nothing is lost meanwhile"),
        ]),
        _ => "The note at the top says what they wait for. Nothing is lost meanwhile.".into(),
    };
    let state = &inputs.snap.state;
    let mut item = NeedView::new(
        format!("suspended:{}", ids.join(",")),
        "suspended",
        first.last_activity_at.as_deref().unwrap_or(&first.started_at),
        format!(
            "{who} suspended: {resume} on the same conversation once the note at the top is dealt with"
        ),
    )
    .of(&first.id)
    .detail(detail)
    .told(
        ids.iter()
            .filter_map(|id| state.sessions.get(*id))
            .filter_map(|s| rules::attention(state, s)),
    );
    if suspended.iter().any(|v| v.resumes_on_check) {
        item.actions = vec![Action::new(
            "Check again",
            "primary",
            "check-agents",
            Does::CheckAgents,
        )];
    }
    Some(item)
}

/// Planners done with their plan: one action closes them all.
pub(super) fn finished_planners(ids: &[String]) -> Option<NeedView> {
    let n = ids.len();
    let first = ids.first()?;
    let mut close = Call::one("/api/close_session", json!({}), "Could not close")
        .done(format!("Closed {n} finished planner{}.", plural(n)))
        .hold(Hold::WhileRunning);
    close.requests = ids
        .iter()
        .map(|id| Request {
            path: "/api/close_session",
            body: json!({"session_id": id, "stop_departments": false})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            what: Some(id.clone()),
        })
        .collect();
    let (text, detail) = match n {
        1 => (
            format!("Planner {first} is done with its plan"),
            "It waits idle, holding memory. Closing keeps its plan, results and conversation."
                .to_string(),
        ),
        _ => (
            format!("{n} planners are done with their plans"),
            format!(
                "They wait idle, each holding memory: {}. Closing keeps their plans, results and conversations.",
                ids.join(", ")
            ),
        ),
    };
    let mut item = NeedView::new(
        format!("finished-planners:{}", ids.join(",")),
        "finished-planners",
        "",
        text,
    )
    .detail(detail);
    item.actions = vec![close.action(
        format!("Close {n} finished planner{}", plural(n)),
        "primary",
        "close-finished",
    )];
    Some(item)
}
