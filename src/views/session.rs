//! One session as the API shows it: the stored record plus what the snapshot
//! says of it now (heartbeat, idle time, transcript preview, terminal, unread
//! results, its plan's uncommitted files, its last report's question).

use std::time::Duration;

use serde::Serialize;

use super::heartbeat::{heartbeat, HeartbeatStatus, Running};
use super::redact::Redact;
use super::snapshot::{Live, Snapshot};
use super::terminals::{terminal, TerminalView};
use crate::model::{
    plain_state, MailboxPaths, PlainState, PlanStatus, ReportStatus, Session, State, StateWord,
    TerminalKind, TerminalStatus,
};

/// One session as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionView {
    /// The record; its agent's `capabilities` say what its backend can do
    /// (a conversation to show, a terminal on demand), as recorded at its start.
    #[serde(flatten)]
    pub session: Session,
    /// One word for where it stands (`state`, `state_text`, `state_reason`).
    #[serde(flatten)]
    pub plain: PlainState,
    pub heartbeat_status: HeartbeatStatus,
    pub idle_seconds: Option<u64>,
    /// The last lines of output; absent in what an agent's token sees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript_preview: Option<String>,
    /// Absent (not null) in what an agent's token sees: each URL carries a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_terminal_url: Option<Option<String>>,
    pub browser_terminal_status: Option<TerminalStatus>,
    pub browser_terminal_kind: Option<TerminalKind>,
    pub browser_terminal_started_at: Option<String>,
    /// The Python tool's word for a session's own terminal: `session`.
    pub browser_terminal_scope: Option<&'static str>,
    pub browser_terminal_title: Option<String>,
    #[serde(flatten)]
    pub zhongshu: Option<super::planner::ZhongshuFields>,
    /// What the conversation cost in US dollars, when its model has a price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// A department's last report asks the user to confirm something.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_needs_confirmation: Option<bool>,
    /// What that report asks, and the developer's answer once given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<ConfirmationView>,
    /// A department's mailbox (its Zhongshu's, with its own drop folder as
    /// `incoming`), as the Python tool showed it on department sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<MailboxPaths>,
    /// A department's recorded work has files out of its scope and
    /// `launcher.scope: block`: integrating it needs the user's override.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub integration_needs_override: bool,
    /// The department session that is its assignment's attempt now (it was
    /// sent back, retried or resumed): this one is history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    /// The page offers Interrupt: its agent is at work on a turn it can stop.
    pub interruptible: bool,
    /// It reported its work (a launcher's fallback counts): done.
    pub reported: bool,
    /// It ended failing: the page says why as an error.
    pub failed: bool,
    /// A department that ended without a report of its own (failed, or
    /// exited silently): Needs you offers Retry and Dismiss.
    pub ended_without_report: bool,
    /// The launcher's stop cut it off: its plan can resume it.
    pub cut_by_stop: bool,
    /// It runs and waits for the user (its `attention` says what for).
    pub asks_user: bool,
    /// Suspended until its agent program can start, or until the user trusts
    /// the repository's changed configuration: nothing of it runs.
    pub suspended: bool,
    /// Suspended until its agent program can start: *Check again* may resume it.
    pub resumes_on_check: bool,
    /// It runs a conversation its agent cannot load again (an ACP agent
    /// without `session/load`): stopping the launcher ends it, and the page
    /// says so beforehand.
    pub ends_at_stop: bool,
    /// Where its workspace stands, in the page's terms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_facts: Option<crate::model::WorkspaceFacts>,
    /// How many pages watch its own terminal right now (a terminal started on
    /// demand stops a while after the last one left).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminal_viewers: Option<usize>,
    /// Moves whenever its live conversation does (`GET /api/session_conversation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_rev: Option<u64>,
    /// It runs and has work in progress: a department, or a planner not yet
    /// done with its plan (`policy::plan::planner_finished`). The tiles go to
    /// these first.
    pub in_progress: bool,
    /// Its work waits for the user (integrate, discard or send back) and no
    /// later attempt took it over: what the review queue lists.
    pub awaits_user: bool,
    /// A planner whose turn ended without a plan: it waits for the user, and
    /// what it said last (its question, as a rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awaits_reply: Option<AwaitsReply>,
    /// A department's latest second opinion (issue 75): the plan card says
    /// "reviewed by reviewer-3: 2 important, 1 minor".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_opinion: Option<SecondOpinionView>,
}

/// The latest reviewer of a department's work, and what it found.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SecondOpinionView {
    pub reviewer: String,
    /// Its agent (a department key).
    pub agent: String,
    /// It ran on the department's own vendor, the other's account being
    /// held (`review.fallback: same_vendor`).
    pub same_vendor: bool,
    /// It still reads (no findings yet).
    pub reviewing: bool,
    /// It ended without reporting.
    pub failed: bool,
    pub important: usize,
    pub minor: usize,
    pub nit: usize,
    /// Its summary: the reviewer's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// The last reviewer of `s`'s work, as the plan card shows it.
