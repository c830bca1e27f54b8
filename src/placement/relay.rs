//! The bridge between the launcher's Codex app-server and a host's
//! `codex exec-server` (issue 53 item 2). Codex adds a remote environment
//! by a WebSocket URL (`environment/add`); the host must open no port, so
//! the launcher listens on loopback for the app-server alone and, for each
//! connection that shows its fresh bearer secret, runs the user's `ssh` to
//! start `codex exec-server --listen stdio` on the host and passes each
//! message across (a WebSocket text frame here, a JSON line there). When
//! ssh drops, the connection closes and Codex reconnects, which starts a
//! new ssh: the host coming back is a reconnect, not a restart.
//!
//! The same bridge runs a department's commands on this machine at the
//! user's tree's path (issue 52): there each connection starts the
//! exec-server here, in a namespace of its own that shows the department's
//! worktree at that path ([`Reach::Here`]).

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::sync::CancellationToken;

use std::path::PathBuf;

use super::ssh::Ssh;
use crate::config::remotes::Remote;
use crate::model::RemoteState;
use crate::secret::Secret;

/// Why one connection between Codex and its exec-server ended (logged; the
/// host's state says what the user needs of it).
#[derive(Debug, thiserror::Error)]
pub enum BridgeEnd {
    #[error("no handshake within 10 s")]
    NoHandshake,
    #[error("refused: {0}")]
    Refused(#[source] Box<tokio_tungstenite::tungstenite::Error>),
    #[error(transparent)]
    Ssh(#[from] super::ssh::SshError),
    #[cfg(target_os = "linux")]
    #[error("a namespace for its exec-server: {0}")]
    Namespace(#[source] std::io::Error),
    #[cfg(target_os = "linux")]
    #[error("{program}: {source}")]
    Start {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[cfg(not(target_os = "linux"))]
    #[error("folders shown at other paths need Linux")]
    NeedsLinux,
    #[error("its exec-server's program has no {0}")]
    NoPipe(&'static str),
    #[error("the launcher stops")]
    Stopping,
    #[error("Codex closed it")]
    CodexClosed,
    #[error("Codex's connection broke: {0}")]
    CodexBroke(#[source] Box<tokio_tungstenite::tungstenite::Error>),
    #[error("not JSON from Codex: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("writing to the exec-server: {0}")]
    Write(#[source] std::io::Error),
    #[error("sending to Codex: {0}")]
    ToCodex(#[source] Box<tokio_tungstenite::tungstenite::Error>),
    #[error("{0} sent a line of over 16 MiB")]
    LineTooLong(String),
    #[error("the exec-server of {0} ended")]
    Ended(String),
}

/// Where the relay starts a Codex `exec-server` for each connection.
#[derive(Clone)]
pub enum Reach {
    /// On a host, through the user's ssh.
    Ssh {
        ssh: Ssh,
        host: Remote,
        errors: ErrorLog,
        /// Held (written) while its container is being made again: no
        /// exec-server starts in it before its worktrees are there.
        remaking: Option<Arc<tokio::sync::RwLock<()>>>,
    },
    /// On this machine, with folders shown at other paths (Linux).
    Here(Here),
}

/// Where the error output of the programs a relay starts goes (ssh's own
/// words, the exec-server's warnings): a log file in the state folder,
/// never the user's terminal (issue 70 item 4).
#[derive(Clone, Debug)]
pub struct ErrorLog {
    pub state_dir: PathBuf,
    pub path: PathBuf,
}

impl ErrorLog {
    /// The last line written to the log, if any (its last 4 KiB read).
    fn last_line(&self) -> Option<String> {
        use std::io::{Read, Seek, SeekFrom};
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        let mut file = crate::platform::open_no_follow_with(&mut options, &self.path).ok()?;
        let len = file.metadata().ok()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(4096))).ok()?;
        let mut tail = Vec::new();
        file.take(4096).read_to_end(&mut tail).ok()?;
        let text = crate::sanitize::pasted_text(&String::from_utf8_lossy(&tail));
        let line = text.lines().map(str::trim).rfind(|l| !l.is_empty())?;
        Some(line.chars().take(200).collect())
    }

    /// The log opened for appending, as the program's error output; where
    /// it cannot be opened, the output is dropped (and that is logged).
    fn stdio(&self) -> std::process::Stdio {
        match crate::files::open_own(&self.state_dir, &self.path, crate::files::Access::Append) {
            Ok(file) => std::process::Stdio::from(file),
            Err(e) => {
                tracing::warn!("{}: {e}", self.path.display());
                std::process::Stdio::null()
            }
        }
    }
}

/// An exec-server on this machine: the launcher's own Codex, started in a
/// user and mount namespace where `binds` are made, in `cwd`.
#[derive(Clone)]
pub struct Here {
    /// What messages call it (the department's worktree).
    pub name: String,
    pub program: PathBuf,
    /// Its whole environment (nothing else of the launcher's).
    pub env: Vec<(String, String)>,
    pub binds: Vec<(PathBuf, PathBuf)>,
    pub cwd: PathBuf,
    pub errors: ErrorLog,
}

impl Reach {
    fn name(&self) -> &str {
        match self {
            Reach::Ssh { host, .. } => &host.name,
            Reach::Here(here) => &here.name,
        }
    }

    /// Waits while its container is being made again.
    async fn settled(&self) {
        if let Reach::Ssh {
            remaking: Some(gate),
            ..
        } = self
        {
            drop(gate.read().await);
        }
    }

    fn spawn(&self) -> Result<tokio::process::Child, BridgeEnd> {
        match self {
            Reach::Ssh {
                ssh, host, errors, ..
            } => {
                let words = [host.codex.as_str(), "exec-server", "--listen", "stdio"];
                Ok(ssh.spawn_stdio(host, &words, errors.stdio())?)
            }
            Reach::Here(here) => here.spawn(),
        }
    }

    /// The last line its programs wrote to their error log (ssh's reason,
    /// as "Connection refused"), cut to a line the page can show.
    fn last_said(&self) -> Option<String> {
        let errors = match self {
            Reach::Ssh { errors, .. } => errors,
            Reach::Here(here) => &here.errors,
        };
        errors.last_line()
    }

    /// Whether the program ended because the place is not there now (ssh's
    /// own failure), so trying again later may reach it.
    fn unreachable(&self, code: Option<i32>) -> bool {
        match self {
            Reach::Ssh { host, .. } => super::ssh::unreachable_code(host, code),
            Reach::Here(_) => false,
        }
    }
}

impl Here {
    #[cfg(target_os = "linux")]
    fn spawn(&self) -> Result<tokio::process::Child, BridgeEnd> {
        use std::process::Stdio;
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(["exec-server", "--listen", "stdio"])
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(self.errors.stdio());
        crate::platform::mount_ns::bind(&mut cmd, &self.binds, &self.cwd)
            .map_err(BridgeEnd::Namespace)?;
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.kill_on_drop(true);
        cmd.spawn().map_err(|source| BridgeEnd::Start {
            program: self.program.clone(),
            source,
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn spawn(&self) -> Result<tokio::process::Child, BridgeEnd> {
        Err(BridgeEnd::NeedsLinux)
    }
}

/// One host's relay: where the app-server connects and with what secret.
pub struct Relay {
    pub port: u16,
    secret: Secret,
    stop: CancellationToken,
    /// Told whether the host answers (its state in the status).
    on_state: Box<dyn Fn(RemoteState, String) + Send + Sync>,
}

impl Relay {
    /// Listens on a free loopback port for `host`; `tasks` runs the relay's
    /// work so the launcher's stop waits for it (and its ssh children).
    pub async fn start(
        reach: Reach,
        spawn: impl Fn(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>),
        on_state: Box<dyn Fn(RemoteState, String) + Send + Sync>,
    ) -> std::io::Result<Arc<Relay>> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let relay = Arc::new(Relay {
            port,
            secret: Secret::new(crate::secret::new_token()),
            stop: CancellationToken::new(),
            on_state,
        });
        let this = Arc::clone(&relay);
        spawn(Box::pin(async move {
            this.accept(listener, reach).await;
        }));
        Ok(relay)
    }

    /// The URL Codex is given.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// The bearer secret Codex shows (never logged, never in the page).
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Closes the listener and every bridge (their ssh ends with them).
    pub fn close(&self) {
        self.stop.cancel();
    }

    async fn accept(self: Arc<Self>, listener: TcpListener, reach: Reach) {
        let bridges = tokio_util::task::TaskTracker::new();
        loop {
            let stream = tokio::select! {
                _ = self.stop.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!("the relay to {}: {e}", reach.name());
                        continue;
                    }
                },
            };
            let (this, reach) = (Arc::clone(&self), reach.clone());
            bridges.spawn(async move {
                if let Err(e) = this.bridge(stream, &reach).await {
                    tracing::info!("the connection to {} ended: {e}", reach.name());
                }
            });
        }
        bridges.close();
        bridges.wait().await;
    }

    /// One connection: the secret checked, then messages passed both ways
    /// until either side ends.
    async fn bridge(&self, stream: TcpStream, reach: &Reach) -> Result<(), BridgeEnd> {
        let expected = format!("Bearer {}", self.secret.expose());
        // The handshake's callback type is tungstenite's.
        #[allow(clippy::result_large_err)]
        let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
            let shown = req
                .headers()
                .get("authorization")
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            let same = shown.len() == expected.len()
                && bool::from(subtle::ConstantTimeEq::ct_eq(shown, expected.as_bytes()));
            if same {
                Ok(resp)
            } else {
                let mut refused = ErrorResponse::new(None);
                *refused.status_mut() = StatusCode::UNAUTHORIZED;
                Err(refused)
            }
        };
        // A connection that never finishes its handshake is dropped.
        let ws = tokio::time::timeout(
            HANDSHAKE,
            tokio_tungstenite::accept_hdr_async(stream, check),
        )
        .await
        .map_err(|_| BridgeEnd::NoHandshake)?
        .map_err(|e| BridgeEnd::Refused(Box::new(e)))?;
        let (mut to_codex, mut from_codex) = ws.split();
        let mut session = Session::default();
        // Codex's messages until the host first answers: a new ssh gets them again.
        let mut unanswered: Vec<Vec<u8>> = Vec::new();
        let mut answered = false;
        let mut patience = FIRST_RETRY;
        let name = reach.name();
        let ended = 'connect: loop {
            reach.settled().await;
            let mut child = reach.spawn()?;
            let mut to_host = child.stdin.take().ok_or(BridgeEnd::NoPipe("stdin"))?;
            let mut from_host = FramedRead::new(
                child.stdout.take().ok_or(BridgeEnd::NoPipe("stdout"))?,
                LinesCodec::new_with_max_length(MAX_LINE),
            );
            for line in &unanswered {
                let _ = write_line(&mut to_host, line).await;
            }
            let outcome = loop {
                tokio::select! {
                    _ = self.stop.cancelled() => break Err(BridgeEnd::Stopping),
                    msg = from_codex.next() => match frame_of(msg) {
                        Frame::Message(frame) => {
                            let line = encode(&frame, &mut session)?;
                            if !answered {
                                unanswered.push(line.clone());
                            }
                            if let Err(e) = write_line(&mut to_host, &line).await {
                                if answered {
                                    break Err(e);
                                }
                            }
                        }
                        Frame::Closed(why) => break Err(why),
                        Frame::Other => {}
                    },
                    line = from_host.next() => match line {
                        Some(Ok(line)) => {
                            if !answered {
                                answered = true;
                                unanswered.clear();
                                (self.on_state)(RemoteState::Ready, "answering".into());
                            }
                            let line = session.towards_codex(line);
                            if let Err(e) = to_codex.send(Message::Text(line.into())).await {
                                break Err(BridgeEnd::ToCodex(Box::new(e)));
                            }
                        }
                        Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                            break Err(BridgeEnd::LineTooLong(name.to_string()))
                        }
                        None | Some(Err(_)) => break Ok(()),
                    },
                }
            };
            let _ = child.start_kill();
            let code = child.wait().await.ok().and_then(|s| s.code());
            match outcome {
                Err(why) => break why,
                // ssh itself failed before the host answered: the host is not
                // there now. Codex's connection is held (its request waits)
                // and ssh tried again, less and less often.
                Ok(()) if !answered && reach.unreachable(code) => {
                    let why = match reach.last_said() {
                        Some(said) => format!("{name} does not answer ssh ({said}); trying again"),
                        None => format!("{name} does not answer ssh; trying again"),
                    };
                    (self.on_state)(RemoteState::Unreachable, why);
                    let pause = tokio::time::sleep(patience);
                    tokio::pin!(pause);
                    loop {
                        tokio::select! {
                            _ = self.stop.cancelled() => break 'connect BridgeEnd::Stopping,
                            _ = &mut pause => break,
                            msg = from_codex.next() => match frame_of(msg) {
                                Frame::Message(frame) => unanswered.push(encode(&frame, &mut session)?),
                                Frame::Closed(why) => break 'connect why,
                                Frame::Other => {}
                            },
                        }
                    }
                    patience = (patience * 2).min(LAST_RETRY);
                }
                Ok(()) => break BridgeEnd::Ended(name.to_string()),
            }
        };
        // Codex may have stopped reading: the close is said, not waited for long.
        let close = to_codex.send(Message::Close(None));
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), close).await;
        Err(ended)
    }
}

/// How long a connection may take to show its secret.
const HANDSHAKE: std::time::Duration = std::time::Duration::from_secs(10);
/// The longest line a host may send (the largest frame Codex's WebSocket
/// reads by default: a line goes as one frame): a host that sends more is
/// cut off, not buffered.
const MAX_LINE: usize = 16 << 20;

/// How long the relay waits before it tries ssh again, at first and at most.
const FIRST_RETRY: std::time::Duration = std::time::Duration::from_secs(1);
const LAST_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

/// What Codex sent: a message, the connection's end, or nothing to pass.
enum Frame {
    Message(Vec<u8>),
    Closed(BridgeEnd),
    Other,
}

fn frame_of(msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) -> Frame {
    match msg {
        Some(Ok(Message::Text(text))) => Frame::Message(text.as_bytes().to_vec()),
        Some(Ok(Message::Binary(bytes))) => Frame::Message(bytes.to_vec()),
        Some(Ok(Message::Close(_))) | None => Frame::Closed(BridgeEnd::CodexClosed),
        Some(Ok(_)) => Frame::Other,
        Some(Err(e)) => Frame::Closed(BridgeEnd::CodexBroke(Box::new(e))),
    }
}

/// One message for the host as one JSON line (re-encoded, so a frame with
/// a line break inside cannot split it into two).
fn encode(frame: &[u8], session: &mut Session) -> Result<Vec<u8>, BridgeEnd> {
    let value: serde_json::Value = serde_json::from_slice(frame).map_err(BridgeEnd::NotJson)?;
    // A `Value` always serializes.
    let mut line = serde_json::to_vec(&session.towards_host(value)).unwrap_or_default();
    line.push(b'\n');
    Ok(line)
}

async fn write_line(
    to_host: &mut tokio::process::ChildStdin,
    line: &[u8],
) -> Result<(), BridgeEnd> {
    to_host.write_all(line).await.map_err(BridgeEnd::Write)?;
    to_host.flush().await.map_err(BridgeEnd::Write)
}

/// One connection's exec-server session as Codex knows it. Each connection
/// reaches a new exec-server (ssh starts one per connection, and a dropped
/// ssh ends it), which knows no earlier session; Codex's reconnect asks to
/// resume its last one and refuses any other. So the relay asks the new
/// server for a new session and shows Codex the id it asked for, swapping
/// the two ids both ways on this connection. What ran in the old session
/// ended with its ssh: Codex is told so when it asks after it.
#[derive(Debug, Default)]
struct Session {
    /// The `initialize` that asked to resume: its request id and the id.
    asked: Option<(serde_json::Value, String)>,
    /// Codex's id and the server's, once swapped.
    swap: Option<(String, String)>,
}

impl Session {
    fn towards_host(&mut self, mut message: serde_json::Value) -> serde_json::Value {
        if message["method"] == "initialize" {
            let request = message["id"].clone();
            let resume = message
                .get_mut("params")
                .and_then(|p| p.get_mut("resumeSessionId"));
            if let Some(resume) = resume {
                if let Some(id) = resume.as_str() {
                    self.asked = Some((request, id.to_string()));
                }
                *resume = serde_json::Value::Null;
            }
            return message;
        }
        if let Some((codex, server)) = &self.swap {
            replace_text(&mut message, codex, server);
        }
        message
    }

