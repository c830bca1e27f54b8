//! A Zhongshu's inbox (`GET /api/zhongshu_inbox`): a page of its results and
//! its departments' states, marking what it read unless it only peeks. The
//! Python tool's fields sit beside ours with the same meaning.

use serde::Serialize;
use serde_json::json;

use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::model::{QueueItem, Session, TaskResult};
use crate::sessions::Sessions;

/// The inbox answer.
#[derive(Debug, Serialize)]
pub struct InboxView {
    pub session_id: String,
    pub session: Session,
    /// What this call read (Python-era readers take these as new), or, when
    /// peeking, the unread ones of the page.
    pub unread_results: Vec<TaskResult>,
    /// The read results of the page (after this call marked its own).
    pub read_results: Vec<TaskResult>,
    pub running_departments: Vec<Session>,
    pub completed_departments: Vec<Session>,
    pub queued_departments: Vec<QueueItem>,
    pub unread_count: usize,
    pub unread: Vec<TaskResult>,
    pub read: Vec<TaskResult>,
    pub results: Vec<TaskResult>,
    pub result_count: Option<usize>,
    pub next_before: Option<i64>,
    pub running: Vec<String>,
    pub completed: Vec<String>,
    pub queued: Vec<QueueItem>,
    pub peek: bool,
}

/// `GET /api/zhongshu_inbox`: results and department states; marks read unless `peek`.
pub fn inbox_view(
    ctx: &Context,
    sessions: &Sessions,
    id: &str,
    peek: bool,
    limit: usize,
    before: Option<i64>,
    count: bool,
) -> LResult<InboxView> {
    let z = sessions.require_session(id)?;
    if !z.is_zhongshu() {
        return Err(LauncherError::BadRequest(format!(
            "{id} is not a Zhongshu session"
        )));
    }
    // Python-era readers take what this call read as `unread_results`.
    let newly_read: Vec<TaskResult> = if peek {
        Vec::new()
    } else {
        ctx.store.update(|tx| tx.mark_read(id))?
    };
    let marked = newly_read.len();
    if marked > 0 {
        ctx.store.notify(
            "results_read",
            json!({"parent_session_id": id, "count": marked}),
        );
    }
    // Counting costs a pass over this Zhongshu's results: only when asked.
    let (page, total) = if count {
        let (page, total) = ctx.store.results_page_counted(id, limit, before)?;
        (page, Some(total))
    } else {
        (ctx.store.results_page(id, limit, before)?, None)
    };
    let view = ctx.store.read(|s| {
        let results = page.results;
        let unread: Vec<TaskResult> = results.iter().filter(|r| !r.read).cloned().collect();
        let read: Vec<TaskResult> = results.iter().filter(|r| r.read).cloned().collect();
        // Reading answers what it marked as `unread_results` and, as the
        // Python tool did, every read result (those just marked too) as
        // `read_results`.
        let (unread_results, read_results) = if peek {
            (unread.clone(), read.clone())
        } else {
            (newly_read.clone(), read.clone())
        };
        let (running, completed): (Vec<&Session>, Vec<&Session>) =
            s.children_of(id).partition(|c| c.holds_slot());
        let queued: Vec<QueueItem> = s
            .queue
            .iter()
            .filter(|q| q.parent_session_id.as_deref() == Some(id))
            .cloned()
            .collect();
        InboxView {
            session_id: id.to_string(),
            session: z.clone(),
            unread_results,
            read_results,
            running_departments: running.iter().map(|c| (*c).clone()).collect(),
            completed_departments: completed.iter().map(|c| (*c).clone()).collect(),
            queued_departments: queued.clone(),
            unread_count: unread.len(),
            unread,
            read,
            results,
            result_count: total,
            next_before: page.next_before,
            running: running.iter().map(|c| c.id.clone()).collect(),
            completed: completed.iter().map(|c| c.id.clone()).collect(),
            queued,
            peek,
        }
    });
    Ok(view)
}
