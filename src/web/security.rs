//! The security layer in front of every route (SPEC 10).
//!
//! A web page in the user's browser must not be able to drive the launcher, so:
//! the `Host` must name the bound loopback address and port (DNS rebinding, 421;
//! see [`super::authority`] for duplicate `Host` and absolute-form targets);
//! a foreign `Origin` or a cross-site fetch is refused (403); every `/api/` call
//! needs the token as a bearer header, compared in constant time (401; no cookie
//! is set or accepted: browsers share cookies across ports); POST bodies must be
//! JSON (415). No CORS header is ever sent.
//!
//! With `--allow-host NAME` the page also answers to that one TLS name (the
//! user's `tailscale serve`, see [`crate::net::allowed_host`]): through it,
//! only HTTPS as the proxy says, never Tailscale Funnel, `Origin` only
//! `https://NAME`, and only a paired phone's token (`crate::phones`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::credentials::{Credentials, Principal};
use crate::error::LauncherError;
use crate::net::allowed_host::AllowedHost;
use crate::net::peers::Connection;
use crate::phones::Phones;

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
    /// Paired phones' tokens, each scoped to what a phone may do.
    pub phones: Arc<Phones>,
    /// `--allow-host`: the one TLS name the page answers to besides loopback.
    pub tailnet: Option<AllowedHost>,
}

