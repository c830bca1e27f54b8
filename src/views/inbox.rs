//! A Zhongshu's inbox (`GET /api/zhongshu_inbox`): a page of its results and
//! its departments' states, and how many results the developer marked seen
//! (`POST /api/mark_seen`). The Python tool's fields sit beside ours with the
//! same meaning.

use serde::Serialize;

use super::redact::Redact;
use crate::model::{QueueItem, Session, State, TaskResult};

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

impl Redact for InboxView {
    /// What an agent's token may see of it: the records without what was
    /// typed into them (as `SessionView::hide_from_agents`).
    fn hide_from_agents(&mut self) {
        let records = [
            &mut self.running_departments,
            &mut self.completed_departments,
        ];
        for s in std::iter::once(&mut self.session).chain(records.into_iter().flatten()) {
            s.input_history.clear();
        }
    }
}

/// One read of the inbox, as the mailbox did it.
pub struct Read {
    /// What this read marked read (none when peeking).
    pub newly_read: Vec<TaskResult>,
    /// The page, newest first.
    pub results: Vec<TaskResult>,
    pub next_before: Option<i64>,
    /// The Zhongshu's result count, when asked.
    pub total: Option<usize>,
    pub peek: bool,
}

/// The inbox of Zhongshu `z` after `read`.
pub fn inbox(state: &State, z: &Session, read: Read) -> InboxView {
    let id = z.id.as_str();
    let results = read.results;
    let unread: Vec<TaskResult> = results.iter().filter(|r| !r.read).cloned().collect();
    let read_ones: Vec<TaskResult> = results.iter().filter(|r| r.read).cloned().collect();
    // Reading answers what it marked as `unread_results` and, as the Python
    // tool did, every read result (those just marked too) as `read_results`.
    let unread_results = if read.peek {
        unread.clone()
    } else {
        read.newly_read
    };
    let (running, completed) = state.departments_of(id);
    let queued: Vec<QueueItem> = state.queued_of(id).cloned().collect();
    let ids = |list: &[&Session]| list.iter().map(|c| c.id.clone()).collect();
    InboxView {
        session_id: id.to_string(),
        session: z.clone(),
        unread_results,
        read_results: read_ones.clone(),
        running_departments: running.iter().map(|c| (*c).clone()).collect(),
        completed_departments: completed.iter().map(|c| (*c).clone()).collect(),
        queued_departments: queued.clone(),
        unread_count: unread.len(),
        unread,
        read: read_ones,
        results,
        result_count: read.total,
        next_before: read.next_before,
        running: ids(&running),
        completed: ids(&completed),
        queued,
        peek: read.peek,
    }
}

/// `POST /api/mark_seen`: how many results were marked.
#[derive(Debug, Clone, Serialize)]
pub struct SeenView {
    pub marked: usize,
}
