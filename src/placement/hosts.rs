//! The hosts of `launcher.remotes` and what their last pre-flight found,
//! kept for the status; a check of every host runs at start and when the
//! user asks again, each host in parallel, and announces its result.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::config::remotes::{Remote, RemoteSandbox};
use crate::context::Context;
use crate::model::{RemoteHost, RemoteState};

pub use crate::model::RemoteHost as HostView;

use super::containers::Containers;
use super::ssh::Ssh;
use crate::config::provider_lifecycle::Each;

/// Every host, by name, as last checked.
#[derive(Default)]
pub struct Hosts {
    found: RwLock<BTreeMap<String, RemoteHost>>,
    /// Hosts a department's connection found gone after their pre-flight
    /// found them ready: only these come back when a connection answers.
    dropped: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl Hosts {
    /// The hosts as last checked, in name order.
    pub fn all(&self) -> Vec<RemoteHost> {
        self.found.read().unwrap().values().cloned().collect()
    }

    /// Checks every configured host (`here`: this launcher's Codex version);
    /// returns once all are checked. While the configuration waits for the
    /// user's trust (`trusted` false), none is reached: a cloned file must
    /// not have the user's ssh connect anywhere before the user agrees.
    pub async fn check_all(
        self: &Arc<Self>,
        ctx: &Arc<Context>,
        containers: &Arc<Containers>,
        here: Option<(u32, u32, u32)>,
        trusted: bool,
    ) {
        let remotes = ctx.config.launcher.remotes.clone();
        if remotes.is_empty() {
            return;
        }
        if !trusted {
            for host in &remotes {
                let why = "named by the repository's configuration, which waits for your trust: \
                           nothing is run there until you trust it";
                self.set(host, RemoteState::AwaitsTrust, why.into(), None);
            }
            return;
        }
        let ssh = Ssh::new(&ctx.config.launcher.ssh_program);
        let mut checks = Vec::new();
        for host in remotes {
            self.set(&host, RemoteState::Checking, "checking".into(), None);
            let (this, ssh) = (Arc::clone(self), ssh.clone());
            let (containers, state) = (Arc::clone(containers), ctx.paths.state_dir.clone());
            // Futures, not tasks: dropped at the stop, their ssh ends with them.
            checks.push(async move {
                let found = match &ssh {
                    Ok(ssh) => check_one(ssh, &containers, &state, &host, here).await,
                    Err(e) => super::preflight::Found {
                        state: RemoteState::Refused,
                        detail: e.to_string(),
                        codex_version: None,
                    },
                };
                this.dropped.lock().unwrap().remove(&host.name);
                this.set(&host, found.state, found.detail, found.codex_version);
            });
        }
        futures_util::future::join_all(checks).await;
        ctx.store
            .tell(crate::store::News::HostsChecked { hosts: self.all() });
    }

    /// Whether a department's connection found `host` gone (and it has not
    /// answered since).
    pub fn is_dropped(&self, name: &str) -> bool {
        self.dropped.lock().unwrap().contains(name)
    }

    /// What a department's connection found of `host` (it answers, or
    /// not); true when that changed its state. Its version stays. It only
    /// takes a ready host away (Unreachable) and gives back one it took:
    /// what a pre-flight found (refused; unreachable, so unproven; awaiting
    /// trust; being checked) a connection that answers never lifts.
    pub fn mark(&self, host: &Remote, state: RemoteState, detail: String) -> bool {
        let Some(before) = self.found.read().unwrap().get(&host.name).cloned() else {
            return false;
        };
        let mut dropped = self.dropped.lock().unwrap();
        let moves = match (before.state, state) {
            (RemoteState::Ready, RemoteState::Unreachable) => dropped.insert(host.name.clone()),
            (RemoteState::Unreachable, RemoteState::Ready) => dropped.remove(&host.name),
            _ => false,
        };
        drop(dropped);
        if !moves {
            return false;
        }
        let before = Some(before);
        let version = before.and_then(|b| b.codex_version);
        let detail = match state {
            RemoteState::Ready => format!("{}: its departments' connection answers", host.name),
            _ => detail,
        };
        self.set(host, state, detail, version);
        true
    }

    /// Takes `host` out of use until its next check (its container could not
    /// be made: `detail` says why); its version stays.
    pub fn unready(&self, host: &Remote, detail: String) {
        let version = self
            .found
            .read()
            .unwrap()
            .get(&host.name)
            .and_then(|h| h.codex_version.clone());
        self.set(host, RemoteState::Unreachable, detail, version);
    }

    /// Says `detail` of a host its departments' connection found gone (its
    /// state stays).
    pub fn say(&self, host: &Remote, detail: String) {
        if let Some(h) = self.found.write().unwrap().get_mut(&host.name) {
            if h.state == RemoteState::Unreachable {
                h.detail = detail;
            }
        }
    }

    fn set(
        &self,
        host: &Remote,
        state: RemoteState,
        detail: String,
        codex_version: Option<String>,
    ) {
        let view = RemoteHost {
            name: host.name.clone(),
            ssh: host.reach.shown(),
            repo: host.repo.clone(),
            max_departments: host.max_departments,
            in_use: 0,
            sandbox_required: host.sandbox == RemoteSandbox::Required,
            state,
            note: match state {
                RemoteState::Ready => None,
                RemoteState::AwaitsTrust => Some("awaits your trust".into()),
                RemoteState::Checking => Some("checking".into()),
                RemoteState::Refused => Some("refused".into()),
                RemoteState::Unreachable => Some("unreachable".into()),
            },
            detail,
            codex_version,
            checked_at: matches!(
                state,
                RemoteState::Ready | RemoteState::Refused | RemoteState::Unreachable
            )
            .then(crate::clock::now_rfc3339),
        };
        self.found.write().unwrap().insert(host.name.clone(), view);
    }
}

/// The pre-flight of `host`, in a container of the launcher's making when
/// its provider makes them (the host's own, or one made ahead, removed
/// after the check unless the host keeps some warm).
async fn check_one(
    ssh: &Ssh,
    containers: &Containers,
    state: &std::path::Path,
    host: &Remote,
    here: Option<(u32, u32, u32)>,
) -> super::preflight::Found {
    let Some(lifecycle) = host.lifecycle.clone() else {
        return super::preflight::check(ssh, host, here).await;
    };
    let made = match lifecycle.each {
        Each::Host => containers.for_host(state, ssh, host).await,
        Each::Department => containers.one_ahead(state, ssh, host).await,
    };
    let inside = match made {
        Ok(inside) => inside,
        Err(e) => {
            return super::preflight::Found {
                state: RemoteState::Unreachable,
                detail: format!("{e}; it is tried again at the next check"),
                codex_version: None,
            }
        }
    };
    let found = super::preflight::check(ssh, &inside, here).await;
    if lifecycle.each == Each::Department {
        containers.keep_warm(state, ssh, host).await;
        if lifecycle.warm == 0 {
            if let Some(id) = inside.container.clone() {
                containers.give_up_warm(state, host, &id).await;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A department's connection answering does not make a refused host
    /// ready; one that went unreachable comes back.
    #[test]
    fn a_connection_moves_a_host_only_between_ready_and_unreachable() {
        let hosts = Hosts::default();
        let gpu1 = crate::placement::host::tests::sample_host();
        assert!(!hosts.mark(&gpu1, RemoteState::Ready, "answering".into()));
        assert!(hosts.all().is_empty(), "an unchecked host stays unchecked");
        for kept in [
            RemoteState::Refused,
            RemoteState::AwaitsTrust,
            RemoteState::Checking,
        ] {
            hosts.set(&gpu1, kept, "found so".into(), None);
            assert!(!hosts.mark(&gpu1, RemoteState::Ready, "answering".into()));
            assert_eq!(hosts.all()[0].state, kept);
        }
        // Unreachable by its pre-flight (its sandbox unproven): it stays so.
        hosts.set(&gpu1, RemoteState::Unreachable, "timed out".into(), None);
        assert!(!hosts.mark(&gpu1, RemoteState::Ready, "answering".into()));
        hosts.set(
            &gpu1,
            RemoteState::Ready,
            "ready".into(),
            Some("0.169.0".into()),
        );
        assert!(hosts.mark(&gpu1, RemoteState::Unreachable, "gone".into()));
        assert!(!hosts.mark(&gpu1, RemoteState::Refused, "no".into()));
        assert!(hosts.mark(&gpu1, RemoteState::Ready, "answering".into()));
        assert_eq!(hosts.all()[0].state, RemoteState::Ready);
        assert_eq!(hosts.all()[0].codex_version.as_deref(), Some("0.169.0"));
    }
}
