//! The launcher's watch over open pull requests (issue 38): every
//! `launcher.pull_requests.poll_seconds`, or at once after one was opened or
//! updated, their state and checks are read back; a forge that asks for
//! patience (its rate limit) gets it. Runs until the launcher stops;
//! `shutdown` awaits it.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::Launcher;

impl Launcher {
    pub(super) fn start_pull_request_watch(self: &Arc<Self>) -> JoinHandle<()> {
        let this = Arc::clone(self);
        let stopped = self.stopped();
        tokio::spawn(async move {
            tokio::select! {
                _ = this.watch_pull_requests() => {}
                _ = stopped => {}
            }
        })
    }

    async fn watch_pull_requests(&self) {
        let every = Duration::from_secs(self.ctx.config.launcher.pull_requests.poll_seconds);
        loop {
            let wait = match self.integrations.poll_pull_requests().await {
                Some(asked) => asked.max(every),
                None => every,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.integrations.pull_requests_changed.notified() => {}
            }
        }
    }
}
