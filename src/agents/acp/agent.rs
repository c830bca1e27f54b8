//! One ACP agent: its process (in the session's working folder, with the
//! session's environment only), the ACP connection over its stdio, and what
//! the session asks of it. A turn is a `session/prompt`; *Stop* is
//! `session/cancel`; a text sent while a turn runs waits for its end (ACP has
//! no steering); `session/request_permission` waits for the user's decision.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_client_protocol::schema::ProtocolVersion;
use agent_client_protocol::v1::schema::{
    AgentCapabilities, CancelNotification, ClientCapabilities, ContentBlock,
    FileSystemCapabilities, Implementation, InitializeRequest, LoadSessionRequest, McpServer,
    McpServerStdio, NewSessionRequest, PermissionOptionKind, PromptRequest, PromptResponse,
    ReadTextFileRequest, ReadTextFileResponse, RequestPermissionOutcome, RequestPermissionRequest,
    RequestPermissionResponse, SelectedPermissionOutcome, SessionId, SessionNotification,
    SessionUpdate, StopReason, TextContent, WriteTextFileRequest, WriteTextFileResponse,
};
use agent_client_protocol::v1::ConnectionTo;
use agent_client_protocol::{ByteStreams, Client};
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

use super::confine::{Confinement, Hold};
use super::files::{Fence, FenceError, FILE_REQUEST_TIME};
use super::home::{clear, inert_paths, own_folder, own_home, placeholders, OwnDir, TOOLS_FOLDER};
use super::mcp::{SessionTools, ToolsSocket};
use super::reach::Reach;
use super::relay::Relay;
use super::updates::Transcript;
use super::AcpError;
use crate::agents::conversation::{self, Conversation};
use crate::agents::{Agent, AgentError, AgentEvent, AgentSpec, Delivery, Started};
use crate::model::{ApprovalDecision, ApprovalKind, Capabilities, PendingApproval, ReportedUsage};
use crate::pty::Pty;

/// How long an agent may take to start and open its session.
const START_PATIENCE: Duration = Duration::from_secs(60);
/// How long a stopped agent may take to end before it is killed.
const STOP_PATIENCE: Duration = Duration::from_secs(5);

/// What the session asks of the connection.
enum Ask {
    Prompt(String),
    Cancel,
}

/// A permission request waiting for the user: the agent's options and the
/// way to answer it.
struct Waiting {
    options: Vec<(PermissionOptionKind, String)>,
    responder: agent_client_protocol::v1::Responder<RequestPermissionResponse>,
}

/// What the connection's handlers and the agent share.
struct Shared {
    session_id: String,
    conversation: Arc<Conversation>,
    transcript: Mutex<Transcript>,
    events: mpsc::UnboundedSender<AgentEvent>,
    working: AtomicBool,
    turns: AtomicU64,
    /// Texts sent while a turn ran, each the next turn.
    queued: Mutex<VecDeque<String>>,
    permissions: Mutex<HashMap<String, Waiting>>,
    next_request: AtomicU64,
    asks: mpsc::UnboundedSender<Ask>,
    /// Its ACP session, once open.
    acp_session: Mutex<Option<String>>,
    /// Where its `fs/*` requests may read and write.
    fence: Fence,
    /// The role prompt, put before the first text the agent is sent.
    preamble: Mutex<Option<String>>,
    /// While `session/load` runs: the agent replays the conversation the
    /// page has already, so its updates are not recorded twice.
    replaying: AtomicBool,
}

pub(super) struct AcpAgent {
    shared: Arc<Shared>,
    pid: u32,
    child: tokio::sync::Mutex<Option<Process>>,
    /// Its governance tools' socket, served while it runs.
    tools: Mutex<Option<ToolsSocket>>,
    /// Its ACP session, when the agent can load it again (`session/load`).
    thread: Option<String>,
    /// What it said it can do at `initialize`.
    capabilities: Capabilities,
    /// Its settings folder of its own, removed when it stops.
    _own_dir: OwnDir,
    /// Its network's listeners served (a fenced agent's).
    _relay: Option<Relay>,
}

/// How the connection opens its session: a new one, or `resume` loaded again.
struct Opening {
    cwd: std::path::PathBuf,
    mcp_servers: Vec<McpServer>,
    resume: Option<String>,
}

/// What the agent said of itself at `initialize` and `session/new` (or
/// `session/load`).
struct Opened {
    session_id: SessionId,
    capabilities: AgentCapabilities,
}

/// The agent's command as `hold` confines it, with what its start owns on
/// disk and what its network may reach.
struct Launch {
    argv: Vec<String>,
    /// Environment beside the spec's (a settings folder of its own).
    added_env: Vec<(String, String)>,
    own_dir: OwnDir,
    /// The user's Codex settings as copied (read before the agent runs).
    codex_settings: Option<String>,
}

