//! Which server a request is addressed to, read strictly (RFC 9112 §3.2).
//!
//! The DNS-rebinding defence rests on the `Host` header naming this listener.
//! Two `Host` headers are ambiguous (one check may read the first, a proxy or a
//! later layer the other), so they are refused with 400 as the RFC requires. A
//! request target in absolute form (`GET http://host:port/path`) names the
//! authority itself and takes precedence over `Host`, so it must name this
//! listener too (else 421). Both the API listener and every terminal listener
//! use this check.

use axum::http::{header, HeaderMap, Uri};

use crate::error::LauncherError;

/// Why a request is not for this listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorityProblem {
    /// More than one `Host` header.
    DuplicateHost,
    /// No `Host`, or one naming another server.
    WrongHost,
    /// An absolute-form target naming another server or scheme.
    WrongTarget,
}

impl AuthorityProblem {
    pub fn message(self) -> &'static str {
        match self {
            AuthorityProblem::DuplicateHost => "a request must carry exactly one Host header",
            AuthorityProblem::WrongHost => {
                "the Host header must name this listener's loopback address and port"
            }
            AuthorityProblem::WrongTarget => {
                "an absolute request target must name this listener (http://, its address and port)"
            }
        }
    }
}

impl From<AuthorityProblem> for LauncherError {
    fn from(p: AuthorityProblem) -> Self {
        let words = p.message().to_string();
        match p {
            AuthorityProblem::DuplicateHost => LauncherError::BadRequest(words),
            AuthorityProblem::WrongHost | AuthorityProblem::WrongTarget => {
                LauncherError::Misdirected(words)
            }
        }
    }
}

/// Checks that the request is addressed to this listener. `accepts` gets a
/// lower-cased `host:port` and says whether it names this listener.
pub fn check(
    uri: &Uri,
    headers: &HeaderMap,
    accepts: impl Fn(&str) -> bool,
) -> Result<(), AuthorityProblem> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(AuthorityProblem::DuplicateHost);
    }
    if let Some(authority) = uri.authority() {
        let scheme_ok = uri
            .scheme_str()
            .is_none_or(|s| s.eq_ignore_ascii_case("http"));
        if !scheme_ok || !accepts(&authority.as_str().to_ascii_lowercase()) {
            return Err(AuthorityProblem::WrongTarget);
        }
    }
    let host = host
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    match host {
        Some(h) if accepts(&h) => Ok(()),
        _ => Err(AuthorityProblem::WrongHost),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn ours(h: &str) -> bool {
        h == "127.0.0.1:6211" || h == "localhost:6211"
    }

    fn run(target: &str, hosts: &[&str]) -> Result<(), AuthorityProblem> {
        let mut headers = HeaderMap::new();
        for h in hosts {
            headers.append(header::HOST, h.parse().unwrap());
        }
        check(&target.parse().unwrap(), &headers, ours)
    }

    fn code(p: AuthorityProblem) -> ErrorCode {
        LauncherError::from(p).code()
    }

    #[test]
    fn one_good_host_and_an_origin_form_target_pass() {
        assert_eq!(run("/api/status", &["127.0.0.1:6211"]), Ok(()));
        assert_eq!(run("/", &["LOCALHOST:6211"]), Ok(()));
    }

    #[test]
    fn two_hosts_are_400_whatever_their_order() {
        for hosts in [
            ["127.0.0.1:6211", "evil.example"],
            ["evil.example", "127.0.0.1:6211"],
            ["127.0.0.1:6211", "127.0.0.1:6211"],
        ] {
            let got = run("/", &hosts);
            assert_eq!(got, Err(AuthorityProblem::DuplicateHost), "{hosts:?}");
            assert_eq!(code(got.unwrap_err()), ErrorCode::BadRequest);
        }
    }

    #[test]
    fn a_missing_or_foreign_host_is_421() {
        assert_eq!(run("/", &[]), Err(AuthorityProblem::WrongHost));
        assert_eq!(
            run("/", &["evil.example"]),
            Err(AuthorityProblem::WrongHost)
        );
        assert_eq!(code(AuthorityProblem::WrongHost), ErrorCode::Misdirected);
    }

    #[test]
    fn an_absolute_target_must_name_this_listener() {
        let good = ["127.0.0.1:6211"];
        assert_eq!(run("http://127.0.0.1:6211/api/status", &good), Ok(()));
        for target in [
            "http://evil.example/api/status",
            "http://127.0.0.1:7000/api/status",
            "https://127.0.0.1:6211/api/status",
            "http://user@127.0.0.1:6211/api/status",
        ] {
            assert_eq!(
                run(target, &good),
                Err(AuthorityProblem::WrongTarget),
                "{target}"
            );
        }
        // A good target does not excuse a foreign Host.
        assert_eq!(
            run("http://127.0.0.1:6211/", &["evil.example"]),
            Err(AuthorityProblem::WrongHost)
        );
    }
}
