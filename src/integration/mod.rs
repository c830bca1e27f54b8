//! The departments' changes under the user's control (issue 26, items 2 and
//! 4).
//!
//! When a department reports or exits, its worktree is recorded
//! ([`record`]). Its work then waits for the user: Apply (into the working
//! tree, uncommitted: review before commit), Merge (committed onto the
//! current branch), Discard (the worktree goes, its branch stays) or Send back
//! (a new turn with the user's note). A Zhongshu may propose an integration;
//! with `launcher.auto_integrate` its proposal runs at once. Every step is one
//! store change with its audit lines; an integration records what it will
//! change before it writes anything, and one a crash interrupted is finished
//! or undone at the next start ([`Integrations::recover`]). A worktree is
//! removed only after Apply, Merge or Discard: never by a shutdown, a restart
//! or closing a session.

mod ci;
mod cleanup;
mod forge_review;
mod message;
mod pull_request;
pub mod record;
mod undo;

pub use ci::failure_note;
pub use forge_review::review_note;
pub use pull_request::PullRequests;

use std::path::PathBuf;
use std::sync::Arc;

use crate::clock;
use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::model::{
    AuditEvent, IntegrationMode, PathChange, PendingIntegration, Proposal, Session, Workspace,
    WorkspaceState,
};
use crate::policy::integration::{self as integration_rules, may_integrate, Gate};
use crate::policy::workspace::{enter, Event};
use crate::sessions::{Continuation, Sessions, StartSpec};
use crate::worktrees::integrate::{self as git, Prediction, Recovered};
use crate::worktrees::{self, StateFence, WorktreeError};
use message::merge_message_after;

/// The integrations of the departments' work into the user's repository.
pub struct Integrations {
    ctx: Arc<Context>,
    sessions: Arc<Sessions>,
    /// One change of the user's working tree at a time.
    working_tree: Arc<tokio::sync::Mutex<()>>,
    /// Pull requests: the fourth way to integrate.
    pub pull_requests: PullRequests,
}

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

/// Runs Git work off the runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WorktreeError> + Send + 'static,
) -> LResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(answer) => answer.map_err(launcher_error),
        Err(e) => Err(LauncherError::Internal(format!("git task failed: {e}"))),
    }
}

/// A refusal is the user's to resolve (409); anything else is ours.
fn launcher_error(e: WorktreeError) -> LauncherError {
    match e {
        WorktreeError::Refused(m) => LauncherError::Conflict(m),
        e => LauncherError::Internal(e.to_string()),
    }
}

/// What each attempt before `ws`'s said, oldest first: each earlier session's
/// last report's summary, else its task (a send-back's chain of attempts).
pub(super) fn earlier_attempts(ctx: &Context, ws: &Workspace) -> Vec<String> {
    let mut said = Vec::new();
    let mut at = ws.predecessor.clone();
    while let Some(id) = at.take() {
        let Some(s) = ctx.store.read(|st| st.sessions.get(&id).cloned()) else {
            break;
        };
        let summary = ctx
            .store
            .results_of_department(&id)
            .ok()
            .and_then(|r| {
                r.into_iter()
                    .rev()
                    .find(|r| r.source == crate::model::ResultSource::Mailbox)
            })
            .map(|r| r.summary)
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| s.task.clone());
        said.push(summary);
        // A chain is as long as its send-backs (max_send_backs bounds it).
        at = s.workspace().and_then(|w| w.predecessor.clone());
        if said.len() > 100 {
            break;
        }
    }
    said.reverse();
    said
}

/// A department session with a worktree, by a validated id.
fn department(sessions: &Sessions, id: &str) -> LResult<(Session, Workspace)> {
    let s = sessions.require_session(id)?;
    let ws = s.workspace().cloned().ok_or_else(|| {
        LauncherError::Conflict(format!(
            "{id} works in the shared working tree: its changes are already there"
        ))
    })?;
    Ok((s, ws))
}

