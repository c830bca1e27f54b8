//! The launcher's state folder, fenced off from the departments' work.
//!
//! A department's worktree is a full working tree: nothing stops its agent
//! from writing `.tmp/codex_governance_mailbox/…` or
//! `.tmp/codex_governance.db-journal` there. Brought back by Apply or Merge,
//! such a file would land in the launcher's own state folder (a forged
//! report, a hot journal that wrecks the database). So the state folder's
//! path inside the working tree is never recorded as a department's change,
//! and no integration creates, replaces or removes anything that is, or
//! resolves into, the state folder: checked on the path as written (case
//! folded, for case-insensitive file systems) and on the path every existing
//! component resolves to (links followed).

use std::path::{Component, Path, PathBuf};

use git2::{Oid, Repository};

use super::WorktreeError;
use crate::policy::carried::{carried_safely, CarriedPath};

/// Where the state folder is, seen from a working tree.
#[derive(Debug, Clone, Default)]
pub struct StateFence {
    /// Its paths relative to the repository root (as given, and resolved),
    /// case folded, `/`-separated; empty when it lies outside the tree.
    relative: Vec<String>,
    /// Its resolved absolute path, case folded.
    resolved: Option<String>,
}

impl StateFence {
    /// The fence of the state folder `state_dir` of the repository `repo`.
    pub fn new(repo: &Path, state_dir: &Path) -> StateFence {
        let mut relative = Vec::new();
        let state_abs = absolute(state_dir);
        let repo_abs = absolute(repo);
        let repo_real = repo.canonicalize().unwrap_or_else(|_| repo_abs.clone());
        let state_real = state_dir.canonicalize().ok();
        for (root, state) in [
            (&repo_abs, Some(&state_abs)),
            (&repo_real, Some(&state_abs)),
            (&repo_real, state_real.as_ref()),
        ] {
            let Some(state) = state else { continue };
            if let Ok(rest) = state.strip_prefix(root) {
                let rest = slashed(rest);
                if !rest.is_empty() && !relative.contains(&rest) {
                    relative.push(rest);
                }
            }
        }
        StateFence {
            relative,
            resolved: state_real.as_deref().map(folded),
        }
    }

    /// Whether the repository path `path` is the state folder or lies in it.
    pub fn names(&self, path: &str) -> bool {
        let path = path.replace('\\', "/").to_lowercase();
        let path = path.trim_start_matches("./");
        self.relative.iter().any(|r| within(path, r))
    }

    /// Whether writing the repository path `path` under `root` would create,
    /// replace or remove something in the state folder, following whatever
    /// links its existing components are.
    pub fn reached_from(&self, root: &Path, path: &str) -> bool {
        if self.names(path) {
            return true;
        }
        let Some(state) = &self.resolved else {
            return false;
        };
        // The deepest existing folder on the way, resolved, plus the rest.
        crate::files::landing(&root.join(path)).is_some_and(|at| within(&folded(&at.path), state))
    }

    /// Refuses, before anything is written or pushed, work from `since` to
    /// `work` (commits of `git`) that carries the state folder, a `.git`
    /// component or a submodule (`policy::carried`): every way in asks here.
    pub fn check_carried(
        &self,
        git: &Repository,
        what: &str,
        since: &str,
        work: &str,
    ) -> Result<(), WorktreeError> {
        let tree = |id: &str| -> Result<git2::Tree<'_>, WorktreeError> {
            Ok(git.find_commit(Oid::from_str(id)?)?.tree()?)
        };
        let diff = git.diff_tree_to_tree(Some(&tree(since)?), Some(&tree(work)?), None)?;
        let paths: Vec<CarriedPath> = diff
            .deltas()
            .map(|d| CarriedPath {
                path: d
                    .new_file()
                    .path()
                    .or_else(|| d.old_file().path())
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                before_mode: u32::from(d.old_file().mode()),
                after_mode: u32::from(d.new_file().mode()),
            })
            .collect();
        carried_safely(what, &paths, &|p| self.names(p))
            .map_err(|refusal| WorktreeError::Refused(refusal.to_string()))
    }

    /// The state folder's path inside the working tree, for messages.
    pub fn shown(&self) -> &str {
        self.relative.first().map(String::as_str).unwrap_or("")
    }
}

/// `path` equals `folder` or lies in it (both `/`-separated, case folded).
fn within(path: &str, folder: &str) -> bool {
    path == folder
        || path
            .strip_prefix(folder)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// A relative path's normal components joined with `/`, case folded.
fn slashed(rest: &Path) -> String {
    rest.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().to_lowercase()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// An absolute path as a `/`-separated, case-folded string.
fn folded(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_state_folder_is_named_in_any_case_and_with_its_journal() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join(".tmp")).unwrap();
        let fence = StateFence::new(&repo, &repo.join(".tmp"));
        assert!(fence.names(".tmp"));
        assert!(fence.names(".tmp/codex_governance.db-journal"));
        assert!(fence.names(".TMP/codex_governance_mailbox/z/incoming/d/f.json"));
        assert!(fence.names("./.tmp/x"));
        assert!(!fence.names(".tmpfile"));
        assert!(!fence.names("src/.tmp/x"));
        assert_eq!(fence.shown(), ".tmp");
    }

    #[test]
    fn a_path_resolving_into_the_state_folder_through_a_link_is_reached() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let state = repo.join("var/state");
        std::fs::create_dir_all(&state).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(repo.join("var"), repo.join("v")).unwrap();
        let fence = StateFence::new(&repo, &state);
        assert!(fence.names("var/state/db"));
        assert!(fence.reached_from(&repo, "var/state/new/deep/file"));
        #[cfg(unix)]
        assert!(fence.reached_from(&repo, "v/state/db-wal"));
        assert!(!fence.reached_from(&repo, "var/other"));
    }

    #[test]
    fn a_state_folder_outside_the_tree_names_no_repository_path() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let state = dir.path().join("state");
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::create_dir_all(&state).unwrap();
        let fence = StateFence::new(&repo, &state);
        assert!(!fence.names(".tmp/x"));
        assert!(!fence.reached_from(&repo, "a/b"));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&state, repo.join("s")).unwrap();
            assert!(fence.reached_from(&repo, "s/codex_governance.db-shm"));
        }
    }
}
