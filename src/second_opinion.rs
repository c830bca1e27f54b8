//! A second opinion before anything lands (issue 75): another agent reads
//! each department's recorded work and reports findings on its lines.
//!
//! When a department ends and its work is recorded, `launcher.review` says
//! whether a reviewer reads it (`policy::second_opinion::wanted`). The
//! reviewer is a session of its own kind, started with the agent
//! `review.agent` names, in a folder holding the recorded commit's tree
//! (exported from Git's objects, never the department's worktree, which its
//! agent controlled): confined read-only, it writes nothing but its
//! temporary folder, and it reaches the launcher through one tool bound to
//! its session (`governance_report_findings`, kept by
//! `review::comments::add_findings`). Its findings become review comments
//! marked as its own; with `review.gate: block_on_important` an open
//! important one holds Apply, Merge, the train and a pull request
//! ([`check_gate`]) until the user sends it back, dismisses it or
//! overrides with a reason ([`override_review`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use askama::Template;

use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::integration::Integrations;
use crate::model::{AuditEvent, ReviewerPart, Session, SessionKind, Workspace};
use crate::policy::second_opinion as rules;
use crate::sessions::start::StartSpec;
use crate::sessions::Sessions;

/// The diff a reviewer's prompt carries at most; the rest it reads in its folder.
const DIFF_IN_PROMPT: usize = 60_000;

pub struct SecondOpinion {
    ctx: Arc<Context>,
    sessions: Arc<Sessions>,
    integrations: Arc<Integrations>,
    /// Departments whose reviewer is being started: one at a time each.
    starting: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl SecondOpinion {
    pub fn new(
        ctx: Arc<Context>,
        sessions: Arc<Sessions>,
        integrations: Arc<Integrations>,
    ) -> SecondOpinion {
        SecondOpinion {
            ctx,
            sessions,
            integrations,
            starting: Default::default(),
        }
    }

    /// A department ended and its work was recorded: a reviewer reads it
    /// when the settings want one. A reviewer that cannot start is logged
    /// and audited; the work waits for the user as it would without one.
    pub async fn exited(&self, id: &str) {
        match self.review(id, false).await {
            Ok(Some(r)) => tracing::info!("{} reviews {id}'s work", r.id),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("no second opinion on {id}'s work: {e}");
                self.ctx.store.audit_or_log(AuditEvent::ReviewFailed {
                    reviews: id.to_string(),
                    error: e.to_string(),
                });
            }
        }
    }

    /// The user asks for a (new) review of `id`'s recorded work: one whose
    /// reviewer ended without a word, or one `review.when` did not ask for.
    pub async fn review_again(&self, id: &str) -> LResult<Session> {
        crate::ids::check_id("session_id", id)?;
        self.review(id, true).await?.ok_or_else(|| {
            LauncherError::Conflict(format!(
                "{id}'s recorded work is being read or was reviewed already, or nothing of it \
                 waits for you"
            ))
        })
    }

    /// A reviewer reported: once the gate lets its work through, what the
    /// department's exit held back goes on (a pull request's follow-up, the
    /// planner's proposal).
    pub async fn reported(&self, reviewer: &str) {
        let Some(id) = self
            .sessions
            .session(reviewer)
            .and_then(|s| s.reviewer().map(|r| r.reviews.clone()))
        else {
            return;
        };
        self.integrations.post_findings(&id).await;
        self.recheck(&id).await;
    }

    /// Once the gate lets `id`'s work through (its findings came, or the
    /// user dismissed, resolved or overrode what held it), what its exit
    /// held back goes on.
    pub async fn recheck(&self, id: &str) {
        let id = id.to_string();
        let ctx = Arc::clone(&self.ctx);
        let (checked, clear) = {
            let id = id.clone();
            let done = tokio::task::spawn_blocking(move || {
                crate::review::gate::check_gate(&ctx, &id, None)
            })
            .await;
            (done.is_ok(), matches!(done, Ok(Ok(()))))
        };
        if checked && clear {
            self.integrations.after_review(&id).await;
        }
    }

