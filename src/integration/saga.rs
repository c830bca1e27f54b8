//! An Apply or a Merge as one saga (issue 50 item 1), in two store changes:
//!
//! 1. **prepare**, one blocking Git job that touches nothing of the user's:
//!    the worktree's record (kept only when it moved since the last one,
//!    [`crate::policy::workspace::record_moved`]), the scope gate, the
//!    prediction and a Merge's commit (an object: no branch moves);
//! 2. **the intent**, one store change: that record, `integrating` (every
//!    path's content before and after, the merge commit), and its audit lines;
//! 3. **the job**, one blocking Git job: the paths written (a Merge's index
//!    and branch too), then the worktree and its branch removed;
//! 4. **done**, one store change: the state, `integrated`, the removal, and
//!    their audit lines together.
//!
//! A failure in the job that was undone is one store change putting the work
//! back. A crash between 2 and 4 leaves the intent stored: the next start
//! finishes or undoes it (`recover.rs`, as
//! [`crate::policy::integration_recovery`] decides). A Discard is the same
//! shape (`discard.rs`).

use std::path::Path;
use std::sync::Arc;

use super::ahead::Ahead;
pub(super) use super::landing::{Stopping, Verification};
use super::record::{self, Snapshot};
use super::tidy::{self, tidy, Tidied};
use super::{earlier_attempts, launcher_error, off_runtime};
use crate::clock;
use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::landing::Verdict;
use crate::model::{
    AuditEvent, IntegrationMode, LandingState, PathChange, PendingIntegration, Session, Workspace,
};
use crate::policy::integration::{conflict_reason, may_integrate, Gate};
use crate::policy::landing as landing_rules;
use crate::policy::workspace::{enter, next, Event};
use crate::policy::Refusal;
use crate::worktrees::integrate::{self as git, pause_at, Prediction};
use crate::worktrees::{StateFence, WorktreeError};

/// How often a step takes its record again when a report registered a
/// claim meanwhile.
pub(super) const ATTEMPTS: usize = 3;

/// The reason an integration's record gives (`worktree_recorded`).
const RECORDED_FOR: &str = "integrate";

/// What an integration came to.
pub(super) enum Outcome {
    /// It is in.
    Integrated,
    /// Its candidate failed its checks: nothing landed.
    Red(Verdict),
    /// The launcher stopped while its checks ran: no verdict; it keeps its
    /// place in the train.
    Stopped,
}

/// How many times a candidate is built and verified again when the
/// branch moved while its checks ran.
const VERIFY_ROUNDS: usize = 3;

/// Integrates `s`'s recorded work (Apply or Merge); the caller holds the
/// working tree's lock and checked that the work waits for the user. A
/// Merge with checks lands only a tree that passed them: the candidate is
/// built on the branch as it is, verified, built again, and lands when the
/// branch did not move meanwhile (else it is verified again).
pub(super) async fn integrate(
    ctx: &Arc<Context>,
    s: &Session,
    mode: IntegrationMode,
    override_scope: bool,
    verification: &Verification,
    train: &Train,
) -> LResult<Outcome> {
    let id = s.id.as_str();
    let message = match (mode, s.workspace()) {
        (IntegrationMode::Merge, Some(ws)) => Some(merge_message(ctx, s, ws, verification)),
        _ => None,
    };
    let mut verified: Option<(String, Verdict)> = None;
    for _ in 0..ATTEMPTS + VERIFY_ROUNDS {
        let claimed = record::last_claim(ctx, id)?;
        // Again on a later attempt: a report recorded it meanwhile.
        let s = latest(ctx, s);
        let prepared = {
            let (ctx, message) = (Arc::clone(ctx), message.clone());
            off_runtime(move || {
                prepare(
                    &ctx,
                    &s,
                    claimed.as_deref(),
                    mode,
                    override_scope,
                    message.as_deref(),
                )
            })
            .await?
        };
        let ready = match prepared.judged {
            Ok(Judged::Ready(ready)) => ready,
            Ok(Judged::Conflicting { prediction, files }) => {
                let snap = prepared.snap.as_ref();
                return Err(conflicting(ctx, id, mode, snap, &prediction, files)?);
            }
            Err(why) => {
                if let Some(snap) = &prepared.snap {
                    ctx.store
                        .update(|tx| record::store(tx, id, snap, RECORDED_FOR))?;
                }
                return Err(why);
            }
        };
        if let (Verification::Checks(commands), Some(tree)) =
            (verification, ready.prediction.merged_tree.as_deref())
        {
            if verified.as_ref().map(|(t, _)| t.as_str()) != Some(tree) {
                let verdict = verify(ctx, id, tree, commands, train).await?;
                if (train.stopping)() {
                    // Cut by the stop, not red: it goes on at the next start.
                    super::landing::requeue(ctx, id);
                    return Ok(Outcome::Stopped);
                }
                if !verdict.passed() {
                    train.ahead.red(tree);
                    failed(ctx, id, tree, commands, &verdict)?;
                    return Ok(Outcome::Red(verdict));
                }
                // Built again: the branch may have moved while they ran.
                verified = Some((tree.to_string(), verdict));
                continue;
            }
        }
        let landed = Landed {
            verification,
            verified: verified.as_ref().map(|(_, v)| v),
        };
        if let Some(pending) = begin(ctx, id, mode, prepared.snap.as_ref(), &ready, &landed)? {
            run(ctx, id, pending).await?;
            return Ok(Outcome::Integrated);
        }
    }
    Err(changing(id))
}

