//! The records the launcher keeps: sessions, plans, results, queue items, terminals.
//!
//! Field names are those of the API (SPEC sections 6-8), so a record serializes
//! straight into a response; values that change every second (heartbeat, preview)
//! are added by the views, not stored.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::Session;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Zhongshu,
    Department,
    /// A second opinion on a department's recorded work (issue 75): it
    /// reads, and reports findings through its one tool.
    Reviewer,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Running,
    Exited,
}

word_enum!(
    /// Why the launcher closed a session.
    CloseReason {
        /// The developer closed it (the API or the dashboard).
        Api => "api",
        /// The developer closed its terminal.
        TerminalClosed => "terminal_closed",
        /// A department ended its turns without reporting, after a reminder.
        NoReport => "no_report",
        /// The helper process its agent runs on went away (Codex's app-server);
        /// the words, shown and stored, are those of the launchers before.
        #[serde(rename = "app_server_exited")]
        HelperExited => "codex_app_server_exited",
        /// A department reported (SPEC 8 step 6).
        Reported => "mailbox_report_received",
        /// The developer stopped the plan it belongs to.
        PlanStopped => "plan_stopped",
        /// Another attempt at its assignment was chosen, or verified first
        /// under `attempts_stop: first_verified` (issue 74).
        AttemptSettled => "attempt_settled",
    }
);

impl CloseReason {
    /// The developer closed it (directly, by its terminal, or by stopping its plan).
    pub fn by_user(self) -> bool {
        matches!(
            self,
            CloseReason::Api | CloseReason::TerminalClosed | CloseReason::PlanStopped
        )
    }
}
word_enum!(
    /// Where a Zhongshu's plan stands.
    PlanStatus {
        None => "none",
        AwaitingConfirmation => "awaiting_confirmation",
        Dispatched => "dispatched",
        Ready => "ready",
        /// Every assignment ended (reported, failed, without a report, or stopped).
        Finished => "finished",
        /// The developer stopped it: its departments were closed, its queue dropped.
        Stopped => "stopped",
    }
);
word_enum!(
    /// Whether a department has reported.
    ReportStatus { Pending => "pending", Reported => "reported" }
);
word_enum!(
    /// The outcome of the last automatic notice to a Zhongshu.
    NoticeStatus { Sent => "sent", Skipped => "skipped", Error => "error" }
);
word_enum!(
    /// One assignment of a plan.
    AssignmentStatus {
        Proposed => "proposed",
        Queued => "queued",
        Started => "started",
        Failed => "failed",
        Skipped => "skipped",
        /// Queued, then dropped: its planner was closed or its plan stopped.
        Dropped => "dropped",
    }
);
word_enum!(
    /// A queue item: waiting, being started, or failed to start.
    QueueStatus { Queued => "queued", Starting => "starting", Failed => "failed" }
);
word_enum!(
    /// Where a result came from.
    ResultSource { Mailbox => "mailbox", LauncherFallback => "launcher_fallback" }
);

#[allow(clippy::derivable_impls)] // the enum is declared by `word_enum!`
impl Default for ResultSource {
    fn default() -> Self {
        ResultSource::Mailbox
    }
}
word_enum!(
    /// A browser terminal's listener.
    TerminalStatus { Running => "running", Exited => "exited", Closed => "closed" }
);
word_enum!(
    /// What a browser terminal shows.
    TerminalKind {
        /// A session's live PTY, interactive (any backend; the wire word is
        /// the one of the launchers before).
        #[serde(rename = "codex_session")]
        AgentSession => "codex_session",
        /// A read-only view of a session's PTY.
        SessionPreview => "session_preview",
        /// A shell started for the developer.
        Interactive => "interactive",
    }
);

#[allow(clippy::derivable_impls)] // the enum is declared by `word_enum!`
impl Default for AssignmentStatus {
    fn default() -> Self {
        AssignmentStatus::Proposed
    }
}

impl TerminalKind {
    /// Whether the browser may type into it.
    pub fn accepts_input(self) -> bool {
        self != TerminalKind::SessionPreview
    }
}

