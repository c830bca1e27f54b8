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
use super::remake::RemakeError;
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

/// What makes a container of the launcher's making again when it went
/// away ([`super::remake`]).
pub(super) type Revive = Box<
    dyn Fn() -> futures_util::future::BoxFuture<'static, Result<(), RemakeError>> + Send + Sync,
>;

/// How many asks in a row a container may leave unanswered before it is
/// taken as gone and made again (an engine can be slow for a moment).
const ASKS_BEFORE_REMAKE: u32 = 2;

/// Asks `host` until it answers, it is back otherwise (a connection of
/// Codex's answered), or the launcher stops; when it answers, marks it
/// ready and says so. A container of the launcher's making (`revive`)
/// that leaves two asks in a row unanswered is made again.
pub(super) async fn until_back(
    ssh: Ssh,
    host: Remote,
    hosts: Arc<Hosts>,
    back: impl Fn(),
    revive: Option<Revive>,
    stop: CancellationToken,
) {
    let mut pause = FIRST_ASK;
    let mut unanswered = 0;
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
        unanswered += 1;
        if let Some(revive) = revive.as_ref().filter(|_| unanswered >= ASKS_BEFORE_REMAKE) {
            let remade = tokio::select! {
                _ = stop.cancelled() => return,
                remade = revive() => remade,
            };
            match remade {
                Ok(()) => {
                    unanswered = 0;
                    pause = FIRST_ASK;
                    continue;
                }
                Err(e) => tracing::warn!("{}: making its container again: {e}", host.name),
            }
        }
        pause = (pause * 2).min(LAST_ASK);
    }
}
