//! A host named under `launcher.remotes` as the rest of placement reaches
//! it: only as the user trusted it, through the user's own ssh, and only
//! once its pre-flight found it ready. What ssh and its exec-server say
//! goes to a log of its own; what an agent there sees of this machine's
//! environment is left out.

use crate::config::remotes::Remote;
use crate::context::Context;
use crate::model::RemoteState;

use super::ssh::Ssh;
use super::Placement;

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

/// The host `work` is on, as it reaches `work`'s container when the
/// launcher made one for it.
pub fn for_work(ctx: &Context, work: &crate::model::RemoteWork) -> Result<Remote, PlacementError> {
    let host = host(ctx, &work.host)?;
    Ok(match &work.container {
        Some(id) => host.in_container(id),
        None => host,
    })
}

/// The user's ssh, as the configuration names it.
pub fn ssh(ctx: &Context) -> Result<Ssh, PlacementError> {
    Ssh::new(&ctx.config.launcher.ssh_program).map_err(|e| PlacementError::Ssh(e.to_string()))
}

impl Placement {
    /// Host `name` when its pre-flight found it ready.
    pub fn ready(&self, ctx: &Context, name: &str) -> Result<Remote, PlacementError> {
        let host = host(ctx, name)?;
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
}

/// The environment id of worktree `name`'s commands run here at the user's
/// path: never a host's (a host's name has no dot).
pub(super) fn here_id(name: &str) -> String {
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
pub(super) fn environment_there(vars: Vec<(String, String)>, temp: &str) -> Vec<(String, String)> {
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
            reach: crate::config::remotes::Reach::Ssh("gpu1".into()),
            repo: "/srv/r".into(),
            codex: "codex".into(),
            max_departments: 1,
            sandbox: crate::config::remotes::RemoteSandbox::Required,
            labels: Vec::new(),
            lifecycle: None,
            container: None,
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
