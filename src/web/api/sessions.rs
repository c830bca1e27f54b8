//! Starting, steering and closing sessions; browser terminals; a department's
//! result submission.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::L;
use crate::error::LauncherError;
use crate::model::QueueItem;
use crate::plans::queue::{AssignmentInput, Dispatch};
use crate::sessions::StartSpec;
use crate::terminal::TerminalInfo;
use crate::views::session::{SessionView, StartedView};
use crate::web::answer::reply;
use crate::web::owned::FromSession;
use crate::web::JsonBody;

#[derive(Deserialize)]
pub(super) struct StartZhongshu {
    #[serde(default)]
    task: String,
    #[serde(default)]
    model: Option<String>,
}

pub(super) async fn start_zhongshu(State(l): L, JsonBody(b): JsonBody<StartZhongshu>) -> Response {
    let started = l
        .sessions
        .start_session(StartSpec::zhongshu(b.task, b.model))
        .await;
    reply(started.map(|s| l.started_view(&s.id)))
}

#[derive(Deserialize)]
pub(super) struct StartDepartment {
    #[serde(flatten)]
    assignment: AssignmentInput,
    #[serde(default)]
    parent_session_id: Option<String>,
    /// The Python tool's other name for it.
    #[serde(default)]
    zhongshu_session_id: Option<String>,
}

/// `POST /api/start_department_for_zhongshu`: the same, but the Zhongshu must
/// be named (the Python tool refused it otherwise).
pub(super) async fn start_department_for_zhongshu(
    state: L,
    JsonBody(b): JsonBody<StartDepartment>,
) -> Response {
    if crate::plans::queue::first_named([
        b.parent_session_id.as_ref(),
        b.zhongshu_session_id.as_ref(),
    ])
    .is_none()
    {
        return LauncherError::BadRequest("parent_session_id is required".into()).into_response();
    }
    start_department(state, JsonBody(b)).await
}

pub(super) async fn start_department(
    State(l): L,
    JsonBody(b): JsonBody<StartDepartment>,
) -> Response {
    reply(
        l.dispatcher
            .start_department(
                b.assignment,
                crate::plans::queue::first_named([
                    b.parent_session_id.as_ref(),
                    b.zhongshu_session_id.as_ref(),
                ]),
            )
            .await
            .map(|d| match d {
                Dispatch::Started(id) => DepartmentStart::Started(Box::new(StartedView {
                    queued: Some(false),
                    ..l.started_view(&id)
                })),
                Dispatch::Queued(item) => DepartmentStart::Queued {
                    queued: true,
                    queue_item: item,
                },
            }),
    )
}

#[derive(Deserialize)]
pub(super) struct SessionInput {
    session_id: String,
    #[serde(default, alias = "text")]
    input: String,
}

pub(super) async fn session_input(State(l): L, JsonBody(b): JsonBody<SessionInput>) -> Response {
    if b.input.is_empty() {
        return LauncherError::BadRequest("input must not be empty".into()).into_response();
    }
    reply(
        l.sessions
            .session_input(&b.session_id, &b.input)
            .await
            .map(|s| InputAnswer {
                sent_at: s
                    .input_history
                    .last()
                    .map(|i| i.at.clone())
                    .unwrap_or_default(),
                session_id: s.id.clone(),
                session: l.session_view(&s.id),
            }),
    )
}

/// The session after the input, and when it was sent (the Python tool's
/// `session_id`, `sent_at`).
#[derive(Serialize)]
pub(super) struct InputAnswer {
    session_id: String,
    sent_at: String,
    session: Option<SessionView>,
}

#[derive(Deserialize)]
pub(super) struct SessionRef {
    session_id: String,
}

#[derive(Deserialize)]
pub(super) struct Close {
    session_id: String,
    /// Closing a Zhongshu: its running departments stop too (else they finish
    /// and report to its inbox). Its queued ones never start either way.
    #[serde(default)]
    stop_departments: bool,
}

/// A closed session; for a Zhongshu, what became of its departments.
#[derive(Serialize)]
pub(super) struct Closed {
    session: Option<SessionView>,
    #[serde(flatten)]
    planner: Option<crate::plans::control::Stopped>,
}

pub(super) async fn close_session(State(l): L, JsonBody(b): JsonBody<Close>) -> Response {
    let reason = crate::model::CloseReason::Api;
    let planner = l
        .sessions
        .require_session(&b.session_id)
        .map(|s| s.is_zhongshu());
    let closed = match planner {
        Err(e) => Err(e),
        Ok(true) => l
            .dispatcher
            .close_planner(&b.session_id, b.stop_departments, reason)
            .await
            .map(Some),
        Ok(false) => l
            .sessions
            .close_session(&b.session_id, reason)
            .await
            .map(|_| None),
    };
    reply(closed.map(|planner| Closed {
        session: l.session_view(&b.session_id),
        planner,
    }))
}

