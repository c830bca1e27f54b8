//! What the API shows of one session: the stored record plus live values
//! (heartbeat, idle time, transcript preview, terminal URL, unread counts),
//! as one typed view.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::heartbeat::{heartbeat, HeartbeatStatus};
use super::Sessions;
use crate::model::{
    plain_state, result_key, PlainState, PlanStatus, ReportStatus, Session, State, TerminalKind,
    TerminalStatus, WorkspaceState,
};
use crate::pty::preview;

/// Bytes of output the preview looks at.
const PREVIEW_BYTES: usize = 4096;
const PREVIEW_LINES: usize = 8;

/// One session as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
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
    pub zhongshu: Option<ZhongshuFields>,
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
    pub mailbox: Option<crate::model::MailboxPaths>,
    /// A department's recorded work has files out of its scope and
    /// `launcher.scope: block`: integrating it needs the user's override.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub integration_needs_override: bool,
    /// The department session that is its assignment's attempt now (it was
    /// sent back, retried or resumed): this one is history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    /// The page offers Interrupt: its agent's running turn can be stopped.
    pub interruptible: bool,
    /// How many pages watch its own terminal right now (a terminal started on
    /// demand stops a while after the last one left).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminal_viewers: Option<usize>,
    /// Moves whenever its live conversation does (`GET /api/session_conversation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_rev: Option<u64>,
}

/// A report's request for the developer's confirmation.
#[derive(Debug, Clone, Serialize)]
pub struct ConfirmationView {
    pub report_id: String,
    pub question: String,
    pub answer: Option<crate::model::ConfirmationAnswer>,
}

/// A file of the user's working tree that holds a department's applied change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedFile {
    pub path: String,
    /// The department session whose change it holds.
    pub session_id: String,
}

/// What a Zhongshu's view adds (its `plan_status` is the plan's, set on the record).
#[derive(Debug, Clone, Serialize)]
pub struct ZhongshuFields {
    pub child_department_ids: Vec<String>,
    pub unread_result_count: usize,
    /// The registered plan's revision (null before one): a page showing a plan
    /// knows it is stale when this moves.
    pub plan_revision: Option<u64>,
    /// The user's uncommitted files the plan names, as long as they stay
    /// uncommitted and the plan goes on: its departments start from the
    /// plan's base commit and do not see them (Needs you says so).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan_dirty_files: Vec<String>,
    /// Uncommitted files the plan names that hold a department's applied
    /// change, unchanged since: the department's, not the user's (commit them
    /// when ready; nobody asks to revert them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan_applied_files: Vec<AppliedFile>,
    /// How the plan's assignments ended, once it finished or was stopped.
    pub plan_outcome: Option<crate::model::PlanOutcome>,
    pub plan_finished_at: Option<String>,
    /// When the plan was registered, and what it started and queued (the
    /// Python tool's `plan_reported_at`, `plan_auto_dispatch`); null before one.
    pub plan_reported_at: Option<String>,
    pub plan_auto_dispatch: Option<crate::model::AutoDispatch>,
}

impl SessionView {
    /// The view an agent's token may see: no terminal URL (it carries a token
    /// that types into a PTY) and no transcript (preview or typed input).
    pub fn hide_from_agents(&mut self) {
        self.browser_terminal_url = None;
        self.transcript_preview = None;
        self.session.input_history.clear();
    }
}

