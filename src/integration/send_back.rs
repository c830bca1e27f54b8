//! Sending a department's work back with the user's note (and the
//! attempt's draft review comments): a turn for a running department, or a
//! new department session that works on in the same worktree.

use super::Integrations;
use crate::error::{LResult, LauncherError};
use crate::model::{AuditEvent, WorkspaceState};
use crate::sessions::{Continuation, StartSpec};

/// What a send back did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SentBack {
    pub session_id: String,
    /// The session that works on in the worktree; None when the running
    /// department got the note as a turn.
    pub successor: Option<String>,
    /// The draft review comments it carried.
    pub comments: usize,
}

/// What a send-back with line comments and no note says in the note's
/// place (the page's `format.js` knows it, to show no words as the user's).
const NO_NOTE: &str = "see the comments below";

impl Integrations {
    /// Sends a red landing's failure back (issue 73), with the user's note
    /// after it when there is one; refused when its last landing did not fail.
    pub async fn send_back_landing_failure(&self, id: &str, note: &str) -> LResult<SentBack> {
        let (_, ws) = self.department(id)?;
        let failure = super::landing::kept_failure_note(&ws).ok_or_else(|| {
            LauncherError::Conflict(format!(
                "{id}'s last Merge did not fail its checks: nothing to send back with it"
            ))
        })?;
        let note = note.trim();
        let text = if note.is_empty() {
            failure
        } else {
            format!("{failure}\n\nThe user adds: {note}")
        };
        self.send_back(id, &text).await
    }

    /// Sends a department's work back with the user's note: a turn for a
    /// running department; otherwise a new department session of the same
    /// assignment that works on in the same worktree.
    ///
    /// The attempt's draft review comments go with the note, in the same
    /// turn (issue 51); with drafts the note may be empty.
    pub async fn send_back(&self, id: &str, note: &str) -> LResult<SentBack> {
        let note = note.trim();
        let (s, ws) = self.department(id)?;
        let drafts = crate::review::comments::drafts(&self.ctx, id)?;
        if note.is_empty() && drafts.is_empty() {
            return Err(LauncherError::BadRequest(
                "the note must not be empty (or comment on lines of the diff)".into(),
            ));
        }
        let review = {
            let (repo, ws, drafts) = (self.ctx.repo.clone(), ws.clone(), drafts.clone());
            tokio::task::spawn_blocking(move || {
                crate::review::comments::review_text(&repo, &ws, &drafts)
            })
            .await??
        };
        let said = if note.is_empty() {
            NO_NOTE.to_string()
        } else {
            note.to_string()
        };
        let words = Words {
            note,
            said: &said,
            review: &review,
            drafts: &drafts,
        };
        if s.is_running() {
            return self.as_a_turn(id, &words).await;
        }
        self.to_a_successor(&s, &ws, &words).await
    }

    /// A running department gets the note as its next turn.
    async fn as_a_turn(&self, id: &str, w: &Words<'_>) -> LResult<SentBack> {
        let text = format!(
            "[codex-governance] The user sent your work back: {}{}",
            w.said, w.review
        );
        self.sessions.session_input(id, &text).await?;
        self.ctx.store.audit_or_log(AuditEvent::SentBack {
            session_id: id.to_string(),
            chars: w.note.chars().count(),
            successor: None,
        });
        self.review_sent(id, w.drafts, None);
        Ok(SentBack {
            session_id: id.to_string(),
            successor: None,
            comments: w.drafts.len(),
        })
    }

    /// An ended department's assignment goes on in a new session in the
    /// same worktree, started as the queue would start it.
    async fn to_a_successor(
        &self,
        s: &crate::model::Session,
        ws: &crate::model::Workspace,
        w: &Words<'_>,
    ) -> LResult<SentBack> {
        let (id, said, review, drafts) = (s.id.as_str(), w.said, w.review, w.drafts);
        let _one = self.working_tree.lock().await;
        // Work in review on the forge may go back too (a failing check).
        if ws.state != WorkspaceState::InReview {
            self.ready(s, ws)?;
        }
        let d = s.department_part().cloned().unwrap_or_default();
        // It starts a department as the queue does: not while the queue is
        // held, its plan is over budget or every slot is taken.
        let room = self
            .ctx
            .store
            .read(|st| crate::quota::room(st, &self.ctx.config.launcher));
        let agent = s.agent_key().unwrap_or_default();
        crate::policy::queue::may_start(d.parent_session_id.as_deref(), agent, &room)?;
        // A Codex department's conversation goes on: its thread resumes in
        // the new session, with the note as its next turn (on the backend
        // it ran on: one its department no longer runs starts afresh).
        let same_backend = self.sessions.backend_for(s.agent_key()).kind() == s.agent.backend;
        let thread = s.agent.thread_id.clone().filter(|_| same_backend);
        let continues = thread.map(|thread_id| Continuation {
            thread_id,
            text: format!(
                "[codex-governance] The user sent your work back: {said}{review}\nYour worktree \
                 still holds your work. Continue from it, then report again with \
                 governance_report_result."
            ),
        });
        let commit = ws.commit.as_deref().unwrap_or("nothing yet");
        let task = format!(
            "{}\n\n[Sent back by the user] {said}{review}\n\nYour earlier work on this task is in \
             your worktree (recorded as commit {commit}): continue from it, then report again.",
            s.task
        );
        let started = self
            .sessions
            .start_session(StartSpec {
                kind: crate::model::SessionKind::Department,
                task,
                model: Some(s.model.clone()),
                department: s.department.clone(),
                parent_session_id: d.parent_session_id.clone(),
                files: d.files.clone(),
                verify: d.verify.clone(),
                prompt_override: None,
                resumed_from_session_id: None,
                queue_id: None,
                workspace_from: Some(id.to_string()),
                remote: None,
                continues,
                attempt: d.attempt.clone(),
                reviews: None,
            })
            .await?;
        self.review_sent(id, drafts, Some(&started.id));
        Ok(SentBack {
            session_id: id.to_string(),
            successor: Some(started.id),
            comments: drafts.len(),
        })
    }

    /// Records that a send-back carried `drafts` (they went: a failure to
    /// record it is logged, not returned).
    fn review_sent(
        &self,
        id: &str,
        drafts: &[crate::model::ReviewComment],
        successor: Option<&str>,
    ) {
        if drafts.is_empty() {
            return;
        }
        if let Err(e) = crate::review::comments::mark_sent(&self.ctx, id, drafts, successor) {
            tracing::error!("recording the review comments sent back to {id}: {e}");
        }
    }
}

/// What a send-back says: the user's note (or that there is none) and
/// the review comments that go with it.
struct Words<'a> {
    note: &'a str,
    said: &'a str,
    review: &'a str,
    drafts: &'a [crate::model::ReviewComment],
}
