//! A department's worktree as the sessions service sees it (issue 26): made
//! before the agent starts (or handed over from the session it continues
//! after a send back), recorded in the change that records the session, the
//! agent's working folder, and given back when a start fails, so nothing of
//! a department's work is lost and no empty worktree is left behind.

use std::path::PathBuf;

use super::{Checked, StartSpec};
use crate::config::Isolation;
use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::model::{plan, AssignmentStatus, AuditEvent, Session, Workspace, WorkspaceState};
use crate::policy::workspace::{self, Event};
use crate::store::Tx;
use crate::worktrees::{self, CreateSpec};

/// A worktree a department starts in.
pub(super) struct Made {
    pub(super) workspace: Workspace,
    pub(super) files: usize,
    pub(super) total: usize,
}

/// The folder an agent works in: its worktree, else the repository.
pub fn workdir(ctx: &Context, s: &Session) -> PathBuf {
    if let Some(r) = s.reviewer() {
        return PathBuf::from(&r.folder);
    }
    s.workspace()
        .filter(|w| !w.removed)
        .map(|w| PathBuf::from(&w.path))
        .unwrap_or_else(|| ctx.repo.clone())
}

/// A session's private temporary folder, its `TMPDIR` (made again if it
/// is gone): beside a department's worktree, else in the state folder.
/// One that cannot be made is still the agent's: its sandbox keeps /tmp
/// closed all the same.
pub(super) fn temp_dir(ctx: &Context, s: &Session) -> PathBuf {
    let temp = match s.workspace().filter(|w| !w.removed) {
        Some(ws) => worktrees::temp_for(&ctx.repo, &ws.name),
        None => ctx.paths.temp_root().join(&s.id),
    };
    if let Err(e) = crate::platform::create_private_dir(&temp) {
        tracing::warn!("the temporary folder {}: {e}", temp.display());
    }
    temp
}

/// Removes an ended session's temporary folder in the state folder (a
/// planner's, or a department's without a worktree): nothing of it is work,
/// and a session that goes on (a retry, a resume) gets it made again. A
/// department's folder beside its worktree goes with the worktree.
pub(crate) fn release_temp_dir(ctx: &Context, id: &str) {
    if crate::ids::check_id("session_id", id).is_err() {
        return;
    }
    let temp = ctx.paths.temp_root().join(id);
    match std::fs::remove_dir_all(&temp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("removing the temporary folder {}: {e}", temp.display()),
    }
}

/// At start: the temporary folders of sessions that ended before (a run
/// that stopped before this was done, a crash) go too.
pub(crate) fn release_ended_temp_dirs(ctx: &Context) {
    let ended: Vec<String> = ctx.store.read(|s| {
        s.sessions
            .values()
            .filter(|x| x.status == crate::model::SessionStatus::Exited)
            .map(|x| x.id.clone())
            .collect()
    });
    for id in ended {
        release_temp_dir(ctx, &id);
    }
}

/// The worktree a department starts in: handed over (a send back) or
/// made now; None for a Zhongshu, with `launcher.isolation: shared`, or in
/// a repository without a commit. A new one given a copy of the user's
/// Cargo build runs its commands at the user's path when `at_users_path`
/// (its copy then has rustc's incremental caches too).
pub(super) async fn prepare_workspace(
    ctx: &Context,
    spec: &StartSpec,
    c: &Checked,
    id: &str,
    at_users_path: bool,
) -> LResult<Option<Made>> {
    let Some(department) = &c.department else {
        return Ok(None);
    };
    if let Some(from) = &spec.workspace_from {
        return handed_over(ctx, from).map(Some);
    }
    let settings = ctx.config.launcher.isolation.clone();
    if settings.isolation != Isolation::Worktree {
        return Ok(None);
    }
    let parent = c.parent.clone().unwrap_or_default();
    let base = ctx.store.read(|s| {
        let from_plan = s
            .queue
            .iter()
            .find(|q| Some(&q.id) == spec.queue_id.as_ref())
            .is_some_and(|q| q.assignment_index.is_some());
        from_plan
            .then(|| {
                s.plans
                    .get(&parent)?
                    .base
                    .as_ref()
                    .map(|b| b.commit.clone())
            })
            .flatten()
    });
    let scope: Vec<String> = spec
        .files
        .iter()
        .chain(&department.globs)
        .cloned()
        .collect();
    let repo = ctx.repo.clone();
    let id = id.to_string();
    let copy = ctx.config.launcher.worktree.copy.clone();
    let caches = ctx.config.launcher.worktree.caches;
    let state_dir = ctx.paths.state_dir.clone();
    let made = tokio::task::spawn_blocking(move || {
        let spec = CreateSpec {
            repo: &repo,
            zhongshu: &parent,
            session: &id,
            base: base.as_deref(),
            scope: &scope,
            settings: &settings,
        };
        make_worktree(&spec, &copy, caches, &state_dir, at_users_path)
    })
    .await?
    .map_err(|e| {
        LauncherError::Internal(format!("cannot create the department's worktree: {e}"))
    })?;
    Ok(made.map(|m| Made {
        workspace: m.workspace,
        files: m.checked_out,
        total: m.total,
    }))
}

