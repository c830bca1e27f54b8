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
//! (`pull_request_failed`).

use super::message::merge_message;
use super::Integrations;
use crate::clock;
use crate::config::MergeStyle;
use crate::error::{LResult, LauncherError};
use crate::forge::body::{self, Part};
use crate::forge::push::{self, PushError};
use crate::forge::{commits, ForgeError, NewPull, Setup};
use crate::model::{
    AuditEvent, Carried, PullRequest, PullRequestState, ResultSource, Session, Workspace,
    WorkspaceState,
};
use crate::policy::integration::may_integrate;
use crate::worktrees::WorktreeError;

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
        .unwrap_or_else(|e| Err(LauncherError::Internal(format!("git task failed: {e}"))))
}

impl Integrations {
    /// Pull requests as configured, or why they are off.
    pub fn pull_request_setup(&self) -> LResult<Setup> {
        let settings = &self.ctx.config.launcher.pull_requests;
        let url = crate::forge::remote::url_of(&self.ctx.repo, &settings.remote)
            .map_err(|off| LauncherError::Conflict(off.0))?;
        let shown = crate::forge::remote::without_password(&url);
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
    pub(super) async fn open_pull_request(
        &self,
        id: &str,
        override_scope: bool,
    ) -> LResult<Workspace> {
        let _one = self.working_tree.lock().await;
        let (s, ws) = self.department(id)?;
        self.ready(&s, &ws)?;
        if ws.pull_request.as_ref().is_some_and(PullRequest::is_open) {
            return self.push_update(id).await;
        }
        let setup = self.pull_request_setup()?;
        let ready = self.ready_for_review(&s, override_scope).await?;
        self.open(id, &setup, vec![ready], None).await
    }

    /// One pull request for every department of plan `zhongshu` whose work
    /// waits for the user: one commit each, in the order they started.
    pub async fn open_plan_pull_request(
        &self,
        zhongshu: &str,
        override_scope: bool,
    ) -> LResult<Vec<Workspace>> {
        let _one = self.working_tree.lock().await;
        let setup = self.pull_request_setup()?;
        let mut waiting: Vec<Session> = self.ctx.store.read(|st| {
            st.children_of(zhongshu)
                .filter(|c| !c.is_running())
                .filter(|c| c.workspace().is_some_and(|w| w.state.awaits_user()))
                .filter(|c| c.workspace().is_some_and(|w| w.pull_request.is_none()))
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
        let ws = self.record_now(s, "pull_request").await?;
        let commit = ws
            .commit
            .clone()
            .ok_or_else(|| LauncherError::Conflict(format!("nothing of {} is recorded", s.id)))?;
        may_integrate(
            self.ctx.config.launcher.isolation.scope,
            ws.review.as_ref(),
            override_scope,
        )?;
        let part = self.part(s, &ws);
        Ok(Ready {
            session: s.clone(),
            ws,
            commit,
            part,
        })
    }

    /// The review of `s`'s work, for the body.
    fn part(&self, s: &Session, ws: &Workspace) -> Part {
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
            packet: report.and_then(|r| r.handoff_packet),
        }
    }

    /// Pushes `work` (one commit each) and opens its pull request; `owner`
    /// names it in the audit (a department, or the plan's Zhongshu).
    async fn open(
        &self,
        owner: &str,
        setup: &Setup,
        work: Vec<Ready>,
        plan: Option<&str>,
    ) -> LResult<Workspace> {
        let failed = |e: LauncherError| {
            self.ctx.store.audit_or_log(AuditEvent::PullRequestFailed {
                session_id: owner.to_string(),
                error: e.to_string(),
            });
            e
        };
        // The forge first: a refusal there pushes nothing.
        let repo_info = setup
            .forge
            .repository()
            .await
            .map_err(forge_error)
            .map_err(|e| {
                failed(stays_pending(
                    e,
                    "nothing was pushed; the work stays pending",
                ))
            })?;
        let base = match &self.ctx.config.launcher.pull_requests.base {
            Some(b) => b.clone(),
            None => {
                let repo = self.ctx.repo.clone();
                off_the_runtime(move || commits::current_branch(&repo).map_err(git_error))
                    .await?
                    .ok_or_else(|| {
                        failed(LauncherError::Conflict(
                            "HEAD is detached: check out the branch the pull request should \
                             target, or set launcher.pull_requests.base"
                                .into(),
                        ))
                    })?
            }
        };
        let branch = match plan {
            Some(z) => format!("governance/{z}/plan"),
            None => work[0].ws.branch.clone(),
        };
        // One commit per department, each on the one before.
        let mut head = work[0].ws.base.clone();
        let mut carries = Vec::new();
        for r in &work {
            let message = merge_message(MergeStyle::Squash, &r.session, &r.ws, &r.part.summary);
            let (repo, parent, since, commit) = (
                self.ctx.repo.clone(),
                head.clone(),
                r.ws.base.clone(),
                r.commit.clone(),
            );
            head = off_the_runtime(move || {
                commits::stack(&repo, &parent, &since, &commit, &message).map_err(git_error)
            })
            .await
            .map_err(|e| {
                failed(stays_pending(
                    e,
                    "nothing was pushed; the work stays pending",
                ))
            })?;
            carries.push(Carried {
                session_id: r.session.id.clone(),
                branch: r.ws.branch.clone(),
                commit: r.commit.clone(),
            });
        }
        {
            let (repo, remote, head, branch) = (
                self.ctx.repo.clone(),
                setup.remote.clone(),
                head.clone(),
                branch.clone(),
            );
            off_the_runtime(move || push::push(&repo, &remote, &head, &branch).map_err(push_error))
                .await
                .map_err(|e| {
                    failed(stays_pending(
                        e,
                        "nothing was pushed or opened; the work stays pending",
                    ))
                })?;
        }
        let parts: Vec<Part> = work.iter().map(|r| r.part.clone()).collect();
        let new = NewPull {
            title: body::title(&parts, &work[0].session.task),
            body: body::render(&parts, self.ctx.url()),
            head: branch.clone(),
            base: base.clone(),
        };
        let opened = match setup.forge.open_pull(new).await {
            Ok(o) => o,
            Err(e) => {
                // Nothing half-done: the branch comes off the remote again.
                let (repo, remote, gone) =
                    (self.ctx.repo.clone(), setup.remote.clone(), branch.clone());
                let undone = off_the_runtime(move || {
                    push::delete(&repo, &remote, &gone).map_err(push_error)
                })
                .await;
                let what = match undone {
                    Ok(()) => format!(
                        "the pushed branch {branch} was taken off the remote again; nothing was opened, the work stays pending"
                    ),
                    Err(u) => format!(
                        "nothing was opened and the work stays pending, but the pushed branch {branch} could not be taken off the remote ({u})"
                    ),
                };
                return Err(failed(stays_pending(forge_error(e), &what)));
            }
        };
        let record = PullRequest {
            url: opened.pull.url.clone(),
            number: opened.pull.number,
            state: PullRequestState::Open,
            checks: Vec::new(),
            repo: repo_info.full_name.clone(),
            remote: setup.remote.clone(),
            branch: branch.clone(),
            base: base.clone(),
            head: head.clone(),
            carries: carries.clone(),
            opened_at: clock::now_rfc3339(),
            checked_at: None,
            send_backs: 0,
            sent_failure: None,
        };
        self.ctx.store.update(|tx| {
            for c in &carries {
                if let Some(w) = tx
                    .session_mut(&c.session_id)
                    .and_then(|s| s.workspace_mut())
                {
                    w.state = WorkspaceState::InReview;
                    w.pull_request = Some(record.clone());
                    w.conflicts.clear();
                }
            }
            tx.audit(AuditEvent::PullRequestOpened {
                session_id: owner.to_string(),
                number: record.number,
                url: record.url.clone(),
                branch: branch.clone(),
                base: base.clone(),
                commit: head.clone(),
                reused: opened.reused,
                carries: if plan.is_some() {
                    carries.iter().map(|c| c.session_id.clone()).collect()
                } else {
                    Vec::new()
                },
            });
        })?;
        self.pull_requests_changed.notify_one();
        Ok(self.department(&carries[0].session_id)?.1)
    }

    /// The department reported again after a send back: its new work goes
    /// onto its open pull request as one more commit. The caller holds the
    /// working-tree lock.
    pub(super) async fn push_update(&self, id: &str) -> LResult<Workspace> {
        let (s, ws) = self.department(id)?;
        let Some(pr) = ws.pull_request.clone().filter(PullRequest::is_open) else {
            return Err(LauncherError::Conflict(format!(
                "{id} has no open pull request"
            )));
        };
        let failed = |e: LauncherError| {
            self.ctx.store.audit_or_log(AuditEvent::PullRequestFailed {
                session_id: id.to_string(),
                error: e.to_string(),
            });
            e
        };
        let setup = self.pull_request_setup().map_err(failed)?;
        let commit = ws
            .commit
            .clone()
            .ok_or_else(|| LauncherError::Conflict(format!("nothing of {id} is recorded")))?;
        let since = pr
            .carries
            .iter()
            .find(|c| c.branch == ws.branch)
            .map(|c| c.commit.clone())
            .unwrap_or_else(|| ws.base.clone());
        let part = self.part(&s, &ws);
        let new_head = if since == commit {
            pr.head.clone()
        } else {
            let message = merge_message(MergeStyle::Squash, &s, &ws, &part.summary);
            let (repo, parent, since, work) = (
                self.ctx.repo.clone(),
                pr.head.clone(),
                since.clone(),
                commit.clone(),
            );
            let head = off_the_runtime(move || {
                commits::stack(&repo, &parent, &since, &work, &message).map_err(git_error)
            })
            .await
            .map_err(|e| {
                failed(stays_pending(
                    e,
                    "nothing was pushed; the work stays pending",
                ))
            })?;
            let (repo, remote, pushed, branch) = (
                self.ctx.repo.clone(),
                pr.remote.clone(),
                head.clone(),
                pr.branch.clone(),
            );
            off_the_runtime(move || {
                push::push(&repo, &remote, &pushed, &branch).map_err(push_error)
            })
            .await
            .map_err(|e| {
                failed(stays_pending(
                    e,
                    "the pull request is as it was; the work stays pending",
                ))
            })?;
            head
        };
        // The body follows the new review; the pull request has its commit either way.
        if pr.carries.len() <= 1 {
            let title = body::title(std::slice::from_ref(&part), &s.task);
            let text = body::render(std::slice::from_ref(&part), self.ctx.url());
            if let Err(e) = setup.forge.update_pull(pr.number, title, text).await {
                tracing::warn!(
                    "the body of pull request #{} stays as it was: {e}",
                    pr.number
                );
            }
        }
        let number = pr.number;
        let branch = ws.branch.clone();
        self.ctx.store.update(|tx| {
            self::each_carrier(tx, &pr, |sid, w| {
                if let Some(p) = w.pull_request.as_mut() {
                    p.head = new_head.clone();
                    p.checks.clear();
                    p.checked_at = None;
                    for c in p.carries.iter_mut().filter(|c| c.branch == branch) {
                        c.commit = commit.clone();
                        c.session_id = id.to_string();
                    }
                }
                if sid == id {
                    w.state = WorkspaceState::InReview;
                }
            });
            tx.audit(AuditEvent::PullRequestUpdated {
                session_id: id.to_string(),
                number,
                commit: new_head.clone(),
            });
        })?;
        self.pull_requests_changed.notify_one();
        Ok(self.department(id)?.1)
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
