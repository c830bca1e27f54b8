//! Leftovers of settled work (issue 49 item 8): what an integration, a
//! discard or an Undo could not tidy at the time is found again at each
//! start, and `worktrees --prune` runs through the running launcher, under
//! its lock of the working tree, so a prune never races an integration. A
//! merged pull request's branch is deleted on the remote, with the user's
//! own git, when the rule allows it ([`crate::policy::pushed_branch`]).

use std::sync::Arc;

use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::forge::{push, PullInfo, Setup};
use crate::model::{AuditEvent, PullRequest};
use crate::policy::pushed_branch::{keeps, MergedBranch};
use crate::worktrees::{self, Pruned};

/// Prunes off the runtime, with `reason` in the audit lines.
async fn prune_off_runtime(ctx: &Arc<Context>, reason: &'static str) -> LResult<Pruned> {
    let ctx = Arc::clone(ctx);
    tokio::task::spawn_blocking(move || {
        let keep_days = ctx.config.launcher.isolation.keep_discarded_days;
        let teardown = crate::config_trust::teardown_of(&ctx.config);
        worktrees::prune_store(&ctx.repo, &ctx.store, keep_days, reason, &teardown)
            .map_err(|e| LauncherError::Internal(e.to_string()))
    })
    .await
    .unwrap_or_else(|e| Err(e.into()))
}

/// At start, with the working tree's lock held: the folders and
/// branches whose time is up (integrated work's at once, discarded work's
/// after `launcher.keep_discarded_days`), and the temporary folders'
/// folder when it is empty; ended sessions' temporary folders.
pub(super) async fn tidy_at_start(ctx: &Arc<Context>) {
    let shared = Arc::clone(ctx);
    let swept = tokio::task::spawn_blocking(move || {
        crate::sessions::start::workspace::release_ended_temp_dirs(&shared)
    })
    .await;
    if let Err(e) = swept {
        tracing::warn!("the ended sessions' temporary folders: {e}");
    }
    match prune_off_runtime(ctx, "at start").await {
        Ok(done) => {
            for line in done.lines() {
                tracing::info!("worktrees at start: {line}");
            }
        }
        Err(e) => tracing::error!("tidying the worktrees at start: {e}"),
    }
}

/// `worktrees --prune` while the launcher runs (`POST
/// /api/worktrees/prune`): as the command does without a launcher, but
/// under the launcher's lock of the working tree.
pub(super) async fn prune(
    ctx: &Arc<Context>,
    working_tree: &tokio::sync::Mutex<()>,
) -> LResult<Pruned> {
    let _one = working_tree.lock().await;
    prune_off_runtime(ctx, "pruned").await
}

/// A merged pull request's branch goes from the remote, with the user's
/// git and leased on the commit the launcher last pushed, unless the
/// rule keeps it. Either is audited (`remote_branch_deleted`,
/// `remote_branch_kept` with why).
pub(super) async fn delete_merged_branch(
    ctx: &Context,
    setup: &Setup,
    pr: &PullRequest,
    pull: &PullInfo,
) {
    let keep_branch = ctx.config.launcher.pull_requests.keep_branch;
    // The forge is asked only when the answer matters.
    let default_branch = if keep_branch {
        None
    } else {
        match setup.forge.repository().await {
            Ok(r) => Some(r.default_branch),
            Err(e) => {
                tracing::warn!("reading the forge's default branch: {e}");
                None
            }
        }
    };
    let rule = MergedBranch {
        branch: &pr.branch,
        base: &pr.base,
        forge_head: &pull.head_ref,
        default_branch: default_branch.as_deref(),
        keep_branch,
    };
    let kept = match keeps(rule) {
        Some(why) => Some(why),
        None => push::delete_at(&ctx.repo, &pr.remote, &pr.branch, &pr.head)
            .await
            .err()
            .map(|e| format!("deleting it failed: {e}")),
    };
    let owner = pr
        .carries
        .first()
        .map(|c| c.session_id.clone())
        .unwrap_or_default();
    let event = match kept {
        Some(reason) => {
            tracing::info!(
                "the branch {} of merged pull request #{} stays on {}: {reason}",
                pr.branch,
                pr.number,
                pr.remote
            );
            AuditEvent::RemoteBranchKept {
                session_id: owner,
                number: pr.number,
                branch: pr.branch.clone(),
                reason,
            }
        }
        None => AuditEvent::RemoteBranchDeleted {
            session_id: owner,
            number: pr.number,
            remote: pr.remote.clone(),
            branch: pr.branch.clone(),
            commit: pr.head.clone(),
        },
    };
    ctx.store.audit_or_log(event);
}
