//! The developer's control over a plan (issue 25): stopping it (its planner,
//! its departments and its queue), closing a planner with or without its
//! departments, retrying a department that failed or ended without a report
//! (or a start that failed), and putting a failure aside in "Needs you".
//!
//! Queued items of a planner the developer closed never start: the queue
//! drops them in the same change that would have started one
//! (`queue_records::drop_orphaned`), so no close can race a start. Every stop,
//! drop, retry and dismissal is audited in the change that makes it.

use std::sync::Arc;

use serde::Serialize;

use super::queue::Dispatcher;
use super::queue_records::{
    audit_queued, drop_queued, mark_assignment, queue_item, PLANNER_CLOSED, PLAN_STOPPED,
};
use crate::error::{LResult, LauncherError};
use crate::model::{
    Assignment, AssignmentStatus, AuditEvent, CloseReason, PlanStatus, QueueItem, QueueStatus,
    Session, WorkspaceState,
};
use crate::sessions::start::workspace::sync_plan_status;

/// What a stop or a planner's close did.
#[derive(Debug, Clone, Serialize)]
pub struct Stopped {
    pub session_id: String,
    /// Departments that were running and were closed.
    pub stopped_departments: Vec<String>,
    /// Departments left running (the developer chose to let them finish).
    pub running_departments: Vec<String>,
    /// Queue ids of the assignments dropped unstarted.
    pub dropped: Vec<String>,
}

/// What to retry: a department session, or a queue item whose start failed.
#[derive(Debug, Clone)]
pub enum RetryTarget {
    Session(String),
    Queued(String),
}

impl Dispatcher {
    /// `POST /api/stop_plan`: the planner, its running departments and its
    /// queued assignments all stop; the plan is marked stopped.
    pub async fn stop_plan(self: &Arc<Self>, zhongshu_id: &str) -> LResult<Stopped> {
        self.sessions.require_zhongshu(zhongshu_id)?;
        self.stop_group(zhongshu_id, true, CloseReason::PlanStopped)
            .await
    }

    /// The user declines the plan of `zhongshu_id` awaiting confirmation at
    /// `revision` (a phone's Decline, issue 70 item 10): nothing of it
    /// starts, the plan goes back to its planner (no longer awaiting you),
    /// and the planner is told to revise it or wait for the user.
    pub async fn decline_plan(
        self: &Arc<Self>,
        zhongshu_id: &str,
        revision: u64,
        by: &str,
        nonce: Option<String>,
    ) -> LResult<()> {
        self.sessions.require_zhongshu(zhongshu_id)?;
        let declined = self.ctx.store.update(|tx| {
            let waits = tx.plan_mut(zhongshu_id).is_some_and(|p| {
                p.status == PlanStatus::AwaitingConfirmation && p.revision == revision
            });
            if !waits {
                return false;
            }
            if let Some(p) = tx.plan_mut(zhongshu_id) {
                p.status = PlanStatus::None;
            }
            if let Some(z) = tx.session_mut(zhongshu_id).and_then(|z| z.zhongshu_mut()) {
                z.plan_status = Some(PlanStatus::None);
            }
            tx.audit(AuditEvent::PlanDeclined {
                session_id: zhongshu_id.to_string(),
                revision,
                by: by.to_string(),
                nonce: nonce.clone(),
            });
            true
        })?;
        if !declined {
            return Err(LauncherError::Conflict(format!(
                "the plan of {zhongshu_id} no longer waits for confirmation at revision {revision}"
            )));
        }
        // `by` as the audit says it: "dashboard", or "phone (…)".
        let place = match by.starts_with("phone") {
            true => "from their phone",
            false => "in the dashboard",
        };
        let told = format!(
            "[codex-governance] The user declined your plan (revision {revision}) {place}: \
             nothing of it was started. Revise it and register it again, or wait for the \
             user's word."
        );
        self.sessions.session_input(zhongshu_id, &told).await?;
        Ok(())
    }

    /// Closing a planner (`POST /api/close_session` on a Zhongshu): its queued
    /// assignments are dropped; its running departments stop too when
    /// `stop_departments`, else they finish and report to its inbox.
    pub async fn close_planner(
        self: &Arc<Self>,
        zhongshu_id: &str,
        stop_departments: bool,
        reason: CloseReason,
    ) -> LResult<Stopped> {
        self.sessions.require_zhongshu(zhongshu_id)?;
        self.stop_group(zhongshu_id, stop_departments, reason).await
    }

