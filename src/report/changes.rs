//! Changed paths, read through `git2` (never a shell, never a write).
//!
//! The report is about what a commit would contain, so each mode is one libgit2
//! comparison: `worktree` is `git status` (HEAD → index → working tree, untracked
//! folders recursed), `staged` is HEAD against the index, and `base` is a resolved
//! ref's tree against the working tree. A rename counts under its new path, a
//! deletion under its old one; ignored files never show up.
//!
//! Speed: comparing HEAD with the index makes libgit2 read every tree of HEAD,
//! which is a large part of the cost on a big repository. The index's own trees
//! are hashed in memory instead (nothing is written); when they equal HEAD's tree
//! there are no staged changes and that comparison is skipped.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::Path;

use git2::{
    Delta, DiffDelta, DiffFindOptions, DiffOptions, ErrorCode, IndexEntryExtendedFlag, ObjectType,
    Oid, Repository, RepositoryOpenFlags, StatusOptions, StatusShow, Tree,
};

use super::index_file::{Entry, IndexFile};
use super::{Mode, ReportError};

/// Opens the repository whose working tree root is `dir`.
///
/// The folder must be the root itself: searching upwards could silently report on
/// an enclosing repository. When `dir` is inside one, the error says where its root is.
pub fn open(dir: &Path) -> Result<Repository, ReportError> {
    let not_a_repo = |detail: String| ReportError::NotARepo {
        path: dir.display().to_string(),
        detail,
    };
    let repo = match Repository::open_ext(dir, RepositoryOpenFlags::NO_SEARCH, &[] as &[&OsStr]) {
        Ok(repo) => repo,
        Err(e) if e.code() == ErrorCode::NotFound => {
            let hint = Repository::discover(dir)
                .ok()
                .and_then(|r| r.workdir().map(|w| w.display().to_string()))
                .map(|root| format!(" (it is inside the repository at {root}; use that folder)"))
                .unwrap_or_default();
            return Err(not_a_repo(hint));
        }
        // Anything else (unsafe ownership, a broken `.git`) is worth quoting.
        Err(e) => return Err(not_a_repo(format!(" ({})", ReportError::from(e)))),
    };
    let Some(workdir) = repo.workdir() else {
        return Err(not_a_repo(
            " (a bare repository has no working tree)".into(),
        ));
    };
    // `open_ext` also accepts a `.git` folder itself; insist on the working tree root.
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same(workdir, dir) {
        return Err(not_a_repo(format!(
            " (its working tree is {}; use that folder)",
            workdir.display()
        )));
    }
    Ok(repo)
}

/// Sorted, unique, repo-relative paths changed in `mode`.
pub fn changed_paths(repo: &Repository, mode: &Mode) -> Result<Vec<String>, ReportError> {
    let mut paths = BTreeSet::new();
    match mode {
        Mode::Worktree => worktree(repo, &mut paths)?,
        Mode::Staged => staged(repo, &mut paths)?,
        Mode::Base(reference) => against_base(repo, reference, &mut paths)?,
        Mode::Session(s) => between(repo, &s.base, &s.commit, &mut paths)?,
    }
    Ok(paths.into_iter().collect())
}

fn worktree(repo: &Repository, out: &mut BTreeSet<String>) -> Result<(), ReportError> {
    // Whether anything is staged is known from hashing the index's trees, on
    // another core while the index is compared with the working tree; only
    // then is HEAD compared with the index.
    let head = head_tree(repo)?.map(|t| t.id());
    let file = IndexFile::read(repo)?;
    let (staged_nothing, fast) = match file.as_ref().and_then(|f| Some((f.entries()?, f.stamp))) {
        Some((entries, stamp)) => std::thread::scope(|s| {
            let same = s.spawn(|| index_is(&entries, head));
            let fast = super::workdir::changed_paths(repo, &entries, stamp);
            (same.join().unwrap_or(false), fast)
        }),
        None => (index_is_head(repo, head)?, None),
    };
    match fast {
        Some(paths) => out.extend(paths.iter().map(|p| lossless(p))),
        None => {
            let statuses = repo.statuses(Some(&mut status_options(StatusShow::Workdir)))?;
            collect_statuses(&statuses, out);
        }
    }
    if !staged_nothing {
        let staged = repo.statuses(Some(&mut status_options(StatusShow::Index)))?;
        collect_statuses(&staged, out);
    }
    Ok(())
}

/// What `git status` compares, one side (`show`) of it.
pub(super) fn status_options(show: StatusShow) -> StatusOptions {
    let mut opts = StatusOptions::new();
    opts.show(show)
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .renames_head_to_index(true)
        .renames_index_to_workdir(true)
        .update_index(false);
    opts
}

