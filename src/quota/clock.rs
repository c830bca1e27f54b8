//! The launcher's quota clock: takes the backend's account news (rate-limit
//! snapshots) into the sessions' record, and wakes at each reset to give the
//! parked sessions their continue turn and let the queue start again. Both
//! run until the launcher stops; `shutdown` awaits them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::agents::AccountEvent;
use crate::launcher::Launcher;
use crate::quota::unix_now;

/// The longest the clock sleeps without looking again (a snapshot can move a
/// reset; a suspended laptop's timers run late).
const LOOK_AGAIN: Duration = Duration::from_secs(60);

impl Launcher {
    /// Starts the account listener and the clock.
    pub(crate) fn start_quota_clock(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.sessions.backend().watch_account(tx);
        let this = Arc::clone(self);
        let stopped = self.stopped();
        let listener = tokio::spawn(async move {
            let listen = async {
                while let Some(event) = rx.recv().await {
                    // Recorded at once (a turn the limit stopped is parked by
                    // what this says); the queue's pump, which may start a
                    // session, runs beside it.
                    match event {
                        AccountEvent::RateLimits(q) => this.sessions.record_quota(&q),
                    }
                    let pump = Arc::clone(&this);
                    tokio::spawn(async move { pump.dispatcher.pump_queue().await });
                }
            };
            tokio::select! {
                _ = listen => {}
                _ = stopped => {}
            }
        });
        let this = Arc::clone(self);
        let stopped = self.stopped();
        let clock = tokio::spawn(async move {
            tokio::select! {
                _ = this.run_quota_clock() => {}
                _ = stopped => {}
            }
        });
        vec![listener, clock]
    }

    async fn run_quota_clock(self: &Arc<Self>) {
        let changed = Arc::clone(&self.sessions.quota_changed);
        loop {
            let wait = match self.sessions.next_quota_wake() {
                Some(at) => {
                    let secs = (at - unix_now()).max(0) as u64;
                    Duration::from_secs(secs).min(LOOK_AGAIN)
                }
                None => LOOK_AGAIN,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = changed.notified() => continue,
            }
            let due = self
                .sessions
                .next_quota_wake()
                .is_some_and(|at| at <= unix_now());
            if due {
                let resumed = self.sessions.resume_parked().await;
                if !resumed.is_empty() {
                    tracing::info!("continued after the usage limit's reset: {resumed:?}");
                }
                self.dispatcher.pump_queue().await;
            }
        }
    }
}
