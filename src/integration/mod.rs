//! The departments' changes under the user's control (issue 26, items 2 and
//! 4).
//!
//! When a department reports or exits, its worktree is recorded
//! ([`record`]). Its work then waits for the user: Apply (into the working
//! tree, uncommitted: review before commit), Merge (committed onto the
//! current branch), Discard (the worktree goes, its branch stays) or Send back
//! (a new turn with the user's note). A Zhongshu may propose an integration;
//! with `launcher.auto_integrate` its proposal runs at once. Every step is a
//! store change with its audit lines; an Apply or a Merge is one saga
//! ([`saga`]): its intent stored before anything is written, one Git job,
//! its done change; one a crash interrupted is finished or undone at the next
//! start ([`Integrations::recover`], `recover.rs`). A worktree is removed only
//! after Apply, Merge or Discard ([`tidy`]): never by a shutdown, a restart
//! or closing a session. Here: the commands; the pieces do the steps.

mod ahead;
pub mod choice;
mod ci;
mod cleanup;
mod discard;
mod forge_review;
pub mod landing;
mod message;
mod pull_request;
pub mod record;
mod recover;
mod saga;
mod send_back;
mod tidy;
mod undo;

#[cfg(test)]
mod exit_tests;
#[cfg(test)]
mod fixture;

pub use ci::failure_note;
pub use forge_review::review_note;
pub use pull_request::PullRequests;
pub use send_back::SentBack;

use std::path::PathBuf;
use std::sync::Arc;

use crate::clock;
use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::model::{AuditEvent, IntegrationMode, Proposal, Session, Workspace, WorkspaceState};
use crate::policy::integration as integration_rules;
use crate::policy::workspace::{self, Event};
use crate::sessions::Sessions;
use crate::worktrees::{self, WorktreeError};

/// The integrations of the departments' work into the user's repository.
pub struct Integrations {
    ctx: Arc<Context>,
    sessions: Arc<Sessions>,
    /// One change of the user's working tree at a time.
    working_tree: Arc<tokio::sync::Mutex<()>>,
    /// Pull requests: the fourth way to integrate.
    pub pull_requests: PullRequests,
    /// Landing checks run ahead of their turn (`landing.parallel`).
    ahead: Arc<ahead::Ahead>,
}

/// Runs Git work off the runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WorktreeError> + Send + 'static,
) -> LResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(answer) => answer.map_err(launcher_error),
        Err(e) => Err(e.into()),
    }
}

/// Runs blocking work (Git, the file system) off the runtime.
async fn off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> LResult<T> + Send + 'static,
) -> LResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(e.into()))
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

