//! One Codex app-server per session, listening on a private unix socket.
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

use super::rpc::{Incoming, Rpc, RpcError};
use super::CodexError;
use crate::pty::{self, Pty, SpawnSpec};

/// How long a new app-server may take to open its socket.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);
/// Unix socket paths longer than this do not fit `sun_path` everywhere.
const MAX_SOCKET_PATH: usize = 100;

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
    pub socket: PathBuf,
}

impl AppServer {
    /// Starts the server, connects, and completes `initialize`.
    pub async fn start(
        spec: ServerSpec<'_>,
    ) -> Result<(AppServer, Rpc, mpsc::UnboundedReceiver<Incoming>), CodexError> {
        let socket = socket_path(spec.state_dir, spec.session_id)?;
        match std::fs::remove_file(&socket) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CodexError::Io(format!("{}: {e}", socket.display()))),
        }
        let mut env = spec.env;
        // The server's log is for problems, not every request.
        env.push(("RUST_LOG".into(), "warn".into()));
        let pty = Pty::spawn(SpawnSpec {
            program: spec.codex.to_string(),
            args: vec![
                "app-server".into(),
                "--listen".into(),
                format!("unix://{}", socket.display()),
            ],
            cwd: spec.cwd.to_path_buf(),
            env,
            cols: 200,
            rows: 50,
            log_path: Some(spec.log_path.clone()),
        })
        .map_err(|e| CodexError::Missing(format!("{}: {e:#}", spec.codex)))?;
        let server = AppServer { pty, socket };
        match server.connect().await {
            Ok((rpc, rx)) => Ok((server, rpc, rx)),
            Err(e) => {
                server.stop().await;
                Err(e)
            }
        }
    }

    /// Waits for the socket, connects and initializes.
    async fn connect(&self) -> Result<(Rpc, mpsc::UnboundedReceiver<Incoming>), CodexError> {
        let deadline = tokio::time::Instant::now() + LISTEN_TIMEOUT;
        let (rpc, rx) = loop {
            if let Some(code) = self.pty.exit_code() {
                let tail = pty::strip_escapes(&self.pty.tail(2000));
                return Err(CodexError::ServerExited(code, tail.trim().to_string()));
            }
            if self.socket.exists() {
                match Rpc::connect(&self.socket).await {
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

    pub fn exited(&self) -> bool {
        self.pty.exit_code().is_some()
    }

    /// Stops the server's whole process group and removes its socket.
    pub async fn stop(&self) {
        self.pty.terminate(pty::KILL_GRACE).await;
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// `<state-dir>/codex/<session>.sock` in a private folder; a private folder
/// under the temp dir when that path would be too long for a socket.
fn socket_path(state_dir: &Path, session_id: &str) -> Result<PathBuf, CodexError> {
    let mut dir = state_dir.join("codex");
    let name = format!("{session_id}.sock");
    if dir.join(&name).as_os_str().len() > MAX_SOCKET_PATH {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(state_dir.display().to_string().as_bytes());
        dir = std::env::temp_dir().join(format!("cg-{}", &hex::encode(digest)[..12]));
    }
    crate::platform::private_dir(&dir)
        .map_err(|e| CodexError::Io(format!("{}: {e}", dir.display())))?;
    Ok(dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_live_in_a_private_folder_and_fit() {
        let tmp = tempfile::tempdir().unwrap();
        let p = socket_path(tmp.path(), "zhongshu-001").unwrap();
        assert_eq!(p, tmp.path().join("codex/zhongshu-001.sock"));
        let deep = tmp.path().join("a".repeat(120));
        let p = socket_path(&deep, "zhongshu-001").unwrap();
        assert!(
            p.as_os_str().len() <= MAX_SOCKET_PATH + 30,
            "{}",
            p.display()
        );
        assert!(!p.starts_with(&deep));
    }
}
