//! The department mailbox (SPEC 8 and 9): how departments report back.
//!
//! A department drops a JSON file into its Zhongshu's `incoming/` folder; the
//! watcher notices it within milliseconds, ingestion registers it idempotently,
//! writes the handoff packet and archives the file; then the department is
//! closed, the queue pumped and the Zhongshu told. A department that exits
//! without reporting gets a `launcher_fallback` result after a grace period.

pub mod client;
pub mod handoff;
pub mod inbox_read;
pub mod ingest;
pub mod markdown;
mod names;
pub mod notices;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::context::Context;
use crate::sessions::Sessions;
use crate::signals::{Signal, SignalTx};
use ingest::watcher::{Job, MailboxWatcher};

/// Wait after a department exits before its fallback result is registered, so a
/// report written just before exiting still wins.
pub const FALLBACK_GRACE: Duration = Duration::from_secs(2);
/// Results within this window make one notice to a Zhongshu that is working
/// (an idle one is told at once).
pub const NOTICE_WINDOW: Duration = Duration::from_secs(2);

/// The department mailbox: watching, ingestion, fallbacks, notices and the inbox.
/// It tells the launcher (signals) when results are in or a slot may have freed.
pub struct Mailbox {
    pub(crate) ctx: Arc<Context>,
    pub(crate) sessions: Arc<Sessions>,
    signals: SignalTx,
    jobs: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
    watcher: Mutex<Option<MailboxWatcher>>,
    /// Taking reports in (the ingestion thread's work).
    pub ingest: Arc<ingest::Ingest>,
    /// Telling the Zhongshus.
    pub notices: Arc<notices::Notices>,
    /// The ingestion thread, joined at shutdown.
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Mailbox {
    pub fn new(ctx: Arc<Context>, sessions: Arc<Sessions>, signals: SignalTx) -> Mailbox {
        let ingest = Arc::new(ingest::Ingest::new(Arc::clone(&ctx)));
        let notices = Arc::new(notices::Notices::new(
            Arc::clone(&ctx),
            Arc::clone(&sessions),
        ));
        Mailbox {
            ctx,
            sessions,
            signals,
            jobs: Mutex::new(None),
            watcher: Mutex::new(None),
            ingest,
            notices,
            thread: Mutex::new(None),
        }
    }

    fn send(&self, job: Job) {
        if let Some(tx) = self.jobs.lock().unwrap().as_ref() {
            if tx.send(job).is_err() {
                tracing::warn!("mailbox: the ingestion thread has ended");
            }
        }
    }

    /// Whether ingestion is idle, busy, or stuck (for `/healthz` and the status).
    pub fn ingestion_health(&self) -> crate::model::IngestionHealth {
        let limit = Duration::from_secs(self.ctx.config.launcher.mailbox_stuck_seconds);
        self.ingest.watchdog.health(limit)
    }

    /// Starts the watcher and the ingestion thread, ingests what arrived while the
    /// launcher was down, and registers fallbacks owed from before a restart.
    pub async fn start(self: &Arc<Self>) {
        let (tx, rx) = std::sync::mpsc::channel();
        *self.jobs.lock().unwrap() = Some(tx.clone());
        let weak = Arc::downgrade(self);
        match std::thread::Builder::new()
            .name("mailbox".into())
            .spawn(move || ingest::watcher::run(weak, rx))
        {
            Ok(handle) => *self.thread.lock().unwrap() = Some(handle),
            Err(e) => {
                tracing::error!("mailbox: cannot start the ingestion thread: {e}");
                return;
            }
        }
        let root = self.ctx.paths.mailbox_root();
        match ingest::watcher::watch(&root, tx) {
            Ok(w) => *self.watcher.lock().unwrap() = Some(w),
            Err(e) => tracing::error!("mailbox: cannot watch {}: {e}", root.display()),
        }
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        self.send(Job::ScanAll);
        self.send(Job::Sync(String::new(), done_tx));
        if done_rx.await.is_err() {
            tracing::warn!("mailbox: the start-up scan did not finish");
        }
        let ended: Vec<String> = self.ctx.store.read(|s| {
            s.sessions
                .values()
                .filter(|x| x.is_department() && !x.is_running() && !x.has_reported())
                // Stopped with the launcher: its plan resumes it (Resume plan).
                .filter(|x| x.ended_reason.as_deref() != Some("launcher_stopped"))
                .map(|x| x.id.clone())
                .collect()
        });
        let owed = ended
            .into_iter()
            .filter(|id| !self.ctx.store.has_result_for(id).unwrap_or(true));
        for id in owed {
            if let Some(key) = ingest::register_fallback(&self.ctx, &id) {
                let parent = self
                    .sessions
                    .session(&id)
                    .and_then(|s| s.parent_session_id().map(str::to_string));
                if let Some(parent) = parent {
                    self.notices.queue_notice(&parent, vec![key]);
                }
            }
        }
    }

    /// Stops watching and waits for the ingestion thread to end.
    pub async fn stop(&self) {
        self.watcher.lock().unwrap().take();
        self.jobs.lock().unwrap().take();
        let thread = self.thread.lock().unwrap().take();
        if let Some(thread) = thread {
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::error!("mailbox: the ingestion thread ended badly");
            }
        }
    }

    /// A new Zhongshu's folder exists: scan it (the recursive watch covers it).
    pub fn watch_zhongshu(&self, id: &str) {
        self.send(Job::Scan(id.to_string()));
    }

    /// A department exited: ingest what it left, wait, then register a fallback if
    /// it still has not reported.
    pub fn department_exited(self: &Arc<Self>, id: &str) {
        let Some(session) = self.sessions.session(id) else {
            return;
        };
        let Some(parent) = session.parent_session_id().map(str::to_string) else {
            return;
        };
        if session.has_reported() {
            return;
        }
        let this = Arc::clone(self);
        let id = id.to_string();
        self.ctx.spawn(async move {
            this.sync_scan(&parent).await;
            tokio::time::sleep(FALLBACK_GRACE).await;
            this.sync_scan(&parent).await;
            if let Some(key) = ingest::register_fallback(&this.ctx, &id) {
                this.notices.queue_notice(&parent, vec![key]);
                this.signal(Signal::SlotFreed);
            }
        });
    }

    async fn sync_scan(&self, zhongshu_id: &str) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Job::Sync(zhongshu_id.to_string(), tx));
        if tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .is_err()
        {
            tracing::warn!("mailbox: scanning {zhongshu_id} took over 10 s");
        }
    }

    fn signal(&self, signal: Signal) {
        if self.signals.send(signal).is_err() {
            tracing::warn!("mailbox: the launcher is stopping");
        }
    }

    /// Step 6 after a batch: notify the Zhongshu; the launcher pumps the queue and
    /// closes the reporting departments.
    pub(crate) fn after_results(
        self: &Arc<Self>,
        zhongshu_id: &str,
        registered: Vec<(String, String)>,
    ) {
        self.notices.queue_notice(
            zhongshu_id,
            registered.iter().map(|(k, _)| k.clone()).collect(),
        );
        self.signal(Signal::ResultsRegistered {
            zhongshu_id: zhongshu_id.to_string(),
            registered,
        });
    }
}
