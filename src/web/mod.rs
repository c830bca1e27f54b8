//! The HTTP layer: a thin axum router over the launcher.
//!
//! `serve` binds a loopback address, opens the launcher, writes the launcher file
//! and runs until told to stop; handlers only parse, call the launcher and shape
//! the answer.

mod answer;
mod api;
pub use answer::failure;
mod approvals;
mod notify;
mod phones;
pub use crate::mailbox::notices::inbox::NotifyInput;
mod dashboard;
mod events;
mod owned;
mod query;

pub mod routes;
pub mod security;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::FromRequest;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::config::Config;
use crate::error::{ErrorCode, LauncherError};
use crate::launcher::Launcher;
use crate::model::AuditEvent;
use security::Guard;

/// Largest request body accepted.
pub const MAX_BODY: usize = crate::limits::MAX_MESSAGE_BYTES;

/// A JSON object body deserialized into `T`; anything else is a clear 400 or 413.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                LauncherError::TooLarge("request body is larger than 1 MiB".into()).into_response()
            }
            // axum's own status for a body it could not read, passed on.
            other => failure(other.status(), &other.body_text()),
        })?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            LauncherError::BadRequest(format!("body is not valid JSON: {e}")).into_response()
        })?;
        if !value.is_object() {
            return Err(
                LauncherError::BadRequest("body must be a JSON object".into()).into_response(),
            );
        }
        serde_json::from_value(value).map(JsonBody).map_err(|e| {
            LauncherError::BadRequest(format!("bad request body: {e}")).into_response()
        })
    }
}

/// Where and what to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub repo: PathBuf,
    pub host: String,
    pub port: u16,
    pub state_dir: Option<PathBuf>,
    /// `--allow-host`: the one TLS name (the user's `tailscale serve`) the
    /// page also answers to, for paired phones only.
    pub allow_host: Option<crate::net::allowed_host::AllowedHost>,
}

/// A running server.
pub struct Running {
    pub url: String,
    pub token: String,
    pub addr: SocketAddr,
    pub launcher: Arc<Launcher>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// The dashboard URL to print: the token in the fragment, which browsers
    /// never send in a request line or a Referer.
    pub fn dashboard_url(&self) -> String {
        format!("{}/#token={}", self.url, self.token)
    }

    /// Stops accepting, terminates sessions, saves and audits.
    pub async fn stop(self) {
        // Streams end first so the server's drain does not wait for them.
        self.launcher.begin_stop();
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        self.launcher.shutdown().await;
        let _ = std::fs::remove_file(self.launcher.ctx.paths.launcher_file());
    }
}

/// A `--host` the launcher does not serve on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("--host {0:?} is not an IP address or localhost")]
    NotAnAddress(String),
    #[error(
        "--host {0} is not a loopback address; codex-governance only serves 127.0.0.1, ::1 or localhost"
    )]
    NotLoopback(String),
}

/// Resolves `--host` to a loopback address, refusing anything else.
pub fn loopback_ip(host: &str) -> Result<IpAddr, HostError> {
    let ip = match host {
        "localhost" => IpAddr::from([127, 0, 0, 1]),
        other => other
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .map_err(|_| HostError::NotAnAddress(other.to_string()))?,
    };
    if ip.is_loopback() {
        Ok(ip)
    } else {
        Err(HostError::NotLoopback(host.to_string()))
    }
}

