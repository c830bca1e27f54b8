//! A reviewer agent's open findings go into the department's pull request as
//! one review (issue 75, item 5): once the pull request is opened, once new
//! work is pushed onto it, once a review reports on work already in it, and
//! at each look at it (a post that failed is tried again). Each finding goes
//! once; the words are [`crate::forge::findings`]'s. The review's id is kept
//! with the pull request, so reading the forge back never takes the
//! launcher's own review for a teammate's (no send-back loop).

use super::{each_carrier, forge_error};
use crate::context::Context;
use crate::forge::findings::{self, Posted, Summary};
use crate::forge::{ForgeError, Setup};
use crate::model::{AuditEvent, DiffSide, PullRequest, ReviewComment};

/// What is to be posted for one department: its pull request and the
/// findings on the commit it carries that are open and not posted yet.
struct Due {
    pr: PullRequest,
    findings: Vec<Posted>,
    summaries: Vec<Summary>,
}

/// Posts department `id`'s findings not yet in its open pull request.
/// `loud`: a failure is audited (a look at the pull request only logs it,
/// and tries again at the next).
pub(super) async fn post(
    ctx: &Context,
    setup: &Setup,
    notes: &tokio::sync::Mutex<()>,
    id: &str,
    loud: bool,
) {
    let _one = notes.lock().await;
    let Some(due) = due(ctx, id) else {
        return;
    };
    let number = due.pr.number;
    let mut review = findings::review(&due.pr.head, &due.findings, &due.summaries, false);
    let mut posted = setup.forge.post_review(number, review.clone()).await;
    // A line the forge cannot place on its diff refuses the whole review:
    // every finding goes into its text then.
    if matches!(posted, Err(ForgeError::Refused { status: 422, .. })) && !review.lines.is_empty() {
        review = findings::review(&due.pr.head, &due.findings, &due.summaries, true);
        posted = setup.forge.post_review(number, review.clone()).await;
    }
    let ids: Vec<String> = due.findings.iter().map(|f| f.id.clone()).collect();
    let saved = match posted {
        Ok(review_id) => ctx.store.update(|tx| {
            each_carrier(tx, &due.pr, |_, w| {
                if let Some(p) = w.pull_request.as_mut() {
                    p.posted_reviews.push(review_id);
                    p.seen_notes.push(format!("r{review_id}"));
                    p.findings_posted.extend(ids.iter().cloned());
                }
            });
            tx.audit(AuditEvent::ForgeFindingsPosted {
                session_id: id.to_string(),
                number,
                review_id,
                findings: ids.clone(),
                on_lines: review.lines.len(),
                accepted: due.findings.iter().filter(|f| f.accepted).count(),
            });
        }),
        Err(e) => {
            let error = forge_error(e).to_string();
            tracing::warn!("posting the findings on {id} into pull request #{number}: {error}");
            if !loud {
                return;
            }
            ctx.store.update(|tx| {
                tx.audit(AuditEvent::ForgeFindingsFailed {
                    session_id: id.to_string(),
                    number,
                    error,
                })
            })
        }
    };
    if let Err(e) = saved {
        tracing::error!("keeping the findings posted on pull request #{number}: {e}");
    }
}

/// `id`'s open pull request and what of its findings is due there: those
/// on the commit the pull request carries for it, neither dismissed nor
/// resolved, not posted yet. None when nothing is due.
fn due(ctx: &Context, id: &str) -> Option<Due> {
    let (pr, reviewers) = ctx.store.read(|st| {
        let pr = st
            .sessions
            .get(id)?
            .workspace()?
            .pull_request
            .clone()
            .filter(PullRequest::is_open)?;
        let reviewers: Vec<(String, String, Option<String>)> = st
            .reviewers_of(id)
            .filter_map(|r| {
                let part = r.reviewer()?;
                Some((r.id.clone(), part.agent_key.clone(), part.summary.clone()))
            })
            .collect();
        // No reviewer, no finding: the comments are not read at each look.
        (!reviewers.is_empty()).then_some((pr, reviewers))
    })?;
    let carried = pr
        .carries
        .iter()
        .find(|c| c.session_id == id)?
        .commit
        .clone();
    let comments = ctx.store.review_comments_of(id).ok()?;
    let agent_of = |reviewer: &str| {
        reviewers
            .iter()
            .find(|(r, _, _)| r == reviewer)
            .map_or_else(String::new, |(_, a, _)| a.clone())
    };
    let findings: Vec<Posted> = comments
        .iter()
        .filter(|c| c.commit == carried && !c.resolved && !pr.findings_posted.contains(&c.id))
        .filter_map(|c| posted(c, &agent_of))
        .collect();
    if findings.is_empty() {
        return None;
    }
    let summaries = reviewers
        .iter()
        .filter(|(r, _, _)| findings.iter().any(|f| &f.reviewer == r))
        .filter_map(|(r, a, s)| {
            s.as_ref().map(|text| Summary {
                reviewer: r.clone(),
                agent: a.clone(),
                text: text.clone(),
            })
        })
        .collect();
    Some(Due {
        pr,
        findings,
        summaries,
    })
}

/// A reviewer agent's finding the user has not dismissed, as posted.
fn posted(c: &ReviewComment, agent_of: &impl Fn(&str) -> String) -> Option<Posted> {
    let f = c.finding.as_ref().filter(|f| f.dismissed.is_none())?;
    Some(Posted {
        id: c.id.clone(),
        reviewer: f.reviewer.clone(),
        agent: agent_of(&f.reviewer),
        path: c.path.clone(),
        line: c.line,
        new_side: c.side == DiffSide::New,
        on_diff: !f.file_note,
        severity: f.severity,
        body: c.body.clone(),
        accepted: f.accepted_at.is_some(),
    })
}
