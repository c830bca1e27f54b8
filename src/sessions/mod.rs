//! Agent sessions: Zhongshu planners and department workers, each an agent of
//! the configured backend (`crate::agents`) with a PTY the user watches.
//!
//! Starting writes the prompt file, starts the agent with its environment,
//! records and audits the session, opens its browser terminal and watches for its
//! exit; an exit frees its queue slot and pumps the queue.

mod agent_events;
pub mod command;
pub mod control;
pub mod conversation;
mod exits;
pub mod heartbeat;
mod live;
pub mod model_switch;
pub mod prompts;
pub mod quota;

pub mod proposal;
pub mod queue;
mod queue_records;
mod settle;
mod start;
mod start_prompt;
pub mod terminals;
pub mod view;
mod viewers;
mod workspace;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::agents::{Agent, AgentBackend};
use crate::clock;
use crate::context::Context;
use crate::credentials::Credentials;
use crate::error::{LResult, LauncherError};
use crate::ids;
use crate::model::{AuditEvent, CloseReason, TerminalKind};
use crate::model::{InputRecord, Session, SessionKind, TerminalRecord, TerminalStatus};
use crate::pty::{self, Pty};
use crate::signals::SignalTx;
use crate::terminal::Terminals;

pub use start::{Continuation, StartSpec};

/// How long shutdown waits for the tasks that follow sessions.
const TASKS_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Output an ended session keeps in memory for late viewers.
const RELEASED_SCROLLBACK: usize = 64 * 1024;

/// The agent sessions: their PTYs, tokens and browser terminals. Starting,
/// typing into, closing and recording the end of a session happen here; what
/// follows an end (fallbacks, the queue) is signalled to the launcher.
pub struct Sessions {
    pub(crate) ctx: Arc<Context>,
    ptys: Mutex<HashMap<String, Arc<Pty>>>,
    /// How agents are driven.
    backend: Arc<dyn AgentBackend>,
    /// The live agents, by session.
    agents: Mutex<HashMap<String, Arc<dyn Agent>>>,
    /// Bumped whenever an agent comes or goes (input waits for a resuming one).
    agents_changed: tokio::sync::watch::Sender<u64>,
    /// Set when the launcher stops: sessions whose conversation outlives their
    /// processes (Codex threads) are suspended, not ended.
    stopping: std::sync::atomic::AtomicBool,
    /// Sessions whose conversation is resuming on a new agent right now.
    resuming: Mutex<std::collections::HashSet<String>>,
    pub terminals: Terminals,
    /// Session tokens: agents get these, never the developer's.
    pub credentials: Arc<Credentials>,
    /// Serializes Zhongshu starts (the `max_zhongshu` limit).
    zhongshu_start: tokio::sync::Mutex<()>,
    /// One on-demand terminal start at a time.
    attaching: tokio::sync::Mutex<()>,
    signals: SignalTx,
    /// Tasks that follow a session (its exit, its agent's events), awaited at shutdown.
    tasks: tokio_util::task::TaskTracker,
    /// Told when quota changed (a session parked, a snapshot, start anyway):
    /// the launcher's quota clock then looks again when to wake.
    pub quota_changed: Arc<tokio::sync::Notify>,
    /// Whether the repository's configuration may run: no session starts
    /// before the user trusts what it sets.
    pub trust: crate::config_trust::TrustGate,
}

impl Sessions {
    pub fn new(
        ctx: Arc<Context>,
        backend: Arc<dyn AgentBackend>,
        credentials: Arc<Credentials>,
        signals: SignalTx,
    ) -> Sessions {
        Sessions {
            trust: crate::config_trust::TrustGate::of(&ctx.config),
            ctx,
            ptys: Mutex::new(HashMap::new()),
            backend,
            agents: Mutex::new(HashMap::new()),
            agents_changed: tokio::sync::watch::Sender::new(0),
            quota_changed: Arc::default(),
            resuming: Mutex::new(Default::default()),
            stopping: std::sync::atomic::AtomicBool::new(false),
            terminals: Terminals::new(Vec::new()),
            credentials,
            zhongshu_start: tokio::sync::Mutex::new(()),
            attaching: tokio::sync::Mutex::new(()),
            signals,
            tasks: tokio_util::task::TaskTracker::new(),
        }
    }