    /// The quota's hold lifted, the user started anyway or raised a plan's
    /// budget: the reviews that could not start then start now where the
    /// room allows (their failure was audited when they could not).
    pub async fn start_due(&self) {
        let due = self.ctx.store.read(untaken);
        for id in due {
            match self.review(&id, false).await {
                Ok(Some(r)) => tracing::info!("{} reviews {id}'s work", r.id),
                Ok(None) => {}
                Err(e) => tracing::debug!("no second opinion on {id}'s work yet: {e}"),
            }
        }
    }

    /// At start: reviewers that reported are closed, folders no running
    /// reviewer reads are removed, and work whose review was due when the
    /// launcher stopped (or was recorded at this start) gets its reviewer.
    pub async fn resume(&self) {
        let (reported, waiting): (Vec<(String, String)>, Vec<String>) = self.ctx.store.read(|st| {
            let reported = st
                .sessions
                .values()
                .filter(|r| r.is_running())
                .filter_map(|r| {
                    let p = r.reviewer().filter(|p| p.reported_at.is_some())?;
                    Some((r.id.clone(), p.reviews.clone()))
                })
                .collect();
            (reported, untaken(st))
        });
        for (reviewer, id) in reported {
            self.sessions.auto_close(&reviewer).await;
            self.recheck(&id).await;
        }
        let reading: Vec<String> = self.ctx.store.read(|st| {
            st.sessions
                .values()
                .filter(|r| r.is_running())
                .filter_map(|r| r.reviewer().map(|p| p.folder.clone()))
                .collect()
        });
        sweep_folders(&self.ctx.repo, &reading);
        for id in waiting {
            self.exited(&id).await;
        }
    }

    /// Starts a reviewer on `id`'s recorded work, if it is wanted (or
    /// `asked` by the user) and not read or being read already.
    async fn review(&self, id: &str, asked: bool) -> LResult<Option<Session>> {
        if !self.starting.lock().unwrap().insert(id.to_string()) {
            return Ok(None);
        }
        let started = self.review_one(id, asked).await;
        self.starting.lock().unwrap().remove(id);
        started
    }

    /// The work of `id` a review is due on (its session, worktree and
    /// recorded commit): none when nothing is recorded, it does not wait
    /// for the user, `launcher.review` does not want one (unless `asked`),
    /// it is read or being read, or its plan was stopped and no one asked.
    fn due(&self, id: &str, asked: bool) -> Option<(Session, Workspace, String)> {
        let settings = &self.ctx.config.launcher.review;
        let s = self.sessions.session(id)?;
        let ws = s.workspace().cloned()?;
        let commit = ws.commit.clone()?;
        if !ws.state.awaits_user() {
            return None;
        }
        let facts = rules::facts_of(&ws);
        let own = crate::review::gate::own_word(&self.ctx, &s);
        if facts.empty || !(asked || rules::wanted(settings, own, &facts)) {
            return None;
        }
        // Read, or being read: a reviewer that ended without a word does
        // not count (the user may ask again).
        let read_already = self.ctx.store.read(|st| {
            st.reviewers_of(id).any(|r| {
                r.reviewer().is_some_and(|p| {
                    p.commit == commit && (r.is_running() || p.reported_at.is_some())
                })
            })
        });
        let stopped = self.ctx.store.read(|st| {
            s.parent_session_id()
                .and_then(|p| st.plans.get(p))
                .is_some_and(|p| p.status == crate::model::PlanStatus::Stopped)
        });
        if read_already || (stopped && !asked) {
            return None;
        }
        Some((s, ws, commit))
    }

