//! What a Codex thread asks of the launcher: a tool call of the session's
//! governance tools (answered through its reply), or an approval, which
//! becomes a Needs-you item with its conversation entry; the user's decision
//! is the answer Codex reads (a permissions request is answered with what
//! it grants, not a decision); one Codex resolved itself closes its entry.

use std::sync::Arc;

use serde_json::{json, Value};

use super::CodexAgent;
use crate::agents::codex::CodexError;
use crate::agents::conversation::{Entry, EntryStatus, What};
use crate::agents::{AgentError, AgentEvent, ToolCall, ToolReply};
use crate::model::{ApprovalDecision, ApprovalKind, PendingApproval};

impl CodexAgent {
    /// Answers a waiting approval (the caller records the decision).
    pub fn decide(
        &self,
        request_id: &str,
        decision: ApprovalDecision,
        by: &'static str,
    ) -> Result<(), CodexError> {
        let waiting = self
            .requests
            .lock()
            .unwrap()
            .remove(request_id)
            .ok_or_else(|| CodexError::NoSuchApproval(request_id.to_string()))?;
        self.server
            .rpc
            .respond(&waiting.id, waiting.answer(decision))?;
        self.conversation
            .finish_open(&waiting.entry, |e| decided(e, Some(decision), by));
        Ok(())
    }

    /// Codex settled a request of its own (or it was withdrawn): the waiting
    /// approval is closed as decided by Codex.
    pub(super) fn request_resolved(&self, p: &Value) -> Option<AgentEvent> {
        let key = request_key(&p["requestId"]);
        let rpc_id = &p["requestId"];
        self.tool_calls.lock().unwrap().retain(|_, id| id != rpc_id);
        let waiting = self.requests.lock().unwrap().remove(&key)?;
        self.conversation
            .finish_open(&waiting.entry, |e| decided(e, None, "codex"));
        Some(AgentEvent::ApprovalResolved {
            request_id: key,
            decision: None,
            by: "codex",
            nonce: None,
        })
    }

    pub(super) fn on_request(
        self: &Arc<Self>,
        id: Value,
        method: &str,
        p: &Value,
    ) -> Option<AgentEvent> {
        if !self.ours(p) {
            return None;
        }
        if method == "item/tool/call" {
            let call_id = p["callId"].as_str()?.to_string();
            self.tool_calls.lock().unwrap().insert(call_id.clone(), id);
            let agent = Arc::downgrade(self);
            let answered = call_id.clone();
            let reply = ToolReply::new(move |answer| {
                let agent = agent.upgrade().ok_or(AgentError::Gone)?;
                agent
                    .answer_tool(&answered, answer)
                    .map_err(crate::agents::codex::backend::agent_error)
            });
            return Some(AgentEvent::ToolCall(ToolCall {
                call_id,
                tool: p["tool"].as_str().unwrap_or_default().to_string(),
                arguments: p["arguments"].clone(),
                reply,
            }));
        }
        let kind = match method {
            "item/commandExecution/requestApproval" => ApprovalKind::Command,
            "item/fileChange/requestApproval" => ApprovalKind::FileChange,
            "item/permissions/requestApproval" => ApprovalKind::Permissions,
            other => {
                return Some(AgentEvent::NeedsInput(format!(
                    "Codex asks something in its terminal ({other})"
                )))
            }
        };
        // A patch's files come from its item (unknown when the item was announced
        // before a restart: the dashboard then says to look in the terminal).
        let changes = match (kind, p["itemId"].as_str()) {
            (ApprovalKind::FileChange, Some(item)) => self
                .patches
                .lock()
                .unwrap()
                .get(item)
                .cloned()
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let key = request_key(&id);
        let asked = (kind == ApprovalKind::Permissions).then(|| p["permissions"].clone());
        let entry = match p["itemId"].as_str() {
            Some(item) => format!("approval-{item}"),
            None => format!("approval-{key}-{}", self.conversation.rev()),
        };
        self.requests.lock().unwrap().insert(
            key.clone(),
            Waiting {
                id,
                asked,
                entry: entry.clone(),
            },
        );
        let pending = PendingApproval {
            request_id: key,
            session_id: self.session_id.clone(),
            kind,
            command: p["command"].as_str().map(str::to_string),
            changes,
            cwd: p["cwd"]
                .as_str()
                .or_else(|| p["grantRoot"].as_str())
                .map(str::to_string),
            reason: p["reason"].as_str().map(str::to_string),
            requested_at: crate::clock::now_rfc3339(),
        };
        self.conversation.begin(Entry {
            id: entry,
            turn_id: p["turnId"].as_str().map(str::to_string),
            status: EntryStatus::InProgress,
            cut: false,
            what: What::Approval {
                request_id: pending.request_id.clone(),
                kind,
                summary: crate::sanitize::shown(&pending.summary()),
                reason: pending.reason.as_deref().map(crate::sanitize::shown),
                decision: None,
                by: None,
            },
        });
        Some(AgentEvent::ApprovalRequested(pending))
    }
}

/// An approval Codex waits for.
pub(super) struct Waiting {
    /// The server request's id.
    pub id: Value,
    /// What a permissions request asks for (the answer grants it or nothing).
    pub asked: Option<Value>,
    /// Its entry in the conversation.
    pub entry: String,
}

/// An approval entry once answered (`decision` unknown when Codex's own
/// terminal answered it, or the turn ended first).
pub(super) fn decided(e: &mut Entry, decision: Option<ApprovalDecision>, by: &str) {
    e.status = match decision {
        Some(ApprovalDecision::Decline | ApprovalDecision::Cancel) => EntryStatus::Declined,
        _ => EntryStatus::Completed,
    };
    if let What::Approval {
        decision: d, by: b, ..
    } = &mut e.what
    {
        *d = decision;
        *b = Some(by.to_string());
    }
}

impl Waiting {
    /// The answer Codex reads: a decision for commands and file changes; the
    /// permissions granted, for this turn or the session, for a permissions
    /// request (it has no decision: a refusal grants nothing).
    pub(super) fn answer(&self, decision: ApprovalDecision) -> Value {
        let Some(asked) = &self.asked else {
            return json!({"decision": decision.codex_word()});
        };
        let (granted, scope) = match decision {
            ApprovalDecision::Accept => (asked.clone(), "turn"),
            ApprovalDecision::AcceptForSession => (asked.clone(), "session"),
            ApprovalDecision::Decline | ApprovalDecision::Cancel => (json!({}), "turn"),
        };
        json!({"permissions": granted, "scope": scope})
    }
}

/// A server request id as text (numbers and strings alike).
pub(super) fn request_key(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers as `contract.rs` lists them (and the contract test holds
    /// against Codex's schema): a permissions request has no `decision`.
    #[test]
    fn a_permissions_request_is_answered_with_what_it_grants() {
        let asked = json!({"network": {"enabled": true}});
        let waiting = Waiting {
            id: json!(7),
            asked: Some(asked.clone()),
            entry: "approval-x".into(),
        };
        assert_eq!(
            waiting.answer(ApprovalDecision::Accept),
            json!({"permissions": asked, "scope": "turn"})
        );
        assert_eq!(
            waiting.answer(ApprovalDecision::AcceptForSession)["scope"],
            "session"
        );
        assert_eq!(
            waiting.answer(ApprovalDecision::Decline),
            json!({"permissions": {}, "scope": "turn"})
        );
        let command = Waiting {
            id: json!(8),
            asked: None,
            entry: "approval-y".into(),
        };
        assert_eq!(
            command.answer(ApprovalDecision::Decline),
            json!({"decision": "decline"})
        );
    }
}
