//! The live agents of the sessions: looking them up, putting text in,
//! interrupting, handing their tool calls to the tool handler, resuming their conversations
//! after a launcher restart, and waiting for one that is still resuming.

use std::sync::Arc;
use std::time::Duration;

mod events;
mod exits;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, Weak};

use tokio::sync::{watch, Notify};

use crate::agents::{Agent, AgentBackend, AgentError, Delivery, ToolHandler};
use crate::context::Context;
use crate::credentials::Credentials;
use crate::error::{LResult, LauncherError};
use crate::ids;
use crate::model::{AuditEvent, Session};
use crate::pty::Pty;
use crate::signals::SignalTx;

pub(super) use events::FollowUp;

/// How long input waits for a session whose agent is still starting or resuming.
const RESUME_WAIT: Duration = Duration::from_secs(90);

/// The live agents of the sessions and their PTYs: who is live, resuming,
/// or stopping with the launcher; what an agent says (`events`) and how a
/// session ends (`exits`). It owns this state alone; the sessions' facade
/// starts agents into it and follows up on what it reports.
pub struct LiveAgents {
    ctx: Arc<Context>,
    /// How agents are driven.
    backends: crate::agents::Team,
    ptys: Mutex<HashMap<String, Arc<Pty>>>,
    /// The live agents, by session.
    agents: Mutex<HashMap<String, Arc<dyn Agent>>>,
    /// Bumped whenever an agent comes or goes (input waits for a resuming one).
    agents_changed: watch::Sender<u64>,
    /// Set when the launcher stops: sessions whose conversation outlives their
    /// processes (Codex threads) are suspended, not ended.
    stopping: AtomicBool,
    /// Sessions whose conversation is resuming on a new agent right now.
    resuming: Mutex<HashSet<String>>,
    /// Hosts away now, each with the count of its goings (a hold started
    /// for one going is not taken by the next), and the sessions held for
    /// each (issue 70 item 2).
    away: Mutex<HashMap<String, u64>>,
    held_for_host: Mutex<HashMap<String, String>>,
    /// An ended session's token is revoked here.
    credentials: Arc<Credentials>,
    signals: SignalTx,
    /// Told when a session parks: the quota clock looks again when to wake.
    quota_changed: Arc<Notify>,
    /// Who answers the agents' tool calls (held weakly: it holds the sessions).
    tool_handler: OnceLock<Weak<dyn ToolHandler>>,
}

impl LiveAgents {
    pub(super) fn new(
        ctx: Arc<Context>,
        backends: crate::agents::Team,
        credentials: Arc<Credentials>,
        signals: SignalTx,
        quota_changed: Arc<Notify>,
    ) -> LiveAgents {
        LiveAgents {
            ctx,
            backends,
            ptys: Mutex::new(HashMap::new()),
            agents: Mutex::new(HashMap::new()),
            agents_changed: watch::Sender::new(0),
            stopping: AtomicBool::new(false),
            resuming: Mutex::new(HashSet::new()),
            away: Mutex::new(HashMap::new()),
            held_for_host: Mutex::new(HashMap::new()),
            credentials,
            signals,
            quota_changed,
            tool_handler: OnceLock::new(),
        }
    }

    /// Names who answers the agents' tool calls (once, at the launcher's start).
    pub fn answer_tools_with(&self, handler: Weak<dyn ToolHandler>) {
        if self.tool_handler.set(handler).is_err() {
            tracing::warn!("the tool handler was already set");
        }
    }

    /// The launcher's own backend: the planner's, and that of every
    /// department that names none.
    pub fn backend(&self) -> &Arc<dyn AgentBackend> {
        self.backends.own()
    }

    /// Every backend this launcher drives agents with.
    pub fn backends(&self) -> &crate::agents::Team {
        &self.backends
    }

    /// The backend that drives `session`'s agent (its department's, or the
    /// one an attempt borrows).
    pub fn backend_of(&self, session: &Session) -> &Arc<dyn AgentBackend> {
        self.backends.of(session.agent_key())
    }

    pub fn session(&self, id: &str) -> Option<Session> {
        self.ctx.store.read(|s| s.sessions.get(id).cloned())
    }

