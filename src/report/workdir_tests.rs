//! Each case is compared with libgit2's own index-to-workdir status (what
//! the report asked before), and with the list a reader expects.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use git2::{IndexAddOption, Repository, Signature, StatusShow};

use super::*;
use crate::report::changes::{collect_statuses, status_options};

fn write(dir: &Path, path: &str, text: &str) {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, text).unwrap();
}

/// Stages everything (ignored files too) and commits it.
fn commit(git: &Repository) {
    let mut index = git.index().unwrap();
    index.add_all(["*"], IndexAddOption::FORCE, None).unwrap();
    index.update_all(["*"], None).unwrap();
    index.write().unwrap();
    let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = Signature::now("t", "t@example.com").unwrap();
    let parent = git.head().ok().map(|h| h.peel_to_commit().unwrap());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    git.commit(Some("HEAD"), &sig, &sig, "files", &tree, &parents)
        .unwrap();
}

fn repo(dir: &Path, files: &[(&str, &str)]) -> Repository {
    let git = Repository::init(dir).unwrap();
    for (path, text) in files {
        write(dir, path, text);
    }
    commit(&git);
    git
}

/// (libgit2's paths, this module's paths or None when it steps aside).
fn both(git: &Repository) -> (Vec<String>, Option<Vec<String>>) {
    let statuses = git
        .statuses(Some(&mut status_options(StatusShow::Workdir)))
        .unwrap();
    let mut theirs = BTreeSet::new();
    collect_statuses(&statuses, &mut theirs);
    let file = super::super::index_file::IndexFile::read(git)
        .unwrap()
        .unwrap();
    let entries = file.entries().unwrap();
    let ours = changed_paths(git, &entries, file.stamp).map(|paths| {
        let set: BTreeSet<String> = paths
            .into_iter()
            .map(|p| String::from_utf8(p).unwrap())
            .collect();
        set.into_iter().collect()
    });
    (theirs.into_iter().collect(), ours)
}

/// Asserts this module answers, with libgit2's answer, and returns it.
fn answered(git: &Repository) -> Vec<String> {
    let (theirs, ours) = both(git);
    assert_eq!(ours.as_ref(), Some(&theirs), "libgit2 lists {theirs:?}");
    theirs
}

fn set_mtime(file: &Path, at: SystemTime) {
    let f = std::fs::File::options().write(true).open(file).unwrap();
    f.set_modified(at).unwrap();
}

fn mtime(file: &Path) -> SystemTime {
    std::fs::metadata(file).unwrap().modified().unwrap()
}

#[test]
fn modified_untracked_and_ignored_files_are_listed_as_libgit2_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let git = repo(
        root,
        &[
            ("a.txt", "a\n"),
            ("src/b.rs", "bbbb\n"),
            ("src/deep/c.rs", "c\n"),
            ("docs/d.md", "d\n"),
            ("build/tracked.txt", "t\n"),
        ],
    );
    write(root, ".gitignore", "*.log\nbuild/\n!keep.log\n");
    write(root, "src/.gitignore", "*.tmp\n");
    commit(&git);

    write(root, "a.txt", "a longer a\n");
    // Same size, other bytes, the old modification time: the bytes decide.
    let b = root.join("src/b.rs");
    let old = mtime(&b);
    write(root, "src/b.rs", "BBBB\n");
    set_mtime(&b, old);
    // Touched only: read, found the same, not listed.
    set_mtime(&root.join("src/deep/c.rs"), old - Duration::from_secs(60));
    let d = root.join("docs/d.md");
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (path, text) in [
        ("new.txt", "n\n"),
        ("x.log", "ignored\n"),
        ("keep.log", "kept\n"),
        ("src/new.rs", "n\n"),
        ("src/x.tmp", "ignored\n"),
        ("src/deep/y.tmp", "ignored\n"),
        ("gen/a/b.txt", "b\n"),
        ("gen/a/c.log", "ignored\n"),
        ("build/untracked.txt", "ignored\n"),
        ("only-ignored/z.log", "ignored\n"),
    ] {
        write(root, path, text);
    }
    std::fs::create_dir_all(root.join("empty/too")).unwrap();
    assert_eq!(
        answered(&git),
        [
            "a.txt",
            "docs/d.md",
            "gen/a/b.txt",
            "keep.log",
            "new.txt",
            "src/b.rs",
            "src/new.rs"
        ]
    );
}

