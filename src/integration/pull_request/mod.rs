//! Pull request, the fourth way to integrate (issue 38): the department's
//! recorded work, squashed as Merge squashes, is pushed to the configured
//! remote with the user's credentials and a pull request opened against the
//! user's branch, its body the governance review. The worktree stays: a
//! failing check can send the work back to the same department, whose next
//! report is pushed onto the same pull request as a new commit. The forge's
//! verdict settles it ([`super::ci`]).
//!
//! Nothing is half-done: the forge is asked first (reachable, token valid,
//! repository visible) so a refusal pushes nothing; a pull request that
//! cannot be opened after the push takes the pushed branch off the remote
//! again; the work stays pending through every failure, audited
//! (`pull_request_failed`). Pushing to the forge is [`push`]'s.

mod findings;
mod push;
mod verify;

use std::sync::Arc;

use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::forge::body::Part;
use crate::forge::push::PushError;
use crate::forge::{ForgeError, Setup};
use crate::model::{PullRequest, ResultSource, Session, Workspace};
use crate::policy::integration::{self as integration_rules, may_integrate};
use crate::sessions::Sessions;
use crate::worktrees::WorktreeError;

/// The pull requests of the departments' work: the forge they go to, opening
/// them and pushing new work onto them. Held by [`super::Integrations`],
/// whose working-tree lock they share.
pub struct PullRequests {
    ctx: Arc<Context>,
    sessions: Arc<Sessions>,
    /// One change of the user's working tree at a time.
    working_tree: Arc<tokio::sync::Mutex<()>>,
    /// The forge and remote of pull requests, once resolved.
    forge: std::sync::Mutex<Option<Setup>>,
    /// A pull request was opened or updated: its checks are worth a look now.
    pub changed: tokio::sync::Notify,
    /// One post or read of a pull request's reviews at a time: the
    /// launcher's own review is known as its own before it is read back.
    pub(super) notes: tokio::sync::Mutex<()>,
}

/// The work of one department, ready to go into a pull request.
struct Ready {
    session: Session,
    ws: Workspace,
    commit: String,
    part: Part,
}

/// A forge failure as the launcher answers it: the user's to fix (409) or
/// the forge's (502).
pub(super) fn forge_error(e: ForgeError) -> LauncherError {
    match e {
        ForgeError::NoToken | ForgeError::Unauthorized { .. } | ForgeError::NotFound { .. } => {
            LauncherError::Conflict(e.to_string())
        }
        ForgeError::Refused { status, .. } if status < 500 => {
            LauncherError::Conflict(e.to_string())
        }
        e => LauncherError::Upstream(e.to_string()),
    }
}

fn push_error(e: PushError) -> LauncherError {
    match e {
        PushError::Unreachable { .. } => LauncherError::Upstream(e.to_string()),
        e => LauncherError::Conflict(e.to_string()),
    }
}

fn git_error(e: WorktreeError) -> LauncherError {
    match e {
        WorktreeError::Refused(m) => LauncherError::Conflict(m),
        e => LauncherError::Internal(e.to_string()),
    }
}

/// `e` with what became of the work said after it.
fn stays_pending(e: LauncherError, what: &str) -> LauncherError {
    let said = format!("{e}: {what}");
    match e {
        LauncherError::Upstream(_) => LauncherError::Upstream(said),
        LauncherError::Internal(_) => LauncherError::Internal(said),
        _ => LauncherError::Conflict(said),
    }
}

async fn off_the_runtime<T: Send + 'static>(
    f: impl FnOnce() -> LResult<T> + Send + 'static,
) -> LResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(e.into()))
}

impl PullRequests {
    pub(super) fn new(
        ctx: Arc<Context>,
        sessions: Arc<Sessions>,
        working_tree: Arc<tokio::sync::Mutex<()>>,
    ) -> PullRequests {
        PullRequests {
            ctx,
            sessions,
            working_tree,
            forge: std::sync::Mutex::new(None),
            changed: tokio::sync::Notify::new(),
            notes: tokio::sync::Mutex::new(()),
        }
    }

    fn department(&self, id: &str) -> LResult<(Session, Workspace)> {
        super::department(&self.sessions, id)
    }

    /// Pull requests as configured, or why they are off: off while the
    /// repository's configuration waits for the user's trust (its forge
    /// would get the user's token).
    pub fn setup(&self) -> LResult<Setup> {
        if let Some(why) = self.sessions.trust.refusal() {
            return Err(LauncherError::Conflict(why));
        }
        let settings = &self.ctx.config.launcher.pull_requests;
        let url = crate::forge::git_remote::url_of(&self.ctx.repo, &settings.remote)
            .map_err(|off| LauncherError::Conflict(off.0))?;
        let shown = crate::forge::git_remote::without_password(&url);
        let mut held = self.forge.lock().unwrap();
        if let Some(s) = held.as_ref().filter(|s| s.remote_url == shown) {
            return Ok(s.clone());
        }
        let setup = Setup::resolve(&self.ctx.repo, settings)
            .map_err(|off| LauncherError::Conflict(off.0))?;
        *held = Some(setup.clone());
        Ok(setup)
    }

    /// Opens a pull request for department `id`'s recorded work (or, when
    /// its work already has one open, pushes its new work onto it).
    pub(super) async fn open_for(&self, id: &str, override_scope: bool) -> LResult<Workspace> {
        let _one = self.working_tree.lock().await;
        let (s, ws) = self.department(id)?;
        integration_rules::ready(&s, &ws)?;
        if ws.pull_request.as_ref().is_some_and(PullRequest::is_open) {
            return self.push_update(id).await;
        }
        let setup = self.setup()?;
        let ready = self.ready_for_review(&s, override_scope).await?;
        self.open(id, &setup, vec![ready], None).await
    }