/// Starts the agent of `spec` with `command` and opens its session, held
/// as `hold` says (a confined one's network reaching its model: the places
/// its profile and environment name, and `model_hosts`).
pub(super) async fn start(
    command: &[String],
    hold: Hold,
    model_hosts: &[String],
    spec: AgentSpec,
) -> Result<Started, AcpError> {
    let (program, args) = command.split_first().ok_or(AcpError::NoCommand)?;
    let path = crate::platform::program_path(Path::new(program))
        .map_err(|e| AcpError::Missing(format!("{program}: {e}")))?;
    let (events, events_rx) = mpsc::unbounded_channel();
    let tools = serve_tools(&spec, &events)?;
    let mcp_servers: Vec<McpServer> = tools.iter().map(relay_entry).collect();
    let agent: Vec<String> = std::iter::once(path.display().to_string())
        .chain(args.iter().cloned())
        .collect();
    let launch = launch(&spec, &hold, &tools, agent)?;
    let (mut child, relay) = spawn(program, &spec, &hold, &launch, model_hosts)?;
    let pid = child.0.id().unwrap_or_default();
    let (Some(stdin), Some(stdout)) = (child.0.stdin.take(), child.0.stdout.take()) else {
        end(pid, &mut child.0).await;
        return Err(AcpError::Io("the agent's stdio is not connected".into()));
    };
    let (asks, asks_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::new(&spec, events, asks));
    let (opened_tx, opened_rx) = oneshot::channel();
    let transport = ByteStreams::new(stdin.compat_write(), stdout.compat());
    tokio::spawn(connection(
        Arc::clone(&shared),
        transport,
        Opening {
            cwd: spec.cwd.clone(),
            mcp_servers,
            resume: spec.resume.clone(),
        },
        asks_rx,
        opened_tx,
    ));
    let opened = opened_within(opened_rx, pid, &mut child.0).await?;
    // Its conversation outlives the process only where it can load it again.
    let loads = opened.capabilities.load_session;
    let agent = Arc::new(AcpAgent {
        shared,
        pid,
        child: tokio::sync::Mutex::new(Some(child)),
        tools: Mutex::new(tools),
        thread: loads.then(|| opened.session_id.to_string()),
        capabilities: Capabilities {
            resumes: loads,
            sandboxed: !matches!(hold, Hold::Unconfined),
            model_only_network: relay.is_some(),
            ..crate::agents::capabilities(crate::model::Backend::Acp)
        },
        _own_dir: launch.own_dir,
        _relay: relay,
    });
    if let Some(text) = &spec.first_turn {
        if let Err(e) = agent.send(text).await {
            agent.stop().await;
            return Err(AcpError::Io(e.to_string()));
        }
    }
    Ok(Started {
        agent,
        events: events_rx,
    })
}

/// The command that runs `agent` as `hold` confines it (refused before
/// anything is copied), its settings folder made when it has one.
fn launch(
    spec: &AgentSpec,
    hold: &Hold,
    tools: &Option<ToolsSocket>,
    agent: Vec<String>,
) -> Result<Launch, AcpError> {
    let reach: Vec<std::path::PathBuf> = tools
        .iter()
        .filter_map(|t| t.path().parent().map(Path::to_path_buf))
        .collect();
    let untrusted: Vec<String> = std::iter::once(&spec.cwd)
        .chain(&spec.sandbox.read_only)
        .flat_map(|p| crate::agents::codex::project_trust::lookup_keys(p))
        .collect();
    let inert: Vec<std::path::PathBuf> = match hold {
        Hold::WithHome(_, home) => inert_paths(&spec.cwd, home.inert),
        _ => Vec::new(),
    };
    let confinement = |codex| Confinement {
        codex,
        sandbox: &spec.sandbox,
        cwd: &spec.cwd,
        reach: &reach,
        inert: &inert,
        untrusted: &untrusted,
        fenced: true,
    };
    let unfit = |e: super::confine::NotUtf8| AcpError::Io(e.to_string());
    let mut codex_settings: Option<String> = None;
    let (argv, added_env, home) = match hold {
        Hold::Unconfined => (agent, Vec::new(), None),
        Hold::Whole(codex) => (
            confinement(codex).command(&agent).map_err(unfit)?,
            Vec::new(),
            None,
        ),
        Hold::WithHome(codex, home) => {
            let c = confinement(codex);
            let argv = c.command(&agent).map_err(unfit)?;
            let (dir, settings) = own_home(spec, *home)?;
            codex_settings = settings;
            let env = c.home_env(*home, &dir).map_err(unfit)?;
            (argv, env, Some(dir))
        }
    };
    // Its settings folder (a copy of the user's settings) goes with it.
    let mut own_dir = OwnDir {
        home,
        placeholders: Vec::new(),
    };
    own_dir.placeholders = placeholders(&spec.cwd, &inert)?;
    Ok(Launch {
        argv,
        added_env,
        own_dir,
        codex_settings,
    })
}

