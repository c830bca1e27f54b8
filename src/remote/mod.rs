//! Departments on other machines (issue 53): hosts named under
//! `launcher.remotes`, reached with the user's own `ssh` and nothing of ours
//! on the host. Each host is checked before any department is placed there
//! ([`preflight`]): the same Codex version on both sides, git and the
//! repository's clone present, and Codex's sandbox working there (a host
//! whose commands would run unsandboxed is refused unless the user set
//! `sandbox: none` for it). What it finds is kept in [`Hosts`].
//!
//! A department placed on a host keeps its thread on the launcher's own
//! Codex app-server (tools, approvals, quota and conversation as for any
//! department); its commands and file changes run on the host through
//! Codex's `exec-server`, which the user's ssh starts there and a loopback
//! [`relay`] joins to the app-server. Its worktree lives on the host and
//! its work comes back through [`git`].

pub mod away;
pub mod git;
pub mod hosts;
pub mod preflight;
pub mod relay;
pub mod ssh;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use away::HostWatcher;
pub use hosts::{HostView, Hosts};

use crate::config::remotes::Remote;
use crate::context::Context;
use crate::model::RemoteState;
use relay::Relay;
use ssh::Ssh;

/// The hosts, and the relay to each that a department uses (made at its
/// first department, kept until the launcher stops).
#[derive(Default)]
pub struct Remotes {
    pub hosts: Arc<Hosts>,
    relays: tokio::sync::Mutex<HashMap<String, Arc<Relay>>>,
    /// The relays of departments at the user's path, with their worktrees.
    here: tokio::sync::Mutex<HashMap<String, (Arc<Relay>, std::path::PathBuf)>>,
    closed: Mutex<bool>,
    /// Cancelled when the launcher stops (the tasks that ask a gone host).
    stop: tokio_util::sync::CancellationToken,
    /// Told when a host goes or comes back (`on_host_change`).
    watcher: Arc<std::sync::OnceLock<HostWatcher>>,
}

/// Why a department cannot be placed on a host now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("no host named {0} under launcher.remotes")]
    Unknown(String),
    #[error("{name} is not ready for departments ({state:?}): {detail}")]
    NotReady {
        name: String,
        state: RemoteState,
        detail: String,
    },
    #[error(
        "what governance.yaml says of {0} waits for your trust: nothing reaches that host \
         until you trust the file in the dashboard"
    )]
    Untrusted(String),
    #[error("{0}")]
    Ssh(String),
}

impl Remotes {
    /// The configured host `name`, as the user trusted it: while what the
    /// file now says of it (its ssh, its folder, its program) waits for
    /// trust, no fetch, removal or placement reaches it.
    pub fn host(ctx: &Context, name: &str) -> Result<Remote, PlacementError> {
        trusted_hosts(&ctx.config)
            .into_iter()
            .find(|r| r.name == name)
            .ok_or_else(
                || match ctx.config.launcher.remotes.iter().any(|r| r.name == name) {
                    true => PlacementError::Untrusted(name.to_string()),
                    false => PlacementError::Unknown(name.to_string()),
                },
            )
    }

    /// The user's ssh, as the configuration names it.
    pub fn ssh(ctx: &Context) -> Result<Ssh, PlacementError> {
        Ssh::new(&ctx.config.launcher.ssh_program).map_err(|e| PlacementError::Ssh(e.to_string()))
    }

    /// From now on `watcher` is told when a host's departments' connection
    /// stops or starts answering. One watcher.
    pub fn on_host_change(&self, watcher: HostWatcher) {
        let _ = self.watcher.set(watcher);
    }

    /// Ends when the launcher stops.
    pub fn stopped(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.stop.clone().cancelled_owned()
    }

    /// Host `name` when its pre-flight found it ready.
    pub fn ready(&self, ctx: &Context, name: &str) -> Result<Remote, PlacementError> {
        let host = Self::host(ctx, name)?;
        match self.hosts.all().into_iter().find(|h| h.name == name) {
            Some(h) if h.state == RemoteState::Ready => Ok(host),
            Some(h) => Err(PlacementError::NotReady {
                name: h.name,
                state: h.state,
                detail: h.detail,
            }),
            None => Err(PlacementError::NotReady {
                name: name.to_string(),
                state: RemoteState::Checking,
                detail: "not checked yet".into(),
            }),
        }
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
        if let Some(r) = relays.get(&host.name) {
            return Ok(Arc::clone(r));
        }
        let ssh = Self::ssh(ctx)?;
        let tasks = Arc::clone(ctx);
        let (hosts, named, told) = (Arc::clone(&self.hosts), host.clone(), Arc::clone(ctx));
        let (watcher, stop, asker) = (Arc::clone(&self.watcher), self.stop.clone(), ssh.clone());
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
                told.spawn(away::until_back(
                    asker.clone(),
                    named.clone(),
                    Arc::clone(&hosts),
                    back,
                    stop.clone(),
                ));
            }
        });
        let reach = relay::Reach::Ssh {
            ssh,
            host: host.clone(),
            errors: host_log(ctx, &host.name),
        };
        let relay = Relay::start(reach, move |work| tasks.spawn(work), on_state)
            .await
            .map_err(|e| PlacementError::Ssh(format!("the relay to {}: {e}", host.name)))?;
        relays.insert(host.name.clone(), Arc::clone(&relay));
        Ok(relay)
    }

    /// The relay that runs a department's commands on this machine at the
    /// user's tree's path (issue 52), started at its first call; its
    /// environment id is [`here_id`] of `here.name`. Those whose worktree
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
        let key = here_id(&here.name);
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