/// `None` as `""`, and `""` read back as `None`: where the Python tool gave a
/// string (possibly empty), so does the API, and the records keep no empty text.
pub mod text_or_empty {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_deref().unwrap_or(""))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.filter(|t| !t.is_empty()))
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Assignment {
    pub department: String,
    /// The department's title and duty (the Python tool's `title`, `duty`).
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub duty: String,
    pub task: String,
    pub model: String,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub verify: Vec<String>,
    #[serde(default, with = "text_or_empty")]
    pub reason: Option<String>,
    #[serde(default, with = "text_or_empty")]
    pub model_reason: Option<String>,
    /// What the plan review says of its scope: open under `scope: block`,
    /// or files reaching outside its department's globs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_note: Option<String>,
    #[serde(default = "yes")]
    pub selected: bool,
    #[serde(default)]
    pub status: AssignmentStatus,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub queue_id: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    /// Sessions that ran this assignment before a retry, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_sessions: Vec<String>,
    /// How many of the earlier sessions were sent back (the rest were retried).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sent_back: u32,
    /// The review comments the last send-back carried.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub review_comments: u32,
    /// One of several attempts at the planner's assignment (issue 74).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<Attempt>,
    /// The host of `launcher.remotes` it works on (issue 53); None: here.
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    pub session_id: String,
    /// Grows with every registration of this Zhongshu's plan (the first is 1),
    /// so a confirmation can name the plan the user saw.
    #[serde(default)]
    pub revision: u64,
    pub summary: String,
    pub assignments: Vec<Assignment>,
    pub needs_confirmation: bool,
    pub status: PlanStatus,
    pub registered_at: String,
    #[serde(default)]
    pub confirmed_at: Option<String>,
    /// The repository's HEAD when the plan was registered (departments branch
    /// from it) and the user's uncommitted files the plan names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<super::PlanBase>,
    /// When every assignment had ended (or the plan was stopped and its
    /// departments had ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// How its assignments ended, once the plan is finished or stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<super::PlanOutcome>,
    /// The attempt chosen in each group of attempts (issue 74), by group.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub attempt_choices: std::collections::BTreeMap<String, String>,
    /// The budget the user raised this plan's to (over `launcher.plan_budget_*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u64>,
    /// Its departments spent the budget (in words): no more of them start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_reached: Option<String>,
}

/// `attempts` as an assignment or a department writes it (issue 74).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum AttemptsInput {
    /// This many, each by its department's own agent.
    Count(usize),
    /// One per agent named.
    Agents(Vec<String>),
}

/// One of several attempts at one assignment of a plan (issue 74): each
/// an assignment of its own, from the plan's one base commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The planner's assignment they come from (its place in the plan as
    /// sent, from 0): the attempts of one group are compared.
    pub group: usize,
    /// From 1.
    pub n: usize,
    pub of: usize,
    /// The department key whose agent drives it; None: its own department's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueueItem {
    pub id: String,
    pub parent_session_id: Option<String>,
    pub department: String,
    /// The department's title (the Python tool's queue entries carry it).
    #[serde(default)]
    pub title: String,
    pub task: String,
    pub model: String,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub verify: Vec<String>,
    #[serde(default)]
    pub reason: Option<String>,
    /// Index of the plan assignment it came from, if any.
    #[serde(default)]
    pub assignment_index: Option<usize>,
    pub queued_at: String,
    pub status: QueueStatus,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub attempts: u32,
    /// The department session whose worktree the new one works on in (a
    /// cut-off assignment resumed with its plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_from: Option<String>,
    /// The host it starts on (issue 53); None: here.
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// Why it waits though a slot is free (its host is not ready), in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// One of several attempts at its assignment (issue 74).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<Attempt>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskResult {
    pub report_id: String,
    pub parent_session_id: String,
    pub department_session_id: String,
    pub department: String,
    pub summary: String,
    #[serde(default)]
    pub changed_files: Vec<String>,
    #[serde(default)]
    pub verifications_run: Vec<String>,
    #[serde(default)]
    pub verifications_skipped: Vec<String>,
    #[serde(default)]
    pub risks: Vec<String>,
    #[serde(default)]
    pub needs_user_confirmation: bool,
    #[serde(default, with = "text_or_empty")]
    pub next_action: Option<String>,
    pub reported_at: String,
    pub source: ResultSource,
    /// Its planner read it (`GET /api/zhongshu_inbox` without `peek`).
    #[serde(default)]
    pub read: bool,
    /// The developer saw it in the dashboard (opened its packet or its
    /// department's changes, or marked the inbox read): the page's own read
    /// state, apart from the planner's.
    #[serde(default)]
    pub seen: bool,
    /// `""` for a result that came from no file (a fallback, a tool call).
    #[serde(default, with = "text_or_empty")]
    pub mailbox_file: Option<String>,
    #[serde(default)]
    pub handoff_packet: Option<String>,
    /// How many times this id was registered (1 = once).
    #[serde(default)]
    pub revision: u32,
    /// SHA-256 of the report file, so re-ingesting the same file after a crash is a no-op.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_sha256: Option<String>,
    /// The department's task, for the packet's Objective.
    #[serde(default)]
    pub objective: String,
    /// Submitted over the API with the department's own session token (bound to
    /// that session); false for a file dropped into the mailbox by hand.
    #[serde(default)]
    pub verified: bool,
    /// The launcher's commit of the department's worktree when it reported
    /// (isolated departments only, as the next three).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// What the department really changed against its base commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_changed_files: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_stat: Option<super::DiffStat>,
    /// Scope, claim and risk findings on the actual changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<super::ChangeReview>,
    /// The developer's answer to its confirmation request, once given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<ConfirmationAnswer>,
}