    async fn review_one(&self, id: &str, asked: bool) -> LResult<Option<Session>> {
        let settings = &self.ctx.config.launcher.review;
        let Some((s, ws, commit)) = self.due(id, asked) else {
            return Ok(None);
        };
        // Its plan's budget and the quota's hold bind a reviewer as they
        // bind a department.
        let room = self
            .ctx
            .store
            .read(|st| crate::quota::room(st, &self.ctx.config.launcher));
        let parent = s.parent_session_id().map(str::to_string);
        let (agent_key, same_vendor) = self.agent_for(&s, parent.as_deref(), &room)?;
        let folder = reviewed_folder(&self.ctx.repo, id, &commit);
        let prompt = {
            let (ctx, s, ws, folder) =
                (Arc::clone(&self.ctx), s.clone(), ws.clone(), folder.clone());
            let commit = commit.clone();
            tokio::task::spawn_blocking(move || prepare(&ctx, &s, &ws.base, &commit, &folder))
                .await??
        };
        let spec = StartSpec {
            reviews: Some(ReviewerPart {
                parent_session_id: None,
                reviews: id.to_string(),
                commit: commit.clone(),
                agent_key: agent_key.clone(),
                same_vendor,
                folder: folder.display().to_string(),
                reported_at: None,
                summary: None,
                counts: [0; 3],
            }),
            prompt_override: Some(prompt),
            parent_session_id: s.parent_session_id().map(str::to_string),
            ..StartSpec::zhongshu(
                format!("Review the work of {id} and report your findings."),
                settings.model.clone(),
            )
        };
        let spec = StartSpec {
            kind: SessionKind::Reviewer,
            ..spec
        };
        let started = match self.sessions.start_session(spec).await {
            Ok(r) => r,
            Err(e) => {
                remove_folder(&folder);
                return Err(e);
            }
        };
        self.ctx.store.audit_or_log(AuditEvent::ReviewStarted {
            session_id: started.id.clone(),
            reviews: id.to_string(),
            commit,
            agent: agent_key,
            same_vendor,
        });
        Ok(Some(started))
    }