    async fn stop_group(
        self: &Arc<Self>,
        zid: &str,
        stop_departments: bool,
        reason: CloseReason,
    ) -> LResult<Stopped> {
        let whole_plan = reason == CloseReason::PlanStopped;
        // No start is in flight while the queue is cut: a department being
        // started now is running (and closed below) once the lock is ours.
        let (dropped, running) = {
            let _pump = self.pump_lock.lock().await;
            self.ctx.store.update(|tx| {
                if let Some(z) = tx.session_mut(zid).filter(|z| z.is_running()) {
                    z.closing = true;
                    z.close_reason = Some(reason);
                }
                let why = if whole_plan {
                    PLAN_STOPPED
                } else {
                    PLANNER_CLOSED
                };
                let dropped = drop_queued(tx, zid, why);
                // Its departments, and the reviewers of their work.
                let running: Vec<String> = tx
                    .state()
                    .working_for(zid)
                    .filter(|d| d.is_running())
                    .map(|d| d.id.clone())
                    .collect();
                if whole_plan {
                    if let Some(p) = tx.plan_mut(zid) {
                        p.status = PlanStatus::Stopped;
                        // A plan stopped before it was confirmed: none of it runs.
                        for a in &mut p.assignments {
                            if a.status == AssignmentStatus::Proposed && a.selected {
                                a.status = AssignmentStatus::Dropped;
                            }
                        }
                    }
                    if let Some(z) = tx.session_mut(zid).and_then(|z| z.zhongshu_mut()) {
                        z.plan_status = Some(PlanStatus::Stopped);
                    }
                    tx.audit(AuditEvent::PlanStopped {
                        session_id: zid.to_string(),
                        departments: running.clone(),
                        dropped: dropped.len(),
                    });
                }
                (dropped, running)
            })?
        };
        let mut stopped = Vec::new();
        if stop_departments {
            let why = if whole_plan {
                CloseReason::PlanStopped
            } else {
                reason
            };
            for id in &running {
                self.sessions.close_session(id, why).await?;
                stopped.push(id.clone());
            }
        }
        self.sessions.close_session(zid, reason).await?;
        self.pump_queue().await;
        Ok(Stopped {
            session_id: zid.to_string(),
            running_departments: running
                .into_iter()
                .filter(|id| !stopped.contains(id))
                .collect(),
            stopped_departments: stopped,
            dropped: dropped.into_iter().map(|q| q.id).collect(),
        })
    }

    /// `POST /api/retry`: the assignment of a department that failed or ended
    /// without a report goes back into the queue (as a new department
    /// session); a queue item whose start failed is queued again.
    pub async fn retry(self: &Arc<Self>, target: RetryTarget) -> LResult<QueueItem> {
        let item = match target {
            RetryTarget::Session(id) => self.retry_session(&id, false)?,
            RetryTarget::Queued(id) => self.retry_queued(&id)?,
        };
        self.pump_queue().await;
        Ok(item)
    }

    /// `POST /api/queue/place`: a queued assignment waits for another
    /// machine instead (`host`: a host of `launcher.remotes`, or None for
    /// this one). Only one not started yet moves; the check and the move
    /// are one change.
    pub async fn place(
        self: &Arc<Self>,
        queue_id: &str,
        host: Option<String>,
    ) -> LResult<QueueItem> {
        crate::ids::check_id("queue_id", queue_id)?;
        let hosts: Vec<String> = self
            .ctx
            .config
            .launcher
            .remotes
            .iter()
            .map(|r| r.name.clone())
            .collect();
        if let Some(h) = host.as_ref().filter(|h| !hosts.contains(h)) {
            return Err(LauncherError::BadRequest(match hosts.is_empty() {
                true => format!("{h} is not a host: no host is named under launcher.remotes"),
                false => format!(
                    "{h} is not a host of launcher.remotes; known: {}",
                    hosts.join(", ")
                ),
            }));
        }
        let placed = self.ctx.store.update(|tx| {
            let Some(q) = tx.queue_mut().iter_mut().find(|q| q.id == queue_id) else {
                return Err(LauncherError::NotFound(format!("no queue item {queue_id}")));
            };
            if q.status != QueueStatus::Queued {
                return Err(LauncherError::Conflict(format!(
                    "queue item {queue_id} is {}: only an assignment still waiting to start moves",
                    q.status
                )));
            }
            q.remote = host.clone();
            q.waiting = None;
            let item = q.clone();
            if let (Some(parent), Some(i)) = (&item.parent_session_id, item.assignment_index) {
                if let Some(a) = tx.plan_mut(parent).and_then(|p| p.assignments.get_mut(i)) {
                    a.remote = host.clone();
                }
            }
            tx.audit(AuditEvent::AssignmentPlaced {
                queue_id: queue_id.to_string(),
                department: item.department.clone(),
                host: host.clone(),
            });
            Ok(item)
        })??;
        self.pump_queue().await;
        Ok(placed)
    }

