//! Browser terminals: a PTY shown in a web page (xterm.js) over a WebSocket.
//!
//! Why it exists: the dashboard embeds each agent's live terminal in an iframe, and
//! a developer can open a shell beside it. Each terminal gets its own listener on
//! `127.0.0.1:0` with its own 256-bit token, so a URL handed to one iframe grants
//! access to that one PTY only, and closing the terminal frees its port.
//!
//! This module is the registry ([`Terminals`]); `server` serves one terminal (page,
//! assets, security checks), `connection` speaks the WebSocket protocol to one
//! client, and [`assets`] holds the embedded `static/` files.

pub mod assets;
mod connection;
mod server;
mod shared;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::pty::Pty;

/// How long `close` waits for the listener to wind down before aborting it.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

pub use crate::model::TerminalKind;

/// A terminal as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TerminalInfo {
    pub id: String,
    pub kind: TerminalKind,
    pub session_id: Option<String>,
    pub title: String,
    /// `http://127.0.0.1:PORT/?token=TOKEN`: what the dashboard puts in an iframe.
    pub url: String,
    pub port: u16,
    /// `running`, `exited` (the process ended; the page still shows the code) or `closed`.
    pub status: String,
    pub started_at: String,
    pub exit_code: Option<i32>,
}

/// Dashboard origins allowed to frame the pages and open the WebSockets; shared by
/// every terminal so the launcher can set them after it has bound its port.
pub(crate) type Origins = Arc<RwLock<Vec<String>>>;

/// One live terminal server.
struct Entry {
    info: Arc<Mutex<TerminalInfo>>,
    shutdown: watch::Sender<bool>,
    viewers: Arc<watch::Sender<usize>>,
    server: JoinHandle<()>,
    watcher: JoinHandle<()>,
}

struct Inner {
    entries: Mutex<Vec<(String, Entry)>>,
    next_id: AtomicU64,
    origins: Origins,
}

/// The registry of live terminal servers. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct Terminals {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Terminals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminals")
            .field("open", &self.list().len())
            .finish()
    }
}

impl Terminals {
    /// `allowed_origins`: the dashboard's origin(s), e.g. `http://127.0.0.1:6211`.
    pub fn new(allowed_origins: Vec<String>) -> Terminals {
        Terminals {
            inner: Arc::new(Inner {
                entries: Mutex::new(Vec::new()),
                next_id: AtomicU64::new(0),
                origins: Arc::new(RwLock::new(normalize_origins(allowed_origins))),
            }),
        }
    }

    /// Replaces the allowed dashboard origins, for every terminal (live ones too).
    pub fn set_allowed_origins(&self, origins: Vec<String>) {
        *self.inner.origins.write().unwrap() = normalize_origins(origins);
    }

