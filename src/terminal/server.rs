//! One terminal's HTTP listener: the page, the assets, the WebSocket, and the
//! checks every request passes (Host, Origin, token) before it gets any of them.

use std::sync::Arc;

use askama::Template;
use axum::extract::ws::{rejection::WebSocketUpgradeRejection, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tokio::net::TcpListener;

use super::shared::Shared;
use super::{assets, connection};
use crate::error::LauncherError;

/// Largest frame a client may send (an input paste or a resize).
const MAX_CLIENT_MESSAGE: usize = 1024 * 1024;

/// Serves until the terminal is closed; the listener is dropped (port freed) then.
/// Same limits as the launcher's own server (header timeout, connection cap).
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut stop = shared.shutdown.clone();
    let app = router(shared);
    let shutdown = async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    crate::net::listener::serve(listener, app, shutdown, std::time::Duration::from_secs(1)).await;
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/ws", get(websocket))
        .route(
            "/static/{*path}",
            get(|Path(path): Path<String>| async move { assets::static_response(&path) }),
        )
        .fallback(|| async { assets::not_found() })
        .method_not_allowed_fallback(|| async {
            LauncherError::MethodNotAllowed("method not allowed".into()).into_response()
        })
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), guard))
        .with_state(shared)
}

/// Host names this listener (421 otherwise: DNS rebinding); a foreign Origin is 403.
async fn guard(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if let Err(problem) = crate::net::authority::check(req.uri(), req.headers(), |h| s.host_ok(h)) {
        return LauncherError::from(problem).into_response();
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        if !origin.to_str().is_ok_and(|o| s.origin_allowed(o)) {
            return LauncherError::Forbidden("origin not allowed".into()).into_response();
        }
    }
    next.run(req).await
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

fn query_token(q: &Result<Query<TokenQuery>, impl Sized>) -> Option<&str> {
    q.as_ref().ok().and_then(|Query(q)| q.token.as_deref())
}

#[derive(Template)]
#[template(path = "terminal.html")]
struct TerminalPage<'a> {
    id: &'a str,
    title: &'a str,
    kind: &'a str,
    token: &'a str,
}

async fn page(
    State(s): State<Arc<Shared>>,
    q: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if !s.token_ok(query_token(&q)) {
        return wrong_token();
    }
    let html = TerminalPage {
        id: &s.id,
        title: &s.title,
        kind: s.kind.as_str(),
        token: &s.token,
    }
    .render();
    let html = match html {
        Ok(html) => html,
        Err(e) => {
            tracing::error!("terminal page failed to render: {e}");
            return LauncherError::Internal("page failed to render".into()).into_response();
        }
    };
    let mut response = html.into_response();
    let headers = response.headers_mut();
    let pairs = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
        (header::CACHE_CONTROL, "no-store".to_string()),
        (header::REFERRER_POLICY, "no-referrer".to_string()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        (header::CONTENT_SECURITY_POLICY, csp(&s)),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

fn wrong_token() -> Response {
    LauncherError::Unauthorized("missing or wrong token".into()).into_response()
}

/// Only our own scripts; the socket only to this listener; framed only by the
/// dashboard. xterm.js injects `<style>` elements, hence `'unsafe-inline'` styles.
fn csp(s: &Shared) -> String {
    let port = s.port;
    let ancestors = s.origins.read().unwrap().join(" ");
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; font-src 'self' data:; \
         connect-src 'self' ws://127.0.0.1:{port} ws://localhost:{port}; \
         frame-ancestors 'self' {ancestors}; base-uri 'none'; form-action 'none'"
    )
}

async fn websocket(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    q: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if !s.token_ok(query_token(&q)) {
        return wrong_token();
    }
    // Browsers always send Origin on a WebSocket handshake; the guard vetted its value.
    if !headers.contains_key(header::ORIGIN) {
        return LauncherError::Forbidden("origin required".into()).into_response();
    }
    let ws = match ws {
        Ok(ws) => ws,
        // axum's own status (405, 400 or 426), passed on.
        Err(rejection) => {
            return crate::net::failure(rejection.status(), "expected a WebSocket upgrade")
        }
    };
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| connection::run(socket, s))
}