#[derive(Deserialize)]
pub(super) struct TerminalStart {
    #[serde(default)]
    shell: Option<String>,
    #[serde(default)]
    shell_args: Option<Vec<String>>,
}

pub(super) async fn browser_terminal_start(
    State(l): L,
    JsonBody(b): JsonBody<TerminalStart>,
) -> Response {
    reply(
        l.sessions
            .start_shell(b.shell, b.shell_args.unwrap_or_default())
            .await
            .map(|t| TerminalAnswer::new(&l, t)),
    )
}

pub(super) async fn session_browser_terminal_start(
    State(l): L,
    JsonBody(b): JsonBody<SessionRef>,
) -> Response {
    reply(
        l.sessions
            .terminals
            .start_preview(&b.session_id)
            .await
            .map(|t| TerminalAnswer::new(&l, t)),
    )
}

/// `POST /api/session_terminal/attach`: the session's own terminal, started
/// for this viewer if it runs only on demand.
pub(super) async fn attach_terminal(State(l): L, JsonBody(b): JsonBody<SessionRef>) -> Response {
    reply(
        l.sessions
            .terminals
            .attach_viewer(&b.session_id)
            .await
            .map(|t| TerminalAnswer::new(&l, (t, false))),
    )
}

/// `GET /api/session_conversation?id=`: what the session did, live or finished.
pub(super) async fn conversation(
    State(l): L,
    caller: crate::web::owned::Caller,
    super::IdQuery(id, _): super::IdQuery,
) -> Response {
    let answer = l.sessions.conversation(&id);
    reply(answer.map(|a| match caller.sees_transcripts() {
        true => a,
        false => a.without_transcript(),
    }))
}

#[derive(Deserialize)]
pub(super) struct TerminalRef {
    id: String,
}

pub(super) async fn browser_terminal_close(
    State(l): L,
    JsonBody(b): JsonBody<TerminalRef>,
) -> Response {
    if let Err(e) = crate::ids::check_id("id", &b.id) {
        return LauncherError::from(e).into_response();
    }
    reply(
        l.sessions
            .close_terminal(&b.id)
            .await
            .map(|record| TerminalClosed {
                terminal: record.map(crate::views::terminals::terminal),
                closed: true,
            }),
    )
}

/// The answer to `POST /api/browser_terminal/close`.
#[derive(Serialize)]
pub(super) struct TerminalClosed {
    terminal: Option<crate::views::terminals::TerminalView>,
    closed: bool,
}

/// `POST /api/submit_result`: a department's report, bound to its session.
pub(super) async fn submit_result(
    State(l): L,
    FromSession { grant, body: b }: FromSession<serde_json::Map<String, serde_json::Value>>,
) -> Response {
    reply(l.mailbox.submit_result(&grant, b, None).await)
}

/// A department started now, or queued for a free slot.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum DepartmentStart {
    Started(Box<StartedView>),
    Queued {
        queued: bool,
        queue_item: Box<QueueItem>,
    },
}

/// A terminal opened (or the open one reused).
#[derive(Serialize)]
pub(super) struct TerminalAnswer {
    id: String,
    url: String,
    reused: bool,
    terminal: OpenedTerminal,
}

/// The terminal, with the Python tool's words beside ours.
#[derive(Serialize)]
struct OpenedTerminal {
    #[serde(flatten)]
    info: TerminalInfo,
    /// Its listener's address (the Python tool's `host`): always loopback.
    host: &'static str,
    pid: Option<u32>,
    scope: &'static str,
    read_only: bool,
    ended_at: Option<String>,
}

impl TerminalAnswer {
    fn new(l: &crate::launcher::Launcher, (info, reused): (TerminalInfo, bool)) -> TerminalAnswer {
        let pid = l
            .ctx
            .store
            .read(|s| s.terminals.get(&info.id).and_then(|t| t.pid));
        TerminalAnswer {
            id: info.id.clone(),
            url: info.url.clone(),
            reused,
            terminal: OpenedTerminal {
                host: "127.0.0.1",
                scope: match info.kind {
                    crate::model::TerminalKind::Interactive => "global",
                    _ => "session",
                },
                read_only: !info.kind.accepts_input(),
                pid,
                ended_at: None,
                info,
            },
        }
    }
}
