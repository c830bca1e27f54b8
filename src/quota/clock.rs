//! The quota clock: takes the backend's account news (rate-limit snapshots)
//! into the quota's record, and wakes at each reset to give the parked
//! sessions their continue turn and let the queue start again. Both run on
//! the context's tasks until the launcher stops; shutdown awaits them.
//!
//! The clock knows the queue only as its pump, a function the launcher hands
//! it, so the quota stays below the services that start sessions.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, watch};

use super::{unix_now, Agents, Quota};
use crate::agents::AccountEvent;
use crate::context::Context;

/// The longest the clock sleeps without looking again (a snapshot can move a
/// reset; a suspended laptop's timers run late).
const LOOK_AGAIN: Duration = Duration::from_secs(60);

/// The queue's pump: run after account news and after each reset.
pub type Pump = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// What the clock works with.
pub struct Clock {
    pub quota: Arc<Quota>,
    pub agents: Arc<dyn Agents>,
    pub pump: Pump,
}

impl Clock {
    /// Starts the account listener (on `news`) and the clock; both end once
    /// `stopping` says true.
    pub fn start(
        self,
        ctx: &Arc<Context>,
        mut news: mpsc::UnboundedReceiver<AccountEvent>,
        stopping: watch::Receiver<bool>,
    ) {
        let this = Arc::new(self);
        let listener = Arc::clone(&this);
        let tasks = Arc::clone(ctx);
        let mut stopped = stopping.clone();
        ctx.spawn(async move {
            let listen = async {
                while let Some(event) = news.recv().await {
                    // Recorded at once (a turn the limit stopped is parked by
                    // what this says); the queue's pump, which may start a
                    // session, runs beside it.
                    match event {
                        AccountEvent::RateLimits(q) => listener.quota.record(&q),
                    }
                    tasks.spawn((listener.pump)());
                }
            };
            tokio::select! {
                _ = listen => {}
                _ = stopped.wait_for(|v| *v) => {}
            }
        });
        let mut stopped = stopping;
        ctx.spawn(async move {
            tokio::select! {
                _ = this.run() => {}
                _ = stopped.wait_for(|v| *v) => {}
            }
        });
    }

    async fn run(&self) {
        let changed = Arc::clone(self.quota.changed());
        let agents = self.agents.as_ref();
        loop {
            let wait = match self.quota.next_wake(agents) {
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
                .quota
                .next_wake(agents)
                .is_some_and(|at| at <= unix_now());
            if due {
                let resumed = self.quota.resume_parked(agents).await;
                if !resumed.is_empty() {
                    tracing::info!("continued after the usage limit's reset: {resumed:?}");
                }
                (self.pump)().await;
            }
        }
    }
}
