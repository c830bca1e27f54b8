//! What the launcher knows of an agent beyond its process: which backend runs
//! it, what it is doing (from the backend's events, never from its screen),
//! what it waits for, and what it has cost. Every session carries it.

use serde::{Deserialize, Serialize};

word_enum!(
    /// How a session's agent is driven.
    Backend { Pty => "pty", Codex => "codex", Acp => "acp" }
);
word_enum!(
    /// What the agent is doing.
    AgentState { Starting => "starting", Working => "working", Idle => "idle", NeedsUser => "needs_user", Exited => "exited" }
);
word_enum!(
    /// Why an agent needs the user. `Backend`: suspended until its agent
    /// program can start; `ConfigTrust`: suspended until the user trusts
    /// the repository's changed configuration.
    AttentionKind { Approval => "approval", Login => "login", Trust => "trust", Input => "input", Error => "error", RateLimit => "rate_limit", Backend => "backend", ConfigTrust => "config_trust" }
);
word_enum!(
    /// What an approval request asks for.
    ApprovalKind { Command => "command", FileChange => "file_change", Permissions => "permissions" }
);
word_enum!(
    /// What a proposed patch does to one file.
    PatchKind { Add => "add", Delete => "delete", Update => "update" }
);
word_enum!(
    /// The decision on an approval request.
    ApprovalDecision { Accept => "accept", AcceptForSession => "accept_for_session", Decline => "decline", Cancel => "cancel" }
);

impl ApprovalDecision {
    /// The word Codex's app-server expects.
    pub fn codex_word(self) -> &'static str {
        match self {
            ApprovalDecision::Accept => "accept",
            ApprovalDecision::AcceptForSession => "acceptForSession",
            ApprovalDecision::Decline => "decline",
            ApprovalDecision::Cancel => "cancel",
        }
    }
}

impl Backend {
    /// Its agents, as the page names them ("ACP agents").
    pub fn agents_noun(self) -> &'static str {
        match self {
            Backend::Pty => "PTY agents",
            Backend::Codex => "Codex agents",
            Backend::Acp => "ACP agents",
        }
    }
}

#[allow(clippy::derivable_impls)] // the enums are declared by `word_enum!`
impl Default for Backend {
    fn default() -> Self {
        Backend::Pty
    }
}

#[allow(clippy::derivable_impls)]
impl Default for AgentState {
    fn default() -> Self {
        AgentState::Starting
    }
}

/// Why the agent waits for the user, in words.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attention {
    pub kind: AttentionKind,
    pub text: String,
}

/// Tokens the agent's conversation used (Codex's `thread/tokenUsage/updated`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
    pub total_tokens: u64,
}

/// What an agent itself reports of its usage (an ACP agent's
/// `usage_update`): its context window, and what the session cost so far
/// where it says.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ReportedUsage {
    /// Tokens in its context now.
    pub context_used: u64,
    /// Its context window.
    pub context_size: u64,
    /// The session's cost so far, in `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl ReportedUsage {
    /// Its cost in US dollars, when it reported one in them.
    pub fn cost_usd(&self) -> Option<f64> {
        let usd = self.currency.as_deref()?.eq_ignore_ascii_case("USD");
        self.cost.filter(|c| usd && c.is_finite() && *c >= 0.0)
    }
}

/// A request of the agent's that waits for a decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PendingApproval {
    /// The app-server's request id, as text.
    pub request_id: String,
    pub session_id: String,
    pub kind: ApprovalKind,
    #[serde(default)]
    pub command: Option<String>,
    /// For a file change: what the patch does to each file, as the user must
    /// see it before deciding.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<PatchChange>,
    #[serde(default)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    pub requested_at: String,
}

/// One file of a patch an agent asks to apply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PatchChange {
    /// The file, as the agent named it (absolute for Codex).
    pub path: String,
    pub kind: PatchKind,
    /// Where an update moves the file, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub move_to: Option<String>,
    /// The unified diff (for an added file, its lines).
    pub diff: String,
    /// The diff was cut to keep the record small: the rest is in the agent's terminal.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub diff_cut: bool,
}

