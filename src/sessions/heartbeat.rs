//! Department liveness from PTY output: `active` while output arrived within
//! `stale_seconds`, `stalled` after, `exited` once the process ended, `unknown`
//! before any output. Computed when asked, from the PTY's last-output time, so
//! nothing polls and nothing is written per output chunk.

use std::time::{Duration, Instant};

use serde::Serialize;

/// A session's liveness, as the API words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeartbeatStatus {
    Unknown,
    Active,
    Stalled,
    Exited,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub status: HeartbeatStatus,
    pub idle_seconds: Option<u64>,
}

pub fn heartbeat(running: bool, last_output: Option<Instant>, stale: Duration) -> Heartbeat {
    let idle = last_output.map(|t| t.elapsed());
    let status = match (running, idle) {
        (false, _) => HeartbeatStatus::Exited,
        (true, None) => HeartbeatStatus::Unknown,
        (true, Some(idle)) if idle <= stale => HeartbeatStatus::Active,
        (true, Some(_)) => HeartbeatStatus::Stalled,
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
    fn states() {
        let stale = Duration::from_secs(300);
        assert_eq!(
            heartbeat(true, None, stale).status,
            HeartbeatStatus::Unknown
        );
        assert_eq!(
            heartbeat(true, Some(Instant::now()), stale).status,
            HeartbeatStatus::Active
        );
        assert_eq!(
            heartbeat(false, Some(Instant::now()), stale).status,
            HeartbeatStatus::Exited
        );
        let old = Instant::now() - Duration::from_secs(2);
        let hb = heartbeat(true, Some(old), Duration::from_secs(1));
        assert_eq!(hb.status, HeartbeatStatus::Stalled);
        assert!(hb.idle_seconds.unwrap() >= 2);
    }
}
