//! The choice among an assignment's attempts (issue 74) as the work's
//! owner keeps it: one store change records it in the plan with its audit
//! line (and takes the group's attempts still waiting for a slot out of the
//! queue); the others are then settled as a Discard settles (worktree
//! removed, branch kept), one still running stopped first: its exit settles
//! it. `crate::attempts` chooses through here, and so does a proposal
//! carried out by `launcher.auto_integrate`.

use crate::context::Context;
use crate::error::LResult;
use crate::model::{AuditEvent, CloseReason, Session};
use crate::policy::attempts as rules;

use super::Integrations;

/// Who chose, as the audit says, when `launcher.auto_integrate` carried out
/// the planner's proposal.
pub const BY_AUTO_INTEGRATE: &str = "auto_integrate";

/// What a choice did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Chosen {
    pub chosen: String,
    /// The other attempts, settled (or to be, once they end).
    pub others: Vec<String>,
}

/// Records `id` as its group's choice (`by`: who chose), in one change.
pub fn record(ctx: &Context, id: &str, by: &str) -> LResult<Chosen> {
    let chosen = ctx.store.update(|tx| {
        let st = tx.state();
        let s = st
            .sessions
            .get(id)
            .ok_or_else(|| crate::policy::Refusal::Unknown(format!("no session {id}")))?;
        let waits = !s.is_running() && s.workspace().is_some_and(|w| w.state.awaits_user());
        rules::may_choose(
            id,
            rules::attempt_of(s).map(|(_, a)| a),
            waits,
            rules::chosen_of(st, s),
        )?;
        let (parent, attempt) = rules::attempt_of(s).expect("checked: an attempt");
        let (parent, group) = (parent.to_string(), attempt.group);
        let others: Vec<String> = rules::members(st, s)
            .iter()
            .filter(|m| m.id != id)
            .map(|m| m.id.clone())
            .collect();
        let plan = tx.plan_mut(&parent).ok_or_else(|| {
            crate::policy::Refusal::Conflict(format!(
                "{id}'s plan is not {parent}'s any more (retried under another planner): \
                     integrate it as any department's work"
            ))
        })?;
        plan.attempt_choices
            .insert(group.to_string(), id.to_string());
        // Attempts still waiting for a slot do not start.
        let queued: Vec<String> = tx
            .state()
            .queue
            .iter()
            .filter(|q| {
                q.parent_session_id.as_deref() == Some(parent.as_str())
                    && q.attempt.as_ref().is_some_and(|a| a.group == group)
            })
            .map(|q| q.id.clone())
            .collect();
        tx.queue_mut().retain(|q| !queued.contains(&q.id));
        if let Some(plan) = tx.plan_mut(&parent) {
            for a in plan.assignments.iter_mut() {
                if a.queue_id.as_ref().is_some_and(|q| queued.contains(q)) {
                    a.status = crate::model::AssignmentStatus::Skipped;
                }
            }
        }
        tx.audit(AuditEvent::AttemptChosen {
            zhongshu_id: parent,
            group,
            chosen: id.to_string(),
            others: others.clone(),
            by: by.to_string(),
        });
        Ok::<_, crate::policy::Refusal>(Chosen {
            chosen: id.to_string(),
            others,
        })
    })??;
    Ok(chosen)
}

/// Settles the attempts `chosen` left.
pub async fn settle_others(integrations: &Integrations, chosen: &Chosen) {
    for other in &chosen.others {
        if let Some(s) = integrations.sessions.session(other) {
            settle_if_not_chosen(integrations, &s).await;
        }
    }
}

/// `s` is an attempt of a group whose choice is another: a running one is
/// stopped (its exit settles it), an ended one is discarded. True when it
/// was not chosen.
pub async fn settle_if_not_chosen(integrations: &Integrations, s: &Session) -> bool {
    let settled = integrations.ctx.store.read(|st| {
        let live = st.sessions.get(&s.id)?;
        let chosen = rules::chosen_of(st, live)?;
        Some(!rules::continues(st, live, chosen))
    });
    if settled != Some(true) {
        return false;
    }
    if s.is_running() {
        if let Err(e) = integrations
            .sessions
            .close_session(&s.id, CloseReason::AttemptSettled)
            .await
        {
            tracing::warn!("stopping {}, not the chosen attempt: {e}", s.id);
        }
        return true;
    }
    if s.workspace().is_some_and(|w| w.state.awaits_user()) {
        if let Err(e) = integrations.discard(&s.id).await {
            tracing::warn!("settling {}, not the chosen attempt: {e}", s.id);
        }
    }
    true
}
