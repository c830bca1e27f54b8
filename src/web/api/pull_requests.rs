//! Pull requests (issue 38), the developer's only: whether they are on and
//! where they go (`GET /api/pull_requests`), one pull request for a plan's
//! waiting work (`POST /api/integrate_plan {parent_session_id, mode:
//! "pull_request"}`) and a failing check sent back to its department
//! (`POST /api/send_back_failure {session_id}`), and the forge's review
//! waiting on it (`POST /api/send_back_review {session_id}`). A department's own pull
//! request is `POST /api/integrate {mode: "pull_request"}`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::L;
use crate::error::LauncherError;
use crate::forge::webhook::{self, WebhookRefusal};
use crate::model::IntegrationMode;
use crate::web::answer::reply;
use crate::web::JsonBody;

#[derive(Serialize)]
struct Settings {
    /// Pull requests can be opened (the remote resolves).
    on: bool,
    /// Why not, with the fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    off: Option<String>,
    remote: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repo: Option<String>,
    api_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    base: Option<String>,
    auto_send_back: bool,
    max_send_backs: u32,
}

pub(super) async fn settings(State(l): L) -> Response {
    let c = l.ctx.config.launcher.pull_requests.clone();
    let integrations = std::sync::Arc::clone(&l.integrations);
    let setup = tokio::task::spawn_blocking(move || integrations.pull_requests.setup())
        .await
        .unwrap_or_else(|e| Err(e.into()));
    let (on, off, remote_url, repo) = match setup {
        Ok(s) => (true, None, Some(s.remote_url), Some(s.repo)),
        Err(e) => (false, Some(e.to_string()), None, c.repo.clone()),
    };
    reply(Ok(Settings {
        on,
        off,
        remote: c.remote,
        remote_url,
        repo,
        api_url: c.api_url,
        base: c.base,
        auto_send_back: c.auto_send_back,
        max_send_backs: c.max_send_backs,
    }))
}

#[derive(Deserialize)]
pub(super) struct PlanBody {
    parent_session_id: String,
    mode: IntegrationMode,
    #[serde(default)]
    override_scope: bool,
}

#[derive(Serialize)]
struct PlanAnswer {
    parent_session_id: String,
    workspaces: Vec<crate::model::Workspace>,
}

pub(super) async fn integrate_plan(State(l): L, JsonBody(b): JsonBody<PlanBody>) -> Response {
    if let Err(e) = crate::ids::check_id("parent_session_id", &b.parent_session_id) {
        return LauncherError::from(e).into_response();
    }
    if b.mode != IntegrationMode::PullRequest {
        return LauncherError::BadRequest(
            "a plan is integrated as one pull request: mode must be \"pull_request\" \
             (apply and merge go department by department)"
                .into(),
        )
        .into_response();
    }
    let answer = l
        .integrations
        .pull_requests
        .open_plan(&b.parent_session_id, b.override_scope)
        .await;
    reply(answer.map(|workspaces| PlanAnswer {
        parent_session_id: b.parent_session_id,
        workspaces,
    }))
}

#[derive(Deserialize)]
pub(super) struct FailureBody {
    session_id: String,
}

pub(super) async fn send_back_failure(State(l): L, JsonBody(b): JsonBody<FailureBody>) -> Response {
    if let Err(e) = crate::ids::check_id("session_id", &b.session_id) {
        return LauncherError::from(e).into_response();
    }
    reply(l.integrations.send_back_failure(&b.session_id, false).await)
}

pub(super) async fn send_back_review(State(l): L, JsonBody(b): JsonBody<FailureBody>) -> Response {
    if let Err(e) = crate::ids::check_id("session_id", &b.session_id) {
        return LauncherError::from(e).into_response();
    }
    reply(l.integrations.send_back_review(&b.session_id, false).await)
}

#[derive(Serialize)]
struct Nudged {
    ok: bool,
}

/// A forge's webhook delivery (`POST /forge/webhook`, signed, no token: the
/// forge has none of ours): the open pull requests (their checks, reviews
/// and line comments: `check_run`, `pull_request_review`,
/// `pull_request_review_comment` deliveries alike) are read back from the
/// forge at once. Nothing in the body is trusted or read.
pub(super) async fn forge_webhook(
    State(l): L,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let signature = headers
        .get(webhook::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let answer = match webhook::verify(webhook::secret(), &body, signature) {
        Ok(()) => {
            l.integrations.pull_requests.changed.notify_one();
            Ok(Nudged { ok: true })
        }
        Err(off @ WebhookRefusal::Off) => Err(LauncherError::NotFound(off.to_string())),
        Err(refused) => Err(LauncherError::Forbidden(refused.to_string())),
    };
    reply(answer)
}
