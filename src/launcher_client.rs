//! The command line asking the launcher that runs on a state folder: the
//! address and the developer's token come from its owner-only launcher file,
//! and only a loopback address is called. For commands that must not work
//! beside the launcher but through it (`worktrees --prune`).

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;

use crate::instance::LauncherFile;
use crate::mailbox::client::submit::loopback_authority;

/// `POST path` with `body` as the developer; the launcher's JSON answer, or
/// its refusal as the error.
pub fn post(launcher: &LauncherFile, path: &str, body: &Value) -> anyhow::Result<Value> {
    let authority = loopback_authority(&launcher.url)?;
    let body = serde_json::to_vec(body)?;
    let token = launcher.token.clone();
    let path = path.to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let stream = tokio::net::TcpStream::connect(authority.as_str())
            .await
            .with_context(|| format!("the launcher at {authority} does not answer"))?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        let request = hyper::Request::post(path.as_str())
            .header(hyper::header::HOST, authority.as_str())
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let answer: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("the launcher answered {status} with no JSON"))?;
        if !status.is_success() {
            bail!(
                "the launcher refused ({status}): {}",
                answer["error"].as_str().unwrap_or("no reason given")
            );
        }
        Ok(answer)
    })
}