impl PendingApproval {
    /// Every path a patch names: its files, where it moves them, and the
    /// root it asks to write (Codex's `grantRoot`, kept as `cwd`).
    pub fn patched_paths(&self) -> impl Iterator<Item = &str> {
        self.changes
            .iter()
            .flat_map(|c| std::iter::once(c.path.as_str()).chain(c.move_to.as_deref()))
            .chain(self.cwd.as_deref())
    }

    /// The approval as it may be shown: every text the agent chose (the
    /// command, its folder, the reason, the files and diffs of a patch) with
    /// controls and bidirectional marks written out (`\u{202e}`), so what the
    /// user approves reads as what runs, wherever it is shown.
    pub fn shown(mut self) -> PendingApproval {
        use crate::sanitize::shown;
        self.command = self.command.as_deref().map(shown);
        self.cwd = self.cwd.as_deref().map(shown);
        self.reason = self.reason.as_deref().map(shown);
        for c in &mut self.changes {
            c.path = shown(&c.path);
            c.move_to = c.move_to.as_deref().map(shown);
            c.diff = shown(&c.diff);
        }
        self
    }

    /// What is asked, in a line: the command, the files a patch changes, or the reason.
    pub fn summary(&self) -> String {
        if let Some(c) = &self.command {
            return c.clone();
        }
        if !self.changes.is_empty() {
            let files: Vec<String> = self
                .changes
                .iter()
                .map(|c| format!("{} {}", c.kind.as_str(), c.path))
                .collect();
            return files.join(", ");
        }
        self.reason
            .clone()
            .unwrap_or_else(|| format!("{} approval", self.kind.as_str().replace('_', " ")))
    }
}

/// What a backend's agents can do beyond starting, talking and stopping
/// (`AgentBackend::capabilities` in `crate::agents`). Recorded on the agent
/// when it starts, so a restart shows what it was started with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    /// It keeps a conversation of items (messages, commands with their output,
    /// file changes, tool calls, approvals).
    pub conversation: bool,
    /// Its terminal runs only while someone watches it; the agent lives on
    /// without one. Otherwise the terminal is the agent.
    pub terminal_on_demand: bool,
    /// Its approvals are answered from the page.
    pub approvals: bool,
    /// Its model can change for its next turns.
    pub model_switch: bool,
    /// It runs in a sandbox: it writes only the repository and its own drop
    /// folder, so a report in the shared `incoming/` cannot be its.
    pub sandboxed: bool,
    /// It says when a turn starts and ends (working, idle); otherwise it is
    /// working for as long as it runs.
    pub reports_turns: bool,
    /// Its running turn can be stopped without ending it.
    pub interrupts: bool,
    /// Its conversation goes on in a new process after a restart or a send back.
    pub resumes: bool,
    /// Its commands and file changes can run on another machine
    /// (`AgentSpec::environment`, issue 53).
    pub runs_elsewhere: bool,
    /// Its network holds only its model: its commands reach no other host
    /// and no port of the machine but its model's (a confined ACP agent).
    pub model_only_network: bool,
    /// Its agents draw on the user's Codex account and its usage limits
    /// (Codex's; a terminal agent's, Codex's TUI by default); an ACP agent's
    /// quota and key are its own.
    pub shares_codex_account: bool,
    /// Its own process talks to its model, so its network is on unless it
    /// holds only that model (an ACP agent; Codex's model calls are the
    /// app-server's, outside its commands' sandbox).
    pub own_model_traffic: bool,
    /// It is handed a model only where its command names `{model}` (a
    /// command in a terminal).
    pub model_from_command: bool,
}

