//! The security layer in front of every route (SPEC 10).
//!
//! A web page in the user's browser must not be able to drive the launcher, so:
//! the `Host` must name the bound loopback address and port (DNS rebinding, 421;
//! see [`super::authority`] for duplicate `Host` and absolute-form targets);
//! a foreign `Origin` or a cross-site fetch is refused (403); every `/api/` call
//! needs the token as a bearer header, compared in constant time (401; no cookie
//! is set or accepted: browsers share cookies across ports); POST bodies must be
//! JSON (415). No CORS header is ever sent.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::credentials::{Credentials, Principal};
use crate::error::LauncherError;
use crate::net::peers::Connection;

/// What requests must look like to reach this server.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Accepted `Host` values, lower case: `127.0.0.1:6211`, `localhost:6211`.
    pub hosts: Vec<String>,
    /// Accepted `Origin` values: `http://` + each host.
    pub origins: Vec<String>,
    pub token: String,
    /// Session tokens, each scoped to its session's role.
    pub credentials: Arc<Credentials>,
}

impl Guard {
    pub fn new(
        port: u16,
        bound_ip: std::net::IpAddr,
        token: String,
        credentials: Arc<Credentials>,
    ) -> Guard {
        let mut hosts = vec![format!("localhost:{port}")];
        match bound_ip {
            std::net::IpAddr::V4(ip) => hosts.push(format!("{ip}:{port}")),
            std::net::IpAddr::V6(ip) => hosts.push(format!("[{ip}]:{port}")),
        }
        let origins = hosts.iter().map(|h| format!("http://{h}")).collect();
        Guard {
            hosts,
            origins,
            token,
            credentials,
        }
    }

    pub fn token_matches(&self, candidate: &str) -> bool {
        token_eq(candidate, &self.token)
    }

    /// Who a presented token belongs to: the developer, a session, or nobody.
    pub fn principal(&self, candidate: &str) -> Option<Principal> {
        if self.token_matches(candidate) {
            return Some(Principal::User);
        }
        self.credentials.resolve(candidate).map(Principal::Session)
    }

    /// `host` (lower case) names this listener.
    fn host_ok(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h == host)
    }

    /// None when the request may come from this origin, else the reason.
    fn origin_problem(&self, headers: &HeaderMap) -> Option<String> {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("").to_ascii_lowercase();
            if !self.origins.contains(&origin) {
                return Some(format!(
                    "cross-origin requests are refused (Origin {origin:?})"
                ));
            }
        }
        match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
            Some("cross-site") | Some("same-site") => {
                Some("cross-site requests are refused (Sec-Fetch-Site)".into())
            }
            _ => None,
        }
    }

    /// The token the request carries in `Authorization: Bearer`.
    fn presented_token<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())?
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
    }
}

/// Constant-time comparison of two tokens.
pub fn token_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Middleware applying the whole layer.
pub async fn guard(State(guard): State<Arc<Guard>>, mut request: Request, next: Next) -> Response {
    match admit(&guard, &request) {
        Err(refused) => refused.into_response(),
        Ok(granted) => {
            if let Some(principal) = granted {
                request.extensions_mut().insert(principal);
            }
            let mut response = next.run(request).await;
            let h = response.headers_mut();
            h.remove(header::ACCESS_CONTROL_ALLOW_ORIGIN);
            h.insert("x-content-type-options", "nosniff".parse().unwrap());
            h.insert("referrer-policy", "no-referrer".parse().unwrap());
            response
        }
    }
}

/// Whether the request may reach a route, and who calls it (for `/api/`).
fn admit(guard: &Guard, request: &Request) -> Result<Option<Principal>, LauncherError> {
    let headers = request.headers();
    crate::net::authority::check(request.uri(), headers, |h| guard.host_ok(h))?;
    if let Some(reason) = guard.origin_problem(headers) {
        return Err(LauncherError::Forbidden(reason));
    }
    let path = request.uri().path();
    if request.method() == Method::OPTIONS {
        // No CORS: preflights get no allow headers, so browsers refuse the call.
        return Err(LauncherError::Forbidden(
            "cross-origin requests are refused".into(),
        ));
    }
    if !path.starts_with("/api/") {
        return Ok(None);
    }
    let principal = guard
        .presented_token(headers)
        .and_then(|t| guard.principal(t))
        .ok_or_else(|| {
            LauncherError::Unauthorized(
                "missing or wrong token: send Authorization: Bearer <token>".into(),
            )
        })?;
    crate::policy::scopes::may_call(&principal, request.method().as_str(), path)?;
    // A connection that presented a token is the last to give way when full.
    if let Some(conn) = request.extensions().get::<Arc<Connection>>() {
        conn.authenticated();
    }
    if request.method() == Method::POST && !is_json(headers) {
        return Err(LauncherError::UnsupportedMedia(
            "POST bodies must be application/json".into(),
        ));
    }
    Ok(Some(principal))
}

/// The body is declared `application/json` (parameters aside).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false)
}

/// A JSON 404 for every unknown route.
pub async fn not_found() -> Response {
    LauncherError::NotFound("no such route".into()).into_response()
}

/// A JSON 500 for a panic in a handler.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    LauncherError::Internal("internal error".into()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_semantics() {
        assert!(token_eq("abc", "abc"));
        assert!(!token_eq("abc", "abd"));
        assert!(!token_eq("abc", "abcd"));
    }
}
