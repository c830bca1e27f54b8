//! Diffs in real repositories made with git2 in temporary folders.

use std::path::Path;

use git2::{IndexAddOption, Repository, Signature};

use super::*;

fn commit_all(repo: &Repository, message: &str) -> git2::Oid {
    let mut index = repo.index().unwrap();
    index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
    index.update_all(["*"], None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = Signature::now("t", "t@example.invalid").unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .unwrap()
}

fn write(root: &Path, path: &str, bytes: impl AsRef<[u8]>) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// A repository with one commit (a.txt, same.txt, gone.txt, old.bin), then
/// a.txt modified, gone.txt deleted, staged.txt added to the index, and
/// untracked files: new/b.rs, blob.bin, huge.txt.
fn worked_on() -> (tempfile::TempDir, Repository) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let repo = Repository::init(root).unwrap();
    write(root, "a.txt", "one\ntwo\nthree\n");
    write(root, "same.txt", "same\n");
    write(root, "gone.txt", "bye\nfor now\n");
    write(root, "old.bin", [0u8, 1, 2, 3]);
    commit_all(&repo, "first");
    write(root, "a.txt", "one\nTWO\nthree\nfour\n");
    std::fs::remove_file(root.join("gone.txt")).unwrap();
    write(root, "old.bin", [0u8, 9, 9, 9, 0]);
    write(root, "staged.txt", "in the index\n");
    let mut index = repo.index().unwrap();
    index.add_path(Path::new("staged.txt")).unwrap();
    index.write().unwrap();
    write(root, "new/b.rs", "fn b() {}\nfn c() {}\n");
    write(root, "blob.bin", [0u8, 1, 2, 0, 255, 0]);
    let huge: String = (0..3000).map(|i| format!("line {i}\n")).collect();
    write(root, "huge.txt", huge);
    (dir, repo)
}

fn not_found(root: &Path, path: &str, base: Option<&str>) -> String {
    match file_diff(root, path, base) {
        Err(LauncherError::NotFound(m)) => m,
        other => panic!("{path:?}: {other:?}"),
    }
}

fn bad_request(root: &Path, path: &str, base: Option<&str>) -> String {
    match file_diff(root, path, base) {
        Err(LauncherError::BadRequest(m)) => m,
        other => panic!("{path:?} against {base:?}: {other:?}"),
    }
}

#[test]
fn a_modified_file_with_line_numbers() {
    let (dir, _repo) = worked_on();
    let a = file_diff(dir.path(), "a.txt", None).unwrap();
    assert_eq!(
        (a.path.as_str(), a.base.as_str(), a.status),
        ("a.txt", "HEAD", "modified")
    );
    assert_eq!(
        (a.added, a.removed, a.binary, a.truncated),
        (2, 1, false, false)
    );
    assert_eq!(a.hunks.len(), 1);
    assert_eq!(a.hunks[0].header, "@@ -1,3 +1,4 @@");
    let rows: Vec<(&str, Option<u32>, Option<u32>, &str)> = a.hunks[0]
        .lines
        .iter()
        .map(|l| (l.kind, l.old_line, l.new_line, l.text.as_str()))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("ctx", Some(1), Some(1), "one"),
            ("del", Some(2), None, "two"),
            ("add", None, Some(2), "TWO"),
            ("ctx", Some(3), Some(3), "three"),
            ("add", None, Some(4), "four"),
        ]
    );
}

#[test]
fn untracked_added_and_deleted_files() {
    let (dir, _repo) = worked_on();
    let b = file_diff(dir.path(), "new/b.rs", None).unwrap();
    assert_eq!((b.status, b.added, b.removed), ("untracked", 2, 0));
    let lines: Vec<(&str, Option<u32>, Option<u32>, &str)> = b.hunks[0]
        .lines
        .iter()
        .map(|l| (l.kind, l.old_line, l.new_line, l.text.as_str()))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("add", None, Some(1), "fn b() {}"),
            ("add", None, Some(2), "fn c() {}"),
        ]
    );
    let s = file_diff(dir.path(), "staged.txt", None).unwrap();
    assert_eq!((s.status, s.added), ("added", 1));
    assert_eq!(s.hunks[0].lines[0].text, "in the index");
    let g = file_diff(dir.path(), "gone.txt", None).unwrap();
    assert_eq!((g.status, g.added, g.removed), ("deleted", 0, 2));
    assert!(g.hunks[0]
        .lines
        .iter()
        .all(|l| l.kind == "del" && l.new_line.is_none()));
}

