//! `GET /api/changes`: what an isolated department changed, for the review
//! drawer (issue 26). Its recorded commit against its base commit, read
//! through libgit2: the diff stat, each file with its line counts, and one
//! file's diff with line numbers; plus the workspace record (state, scope,
//! claim and risk findings, predicted conflicts); and, for the drawer's
//! decision (issue 37), what the department said it did, the conflicts an
//! integration would meet in the user's tree now, and the other waiting
//! departments it conflicts with ([`super::overlaps`]). The answer's shape
//! is `views::changes`.

use std::path::Path;

use git2::{DiffFindOptions, DiffOptions, Oid, Patch, Repository};

use super::diff::{git_error, path_diff, status_name, FileDiff};
use super::overlaps::{department_conflicts, Neighbour};
use super::repo_path::check_path;
use crate::config::ScopeMode;
use crate::error::{LResult, LauncherError};
use crate::model::{Session, Workspace};
use crate::report::ReportError;
use crate::views::changes::{ChangesView, FileChange};
use crate::worktrees::{integrate::predict, StateFence};

/// Files listed at most (the stat counts them all).
pub const MAX_FILES: usize = 2000;

/// What [`decide`] compares the department's work with.
pub struct Surroundings<'a> {
    pub fence: &'a StateFence,
    /// The other departments whose work waits for the user.
    pub waiting: Vec<Neighbour<'a>>,
    /// The department sessions whose work is applied, with their commits:
    /// an uncommitted file holding one's change is that Apply's, not the user's.
    pub applied: Vec<(String, String)>,
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
    let (files, truncated) = match &ws.commit {
        Some(commit) => changed_files(repo, &ws.base, commit)?,
        None => (Vec::new(), false),
    };
    Ok(ChangesView::new(s, ws, files, truncated, scope_mode))
}

/// The files changed from `base` to `commit` (the first [`MAX_FILES`]),
/// and whether more changed.
fn changed_files(repo: &Path, base: &str, commit: &str) -> LResult<(Vec<FileChange>, bool)> {
    let mut files = Vec::new();
    let git = Repository::open(repo).map_err(from_git)?;
    let diff = tree_diff(&git, base, commit, None)?;
    for (i, d) in diff.deltas().enumerate() {
        if files.len() >= MAX_FILES {
            return Ok((files, true));
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
    Ok((files, false))
}

/// `view` with what the decision needs while the work waits: the conflicts
/// an integration would meet now, in the user's tree and with the other
/// waiting departments. A prediction git cannot make is left empty (the
/// integration itself predicts again and refuses with the reason).
pub fn decide(mut view: ChangesView, repo: &Path, around: &Surroundings<'_>) -> ChangesView {
    let ws = &view.workspace;
    let Some(commit) = ws.commit.clone().filter(|_| ws.state.awaits_user()) else {
        return view;
    };
    if view.running {
        // Its report came; its agent is ending its turn (the drawer waits).
        view.integration_blocked =
            Some(crate::policy::integration::finishing_turn(&view.session_id));
        return view;
    }
    match predict(repo, ws, &commit, around.fence) {
        Ok(p) => {
            view.tree_conflicts = p.blocking();
            view.tree_uncommitted = p.uncommitted.clone();
            view.tree_applied =
                crate::worktrees::dirty::plan_files(repo, &p.uncommitted, &around.applied).0;
            view.integration_blocked = blocked_by(&p);
        }
        Err(e) => tracing::debug!("cannot predict {}: {e}", view.session_id),
    }
    match department_conflicts(repo, &commit, &around.waiting) {
        Ok(found) => view.department_conflicts = found,
        Err(e) => tracing::debug!("cannot compare {}: {e}", view.session_id),
    }
    view
}

/// Why an integration predicted as `p` would be refused, in the words the
/// refusal would use.
fn blocked_by(p: &crate::worktrees::integrate::Prediction) -> Option<String> {
    if !p.uncommitted.is_empty() {
        return Some(
            "Apply and Merge would be refused now: files under Conflicts hold uncommitted \
             changes. Check again once they are committed or put aside."
                .into(),
        );
    }
    if !p.blocking().is_empty() {
        return Some(
            "Apply and Merge would be refused now: your branch changed the same files since \
             its base (see Conflicts)."
                .into(),
        );
    }
    p.paths.is_empty().then(|| {
        "Its changes are already on your branch: nothing to apply or merge. Discard it to settle it."
            .into()
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