/// The agent side of a session.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AgentInfo {
    #[serde(default)]
    pub backend: Backend,
    /// What its backend could do when it started; None in the records of
    /// older launchers (then derived from `backend`, `agents::capabilities_of`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    #[serde(default)]
    pub agent_state: AgentState,
    #[serde(default)]
    pub attention: Option<Attention>,
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(default)]
    pub turn_count: u32,
    #[serde(default)]
    pub last_turn_status: Option<String>,
    #[serde(default)]
    pub token_usage: Option<TokenUsage>,
    /// What the agent itself reports of its context and cost (ACP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_usage: Option<ReportedUsage>,
    #[serde(default)]
    pub pending_approvals: Vec<PendingApproval>,
    /// The app-server's process (group leader), for cleanup after a crash.
    #[serde(default)]
    pub server_pid: Option<u32>,
    /// Reminder turns sent to a department that ended a turn without reporting.
    #[serde(default)]
    pub reminders_sent: u32,
    /// Tool calls that changed state, so a call repeated after a crash is
    /// answered again and not carried out twice (the newest few are kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolReceipt>,
    /// Waiting for the usage limit to reset (then one continue turn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parked: Option<super::Parked>,
    /// The usage limit stopped the running turn (parked when it ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_hit: Option<String>,
    /// That limit is the agent's own, not the account's (see `Parked::own`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub limit_own: bool,
    /// Codex retries the model's request (k of its 5) in this turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrying: Option<u32>,
    /// What a planner said last when its turn ended (cut to
    /// [`LAST_MESSAGE_MAX`]): its question stays in Needs you while it is
    /// suspended and its live conversation is not back yet. Never shown in
    /// a session's record (the views take it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<String>,
}

/// The most of a planner's last message a session record keeps.
pub const LAST_MESSAGE_MAX: usize = 4000;

/// A state-changing tool call that took effect, recorded in the same
/// transaction as its effect.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolReceipt {
    pub call_id: String,
    pub tool: String,
    /// What it did, in a word the launcher answers a repeat with (a result key, a plan).
    #[serde(default)]
    pub outcome: String,
}

/// How many receipts a session keeps.
const RECEIPTS_KEPT: usize = 64;

impl AgentInfo {
    /// Records a call that took effect (in the transaction of the effect).
    pub fn record_tool_call(&mut self, receipt: ToolReceipt) {
        self.tool_calls.retain(|r| r.call_id != receipt.call_id);
        self.tool_calls.push(receipt);
        let excess = self.tool_calls.len().saturating_sub(RECEIPTS_KEPT);
        self.tool_calls.drain(..excess);
    }

    /// The receipt of a call that already took effect.
    pub fn tool_receipt(&self, call_id: &str) -> Option<&ToolReceipt> {
        self.tool_calls.iter().find(|r| r.call_id == call_id)
    }
}

impl AgentInfo {
    /// The state implied by what is waiting: approvals first, then attention.
    pub fn settle(&mut self, working: bool) {
        if let Some(a) = self.pending_approvals.first() {
            self.agent_state = AgentState::NeedsUser;
            self.attention = Some(Attention {
                kind: AttentionKind::Approval,
                text: a.summary(),
            });
        } else if self.attention.is_some() {
            self.agent_state = AgentState::NeedsUser;
        } else {
            self.agent_state = if working {
                AgentState::Working
            } else {
                AgentState::Idle
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(id: &str) -> PendingApproval {
        PendingApproval {
            request_id: id.into(),
            session_id: "s".into(),
            kind: ApprovalKind::Command,
            command: Some("rm -rf build".into()),
            changes: vec![],
            cwd: None,
            reason: None,
            requested_at: "t".into(),
        }
    }

    #[test]
    fn approvals_outrank_work_and_clear_back_to_it() {
        let mut a = AgentInfo::default();
        a.settle(true);
        assert_eq!(a.agent_state, AgentState::Working);
        a.pending_approvals.push(approval("1"));
        a.settle(true);
        assert_eq!(a.agent_state, AgentState::NeedsUser);
        assert_eq!(a.attention.as_ref().unwrap().kind, AttentionKind::Approval);
        assert_eq!(a.attention.as_ref().unwrap().text, "rm -rf build");
        a.pending_approvals.clear();
        a.attention = None;
        a.settle(false);
        assert_eq!(a.agent_state, AgentState::Idle);
    }

    #[test]
    fn words_round_trip() {
        let s = serde_json::to_string(&AgentState::NeedsUser).unwrap();
        assert_eq!(s, "\"needs_user\"");
        assert_eq!(
            ApprovalDecision::AcceptForSession.codex_word(),
            "acceptForSession"
        );
        let d: ApprovalDecision = serde_json::from_str("\"decline\"").unwrap();
        assert_eq!(d, ApprovalDecision::Decline);
    }
}
