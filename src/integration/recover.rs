//! What a start finds of the previous run: an integration a crash cut is
//! finished or undone (as [`crate::policy::integration_recovery`] decides
//! from what Git shows), in the same two steps as the saga's end (one Git
//! job, one change); settled worktrees left behind are tidied; departments
//! cut off before their work was recorded are recorded.

use std::sync::Arc;

use super::saga::{settle, undone, Settled};
use super::tidy::{remove_folder, tidy, Tidied};
use super::undo::{not_reverted, reverted};
use super::{cleanup, off_runtime, record};
use crate::context::Context;
use crate::error::LResult;
use crate::model::{PendingIntegration, Workspace, WorkspaceState};
use crate::sessions::Sessions;
use crate::worktrees::integrate::{self as git, Recovered};

/// At start, with the working tree's lock held: integrations a crash
/// interrupted are finished or undone; settled worktrees whose folder or
/// integrated branch is still there are tidied, discarded branches past
/// their days deleted.
pub(super) async fn interrupted(ctx: &Arc<Context>, sessions: &Sessions) {
    let workspaces: Vec<(String, Workspace)> = ctx.store.read(|s| {
        s.sessions
            .values()
            .filter_map(|x| Some((x.id.clone(), x.workspace()?.clone())))
            .collect()
    });
    for (id, ws) in workspaces {
        if let Some(p) = ws.integrating.clone() {
            if let Err(e) = recover_one(ctx, sessions, &id, &ws, p).await {
                tracing::error!("recovering the integration of {id}: {e}");
            }
        }
        remove_folder(ctx, sessions, &id, "integrated before a restart").await;
    }
    cleanup::tidy_at_start(ctx).await;
}

/// The departments that no longer run but whose work was never recorded:
/// ones a stop or a restart ended without the exit that records it (its
/// exit signal went unheard, or it died with the launcher).
pub(super) fn cut_off(ctx: &Context) -> Vec<String> {
    ctx.store.read(|s| {
        s.sessions
            .values()
            .filter(|x| !x.is_running())
            .filter(|x| {
                x.workspace()
                    .is_some_and(|w| w.state == WorkspaceState::Working)
            })
            .map(|x| x.id.clone())
            .collect()
    })
}

/// One interrupted integration (or Undo): Git read and set right, and for
/// a finished integration the worktree tidied, in one job; then one change.
async fn recover_one(
    ctx: &Context,
    sessions: &Sessions,
    id: &str,
    ws: &Workspace,
    p: PendingIntegration,
) -> LResult<()> {
    let (recovered, tidied) = {
        let repo = ctx.repo.clone();
        let fence = record::fence(ctx);
        let teardown = crate::config_trust::teardown_of(&ctx.config);
        let hosts = crate::placement::Departure::of(ctx);
        let (p, ws) = (p.clone(), ws.clone());
        off_runtime(move || {
            let recovered = git::recover(&repo, &p, &fence).map_err(super::launcher_error)?;
            let tidied = match recovered {
                Recovered::Done { .. } if !p.undo => tidy(&repo, &ws, true, &teardown, &hosts),
                _ => Tidied::default(),
            };
            Ok((recovered, tidied))
        })
        .await?
    };
    let (Recovered::Done { untouched }
    | Recovered::Undone { untouched }
    | Recovered::NothingWritten { untouched }) = &recovered;
    if !untouched.is_empty() {
        tracing::warn!(
            "integration of {id}: left as found (changed meanwhile): {}",
            untouched.join(", ")
        );
    }
    match recovered {
        Recovered::Done { .. } if p.undo => reverted(ctx, sessions, id, &p),
        _ if p.undo => not_reverted(ctx, id, &p),
        Recovered::Done { .. } => settle(
            ctx,
            id,
            &Settled {
                mode: p.mode,
                commit: p.target.clone(),
                recovered: true,
                tidied,
                reason: "integrated before a restart",
            },
        ),
        Recovered::Undone { .. } => undone(
            ctx,
            id,
            p.mode,
            "the launcher stopped during the integration: undone",
        ),
        Recovered::NothingWritten { .. } => undone(
            ctx,
            id,
            p.mode,
            "the launcher stopped before the integration wrote anything: nothing to undo",
        ),
    }
}