/// A new worktree (blocking), given the user's files its builds need
/// (issue 52) and, for a Cargo build, a copy of the user's `target/`: with
/// rustc's incremental caches too when its commands run at the user's path
/// and there is room for them, else without them (it then builds in its
/// own folder).
fn make_worktree(
    spec: &CreateSpec<'_>,
    copy: &[String],
    caches: crate::config::worktree_ready::Caches,
    state_dir: &std::path::Path,
    at_users_path: bool,
) -> Result<Option<worktrees::Created>, worktrees::WorktreeError> {
    let mut made = worktrees::create(spec)?;
    let Some(m) = made.as_mut() else {
        return Ok(made);
    };
    let (repo, id) = (spec.repo, spec.session);
    let path = PathBuf::from(&m.workspace.path);
    m.workspace.copied = worktrees::copy::copy_into(repo, &path, copy, state_dir);
    let seeded = match worktrees::caches::seed_cargo(repo, &path, caches, at_users_path) {
        Err(e @ worktrees::caches::CacheError::NoRoom { .. }) if at_users_path => {
            tracing::warn!("{id}: rustc's incremental caches not copied: {e}");
            worktrees::caches::seed_cargo(repo, &path, caches, false).map(|s| (s, false))
        }
        other => other.map(|s| (s, at_users_path)),
    };
    match seeded {
        Ok((Some(seed), at_users_path)) => {
            tracing::info!("{id}: the user's target/ copied: {seed:?}");
            if at_users_path {
                m.workspace.workplace = crate::model::Workplace::AtUsersPath;
            }
        }
        Ok((None, _)) => {}
        Err(e) => tracing::warn!("{id}: the user's target/ not copied: {e}"),
    }
    Ok(made)
}

/// The worktree of `from`, for the session that works on in it.
fn handed_over(ctx: &Context, from: &str) -> LResult<Made> {
    let ws = ctx
        .store
        .read(|s| s.sessions.get(from).cloned())
        .and_then(|s| s.workspace().cloned())
        .ok_or_else(|| LauncherError::NotFound(format!("{from} has no worktree")))?;
    // In review on the forge: a failing check sends it back (issue 38).
    let in_review = ws.state == WorkspaceState::InReview;
    if ws.removed || !(ws.state.awaits_user() || in_review) {
        return Err(LauncherError::Conflict(format!(
            "the worktree of {from} is {}: it cannot be handed over",
            ws.state
        )));
    }
    Ok(Made {
        workspace: Workspace {
            state: WorkspaceState::Working,
            conflicts: Vec::new(),
            integrating: None,
            proposal: None,
            successor: None,
            predecessor: Some(from.to_string()),
            ..ws
        },
        files: 0,
        total: 0,
    })
}

