//! Sessions on the Codex backend: starting (app-server, thread, TUI attached
//! to it), text as turns, and resuming threads after a launcher restart. What
//! the agent then says is handled in `agent_events.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use super::command::launcher_bin;
use super::Sessions;
use crate::codex::server::ServerSpec;
use crate::codex::{CodexAgent, CodexError, Delivery, ThreadSpec};
use crate::error::{LResult, LauncherError};
use crate::model::{AgentState, AuditEvent};
use crate::pty::{Pty, SpawnSpec};

/// Sent to a resumed department that has not reported.
const CONTINUE_AFTER_RESTART: &str = "[codex-governance] The launcher restarted and your \
     conversation was resumed. Continue your task where it stopped, then report as instructed.";

/// What a Codex session starts from.
pub(crate) struct CodexStart<'a> {
    pub id: &'a str,
    pub title: String,
    pub model: &'a str,
    pub instructions: &'a str,
    /// The first turn's text (none when resuming).
    pub first_turn: Option<String>,
    pub env: Vec<(String, String)>,
    pub log_path: PathBuf,
    pub resume: Option<String>,
}

impl Sessions {
    pub(crate) fn agent(&self, id: &str) -> Option<Arc<CodexAgent>> {
        self.agents.lock().unwrap().get(id).cloned()
    }

    /// Starts the app-server and the thread, then Codex's TUI on it in a PTY;
    /// sends the first turn. A failure leaves no process behind.
    pub(crate) async fn spawn_codex(self: &Arc<Self>, s: CodexStart<'_>) -> LResult<Arc<Pty>> {
        let codex = self.ctx.config.launcher.agent.codex_command.clone();
        let server_log = self
            .ctx
            .paths
            .logs_dir()
            .join(format!("{}.app-server.log", s.id));
        let (agent, events) = CodexAgent::open(
            ServerSpec {
                codex: &codex,
                session_id: s.id,
                state_dir: &self.ctx.paths.state_dir,
                cwd: &self.ctx.repo,
                env: s.env.clone(),
                log_path: server_log,
            },
            ThreadSpec {
                cwd: self.ctx.repo.clone(),
                model: s.model.to_string(),
                approval_policy: self.ctx.config.launcher.agent.approval_policy.clone(),
                instructions: s.instructions.to_string(),
                name: s.title.clone(),
                shell_env: vec![("PATH".into(), agent_path())],
                resume: s.resume.clone(),
            },
        )
        .await
        .map_err(codex_failure)?;
        let (tui_args, tui_env) = agent.tui_command(&self.ctx.repo);
        let mut env = s.env;
        env.extend(tui_env);
        let tui = Pty::spawn(SpawnSpec {
            program: codex,
            args: tui_args,
            cwd: self.ctx.repo.clone(),
            env,
            cols: super::START_COLS,
            rows: super::START_ROWS,
            log_path: Some(s.log_path),
        });
        let tui = match tui {
            Ok(p) => p,
            Err(e) => {
                agent.stop().await;
                return Err(LauncherError::Internal(format!("Codex TUI: {e:#}")));
            }
        };
        self.agents
            .lock()
            .unwrap()
            .insert(s.id.to_string(), Arc::clone(&agent));
        let (thread_id, server_pid) = (agent.thread_id.clone(), agent.server_pid());
        let recorded = self.ctx.store.update(|tx| {
            if let Some(x) = tx.session_mut(s.id) {
                x.agent.thread_id = Some(thread_id);
                x.agent.server_pid = Some(server_pid);
            }
        });
        let sent = match (&recorded, &s.first_turn) {
            (Ok(()), Some(text)) => agent.send_text(text).await.map(|_| ()),
            _ => Ok(()),
        };
        if let Err(e) = recorded
            .map_err(LauncherError::from)
            .and(sent.map_err(codex_failure))
        {
            tui.terminate(crate::pty::KILL_GRACE).await;
            self.stop_agent(s.id).await;
            return Err(e);
        }
        self.follow_agent(s.id, events);
        Ok(tui)
    }

