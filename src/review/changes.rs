//! `GET /api/changes`: what an isolated department changed, for the review
//! drawer (issue 26). Its recorded commit against its base commit, read
//! through libgit2: the diff stat, each file with its line counts, and one
//! file's diff with line numbers; plus the workspace record (state, scope,
//! claim and risk findings, predicted conflicts); and, for the drawer's
//! decision (issue 37), what the department said it did, the conflicts an
//! integration would meet in the user's tree now, and the other waiting
//! departments it conflicts with ([`super::overlaps`]).

use std::path::Path;

use git2::{DiffFindOptions, DiffOptions, Oid, Patch, Repository};
use serde::Serialize;

use super::diff::{git_error, path_diff, status_name, FileDiff};
use super::overlaps::{department_conflicts, DepartmentConflict, Neighbour};
use super::repo_path::check_path;
use crate::config::ScopeMode;
use crate::error::{LResult, LauncherError};
use crate::model::{ResultSource, Session, TaskResult, Workspace};
use crate::report::ReportError;
use crate::worktrees::{integrate::predict, StateFence};

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
    /// Its work waits for the user: integrate, discard or send back (the
    /// page asks this, never the state words).
    pub awaits_user: bool,
    pub workspace: Workspace,
    /// Where the workspace stands, in the page's terms.
    pub workspace_facts: crate::model::WorkspaceFacts,
    /// Each changed file (the first [`MAX_FILES`]).
    pub files: Vec<FileChange>,
    pub truncated: bool,
    /// `launcher.scope`: whether out-of-scope changes block integration.
    pub scope_mode: ScopeMode,
    /// What the department said it did (its last report), if it reported.
    pub report: Option<ReportBrief>,
    /// Files that stand in the way of integrating it into the user's tree
    /// now (a conflict, or an uncommitted file of the user's there); only
    /// while its work waits.
    pub tree_conflicts: Vec<String>,
    /// Those of `tree_conflicts` that hold the user's uncommitted, untracked
    /// or ignored changes; the others changed on both sides (the user's
    /// commits and the department's).
    pub tree_uncommitted: Vec<String>,
    /// Other departments whose waiting work conflicts with this one's.
    pub department_conflicts: Vec<DepartmentConflict>,
    /// Those of `tree_uncommitted` that hold another department's applied
    /// change, not yet committed (the user's own edits are not among them).
    pub tree_applied: Vec<crate::model::AppliedFile>,
    /// Why Apply and Merge would be refused now, said before they are
    /// pressed (its changes are already on the branch, or files stand in
    /// the way); None when nothing is known to stop them.
    pub integration_blocked: Option<String>,
    /// What holds it is a reviewer's open important findings (issue 75):
    /// the page offers *Override* with a reason.
    pub review_held: bool,
    /// The checks a Merge of it runs before it lands (issue 73); None: it
    /// lands unverified.
    pub landing_checks: Option<Vec<String>>,
    /// One of several attempts at its assignment (issue 74): the drawer
    /// offers to compare them.
    pub attempt: Option<crate::model::Attempt>,
}

/// A department's last report, as the drawer leads with it.
#[derive(Debug, Clone, Serialize)]
pub struct ReportBrief {
    pub report_id: String,
    pub summary: String,
    /// The files it said it changed.
    pub changed_files: Vec<String>,
    /// The launcher wrote it (the department ended without reporting).
    pub fallback: bool,
}

impl From<&TaskResult> for ReportBrief {
    fn from(r: &TaskResult) -> ReportBrief {
        ReportBrief {
            report_id: r.report_id.clone(),
            summary: r.summary.clone(),
            changed_files: r.changed_files.clone(),
            fallback: r.source == ResultSource::LauncherFallback,
        }
    }
}

/// What [`ChangesView::decide`] compares the department's work with.
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
        awaits_user: !s.is_running() && ws.state.awaits_user(),
        workspace_facts: ws.state.facts(),
        workspace: ws,
        files,
        truncated,
        scope_mode,
        report: None,
        tree_conflicts: Vec::new(),
        tree_uncommitted: Vec::new(),
        department_conflicts: Vec::new(),
        integration_blocked: None,
        review_held: false,
        landing_checks: None,
        attempt: None,
        tree_applied: Vec::new(),
    })
}

impl ChangesView {
    /// Adds what the decision needs while the work waits: the conflicts an
    /// integration would meet now, in the user's tree and with the other
    /// waiting departments. A prediction git cannot make is left empty (the
    /// integration itself predicts again and refuses with the reason).
    pub fn decide(mut self, repo: &Path, around: &Surroundings<'_>) -> ChangesView {
        let ws = &self.workspace;
        let Some(commit) = ws.commit.clone().filter(|_| ws.state.awaits_user()) else {
            return self;
        };
        if self.running {
            // Its report came; its agent is ending its turn (the drawer waits).
            self.integration_blocked =
                Some(crate::policy::integration::finishing_turn(&self.session_id));
            return self;
        }
        match predict(repo, ws, &commit, around.fence) {
            Ok(p) => {
                self.tree_conflicts = p.blocking();
                self.tree_uncommitted = p.uncommitted.clone();
                self.tree_applied =
                    crate::worktrees::dirty::plan_files(repo, &p.uncommitted, &around.applied).0;
                self.integration_blocked = blocked_by(&p);
            }
            Err(e) => tracing::debug!("cannot predict {}: {e}", self.session_id),
        }
        match department_conflicts(repo, &commit, &around.waiting) {
            Ok(found) => self.department_conflicts = found,
            Err(e) => tracing::debug!("cannot compare {}: {e}", self.session_id),
        }
        self
    }
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
