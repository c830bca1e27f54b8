//! A department's worktree as the sessions service sees it (issue 26): made
//! before the agent starts (or handed over from the session it continues
//! after a send back), recorded in the change that records the session, the
//! agent's working folder, and given back when a start fails, so nothing of
//! a department's work is lost and no empty worktree is left behind.

use std::path::PathBuf;
use std::sync::Arc;

use super::start::{Checked, StartSpec};
use super::Sessions;
use crate::config::Isolation;
use crate::error::{LResult, LauncherError};
use crate::model::{AuditEvent, Session, Workspace, WorkspaceState};
use crate::store::Tx;
use crate::worktrees::{self, CreateSpec};

/// A worktree a department starts in.
pub(super) struct Made {
    pub(super) workspace: Workspace,
    pub(super) files: usize,
    pub(super) total: usize,
}

impl Sessions {
    /// The folder an agent works in: its worktree, else the repository.
    pub fn workdir(&self, s: &Session) -> PathBuf {
        s.workspace()
            .filter(|w| !w.removed)
            .map(|w| PathBuf::from(&w.path))
            .unwrap_or_else(|| self.ctx.repo.clone())
    }

    /// A session's private temporary folder, its `TMPDIR` (made again if it
    /// is gone): beside a department's worktree, else in the state folder.
    /// One that cannot be made is still the agent's: its sandbox keeps /tmp
    /// closed all the same.
    pub(super) fn temp_dir(&self, s: &Session) -> PathBuf {
        let temp = match s.workspace().filter(|w| !w.removed) {
            Some(ws) => worktrees::temp_for(&self.ctx.repo, &ws.name),
            None => self.ctx.paths.temp_root().join(&s.id),
        };
        if let Err(e) = crate::platform::create_private_dir(&temp) {
            tracing::warn!("the temporary folder {}: {e}", temp.display());
        }
        temp
    }

    /// The worktree a department starts in: handed over (a send back) or
    /// made now; None for a Zhongshu, with `launcher.isolation: shared`, or in
    /// a repository without a commit.
    pub(super) async fn prepare_workspace(
        self: &Arc<Self>,
        spec: &StartSpec,
        c: &Checked,
        id: &str,
    ) -> LResult<Option<Made>> {
        let Some(department) = &c.department else {
            return Ok(None);
        };
        if let Some(from) = &spec.workspace_from {
            return self.handed_over(from).map(Some);
        }
        let settings = self.ctx.config.launcher.isolation.clone();
        if settings.isolation != Isolation::Worktree {
            return Ok(None);
        }
        let parent = c.parent.clone().unwrap_or_default();
        let base = self.ctx.store.read(|s| {
            let from_plan = s
                .queue
                .iter()
                .find(|q| Some(&q.id) == spec.queue_id.as_ref())
                .is_some_and(|q| q.assignment_index.is_some());
            from_plan
                .then(|| {
                    s.plans
                        .get(&parent)?
                        .base
                        .as_ref()
                        .map(|b| b.commit.clone())
                })
                .flatten()
        });
        let scope: Vec<String> = spec
            .files
            .iter()
            .chain(&department.globs)
            .cloned()
            .collect();
        let repo = self.ctx.repo.clone();
        let id = id.to_string();
        let made = tokio::task::spawn_blocking(move || {
            worktrees::create(&CreateSpec {
                repo: &repo,
                zhongshu: &parent,
                session: &id,
                base: base.as_deref(),
                scope: &scope,
                settings: &settings,
            })
        })
        .await
        .map_err(|e| LauncherError::Internal(format!("creating the worktree: {e}")))?
        .map_err(|e| {
            LauncherError::Internal(format!("cannot create the department's worktree: {e}"))
        })?;
        Ok(made.map(|m| Made {
            workspace: m.workspace,
            files: m.checked_out,
            total: m.total,
        }))
    }

    /// The worktree of `from`, for the session that works on in it.
    fn handed_over(&self, from: &str) -> LResult<Made> {
        let ws = self
            .session(from)
            .and_then(|s| s.workspace().cloned())
            .ok_or_else(|| LauncherError::NotFound(format!("{from} has no worktree")))?;
        // In review on the forge: a failing check sends it back (issue 38).
        let in_review = ws.state == WorkspaceState::InReview;
        if ws.removed || !(ws.state.awaits_user() || in_review) {
            return Err(LauncherError::Conflict(format!(
                "the worktree of {from} is {}: it cannot be handed over",
                ws.state
            )));
        }
        Ok(Made {
            workspace: Workspace {
                state: WorkspaceState::Working,
                conflicts: Vec::new(),
                integrating: None,
                proposal: None,
                successor: None,
                predecessor: Some(from.to_string()),
                ..ws
            },
            files: 0,
            total: 0,
        })
    }

    /// In the change that records session `id`: its predecessor's worktree is
    /// handed over, or the new worktree is audited.
    pub(super) fn workspace_taken(&self, tx: &mut Tx, id: &str, made: &Made, spec: &StartSpec) {
        let ws = &made.workspace;
        match &spec.workspace_from {
            Some(from) => {
                if let Some(old) = tx.session_mut(from).and_then(|s| s.workspace_mut()) {
                    old.state = WorkspaceState::SentBack;
                    old.successor = Some(id.to_string());
                }
                super::queue_records::follow_send_back(tx, from, id, false);
                tx.audit(AuditEvent::SentBack {
                    session_id: from.clone(),
                    chars: spec.task.chars().count(),
                    successor: Some(id.to_string()),
                });
            }
            None => tx.audit(AuditEvent::WorktreeCreated {
                session_id: id.to_string(),
                path: ws.path.clone(),
                branch: ws.branch.clone(),
                base: ws.base.clone(),
                files: made.files,
                total: made.total,
            }),
        }
    }

    /// A start that failed before its record: a new worktree goes (nothing of
    /// the department's is in it); a handed-over one stays as it is.
    pub(super) fn drop_workspace(&self, id: &str, ws: Option<&Workspace>, spec: &StartSpec) {
        let Some(ws) = ws.filter(|_| spec.workspace_from.is_none()) else {
            return;
        };
        if let Err(e) = worktrees::create::undo(&self.ctx.repo, ws) {
            tracing::warn!("removing the unused worktree of {id}: {e}");
        }
    }

    /// A start that failed after its record: as [`Self::drop_workspace`],
    /// and a predecessor's worktree waits for the user again.
    pub(super) fn release_workspace(&self, id: &str) {
        let Some(ws) = self.session(id).and_then(|s| s.workspace().cloned()) else {
            return;
        };
        match &ws.predecessor {
            Some(from) => {
                let back = self.ctx.store.record(|tx| {
                    if let Some(old) = tx.session_mut(from).and_then(|s| s.workspace_mut()) {
                        old.state = WorkspaceState::Pending;
                        old.successor = None;
                    }
                    super::queue_records::follow_send_back(tx, from, id, true);
                });
                if let Err(e) = back {
                    tracing::error!("giving the worktree of {id} back to {from}: {e}");
                }
            }
            None if ws.commit.is_none() => {
                if let Err(e) = worktrees::create::undo(&self.ctx.repo, &ws) {
                    tracing::warn!("removing the unused worktree of {id}: {e}");
                }
                self.ctx.store.audit_or_log(AuditEvent::WorktreeRemoved {
                    session_id: id.to_string(),
                    path: ws.path.clone(),
                    reason: "start_failed".into(),
                });
            }
            None => {}
        }
    }
}
