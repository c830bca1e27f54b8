//! What the queue writes inside a change: queue items with their ids, the
//! plan's assignments marked started or failed, and their audit events.

use crate::clock;
use crate::model::plan;
use crate::model::{Assignment, AssignmentStatus, AuditEvent, QueueItem, QueueStatus};
use crate::store::Tx;

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
