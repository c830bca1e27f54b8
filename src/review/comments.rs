//! Review comments on a department's diff lines (issue 51): the reviewer
//! writes them in the changes drawer as drafts, a send-back carries them to
//! the department in one turn, and the next attempt shows each as addressed
//! or open (`policy::review_comments`).
//!
//! A comment is kept with the attempt (department session) whose recorded
//! diff it was written on, in the store, one transaction per change with its
//! audit line. Its path and line must be in that diff, so the department is
//! never pointed at a line the reviewer did not see. Every file is read from
//! Git's objects (the recorded commit, the base), never from the worktree
//! folder an agent controls, so no link there makes the launcher read
//! beyond it.

use std::path::Path;

use git2::Repository;

use super::changes::change_diff;
use crate::clock;
use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::limits::{MAX_REVIEW_COMMENTS, MAX_REVIEW_COMMENT_CHARS};
use crate::model::{AuditEvent, DiffSide, ReviewComment, Session, Workspace};
use crate::policy::review_comments::{state, Followed};
use crate::views::review::{CommentView, CommentsView};

use super::comment_lines::{follow, from_git};
pub use super::comment_lines::{lines_at, review_text, CONTEXT_LINES};

/// `POST /api/review_comments`.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub session_id: String,
    pub path: String,
    pub line: u32,
    pub side: DiffSide,
    pub body: String,
}

fn session(ctx: &Context, id: &str) -> LResult<Session> {
    ctx.store
        .read(|st| st.sessions.get(id).cloned())
        .ok_or_else(|| LauncherError::NotFound(format!("no session {id}")))
}

fn comment(ctx: &Context, id: &str) -> LResult<ReviewComment> {
    crate::ids::check_id("id", id)?;
    ctx.store
        .review_comment(id)?
        .ok_or_else(|| LauncherError::NotFound(format!("no review comment {id}")))
}

/// Adds a draft on a line of the attempt's recorded diff.
pub fn add(ctx: &Context, new: NewComment) -> LResult<ReviewComment> {
    let body = new.body.trim();
    if body.is_empty() {
        return Err(LauncherError::BadRequest(
            "the comment must not be empty".into(),
        ));
    }
    let chars = body.chars().count();
    if chars > MAX_REVIEW_COMMENT_CHARS {
        return Err(LauncherError::BadRequest(format!(
            "the comment has {chars} characters; at most {MAX_REVIEW_COMMENT_CHARS} are kept"
        )));
    }
    let s = session(ctx, &new.session_id)?;
    let ws = s.workspace().cloned().ok_or_else(|| {
        LauncherError::BadRequest(format!(
            "{} works in the shared working tree: it has no diff to comment on",
            s.id
        ))
    })?;
    if let Some(next) = &ws.successor {
        return Err(LauncherError::Conflict(format!(
            "{} was sent back and {next} works on: comment on {next}'s changes",
            s.id
        )));
    }
    let commit = ws
        .commit
        .clone()
        .ok_or_else(|| LauncherError::BadRequest(format!("{} has recorded nothing yet", s.id)))?;
    in_the_diff(&ctx.repo, &ws, &new)?;
    let made = ReviewComment {
        id: String::new(),
        session_id: s.id.clone(),
        path: new.path.clone(),
        line: new.line,
        side: new.side,
        body: body.to_string(),
        created_at: clock::now_rfc3339(),
        commit,
        base: ws.base.clone(),
        sent_at: None,
        resolved: false,
        finding: None,
    };
    let saved = ctx.store.update(|tx| {
        let yours = tx
            .review_comments_of(&made.session_id)
            .iter()
            .filter(|c| c.users())
            .count();
        if yours >= MAX_REVIEW_COMMENTS {
            return Err(LauncherError::TooMany(format!(
                "{} already has {MAX_REVIEW_COMMENTS} review comments",
                made.session_id
            )));
        }
        let c = ReviewComment {
            id: tx.next_id("rc"),
            ..made.clone()
        };
        tx.put_review_comment(&c);
        tx.audit(AuditEvent::ReviewCommentAdded {
            session_id: c.session_id.clone(),
            comment_id: c.id.clone(),
            path: c.path.clone(),
            line: c.line,
            side: c.side,
        });
        Ok(c)
    })?;
    saved
}

