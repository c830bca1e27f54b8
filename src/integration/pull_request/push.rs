//! Work onto the forge: a new pull request (one commit per department,
//! pushed, then opened) or one more commit onto an open one. Each failure
//! says what became of the work, and is audited.

use super::{
    each_carrier, forge_error, git_error, off_the_runtime, push_error, stays_pending, PullRequests,
    Ready,
};
use crate::clock;
use crate::config::MergeStyle;
use crate::error::{LResult, LauncherError};
use crate::forge::body::{self, Part};
use crate::forge::push;
use crate::forge::{commits, NewPull, Opened, Setup};
use crate::integration::message::merge_message_after;
use crate::model::{AuditEvent, Carried, PullRequest, PullRequestState, Workspace};
use crate::policy::workspace::{self, Event};

const NOTHING_PUSHED: &str = "nothing was pushed; the work stays pending";

impl PullRequests {
    /// Audits `e` as a failed pull request of `owner`, and answers it.
    fn failed(&self, owner: &str, e: LauncherError) -> LauncherError {
        self.ctx.store.audit_or_log(AuditEvent::PullRequestFailed {
            session_id: owner.to_string(),
            error: e.to_string(),
        });
        e
    }

    /// Pushes `work` (one commit each) and opens its pull request; `owner`
    /// names it in the audit (a department, or the plan's Zhongshu).
    pub(super) async fn open(
        &self,
        owner: &str,
        setup: &Setup,
        work: Vec<Ready>,
        plan: Option<&str>,
    ) -> LResult<Workspace> {
        let failed = |e: LauncherError| self.failed(owner, e);
        // The forge first: a refusal there pushes nothing.
        let repo_info = setup
            .forge
            .repository()
            .await
            .map_err(forge_error)
            .map_err(|e| failed(stays_pending(e, NOTHING_PUSHED)))?;
        let base = self.base().await?.ok_or_else(|| {
            failed(LauncherError::Conflict(
                "HEAD is detached: check out the branch the pull request should \
                 target, or set launcher.pull_requests.base"
                    .into(),
            ))
        })?;
        let branch = match plan {
            Some(z) => format!("governance/{z}/plan"),
            None => work[0].ws.branch.clone(),
        };
        let (head, carries) = self
            .stack_all(&work)
            .await
            .map_err(|e| failed(stays_pending(e, NOTHING_PUSHED)))?;
        self.push_branch(&setup.remote, &head, &branch)
            .await
            .map_err(|e| {
                failed(stays_pending(
                    e,
                    "nothing was pushed or opened; the work stays pending",
                ))
            })?;
        let parts: Vec<Part> = work.iter().map(|r| r.part.clone()).collect();
        let new = NewPull {
            title: body::title(&parts, &work[0].session.task),
            body: body::render(&parts),
            head: branch.clone(),
            base: base.clone(),
        };
        let opened = self
            .open_on_forge(setup, new, &branch)
            .await
            .map_err(failed)?;
        let record = PullRequest {
            repo: repo_info.full_name.clone(),
            remote: setup.remote.clone(),
            branch,
            base,
            head,
            carries,
            ..just_opened(&opened.pull)
        };
        self.record_opened(owner, &record, opened.reused, plan.is_some())?;
        super::verify::start(
            &self.ctx,
            &self.sessions,
            setup,
            &record.carries[0].session_id,
            &record.head,
        );
        self.changed.notify_one();
        for c in &record.carries {
            super::findings::post(&self.ctx, setup, &self.notes, &c.session_id, true).await;
        }
        Ok(self.department(&record.carries[0].session_id)?.1)
    }

    /// The branch a pull request targets: the configured base, else the
    /// current branch (None when HEAD is detached).
    async fn base(&self) -> LResult<Option<String>> {
        if let Some(b) = &self.ctx.config.launcher.pull_requests.base {
            return Ok(Some(b.clone()));
        }
        let repo = self.ctx.repo.clone();
        off_the_runtime(move || commits::current_branch(&repo).map_err(git_error)).await
    }

