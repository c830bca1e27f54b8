//! The life of plans and the department queue (SPEC 7), as functions over the
//! records: what a plan's status is, what goes into the queue, which item
//! starts next, and what a crash leaves to redo. Which assignments are valid is
//! a rule of `crate::policy::plan`.

use std::collections::HashMap;

use super::{Assignment, AssignmentStatus, Plan, PlanStatus, QueueItem, QueueStatus};

/// `auto_dispatch` of a registered plan (the Python tool's): what this plan
/// started and what of it waits in the queue; a plan that waits for the
/// user's confirmation has started nothing.
#[derive(Debug, Clone, serde::Serialize)]
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

/// A registered plan's status: an empty plan is ready; one asking for
/// confirmation waits; any other is dispatched at once.
pub fn plan_status(assignments: usize, needs_confirmation: bool) -> PlanStatus {
    if assignments == 0 {
        PlanStatus::Ready
    } else if needs_confirmation {
        PlanStatus::AwaitingConfirmation
    } else {
        PlanStatus::Dispatched
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
    }
    new
}

/// Why confirming revision `seen` of `current` must not go ahead: the plan was
/// registered again since the user saw it. No revision (`seen` None) is a
/// Python-era caller that confirms whatever is there.
pub fn stale_revision(parent: &str, current: Option<&Plan>, seen: Option<u64>) -> Option<String> {
    let seen = seen?;
    match current {
        Some(p) if p.revision == seen => None,
        Some(p) => Some(format!(
            "the plan of {parent} changed since you saw it: you confirmed revision {seen}, \
             the plan is now revision {} (registered {}); review the new plan and start it again",
            p.revision, p.registered_at
        )),
        None => Some(format!(
            "{parent} has no plan, so revision {seen} cannot be started"
        )),
    }
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
    }
}

/// The queue item to start next (FIFO), if a slot is free.
pub fn next_startable(queue: &[QueueItem], slots_in_use: usize, max: usize) -> Option<usize> {
    if slots_in_use >= max {
        return None;
    }
    queue.iter().position(|q| q.status == QueueStatus::Queued)
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
mod tests {
    use super::*;

    fn assignment(department: &str, task: &str, selected: bool) -> Assignment {
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
            sent_back: 0,
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
        assert_eq!(plan_status(0, true), PlanStatus::Ready);
        assert_eq!(plan_status(2, true), PlanStatus::AwaitingConfirmation);
        assert_eq!(plan_status(2, false), PlanStatus::Dispatched);
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
    fn every_registration_grows_the_revision_and_a_stale_one_is_refused() {
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
            budget_usd: None,
            budget_tokens: None,
            budget_reached: None,
        };
        let mut first = revised(plan("P1"), None);
        assert_eq!(first.revision, 1);
        // The user sets a budget; the Zhongshu registers again.
        first.budget_usd = Some(2.5);
        first.budget_tokens = Some(90_000);
        let second = revised(plan("P2"), Some(&first));
        assert_eq!(second.revision, 2);
        assert_eq!(
            (second.budget_usd, second.budget_tokens),
            (Some(2.5), Some(90_000))
        );
        assert_eq!(stale_revision("zhongshu-1", Some(&second), Some(2)), None);
        assert_eq!(stale_revision("zhongshu-1", Some(&second), None), None);
        let why = stale_revision("zhongshu-1", Some(&second), Some(1)).unwrap();
        assert!(
            why.contains("changed since you saw it") && why.contains("revision 1"),
            "{why}"
        );
        assert!(stale_revision("zhongshu-1", None, Some(1)).is_some());
    }

    #[test]
    fn the_queue_starts_in_order_within_the_slots() {
        let q = vec![
            item("q-1", QueueStatus::Failed),
            item("q-2", QueueStatus::Queued),
            item("q-3", QueueStatus::Queued),
        ];
        assert_eq!(
            next_startable(&q, 0, 2),
            Some(1),
            "failed items wait for a retry"
        );
        assert_eq!(next_startable(&q, 2, 2), None, "no free slot");
        assert_eq!(next_startable(&q[..1], 0, 2), None);
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
