//! How the launcher's background work is doing, as facts the views and
//! `/healthz` read.

/// What the mailbox ingestion thread is doing, as seen from outside.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestionHealth {
    Idle,
    Busy {
        folder: String,
        seconds: u64,
    },
    Stuck {
        folder: String,
        seconds: u64,
        since: String,
    },
}

impl IngestionHealth {
    pub fn is_stuck(&self) -> bool {
        matches!(self, IngestionHealth::Stuck { .. })
    }
}
