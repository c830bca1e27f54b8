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

use git2::{DiffOptions, Oid, Patch, Repository};
use serde::Serialize;

use super::changes::change_diff;
use crate::clock;
use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::limits::{MAX_REVIEW_COMMENTS, MAX_REVIEW_COMMENT_CHARS};
use crate::model::{AuditEvent, CommentState, DiffSide, ReviewComment, Session, Workspace};
use crate::policy::review_comments::{follow_base_line, follow_line, state, ChangedRun, Followed};

/// Lines shown on each side of a commented line in the send-back turn.
pub const CONTEXT_LINES: u32 = 3;
/// A file larger than this is not followed (its comments stay where they were).
const MAX_FOLLOWED_BYTES: usize = 4 * 1024 * 1024;

/// `POST /api/review_comments`.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub session_id: String,
    pub path: String,
    pub line: u32,
    pub side: DiffSide,
    pub body: String,
}

/// One comment as `GET /api/review_comments` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CommentView {
    #[serde(flatten)]
    pub comment: ReviewComment,
    pub state: CommentState,
    /// Where it is on the attempt asked about (its `line` on its own attempt).
    pub current_line: u32,
}

/// `GET /api/review_comments?session_id=`: the attempt's comments and its
/// earlier attempts', oldest attempt first.
#[derive(Debug, Clone, Serialize)]
pub struct CommentsView {
    pub session_id: String,
    pub comments: Vec<CommentView>,
    /// Drafts of this attempt: what the next send-back carries.
    pub drafts: usize,
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
    };
    let saved = ctx.store.update(|tx| {
        if tx.review_comments_of(&made.session_id).len() >= MAX_REVIEW_COMMENTS {
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
            comments.push(CommentView {
                state: state(&c, id, followed),
                current_line: followed.map_or(c.line, Followed::line),
                comment: c,
            });
        }
    }
    let drafts = comments
        .iter()
        .filter(|c| c.state == CommentState::Draft)
        .count();
    Ok(CommentsView {
        session_id: id.to_string(),
        comments,
        drafts,
    })
}

/// The drafts a send-back of attempt `id` carries.
pub fn drafts(ctx: &Context, id: &str) -> LResult<Vec<ReviewComment>> {
    Ok(ctx
        .store
        .review_comments_of(id)?
        .into_iter()
        .filter(|c| c.sent_at.is_none() && !c.resolved)
        .collect())
}

/// Where comment `c` stands on the version recorded as commit `now`. A file
/// Git cannot read as text leaves it open where it was.
fn follow(git: &Repository, c: &ReviewComment, now: &str) -> Followed {
    let unchanged = Followed::Open { line: c.line };
    let read = |commit: &str| file_at(git, commit, &c.path);
    match c.side {
        DiffSide::New => {
            if c.commit == now {
                return unchanged;
            }
            let (Ok(was), Ok(is)) = (read(&c.commit), read(now)) else {
                return unchanged;
            };
            match changed_runs(&was.unwrap_or_default(), &is.unwrap_or_default()) {
                Some(runs) => follow_line(c.line, &runs),
                None => unchanged,
            }
        }
        DiffSide::Old => {
            let (Ok(base), Ok(was), Ok(is)) = (read(&c.base), read(&c.commit), read(now)) else {
                return unchanged;
            };
            let base = base.unwrap_or_default();
            let before = in_place_of(&base, &was.unwrap_or_default(), c.line);
            let now = in_place_of(&base, &is.unwrap_or_default(), c.line);
            follow_base_line(c.line, before.as_deref(), now.as_deref())
        }
    }
}

