//! A session's liveness from its agent's activity, judged at the snapshot's
//! moment: nothing polls and nothing is written per output chunk.

use std::time::{Duration, Instant};

use serde::Serialize;

/// A session's liveness from its agent's activity: `active` while it did
/// something within `department_stale_seconds`, `stalled` after, `waiting`
/// once its agent said its turn ended (quiet is expected then: the page says
/// since when, not "idle" beside an "idle" state), `exited` once it ended,
/// `unknown` before any activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeartbeatStatus {
    Unknown,
    Active,
    Stalled,
    Waiting,
    Exited,
}

/// A heartbeat and the idle time it was judged from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub status: HeartbeatStatus,
    pub idle_seconds: Option<u64>,
}

/// Whether a session runs, and whether its agent said its turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Running {
    No,
    Working,
    TurnEnded,
}

/// The heartbeat at `now` of a session last active at `last`.
pub fn heartbeat(
    running: Running,
    last: Option<Instant>,
    now: Instant,
    stale: Duration,
) -> Heartbeat {
    let idle = last.map(|t| now.saturating_duration_since(t));
    let status = match (running, idle) {
        (Running::No, _) => HeartbeatStatus::Exited,
        (Running::TurnEnded, _) => HeartbeatStatus::Waiting,
        (Running::Working, None) => HeartbeatStatus::Unknown,
        (Running::Working, Some(idle)) if idle <= stale => HeartbeatStatus::Active,
        (Running::Working, Some(_)) => HeartbeatStatus::Stalled,
    };
    Heartbeat {
        status,
        idle_seconds: idle.map(|d| d.as_secs()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_counts_from_the_snapshots_moment() {
        let (stale, now) = (Duration::from_secs(300), Instant::now());
        let beat = |running, last| heartbeat(running, last, now, stale).status;
        assert_eq!(beat(Running::Working, None), HeartbeatStatus::Unknown);
        assert_eq!(beat(Running::Working, Some(now)), HeartbeatStatus::Active);
        assert_eq!(beat(Running::No, Some(now)), HeartbeatStatus::Exited);
        let old = now - Duration::from_secs(2);
        let hb = heartbeat(Running::Working, Some(old), now, Duration::from_secs(1));
        assert_eq!(hb.status, HeartbeatStatus::Stalled);
        assert_eq!(hb.idle_seconds, Some(2));
        let hb = heartbeat(Running::TurnEnded, Some(old), now, Duration::from_secs(1));
        assert_eq!(
            hb.status,
            HeartbeatStatus::Waiting,
            "quiet after its turn: not stalled"
        );
        assert_eq!(hb.idle_seconds, Some(2));
    }
}
