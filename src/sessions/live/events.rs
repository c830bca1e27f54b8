//! What an agent says and what the user decides: its events recorded on the
//! session (state, approvals, token usage, audit), its tool calls passed to the
//! launcher, approval decisions from the dashboard, and the reminder-then-close
//! for a department that ends its turns without reporting.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::agent_failure;
use crate::agents::{AgentError, AgentEvent, Channel};
use crate::error::{LResult, LauncherError};
use crate::model::{
    AgentInfo, AgentState, ApprovalDecision, Attention, AttentionKind, AuditEvent, CloseReason,
    PendingApproval, Session,
};
use crate::sessions::start::command::launcher_bin;
use crate::sessions::Sessions;
use crate::signals::Signal;

impl Sessions {
    /// Every approval waiting in a running session, oldest first.
    pub fn approvals(&self) -> Vec<PendingApproval> {
        let mut all: Vec<PendingApproval> = self.ctx.store.read(|s| {
            s.sessions
                .values()
                .filter(|x| x.is_running())
                .flat_map(|x| x.agent.pending_approvals.iter().cloned())
                .collect()
        });
        all.sort_by(|a, b| a.requested_at.cmp(&b.requested_at));
        all
    }

    /// Answers an approval from the dashboard.
    pub async fn decide(
        self: &Arc<Self>,
        session_id: &str,
        request_id: &str,
        decision: ApprovalDecision,
    ) -> LResult<Session> {
        let session = self.require_session(session_id)?;
        let agent = self.agent(session_id).ok_or_else(|| {
            LauncherError::Conflict(format!("session {session_id} has no live agent"))
        })?;
        agent.decide(request_id, decision).map_err(|e| match e {
            AgentError::NoSuchRequest(_) => LauncherError::NotFound(format!(
                "no waiting approval {request_id:?} in {session_id} (already answered?)"
            )),
            other => agent_failure(other),
        })?;
        let resolved = AgentEvent::ApprovalResolved {
            request_id: request_id.to_string(),
            decision: Some(decision),
            by: "dashboard",
        };
        self.on_agent_event(session_id, resolved).await;
        Ok(self.session(session_id).unwrap_or(session))
    }

    pub(crate) fn follow_agent(
        self: &Arc<Self>,
        id: &str,
        mut events: mpsc::UnboundedReceiver<AgentEvent>,
    ) {
        let this = Arc::clone(self);
        let id = id.to_string();
        self.ctx.spawn(async move {
            while let Some(event) = events.recv().await {
                this.on_agent_event(&id, event).await;
            }
        });
    }

