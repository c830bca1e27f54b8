//! The answers of the launcher-wide routes, as typed views. Where the Python
//! tool named a field differently, both names are present with the same value.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Department;
use crate::mailbox::ingest::watchdog::IngestionView;
use crate::model::{Plan, QueueItem, TerminalView};
use crate::sessions::view::SessionView;

/// `GET /api/status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub ok: bool,
    pub api_version: u32,
    pub repo: String,
    pub project_name: String,
    pub workflow_doc: String,
    /// The Python tool's `departments`: key -> [title, duty].
    pub departments: BTreeMap<String, (String, String)>,
    pub department_list: Vec<Department>,
    pub active_zhongshu_sessions: usize,
    pub active_department_sessions: usize,
    pub active_terminals: usize,
    pub active_sessions_total: usize,
    pub queued_count: usize,
    pub max_department_sessions: usize,
    pub max_terminals: usize,
    pub department_queue: Vec<QueueItem>,
    /// The Python tool used ttyd; terminals are built in here.
    pub ttyd: Ttyd,
    pub model_choices: Vec<String>,
    pub zhongshu_model: String,
    pub department_model: String,
    pub require_plan_confirmation: bool,
    pub terminal_shells: Vec<String>,
    pub queue: Vec<QueueItem>,
    /// Absent for an agent's token: each terminal URL carries a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_terminals: Option<Vec<TerminalView>>,
    pub zhongshu_sessions: Vec<SessionView>,
    pub department_sessions: Vec<SessionView>,
    pub sessions: Vec<SessionView>,
    pub audit_seq: u64,
    pub audit_chain_problem: Option<String>,
    pub mailbox_ingestion: IngestionView,
    /// How agents run and what they can reach, in words for the dashboard.
    pub agents: AgentsView,
    /// The account's usage limits, the queue's hold, parked sessions, budgets.
    pub quota: crate::quota::QuotaView,
    /// What the repository's configuration sets that waits for the user's
    /// trust before any session starts; null once trusted.
    pub config_trust: Option<crate::config_trust::TrustRequest>,
    /// What the configuration loader warned about (unknown keys with the
    /// closest known one, values it ignored), each `file:line: text`.
    pub config_warnings: Vec<String>,
    /// Which `governance.yaml` is read (and which is not, when both the
    /// root's and the Python tool's installed one exist).
    pub config_file: ConfigFileView,
}

/// The configuration file in use, as `/api/status` says it.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigFileView {
    /// The file read; null when none exists (the built-in defaults apply).
    pub path: Option<String>,
    /// The installed file beside the root's, not read.
    pub shadowed: Option<String>,
    /// The sentence the dashboard shows when a file is not read.
    pub note: Option<String>,
}

/// How the launcher's agents run.
#[derive(Debug, Clone, Serialize)]
pub struct AgentsView {
    pub backend: crate::model::Backend,
    /// Their commands run in the backend's sandbox (Codex), or as the user (PTY).
    pub sandboxed: bool,
    /// Whether sandboxed commands may use the network (`launcher.agent_network`).
    pub network: bool,
    /// What an agent can reach, plainly.
    pub reach: String,
    /// What keeps agents from starting (Codex missing or too old), with the fix.
    pub problems: Vec<String>,
    /// A scripted demo (`codex-governance demo`): no Codex, a banner says so.
    pub demo: bool,
}

/// The Python tool's ttyd capability, answered as "off": there is no ttyd
/// (terminals are built in). `port` is 0: no ttyd port is open.
#[derive(Debug, Clone, Serialize)]
pub struct Ttyd {
    pub enabled: bool,
    pub available: bool,
    pub port: u16,
    pub builtin_terminals: bool,
}

/// One entry of `GET /api/zhongshu_sessions`.
#[derive(Debug, Clone, Serialize)]
pub struct ZhongshuEntry {
    #[serde(flatten)]
    pub session: SessionView,
    pub child_departments: Vec<SessionView>,
    /// The same list under the Python tool's name.
    pub children: Vec<SessionView>,
    pub queued_departments: Vec<QueueItem>,
    pub report_count: usize,
}

/// `GET /api/zhongshu_sessions`.
#[derive(Debug, Clone, Serialize)]
pub struct ZhongshuSessionsView {
    pub ok: bool,
    pub sessions: Vec<ZhongshuEntry>,
    pub zhongshu_sessions: Vec<ZhongshuEntry>,
    pub active_zhongshu_sessions: usize,
    pub active_department_sessions: usize,
    pub max_department_sessions: usize,
    pub queue: Vec<QueueItem>,
}

/// What a restarted Zhongshu needs.
#[derive(Debug, Clone, Serialize)]
pub struct ZhongshuContext {
    pub session: SessionView,
    pub task: String,
    /// `{}` before a plan is registered (as the Python tool gives it).
    #[serde(serialize_with = "plan_or_empty")]
    pub plan: Option<Plan>,
    pub recent_results: Vec<crate::model::TaskResult>,
    /// The same results under the Python tool's name.
    pub reports: Vec<crate::model::TaskResult>,
    pub children: Vec<SessionView>,
}

fn plan_or_empty<S: serde::Serializer>(plan: &Option<Plan>, s: S) -> Result<S::Ok, S::Error> {
    match plan {
        Some(p) => p.serialize(s),
        None => serde_json::Map::new().serialize(s),
    }
}

/// `GET /api/zhongshu_context`: the Python tool's `{ok, context}` with ours
/// flat beside it.
#[derive(Debug, Clone, Serialize)]
pub struct ContextView {
    #[serde(flatten)]
    pub flat: ZhongshuContext,
    pub context: ZhongshuContext,
}

pub use crate::model::AutoDispatch;

/// The plan inside `GET /api/zhongshu_plan`.
#[derive(Debug, Clone, Serialize)]
pub struct PlanBody {
    #[serde(flatten)]
    pub plan: PlanOrEmpty,
    pub ready: bool,
    pub reported_at: Option<String>,
    pub source: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_confirmation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_dispatch: Option<AutoDispatch>,
    pub active_department_sessions: usize,
    pub max_department_sessions: usize,
    pub max_terminals: usize,
    pub active_terminals: usize,
    pub active_zhongshu_sessions: usize,
    pub model_choices: Vec<String>,
}

/// A registered plan, or the empty shape before one is registered.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum PlanOrEmpty {
    Registered(Box<Plan>),
    Empty {
        session_id: String,
        summary: String,
        needs_confirmation: bool,
        assignments: Vec<()>,
    },
}

/// `GET /api/zhongshu_plan`.
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    pub session_id: String,
    pub session: Option<SessionView>,
    pub plan: PlanBody,
}

/// The answer to a start (the Python tool's shape).
#[derive(Debug, Clone, Serialize)]
pub struct StartedView {
    pub session_id: String,
    pub session: Option<SessionView>,
    pub prompt_path: Option<String>,
    pub pid: Option<u32>,
    pub browser_terminal: Option<TerminalView>,
    pub active: usize,
    pub active_zhongshu_sessions: usize,
    pub active_department_sessions: usize,
    pub active_sessions_total: usize,
    /// Set on `start_department` answers: false when it started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued: Option<bool>,
}

/// The answer to `start_assignments` and `confirm_plan`.
#[derive(Debug, Clone, Serialize)]
pub struct AssignmentsView {
    pub plan: Plan,
    pub started: Vec<SessionView>,
    pub queued_count: usize,
    pub queued: Vec<QueueItem>,
    pub active: usize,
    pub active_department_sessions: usize,
    pub active_zhongshu_sessions: usize,
}
