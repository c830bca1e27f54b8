//! `codex-governance worktrees --prune`, by hand: the folders of integrated
//! and discarded worktrees removed and their branches deleted once kept long
//! enough, each removal kept in the state and audited. A running launcher
//! does this itself at each start, so pruning by hand waits for it to stop.

use std::path::Path;

use super::list;
use crate::model::AuditEvent;

/// `worktrees --prune`: removes the folders of integrated and discarded
/// worktrees, each removal kept in the state and audited. Refused while a
/// launcher runs on the state folder (it removes them itself at each start).
/// Why `worktrees --prune` stopped, in one line.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error(
        "a launcher runs on {0}: it removes integrated worktrees itself at each start; \
         stop it to prune by hand"
    )]
    LauncherRuns(String),
    #[error(transparent)]
    Instance(crate::instance::InstanceError),
    #[error("{dir}: {reason}")]
    State { dir: String, reason: String },
    #[error("recording the {what} of {name}: {source}")]
    Record {
        what: &'static str,
        name: String,
        source: Box<crate::store::StoreError>,
    },
}

pub fn prune(root: &Path, dir: &Path, keep_days: u32) -> Result<(), PruneError> {
    let _lock = crate::instance::lock(dir).map_err(|e| match e {
        crate::instance::InstanceError::AlreadyRunning { .. } => {
            PruneError::LauncherRuns(dir.display().to_string())
        }
        other => PruneError::Instance(other),
    })?;
    let store = crate::store::Store::open(dir).map_err(|e| PruneError::State {
        dir: dir.display().to_string(),
        reason: format!("{e:#}"),
    })?;
    let prunable = store.read(list::prunable);
    if prunable.is_empty() {
        eprintln!("codex-governance: no integrated worktree to prune");
    }
    for (id, ws) in prunable {
        if let Err(e) = list::prune(root, &ws) {
            eprintln!("codex-governance: {e}");
            continue;
        }
        store
            .update(|tx| {
                if let Some(w) = tx.session_mut(&id).and_then(|s| s.workspace_mut()) {
                    w.removed = true;
                }
                tx.audit(AuditEvent::WorktreeRemoved {
                    session_id: id.clone(),
                    path: ws.path.clone(),
                    reason: "pruned".into(),
                });
            })
            .map_err(|source| PruneError::Record {
                what: "removal",
                name: ws.path.clone(),
                source: Box::new(source),
            })?;
        eprintln!("codex-governance: removed {}", ws.path);
    }
    let branches = store.read(|s| list::prunable_branches(s, keep_days, chrono::Utc::now()));
    for (id, ws, why) in branches {
        match list::delete_branch(root, &ws) {
            Ok(true) => {}
            Ok(false) => {
                eprintln!(
                    "codex-governance: kept {} ({id}): gone, checked out, or moved on since it was recorded",
                    ws.branch
                );
                continue;
            }
            Err(e) => {
                eprintln!("codex-governance: {}: {e}", ws.branch);
                continue;
            }
        }
        store
            .update(|tx| {
                if let Some(w) = tx.session_mut(&id).and_then(|s| s.workspace_mut()) {
                    w.branch_deleted = true;
                }
                tx.audit(AuditEvent::BranchDeleted {
                    session_id: id.clone(),
                    branch: ws.branch.clone(),
                    commit: ws.commit.clone(),
                    reason: format!("pruned: {why}"),
                });
            })
            .map_err(|source| PruneError::Record {
                what: "deletion",
                name: ws.branch.clone(),
                source: Box::new(source),
            })?;
        eprintln!("codex-governance: deleted the branch {} ({why})", ws.branch);
    }
    Ok(())
}
