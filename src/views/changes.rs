//! `GET /api/changes`: what an isolated department changed, as the review
//! drawer shows it (issues 26, 37). `review::changes` reads the files from
//! Git and fills in what its decision needs; the shapes are here, beside the
//! other answers of the page.

use serde::Serialize;

use crate::config::ScopeMode;
use crate::model::{AppliedFile, Attempt, ResultSource, Session, TaskResult, Workspace};

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
    /// Each changed file (the first ones, up to the service's limit).
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
    pub tree_applied: Vec<AppliedFile>,
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
    pub attempt: Option<Attempt>,
}

impl ChangesView {
    /// Session `s`'s recorded changes in its workspace `ws` (`truncated`:
    /// more files changed than `files` holds), nothing yet known of what
    /// stands in their way.
    pub fn new(
        s: &Session,
        ws: Workspace,
        files: Vec<FileChange>,
        truncated: bool,
        scope_mode: ScopeMode,
    ) -> ChangesView {
        ChangesView {
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
        }
    }
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

/// Where two departments' edits of one file clash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConflictSpot {
    pub path: String,
    /// The first line after the clash, when there is one (trimmed, cut).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_line: Option<String>,
    /// Else the last line before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_line: Option<String>,
}

/// Another department whose waiting work conflicts with this one's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DepartmentConflict {
    pub session_id: String,
    pub department: Option<String>,
    pub spots: Vec<ConflictSpot>,
}
