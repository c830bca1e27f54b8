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
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::failure;
use crate::credentials::{Credentials, Principal};
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
    let headers = request.headers();
    if let Err(problem) = crate::net::authority::check(request.uri(), headers, |h| guard.host_ok(h))
    {
        return failure(problem.status(), problem.message());
    }
    if let Some(reason) = guard.origin_problem(headers) {
        return failure(StatusCode::FORBIDDEN, &reason);
    }
    let path = request.uri().path();
    let mut granted = None;
    if request.method() == Method::OPTIONS {
        // No CORS: preflights get no allow headers, so browsers refuse the call.
        return failure(StatusCode::FORBIDDEN, "cross-origin requests are refused");
    }
    if path.starts_with("/api/") {
        let Some(principal) = guard
            .presented_token(headers)
            .and_then(|t| guard.principal(t))
        else {
            return failure(
                StatusCode::UNAUTHORIZED,
                "missing or wrong token: send Authorization: Bearer <token>",
            );
        };
        if let Err(why) =
            crate::policy::scopes::may_call(&principal, request.method().as_str(), path)
        {
            return failure(StatusCode::FORBIDDEN, &why.to_string());
        }
        granted = Some(principal);
        // A connection that presented a token is the last to give way when full.
        if let Some(conn) = request.extensions().get::<Arc<Connection>>() {
            conn.authenticated();
        }
        if request.method() == Method::POST {
            let json = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .eq_ignore_ascii_case("application/json")
                })
                .unwrap_or(false);
            if !json {
                return failure(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "POST bodies must be application/json",
                );
            }
        }
    }
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

/// A JSON 404 for every unknown route.
pub async fn not_found() -> Response {
    failure(StatusCode::NOT_FOUND, "no such route").into_response()
}

/// A JSON 500 for a panic in a handler.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    failure(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
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
