//! A new worktree's index against the one `git worktree add` writes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::super::testing::{fresh_worktree, repo_with};

/// (path, mode, object id, flags) of each entry, and the cache tree as
/// (name, entries, sub-trees, id): the index without its stat data.
type Read = (
    Vec<(Vec<u8>, u32, Vec<u8>, u16)>,
    BTreeSet<(Vec<u8>, String, Vec<u8>)>,
);

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// Reads an index of version 2 or 3 (what either side writes here).
fn read(index: &Path) -> Read {
    let b = std::fs::read(index).unwrap();
    assert_eq!(&b[..4], b"DIRC");
    let mut at = 12;
    let mut entries = Vec::new();
    for _ in 0..be32(&b, 8) {
        let flags = u16::from_be_bytes([b[at + 60], b[at + 61]]);
        let name = at + 62 + if flags & 0x4000 != 0 { 2 } else { 0 };
        let len = b[name..].iter().position(|c| *c == 0).unwrap();
        entries.push((
            b[name..name + len].to_vec(),
            be32(&b, at + 24),
            b[at + 40..at + 60].to_vec(),
            flags,
        ));
        at += (name + len - at + 8) & !7;
    }
    let mut trees = BTreeSet::new();
    while at < b.len() - 20 {
        let size = be32(&b, at + 4) as usize;
        if &b[at..at + 4] == b"TREE" {
            let mut t = at + 8;
            while t < at + 8 + size {
                let nul = t + b[t..].iter().position(|c| *c == 0).unwrap();
                let nl = nul + b[nul..].iter().position(|c| *c == b'\n').unwrap();
                let counts = String::from_utf8(b[nul + 1..nl].to_vec()).unwrap();
                let valid = !counts.starts_with('-');
                let id = if valid {
                    b[nl + 1..nl + 21].to_vec()
                } else {
                    Vec::new()
                };
                trees.insert((b[t..nul].to_vec(), counts, id));
                t = nl + 1 + if valid { 20 } else { 0 };
            }
        }
        at += 8 + size;
    }
    (entries, trees)
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
fn the_index_and_its_cache_tree_are_the_ones_git_writes() {
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
    let (our_entries, our_trees) = read(&git_path_of_index(&ours));
    let (their_entries, their_trees) = read(&git_path_of_index(&theirs));
    assert_eq!(our_entries, their_entries);
    assert_eq!(our_trees.len(), 7, "the root and 6 folders: {our_trees:?}");
    assert_eq!(our_trees, their_trees);
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
        .entries
        .iter()
        .map(|e| (e.path.clone(), e.id, e.mode))
        .collect();
    assert_eq!(ours_entries, theirs);
    let counts: Vec<_> = ours
        .trees
        .iter()
        .map(|t| {
            (
                String::from_utf8(t.name.clone()).unwrap(),
                t.entries,
                t.subtrees,
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            (String::new(), 8, 2),
            ("a".into(), 2, 1),
            ("b".into(), 1, 1),
            ("c".into(), 1, 0),
            ("b".into(), 1, 0)
        ]
    );
}
