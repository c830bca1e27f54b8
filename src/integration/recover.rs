//! What a start finds of the previous run: an integration a crash cut is
//! finished or undone (as [`crate::policy::integration_recovery`] decides
//! from what Git shows), in the same two steps as the saga's end (one Git
//! job, one change); settled worktrees left behind are tidied; departments
//! cut off before their work was recorded are recorded.

use super::saga::{settle, undone, Settled};
use super::tidy::{tidy, Tidied};
use super::{off_runtime, record, Integrations};
use crate::error::LResult;
use crate::model::{PendingIntegration, Workspace, WorkspaceState};
use crate::worktrees::integrate::{self as git, Recovered};

impl Integrations {
    /// At start: integrations a crash interrupted are finished or undone;
    /// settled worktrees whose folder or integrated branch is still there are
    /// tidied, discarded branches past their days deleted; departments the
    /// previous run cut off before their work was recorded are recorded.
    pub async fn recover(&self) {
        {
            let _one = self.working_tree.lock().await;
            let workspaces: Vec<(String, Workspace)> = self.ctx.store.read(|s| {
                s.sessions
                    .values()
                    .filter_map(|x| Some((x.id.clone(), x.workspace()?.clone())))
                    .collect()
            });
            for (id, ws) in workspaces {
                if let Some(p) = ws.integrating.clone() {
                    if let Err(e) = self.recover_one(&id, &ws, p).await {
                        tracing::error!("recovering the integration of {id}: {e}");
                    }
                }
                self.remove_folder(&id, "integrated before a restart").await;
            }
            self.tidy_at_start().await;
        }
        self.record_cut_off().await;
    }

    /// Records every department that no longer runs but whose work was never
    /// recorded: one a stop or a restart ended without the exit that records
    /// it (its exit signal went unheard, or it died with the launcher). Its
    /// work becomes pending, so it can be integrated, discarded or sent back.
    pub async fn record_cut_off(&self) {
        let cut_off: Vec<String> = self.ctx.store.read(|s| {
            s.sessions
                .values()
                .filter(|x| !x.is_running())
                .filter(|x| {
                    x.workspace()
                        .is_some_and(|w| w.state == WorkspaceState::Working)
                })
                .map(|x| x.id.clone())
                .collect()
        });
        for id in cut_off {
            self.department_exited(&id).await;
        }
    }

    /// One interrupted integration (or Undo): Git read and set right, and for
    /// a finished integration the worktree tidied, in one job; then one change.
    async fn recover_one(&self, id: &str, ws: &Workspace, p: PendingIntegration) -> LResult<()> {
        let (recovered, tidied) = {
            let repo = self.ctx.repo.clone();
            let fence = record::fence(&self.ctx);
            let teardown = crate::config_trust::teardown_of(&self.ctx.config);
            let hosts = crate::placement::Departure::of(&self.ctx);
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
            Recovered::Done { .. } if p.undo => self.reverted(id, &p),
            _ if p.undo => self.not_reverted(id, &p),
            Recovered::Done { .. } => settle(
                &self.ctx,
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
                &self.ctx,
                id,
                p.mode,
                "the launcher stopped during the integration: undone",
            ),
            Recovered::NothingWritten { .. } => undone(
                &self.ctx,
                id,
                p.mode,
                "the launcher stopped before the integration wrote anything: nothing to undo",
            ),
        }
    }
}
