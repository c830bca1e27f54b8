//! `codex-governance worktrees --prune`: the folders of integrated and
//! discarded worktrees removed and their branches deleted once kept long
//! enough, each removal kept in the state and audited. Without a launcher
//! the command does it under the state folder's lock; while one runs, the
//! command asks it (`POST /api/worktrees/prune`), and it prunes under its own
//! lock of the working tree, so a prune never races an integration. The
//! launcher also prunes the branches at each start ([`prune_store`]).

use super::create::Teardown;
use std::path::Path;

use serde::Serialize;

use super::list;
use crate::model::AuditEvent;
use crate::store::Store;

/// Why `worktrees --prune` stopped, in one line.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
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

/// What one prune did, a line each.
#[derive(Debug, Default, Clone, Serialize, serde::Deserialize)]
pub struct Pruned {
    /// Folders removed.
    pub removed: Vec<String>,
    /// Branches deleted, each with why.
    pub deleted: Vec<String>,
    /// What was kept, each with why.
    pub kept: Vec<String>,
}

impl Pruned {
    /// The lines `worktrees --prune` prints.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .removed
            .iter()
            .map(|p| format!("removed {p}"))
            .collect();
        out.extend(
            self.deleted
                .iter()
                .map(|b| format!("deleted the branch {b}")),
        );
        out.extend(self.kept.iter().cloned());
        if out.is_empty() {
            out.push("no integrated worktree to prune".into());
        }
        out
    }
}

/// `worktrees --prune` without a launcher: under the state folder's lock.
/// [`crate::instance::InstanceError::AlreadyRunning`] when a launcher runs
/// (the caller then asks it).
pub fn prune(
    root: &Path,
    dir: &Path,
    keep_days: u32,
    teardown: &Teardown,
) -> Result<Pruned, PruneError> {
    let _lock = crate::instance::lock(dir).map_err(PruneError::Instance)?;
    let store = Store::open(dir).map_err(|e| PruneError::State {
        dir: dir.display().to_string(),
        reason: format!("{e:#}"),
    })?;
    prune_store(root, &store, keep_days, "pruned", teardown)
}

/// Removes the folders of settled worktrees and deletes the branches whose
/// time is up ([`list::prunable_branches`]), each recorded and audited with
/// `reason`; then the temporary folders' folder when it is empty. The caller
/// holds what keeps integrations out (the state folder's lock, or the
/// launcher's lock of the working tree).
pub fn prune_store(
    root: &Path,
    store: &Store,
    keep_days: u32,
    reason: &str,
    teardown: &Teardown,
) -> Result<Pruned, PruneError> {
    let mut done = Pruned::default();
    for (id, ws) in store.read(list::prunable) {
        if let Err(e) = list::prune(root, &ws, teardown) {
            done.kept.push(format!("kept {}: {e}", ws.path));
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
                    reason: reason.into(),
                });
            })
            .map_err(|source| PruneError::Record {
                what: "removal",
                name: ws.path.clone(),
                source: Box::new(source),
            })?;
        done.removed.push(ws.path.clone());
    }
    let branches = store.read(|s| list::prunable_branches(s, keep_days, chrono::Utc::now()));
    for (id, ws, why) in branches {
        match list::delete_branch(root, &ws) {
            Ok(true) => {}
            Ok(false) => {
                done.kept.push(format!(
                    "kept {} ({id}): gone, checked out, or moved on since it was recorded",
                    ws.branch
                ));
                continue;
            }
            Err(e) => {
                done.kept.push(format!("kept {} ({id}): {e}", ws.branch));
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
                    reason: format!("{reason}: {why}"),
                });
            })
            .map_err(|source| PruneError::Record {
                what: "deletion",
                name: ws.branch.clone(),
                source: Box::new(source),
            })?;
        done.deleted.push(format!("{} ({why})", ws.branch));
    }
    super::remove_empty_temp_root(root);
    Ok(done)
}