    async fn on_agent_event(self: &Arc<Self>, id: &str, event: AgentEvent) {
        let working = self.agent(id).is_some_and(|a| a.working());
        let session_id = id.to_string();
        let audit = match &event {
            AgentEvent::TurnStarted { turn_id } => Some(AuditEvent::TurnStarted {
                session_id,
                turn_id: turn_id.clone(),
            }),
            AgentEvent::TurnCompleted {
                turn_id,
                status,
                error,
            } => Some(AuditEvent::TurnCompleted {
                session_id,
                turn_id: turn_id.clone(),
                status: status.clone(),
                error: error.clone(),
            }),
            AgentEvent::ApprovalRequested(a) => Some(AuditEvent::ApprovalRequested {
                session_id,
                request_id: a.request_id.clone(),
                kind: a.kind,
                command: a.command.clone(),
                changes: a.changes.clone(),
                cwd: a.cwd.clone(),
                reason: a.reason.clone(),
            }),
            AgentEvent::ApprovalResolved {
                request_id,
                decision,
                by,
            } => Some(AuditEvent::ApprovalDecided {
                session_id,
                request_id: request_id.clone(),
                decision: *decision,
                by: by.to_string(),
            }),
            AgentEvent::Error {
                message,
                will_retry,
                ..
            } => Some(AuditEvent::AgentError {
                session_id,
                message: message.clone(),
                will_retry: *will_retry,
            }),
            AgentEvent::NeedsInput(text) => Some(AuditEvent::AgentNeedsInput {
                session_id,
                text: text.clone(),
            }),
            AgentEvent::ToolCall(call) => {
                let audit = AuditEvent::ToolCalled {
                    session_id: session_id.clone(),
                    call_id: call.call_id.clone(),
                    tool: call.tool.clone(),
                };
                self.ctx.store.audit_or_log(audit);
                let signal = Signal::ToolCall {
                    session_id,
                    call_id: call.call_id.clone(),
                    tool: call.tool.clone(),
                    arguments: call.arguments.clone(),
                };
                if self.signals.send(signal).is_err() {
                    tracing::warn!("{id} called {} while the launcher stops", call.tool);
                }
                return;
            }
            AgentEvent::TokenUsage(_) => None,
            AgentEvent::Closed => return self.agent_closed(id).await,
        };
        let saved = self.ctx.store.update(|tx| {
            if let Some(x) = tx.session_mut(id) {
                if x.is_running() {
                    apply(&mut x.agent, &event, working);
                }
            }
            if let Some(audit) = audit {
                tx.audit(audit);
            }
            if matches!(event, AgentEvent::TurnCompleted { .. }) {
                crate::quota::park_if_limited(tx, id)
            } else {
                false
            }
        });
        let budgets = {
            let l = &self.ctx.config.launcher;
            l.plan_budget_usd.is_some() || l.plan_budget_tokens.is_some()
        };
        if budgets && matches!(event, AgentEvent::TokenUsage(_)) {
            // Spending moved: a plan may have reached its budget.
            let _ = self.signals.send(Signal::SlotFreed);
        }
        match saved {
            Ok(true) => {
                tracing::info!("{id} hit the usage limit: parked until its reset");
                self.quota_changed.notify_one();
            }
            Ok(false) => {}
            Err(e) => tracing::error!("recording an agent event of {id}: {e}"),
        }
        if matches!(event, AgentEvent::TurnCompleted { .. }) {
            self.after_turn(id).await;
        }
    }

    /// A department whose turn ended without a report gets one reminder; after
    /// a second such turn it is closed (its fallback result follows the exit).
    async fn after_turn(self: &Arc<Self>, id: &str) {
        let Some(s) = self.session(id) else { return };
        if !s.is_department() || s.has_reported() || !s.is_running() || s.closing {
            return;
        }
        if self.is_stopping() {
            // Its turn was interrupted by the stop: it resumes, unreminded.
            return;
        }
        if s.agent.parked.is_some() {
            // Stopped by the account's limit, not by choice: no reminder.
            return;
        }
        let over_budget = s.parent_session_id().and_then(|z| {
            self.ctx
                .store
                .read(|st| crate::quota::plan_over_budget(st, z, &self.ctx.config.launcher))
        });
        if let Some(why) = over_budget {
            // Held: it finished its turn; it goes on when the budget is raised.
            tracing::info!("{id} is held: its plan {why}");
            return;
        }
        if s.agent.reminders_sent == 0 {
            let saved = self.ctx.store.update(|tx| {
                if let Some(x) = tx.session_mut(id) {
                    x.agent.reminders_sent += 1;
                }
                tx.audit(AuditEvent::DepartmentReminded {
                    session_id: id.to_string(),
                });
            });
            if let Err(e) = saved {
                tracing::error!("recording the reminder to {id}: {e}");
            }
            let text = reminder(&s, self.backend.channel());
            if let Err(e) = self.deliver(id, &text).await {
                tracing::warn!("reminding {id}: {e}");
            }
        } else if let Err(e) = self.close_session(id, CloseReason::NoReport).await {
            tracing::warn!("closing {id} after its reminder: {e}");
        }
    }

