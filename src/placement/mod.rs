//! Where a department works, and everything that follows from it (issue
//! 76): the one owner of hosts ([`Hosts`], checked by [`preflight`]), the
//! relays an agent's commands run through ([`relays`]), worktrees on a host
//! ([`git`]) or shown at the user's tree's path ([`here`]). The choice is
//! `policy::placement::choose`'s; a workspace says it in one
//! `model::Workplace`. The rest of the launcher asks three things:
//! [`Placement::prepare`] (what a placed session's agent gets: the
//! environment its commands run in, its sandbox there, its variables as it
//! sees them), [`bring_back`] (a host's work fetched before each record)
//! and [`Departure::leave`] (what is left where it worked, once settled);
//! and [`Placement::make_host_worktree`] when a department is placed on a
//! host. A department in its own folder gets nothing of this: its agent
//! runs its commands itself.
//!
//! A department on a host keeps its thread on the launcher's own Codex
//! app-server (tools, approvals, quota and conversation as for any
//! department); its commands and file changes run on the host through
//! Codex's `exec-server`, which the user's ssh starts there and a loopback
//! [`relay`] joins to the app-server.

mod away;
mod back;
mod containers;
mod git;
mod here;
mod host;
mod hosts;
mod inside;
mod preflight;
mod relay;
mod relays;
mod remake;
mod ssh;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::agents::{ExecServer, RemoteEnvironment, Sandbox};
use crate::context::Context;
use crate::model::{RemoteWork, Session, Workspace};
use crate::policy::placement::NotShownThere;

pub use away::HostWatcher;
pub use back::{bring_back, Departure};
pub use containers::{ContainerError, Containers};
pub use git::Fetched;
pub use here::exec_server_outside;
pub use host::{trusted_hosts, PlacementError};
pub use hosts::{HostView, Hosts};
pub use inside::{CopyError, Inside};
use relay::Relay;

/// The hosts, and the relays departments use (to a host: made at its first
/// department, kept until the launcher stops; here: one per worktree at
/// the user's path).
#[derive(Default)]
pub struct Placement {
    pub hosts: Arc<Hosts>,
    /// The containers of the launcher's making (a provider's `create`).
    pub containers: Arc<Containers>,
    relays: tokio::sync::Mutex<HashMap<String, Arc<Relay>>>,
    /// The relays of departments at the user's path, with their worktrees.
    here: tokio::sync::Mutex<HashMap<String, (Arc<Relay>, PathBuf)>>,
    closed: Mutex<bool>,
    /// Cancelled when the launcher stops (the tasks that ask a gone host).
    stop: tokio_util::sync::CancellationToken,
    /// Told when a host goes or comes back (`on_host_change`).
    watcher: Arc<std::sync::OnceLock<HostWatcher>>,
}

/// Why a placed department's environment could not be made now.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("{session} cannot work on {host}: {source}")]
    Host {
        session: String,
        host: String,
        #[source]
        source: PlacementError,
    },
    #[error("{session} cannot work at the user's tree's path: {source}")]
    AtUsersPath {
        session: String,
        #[source]
        source: HereRefused,
    },
}