impl Guard {
    pub fn new(
        port: u16,
        bound_ip: std::net::IpAddr,
        token: String,
        credentials: Arc<Credentials>,
        phones: Arc<Phones>,
        tailnet: Option<AllowedHost>,
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
            phones,
            tailnet,
        }
    }

    pub fn token_matches(&self, candidate: &str) -> bool {
        token_eq(candidate, &self.token)
    }

    /// Who a presented token belongs to: the developer, a session, a paired
    /// phone, or nobody.
    pub fn principal(&self, candidate: &str) -> Option<Principal> {
        if self.token_matches(candidate) {
            return Some(Principal::User);
        }
        if let Some(grant) = self.credentials.resolve(candidate) {
            return Some(Principal::Session(grant));
        }
        self.phones.resolve(candidate).map(Principal::Phone)
    }

    /// `host` (lower case) names this listener.
    fn host_ok(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h == host) || self.tailnet.as_ref().is_some_and(|t| t.names(host))
    }

    /// The `--allow-host` name when the request came through it.
    fn through_tailnet(&self, headers: &HeaderMap) -> Option<&AllowedHost> {
        let host = headers
            .get(header::HOST)?
            .to_str()
            .ok()?
            .to_ascii_lowercase();
        self.tailnet.as_ref().filter(|t| t.names(&host))
    }

    /// None when the request may come from this origin, else the reason.
    fn origin_problem(&self, headers: &HeaderMap, tailnet: Option<&AllowedHost>) -> Option<String> {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("").to_ascii_lowercase();
            let allowed = match tailnet {
                Some(t) => origin == t.origin(),
                None => self.origins.contains(&origin),
            };
            if !allowed {
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
    let path = request.uri().path();
    let tailnet = guard.through_tailnet(headers);
    match tailnet {
        Some(t) => tailnet_problem(t, headers, path)?,
        // A proxy (tailscale serve keeps the Host its client chose) never
        // makes a request a loopback one: only the signed webhook passes.
        None if proxied(headers) && path != "/forge/webhook" => {
            return Err(LauncherError::Forbidden(
                "a request forwarded by a proxy reaches this page only by the --allow-host name \
                 (tailscale serve), as a paired phone"
                    .into(),
            ))
        }
        None => {}
    }
    if let Some(reason) = guard.origin_problem(headers, tailnet) {
        return Err(LauncherError::Forbidden(reason));
    }
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
    if let (Some(t), false) = (tailnet, matches!(principal, Principal::Phone(_))) {
        return Err(LauncherError::Forbidden(format!(
            "through {} only a paired phone's token is accepted: pair the phone at the desk",
            t.origin()
        )));
    }
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

/// Whether a proxy forwarded the request (it says so in a header only a
/// proxy sets: tailscale serve always sets `X-Forwarded-Host`).
fn proxied(headers: &HeaderMap) -> bool {
    headers.keys().any(|name| {
        let name = name.as_str();
        matches!(
            name,
            "x-forwarded-for"
                | "x-forwarded-host"
                | "x-forwarded-proto"
                | "forwarded"
                | "x-real-ip"
        ) || name.starts_with("tailscale-")
    })
}

/// A request through the tailnet name came over TLS from the tailnet (the
/// proxy says HTTPS and did not bring it from the public internet) for the
/// page, its files or the API: nothing else (`/healthz`, the webhook) is
/// served to the tailnet.
fn tailnet_problem(t: &AllowedHost, headers: &HeaderMap, path: &str) -> Result<(), LauncherError> {
    if !(path == "/" || path.starts_with("/static/") || path.starts_with("/api/")) {
        return Err(LauncherError::Forbidden(format!(
            "{} serves the page and its API to paired phones only",
            t.origin()
        )));
    }
    if headers.contains_key("tailscale-funnel-request") {
        return Err(LauncherError::Forbidden(format!(
            "{} is not served to the public internet (this request came through Tailscale \
             Funnel): use tailscale serve, which keeps it on your tailnet",
            t.origin()
        )));
    }
    let mut protos = headers.get_all("x-forwarded-proto").iter();
    let https = protos
        .next()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    if !https || protos.next().is_some() {
        return Err(LauncherError::Forbidden(format!(
            "{} is served over HTTPS only, through tailscale serve",
            t.origin()
        )));
    }
    Ok(())
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

    fn guard(dir: &std::path::Path) -> Guard {
        Guard::new(
            6211,
            std::net::IpAddr::from([127, 0, 0, 1]),
            "u".repeat(64),
            Default::default(),
            Arc::new(Phones::load(dir)),
            Some(AllowedHost::parse("desk.tail1.ts.net").unwrap()),
        )
    }

    fn request(host: &str, headers: &[(&str, &str)], token: &str, path: &str) -> Request {
        let mut b = axum::http::Request::builder()
            .uri(path)
            .header("host", host)
            .header("authorization", format!("Bearer {token}"));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn through_the_tailnet_name_only_a_phone_over_tls_and_never_through_funnel() {
        let dir = tempfile::tempdir().unwrap();
        let g = guard(dir.path());
        let (_, phone) = g.phones.pair("pocket").unwrap();
        let user = g.token.clone();
        let tls = [("x-forwarded-proto", "https")];
        let name = "desk.tail1.ts.net";
        let status = "/api/status";
        let admitted = |r: Request| admit(&g, &r).map_err(|e| e.to_string());
        assert!(matches!(
            admitted(request(name, &tls, &phone, status)),
            Ok(Some(Principal::Phone(_)))
        ));
        let why = admitted(request(name, &tls, &user, status)).unwrap_err();
        assert!(why.contains("only a paired phone"), "{why}");
        let why = admitted(request(name, &[], &phone, status)).unwrap_err();
        assert!(why.contains("HTTPS only"), "{why}");
        let funnel = [
            ("x-forwarded-proto", "https"),
            ("tailscale-funnel-request", "?1"),
        ];
        let why = admitted(request(name, &funnel, &phone, status)).unwrap_err();
        assert!(why.contains("public internet"), "{why}");
        let foreign = [
            ("x-forwarded-proto", "https"),
            ("origin", "http://127.0.0.1:6211"),
        ];
        let why = admitted(request(name, &foreign, &phone, status)).unwrap_err();
        assert!(why.contains("cross-origin"), "{why}");
        let own = [
            ("x-forwarded-proto", "https"),
            ("origin", "https://desk.tail1.ts.net"),
        ];
        assert!(admitted(request(name, &own, &phone, status)).is_ok());
        let why = admitted(request(name, &tls, &phone, "/api/browser_terminals")).unwrap_err();
        assert!(why.contains("stay at the desk"), "{why}");
        // The page itself loads through the name, tokens aside.
        assert!(matches!(admitted(request(name, &tls, "", "/")), Ok(None)));
        // Another name is not this listener; loopback keeps the user's token.
        assert!(admitted(request("evil.tail1.ts.net", &tls, &phone, status)).is_err());
        assert!(matches!(
            admitted(request("127.0.0.1:6211", &[], &user, status)),
            Ok(Some(Principal::User))
        ));
    }

    #[test]
    fn a_proxied_request_naming_loopback_is_refused_whatever_its_token() {
        let dir = tempfile::tempdir().unwrap();
        let g = guard(dir.path());
        let user = g.token.clone();
        // tailscale serve passes the Host its client chose: naming loopback
        // must not make the desk's rules apply.
        for headers in [
            vec![
                ("x-forwarded-host", "127.0.0.1:6211"),
                ("x-forwarded-proto", "https"),
            ],
            vec![("x-forwarded-for", "100.64.0.2")],
            vec![("tailscale-funnel-request", "?1")],
            vec![("forwarded", "for=100.64.0.2;proto=https")],
        ] {
            let r = request("127.0.0.1:6211", &headers, &user, "/api/status");
            let why = admit(&g, &r).unwrap_err().to_string();
            assert!(why.contains("forwarded by a proxy"), "{headers:?}: {why}");
        }
        // The signed webhook may come through the user's own forwarder.
        let hook = request(
            "127.0.0.1:6211",
            &[("x-forwarded-for", "1.2.3.4")],
            "",
            "/forge/webhook",
        );
        assert!(admit(&g, &hook).is_ok());
        // Through the name, only the page, its files and the API.
        let tls = [("x-forwarded-proto", "https")];
        for path in ["/healthz", "/forge/webhook"] {
            let r = request("desk.tail1.ts.net", &tls, "", path);
            assert!(admit(&g, &r).is_err(), "{path}");
        }
        assert!(admit(
            &g,
            &request("desk.tail1.ts.net", &tls, "", "/static/dashboard.js")
        )
        .is_ok());
    }

    #[test]
    fn without_allow_host_the_tailnet_name_is_misdirected() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = guard(dir.path());
        g.tailnet = None;
        let r = request(
            "desk.tail1.ts.net",
            &[("x-forwarded-proto", "https")],
            "",
            "/",
        );
        assert!(matches!(admit(&g, &r), Err(LauncherError::Misdirected(_))));
    }

    #[test]
    fn constant_time_eq_semantics() {
        assert!(token_eq("abc", "abc"));
        assert!(!token_eq("abc", "abd"));
        assert!(!token_eq("abc", "abcd"));
    }
}
