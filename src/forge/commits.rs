//! The commits a pull request carries, made in the user's repository (objects
//! only: no branch of the user's moves, the working tree is not touched).
//! Each is one department attempt, squashed as Merge squashes: in the user's
//! name, its message the department's summary with the governance trailers.

use std::path::Path;

use git2::{Oid, Repository};

use crate::worktrees::integrate::user_signature;
use crate::worktrees::{StateFence, WorktreeError};

/// A commit on `parent` holding the department's changes from `since` (its
/// base, or the commit of it last pushed) to `work`, merged onto `parent`'s
/// tree. Refused, naming the files, when they conflict there.
/// `what` names the work in a refusal: work that carries the state folder,
/// a `.git` component or a submodule is refused before anything is made.
pub fn stack(
    repo: &Path,
    fence: &StateFence,
    what: &str,
    parent: &str,
    since: &str,
    work: &str,
    message: &str,
) -> Result<String, WorktreeError> {
    let git = Repository::open(repo)?;
    fence.check_carried(&git, what, since, work)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A commit of `git` on `parent` adding `files` (path, mode, blob id).
    fn commit(git: &Repository, parent: Oid, files: &[(&str, u32, Oid)]) -> Oid {
        let parent = git.find_commit(parent).unwrap();
        let mut index = git2::Index::new().unwrap();
        index.read_tree(&parent.tree().unwrap()).unwrap();
        for (path, mode, id) in files {
            index
                .add(&git2::IndexEntry {
                    ctime: git2::IndexTime::new(0, 0),
                    mtime: git2::IndexTime::new(0, 0),
                    dev: 0,
                    ino: 0,
                    mode: *mode,
                    uid: 0,
                    gid: 0,
                    file_size: 0,
                    id: *id,
                    flags: 0,
                    flags_extended: 0,
                    path: path.as_bytes().to_vec(),
                })
                .unwrap();
        }
        let tree = git.find_tree(index.write_tree_to(git).unwrap()).unwrap();
        let me = git2::Signature::now("t", "t@t").unwrap();
        git.commit(None, &me, &me, "c", &tree, &[&parent]).unwrap()
    }

    /// Every pull request commit, the update after a send-back included, is
    /// stacked here: work carrying the state folder or a submodule (libgit2
    /// makes no tree with a `.git` name: `policy::carried` tests those) is refused before a commit is made (issue 48 item 1).
    #[test]
    fn work_carrying_the_state_folder_or_a_submodule_is_never_stacked() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let git = Repository::init(&repo).unwrap();
        let mut cfg = git.config().unwrap();
        cfg.set_str("user.name", "u").unwrap();
        cfg.set_str("user.email", "u@u").unwrap();
        std::fs::create_dir_all(repo.join(".tmp")).unwrap();
        let fence = StateFence::new(&repo, &repo.join(".tmp"));
        let tree = git
            .find_tree(git.treebuilder(None).unwrap().write().unwrap())
            .unwrap();
        let me = git2::Signature::now("t", "t@t").unwrap();
        let base = git.commit(None, &me, &me, "base", &tree, &[]).unwrap();
        let blob = git.blob(b"x").unwrap();
        let base_s = base.to_string();
        let fine = commit(&git, base, &[("tools/x.sh", 0o100755, blob)]);
        let made = stack(&repo, &fence, "w", &base_s, &base_s, &fine.to_string(), "m");
        assert!(made.is_ok(), "{made:?}");
        for (path, mode, id) in [
            (".tmp/codex_governance.db-journal", 0o100644, blob),
            (".TMP/codex_governance_mailbox/z/f.json", 0o100644, blob),
            ("vendor/lib", 0o160000, base),
        ] {
            let work = commit(
                &git,
                base,
                &[("tools/x.sh", 0o100755, blob), (path, mode, id)],
            );
            let e = stack(
                &repo,
                &fence,
                "the work on d",
                &base_s,
                &base_s,
                &work.to_string(),
                "m",
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("the work on d carries") && e.contains(path),
                "{e}"
            );
            assert!(!e.contains("tools/x.sh"), "{e}");
        }
    }
}
