//! The relays a placed department's agent reaches its commands through:
//! one per host (the user's ssh running the host's exec-server, made at
//! its first department and kept until the launcher stops), and one per
//! worktree shown at the user's path (an exec-server here, in a namespace
//! of its own). A host that stops answering is asked again until it is
//! back ([`super::away`]), and whoever watches hosts is told.

use std::sync::Arc;

use super::relay::{self, Relay};
use super::{away, HostWatcher, Placement, PlacementError};
use crate::config::remotes::Remote;
use crate::context::Context;
use crate::model::RemoteState;

impl Placement {
    /// From now on `watcher` is told when a host's departments' connection
    /// stops or starts answering. One watcher.
    pub fn on_host_change(&self, watcher: HostWatcher) {
        let _ = self.watcher.set(watcher);
    }

    /// Ends when the launcher stops.
    pub fn stopped(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.stop.clone().cancelled_owned()
    }

    /// The relay to `host`, started at the first call; what ssh and the
    /// host's exec-server say on their error output goes to
    /// [`host_log`]'s file.
    pub async fn relay(
        &self,
        ctx: &Arc<Context>,
        host: &Remote,
    ) -> Result<Arc<Relay>, PlacementError> {
        let mut relays = self.relays.lock().await;
        if *self.closed.lock().unwrap() {
            return Err(PlacementError::Ssh("the launcher stops".into()));
        }
        let key = host.place_id();
        if let Some(r) = relays.get(&key) {
            return Ok(Arc::clone(r));
        }
        let ssh = super::host::ssh(ctx)?;
        let tasks = Arc::clone(ctx);
        let (hosts, named, told) = (Arc::clone(&self.hosts), host.clone(), Arc::clone(ctx));
        let (watcher, stop, asker) = (Arc::clone(&self.watcher), self.stop.clone(), ssh.clone());
        let containers = Arc::clone(&self.containers);
        let on_state = Box::new(move |state, detail: String| {
            if !hosts.mark(&named, state, detail) {
                return;
            }
            let changed = {
                let (hosts, told, watcher, name) = (
                    Arc::clone(&hosts),
                    Arc::clone(&told),
                    Arc::clone(&watcher),
                    named.name.clone(),
                );
                move |state| {
                    told.store
                        .tell(crate::store::News::HostsChecked { hosts: hosts.all() });
                    if let Some(w) = watcher.get() {
                        w(&name, state);
                    }
                }
            };
            changed(state);
            if state == RemoteState::Unreachable {
                // Nothing asks it again once Codex gives up: this task does.
                let back = move || changed(RemoteState::Ready);
                let revive = revive_of(&told, &containers, &hosts, &asker, &named);
                told.spawn(away::until_back(
                    asker.clone(),
                    named.clone(),
                    Arc::clone(&hosts),
                    back,
                    revive,
                    stop.clone(),
                ));
            }
        });
        let reach = relay::Reach::Ssh {
            ssh,
            host: host.clone(),
            errors: host_log(ctx, &key),
            remaking: host
                .container
                .as_ref()
                .map(|id| self.containers.gate(&host.name, id)),
        };
        let relay = Relay::start(reach, move |work| tasks.spawn(work), on_state)
            .await
            .map_err(|e| PlacementError::Ssh(format!("the relay to {key}: {e}")))?;
        relays.insert(key, Arc::clone(&relay));
        Ok(relay)
    }

    /// The relay that runs a department's commands on this machine at the
    /// user's tree's path (issue 52), started at its first call; its
    /// environment id is [`super::host::here_id`] of `here.name`. Those whose worktree
    /// is gone are closed (their exec-servers end).
    pub async fn relay_here(
        &self,
        ctx: &Arc<Context>,
        here: relay::Here,
        worktree: &std::path::Path,
    ) -> Result<Arc<Relay>, PlacementError> {
        let mut relays = self.here.lock().await;
        if *self.closed.lock().unwrap() {
            return Err(PlacementError::Ssh("the launcher stops".into()));
        }
        relays.retain(|_, (relay, path)| {
            let kept = path.is_dir();
            if !kept {
                relay.close();
            }
            kept
        });
        let key = super::host::here_id(&here.name);
        if let Some((r, _)) = relays.get(&key) {
            return Ok(Arc::clone(r));
        }
        let tasks = Arc::clone(ctx);
        let relay = Relay::start(
            relay::Reach::Here(here),
            move |work| tasks.spawn(work),
            Box::new(|_, _| {}),
        )
        .await
        .map_err(|e| PlacementError::Ssh(format!("the relay to {key}: {e}")))?;
        relays.insert(key, (Arc::clone(&relay), worktree.to_path_buf()));
        Ok(relay)
    }

    /// Closes every relay (their ssh connections end): the launcher stops.
    pub async fn close(&self) {
        *self.closed.lock().unwrap() = true;
        self.stop.cancel();
        for relay in self.relays.lock().await.values() {
            relay.close();
        }
        for (relay, _) in self.here.lock().await.values() {
            relay.close();
        }
    }
}

/// For a container of the launcher's making, what makes it again when it
/// went away, saying so in the host's state while it does.
fn revive_of(
    ctx: &Arc<Context>,
    containers: &Arc<super::Containers>,
    hosts: &Arc<super::Hosts>,
    ssh: &super::ssh::Ssh,
    inside: &Remote,
) -> Option<away::Revive> {
    inside.container.as_ref()?;
    inside.lifecycle.as_ref()?;
    let (ctx, containers, hosts) = (Arc::clone(ctx), Arc::clone(containers), Arc::clone(hosts));
    let (ssh, inside) = (ssh.clone(), inside.clone());
    Some(Box::new(move || {
        let (ctx, containers, hosts) = (
            Arc::clone(&ctx),
            Arc::clone(&containers),
            Arc::clone(&hosts),
        );
        let (ssh, inside) = (ssh.clone(), inside.clone());
        Box::pin(async move {
            let why = format!("{}: its container went away; making another", inside.name);
            hosts.say(&inside, why);
            ctx.store
                .tell(crate::store::News::HostsChecked { hosts: hosts.all() });
            super::remake::remake(&ctx, &containers, &ssh, &inside).await
        })
    }))
}

/// Where what ssh and a relay's exec-server say on their error output goes:
/// `host-<name>.log` (a host) or `here-<worktree>.log` among the sessions'
/// logs, never the user's terminal.
fn host_log(ctx: &Context, name: &str) -> relay::ErrorLog {
    relay::ErrorLog {
        state_dir: ctx.paths.state_dir.clone(),
        path: ctx.paths.logs_dir().join(format!("host-{name}.log")),
    }
}
