//! The one shape of every answer: `{"ok": true, ...}` around a typed view, or
//! `{"ok": false, "error": ...}` with the error's status. A `LauncherError` is
//! a response (`net`); its kind gives the status (`ErrorCode::status`), so no
//! handler names one.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::error::ErrorCode;
use crate::launcher::LResult;

/// A successful answer: `ok` beside the view's own fields.
#[derive(Serialize)]
struct Answer<T> {
    ok: bool,
    #[serde(flatten)]
    body: T,
}

/// `{"ok": true, ...body}`.
pub fn ok<T: Serialize>(body: T) -> Response {
    Json(Answer { ok: true, body }).into_response()
}

/// `ok` for a success, the error's status and message otherwise.
pub fn reply<T: Serialize>(result: LResult<T>) -> Response {
    match result {
        Ok(v) => ok(v),
        Err(e) => e.into_response(),
    }
}

/// A body that is not a failure, answered with the status of `code` (the
/// health check's 503 while it reports what is stuck).
pub fn with_status<T: Serialize>(code: ErrorCode, body: T) -> Response {
    (code.status(), Json(body)).into_response()
}

pub use crate::net::failure;