/// Why this machine did not show a worktree at the user's tree's path.
#[derive(Debug, thiserror::Error)]
pub enum HereRefused {
    #[error(transparent)]
    NotShown(#[from] NotShownThere),
    #[error(transparent)]
    Bind(#[from] crate::worktrees::WorktreeError),
    #[error(transparent)]
    Relay(#[from] PlacementError),
}

impl From<PrepareError> for crate::error::LauncherError {
    fn from(e: PrepareError) -> Self {
        crate::error::LauncherError::Conflict(e.to_string())
    }
}

/// Why a department's worktree could not be made on its host.
#[derive(Debug, thiserror::Error)]
pub enum HostWorktreeError {
    #[error(transparent)]
    Host(#[from] PlacementError),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error("copying the files of launcher.worktree.copy there: {0}")]
    Copy(#[from] CopyError),
    #[error(transparent)]
    Git(#[from] git::RemoteGitError),
}

/// What a placed session's agent gets of where it works.
pub struct Prepared {
    /// Where its commands run: None for a session in its own folder.
    pub environment: Option<RemoteEnvironment>,
    /// What it may touch there: None for its own folder's sandbox.
    pub sandbox: Option<Sandbox>,
    /// Its variables as it sees them there.
    pub vars: Vec<(String, String)>,
}

impl Placement {
    /// What session's agent gets of its workplace: the environment its
    /// commands run in (a relay to its host's exec-server, or to one here,
    /// shown at the user's path, that runs `server`, its backend's), the
    /// sandbox there (`temp` is its temporary folder here) and `vars` as it
    /// sees them. A session in its own folder gets `vars` back and nothing
    /// else.
    pub async fn prepare(
        &self,
        ctx: &Arc<Context>,
        session: &Session,
        server: Option<ExecServer>,
        temp: PathBuf,
        vars: Vec<(String, String)>,
    ) -> Result<Prepared, PrepareError> {
        if let Some(ws) = at_users_path(session) {
            let environment = here::environment(self, ctx, ws, server)
                .await
                .map_err(|source| PrepareError::AtUsersPath {
                    session: session.id.clone(),
                    source,
                })?;
            return Ok(Prepared {
                environment: Some(environment),
                sandbox: Some(here::sandbox(ctx, session, ws, temp)),
                vars: here::shown_vars(&ctx.repo, &ctx.paths.state_dir, ws, vars),
            });
        }
        let Some(work) = on_host(session) else {
            return Ok(Prepared {
                environment: None,
                sandbox: None,
                vars,
            });
        };
        let placed = |source| PrepareError::Host {
            session: session.id.clone(),
            host: work.host.clone(),
            source,
        };
        let host = host::for_work(ctx, work).map_err(placed)?;
        let relay = self.relay(ctx, &host).await.map_err(placed)?;
        let temp_there = git::temp_path(&work.path);
        Ok(Prepared {
            environment: Some(RemoteEnvironment {
                id: host.place_id(),
                url: relay.url(),
                secret: relay.secret().clone(),
                cwd: PathBuf::from(&work.path),
                here: false,
            }),
            // Its worktree and temporary folder there writable, the
            // host's clone readable only, the network as here.
            sandbox: Some(Sandbox {
                network: ctx.config.launcher.agent.agent_network,
                hidden: Vec::new(),
                read_only: vec![PathBuf::from(&host.repo)],
                writable: vec![PathBuf::from(&work.path)],
                temp: Some(PathBuf::from(&temp_there)),
                work_read_only: false,
            }),
            vars: host::environment_there(vars, &temp_there),
        })
    }

    /// A department placed on host `name` gets its worktree there (issue
    /// 53): `ws`'s base pushed to the host's clone and a worktree added on
    /// its branch; `ws` says so from then on.
    pub async fn make_host_worktree(
        &self,
        ctx: &Context,
        name: String,
        ws: &mut Workspace,
    ) -> Result<(), HostWorktreeError> {
        let host = self.ready(ctx, &name)?;
        let ssh = host::ssh(ctx)?;
        let inside = match self.container_for(ctx, &ssh, &host, &ws.name).await {
            Ok(inside) => inside,
            Err(e) => {
                // Its departments wait for the next check, saying why.
                let why = format!("{e}; Check again tries once more");
                self.hosts.unready(&host, why);
                ctx.store.tell(crate::store::News::HostsChecked {
                    hosts: self.hosts.all(),
                });
                return Err(e.into());
            }
        };
        let tree = git::prepare(&ssh, &inside, &ctx.repo, &ws.base, &ws.name, &ws.branch).await;
        let tree = match tree {
            Ok(tree) => tree,
            Err(e) => {
                self.give_back(ctx, &inside).await;
                return Err(e.into());
            }
        };
        let work = RemoteWork {
            host: name,
            path: tree.path,
            branch: tree.branch,
            fetched: None,
            removed: false,
            refused: None,
            container: inside.container.clone(),
        };
        // The user's files copied into its worktree here go there too.
        if !ws.copied.is_empty() {
            let there = Inside::of(ctx, &work, &ws.name, &ws.name)?;
            let (local, files) = (PathBuf::from(&ws.path), ws.copied.clone());
            let copied = tokio::task::spawn_blocking(move || there.copy_in(&local, &files)).await;
            match copied {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    self.give_back(ctx, &inside).await;
                    return Err(e.into());
                }
                Err(e) => tracing::error!("copying files there: {e}"),
            }
        }
        ws.workplace = crate::model::Workplace::Host(work);
        Ok(())
    }

    /// `host` as department `worktree` reaches it: in the host's own
    /// container or one of the department's own when the host's provider
    /// makes them (another is then made ahead, when it keeps some warm).
    async fn container_for(
        &self,
        ctx: &Context,
        ssh: &ssh::Ssh,
        host: &crate::config::remotes::Remote,
        worktree: &str,
    ) -> Result<crate::config::remotes::Remote, ContainerError> {
        let state = &ctx.paths.state_dir;
        let Some(each) = host.lifecycle.as_ref().map(|l| l.each) else {
            return Ok(host.clone());
        };
        if each == crate::config::provider_lifecycle::Each::Host {
            return self.containers.for_host(state, ssh, host).await;
        }
        let taken = self.containers.take(state, ssh, host, worktree).await?;
        let (containers, state, ssh, host) = (
            Arc::clone(&self.containers),
            state.clone(),
            ssh.clone(),
            host.clone(),
        );
        ctx.spawn(async move { containers.keep_warm(&state, &ssh, &host).await });
        Ok(taken)
    }

    /// A department's own container that it will not use after all.
    async fn give_back(&self, ctx: &Context, inside: &crate::config::remotes::Remote) {
        let Some(id) = inside
            .container
            .clone()
            .filter(|_| Containers::per_department(inside))
        else {
            return;
        };
        let (containers, state, host) = (
            Arc::clone(&self.containers),
            ctx.paths.state_dir.clone(),
            inside.clone(),
        );
        let gone =
            tokio::task::spawn_blocking(move || containers.destroy(&state, &host, &id)).await;
        if let Ok(Err(e)) = gone {
            tracing::warn!("removing a container its department did not use: {e}");
        }
    }

    /// Checks every host of `launcher.remotes` (`here`: this launcher's
    /// Codex version; none is reached while the file waits for `trusted`),
    /// after removing what an earlier run's containers left.
    pub async fn check_hosts(
        self: &Arc<Self>,
        ctx: &Arc<Context>,
        here: Option<(u32, u32, u32)>,
        trusted: bool,
    ) {
        if trusted {
            let (this, told) = (Arc::clone(self), Arc::clone(ctx));
            let swept = tokio::task::spawn_blocking(move || this.tidy_containers(&told, false));
            if let Err(e) = swept.await {
                tracing::error!("removing containers left by an earlier run: {e}");
            }
        }
        self.hosts
            .check_all(ctx, &self.containers, here, trusted)
            .await;
    }

    /// Removes the containers of the launcher's making that no department
    /// works in (what a crash left; at a stop, also those made ahead and
    /// the hosts' own with no work left in them). Blocking.
    pub fn tidy_containers(&self, ctx: &Context, stopping: bool) {
        let hosts = trusted_hosts(&ctx.config);
        let state = &ctx.paths.state_dir;
        if stopping {
            self.containers.drop_warm(state, &hosts);
        }
        let in_use = ctx.store.read(|s| {
            s.sessions
                .values()
                .filter_map(|x| x.workspace())
                .filter_map(|w| w.workplace.host())
                .filter(|r| !r.removed)
                .filter_map(|r| Some((r.host.clone(), r.container.clone()?)))
                .collect()
        });
        self.containers.sweep(state, &hosts, &in_use, stopping);
    }
}

/// The session's worktree, while its commands run at the user's path.
fn at_users_path(session: &Session) -> Option<&Workspace> {
    session
        .workspace()
        .filter(|w| !w.removed && w.workplace.at_users_path())
}

/// The session's work on another machine, while its worktree is there.
fn on_host(session: &Session) -> Option<&RemoteWork> {
    session
        .workspace()
        .filter(|w| !w.removed)
        .and_then(|w| w.workplace.host())
}