    /// The running planner that resumed `zhongshu`, if one did.
    pub fn resumed_by(&self, zhongshu: &str) -> Option<String> {
        self.ctx
            .store
            .read(|st| crate::policy::plan::resumed_planner(st, zhongshu))
    }

    /// The departments of `zhongshu`'s plan that the launcher's stop cut off
    /// (PTY agents cannot outlive it), in plan order, not yet resumed.
    pub fn cut_off(&self, zhongshu: &str) -> Vec<String> {
        self.ctx.store.read(|st| {
            let Some(plan) = st.plans.get(zhongshu) else {
                return Vec::new();
            };
            plan.assignments
                .iter()
                .filter_map(|a| a.session_id.as_deref())
                .filter_map(|id| st.sessions.get(id))
                .filter(|s| {
                    !s.is_running()
                        && !s.has_reported()
                        && s.ended_reason.as_deref() == Some("launcher_stopped")
                        && s.department_part().is_some_and(|d| d.retried_as.is_none())
                })
                .map(|s| s.id.clone())
                .collect()
        })
    }

    /// Queues each cut-off department again, in order, under the planner that
    /// runs its plan now, each in its own worktree (its work so far kept).
    pub async fn resume_cut_off(self: &Arc<Self>, ids: &[String]) -> LResult<Vec<QueueItem>> {
        let mut queued = Vec::new();
        for id in ids {
            queued.push(self.retry_session(id, true)?);
        }
        self.pump_queue().await;
        Ok(queued)
    }

    /// A department's assignment queued again; `cut_off`: it goes on in the
    /// same worktree, told that the launcher stopped while it worked.
    fn retry_session(&self, id: &str, cut_off: bool) -> LResult<QueueItem> {
        let s = self.sessions.require_session(id)?;
        let part = s.department_part().ok_or_else(|| {
            LauncherError::BadRequest(format!(
                "{id} is a Zhongshu session: only departments are retried"
            ))
        })?;
        if s.is_running() {
            return Err(LauncherError::Conflict(format!(
                "{id} is still running: close it first, or wait for it to end"
            )));
        }
        if s.has_reported() {
            return Err(LauncherError::Conflict(format!(
                "{id} reported: there is nothing to retry"
            )));
        }
        if let Some(q) = &part.retried_as {
            return Err(LauncherError::Conflict(format!(
                "{id} was retried already (queue item {q})"
            )));
        }
        let parent = self.live_parent(&s)?;
        let item = self.ctx.store.update(|tx| {
            let qid = tx.next_id("q");
            let index = tx.plan(&parent).and_then(|p| {
                p.assignments
                    .iter()
                    .position(|a| a.session_id.as_deref() == Some(id))
            });
            let template = index
                .and_then(|i| tx.plan(&parent).map(|p| p.assignments[i].clone()))
                .unwrap_or_else(|| assignment_of(&s, &self.ctx.config));
            let mut item = queue_item(qid.clone(), Some(parent.clone()), &template, index);
            let own_worktree = s
                .workspace()
                .is_some_and(|w| !w.state.is_settled() && w.state != WorkspaceState::SentBack);
            if cut_off && own_worktree {
                item.workspace_from = Some(id.to_string());
                item.task = format!(
                    "{}\n\n[Resumed] The launcher stopped while you worked on this. Your work \
                     so far is in your worktree: continue from it, then report.",
                    item.task
                );
            }
            if let (Some(i), Some(p)) = (index, tx.plan_mut(&parent)) {
                let a = &mut p.assignments[i];
                a.earlier_sessions.push(id.to_string());
                a.status = AssignmentStatus::Queued;
                a.session_id = None;
                a.queue_id = Some(qid.clone());
                a.error = None;
                crate::model::plan::reopen(p);
            }
            sync_plan_status(tx, &parent);
            if let Some(d) = tx.session_mut(id).and_then(|x| x.department_mut()) {
                d.retried_as = Some(qid.clone());
            }
            tx.queue_mut().push(item.clone());
            audit_queued(tx, &item);
            tx.audit(AuditEvent::AssignmentRetried {
                queue_id: qid,
                department: item.department.clone(),
                parent_session_id: Some(parent.clone()),
                retried_session_id: Some(id.to_string()),
            });
            item
        })?;
        Ok(item)
    }

