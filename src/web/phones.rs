//! Pairing phones for the page through the tailnet (issue 54, tier 2): the
//! pairings (`GET /api/phones`), a new one (`POST /api/phones/pair`, its
//! token shown once) and its end (`POST /api/phones/unpair`). The
//! developer's token only, at the desk: a phone pairs no phone.

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
        .get("/api/phones", list)
        .post("/api/phones/pair", pair)
        .post("/api/phones/unpair", unpair)
}

async fn list(State(l): State<Arc<Launcher>>) -> Response {
    Json(serde_json::json!({ "ok": true, "phones": l.phone_desk().view() })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pair {
    #[serde(default)]
    label: String,
}

async fn pair(State(l): State<Arc<Launcher>>, JsonBody(b): JsonBody<Pair>) -> Response {
    match l.phone_desk().pair(&b.label) {
        Ok(paired) => Json(serde_json::json!({ "ok": true, "paired": paired })).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Unpair {
    phone_id: String,
}

async fn unpair(State(l): State<Arc<Launcher>>, JsonBody(b): JsonBody<Unpair>) -> Response {
    match l.phone_desk().unpair(&b.phone_id) {
        Ok(gone) => Json(serde_json::json!({ "ok": true, "unpaired": gone })).into_response(),
        Err(e) => e.into_response(),
    }
}