fn second_opinion(state: &crate::model::State, s: &Session) -> Option<SecondOpinionView> {
    let r = state.reviewers_of(&s.id).last()?;
    let part = r.reviewer()?;
    Some(SecondOpinionView {
        reviewer: r.id.clone(),
        agent: part.agent_key.clone(),
        same_vendor: part.same_vendor,
        reviewing: r.is_running() && part.reported_at.is_none(),
        failed: !r.is_running() && part.reported_at.is_none(),
        important: part.counts[0],
        minor: part.counts[1],
        nit: part.counts[2],
        summary: part.summary.clone(),
    })
}

/// A planner that ended a turn without registering a plan.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AwaitsReply {
    /// The turn it ended (an item per turn: a new turn is a new question).
    pub turn: u32,
    /// Its last message, when its live conversation has one.
    pub last_message: Option<String>,
}

/// A report's request for the developer's confirmation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConfirmationView {
    pub report_id: String,
    pub question: String,
    pub answer: Option<crate::model::ConfirmationAnswer>,
    /// The running planner an answer goes to: the department's, or the one
    /// that resumed it (None: no planner of it runs).
    pub answered_by: Option<String>,
}

impl Redact for SessionView {
    /// The view an agent's token may see: no terminal URL (it carries a token
    /// that types into a PTY) and no transcript (preview, typed input, a
    /// planner's last message).
    fn hide_from_agents(&mut self) {
        self.browser_terminal_url = None;
        self.transcript_preview = None;
        self.session.input_history.clear();
        if let Some(waits) = &mut self.awaits_reply {
            waits.last_message = None;
        }
    }
}

/// Session `id` as the API shows it, if there is one.
pub fn by_id(snap: &Snapshot, id: &str) -> Option<SessionView> {
    snap.state.sessions.get(id).map(|s| session(snap, s))
}

/// One session as the API shows it.
pub fn session(snap: &Snapshot, s: &Session) -> SessionView {
    let none = Live::default();
    let live = snap.live.get(&s.id).unwrap_or(&none);
    let capabilities = s.agent.capabilities.unwrap_or_default();
    let launcher = &snap.config.launcher;
    let stale = Duration::from_secs(launcher.department_stale_seconds);
    let mut record = s.clone();
    // Its words are the transcript's business, not the record's.
    record.agent.last_message = None;
    if let Some((_, t)) = live.activity {
        let t = chrono::DateTime::<chrono::Local>::from(t);
        record.last_activity_at = Some(crate::clock::rfc3339(&t));
    }
    let preview = live
        .preview
        .clone()
        .or_else(|| snap.facts.previews.get(&s.id).cloned())
        .unwrap_or_default();
    let (report_needs_confirmation, confirmation) = report_confirmation(snap, s);
    let mut plain = shown_words(&snap.state, s, &mut record);
    let finished = crate::policy::plan::planner_finished(&snap.state, s);
    if finished {
        plain = finished_planner_words(s.is_suspended());
    } else if plan_ended_unheard(&snap.state, s) && plain.state == StateWord::Working {
        // A PTY planner says nothing of its turns: after its plan ended it
        // waits on the user's decisions, not "working".
        plain = PlainState {
            state: StateWord::Idle,
            state_text: "waiting for your review".into(),
            state_reason: Some(
                "its plan ended: its departments' work waits for your decision".into(),
            ),
        };
    }
    let running = match (s.is_running(), s.agent.agent_state) {
        (false, _) => Running::No,
        (true, crate::model::AgentState::Idle) => Running::TurnEnded,
        (true, _) if finished => Running::TurnEnded,
        (true, _) => Running::Working,
    };
    let hb = heartbeat(running, live.activity.map(|a| a.0), snap.at.instant, stale);
    let mut view = SessionView {
        session: record,
        heartbeat_status: hb.status,
        idle_seconds: hb.idle_seconds,
        transcript_preview: Some(preview),
        browser_terminal_url: None,
        browser_terminal_status: None,
        browser_terminal_kind: None,
        browser_terminal_started_at: None,
        browser_terminal_scope: None,
        browser_terminal_title: None,
        zhongshu: super::planner::zhongshu_fields(snap, s),
        report_needs_confirmation,
        confirmation,
        mailbox: department_mailbox(snap, s),
        integration_needs_override: crate::policy::integration::needs_override(
            launcher.isolation.scope,
            s.workspace(),
        ),
        superseded_by: superseded_by(&snap.state, s),
        interruptible: capabilities.interrupts
            && s.is_running()
            && plain.state == StateWord::Working,
        reported: plain.state == StateWord::Reported,
        failed: plain.state == StateWord::Failed,
        ended_without_report: s.is_department()
            && matches!(plain.state, StateWord::Failed | StateWord::NoReport),
        cut_by_stop: plain.state == StateWord::StoppedWithLauncher,
        asks_user: s.is_running() && plain.state == StateWord::NeedsYou,
        suspended: s.is_suspended(),
        resumes_on_check: s.is_suspended()
            && s.agent.attention.as_ref().map(|a| a.kind)
                == Some(crate::model::AttentionKind::Backend),
        ends_at_stop: s.is_running() && {
            let can = crate::agents::capabilities_of(&s.agent);
            can.conversation && !can.resumes
        },
        workspace_facts: s.workspace().map(|w| w.state.facts()),
        terminal_viewers: None,
        conversation_rev: live.conversation_rev,
        // A planner whose plan ended waits on the user's review: not work
        // in progress, though not done either (a send-back needs it).
        in_progress: s.is_running()
            && !finished
            && !crate::policy::plan::plan_at_rest(&snap.state, s),
        awaits_user: !s.is_running()
            && s.workspace().is_some_and(|w| w.state.awaits_user())
            && superseded_by(&snap.state, s).is_none(),
        awaits_reply: awaits_reply(&snap.state, s, live),
        second_opinion: second_opinion(&snap.state, s),
        plain,
        cost_usd: cost_usd(s, launcher),
    };
    own_terminal(snap, s, live, &mut view);
    view
}

