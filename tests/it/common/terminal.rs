//! A browser terminal's client for the tests: a program started in a
//! pseudo-terminal, a terminal URL taken apart, a WebSocket to `/ws` with the
//! terminal's token, Host and Origin, and what it has received (output bytes
//! and control frames).
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use codex_governance::pty::{Pty, SpawnSpec};
use codex_governance::terminal::TerminalInfo;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const DASHBOARD: &str = "http://127.0.0.1:6211";
/// Only to avoid hanging forever; nothing asserts on time. As the
/// launcher's (common/launcher.rs): longer under Wine.
pub const PATIENCE: Duration = super::launcher::PATIENCE;

/// `program` with `args` in a new 80×24 pseudo-terminal, in the temporary
/// folder, with `env` added to its environment.
pub fn spawn_pty(program: &str, args: &[&str], env: &[(&str, &str)]) -> Arc<Pty> {
    Pty::spawn(SpawnSpec {
        program: program.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        cwd: std::env::temp_dir(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        cols: 80,
        rows: 24,
        transcript: None,
    })
    .unwrap_or_else(|e| panic!("{program} starts in a pseudo-terminal: {e}"))
}

/// The port and token of a terminal URL, `http://127.0.0.1:PORT/?token=TOKEN`.
pub fn terminal_parts(url: &str) -> (u16, String) {
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("not a loopback terminal URL: {url}"));
    let (port, token) = rest
        .split_once("/?token=")
        .unwrap_or_else(|| panic!("no token in the terminal URL: {url}"));
    let port = port
        .parse()
        .unwrap_or_else(|e| panic!("no port in the terminal URL {url}: {e}"));
    (port, token.to_string())
}

pub fn token_of(info: &TerminalInfo) -> String {
    terminal_parts(&info.url).1
}

/// Connects to `/ws` with explicit Host and Origin (None = header left out).
pub async fn connect_with(
    port: u16,
    token: Option<&str>,
    host: &str,
    origin: Option<&str>,
) -> Result<Ws, tungstenite::Error> {
    let query = token.map(|t| format!("?token={t}")).unwrap_or_default();
    let mut req = format!("ws://127.0.0.1:{port}/ws{query}")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("Host", host.parse().unwrap());
    if let Some(origin) = origin {
        req.headers_mut().insert("Origin", origin.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

/// Connects to the terminal at `url` as its own page does (its Host and Origin).
pub async fn connect_url(url: &str) -> Ws {
    let (port, token) = terminal_parts(url);
    let own = format!("http://127.0.0.1:{port}");
    connect_with(port, Some(&token), &format!("127.0.0.1:{port}"), Some(&own))
        .await
        .unwrap_or_else(|e| panic!("connect to the terminal {url}: {e}"))
}

pub async fn connect(info: &TerminalInfo) -> Ws {
    connect_url(&info.url).await
}

/// What a client has received so far.
#[derive(Default)]
pub struct Seen {
    pub output: Vec<u8>,
    pub control: Vec<serde_json::Value>,
}

impl Seen {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }
    pub fn has_control(&self, kind: &str) -> bool {
        self.control.iter().any(|c| c["type"] == kind)
    }
}

/// Reads frames into `seen` until `done(seen)` holds; panics after PATIENCE.
pub async fn read_until(ws: &mut Ws, seen: &mut Seen, what: &str, done: impl Fn(&Seen) -> bool) {
    let result = tokio::time::timeout(PATIENCE, async {
        while !done(seen) {
            match ws.next().await {
                Some(Ok(Message::Binary(b))) => seen.output.extend_from_slice(&b),
                Some(Ok(Message::Text(t))) => seen.control.push(serde_json::from_str(&t).unwrap()),
                Some(Ok(_)) => {}
                other => panic!("socket ended while waiting for {what}: {other:?}"),
            }
        }
    })
    .await;
    if result.is_err() {
        panic!(
            "timed out waiting for {what}; output so far: {:?}; control: {:?}",
            seen.text(),
            seen.control
        );
    }
}

pub async fn read_output(ws: &mut Ws, seen: &mut Seen, needle: &str) {
    read_until(ws, seen, needle, |s| s.text().contains(needle)).await;
}

pub async fn send_json(ws: &mut Ws, value: serde_json::Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

pub async fn type_line(ws: &mut Ws, line: &str) {
    send_json(
        ws,
        serde_json::json!({"type": "input", "data": format!("{line}\r")}),
    )
    .await;
}

/// Two clients both see the output (`early` first) and what one of them typed
/// (`line`, answered by `answer`); a client joining later gets the scrollback,
/// `early` included, before the answer.
pub async fn two_clients_and_a_late_joiner(
    info: &TerminalInfo,
    early: &str,
    line: &str,
    answer: &str,
) {
    let mut a = connect(info).await;
    let mut b = connect(info).await;
    let (mut seen_a, mut seen_b) = (Seen::default(), Seen::default());
    read_output(&mut a, &mut seen_a, early).await;
    read_output(&mut b, &mut seen_b, early).await;

    type_line(&mut a, line).await;
    read_output(&mut a, &mut seen_a, answer).await;
    read_output(&mut b, &mut seen_b, answer).await;

    let mut late = connect(info).await;
    let mut seen_late = Seen::default();
    read_output(&mut late, &mut seen_late, answer).await;
    assert!(
        seen_late.text().contains(early),
        "the scrollback first: {:?}",
        seen_late.text()
    );
}
