//! Sessions on the Codex backend: starting (app-server, thread, TUI attached
//! to it), text as turns, the agent's events recorded on the session, approvals,
//! the reminder-then-fallback for a department that stops without reporting,
//! and resuming threads after a launcher restart.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use tokio::sync::mpsc;

use super::command::launcher_bin;
use super::Sessions;
use crate::codex::server::ServerSpec;
use crate::codex::{AgentEvent, CodexAgent, CodexError, Delivery, ThreadSpec};
use crate::error::{LResult, LauncherError};
use crate::model::{
    AgentInfo, AgentState, ApprovalDecision, Attention, AttentionKind, PendingApproval, Session,
};
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
            s.parent_session_id.as_deref(),
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
            tx.audit(
                "session_resumed",
                json!({"session_id": id, "thread_id": thread, "pid": pty.pid()}),
            );
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

    /// Every approval waiting in a running session, oldest first.
    pub fn approvals(&self) -> Vec<PendingApproval> {
        let mut all: Vec<PendingApproval> = self.ctx.store.read(|s| {
            s.sessions
                .values()
                .filter(|x| x.is_running())
                .flat_map(|x| x.agent.pending_approvals.iter().cloned())
                .collect()
        });
        all.sort_by(|a, b| a.requested_at.cmp(&b.requested_at));
        all
    }

    /// Answers an approval from the dashboard.
    pub async fn decide(
        self: &Arc<Self>,
        session_id: &str,
        request_id: &str,
        decision: ApprovalDecision,
    ) -> LResult<Session> {
        let session = self.require_session(session_id)?;
        let agent = self.agent(session_id).ok_or_else(|| {
            LauncherError::Conflict(format!("session {session_id} is not a live Codex session"))
        })?;
        agent.decide(request_id, decision).map_err(|e| match e {
            CodexError::NoSuchApproval(_) => LauncherError::NotFound(format!(
                "no waiting approval {request_id:?} in {session_id} (already answered?)"
            )),
            other => codex_failure(other),
        })?;
        let resolved = AgentEvent::ApprovalResolved {
            request_id: request_id.to_string(),
            decision: Some(decision),
            by: "dashboard",
        };
        self.on_agent_event(session_id, resolved).await;
        Ok(self.session(session_id).unwrap_or(session))
    }

    fn follow_agent(self: &Arc<Self>, id: &str, mut events: mpsc::UnboundedReceiver<AgentEvent>) {
        let this = Arc::clone(self);
        let id = id.to_string();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                this.on_agent_event(&id, event).await;
            }
        });
    }

    async fn on_agent_event(self: &Arc<Self>, id: &str, event: AgentEvent) {
        let working = self.agent(id).is_some_and(|a| a.working());
        let (audit, fields) = match &event {
            AgentEvent::TurnStarted { turn_id } => (
                "turn_started",
                json!({"session_id": id, "turn_id": turn_id}),
            ),
            AgentEvent::TurnCompleted {
                turn_id,
                status,
                error,
            } => (
                "turn_completed",
                json!({"session_id": id, "turn_id": turn_id, "status": status, "error": error}),
            ),
            AgentEvent::ApprovalRequested(a) => (
                "approval_requested",
                json!({"session_id": id, "request_id": a.request_id, "kind": a.kind,
                       "command": a.command, "cwd": a.cwd, "reason": a.reason}),
            ),
            AgentEvent::ApprovalResolved {
                request_id,
                decision,
                by,
            } => (
                "approval_decided",
                json!({"session_id": id, "request_id": request_id, "decision": decision, "by": by}),
            ),
            AgentEvent::Error {
                message,
                will_retry,
                ..
            } => (
                "agent_error",
                json!({"session_id": id, "message": message, "will_retry": will_retry}),
            ),
            AgentEvent::NeedsInput(text) => {
                ("agent_needs_input", json!({"session_id": id, "text": text}))
            }
            AgentEvent::TokenUsage(_) => ("", json!(null)),
            AgentEvent::Closed => return self.agent_closed(id).await,
        };
        let saved = self.ctx.store.update(|tx| {
            if let Some(x) = tx.session_mut(id) {
                if x.is_running() {
                    apply(&mut x.agent, &event, working);
                }
            }
            if !audit.is_empty() {
                tx.audit(audit, fields);
            }
        });
        if let Err(e) = saved {
            tracing::error!("recording {audit} of {id}: {e}");
        }
        if matches!(event, AgentEvent::TurnCompleted { .. }) {
            self.after_turn(id).await;
        }
    }

    /// A department whose turn ended without a report gets one reminder; after
    /// a second such turn it is closed (its fallback result follows the exit).
    async fn after_turn(self: &Arc<Self>, id: &str) {
        let Some(s) = self.session(id) else { return };
        if !s.is_department() || s.has_reported() || !s.is_running() || s.closing {
            return;
        }
        if s.agent.reminders_sent == 0 {
            let saved = self.ctx.store.update(|tx| {
                if let Some(x) = tx.session_mut(id) {
                    x.agent.reminders_sent += 1;
                }
                tx.audit("department_reminded", json!({"session_id": id}));
            });
            if let Err(e) = saved {
                tracing::error!("recording the reminder to {id}: {e}");
            }
            if let Err(e) = self.deliver(id, &reminder(&s)).await {
                tracing::warn!("reminding {id}: {e}");
            }
        } else if let Err(e) = self.close_session(id, "no_report").await {
            tracing::warn!("closing {id} after its reminder: {e}");
        }
    }

    /// The app-server went away: unless the session is being stopped, it ends.
    async fn agent_closed(self: &Arc<Self>, id: &str) {
        let live = self
            .session(id)
            .is_some_and(|s| s.is_running() && !s.closing);
        if live && !self.is_stopping() && self.agent(id).is_some() {
            tracing::warn!("{id}: the Codex app-server connection closed");
            if let Err(e) = self.close_session(id, "codex_app_server_exited").await {
                tracing::warn!("closing {id}: {e}");
            }
        }
    }
}

