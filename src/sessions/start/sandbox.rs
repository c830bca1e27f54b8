//! What an agent's own sandbox lets it touch where it works here: a
//! department in its own folder, and a reviewer, which only reads. (A
//! department placed on a host or at the user's path gets its sandbox
//! there from `placement`.)

use std::path::PathBuf;

use super::workspace;
use crate::agents::Sandbox;
use crate::context::Context;
use crate::model::{ReviewerPart, Session};

/// What a sandboxed agent may touch: its working folder (a department's
/// own worktree, when isolated, the user's working tree then read-only
/// to it) and its private temporary folder; never the worktrees folder
/// (other departments' worktrees and temporary folders), `/tmp` or
/// `$TMPDIR`, wherever the repository lives; never the launcher's state
/// folder (its database, log, tokens and other sessions' mailboxes) but
/// for a department's own drop folder; the network only when
/// `launcher.agent_network` is on.
pub(super) fn own(ctx: &Context, session: &Session) -> Sandbox {
    let temp = workspace::temp_dir(ctx, session);
    let drop_folder = session
        .department_part()
        .and_then(|d| d.drop_folder.clone())
        .map(PathBuf::from);
    let worktree = session
        .workspace()
        .filter(|w| !w.removed)
        .map(|w| PathBuf::from(&w.path));
    let mut read_only = Vec::new();
    if worktree.is_some() {
        read_only.push(ctx.repo.clone());
    }
    let worktrees = crate::worktrees::root_for(&ctx.repo);
    // A profile naming a folder that is not there yet is not relied on:
    // made later, it is still under /tmp (read-only) or outside the
    // working folder (never writable).
    if worktrees.is_dir() {
        read_only.push(worktrees);
    }
    let workdir = worktree.unwrap_or_else(|| ctx.repo.clone());
    Sandbox {
        network: ctx.config.launcher.agent.agent_network,
        hidden: vec![ctx.paths.state_dir.clone()],
        read_only,
        writable: std::iter::once(workdir).chain(drop_folder).collect(),
        temp: Some(temp),
        work_read_only: false,
    }
}

/// A reviewer (issue 75) reads, and writes nothing but its temporary
/// folder: the tree it reviews, the repository and the worktrees are
/// read-only, the state folder hidden, the network as a department's.
pub(super) fn for_reviewer(ctx: &Context, session: &Session, r: &ReviewerPart) -> Sandbox {
    let mut read_only = vec![ctx.repo.clone(), PathBuf::from(&r.folder)];
    let worktrees = crate::worktrees::root_for(&ctx.repo);
    if worktrees.is_dir() {
        read_only.push(worktrees);
    }
    Sandbox {
        network: ctx.config.launcher.agent.agent_network,
        hidden: vec![ctx.paths.state_dir.clone()],
        read_only,
        writable: Vec::new(),
        temp: Some(workspace::temp_dir(ctx, session)),
        work_read_only: true,
    }
}
