//! Several attempts at one task, compared, one chosen (issue 74). Each
//! attempt is a department session of its own (`policy::attempts` lays
//! them out when the plan is registered); here is what the launcher does
//! with them as they end:
//!
//! - an attempt's recorded tree goes through the landing checks (issue 73),
//!   confined as every check is, without landing: the verification the
//!   comparison shows (`Workspace::attempt_check`, audited
//!   `attempt_checked`);
//! - `attempts_stop: first_verified` stops the others once one is green
//!   (their work is recorded and kept for review);
//! - `attempts_choose: verified` chooses by itself when every attempt ended
//!   and exactly one is green with a clean scope;
//! - a choice (the user's `POST /api/choose_attempt`, or the one above) is
//!   one store change with its `attempt_chosen` line; the others are then
//!   settled as a Discard settles work (worktree removed, branch kept), each
//!   once it ended. A restart settles what a crash left of that.

use std::sync::Arc;

use crate::config::{AttemptsChoose, AttemptsStop};
use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::integration::choice::{self, Chosen};
use crate::integration::Integrations;
use crate::model::{AttemptCheck, AuditEvent, CloseReason, Session};
use crate::policy::attempts as rules;
use crate::policy::landing::Checks;
use crate::sessions::Sessions;

/// Who chose an attempt, as the audit says.
pub const BY_USER: &str = "user";
pub const BY_VERIFICATION: &str = "attempts_choose: verified";

pub struct Attempts {
    ctx: Arc<Context>,
    sessions: Arc<Sessions>,
    integrations: Arc<Integrations>,
}

impl Attempts {
    pub fn new(
        ctx: Arc<Context>,
        sessions: Arc<Sessions>,
        integrations: Arc<Integrations>,
    ) -> Attempts {
        Attempts {
            ctx,
            sessions,
            integrations,
        }
    }

    /// A department ended and its work was recorded: an attempt's tree is
    /// checked; then what its group's settings and choice say is done.
    pub async fn exited(&self, id: &str) {
        self.ended(id, false).await;
    }

    /// `exited`'s work; at start (`at_start`) nothing is stopped: what runs
    /// was started after the fact that would stop it.
    async fn ended(&self, id: &str, at_start: bool) {
        let Some(s) = self.sessions.session(id) else {
            return;
        };
        if rules::attempt_of(&s).is_none() {
            return;
        }
        if self.settle_if_not_chosen(&s).await {
            return;
        }
        self.check(&s).await;
        self.after_check(id, at_start).await;
    }

    /// At start: checks a stop cut are run again, and a group chosen before
    /// a crash has its other attempts settled.
    pub async fn resume(&self) {
        let ids: Vec<String> = self.ctx.store.read(|st| {
            st.sessions
                .values()
                .filter(|s| rules::attempt_of(s).is_some() && !s.is_running())
                .map(|s| s.id.clone())
                .collect()
        });
        for id in ids {
            self.ended(&id, true).await;
        }
    }

    /// Chooses `id` among its attempts (`by`: [`BY_USER`] or
    /// [`BY_VERIFICATION`]): one change records the choice and its audit
    /// line; the others are then stopped and settled.
    pub async fn choose(&self, id: &str, by: &str) -> LResult<Chosen> {
        let chosen = choice::record(&self.ctx, id, by)?;
        choice::settle_others(&self.integrations, &chosen).await;
        Ok(chosen)
    }

    /// `s` is an attempt of a group whose choice is another: settled. True
    /// when it was not chosen.
    async fn settle_if_not_chosen(&self, s: &Session) -> bool {
        choice::settle_if_not_chosen(&self.integrations, s).await
    }

    /// The landing checks run confined on `tree` (blocking, on its own
    /// thread): their verdict, a failure to run them being a red one.
    async fn run_checks(
        &self,
        id: &str,
        tree: &str,
        commands: &[String],
    ) -> crate::landing::Verdict {
        let (ctx, sessions) = (Arc::clone(&self.ctx), Arc::clone(&self.sessions));
        let (id, tree, commands) = (id.to_string(), tree.to_string(), commands.to_vec());
        let ran = tokio::task::spawn_blocking(move || {
            let stopping = move || sessions.live.is_stopping();
            crate::landing::verify(
                &ctx,
                &crate::landing::Candidate {
                    session: &id,
                    tree: &tree,
                    commands: &commands,
                    stopping: &stopping,
                    on_command: &|_| {},
                },
            )
        })
        .await;
        let failed = |failure: String| crate::landing::Verdict {
            failure: Some(failure),
            output: String::new(),
            seconds: 0,
        };
        match ran {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => failed(e.to_string()),
            // Its run ended without a verdict: said so, not left running.
            Err(e) => failed(format!("the checks did not finish: {e}")),
        }
    }