    /// One pull request for every department of plan `zhongshu` whose work
    /// waits for the user: one commit each, in the order they started.
    pub async fn open_plan(&self, zhongshu: &str, override_scope: bool) -> LResult<Vec<Workspace>> {
        let _one = self.working_tree.lock().await;
        let setup = self.setup()?;
        let mut waiting: Vec<Session> = self.ctx.store.read(|st| {
            st.children_of(zhongshu)
                .filter(|c| !c.is_running())
                .filter(|c| c.workspace().is_some_and(|w| w.state.awaits_user()))
                .filter(|c| c.workspace().is_some_and(|w| w.pull_request.is_none()))
                // An attempt goes only once chosen (issue 74).
                .filter(|c| {
                    let chosen = crate::policy::attempts::chosen_of(st, c);
                    crate::policy::attempts::may_integrate(st, c, chosen).is_ok()
                })
                .cloned()
                .collect()
        });
        waiting.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        if waiting.is_empty() {
            return Err(LauncherError::Conflict(format!(
                "no department of {zhongshu} has work waiting to be integrated"
            )));
        }
        let mut all = Vec::new();
        for s in &waiting {
            all.push(self.ready_for_review(s, override_scope).await?);
        }
        let carriers: Vec<String> = all.iter().map(|r| r.session.id.clone()).collect();
        self.open(zhongshu, &setup, all, Some(zhongshu)).await?;
        carriers
            .iter()
            .map(|c| self.department(c).map(|(_, w)| w))
            .collect()
    }

    /// Records `s` again and checks its scope: its work as a pull request part.
    async fn ready_for_review(&self, s: &Session, override_scope: bool) -> LResult<Ready> {
        let ws = super::record_now(&self.ctx, &self.sessions, s, "pull_request").await?;
        let commit = ws
            .commit
            .clone()
            .ok_or_else(|| LauncherError::Conflict(format!("nothing of {} is recorded", s.id)))?;
        // A reviewer's open important findings hold it (issue 75).
        crate::review::gate::check_gate(&self.ctx, &s.id, Some(&commit))?;
        may_integrate(
            self.ctx.config.launcher.isolation.scope,
            ws.review.as_ref(),
            override_scope,
        )?;
        let part = self.part(s, &ws).await;
        Ok(Ready {
            session: s.clone(),
            ws,
            commit,
            part,
        })
    }

    /// The review of `s`'s work, for the body.
    async fn part(&self, s: &Session, ws: &Workspace) -> Part {
        let ctx = self.ctx.clone();
        let id = s.id.clone();
        let comments = tokio::task::spawn_blocking(move || {
            crate::review::comments::list(&ctx, &id).map(|v| v.comments)
        })
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
        let report = self
            .ctx
            .store
            .results_of_department(&s.id)
            .unwrap_or_default()
            .into_iter()
            .rev()
            .find(|r| r.source == ResultSource::Mailbox);
        Part {
            session_id: s.id.clone(),
            department: s.department.clone().unwrap_or_default(),
            plan: s.parent_session_id().map(str::to_string),
            summary: report
                .as_ref()
                .map(|r| r.summary.clone())
                .unwrap_or_default(),
            claimed: report.as_ref().map(|r| r.changed_files.clone()),
            actual: ws.actual_changed_files.clone(),
            diff_stat: ws.diff_stat,
            review: ws.review.clone(),
            verifications: report
                .as_ref()
                .map(|r| r.verifications_run.clone())
                .unwrap_or_default(),
            // The user's words only: a reviewer agent's findings are not
            // published as theirs (issue 75).
            review_comments: comments
                .iter()
                .filter(|c| c.comment.users())
                .map(|c| {
                    format!(
                        "{}:{} · {} · {}",
                        c.comment.path, c.current_line, c.state, c.comment.body
                    )
                })
                .collect(),
        }
    }

    /// Posts department `id`'s reviewer findings not yet in its open pull
    /// request (issue 75); `loud`: a failure is audited, else only logged.
    pub(super) async fn post_findings(&self, id: &str, loud: bool) {
        let Ok(setup) = self.setup() else {
            return;
        };
        findings::post(&self.ctx, &setup, &self.notes, id, loud).await;
    }

    /// Pushes a re-recorded department's work onto its open pull request
    /// (after its exit); failures are audited and the work waits.
    pub(super) async fn update_after_report(&self, id: &str) {
        let _one = self.working_tree.lock().await;
        if let Err(e) = self.push_update(id).await {
            tracing::warn!("updating the pull request of {id}: {e}");
        }
    }
}

/// Runs `f` on every workspace that carries pull request `pr` (same
/// repository and number): they keep one copy each, kept equal.
pub(super) fn each_carrier(
    tx: &mut crate::store::Tx,
    pr: &PullRequest,
    mut f: impl FnMut(&str, &mut Workspace),
) {
    let ids: Vec<String> = tx
        .state()
        .sessions
        .values()
        .filter(|s| {
            s.workspace()
                .and_then(|w| w.pull_request.as_ref())
                .is_some_and(|p| p.number == pr.number && p.repo == pr.repo)
        })
        .map(|s| s.id.clone())
        .collect();
    for id in ids {
        if let Some(w) = tx.session_mut(&id).and_then(|s| s.workspace_mut()) {
            f(&id, w);
        }
    }
}
