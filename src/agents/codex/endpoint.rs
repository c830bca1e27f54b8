//! Where a Codex app-server listens and how clients reach it: a unix socket in
//! a private folder (Unix), or Codex's loopback WebSocket listener guarded by a
//! capability token (Windows, where Codex cannot listen on a unix socket; on
//! Unix when `CODEX_GOVERNANCE_CODEX_TRANSPORT=ws`).

use std::path::{Path, PathBuf};

use super::CodexError;

/// Unix socket paths longer than this do not fit `sun_path` everywhere.
const MAX_SOCKET_PATH: usize = 100;
/// The TUI reads the WebSocket token from this variable (never its command line).
pub const TOKEN_ENV: &str = "CODEX_GOVERNANCE_CODEX_WS_TOKEN";

/// How a session's app-server is reached.
#[derive(Debug, Clone)]
pub enum Endpoint {
    Unix(PathBuf),
    WebSocket {
        port: u16,
        token: String,
        token_file: PathBuf,
    },
}

impl Endpoint {
    /// A fresh endpoint for `session_id`: the platform's transport unless overridden.
    pub fn new(state_dir: &Path, session_id: &str) -> Result<Endpoint, CodexError> {
        let ws = match std::env::var("CODEX_GOVERNANCE_CODEX_TRANSPORT").as_deref() {
            Ok("ws") => true,
            Ok("unix") => false,
            _ => crate::platform::CODEX_OVER_WEBSOCKET,
        };
        let dir = private_folder(state_dir)?;
        if !ws {
            return Ok(Endpoint::Unix(socket_path(&dir, state_dir, session_id)?));
        }
        let token = crate::secret::new_token();
        let token_file = dir.join(format!("{session_id}.token"));
        crate::files::write_atomic(&token_file, token.as_bytes())
            .map_err(|e| CodexError::Io(format!("{}: {e}", token_file.display())))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| CodexError::Io(format!("no free loopback port: {e}")))?
            .port();
        Ok(Endpoint::WebSocket {
            port,
            token,
            token_file,
        })
    }

    /// What a later launcher needs to reach the same server (no secret: the
    /// WebSocket token stays in its private file).
    pub fn to_record(&self) -> serde_json::Value {
        match self {
            Endpoint::Unix(p) => serde_json::json!({"unix": p}),
            Endpoint::WebSocket {
                port, token_file, ..
            } => serde_json::json!({"ws_port": port, "token_file": token_file}),
        }
    }

    /// The endpoint a record names, if it is still there.
    pub fn from_record(state_dir: &Path, v: &serde_json::Value) -> Option<Endpoint> {
        let private = state_dir.join("codex");
        if let Some(p) = v["unix"].as_str() {
            return Some(Endpoint::Unix(PathBuf::from(p)));
        }
        let port = u16::try_from(v["ws_port"].as_u64()?).ok()?;
        let token_file = PathBuf::from(v["token_file"].as_str()?);
        // Only a token file of this state folder's private folder is read.
        if token_file.parent() != Some(private.as_path()) {
            return None;
        }
        let token = std::fs::read_to_string(&token_file)
            .ok()?
            .trim()
            .to_string();
        Some(Endpoint::WebSocket {
            port,
            token,
            token_file,
        })
    }

    /// `codex app-server` arguments that make it listen here.
    pub fn listen_args(&self) -> Vec<String> {
        match self {
            Endpoint::Unix(p) => vec!["--listen".into(), format!("unix://{}", p.display())],
            Endpoint::WebSocket {
                port, token_file, ..
            } => vec![
                "--listen".into(),
                format!("ws://127.0.0.1:{port}"),
                "--ws-auth".into(),
                "capability-token".into(),
                "--ws-token-file".into(),
                token_file.display().to_string(),
            ],
        }
    }

    /// `codex resume --remote` arguments, and the variables the TUI needs.
    pub fn remote_args(&self) -> (Vec<String>, Vec<(String, String)>) {
        match self {
            Endpoint::Unix(p) => (
                vec!["--remote".into(), format!("unix://{}", p.display())],
                Vec::new(),
            ),
            Endpoint::WebSocket { port, token, .. } => (
                vec![
                    "--remote".into(),
                    format!("ws://127.0.0.1:{port}"),
                    "--remote-auth-token-env".into(),
                    TOKEN_ENV.into(),
                ],
                vec![(TOKEN_ENV.to_string(), token.clone())],
            ),
        }
    }

    /// Whether the server may be listening yet (a socket file exists).
    pub fn may_listen(&self) -> bool {
        match self {
            Endpoint::Unix(p) => p.exists(),
            Endpoint::WebSocket { .. } => true,
        }
    }

    /// Removes what the endpoint left on disk.
    pub fn clean(&self) {
        let path = match self {
            Endpoint::Unix(p) => p,
            Endpoint::WebSocket { token_file, .. } => token_file,
        };
        let _ = std::fs::remove_file(path);
    }
}

fn private_folder(state_dir: &Path) -> Result<PathBuf, CodexError> {
    let dir = state_dir.join("codex");
    crate::platform::private_dir(&dir)
        .map_err(|e| CodexError::Io(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}

/// `<dir>/<session>.sock`, or one in a private folder under the temp dir
/// when that path would be too long for a socket. An old socket is removed.
fn socket_path(dir: &Path, state_dir: &Path, session_id: &str) -> Result<PathBuf, CodexError> {
    let name = format!("{session_id}.sock");
    let mut dir = dir.to_path_buf();
    if dir.join(&name).as_os_str().len() > MAX_SOCKET_PATH {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(state_dir.display().to_string().as_bytes());
        dir = std::env::temp_dir().join(format!("cg-{}", &hex::encode(digest)[..12]));
        crate::platform::private_dir(&dir)
            .map_err(|e| CodexError::Io(format!("{}: {e}", dir.display())))?;
    }
    let socket = dir.join(name);
    match std::fs::remove_file(&socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CodexError::Io(format!("{}: {e}", socket.display()))),
    }
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_live_in_the_private_folder_and_fit() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = private_folder(tmp.path()).unwrap();
        let p = socket_path(&dir, tmp.path(), "zhongshu-001").unwrap();
        assert_eq!(p, tmp.path().join("codex/zhongshu-001.sock"));
        let deep = tmp.path().join("a".repeat(120));
        let deep_dir = private_folder(&deep).unwrap();
        let p = socket_path(&deep_dir, &deep, "zhongshu-001").unwrap();
        assert!(
            p.as_os_str().len() <= MAX_SOCKET_PATH + 30,
            "{}",
            p.display()
        );
        assert!(!p.starts_with(&deep));
    }

    #[test]
    fn websocket_endpoints_keep_the_token_off_command_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let e = Endpoint::WebSocket {
            port: 4242,
            token: "s3cret".into(),
            token_file: tmp.path().join("t.token"),
        };
        let listen = e.listen_args().join(" ");
        assert!(listen.contains("ws://127.0.0.1:4242") && listen.contains("capability-token"));
        let (args, env) = e.remote_args();
        assert!(!args.join(" ").contains("s3cret") && !listen.contains("s3cret"));
        assert_eq!(env, [(TOKEN_ENV.to_string(), "s3cret".to_string())]);
    }
}
