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

use crate::config::review::ReviewWhen;
use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::model::{AuditEvent, Decision, ReviewerPart, Session, SessionKind};
use crate::policy::second_opinion::{self as rules, WorkFacts};
use crate::sessions::start::StartSpec;
use crate::sessions::Sessions;

/// The diff a reviewer's prompt carries at most; the rest it reads in its folder.
const DIFF_IN_PROMPT: usize = 60_000;

pub struct SecondOpinion {
    ctx: Arc<Context>,
    sessions: Arc<Sessions>,
}

impl SecondOpinion {
    pub fn new(ctx: Arc<Context>, sessions: Arc<Sessions>) -> SecondOpinion {
        SecondOpinion { ctx, sessions }
    }

    /// A department ended and its work was recorded: a reviewer reads it
    /// when the settings want one. A reviewer that cannot start is logged
    /// and audited; the work waits for the user as it would without one.
    pub async fn exited(&self, id: &str) {
        if self.ctx.config.launcher.review.when == ReviewWhen::Off {
            return;
        }
        match self.review(id).await {
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

    /// Starts a reviewer on `id`'s recorded work, if it is wanted and not
    /// read already.
    async fn review(&self, id: &str) -> LResult<Option<Session>> {
        let settings = &self.ctx.config.launcher.review;
        let Some(s) = self.sessions.session(id) else {
            return Ok(None);
        };
        let Some(ws) = s.workspace().cloned() else {
            return Ok(None);
        };
        let Some(commit) = ws.commit.clone() else {
            return Ok(None);
        };
        if !ws.state.awaits_user() {
            return Ok(None);
        }
        let facts = WorkFacts {
            flagged: ws
                .review
                .as_ref()
                .is_some_and(|r| r.decision == Decision::Review),
            out_of_scope: ws.review.as_ref().map_or(0, |r| r.out_of_scope().len()),
            changed_lines: ws
                .diff_stat
                .as_ref()
                .map_or(0, |d| (d.insertions + d.deletions) as u64),
            empty: ws.nothing_to_review || ws.actual_changed_files.is_empty(),
        };
        if !rules::wanted(settings, &facts) {
            return Ok(None);
        }
        let read_already = self.ctx.store.read(|st| {
            st.reviewers_of(id)
                .any(|r| r.reviewer().is_some_and(|p| p.commit == commit))
        });
        if read_already {
            return Ok(None);
        }
        let word = settings.agent.clone().unwrap_or_default();
        let department = s.department.clone().unwrap_or_default();
        let agents = crate::plans::queue::named_agents(&self.ctx.config);
        let agent_key =
            crate::policy::attempts::agent_key(&word, &department, &agents)?.unwrap_or(department);
        if !self.sessions.has_tools(Some(&agent_key)) {
            return Err(LauncherError::Conflict(format!(
                "review.agent {word:?} reaches the launcher only through the API: a reviewer \
                 reports through its tool (Codex or an ACP agent)"
            )));
        }
        if !self
            .sessions
            .backend_for(Some(&agent_key))
            .capabilities()
            .sandboxed
        {
            return Err(LauncherError::Conflict(format!(
                "review.agent {word:?} runs unconfined (acp_unsandboxed): a reviewer only reads, \
                 confined read-only; name an agent the launcher confines"
            )));
        }
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
                same_vendor: false,
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
            same_vendor: false,
        });
        Ok(Some(started))
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
/// every agent), never in the state folder (hidden from agents).
fn reviewed_folder(repo: &Path, id: &str, commit: &str) -> PathBuf {
    let short = &commit[..commit.len().min(12)];
    crate::worktrees::root_for(repo)
        .join(".review")
        .join(format!("{id}-{short}"))
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
    }
    .render()
    .map_err(|e| LauncherError::Internal(format!("prompt template: {e}")))
}
