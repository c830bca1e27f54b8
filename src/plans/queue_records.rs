//! What the queue writes inside a change: queue items with their ids, the
//! plan's assignments marked started, failed or dropped, a plan reopened by a
//! retry, and their audit events.

use crate::clock;
use crate::model::plan;
use crate::model::{Assignment, AssignmentStatus, AuditEvent, QueueItem, QueueStatus, Session};
use crate::store::Tx;

/// Why queued items are dropped, as the audit log words it.
pub(super) const PLAN_STOPPED: &str = "plan_stopped";
pub(super) const PLANNER_CLOSED: &str = "planner_closed";

pub(super) fn queue_item(
    id: String,
    parent: Option<String>,
    a: &Assignment,
    index: Option<usize>,
) -> QueueItem {
    plan::new_queue_item(id, parent, a, index, clock::now_rfc3339())
}

pub(super) fn audit_queued(tx: &mut Tx, q: &QueueItem) {
    tx.audit(AuditEvent::AssignmentQueued {
        queue_id: q.id.clone(),
        parent_session_id: q.parent_session_id.clone(),
        department: q.department.clone(),
        model: q.model.clone(),
    });
}

/// Gives queued assignments queue ids, appends them, and records the ids on the plan.
pub(super) fn assign_queue_ids(tx: &mut Tx, parent: &str, queued: Vec<(usize, Assignment)>) {
    for (index, a) in queued {
        let id = tx.next_id("q");
        let item = queue_item(id.clone(), Some(parent.to_string()), &a, Some(index));
        if let Some(pa) = tx
            .plan_mut(parent)
            .and_then(|p| p.assignments.get_mut(index))
        {
            pa.queue_id = Some(id);
        }
        audit_queued(tx, &item);
        tx.queue_mut().push(item);
    }
}

/// A queue item's session started: it leaves the queue.
pub(super) fn started(tx: &mut Tx, item: &QueueItem, session_id: &str) {
    tx.queue_mut().retain(|q| q.id != item.id);
    mark_assignment(
        tx,
        item,
        AssignmentStatus::Started,
        Some(session_id.to_string()),
        None,
    );
    tx.audit(AuditEvent::AssignmentStarted {
        queue_id: item.id.clone(),
        session_id: session_id.to_string(),
        department: item.department.clone(),
        parent_session_id: item.parent_session_id.clone(),
        recovered: false,
    });
}

/// A queue item could not start: it stays, marked failed with the error.
/// A queued item whose start its host could not take now: queued again,
/// saying why, until the host is ready.
pub(super) fn waits_again(tx: &mut Tx, item: &QueueItem, why: &str) {
    if let Some(q) = tx.queue_mut().iter_mut().find(|q| q.id == item.id) {
        q.status = QueueStatus::Queued;
        q.waiting = Some(why.to_string());
    }
}

pub(super) fn failed(tx: &mut Tx, item: &QueueItem, error: &str) {
    if let Some(q) = tx.queue_mut().iter_mut().find(|q| q.id == item.id) {
        q.status = QueueStatus::Failed;
        q.error = Some(error.to_string());
    }
    mark_assignment(
        tx,
        item,
        AssignmentStatus::Failed,
        None,
        Some(error.to_string()),
    );
    tx.audit(AuditEvent::AssignmentFailed {
        queue_id: item.id.clone(),
        department: item.department.clone(),
        error: error.to_string(),
    });
}

pub(crate) fn mark_assignment(
    tx: &mut Tx,
    item: &QueueItem,
    status: AssignmentStatus,
    session_id: Option<String>,
    error: Option<String>,
) {
    let (Some(parent), Some(index)) = (item.parent_session_id.as_deref(), item.assignment_index)
    else {
        return;
    };
    let matches = tx
        .plan(parent)
        .and_then(|p| p.assignments.get(index))
        .is_some_and(|a| a.queue_id.as_deref() == Some(item.id.as_str()));
    if !matches {
        return;
    }
    if let Some(a) = tx
        .plan_mut(parent)
        .and_then(|p| p.assignments.get_mut(index))
    {
        a.status = status;
        a.session_id = session_id;
        a.error = error;
    }
}

/// Removes a planner's waiting items from the queue (one being started stays:
/// it is about to be a session), marks their assignments dropped and audits
/// each. Returns what was dropped.
pub(super) fn drop_queued(tx: &mut Tx, parent: &str, why: &str) -> Vec<QueueItem> {
    let dropped: Vec<QueueItem> = tx
        .queue()
        .iter()
        .filter(|q| q.parent_session_id.as_deref() == Some(parent))
        .filter(|q| q.status != QueueStatus::Starting)
        .cloned()
        .collect();
    if dropped.is_empty() {
        return dropped;
    }
    tx.queue_mut()
        .retain(|q| !dropped.iter().any(|d| d.id == q.id));
    for item in &dropped {
        mark_assignment(tx, item, AssignmentStatus::Dropped, None, None);
        tx.audit(AuditEvent::AssignmentDropped {
            queue_id: item.id.clone(),
            department: item.department.clone(),
            parent_session_id: item.parent_session_id.clone(),
            reason: why.to_string(),
        });
    }
    dropped
}

/// Inside the queue's change: items whose planner the developer closed (by
/// any way: the API, its terminal, a stopped plan) are dropped before a start
/// is chosen.
pub(super) fn drop_orphaned(tx: &mut Tx) {
    let closed: Vec<String> = tx
        .queue()
        .iter()
        .filter_map(|q| q.parent_session_id.clone())
        .filter(|p| tx.session(p).is_some_and(Session::closed_by_user))
        .collect();
    for parent in closed {
        drop_queued(tx, &parent, PLANNER_CLOSED);
    }
}
