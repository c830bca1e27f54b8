//! A Codex thread's items as conversation entries: `item/started` and
//! `item/completed` carry a whole `ThreadItem` (`userMessage`, `agentMessage`,
//! `commandExecution`, `fileChange`, `mcpToolCall`, `dynamicToolCall`, ...),
//! the deltas grow its text, and `thread/resume` returns the turns with their
//! items. Every text is the agent's (or a command's): escapes stripped, shown
//! safely, cut to a budget.

use serde_json::Value;

use crate::agents::conversation::{Entry, EntryStatus, What, TEXT_BYTES};
use crate::sanitize::shown;

/// Bytes of a tool call's arguments or result kept.
const TOOL_TEXT_BYTES: usize = 8 * 1024;

/// The entry for `item` (of turn `turn`); `started` when it comes from
/// `item/started` (its status then is in progress unless it says otherwise).
/// Items that say nothing to a reader (reasoning) give none.
pub fn entry(item: &Value, turn: Option<&str>, started: bool) -> Option<Entry> {
    let id = item["id"].as_str()?.to_string();
    let kind = item["type"].as_str()?;
    let mut texts = Texts { cut: false };
    let what = what_of(item, kind, &mut texts)?;
    Some(Entry {
        id,
        turn_id: turn.map(str::to_string),
        status: status_of(item, started),
        cut: texts.cut,
        what,
    })
}

/// What an item of `kind` shows; `None` for the reasoning, which is not shown.
fn what_of(item: &Value, kind: &str, texts: &mut Texts) -> Option<What> {
    Some(match kind {
        "userMessage" => What::User {
            text: user_text(&item["content"]),
        },
        "agentMessage" => What::Agent {
            text: texts.text(&item["text"], TEXT_BYTES, false),
        },
        "reasoning" => return None,
        "commandExecution" => What::Command {
            command: texts.text(&item["command"], TEXT_BYTES, false),
            cwd: item["cwd"].as_str().map(shown),
            output: texts.text(&item["aggregatedOutput"], TEXT_BYTES, true),
            exit_code: item["exitCode"].as_i64().map(|c| c as i32),
            duration_ms: item["durationMs"].as_i64(),
        },
        "fileChange" => match super::file_change::from_item(item)? {
            Ok((_, changes)) => What::FileChange { changes },
            Err(e) => What::Error {
                message: e.to_string(),
            },
        },
        "mcpToolCall" => What::ToolCall {
            tool: format!(
                "{}/{}",
                shown(item["server"].as_str().unwrap_or("?")),
                shown(item["tool"].as_str().unwrap_or("?"))
            ),
            arguments: texts.text(&json_text(&item["arguments"]), TOOL_TEXT_BYTES, false),
            result: texts.text(
                &json_text(if item["error"].is_null() {
                    &item["result"]
                } else {
                    &item["error"]
                }),
                TOOL_TEXT_BYTES,
                false,
            ),
            success: (!item["status"].is_null()).then(|| item["error"].is_null()),
        },
        "dynamicToolCall" => What::ToolCall {
            tool: shown(item["tool"].as_str().unwrap_or("?")),
            arguments: texts.text(&json_text(&item["arguments"]), TOOL_TEXT_BYTES, false),
            result: texts.text(
                &Value::String(content_text(&item["contentItems"])),
                TOOL_TEXT_BYTES,
                false,
            ),
            success: item["success"].as_bool(),
        },
        "plan" => What::Other {
            name: "plan".into(),
            text: texts.text(&item["text"], TEXT_BYTES, false),
        },
        "webSearch" => What::Other {
            name: "web search".into(),
            text: texts.text(&item["query"], TOOL_TEXT_BYTES, false),
        },
        "contextCompaction" => What::Other {
            name: "context compacted".into(),
            text: String::new(),
        },
        other => What::Other {
            name: shown(other),
            text: String::new(),
        },
    })
}

/// An item's status; one without a status is under way when it starts and
/// done when it completes.
fn status_of(item: &Value, started: bool) -> EntryStatus {
    match item["status"].as_str() {
        Some("completed") => EntryStatus::Completed,
        Some("failed") => EntryStatus::Failed,
        Some("declined") => EntryStatus::Declined,
        Some(_) => EntryStatus::InProgress,
        None if started => EntryStatus::InProgress,
        None => EntryStatus::Completed,
    }
}

