//! A settled worktree tidied: its folder goes, and for integrated work its
//! branch too, each once and audited. An integration's Git job tidies as its
//! last step and its done change records it ([`super::saga`]); what could
//! not go then (a folder holding unrecorded files, a failed deletion) is
//! tried again whenever it is still there: after a discard, at each start.

use std::path::Path;

use super::off_runtime;
use crate::context::Context;
use crate::model::{AuditEvent, Workspace, WorkspaceState};
use crate::placement::Departure;
use crate::sessions::Sessions;
use crate::store::Tx;
use crate::worktrees::create::Teardown;
use crate::worktrees::{self, WorktreeError};

/// What a tidy did now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tidied {
    /// The folder went.
    pub removed: bool,
    /// The branch went (or was gone already).
    pub branch_deleted: bool,
    /// Its worktree on another machine went (issue 53).
    pub remote_removed: bool,
}

/// Removes the folder of settled worktree `ws` and, when its work is
/// `integrated`, its branch; what failed is logged and stays for later.
pub(super) fn tidy(
    repo: &Path,
    ws: &Workspace,
    integrated: bool,
    teardown: &Teardown,
    hosts: &Departure,
) -> Tidied {
    let removed = !ws.removed
        && match worktrees::create::remove(repo, ws, teardown) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("removing the worktree {}: {e}", ws.path);
                return Tidied::default();
            }
        };
    let branch_deleted = integrated
        && !ws.branch_deleted
        && delete_branch(repo, ws).unwrap_or_else(|e| {
            tracing::warn!("deleting the branch {}: {e}", ws.branch);
            false
        });
    // Its worktree on a host goes once this one did.
    let remote_removed = (removed || ws.removed) && hosts.leave(repo, ws);
    Tidied {
        removed,
        branch_deleted,
        remote_removed,
    }
}

/// Deletes integrated work's branch; true when it is gone (a Git job a crash
/// cut before its done change may have deleted it already).
fn delete_branch(repo: &Path, ws: &Workspace) -> Result<bool, WorktreeError> {
    let git = git2::Repository::open(repo)?;
    if git
        .find_branch(&ws.branch, git2::BranchType::Local)
        .is_err()
    {
        return Ok(true);
    }
    worktrees::list::delete_branch(repo, ws)
}

/// Keeps what a tidy did on the workspace.
pub(super) fn mark(w: &mut Workspace, t: &Tidied) {
    w.removed |= t.removed;
    w.branch_deleted |= t.branch_deleted;
    if let Some(r) = w.workplace.host_mut() {
        r.removed |= t.remote_removed;
    }
}

/// The audit lines of what a tidy did, `reason` saying why.
pub(super) fn audit(tx: &mut Tx, id: &str, ws: &Workspace, t: &Tidied, reason: &str) {
    if t.removed {
        tx.audit(AuditEvent::WorktreeRemoved {
            session_id: id.to_string(),
            path: ws.path.clone(),
            reason: reason.to_string(),
        });
    }
    if let Some(work) = ws.workplace.host().filter(|_| t.remote_removed) {
        tx.audit(AuditEvent::RemoteWorktreeRemoved {
            session_id: id.to_string(),
            host: work.host.clone(),
            remote_path: work.path.clone(),
        });
    }
    if t.branch_deleted {
        tx.audit(AuditEvent::BranchDeleted {
            session_id: id.to_string(),
            branch: ws.branch.clone(),
            commit: ws.commit.clone(),
            reason: reason.to_string(),
        });
    }
}

/// Tidies a settled worktree on its own (one Git job, one change): after
/// a discard, a closed pull request, or at start for what is left.
pub(super) async fn remove_folder(ctx: &Context, sessions: &Sessions, id: &str, reason: &str) {
    let Some(ws) = sessions.session(id).and_then(|s| s.workspace().cloned()) else {
        return;
    };
    if !ws.state.is_settled() {
        return;
    }
    // Integrated work is in the user's branch or tree (or its pull
    // request was merged or closed on the forge): its branch goes too.
    let integrated = matches!(
        ws.state,
        WorkspaceState::Applied
            | WorkspaceState::Merged
            | WorkspaceState::PrMerged
            | WorkspaceState::PrClosed
    );
    let tidied = {
        let (repo, ws) = (ctx.repo.clone(), ws.clone());
        let teardown = crate::config_trust::teardown_of(&ctx.config);
        let hosts = Departure::of(ctx);
        off_runtime(move || Ok(tidy(&repo, &ws, integrated, &teardown, &hosts))).await
    };
    let tidied = match tidied {
        Ok(t) if t != Tidied::default() => t,
        Ok(_) => return,
        Err(e) => {
            tracing::error!("tidying the worktree of {id}: {e}");
            return;
        }
    };
    let saved = ctx.store.update(|tx| {
        if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
            mark(w, &tidied);
        }
        audit(tx, id, &ws, &tidied, reason);
    });
    if let Err(e) = saved {
        tracing::error!("recording the removal of {}: {e}", ws.path);
    }
}
