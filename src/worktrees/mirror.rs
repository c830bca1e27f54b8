//! A department that works on another machine (issue 53) keeps a worktree
//! here too, which no agent touches: each time its work is fetched back,
//! the fetched commit's files are written into it, and from there the
//! record, the review, Apply, Merge and Undo run as for any department.
//! libgit2 writes them (no hook, no external filter) and refuses paths
//! that would leave the folder (`..`, `.git`).

use std::path::Path;

use git2::{build::CheckoutBuilder, Oid};

use super::{open_worktree, WorktreeError};
use crate::model::Workspace;

/// Writes `commit`'s files into the worktree of `ws`: changed files
/// replaced, files it does not have removed (ignored ones stay: files the
/// user copied in). The branch does not move: the record that follows
/// commits what changed, as the department's.
pub fn write_commit(repo: &Path, ws: &Workspace, commit: &str) -> Result<(), WorktreeError> {
    let git = open_worktree(repo, ws)?;
    let oid = Oid::from_str(commit)?;
    let tree = git.find_commit(oid)?.tree()?;
    let mut how = CheckoutBuilder::new();
    how.force().remove_untracked(true).remove_ignored(false);
    super::while_index_locked(|| git.checkout_tree(tree.as_object(), Some(&mut how)))?;
    Ok(())
}
