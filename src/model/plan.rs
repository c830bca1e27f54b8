//! The life of plans and the department queue (SPEC 7), as functions over the
//! records: what goes into the queue and what a crash leaves to redo. Which
//! assignments are valid is a rule of `crate::policy::plan`; which status a
//! plan gets and what starts next, of `crate::policy::queue`.

use std::collections::HashMap;

use super::{Assignment, AssignmentStatus, Plan, PlanStatus, QueueItem, QueueStatus};

/// `auto_dispatch` of a registered plan (the Python tool's): what this plan
/// started and what of it waits in the queue; a plan that waits for the
/// user's confirmation has started nothing.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct AutoDispatch {
    pub started: Vec<String>,
    pub queued_count: usize,
    pub active: usize,
}

impl AutoDispatch {
    pub fn of(plan: &Plan, active: usize) -> AutoDispatch {
        AutoDispatch {
            started: plan
                .assignments
                .iter()
                .filter_map(|a| a.session_id.clone())
                .collect(),
            queued_count: plan
                .assignments
                .iter()
                .filter(|a| a.status == AssignmentStatus::Queued)
                .count(),
            active,
        }
    }
}

/// A newly registered plan, numbered one past the plan it replaces, keeping
/// the budget the user set on it (a Zhongshu registering again must not drop
/// its own limit).
pub fn revised(mut new: Plan, old: Option<&Plan>) -> Plan {
    new.revision = old.map_or(0, |p| p.revision) + 1;
    if let Some(old) = old {
        new.budget_usd = new.budget_usd.or(old.budget_usd);
        new.budget_tokens = new.budget_tokens.or(old.budget_tokens);
        // The user's choices among attempts stand (groups are never
        // numbered again: see `first_free_group`).
        for (group, chosen) in &old.attempt_choices {
            new.attempt_choices
                .entry(group.clone())
                .or_insert_with(|| chosen.clone());
        }
    }
    new
}

/// The first group number no attempt of `plan` (nor a choice in it) uses:
/// a plan registered again numbers its groups from there, so an earlier
/// group's attempts and choice are never mixed with a new one's.
pub fn first_free_group(plan: Option<&Plan>) -> usize {
    let Some(plan) = plan else { return 0 };
    let used = plan
        .assignments
        .iter()
        .filter_map(|a| a.attempt.as_ref().map(|t| t.group + 1))
        .chain(
            plan.attempt_choices
                .keys()
                .filter_map(|g| g.parse::<usize>().ok().map(|g| g + 1)),
        )
        .max();
    used.unwrap_or(0)
}

/// Marks selected, not yet queued assignments queued; returns (index, assignment).
pub fn enqueue_selected(plan: &mut Plan) -> Vec<(usize, Assignment)> {
    let mut out = Vec::new();
    for (i, a) in plan.assignments.iter_mut().enumerate() {
        if a.selected && a.status == AssignmentStatus::Proposed {
            a.status = AssignmentStatus::Queued;
            out.push((i, a.clone()));
        }
    }
    out
}

/// On confirmation: proposed assignments the user did not select are skipped.
pub fn skip_unselected(plan: &mut Plan) {
    for a in plan.assignments.iter_mut() {
        if !a.selected && a.status == AssignmentStatus::Proposed {
            a.status = AssignmentStatus::Skipped;
        }
    }
}

pub fn new_queue_item(
    id: String,
    parent: Option<String>,
    a: &Assignment,
    index: Option<usize>,
    now: String,
) -> QueueItem {
    QueueItem {
        id,
        parent_session_id: parent,
        department: a.department.clone(),
        title: a.title.clone(),
        task: a.task.clone(),
        model: a.model.clone(),
        files: a.files.clone(),
        verify: a.verify.clone(),
        reason: a.reason.clone(),
        assignment_index: index,
        queued_at: now,
        status: QueueStatus::Queued,
        error: None,
        attempts: 0,
        workspace_from: None,
        remote: a.remote.clone(),
        waiting: None,
        attempt: a.attempt.clone(),
    }
}

/// After a crash: an item whose session was recorded (`started`: queue id ->
/// session id) has started and leaves the queue; one caught starting waits again.
/// Returns the queue to keep and the items found started.
pub fn recover_queue(
    queue: Vec<QueueItem>,
    started: &HashMap<String, String>,
) -> (Vec<QueueItem>, Vec<(QueueItem, String)>) {
    let mut kept = Vec::new();
    let mut done = Vec::new();
    for mut item in queue {
        if let Some(sid) = started.get(&item.id) {
            done.push((item, sid.clone()));
            continue;
        }
        if item.status == QueueStatus::Starting {
            item.status = QueueStatus::Queued;
        }
        kept.push(item);
    }
    (kept, done)
}