    fn retry_queued(&self, queue_id: &str) -> LResult<QueueItem> {
        crate::ids::check_id("queue_id", queue_id)?;
        let item = self
            .ctx
            .store
            .read(|s| s.queue.iter().find(|q| q.id == queue_id).cloned())
            .ok_or_else(|| LauncherError::NotFound(format!("no queue item {queue_id}")))?;
        if item.status != QueueStatus::Failed {
            return Err(LauncherError::Conflict(format!(
                "queue item {queue_id} is {}: only a failed start is retried",
                item.status
            )));
        }
        if let Some(parent) = &item.parent_session_id {
            let s = self.sessions.require_session(parent)?;
            if !s.is_running() || s.closed_by_user() {
                return Err(not_running(parent));
            }
        }
        Ok(self.ctx.store.update(|tx| {
            if let Some(q) = tx.queue_mut().iter_mut().find(|q| q.id == queue_id) {
                q.status = QueueStatus::Queued;
                q.error = None;
            }
            mark_assignment(tx, &item, AssignmentStatus::Queued, None, None);
            if let Some(parent) = item.parent_session_id.as_deref() {
                if let Some(p) = tx.plan_mut(parent) {
                    crate::model::plan::reopen(p);
                }
                sync_plan_status(tx, parent);
            }
            tx.audit(AuditEvent::AssignmentRetried {
                queue_id: queue_id.to_string(),
                department: item.department.clone(),
                parent_session_id: item.parent_session_id.clone(),
                retried_session_id: None,
            });
            QueueItem {
                status: QueueStatus::Queued,
                error: None,
                ..item.clone()
            }
        })?)
    }

    /// The running Zhongshu a department's retry reports to, or why there is none.
    fn live_parent(&self, s: &Session) -> LResult<String> {
        let parent = s.parent_session_id().ok_or_else(|| {
            LauncherError::Conflict(format!("{} has no Zhongshu to report to", s.id))
        })?;
        let z = self.sessions.require_session(parent)?;
        if z.is_running() && !z.closed_by_user() {
            return Ok(parent.to_string());
        }
        // Resumed as a new planner: that one carries the plan on.
        self.ctx
            .store
            .read(|st| crate::policy::plan::resumed_planner(st, parent))
            .ok_or_else(|| not_running(parent))
    }

    /// `POST /api/dismiss`: a department's failure leaves "Needs you" for good
    /// (kept by the launcher, in every tab and after a restart).
    pub fn dismiss(&self, id: &str) -> LResult<()> {
        let s = self.sessions.require_session(id)?;
        if !s.is_department() || s.is_running() || s.has_reported() {
            return Err(LauncherError::Conflict(format!(
                "{id} is not a department that ended without a report"
            )));
        }
        self.ctx.store.update(|tx| {
            if let Some(d) = tx.session_mut(id).and_then(|x| x.department_mut()) {
                d.dismissed = true;
            }
            tx.audit(AuditEvent::NeedsYouDismissed {
                session_id: id.to_string(),
            });
        })?;
        Ok(())
    }
}

fn not_running(parent: &str) -> LauncherError {
    LauncherError::Conflict(format!(
        "its Zhongshu {parent} is not running, so a retry would report to no one: \
         Resume {parent} (it carries the plan on), then Retry again: the retry goes to \
         the resumed planner"
    ))
}

/// A department's work as an assignment, for one started outside a plan.
fn assignment_of(s: &Session, config: &crate::config::Config) -> Assignment {
    let part = s.department_part();
    let key = s.department.clone().unwrap_or_default();
    let (title, duty) = config
        .department(&key)
        .map(|d| (d.title, d.duty))
        .unwrap_or_default();
    Assignment {
        department: key,
        title,
        duty,
        task: s.task.clone(),
        model: s.model.clone(),
        files: part.map(|d| d.files.clone()).unwrap_or_default(),
        verify: part.map(|d| d.verify.clone()).unwrap_or_default(),
        reason: None,
        model_reason: None,
        scope_note: None,
        selected: true,
        status: AssignmentStatus::Queued,
        session_id: None,
        queue_id: None,
        error: None,
        earlier_sessions: Vec::new(),
        remote: s.slot_host().map(str::to_string),
        sent_back: 0,
        review_comments: 0,
        attempt: part.and_then(|d| d.attempt.clone()),
    }
}