/// The session's agent state after an event.
fn apply(a: &mut AgentInfo, event: &AgentEvent, working: bool) {
    match event {
        AgentEvent::TurnStarted { .. } => {
            a.turn_count += 1;
            a.last_turn_status = Some("inProgress".into());
            if a.attention
                .as_ref()
                .is_some_and(|x| x.kind != AttentionKind::Approval)
            {
                a.attention = None;
            }
        }
        AgentEvent::TurnCompleted { status, .. } => {
            a.last_turn_status = Some(status.clone());
            a.attention = None;
        }
        AgentEvent::ApprovalRequested(p) => {
            a.pending_approvals.retain(|x| x.request_id != p.request_id);
            a.pending_approvals.push(p.clone());
        }
        AgentEvent::ApprovalResolved { request_id, .. } => {
            a.pending_approvals.retain(|x| &x.request_id != request_id);
            a.attention = None;
        }
        AgentEvent::TokenUsage(t) => a.token_usage = Some(t.clone()),
        AgentEvent::Error {
            message,
            rate_limit,
            ..
        } => {
            a.attention = Some(Attention {
                kind: if *rate_limit {
                    AttentionKind::RateLimit
                } else {
                    AttentionKind::Error
                },
                text: message.clone(),
            });
        }
        AgentEvent::NeedsInput(text) => {
            a.attention = Some(Attention {
                kind: AttentionKind::Input,
                text: text.clone(),
            })
        }
        AgentEvent::Closed => {}
    }
    if a.agent_state != AgentState::Exited {
        a.settle(working);
    }
}

/// The one reminder a department gets.
fn reminder(s: &Session) -> String {
    format!(
        "[codex-governance] Your turn ended without a report to the launcher. Report now, exactly once: \
         run \"{bin}\" mailbox send --summary \"what you did\" (add --changed-file, --verification, \
         --risk, --next-action as they apply). If you do not report, the launcher closes session {id} \
         and records that no report came.",
        bin = launcher_bin(),
        id = s.id
    )
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
fn codex_failure(e: CodexError) -> LauncherError {
    match e {
        CodexError::Missing(_) => LauncherError::BadRequest(e.to_string()),
        CodexError::NotLoggedIn => LauncherError::Conflict(e.to_string()),
        other => LauncherError::Internal(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TokenUsage;

    fn approval(id: &str) -> PendingApproval {
        PendingApproval {
            request_id: id.into(),
            session_id: "d".into(),
            kind: "command".into(),
            command: Some("touch x".into()),
            cwd: None,
            reason: Some("needs write".into()),
            requested_at: "t".into(),
        }
    }

    #[test]
    fn events_drive_the_state() {
        let mut a = AgentInfo::default();
        let started = AgentEvent::TurnStarted {
            turn_id: "t1".into(),
        };
        apply(&mut a, &started, true);
        assert_eq!((a.agent_state, a.turn_count), (AgentState::Working, 1));
        apply(&mut a, &AgentEvent::ApprovalRequested(approval("0")), true);
        assert_eq!(a.agent_state, AgentState::NeedsUser);
        assert_eq!(a.pending_approvals.len(), 1);
        let resolved = AgentEvent::ApprovalResolved {
            request_id: "0".into(),
            decision: Some(ApprovalDecision::Decline),
            by: "launcher",
        };
        apply(&mut a, &resolved, true);
        assert_eq!(a.agent_state, AgentState::Working);
        assert!(a.pending_approvals.is_empty());
        apply(
            &mut a,
            &AgentEvent::TokenUsage(TokenUsage {
                total_tokens: 9,
                ..Default::default()
            }),
            true,
        );
        assert_eq!(a.token_usage.as_ref().unwrap().total_tokens, 9);
        let done = AgentEvent::TurnCompleted {
            turn_id: "t1".into(),
            status: "completed".into(),
            error: None,
        };
        apply(&mut a, &done, false);
        assert_eq!(a.agent_state, AgentState::Idle);
        assert_eq!(a.last_turn_status.as_deref(), Some("completed"));
    }

    #[test]
    fn errors_and_rate_limits_need_the_user_until_the_next_turn() {
        let mut a = AgentInfo::default();
        let limited = AgentEvent::Error {
            message: "usage limit".into(),
            will_retry: true,
            rate_limit: true,
        };
        apply(&mut a, &limited, true);
        assert_eq!(a.agent_state, AgentState::NeedsUser);
        assert_eq!(a.attention.as_ref().unwrap().kind, AttentionKind::RateLimit);
        apply(
            &mut a,
            &AgentEvent::TurnStarted {
                turn_id: "t2".into(),
            },
            true,
        );
        assert_eq!(a.agent_state, AgentState::Working);
        assert!(a.attention.is_none());
    }
}