/// Starts the launch's command; a confined agent's network reaches its
/// model (through the relay returned) and nothing else.
fn spawn(
    program: &str,
    spec: &AgentSpec,
    hold: &Hold,
    launch: &Launch,
    model_hosts: &[String],
) -> Result<(Process, Option<Relay>), AcpError> {
    let log = crate::files::open_own(
        &spec.state_dir,
        &spec.log_path,
        crate::files::Access::Append,
    )
    .map_err(|e| AcpError::Io(format!("{}: {e}", spec.log_path.display())))?;
    let argv = &launch.argv;
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .envs(launch.added_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        // What the agent prints beside the protocol is the session's log.
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    if matches!(hold, Hold::Whole(_)) {
        // The sandbox reads the user's Codex settings where Codex does.
        if let Some(home) = std::env::var_os("CODEX_HOME") {
            cmd.env("CODEX_HOME", home);
        }
    }
    crate::platform::detach(cmd.as_std_mut());
    let fenced = match hold {
        Hold::Unconfined => None,
        Hold::Whole(_) | Hold::WithHome(..) => {
            let model = match hold {
                Hold::WithHome(_, home) => Some(home.model),
                _ => None,
            };
            let env: Vec<(String, String)> =
                spec.env.iter().chain(&launch.added_env).cloned().collect();
            let reach = Reach::of(model, &env, launch.codex_settings.as_deref(), model_hosts);
            cmd.envs(reach.env());
            let pending = crate::platform::net_fence::fence(cmd.as_std_mut(), &reach.binds())
                .map_err(|e| AcpError::Io(format!("the agent's network: {e}")))?;
            Some((reach, pending))
        }
    };
    let child = cmd
        .spawn()
        .map(Process)
        .map_err(|e| AcpError::Missing(format!("{program}: {e}")))?;
    crate::platform::contain(child.0.id().unwrap_or_default());
    let relay = match fenced {
        Some((reach, pending)) => {
            let served = pending
                .listeners()
                .and_then(|listeners| Relay::serve(listeners, &reach));
            // On failure the child goes with `child` (its tree killed).
            Some(served.map_err(|e| AcpError::Io(format!("the agent's network: {e}")))?)
        }
        None => None,
    };
    Ok((child, relay))
}

/// The session the connection opened, within [`START_PATIENCE`]; the
/// agent ended otherwise.
async fn opened_within(
    opened: oneshot::Receiver<Result<Opened, AcpError>>,
    pid: u32,
    child: &mut tokio::process::Child,
) -> Result<Opened, AcpError> {
    match tokio::time::timeout(START_PATIENCE, opened).await {
        Ok(Ok(Ok(opened))) => Ok(opened),
        Ok(Ok(Err(e))) => {
            end(pid, child).await;
            Err(e)
        }
        Ok(Err(_)) => Err(AcpError::Exited(end(pid, child).await)),
        Err(_) => {
            end(pid, child).await;
            Err(AcpError::Timeout("the agent's session".into()))
        }
    }
}

impl Shared {
    fn new(
        spec: &AgentSpec,
        events: mpsc::UnboundedSender<AgentEvent>,
        asks: mpsc::UnboundedSender<Ask>,
    ) -> Shared {
        let conversation_path = conversation::path_for(&spec.log_path);
        // A loaded session goes on numbering its turns and entries where the
        // page's conversation left off, so no new entry takes an earlier's id.
        let (turns, next) = match spec.resume {
            Some(_) => numbered_so_far(&conversation_path),
            None => (0, 0),
        };
        Shared {
            session_id: spec.session_id.clone(),
            conversation: Arc::new(Conversation::new(&spec.state_dir, conversation_path)),
            transcript: Mutex::new(Transcript::continuing(next)),
            events,
            working: AtomicBool::new(false),
            turns: AtomicU64::new(turns),
            queued: Mutex::new(VecDeque::new()),
            permissions: Mutex::new(HashMap::new()),
            next_request: AtomicU64::new(0),
            asks,
            acp_session: Mutex::new(None),
            fence: Fence::new(&spec.cwd, &spec.state_dir).read_only(spec.sandbox.work_read_only),
            preamble: Mutex::new(Some(spec.prompt.clone()).filter(|p| !p.trim().is_empty())),
            replaying: AtomicBool::new(false),
        }
    }
}

/// The last turn number and entry number of a conversation kept so far.
fn numbered_so_far(path: &Path) -> (u64, u64) {
    let number = |text: &str, prefix: &str| -> Option<u64> {
        text.strip_prefix(prefix)?.rsplit('-').next()?.parse().ok()
    };
    let entries = conversation::read(path).entries;
    let turns = entries
        .iter()
        .filter_map(|e| number(e.turn_id.as_deref()?, "turn-"))
        .max()
        .unwrap_or(0);
    let next = entries
        .iter()
        .filter_map(|e| number(&e.id, "acp-"))
        .max()
        .unwrap_or(0);
    (turns, next)
}

/// The session's governance tools on a socket in a folder of its own in the
/// launcher's private state folder (none without tools): a confined agent
/// reaches that folder and no other session's.
fn serve_tools(
    spec: &AgentSpec,
    events: &mpsc::UnboundedSender<AgentEvent>,
) -> Result<Option<ToolsSocket>, AcpError> {
    if spec.tools.is_empty() {
        return Ok(None);
    }
    let root = spec.state_dir.join(TOOLS_FOLDER);
    let dir = root.join(&spec.session_id);
    let io = |e: std::io::Error| AcpError::Io(format!("{}: {e}", dir.display()));
    own_folder(&spec.state_dir, &root).map_err(io)?;
    // A folder left by a crash goes first (a link is removed, never followed):
    // a confined agent may write this one, so it must be new and the launcher's.
    clear(&dir, &root).map_err(io)?;
    crate::files::create_own_dir(&spec.state_dir, &dir).map_err(io)?;
    let path = dir.join("tools.sock");
    let tools = SessionTools::new(spec.tools.clone(), events.clone());
    let socket = ToolsSocket::open(&path, tools)
        .map_err(|e| AcpError::Io(format!("{}: {e}", path.display())))?;
    Ok(Some(socket))
}

/// The `mcpServers` entry that reaches the session's tools: this binary's
/// relay to its socket, and nothing else (no key, no URL).
fn relay_entry(socket: &ToolsSocket) -> McpServer {
    let relay = std::env::current_exe().unwrap_or_else(|_| "codex-governance".into());
    McpServer::Stdio(McpServerStdio::new("codex-governance", relay).args(vec![
        "mcp-serve".into(),
        "--socket".into(),
        socket.address().display().to_string(),
    ]))
}

/// The agent's process. Dropped while it runs (a start given up half-way,
/// an agent dropped without `stop`), its whole tree is ended: the child's
/// `kill_on_drop` would end its first process only, and a sandbox's would
/// stay. Not once reaped: its pid may be another's by then.
struct Process(tokio::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        if let (Ok(None), Some(pid)) = (self.0.try_wait(), self.0.id()) {
            crate::platform::kill_tree(pid);
        }
    }
}