    /// One commit per department, each on the one before: the head, and what
    /// each carries.
    async fn stack_all(&self, work: &[Ready]) -> LResult<(String, Vec<Carried>)> {
        let mut head = work[0].ws.base.clone();
        let mut carries = Vec::new();
        for r in work {
            let earlier = crate::integration::earlier_attempts(&self.ctx, &r.ws);
            let message = merge_message_after(
                MergeStyle::Squash,
                &r.session,
                &r.ws,
                &r.part.summary,
                &earlier,
            );
            head = self
                .stack(&r.ws.branch, &head, &r.ws.base, &r.commit, message)
                .await?;
            carries.push(Carried {
                session_id: r.session.id.clone(),
                branch: r.ws.branch.clone(),
                commit: r.commit.clone(),
            });
        }
        Ok((head, carries))
    }

    /// `commit`'s work since `since`, squashed onto `parent`: the new commit.
    /// Refused when it carries the state folder, a `.git` component or a
    /// submodule (`branch` names it), before anything is made or pushed.
    async fn stack(
        &self,
        branch: &str,
        parent: &str,
        since: &str,
        commit: &str,
        message: String,
    ) -> LResult<String> {
        let (repo, parent, since, commit) = (
            self.ctx.repo.clone(),
            parent.to_string(),
            since.to_string(),
            commit.to_string(),
        );
        let fence = crate::integration::record::fence(&self.ctx);
        let what = format!("the work on {branch}");
        off_the_runtime(move || {
            commits::stack(&repo, &fence, &what, &parent, &since, &commit, &message)
                .map_err(git_error)
        })
        .await
    }

    /// Pushes `head` to `branch` on `remote`, with the user's credentials.
    async fn push_branch(&self, remote: &str, head: &str, branch: &str) -> LResult<()> {
        push::push(&self.ctx.repo, remote, head, branch)
            .await
            .map_err(push_error)
    }

    /// Opens the pull request of the pushed `branch`; when the forge refuses,
    /// the branch comes off the remote again (nothing half-done).
    async fn open_on_forge(&self, setup: &Setup, new: NewPull, branch: &str) -> LResult<Opened> {
        let e = match setup.forge.open_pull(new).await {
            Ok(o) => return Ok(o),
            Err(e) => e,
        };
        let undone = push::delete(&self.ctx.repo, &setup.remote, branch)
            .await
            .map_err(push_error);
        let what = match undone {
            Ok(()) => format!(
                "the pushed branch {branch} was taken off the remote again; nothing was opened, the work stays pending"
            ),
            Err(u) => format!(
                "nothing was opened and the work stays pending, but the pushed branch {branch} could not be taken off the remote ({u})"
            ),
        };
        Err(stays_pending(forge_error(e), &what))
    }

    /// Every carrier's work is in review on the opened pull request, audited.
    fn record_opened(
        &self,
        owner: &str,
        record: &PullRequest,
        reused: bool,
        plan: bool,
    ) -> LResult<()> {
        self.ctx.store.update(|tx| {
            for c in &record.carries {
                if let Some(w) = tx
                    .session_mut(&c.session_id)
                    .and_then(|s| s.workspace_mut())
                {
                    workspace::observe(w, Event::PullRequestOpened);
                    w.pull_request = Some(record.clone());
                    w.conflicts.clear();
                }
            }
            tx.audit(AuditEvent::PullRequestOpened {
                session_id: owner.to_string(),
                number: record.number,
                url: record.url.clone(),
                branch: record.branch.clone(),
                base: record.base.clone(),
                commit: record.head.clone(),
                reused,
                carries: if plan {
                    record
                        .carries
                        .iter()
                        .map(|c| c.session_id.clone())
                        .collect()
                } else {
                    Vec::new()
                },
            });
        })?;
        Ok(())
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
        let setup = self.setup().map_err(|e| self.failed(id, e))?;
        let commit = ws
            .commit
            .clone()
            .ok_or_else(|| LauncherError::Conflict(format!("nothing of {id} is recorded")))?;
        // The follow-up waits for its second opinion as a first push does.
        crate::review::gate::check_gate(&self.ctx, id, Some(&commit))?;
        let since = pr
            .carries
            .iter()
            .find(|c| c.branch == ws.branch)
            .map(|c| c.commit.clone())
            .unwrap_or_else(|| ws.base.clone());
        let part = self.part(&s, &ws).await;
        let new_head = if since == commit {
            pr.head.clone()
        } else {
            let earlier = crate::integration::earlier_attempts(&self.ctx, &ws);
            let message = merge_message_after(MergeStyle::Squash, &s, &ws, &part.summary, &earlier);
            self.push_onto(id, &pr, &ws.branch, &since, &commit, message)
                .await?
        };
        // The body follows the new review; the pull request has its commit either way.
        if pr.carries.len() <= 1 {
            self.refresh_body(&setup, &pr, &part).await;
        }
        self.record_update(id, &pr, &ws.branch, &new_head, &commit)?;
        if new_head != pr.head {
            super::verify::start(&self.ctx, &self.sessions, &setup, id, &new_head);
        }
        super::findings::post(&self.ctx, &setup, &self.notes, id, true).await;
        self.changed.notify_one();
        Ok(self.department(id)?.1)
    }

