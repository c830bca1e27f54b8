//! The agent-backend seam: one interface over the ways an agent can be driven.
//!
//! The sessions service starts, resumes, talks to and stops agents only through
//! [`AgentBackend`] and [`Agent`]; what an agent says comes back as
//! [`AgentEvent`]s. Each backend lives in its own module here: `codex` (Codex's
//! app-server, with its TUI attached in a PTY only while someone watches),
//! `acp` (any agent speaking the Agent Client Protocol) and `pty` (any
//! command in a PTY). What a backend can do beyond the basics is
//! its [`Capabilities`]: the page and the rules learn from them, never from
//! its name. A new backend is one folder here (its settings inside), one arm
//! and one word: `registry.rs` says what each is and sketches a third.

pub mod acp;
pub mod codex;
pub mod conversation;
pub mod plain_words;
mod pty;
mod registry;
pub mod settings;
mod team;

pub use registry::{backend_for, team_for, BackendSettings, BackendWords};
pub use team::{Problems, Team};

use std::path::PathBuf;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::sync::mpsc;

pub use crate::model::Capabilities;
use crate::model::{
    AgentInfo, ApprovalDecision, Backend, PendingApproval, SessionKind, TokenUsage,
};
use crate::pty::Pty;

/// Terminal size agents start with, until a browser resizes it.
pub const START_COLS: u16 = 120;
pub const START_ROWS: u16 = 36;

/// Everything a backend needs to start (or resume) one agent.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    pub session_id: String,
    pub kind: SessionKind,
    /// Shown in the backend's own lists (Codex's thread name).
    pub title: String,
    pub model: String,
    pub cwd: PathBuf,
    /// The role prompt (Codex: developer instructions; PTY: the `{prompt}` placeholder).
    pub prompt: String,
    pub prompt_path: PathBuf,
    /// The first thing the agent is asked (none when resuming).
    pub first_turn: Option<String>,
    /// The whole environment of the agent's processes and shell commands
    /// (built from an allowlist: `policy::agent_env`); a backend adds
    /// nothing of the launcher's.
    pub env: Vec<(String, String)>,
    /// The agent's terminal output goes here.
    pub log_path: PathBuf,
    /// The launcher's private folder, where a backend keeps its endpoints.
    pub state_dir: PathBuf,
    /// Functions the agent may call back into the launcher (backends with tools).
    pub tools: Vec<ToolSpec>,
    /// What the agent's commands may touch (backends with a sandbox).
    pub sandbox: Sandbox,
    /// Resume this conversation instead of starting one (backends that keep them).
    pub resume: Option<String>,
    /// It works in a worktree of its own (a department's), not the user's tree.
    pub own_worktree: bool,
    /// Another machine the agent's commands and file changes run on
    /// (backends with remote environments); None: this one.
    pub environment: Option<RemoteEnvironment>,
}

/// A machine an agent's commands run on, as its backend reaches it
/// (issue 53): a loopback relay to the host's Codex exec-server.
#[derive(Debug, Clone)]
pub struct RemoteEnvironment {
    /// The host's name (`launcher.remotes`), the environment's id.
    pub id: String,
    /// The relay's WebSocket URL (loopback).
    pub url: String,
    /// The relay's bearer secret.
    pub secret: crate::secret::Secret,
    /// The agent's working folder there (its worktree on the host).
    pub cwd: PathBuf,
    /// It is this machine, with the agent's worktree shown at the user's
    /// tree's path (issue 52): its commands get the environment built here.
    pub here: bool,
}

/// A backend's program that runs commands for its agents (issue 52).
#[derive(Debug, Clone)]
pub struct ExecServer {
    pub program: PathBuf,
    /// What it needs set besides the launcher's environment.
    pub env: Vec<(String, String)>,
}