/// Records the worktree again when it moved since its last record (what
/// changed since its report is kept too), as the saga does
/// ([`record::take_if_moved`]): an exit or a pull request after a report
/// with no new work writes nothing.
async fn record_now(
    ctx: &Arc<Context>,
    sessions: &Sessions,
    s: &Session,
    reason: &'static str,
) -> LResult<Workspace> {
    // A report registered while this record was taken: taken again with its claim.
    for _ in 0..saga::ATTEMPTS {
        let claimed = record::last_claim(ctx, &s.id)?;
        let snap = {
            let (shared, session) = (Arc::clone(ctx), saga::latest(ctx, s));
            off_runtime(move || {
                record::take_if_moved(&shared, &session, claimed.as_deref())
                    .map_err(|e| saga::not_recorded(&session.id, e))
            })
            .await?
        };
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
            ahead: Arc::default(),
        }
    }

    fn department(&self, id: &str) -> LResult<(Session, Workspace)> {
        department(&self.sessions, id)
    }

    /// Refuses a department still at work, or one whose work is settled.
    fn ready(&self, s: &Session, ws: &Workspace) -> LResult<()> {
        Ok(integration_rules::ready(s, ws)?)
    }

    /// Apply or Merge a department's recorded work, after predicting conflicts;
    /// with `launcher.scope: block`, out-of-scope changes need `override_scope`.
    /// One saga ([`saga`]): two store changes, one Git job that writes.
    pub async fn integrate(
        &self,
        id: &str,
        mode: IntegrationMode,
        override_scope: bool,
    ) -> LResult<Workspace> {
        self.integrate_checked(id, mode, override_scope, landing::Asked::AsConfigured)
            .await
    }

    /// As [`Integrations::integrate`]; a Merge with checks (issue 73) waits
    /// its turn in the train, and lands only when its candidate passes
    /// them; `asked`: a Merge without its checks (the user's reason), or an
    /// Apply verified first.
    /// A red run lands nothing and, with `landing.on_failure: send_back`,
    /// sends the failure back to the department.
    pub async fn integrate_checked(
        &self,
        id: &str,
        mode: IntegrationMode,
        override_scope: bool,
        asked: landing::Asked<'_>,
    ) -> LResult<Workspace> {
        // One of several attempts goes on only once chosen (issue 74).
        self.ctx
            .store
            .read(|st| {
                let s = st.sessions.get(id)?;
                let chosen = crate::policy::attempts::chosen_of(st, s);
                Some(crate::policy::attempts::may_integrate(st, s, chosen))
            })
            .unwrap_or(Ok(()))?;
        // A reviewer's open important findings hold it (issue 75).
        crate::review::gate::check_gate(&self.ctx, id, None)?;
        if mode == IntegrationMode::PullRequest {
            return self.pull_requests.open_for(id, override_scope).await;
        }
        let verification = {
            let (s, ws) = self.department(id)?;
            self.ready(&s, &ws)?;
            landing::verification(&self.ctx, &s, mode, asked)?
        };
        if let saga::Verification::Checks(commands) = &verification {
            landing::queue(&self.ctx, id, commands, mode, override_scope)?;
            // Its checks may run ahead of its turn, on the candidate whose
            // checks run now.
            self.ahead.joined(&self.ctx, &self.stopping()).await;
        }
        self.land(id, mode, override_scope, &verification).await
    }

    /// True once the launcher is stopping.
    fn stopping(&self) -> saga::Stopping {
        let sessions = Arc::clone(&self.sessions);
        Arc::new(move || sessions.live.is_stopping())
    }

    /// Integrates `id` once its turn on the working tree's lock comes (a
    /// Merge with checks waits there, queued, in the order asked).
    async fn land(
        &self,
        id: &str,
        mode: IntegrationMode,
        override_scope: bool,
        verification: &saga::Verification,
    ) -> LResult<Workspace> {
        let outcome = {
            let _one = self.working_tree.lock().await;
            let train = saga::Train {
                stopping: self.stopping(),
                ahead: Arc::clone(&self.ahead),
            };
            let taken_out = matches!(verification, saga::Verification::Checks(_))
                && !landing::claim(&self.ctx, id)?;
            match self.department(id) {
                Ok(_) if taken_out => {
                    return Err(LauncherError::Conflict(format!(
                        "{id} was taken out of the landing train: nothing landed"
                    )))
                }
                Ok((s, ws)) => match self.ready(&s, &ws) {
                    Ok(()) => {
                        saga::integrate(&self.ctx, &s, mode, override_scope, verification, &train)
                            .await
                    }
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            }
        };
        match outcome {
            Ok(saga::Outcome::Integrated) => Ok(self.department(id)?.1),
            Ok(saga::Outcome::Red(verdict)) => Err(self.red(id, mode, &verdict).await),
            Ok(saga::Outcome::Stopped) => Err(LauncherError::Conflict(format!(
                "the launcher stopped while {id}'s checks ran: its {mode} keeps its place in \
                 the train and goes on at the next start"
            ))),
            Err(e) => {
                landing::leave(&self.ctx, id);
                Err(e)
            }
        }
    }

    /// Takes `id`'s queued Merge out of the landing train.
    pub fn remove_from_train(&self, id: &str) -> LResult<Workspace> {
        landing::remove(&self.ctx, id)?;
        Ok(self.department(id)?.1)
    }

    /// At start, after [`Integrations::recover`]: the train a stop or a
    /// crash cut goes on, in the order its Merges were asked. One whose
    /// intent was stored was finished or undone by the recovery (its
    /// landing says `passed`): it never lands twice.
    pub async fn resume_train(&self) {
        {
            let _one = self.working_tree.lock().await;
            let repo = self.ctx.repo.clone();
            let cleared = tokio::task::spawn_blocking(move || crate::landing::clear_stale(&repo));
            if let Err(e) = cleared.await {
                tracing::warn!("clearing landings left from before: {e}");
            }
        }
        for w in landing::waiting(&self.ctx) {
            let id = &w.id;
            tracing::info!(
                "{id}: its {} waited in the train at the last stop; it goes on",
                w.mode
            );
            let verification = saga::Verification::Checks(w.commands);
            if let Err(e) = self.land(id, w.mode, w.override_scope, &verification).await {
                tracing::warn!("the resumed {} of {id}: {e}", w.mode);
            }
        }
    }

    /// A red landing: nothing landed; the failure goes back to the
    /// department when the settings say so. The error to answer with.
    async fn red(
        &self,
        id: &str,
        mode: IntegrationMode,
        verdict: &crate::landing::Verdict,
    ) -> LauncherError {
        let failure = verdict.failure.clone().unwrap_or_default();
        let sent = match self.ctx.config.launcher.landing.on_failure {
            crate::config::landing::OnFailure::SendBack => {
                match self.send_back(id, &landing::failure_note(verdict)).await {
                    Ok(sent) => format!(
                        "; the failure was sent back to {}",
                        sent.successor.as_deref().unwrap_or(id)
                    ),
                    Err(e) => format!("; sending it back failed ({e}): send it back yourself"),
                }
            }
            crate::config::landing::OnFailure::Wait => String::new(),
        };
        LauncherError::Conflict(format!(
            "{mode} of {id}: the checks failed on its candidate ({failure}); nothing landed{sent}"
        ))
    }

    /// Removes a department's worktree without integrating it; its branch
    /// (with everything recorded, the last state included) stays.
    pub async fn discard(&self, id: &str) -> LResult<Workspace> {
        let _one = self.working_tree.lock().await;
        let (s, ws) = self.department(id)?;
        self.ready(&s, &ws)?;
        discard::discard(&self.ctx, &s).await?;
        tidy::remove_folder(&self.ctx, &self.sessions, id, "discarded").await;
        Ok(self.department(id)?.1)
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
            // One of several attempts, none chosen: `auto_integrate` chooses
            // the one proposed (the planner alone never does).
            let unchosen = self.ctx.store.read(|st| {
                crate::policy::attempts::attempt_of(&s).is_some()
                    && crate::policy::attempts::chosen_of(st, &s).is_none()
            });
            if unchosen {
                let chosen = choice::record(&self.ctx, id, choice::BY_AUTO_INTEGRATE)?;
                choice::settle_others(self, &chosen).await;
            }
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
        let ws = match record_now(&self.ctx, &self.sessions, &s, "exit").await {
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
            let (ctx, sessions) = (&self.ctx, &self.sessions);
            forge_review::answer_forge_comments(ctx, sessions, &self.pull_requests, id, before)
                .await;
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

    /// A reviewer reported on `id`'s work: its findings on what `id`'s open
    /// pull request carries go there (issue 75, item 5).
    pub async fn post_findings(&self, id: &str) {
        self.pull_requests.post_findings(id, true).await;
    }

    /// A reviewer's findings came and the gate let `id`'s work through
    /// (issue 75): what its exit held back goes on: a follow-up pushed onto
    /// its pull request, or the planner's proposal carried out.
    pub async fn after_review(&self, id: &str) {
        let Ok((_, ws)) = self.department(id) else {
            return;
        };
        // A Merge the user asked for goes on as asked.
        if ws.state != WorkspaceState::Pending || ws.landing.is_some() || ws.integrating.is_some() {
            return;
        }
        if ws.pull_request.as_ref().is_some_and(|p| p.is_open()) {
            let before = ws.pull_request.as_ref().map(|p| p.head.clone());
            self.pull_requests.update_after_report(id).await;
            let (ctx, sessions) = (&self.ctx, &self.sessions);
            forge_review::answer_forge_comments(ctx, sessions, &self.pull_requests, id, before)
                .await;
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
                workspace::observe(w, Event::SettledEmpty);
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

    /// Undoes an Apply or a Merge ([`undo`]), under the working tree's lock:
    /// every path it wrote gets its earlier content back, while each still
    /// holds what the integration wrote; otherwise refused, naming what
    /// changed. Audited; a crash midway is finished or undone at the next
    /// start.
    pub async fn undo(&self, id: &str) -> LResult<Workspace> {
        let _one = self.working_tree.lock().await;
        undo::undo(&self.ctx, &self.sessions, id).await
    }

    /// `worktrees --prune` while the launcher runs ([`cleanup::prune`]).
    pub async fn prune(&self) -> LResult<crate::worktrees::Pruned> {
        cleanup::prune(&self.ctx, &self.working_tree).await
    }

    /// At start: integrations a crash interrupted are finished or undone and
    /// what settled work left is tidied, under the working tree's lock
    /// ([`recover`]); then departments the previous run cut off before their
    /// work was recorded are recorded.
    pub async fn recover(&self) {
        {
            let _one = self.working_tree.lock().await;
            recover::interrupted(&self.ctx, &self.sessions).await;
        }
        self.record_cut_off().await;
    }

    /// Records every department that no longer runs but whose work was never
    /// recorded ([`recover::cut_off`]): its work becomes pending, so it can
    /// be integrated, discarded or sent back.
    pub async fn record_cut_off(&self) {
        for id in recover::cut_off(&self.ctx) {
            self.department_exited(&id).await;
        }
    }

    /// The worktree folder of a session, for views.
    pub fn folder(&self, id: &str) -> Option<PathBuf> {
        let s = self.sessions.session(id)?;
        s.workspace().map(|w| PathBuf::from(&w.path))
    }
}
