//! A host that went away (issue 70 item 2). Codex's exec-server client
//! waits a limited time for a dropped host (45 s), then fails the command
//! it held and every later one: a department's model would carry on
//! without them. The launcher holds the department's turn instead
//! (`sessions::follow`, told through [`HostWatcher`]), and since nothing
//! asks the host again once Codex gave up, this task asks: the user's ssh,
//! less and less often, until the host answers; then its departments go on.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::hosts::Hosts;
use super::ssh::Ssh;
use crate::config::remotes::Remote;
use crate::model::RemoteState;

/// Told when a host's departments' connection stops (`Unreachable`) or
/// starts again (`Ready`) answering.
pub type HostWatcher = Arc<dyn Fn(&str, RemoteState) + Send + Sync>;

/// How long the task waits before it asks the host again, at first and at
/// most.
const FIRST_ASK: Duration = Duration::from_secs(2);
const LAST_ASK: Duration = Duration::from_secs(20);
/// How long one ask may take (ssh's own connect timeout is 15 s).
const ASK_PATIENCE: Duration = Duration::from_secs(20);

/// Asks `host` until it answers, it is back otherwise (a connection of
/// Codex's answered), or the launcher stops; when it answers, marks it
/// ready and says so.
pub(super) async fn until_back(
    ssh: Ssh,
    host: Remote,
    hosts: Arc<Hosts>,
    back: impl Fn(),
    stop: CancellationToken,
) {
    let mut pause = FIRST_ASK;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        if !hosts.is_dropped(&host.name) {
            return;
        }
        let answered = tokio::select! {
            _ = stop.cancelled() => return,
            ran = ssh.run(&host, &["true"], ASK_PATIENCE) => ran.is_ok_and(|r| r.ok()),
        };
        if answered && hosts.mark(&host, RemoteState::Ready, String::new()) {
            back();
            return;
        }
        pause = (pause * 2).min(LAST_ASK);
    }
}