    /// Looks up a session by a validated id from a request.
    pub fn require_session(&self, id: &str) -> LResult<Session> {
        ids::check_id("session_id", id)?;
        self.session(id)
            .ok_or_else(|| LauncherError::NotFound(format!("no session {id}")))
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

    /// The launcher begins to stop: see `Sessions::terminate_all`.
    pub fn begin_stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Whether the session's conversation is resuming on a new agent now.
    pub(super) fn is_resuming(&self, id: &str) -> bool {
        self.resuming.lock().unwrap().contains(id)
    }

    /// Host `host` went away: the count of its goings.
    pub(super) fn host_went(&self, host: &str) -> u64 {
        let mut away = self.away.lock().unwrap();
        let going = away.get(host).copied().unwrap_or(0) + 1;
        away.insert(host.to_string(), going);
        going
    }

    /// Whether `host` is still away since its `going`.
    pub(super) fn host_away_since(&self, host: &str, going: u64) -> bool {
        self.away.lock().unwrap().get(host) == Some(&going)
    }

    /// Session `id`'s turn is held while `host` is away.
    pub(super) fn hold_for_host(&self, id: &str, host: &str) {
        self.held_for_host
            .lock()
            .unwrap()
            .insert(id.to_string(), host.to_string());
    }

    /// Whether session `id`'s turn is held for its host.
    pub(super) fn held_for_host(&self, id: &str) -> bool {
        self.held_for_host.lock().unwrap().contains_key(id)
    }

    /// `host` is back: the sessions held for it, no longer held.
    pub(super) fn host_back(&self, host: &str) -> Vec<String> {
        if let Some(going) = self.away.lock().unwrap().get_mut(host) {
            // A later hold's check sees a count it did not start with.
            *going += 1;
        }
        let mut held = self.held_for_host.lock().unwrap();
        let ids: Vec<String> = held
            .iter()
            .filter(|(_, h)| *h == host)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &ids {
            held.remove(id);
        }
        ids
    }

    /// Marks the session's conversation as resuming on a new agent (or done).
    pub(super) fn set_resuming(&self, id: &str, resuming: bool) {
        let mut set = self.resuming.lock().unwrap();
        if resuming {
            set.insert(id.to_string());
        } else {
            set.remove(id);
        }
    }

    /// Tells the quota clock to look again (a parked session's agent is live).
    pub(super) fn quota_changed(&self) {
        self.quota_changed.notify_one();
    }

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
    pub(in crate::sessions) fn adopt_agent(&self, id: &str, agent: Arc<dyn Agent>) {
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
    pub async fn wait_until_live(&self, id: &str) -> LResult<()> {
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
    pub async fn deliver(&self, id: &str, text: &str) -> Result<Delivery, DeliveryError> {
        let agent = self
            .agent(id)
            .ok_or_else(|| DeliveryError::NotLive(id.to_string()))?;
        Ok(agent.send(text).await?)
    }

    /// The live session's next turns use `model`.
    pub async fn set_model(&self, id: &str, model: &str) -> Result<(), DeliveryError> {
        let agent = self
            .agent(id)
            .ok_or_else(|| DeliveryError::NotLive(id.to_string()))?;
        Ok(agent.set_model(model).await?)
    }

    /// Stops the running turn of a session (the user's Interrupt).
    pub async fn interrupt(&self, id: &str) -> LResult<()> {
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
}

/// Why text or a model switch did not reach a session's agent.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("session {0} has no live agent")]
    NotLive(String),
    #[error(transparent)]
    Agent(#[from] AgentError),
}

/// An agent failure as the launcher's error: the user's to fix, or ours.
pub(super) fn agent_failure(e: AgentError) -> LauncherError {
    match e {
        AgentError::Missing(_) => LauncherError::BadRequest(e.to_string()),
        AgentError::NotLoggedIn(_) | AgentError::Unsupported { .. } | AgentError::Gone => {
            LauncherError::Conflict(e.to_string())
        }
        AgentError::NoSuchRequest(_) => LauncherError::NotFound(e.to_string()),
        AgentError::Failed(_) => LauncherError::Internal(e.to_string()),
    }
}