/// Where what ssh and a relay's exec-server say on their error output goes:
/// `host-<name>.log` (a host) or `here-<worktree>.log` among the sessions'
/// logs, never the user's terminal.
pub fn host_log(ctx: &Context, name: &str) -> relay::ErrorLog {
    relay::ErrorLog {
        state_dir: ctx.paths.state_dir.clone(),
        path: ctx.paths.logs_dir().join(format!("host-{name}.log")),
    }
}

/// The environment id of worktree `name`'s commands run here at the user's
/// path: never a host's (a host's name has no dot).
pub fn here_id(name: &str) -> String {
    format!("here.{name}")
}

/// The hosts of `config` whose words the user trusted (all of them when the
/// file asks for no trust: the user's own file, or one trusted as it is).
pub fn trusted_hosts(config: &crate::config::Config) -> Vec<Remote> {
    let gate = crate::config_trust::TrustGate::of(config);
    config
        .launcher
        .remotes
        .iter()
        .filter(|r| !gate.waits_on(&format!("launcher.remotes.{}", r.name)))
        .cloned()
        .collect()
}

/// A remote agent's environment from the one built for this machine: what
/// names this machine's folders and programs (PATH, HOME, the mailbox) is
/// left to the host, and the temporary folder is the one there.
pub fn environment_there(vars: Vec<(String, String)>, temp: &str) -> Vec<(String, String)> {
    const HOSTS_OWN: &[&str] = &[
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "TMPDIR",
        "TMP",
        "TEMP",
        "CODEX_GOVERNANCE_MAILBOX",
        "CODEX_GOVERNANCE_PROMPT_FILE",
        "CODEX_GOVERNANCE_BIN",
    ];
    let mut there: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(k, _)| !HOSTS_OWN.contains(&k.as_str()))
        .collect();
    for name in ["TMPDIR", "TMP", "TEMP"] {
        there.push((name.to_string(), temp.to_string()));
    }
    there
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A host as its tests name it.
    pub(crate) fn sample_host() -> Remote {
        Remote {
            name: "gpu1".into(),
            ssh: "gpu1".into(),
            repo: "/srv/r".into(),
            codex: "codex".into(),
            max_departments: 1,
            sandbox: crate::config::remotes::RemoteSandbox::Required,
        }
    }

    /// A file whose words for a host changed since the user trusted it
    /// reaches that host no more (fetch-back, removal, placement) until
    /// trusted again; its other hosts, as trusted, still.
    #[test]
    fn a_host_whose_words_wait_for_trust_is_not_reached() {
        use crate::config::{Config, CONFIG_FILE};
        let repo = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let env = crate::config::Env::from([(
            "CODEX_GOVERNANCE_CONFIG_HOME".into(),
            home.path().display().to_string(),
        )]);
        let write = |gpu1: &str| {
            let text = format!(
                "launcher:\n  remotes:\n    gpu1:\n      ssh: {gpu1}\n      repo: /srv/p\n    \
                 gpu2:\n      ssh: me@gpu2\n      repo: /srv/p\n"
            );
            std::fs::write(repo.path().join(CONFIG_FILE), text).unwrap();
            Config::load_with_env(repo.path(), &env).unwrap()
        };
        let names = |hosts: Vec<crate::config::remotes::Remote>| -> Vec<String> {
            hosts.into_iter().map(|h| h.name).collect()
        };
        let first = write("me@gpu1");
        assert!(
            names(trusted_hosts(&first)).is_empty(),
            "nothing trusted yet"
        );
        let gate = crate::config_trust::TrustGate::of(&first);
        gate.trust(first.trust.hash.as_deref().unwrap()).unwrap();
        assert_eq!(names(trusted_hosts(&first)), ["gpu1", "gpu2"]);
        let changed = write("someone@elsewhere");
        assert_eq!(names(trusted_hosts(&changed)), ["gpu2"]);
    }

    #[test]
    fn a_remote_agent_keeps_nothing_that_names_this_machine() {
        let here = vec![
            ("PATH".to_string(), "/home/me/bin".to_string()),
            ("CODEX_GOVERNANCE_SESSION_ID".into(), "gong-1".into()),
            ("TMPDIR".into(), "/local/tmp".into()),
            ("CODEX_GOVERNANCE_MAILBOX".into(), "/local/state".into()),
        ];
        let there = environment_there(here, "/srv/r.governance/gong-1.tmp");
        assert!(there
            .iter()
            .all(|(k, _)| k != "PATH" && k != "CODEX_GOVERNANCE_MAILBOX"));
        assert!(there.contains(&("CODEX_GOVERNANCE_SESSION_ID".into(), "gong-1".into())));
        assert!(there.contains(&("TMPDIR".into(), "/srv/r.governance/gong-1.tmp".into())));
    }
}
