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
mod git;
mod here;
mod host;
mod hosts;
mod preflight;
mod relay;
mod relays;
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
pub use git::Fetched;
pub use here::exec_server_outside;
pub use host::{trusted_hosts, PlacementError};
pub use hosts::{HostView, Hosts};
use relay::Relay;

/// The hosts, and the relays departments use (to a host: made at its first
/// department, kept until the launcher stops; here: one per worktree at
/// the user's path).
#[derive(Default)]
pub struct Placement {
    pub hosts: Arc<Hosts>,
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
        let host = host::host(ctx, &work.host).map_err(placed)?;
        let relay = self.relay(ctx, &host).await.map_err(placed)?;
        let temp_there = git::temp_path(&work.path);
        Ok(Prepared {
            environment: Some(RemoteEnvironment {
                id: host.name.clone(),
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
        let tree = git::prepare(&ssh, &host, &ctx.repo, &ws.base, &ws.name, &ws.branch).await?;
        ws.workplace = crate::model::Workplace::Host(RemoteWork {
            host: name,
            path: tree.path,
            branch: tree.branch,
            fetched: None,
            removed: false,
            refused: None,
        });
        Ok(())
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