/// The bytes of `path` at `commit` (None: no such file there).
fn file_at(git: &Repository, commit: &str, path: &str) -> Result<Option<Vec<u8>>, git2::Error> {
    let tree = git.find_commit(Oid::from_str(commit)?)?.tree()?;
    let entry = match tree.get_path(Path::new(path)) {
        Ok(e) => e,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let blob = git.find_blob(entry.id())?;
    if blob.size() > MAX_FOLLOWED_BYTES {
        return Err(git2::Error::from_str("too large to follow"));
    }
    Ok(Some(blob.content().to_vec()))
}

fn zero_context() -> DiffOptions {
    let mut opts = DiffOptions::new();
    opts.context_lines(0);
    opts
}

/// The runs of lines that differ between two versions (None: binary).
fn changed_runs(was: &[u8], is: &[u8]) -> Option<Vec<ChangedRun>> {
    let patch = Patch::from_buffers(was, None, is, None, Some(&mut zero_context())).ok()?;
    if patch.delta().flags().is_binary() {
        return None;
    }
    (0..patch.num_hunks())
        .map(|h| {
            patch.hunk(h).ok().map(|(hunk, _)| ChangedRun {
                old_start: hunk.old_start(),
                old_lines: hunk.old_lines(),
                new_start: hunk.new_start(),
                new_lines: hunk.new_lines(),
            })
        })
        .collect()
}

/// What `version` has in place of the base's line `line` when the base's
/// line is changed or removed there (None: kept).
fn in_place_of(base: &[u8], version: &[u8], line: u32) -> Option<Vec<String>> {
    let patch = Patch::from_buffers(base, None, version, None, Some(&mut zero_context())).ok()?;
    for h in 0..patch.num_hunks() {
        let (hunk, count) = patch.hunk(h).ok()?;
        let end = hunk.old_start() + hunk.old_lines();
        if hunk.old_lines() == 0 || !(hunk.old_start()..end).contains(&line) {
            continue;
        }
        let added = (0..count)
            .filter_map(|l| patch.line_in_hunk(h, l).ok())
            .filter(|l| l.origin() == '+')
            .map(|l| text_of(l.content()))
            .collect();
        return Some(added);
    }
    None
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches(['\n', '\r'])
        .to_string()
}

fn from_git(e: git2::Error) -> LauncherError {
    LauncherError::Internal(format!("reading the repository for review comments: {e}"))
}

/// The review part of a send-back turn: each draft with `path:line`, the
/// lines around it as the department's recorded worktree (`ws.commit`; the
/// base for a comment on the old side) has them, and the reviewer's words,
/// marked as the user's.
pub fn review_text(repo: &Path, ws: &Workspace, drafts: &[ReviewComment]) -> LResult<String> {
    if drafts.is_empty() {
        return Ok(String::new());
    }
    let git = Repository::open(repo).map_err(from_git)?;
    let now = ws.commit.clone().unwrap_or_default();
    let mut out = format!(
        "\n\nThe user's review: {} comment{} on lines of your changes. Each comment is the \
         user's own words; act on each one.\n",
        drafts.len(),
        if drafts.len() == 1 { "" } else { "s" }
    );
    for (i, c) in drafts.iter().enumerate() {
        let (line, source, where_) = match c.side {
            DiffSide::New => {
                let line = if now.is_empty() {
                    c.line
                } else {
                    follow(&git, c, &now).line()
                };
                (
                    line,
                    if now.is_empty() { &c.commit } else { &now },
                    "in your worktree",
                )
            }
            DiffSide::Old => (
                c.line,
                &c.base,
                "in the base you started from (a line your change removed or replaced)",
            ),
        };
        out.push_str(&format!("\n{}. {}:{line}\n", i + 1, c.path));
        let text = file_at(&git, source, &c.path).ok().flatten();
        match text {
            Some(bytes) => {
                out.push_str(&format!("   The lines around it {where_}:\n"));
                out.push_str(&around(&String::from_utf8_lossy(&bytes), line));
            }
            None => out.push_str(&format!("   ({} is not there {where_}.)\n", c.path)),
        }
        out.push_str("   The user's comment (the user's own words):\n");
        for l in c.body.lines() {
            out.push_str(&format!("   | {l}\n"));
        }
    }
    Ok(out)
}

/// Characters of one context line kept in the turn (a minified file's line
/// may be megabytes long).
const CONTEXT_LINE_CHARS: usize = 400;

/// Lines `line - CONTEXT_LINES ..= line + CONTEXT_LINES` of `text`, numbered,
/// the commented one marked `>`, each cut at [`CONTEXT_LINE_CHARS`].
fn around(text: &str, line: u32) -> String {
    let first = line.saturating_sub(CONTEXT_LINES).max(1);
    let last = line + CONTEXT_LINES;
    text.lines()
        .enumerate()
        .map(|(i, l)| (i as u32 + 1, l))
        .filter(|(n, _)| (first..=last).contains(n))
        .map(|(n, l)| {
            let mark = if n == line { ">" } else { " " };
            let cut = match l.char_indices().nth(CONTEXT_LINE_CHARS) {
                Some((at, _)) => format!("{}…", &l[..at]),
                None => l.to_string(),
            };
            format!("   {mark} {n:>4} | {cut}\n")
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_around_a_comment_are_numbered_and_it_is_marked() {
        let text = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let got = around(text, 2);
        assert_eq!(
            got,
            "        1 | a\n   >    2 | b\n        3 | c\n        4 | d\n        5 | e\n"
        );
    }

    #[test]
    fn a_long_context_line_is_cut() {
        let long = "x".repeat(5000);
        let got = around(&format!("a\n{long}\n"), 1);
        assert!(
            got.contains(&format!("| {}…\n", "x".repeat(CONTEXT_LINE_CHARS))),
            "{got}"
        );
        assert!(got.len() < 600, "{}", got.len());
    }

    #[test]
    fn changed_runs_number_lines_as_git_does() {
        let runs = changed_runs(b"a\nb\nc\nd\n", b"a\nB\nc\nx\nd\n").unwrap();
        assert_eq!(
            runs,
            vec![
                ChangedRun {
                    old_start: 2,
                    old_lines: 1,
                    new_start: 2,
                    new_lines: 1
                },
                ChangedRun {
                    old_start: 3,
                    old_lines: 0,
                    new_start: 4,
                    new_lines: 1
                },
            ]
        );
        assert_eq!(
            in_place_of(b"a\nb\nc\n", b"a\nB\nc\n", 2),
            Some(vec!["B".to_string()])
        );
        assert_eq!(in_place_of(b"a\nb\nc\n", b"a\nb\nc\nd\n", 2), None);
    }
}
