//! Network plumbing shared by the API server and the terminal listeners.

pub mod allowed_host;
pub mod authority;
pub mod listener;
pub mod peers;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::LauncherError;

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

/// Every error is answered the same way on every listener: its kind's status
/// ([`crate::error::ErrorCode::status`]) and its words.
impl IntoResponse for LauncherError {
    fn into_response(self) -> Response {
        failure(self.code().status(), &self.to_string())
    }
}
