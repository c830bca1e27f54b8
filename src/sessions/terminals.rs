//! The sessions' browser terminals, owned by [`SessionTerminals`]: their
//! listeners and records, and which terminals the launcher opens besides each
//! session's own (read-only previews of a session's PTY, and one interactive
//! shell from the configured allowlist). A session's own terminal, started on
//! demand or not, is [`super::viewers`]'. Closing a session's own terminal
//! where the terminal is the agent stops the session ([`Sessions::close_terminal`]).

use std::sync::Arc;

use crate::clock;
use crate::context::Context;
use crate::model::{AuditEvent, TerminalRecord, TerminalStatus};

use super::LiveAgents;
use crate::error::{LResult, LauncherError};
use crate::pty::{self, Pty, SpawnSpec};
use crate::terminal::{TerminalInfo, TerminalKind, Terminals};

/// Flags a shell may be started with; anything else (`-c`, scripts) is refused.
const SAFE_SHELL_ARGS: &[&str] = &["-l", "--login", "-i", "--norc", "--noprofile"];

fn shell_key(terminal_id: &str) -> String {
    format!("shell:{terminal_id}")
}

/// Whether a PTY key names an interactive shell rather than a session.
fn is_shell_key(key: &str) -> bool {
    key.starts_with("shell:")
}

/// The browser terminals of the sessions: their listeners, their records and
/// the viewers of those started on demand.
pub struct SessionTerminals {
    pub(super) ctx: Arc<Context>,
    pub(super) live: Arc<LiveAgents>,
    /// The terminals' listeners.
    pub listeners: Terminals,
    /// One on-demand terminal start at a time.
    pub(super) attaching: tokio::sync::Mutex<()>,
}

impl SessionTerminals {
    pub(super) fn new(ctx: Arc<Context>, live: Arc<LiveAgents>) -> SessionTerminals {
        SessionTerminals {
            ctx,
            live,
            listeners: Terminals::new(Vec::new()),
            attaching: tokio::sync::Mutex::new(()),
        }
    }

    /// Whether session `id`'s agent starts its terminal on demand (as its
    /// department's backend does).
    pub fn on_demand(&self, id: Option<&str>) -> bool {
        let backend = match id.and_then(|id| self.live.session(id)) {
            Some(s) => std::sync::Arc::clone(self.live.backend_of(&s)),
            None => std::sync::Arc::clone(self.live.backend()),
        };
        backend.capabilities().terminal_on_demand
    }

    /// Opens a browser terminal on a PTY and records it.
    pub async fn open(
        self: &Arc<Self>,
        kind: TerminalKind,
        pty: Arc<Pty>,
        session_id: Option<String>,
        title: String,
    ) -> LResult<crate::terminal::TerminalInfo> {
        let pid = pty.pid();
        let info = self
            .listeners
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
            if kind == TerminalKind::AgentSession {
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
            self.listeners.close(&info.id).await;
            return Err(e.into());
        }
        Ok(info)
    }

