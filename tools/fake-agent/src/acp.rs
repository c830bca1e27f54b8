//! `fake-agent --acp`: a scripted agent speaking the Agent Client Protocol
//! on its stdio (newline-delimited JSON-RPC), for the ACP backend's fast
//! tests. What it does in a turn comes from directives in the prompt:
//!
//! ```text
//! (none)              says "heard: <the prompt's last line>", one finished tool call, ends the turn
//! [[acp: wait]]       says it heard, then waits for session/cancel (stop reason cancelled)
//! [[acp: ask]]        asks session/request_permission (allow once, allow always, reject once),
//!                     then says which option it got and ends the turn
//! [[acp: refuse]]     answers the prompt with a JSON-RPC error
//! ```
//!
//! What it prints on stderr (the session's log), one line each:
//!
//! ```text
//! FAKE_ACP_START pid=<pid> cwd=<its working folder>
//! FAKE_ACP_SESSION <JSON of session/new's params>
//! FAKE_ACP_PROMPT <JSON of the prompt's text>
//! FAKE_ACP_CANCELLED
//! FAKE_ACP_PERMISSION <JSON of the answer's outcome>
//! FAKE_ACP_EOF
//! ```

use std::io::{BufRead, Write};

use serde_json::{json, Value};

/// The turn in progress: its prompt request's id and what it waits for.
struct Turn {
    id: Value,
    waits: Waits,
}

enum Waits {
    Cancel,
    Permission,
}

pub fn run() -> ! {
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    eprintln!("FAKE_ACP_START pid={} cwd={cwd}", std::process::id());
    let stdin = std::io::stdin();
    let mut turn: Option<Turn> = None;
    let mut session = String::new();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            eprintln!("FAKE_ACP_BAD_LINE {line}");
            continue;
        };
        let method = msg["method"].as_str().unwrap_or("");
        let params = &msg["params"];
        match method {
            "initialize" => reply(
                &msg["id"],
                json!({"protocolVersion": 1,
                       "agentCapabilities": {"loadSession": false},
                       "agentInfo": {"name": "fake-acp", "version": "0"},
                       "authMethods": []}),
            ),
            "session/new" => {
                eprintln!("FAKE_ACP_SESSION {params}");
                session = format!("fake-acp-{}", std::process::id());
                reply(&msg["id"], json!({"sessionId": session}));
            }
            "session/prompt" => {
                let text: String = params["prompt"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|b| b["text"].as_str())
                    .collect();
                eprintln!("FAKE_ACP_PROMPT {}", Value::String(text.clone()));
                let last = text
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                if text.contains("[[acp: refuse]]") {
                    send(&json!({"jsonrpc": "2.0", "id": msg["id"],
                        "error": {"code": -32603, "message": "fake-acp refuses"}}));
                    continue;
                }
                say(&session, &format!("heard: {last}"));
                if text.contains("[[acp: wait]]") {
                    turn = Some(Turn {
                        id: msg["id"].clone(),
                        waits: Waits::Cancel,
                    });
                } else if text.contains("[[acp: ask]]") {
                    send(
                        &json!({"jsonrpc": "2.0", "id": "perm-1", "method": "session/request_permission",
                        "params": {"sessionId": session,
                            "toolCall": {"toolCallId": "call-ask", "title": "touch asked.txt", "kind": "execute",
                                         "status": "pending", "rawInput": {"command": "touch asked.txt"}},
                            "options": [
                                {"optionId": "yes-once", "name": "Allow once", "kind": "allow_once"},
                                {"optionId": "yes-always", "name": "Always allow", "kind": "allow_always"},
                                {"optionId": "no-once", "name": "Reject", "kind": "reject_once"}]}}),
                    );
                    turn = Some(Turn {
                        id: msg["id"].clone(),
                        waits: Waits::Permission,
                    });
                } else {
                    update(
                        &session,
                        json!({"sessionUpdate": "tool_call", "toolCallId": "call-1", "title": "echo done",
                               "kind": "execute", "status": "completed",
                               "content": [{"type": "content", "content": {"type": "text", "text": "done"}}]}),
                    );
                    reply(&msg["id"], json!({"stopReason": "end_turn"}));
                }
            }
            "session/cancel" => {
                eprintln!("FAKE_ACP_CANCELLED");
                if let Some(t) = turn.take() {
                    reply(&t.id, json!({"stopReason": "cancelled"}));
                }
            }
            // An answer to our own request (the permission).
            "" if msg["id"] == "perm-1" => {
                let outcome = &msg["result"]["outcome"];
                eprintln!("FAKE_ACP_PERMISSION {outcome}");
                let chosen = outcome["optionId"].as_str().unwrap_or("cancelled");
                say(&session, &format!("permission: {chosen}"));
                if let Some(t) = turn.take_if(|t| matches!(t.waits, Waits::Permission)) {
                    let reason = if outcome["outcome"] == "cancelled" {
                        "cancelled"
                    } else {
                        "end_turn"
                    };
                    reply(&t.id, json!({"stopReason": reason}));
                }
            }
            _ if msg.get("id").is_some() && !method.is_empty() => {
                send(&json!({"jsonrpc": "2.0", "id": msg["id"],
                    "error": {"code": -32601, "message": format!("fake-acp has no {method}")}}));
            }
            _ => {}
        }
    }
    eprintln!("FAKE_ACP_EOF");
    std::process::exit(0)
}

fn send(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn reply(id: &Value, result: Value) {
    send(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
}

fn update(session: &str, update: Value) {
    send(&json!({"jsonrpc": "2.0", "method": "session/update",
                 "params": {"sessionId": session, "update": update}}));
}

fn say(session: &str, text: &str) {
    update(
        session,
        json!({"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": text}}),
    );
}