/// Binds, opens the launcher, starts background work and serves.
pub async fn serve(opts: ServeOptions, config: Config) -> anyhow::Result<Running> {
    let ip = loopback_ip(&opts.host)?;
    let repo = std::path::absolute(&opts.repo)?;
    let state_dir = match &opts.state_dir {
        Some(dir) => std::path::absolute(dir)?,
        None => repo.join(".tmp"),
    };
    // The state folder's lock first: a second launcher stops before binding.
    let launcher = Launcher::open(&repo, config, state_dir)?;
    let listener = crate::net::listener::bind(SocketAddr::new(ip, opts.port))
        .map_err(|e| bind_error(&opts, e))?;
    let addr = listener.local_addr()?;
    let host = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    let url = format!("http://{host}:{}", addr.port());
    launcher.set_url(url.clone());
    if let Some(name) = &opts.allow_host {
        launcher.set_tailnet(name.clone());
    }
    let guard = Arc::new(Guard::new(
        addr.port(),
        ip,
        launcher.token.clone(),
        Arc::clone(&launcher.credentials),
        Arc::clone(&launcher.phones),
        opts.allow_host.clone(),
    ));
    let app = router(Arc::clone(&launcher), guard);
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let stop = async move {
            let _ = rx.wait_for(|v| *v).await;
        };
        crate::net::listener::serve(listener, app, stop, std::time::Duration::from_secs(2)).await;
    });
    write_launcher_file(&launcher, &url)?;
    launcher
        .ctx
        .store
        .audit_or_log(AuditEvent::LauncherStarted {
            pid: std::process::id(),
            url: url.clone(),
            repo: launcher.ctx.repo.display().to_string(),
        });
    launcher.start_background().await;
    Ok(Running {
        url,
        token: launcher.token.clone(),
        addr,
        launcher,
        shutdown: tx,
        task,
    })
}

/// Why the port cannot be had, with what to do about it.
fn bind_error(opts: &ServeOptions, e: std::io::Error) -> anyhow::Error {
    if e.kind() != std::io::ErrorKind::AddrInUse {
        return anyhow::anyhow!("cannot listen on {}:{}: {e}", opts.host, opts.port);
    }
    let who = if ours_listening(&opts.host, opts.port) {
        "by a codex-governance launcher (of another repository or state folder: \
         `codex-governance url` in its repository prints its address)"
    } else {
        "by another program"
    };
    anyhow::anyhow!(
        "port {} on {} is in use {who}: pass --port 0 to pick a free port",
        opts.port,
        opts.host
    )
}

/// True when what listens at host:port serves our dashboard page.
fn ours_listening(host: &str, port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(ip) = loopback_ip(host) else {
        return false;
    };
    let addr = SocketAddr::new(ip, port);
    let timeout = std::time::Duration::from_secs(1);
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let request = format!("GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut body = Vec::new();
    let _ = stream.take(64 * 1024).read_to_end(&mut body);
    String::from_utf8_lossy(&body).contains("codex-governance")
}

fn write_launcher_file(launcher: &Launcher, url: &str) -> anyhow::Result<()> {
    let path = launcher.ctx.paths.launcher_file();
    let body = serde_json::to_vec_pretty(&json!({
        "pid": std::process::id(),
        "url": url,
        "token": launcher.token,
        "started_at": crate::clock::now_rfc3339(),
    }))?;
    // tempfile creates it owner-only (0600 on Unix) before the token is written
    // into it; on Windows the state folder's ACL decides (see SECURITY.md).
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-launcher")
        .tempfile_in(dir)?;
    crate::platform::make_private(tmp.as_file())?;
    std::fs::write(tmp.path(), body)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&path)?;
    if let Some(port) = url.rsplit(':').next().and_then(|p| p.parse().ok()) {
        if let Err(e) = crate::instance::remember_port(dir, port) {
            tracing::warn!("cannot keep the port for the next start: {e}");
        }
    }
    Ok(())
}

fn all_routes() -> routes::Routes {
    api::routes()
        .merge(approvals::routes())
        .merge(notify::routes())
        .merge(phones::routes())
        .merge(events::routes())
        .merge(dashboard::routes())
}

/// `(method, path)` of every route the server has.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    all_routes().table().to_vec()
}

fn router(launcher: Arc<Launcher>, guard: Arc<Guard>) -> Router {
    let routes = all_routes()
        .router
        .fallback(security::not_found)
        .with_state(launcher);
    routes
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            security::panic_response,
        ))
        .layer(axum::middleware::from_fn_with_state(guard, security::guard))
        .layer(axum::middleware::map_response(method_not_allowed_as_json))
}

/// axum answers 405 with an empty body; give it the failure shape.
async fn method_not_allowed_as_json(response: Response) -> Response {
    if response.status() == ErrorCode::MethodNotAllowed.status()
        && response.headers().get(header::CONTENT_TYPE).is_none()
    {
        return LauncherError::MethodNotAllowed("method not allowed".into()).into_response();
    }
    response
}
