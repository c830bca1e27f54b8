//! The error of a launcher operation, as data: each variant is one kind of
//! failure with its words; [`ErrorCode`] names the kind and gives it its one
//! HTTP status (`net` shapes the body, so every listener answers alike).

use axum::http::StatusCode;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LauncherError {
    /// The request is wrong (400).
    #[error("{0}")]
    BadRequest(String),
    /// No token, or a wrong one (401).
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    /// The route does not take this method (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request does not fit the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do it (403).
    #[error("{0}")]
    Forbidden(String),
    /// The body is larger than the launcher reads (413).
    #[error("{0}")]
    TooLarge(String),
    /// The body is not JSON (415).
    #[error("{0}")]
    UnsupportedMedia(String),
    /// The request is addressed to another server (421: DNS rebinding).
    #[error("{0}")]
    Misdirected(String),
    /// A limit is reached (429).
    #[error("{0}")]
    TooMany(String),
    /// A server the launcher depends on (the forge, a Git remote) failed or
    /// could not be reached (502); nothing was changed.
    #[error("{0}")]
    Upstream(String),
    /// The launcher cannot serve this now (503).
    #[error("{0}")]
    Unavailable(String),
    /// A change could not be committed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Work handed to another task panicked or was cancelled.
    #[error("a background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// Reading or writing a file failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The repository could not be read or written through libgit2.
    #[error(transparent)]
    Git(#[from] git2::Error),
    /// A page's template could not be rendered.
    #[error("the page: {0}")]
    Render(#[from] askama::Error),
    /// JSON the launcher writes could not be made.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Internal(String),
}

/// The kind of a failure, and its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    TooLarge,
    UnsupportedMedia,
    Misdirected,
    TooMany,
    Internal,
    Upstream,
    Unavailable,
}

impl ErrorCode {
    /// The HTTP status of this kind: the one place statuses are set.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMedia => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::Misdirected => StatusCode::MISDIRECTED_REQUEST,
            ErrorCode::TooMany => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Upstream => StatusCode::BAD_GATEWAY,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl LauncherError {
    pub fn code(&self) -> ErrorCode {
        match self {
            LauncherError::BadRequest(_) => ErrorCode::BadRequest,
            LauncherError::Unauthorized(_) => ErrorCode::Unauthorized,
            LauncherError::NotFound(_) => ErrorCode::NotFound,
            LauncherError::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            LauncherError::Conflict(_) => ErrorCode::Conflict,
            LauncherError::Forbidden(_) => ErrorCode::Forbidden,
            LauncherError::TooLarge(_) => ErrorCode::TooLarge,
            LauncherError::UnsupportedMedia(_) => ErrorCode::UnsupportedMedia,
            LauncherError::Misdirected(_) => ErrorCode::Misdirected,
            LauncherError::TooMany(_) => ErrorCode::TooMany,
            LauncherError::Upstream(_) => ErrorCode::Upstream,
            LauncherError::Unavailable(_) | LauncherError::Store(StoreError::Fenced(_)) => {
                ErrorCode::Unavailable
            }
            LauncherError::Store(_)
            | LauncherError::Task(_)
            | LauncherError::Io { .. }
            | LauncherError::Git(_)
            | LauncherError::Render(_)
            | LauncherError::Json(_)
            | LauncherError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl crate::policy::Refusal {
    pub fn code(&self) -> ErrorCode {
        use crate::policy::Refusal;
        match self {
            Refusal::Invalid(_) => ErrorCode::BadRequest,
            Refusal::Unknown(_) => ErrorCode::NotFound,
            Refusal::Conflict(_) => ErrorCode::Conflict,
            Refusal::Forbidden(_) => ErrorCode::Forbidden,
            Refusal::TooMany(_) => ErrorCode::TooMany,
        }
    }
}

impl From<crate::policy::Refusal> for LauncherError {
    fn from(r: crate::policy::Refusal) -> Self {
        use crate::policy::Refusal;
        match r {
            Refusal::Invalid(m) => LauncherError::BadRequest(m),
            Refusal::Unknown(m) => LauncherError::NotFound(m),
            Refusal::Conflict(m) => LauncherError::Conflict(m),
            Refusal::Forbidden(m) => LauncherError::Forbidden(m),
            Refusal::TooMany(m) => LauncherError::TooMany(m),
        }
    }
}

impl From<anyhow::Error> for LauncherError {
    fn from(e: anyhow::Error) -> Self {
        LauncherError::Internal(format!("{e:#}"))
    }
}

impl From<crate::config_trust::TrustError> for LauncherError {
    fn from(e: crate::config_trust::TrustError) -> Self {
        use crate::config_trust::TrustError;
        match e {
            TrustError::Io { .. } => LauncherError::Internal(e.to_string()),
            other => LauncherError::Conflict(other.to_string()),
        }
    }
}

impl From<crate::phones::PairingError> for LauncherError {
    fn from(e: crate::phones::PairingError) -> Self {
        use crate::phones::PairingError;
        match e {
            PairingError::Full => LauncherError::Conflict(e.to_string()),
            PairingError::Unknown(_) => LauncherError::NotFound(e.to_string()),
            PairingError::Write { .. } => LauncherError::Internal(e.to_string()),
        }
    }
}

impl From<crate::ids::BadId> for LauncherError {
    fn from(e: crate::ids::BadId) -> Self {
        LauncherError::BadRequest(e.to_string())
    }
}

pub type LResult<T> = Result<T, LauncherError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_status_and_a_forbidden_is_403() {
        let table = [
            (ErrorCode::BadRequest, 400),
            (ErrorCode::Unauthorized, 401),
            (ErrorCode::Forbidden, 403),
            (ErrorCode::NotFound, 404),
            (ErrorCode::MethodNotAllowed, 405),
            (ErrorCode::Conflict, 409),
            (ErrorCode::TooLarge, 413),
            (ErrorCode::UnsupportedMedia, 415),
            (ErrorCode::Misdirected, 421),
            (ErrorCode::TooMany, 429),
            (ErrorCode::Internal, 500),
            (ErrorCode::Upstream, 502),
            (ErrorCode::Unavailable, 503),
        ];
        for (code, status) in table {
            assert_eq!(code.status().as_u16(), status, "{code:?}");
        }
        let refused = crate::policy::Refusal::Forbidden("no".into());
        assert_eq!(refused.code(), ErrorCode::Forbidden);
        assert_eq!(LauncherError::from(refused).code(), ErrorCode::Forbidden);
        let fenced = LauncherError::Store(StoreError::Fenced("x".into()));
        assert_eq!(fenced.code().status().as_u16(), 503);
    }
}