pub(super) fn collect_statuses(statuses: &git2::Statuses<'_>, out: &mut BTreeSet<String>) {
    for entry in statuses.iter() {
        // Both halves may be present (staged rename, then edited): both name the new path.
        let deltas = [entry.head_to_index(), entry.index_to_workdir()];
        let mut any = false;
        for delta in deltas.into_iter().flatten() {
            if let Some(path) = delta_path(&delta) {
                out.insert(path);
                any = true;
            }
        }
        if !any {
            out.insert(lossless(entry.path_bytes()));
        }
    }
}

fn staged(repo: &Repository, out: &mut BTreeSet<String>) -> Result<(), ReportError> {
    let head = head_tree(repo)?;
    if index_is_head(repo, head.as_ref().map(|t| t.id()))? {
        return Ok(());
    }
    let mut opts = DiffOptions::new();
    let mut diff = repo.diff_tree_to_index(head.as_ref(), None, Some(&mut opts))?;
    diff.find_similar(Some(DiffFindOptions::new().renames(true)))?;
    collect(diff.deltas(), out);
    Ok(())
}

fn against_base(
    repo: &Repository,
    reference: &str,
    out: &mut BTreeSet<String>,
) -> Result<(), ReportError> {
    let tree = resolve_base(repo, reference)?;
    let mut opts = DiffOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .show_untracked_content(false);
    let mut diff = repo.diff_tree_to_workdir_with_index(Some(&tree), Some(&mut opts))?;
    diff.find_similar(Some(
        DiffFindOptions::new().renames(true).for_untracked(true),
    ))?;
    collect(diff.deltas(), out);
    Ok(())
}

/// A department's commit against its base commit, a rename under both its paths.
fn between(
    repo: &Repository,
    base: &str,
    commit: &str,
    out: &mut BTreeSet<String>,
) -> Result<(), ReportError> {
    let old = resolve_base(repo, base)?;
    let new = resolve_base(repo, commit)?;
    let mut diff = repo.diff_tree_to_tree(Some(&old), Some(&new), None)?;
    diff.find_similar(Some(DiffFindOptions::new().renames(true)))?;
    collect(diff.deltas(), out);
    // A file the department moved away counts too: its risk rules apply.
    out.extend(diff.deltas().filter_map(|d| {
        let moved = matches!(d.status(), Delta::Renamed | Delta::Copied);
        moved
            .then(|| d.old_file().path_bytes().map(lossless))
            .flatten()
    }));
    Ok(())
}

/// Resolves `--base REF` to a tree; anything that is not a plain revision is refused.
pub fn resolve_base<'r>(repo: &'r Repository, reference: &str) -> Result<Tree<'r>, ReportError> {
    let bad = |reason: &str| ReportError::BadBase {
        reference: reference.to_string(),
        reason: reason.to_string(),
    };
    if reference.trim().is_empty() {
        return Err(bad("is empty"));
    }
    if reference.starts_with('-') {
        return Err(bad("looks like an option, not a revision"));
    }
    let object = repo
        .revparse_single(reference)
        .map_err(|_| bad("is not a known revision"))?;
    object
        .peel_to_tree()
        .map_err(|_| bad("does not name a commit or tree"))
}

/// HEAD's tree, or `None` when HEAD is unborn (no commit yet: an empty tree).
fn head_tree(repo: &Repository) -> Result<Option<Tree<'_>>, ReportError> {
    match repo.head() {
        Ok(head) => Ok(Some(head.peel_to_tree()?)),
        Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Whether libgit2's index of `repo` records exactly `head` (no staged changes).
fn index_is_head(repo: &Repository, head: Option<Oid>) -> Result<bool, ReportError> {
    let entries: Vec<Entry<'_>> = repo.index()?.iter().map(Entry::from).collect();
    Ok(index_is(&entries, head))
}

/// Whether `entries` are exactly the tree `head` (None: no commit yet).
///
/// Equality of tree ids is proof of no staged change: every entry is hashed.
fn index_is(entries: &[Entry<'_>], head: Option<Oid>) -> bool {
    match head {
        None => entries.is_empty(),
        Some(id) => index_rows(entries).and_then(tree_id_of) == Some(id),
    }
}

/// One index entry as a tree holds it: mode, path, object.
struct Row<'a> {
    mode: &'static [u8],
    path: &'a [u8],
    id: Oid,
}

/// The index's entries as tree rows, in order; `None` when it holds
/// conflicts, intent-to-add entries or an unknown mode.
fn index_rows<'a>(entries: &'a [Entry<'_>]) -> Option<Vec<Row<'a>>> {
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        let stage = (entry.flags >> 12) & 3;
        let intent = entry.flags_extended & IndexEntryExtendedFlag::INTENT_TO_ADD.bits() != 0;
        let mode: &'static [u8] = match entry.mode {
            0o100644 => b"100644",
            0o100755 => b"100755",
            0o120000 => b"120000",
            0o160000 => b"160000",
            _ => return None,
        };
        if stage != 0 || intent {
            return None;
        }
        rows.push(Row {
            mode,
            path: &entry.path[..],
            id: entry.id,
        });
    }
    Some(rows)
}