/// What a Merge's turn in the train runs with.
pub(super) struct Train {
    pub stopping: Stopping,
    /// The checks run ahead of their turn (`landing.parallel`).
    pub ahead: Arc<Ahead>,
}

/// Runs a candidate's checks off the runtime, its state on the workspace
/// while they run, and keeps how they went.
async fn verify(
    ctx: &Arc<Context>,
    id: &str,
    tree: &str,
    commands: &[String],
    train: &Train,
) -> LResult<Verdict> {
    let stopping = Arc::clone(&train.stopping);
    // Its run ahead, if one ran on this very tree: taken before the tree is
    // stored, so a Merge joining meanwhile lays its chain after this one
    // and never ends it.
    let taken = train.ahead.take(tree, commands);
    ctx.store.update(|tx| {
        if let Some(l) = tx
            .session_mut(id)
            .and_then(|s| s.workspace_mut())
            .and_then(|w| w.landing.as_mut())
        {
            l.state = LandingState::Verifying;
            l.tree = Some(tree.to_string());
            l.started_at = Some(clock::now_rfc3339());
        }
    })?;
    train.ahead.run_after(ctx, id, tree, &stopping).await;
    if let Some(verdict) = match taken {
        Some(taken) => taken.verdict().await,
        None => None,
    } {
        super::landing::set_running(ctx, id, None, false);
        return Ok(verdict);
    }
    let verdict = {
        let (ctx, id, tree, commands) = (
            Arc::clone(ctx),
            id.to_string(),
            tree.to_string(),
            commands.to_vec(),
        );
        off_runtime(move || {
            let running = |line: &str| super::landing::set_running(&ctx, &id, Some(line), false);
            crate::landing::verify(
                &ctx,
                &crate::landing::Candidate {
                    session: &id,
                    tree: &tree,
                    commands: &commands,
                    stopping: &*stopping,
                    on_command: &running,
                },
            )
            .map_err(|e| LauncherError::Conflict(e.to_string()))
        })
        .await
    };
    super::landing::set_running(ctx, id, None, false);
    verdict
}

/// A red run: the failure on the workspace and its audit line, in one change.
fn failed(
    ctx: &Context,
    id: &str,
    tree: &str,
    commands: &[String],
    verdict: &Verdict,
) -> LResult<()> {
    let failure = verdict.failure.clone().unwrap_or_default();
    ctx.store.update(|tx| {
        if let Some(l) = tx
            .session_mut(id)
            .and_then(|s| s.workspace_mut())
            .and_then(|w| w.landing.as_mut())
        {
            l.state = LandingState::Failed;
            l.failure = Some(failure.clone());
            l.output = verdict.output.clone();
            l.seconds = Some(verdict.seconds);
        }
        tx.audit(AuditEvent::LandingFailed {
            session_id: id.to_string(),
            tree: tree.to_string(),
            commands: commands.to_vec(),
            failure: failure.clone(),
            seconds: verdict.seconds,
        });
    })?;
    Ok(())
}

/// How what lands was verified, for the intent's change.
struct Landed<'a> {
    verification: &'a Verification,
    verified: Option<&'a Verdict>,
}

/// `s` as the store holds it now.
pub(super) fn latest(ctx: &Context, s: &Session) -> Session {
    let now = ctx.store.read(|st| st.sessions.get(&s.id).cloned());
    now.unwrap_or_else(|| s.clone())
}

/// A step whose record a report kept overtaking.
pub(super) fn changing(id: &str) -> LauncherError {
    LauncherError::Conflict(format!(
        "{id} kept reporting while its work was taken: nothing was done; try again"
    ))
}

/// What preparing found: the record to keep (None: the worktree did not
/// move) and what it allows.
struct Prepared {
    snap: Option<Snapshot>,
    judged: LResult<Judged>,
}