/// Records the worktree again (what changed since its report is kept too).
async fn record_now(
    ctx: &Arc<Context>,
    sessions: &Sessions,
    s: &Session,
    reason: &'static str,
) -> LResult<Workspace> {
    // A report registered while this record was taken: taken again with its claim.
    for _ in 0..3 {
        let shared = Arc::clone(ctx);
        let session = s.clone();
        let claimed = ctx
            .store
            .results_of_department(&s.id)?
            .into_iter()
            .rev()
            .find(|r| r.source == crate::model::ResultSource::Mailbox)
            .map(|r| r.changed_files);
        let snap = tokio::task::spawn_blocking(move || {
            record::take(&shared, &session, claimed.as_deref())
        })
        .await
        .map_err(|e| LauncherError::Internal(format!("recording: {e}")))?
        .map_err(|e| {
            LauncherError::Conflict(format!(
                "the worktree of {} could not be recorded ({e}): nothing was done to it",
                s.id
            ))
        })?;
        let Some(snap) = snap else { break };
        if ctx
            .store
            .update(|tx| record::store(tx, &s.id, &snap, reason))?
        {
            break;
        }
    }
    Ok(department(sessions, &s.id)?.1)
}

impl Integrations {
    pub fn new(ctx: Arc<Context>, sessions: Arc<Sessions>) -> Integrations {
        let working_tree = Arc::new(tokio::sync::Mutex::new(()));
        Integrations {
            pull_requests: PullRequests::new(
                Arc::clone(&ctx),
                Arc::clone(&sessions),
                Arc::clone(&working_tree),
            ),
            ctx,
            sessions,
            working_tree,
        }
    }

    fn department(&self, id: &str) -> LResult<(Session, Workspace)> {
        department(&self.sessions, id)
    }

    /// Refuses a department still at work, or one whose work is settled.
    fn ready(&self, s: &Session, ws: &Workspace) -> LResult<()> {
        Ok(integration_rules::ready(s, ws)?)
    }

    async fn record_now(&self, s: &Session, reason: &'static str) -> LResult<Workspace> {
        record_now(&self.ctx, &self.sessions, s, reason).await
    }