    /// The backend's connection went away (Codex's app-server died): unless the
    /// session is being stopped, its conversation resumes on a new one; if it
    /// cannot, the session ends.
    async fn agent_closed(self: &Arc<Self>, id: &str) {
        let Some(session) = self.session(id) else {
            return;
        };
        let Some(agent) = self.agent(id) else {
            return;
        };
        if !session.is_running() || session.closing || self.is_stopping() {
            return;
        }
        tracing::warn!("{id}: the connection to its agent closed");
        if agent.thread_id().is_some() {
            self.resuming.lock().unwrap().insert(id.to_string());
            self.forget_agent(id);
            agent.stop().await;
            let resumed = self.resume_agent(id).await;
            self.resuming.lock().unwrap().remove(id);
            match resumed {
                Ok(()) => return,
                Err(e) => tracing::warn!("{id} could not resume: {e}"),
            }
        }
        if let Err(e) = self.close_session(id, CloseReason::AppServerExited).await {
            tracing::warn!("closing {id}: {e}");
        }
    }

    /// Whether the session's conversation is resuming on a new agent now.
    pub(super) fn is_resuming(&self, id: &str) -> bool {
        self.resuming.lock().unwrap().contains(id)
    }
}

/// The session's agent state after an event.
fn apply(a: &mut AgentInfo, event: &AgentEvent, working: bool) {
    match event {
        AgentEvent::TurnStarted { .. } => {
            a.turn_count += 1;
            a.last_turn_status = Some("inProgress".into());
            if a.attention
                .as_ref()
                .is_some_and(|x| x.kind != AttentionKind::Approval)
            {
                a.attention = None;
            }
        }
        AgentEvent::TurnCompleted { status, .. } => {
            a.last_turn_status = Some(status.clone());
            // A failed turn's error stays until the next turn: the user sees why.
            let failed_with_error = status == "failed"
                && a.attention
                    .as_ref()
                    .is_some_and(|x| x.kind == AttentionKind::Error);
            if !failed_with_error {
                a.attention = None;
            }
            a.retrying = None;
        }
        AgentEvent::ApprovalRequested(p) => {
            a.pending_approvals.retain(|x| x.request_id != p.request_id);
            a.pending_approvals.push(p.clone());
        }
        AgentEvent::ApprovalResolved { request_id, .. } => {
            a.pending_approvals.retain(|x| &x.request_id != request_id);
            a.attention = None;
        }
        AgentEvent::TokenUsage(t) => {
            a.token_usage = Some(t.clone());
            // A response came through: Codex's retries worked.
            a.retrying = None;
        }
        // Codex retries by itself: the session is reconnecting, not failing.
        AgentEvent::Error {
            will_retry: true, ..
        } => a.retrying = Some(a.retrying.unwrap_or(0) + 1),
        // The account's limit: the session is parked when its turn ends.
        AgentEvent::Error {
            message,
            rate_limit: true,
            ..
        } => a.limit_hit = Some(message.clone()),
        AgentEvent::Error { message, .. } => {
            a.attention = Some(Attention {
                kind: AttentionKind::Error,
                text: message.clone(),
            });
        }
        AgentEvent::NeedsInput(text) => {
            a.attention = Some(Attention {
                kind: AttentionKind::Input,
                text: text.clone(),
            })
        }
        AgentEvent::ToolCall(_) | AgentEvent::Closed => {}
    }
    if a.agent_state != AgentState::Exited {
        a.settle(working);
    }
}

/// The one reminder a department gets: how to report on its channel.
fn reminder(s: &Session, channel: Channel) -> String {
    let how = match channel {
        Channel::Tools => format!(
            "call the governance_report_result tool with your summary (and changed_files, \
             verifications_run, risks, next_action as they apply); only if the tool is missing, run \
             \"{}\" mailbox send --summary \"what you did\"",
            launcher_bin()
        ),
        Channel::Api => format!(
            "run \"{}\" mailbox send --summary \"what you did\" (add --changed-file, --verification, \
             --risk, --next-action as they apply)",
            launcher_bin()
        ),
    };
    format!(
        "[codex-governance] Your turn ended without a report to the launcher. Report now, exactly once: \
         {how}. If you do not report, the launcher closes session {id} and records that no report came.",
        id = s.id
    )
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