    /// After a launcher restart: a new app-server resumes the session's thread,
    /// a new TUI attaches, the session keeps its slot and place in the plan.
    pub async fn resume_codex(self: &Arc<Self>, id: &str) -> LResult<()> {
        let s = self.require_session(id)?;
        let thread = s.agent.thread_id.clone().ok_or_else(|| {
            LauncherError::Conflict(format!("session {id} has no Codex thread to resume"))
        })?;
        let prompt_path = PathBuf::from(&s.prompt_path);
        let env = self.issue_env(
            id,
            s.parent_session_id(),
            s.department.as_deref(),
            &s.model,
            &prompt_path,
        );
        let started = self
            .spawn_codex(CodexStart {
                id,
                title: s.title.clone(),
                model: &s.model,
                instructions: "",
                first_turn: None,
                env,
                log_path: PathBuf::from(&s.log_path),
                resume: Some(thread.clone()),
            })
            .await;
        let pty = match started {
            Ok(p) => p,
            Err(e) => {
                self.credentials.revoke(id);
                return Err(e);
            }
        };
        self.insert_pty(id, Arc::clone(&pty));
        self.ctx.store.update(|tx| {
            if let Some(x) = tx.session_mut(id) {
                x.pid = Some(pty.pid());
                // A turn that ran at the crash comes back interrupted.
                x.agent.pending_approvals.clear();
                x.agent.attention = None;
                x.agent.agent_state = AgentState::Idle;
            }
            tx.audit(AuditEvent::SessionResumed {
                session_id: id.to_string(),
                thread_id: thread.clone(),
                pid: pty.pid(),
            });
        })?;
        self.watch_exit(id, &pty);
        let opened = self
            .open_terminal(
                crate::model::TerminalKind::CodexSession,
                pty,
                Some(id.to_string()),
                s.title.clone(),
            )
            .await;
        if let Err(e) = opened {
            tracing::warn!("no browser terminal for {id}: {e}");
        }
        if s.is_department() && !s.has_reported() {
            // Its interrupted turn would otherwise never end in a report.
            if let Err(e) = self.deliver(id, CONTINUE_AFTER_RESTART).await {
                tracing::warn!("continuing {id}: {e}");
            }
        }
        Ok(())
    }

    /// Stops a session's app-server, if it has one.
    pub(crate) async fn stop_agent(&self, id: &str) {
        let agent = self.agents.lock().unwrap().remove(id);
        if let Some(agent) = agent {
            agent.stop().await;
        }
    }

    /// Puts text into a running session: a turn for Codex, typed for a PTY
    /// agent. Says how: `turn_start`, `turn_steer` or `typed`.
    pub async fn deliver(self: &Arc<Self>, id: &str, text: &str) -> Result<&'static str, String> {
        if let Some(agent) = self.agent(id) {
            let how = agent.send_text(text).await.map_err(|e| e.to_string())?;
            return Ok(match how {
                Delivery::Started => "turn_start",
                Delivery::Steered => "turn_steer",
            });
        }
        let pty = self
            .pty(id)
            .ok_or_else(|| format!("session {id} has no terminal"))?;
        let text = text.to_string();
        match tokio::task::spawn_blocking(move || pty.paste_line(&text)).await {
            Ok(r) => r.map(|()| "typed").map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// PATH for the agent's commands: the launcher's folder first, then the launcher's PATH.
fn agent_path() -> String {
    let bin = PathBuf::from(launcher_bin());
    let mut dirs: Vec<PathBuf> = bin
        .parent()
        .map(|d| vec![d.to_path_buf()])
        .unwrap_or_default();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A Codex failure as the launcher's error: the user's to fix, or ours.
pub(super) fn codex_failure(e: CodexError) -> LauncherError {
    match e {
        CodexError::Missing(_) => LauncherError::BadRequest(e.to_string()),
        CodexError::NotLoggedIn => LauncherError::Conflict(e.to_string()),
        other => LauncherError::Internal(other.to_string()),
    }
}
