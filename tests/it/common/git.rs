//! Commits in the tests' temporary repositories, made with libgit2 as `src`
//! makes them (the tests never need the git CLI). One author at one fixed
//! time, so a test's commit ids are the same from run to run.
//!
//! The launcher harness (`common/launcher.rs`) carries it as `launcher::git`
//! (the benches include that harness alone).
#![allow(dead_code)]

use std::path::Path;

use git2::{IndexAddOption, Repository, Signature, Time};

/// The author and committer of every test commit.
pub fn signature() -> Signature<'static> {
    Signature::new("Test", "test@example.com", &Time::new(1_700_000_000, 0))
        .expect("a test signature")
}

/// Commits the index of `git` as it stands on top of HEAD (the first commit
/// when there is none); returns the new commit's id.
pub fn commit_index(git: &Repository, message: &str) -> String {
    let mut index = git.index().expect("the index");
    let tree = git
        .find_tree(index.write_tree().expect("a tree from the index"))
        .expect("the tree");
    let parent = git.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let sig = signature();
    git.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .expect("a commit")
        .to_string()
}

/// Adds `paths` (relative to the repository at `root`) to its index and
/// commits them; returns the commit id.
pub fn commit_paths(root: &Path, paths: &[&str], message: &str) -> String {
    let git = Repository::open(root).expect("a repository");
    let mut index = git.index().expect("the index");
    for p in paths {
        index
            .add_path(Path::new(p))
            .unwrap_or_else(|e| panic!("git add {p}: {e}"));
    }
    index.write().expect("the index written");
    commit_index(&git, message)
}

/// Commits every file of the working tree at `root`; returns the commit id.
pub fn commit_all(root: &Path, message: &str) -> String {
    let git = Repository::open(root).expect("a repository");
    let mut index = git.index().expect("the index");
    index
        .add_all(["*"], IndexAddOption::DEFAULT, None)
        .expect("git add -A");
    index.write().expect("the index written");
    commit_index(&git, message)
}