/// The sandbox an agent's commands run in, where the backend has one: they
/// may write the working folder, and read what the user can read, except:
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    /// Whether commands may open network connections (loopback included).
    pub network: bool,
    /// Folders neither readable nor writable (the launcher's state folder).
    pub hidden: Vec<PathBuf>,
    /// Folders writable even inside a hidden one (a department's drop folder,
    /// its worktree).
    pub writable: Vec<PathBuf>,
    /// Folders readable only, even where the backend would let it write
    /// (the worktrees folder; the user's working tree too, for a department
    /// in its own worktree).
    pub read_only: Vec<PathBuf>,
    /// The agent's private temporary folder (its `TMPDIR`, writable): when
    /// set, `/tmp` and the backend's own temporary folder are readable only.
    pub temp: Option<PathBuf>,
    /// Its working folder is readable only (a reviewer, issue 75): it
    /// writes nothing but `writable` and its temporary folder.
    pub work_read_only: bool,
}

/// How an agent reaches the launcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Through function calls the backend carries ([`AgentEvent::ToolCall`]): no key.
    Tools,
    /// Through the HTTP API with a scoped session token in its environment.
    Api,
}

/// A function offered to the agent.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: String,
    /// JSON Schema of the arguments (the model is not held to it: validate).
    pub input_schema: Value,
}

/// A call the agent made; the caller is the agent it came from, never an
/// argument. It carries its own way back to the agent ([`ToolReply`]).
#[derive(Debug, Clone)]
pub struct ToolCall {
    pub call_id: String,
    pub tool: String,
    pub arguments: Value,
    pub reply: ToolReply,
}

/// Answers one tool call in the backend it came from (the call's JSON-RPC
/// request, for Codex); made by the backend, used once by the tool handler.
#[derive(Clone)]
pub struct ToolReply(Arc<AnswerFn>);

type AnswerFn = dyn Fn(&ToolAnswer) -> Result<(), AgentError> + Send + Sync;

impl ToolReply {
    pub fn new(
        answer: impl Fn(&ToolAnswer) -> Result<(), AgentError> + Send + Sync + 'static,
    ) -> Self {
        ToolReply(Arc::new(answer))
    }

    /// Gives the agent its answer.
    pub fn send(&self, answer: &ToolAnswer) -> Result<(), AgentError> {
        (self.0)(answer)
    }
}

impl std::fmt::Debug for ToolReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ToolReply")
    }
}

/// Carries out an agent's tool calls: given the calling session and the call,
/// answers through the call's own [`ToolReply`].
pub trait ToolHandler: Send + Sync {
    fn answer(self: Arc<Self>, session_id: String, call: ToolCall) -> BoxFuture<'static, ()>;
}

/// What the function returns to the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolAnswer {
    pub text: String,
    pub success: bool,
}

/// What happened in the agent.
#[derive(Debug, Clone)]
pub enum AgentEvent {
    TurnStarted {
        turn_id: String,
    },
    TurnCompleted {
        turn_id: String,
        status: String,
        error: Option<String>,
    },
    ApprovalRequested(PendingApproval),
    /// Answered here or in the agent's own terminal (`by`).
    ApprovalResolved {
        request_id: String,
        decision: Option<ApprovalDecision>,
        by: &'static str,
        /// The phone's decision token that answered it, if one did.
        nonce: Option<String>,
    },
    TokenUsage(TokenUsage),
    /// What the agent reports of its context window and cost (ACP).
    UsageReported(crate::model::ReportedUsage),
    Error {
        message: String,
        will_retry: bool,
        /// A usage limit stopped the turn, and whose.
        limit: Option<Limit>,
    },
    /// The agent asks the user something only its terminal can answer.
    NeedsInput(String),
    /// The agent called one of its tools; the call says how to answer it.
    ToolCall(ToolCall),
    /// The backend's connection to the agent is gone.
    Closed,
}

/// How a text reached the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// A new turn (the agent was idle).
    Started,
    /// Steered into the running turn.
    Steered,
    /// Typed into its terminal.
    Typed,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Started => "turn_start",
            Delivery::Steered => "turn_steer",
            Delivery::Typed => "typed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The agent program cannot run (the user's to fix).
    #[error("{0}")]
    Missing(String),
    /// The agent needs a login first.
    #[error("{0}")]
    NotLoggedIn(String),
    /// No waiting request (approval or tool call) with this id.
    #[error("no waiting request {0}")]
    NoSuchRequest(String),
    /// The backend has no such operation.
    #[error("the {backend} backend cannot {what}")]
    Unsupported {
        backend: &'static str,
        what: &'static str,
    },
    #[error("{0}")]
    Failed(String),
    /// The agent is gone (its connection closed, or the session ended).
    #[error("the agent is gone")]
    Gone,
}