/// BadRequest unless `new`'s line is on its side of the attempt's diff of its path.
fn in_the_diff(repo: &Path, ws: &Workspace, new: &NewComment) -> LResult<()> {
    let diff = change_diff(repo, ws, &new.path).map_err(|e| match e {
        LauncherError::NotFound(_) => LauncherError::BadRequest(format!(
            "{} is not among the changes of this attempt: comment on a file of its diff",
            new.path
        )),
        other => other,
    })?;
    let shown = diff.hunks.iter().flat_map(|h| &h.lines).any(|l| {
        let n = match new.side {
            DiffSide::New => l.new_line,
            DiffSide::Old => l.old_line,
        };
        n == Some(new.line)
    });
    if !shown {
        return Err(LauncherError::BadRequest(format!(
            "line {} of {} ({} side) is not in the diff: comment on a line the diff shows",
            new.line, new.path, new.side
        )));
    }
    Ok(())
}

/// Deletes a draft (a sent comment is part of the record: resolve it instead).
pub fn delete(ctx: &Context, id: &str) -> LResult<ReviewComment> {
    let c = comment(ctx, id)?;
    if c.sent_at.is_some() {
        return Err(LauncherError::Conflict(format!(
            "{id} was sent to the department and stays in the record: resolve it instead"
        )));
    }
    ctx.store.update(|tx| {
        tx.delete_review_comment(id);
        tx.audit(AuditEvent::ReviewCommentDeleted {
            session_id: c.session_id.clone(),
            comment_id: id.to_string(),
        });
    })?;
    Ok(c)
}

/// Resolves a comment, or reopens it.
pub fn resolve(ctx: &Context, id: &str, resolved: bool) -> LResult<ReviewComment> {
    let c = comment(ctx, id)?;
    let changed = ReviewComment {
        resolved,
        ..c.clone()
    };
    ctx.store.update(|tx| {
        tx.put_review_comment(&changed);
        tx.audit(AuditEvent::ReviewCommentResolved {
            session_id: c.session_id.clone(),
            comment_id: id.to_string(),
            resolved,
        });
    })?;
    Ok(changed)
}

/// The attempt and its earlier ones (its worktree's predecessors), oldest first.
fn attempts(ctx: &Context, id: &str) -> LResult<Vec<Session>> {
    let mut chain = vec![session(ctx, id)?];
    while let Some(before) = chain
        .last()
        .and_then(|s| s.workspace())
        .and_then(|w| w.predecessor.clone())
    {
        // A chain is as long as its send-backs; a loop is a damaged record.
        if chain.len() > 200 || chain.iter().any(|s| s.id == before) {
            break;
        }
        match ctx.store.read(|st| st.sessions.get(&before).cloned()) {
            Some(s) => chain.push(s),
            None => break,
        }
    }
    chain.reverse();
    Ok(chain)
}

/// The comments of attempt `id` and of its earlier attempts, each with its
/// state and its line on this attempt.
pub fn list(ctx: &Context, id: &str) -> LResult<CommentsView> {
    let chain = attempts(ctx, id)?;
    let now = chain
        .last()
        .and_then(|s| s.workspace())
        .and_then(|w| w.commit.clone());
    let git = Repository::open(&ctx.repo).map_err(from_git)?;
    let mut comments = Vec::new();
    for attempt in &chain {
        for c in ctx.store.review_comments_of(&attempt.id)? {
            let followed = match (&now, c.session_id == id) {
                (Some(now), false) => Some(follow(&git, &c, now)),
                _ => None,
            };
            let state = state(&c, id, followed);
            let line = followed.map_or(c.line, Followed::line);
            comments.push(CommentView::new(c, state, line));
        }
    }
    Ok(CommentsView::new(id, comments))
}

/// The drafts a send-back of attempt `id` carries.
pub fn drafts(ctx: &Context, id: &str) -> LResult<Vec<ReviewComment>> {
    Ok(ctx
        .store
        .review_comments_of(id)?
        .into_iter()
        .filter(|c| c.sent_at.is_none() && !c.resolved && c.users())
        .collect())
}

/// Marks the drafts a send-back carried as sent, with its audit line and
/// the plan's count, in one transaction.
pub fn mark_sent(
    ctx: &Context,
    id: &str,
    sent: &[ReviewComment],
    successor: Option<&str>,
) -> LResult<()> {
    let at = clock::now_rfc3339();
    ctx.store.update(|tx| {
        for c in sent {
            tx.put_review_comment(&ReviewComment {
                sent_at: Some(at.clone()),
                ..c.clone()
            });
        }
        let parent = tx
            .session(id)
            .and_then(|s| s.parent_session_id().map(str::to_string));
        let now = successor.unwrap_or(id);
        if let Some(p) = parent.and_then(|p| tx.plan_mut(&p)) {
            if let Some(a) = p
                .assignments
                .iter_mut()
                .find(|a| a.session_id.as_deref() == Some(now))
            {
                a.review_comments = sent.len() as u32;
            }
        }
        tx.audit(AuditEvent::ReviewSentBack {
            session_id: id.to_string(),
            comments: sent.len(),
            successor: successor.map(str::to_string),
        });
    })?;
    Ok(())
}

