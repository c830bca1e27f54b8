//! The client side of `POST /api/submit_result`, for `mailbox send` inside a
//! department session: the launcher gave the process its URL and its own
//! session token, so the report is submitted bound to that session (verified).

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{Map, Value};

/// What became of the attempt.
pub enum Submitted {
    /// The launcher registered it; its answer.
    Registered(Value),
    /// No launcher answers at that address: the caller writes a file instead.
    Unreachable,
}

/// `http://127.0.0.1:PORT` (or localhost / [::1]) from the agent's URL; nothing else.
pub(crate) fn loopback_authority(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("CODEX_GOVERNANCE_URL {url:?} is not an http:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(authority);
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        bail!("CODEX_GOVERNANCE_URL {url:?} is not a loopback address");
    }
    Ok(authority.to_string())
}

pub fn submit(url: &str, token: &str, report: &Map<String, Value>) -> anyhow::Result<Submitted> {
    let authority = loopback_authority(url)?;
    let body = serde_json::to_vec(report)?;
    match post_json(&authority, token, "/api/submit_result", body)? {
        None => Ok(Submitted::Unreachable),
        Some(answer) => answer.accepted("the report").map(Submitted::Registered),
    }
}

/// A launcher's JSON answer and its status.
pub(crate) struct Answer {
    status: hyper::StatusCode,
    body: Value,
}

impl Answer {
    /// The body of a success; a refusal of `what` with the launcher's reason.
    pub(crate) fn accepted(self, what: &str) -> anyhow::Result<Value> {
        if !self.status.is_success() {
            bail!(
                "the launcher refused {what} ({}): {}",
                self.status,
                self.body["error"].as_str().unwrap_or("no reason given")
            );
        }
        Ok(self.body)
    }
}

/// `POST path` with a JSON `body` and the bearer `token` to the launcher at
/// the loopback `authority`, on a runtime of its own; None when nothing
/// answers there.
pub(crate) fn post_json(
    authority: &str,
    token: &str,
    path: &str,
    body: Vec<u8>,
) -> anyhow::Result<Option<Answer>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let Ok(stream) = tokio::net::TcpStream::connect(authority).await else {
            return Ok(None);
        };
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        let request = hyper::Request::post(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let body: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("the launcher answered {status} with no JSON"))?;
        Ok(Some(Answer { status, body }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls() {
        assert_eq!(
            loopback_authority("http://127.0.0.1:6211/").unwrap(),
            "127.0.0.1:6211"
        );
        assert_eq!(loopback_authority("http://[::1]:9").unwrap(), "[::1]:9");
        assert!(loopback_authority("http://example.com:80/").is_err());
        assert!(loopback_authority("https://127.0.0.1:1/").is_err());
        assert!(loopback_authority("http://127.0.0.1.evil:1/").is_err());
    }
}
