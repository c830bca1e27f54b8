//! The live agents of the sessions: looking them up, putting text in,
//! interrupting, answering their tool calls, resuming their conversations
//! after a launcher restart, and waiting for one that is still resuming.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::Sessions;
use crate::agents::{Agent, AgentError, AgentSpec, Delivery, ToolAnswer};
use crate::error::{LResult, LauncherError};
use crate::model::{AgentState, AuditEvent};

/// Sent to a resumed department that has not reported.
const CONTINUE_AFTER_RESTART: &str = "[codex-governance] The launcher restarted and your \
     conversation was resumed. Continue your task where it stopped, then report as instructed.";

/// How long input waits for a session whose agent is still starting or resuming.
const RESUME_WAIT: Duration = Duration::from_secs(90);

impl Sessions {
    pub(crate) fn agent(&self, id: &str) -> Option<Arc<dyn Agent>> {
        self.agents.lock().unwrap().get(id).cloned()
    }

    pub(super) fn live_agents(&self) -> Vec<(String, Arc<dyn Agent>)> {
        self.agents
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect()
    }

    /// Makes an agent the session's live one (its terminal too, if it has one).
    pub(super) fn adopt_agent(&self, id: &str, agent: Arc<dyn Agent>) {
        if let Some(terminal) = agent.terminal() {
            self.insert_pty(id, terminal);
        }
        self.agents.lock().unwrap().insert(id.to_string(), agent);
        self.agents_changed.send_modify(|n| *n += 1);
    }

    /// The session has no live agent any more (its terminal stays for viewers).
    pub(super) fn forget_agent(&self, id: &str) {
        if self.agents.lock().unwrap().remove(id).is_some() {
            self.agents_changed.send_modify(|n| *n += 1);
        }
    }

    /// Whether the session's agent is in a turn (false without a live agent).
    pub fn is_working(&self, id: &str) -> bool {
        self.agent(id).is_some_and(|a| a.working())
    }

    /// Waits until a running session has its agent: one still starting or
    /// resuming after a restart gets [`RESUME_WAIT`], then a clear 409.
    pub(super) async fn wait_until_live(&self, id: &str) -> LResult<()> {
        let mut changed = self.agents_changed.subscribe();
        let waited = tokio::time::timeout(RESUME_WAIT, async {
            loop {
                if self.agent(id).is_some() {
                    return true;
                }
                if !self.session(id).is_some_and(|s| s.is_running()) {
                    return false;
                }
                if changed.changed().await.is_err() {
                    return false;
                }
            }
        })
        .await;
        match waited {
            Ok(true) => Ok(()),
            Ok(false) => Err(LauncherError::Conflict(format!(
                "session {id} is not running"
            ))),
            Err(_) => Err(LauncherError::Conflict(format!(
                "session {id} is still resuming its agent after a launcher restart; try again in a moment"
            ))),
        }
    }

    /// Puts text into a live session: a turn, steered into one, or typed.
    pub async fn deliver(self: &Arc<Self>, id: &str, text: &str) -> Result<Delivery, String> {
        let agent = self
            .agent(id)
            .ok_or_else(|| format!("session {id} has no live agent"))?;
        agent.send(text).await.map_err(|e| e.to_string())
    }

    /// Stops the running turn of a session (the user's Interrupt).
    pub async fn interrupt(self: &Arc<Self>, id: &str) -> LResult<()> {
        let session = self.require_session(id)?;
        if !session.is_running() {
            return Err(LauncherError::Conflict(format!(
                "session {id} is not running"
            )));
        }
        self.wait_until_live(id).await?;
        let agent = self
            .agent(id)
            .ok_or_else(|| LauncherError::Conflict(format!("session {id} has no live agent")))?;
        agent.interrupt().await.map_err(agent_failure)?;
        self.ctx.store.update(|tx| {
            tx.audit(AuditEvent::SessionInterrupted {
                session_id: id.to_string(),
            })
        })?;
        Ok(())
    }

    /// Answers a tool call of a session's agent.
    pub fn answer_tool(&self, id: &str, call_id: &str, answer: &ToolAnswer) -> LResult<()> {
        let agent = self
            .agent(id)
            .ok_or_else(|| LauncherError::Conflict(format!("session {id} has no live agent")))?;
        agent.answer_tool(call_id, answer).map_err(agent_failure)
    }

    /// After a launcher restart: the session's conversation resumes with new
    /// processes; the session keeps its slot and place in the plan.
    pub async fn resume_agent(self: &Arc<Self>, id: &str) -> LResult<()> {
        let s = self.require_session(id)?;
        let thread = s.agent.thread_id.clone().ok_or_else(|| {
            LauncherError::Conflict(format!("session {id} has no conversation to resume"))
        })?;
        let kind = s.session_kind();
        let prompt_path = PathBuf::from(&s.prompt_path);
        let env = self.agent_env(&s);
        let started = self
            .backend
            .start(AgentSpec {
                session_id: id.to_string(),
                kind,
                title: s.title.clone(),
                model: s.model.clone(),
                cwd: self.workdir(&s),
                prompt: String::new(),
                prompt_path,
                first_turn: None,
                env,
                log_path: PathBuf::from(&s.log_path),
                state_dir: self.ctx.paths.state_dir.clone(),
                tools: Vec::new(),
                sandbox: self.sandbox_for(&s),
                resume: Some(thread.clone()),
            })
            .await;
        let started = match started {
            Ok(started) => started,
            Err(e) => {
                self.credentials.revoke(id);
                return Err(agent_failure(e));
            }
        };
        let agent = started.agent;
        let terminal = agent.terminal();
        let pid = terminal.as_ref().map(|t| t.pid());
        let server_pid = agent.helper_pid();
        // A thread whose server kept running may be mid-turn; what it waits for
        // (approvals, tool calls) it asks again, in the events that follow.
        let working = agent.working();
        self.ctx.store.update(|tx| {
            if let Some(x) = tx.session_mut(id) {
                x.pid = pid;
                x.agent.server_pid = server_pid;
                x.agent.pending_approvals.clear();
                x.agent.attention = None;
                x.agent.agent_state = if working {
                    AgentState::Working
                } else {
                    AgentState::Idle
                };
            }
            tx.audit(AuditEvent::SessionResumed {
                session_id: id.to_string(),
                thread_id: thread.clone(),
                pid: pid.or(server_pid).unwrap_or_default(),
            });
        })?;
        self.adopt_agent(id, agent);
        self.follow_agent(id, started.events);
        self.show_terminal(id, terminal, s.is_zhongshu(), &s.title)
            .await;
        if s.is_department() && !s.has_reported() && !working {
            // Its interrupted turn would otherwise never end in a report.
            if let Err(e) = self.deliver(id, CONTINUE_AFTER_RESTART).await {
                tracing::warn!("continuing {id}: {e}");
            }
        }
        Ok(())
    }
}

/// An agent failure as the launcher's error: the user's to fix, or ours.
pub(super) fn agent_failure(e: AgentError) -> LauncherError {
    match e {
        AgentError::Missing(_) => LauncherError::BadRequest(e.to_string()),
        AgentError::NotLoggedIn(_) | AgentError::Unsupported { .. } => {
            LauncherError::Conflict(e.to_string())
        }
        AgentError::NoSuchRequest(_) => LauncherError::NotFound(e.to_string()),
        AgentError::Failed(_) => LauncherError::Internal(e.to_string()),
    }
}
