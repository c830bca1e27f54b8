//! An ACP session's `session/update` notifications as the conversation the
//! page shows: message chunks grow one entry until something else happens,
//! tool calls are entries updated in place, a diff is a file change, a plan
//! is a named entry. Kept apart from the connection so the mapping is tested
//! without an agent.

use std::collections::HashMap;

use agent_client_protocol::v1::schema::{
    ContentBlock, Plan, SessionUpdate, ToolCall, ToolCallContent, ToolCallStatus,
    ToolCallUpdateFields,
};

use crate::agents::conversation::{Conversation, Entry, EntryStatus, What};
use crate::model::{PatchChange, PatchKind};

/// Where the agent's current message is (the entry its chunks grow).
#[derive(Default)]
pub(super) struct Transcript {
    turn: Option<String>,
    message: Option<String>,
    /// Tool calls in progress, as last shown.
    calls: HashMap<String, Entry>,
    next: u64,
}

impl Transcript {
    /// A transcript whose new entries are numbered after `next` (a loaded
    /// session's: its earlier entries keep their ids).
    pub(super) fn continuing(next: u64) -> Transcript {
        Transcript {
            next,
            ..Transcript::default()
        }
    }

    /// A turn began: what follows belongs to it.
    pub(super) fn turn(&mut self, conversation: &Conversation, turn_id: &str) {
        self.end_message(conversation);
        self.turn = Some(turn_id.to_string());
    }

    /// The agent's message so far is finished (its turn ended, or it went on
    /// with something else).
    pub(super) fn end_message(&mut self, conversation: &Conversation) {
        if let Some(id) = self.message.take() {
            conversation.finish_open(&id, |e| e.status = EntryStatus::Completed);
        }
    }

    /// What the user (or the launcher) told the agent.
    pub(super) fn told(&mut self, conversation: &Conversation, text: &str) {
        self.end_message(conversation);
        let id = self.new_id("user");
        conversation.finish(self.entry(
            id,
            EntryStatus::Completed,
            What::User { text: text.into() },
        ));
    }

    /// One `session/update`, into the conversation.
    pub(super) fn apply(&mut self, conversation: &Conversation, update: SessionUpdate) {
        match update {
            SessionUpdate::AgentMessageChunk(chunk) => {
                let Some(text) = text_of(&chunk.content) else {
                    return;
                };
                match &self.message {
                    Some(id) if conversation.is_open(id) => conversation.grow(id, &text),
                    _ => {
                        let id = self.new_id("message");
                        conversation.begin(self.entry(
                            id.clone(),
                            EntryStatus::InProgress,
                            What::Agent { text },
                        ));
                        self.message = Some(id);
                    }
                }
            }
            SessionUpdate::UserMessageChunk(chunk) => {
                if let Some(text) = text_of(&chunk.content) {
                    self.told(conversation, &text);
                }
            }
            SessionUpdate::ToolCall(call) => {
                self.end_message(conversation);
                self.tool_call(conversation, call);
            }
            SessionUpdate::ToolCallUpdate(update) => {
                self.end_message(conversation);
                let id = update.tool_call_id.to_string();
                self.tool_call_update(conversation, &id, update.fields);
            }
            SessionUpdate::Plan(plan) => {
                self.end_message(conversation);
                let id = self.new_id("plan");
                conversation.finish(self.entry(id, EntryStatus::Completed, plan_entry(&plan)));
            }
            // Thoughts, modes, commands, usage: not part of the conversation.
            _ => {}
        }
    }

    fn tool_call(&mut self, conversation: &Conversation, call: ToolCall) {
        let id = call.tool_call_id.to_string();
        let arguments = call
            .raw_input
            .as_ref()
            .map(|v| v.to_string())
            .unwrap_or_default();
        let (result, changes) = contents(&call.content);
        let what = What::ToolCall {
            tool: call.title.clone(),
            arguments,
            result,
            success: done(call.status),
        };
        let entry = self.entry(id.clone(), status_of(call.status), what);
        self.show_call(conversation, entry);
        self.file_changes(conversation, &id, changes);
    }

    fn tool_call_update(
        &mut self,
        conversation: &Conversation,
        id: &str,
        fields: ToolCallUpdateFields,
    ) {
        let (result, changes) = fields.content.as_deref().map(contents).unwrap_or_default();
        let Some(mut entry) = self.calls.remove(id) else {
            // An update of a call never announced, or already finished.
            self.file_changes(conversation, id, changes);
            return;
        };
        if let What::ToolCall {
            tool,
            result: r,
            success,
            ..
        } = &mut entry.what
        {
            if let Some(title) = fields.title {
                *tool = title;
            }
            if !result.is_empty() {
                *r = result;
            }
            if let Some(s) = fields.status {
                *success = done(s);
            }
        }
        if let Some(s) = fields.status {
            entry.status = status_of(s);
        }
        self.show_call(conversation, entry);
        self.file_changes(conversation, id, changes);
    }

    /// A call still running is shown in progress (and kept to update);
    /// a finished one goes to the file.
    fn show_call(&mut self, conversation: &Conversation, entry: Entry) {
        if entry.status == EntryStatus::InProgress {
            conversation.begin(entry.clone());
            self.calls.insert(entry.id.clone(), entry);
        } else {
            conversation.finish(entry);
        }
    }