    /// Closes a terminal's listener and marks its record closed; Err when that
    /// record could not be saved (the listener is closed all the same).
    pub(crate) async fn close_record(&self, id: &str) -> LResult<bool> {
        let closed = self.listeners.close(id).await.is_some();
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

    /// `POST /api/browser_terminal/start`: one interactive shell at a time.
    pub async fn start_interactive(
        self: &Arc<Self>,
        shell: Option<String>,
        args: Vec<String>,
    ) -> LResult<(TerminalInfo, bool)> {
        let shells = &self.ctx.config.launcher.terminal_shells;
        let shell = match shell.filter(|s| !s.is_empty()) {
            Some(s) if shells.contains(&s) => s,
            Some(s) => {
                return Err(LauncherError::BadRequest(format!(
                    "shell {s:?} is not allowed; terminal_shells: {shells:?}"
                )))
            }
            None => shells
                .first()
                .cloned()
                .ok_or_else(|| LauncherError::BadRequest("no terminal_shells configured".into()))?,
        };
        if let Some(bad) = args.iter().find(|a| !SAFE_SHELL_ARGS.contains(&a.as_str())) {
            return Err(LauncherError::BadRequest(format!(
                "shell argument {bad:?} is not allowed; allowed: {SAFE_SHELL_ARGS:?}"
            )));
        }
        if let Some(existing) = self
            .listeners
            .list()
            .into_iter()
            .find(|t| t.kind == TerminalKind::Interactive && t.status == "running")
        {
            return Ok((existing, true));
        }
        let pty = Pty::spawn(SpawnSpec {
            program: shell.clone(),
            args,
            cwd: self.ctx.repo.clone(),
            env: vec![("CODEX_GOVERNANCE_URL".into(), self.ctx.url().to_string())],
            cols: 120,
            rows: 36,
            transcript: None,
        })?;
        let info = self
            .open(
                TerminalKind::Interactive,
                Arc::clone(&pty),
                None,
                format!("Shell · {shell}"),
            )
            .await;
        match info {
            Ok(info) => {
                self.live.insert_pty(&shell_key(&info.id), pty);
                Ok((info, false))
            }
            Err(e) => {
                pty.terminate(pty::KILL_GRACE).await;
                Err(e)
            }
        }
    }

    /// `POST /api/session_browser_terminal/start`: a read-only view of a session.
    pub async fn start_preview(
        self: &Arc<Self>,
        session_id: &str,
    ) -> LResult<(TerminalInfo, bool)> {
        let session = self.live.require_session(session_id)?;
        if let Some(t) = self
            .listeners
            .for_session(session_id, TerminalKind::SessionPreview)
        {
            return Ok((t, true));
        }
        let pty = self.live.pty(session_id).ok_or_else(|| {
            LauncherError::Conflict(
                if session.is_running() && self.on_demand(Some(session_id)) {
                    format!(
                        "session {session_id} has no terminal running (it starts on demand): open \
                     it with POST /api/session_terminal/attach, or read its conversation"
                    )
                } else {
                    format!("session {session_id} has no live terminal: read its conversation")
                },
            )
        })?;
        let info = self
            .open(
                TerminalKind::SessionPreview,
                pty,
                Some(session.id.clone()),
                format!("Preview · {}", session.title),
            )
            .await?;
        Ok((info, false))
    }

    /// The session whose end closing terminal `id` is (the terminal is its
    /// agent), if any; NotFound for no such terminal.
    pub(super) fn ends_session(&self, id: &str) -> LResult<Option<String>> {
        let record = self.record(id)?;
        let own = record.kind == TerminalKind::AgentSession
            && !self.on_demand(record.session_id.as_deref());
        Ok(record.session_id.filter(|_| own))
    }

    fn record(&self, id: &str) -> LResult<TerminalRecord> {
        self.ctx
            .store
            .read(|s| s.terminals.get(id).cloned())
            .ok_or_else(|| LauncherError::NotFound(format!("no terminal {id}")))
    }

    /// Closes terminal `id`; the session of one that is its agent is closed
    /// by the caller first ([`Self::ends_session`]); its record as closed.
    pub(super) async fn close(&self, id: &str) -> LResult<Option<TerminalRecord>> {
        let record = self.record(id)?;
        match record.kind {
            // A terminal started on demand goes; its session stays.
            TerminalKind::AgentSession if self.on_demand(record.session_id.as_deref()) => {
                let pty = record
                    .session_id
                    .as_deref()
                    .and_then(|sid| self.live.pty(sid));
                match (record.session_id.as_deref(), pty) {
                    (Some(sid), Some(pty)) => self.detach(sid, &pty).await,
                    _ => {
                        self.close_record(id).await?;
                    }
                }
            }
            TerminalKind::AgentSession | TerminalKind::SessionPreview => {
                self.close_record(id).await?;
            }
            TerminalKind::Interactive => {
                let saved = self.close_record(id).await;
                if let Some(pty) = self.live.remove_pty(&shell_key(id)) {
                    pty.terminate(pty::KILL_GRACE).await;
                }
                saved?;
            }
        }
        Ok(self.ctx.store.read(|s| s.terminals.get(id).cloned()))
    }

    /// Stops every interactive shell and closes every listener.
    pub(super) async fn close_all(&self) {
        for (key, pty) in self.live.live_ptys() {
            if is_shell_key(&key) {
                pty.terminate(pty::KILL_GRACE).await;
            }
        }
        self.listeners.close_all().await;
    }
}
