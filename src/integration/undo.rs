//! Undo of an Apply or a Merge: the integration's record run reversed,
//! through the same carry-out and crash recovery as an integration.

use super::saga::{carry_out, Failed};
use super::{blocking, department, launcher_error, record};
use crate::clock;
use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::model::{AuditEvent, PendingIntegration, Workspace, WorkspaceState};
use crate::policy::workspace::{enter, Event};
use crate::sessions::Sessions;
use crate::worktrees::integrate as git;

/// Undoes an Apply or a Merge: every path it wrote gets its earlier
/// content back, while each still holds what the integration wrote; a
/// Merge's branch moves back only while the merge commit is its tip.
/// Otherwise refused, naming what changed. The work is pending again (its
/// branch restored when it was deleted). Audited; a crash midway is
/// finished or undone at the next start.
/// The caller holds the working tree's lock.
pub(super) async fn undo(ctx: &Context, sessions: &Sessions, id: &str) -> LResult<Workspace> {
    let (_, ws) = department(sessions, id)?;
    if !matches!(ws.state, WorkspaceState::Applied | WorkspaceState::Merged) {
        return Err(LauncherError::Conflict(format!(
            "{id} is {}: only an applied or merged department can be undone",
            ws.state
        )));
    }
    let done = ws.integrated.clone().ok_or_else(|| {
        LauncherError::Conflict(format!(
            "{id} was integrated by an older launcher, which kept no record to undo it by"
        ))
    })?;
    let repo = ctx.repo.clone();
    let fence = record::fence(ctx);
    let blockers = {
        let (repo, done, fence) = (repo.clone(), done.clone(), fence.clone());
        blocking(move || git::undo_blockers(&repo, &done, &fence)).await?
    };
    if !blockers.is_empty() {
        return Err(LauncherError::Conflict(format!(
            "the {} of {id} cannot be undone: {}; nothing was changed",
            done.mode,
            blockers.join(", ")
        )));
    }
    let back = done.reversed(clock::now_rfc3339());
    ctx.store.update(
        |tx| match tx.session_mut(id).and_then(|s| s.workspace_mut()) {
            Some(w) => enter(w, Event::UndoBegun).map(|()| w.integrating = Some(back.clone())),
            None => Ok(()),
        },
    )??;
    let written = {
        let (back, message) = (back.clone(), format!("undo the {} of {id}", done.mode));
        blocking(move || Ok(carry_out(&repo, &back, &message, &fence))).await?
    };
    match written {
        Ok(()) => reverted(ctx, sessions, id, &back)?,
        Err(Failed::Undone(e)) => {
            not_reverted(ctx, id, &back)?;
            return Err(launcher_error(e));
        }
        Err(Failed::Stuck(e, undo)) => {
            return Err(LauncherError::Internal(format!(
                "undoing {id} failed ({e}) and could not be rolled back ({undo}): the next \
                 start finishes or rolls it back"
            )));
        }
    }
    Ok(department(sessions, id)?.1)
}

/// An Undo is in: the work is pending again, its branch back if it went.
pub(super) fn reverted(
    ctx: &Context,
    sessions: &Sessions,
    id: &str,
    back: &PendingIntegration,
) -> LResult<()> {
    let (_, ws) = department(sessions, id)?;
    let mut restored = false;
    if ws.branch_deleted {
        if let Some(commit) = &ws.commit {
            let made = git2::Repository::open(&ctx.repo).and_then(|git| {
                let c = git.find_commit(git2::Oid::from_str(commit)?)?;
                git.branch(&ws.branch, &c, false).map(drop)
            });
            match made {
                Ok(()) => restored = true,
                Err(e) => tracing::warn!("restoring the branch {}: {e}", ws.branch),
            }
        }
    }
    ctx.store.update(|tx| -> LResult<()> {
        if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
            // Only an Undo begun is reverted: the intent stays otherwise.
            enter(w, Event::IntegrationUndone)?;
            w.integrating = None;
            w.integrated = None;
            w.settled_at = None;
            if restored {
                w.branch_deleted = false;
            }
        }
        tx.audit(AuditEvent::IntegrationReverted {
            session_id: id.to_string(),
            mode: back.mode,
            paths: back.paths.len(),
            head: back.target.clone(),
        });
        Ok(())
    })?
}

/// An Undo that did not happen: the integration stands as it was.
pub(super) fn not_reverted(ctx: &Context, id: &str, back: &PendingIntegration) -> LResult<()> {
    ctx.store.update(|tx| -> LResult<()> {
        if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
            enter(w, Event::Integrated(back.mode))?;
            w.integrating = None;
            w.integrated = Some(back.reversed(back.started_at.clone()));
        }
        Ok(())
    })?
}
