//! Noticing a stuck mailbox ingestion.
//!
//! One thread ingests every Zhongshu's mailbox. If a scan ever hangs (a file
//! that blocks, a disk that stops answering), no report registers anywhere, and
//! without this the launcher would still call itself healthy. The thread marks
//! each scan as busy; `/healthz` asks whether a scan has run longer than
//! `mailbox_stuck_seconds` (30 s unless `CODEX_GOVERNANCE_MAILBOX_STUCK_SECONDS`
//! says otherwise).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::IngestionHealth;

/// The scan in progress, if any.
#[derive(Default)]
pub struct Watchdog {
    busy: Mutex<Option<Busy>>,
}

struct Busy {
    folder: String,
    since: Instant,
    /// Wall-clock start, for people reading `/healthz`.
    at: String,
}

/// Marks a scan busy until dropped.
pub struct BusyGuard<'a>(&'a Watchdog);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap() = None;
    }
}

impl Watchdog {
    /// Marks the scan of `folder` as started; it ends when the guard is dropped.
    pub fn busy(&self, folder: &str) -> BusyGuard<'_> {
        *self.busy.lock().unwrap() = Some(Busy {
            folder: folder.to_string(),
            since: Instant::now(),
            at: crate::clock::now_rfc3339(),
        });
        BusyGuard(self)
    }

    /// The state, a scan older than `limit` counting as stuck.
    pub fn health(&self, limit: Duration) -> IngestionHealth {
        match self.busy.lock().unwrap().as_ref() {
            None => IngestionHealth::Idle,
            Some(b) => {
                let seconds = b.since.elapsed().as_secs();
                if b.since.elapsed() >= limit {
                    IngestionHealth::Stuck {
                        folder: b.folder.clone(),
                        seconds,
                        since: b.at.clone(),
                    }
                } else {
                    IngestionHealth::Busy {
                        folder: b.folder.clone(),
                        seconds,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_is_busy_while_the_guard_lives_and_idle_after() {
        let w = Watchdog::default();
        assert_eq!(w.health(Duration::from_secs(30)), IngestionHealth::Idle);
        {
            let _busy = w.busy("zhongshu-1");
            let h = w.health(Duration::from_secs(3600));
            assert!(
                matches!(&h, IngestionHealth::Busy { folder, .. } if folder == "zhongshu-1"),
                "{h:?}"
            );
        }
        assert_eq!(w.health(Duration::ZERO), IngestionHealth::Idle);
    }

    #[test]
    fn a_scan_past_the_limit_is_stuck() {
        let w = Watchdog::default();
        let _busy = w.busy("zhongshu-2");
        let h = w.health(Duration::ZERO);
        assert!(h.is_stuck(), "{h:?}");
        assert!(
            matches!(&h, IngestionHealth::Stuck { folder, .. } if folder == "zhongshu-2"),
            "{h:?}"
        );
    }
}