/// The item's texts made safe to show and cut to a budget, and whether any was cut.
struct Texts {
    cut: bool,
}

impl Texts {
    /// At most `max` bytes of `v`'s text, its end kept when `keep_end`.
    fn text(&mut self, v: &Value, max: usize, keep_end: bool) -> String {
        let raw = v.as_str().unwrap_or_default();
        let clean = shown(&crate::pty::strip_escapes(raw.as_bytes()));
        if clean.len() <= max {
            return clean;
        }
        self.cut = true;
        if keep_end {
            crate::text::tail(&clean, max).to_string()
        } else {
            crate::text::head(&clean, max).to_string()
        }
    }
}

/// The entries of a thread's turns (`thread/resume`'s `thread.turns`): the
/// finished ones, and those of a turn still in progress.
pub fn from_turns(turns: &Value) -> (Vec<Entry>, Vec<Entry>) {
    let (mut done, mut open) = (Vec::new(), Vec::new());
    for turn in turns.as_array().into_iter().flatten() {
        let id = turn["id"].as_str();
        let running = turn["status"] == "inProgress";
        for item in turn["items"].as_array().into_iter().flatten() {
            let Some(e) = entry(item, id, false) else {
                continue;
            };
            let in_progress = running && item["status"] == "inProgress";
            if in_progress {
                open.push(Entry {
                    status: EntryStatus::InProgress,
                    ..e
                });
            } else {
                done.push(e);
            }
        }
    }
    (done, open)
}

/// A user message's text: its text inputs, images named.
fn user_text(content: &Value) -> String {
    let parts: Vec<String> = content
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| match c["type"].as_str() {
            Some("text") => shown(c["text"].as_str().unwrap_or_default()),
            Some(other) => format!("[{}]", shown(other)),
            None => String::new(),
        })
        .collect();
    crate::text::head(&parts.join("\n"), TEXT_BYTES).to_string()
}

/// A dynamic tool's answer: its text items.
fn content_text(items: &Value) -> String {
    items
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A JSON value as text (a string as it is).
fn json_text(v: &Value) -> Value {
    match v {
        Value::Null => Value::String(String::new()),
        Value::String(_) => v.clone(),
        other => Value::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_become_entries_with_their_status() {
        let cmd = json!({"type": "commandExecution", "id": "c1", "command": "ls \u{1b}[1m",
            "cwd": "/r", "status": "completed", "aggregatedOutput": "\u{1b}[32ma\u{1b}[0m\n",
            "exitCode": 2, "commandActions": []});
        let e = entry(&cmd, Some("t"), false).unwrap();
        assert_eq!(e.status, EntryStatus::Completed);
        match e.what {
            What::Command {
                output, exit_code, ..
            } => {
                assert_eq!(output, "a\n");
                assert_eq!(exit_code, Some(2));
            }
            other => panic!("{other:?}"),
        }
        let user =
            json!({"type": "userMessage", "id": "u", "content": [{"type": "text", "text": "hi"}]});
        assert!(
            matches!(entry(&user, None, true).unwrap().what, What::User { text } if text == "hi")
        );
        assert_eq!(
            entry(&user, None, true).unwrap().status,
            EntryStatus::InProgress
        );
        assert!(entry(&json!({"type": "reasoning", "id": "r"}), None, true).is_none());
        let tool = json!({"type": "dynamicToolCall", "id": "d", "tool": "governance_report_result",
            "arguments": {"summary": "s"}, "status": "completed",
            "contentItems": [{"type": "inputText", "text": "ok"}], "success": true});
        match entry(&tool, None, false).unwrap().what {
            What::ToolCall {
                result, success, ..
            } => {
                assert_eq!(result, "ok");
                assert_eq!(success, Some(true));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn turns_split_into_finished_and_running_items() {
        let turns = json!([
            {"id": "t1", "status": "completed", "items": [
                {"type": "agentMessage", "id": "a", "text": "done"}]},
            {"id": "t2", "status": "inProgress", "items": [
                {"type": "agentMessage", "id": "b", "text": "done too"},
                {"type": "commandExecution", "id": "c", "command": "sleep 9", "cwd": "/",
                 "status": "inProgress", "commandActions": []}]}
        ]);
        let (done, open) = from_turns(&turns);
        let ids = |v: &[Entry]| v.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&done), ["a", "b"]);
        assert_eq!(ids(&open), ["c"]);
    }
}
