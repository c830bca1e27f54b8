//! One changed file's diff for the review drawer: the working tree (with the
//! index) against HEAD or a base revision, through libgit2, with line numbers.
//!
//! The developer checks what an agent changed file by file, so the diff is of
//! exactly one path (a literal pathspec, checked by [`super::repo_path`]).
//! Untracked files show whole, as added lines; binary files are only named;
//! a huge diff is cut after [`MAX_LINES`] lines (the counts stay whole).

use std::path::Path;

use git2::{Delta, DiffOptions, ErrorCode, Patch, Repository, Tree};
use serde::Serialize;

use super::repo_path::check_path;
use crate::error::{LResult, LauncherError};
use crate::report::changes::{open, resolve_base};
use crate::report::ReportError;

/// Diff lines shown at most; the rest is counted, not shown.
pub const MAX_LINES: usize = 2000;

/// `GET /api/diff`.
#[derive(Debug, Clone, Serialize)]
pub struct FileDiff {
    pub path: String,
    /// The revision compared against: the one asked for, else `HEAD`.
    pub base: String,
    /// `added`, `modified`, `deleted`, `renamed` or `untracked`.
    pub status: &'static str,
    pub binary: bool,
    /// More than [`MAX_LINES`] lines: the first ones are shown.
    pub truncated: bool,
    pub hunks: Vec<Hunk>,
    /// Lines added and removed, all of them (shown or not).
    pub added: usize,
    pub removed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hunk {
    /// `@@ -a,b +c,d @@ context`.
    pub header: String,
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// `add`, `del` or `ctx`.
    pub kind: &'static str,
    pub old_line: Option<u32>,
    pub new_line: Option<u32>,
    /// The line without its end of line (invalid UTF-8 replaced).
    pub text: String,
}

/// The diff of `path` in the repository at `root` against `base` (or HEAD).
/// BadRequest for a bad path or base, NotFound when the file has no change.
pub fn file_diff(root: &Path, path: &str, base: Option<&str>) -> LResult<FileDiff> {
    check_path(path)?;
    let repo = open(root).map_err(git_error)?;
    let tree = match base {
        Some(b) => Some(resolve_base(&repo, b).map_err(git_error)?),
        None => head_tree(&repo)?,
    };
    let mut opts = DiffOptions::new();
    opts.pathspec(path)
        .disable_pathspec_match(true)
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .show_untracked_content(true)
        .context_lines(3);
    let diff = repo
        .diff_tree_to_workdir_with_index(tree.as_ref(), Some(&mut opts))
        .map_err(|e| git_error(e.into()))?;
    path_diff(&diff, path, base.unwrap_or("HEAD"))?.ok_or_else(|| {
        LauncherError::NotFound(format!(
            "{path} has no change against {}",
            base.unwrap_or("HEAD")
        ))
    })
}

/// The diff of `path` itself in `diff` (a literal pathspec also matches a
/// folder's files), with its hunks; None when `path` has no change there.
pub(super) fn path_diff(
    diff: &git2::Diff<'_>,
    path: &str,
    base: &str,
) -> LResult<Option<FileDiff>> {
    let is_path = |f: git2::DiffFile<'_>| f.path().and_then(Path::to_str) == Some(path);
    let Some(index) = diff
        .deltas()
        .position(|d| is_path(d.new_file()) || is_path(d.old_file()))
    else {
        return Ok(None);
    };
    let delta = diff.get_delta(index).expect("the delta just found");
    let mut out = FileDiff {
        path: path.to_string(),
        base: base.to_string(),
        status: status_name(delta.status()),
        binary: delta.flags().is_binary(),
        truncated: false,
        hunks: Vec::new(),
        added: 0,
        removed: 0,
    };
    let patch = Patch::from_diff(diff, index).map_err(|e| git_error(e.into()))?;
    match patch {
        Some(patch) if !patch.delta().flags().is_binary() => {
            read_hunks(&patch, &mut out).map_err(|e| git_error(e.into()))?
        }
        // No text patch: libgit2 found binary content.
        _ => out.binary = true,
    }
    Ok(Some(out))
}

pub(super) fn status_name(status: Delta) -> &'static str {
    match status {
        Delta::Added => "added",
        Delta::Untracked => "untracked",
        Delta::Deleted => "deleted",
        Delta::Renamed | Delta::Copied => "renamed",
        _ => "modified",
    }
}

/// HEAD's tree; none while HEAD is unborn (no commit yet: everything is new).
fn head_tree(repo: &Repository) -> LResult<Option<Tree<'_>>> {
    match repo.head() {
        Ok(head) => head
            .peel_to_tree()
            .map(Some)
            .map_err(|e| git_error(e.into())),
        Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => Ok(None),
        Err(e) => Err(git_error(e.into())),
    }
}

/// A bad base is the request's fault; anything else is the launcher's.
pub(super) fn git_error(e: ReportError) -> LauncherError {
    match e {
        ReportError::BadBase { .. } | ReportError::BadMode(_) => {
            LauncherError::BadRequest(e.to_string())
        }
        ReportError::NoRecordedWork(_) => LauncherError::NotFound(e.to_string()),
        // The repository's state (what an agent planted), not the launcher's.
        ReportError::Index { .. } => LauncherError::Conflict(e.to_string()),
        ReportError::NotARepo { .. } | ReportError::Git(_) => {
            LauncherError::Internal(e.to_string())
        }
    }
}

fn read_hunks(patch: &Patch<'_>, out: &mut FileDiff) -> Result<(), git2::Error> {
    let mut shown = 0;
    for h in 0..patch.num_hunks() {
        let (hunk, count) = patch.hunk(h)?;
        let mut lines = Vec::new();
        for l in 0..count {
            let line = patch.line_in_hunk(h, l)?;
            let kind = match line.origin() {
                '+' => "add",
                '-' => "del",
                ' ' => "ctx",
                _ => continue, // "\ No newline at end of file" and the like
            };
            match kind {
                "add" => out.added += 1,
                "del" => out.removed += 1,
                _ => {}
            }
            if shown >= MAX_LINES {
                out.truncated = true;
                continue;
            }
            shown += 1;
            lines.push(Line {
                kind,
                old_line: line.old_lineno(),
                new_line: line.new_lineno(),
                text: String::from_utf8_lossy(line.content())
                    .trim_end_matches(['\n', '\r'])
                    .to_string(),
            });
        }
        if !lines.is_empty() {
            out.hunks.push(Hunk {
                header: String::from_utf8_lossy(hunk.header())
                    .trim_end()
                    .to_string(),
                lines,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
