//! The last `/api/status` body, so that many dashboards polling at once cost one
//! build. It is rebuilt when the state, the audit log or the clock's second
//! changed, or when agent output changed and the body is older than
//! `OUTPUT_STALENESS`; one request rebuilds, the others wait.

use std::time::Duration;

/// How stale the status may be when only agent output changed (previews, idle times).
pub(super) const OUTPUT_STALENESS: Duration = Duration::from_millis(250);

/// The last `/api/status` body and what it was built from. It is rebuilt when the
/// state, the audit log or the clock's second changed, or when agent output changed
/// and the body is older than `OUTPUT_STALENESS`; one request rebuilds, the others wait.
#[derive(Default)]
pub struct StatusCache {
    pub(super) entry: std::sync::Mutex<Option<CachedStatus>>,
}

pub(super) struct CachedStatus {
    pub key: [u64; 3],
    pub output: u64,
    pub built: std::time::Instant,
    pub body: bytes::Bytes,
}
