//! The Notifications panel's routes (issue 54): what the notifier is set to
//! and its last deliveries (`GET /api/notify`), *Send a test notice*
//! (`POST /api/notify/test`) and a tab's word that it is in use
//! (`POST /api/notify/presence`: no notice goes out while the user is at
//! the page). The developer's token only (the default scope).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::routes::Routes;
use super::JsonBody;
use crate::launcher::Launcher;

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/notify", view)
        .post("/api/notify/test", test)
        .post("/api/notify/presence", presence)
}

async fn view(State(l): State<Arc<Launcher>>) -> Response {
    Json(serde_json::json!({ "ok": true, "notify": l.notifier.view() })).into_response()
}

/// `POST /api/notify/test` takes `{}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

async fn test(State(l): State<Arc<Launcher>>, JsonBody(_): JsonBody<NoFields>) -> Response {
    // The channels are the file's: a program it names, servers that would get
    // the user's tokens. Nothing of them runs before the file is trusted.
    if let Some(why) = l.sessions.trust.refusal() {
        return crate::error::LauncherError::Conflict(why).into_response();
    }
    let started = l.notifier.send_test(l.stopping_signal());
    Json(serde_json::json!({ "ok": true, "deliveries": started })).into_response()
}

#[derive(Deserialize)]
struct Presence {
    visible: bool,
    /// The tab's own id (a page of an older launcher sends none).
    #[serde(default)]
    tab: Option<String>,
}

async fn presence(State(l): State<Arc<Launcher>>, JsonBody(b): JsonBody<Presence>) -> Response {
    l.notifier.page_seen(b.tab.as_deref(), b.visible);
    Json(serde_json::json!({ "ok": true })).into_response()
}
