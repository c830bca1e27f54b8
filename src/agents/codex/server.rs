//! One Codex app-server per session, on its own endpoint (`endpoint.rs`).
//!
//! The server runs in its own hidden PTY: that makes it a process-group leader
//! (Codex's node wrapper and native binary, and the sandboxes of the commands
//! it runs, all die with the group), logs its output, and reuses the PTY's
//! terminate-then-kill. Nothing here reads its screen.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::endpoint::Endpoint;
use super::rpc::{Incoming, Rpc, RpcError};
use super::CodexError;
use crate::pty::{self, Pty, SpawnSpec};

/// How long a new app-server may take to open its socket.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);

/// What to start.
pub struct ServerSpec<'a> {
    pub codex: &'a str,
    pub session_id: &'a str,
    pub state_dir: &'a Path,
    pub cwd: &'a Path,
    pub env: Vec<(String, String)>,
    pub log_path: PathBuf,
}

/// A running app-server and the launcher's connection to it.
pub struct AppServer {
    pty: Arc<Pty>,
    pub endpoint: Endpoint,
}

impl AppServer {
    /// Starts the server, connects, and completes `initialize`.
    pub async fn start(
        spec: ServerSpec<'_>,
    ) -> Result<(AppServer, Rpc, mpsc::UnboundedReceiver<Incoming>), CodexError> {
        let endpoint = Endpoint::new(spec.state_dir, spec.session_id)?;
        let mut env = spec.env;
        // The server's log is for problems, not every request.
        env.push(("RUST_LOG".into(), "warn".into()));
        let mut args = vec!["app-server".to_string()];
        args.extend(endpoint.listen_args());
        let spawned = Pty::spawn(SpawnSpec {
            program: spec.codex.to_string(),
            args,
            cwd: spec.cwd.to_path_buf(),
            env,
            cols: 200,
            rows: 50,
            log_path: Some(spec.log_path.clone()),
        });
        let pty = match spawned {
            Ok(p) => p,
            Err(e) => {
                endpoint.clean();
                return Err(CodexError::Missing(format!("{}: {e:#}", spec.codex)));
            }
        };
        let server = AppServer { pty, endpoint };
        match server.connect().await {
            Ok((rpc, rx)) => Ok((server, rpc, rx)),
            Err(e) => {
                server.stop().await;
                Err(e)
            }
        }
    }

    /// Waits for the listener, connects and initializes.
    async fn connect(&self) -> Result<(Rpc, mpsc::UnboundedReceiver<Incoming>), CodexError> {
        let deadline = tokio::time::Instant::now() + LISTEN_TIMEOUT;
        let (rpc, rx) = loop {
            if let Some(code) = self.pty.exit_code() {
                let tail = pty::strip_escapes(&self.pty.tail(2000));
                return Err(CodexError::ServerExited(code, tail.trim().to_string()));
            }
            if self.endpoint.may_listen() {
                match Rpc::connect(&self.endpoint).await {
                    Ok(pair) => break pair,
                    Err(RpcError::Connect { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err(CodexError::Timeout("the app-server to listen".into()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        rpc.request(
            "initialize",
            json!({
                "clientInfo": {"name": "codex-governance", "title": "codex-governance",
                               "version": env!("CARGO_PKG_VERSION")},
                "capabilities": {"experimentalApi": true},
            }),
        )
        .await?;
        rpc.notify("initialized", Value::Null)?;
        Ok((rpc, rx))
    }

    pub fn pid(&self) -> u32 {
        self.pty.pid()
    }

    /// Stops the server's whole process tree and removes its socket or token.
    pub async fn stop(&self) {
        self.pty.terminate(pty::KILL_GRACE).await;
        self.endpoint.clean();
    }
}