    /// How this launcher drives agents.
    pub fn backend(&self) -> &Arc<dyn AgentBackend> {
        &self.backend
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

    pub fn live_ptys(&self) -> Vec<(String, Arc<Pty>)> {
        self.ptys
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect()
    }

    /// Checks a model against the configured choices, defaulting by kind.
    pub fn pick_model(&self, model: Option<&str>, kind: SessionKind) -> LResult<String> {
        crate::policy::plan::model_for(model, kind, &self.ctx.config.launcher)
            .map_err(LauncherError::BadRequest)
    }

    /// 429 when `launcher.max_zhongshu` Zhongshu sessions already run.
    fn check_zhongshu_limit(&self) -> LResult<()> {
        let max = self.ctx.config.launcher.max_zhongshu;
        let running = self.ctx.store.read(|s| {
            s.sessions
                .values()
                .filter(|x| x.is_zhongshu() && x.is_running())
                .count()
        });
        if running >= max {
            return Err(LauncherError::TooMany(format!(
                "{running} Zhongshu sessions are running and launcher.max_zhongshu is {max}: \
                 close one before starting another"
            )));
        }
        Ok(())
    }

    /// Closes a department that reported (SPEC 8 step 6).
    pub(crate) async fn auto_close(self: &Arc<Self>, session_id: &str) {
        let Some(session) = self.session(session_id) else {
            return;
        };
        let marked = session.department_part().is_some_and(|d| {
            d.auto_closed && d.auto_close_reason.as_deref() == Some("mailbox_report_received")
        });
        if !marked {
            let saved = self.ctx.store.update(|tx| {
                if let Some(d) = tx.session_mut(session_id).and_then(|x| x.department_mut()) {
                    d.auto_closed = true;
                    d.auto_close_reason = Some("mailbox_report_received".into());
                }
            });
            if let Err(e) = saved {
                tracing::error!("marking {session_id} auto-closed: {e}");
            }
        }
        if session.is_running() {
            if let Err(e) = self.close_session(session_id, CloseReason::Reported).await {
                tracing::warn!("auto-close {session_id}: {e}");
            }
        }
    }

    /// The launcher begins to stop: see [`Self::terminate_all`].
    pub fn begin_stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Terminates every live session (SIGTERM, then SIGKILL) and every terminal.
    /// Codex sessions are suspended instead of ended: their threads resume at
    /// the next start.
    pub async fn terminate_all(&self) {
        self.begin_stop();
        let mut waits = Vec::new();
        for (id, agent) in self.live_agents() {
            let resumes = agent.thread_id().is_some();
            if let Err(e) = self.ctx.store.update(|tx| {
                if let Some(session) = tx.session_mut(&id) {
                    session.closing = !resumes;
                }
            }) {
                tracing::error!("marking {id} closing: {e}");
            }
            waits.push(async move {
                let code = agent.stop().await;
                self.forget_agent(&id);
                (id, code, resumes)
            });
        }
        for (id, code, resumes) in futures_util::future::join_all(waits).await {
            if resumes {
                self.ctx.store.audit_or_log(AuditEvent::SessionSuspended {
                    session_id: id.clone(),
                });
            } else {
                self.record_exit(&id, code, Some("launcher_stopped"));
            }
        }
        for (key, pty) in self.live_ptys() {
            if terminals::is_shell_key(&key) {
                pty.terminate(pty::KILL_GRACE).await;
            }
        }
        // What the agents shared (Codex's app-server) goes after them.
        self.backend.shutdown().await;
        self.terminals.close_all().await;
        // Every session's process is gone: what followed them ends now.
        self.tasks.close();
        if tokio::time::timeout(TASKS_GRACE, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "{} session task(s) still running after {TASKS_GRACE:?}",
                self.tasks.len()
            );
        }
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Looks up a Zhongshu session by a validated id from a request.
    pub fn require_zhongshu(&self, id: &str) -> LResult<Session> {
        let s = self.require_session(id)?;
        if !s.is_zhongshu() {
            return Err(LauncherError::BadRequest(format!(
                "{id} is not a Zhongshu session"
            )));
        }
        Ok(s)
    }

    /// Drops the record of a session that never started.
    fn forget_session(&self, id: &str) {
        self.credentials.revoke(id);
        self.release_workspace(id);
        if let Err(e) = self.ctx.store.record(|tx| tx.remove_session(id)) {
            tracing::error!("forgetting {id}: {e}");
        }
    }

    pub fn session(&self, id: &str) -> Option<Session> {
        self.ctx.store.read(|s| s.sessions.get(id).cloned())
    }

    /// Looks up a session by a validated id from a request.
    pub fn require_session(&self, id: &str) -> LResult<Session> {
        ids::check_id("session_id", id).map_err(LauncherError::BadRequest)?;
        self.session(id)
            .ok_or_else(|| LauncherError::NotFound(format!("no session {id}")))
    }

    /// Stops a session: SIGTERM to its group, SIGKILL after 5 s, reaped.
    pub async fn close_session(
        self: &Arc<Self>,
        id: &str,
        reason: CloseReason,
    ) -> LResult<Session> {
        let session = self.require_session(id)?;
        if session.is_running() {
            self.ctx.store.update(|tx| {
                if let Some(x) = tx.session_mut(id) {
                    x.closing = true;
                    x.close_reason = Some(reason);
                }
            })?;
            let agent = self.agent(id);
            // Forgotten first: the end of its stream is then no surprise.
            self.forget_agent(id);
            let code = match agent {
                Some(agent) => agent.stop().await,
                None => -1,
            };
            self.record_exit(id, code, Some("closed"));
            self.ctx.store.audit_or_log(AuditEvent::SessionClosed {
                session_id: id.to_string(),
                reason,
            });
            self.after_exit(id).await;
        }
        if let Some(t) = session.browser_terminal_id.as_deref() {
            self.close_terminal_record(t).await?;
        }
        Ok(self.session(id).unwrap_or(session))
    }

    /// Puts text into a running session: a turn for Codex, a bracketed paste
    /// plus Enter for a PTY agent. A session still resuming is waited for.
    pub async fn session_input(self: &Arc<Self>, id: &str, input: &str) -> LResult<Session> {
        let session = self.require_session(id)?;
        if !session.is_running() {
            return Err(LauncherError::Conflict(format!(
                "session {id} is not running"
            )));
        }
        self.wait_until_live(id).await?;
        let delivery = self
            .deliver(id, input)
            .await
            .map_err(|e| LauncherError::Conflict(format!("cannot write to {id}: {e}")))?;
        let at = clock::now_rfc3339();
        self.ctx.store.update(|tx| {
            if let Some(x) = tx.session_mut(id) {
                x.input_history.push(InputRecord {
                    at,
                    input: input.to_string(),
                });
            }
            tx.audit(AuditEvent::SessionInput {
                session_id: id.to_string(),
                chars: input.chars().count(),
                delivery: delivery.as_str().to_string(),
            });
        })?;
        Ok(self.session(id).unwrap_or(session))
    }

    /// Opens a browser terminal on a PTY and records it.
    pub async fn open_terminal(
        self: &Arc<Self>,
        kind: TerminalKind,
        pty: Arc<Pty>,
        session_id: Option<String>,
        title: String,
    ) -> LResult<crate::terminal::TerminalInfo> {
        let pid = pty.pid();
        let info = self
            .terminals
            .open(kind, pty, session_id.clone(), title)
            .await?;
        let record = TerminalRecord {
            id: info.id.clone(),
            kind,
            session_id: session_id.clone(),
            title: info.title.clone(),
            url: info.url.clone(),
            status: TerminalStatus::Running,
            started_at: info.started_at.clone(),
            closed_at: None,
            pid: Some(pid),
        };
        let recorded = self.ctx.store.update(|tx| {
            tx.insert_terminal(record);
            if kind == TerminalKind::CodexSession {
                if let Some(x) = session_id.as_deref().and_then(|id| tx.session_mut(id)) {
                    x.browser_terminal_id = Some(info.id.clone());
                }
            }
            tx.audit(AuditEvent::TerminalStarted {
                terminal_id: info.id.clone(),
                kind,
                session_id: session_id.clone(),
            });
        });
        if let Err(e) = recorded {
            // Unrecorded, it must not keep serving (nor be reused by the next request).
            self.terminals.close(&info.id).await;
            return Err(e.into());
        }
        Ok(info)
    }

    /// Closes a terminal's listener and marks its record closed; Err when that
    /// record could not be saved (the listener is closed all the same).
    pub(crate) async fn close_terminal_record(&self, id: &str) -> LResult<bool> {
        let closed = self.terminals.close(id).await.is_some();
        let now = clock::now_rfc3339();
        self.ctx.store.update(|tx| {
            if let Some(t) = tx.terminal_mut(id) {
                t.status = TerminalStatus::Closed;
                t.closed_at = Some(now);
            }
            if closed {
                tx.audit(AuditEvent::TerminalClosed {
                    terminal_id: id.to_string(),
                });
            }
        })?;
        Ok(closed)
    }
}