/// The id of the tree (and its sub-trees) of `rows`, hashed in memory.
fn tree_id_of(rows: Vec<Row<'_>>) -> Option<Oid> {
    /// A directory being built: its path with a trailing `/` and its tree bytes.
    struct Dir {
        path: Vec<u8>,
        body: Vec<u8>,
    }
    fn close(stack: &mut Vec<Dir>) -> Option<()> {
        let dir = stack.pop()?;
        let id = Oid::hash_object(ObjectType::Tree, &dir.body).ok()?;
        let path = &dir.path[..dir.path.len() - 1];
        let name = path.rsplit(|b| *b == b'/').next()?;
        let parent = stack.last_mut()?;
        parent.body.extend_from_slice(b"40000 ");
        parent.body.extend_from_slice(name);
        parent.body.push(0);
        parent.body.extend_from_slice(id.as_bytes());
        Some(())
    }
    let mut stack = vec![Dir {
        path: Vec::new(),
        body: Vec::new(),
    }];
    for row in rows {
        let path = row.path;
        while !path.starts_with(&stack.last()?.path) {
            close(&mut stack)?;
        }
        // Open the folders between the innermost open one and the entry.
        let mut start = stack.last()?.path.len();
        while let Some(slash) = path[start..].iter().position(|b| *b == b'/') {
            start += slash + 1;
            stack.push(Dir {
                path: path[..start].to_vec(),
                body: Vec::new(),
            });
        }
        let top = stack.last_mut()?;
        top.body.extend_from_slice(row.mode);
        top.body.push(b' ');
        top.body.extend_from_slice(&path[start..]);
        top.body.push(0);
        top.body.extend_from_slice(row.id.as_bytes());
    }
    while stack.len() > 1 {
        close(&mut stack)?;
    }
    Oid::hash_object(ObjectType::Tree, &stack.pop()?.body).ok()
}

fn collect<'a>(deltas: impl Iterator<Item = DiffDelta<'a>>, out: &mut BTreeSet<String>) {
    out.extend(deltas.filter_map(|d| delta_path(&d)));
}

/// The path a delta is reported under: the new one, or the old one for a deletion.
fn delta_path(delta: &DiffDelta<'_>) -> Option<String> {
    let file = match delta.status() {
        Delta::Unmodified | Delta::Ignored => return None,
        Delta::Deleted => delta.old_file(),
        _ => delta.new_file(),
    };
    file.path_bytes()
        .or_else(|| delta.old_file().path_bytes())
        .map(lossless)
}

/// Git paths are bytes; nearly always UTF-8, which converts without loss.
fn lossless(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_tree_id(index: &git2::Index) -> Option<Oid> {
        let entries: Vec<Entry<'_>> = index.iter().map(Entry::from).collect();
        index_rows(&entries).and_then(tree_id_of)
    }

    /// The in-memory tree id must be the one `git write-tree` would produce.
    #[test]
    fn index_tree_id_matches_write_tree() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let mut index = repo.index().unwrap();
        assert_eq!(index_tree_id(&index), Some(index.write_tree().unwrap()));
        for rel in [
            "a.txt",
            "a/x",
            "a/b/c/d.md",
            "a-b",
            "a0",
            "b/设计 文档.md",
            "z/y/x/w",
        ] {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, rel).unwrap();
        }
        // On Unix, an executable and a symbolic link too.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let exe = dir.path().join("a/run.sh");
            std::fs::write(&exe, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::os::unix::fs::symlink("a.txt", dir.path().join("link")).unwrap();
        }
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        let expected = index.write_tree().unwrap();
        index.write().unwrap();
        let fresh = repo.index().unwrap(); // no cached trees to lean on
        assert_eq!(index_tree_id(&fresh), Some(expected));
        // The same entries read from the file, as the report reads them.
        let file = IndexFile::read(&repo).unwrap().unwrap();
        let read = file.entries().unwrap();
        assert_eq!(index_rows(&read).and_then(tree_id_of), Some(expected));
    }
}