word_enum!(
    /// What the developer did with a report's confirmation request.
    ConfirmationDecision {
        Confirmed => "confirmed",
        Rejected => "rejected",
        /// Put aside without an answer (nothing is sent to the Zhongshu).
        Dismissed => "dismissed",
    }
);

/// The developer's answer to a report that asked for confirmation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConfirmationAnswer {
    pub decision: ConfirmationDecision,
    #[serde(default)]
    pub note: Option<String>,
    pub at: String,
}

#[cfg(test)]
impl TaskResult {
    /// A plain unread mailbox result from `lingyubu-1` to `zhongshu-1`, for tests.
    pub fn sample(report_id: &str, summary: &str) -> TaskResult {
        TaskResult {
            report_id: report_id.into(),
            parent_session_id: "zhongshu-1".into(),
            department_session_id: "lingyubu-1".into(),
            department: "lingyubu".into(),
            summary: summary.into(),
            changed_files: vec![],
            verifications_run: vec![],
            verifications_skipped: vec![],
            risks: vec![],
            needs_user_confirmation: false,
            next_action: None,
            reported_at: "2026-01-01T00:00:00+00:00".into(),
            source: ResultSource::Mailbox,
            read: false,
            mailbox_file: None,
            handoff_packet: None,
            revision: 1,
            content_sha256: None,
            objective: String::new(),
            verified: false,
            ..TaskResult::default()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TerminalRecord {
    pub id: String,
    pub kind: TerminalKind,
    pub session_id: Option<String>,
    pub title: String,
    pub url: String,
    pub status: TerminalStatus,
    pub started_at: String,
    #[serde(default)]
    pub closed_at: Option<String>,
    /// The process in the terminal's PTY.
    #[serde(default)]
    pub pid: Option<u32>,
}

impl TerminalStatus {
    /// The status as the API shows it: `closed` is `exited` (the Python
    /// tool's word for every terminal that ended).
    pub fn shown(self) -> TerminalStatus {
        match self {
            TerminalStatus::Closed => TerminalStatus::Exited,
            other => other,
        }
    }
}

impl TerminalRecord {
    /// The record as the database keeps it: the URL without its query, whose
    /// token opens the terminal. Tokens live in memory only (terminals are
    /// opened anew, with new tokens, by each launcher).
    pub fn at_rest(&self) -> TerminalRecord {
        let end = self.url.find(['?', '#']).unwrap_or(self.url.len());
        TerminalRecord {
            url: self.url[..end].to_string(),
            ..self.clone()
        }
    }
}

/// The launcher's small tables, held in memory and mirrored row by row in the
/// database (results live only in the database: they grow with history).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Next number per id prefix (`zhongshu`, each department key, `q`).
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
    #[serde(default)]
    pub sessions: IndexMap<String, Session>,
    #[serde(default)]
    pub plans: BTreeMap<String, Plan>,
    #[serde(default)]
    pub queue: Vec<QueueItem>,
    #[serde(default)]
    pub terminals: IndexMap<String, TerminalRecord>,
    /// The account's usage limits, the queue's hold, the parking order.
    #[serde(default)]
    pub quota: super::QuotaState,
}

#[cfg(test)]
#[test]
fn missing_texts_show_as_empty_strings_and_read_back_as_none() {
    let mut r = TaskResult::sample("r1", "s");
    r.next_action = None;
    r.mailbox_file = None;
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["next_action"], "", "{json}");
    assert_eq!(json["mailbox_file"], "", "{json}");
    let back: TaskResult = serde_json::from_value(json).unwrap();
    assert_eq!((back.next_action, back.mailbox_file), (None, None));
    let old: TaskResult = serde_json::from_value(serde_json::json!({
        "report_id": "r", "parent_session_id": "z", "department_session_id": "d",
        "department": "x", "summary": "s", "reported_at": "t", "source": "mailbox",
        "next_action": null, "mailbox_file": "/m.json",
    }))
    .unwrap();
    assert_eq!(old.next_action, None);
    assert_eq!(old.mailbox_file.as_deref(), Some("/m.json"));
}

#[cfg(test)]
#[test]
fn the_question_is_the_next_action_else_the_summary() {
    let mut r = TaskResult::sample("r1", "Reworded the README");
    r.next_action = Some("Confirm the README wording before commit".into());
    assert_eq!(
        r.confirmation_question(),
        "Confirm the README wording before commit"
    );
    r.next_action = Some("none".into());
    assert_eq!(r.confirmation_question(), "Reworded the README");
    r.next_action = None;
    assert_eq!(r.confirmation_question(), "Reworded the README");
}

/// Results are filed per sender: one session can never replace another's.
pub fn result_key(parent: &str, department_session_id: &str, report_id: &str) -> String {
    format!("{parent}/{department_session_id}/{report_id}")
}

impl TaskResult {
    /// What a report that asks for confirmation asks: its next action, where
    /// it names one, else its summary.
    pub fn confirmation_question(&self) -> String {
        self.next_action
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty() && !a.eq_ignore_ascii_case("none"))
            .unwrap_or(self.summary.trim())
            .to_string()
    }

