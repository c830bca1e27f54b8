//! The commits a pull request carries, made in the user's repository (objects
//! only: no branch of the user's moves, the working tree is not touched).
//! Each is one department attempt, squashed as Merge squashes: in the user's
//! name, its message the department's summary with the governance trailers.

use std::path::Path;

use git2::{Oid, Repository};

use crate::worktrees::integrate::user_signature;
use crate::worktrees::WorktreeError;

/// A commit on `parent` holding the department's changes from `since` (its
/// base, or the commit of it last pushed) to `work`, merged onto `parent`'s
/// tree. Refused, naming the files, when they conflict there.
pub fn stack(
    repo: &Path,
    parent: &str,
    since: &str,
    work: &str,
    message: &str,
) -> Result<String, WorktreeError> {
    let git = Repository::open(repo)?;
    let me = user_signature(&git)?;
    let parent = git.find_commit(Oid::from_str(parent)?)?;
    let since = git.find_commit(Oid::from_str(since)?)?.tree()?;
    let work = git.find_commit(Oid::from_str(work)?)?.tree()?;
    let mut merged = git.merge_trees(&since, &parent.tree()?, &work, None)?;
    if merged.has_conflicts() {
        let mut files: Vec<String> = merged
            .conflicts()?
            .filter_map(|c| c.ok())
            .filter_map(|c| c.our.or(c.their).or(c.ancestor))
            .map(|e| String::from_utf8_lossy(&e.path).into_owned())
            .collect();
        files.sort();
        files.dedup();
        return Err(WorktreeError::Refused(format!(
            "the work conflicts with what the pull request already holds in {}",
            files.join(", ")
        )));
    }
    let tree = git.find_tree(merged.write_tree_to(&git)?)?;
    let id = crate::worktrees::signing::commit_as_user(&git, &me, message, &tree, &[&parent])?;
    Ok(id.to_string())
}

/// The branch HEAD is on, by its short name; None when HEAD is detached.
pub fn current_branch(repo: &Path) -> Result<Option<String>, WorktreeError> {
    let git = Repository::open(repo)?;
    let head = match git.head() {
        Ok(h) => h,
        Err(_) => return Ok(None),
    };
    Ok(head
        .is_branch()
        .then(|| head.shorthand().map(str::to_string))
        .flatten())
}
