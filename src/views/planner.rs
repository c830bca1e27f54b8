//! What a planner's view adds to a session's: its departments, unread
//! results, and how its plan's work stands (counted by each assignment's
//! newest attempt), apart from the session view every session has.

use serde::Serialize;

use super::snapshot::Snapshot;
use crate::model::{AppliedFile, Session, State, WorkspaceState};

/// What a Zhongshu's view adds (its `plan_status` is the plan's, set on the record).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ZhongshuFields {
    pub child_department_ids: Vec<String>,
    pub unread_result_count: usize,
    /// The registered plan's revision (null before one): a page showing a plan
    /// knows it is stale when this moves.
    pub plan_revision: Option<u64>,
    /// The user's uncommitted files the plan names, as long as they stay
    /// uncommitted and the plan goes on: its departments start from the
    /// plan's base commit and do not see them (Needs you says so).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan_dirty_files: Vec<String>,
    /// Uncommitted files the plan names that hold a department's applied
    /// change, unchanged since: the department's, not the user's (commit them
    /// when ready; nobody asks to revert them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan_applied_files: Vec<AppliedFile>,
    /// How the plan's assignments ended, once it finished or was stopped.
    pub plan_outcome: Option<crate::model::PlanOutcome>,
    pub plan_finished_at: Option<String>,
    /// When the plan was registered, and what it started and queued (the
    /// Python tool's `plan_reported_at`, `plan_auto_dispatch`); null before one.
    pub plan_reported_at: Option<String>,
    pub plan_auto_dispatch: Option<crate::model::AutoDispatch>,
    /// How its assignments' work stands (each by its newest attempt); absent
    /// before any work was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_results: Option<PlanResults>,
}

/// How a plan's recorded work stands, counted by each assignment's newest
/// attempt, and the line that says it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlanResults {
    /// Applied, merged, or merged on the forge.
    pub integrated: usize,
    /// Thrown away by the user, or its pull request closed unmerged.
    pub discarded: usize,
    /// Recorded and waiting for the user's review.
    pub waiting: usize,
    pub conflicting: usize,
    /// A pull request is open.
    pub in_review: usize,
    /// "Results: 2 integrated, 1 discarded." ("N integrated" always first).
    pub text: String,
}

/// A Zhongshu's plan fields: its departments, unread results, and its plan's
/// revision, outcome and the user's files it names (from the facts).
pub(super) fn zhongshu_fields(snap: &Snapshot, session: &Session) -> Option<ZhongshuFields> {
    if !session.is_zhongshu() {
        return None;
    }
    let state = &snap.state;
    let plan = state.plans.get(&session.id);
    let files = plan
        .filter(|p| plan_files_shown(state, p))
        .and_then(|_| snap.facts.plan_files.get(&session.id))
        .cloned()
        .unwrap_or_default();
    Some(ZhongshuFields {
        child_department_ids: state
            .children_of(&session.id)
            .map(|c| c.id.clone())
            .collect(),
        unread_result_count: snap.facts.unread.get(&session.id).copied().unwrap_or(0),
        plan_revision: plan.map(|p| p.revision),
        plan_dirty_files: files.dirty,
        plan_applied_files: files.applied,
        plan_outcome: plan.and_then(|p| p.outcome),
        plan_finished_at: plan.and_then(|p| p.finished_at.clone()),
        plan_reported_at: plan.map(|p| p.registered_at.clone()),
        plan_auto_dispatch: plan.map(|p| {
            let active = state.sessions.values().filter(|s| s.holds_slot()).count();
            crate::model::AutoDispatch::of(p, active)
        }),
        plan_results: plan.and_then(|p| plan_results(state, p)),
    })
}

/// How plan `plan`'s work stands, by each assignment's newest attempt; None
/// while none has work recorded.
pub fn plan_results(state: &State, plan: &crate::model::Plan) -> Option<PlanResults> {
    let mut r = PlanResults::default();
    for a in &plan.assignments {
        let Some(mut id) = a.session_id.as_deref() else {
            continue;
        };
        // A send-back's successor is the attempt that counts (a few hops at most).
        for _ in 0..state.sessions.len() {
            match state
                .sessions
                .get(id)
                .and_then(|s| s.workspace())
                .and_then(|w| w.successor.as_deref())
            {
                Some(next) => id = next,
                None => break,
            }
        }
        let Some(w) = state.sessions.get(id).and_then(|s| s.workspace()) else {
            continue;
        };
        match w.state {
            WorkspaceState::Applied | WorkspaceState::Merged | WorkspaceState::PrMerged => {
                r.integrated += 1
            }
            WorkspaceState::Discarded | WorkspaceState::PrClosed => r.discarded += 1,
            WorkspaceState::Pending => r.waiting += 1,
            WorkspaceState::Conflicting => r.conflicting += 1,
            WorkspaceState::InReview => r.in_review += 1,
            _ => {}
        }
    }
    let parts: Vec<String> = [
        (r.integrated, "integrated"),
        (r.discarded, "discarded"),
        (r.waiting, "waiting for your review"),
        (r.conflicting, "conflicting"),
        (r.in_review, "in review"),
    ]
    .into_iter()
    .enumerate()
    // "N integrated" always, the others when there are any.
    .filter(|(i, (n, _))| *i == 0 || *n > 0)
    .map(|(_, (n, what))| format!("{n} {what}"))
    .collect();
    if r == PlanResults::default() {
        return None;
    }
    r.text = format!("Results: {}.", parts.join(", "));
    Some(r)
}

/// Whether the files a plan names are still shown: while it goes on, while
/// its work waits, or while a department's Apply may still be uncommitted.
pub fn plan_files_shown(state: &State, plan: &crate::model::Plan) -> bool {
    plan.outcome.is_none()
        || work_waits(state, &plan.session_id)
        || applied(state, &plan.session_id)
}

/// Whether a department of Zhongshu `z` has its work applied.
fn applied(state: &State, z: &str) -> bool {
    state.children_of(z).any(|c| {
        c.workspace()
            .is_some_and(|w| w.state == WorkspaceState::Applied)
    })
}

/// Whether a department of Zhongshu `z` has work not yet integrated or discarded.
fn work_waits(state: &State, z: &str) -> bool {
    state.children_of(z).any(|c| {
        c.workspace()
            .is_some_and(|w| !w.state.is_settled() && w.state != WorkspaceState::SentBack)
    })
}