    /// Apply or Merge a department's recorded work, after predicting conflicts;
    /// with `launcher.scope: block`, out-of-scope changes need `override_scope`.
    pub async fn integrate(
        &self,
        id: &str,
        mode: IntegrationMode,
        override_scope: bool,
    ) -> LResult<Workspace> {
        if mode == IntegrationMode::PullRequest {
            return self.pull_requests.open_for(id, override_scope).await;
        }
        let _one = self.working_tree.lock().await;
        let (s, ws) = self.department(id)?;
        self.ready(&s, &ws)?;
        let ws = self.record_now(&s, "integrate").await?;
        let commit = ws
            .commit
            .clone()
            .ok_or_else(|| LauncherError::Conflict(format!("nothing of {id} is recorded")))?;
        let gate = may_integrate(
            self.ctx.config.launcher.isolation.scope,
            ws.review.as_ref(),
            override_scope,
        )?;
        let repo = self.ctx.repo.clone();
        let fence = record::fence(&self.ctx);
        let prediction = {
            let (ws, commit, fence) = (ws.clone(), commit.clone(), fence.clone());
            blocking(move || git::predict(&repo, &ws, &commit, &fence)).await?
        };
        let blocking_files = prediction.blocking();
        if !blocking_files.is_empty() {
            return Err(self.conflicting(id, mode, &prediction, blocking_files)?);
        }
        if prediction.paths.is_empty() {
            return Err(LauncherError::Conflict(format!(
                "{id}'s changes are already on your branch: nothing to apply or merge; \
                 Discard it to settle it"
            )));
        }
        if mode == IntegrationMode::Merge && prediction.branch.is_none() {
            return Err(LauncherError::Conflict(
                "HEAD is detached: check out a branch to merge onto, or Apply".into(),
            ));
        }
        let target = match mode {
            IntegrationMode::Merge => Some(self.merge_commit(&s, &ws, &prediction, &commit).await?),
            IntegrationMode::Apply | IntegrationMode::PullRequest => None,
        };
        let pending = PendingIntegration {
            mode,
            head: prediction.head.clone(),
            target: target.clone(),
            branch: prediction.branch.clone(),
            paths: prediction.paths.clone(),
            started_at: clock::now_rfc3339(),
            undo: false,
        };
        self.ctx.store.update(|tx| {
            if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
                enter(w, Event::IntegrationBegun)?;
                w.integrating = Some(pending.clone());
                w.conflicts.clear();
            }
            if let Gate::Overridden(files) = &gate {
                tx.audit(AuditEvent::ScopeOverridden {
                    session_id: id.to_string(),
                    files: files.clone(),
                });
            }
            tx.audit(AuditEvent::IntegrationStarted {
                session_id: id.to_string(),
                mode,
                head: pending.head.clone(),
                paths: pending.paths.len(),
                target: target.clone(),
            });
            Ok::<(), crate::policy::Refusal>(())
        })??;
        self.carry_out_or_undo(id, mode, &ws.branch, &pending, fence)
            .await?;
        self.finished(id, mode, target, false)?;
        self.remove_folder(id, mode.as_str()).await;
        Ok(self.department(id)?.1)
    }

    /// Writes an integration the store marked started; a failure that was
    /// undone puts the work back to pending, one that was not stays integrating
    /// for the next start to finish or undo.
    async fn carry_out_or_undo(
        &self,
        id: &str,
        mode: IntegrationMode,
        branch: &str,
        pending: &PendingIntegration,
        fence: StateFence,
    ) -> LResult<()> {
        let repo = self.ctx.repo.clone();
        let written = {
            let pending = pending.clone();
            let message = format!("{branch} {id}: {mode}");
            blocking(move || Ok(carry_out(&repo, &pending, &message, &fence))).await?
        };
        let written = match written {
            Ok(()) => Ok(()),
            Err(Failed::Undone(e)) => Err(launcher_error(e)),
            Err(Failed::Stuck(e, undo)) => {
                // The pending record stays: the next start finishes or undoes it.
                tracing::error!("undoing the failed integration of {id}: {undo}");
                return Err(LauncherError::Internal(format!(
                    "{mode} of {id} failed ({e}) and could not be undone ({undo}): \
                     it stays integrating, and the next start finishes or undoes it"
                )));
            }
        };
        if let Err(e) = written {
            self.ctx.store.update(|tx| {
                if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
                    if let Err(e) = enter(w, Event::IntegrationUndone) {
                        tracing::error!("{id}: {e}");
                    }
                    w.integrating = None;
                }
                tx.audit(AuditEvent::IntegrationUndone {
                    session_id: id.to_string(),
                    mode,
                    error: e.to_string(),
                });
            })?;
            return Err(e);
        }
        Ok(())
    }

    /// Keeps a predicted conflict on the workspace; the error to answer with.
    fn conflicting(
        &self,
        id: &str,
        mode: IntegrationMode,
        prediction: &Prediction,
        files: Vec<String>,
    ) -> LResult<LauncherError> {
        self.ctx.store.update(|tx| {
            if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
                if let Err(e) = enter(w, Event::Conflict) {
                    tracing::error!("{id}: {e}");
                }
                w.conflicts = files.clone();
            }
            tx.audit(AuditEvent::IntegrationConflict {
                session_id: id.to_string(),
                mode,
                files: files.clone(),
            });
        })?;
        let why = crate::policy::integration::conflict_reason(
            &files,
            &prediction.uncommitted,
            !prediction.unsafe_paths.is_empty(),
        );
        Ok(LauncherError::Conflict(format!(
            "{mode} of {id} would conflict in {} ({why}); nothing was changed",
            files.join(", ")
        )))
    }

    async fn merge_commit(
        &self,
        s: &Session,
        ws: &Workspace,
        prediction: &Prediction,
        commit: &str,
    ) -> LResult<String> {
        let repo = self.ctx.repo.clone();
        let summary = self
            .ctx
            .store
            .results_of_department(&s.id)
            .ok()
            .and_then(|r| r.last().map(|r| r.summary.clone()))
            .unwrap_or_default();
        let style = self.ctx.config.launcher.isolation.merge;
        let earlier = earlier_attempts(&self.ctx, ws);
        let message = merge_message_after(style, s, ws, &summary, &earlier);
        let (prediction, commit) = (prediction.clone(), commit.to_string());
        blocking(move || git::merge_commit(&repo, &prediction, &commit, style, &message)).await
    }

    /// The integration is in: one change, audited.
    fn finished(
        &self,
        id: &str,
        mode: IntegrationMode,
        commit: Option<String>,
        recovered: bool,
    ) -> LResult<()> {
        self.ctx.store.update(|tx| {
            if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
                if let Err(e) = enter(w, Event::Integrated(mode)) {
                    tracing::error!("{id}: {e}");
                }
                w.settled_at = Some(clock::now_rfc3339());
                w.integrated = w.integrating.take();
                w.conflicts.clear();
            }
            tx.audit(AuditEvent::IntegrationDone {
                session_id: id.to_string(),
                mode,
                commit: commit.clone(),
                recovered,
            });
        })?;
        Ok(())
    }

    /// Tidies a settled worktree: its folder goes, and for integrated work
    /// its branch too, each once and audited. Either may be left from an
    /// earlier step (an Undo brings a deleted branch back for the folderless
    /// work; a deletion failed): each is tried whenever it is still there.
    async fn remove_folder(&self, id: &str, reason: &str) {
        let Some(ws) = self
            .sessions
            .session(id)
            .and_then(|s| s.workspace().cloned())
        else {
            return;
        };
        if !ws.state.is_settled() {
            return;
        }
        let repo = self.ctx.repo.clone();
        let removed_now = !ws.removed && {
            let ws = ws.clone();
            let teardown = crate::config_trust::teardown_of(&self.ctx.config);
            match blocking(move || worktrees::create::remove(&repo, &ws, &teardown)).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!("removing the worktree of {id}: {e}");
                    return;
                }
            }
        };
        // Integrated work is in the user's branch or tree (or its pull
        // request was merged or closed on the forge): its branch goes too.
        let integrated = matches!(
            ws.state,
            WorkspaceState::Applied
                | WorkspaceState::Merged
                | WorkspaceState::PrMerged
                | WorkspaceState::PrClosed
        );
        let branch_deleted = integrated && !ws.branch_deleted && {
            let (repo, ws) = (self.ctx.repo.clone(), ws.clone());
            match blocking(move || worktrees::list::delete_branch(&repo, &ws)).await {
                Ok(deleted) => deleted,
                Err(e) => {
                    tracing::warn!("deleting the branch of {id}: {e}");
                    false
                }
            }
        };
        if !removed_now && !branch_deleted {
            return;
        }
        let saved = self.ctx.store.update(|tx| {
            if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
                w.removed = true;
                w.branch_deleted |= branch_deleted;
            }
            if removed_now {
                tx.audit(AuditEvent::WorktreeRemoved {
                    session_id: id.to_string(),
                    path: ws.path.clone(),
                    reason: reason.to_string(),
                });
            }
            if branch_deleted {
                tx.audit(AuditEvent::BranchDeleted {
                    session_id: id.to_string(),
                    branch: ws.branch.clone(),
                    commit: ws.commit.clone(),
                    reason: reason.to_string(),
                });
            }
        });
        if let Err(e) = saved {
            tracing::error!("recording the removal of {}: {e}", ws.path);
        }
    }

    /// Removes a department's worktree without integrating it; its branch
    /// (with everything recorded, the last state included) stays.
    pub async fn discard(&self, id: &str) -> LResult<Workspace> {
        let _one = self.working_tree.lock().await;
        let (s, ws) = self.department(id)?;
        self.ready(&s, &ws)?;
        let ws = self.record_now(&s, "discard").await?;
        self.ctx.store.update(|tx| {
            if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
                enter(w, Event::Discarded)?;
                w.settled_at = Some(clock::now_rfc3339());
                w.conflicts.clear();
            }
            tx.audit(AuditEvent::WorktreeDiscarded {
                session_id: id.to_string(),
                branch: ws.branch.clone(),
                commit: ws.commit.clone(),
            });
            Ok::<(), crate::policy::Refusal>(())
        })??;
        self.remove_folder(id, "discarded").await;
        Ok(self.department(id)?.1)
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
            .await
            .map_err(|e| LauncherError::Internal(format!("the review text: {e}")))??
        };
        let said = if note.is_empty() {
            NO_NOTE.to_string()
        } else {
            note.to_string()
        };
        if s.is_running() {
            let text = format!("[codex-governance] The user sent your work back: {said}{review}");
            self.sessions.session_input(id, &text).await?;
            self.ctx.store.audit_or_log(AuditEvent::SentBack {
                session_id: id.to_string(),
                chars: note.chars().count(),
                successor: None,
            });
            self.review_sent(id, &drafts, None);
            return Ok(SentBack {
                session_id: id.to_string(),
                successor: None,
                comments: drafts.len(),
            });
        }
        let _one = self.working_tree.lock().await;
        // Work in review on the forge may go back too (a failing check).
        if ws.state != WorkspaceState::InReview {
            self.ready(&s, &ws)?;
        }
        let d = s.department_part().cloned().unwrap_or_default();
        // It starts a department as the queue does: not while the queue is
        // held, its plan is over budget or every slot is taken.
        let room = self
            .ctx
            .store
            .read(|st| crate::quota::room(st, &self.ctx.config.launcher));
        crate::policy::queue::may_start(d.parent_session_id.as_deref(), &room)?;
        // A Codex department's conversation goes on: its thread resumes in
        // the new session, with the note as its next turn.
        let continues = s.agent.thread_id.clone().map(|thread_id| Continuation {
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
                continues,
            })
            .await?;
        self.review_sent(id, &drafts, Some(&started.id));
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

    /// A Zhongshu proposes integrating one of its departments' results; with
    /// `launcher.auto_integrate` the proposal is carried out at once.
    pub async fn propose(
        &self,
        zhongshu: &str,
        id: &str,
        mode: IntegrationMode,
        note: Option<String>,
    ) -> LResult<Workspace> {
        let (s, ws) = self.department(id)?;
        if s.parent_session_id() != Some(zhongshu) {
            return Err(LauncherError::BadRequest(format!(
                "{id} is not a department of {zhongshu}"
            )));
        }
        let proposal = Proposal {
            mode,
            note: note.filter(|n| !n.trim().is_empty()),
            by: zhongshu.to_string(),
            at: clock::now_rfc3339(),
        };
        self.ctx.store.update(|tx| {
            if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
                w.proposal = Some(proposal.clone());
            }
            tx.audit(AuditEvent::IntegrationProposed {
                session_id: id.to_string(),
                by: zhongshu.to_string(),
                mode,
            });
        })?;
        if integration_rules::auto_integrates_now(
            self.ctx.config.launcher.isolation.auto_integrate,
            &s,
            &ws,
        ) {
            return self.integrate(id, mode, false).await;
        }
        Ok(self.department(id)?.1)
    }

    /// A department exited: its worktree is recorded, and a proposal the
    /// Zhongshu made is carried out when `launcher.auto_integrate` says so.
    pub async fn department_exited(&self, id: &str) {
        let Some(s) = self.sessions.session(id) else {
            return;
        };
        let Some(ws) = s.workspace() else { return };
        if ws.state != WorkspaceState::Working && ws.state != WorkspaceState::Pending {
            return;
        }
        let ws = match self.record_now(&s, "exit").await {
            Ok(ws) => ws,
            Err(e) => {
                tracing::error!("recording {id} at its exit: {e}");
                return;
            }
        };
        // Sent back from its pull request: its new work goes onto it.
        if ws.state == WorkspaceState::Pending
            && ws.pull_request.as_ref().is_some_and(|p| p.is_open())
        {
            let before = ws.pull_request.as_ref().map(|p| p.head.clone());
            self.pull_requests.update_after_report(id).await;
            self.answer_forge_comments(id, before).await;
            return;
        }
        if ws.state == WorkspaceState::Pending && ws.nothing_to_review {
            self.settle_empty(id).await;
            return;
        }
        let auto = self.ctx.config.launcher.isolation.auto_integrate;
        if let Some(mode) = integration_rules::auto_integrates_at_exit(auto, &ws) {
            if let Err(e) = self.integrate(id, mode, false).await {
                tracing::warn!("the proposed {mode} of {id}: {e}");
            }
        }
    }

    /// A department that ended having changed nothing: nothing waits for the
    /// user. Its worktree and branch go (a branch with no change holds no
    /// work), and it is audited. Left pending when the folder cannot go.
    async fn settle_empty(&self, id: &str) {
        let _one = self.working_tree.lock().await;
        let Ok((s, ws)) = self.department(id) else {
            return;
        };
        if s.is_running() || ws.state != WorkspaceState::Pending || !ws.nothing_to_review {
            return;
        }
        let repo = self.ctx.repo.clone();
        let removal = {
            let ws = ws.clone();
            let teardown = crate::config_trust::teardown_of(&self.ctx.config);
            blocking(move || worktrees::create::undo(&repo, &ws, &teardown)).await
        };
        if let Err(e) = removal {
            tracing::warn!("{id} changed nothing, but its worktree stays: {e}");
            return;
        }
        let saved = self.ctx.store.update(|tx| {
            if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
                if let Err(e) = enter(w, Event::SettledEmpty) {
                    tracing::error!("{id}: {e}");
                }
                w.removed = true;
                w.branch_deleted = true;
                w.settled_at = Some(clock::now_rfc3339());
            }
            tx.audit(AuditEvent::WorktreeSettledEmpty {
                session_id: id.to_string(),
                branch: ws.branch.clone(),
                path: ws.path.clone(),
            });
        });
        if let Err(e) = saved {
            tracing::error!("settling {id}, which changed nothing: {e}");
        }
    }

    /// At start: integrations a crash interrupted are finished or undone;
    /// settled worktrees whose folder or integrated branch is still there are
    /// tidied, discarded branches past their days deleted; departments the
    /// previous run cut off before their work was recorded are recorded.
    pub async fn recover(&self) {
        {
            let _one = self.working_tree.lock().await;
            let workspaces: Vec<(String, Workspace)> = self.ctx.store.read(|s| {
                s.sessions
                    .values()
                    .filter_map(|x| Some((x.id.clone(), x.workspace()?.clone())))
                    .collect()
            });
            for (id, ws) in workspaces {
                if let Some(p) = ws.integrating.clone() {
                    self.recover_one(&id, p).await;
                }
                self.remove_folder(&id, "integrated before a restart").await;
            }
            self.tidy_at_start().await;
        }
        self.record_cut_off().await;
    }

    /// Records every department that no longer runs but whose work was never
    /// recorded: one a stop or a restart ended without the exit that records
    /// it (its exit signal went unheard, or it died with the launcher). Its
    /// work becomes pending, so it can be integrated, discarded or sent back.
    pub async fn record_cut_off(&self) {
        let cut_off: Vec<String> = self.ctx.store.read(|s| {
            s.sessions
                .values()
                .filter(|x| !x.is_running())
                .filter(|x| {
                    x.workspace()
                        .is_some_and(|w| w.state == WorkspaceState::Working)
                })
                .map(|x| x.id.clone())
                .collect()
        });
        for id in cut_off {
            self.department_exited(&id).await;
        }
    }

    async fn recover_one(&self, id: &str, p: PendingIntegration) {
        let repo = self.ctx.repo.clone();
        let fence = record::fence(&self.ctx);
        let outcome = {
            let p = p.clone();
            blocking(move || git::recover(&repo, &p, &fence)).await
        };
        let saved = match outcome {
            Ok(Recovered::Done { untouched }) if p.undo => {
                warn_untouched(id, &untouched);
                self.reverted(id, &p)
            }
            Ok(Recovered::Undone { untouched }) if p.undo => {
                warn_untouched(id, &untouched);
                self.not_reverted(id, &p)
            }
            Ok(Recovered::Done { untouched }) => {
                warn_untouched(id, &untouched);
                self.finished(id, p.mode, p.target.clone(), true)
            }
            Ok(Recovered::Undone { untouched }) => {
                warn_untouched(id, &untouched);
                self.ctx
                    .store
                    .update(|tx| {
                        if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
                            if let Err(e) = enter(w, Event::IntegrationUndone) {
                                tracing::error!("{id}: {e}");
                            }
                            w.integrating = None;
                        }
                        tx.audit(AuditEvent::IntegrationUndone {
                            session_id: id.to_string(),
                            mode: p.mode,
                            error: "the launcher stopped during the integration: undone".into(),
                        });
                    })
                    .map_err(LauncherError::from)
            }
            Err(e) => Err(e),
        };
        if let Err(e) = saved {
            tracing::error!("recovering the integration of {id}: {e}");
        }
    }

    /// The worktree folder of a session, for views.
    pub fn folder(&self, id: &str) -> Option<PathBuf> {
        let s = self.sessions.session(id)?;
        s.workspace().map(|w| PathBuf::from(&w.path))
    }
}