    fn file_changes(
        &mut self,
        conversation: &Conversation,
        call_id: &str,
        changes: Vec<PatchChange>,
    ) {
        if changes.is_empty() {
            return;
        }
        let id = format!("{call_id}-changes-{}", self.next);
        self.next += 1;
        conversation.finish(self.entry(id, EntryStatus::Completed, What::FileChange { changes }));
    }

    fn new_id(&mut self, what: &str) -> String {
        self.next += 1;
        format!("acp-{what}-{}", self.next)
    }

    fn entry(&self, id: String, status: EntryStatus, what: What) -> Entry {
        Entry {
            id,
            turn_id: self.turn.clone(),
            status,
            cut: false,
            what,
        }
    }
}

fn text_of(content: &ContentBlock) -> Option<String> {
    match content {
        ContentBlock::Text(t) => Some(t.text.clone()),
        _ => None,
    }
}

fn status_of(status: ToolCallStatus) -> EntryStatus {
    match status {
        ToolCallStatus::Completed => EntryStatus::Completed,
        ToolCallStatus::Failed => EntryStatus::Failed,
        _ => EntryStatus::InProgress,
    }
}

fn done(status: ToolCallStatus) -> Option<bool> {
    match status {
        ToolCallStatus::Completed => Some(true),
        ToolCallStatus::Failed => Some(false),
        _ => None,
    }
}

/// A tool call's text and the file changes among its contents.
fn contents(content: &[ToolCallContent]) -> (String, Vec<PatchChange>) {
    let mut text = String::new();
    let mut changes = Vec::new();
    for c in content {
        match c {
            ToolCallContent::Content(c) => {
                if let Some(t) = text_of(&c.content) {
                    text.push_str(&t);
                }
            }
            ToolCallContent::Diff(d) => {
                let (kind, diff) = match &d.old_text {
                    None => (PatchKind::Add, plus_lines(&d.new_text)),
                    Some(old) => (PatchKind::Update, unified(old, &d.new_text)),
                };
                changes.push(PatchChange {
                    path: d.path.display().to_string(),
                    kind,
                    move_to: None,
                    diff,
                    diff_cut: false,
                });
            }
            _ => {}
        }
    }
    (text, changes)
}

fn plus_lines(text: &str) -> String {
    text.lines().map(|l| format!("+{l}\n")).collect()
}

/// The old text's lines removed and the new text's added (the agent sends
/// both whole; the page shows them as a diff).
fn unified(old: &str, new: &str) -> String {
    let mut out: String = old.lines().map(|l| format!("-{l}\n")).collect();
    out.push_str(&plus_lines(new));
    out
}

fn plan_entry(plan: &Plan) -> What {
    let lines: Vec<String> = plan
        .entries
        .iter()
        .map(|e| {
            format!(
                "[{}] {}",
                serde_json::to_value(&e.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                e.content
            )
        })
        .collect();
    What::Other {
        name: "plan".into(),
        text: lines.join("\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(v: serde_json::Value) -> SessionUpdate {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn chunks_grow_one_message_and_tool_calls_and_diffs_are_entries() {
        let dir = tempfile::tempdir().unwrap();
        let c = Conversation::new(dir.path(), dir.path().join("c.conversation.jsonl"));
        let mut t = Transcript::default();
        t.turn(&c, "turn-1");
        t.told(&c, "do it");
        for chunk in ["Hel", "lo"] {
            t.apply(
                &c,
                update(serde_json::json!({"sessionUpdate": "agent_message_chunk",
                "content": {"type": "text", "text": chunk}})),
            );
        }
        t.apply(
            &c,
            update(
                serde_json::json!({"sessionUpdate": "tool_call", "toolCallId": "t1",
            "title": "Write a.txt", "kind": "edit", "status": "in_progress",
            "content": [{"type": "diff", "path": "/w/a.txt", "oldText": "x", "newText": "y"}]}),
            ),
        );
        t.apply(&c, update(serde_json::json!({"sessionUpdate": "tool_call_update", "toolCallId": "t1",
            "status": "completed", "content": [{"type": "content", "content": {"type": "text", "text": "ok"}}]})));
        t.apply(
            &c,
            update(serde_json::json!({"sessionUpdate": "plan",
            "entries": [{"content": "step", "priority": "high", "status": "pending"}]})),
        );
        t.end_message(&c);
        let entries = c.excerpt().entries;
        let whats: Vec<&What> = entries.iter().map(|e| &e.what).collect();
        assert_eq!(
            whats[0],
            &What::User {
                text: "do it".into()
            }
        );
        assert_eq!(
            whats[1],
            &What::Agent {
                text: "Hello".into()
            }
        );
        assert!(
            matches!(whats[2], What::FileChange { changes } if changes[0].diff == "-x\n+y\n"),
            "{whats:?}"
        );
        assert!(
            matches!(whats[3], What::ToolCall { tool, result, success: Some(true), .. } if tool == "Write a.txt" && result == "ok"),
            "{whats:?}"
        );
        assert_eq!(
            whats[4],
            &What::Other {
                name: "plan".into(),
                text: "[pending] step".into()
            }
        );
        assert!(entries
            .iter()
            .all(|e| e.turn_id.as_deref() == Some("turn-1")));
        assert_eq!(entries.len(), 5);
    }
}