    fn towards_codex(&mut self, line: String) -> String {
        if self.asked.is_none() && self.swap.is_none() {
            return line;
        }
        let Ok(mut message) = serde_json::from_str::<serde_json::Value>(&line) else {
            return line;
        };
        if let Some((_, wanted)) = self.asked.take_if(|(id, _)| message["id"] == *id) {
            if let Some(given) = message["result"]["sessionId"].as_str() {
                self.swap = Some((wanted, given.to_string()));
            }
        }
        if let Some((codex, server)) = &self.swap {
            replace_text(&mut message, server, codex);
        }
        message.to_string()
    }
}

/// Every string in `value` that is exactly `from` becomes `to`.
fn replace_text(value: &mut serde_json::Value, from: &str, to: &str) {
    match value {
        serde_json::Value::String(s) if s == from => *s = to.to_string(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| replace_text(v, from, to)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| replace_text(v, from, to)),
        _ => {}
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// An "ssh" that ignores where it is sent and runs `script`.
    fn fake_ssh(dir: &std::path::Path, script: &str) -> Ssh {
        let path = dir.join("fake-ssh");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Ssh::new(path.to_str().unwrap()).unwrap()
    }

    /// A relay through `ssh`, its error log `host-gpu1.log` in `dir`.
    async fn started(ssh: Ssh, dir: &std::path::Path) -> Arc<Relay> {
        started_telling(ssh, dir, Box::new(|_, _| {})).await
    }

    async fn started_telling(
        ssh: Ssh,
        dir: &std::path::Path,
        on_state: Box<dyn Fn(RemoteState, String) + Send + Sync>,
    ) -> Arc<Relay> {
        let host = crate::placement::host::tests::sample_host();
        let errors = ErrorLog {
            state_dir: dir.to_path_buf(),
            path: dir.join("host-gpu1.log"),
        };
        Relay::start(
            Reach::Ssh {
                ssh,
                host,
                errors,
                remaking: None,
            },
            |work| {
                tokio::spawn(work);
            },
            on_state,
        )
        .await
        .unwrap()
    }

    /// A host ssh cannot reach: the reason ssh gave is in the state the
    /// page shows, taken from the host's error log.
    #[tokio::test]
    async fn an_unreachable_host_says_what_ssh_said() {
        let dir = tempfile::tempdir().unwrap();
        let refused =
            "echo 'ssh: connect to host devbox port 22: Connection refused' >&2\nexit 255";
        let (told, heard) = tokio::sync::mpsc::unbounded_channel();
        let relay = started_telling(
            fake_ssh(dir.path(), refused),
            dir.path(),
            Box::new(move |state, detail| {
                let _ = told.send((state, detail));
            }),
        )
        .await;
        let mut heard = heard;
        let _ws = connect(&relay, Some(&bearer(&relay))).await.unwrap();
        let (state, detail) = heard.recv().await.unwrap();
        assert_eq!(state, RemoteState::Unreachable);
        assert_eq!(
            detail,
            "gpu1 does not answer ssh (ssh: connect to host devbox port 22: Connection \
             refused); trying again"
        );
        relay.close();
    }

    type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

    /// Connects to `relay` showing `bearer` (None: no header).
    async fn connect(relay: &Relay, bearer: Option<&str>) -> Result<Client, String> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = relay.url().into_client_request().unwrap();
        if let Some(b) = bearer {
            req.headers_mut()
                .insert("authorization", b.parse().unwrap());
        }
        tokio_tungstenite::connect_async(req)
            .await
            .map(|(ws, _)| ws)
            .map_err(|e| e.to_string())
    }

    fn bearer(relay: &Relay) -> String {
        format!("Bearer {}", relay.secret().expose())
    }

    #[tokio::test]
    async fn the_relay_listens_on_loopback_and_passes_only_with_its_secret() {
        let dir = tempfile::tempdir().unwrap();
        let relay = started(
            fake_ssh(dir.path(), "echo 'SSH-SAYS: warning' >&2\nexec cat"),
            dir.path(),
        )
        .await;
        assert!(relay.url().starts_with("ws://127.0.0.1:"));
        for shown in [None, Some("Bearer wrong")] {
            let refused = connect(&relay, shown).await.err().unwrap();
            assert!(refused.contains("401"), "{refused}");
        }
        let mut ws = connect(&relay, Some(&bearer(&relay))).await.unwrap();
        // A frame with a line break inside reaches the host as one line.
        ws.send(Message::Text(
            "{\"id\": 1,\n \"method\": \"initialize\"}".into(),
        ))
        .await
        .unwrap();
        let back = ws.next().await.unwrap().unwrap();
        assert_eq!(
            back.into_text().unwrap().as_str(),
            r#"{"id":1,"method":"initialize"}"#
        );
        // What ssh and the host say on their error output is in the host's
        // log, not on the user's terminal.
        let said = std::fs::read_to_string(dir.path().join("host-gpu1.log")).unwrap();
        assert_eq!(said, "SSH-SAYS: warning\n");
        relay.close();
    }

    /// A host that sends a line without end is cut off at 16 MiB, not
    /// buffered until it stops; a connection that never shows its secret
    /// is dropped.
    #[tokio::test]
    async fn a_host_without_line_ends_and_a_silent_connection_are_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let flood = "head -c 20000000 /dev/zero | tr '\\0' a\nexec sleep 600";
        let relay = started(fake_ssh(dir.path(), flood), dir.path()).await;
        let mut ws = connect(&relay, Some(&bearer(&relay))).await.unwrap();
        // Guards against a hang only: the host sleeps for ten minutes.
        let ended = tokio::time::timeout(std::time::Duration::from_secs(120), ws.next())
            .await
            .expect("the relay cut the host off");
        assert!(
            matches!(ended, Some(Ok(Message::Close(_))) | None | Some(Err(_))),
            "{ended:?}"
        );

        let mut silent = TcpStream::connect(("127.0.0.1", relay.port)).await.unwrap();
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            tokio::io::AsyncReadExt::read(&mut silent, &mut buf),
        )
        .await
        .expect("the relay dropped a connection that said nothing");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        relay.close();
    }

    #[test]
    fn a_reconnect_gets_a_new_session_shown_under_the_id_codex_asked_for() {
        let mut session = Session::default();
        let init = serde_json::json!({"id": 1, "method": "initialize",
            "params": {"clientName": "codex-environment", "resumeSessionId": "old"}});
        let sent = session.towards_host(init);
        assert!(sent["params"]["resumeSessionId"].is_null(), "{sent}");
        let answer = session.towards_codex(r#"{"id":1,"result":{"sessionId":"new"}}"#.into());
        assert_eq!(answer, r#"{"id":1,"result":{"sessionId":"old"}}"#);
        let later =
            session.towards_host(serde_json::json!({"id": 2, "params": {"sessionId": "old"}}));
        assert_eq!(later["params"]["sessionId"], "new");
        let told = session.towards_codex(r#"{"method":"x","params":{"sessionId":"new"}}"#.into());
        assert!(told.contains("\"old\""), "{told}");
    }
}