    /// The stem of its handoff packet's name: the report id, prefixed with the
    /// sending session when they differ (two senders may use one report id).
    pub fn packet_stem(&self) -> String {
        if self.report_id == self.department_session_id {
            self.report_id.clone()
        } else {
            format!("{}.{}", self.department_session_id, self.report_id)
        }
    }
}

impl State {
    /// Allocates the next id with this prefix: `zhongshu-1`, `lingyubu-3`, `q-7`.
    pub fn next_id(&mut self, prefix: &str) -> String {
        let n = self.counters.entry(prefix.to_string()).or_insert(0);
        *n += 1;
        format!("{prefix}-{n}")
    }

    /// Takes back `id` (`<prefix>-<n>`) when it is still the last its prefix
    /// issued: a start that failed spends no id. Whether it was taken back.
    pub fn release_id(&mut self, id: &str) -> bool {
        let Some((prefix, n)) = id.rsplit_once('-') else {
            return false;
        };
        let Ok(n) = n.parse::<u64>() else {
            return false;
        };
        match self.counters.get_mut(prefix) {
            Some(last) if *last == n => {
                *last -= 1;
                true
            }
            _ => false,
        }
    }

    /// Departments holding a slot, plus queue items being started.
    pub fn slots_in_use(&self) -> usize {
        self.slots_by_host().remove(&None).unwrap_or(0)
    }

    /// The department slots taken on this machine (None) and on each host
    /// of `launcher.remotes` (issue 53): working departments and starts
    /// under way.
    pub fn slots_by_host(&self) -> BTreeMap<Option<String>, usize> {
        let mut taken = BTreeMap::new();
        let sessions = self
            .sessions
            .values()
            .filter(|s| s.holds_slot())
            .map(|s| s.slot_host().map(str::to_string));
        let starting = self
            .queue
            .iter()
            .filter(|q| q.status == QueueStatus::Starting)
            .map(|q| q.remote.clone());
        for host in sessions.chain(starting) {
            *taken.entry(host).or_insert(0) += 1;
        }
        taken
    }

    /// The department sessions whose work is applied in the user's tree,
    /// with their recorded commits.
    pub fn applied_commits(&self) -> Vec<(String, String)> {
        self.sessions
            .values()
            .filter_map(|s| {
                let w = s.workspace()?;
                let commit = w.commit.clone()?;
                (w.state == super::WorkspaceState::Applied).then(|| (s.id.clone(), commit))
            })
            .collect()
    }

    pub fn children_of<'a>(&'a self, zhongshu_id: &'a str) -> impl Iterator<Item = &'a Session> {
        self.working_for(zhongshu_id).filter(|s| s.is_department())
    }

    /// Every session working for a Zhongshu: its departments and the
    /// reviewers of their work (issue 75), whose cost is the plan's too.
    pub fn working_for<'a>(&'a self, zhongshu_id: &'a str) -> impl Iterator<Item = &'a Session> {
        self.sessions
            .values()
            .filter(move |s| s.parent_session_id() == Some(zhongshu_id))
    }

    /// The reviewers of department session `id`'s work, oldest first.
    pub fn reviewers_of<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Session> {
        self.sessions
            .values()
            .filter(move |s| s.reviewer().is_some_and(|r| r.reviews == id))
    }

    /// A Zhongshu's departments: those holding a slot (running, not
    /// reported), and the others.
    pub fn departments_of<'a>(
        &'a self,
        zhongshu_id: &'a str,
    ) -> (Vec<&'a Session>, Vec<&'a Session>) {
        self.children_of(zhongshu_id).partition(|c| c.holds_slot())
    }

    /// The queue items of one Zhongshu.
    pub fn queued_of<'a>(&'a self, zhongshu_id: &'a str) -> impl Iterator<Item = &'a QueueItem> {
        self.queue
            .iter()
            .filter(move |q| q.parent_session_id.as_deref() == Some(zhongshu_id))
    }

    /// The newest running Zhongshu session: where the Python tool sent a
    /// request that names none.
    pub fn newest_running_zhongshu(&self) -> Option<&Session> {
        self.sessions
            .values()
            .rev()
            .find(|s| s.is_zhongshu() && s.is_running())
    }
}