    /// Runs the landing checks on `s`'s recorded tree, confined, without
    /// landing, and keeps the verdict on its workspace.
    async fn check(&self, s: &Session) {
        let Some(ws) = s.workspace().filter(|w| w.state.awaits_user()) else {
            return;
        };
        let Some(commit) = ws.commit.clone() else {
            return;
        };
        let Checks::Run(commands) = crate::integration::landing::checks_of(&self.ctx, s) else {
            return;
        };
        let repo = self.ctx.repo.clone();
        let tree = match tokio::task::spawn_blocking(move || tree_of(&repo, &commit)).await {
            Ok(Ok(tree)) => tree,
            Ok(Err(e)) => {
                tracing::warn!("{}: its tree could not be read for its checks: {e}", s.id);
                return;
            }
            Err(e) => {
                tracing::warn!("{}: {e}", s.id);
                return;
            }
        };
        let done = ws
            .attempt_check
            .as_ref()
            .is_some_and(|c| c.tree == tree && c.commands == commands && c.passed.is_some());
        if done {
            return;
        }
        let id = s.id.clone();
        let kept = self.ctx.store.update(|tx| {
            if let Some(w) = tx.session_mut(&id).and_then(|s| s.workspace_mut()) {
                w.attempt_check = Some(AttemptCheck {
                    tree: tree.clone(),
                    commands: commands.clone(),
                    passed: None,
                    failure: None,
                    output: String::new(),
                    seconds: None,
                });
            }
        });
        if let Err(e) = kept {
            tracing::error!("{id}: its check could not be recorded: {e}");
            return;
        }
        let verdict = self.run_checks(&id, &tree, &commands).await;
        if self.sessions.live.is_stopping() {
            // Cut by the stop: checked again at the next start.
            return;
        }
        let kept = self.ctx.store.update(|tx| {
            if let Some(w) = tx.session_mut(&id).and_then(|s| s.workspace_mut()) {
                w.attempt_check = Some(AttemptCheck {
                    tree: tree.clone(),
                    commands: commands.clone(),
                    passed: Some(verdict.passed()),
                    failure: verdict.failure.clone(),
                    output: crate::text::tail(&verdict.output, 4000).to_string(),
                    seconds: Some(verdict.seconds),
                });
            }
            tx.audit(AuditEvent::AttemptChecked {
                session_id: id.clone(),
                tree: tree.clone(),
                commands: commands.clone(),
                failure: verdict.failure.clone(),
                seconds: verdict.seconds,
            });
        });
        if let Err(e) = kept {
            tracing::error!("{id}: its check's verdict could not be recorded: {e}");
        }
    }

    /// After `id`'s check: the others stop when it is green and the
    /// settings say so; the launcher chooses when they say so and one
    /// qualifies.
    async fn after_check(&self, id: &str, at_start: bool) {
        let isolation = &self.ctx.config.launcher.isolation;
        let (green, running_others, choice) = self.ctx.store.read(|st| {
            let Some(s) = st.sessions.get(id) else {
                return (false, Vec::new(), None);
            };
            // Chosen already: nothing to stop or choose.
            if rules::chosen_of(st, s).is_some() {
                return (false, Vec::new(), None);
            }
            let queued = rules::attempt_of(s).is_some_and(|(p, a)| {
                st.queue.iter().any(|q| {
                    q.parent_session_id.as_deref() == Some(p)
                        && q.attempt.as_ref().is_some_and(|x| x.group == a.group)
                })
            });
            let green = s
                .workspace()
                .and_then(|w| w.attempt_check.as_ref())
                .and_then(|c| c.passed)
                == Some(true);
            let members = rules::members(st, s);
            let running: Vec<String> = members
                .iter()
                .filter(|m| m.id != id && m.is_running())
                .map(|m| m.id.clone())
                .collect();
            // An attempt still waiting for its slot may be green too.
            let choice = (!queued)
                .then(|| rules::verified_choice(&members).map(str::to_string))
                .flatten();
            (green, running, choice)
        });
        if green && !at_start && isolation.attempts_stop == AttemptsStop::FirstVerified {
            for other in running_others {
                tracing::info!("{other} stops: {id}, another attempt at its task, is verified");
                if let Err(e) = self
                    .sessions
                    .close_session(&other, CloseReason::AttemptSettled)
                    .await
                {
                    tracing::warn!("stopping {other}: {e}");
                }
            }
        }
        if isolation.attempts_choose == AttemptsChoose::Verified {
            if let Some(chosen) = choice {
                match self.choose(&chosen, BY_VERIFICATION).await {
                    Ok(c) => tracing::info!(
                        "{} chosen among its attempts: the only one verified green",
                        c.chosen
                    ),
                    Err(e) => tracing::warn!("choosing {chosen}: {e}"),
                }
            }
        }
    }

    /// The attempts of `id`'s group (`id`: a session or its queue item), for
    /// the comparison; the handler builds the view from the store with them.
    pub fn group_of(&self, id: &str) -> LResult<Vec<String>> {
        self.ctx.store.read(|st| {
            let s = st
                .sessions
                .get(id)
                .or_else(|| {
                    st.sessions.values().find(|s| {
                        s.department_part().and_then(|d| d.queue_id.as_deref()) == Some(id)
                    })
                })
                .ok_or_else(|| LauncherError::NotFound(format!("no session or queue item {id}")))?;
            if rules::attempt_of(s).is_none() {
                return Err(LauncherError::Conflict(format!(
                    "{} is not one of several attempts",
                    s.id
                )));
            }
            Ok(rules::members(st, s).iter().map(|m| m.id.clone()).collect())
        })
    }
}

fn tree_of(repo: &std::path::Path, commit: &str) -> Result<String, git2::Error> {
    let git = git2::Repository::open(repo)?;
    let c = git.find_commit(git2::Oid::from_str(commit)?)?;
    Ok(c.tree_id().to_string())
}