/// A reviewer's summary is kept this long at most (it is shown on the plan card).
const MAX_SUMMARY_BYTES: usize = 4000;

/// What a reviewer's report came to (issue 75).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported {
    pub important: usize,
    pub minor: usize,
    pub nit: usize,
    pub file_notes: usize,
}

/// Keeps a reviewer's findings on the work it reviewed, in one transaction
/// with its audit line and the call's receipt: each on a line the diff
/// shows is a line comment, one elsewhere (another line, a file the diff
/// does not change) a note on its file. Marked as the reviewer's, never
/// the user's.
pub fn add_findings(
    ctx: &Context,
    reviewer: &Session,
    input: &crate::policy::second_opinion::FindingsInput,
    receipt: Option<crate::model::ToolReceipt>,
) -> LResult<Reported> {
    crate::policy::second_opinion::check_findings(input)?;
    let part = reviewer
        .reviewer()
        .cloned()
        .ok_or_else(|| LauncherError::Forbidden(format!("{} is not a reviewer", reviewer.id)))?;
    if part.reported_at.is_some() {
        return Err(reported_once(&reviewer.id));
    }
    let reviewed = session(ctx, &part.reviews)?;
    let ws = reviewed.workspace().cloned().ok_or_else(|| {
        LauncherError::Conflict(format!("{} has no worktree to review", reviewed.id))
    })?;
    let now = clock::now_rfc3339();
    let made = as_comments(ctx, reviewer, &part, &reviewed.id, &ws, input, &now)?;
    let (important, minor, nit) = crate::policy::second_opinion::counts(&made);
    let reported = Reported {
        important,
        minor,
        nit,
        file_notes: made
            .iter()
            .filter(|c| c.finding.as_ref().is_some_and(|f| f.file_note))
            .count(),
    };
    let summary = crate::sanitize::pasted_text(input.summary.trim());
    let summary = crate::text::head(&summary, MAX_SUMMARY_BYTES).to_string();
    ctx.store.update(|tx| {
        // Checked again inside the change: two calls at once record one.
        let done = tx
            .session(&reviewer.id)
            .and_then(|s| s.reviewer())
            .is_none_or(|r| r.reported_at.is_some());
        if done {
            return Err(reported_once(&reviewer.id));
        }
        let kept = tx.review_comments_of(&reviewed.id).len();
        if kept + made.len() > MAX_REVIEW_COMMENTS * 2 {
            return Err(LauncherError::TooMany(format!(
                "{} already has {kept} review comments",
                reviewed.id
            )));
        }
        for c in &made {
            let c = ReviewComment {
                id: tx.next_id("rc"),
                ..c.clone()
            };
            tx.put_review_comment(&c);
        }
        if let Some(s) = tx.session_mut(&reviewer.id) {
            mark_reported(
                s,
                &now,
                &summary,
                [important, minor, nit],
                receipt.clone(),
                made.len(),
            );
        }
        tx.audit(AuditEvent::ReviewFindings {
            session_id: reviewer.id.clone(),
            reviews: reviewed.id.clone(),
            important,
            minor,
            nit,
            file_notes: reported.file_notes,
        });
        Ok(())
    })??;
    Ok(reported)
}

fn reported_once(reviewer: &str) -> LauncherError {
    LauncherError::Conflict(format!(
        "{reviewer} reported its findings already: a review is reported once"
    ))
}

/// A reviewer reported once: when, its summary and counts, and the call's
/// receipt.
fn mark_reported(
    s: &mut Session,
    now: &str,
    summary: &str,
    counts: [usize; 3],
    receipt: Option<crate::model::ToolReceipt>,
    findings: usize,
) {
    if let crate::model::KindPart::Reviewer(r) = &mut s.kind {
        r.reported_at = Some(now.to_string());
        r.summary = Some(summary.to_string());
        r.counts = counts;
    }
    if let Some(receipt) = receipt {
        s.agent.record_tool_call(crate::model::ToolReceipt {
            outcome: format!("{findings} findings"),
            ..receipt
        });
    }
}

