//! The error of a launcher operation. Each variant says what kind of failure it
//! is; the web layer alone maps kinds to HTTP statuses.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LauncherError {
    /// The request is wrong (400).
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// The request does not fit the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do it (403).
    #[error("{0}")]
    Forbidden(String),
    /// A limit is reached (429).
    #[error("{0}")]
    TooMany(String),
    /// A server the launcher depends on (the forge, a Git remote) failed or
    /// could not be reached (502); nothing was changed.
    #[error("{0}")]
    Upstream(String),
    /// A change could not be committed.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
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

impl From<crate::ids::BadId> for LauncherError {
    fn from(e: crate::ids::BadId) -> Self {
        LauncherError::BadRequest(e.to_string())
    }
}

pub type LResult<T> = Result<T, LauncherError>;
