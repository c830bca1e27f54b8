//! The department mailbox (SPEC 8 and 9): how departments report back.
//!
//! A department drops a JSON file into its Zhongshu's `incoming/` folder; the
//! watcher notices it within milliseconds, ingestion registers it idempotently,
//! writes the handoff packet and archives the file; then the department is
//! closed, the queue pumped and the Zhongshu told. A department that exits
//! without reporting gets a `launcher_fallback` result after a grace period.

pub mod folders;
pub mod handoff;
pub mod inbox;
pub mod ingest;
pub mod markdown;
mod notices;
pub mod safe_read;
pub mod send;
mod submit;
pub mod submit_client;
pub mod watchdog;
pub mod watcher;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::launcher::Launcher;
use watcher::{Job, MailboxWatcher};

/// Wait after a department exits before its fallback result is registered, so a
/// report written just before exiting still wins.
pub const FALLBACK_GRACE: Duration = Duration::from_secs(2);
/// Results within this window make one notice to the Zhongshu.
pub const NOTICE_WINDOW: Duration = Duration::from_secs(2);

/// Live mailbox machinery of one launcher.
#[derive(Default)]
pub struct MailboxRuntime {
    jobs: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
    watcher: Mutex<Option<MailboxWatcher>>,
    /// Result keys waiting to be announced, per Zhongshu.
    pending_notices: notices::PendingNotices,
    /// Whether the ingestion thread is in a scan, and since when.
    pub watchdog: watchdog::Watchdog,
}

impl MailboxRuntime {
    fn send(&self, job: Job) {
        if let Some(tx) = self.jobs.lock().unwrap().as_ref() {
            let _ = tx.send(job);
        }
    }
}

/// Starts the watcher and the ingestion thread, ingests what arrived while the
/// launcher was down, and registers fallbacks owed from before a restart.
pub async fn start(launcher: &Arc<Launcher>) {
    let (tx, rx) = std::sync::mpsc::channel();
    *launcher.mailbox.jobs.lock().unwrap() = Some(tx.clone());
    let weak = Arc::downgrade(launcher);
    if let Err(e) = std::thread::Builder::new()
        .name("mailbox".into())
        .spawn(move || watcher::run(weak, rx))
    {
        tracing::error!("mailbox: cannot start the ingestion thread: {e}");
        return;
    }
    match watcher::watch(&launcher.paths.mailbox_root(), tx) {
        Ok(w) => *launcher.mailbox.watcher.lock().unwrap() = Some(w),
        Err(e) => tracing::error!(
            "mailbox: cannot watch {}: {e}",
            launcher.paths.mailbox_root().display()
        ),
    }
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    launcher.mailbox.send(Job::ScanAll);
    launcher.mailbox.send(Job::Sync(String::new(), done_tx));
    let _ = done_rx.await;
    let ended: Vec<String> = launcher.store.read(|s| {
        s.sessions
            .values()
            .filter(|x| x.is_department() && !x.is_running() && !x.has_reported())
            .map(|x| x.id.clone())
            .collect()
    });
    let owed = ended
        .into_iter()
        .filter(|id| !launcher.store.has_result_for(id).unwrap_or(true));
    for id in owed {
        if let Some(key) = launcher.register_fallback(&id) {
            let parent = launcher.session(&id).and_then(|s| s.parent_session_id);
            if let Some(parent) = parent {
                queue_notice(launcher, &parent, key);
            }
        }
    }
}

/// A new Zhongshu's folder exists: scan it (the recursive watch covers it).
pub fn watch_zhongshu(launcher: &Arc<Launcher>, id: &str) {
    launcher.mailbox.send(Job::Scan(id.to_string()));
}

/// A department exited: ingest what it left, wait, then register a fallback if
/// it still has not reported.
pub fn department_exited(launcher: &Arc<Launcher>, id: &str) {
    let Some(parent) = launcher.session(id).and_then(|s| s.parent_session_id) else {
        return;
    };
    if launcher
        .session(id)
        .map(|s| s.has_reported())
        .unwrap_or(true)
    {
        return;
    }
    let launcher = Arc::clone(launcher);
    let id = id.to_string();
    tokio::spawn(async move {
        sync_scan(&launcher, &parent).await;
        tokio::time::sleep(FALLBACK_GRACE).await;
        sync_scan(&launcher, &parent).await;
        if let Some(key) = launcher.register_fallback(&id) {
            queue_notice(&launcher, &parent, key);
            launcher.pump_queue().await;
        }
    });
}

async fn sync_scan(launcher: &Arc<Launcher>, zhongshu_id: &str) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    launcher
        .mailbox
        .send(Job::Sync(zhongshu_id.to_string(), tx));
    let _ = tokio::time::timeout(Duration::from_secs(10), rx).await;
}

/// Step 6 after a batch: close the reporting departments, pump, notify.
pub(crate) fn after_results(
    launcher: &Arc<Launcher>,
    zhongshu_id: &str,
    registered: Vec<(String, String)>,
) {
    let l = Arc::clone(launcher);
    let zid = zhongshu_id.to_string();
    launcher.spawn(async move {
        let launcher = l;
        for (key, _) in &registered {
            queue_notice(&launcher, &zid, key.clone());
        }
        launcher.pump_queue().await;
        // Once per department: a burst of reports from one department is one close.
        let mut closed = std::collections::HashSet::new();
        for (_, session_id) in registered {
            if closed.insert(session_id.clone()) {
                launcher.auto_close(&session_id).await;
            }
        }
    });
}

/// Adds a result to the next notice; the first one in a window schedules it.
pub(crate) fn queue_notice(launcher: &Arc<Launcher>, zhongshu_id: &str, key: String) {
    if !launcher.mailbox.pending_notices.add(zhongshu_id, key) {
        return;
    }
    let l2 = Arc::clone(launcher);
    let zid = zhongshu_id.to_string();
    launcher.spawn(async move {
        tokio::time::sleep(NOTICE_WINDOW).await;
        let keys = l2.mailbox.pending_notices.take(&zid);
        l2.send_notice(&zid, &keys).await;
    });
}
