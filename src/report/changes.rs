//! Changed paths, read through `git2` (never a shell, never a write).
//!
//! The report is about what a commit would contain, so each mode is one libgit2
//! comparison: `worktree` is `git status` (HEAD → index → working tree, untracked
//! folders recursed), `staged` is HEAD against the index, and `base` is a resolved
//! ref's tree against the working tree. A rename counts under its new path, a
//! deletion under its old one; ignored files never show up.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::Path;

use git2::{
    Delta, DiffDelta, DiffFindOptions, DiffOptions, ErrorCode, Repository, RepositoryOpenFlags,
    StatusOptions, Tree,
};

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
        Err(_) => {
            let hint = Repository::discover(dir)
                .ok()
                .and_then(|r| r.workdir().map(|w| w.display().to_string()))
                .map(|root| format!(" (it is inside the repository at {root}; use that folder)"))
                .unwrap_or_default();
            return Err(not_a_repo(hint));
        }
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
    }
    Ok(paths.into_iter().collect())
}

fn worktree(repo: &Repository, out: &mut BTreeSet<String>) -> Result<(), ReportError> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .renames_head_to_index(true)
        .renames_index_to_workdir(true)
        .update_index(false);
    let statuses = repo.statuses(Some(&mut opts))?;
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
    Ok(())
}

fn staged(repo: &Repository, out: &mut BTreeSet<String>) -> Result<(), ReportError> {
    let head = head_tree(repo)?;
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
