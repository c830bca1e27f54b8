//! Leftovers of settled work (issue 49 item 8): what an integration, a
//! discard or an Undo could not tidy at the time is found again at each
//! start, and `worktrees --prune` runs through the running launcher, under
//! its lock of the working tree, so a prune never races an integration.

use std::sync::Arc;

use super::Integrations;
use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::worktrees::{self, Pruned};

/// Prunes off the runtime, with `reason` in the audit lines.
async fn prune_off_runtime(ctx: &Arc<Context>, reason: &'static str) -> LResult<Pruned> {
    let ctx = Arc::clone(ctx);
    tokio::task::spawn_blocking(move || {
        let keep_days = ctx.config.launcher.isolation.keep_discarded_days;
        worktrees::prune_store(&ctx.repo, &ctx.store, keep_days, reason)
            .map_err(|e| LauncherError::Internal(e.to_string()))
    })
    .await
    .unwrap_or_else(|e| Err(LauncherError::Internal(format!("pruning: {e}"))))
}

impl Integrations {
    /// At start, with the working tree's lock held: the folders and
    /// branches whose time is up (integrated work's at once, discarded work's
    /// after `launcher.keep_discarded_days`), and the temporary folders'
    /// folder when it is empty; ended sessions' temporary folders.
    pub(super) async fn tidy_at_start(&self) {
        let ctx = Arc::clone(&self.ctx);
        let swept = tokio::task::spawn_blocking(move || {
            crate::sessions::start::workspace::release_ended_temp_dirs(&ctx)
        })
        .await;
        if let Err(e) = swept {
            tracing::warn!("the ended sessions' temporary folders: {e}");
        }
        match prune_off_runtime(&self.ctx, "at start").await {
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
    pub async fn prune(&self) -> LResult<Pruned> {
        let _one = self.working_tree.lock().await;
        prune_off_runtime(&self.ctx, "pruned").await
    }
}
