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
    let file = IndexFile::read(&repo).unwrap()?;
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

/// What the report lists for the working tree of the repository at `dir`.
fn report_of(dir: &Path) -> Result<Vec<String>, crate::report::ReportError> {
    let repo = Repository::open(dir).unwrap();
    crate::report::changes::changed_paths(&repo, &crate::report::Mode::Worktree)
}

#[test]
fn an_index_planted_as_a_fifo_or_a_link_is_refused_never_read() {
    let dir = tempfile::tempdir().unwrap();
    repo_with_files(dir.path());
    let index = dir.path().join(".git/index");
    let real = dir.path().join("real-index");
    std::fs::rename(&index, &real).unwrap();
    // A link to the real index: libgit2 would follow it.
    std::os::unix::fs::symlink(&real, &index).unwrap();
    let e = report_of(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("is not read") && e.contains("symbolic link"),
        "{e}"
    );
    // A FIFO: opening it to read would wait for a writer forever.
    std::fs::remove_file(&index).unwrap();
    crate::files::make_fifo(&index);
    let e = report_of(dir.path()).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
}

#[test]
fn a_path_longer_than_a_systems_is_left_to_libgit2() {
    let dir = tempfile::tempdir().unwrap();
    repo_with_files(dir.path());
    let bytes = std::fs::read(dir.path().join(".git/index")).unwrap();
    assert!(parse(&bytes).is_some());
    // The same index with one entry's path made 5,000 bytes long ("a/a/…"),
    // its length field saturated as Git writes it.
    let at = bytes.windows(6).position(|w| w == b"a.txt\0").unwrap();
    let start = at - 62;
    let long: Vec<u8> = b"a/".repeat(2499).into_iter().chain(*b"ab").collect();
    let mut entry = bytes[start..start + 60].to_vec();
    entry.extend_from_slice(&0x0fffu16.to_be_bytes());
    entry.extend_from_slice(&long);
    let padded = (entry.len() + 8) & !7;
    entry.resize(padded, 0);
    let end_of_entry = start + ((62 + 5 + 8) & !7);
    let mut crafted = bytes[..start].to_vec();
    crafted.extend_from_slice(&entry);
    crafted.extend_from_slice(&bytes[end_of_entry..]);
    assert!(parse(&crafted).is_none());
}

#[test]
fn a_length_field_that_disagrees_with_the_paths_end_or_an_odd_mode_is_not_read_differently() {
    let dir = tempfile::tempdir().unwrap();
    repo_with_files(dir.path());
    let bytes = std::fs::read(dir.path().join(".git/index")).unwrap();
    let at = bytes.windows(6).position(|w| w == b"a.txt\0").unwrap();
    // "a.txt" with a length field of 1: libgit2 reads up to the NUL, so a
    // reader that trusted the field would see another path ("a").
    let mut short = bytes.clone();
    short[at - 2..at].copy_from_slice(&1u16.to_be_bytes());
    assert!(parse(&short).is_none());
    // Mode 100664 is kept as written (libgit2 reports such a file modified),
    // not folded into 100644.
    let mut odd = bytes.clone();
    odd[at - 62 + 24..at - 62 + 28].copy_from_slice(&0o100664u32.to_be_bytes());
    let entries = parse(&odd).unwrap();
    let a = entries.iter().find(|e| &e.path[..] == b"a.txt").unwrap();
    assert_eq!(a.mode, 0o100664);
}

#[test]
fn an_index_larger_than_the_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    repo_with_files(dir.path());
    // A sparse file: its length is claimed, nothing is written.
    let index = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join(".git/index"))
        .unwrap();
    index.set_len(MAX_INDEX_BYTES + 1).unwrap();
    let e = report_of(dir.path()).unwrap_err().to_string();
    assert!(e.contains("larger than 1 GiB"), "{e}");
}
