//! What comes back from where a department worked, and what is left
//! there when its work is settled (issue 76's `bring_back` and `leave`): a
//! host's worktree fetched into the one here before each record, and
//! removed with its branch and refs once the work is settled.

use super::git::{self, Fetched};
use super::host::{self, trusted_hosts};
use super::ssh::Ssh;
use crate::config::remotes::Remote;
use crate::context::Context;
use crate::model::{RemoteWork, Session, Workspace};
use crate::worktrees::{self, WorktreeError};

/// A department's work on its host (issue 53): committed there, fetched
/// back, and written into its worktree here for the record that follows;
/// None for one that works here. The caller holds the recording lock.
pub fn bring_back(
    ctx: &Context,
    session: &Session,
    ws: &Workspace,
) -> Result<Option<Fetched>, WorktreeError> {
    let Some(work) = ws.workplace.host() else {
        return Ok(None);
    };
    let fetched = fetch_remote_once(ctx, session, ws, work);
    // Kept on the workspace, so the drawer and a Merge say why (issue 69 item 9).
    let refused = fetched.as_ref().err().map(ToString::to_string);
    if refused != work.refused {
        let kept = ctx.store.update(|tx| {
            let remote = tx
                .session_mut(&session.id)
                .and_then(|s| s.workspace_mut())
                .and_then(|w| w.workplace.host_mut());
            if let Some(remote) = remote {
                remote.refused = refused.clone();
            }
        });
        if let Err(e) = kept {
            tracing::error!("{}: keeping why its work was refused: {e}", session.id);
        }
    }
    fetched.map(Some)
}

fn fetch_remote_once(
    ctx: &Context,
    session: &Session,
    ws: &Workspace,
    work: &RemoteWork,
) -> Result<git::Fetched, WorktreeError> {
    let refused =
        |e: String| WorktreeError::Refused(format!("{}'s work on {}: {e}", session.id, work.host));
    let host = host::for_work(ctx, work).map_err(|e| refused(e.to_string()))?;
    let ssh = host::ssh(ctx).map_err(|e| refused(e.to_string()))?;
    let tree = git::RemoteTree {
        path: work.path.clone(),
        branch: work.branch.clone(),
    };
    let limit = ctx.config.launcher.isolation.max_file_bytes;
    let fetched = git::fetch_back(&ssh, &host, &ctx.repo, &session.id, &tree, limit)
        .map_err(|e| refused(e.to_string()))?;
    let over = git::oversized(&ctx.repo, &ws.base, &fetched.commit, limit)
        .map_err(|e| refused(format!("reading what was fetched: {}", e.message())))?;
    if !over.is_empty() {
        return Err(refused(format!(
            "it brings files over launcher.worktree_max_file_bytes ({limit} bytes), which \
             grew while it was recorded there: {}; nothing is written here",
            over.join(", ")
        )));
    }
    worktrees::mirror::write_commit(&ctx.repo, ws, &fetched.commit)?;
    Ok(fetched)
}

/// What removing a settled department's worktree on its host needs (issue
/// 53): the hosts and the user's ssh, read once from the configuration.
pub struct Departure {
    remotes: Vec<Remote>,
    ssh: Option<Ssh>,
    /// The state folder, where the containers of its making are written down.
    state: std::path::PathBuf,
    /// The user's teardown commands, run in a worktree there before it goes.
    teardown: crate::worktrees::Teardown,
}

impl Departure {
    pub fn of(ctx: &Context) -> Departure {
        Departure {
            remotes: trusted_hosts(&ctx.config),
            ssh: Ssh::new(&ctx.config.launcher.ssh_program).ok(),
            state: ctx.paths.state_dir.clone(),
            teardown: crate::config_trust::teardown_of(&ctx.config),
        }
    }

    /// Removes `ws`'s worktree, branch and refs on its host (blocking);
    /// true when they are gone. A container of the department's own goes
    /// instead, when its provider removes containers. A failure is logged
    /// and tried again later.
    pub fn leave(&self, repo: &std::path::Path, ws: &crate::model::Workspace) -> bool {
        let Some(work) = ws.workplace.host().filter(|w| !w.removed) else {
            return false;
        };
        let Some(host) = self.remotes.iter().find(|r| r.name == work.host) else {
            tracing::warn!(
                "{} is no longer under launcher.remotes, or what the file says of it waits for \
                 your trust: {} stays until it can be reached",
                work.host,
                work.path
            );
            return false;
        };
        let reached = match &work.container {
            Some(id) => host.in_container(id),
            None => host.clone(),
        };
        if let Some(ssh) = &self.ssh {
            let there = super::Inside::with(ssh.clone(), reached, work, &ws.name);
            there.tear_down(&self.teardown, repo, std::path::Path::new(&ws.path));
        }
        if let Some(id) = &work.container {
            let inside = host.in_container(id);
            let removes = inside
                .lifecycle
                .as_ref()
                .is_some_and(|l| !l.destroy.is_empty());
            if removes && super::Containers::per_department(&inside) {
                return match super::containers::destroy(&self.state, &inside, id) {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::warn!("removing {}'s container: {e}", ws.name);
                        false
                    }
                };
            }
        }
        let Some(ssh) = &self.ssh else { return false };
        let tree = git::RemoteTree {
            path: work.path.clone(),
            branch: work.branch.clone(),
        };
        let host = match &work.container {
            Some(id) => host.in_container(id),
            None => host.clone(),
        };
        match git::remove(ssh, &host, repo, &tree) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("removing {} on {}: {e}", work.path, work.host);
                false
            }
        }
    }
}