/// Ends the agent's process tree; its exit code.
async fn end(pid: u32, child: &mut tokio::process::Child) -> i32 {
    if pid != 0 {
        crate::platform::terminate_tree(pid);
    }
    let status = match tokio::time::timeout(STOP_PATIENCE, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            if pid != 0 {
                crate::platform::kill_tree(pid);
            }
            child.wait().await.ok()
        }
    };
    if pid != 0 {
        // Windows: what it left running ends with its job, which is let go.
        crate::platform::release_tree(pid);
    }
    status.and_then(|s| s.code()).unwrap_or(-1)
}

/// Runs the ACP connection: opens the session, then carries the session's
/// asks until they end or the agent goes; then says it is closed.
async fn connection(
    shared: Arc<Shared>,
    transport: ByteStreams<
        tokio_util::compat::Compat<tokio::process::ChildStdin>,
        tokio_util::compat::Compat<tokio::process::ChildStdout>,
    >,
    opening: Opening,
    mut asks: mpsc::UnboundedReceiver<Ask>,
    opened: oneshot::Sender<Result<Opened, AcpError>>,
) {
    let on_update = Arc::clone(&shared);
    let on_permission = Arc::clone(&shared);
    let on_read = Arc::clone(&shared);
    let on_write = Arc::clone(&shared);
    let main = Arc::clone(&shared);
    let mut opened = Some(opened);
    let result = Client
        .v1()
        .name("codex-governance")
        .on_receive_notification(
            async move |n: SessionNotification, _cx| {
                on_update.update(n);
                Ok(())
            },
            agent_client_protocol::on_receive_notification!(),
        )
        .on_receive_request(
            async move |r: RequestPermissionRequest, responder, _cx| {
                on_permission.ask_permission(r, responder);
                Ok(())
            },
            agent_client_protocol::on_receive_request!(),
        )
        .on_receive_request(
            async move |r: ReadTextFileRequest, responder, _cx| {
                // Answered off the connection's loop: the next request never waits.
                tokio::spawn(Arc::clone(&on_read).read_file(r, responder));
                Ok(())
            },
            agent_client_protocol::on_receive_request!(),
        )
        .on_receive_request(
            async move |r: WriteTextFileRequest, responder, _cx| {
                tokio::spawn(Arc::clone(&on_write).write_file(r, responder));
                Ok(())
            },
            agent_client_protocol::on_receive_request!(),
        )
        .connect_with(transport, async |cx| {
            let session_id = match open_session(&cx, &main, opening).await {
                Ok(o) => {
                    let id = o.session_id.clone();
                    *main.acp_session.lock().unwrap() = Some(id.to_string());
                    if let Some(tx) = opened.take() {
                        let _ = tx.send(Ok(o));
                    }
                    id
                }
                Err(e) => {
                    if let Some(tx) = opened.take() {
                        let _ = tx.send(Err(AcpError::Protocol(e.to_string())));
                    }
                    return Ok(());
                }
            };
            carry_asks(&cx, &main, &session_id, &mut asks).await
        })
        .await;
    if let Err(e) = result {
        tracing::warn!("{}: the ACP connection ended: {e}", shared.session_id);
    }
    if let Some(tx) = opened.take() {
        let _ = tx.send(Err(AcpError::Protocol(
            "the agent closed its connection".into(),
        )));
    }
    shared.cancel_permissions();
    let _ = shared.events.send(AgentEvent::Closed);
}