#[test]
fn a_retyped_link_a_relinked_link_and_a_deleted_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "a.txt", "a\n");
    write(root, "sub/gone.txt", "g\n");
    std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
    std::os::unix::fs::symlink("../a.txt", root.join("sub/link2")).unwrap();
    let git = Repository::init(root).unwrap();
    commit(&git);
    std::fs::remove_file(root.join("link")).unwrap();
    write(root, "link", "a file now\n");
    // A link pointed elsewhere with a target of the same length.
    std::fs::remove_file(root.join("sub/link2")).unwrap();
    std::os::unix::fs::symlink("../b.txt", root.join("sub/link2")).unwrap();
    assert_eq!(answered(&git), ["link", "sub/link2"]);
    // A deletion, and nothing a rename could be made of.
    std::fs::remove_file(root.join("link")).unwrap();
    std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
    std::fs::remove_file(root.join("sub/gone.txt")).unwrap();
    assert_eq!(answered(&git), ["sub/gone.txt", "sub/link2"]);
}

#[test]
fn a_touched_file_is_hashed_through_the_checkout_filters() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Stored with LF, held with CRLF: unchanged only through the filter.
    let git = repo(
        root,
        &[
            (".gitattributes", "*.txt text eol=crlf\n"),
            ("t.txt", "one\r\ntwo\r\n"),
            ("u.txt", "three\r\n"),
        ],
    );
    set_mtime(
        &root.join("t.txt"),
        SystemTime::now() - Duration::from_secs(3600),
    );
    let u = root.join("u.txt");
    let old = mtime(&u);
    write(root, "u.txt", "THREE\r\n");
    set_mtime(&u, old);
    assert_eq!(answered(&git), ["u.txt"]);
}

#[test]
fn a_racily_clean_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let git = Repository::init(root).unwrap();
    git.config()
        .unwrap()
        .set_bool("core.trustctime", false)
        .unwrap();
    write(root, "r.txt", "1234\n");
    // Written after the index by its time: the index cannot vouch for it.
    let later = SystemTime::now() + Duration::from_secs(100);
    set_mtime(&root.join("r.txt"), later);
    commit(&git);
    write(root, "r.txt", "5678\n");
    set_mtime(&root.join("r.txt"), later);
    assert_eq!(answered(&git), ["r.txt"]);
}

#[test]
fn what_it_does_not_reproduce_is_left_to_libgit2() {
    let steps_aside = |prepare: &dyn Fn(&Path, &Repository)| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let git = repo(
            root,
            &[("a.txt", "some text to move\n"), ("b/c.txt", "c\n")],
        );
        prepare(root, &git);
        let (theirs, ours) = both(&git);
        assert_eq!(ours, None, "steps aside (libgit2 lists {theirs:?})");
        theirs
    };
    // A move without `git mv`: libgit2 lists the new path only.
    let moved = steps_aside(&|root, _| {
        std::fs::rename(root.join("a.txt"), root.join("moved.txt")).unwrap();
    });
    assert_eq!(moved, ["moved.txt"]);
    steps_aside(&|root, _| {
        Repository::init(root.join("nested")).unwrap();
        write(root, "nested/x.txt", "x\n");
    });
    steps_aside(&|root, _| {
        std::fs::remove_file(root.join("b/c.txt")).unwrap();
        std::fs::create_dir(root.join("b/c.txt")).unwrap();
        write(root, "b/c.txt/inner", "i\n");
    });
    steps_aside(&|_, git| {
        let mut index = git.index().unwrap();
        let mut entry = index.get_path(Path::new("a.txt"), 0).unwrap();
        entry.flags |= 0x4000;
        entry.flags_extended |= IndexEntryExtendedFlag::SKIP_WORKTREE.bits();
        index.add(&entry).unwrap();
        index.write().unwrap();
    });
    steps_aside(&|_, git| {
        git.config()
            .unwrap()
            .set_bool("core.ignorecase", true)
            .unwrap();
    });
}

/// A file swapped for a FIFO or a link after it was listed is not read
/// through: hashing it neither blocks nor follows, and the walk steps aside.
#[test]
fn a_file_swapped_for_a_fifo_or_a_link_is_never_read_through() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let git = repo(
        root,
        &[
            (".gitattributes", "*.txt text eol=crlf\n"),
            ("t.txt", "one\r\n"),
        ],
    );
    let raw = RawRepo::open(root).unwrap();
    let id = |p: &str| git.index().unwrap().get_path(Path::new(p), 0).unwrap().id;
    // A regular file: read through the filters, as git add would.
    assert_eq!(hashed_blob(&raw, root, b"t.txt"), Some(id("t.txt")));
    let t = root.join("t.txt");
    std::fs::remove_file(&t).unwrap();
    crate::files::make_fifo(&t);
    assert_eq!(hashed_blob(&raw, root, b"t.txt"), None, "a FIFO");
    std::fs::remove_file(&t).unwrap();
    write(root, "elsewhere.txt", "one\r\n");
    std::os::unix::fs::symlink(root.join("elsewhere.txt"), &t).unwrap();
    assert_eq!(hashed_blob(&raw, root, b"t.txt"), None, "a link");
}
