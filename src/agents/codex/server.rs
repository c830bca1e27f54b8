//! The launcher's one Codex app-server, shared by all its threads.
//!
//! It runs detached (its own process session, no terminal, output to a log),
//! so it outlives a launcher that crashes: the next launcher finds it through
//! `codex/app-server.json` (written as soon as it is spawned) and connects
//! again, and every thread resumes with its turn, its pending approvals and
//! its pending tool calls intact (Codex sends those again to a client that
//! resumes the thread). One that no resumed session adopts is ended once the
//! next launcher has resumed what it could ([`AppServer::end_left_running`]),
//! so it never outlives the launcher after the crash. A clean stop ends it.
//! Nothing here reads its screen. (On Windows its job object ends it with the
//! launcher.)

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::endpoint::Endpoint;
use super::native::Program;
use super::rpc::{Incoming, Rpc, RpcError};
use super::CodexError;

/// How long a new app-server may take to open its endpoint.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopping server may drain its turns before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Marks the app-server's process as this state folder's (a reused pid is not).
pub const MARKER_ENV: &str = "CODEX_GOVERNANCE_APP_SERVER";
/// Where a launcher leaves what the next one needs to reconnect.
const RECORD: &str = "app-server.json";

/// What to start.
pub struct ServerSpec<'a> {
    pub codex: &'a Program,
    pub state_dir: &'a Path,
    pub cwd: &'a Path,
    pub log_path: PathBuf,
}

/// A running app-server.
pub struct AppServer {
    pid: u32,
    pub endpoint: Endpoint,
    record: PathBuf,
    log_path: PathBuf,
}

impl AppServer {
    /// Connects to the server a previous launcher of `state_dir` left running,
    /// or starts one; completes `initialize`.
    pub async fn open(
        spec: ServerSpec<'_>,
    ) -> Result<(AppServer, Rpc, mpsc::UnboundedReceiver<Incoming>), CodexError> {
        if let Some(found) = Self::left_running(spec.state_dir, &spec.log_path) {
            match found.connect(Duration::from_secs(5)).await {
                Ok((rpc, rx)) => {
                    tracing::info!("reconnected to the Codex app-server (pid {})", found.pid);
                    return Ok((found, rpc, rx));
                }
                Err(e) => {
                    tracing::warn!("the Codex app-server left running does not answer: {e}");
                    found.stop().await;
                }
            }
        }
        Self::start(spec).await
    }

    /// Ends the server a crashed launcher of `state_dir` left running, if
    /// there is one: called when nothing adopted it. True when one was ended.
    pub async fn end_left_running(state_dir: &Path) -> bool {
        // Its log is not read: a server being ended shows no tail.
        let Some(found) = Self::left_running(state_dir, Path::new("")) else {
            return false;
        };
        tracing::info!(
            "ending the Codex app-server a previous launcher left (pid {})",
            found.pid
        );
        found.stop().await;
        true
    }

    /// The server a crashed launcher left, if it still runs: the recorded pid
    /// must carry this state folder's marker, so a reused pid is never taken.
    fn left_running(state_dir: &Path, log_path: &Path) -> Option<AppServer> {
        let record = state_dir.join("codex").join(RECORD);
        let text = std::fs::read_to_string(&record).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        let pid = u32::try_from(v["pid"].as_u64()?).ok()?;
        let marker = state_dir.display().to_string();
        if !crate::platform::has_env(pid, MARKER_ENV, &marker) {
            let _ = std::fs::remove_file(&record);
            return None;
        }
        let endpoint = Endpoint::from_record(state_dir, &v["endpoint"])?;
        Some(AppServer {
            pid,
            endpoint,
            record,
            log_path: log_path.to_path_buf(),
        })
    }

    async fn start(
        spec: ServerSpec<'_>,
    ) -> Result<(AppServer, Rpc, mpsc::UnboundedReceiver<Incoming>), CodexError> {
        let endpoint = Endpoint::new(spec.state_dir, "app-server")?;
        let log =
            crate::files::open_own(spec.state_dir, &spec.log_path, crate::files::Access::Append)
                .map_err(|e| CodexError::Io(format!("{}: {e}", spec.log_path.display())))?;
        let program = crate::platform::program_path(&spec.codex.path).map_err(|e| {
            endpoint.clean();
            CodexError::Missing(e.to_string())
        })?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.arg("app-server")
            .args(endpoint.listen_args())
            .current_dir(spec.cwd)
            .envs(spec.codex.env.iter().map(|(k, v)| (k, v)))
            // The server's log is for problems, not every request.
            .env("RUST_LOG", "warn")
            .env(MARKER_ENV, spec.state_dir.display().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().map_err(io)?))
            .stderr(Stdio::from(log))
            .kill_on_drop(false);
        crate::platform::detach(cmd.as_std_mut());
        let child = cmd.spawn().map_err(|e| {
            endpoint.clean();
            CodexError::Missing(format!("{}: {e}", spec.codex.path.display()))
        })?;
        let Some(pid) = child.id() else {
            endpoint.clean();
            let mut child = child;
            let _ = child.start_kill();
            return Err(CodexError::Io("the app-server has no pid".into()));
        };
        crate::platform::contain(pid);
        // Reaped in the background; whether it runs is asked of the pid.
        tokio::spawn(async move {
            let mut child = child;
            let _ = child.wait().await;
        });
        let record = spec.state_dir.join("codex").join(RECORD);
        let server = AppServer {
            pid,
            endpoint,
            record,
            log_path: spec.log_path,
        };
        // Recorded before it is waited for: a launcher that dies while it
        // comes up leaves it findable.
        let note = json!({"pid": pid, "endpoint": server.endpoint.to_record()});
        if let Err(e) = crate::files::write_atomic(&server.record, note.to_string().as_bytes()) {
            server.stop().await;
            return Err(CodexError::Io(format!("{}: {e}", server.record.display())));
        }
        match server.connect(LISTEN_TIMEOUT).await {
            Ok(pair) => Ok((server, pair.0, pair.1)),
            Err(e) => {
                server.stop().await;
                Err(e)
            }
        }
    }

    /// Waits for the listener, connects and initializes.
    async fn connect(
        &self,
        patience: Duration,
    ) -> Result<(Rpc, mpsc::UnboundedReceiver<Incoming>), CodexError> {
        let deadline = tokio::time::Instant::now() + patience;
        let (rpc, rx) = loop {
            if !self.alive() {
                return Err(CodexError::ServerExited(-1, self.log_tail()));
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
        self.pid
    }

    pub fn alive(&self) -> bool {
        crate::platform::process_alive(self.pid)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read(&self.log_path).unwrap_or_default();
        let tail = &text[text.len().saturating_sub(2000)..];
        crate::pty::strip_escapes(tail).trim().to_string()
    }

    /// Stops the server: it ends its turns' commands and exits; one that keeps
    /// draining past the grace is killed. Its endpoint and record go.
    pub async fn stop(&self) {
        if crate::platform::terminate_tree(self.pid) {
            let deadline = tokio::time::Instant::now() + STOP_GRACE;
            while self.alive() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        crate::platform::kill_tree(self.pid);
        self.endpoint.clean();
        let _ = std::fs::remove_file(&self.record);
    }
}

fn io(e: std::io::Error) -> CodexError {
    CodexError::Io(e.to_string())
}