/// A finished plan runs again (a retry): no longer finished.
pub fn reopen(p: &mut Plan) {
    if p.status == PlanStatus::Finished {
        p.status = PlanStatus::Dispatched;
    }
    p.finished_at = None;
    p.outcome = None;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An assignment as a plan proposes it, for the rules' tests.
    pub(crate) fn assignment(department: &str, task: &str, selected: bool) -> Assignment {
        Assignment {
            department: department.into(),
            title: department.into(),
            duty: String::new(),
            task: task.into(),
            model: "gpt-5.4".into(),
            files: Vec::new(),
            verify: Vec::new(),
            reason: None,
            model_reason: None,
            scope_note: None,
            selected,
            status: AssignmentStatus::Proposed,
            session_id: None,
            queue_id: None,
            error: None,
            earlier_sessions: Vec::new(),
            attempt: None,
            remote: None,
            sent_back: 0,
            review_comments: 0,
        }
    }

    fn item(id: &str, status: QueueStatus) -> QueueItem {
        let a = assignment("lingyubu", "t", true);
        let mut q = new_queue_item(
            id.into(),
            Some("zhongshu-1".into()),
            &a,
            Some(0),
            "now".into(),
        );
        q.status = status;
        q
    }

    #[test]
    fn plan_statuses_and_queueing() {
        let mut plan = Plan {
            session_id: "zhongshu-1".into(),
            revision: 1,
            summary: "s".into(),
            assignments: vec![
                assignment("lingyubu", "a", true),
                assignment("menxia", "review", false),
            ],
            needs_confirmation: true,
            status: PlanStatus::AwaitingConfirmation,
            registered_at: "now".into(),
            confirmed_at: None,
            base: None,
            finished_at: None,
            outcome: None,
            attempt_choices: Default::default(),
            budget_usd: None,
            budget_tokens: None,
            budget_reached: None,
        };
        let queued = enqueue_selected(&mut plan);
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].0, 0);
        assert!(enqueue_selected(&mut plan).is_empty(), "queued once only");
        skip_unselected(&mut plan);
        assert_eq!(plan.assignments[1].status, AssignmentStatus::Skipped);
        assert_eq!(plan.assignments[0].status, AssignmentStatus::Queued);
    }

    #[test]
    fn every_registration_grows_the_revision_and_keeps_the_budget() {
        let plan = |summary: &str| Plan {
            session_id: "zhongshu-1".into(),
            revision: 0,
            summary: summary.into(),
            assignments: Vec::new(),
            needs_confirmation: true,
            status: PlanStatus::AwaitingConfirmation,
            registered_at: "now".into(),
            confirmed_at: None,
            base: None,
            finished_at: None,
            outcome: None,
            attempt_choices: Default::default(),
            budget_usd: None,
            budget_tokens: None,
            budget_reached: None,
        };
        let mut first = revised(plan("P1"), None);
        assert_eq!(first.revision, 1);
        // The user sets a budget; the Zhongshu registers again.
        first.budget_usd = Some(2.5);
        first.budget_tokens = Some(90_000);
        // The user chose among group 0's attempts.
        first
            .attempt_choices
            .insert("0".into(), "lingyubu-2".into());
        let mut attempt = tests::assignment("lingyubu", "a", true);
        attempt.attempt = Some(crate::model::Attempt {
            group: 3,
            n: 1,
            of: 2,
            agent: None,
        });
        first.assignments.push(attempt);
        assert_eq!(first_free_group(Some(&first)), 4);
        assert_eq!(first_free_group(None), 0);
        let second = revised(plan("P2"), Some(&first));
        assert_eq!(second.revision, 2);
        assert_eq!(
            (second.budget_usd, second.budget_tokens),
            (Some(2.5), Some(90_000))
        );
        assert_eq!(
            second.attempt_choices.get("0").map(String::as_str),
            Some("lingyubu-2")
        );
        assert_eq!(
            first_free_group(Some(&second)),
            1,
            "its choice's group stays taken"
        );
    }

    #[test]
    fn recovery_neither_loses_nor_doubles_a_start() {
        let q = vec![
            item("q-1", QueueStatus::Starting),
            item("q-2", QueueStatus::Starting),
            item("q-3", QueueStatus::Queued),
        ];
        let started = HashMap::from([("q-1".to_string(), "lingyubu-1".to_string())]);
        let (kept, done) = recover_queue(q, &started);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].1, "lingyubu-1");
        assert_eq!(
            kept.iter().map(|q| q.id.as_str()).collect::<Vec<_>>(),
            ["q-2", "q-3"]
        );
        assert!(kept.iter().all(|q| q.status == QueueStatus::Queued));
    }
}
