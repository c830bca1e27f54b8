//! Network plumbing shared by the API server and the terminal listeners.

pub mod authority;
pub mod listener;
pub mod peers;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Serialize)]
struct Failure<'a> {
    ok: bool,
    error: &'a str,
}

/// `{"ok": false, "error": ...}` with a status: the one failure body of every
/// listener.
pub fn failure(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(Failure { ok: false, error })).into_response()
}
