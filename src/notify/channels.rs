//! Two of the ways a notice leaves the launcher (Telegram is `telegram.rs`): one publish to an ntfy topic
//! (an HTTP POST, the notice's words in ntfy's headers, the body in the
//! request's body) and a program of the user's given the notice as JSON on
//! its standard input (run directly, never through a shell). A failure is a
//! value with plain words that never carry the token or the topic's address.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::AsyncWriteExt;

use crate::config::notify::Ntfy;
use crate::policy::notice::{Notice, PhoneDecision};

/// How long one delivery may take.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("the ntfy server answered {0}")]
    Status(u16),
    #[error("the ntfy server answered 429 (too many notices): waiting before the next try")]
    RateLimited,
    #[error("cannot reach the ntfy server: {0}")]
    Unreachable(String),
    #[error("the notice program could not start: {0}")]
    CommandStart(String),
    #[error("the notice program exited with {0}")]
    CommandFailed(String),
    #[error("the delivery took longer than {}s", DELIVERY_TIMEOUT.as_secs())]
    TimedOut,
    #[error("Telegram answered {0}")]
    Telegram(u16),
    #[error("cannot reach Telegram: {0}")]
    TelegramUnreachable(String),
    #[error(
        "no Telegram bot token: set {}",
        crate::config::notify::TELEGRAM_TOKEN_VAR
    )]
    NoTelegramToken,
}

impl DeliveryError {
    /// A later try may succeed (a program that said no will say it again).
    pub fn retryable(&self) -> bool {
        !matches!(
            self,
            DeliveryError::CommandStart(_) | DeliveryError::NoTelegramToken
        )
    }
}

/// One button of an ntfy notice: an HTTP action publishing `body` to the
/// reply topic (issue 54 tier 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub decision: PhoneDecision,
    pub label: String,
    /// The full URL of the reply topic.
    pub url: String,
    pub body: String,
}

/// An HTTP(S) client that trusts the system's roots.
pub type Http = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The client notices go out on (None when the system's roots cannot be read:
/// then only plain-http servers, such as a loopback ntfy, are reachable).
pub fn http() -> Http {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let tls = match builder.with_provider_and_native_roots(Arc::clone(&provider)) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("no system certificates for notices over https: {e}");
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| {
                    b.with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                });
            match config {
                Ok(c) => hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(c),
                Err(e) => unreachable!("ring supports the default TLS versions: {e}"),
            }
        }
    };
    let connector = tls.https_or_http().enable_http1().build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Header values carry no line breaks and only what HTTP allows (ntfy reads
/// UTF-8 titles from RFC 2047 words; plain ASCII is enough here).
fn header_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                ' '
            }
        })
        .collect()
}

/// ntfy's `Actions` header: `http, LABEL, URL, method=POST, body=…, clear=true`
/// per button, `;` between them.
fn actions_header(buttons: &[Button]) -> String {
    buttons
        .iter()
        .map(|b| {
            format!(
                "http, {}, {}, method=POST, body={}, clear=true",
                header_text(&b.label),
                b.url,
                b.body
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Publishes `notice` to the topic (with its buttons, if any).
pub async fn publish_ntfy(
    client: &Http,
    ntfy: &Ntfy,
    token: Option<&str>,
    notice: &Notice,
    buttons: &[Button],
) -> Result<(), DeliveryError> {
    let url = format!("{}/{}", ntfy.server, ntfy.topic);
    let mut req = http::Request::post(&url)
        .header("Title", header_text(&notice.title))
        .header("Priority", notice.priority.to_string())
        .header("Tags", notice.tags.join(","))
        .header("Click", header_text(&notice.link))
        .header("Content-Type", "text/plain; charset=utf-8");
    if !buttons.is_empty() {
        req = req.header("Actions", actions_header(buttons));
    }
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let req = req
        .body(Full::new(Bytes::from(notice.body.clone())))
        .map_err(|e| DeliveryError::Unreachable(format!("the request: {e}")))?;
    let send = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| DeliveryError::Unreachable(plain_connect_error(&e)))?;
        let status = resp.status().as_u16();
        // Read the answer whole, so the connection may be used again.
        let _ = resp.into_body().collect().await;
        match status {
            200..=299 => Ok(()),
            429 => Err(DeliveryError::RateLimited),
            s => Err(DeliveryError::Status(s)),
        }
    };
    tokio::time::timeout(DELIVERY_TIMEOUT, send)
        .await
        .map_err(|_| DeliveryError::TimedOut)?
}

/// A client error in words that name neither the URL nor the token.
fn plain_connect_error(e: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error;
    let mut cause: Option<&dyn Error> = e.source();
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return io.kind().to_string();
        }
        cause = c.source();
    }
    if e.is_connect() {
        "the connection failed".into()
    } else {
        "the request failed".into()
    }
}

/// Runs the user's notice program with the notice as JSON on its standard
/// input; its output is not kept (it may be chatty), its exit status is.
pub async fn run_command(argv: &[String], notice: &Notice) -> Result<(), DeliveryError> {
    let json = serde_json::to_vec(notice).unwrap_or_default();
    let mut child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| DeliveryError::CommandStart(format!("{}: {e}", argv[0])))?;
    let run = async {
        if let Some(mut stdin) = child.stdin.take() {
            // A program that does not read its input still gets to run.
            let _ = stdin.write_all(&json).await;
        }
        child.wait().await
    };
    match tokio::time::timeout(DELIVERY_TIMEOUT, run).await {
        Err(_) => Err(DeliveryError::TimedOut),
        Ok(Err(e)) => Err(DeliveryError::CommandFailed(e.to_string())),
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(DeliveryError::CommandFailed(status.to_string())),
    }
}
