//! Department liveness from PTY output: `active` while output arrived within
//! `stale_seconds`, `stalled` after, `exited` once the process ended, `unknown`
//! before any output. Computed when asked, from the PTY's last-output time, so
//! nothing polls and nothing is written per output chunk.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub status: &'static str,
    pub idle_seconds: Option<u64>,
}

pub fn heartbeat(running: bool, last_output: Option<Instant>, stale: Duration) -> Heartbeat {
    let idle = last_output.map(|t| t.elapsed());
    let status = match (running, idle) {
        (false, _) => "exited",
        (true, None) => "unknown",
        (true, Some(idle)) if idle <= stale => "active",
        (true, Some(_)) => "stalled",
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
        assert_eq!(heartbeat(true, None, stale).status, "unknown");
        assert_eq!(
            heartbeat(true, Some(Instant::now()), stale).status,
            "active"
        );
        assert_eq!(
            heartbeat(false, Some(Instant::now()), stale).status,
            "exited"
        );
        let old = Instant::now() - Duration::from_secs(2);
        let hb = heartbeat(true, Some(old), Duration::from_secs(1));
        assert_eq!(hb.status, "stalled");
        assert!(hb.idle_seconds.unwrap() >= 2);
    }
}