/// A reviewer's findings as comments on the work it reviewed: one on a
/// line the diff shows is a line comment, one elsewhere a note on its file.
fn as_comments(
    ctx: &Context,
    reviewer: &Session,
    part: &crate::model::ReviewerPart,
    reviewed: &str,
    ws: &crate::model::Workspace,
    input: &crate::policy::second_opinion::FindingsInput,
    now: &str,
) -> LResult<Vec<ReviewComment>> {
    use crate::model::Finding;
    let mut made = Vec::with_capacity(input.findings.len());
    for f in &input.findings {
        super::repo_path::check_path(&f.path)?;
        let asked = NewComment {
            session_id: reviewed.to_string(),
            path: f.path.clone(),
            line: f.line,
            side: f.side,
            body: f.body.clone(),
        };
        let on_line = match in_the_diff(&ctx.repo, ws, &asked) {
            Ok(()) => true,
            Err(LauncherError::BadRequest(_)) => false,
            Err(e) => return Err(e),
        };
        made.push(ReviewComment {
            id: String::new(),
            session_id: reviewed.to_string(),
            path: f.path.clone(),
            line: f.line,
            side: f.side,
            body: crate::sanitize::pasted_text(f.body.trim()),
            created_at: now.to_string(),
            commit: part.commit.clone(),
            base: ws.base.clone(),
            sent_at: None,
            resolved: false,
            finding: Some(Finding {
                reviewer: reviewer.id.clone(),
                severity: f.severity,
                file_note: !on_line,
                accepted_at: None,
                dismissed: None,
            }),
        });
    }
    Ok(made)
}

/// A reviewer's finding, or why it is not one to decide on.
fn finding_of(c: &ReviewComment) -> LResult<crate::model::Finding> {
    c.finding.clone().ok_or_else(|| {
        LauncherError::BadRequest(format!(
            "{} is your own comment, not a reviewer's finding: edit, delete or resolve it",
            c.id
        ))
    })
}

/// Decides on finding `id` in one change, reading it there (a decision
/// made at the same time as another, or as a send-back, sees it):
/// `decide` gives the changed finding and its audit line, or why not.
fn decide(
    ctx: &Context,
    id: &str,
    decide: impl Fn(
        &ReviewComment,
        crate::model::Finding,
    ) -> LResult<Option<(crate::model::Finding, AuditEvent)>>,
) -> LResult<ReviewComment> {
    crate::ids::check_id("id", id)?;
    ctx.store.update(|tx| {
        let c = tx
            .review_comment(id)
            .ok_or_else(|| LauncherError::NotFound(format!("no review comment {id}")))?;
        let f = finding_of(&c)?;
        let Some((f, line)) = decide(&c, f)? else {
            return Ok(c);
        };
        let changed = ReviewComment {
            finding: Some(f),
            ..c
        };
        tx.put_review_comment(&changed);
        tx.audit(line);
        Ok(changed)
    })?
}

/// The user takes a reviewer's finding as their own: the next send-back
/// of its attempt carries it, in the user's name.
pub fn accept(ctx: &Context, id: &str) -> LResult<ReviewComment> {
    decide(ctx, id, |c, f| {
        if f.dismissed.is_some() {
            return Err(LauncherError::Conflict(format!(
                "{id} was dismissed: it cannot be accepted as well"
            )));
        }
        if f.accepted_at.is_some() {
            return Ok(None);
        }
        let line = AuditEvent::ReviewFindingAccepted {
            session_id: c.session_id.clone(),
            comment_id: id.to_string(),
        };
        Ok(Some((
            crate::model::Finding {
                accepted_at: Some(clock::now_rfc3339()),
                ..f
            },
            line,
        )))
    })
}

/// The user dismisses a reviewer's finding, saying why.
pub fn dismiss(ctx: &Context, id: &str, reason: &str) -> LResult<ReviewComment> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(LauncherError::BadRequest(
            "say why you dismiss the finding (reason)".into(),
        ));
    }
    if reason.chars().count() > MAX_REVIEW_COMMENT_CHARS {
        return Err(LauncherError::BadRequest(format!(
            "the reason is longer than {MAX_REVIEW_COMMENT_CHARS} characters"
        )));
    }
    decide(ctx, id, |c, f| {
        if f.accepted_at.is_some() {
            return Err(LauncherError::Conflict(format!(
                "{id} was accepted as yours: resolve it instead"
            )));
        }
        let line = AuditEvent::ReviewFindingDismissed {
            session_id: c.session_id.clone(),
            comment_id: id.to_string(),
            reason: reason.to_string(),
        };
        Ok(Some((
            crate::model::Finding {
                dismissed: Some(reason.to_string()),
                ..f
            },
            line,
        )))
    })
}