/// `initialize`, then `session/new`, or `session/load` of the conversation
/// `resume` names (its replayed updates marked as such).
async fn open_session(
    cx: &ConnectionTo<agent_client_protocol::Agent>,
    main: &Shared,
    opening: Opening,
) -> Result<Opened, agent_client_protocol::Error> {
    let Opening {
        cwd,
        mcp_servers,
        resume,
    } = opening;
    let init = InitializeRequest::new(ProtocolVersion::V1)
        .client_capabilities(ClientCapabilities::new().fs(FileSystemCapabilities::new()))
        .client_info(Implementation::new(
            "codex-governance",
            env!("CARGO_PKG_VERSION"),
        ));
    let init = cx.send_request(init).block_task().await?;
    let capabilities = init.agent_capabilities;
    let session_id = match resume {
        Some(id) if capabilities.load_session => {
            let id = SessionId::new(id);
            main.replaying.store(true, Ordering::SeqCst);
            let load = LoadSessionRequest::new(id.clone(), cwd).mcp_servers(mcp_servers);
            let loaded = cx.send_request(load).block_task().await;
            main.replaying.store(false, Ordering::SeqCst);
            loaded?;
            id
        }
        Some(_) => {
            return Err(agent_client_protocol::Error::new(
                agent_client_protocol::ErrorCode::METHOD_NOT_FOUND,
                "it no longer offers session/load, so its conversation cannot go on",
            ))
        }
        None => {
            let new = NewSessionRequest::new(cwd).mcp_servers(mcp_servers);
            cx.send_request(new).block_task().await?.session_id
        }
    };
    Ok(Opened {
        session_id,
        capabilities,
    })
}

/// Carries the session's asks (a prompt, a cancel) to the agent until they
/// end or the agent closes the connection.
async fn carry_asks(
    cx: &ConnectionTo<agent_client_protocol::Agent>,
    main: &Arc<Shared>,
    session_id: &SessionId,
    asks: &mut mpsc::UnboundedReceiver<Ask>,
) -> Result<(), agent_client_protocol::Error> {
    loop {
        let ask = tokio::select! {
            ask = asks.recv() => ask,
            () = cx.incoming_closed() => None,
        };
        let Some(ask) = ask else { return Ok(()) };
        match ask {
            Ask::Prompt(text) => {
                let done = Arc::clone(main);
                let prompt = PromptRequest::new(
                    session_id.clone(),
                    vec![ContentBlock::Text(TextContent::new(text))],
                );
                cx.send_request(prompt)
                    .on_receiving_result(move |result| async move {
                        done.turn_ended(result);
                        Ok(())
                    })?;
            }
            Ask::Cancel => {
                // The spec: the client answers its waiting permission
                // requests as cancelled.
                main.cancel_permissions();
                cx.send_notification(CancelNotification::new(session_id.clone()))?;
            }
        }
    }
}

