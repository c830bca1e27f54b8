//! The second opinion's gate (issue 75): whether a reviewer agent's open
//! findings hold a department's work from landing, and the user's override.
//! The rule is `policy::second_opinion::gate`; here its facts are read
//! from the store and the override is kept with its audit line.

use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::model::AuditEvent;
use crate::policy::second_opinion::{self as rules, Standing};

/// Where the second opinion on attempt `id` stands.
pub fn standing(ctx: &Context, id: &str) -> LResult<Standing> {
    let (reviewing, overridden) = ctx.store.read(|st| {
        let reviewing = st
            .reviewers_of(id)
            .filter(|r| r.is_running() && r.reviewer().is_some_and(|p| p.reported_at.is_none()))
            .map(|r| r.id.clone())
            .last();
        let overridden = st
            .sessions
            .get(id)
            .and_then(|s| s.department_part())
            .is_some_and(|d| d.review_overridden.is_some());
        (reviewing, overridden)
    });
    let holding = ctx
        .store
        .review_comments_of(id)?
        .into_iter()
        .filter(rules::holds)
        .map(|c| (c.id, c.path, c.line))
        .collect();
    Ok(Standing {
        reviewing,
        holding,
        overridden,
    })
}

/// Refuses integrating `id` while `review.gate` holds it.
pub fn check_gate(ctx: &Context, id: &str) -> LResult<()> {
    let gate = ctx.config.launcher.review.gate;
    if gate == crate::config::review::ReviewGate::Off {
        return Ok(());
    }
    Ok(rules::gate(gate, id, &standing(ctx, id)?)?)
}

/// The user integrates `id` past its reviewer's findings: kept with the
/// session and audited with the findings it passed, in one change.
pub fn override_review(ctx: &Context, id: &str, reason: Option<&str>) -> LResult<()> {
    let reason = rules::override_reason(reason)?;
    crate::ids::check_id("session_id", id)?;
    let standing = standing(ctx, id)?;
    let findings: Vec<String> = standing.holding.iter().map(|(c, _, _)| c.clone()).collect();
    ctx.store.update(|tx| {
        let Some(d) = tx.session_mut(id).and_then(|s| s.department_mut()) else {
            return Err(LauncherError::NotFound(format!(
                "no department session {id}"
            )));
        };
        d.review_overridden = Some(reason.clone());
        tx.audit(AuditEvent::ReviewOverridden {
            session_id: id.to_string(),
            findings: findings.clone(),
            reason: reason.clone(),
        });
        Ok(())
    })??;
    Ok(())
}
