//! What the governance tools answer with: the inbox, a result and a plan as
//! a model reads them, the launcher's facts first and the departments' words
//! after, serialized as JSON text by `runner`.

use serde::Serialize;

use crate::model::TaskResult;

#[derive(Serialize)]
pub(super) struct ToolInbox {
    pub(super) results: Vec<ToolResult>,
    pub(super) result_count: Option<usize>,
    /// Pass as `before` for older results.
    pub(super) next_before: Option<i64>,
    pub(super) running_departments: Vec<String>,
    pub(super) finished_departments: Vec<String>,
    pub(super) queued_departments: Vec<String>,
}

/// One result: the launcher's facts first, then the department's words.
#[derive(Serialize)]
pub(super) struct ToolResult {
    pub(super) department: String,
    pub(super) department_session_id: String,
    pub(super) report_id: String,
    pub(super) source: String,
    pub(super) verified: bool,
    pub(super) read: bool,
    pub(super) reported_at: String,
    pub(super) needs_user_confirmation: bool,
    pub(super) risk_count: usize,
    /// The launcher's record of its worktree (isolated departments only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) commit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) actual_changed_files: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) diff_stat: Option<crate::model::DiffStat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) review: Option<crate::model::ChangeReview>,
    pub(super) summary: String,
    pub(super) changed_files: Vec<String>,
    pub(super) verifications_run: Vec<String>,
    pub(super) verifications_skipped: Vec<String>,
    pub(super) risks: Vec<String>,
    pub(super) next_action: Option<String>,
}

impl From<&TaskResult> for ToolResult {
    fn from(r: &TaskResult) -> Self {
        ToolResult {
            department: r.department.clone(),
            department_session_id: r.department_session_id.clone(),
            report_id: r.report_id.clone(),
            source: r.source.to_string(),
            verified: r.verified,
            read: r.read,
            reported_at: r.reported_at.clone(),
            needs_user_confirmation: r.needs_user_confirmation,
            risk_count: r.risks.len(),
            commit: r.commit.clone(),
            actual_changed_files: r.actual_changed_files.clone(),
            diff_stat: r.diff_stat,
            review: r.review.clone(),
            summary: r.summary.clone(),
            changed_files: r.changed_files.clone(),
            verifications_run: r.verifications_run.clone(),
            verifications_skipped: r.verifications_skipped.clone(),
            risks: r.risks.clone(),
            next_action: r.next_action.clone(),
        }
    }
}

#[derive(Serialize)]
pub(super) struct ToolPlan {
    pub(super) status: String,
    /// How its assignments ended, once it finished or was stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) outcome: Option<String>,
    pub(super) needs_confirmation: bool,
    pub(super) departments_running: usize,
    pub(super) departments_queued: usize,
    pub(super) max_departments: usize,
    pub(super) summary: String,
    pub(super) assignments: Vec<ToolAssignment>,
    /// The hosts an assignment may name in `where` (issue 53).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) hosts: Vec<ToolHost>,
}

/// A host of `launcher.remotes` as the planner sees it.
#[derive(Serialize)]
pub(super) struct ToolHost {
    pub(super) name: String,
    /// `ready`, `refused`, `unreachable`, `checking`, `awaits_trust`.
    pub(super) state: String,
    pub(super) free_slots: usize,
}

#[derive(Serialize)]
pub(super) struct ToolAssignment {
    pub(super) department: String,
    pub(super) task: String,
    pub(super) status: String,
    pub(super) session_id: Option<String>,
    pub(super) error: Option<String>,
    #[serde(rename = "where", skip_serializing_if = "Option::is_none")]
    pub(super) remote: Option<String>,
}
