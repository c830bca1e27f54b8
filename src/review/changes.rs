//! `GET /api/changes`: what an isolated department changed, for the review
//! drawer (issue 26). Its recorded commit against its base commit, read
//! through libgit2: the diff stat, each file with its line counts, and one
//! file's diff with line numbers; plus the workspace record (state, scope,
//! claim and risk findings, predicted conflicts).

use std::path::Path;

use git2::{DiffFindOptions, DiffOptions, Oid, Patch, Repository};
use serde::Serialize;

use super::diff::{git_error, path_diff, status_name, FileDiff};
use super::repo_path::check_path;
use crate::config::ScopeMode;
use crate::error::{LResult, LauncherError};
use crate::model::{Session, Workspace};
use crate::report::ReportError;

/// Files listed at most (the stat counts them all).
pub const MAX_FILES: usize = 2000;

/// One changed file of a department.
#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub path: String,
    pub status: &'static str,
    pub added: usize,
    pub removed: usize,
    pub binary: bool,
}

/// `GET /api/changes?session_id=`.
#[derive(Debug, Clone, Serialize)]
pub struct ChangesView {
    pub session_id: String,
    pub department: Option<String>,
    pub parent_session_id: Option<String>,
    pub running: bool,
    pub workspace: Workspace,
    /// Each changed file (the first [`MAX_FILES`]).
    pub files: Vec<FileChange>,
    pub truncated: bool,
    /// `launcher.scope`: whether out-of-scope changes block integration.
    pub scope_mode: ScopeMode,
}

fn from_git(e: git2::Error) -> LauncherError {
    git_error(ReportError::from(e))
}

/// The department's recorded changes, file by file.
pub fn changes_view(repo: &Path, s: &Session, scope_mode: ScopeMode) -> LResult<ChangesView> {
    let ws = s.workspace().cloned().ok_or_else(|| {
        LauncherError::NotFound(format!(
            "{} has no worktree: it works in the shared working tree",
            s.id
        ))
    })?;
    let mut files = Vec::new();
    let mut truncated = false;
    if let Some(commit) = &ws.commit {
        let git = Repository::open(repo).map_err(from_git)?;
        let diff = tree_diff(&git, &ws.base, commit, None)?;
        for (i, d) in diff.deltas().enumerate() {
            if files.len() >= MAX_FILES {
                truncated = true;
                break;
            }
            let path = d
                .new_file()
                .path()
                .or_else(|| d.old_file().path())
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (mut added, mut removed, mut binary) = (0, 0, d.flags().is_binary());
            match Patch::from_diff(&diff, i).map_err(from_git)? {
                Some(p) if !binary => {
                    let (_, a, r) = p.line_stats().map_err(from_git)?;
                    (added, removed) = (a, r);
                }
                _ => binary = true,
            }
            files.push(FileChange {
                path,
                status: status_name(d.status()),
                added,
                removed,
                binary,
            });
        }
    }
    Ok(ChangesView {
        session_id: s.id.clone(),
        department: s.department.clone(),
        parent_session_id: s.parent_session_id().map(str::to_string),
        running: s.is_running(),
        workspace: ws,
        files,
        truncated,
        scope_mode,
    })
}

/// One file's diff in the department's recorded commit against its base.
pub fn change_diff(repo: &Path, ws: &Workspace, path: &str) -> LResult<FileDiff> {
    check_path(path)?;
    let commit = ws
        .commit
        .as_deref()
        .ok_or_else(|| LauncherError::NotFound("nothing is recorded yet".into()))?;
    let git = Repository::open(repo).map_err(from_git)?;
    let diff = tree_diff(&git, &ws.base, commit, Some(path))?;
    path_diff(&diff, path, &ws.base)?
        .ok_or_else(|| LauncherError::NotFound(format!("{path} is not among its changes")))
}

fn tree_diff<'r>(
    git: &'r Repository,
    base: &str,
    commit: &str,
    path: Option<&str>,
) -> LResult<git2::Diff<'r>> {
    let tree = |id: &str| -> LResult<git2::Tree<'r>> {
        let oid = Oid::from_str(id).map_err(from_git)?;
        git.find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(from_git)
    };
    let (old, new) = (tree(base)?, tree(commit)?);
    let mut opts = DiffOptions::new();
    opts.context_lines(3);
    if let Some(p) = path {
        opts.pathspec(p).disable_pathspec_match(true);
    }
    let mut diff = git
        .diff_tree_to_tree(Some(&old), Some(&new), Some(&mut opts))
        .map_err(from_git)?;
    if path.is_none() {
        diff.find_similar(Some(DiffFindOptions::new().renames(true)))
            .map_err(from_git)?;
    }
    Ok(diff)
}
