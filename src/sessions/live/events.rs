//! What an agent says and what the user decides: its events recorded on the
//! session (state, approvals, token usage, audit, a turn the usage limit
//! stopped parked), its tool calls passed to the launcher, and approval
//! decisions from the dashboard. What follows a turn's end or a closed
//! connection is the facade's (`sessions/follow.rs`).

use super::{agent_failure, LiveAgents};
use crate::agents::{AgentError, AgentEvent, ToolCall};
use crate::error::{LResult, LauncherError};
use crate::model::{
    AgentInfo, AgentState, ApprovalDecision, Attention, AttentionKind, AuditEvent, PendingApproval,
    Session,
};
use crate::signals::Signal;

/// What the sessions' facade does after an event was recorded.
#[derive(Debug, PartialEq, Eq)]
pub enum FollowUp {
    Nothing,
    /// A turn ended: a department that did not report is reminded or closed.
    TurnEnded,
    /// The backend's connection went away: the conversation resumes or ends.
    Closed,
}

impl LiveAgents {
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
        &self,
        session_id: &str,
        request_id: &str,
        decision: ApprovalDecision,
    ) -> LResult<Session> {
        self.decide_by(session_id, request_id, decision, "dashboard", None)
            .await
    }

    /// [`Self::decide`], audited as decided `by` (the dashboard, a phone).
    pub async fn decide_by(
        &self,
        session_id: &str,
        request_id: &str,
        decision: ApprovalDecision,
        by: &'static str,
        nonce: Option<String>,
    ) -> LResult<Session> {
        let session = self.require_session(session_id)?;
        let agent = self.agent(session_id).ok_or_else(|| {
            LauncherError::Conflict(format!("session {session_id} has no live agent"))
        })?;
        agent
            .decide(request_id, decision, by)
            .map_err(|e| match e {
                AgentError::NoSuchRequest(_) => LauncherError::NotFound(format!(
                    "no waiting approval {request_id:?} in {session_id} (already answered?)"
                )),
                other => agent_failure(other),
            })?;
        let resolved = AgentEvent::ApprovalResolved {
            request_id: request_id.to_string(),
            decision: Some(decision),
            by,
            nonce,
        };
        // An answered approval asks for nothing more.
        let _nothing = self.on_agent_event(session_id, resolved).await;
        Ok(self.session(session_id).unwrap_or(session))
    }

    /// Records what an agent said; what the facade must do next.
    pub(in crate::sessions) async fn on_agent_event(
        &self,
        id: &str,
        event: AgentEvent,
    ) -> FollowUp {
        let agent = self.agent(id);
        match &event {
            AgentEvent::ToolCall(call) => {
                self.pass_tool_call(id, call);
                return FollowUp::Nothing;
            }
            AgentEvent::Closed => return FollowUp::Closed,
            _ => {}
        }
        let audit = audit_of(id, &event);
        // What it said last, kept at a turn's end (a planner's question must
        // outlive its live conversation: a restart, a suspension).
        let said = matches!(event, AgentEvent::TurnCompleted { .. })
            .then(|| self.agent(id)?.conversation()?.last_message())
            .flatten()
            .map(|m| crate::text::head(&m, crate::model::LAST_MESSAGE_MAX).to_string());
        let saved = self.ctx.store.update(|tx| {
            // Read in the change: an answer's event (from the request that
            // answered) may race the turn's end, which is recorded after
            // the agent stops working; read before, the answer's change
            // could come last and keep a finished turn "working".
            let working = agent.as_ref().is_some_and(|a| a.working());
            if let Some(x) = tx.session_mut(id) {
                if x.is_running() {
                    apply(&mut x.agent, &event, working);
                    if said.is_some() && x.is_zhongshu() {
                        x.agent.last_message = said.clone();
                    }
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
        if budgets
            && matches!(
                event,
                AgentEvent::TokenUsage(_) | AgentEvent::UsageReported(_)
            )
        {
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
            FollowUp::TurnEnded
        } else {
            FollowUp::Nothing
        }
    }

    /// A call of a governance tool: audited, then handed to the launcher's loop.
    /// Hands a tool call to the tool handler, which answers it through the
    /// call's own reply; one task per call, awaited at stop. A call made while
    /// the launcher stops stays unanswered: Codex sends it again on resume.
    fn pass_tool_call(&self, id: &str, call: &ToolCall) {
        let audit = AuditEvent::ToolCalled {
            session_id: id.to_string(),
            call_id: call.call_id.clone(),
            tool: call.tool.clone(),
        };
        self.ctx.store.audit_or_log(audit);
        let handler = self.tool_handler.get().and_then(std::sync::Weak::upgrade);
        match handler {
            Some(handler) if !self.is_stopping() => {
                self.ctx.spawn(handler.answer(id.to_string(), call.clone()));
            }
            _ => tracing::warn!("{id} called {} while the launcher stops", call.tool),
        }
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
            a.pending_approvals.push(p.clone().shown());
        }
        AgentEvent::ApprovalResolved { request_id, .. } => {
            a.pending_approvals.retain(|x| &x.request_id != request_id);
            a.attention = None;
        }
        AgentEvent::UsageReported(u) => a.reported_usage = Some(u.clone()),
        AgentEvent::TokenUsage(t) => {
            a.token_usage = Some(t.clone());
            // A response came through: Codex's retries worked.
            a.retrying = None;
        }
        // Codex retries by itself: the session is reconnecting, not failing.
        AgentEvent::Error {
            will_retry: true, ..
        } => a.retrying = Some(a.retrying.unwrap_or(0) + 1),
        // A limit: the session is parked when its turn ends.
        AgentEvent::Error {
            message,
            limit: Some(whose),
            ..
        } => {
            a.limit_hit = Some(message.clone());
            a.limit_own = *whose == crate::agents::Limit::Own;
        }
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
    // A turn that started is worked on until its end is recorded, even when
    // the backend already saw that end (the event of it follows this one).
    let working = working || matches!(event, AgentEvent::TurnStarted { .. });
    if a.agent_state != AgentState::Exited {
        a.settle(working);
    }
}

/// The audit line an agent event leaves, if any.
fn audit_of(id: &str, event: &AgentEvent) -> Option<AuditEvent> {
    match event {
        AgentEvent::TurnStarted { turn_id } => Some(AuditEvent::TurnStarted {
            session_id: id.to_string(),
            turn_id: turn_id.clone(),
        }),
        AgentEvent::TurnCompleted {
            turn_id,
            status,
            error,
        } => Some(AuditEvent::TurnCompleted {
            session_id: id.to_string(),
            turn_id: turn_id.clone(),
            status: status.clone(),
            error: error.clone(),
        }),
        AgentEvent::ApprovalRequested(a) => Some(AuditEvent::ApprovalRequested {
            session_id: id.to_string(),
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
            nonce,
        } => Some(AuditEvent::ApprovalDecided {
            session_id: id.to_string(),
            request_id: request_id.clone(),
            decision: *decision,
            by: by.to_string(),
            nonce: nonce.clone(),
        }),
        AgentEvent::Error {
            message,
            will_retry,
            ..
        } => Some(AuditEvent::AgentError {
            session_id: id.to_string(),
            message: message.clone(),
            will_retry: *will_retry,
        }),
        AgentEvent::NeedsInput(text) => Some(AuditEvent::AgentNeedsInput {
            session_id: id.to_string(),
            text: text.clone(),
        }),
        AgentEvent::ToolCall(_)
        | AgentEvent::TokenUsage(_)
        | AgentEvent::UsageReported(_)
        | AgentEvent::Closed => None,
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