/// A started agent and what it will say.
pub struct Started {
    pub agent: Arc<dyn Agent>,
    pub events: mpsc::UnboundedReceiver<AgentEvent>,
}

/// The capabilities of a backend's agents: what `AgentBackend::capabilities`
/// says by default, and what a session recorded by an older launcher (without
/// them on its agent record) is taken to have.
pub fn capabilities(backend: Backend) -> Capabilities {
    match backend {
        Backend::Codex => Capabilities {
            conversation: true,
            terminal_on_demand: true,
            approvals: true,
            model_switch: true,
            sandboxed: true,
            reports_turns: true,
            interrupts: true,
            resumes: true,
            runs_elsewhere: true,
            // Its commands' network is off (or wholly on: agent_network).
            model_only_network: false,
            shares_codex_account: true,
            own_model_traffic: false,
            model_from_command: false,
        },
        // Its approvals and conversation are the page's; no terminal (the
        // view is its conversation). Its sandbox is the confinement's: a
        // confined agent's settings say so (`BackendSettings::capabilities`).
        Backend::Acp => Capabilities {
            conversation: true,
            terminal_on_demand: true,
            approvals: true,
            reports_turns: true,
            interrupts: true,
            own_model_traffic: true,
            ..Capabilities::default()
        },
        // Codex's TUI by default: on the Codex account.
        Backend::Pty => Capabilities {
            shares_codex_account: true,
            model_from_command: true,
            ..Capabilities::default()
        },
    }
}

/// What a session's agent can do: as recorded when it started, else (a record
/// of an older launcher) as its backend's agents can.
pub fn capabilities_of(agent: &AgentInfo) -> Capabilities {
    agent
        .capabilities
        .unwrap_or_else(|| capabilities(agent.backend))
}

/// The version a host's exec-server printed (`codex --version`), as the
/// backend whose agents run there reads it.
pub fn exec_server_version_printed(text: &str) -> Option<(u32, u32, u32)> {
    codex::parse_version(text)
}

/// A way of driving agents.
pub trait AgentBackend: Send + Sync {
    fn kind(&self) -> Backend;
    fn capabilities(&self) -> Capabilities {
        capabilities(self.kind())
    }
    /// How its agents reach the launcher.
    fn channel(&self) -> Channel;
    /// What keeps agents from starting (missing, too old), in words with the fix.
    fn problems(&self) -> BoxFuture<'_, Vec<String>>;
    /// Starts (or resumes) an agent. A failure leaves no process behind.
    fn start(&self, spec: AgentSpec) -> BoxFuture<'_, Result<Started, AgentError>>;
    /// The program that runs its agents' commands outside its own process
    /// (Codex's `exec-server`), as it starts it here; None: it has none.
    fn exec_server(&self) -> Option<ExecServer> {
        None
    }
    /// Ends what the backend shares between its agents (after they stopped).
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    /// After a start's resumes: ends what a crashed launcher of `state_dir`
    /// left running that no resumed agent took over.
    fn end_left_running<'a>(&'a self, state_dir: &'a std::path::Path) -> BoxFuture<'a, ()> {
        let _ = state_dir;
        Box::pin(async {})
    }
    /// Sends account-wide news (usage limits) to `tx` from now on; a backend
    /// that has none never sends.
    fn watch_account(&self, tx: mpsc::UnboundedSender<AccountEvent>) {
        let _ = tx;
    }
}

/// Whose usage limit stopped a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The account's, as its backend reports it (Codex): every agent on it
    /// waits, and the queue holds.
    Account,
    /// The agent's own, as it says (an ACP agent): it waits alone, and no
    /// account's reset applies.
    Own,
}