    /// Stacks `commit`'s work since `since` onto `pr`'s head and pushes it:
    /// the new head.
    async fn push_onto(
        &self,
        id: &str,
        pr: &PullRequest,
        branch: &str,
        since: &str,
        commit: &str,
        message: String,
    ) -> LResult<String> {
        let head = self
            .stack(branch, &pr.head, since, commit, message)
            .await
            .map_err(|e| self.failed(id, stays_pending(e, NOTHING_PUSHED)))?;
        self.push_branch(&pr.remote, &head, &pr.branch)
            .await
            .map_err(|e| {
                self.failed(
                    id,
                    stays_pending(e, "the pull request is as it was; the work stays pending"),
                )
            })?;
        Ok(head)
    }

    /// The body of a one-department pull request follows its new review;
    /// its title stays what it was opened with (a send-back never retitles it).
    async fn refresh_body(&self, setup: &Setup, pr: &PullRequest, part: &Part) {
        let text = body::render(std::slice::from_ref(part));
        if let Err(e) = setup.forge.update_body(pr.number, text).await {
            tracing::warn!(
                "the body of pull request #{} stays as it was: {e}",
                pr.number
            );
        }
    }

    /// Every carrier of `pr` gets its new head (its checks not yet read);
    /// `id`'s work is in review again. Audited.
    fn record_update(
        &self,
        id: &str,
        pr: &PullRequest,
        branch: &str,
        new_head: &str,
        commit: &str,
    ) -> LResult<()> {
        self.ctx.store.update(|tx| {
            each_carrier(tx, pr, |sid, w| {
                if let Some(p) = w.pull_request.as_mut() {
                    p.head = new_head.to_string();
                    p.checks.clear();
                    p.checked_at = None;
                    for c in p.carries.iter_mut().filter(|c| c.branch == branch) {
                        c.commit = commit.to_string();
                        c.session_id = id.to_string();
                    }
                }
                if sid == id {
                    workspace::observe(w, Event::PullRequestOpened);
                }
            });
            tx.audit(AuditEvent::PullRequestUpdated {
                session_id: id.to_string(),
                number: pr.number,
                commit: new_head.to_string(),
            });
        })?;
        Ok(())
    }
}

/// A pull request's record as the forge just opened it (its place, head
/// and work filled in by the caller).
fn just_opened(pull: &crate::forge::PullInfo) -> PullRequest {
    PullRequest {
        url: pull.url.clone(),
        number: pull.number,
        state: PullRequestState::Open,
        checks: Vec::new(),
        repo: String::new(),
        remote: String::new(),
        branch: String::new(),
        base: String::new(),
        head: String::new(),
        carries: Vec::new(),
        opened_at: clock::now_rfc3339(),
        checked_at: None,
        send_backs: 0,
        sent_failure: None,
        seen_notes: Vec::new(),
        review_waiting: Vec::new(),
        replies_due: Vec::new(),
        posted_reviews: Vec::new(),
        findings_posted: Vec::new(),
    }
}
