//! The facts the views read that cost git, file or database reads: a plan's
//! still-uncommitted files and which of them hold a department's applied
//! change (libgit2, file hashes), the previews of sessions that run no longer
//! (their transcript or conversation files), a department's last report's
//! question and the unread results (the database).

use std::collections::HashMap;
use std::path::Path;

use crate::model::{result_key, Session, State, WorkspaceState};
use crate::store::Store;
use crate::views::{PlanFiles, ReportFact};

/// The plans whose named files the user's tree may still change: those with
/// dirty files at registration that go on or whose work waits.
pub(super) fn plans_with_dirty_files(state: &State) -> impl Iterator<Item = (&str, &[String])> {
    state.plans.values().filter_map(|p| {
        let dirty = &p.base.as_ref()?.dirty_files;
        let shown = p.outcome.is_none() || crate::views::session::work_waits(state, &p.session_id);
        (shown && !dirty.is_empty()).then_some((p.session_id.as_str(), dirty.as_slice()))
    })
}

/// The department sessions whose work is applied in the user's tree, with
/// their recorded commits.
pub(super) fn applied_commits(state: &State) -> Vec<(String, String)> {
    state
        .sessions
        .values()
        .filter_map(|s| {
            let w = s.workspace()?;
            let commit = w.commit.clone()?;
            (w.state == WorkspaceState::Applied).then(|| (s.id.clone(), commit))
        })
        .collect()
}

/// Which of `named` the user's tree still changes, the user's and the
/// departments' applied ones apart.
pub(super) fn plan_files(repo: &Path, named: &[String], applied: &[(String, String)]) -> PlanFiles {
    let dirty = crate::worktrees::dirty::still_dirty(repo, named);
    let (applied, dirty) = crate::worktrees::dirty::attribute_applied(repo, applied, dirty);
    PlanFiles { dirty, applied }
}

/// The last report of a department, as far as it asks the user something.
pub(super) fn report_fact(store: &Store, s: &Session) -> Option<ReportFact> {
    let d = s.department_part()?;
    let key = result_key(
        d.parent_session_id.as_deref()?,
        &s.id,
        d.last_report_id.as_deref()?,
    );
    let result = store.result(&key).ok().flatten()?;
    Some(ReportFact {
        question: result.confirmation_question(),
        report_id: result.report_id,
        needs_confirmation: result.needs_user_confirmation,
        answer: result.confirmation,
    })
}

/// Unread results per Zhongshu (none when the database cannot be read).
pub(super) fn unread_counts(store: &Store) -> HashMap<String, usize> {
    store.unread_counts().unwrap_or_else(|e| {
        tracing::error!("unread counts: {e}");
        HashMap::new()
    })
}
