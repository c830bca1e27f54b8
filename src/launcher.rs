//! The launcher: one object tying configuration, state, live PTYs, terminals and
//! the mailbox together, shared by the HTTP layer and background tasks.
//!
//! Its operations live beside their concepts (`sessions`, `mailbox`, `terminal`);
//! this file holds the object itself, start-up recovery and shutdown.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::json;

use crate::config::Config;
use crate::model::{SessionStatus, TerminalStatus};
use crate::pty::{self, Pty};
use crate::store::{Paths, Store, StoreError};
use crate::terminal::Terminals;

/// A failed operation, with the HTTP status it maps to.
#[derive(Debug, thiserror::Error)]
pub enum LauncherError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A limit is reached (429).
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for LauncherError {
    fn from(e: StoreError) -> Self {
        LauncherError::Internal(e.to_string())
    }
}

impl From<anyhow::Error> for LauncherError {
    fn from(e: anyhow::Error) -> Self {
        LauncherError::Internal(format!("{e:#}"))
    }
}

pub type LResult<T> = Result<T, LauncherError>;

pub struct Launcher {
    pub repo: PathBuf,
    pub config: Config,
    pub paths: Paths,
    pub store: Store,
    pub token: String,
    /// Session tokens: agents get these, never `token`.
    pub credentials: Arc<crate::credentials::Credentials>,
    url: OnceLock<String>,
    audit_chain_problem: OnceLock<String>,
    ptys: Mutex<HashMap<String, Arc<Pty>>>,
    pub terminals: Terminals,
    /// Serializes Zhongshu starts (the `max_zhongshu` limit).
    pub(crate) zhongshu_start: tokio::sync::Mutex<()>,
    /// Serializes queue pumps so two releases never over-start.
    pub(crate) pump_lock: tokio::sync::Mutex<()>,
    pub(crate) mailbox: crate::mailbox::MailboxRuntime,
    pub(crate) status_cache: crate::sessions::view::StatusCache,
    /// Turns true when the launcher stops, ending long-lived streams.
    stopping: tokio::sync::watch::Sender<bool>,
    /// The runtime background work runs on, for threads that are not on it.
    runtime: OnceLock<tokio::runtime::Handle>,
}

