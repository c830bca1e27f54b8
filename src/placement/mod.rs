//! Where a department's commands run, once it was placed (issue 76): the
//! one place that turns a workspace's `model::Workplace` into what its agent
//! gets: the environment its commands run in (a relay to its host's
//! exec-server, or to one here that shows its worktree at the user's tree's
//! path), the sandbox there, and its variables as it sees them. A
//! department in its own folder gets nothing of this: its agent runs its
//! commands itself. Its work comes back before each record
//! ([`bring_back`]) and what is left where it worked goes once it is
//! settled ([`Departure`]). The choice is `policy::placement::choose`'s.

mod back;
mod here;

use std::path::PathBuf;
use std::sync::Arc;

use crate::agents::{ExecServer, RemoteEnvironment, Sandbox};
use crate::context::Context;
use crate::model::{RemoteWork, Session, Workspace};
use crate::policy::placement::NotShownThere;
use crate::remote::{PlacementError, Remotes};

pub use back::{bring_back, Departure};
pub use here::exec_server_outside;

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

/// A session's workplace as its agent's start needs it.
pub struct Placement<'a> {
    pub ctx: &'a Arc<Context>,
    pub remotes: &'a Remotes,
}

impl Placement<'_> {
    /// The environment its commands run in: None for a department in its
    /// own folder (or any other session); a relay to its host's
    /// exec-server; or one here, shown at the user's path, that runs
    /// `server` (its backend's).
    pub async fn environment(
        &self,
        session: &Session,
        server: Option<ExecServer>,
    ) -> Result<Option<RemoteEnvironment>, PrepareError> {
        if let Some(ws) = at_users_path(session) {
            return here::environment(self, ws, server)
                .await
                .map(Some)
                .map_err(|source| PrepareError::AtUsersPath {
                    session: session.id.clone(),
                    source,
                });
        }
        let Some(work) = on_host(session) else {
            return Ok(None);
        };
        let placed = |source| PrepareError::Host {
            session: session.id.clone(),
            host: work.host.clone(),
            source,
        };
        let host = Remotes::host(self.ctx, &work.host).map_err(placed)?;
        let relay = self.remotes.relay(self.ctx, &host).await.map_err(placed)?;
        Ok(Some(RemoteEnvironment {
            id: host.name,
            url: relay.url(),
            secret: relay.secret().clone(),
            cwd: PathBuf::from(&work.path),
            here: false,
        }))
    }

    /// What its agent may touch where it works, for a department placed on
    /// a host or at the user's path (None: its own folder's sandbox);
    /// `temp` is its temporary folder here.
    pub fn sandbox(&self, session: &Session, temp: PathBuf) -> Option<Sandbox> {
        if let Some(work) = on_host(session) {
            return Some(self.sandbox_there(work));
        }
        at_users_path(session).map(|ws| here::sandbox(self.ctx, session, ws, temp))
    }

    /// Its variables where it sees them: the drop folder and prompt file
    /// through the carried state folder at the user's path, or its
    /// temporary folder on its host.
    pub fn agent_vars(
        &self,
        session: &Session,
        vars: Vec<(String, String)>,
    ) -> Vec<(String, String)> {
        if let Some(ws) = at_users_path(session) {
            return here::shown_vars(&self.ctx.repo, &self.ctx.paths.state_dir, ws, vars);
        }
        match on_host(session) {
            Some(work) => {
                crate::remote::environment_there(vars, &crate::remote::git::temp_path(&work.path))
            }
            None => vars,
        }
    }

    /// A department on another machine: its worktree and temporary folder
    /// there writable, the host's clone readable only, the network as here.
    fn sandbox_there(&self, work: &RemoteWork) -> Sandbox {
        let read_only = Remotes::host(self.ctx, &work.host)
            .map(|h| vec![PathBuf::from(h.repo)])
            .unwrap_or_default();
        Sandbox {
            network: self.ctx.config.launcher.agent.agent_network,
            hidden: Vec::new(),
            read_only,
            writable: vec![PathBuf::from(&work.path)],
            temp: Some(PathBuf::from(crate::remote::git::temp_path(&work.path))),
            work_read_only: false,
        }
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