    /// The agent that reviews `s`'s work (a department key), and whether it
    /// is the department's own vendor because the other's account is held
    /// (`review.fallback: same_vendor`). Unnamed, it is another vendor's
    /// than the department's, of those this launcher's departments run.
    fn agent_for(
        &self,
        s: &Session,
        parent: Option<&str>,
        room: &crate::policy::queue::Room,
    ) -> LResult<(String, bool)> {
        let settings = &self.ctx.config.launcher.review;
        let department = s.department.clone().unwrap_or_default();
        let own_key = s.agent_key().unwrap_or(&department);
        let usable = |key: &str| {
            let backend = self.sessions.backend_for(Some(key));
            self.sessions.has_tools(Some(key)) && backend.capabilities().sandboxed
        };
        let key = match &settings.agent {
            Some(word) => {
                let agents = crate::plans::queue::named_agents(&self.ctx.config);
                crate::policy::attempts::agent_key(word, &department, &agents)?
                    .unwrap_or_else(|| department.clone())
            }
            None => {
                let own = self.vendor_of(own_key);
                let candidates: Vec<(String, String)> = self
                    .ctx
                    .config
                    .assignable_departments()
                    .into_iter()
                    .filter(|d| usable(&d.key))
                    .map(|d| {
                        let vendor = self.vendor_of(&d.key);
                        (d.key, vendor)
                    })
                    .collect();
                rules::other_vendor(&own, &candidates).ok_or_else(|| {
                    LauncherError::Conflict(format!(
                        "no agent of another vendor than {department}'s reviews here: name one \
                         in launcher.review.agent"
                    ))
                })?
            }
        };
        if !usable(&key) {
            return Err(LauncherError::Conflict(format!(
                "the reviewer's agent ({key}) must report through its tools and run confined \
                 (Codex, or an ACP agent without acp_unsandboxed): a reviewer only reads"
            )));
        }
        match crate::policy::queue::may_review(parent, &key, room) {
            Ok(()) => Ok((key, false)),
            Err(held)
                if settings.fallback == crate::config::review::ReviewFallback::SameVendor
                    && usable(own_key)
                    && crate::policy::queue::may_review(parent, own_key, room).is_ok() =>
            {
                tracing::info!("{}'s reviewer runs on its own vendor: {held}", s.id);
                Ok((own_key.to_string(), true))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Who makes department `key`'s agent (`policy::second_opinion::vendor`).
    fn vendor_of(&self, key: &str) -> String {
        let agent = &self.ctx.config.launcher.agent;
        let settings = agent.departments.get(key).unwrap_or(&agent.backend);
        rules::vendor(settings.attempt_word(), key)
    }

    /// A reviewer ended: the tree it read is removed.
    pub fn reviewer_exited(&self, id: &str) {
        if let Some(r) = self
            .sessions
            .session(id)
            .and_then(|s| s.reviewer().cloned())
        {
            remove_folder(Path::new(&r.folder));
        }
    }
}

/// Where a reviewer reads `id`'s commit: beside the worktrees (read-only to
/// Recorded work waiting for the user that no reviewer ever took up (one
/// that ended without a word waits for the user's *Review again*).
fn untaken(st: &crate::model::State) -> Vec<String> {
    st.sessions
        .values()
        .filter(|s| s.is_department() && !s.is_running())
        .filter(|s| {
            s.workspace().is_some_and(|w| {
                w.state.awaits_user()
                    && !st
                        .reviewers_of(&s.id)
                        .any(|r| r.reviewer().map(|p| Some(&p.commit)) == Some(w.commit.as_ref()))
            })
        })
        .map(|s| s.id.clone())
        .collect()
}

/// every agent), never in the state folder (hidden from agents).
fn reviewed_folder(repo: &Path, id: &str, commit: &str) -> PathBuf {
    let short = &commit[..commit.len().min(12)];
    // Each reviewer its own: one's end never removes another's tree.
    let own = &crate::secret::new_token()[..8];
    crate::worktrees::root_for(repo)
        .join(".review")
        .join(format!("{id}-{short}-{own}"))
}

fn remove_folder(folder: &Path) {
    if let Err(e) = std::fs::remove_dir_all(folder) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("removing {}: {e}", folder.display());
        }
    }
}

/// Exports the reviewed tree into `folder` (one a crash left is made
/// again) and renders the reviewer's prompt.
fn prepare(ctx: &Context, s: &Session, base: &str, commit: &str, folder: &Path) -> LResult<String> {
    remove_folder(folder);
    if let Some(parent) = folder.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            LauncherError::Internal(format!("cannot create {}: {e}", parent.display()))
        })?;
    }
    let tree = git2::Repository::open(&ctx.repo)
        .and_then(|git| {
            let oid = git2::Oid::from_str(commit)?;
            Ok(git.find_commit(oid)?.tree_id().to_string())
        })
        .map_err(|e| LauncherError::Internal(format!("the recorded commit {commit}: {e}")))?;
    crate::worktrees::export::export_tree(&ctx.repo, &tree, folder)
        .map_err(|e| LauncherError::Internal(e.to_string()))?;
    let (diff, truncated) = crate::review::patch::between(&ctx.repo, base, commit, DIFF_IN_PROMPT)?;
    let report = match s.last_report_key() {
        Some(key) => ctx
            .store
            .result(&key)?
            .map(|r| {
                let mut text = r.summary.clone();
                for risk in &r.risks {
                    text.push_str(&format!("\nrisk: {risk}"));
                }
                text
            })
            .unwrap_or_default(),
        None => String::new(),
    };
    let report = if report.trim().is_empty() {
        "(it did not report)".to_string()
    } else {
        report
    };
    crate::sessions::start::prompts::ReviewerPrompt {
        project_name: &ctx.config.launcher.project_name,
        session_id: "{session_id}",
        reviews: &s.id,
        commit,
        base,
        folder: &folder.display().to_string(),
        task: &s.task,
        report: &report,
        diff: &diff,
        truncated,
        marker: &crate::secret::new_token()[..16],
    }
    .render()
    .map_err(|e| LauncherError::Internal(format!("prompt template: {e}")))
}

/// Removes the folders under `.review/` that no running reviewer reads
/// (`reading`): a crash or a stop left them.
fn sweep_folders(repo: &Path, reading: &[String]) {
    let root = crate::worktrees::root_for(repo).join(".review");
    let Ok(entries) = std::fs::read_dir(&root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !reading.iter().any(|r| Path::new(r) == path) {
            remove_folder(&path);
        }
    }
}