/// One session as the API shows it.
pub fn session_view(
    sessions: &Sessions,
    state: &State,
    unread: &HashMap<String, usize>,
    session: &Session,
) -> SessionView {
    let pty = sessions.live.pty(&session.id);
    let agent = sessions.live.agent(&session.id);
    let activity = agent.as_ref().and_then(|a| a.activity()).or_else(|| {
        let p = pty.as_ref()?;
        Some((p.last_output()?, p.last_output_wall()?))
    });
    let capabilities = crate::agents::capabilities_of(&session.agent);
    let conversation = agent.as_ref().and_then(|a| a.conversation().cloned());
    let stale = Duration::from_secs(sessions.ctx.config.launcher.department_stale_seconds);
    let hb = heartbeat(session.is_running(), activity.map(|a| a.0), stale);
    let mut record = session.clone();
    // What its backend can do (a conversation to show, a terminal on demand),
    // as recorded at its start; shown for older records too.
    record.agent.capabilities = Some(capabilities);
    if let Some((_, t)) = activity {
        let t = chrono::DateTime::<chrono::Local>::from(t);
        record.last_activity_at = Some(crate::clock::rfc3339(&t));
    }
    let transcript_preview = transcript_preview(session, conversation.as_deref(), pty.as_ref());
    let terminal = session
        .browser_terminal_id
        .as_deref()
        .and_then(|t| state.terminals.get(t));
    let zhongshu = zhongshu_fields(sessions, state, unread, session);
    let (report_needs_confirmation, confirmation) = report_confirmation(sessions, session);
    let mailbox = session.department_part().and_then(|d| {
        let mut paths = sessions.ctx.paths.mailbox(d.parent_session_id.as_deref()?);
        if let Some(own) = &d.drop_folder {
            paths.incoming = own.into();
        }
        Some(paths)
    });
    let plain = shown_words(state, session, &mut record);
    SessionView {
        plain,
        session: record,
        heartbeat_status: hb.status,
        idle_seconds: hb.idle_seconds,
        transcript_preview: Some(transcript_preview),
        browser_terminal_url: Some(
            terminal
                .filter(|t| t.status != TerminalStatus::Closed)
                .map(|t| t.url.clone()),
        ),
        browser_terminal_status: terminal.map(|t| t.status.shown()),
        browser_terminal_kind: terminal.map(|t| t.kind),
        browser_terminal_started_at: terminal.map(|t| t.started_at.clone()),
        browser_terminal_scope: terminal.map(|_| "session"),
        browser_terminal_title: terminal.map(|t| t.title.clone()),
        zhongshu,
        report_needs_confirmation,
        confirmation,
        mailbox,
        integration_needs_override: crate::policy::integration::needs_override(
            sessions.ctx.config.launcher.isolation.scope,
            session.workspace(),
        ),
        superseded_by: superseded_by(state, session),
        interruptible: capabilities.interrupts,
        terminal_viewers: terminal
            .filter(|t| t.status != TerminalStatus::Closed)
            .and_then(|t| sessions.terminals.listeners.viewers(&t.id))
            .map(|v| *v.borrow()),
        conversation_rev: conversation.map(|c| c.rev()),
        cost_usd: session.agent.token_usage.as_ref().and_then(|usage| {
            let price = sessions
                .ctx
                .config
                .launcher
                .model_prices
                .get(&session.model)?;
            Some(crate::policy::quota::cost_usd(usage, price))
        }),
    }
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

/// A Zhongshu's plan fields: its departments, unread results, and its plan's
/// revision, outcome and the user's files it names.
fn zhongshu_fields(
    sessions: &Sessions,
    state: &State,
    unread: &HashMap<String, usize>,
    session: &Session,
) -> Option<ZhongshuFields> {
    let dirty = state
        .plans
        .get(&session.id)
        .filter(|p| p.outcome.is_none() || work_waits(state, &session.id))
        .and_then(|p| p.base.as_ref())
        .map(|b| still_dirty(&sessions.ctx.repo, &b.dirty_files))
        .unwrap_or_default();
    let (plan_applied_files, plan_dirty_files) =
        attribute_applied(&sessions.ctx.repo, state, dirty);
    session.is_zhongshu().then(|| ZhongshuFields {
        child_department_ids: state
            .children_of(&session.id)
            .map(|c| c.id.clone())
            .collect(),
        unread_result_count: unread.get(&session.id).copied().unwrap_or(0),
        plan_revision: state.plans.get(&session.id).map(|p| p.revision),
        plan_dirty_files,
        plan_applied_files,
        plan_outcome: state.plans.get(&session.id).and_then(|p| p.outcome),
        plan_finished_at: state
            .plans
            .get(&session.id)
            .and_then(|p| p.finished_at.clone()),
        plan_reported_at: state
            .plans
            .get(&session.id)
            .map(|p| p.registered_at.clone()),
        plan_auto_dispatch: state.plans.get(&session.id).map(|p| {
            let active = state.sessions.values().filter(|s| s.holds_slot()).count();
            crate::model::AutoDispatch::of(p, active)
        }),
    })
}

/// The last lines of what the session did: its conversation, its terminal,
/// or its files when it runs no longer.
fn transcript_preview(
    session: &Session,
    conversation: Option<&crate::agents::conversation::Conversation>,
    pty: Option<&std::sync::Arc<crate::pty::Pty>>,
) -> String {
    match (conversation, pty) {
        (Some(c), _) => c.preview(PREVIEW_LINES),
        (None, Some(p)) => preview(&p.tail(PREVIEW_BYTES), PREVIEW_LINES),
        (None, None) if crate::agents::capabilities_of(&session.agent).conversation => {
            crate::agents::conversation::file_preview(
                &crate::agents::conversation::path_for(Path::new(&session.log_path)),
                PREVIEW_LINES,
            )
        }
        (None, None) => log_preview(&session.log_path),
    }
}

/// For a department that reported: does its last report ask the user,
/// what, and what did the user answer?
fn report_confirmation(
    sessions: &Sessions,
    session: &Session,
) -> (Option<bool>, Option<ConfirmationView>) {
    let Some(result) = session.department_part().and_then(|part| {
        let key = result_key(
            part.parent_session_id.as_deref()?,
            &session.id,
            part.last_report_id.as_deref()?,
        );
        sessions.ctx.store.result(&key).ok().flatten()
    }) else {
        return (None, None);
    };
    let view = result.needs_user_confirmation.then(|| ConfirmationView {
        report_id: result.report_id.clone(),
        question: result.confirmation_question(),
        answer: result.confirmation.clone(),
    });
    (Some(result.needs_user_confirmation), view)
}

/// One session as the API shows it, by id.
pub fn session_json(sessions: &Sessions, id: &str) -> Option<SessionView> {
    let unread = sessions.ctx.store.unread_counts().unwrap_or_default();
    sessions.ctx.store.read(|s| {
        s.sessions
            .get(id)
            .map(|x| session_view(sessions, s, &unread, x))
    })
}

/// Whether a department of Zhongshu `z` has work not yet integrated or discarded.
fn work_waits(state: &State, z: &str) -> bool {
    state.children_of(z).any(|c| {
        c.workspace()
            .is_some_and(|w| !w.state.is_settled() && w.state != WorkspaceState::SentBack)
    })
}

/// Of `files`, those the user's working tree still changes (against the
/// index or HEAD, or untracked): committing or reverting one ends its
/// mention. Each is looked up alone, so a large repository costs little.
fn still_dirty(repo: &Path, files: &[String]) -> Vec<String> {
    if files.is_empty() {
        return Vec::new();
    }
    let Ok(git) = git2::Repository::open(repo) else {
        return files.to_vec();
    };
    files
        .iter()
        .filter(|f| {
            git.status_file(Path::new(f.as_str()))
                .is_ok_and(|s| !s.is_empty() && !s.contains(git2::Status::IGNORED))
        })
        .cloned()
        .collect()
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

/// Splits uncommitted files into those holding a department's applied change
/// (the file is as the department's recorded commit has it) and the user's.
fn attribute_applied(
    repo: &Path,
    state: &State,
    dirty: Vec<String>,
) -> (Vec<AppliedFile>, Vec<String>) {
    let applied: Vec<(&str, &str)> = state
        .sessions
        .values()
        .filter_map(|s| {
            let w = s.workspace()?;
            (w.state == WorkspaceState::Applied).then_some((s.id.as_str(), w.commit.as_deref()?))
        })
        .collect();
    if dirty.is_empty() || applied.is_empty() {
        return (Vec::new(), dirty);
    }
    let Ok(git) = git2::Repository::open(repo) else {
        return (Vec::new(), dirty);
    };
    let holds = |commit: &str, path: &str| -> Option<bool> {
        let tree = git
            .find_commit(git2::Oid::from_str(commit).ok()?)
            .ok()?
            .tree()
            .ok()?;
        let on_disk = repo.join(path);
        match tree.get_path(Path::new(path)) {
            // The department deleted it, and it is still gone.
            Err(_) => Some(std::fs::symlink_metadata(&on_disk).is_err()),
            Ok(entry) => {
                let now = git2::Oid::hash_file(git2::ObjectType::Blob, &on_disk).ok()?;
                Some(entry.id() == now)
            }
        }
    };
    let (mut theirs, mut users) = (Vec::new(), Vec::new());
    for path in dirty {
        match applied.iter().find(|(_, c)| holds(c, &path) == Some(true)) {
            Some((id, _)) => theirs.push(AppliedFile {
                path,
                session_id: id.to_string(),
            }),
            None => users.push(path),
        }
    }
    (theirs, users)
}

/// Preview from the transcript file of a session whose PTY is gone.
fn log_preview(path: &str) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let from = len.saturating_sub(PREVIEW_BYTES as u64);
    let _ = f.seek(SeekFrom::Start(from));
    let mut buf = Vec::new();
    let _ = f.take(PREVIEW_BYTES as u64).read_to_end(&mut buf);
    // Started mid-file, it may start mid-character: from the next whole one.
    let whole = if from > 0 {
        crate::text::from_char_start(&buf)
    } else {
        &buf[..]
    };
    preview(whole, PREVIEW_LINES)
}
