//! A container of the launcher's making that went away while departments
//! worked in it (issue 76 item 3): removed for good (if anything is left of
//! it), made again under the same id, and each of its departments'
//! worktrees made there again from what was last fetched back of it (the
//! plan's base when nothing was). Their threads, on the launcher's own
//! app-server, go on there once its relay connects again.

use super::containers::{ContainerError, Containers};
use super::git::{self, RemoteGitError};
use super::ssh::Ssh;
use crate::config::remotes::Remote;
use crate::context::Context;
use crate::model::AuditEvent;

/// Why a container could not be made again.
#[derive(Debug, thiserror::Error)]
pub enum RemakeError {
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error("{session}'s worktree in the new container: {source}")]
    Worktree {
        session: String,
        #[source]
        source: RemoteGitError,
    },
}

/// Makes container `inside` (a host as it reaches one container) again,
/// with the worktrees of the departments that work in it.
pub(super) async fn remake(
    ctx: &Context,
    containers: &Containers,
    ssh: &Ssh,
    inside: &Remote,
) -> Result<(), RemakeError> {
    let Some(id) = inside.container.clone() else {
        return Ok(());
    };
    // No exec-server starts in it before its worktrees are there.
    let gate = containers.gate(&inside.name, &id);
    let _held = gate.write().await;
    let state = ctx.paths.state_dir.clone();
    let (host_gone, id_gone) = (inside.clone(), id.clone());
    // Whatever is left of it (stopped, cut off) goes first.
    let removed =
        tokio::task::spawn_blocking(move || super::containers::destroy_line(&host_gone, &id_gone))
            .await;
    if let Ok(Err(e)) = removed {
        tracing::info!(
            "{}: removing what was left of container {id}: {e}",
            inside.name
        );
    }
    containers.make_again(&state, ssh, inside, &id).await?;
    let works = works_in(ctx, &inside.name, &id);
    for (session, name, base, branch) in &works {
        git::prepare(ssh, inside, &ctx.repo, base, name, branch)
            .await
            .map_err(|source| RemakeError::Worktree {
                session: session.clone(),
                source,
            })?;
    }
    ctx.store.audit_or_log(AuditEvent::ContainerRemade {
        host: inside.name.clone(),
        container: id,
        session_ids: works.into_iter().map(|w| w.0).collect(),
    });
    Ok(())
}

/// The departments whose worktree is in container `id` of `host`: session,
/// worktree name, the commit to start from, its branch there.
fn works_in(ctx: &Context, host: &str, id: &str) -> Vec<(String, String, String, String)> {
    ctx.store.read(|s| {
        let mut seen = std::collections::HashSet::new();
        s.sessions
            .values()
            .filter_map(|x| Some((x.id.clone(), x.workspace()?)))
            .filter(|(_, w)| !w.removed)
            .filter_map(|(session, w)| {
                let work = w.workplace.host()?;
                let here = work.host == host && work.container.as_deref() == Some(id);
                (here && !work.removed && seen.insert(w.name.clone())).then(|| {
                    let from = work.fetched.clone().unwrap_or_else(|| w.base.clone());
                    (session, w.name.clone(), from, work.branch.clone())
                })
            })
            .collect()
    })
}