impl Shared {
    /// The agent reads a file: within its fence, off the connection's loop.
    async fn read_file(
        self: Arc<Self>,
        r: ReadTextFileRequest,
        responder: agent_client_protocol::Responder<
            ReadTextFileResponse,
            agent_client_protocol::V1,
        >,
    ) {
        let read = match self.own(&r.session_id) {
            Ok(()) => {
                let (line, limit) = (r.line, r.limit);
                let path = r.path.clone();
                file_request(self, r.path, move |f| f.read(&path, line, limit)).await
            }
            Err(e) => Err(e),
        };
        answer(responder.respond_with_result(read.map(ReadTextFileResponse::new)));
    }

    /// The agent writes a file: within its fence, off the connection's loop.
    async fn write_file(
        self: Arc<Self>,
        r: WriteTextFileRequest,
        responder: agent_client_protocol::Responder<
            WriteTextFileResponse,
            agent_client_protocol::V1,
        >,
    ) {
        let written = match self.own(&r.session_id) {
            Ok(()) => {
                let (path, content) = (r.path.clone(), r.content);
                file_request(self, r.path, move |f| f.write(&path, &content)).await
            }
            Err(e) => Err(e),
        };
        let written = written.map(|()| WriteTextFileResponse::new());
        answer(responder.respond_with_result(written));
    }
}

/// Runs one client file request on a blocking thread, answered within
/// [`FILE_REQUEST_TIME`] whatever the file system does.
async fn file_request<T: Send + 'static>(
    shared: Arc<Shared>,
    path: std::path::PathBuf,
    work: impl FnOnce(&Fence) -> Result<T, FenceError> + Send + 'static,
) -> Result<T, agent_client_protocol::Error> {
    let shown = path.display().to_string();
    let done = tokio::task::spawn_blocking(move || work(&shared.fence));
    match tokio::time::timeout(FILE_REQUEST_TIME, done).await {
        Ok(Ok(result)) => result.map_err(refused),
        Ok(Err(e)) => Err(refused(FenceError::Io(shown, e.to_string()))),
        Err(_) => Err(refused(FenceError::TimedOut(shown))),
    }
}

/// A response that could not be sent: the agent is gone.
fn answer(sent: Result<(), agent_client_protocol::Error>) {
    if let Err(e) = sent {
        tracing::debug!("answering an ACP agent's file request: {e}");
    }
}

/// A refused file request, in the agent's terms.
fn refused(e: super::files::FenceError) -> agent_client_protocol::Error {
    agent_client_protocol::Error::new(
        agent_client_protocol::ErrorCode::INVALID_PARAMS,
        e.to_string(),
    )
}

impl Shared {
    /// Whether a request names this agent's own ACP session.
    fn own(&self, session: &SessionId) -> Result<(), agent_client_protocol::Error> {
        match self.acp_session.lock().unwrap().as_deref() {
            Some(own) if own == session.to_string() => Ok(()),
            _ => Err(agent_client_protocol::Error::new(
                agent_client_protocol::ErrorCode::INVALID_PARAMS,
                format!("no session {session} here"),
            )),
        }
    }

    /// A new turn with `text` (the role prompt before the first).
    fn prompt(&self, text: &str) -> Result<(), AgentError> {
        self.turn_started(text);
        let preamble = self.preamble.lock().unwrap().take();
        let full = match preamble {
            Some(role) => format!("{role}\n\n{text}"),
            None => text.to_string(),
        };
        self.asks
            .send(Ask::Prompt(full))
            .map_err(|_| AgentError::Gone)
    }

    fn update(&self, n: SessionNotification) {
        if self.replaying.load(Ordering::SeqCst) {
            return;
        }
        if let SessionUpdate::UsageUpdate(u) = &n.update {
            let _ = self.events.send(AgentEvent::UsageReported(ReportedUsage {
                context_used: u.used,
                context_size: u.size,
                cost: u.cost.as_ref().map(|c| c.amount),
                currency: u.cost.as_ref().map(|c| c.currency.clone()),
            }));
            return;
        }
        let mut transcript = self.transcript.lock().unwrap();
        transcript.apply(&self.conversation, n.update);
    }

    /// A turn is starting with `text`.
    fn turn_started(&self, text: &str) -> String {
        let n = self.turns.fetch_add(1, Ordering::SeqCst) + 1;
        let turn_id = format!("turn-{n}");
        {
            let mut transcript = self.transcript.lock().unwrap();
            transcript.turn(&self.conversation, &turn_id);
            transcript.told(&self.conversation, text);
        }
        self.working.store(true, Ordering::SeqCst);
        let _ = self.events.send(AgentEvent::TurnStarted {
            turn_id: turn_id.clone(),
        });
        turn_id
    }