enum Judged {
    Ready(Ready),
    /// Files stand in the way: nothing is written.
    Conflicting {
        prediction: Prediction,
        files: Vec<String>,
    },
}

/// An integration that may go ahead.
struct Ready {
    gate: Gate,
    prediction: Prediction,
    /// A Merge's commit.
    target: Option<String>,
}

/// Step 1: the record, the gate, the prediction and a Merge's commit.
fn prepare(
    ctx: &Context,
    s: &Session,
    claimed: Option<&[String]>,
    mode: IntegrationMode,
    override_scope: bool,
    message: Option<&str>,
) -> LResult<Prepared> {
    let snap = record::take_if_moved(ctx, s, claimed).map_err(|e| not_recorded(&s.id, e))?;
    let judged = match s.workspace() {
        Some(ws) => judge(ctx, &s.id, ws, snap.as_ref(), mode, override_scope, message),
        None => Err(LauncherError::Conflict(format!("{} has no worktree", s.id))),
    };
    Ok(Prepared { snap, judged })
}

pub(super) fn not_recorded(id: &str, e: WorktreeError) -> LauncherError {
    LauncherError::Conflict(format!(
        "the worktree of {id} could not be recorded ({e}): nothing was done to it"
    ))
}

fn judge(
    ctx: &Context,
    id: &str,
    ws: &Workspace,
    snap: Option<&Snapshot>,
    mode: IntegrationMode,
    override_scope: bool,
    message: Option<&str>,
) -> LResult<Judged> {
    let commit = snap
        .map(|x| x.recorded.commit.clone())
        .or_else(|| ws.commit.clone())
        .ok_or_else(|| LauncherError::Conflict(format!("nothing of {id} is recorded")))?;
    // The commit about to land, as its reviewer read it (issue 75): checked
    // here, under the working tree's lock, after the record is taken again.
    crate::review::gate::check_gate(ctx, id, Some(&commit))?;
    let review = snap.map(|x| &x.review).or(ws.review.as_ref());
    let isolation = &ctx.config.launcher.isolation;
    let gate = may_integrate(isolation.scope, review, override_scope)?;
    let fence = record::fence(ctx);
    let prediction = git::predict(&ctx.repo, ws, &commit, &fence).map_err(launcher_error)?;
    let files = prediction.blocking();
    if !files.is_empty() {
        return Ok(Judged::Conflicting { prediction, files });
    }
    if prediction.paths.is_empty() {
        return Err(LauncherError::Conflict(format!(
            "{id}'s changes are already on your branch: nothing to apply or merge; \
             Discard it to settle it"
        )));
    }
    let target = match (mode, message) {
        (IntegrationMode::Merge, _) if prediction.branch.is_none() => {
            return Err(LauncherError::Conflict(
                "HEAD is detached: check out a branch to merge onto, or Apply".into(),
            ))
        }
        (IntegrationMode::Merge, Some(message)) => Some(
            git::merge_commit(&ctx.repo, &prediction, &commit, isolation.merge, message)
                .map_err(launcher_error)?,
        ),
        _ => None,
    };
    Ok(Judged::Ready(Ready {
        gate,
        prediction,
        target,
    }))
}

/// The words of a Merge's commit.
fn merge_message(
    ctx: &Context,
    s: &Session,
    ws: &Workspace,
    verification: &Verification,
) -> String {
    let summary = ctx
        .store
        .results_of_department(&s.id)
        .ok()
        .and_then(|r| r.last().map(|r| r.summary.clone()))
        .unwrap_or_default();
    let earlier = earlier_attempts(ctx, ws);
    let style = ctx.config.launcher.isolation.merge;
    let mut message = super::message::merge_message_after(style, s, ws, &summary, &earlier);
    if let Verification::Checks(commands) = verification {
        message.push_str(&landing_rules::trailer(commands));
        message.push('\n');
    }
    message
}

/// Keeps a predicted conflict (and the record, when it moved) on the
/// workspace in one change; the error to answer with.
fn conflicting(
    ctx: &Context,
    id: &str,
    mode: IntegrationMode,
    snap: Option<&Snapshot>,
    prediction: &Prediction,
    files: Vec<String>,
) -> LResult<LauncherError> {
    ctx.store.update(|tx| -> LResult<()> {
        // A worktree that cannot take the conflict (settled meanwhile) keeps
        // its record as it is: the step stops with the machine's refusal.
        if let Some(w) = tx.session(id).and_then(|s| s.workspace()) {
            next(w.state, Event::Conflict)?;
        }
        if let Some(snap) = snap {
            record::store(tx, id, snap, RECORDED_FOR);
        }
        if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
            enter(w, Event::Conflict)?;
            w.conflicts = files.clone();
        }
        tx.audit(AuditEvent::IntegrationConflict {
            session_id: id.to_string(),
            mode,
            files: files.clone(),
        });
        Ok(())
    })??;
    let why = conflict_reason(
        &files,
        &prediction.uncommitted,
        !prediction.unsafe_paths.is_empty(),
    );
    Ok(LauncherError::Conflict(format!(
        "{mode} of {id} would conflict in {} ({why}); nothing was changed",
        files.join(", ")
    )))
}

