//! Recording a department's worktree when it reports or exits: the commit
//! (Git work, done before the store change) and its review against the
//! department's mandate, then the record kept on the workspace (and on the
//! result) in the store change with its audit line.

use std::sync::Mutex;

use crate::context::Context;
use crate::model::{AuditEvent, ChangeReview, ResultSource, Session, TaskResult, WorkspaceState};
use crate::policy::changes::{flag_recording, nothing_to_review, review, Mandate};
use crate::policy::routing::Router;
use crate::policy::workspace::{self, record_moved, Event};
use crate::store::{StoreError, Tx};
use crate::worktrees::{self, RecordRules, Recorded, StateFence, WorktreeError};

/// One record at a time: a report and an exit of the same department may
/// both ask, and Git's index lock takes one writer.
static RECORDING: Mutex<()> = Mutex::new(());

/// A department's worktree as recorded just now.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub recorded: Recorded,
    pub review: ChangeReview,
    /// Whether the review checked a report's claim.
    pub claimed: bool,
    /// A remote department's work fetched back for this record: the commit.
    pub fetched: Option<String>,
}

/// The launcher's state folder as no department's work may touch it.
pub fn fence(ctx: &Context) -> StateFence {
    StateFence::new(&ctx.repo, &ctx.paths.state_dir)
}

/// What a record leaves out: the state folder, files over the size limit.
pub fn rules(ctx: &Context) -> RecordRules {
    RecordRules {
        fence: fence(ctx),
        max_file_bytes: Some(ctx.config.launcher.isolation.max_file_bytes),
    }
}

/// [`take`] for a report or an exit, which go on without a record: a Git
/// failure is logged, and the report is registered without it.
pub fn take_or_log(
    ctx: &Context,
    session: &Session,
    claimed: Option<&[String]>,
) -> Option<Snapshot> {
    take(ctx, session, claimed).unwrap_or_else(|e| {
        tracing::error!("recording the worktree of {}: {e}", session.id);
        None
    })
}

/// Commits the worktree of `session` and reviews its changes against the
/// report's `claimed` files (None: nothing claimed). None when the session
/// has no worktree of its own to record (shared, settled, handed over).
pub fn take(
    ctx: &Context,
    session: &Session,
    claimed: Option<&[String]>,
) -> Result<Option<Snapshot>, WorktreeError> {
    let Some(ws) = session.workspace() else {
        return Ok(None);
    };
    if ws.removed || ws.state.is_settled() || ws.state == WorkspaceState::SentBack {
        return Ok(None);
    }
    let department = session.department.as_deref().unwrap_or("department");
    let first_line = session.task.lines().next().unwrap_or("").trim();
    let message = format!("{department} {}: {first_line}", session.id);
    // A remote department's work is written into its worktree here under
    // the same lock: a report's record and an exit's both write its index.
    let (fetched, recorded) = {
        let _one = RECORDING.lock().unwrap_or_else(|e| e.into_inner());
        let fetched = crate::placement::bring_back(ctx, session, ws)?;
        let recorded = worktrees::author(department, &session.id)
            .and_then(|author| worktrees::record(&ctx.repo, ws, &author, &message, &rules(ctx)));
        (fetched, recorded)
    };
    let mut recorded = recorded?;
    // What stays on the host is left out as what stays in a worktree here.
    let fetched = fetched.map(|f| {
        recorded.left_out.extend(f.left_out);
        f.commit
    });
    let globs = ctx
        .config
        .department(department)
        .map(|d| d.globs)
        .unwrap_or_default();
    let files = session
        .department_part()
        .map(|d| d.files.clone())
        .unwrap_or_default();
    let repo = ctx.repo.display().to_string();
    let mut review = review(
        Mandate {
            files: &files,
            globs: &globs,
        },
        &recorded.files,
        claimed,
        &[ws.path.as_str(), repo.as_str()],
        &Router::new(&ctx.config),
    );
    flag_recording(
        &mut review,
        &recorded.fenced,
        &recorded.left_out,
        &recorded.links,
    );
    Ok(Some(Snapshot {
        recorded,
        review,
        claimed: claimed.is_some(),
        fetched,
    }))
}

/// Keeps a record on the department's workspace, with its audit line: a
/// department that was working now waits for the user. False, and nothing
/// kept, when the record is [`stale`]: take it again.
pub fn store(tx: &mut Tx, session_id: &str, snap: &Snapshot, reason: &str) -> bool {
    if stale(tx, session_id, snap) {
        return false;
    }
    keep(tx, session_id, snap, reason);
    true
}

/// Whether a record checked no claim but a report has registered one since
/// it was taken (an exit racing its report).
pub fn stale(tx: &mut Tx, session_id: &str, snap: &Snapshot) -> bool {
    !snap.claimed
        && tx
            .results_of_department(session_id)
            .iter()
            .any(|r| r.source == ResultSource::Mailbox)
}

/// [`store`] without the [`stale`] check, for a caller that made it.
pub fn keep(tx: &mut Tx, session_id: &str, snap: &Snapshot, reason: &str) {
    let r = &snap.recorded;
    if let Some(ws) = tx.session_mut(session_id).and_then(|s| s.workspace_mut()) {
        ws.commit = Some(r.commit.clone());
        ws.actual_changed_files = r.files.clone();
        ws.diff_stat = Some(r.stat);
        ws.review = Some(snap.review.clone());
        ws.nothing_to_review = nothing_to_review(&r.files, &r.fenced, &r.left_out);
        workspace::observe(ws, Event::Recorded);
        if let (Some(work), Some(commit)) = (ws.workplace.host_mut(), &snap.fetched) {
            work.fetched = Some(commit.clone());
            let fetched = AuditEvent::RemoteWorkFetched {
                session_id: session_id.to_string(),
                host: work.host.clone(),
                remote_path: work.path.clone(),
                commit: commit.clone(),
            };
            tx.audit(fetched);
        }
    }
    tx.audit(AuditEvent::WorktreeRecorded {
        session_id: session_id.to_string(),
        commit: r.commit.clone(),
        new_commit: r.new_commit,
        reason: reason.to_string(),
        files: r.stat.files,
        insertions: r.stat.insertions,
        deletions: r.stat.deletions,
        decision: snap.review.decision,
        out_of_scope: snap.review.out_of_scope().len(),
    });
}

/// The files the department's last report claims (None: it never reported).
pub fn last_claim(ctx: &Context, session_id: &str) -> Result<Option<Vec<String>>, StoreError> {
    Ok(ctx
        .store
        .results_of_department(session_id)?
        .into_iter()
        .rev()
        .find(|r| r.source == ResultSource::Mailbox)
        .map(|r| r.changed_files))
}

/// [`take`] for a step that writes a record only when it says more than the
/// one kept ([`record_moved`]): None when the worktree did not move.
pub fn take_if_moved(
    ctx: &Context,
    session: &Session,
    claimed: Option<&[String]>,
) -> Result<Option<Snapshot>, WorktreeError> {
    let Some(ws) = session.workspace() else {
        return Ok(None);
    };
    Ok(take(ctx, session, claimed)?.filter(|snap| record_moved(ws, &snap.recorded.commit)))
}

/// What a result carries of the record.
pub fn fill_result(result: &mut TaskResult, snap: &Snapshot) {
    result.commit = Some(snap.recorded.commit.clone());
    result.actual_changed_files = Some(snap.recorded.files.clone());
    result.diff_stat = Some(snap.recorded.stat);
    result.review = Some(snap.review.clone());
}
