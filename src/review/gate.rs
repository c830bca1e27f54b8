//! The second opinion's gate (issue 75): whether a reviewer agent's open
//! findings hold a department's work from landing, and the user's override.
//! The rule is `policy::second_opinion::gate`; here its facts are read
//! from the store and the override is kept with its audit line.

use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::model::{AuditEvent, ReviewOverride};
use crate::policy::second_opinion::{self as rules, Review, Standing};

/// Where the second opinion on attempt `id` stands, for its recorded
/// commit (`at`: the commit about to land, when it was recorded again).
pub fn standing(ctx: &Context, id: &str, at: Option<&str>) -> LResult<Standing> {
    let settings = &ctx.config.launcher.review;
    let read = ctx.store.read(|st| {
        let s = st.sessions.get(id)?;
        let ws = s.workspace()?;
        let commit = at.map(str::to_string).or_else(|| ws.commit.clone())?;
        // Work recorded again as it lands is judged unread: its facts are
        // not the ones `ws` holds.
        let facts = match ws.commit.as_deref() == Some(commit.as_str()) {
            true => rules::facts_of(ws),
            false => rules::WorkFacts {
                flagged: true,
                ..rules::WorkFacts::default()
            },
        };
        let latest = st
            .reviewers_of(id)
            .filter(|r| r.reviewer().is_some_and(|p| p.commit == commit))
            .last()
            .map(|r| {
                (
                    r.id.clone(),
                    r.is_running(),
                    r.reviewer().and_then(|p| p.reported_at.clone()),
                )
            });
        let review = match latest {
            Some((_, _, Some(_))) => Review::Reported,
            Some((r, true, None)) => Review::Reading(r),
            Some((r, false, None)) => Review::EndedWithout(r),
            None if rules::wanted(settings, own_word(ctx, s), &facts) => Review::Due,
            None => Review::NotWanted,
        };
        let overridden = s
            .department_part()
            .and_then(|d| d.review_overridden.clone())
            .filter(|o| o.commit == commit);
        Some((commit, review, overridden))
    });
    let Some((commit, review, overridden)) = read else {
        return Ok(Standing::default());
    };
    let passed = overridden
        .as_ref()
        .map(|o| o.findings.clone())
        .unwrap_or_default();
    let holding = ctx
        .store
        .review_comments_of(id)?
        .into_iter()
        .filter(|c| c.commit == commit && rules::holds(c) && !passed.contains(&c.id))
        .map(|c| (c.id, c.path, c.line))
        .collect();
    Ok(Standing {
        review,
        holding,
        overridden: overridden.is_some(),
    })
}

/// Refuses integrating `id` while `review.gate` holds it (`at`: the commit
/// about to land, when it differs from the recorded one).
pub fn check_gate(ctx: &Context, id: &str, at: Option<&str>) -> LResult<()> {
    let gate = ctx.config.launcher.review.gate;
    if gate == crate::config::review::ReviewGate::Off {
        return Ok(());
    }
    Ok(rules::gate(gate, id, &standing(ctx, id, at)?)?)
}

/// The user integrates `id` past its reviewer's hold: kept with the
/// session (its commit and the findings it passed) and audited, in one
/// change. A finding reported later holds again.
pub fn override_review(ctx: &Context, id: &str, reason: Option<&str>) -> LResult<()> {
    let reason = rules::override_reason(reason)?;
    crate::ids::check_id("session_id", id)?;
    let standing = standing(ctx, id, None)?;
    let findings: Vec<String> = standing.holding.iter().map(|(c, _, _)| c.clone()).collect();
    ctx.store.update(|tx| {
        let commit = tx
            .session(id)
            .and_then(|s| s.workspace())
            .and_then(|w| w.commit.clone());
        let (Some(d), Some(commit)) = (tx.session_mut(id).and_then(|s| s.department_mut()), commit)
        else {
            return Err(LauncherError::Conflict(format!(
                "{id} has no recorded work to override a review of"
            )));
        };
        let mut passed = d
            .review_overridden
            .take()
            .filter(|o| o.commit == commit)
            .map(|o| o.findings)
            .unwrap_or_default();
        passed.extend(findings.iter().cloned());
        d.review_overridden = Some(ReviewOverride {
            commit,
            findings: passed,
            reason: reason.clone(),
        });
        tx.audit(AuditEvent::ReviewOverridden {
            session_id: id.to_string(),
            findings: findings.clone(),
            reason: reason.clone(),
        });
        Ok(())
    })??;
    Ok(())
}

/// Department `s`'s own `review` word (issue 75), over `launcher.review.when`.
pub fn own_word(
    ctx: &Context,
    s: &crate::model::Session,
) -> Option<crate::config::review::ReviewWhen> {
    s.department
        .as_deref()
        .and_then(|d| ctx.config.department(d))
        .and_then(|d| d.review)
}
