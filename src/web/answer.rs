//! The one shape of every answer: `{"ok": true, ...}` around a typed view, or
//! `{"ok": false, "error": ...}` with a status. Domain errors become HTTP
//! statuses here and nowhere else.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::launcher::{LResult, LauncherError};

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

pub use crate::net::failure;

impl IntoResponse for LauncherError {
    fn into_response(self) -> Response {
        let status = match &self {
            LauncherError::BadRequest(_) => StatusCode::BAD_REQUEST,
            LauncherError::NotFound(_) => StatusCode::NOT_FOUND,
            LauncherError::Forbidden(_) => StatusCode::FORBIDDEN,
            LauncherError::Conflict(_) => StatusCode::CONFLICT,
            LauncherError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            LauncherError::Upstream(_) => StatusCode::BAD_GATEWAY,
            LauncherError::Store(crate::store::StoreError::Fenced(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            LauncherError::Store(_) | LauncherError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        failure(status, &self.to_string())
    }
}