/// In the change that records session `id`: its predecessor's worktree is
/// handed over, or the new worktree is audited.
pub(super) fn workspace_taken(tx: &mut Tx, id: &str, made: &Made, spec: &StartSpec) {
    let ws = &made.workspace;
    match &spec.workspace_from {
        Some(from) => {
            if let Some(old) = tx.session_mut(from).and_then(|s| s.workspace_mut()) {
                workspace::observe(old, Event::SentBack);
                old.successor = Some(id.to_string());
            }
            follow_send_back(tx, from, id, false);
            tx.audit(AuditEvent::SentBack {
                session_id: from.clone(),
                chars: spec.task.chars().count(),
                successor: Some(id.to_string()),
            });
        }
        None => {
            tx.audit(AuditEvent::WorktreeCreated {
                session_id: id.to_string(),
                path: ws.path.clone(),
                branch: ws.branch.clone(),
                base: ws.base.clone(),
                files: made.files,
                total: made.total,
            });
            if let Some(work) = ws.workplace.host() {
                tx.audit(AuditEvent::RemoteWorktreeAdded {
                    session_id: id.to_string(),
                    host: work.host.clone(),
                    remote_path: work.path.clone(),
                    branch: work.branch.clone(),
                    base: ws.base.clone(),
                });
            }
        }
    }
}

/// A start that failed before its record: a new worktree goes (nothing of
/// the department's is in it); a handed-over one stays as it is.
pub(super) fn drop_workspace(ctx: &Context, id: &str, ws: Option<&Workspace>, spec: &StartSpec) {
    let Some(ws) = ws.filter(|_| spec.workspace_from.is_none()) else {
        return;
    };
    if let Err(e) = worktrees::create::undo(
        &ctx.repo,
        ws,
        &crate::config_trust::teardown_of(&ctx.config),
    ) {
        tracing::warn!("removing the unused worktree of {id}: {e}");
    }
    // Its worktree on a host too (issue 53).
    crate::placement::Departure::of(ctx).leave(&ctx.repo, ws);
}

/// A start that failed after its record: as [`drop_workspace`],
/// and a predecessor's worktree waits for the user again.
pub(crate) fn release_workspace(ctx: &Context, id: &str) {
    let Some(ws) = ctx
        .store
        .read(|s| s.sessions.get(id).and_then(|s| s.workspace().cloned()))
    else {
        return;
    };
    match &ws.predecessor {
        Some(from) => {
            let back = ctx.store.record(|tx| {
                if let Some(old) = tx.session_mut(from).and_then(|s| s.workspace_mut()) {
                    workspace::observe(old, Event::SendBackReturned);
                    old.successor = None;
                }
                follow_send_back(tx, from, id, true);
            });
            if let Err(e) = back {
                tracing::error!("giving the worktree of {id} back to {from}: {e}");
            }
        }
        None if ws.commit.is_none() => {
            if let Err(e) = worktrees::create::undo(
                &ctx.repo,
                &ws,
                &crate::config_trust::teardown_of(&ctx.config),
            ) {
                tracing::warn!("removing the unused worktree of {id}: {e}");
            }
            ctx.store.audit_or_log(AuditEvent::WorktreeRemoved {
                session_id: id.to_string(),
                path: ws.path.clone(),
                reason: "start_failed".into(),
            });
        }
        None => {}
    }
}

/// A department sent back goes on as `successor`: its plan's assignment
/// follows the new attempt (the earlier one kept as history), and a plan
/// that had finished runs again. `undo` takes that back (the successor did
/// not start).
pub(crate) fn follow_send_back(tx: &mut Tx, from: &str, successor: &str, undo: bool) {
    let Some(parent) = tx
        .session(from)
        .and_then(|s| s.parent_session_id().map(str::to_string))
    else {
        return;
    };
    let Some(p) = tx.plan_mut(&parent) else {
        return;
    };
    let (old, new) = if undo {
        (successor, from)
    } else {
        (from, successor)
    };
    let Some(a) = p
        .assignments
        .iter_mut()
        .find(|a| a.session_id.as_deref() == Some(old))
    else {
        return;
    };
    a.session_id = Some(new.to_string());
    if undo {
        a.earlier_sessions.retain(|e| e != from);
        a.sent_back = a.sent_back.saturating_sub(1);
    } else {
        a.earlier_sessions.push(from.to_string());
        a.sent_back += 1;
        a.status = AssignmentStatus::Started;
        plan::reopen(p);
    }
    sync_plan_status(tx, &parent);
}

/// The Zhongshu's `plan_status` follows its plan's.
pub(crate) fn sync_plan_status(tx: &mut Tx, zid: &str) {
    let status = tx.plan(zid).map(|p| p.status);
    if let (Some(status), Some(z)) = (status, tx.session_mut(zid).and_then(|z| z.zhongshu_mut())) {
        z.plan_status = Some(status);
    }
}