/// Writes an integration's paths (the index too for a merge), then moves
/// the branch; anything failing on the way is undone before the error.
fn carry_out(
    repo: &std::path::Path,
    p: &PendingIntegration,
    message: &str,
    fence: &StateFence,
) -> Result<(), Failed> {
    let merge = p.target.is_some();
    let paths: Vec<&PathChange> = p.paths.iter().collect();
    let done = git::write_predicted(repo, &paths, merge, fence).and_then(|()| {
        match (&p.target, &p.branch) {
            (Some(target), Some(branch)) => {
                git::move_branch(repo, branch, &p.head, target, message)
            }
            _ => Ok(()),
        }
    });
    if let Err(e) = done {
        return Err(match git::recover(repo, p, fence) {
            Ok(_) => Failed::Undone(e),
            Err(undo) => Failed::Stuck(e, undo),
        });
    }
    Ok(())
}

/// How a carried-out integration failed.
enum Failed {
    /// Nothing of it is in.
    Undone(WorktreeError),
    /// Undoing failed too: left for the next start's recovery.
    Stuck(WorktreeError, WorktreeError),
}

fn warn_untouched(id: &str, untouched: &[String]) {
    if !untouched.is_empty() {
        tracing::warn!(
            "integration of {id}: left as found (changed meanwhile): {}",
            untouched.join(", ")
        );
    }
}