/// Step 2, the intent: the record when it moved, the paths and the merge
/// commit, in one change before anything is written. None when a report
/// registered a claim since the record was taken (take it again).
fn begin(
    ctx: &Context,
    id: &str,
    mode: IntegrationMode,
    snap: Option<&Snapshot>,
    ready: &Ready,
    landed: &Landed<'_>,
) -> LResult<Option<PendingIntegration>> {
    let p = &ready.prediction;
    let pending = PendingIntegration {
        mode,
        head: p.head.clone(),
        target: ready.target.clone(),
        branch: p.branch.clone(),
        paths: p.paths.clone(),
        started_at: clock::now_rfc3339(),
        undo: false,
    };
    let begun = ctx.store.update(|tx| {
        let state = tx.session(id).and_then(|s| s.workspace()).map(|w| w.state);
        let state = state.ok_or_else(|| Refusal::Unknown(format!("{id} has no worktree")))?;
        // Refused before anything is written.
        next(state, Event::IntegrationBegun)?;
        if let Some(snap) = snap {
            if record::stale(tx, id, snap) {
                return Ok(false);
            }
            record::keep(tx, id, snap, RECORDED_FOR);
        }
        if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
            enter(w, Event::IntegrationBegun)?;
            w.integrating = Some(pending.clone());
            w.conflicts.clear();
        }
        if let Gate::Overridden(files) = &ready.gate {
            tx.audit(AuditEvent::ScopeOverridden {
                session_id: id.to_string(),
                files: files.clone(),
            });
        }
        landing_begun(tx, id, p, pending.target.as_deref(), landed);
        tx.audit(AuditEvent::IntegrationStarted {
            session_id: id.to_string(),
            mode,
            head: pending.head.clone(),
            paths: pending.paths.len(),
            target: pending.target.clone(),
        });
        Ok::<bool, Refusal>(true)
    })??;
    Ok(begun.then_some(pending))
}

/// A Merge's landing in its intent's change: a verified one's audit line
/// naming the commit that lands and its tree, or the user's reason for
/// landing without the checks.
fn landing_begun(
    tx: &mut crate::store::Tx<'_>,
    id: &str,
    p: &Prediction,
    target: Option<&str>,
    landed: &Landed<'_>,
) {
    match (landed.verification, landed.verified, target) {
        (Verification::Checks(commands), Some(verdict), commit) => {
            if let Some(l) = tx
                .session_mut(id)
                .and_then(|s| s.workspace_mut())
                .and_then(|w| w.landing.as_mut())
            {
                l.state = LandingState::Passed;
                l.failure = None;
                l.output = verdict.output.clone();
                l.seconds = Some(verdict.seconds);
            }
            tx.audit(AuditEvent::LandingVerified {
                session_id: id.to_string(),
                commit: commit.map(str::to_string),
                tree: p.merged_tree.clone().unwrap_or_default(),
                commands: commands.clone(),
                exit: 0,
                seconds: verdict.seconds,
            });
        }
        (Verification::Without(reason), _, Some(_)) => {
            // An earlier red run or place in the train no longer says anything.
            if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
                w.landing = None;
            }
            tx.audit(AuditEvent::LandedUnverified {
                session_id: id.to_string(),
                reason: reason.clone(),
            })
        }
        _ => {}
    }
}

/// What the Git job did.
enum Job {
    /// Written, then the worktree tidied as far as it could be.
    Done(Tidied),
    Failed(Failed),
}