#[test]
fn binary_files_are_named_without_hunks() {
    let (dir, _repo) = worked_on();
    for (path, status) in [("blob.bin", "untracked"), ("old.bin", "modified")] {
        let bin = file_diff(dir.path(), path, None).unwrap();
        assert_eq!(bin.status, status, "{path}");
        assert!(bin.binary, "{path}: {bin:?}");
        assert!(bin.hunks.is_empty(), "{path}: {bin:?}");
        assert_eq!((bin.added, bin.removed), (0, 0), "{path}");
    }
}

#[test]
fn a_huge_diff_is_cut_but_counted_in_full() {
    let (dir, _repo) = worked_on();
    let h = file_diff(dir.path(), "huge.txt", None).unwrap();
    assert!(h.truncated);
    assert_eq!(h.added, 3000, "counted in full");
    let shown: Vec<&Line> = h.hunks.iter().flat_map(|x| &x.lines).collect();
    assert_eq!(shown.len(), MAX_LINES);
    let last = shown.last().unwrap();
    assert_eq!(
        (last.text.as_str(), last.new_line),
        ("line 1999", Some(2000))
    );
}

#[test]
fn unchanged_files_and_folders_have_no_diff() {
    let (dir, _repo) = worked_on();
    let root = dir.path();
    assert_eq!(
        not_found(root, "same.txt", None),
        "same.txt has no change against HEAD"
    );
    // A folder holding a change is not a file: its files are asked for one by one.
    assert!(not_found(root, "new", None).starts_with("new has no change"));
    // The path is literal, not a pattern.
    assert!(not_found(root, "*.txt", None).starts_with("*.txt has no change"));
    assert!(not_found(root, "absent.txt", None).starts_with("absent.txt has no change"));
}

#[test]
fn against_a_base_revision() {
    let (dir, repo) = worked_on();
    let root = dir.path();
    let first = commit_all(&repo, "second");
    let first = repo
        .find_commit(first)
        .unwrap()
        .parent_id(0)
        .unwrap()
        .to_string();
    let a = file_diff(root, "a.txt", Some(&first)).unwrap();
    assert_eq!(
        (a.base.as_str(), a.added, a.removed),
        (first.as_str(), 2, 1)
    );
    let b = file_diff(root, "new/b.rs", Some("HEAD~1")).unwrap();
    assert_eq!(b.status, "added", "committed since the base");
    assert!(
        not_found(root, "a.txt", None).ends_with("against HEAD"),
        "clean at HEAD"
    );
    assert!(bad_request(root, "a.txt", Some("--output=/tmp/x")).contains("looks like an option"));
    assert!(bad_request(root, "a.txt", Some("no-such-ref")).contains("not a known revision"));
}

#[test]
fn a_repository_without_commits_shows_everything_as_untracked() {
    let dir = tempfile::tempdir().unwrap();
    Repository::init(dir.path()).unwrap();
    write(dir.path(), "first.txt", "hello\n");
    let d = file_diff(dir.path(), "first.txt", None).unwrap();
    assert_eq!((d.status, d.added), ("untracked", 1));
}

#[test]
#[cfg_attr(
    windows,
    ignore = "Wine makes no symbolic links (its CreateSymbolicLinkW is a stub)"
)]
fn bad_paths_are_refused_before_git_runs() {
    let (dir, _repo) = worked_on();
    let root = dir.path();
    assert!(bad_request(root, "../etc/passwd", None).contains(".. component"));
    assert!(bad_request(root, "/etc/passwd", None).contains("not absolute"));
    assert!(bad_request(root, "a.txt\0", None).contains("NUL"));
    // A link to a file outside the repository shows as a link, never its target.
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.txt", "the secret\n");
    crate::platform::symlink_for_tests(outside.path().join("secret.txt"), root.join("link.txt"))
        .unwrap();
    let l = file_diff(root, "link.txt", None).unwrap();
    let text: String = l
        .hunks
        .iter()
        .flat_map(|h| &h.lines)
        .map(|x| x.text.clone())
        .collect();
    assert!(!text.contains("the secret"), "{l:?}");
}