impl Launcher {
    /// Opens the state directory and recovers from the previous run (SPEC 14).
    pub fn open(repo: &Path, config: Config, state_dir: PathBuf) -> anyhow::Result<Arc<Launcher>> {
        let repo = repo.canonicalize().unwrap_or_else(|_| repo.to_path_buf());
        let paths = Paths::new(state_dir);
        for dir in [
            paths.state_dir.clone(),
            paths.prompts_dir(),
            paths.logs_dir(),
            paths.mailbox_root(),
        ] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        }
        let store = Store::open(&paths.state_dir)?;
        let launcher = Arc::new(Launcher {
            repo,
            config,
            paths,
            store,
            token: crate::terminal::generate_token(),
            credentials: Default::default(),
            url: OnceLock::new(),
            audit_chain_problem: OnceLock::new(),
            ptys: Mutex::new(HashMap::new()),
            terminals: Terminals::new(Vec::new()),
            pump_lock: tokio::sync::Mutex::new(()),
            zhongshu_start: tokio::sync::Mutex::new(()),
            mailbox: Default::default(),
            runtime: OnceLock::new(),
            status_cache: Default::default(),
            stopping: tokio::sync::watch::Sender::new(false),
        });
        launcher.recover()?;
        Ok(launcher)
    }

    /// Marks sessions of an earlier launcher exited and stops their processes,
    /// in one change with its audit events.
    fn recover(&self) -> anyhow::Result<()> {
        let now = crate::clock::now_rfc3339();
        let stale: Vec<(String, Option<u32>)> = self.store.update(|tx| {
            let running: Vec<String> = tx
                .state()
                .sessions
                .values()
                .filter(|s| s.status == SessionStatus::Running)
                .map(|s| s.id.clone())
                .collect();
            let mut stale = Vec::new();
            for id in running {
                if let Some(session) = tx.session_mut(&id) {
                    session.status = SessionStatus::Exited;
                    session.ended_at = Some(now.clone());
                    session.ended_reason = Some("launcher_restart".into());
                    session.closing = false;
                    stale.push((id.clone(), session.pid));
                }
                tx.audit(
                    "session_exited",
                    json!({"session_id": id, "reason": "launcher_restart"}),
                );
            }
            recover_queue(tx);
            for id in tx.terminal_ids() {
                if let Some(t) = tx.terminal_mut(&id) {
                    if t.status != TerminalStatus::Closed {
                        t.status = TerminalStatus::Closed;
                        t.closed_at = Some(now.clone());
                    }
                }
            }
            stale
        })?;
        for (id, pid) in &stale {
            if let Some(pid) = pid.filter(|pid| runs_session(*pid, id)) {
                // The session led its own process group; what is left of it goes.
                pty::signal_group(pid, libc::SIGKILL);
            }
        }
        Ok(())
    }

    /// Called once the server is bound: records the URL agents and terminals use.
    pub fn set_url(&self, url: String) {
        let _ = self.url.set(url.clone());
        self.terminals.set_allowed_origins(vec![url.clone()]);
    }

    pub fn url(&self) -> &str {
        self.url.get().map(String::as_str).unwrap_or("")
    }

    /// Runs a task on the launcher's runtime, from any thread.
    pub(crate) fn spawn<F>(&self, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(fut);
            }
            Err(_) => match self.runtime.get() {
                Some(h) => {
                    h.spawn(fut);
                }
                None => tracing::error!("no runtime to run background work on"),
            },
        }
    }

    pub(crate) fn pty(&self, id: &str) -> Option<Arc<Pty>> {
        self.ptys.lock().unwrap().get(id).cloned()
    }

    pub(crate) fn insert_pty(&self, id: &str, pty: Arc<Pty>) {
        self.ptys.lock().unwrap().insert(id.to_string(), pty);
    }

    pub(crate) fn remove_pty(&self, id: &str) -> Option<Arc<Pty>> {
        self.ptys.lock().unwrap().remove(id)
    }

    pub(crate) fn live_ptys(&self) -> Vec<(String, Arc<Pty>)> {
        self.ptys
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect()
    }

    /// Work after the server is ready: resume the queue, watch mailboxes, register
    /// fallbacks owed from before a restart.
    pub async fn start_background(self: &Arc<Self>) {
        let _ = self.runtime.set(tokio::runtime::Handle::current());
        self.check_audit_chain().await;
        crate::mailbox::start(self).await;
        self.pump_queue().await;
    }

    /// Verifies the audit log's chain once at start (off the runtime). A break is
    /// reported, not repaired: `/healthz`, the status (the dashboard's banner) and
    /// an audit event say where; new lines keep chaining from the last one.
    async fn check_audit_chain(self: &Arc<Self>) {
        let path = self.store.audit_log().path().to_path_buf();
        if !path.exists() {
            return;
        }
        let checked = tokio::task::spawn_blocking(move || crate::audit::verify(&path)).await;
        let problem = match checked {
            Ok(Ok(_)) => return,
            Ok(Err(e)) => e.to_string(),
            Err(e) => format!("the check did not finish: {e}"),
        };
        tracing::error!("audit log chain is broken: {problem}");
        self.store.audit_or_log(
            "audit_chain_broken",
            json!({"problem": problem, "file": self.store.audit_log().path()}),
        );
        let _ = self.audit_chain_problem.set(problem);
    }

    /// Where the audit log's chain broke, if the start-up check found a break.
    pub fn audit_chain_problem(&self) -> Option<&str> {
        self.audit_chain_problem.get().map(String::as_str)
    }

    /// Resolves when the launcher begins to stop.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.stopping.subscribe();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    }

    /// Graceful stop: terminate every session (SIGTERM, then SIGKILL), save, audit.
    /// Marks the launcher as stopping: event and transcript streams end.
    pub fn begin_stop(&self) {
        self.stopping.send_replace(true);
    }

    pub async fn shutdown(self: &Arc<Self>) {
        self.begin_stop();
        let live = self.live_ptys();
        let mut waits = Vec::new();
        for (id, pty) in live {
            if let Err(e) = self.store.update(|tx| {
                if let Some(session) = tx.session_mut(&id) {
                    session.closing = true;
                }
            }) {
                tracing::error!("marking {id} closing: {e}");
            }
            waits.push(async move {
                let code = pty.terminate(pty::KILL_GRACE).await;
                (id, code)
            });
        }
        for (id, code) in futures_util::future::join_all(waits).await {
            self.record_exit(&id, code, Some("launcher_stopped"));
        }
        self.terminals.close_all().await;
        self.store
            .audit_or_log("launcher_stopped", json!({"pid": std::process::id()}));
    }
}

/// Queue items interrupted by a crash: one whose session was recorded has started
/// (it leaves the queue instead of starting twice); one caught starting waits again.
fn recover_queue(tx: &mut crate::store::Tx) {
    let started: HashMap<String, String> = tx
        .state()
        .sessions
        .values()
        .filter_map(|x| Some((x.queue_id.clone()?, x.id.clone())))
        .collect();
    let queue = std::mem::take(tx.queue_mut());
    let (kept, done) = crate::model::plan::recover_queue(queue, &started);
    for (item, sid) in done {
        crate::sessions::queue::mark_assignment(
            tx,
            &item,
            crate::model::AssignmentStatus::Started,
            Some(sid.clone()),
            None,
        );
        tx.audit(
            "assignment_started",
            json!({"queue_id": item.id, "session_id": sid, "department": item.department,
                   "parent_session_id": item.parent_session_id, "recovered": true}),
        );
    }
    *tx.queue_mut() = kept;
}

/// True when `pid` is still the agent of session `id` (not a reused pid): its
/// environment names the session. Where that cannot be read, nothing is killed.
fn runs_session(pid: u32, id: &str) -> bool {
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let wanted = format!("CODEX_GOVERNANCE_SESSION_ID={id}");
    environ
        .split(|b| *b == 0)
        .any(|var| var == wanted.as_bytes())
}