/// News about the account the agents run on, not about one of them.
#[derive(Debug, Clone)]
pub enum AccountEvent {
    /// A (partial) snapshot of the usage limits.
    RateLimits(crate::model::AccountQuota),
}

/// One live agent.
pub trait Agent: Send + Sync {
    /// The PTY the user watches and types into, while there is one. Without
    /// [`Capabilities::terminal_on_demand`] there always is, and the session
    /// lives as long as it.
    fn terminal(&self) -> Option<Arc<Pty>>;
    /// The terminal, started for a viewer when it has none (on demand).
    fn attach_terminal(&self) -> BoxFuture<'_, Result<Arc<Pty>, AgentError>> {
        let terminal = self.terminal();
        Box::pin(async move {
            terminal.ok_or(AgentError::Unsupported {
                backend: "this",
                what: "start a terminal",
            })
        })
    }
    /// Stops a terminal started on demand (the agent goes on without it).
    fn detach_terminal(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    /// Its next turns use `model` ([`Capabilities::model_switch`]).
    fn set_model<'a>(&'a self, model: &'a str) -> BoxFuture<'a, Result<(), AgentError>> {
        let _ = model;
        Box::pin(async {
            Err(AgentError::Unsupported {
                backend: "this",
                what: "change its model",
            })
        })
    }
    /// Its conversation, if the backend keeps one.
    fn conversation(&self) -> Option<&Arc<conversation::Conversation>> {
        None
    }
    /// When it last did something visible (output, an event): monotonic and wall clock.
    fn activity(&self) -> Option<(std::time::Instant, std::time::SystemTime)> {
        let terminal = self.terminal()?;
        Some((terminal.last_output()?, terminal.last_output_wall()?))
    }
    /// The conversation that outlives the agent's processes, if the backend keeps one.
    fn thread_id(&self) -> Option<&str>;
    /// What this agent said it can do when it started, where that differs
    /// from its backend's agents (an ACP agent's `initialize`); None: those.
    fn capabilities(&self) -> Option<Capabilities> {
        None
    }
    /// A helper process beside the terminal (Codex's app-server), for clean-up after a crash.
    fn helper_pid(&self) -> Option<u32>;
    /// Whether a turn is in progress.
    fn working(&self) -> bool;
    /// Puts text in: a turn, steered into one, or typed.
    fn send<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Delivery, AgentError>>;
    /// Stops the running turn (Codex `turn/interrupt`; a PTY gets Ctrl-C).
    fn interrupt(&self) -> BoxFuture<'_, Result<(), AgentError>>;
    /// Answers a waiting approval; `by` says who decided (`dashboard`, a
    /// phone's channel), as its conversation shows it.
    fn decide(
        &self,
        request_id: &str,
        decision: ApprovalDecision,
        by: &'static str,
    ) -> Result<(), AgentError>;
    /// Ends the agent's processes (the terminal first); the exit code of the terminal.
    fn stop(&self) -> BoxFuture<'_, i32>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sessions_capabilities_are_those_recorded_at_its_start_else_its_backends() {
        // A record of an older launcher: none recorded, its backend's.
        let old: AgentInfo =
            serde_json::from_value(serde_json::json!({"backend": "codex"})).unwrap();
        assert_eq!(old.capabilities, None);
        assert_eq!(capabilities_of(&old), capabilities(Backend::Codex));
        // Recorded at its start: those, whatever its backend's agents can now.
        let recorded = Capabilities {
            interrupts: true,
            ..Capabilities::default()
        };
        let agent = AgentInfo {
            backend: Backend::Pty,
            capabilities: Some(recorded),
            ..AgentInfo::default()
        };
        let stored = serde_json::to_value(&agent).unwrap();
        assert_eq!(stored["capabilities"]["interrupts"], true, "{stored}");
        let back: AgentInfo = serde_json::from_value(stored).unwrap();
        assert_eq!(capabilities_of(&back), recorded);
        assert_ne!(capabilities_of(&back), capabilities(Backend::Pty));
    }
}
