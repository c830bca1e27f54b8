//! Indexes written by the git CLI, read here and by libgit2.

use std::path::Path;
use std::process::Command;

use super::*;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

/// libgit2's entries of the repository at `dir`, read afresh.
fn libgit2s(dir: &Path) -> Vec<Entry<'static>> {
    let repo = Repository::open(dir).unwrap();
    let index = repo.index().unwrap();
    index.iter().map(Entry::from).collect()
}

fn ours(dir: &Path) -> Option<Vec<Entry<'static>>> {
    let repo = Repository::open(dir).unwrap();
    let file = IndexFile::read(&repo)?;
    let entries = file.entries()?;
    Some(
        entries
            .into_iter()
            .map(|e| Entry {
                path: Cow::Owned(e.path.into_owned()),
                ..e
            })
            .collect(),
    )
}

fn repo_with_files(dir: &Path) {
    git(dir, &["init", "-q"]);
    let long = format!("deep/{}/file.txt", "a".repeat(200));
    for path in ["a.txt", "a/b/c.txt", "a-b", "a0/x", "sp ace/é.md", &long] {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, path).unwrap();
    }
    std::os::unix::fs::symlink("a.txt", dir.join("link")).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "files"]);
}

#[test]
fn every_index_version_reads_as_libgit2_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    repo_with_files(root);
    for version in ["2", "3", "4"] {
        git(root, &["update-index", "--index-version", version]);
        let read = ours(root).expect("read");
        assert_eq!(read.len(), 7);
        assert_eq!(read, libgit2s(root), "version {version}");
    }
    // Extended flags: skip-worktree, intent-to-add.
    std::fs::write(root.join("new.txt"), "n").unwrap();
    git(root, &["add", "-N", "new.txt"]);
    git(root, &["update-index", "--skip-worktree", "a.txt"]);
    for version in ["3", "4"] {
        git(root, &["update-index", "--index-version", version]);
        let read = ours(root).expect("read");
        assert!(read.iter().any(|e| e.flags_extended != 0));
        assert_eq!(read, libgit2s(root), "version {version}");
    }
}

#[test]
fn a_split_index_is_left_to_libgit2() {
    let dir = tempfile::tempdir().unwrap();
    repo_with_files(dir.path());
    git(dir.path(), &["update-index", "--split-index"]);
    assert_eq!(ours(dir.path()), None);
}

/// How many entries `bytes` decode to, in Git's order.
fn parse(bytes: &[u8]) -> Option<usize> {
    decode(bytes)?.entries().map(|e| e.len())
}

#[test]
fn a_cut_or_damaged_index_is_refused_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    repo_with_files(dir.path());
    let bytes = std::fs::read(dir.path().join(".git/index")).unwrap();
    assert!(parse(&bytes).is_some());
    for end in 0..bytes.len() {
        // Cut in the entries, nothing reads whole; anywhere, no panic.
        let read = parse(&bytes[..end]);
        assert!(end > bytes.len() / 2 || read.is_none(), "cut at {end}");
    }
    // Every byte changed in turn: an answer or a refusal, never a panic.
    for at in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0xa5;
        let _ = parse(&damaged);
    }
    // Out of order: "a.txt" made "A.txt", which sorts before "a-b".
    let at = bytes.windows(6).position(|w| w == b"a.txt\0").unwrap();
    let mut unsorted = bytes.clone();
    unsorted[at] = b'A';
    assert!(parse(&unsorted).is_none());
}
