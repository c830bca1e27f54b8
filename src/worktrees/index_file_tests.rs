//! A new worktree's index against the one `git worktree add` writes.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::super::testing::{fresh_worktree, repo_with};

/// (path, mode, object id, flags) of each entry: the index without its
/// stat data.
type Read = Vec<(Vec<u8>, u32, Vec<u8>, u32)>;

fn read(index: &Path) -> Read {
    let bytes = std::fs::read(index).unwrap();
    let (state, _) = gix_index::State::from_bytes(
        &bytes,
        filetime::FileTime::zero(),
        gix_index::hash::Kind::Sha1,
        Default::default(),
    )
    .unwrap();
    state
        .entries()
        .iter()
        .map(|e| {
            let path = e.path(&state).to_vec();
            (
                path,
                e.mode.bits(),
                e.id.as_slice().to_vec(),
                e.flags.bits(),
            )
        })
        .collect()
}

fn git_path_of_index(worktree: &Path) -> PathBuf {
    let out = Command::new("git")
        .args(["rev-parse", "--path-format=absolute", "--git-path", "index"])
        .current_dir(worktree)
        .output()
        .unwrap();
    assert!(out.status.success());
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn the_index_is_the_one_git_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, _) = repo_with(
        dir.path(),
        &[
            ("a.txt", "a\n"),
            ("a-b/c.txt", "c\n"),
            ("a/b/c/d.txt", "d\n"),
            ("a/b/e.txt", "e\n"),
            ("a/f.txt", "f\n"),
            ("z/long-name-here/x.rs", "x\n"),
            ("z/y.rs", "y\n"),
        ],
    );
    let ours = PathBuf::from(fresh_worktree(&repo, "lingyubu-1").path);
    let theirs = dir.path().join("by-git");
    let added = Command::new("git")
        .args(["worktree", "add", "--detach"])
        .arg(&theirs)
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    let our_entries = read(&git_path_of_index(&ours));
    assert_eq!(our_entries.len(), 7);
    assert_eq!(our_entries, read(&git_path_of_index(&theirs)));
}

#[test]
fn a_tree_is_read_in_the_order_and_with_the_entries_libgit2_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, _) = repo_with(
        dir.path(),
        &[
            ("a.txt", "1"),
            ("a/x", "2"),
            ("a/b/c/d", "3"),
            ("a-b", "4"),
            ("a0", "5"),
            ("b/a.txt", "6"),
            ("b.txt", "7"),
            ("z", "8"),
        ],
    );
    let git = git2::Repository::open(&repo).unwrap();
    let tree = git.head().unwrap().peel_to_tree().unwrap();
    let ours = super::walk(&git, &tree).unwrap();
    let mut index = git2::Index::new().unwrap();
    index.read_tree(&tree).unwrap();
    let theirs: Vec<_> = index.iter().map(|e| (e.path, e.id, e.mode)).collect();
    let ours_entries: Vec<_> = ours
        .iter()
        .map(|e| (e.path.clone(), e.id, e.mode))
        .collect();
    assert_eq!(ours_entries, theirs);
}