    fn turn_ended(&self, result: Result<PromptResponse, agent_client_protocol::Error>) {
        let turn_id = format!("turn-{}", self.turns.load(Ordering::SeqCst));
        self.transcript
            .lock()
            .unwrap()
            .end_message(&self.conversation);
        let (status, error) = match result {
            Ok(r) => match r.stop_reason {
                StopReason::EndTurn => ("completed", None),
                StopReason::Cancelled => ("interrupted", None),
                other => (
                    "failed",
                    Some(format!("the agent stopped: {}", stop_word(&other))),
                ),
            },
            Err(e) => {
                if let Some(kind) = limit_kind(&e) {
                    // Parked when its turn ends, as a Codex session at its limit.
                    let _ = self.events.send(AgentEvent::Error {
                        message: format!("the agent reached a usage limit ({kind})"),
                        will_retry: false,
                        limit: Some(crate::agents::Limit::Own),
                    });
                }
                ("failed", Some(e.to_string()))
            }
        };
        self.working.store(false, Ordering::SeqCst);
        let _ = self.events.send(AgentEvent::TurnCompleted {
            turn_id,
            status: status.into(),
            error,
        });
        let next = self.queued.lock().unwrap().pop_front();
        if let Some(text) = next {
            if self.prompt(&text).is_err() {
                tracing::warn!(
                    "{}: a queued text was lost: the agent is gone",
                    self.session_id
                );
            }
        }
    }

    fn ask_permission(
        &self,
        request: RequestPermissionRequest,
        responder: agent_client_protocol::v1::Responder<RequestPermissionResponse>,
    ) {
        let n = self.next_request.fetch_add(1, Ordering::SeqCst) + 1;
        let request_id = format!("permission-{n}");
        let call = &request.tool_call.fields;
        let command = call.title.clone().unwrap_or_else(|| "a tool call".into());
        let options = request
            .options
            .iter()
            .map(|o| (o.kind, o.option_id.to_string()))
            .collect();
        let reason = request
            .options
            .iter()
            .map(|o| o.name.clone())
            .collect::<Vec<_>>()
            .join(" / ");
        self.permissions
            .lock()
            .unwrap()
            .insert(request_id.clone(), Waiting { options, responder });
        let _ = self
            .events
            .send(AgentEvent::ApprovalRequested(PendingApproval {
                request_id,
                session_id: self.session_id.clone(),
                kind: ApprovalKind::Command,
                command: Some(command),
                changes: Vec::new(),
                cwd: None,
                reason: Some(format!("the agent offers: {reason}")),
                requested_at: crate::clock::now_rfc3339(),
            }));
    }

    fn cancel_permissions(&self) {
        let waiting: Vec<(String, Waiting)> = self.permissions.lock().unwrap().drain().collect();
        for (request_id, w) in waiting {
            let _ = w.responder.respond(RequestPermissionResponse::new(
                RequestPermissionOutcome::Cancelled,
            ));
            let _ = self.events.send(AgentEvent::ApprovalResolved {
                request_id,
                decision: Some(ApprovalDecision::Cancel),
                by: "acp",
                nonce: None,
            });
        }
    }
}

/// The agent's option for a decision: its own option of that kind, else
/// none (the request is then cancelled, never answered with another kind).
fn option_for(
    options: &[(PermissionOptionKind, String)],
    decision: ApprovalDecision,
) -> Option<String> {
    let kind = match decision {
        ApprovalDecision::Accept => PermissionOptionKind::AllowOnce,
        ApprovalDecision::AcceptForSession => PermissionOptionKind::AllowAlways,
        ApprovalDecision::Decline => PermissionOptionKind::RejectOnce,
        ApprovalDecision::Cancel => return None,
    };
    options
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, id)| id.clone())
}

/// The kind of usage limit a failed prompt names, when the agent names one
/// explicitly: Claude Code's adapter puts the SDK's error kind in the
/// error's data (`{"errorKind": "rate_limit"}`, `billing_error` for a spent
/// balance). Anything else is a failure, never a guessed limit.
fn limit_kind(e: &agent_client_protocol::Error) -> Option<String> {
    const LIMITS: [&str; 2] = ["rate_limit", "billing_error"];
    let kind = e.data.as_ref()?.get("errorKind")?.as_str()?;
    LIMITS.contains(&kind).then(|| kind.to_string())
}

fn stop_word(reason: &StopReason) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{reason:?}"))
}

impl Agent for AcpAgent {
    fn terminal(&self) -> Option<Arc<Pty>> {
        None
    }