/// What `s`'s conversation cost in US dollars: what its agent reports, else
/// its tokens at the model's price.
pub fn cost_usd(s: &Session, launcher: &crate::config::LauncherSettings) -> Option<f64> {
    s.agent
        .reported_usage
        .as_ref()
        .and_then(|r| r.cost_usd())
        .or_else(|| {
            let usage = s.agent.token_usage.as_ref()?;
            let price = launcher.model_prices.get(&s.model)?;
            Some(crate::policy::quota::cost_usd(usage, price))
        })
}

/// A running planner whose plan ended and whose agent does not report its
/// turns (a PTY agent): whether it works is not known, and nothing asks it to.
fn plan_ended_unheard(state: &State, s: &Session) -> bool {
    s.is_zhongshu()
        && s.is_running()
        && !crate::agents::capabilities_of(&s.agent).reports_turns
        && state.plans.get(&s.id).is_some_and(|p| p.outcome.is_some())
}

/// How a planner done with its plan stands (it still runs, idle).
fn finished_planner_words(suspended: bool) -> PlainState {
    let reason = if suspended {
        // It holds nothing while suspended: no memory to free.
        "its plan finished; it is suspended until Codex can start and holds no memory meanwhile: \
         close it, or message it once it is back"
    } else {
        "its plan finished and nothing of it runs: close it to free its memory, or message it to go on"
    };
    PlainState {
        state: crate::model::StateWord::Finished,
        state_text: "finished".into(),
        state_reason: Some(reason.into()),
    }
}

/// A planner whose agent ended a turn (it reports turns) and registered no
/// plan: it waits, idle, most often on a question to the user.
fn awaits_reply(state: &State, s: &Session, live: &Live) -> Option<AwaitsReply> {
    let turns = s.agent.capabilities.unwrap_or_default().reports_turns;
    let no_plan = state
        .plans
        .get(&s.id)
        .is_none_or(|p| p.status == PlanStatus::None);
    // Between turns: idle, or suspended until Codex can start (its question
    // stands meanwhile), or coming back after a restart.
    let between_turns = !matches!(
        s.agent.agent_state,
        crate::model::AgentState::Working | crate::model::AgentState::NeedsUser
    );
    let waits =
        s.is_zhongshu() && s.is_running() && turns && between_turns && s.agent.turn_count > 0;
    (waits && no_plan).then(|| AwaitsReply {
        turn: s.agent.turn_count,
        // Live words first; the ones kept at its turn's end while its live
        // conversation is not back (suspended, resuming).
        last_message: live
            .last_message
            .clone()
            .or_else(|| s.agent.last_message.clone()),
    })
}

/// The session's own browser terminal, as its view shows it.
fn own_terminal(snap: &Snapshot, s: &Session, live: &Live, view: &mut SessionView) {
    let terminal = s
        .browser_terminal_id
        .as_deref()
        .and_then(|t| snap.state.terminals.get(t));
    let open = terminal.filter(|t| t.status != TerminalStatus::Closed);
    view.browser_terminal_url = Some(open.map(|t| t.url.clone()));
    view.browser_terminal_status = terminal.map(|t| t.status.shown());
    view.browser_terminal_kind = terminal.map(|t| t.kind);
    view.browser_terminal_started_at = terminal.map(|t| t.started_at.clone());
    view.browser_terminal_scope = terminal.map(|_| "session");
    view.browser_terminal_title = terminal.map(|t| t.title.clone());
    view.terminal_viewers = open.and(live.terminal_viewers);
}