/// Steps 3 and 4: the Git job, then done (or put back when it failed and
/// was undone; left integrating for the next start when it could not be).
async fn run(ctx: &Arc<Context>, id: &str, pending: PendingIntegration) -> LResult<()> {
    let mode = pending.mode;
    let ws = ctx
        .store
        .read(|st| st.sessions.get(id).and_then(|s| s.workspace().cloned()))
        .ok_or_else(|| LauncherError::NotFound(format!("no session {id}")))?;
    let job = {
        let repo = ctx.repo.clone();
        let fence = record::fence(ctx);
        let teardown = crate::config_trust::teardown_of(&ctx.config);
        let hosts = crate::placement::Departure::of(ctx);
        let message = format!("{} {id}: {mode}", ws.branch);
        let pending = pending.clone();
        off_runtime(move || {
            pause_at("intent");
            Ok(match carry_out(&repo, &pending, &message, &fence) {
                Ok(()) => {
                    let tidied = tidy(&repo, &ws, true, &teardown, &hosts);
                    pause_at("done");
                    Job::Done(tidied)
                }
                Err(failed) => Job::Failed(failed),
            })
        })
        .await?
    };
    match job {
        Job::Done(tidied) => settle(
            ctx,
            id,
            &Settled {
                mode,
                commit: pending.target,
                recovered: false,
                tidied,
                reason: mode.as_str(),
            },
        ),
        Job::Failed(Failed::Undone(e)) => {
            let e = launcher_error(e);
            undone(ctx, id, mode, &e.to_string())?;
            Err(e)
        }
        Job::Failed(Failed::Stuck(e, undo)) => {
            // The intent stays: the next start finishes or undoes it.
            tracing::error!("undoing the failed integration of {id}: {undo}");
            Err(LauncherError::Internal(format!(
                "{mode} of {id} failed ({e}) and could not be undone ({undo}): \
                 it stays integrating, and the next start finishes or undoes it"
            )))
        }
    }
}

/// An integration that is in, for the done change.
pub(super) struct Settled<'a> {
    pub mode: IntegrationMode,
    /// A Merge's commit.
    pub commit: Option<String>,
    /// Finished by the next start's recovery.
    pub recovered: bool,
    pub tidied: Tidied,
    /// Why the worktree went, for its audit lines.
    pub reason: &'a str,
}

/// Step 4, done: the state, `integrated`, the removal and their audit lines
/// in one change.
pub(super) fn settle(ctx: &Context, id: &str, done: &Settled<'_>) -> LResult<()> {
    ctx.store.update(|tx| -> LResult<()> {
        let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) else {
            return Ok(());
        };
        // Only an integration begun settles; anything else is a second
        // command on the worktree: the intent stays for the next start.
        enter(w, Event::Integrated(done.mode))?;
        w.settled_at = Some(clock::now_rfc3339());
        w.integrated = w.integrating.take();
        w.conflicts.clear();
        tidy::mark(w, &done.tidied);
        let ws = w.clone();
        tx.audit(AuditEvent::IntegrationDone {
            session_id: id.to_string(),
            mode: done.mode,
            commit: done.commit.clone(),
            recovered: done.recovered,
        });
        tidy::audit(tx, id, &ws, &done.tidied, done.reason);
        Ok(())
    })?
}

/// An integration that was taken back: the work waits again, in one change.
pub(super) fn undone(ctx: &Context, id: &str, mode: IntegrationMode, error: &str) -> LResult<()> {
    ctx.store.update(|tx| -> LResult<()> {
        if let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) {
            enter(w, Event::IntegrationUndone)?;
            w.integrating = None;
            // Verified but not landed: it is asked again as any Merge.
            if w.landing
                .as_ref()
                .is_some_and(|l| l.state == LandingState::Passed)
            {
                w.landing = None;
            }
        }
        tx.audit(AuditEvent::IntegrationUndone {
            session_id: id.to_string(),
            mode,
            error: error.to_string(),
        });
        Ok(())
    })?
}

/// Writes an integration's paths (the index too for a merge), then moves
/// the branch; anything failing on the way is undone before the error.
pub(super) fn carry_out(
    repo: &Path,
    p: &PendingIntegration,
    message: &str,
    fence: &StateFence,
) -> Result<(), Failed> {
    let merge = p.target.is_some();
    let paths: Vec<&PathChange> = p.paths.iter().collect();
    let done = git::write_predicted(repo, &paths, merge, fence).and_then(|()| {
        match (&p.target, &p.branch) {
            (Some(target), Some(branch)) => {
                git::move_branch(repo, branch, &p.head, target, message)
            }
            _ => Ok(()),
        }
    });
    if let Err(e) = done {
        return Err(match git::recover(repo, p, fence) {
            Ok(_) => Failed::Undone(e),
            Err(undo) => Failed::Stuck(e, undo),
        });
    }
    Ok(())
}

/// How a carried-out integration failed.
pub(super) enum Failed {
    /// Nothing of it is in.
    Undone(WorktreeError),
    /// Undoing failed too: left for the next start's recovery.
    Stuck(WorktreeError, WorktreeError),
}

#[cfg(test)]
#[path = "saga_tests.rs"]
mod tests;