    fn attach_terminal(&self) -> BoxFuture<'_, Result<Arc<Pty>, AgentError>> {
        Box::pin(async {
            Err(AgentError::Unsupported {
                backend: "acp",
                what: "show a terminal (its conversation is the view)",
            })
        })
    }

    fn conversation(&self) -> Option<&Arc<Conversation>> {
        Some(&self.shared.conversation)
    }

    fn activity(&self) -> Option<(std::time::Instant, std::time::SystemTime)> {
        self.shared.conversation.activity()
    }

    /// Its ACP session where the agent offers `session/load`: a stopped
    /// launcher suspends it and the next loads it again; else None, so a
    /// closed agent ends its session instead of "resuming" as a stranger
    /// without its conversation, and a stopped launcher ends it too.
    fn thread_id(&self) -> Option<&str> {
        self.thread.as_deref()
    }

    fn capabilities(&self) -> Option<Capabilities> {
        Some(self.capabilities)
    }

    fn helper_pid(&self) -> Option<u32> {
        Some(self.pid).filter(|p| *p != 0)
    }

    fn working(&self) -> bool {
        self.shared.working.load(Ordering::SeqCst)
    }

    fn send<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Delivery, AgentError>> {
        Box::pin(async move {
            if self.working() {
                self.shared
                    .queued
                    .lock()
                    .unwrap()
                    .push_back(text.to_string());
                return Ok(Delivery::Started);
            }
            self.shared.prompt(text)?;
            Ok(Delivery::Started)
        })
    }

    fn interrupt(&self) -> BoxFuture<'_, Result<(), AgentError>> {
        Box::pin(async move {
            self.shared
                .asks
                .send(Ask::Cancel)
                .map_err(|_| AgentError::Gone)
        })
    }

    fn decide(
        &self,
        request_id: &str,
        decision: ApprovalDecision,
        _by: &'static str,
    ) -> Result<(), AgentError> {
        let waiting = self
            .shared
            .permissions
            .lock()
            .unwrap()
            .remove(request_id)
            .ok_or_else(|| AgentError::NoSuchRequest(request_id.to_string()))?;
        let outcome = match option_for(&waiting.options, decision) {
            Some(id) => RequestPermissionOutcome::Selected(SelectedPermissionOutcome::new(id)),
            None => RequestPermissionOutcome::Cancelled,
        };
        waiting
            .responder
            .respond(RequestPermissionResponse::new(outcome))
            .map_err(|e| AgentError::Failed(e.to_string()))?;
        Ok(())
    }

    fn stop(&self) -> BoxFuture<'_, i32> {
        Box::pin(async move {
            let Some(mut child) = self.child.lock().await.take() else {
                return -1;
            };
            let code = end(self.pid, &mut child.0).await;
            drop(self.tools.lock().unwrap().take());
            code
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_error_that_names_a_limit_is_one() {
        use serde_json::json;
        let with = |data: Option<serde_json::Value>| {
            agent_client_protocol::Error::internal_error().data(data)
        };
        let limit = |d| limit_kind(&with(Some(d)));
        assert_eq!(
            limit(json!({"errorKind": "rate_limit"})).as_deref(),
            Some("rate_limit")
        );
        assert_eq!(
            limit(json!({"errorKind": "billing_error"})).as_deref(),
            Some("billing_error")
        );
        assert_eq!(limit(json!({"errorKind": "overloaded"})), None);
        assert_eq!(limit(json!("rate_limit")), None);
        assert_eq!(limit_kind(&with(None)), None);
        // Words in a message are no limit.
        let mut said = with(None);
        said.message = "rate limit exceeded".into();
        assert_eq!(limit_kind(&said), None);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_process_dropped_while_it_runs_takes_its_whole_tree_along() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild");
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args([
            "-c",
            &format!("sleep 300 & echo $! > {}; wait", marker.display()),
        ]);
        crate::platform::detach(cmd.as_std_mut());
        let child = Process(cmd.spawn().unwrap());
        let grandchild = crate::test_tools::pid_written(&marker).await;
        assert!(crate::platform::process_alive(grandchild));
        drop(child);
        assert!(
            crate::test_tools::ends(grandchild).await,
            "the grandchild {grandchild} outlived the dropped process"
        );
    }

    #[test]
    fn a_decision_picks_the_agents_own_option_of_its_kind_and_never_another() {
        let options = vec![
            (PermissionOptionKind::AllowOnce, "yes".to_string()),
            (PermissionOptionKind::AllowAlways, "always".to_string()),
        ];
        assert_eq!(
            option_for(&options, ApprovalDecision::Accept).as_deref(),
            Some("yes")
        );
        assert_eq!(
            option_for(&options, ApprovalDecision::AcceptForSession).as_deref(),
            Some("always")
        );
        // No reject option offered: cancelled, not answered with an allow.
        assert_eq!(option_for(&options, ApprovalDecision::Decline), None);
        assert_eq!(option_for(&options, ApprovalDecision::Cancel), None);
    }
}