/// A department's mailbox: its Zhongshu's, with its own drop folder as `incoming`.
fn department_mailbox(snap: &Snapshot, s: &Session) -> Option<MailboxPaths> {
    let d = s.department_part()?;
    let mut paths = MailboxPaths::of(&snap.mailbox_root, d.parent_session_id.as_deref()?);
    if let Some(own) = &d.drop_folder {
        paths.incoming = own.into();
    }
    Some(paths)
}

/// The record as the Python tool showed it (a fallback-registered department
/// `reported`, a planner's `department`, its plan's status), and where it
/// stands in plain words.
fn shown_words(state: &State, session: &Session, record: &mut Session) -> PlainState {
    // Where it stands, from the record as kept (before the shown words below).
    let mut plain = None;
    if let Some(d) = record.department_mut() {
        // A department whose silent end was registered as a
        // `launcher_fallback` result shows `reported`, as in the Python
        // tool; its `state` still says it ended without a report.
        if d.report_status != Some(ReportStatus::Reported) && d.last_report_id.is_some() {
            plain = Some(plain_state(session));
            d.report_status = Some(ReportStatus::Reported);
        }
    }
    if record.is_zhongshu() {
        // The Python tool's `department` of a planner: its id prefix.
        record.department = Some("zhongshu".into());
    }
    if let Some(z) = record.zhongshu_mut() {
        let plan = state.plans.get(&session.id).map(|p| p.status);
        z.plan_status = Some(plan.unwrap_or(PlanStatus::None));
    }
    plain.unwrap_or_else(|| plain_state(record))
}

/// For a department that reported: does its last report ask the user,
/// what, and what did the user answer?
fn report_confirmation(
    snap: &Snapshot,
    session: &Session,
) -> (Option<bool>, Option<ConfirmationView>) {
    let last = session
        .department_part()
        .and_then(|d| d.last_report_id.as_deref());
    let Some(report) = snap
        .facts
        .reports
        .get(&session.id)
        .filter(|r| Some(r.report_id.as_str()) == last)
    else {
        return (None, None);
    };
    let settled = session.workspace().is_some_and(|w| w.state.is_settled());
    let moot = !crate::policy::report::question_waits(report.answer.is_some(), settled);
    if moot && report.answer.is_none() {
        return (Some(report.needs_confirmation), None);
    }
    let view = report.needs_confirmation.then(|| ConfirmationView {
        report_id: report.report_id.clone(),
        question: report.question.clone(),
        answer: report.answer.clone(),
        answered_by: session
            .parent_session_id()
            .and_then(|p| crate::policy::plan::answering_planner(&snap.state, p)),
    });
    (Some(report.needs_confirmation), view)
}

/// The session that took over `s`'s assignment: its send-back successor, or
/// the session its retry (or resume) started.
fn superseded_by(state: &State, s: &Session) -> Option<String> {
    if let Some(next) = s.workspace().and_then(|w| w.successor.clone()) {
        return Some(next);
    }
    let queued = s.department_part()?.retried_as.as_deref()?;
    state
        .sessions
        .values()
        .find(|x| x.department_part().and_then(|d| d.queue_id.as_deref()) == Some(queued))
        .map(|x| x.id.clone())
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

/// The Python tool's answer to a start: the session, its prompt file, pid
/// and browser terminal, and the counts.
pub fn started(snap: &Snapshot, id: &str) -> StartedView {
    let state = &snap.state;
    let session = by_id(snap, id);
    let browser_terminal = state
        .sessions
        .get(id)
        .and_then(|s| s.browser_terminal_id.as_deref())
        .and_then(|t| state.terminals.get(t))
        .cloned()
        .map(terminal);
    let (zhongshu, departments) = active_counts(state);
    StartedView {
        session_id: id.to_string(),
        prompt_path: session.as_ref().map(|s| s.session.prompt_path.clone()),
        pid: session.as_ref().and_then(|s| s.session.pid),
        session,
        browser_terminal,
        active: departments,
        active_zhongshu_sessions: zhongshu,
        active_department_sessions: departments,
        active_sessions_total: zhongshu + departments,
        queued: None,
    }
}

/// (running Zhongshu sessions, departments holding a slot on this machine).
pub fn active_counts(state: &State) -> (usize, usize) {
    let zhongshu = state
        .sessions
        .values()
        .filter(|s| s.is_zhongshu() && s.is_running())
        .count();
    // This machine's slots (`launcher.max_departments`): a host's are its own.
    let departments = state
        .sessions
        .values()
        .filter(|s| s.holds_slot() && s.slot_host().is_none())
        .count();
    (zhongshu, departments)
}