    /// Starts serving `pty` on a fresh loopback port with a fresh token.
    pub async fn open(
        &self,
        kind: TerminalKind,
        pty: Arc<Pty>,
        session_id: Option<String>,
        title: String,
    ) -> anyhow::Result<TerminalInfo> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let token = generate_token();
        let n = self.inner.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("term-{n}");
        let exit_code = pty.exit_code();
        let info = Arc::new(Mutex::new(TerminalInfo {
            id: id.clone(),
            kind,
            session_id,
            title: title.clone(),
            url: format!("http://127.0.0.1:{port}/?token={token}"),
            port,
            status: if exit_code.is_some() {
                "exited"
            } else {
                "running"
            }
            .to_string(),
            started_at: crate::clock::now_rfc3339(),
            exit_code,
        }));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let viewers = Arc::new(watch::Sender::new(0));
        let shared = Arc::new(shared::Shared {
            id: id.clone(),
            kind,
            title,
            token,
            port,
            pty: Arc::clone(&pty),
            origins: Arc::clone(&self.inner.origins),
            shutdown: shutdown_rx.clone(),
            viewers: Arc::clone(&viewers),
        });
        let server = tokio::spawn(server::serve(listener, shared));
        let watcher = tokio::spawn(watch_exit(pty, Arc::clone(&info), shutdown_rx));
        let snapshot = info.lock().unwrap().clone();
        self.inner.entries.lock().unwrap().push((
            id,
            Entry {
                info,
                shutdown,
                viewers,
                server,
                watcher,
            },
        ));
        tracing::info!(terminal = %snapshot.id, port, kind = kind.as_str(), "terminal opened");
        Ok(snapshot)
    }

    /// Stops the terminal's listener (its port is free when this returns) and
    /// disconnects its clients. The PTY is left alone: the caller decides its fate.
    pub async fn close(&self, id: &str) -> Option<TerminalInfo> {
        let entry = {
            let mut entries = self.inner.entries.lock().unwrap();
            let pos = entries.iter().position(|(eid, _)| eid == id)?;
            entries.remove(pos).1
        };
        let _ = entry.shutdown.send(true);
        entry.watcher.abort();
        let mut server = entry.server;
        if tokio::time::timeout(CLOSE_GRACE, &mut server)
            .await
            .is_err()
        {
            server.abort();
            let _ = server.await;
        }
        let mut info = entry.info.lock().unwrap().clone();
        info.status = "closed".to_string();
        tracing::info!(terminal = %info.id, "terminal closed");
        Some(info)
    }

    /// Every live terminal, oldest first.
    pub fn list(&self) -> Vec<TerminalInfo> {
        let entries = self.inner.entries.lock().unwrap();
        entries
            .iter()
            .map(|(_, e)| e.info.lock().unwrap().clone())
            .collect()
    }

    pub fn get(&self, id: &str) -> Option<TerminalInfo> {
        let entries = self.inner.entries.lock().unwrap();
        entries
            .iter()
            .find(|(eid, _)| eid == id)
            .map(|(_, e)| e.info.lock().unwrap().clone())
    }

    /// How many clients the terminal `id` has, from now on (the sender goes
    /// when the terminal closes).
    pub fn viewers(&self, id: &str) -> Option<watch::Receiver<usize>> {
        let entries = self.inner.entries.lock().unwrap();
        entries
            .iter()
            .find(|(eid, _)| eid == id)
            .map(|(_, e)| e.viewers.subscribe())
    }

    /// The newest live terminal of `kind` showing session `session_id`.
    pub fn for_session(&self, session_id: &str, kind: TerminalKind) -> Option<TerminalInfo> {
        self.list()
            .into_iter()
            .rev()
            .find(|t| t.kind == kind && t.session_id.as_deref() == Some(session_id))
    }

    /// Closes every terminal (at shutdown).
    pub async fn close_all(&self) {
        let ids: Vec<String> = self.list().into_iter().map(|t| t.id).collect();
        for id in ids {
            self.close(&id).await;
        }
    }
}

/// Marks the terminal `exited` with the code once the process ends.
async fn watch_exit(
    pty: Arc<Pty>,
    info: Arc<Mutex<TerminalInfo>>,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::select! {
        code = pty.wait() => {
            let mut info = info.lock().unwrap();
            info.status = "exited".to_string();
            info.exit_code = Some(code);
        }
        _ = shutdown.wait_for(|stop| *stop) => {}
    }
}

pub use crate::secret::new_token as generate_token;

/// Trims trailing slashes, drops values unfit for a header, and adds the
/// `localhost`/`127.0.0.1` twin of each loopback origin (same server either way).
fn normalize_origins(origins: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |o: String| {
        if !out.contains(&o) {
            out.push(o);
        }
    };
    for origin in origins {
        let o = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        let valid = (o.starts_with("http://") || o.starts_with("https://"))
            && o.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:/[]".contains(&b));
        if !valid {
            tracing::warn!(origin = %origin, "ignoring an invalid allowed origin");
            continue;
        }
        if let Some(rest) = o.strip_prefix("http://127.0.0.1:") {
            push(format!("http://localhost:{rest}"));
        } else if let Some(rest) = o.strip_prefix("http://localhost:") {
            push(format!("http://127.0.0.1:{rest}"));
        }
        push(o);
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_hex_and_fresh() {
        let (a, b) = (generate_token(), generate_token());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn origins_are_normalized() {
        let o = normalize_origins(vec![
            "http://127.0.0.1:6211/".into(),
            "http://evil; script-src *".into(),
            "javascript:alert(1)".into(),
        ]);
        assert_eq!(o, vec!["http://127.0.0.1:6211", "http://localhost:6211"]);
    }

    #[test]
    fn kinds_serialize_snake_case() {
        let json = serde_json::to_string(&TerminalKind::SessionPreview).unwrap();
        assert_eq!(json, "\"session_preview\"");
        assert_eq!(TerminalKind::AgentSession.as_str(), "codex_session");
    }
}
