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
//! [[acp: limit]]      answers it as Claude Code's adapter does at a usage limit (an
//!                     internal error whose data says `errorKind: rate_limit`)
//! [[acp: tool NAME {JSON}]]  first calls the tool NAME with these arguments through the
//!                     first MCP server session/new named (started as given: stdio),
//!                     each such directive in order
//! [[acp: script PATH]]  the same for each line `NAME {JSON}` of the file PATH
//! [[acp: await PATH]]  before any tool directive, waits (two minutes at most) for PATH to exist
//! [[acp: linger]]      outlives the end of its stdin (two minutes), as a stuck agent would
//! [[acp: fs-read PATH]]   asks the client fs/read_text_file PATH
//! [[acp: fs-write PATH]]  asks the client fs/write_text_file PATH ("written by fake-acp")
//! [[acp: write PATH]]     writes PATH itself, as an agent's own command would
//! [[acp: connect HOST:PORT]]  opens a TCP connection itself, as a command would
//!                         ("written by fake-acp's process"), before any fs or tool directive
//! ```
//!
//! With `--load-session` (after `--acp`) it offers `session/load`: it takes
//! the session id it is given, replays one message ("replayed: <id>") as
//! the protocol has an agent replay its conversation, and answers.
//!
//! What it prints on stderr (the session's log), one line each:
//!
//! ```text
//! FAKE_ACP_START pid=<pid> cwd=<its working folder>
//! FAKE_ACP_SESSION <JSON of session/new's params>
//! FAKE_ACP_LOAD <JSON of session/load's params>
//! FAKE_ACP_PROMPT <JSON of the prompt's text>
//! FAKE_ACP_CANCELLED
//! FAKE_ACP_PERMISSION <JSON of the answer's outcome>
//! FAKE_ACP_TOOLS <JSON list of the MCP server's tool names>
//! FAKE_ACP_TOOL <name> <JSON: {"error": bool, "text": the answer's text}>
//! FAKE_ACP_FS <read|write> <JSON: the client's result, or {"error": its message}>
//! FAKE_ACP_WRITE <JSON: {"path": PATH, "error": null or the OS's message}>
//! FAKE_ACP_EOF
//! ```
//!
//! Each turn that ends by itself reports its usage (`usage_update`: 1,200
//! tokens of context more, of 200,000, and $0.05 more).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

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
    let mut servers = Value::Null;
    let mut mcp: Option<Mcp> = None;
    let mut lines = stdin.lock().lines();
    let mut fs_requests = 0;
    let mut linger = false;
    let loads = std::env::args().any(|a| a == "--load-session");
    let mut turns: u64 = 0;
    while let Some(line) = lines.next() {
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
                       "agentCapabilities": {"loadSession": loads},
                       "agentInfo": {"name": "fake-acp", "version": "0"},
                       "authMethods": []}),
            ),
            "session/new" => {
                eprintln!("FAKE_ACP_SESSION {params}");
                servers = params["mcpServers"].clone();
                session = format!("fake-acp-{}", std::process::id());
                reply(&msg["id"], json!({"sessionId": session}));
            }
            "session/load" if loads => {
                eprintln!("FAKE_ACP_LOAD {params}");
                servers = params["mcpServers"].clone();
                session = params["sessionId"].as_str().unwrap_or_default().to_string();
                say(&session, &format!("replayed: {session}"));
                reply(&msg["id"], json!({}));
            }
            "session/prompt" => {
                let text: String = params["prompt"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|b| b["text"].as_str())
                    .collect();
                eprintln!("FAKE_ACP_PROMPT {}", Value::String(text.clone()));
                linger |= text.contains("[[acp: linger]]");
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
                if text.contains("[[acp: limit]]") {
                    send(&json!({"jsonrpc": "2.0", "id": msg["id"],
                        "error": {"code": -32603, "message": "Internal error",
                                  "data": {"errorKind": "rate_limit"}}}));
                    continue;
                }
                say(&session, &format!("heard: {last}"));
                for place in directives(&text, "[[acp: connect ") {
                    let error = std::net::TcpStream::connect(&place)
                        .err()
                        .map(|e| e.to_string());
                    eprintln!(
                        "FAKE_ACP_CONNECT {}",
                        json!({"place": place, "error": error})
                    );
                }
                for path in directives(&text, "[[acp: write ") {
                    let error = std::fs::write(&path, "written by fake-acp's process")
                        .err()
                        .map(|e| e.to_string());
                    eprintln!("FAKE_ACP_WRITE {}", json!({"path": path, "error": error}));
                }
                for (write, path) in fs_directives(&text) {
                    fs_requests += 1;
                    let id = format!("fs-{fs_requests}");
                    let (method, params) = if write {
                        (
                            "fs/write_text_file",
                            json!({"sessionId": session, "path": path, "content": "written by fake-acp"}),
                        )
                    } else {
                        (
                            "fs/read_text_file",
                            json!({"sessionId": session, "path": path}),
                        )
                    };
                    send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
                    let answer = lines
                        .by_ref()
                        .map_while(Result::ok)
                        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
                        .find(|m| m["id"] == id.as_str())
                        .unwrap_or(Value::Null);
                    let shown = match answer.get("error") {
                        Some(e) => json!({"error": e["message"]}),
                        None => answer["result"].clone(),
                    };
                    eprintln!(
                        "FAKE_ACP_FS {} {shown}",
                        if write { "write" } else { "read" }
                    );
                }
                await_files(&text);
                for (name, args) in tool_directives(&text) {
                    if mcp.is_none() {
                        mcp = Mcp::start(&servers[0]);
                    }
                    match mcp.as_mut() {
                        Some(m) => m.call(&name, args),
                        None => eprintln!(
                            "FAKE_ACP_TOOL {name} {}",
                            json!({"error": true, "text": "no MCP server"})
                        ),
                    }
                }
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
                        // Unique in the session, as the protocol asks (a
                        // loaded session's process numbers on from its pid).
                        json!({"sessionUpdate": "tool_call", "toolCallId": format!("call-{}-{}", std::process::id(), msg["id"]), "title": "echo done",
                               "kind": "execute", "status": "completed",
                               "content": [{"type": "content", "content": {"type": "text", "text": "done"}}]}),
                    );
                    turns += 1;
                    // What it used and cost so far, as an agent reports it.
                    update(
                        &session,
                        json!({"sessionUpdate": "usage_update", "used": 1200 * turns, "size": 200000,
                               "cost": {"amount": 0.05 * turns as f64, "currency": "USD"}}),
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
    if linger {
        std::thread::sleep(std::time::Duration::from_secs(120));
    }
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

/// The `[[acp: tool NAME {JSON}]]` directives of a prompt, in order, then
/// the lines of its `[[acp: script PATH]]` files; each once (the role prompt
/// before the first turn repeats the task).
fn tool_directives(text: &str) -> Vec<(String, Value)> {
    let mut found: Vec<(String, Value)> = Vec::new();
    for call in calls_in(text) {
        if !found.contains(&call) {
            found.push(call);
        }
    }
    let mut scripts: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("[[acp: script ") {
        let after = &rest[i + "[[acp: script ".len()..];
        let Some(end) = after.find("]]") else { break };
        let path = after[..end].trim();
        rest = &after[end..];
        if scripts.contains(&path) {
            continue;
        }
        scripts.push(path);
        let script = std::fs::read_to_string(path).unwrap_or_default();
        for line in script.lines().filter(|l| !l.trim().is_empty()) {
            found.push(call_of(line));
        }
    }
    found
}

/// Waits for each `[[acp: await PATH]]` file to exist (two minutes at most).
fn await_files(text: &str) {
    let mut rest = text;
    while let Some(i) = rest.find("[[acp: await ") {
        let after = &rest[i + "[[acp: await ".len()..];
        let Some(end) = after.find("]]") else { break };
        let path = std::path::Path::new(after[..end].trim());
        let until = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while !path.exists() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        rest = &after[end..];
    }
}

fn calls_in(text: &str) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("[[acp: tool ") {
        let after = &rest[i + "[[acp: tool ".len()..];
        let Some(end) = after.find("]]") else { break };
        found.push(call_of(&after[..end]));
        rest = &after[end..];
    }
    found
}

/// The `[[acp: fs-read PATH]]` and `[[acp: fs-write PATH]]` directives, in
/// order, each once: (whether a write, the path).
fn fs_directives(text: &str) -> Vec<(bool, String)> {
    let mut found: Vec<(bool, String)> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("[[acp: fs-") {
        let after = &rest[i + "[[acp: fs-".len()..];
        let Some(end) = after.find("]]") else { break };
        let body = &after[..end];
        rest = &after[end..];
        let call = match body.split_once(' ') {
            Some(("read", path)) => (false, path.trim().to_string()),
            Some(("write", path)) => (true, path.trim().to_string()),
            _ => continue,
        };
        if !found.contains(&call) {
            found.push(call);
        }
    }
    found
}

/// The words of the `opening ...]]` directives (`[[acp: write PATH]]`), in
/// order, each once.
fn directives(text: &str, opening: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(opening) {
        let after = &rest[i + opening.len()..];
        let Some(end) = after.find("]]") else { break };
        let path = after[..end].trim().to_string();
        rest = &after[end..];
        if !found.contains(&path) {
            found.push(path);
        }
    }
    found
}

/// `NAME {JSON}`: a tool and its arguments.
fn call_of(body: &str) -> (String, Value) {
    let (name, args) = body.trim().split_once(' ').unwrap_or((body.trim(), "{}"));
    let args = serde_json::from_str(args.trim()).unwrap_or_else(|_| json!({}));
    (name.to_string(), args)
}

/// An MCP server the agent started, as its `mcpServers` entry says.
struct Mcp {
    _child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    next: u64,
}

impl Mcp {
    fn start(entry: &Value) -> Option<Mcp> {
        let command = entry["command"].as_str()?;
        let args: Vec<&str> = entry["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut cmd = Command::new(command);
        cmd.args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for var in entry["env"].as_array().into_iter().flatten() {
            if let (Some(k), Some(v)) = (var["name"].as_str(), var["value"].as_str()) {
                cmd.env(k, v);
            }
        }
        let mut child = cmd.spawn().ok()?;
        let mut mcp = Mcp {
            input: child.stdin.take()?,
            output: BufReader::new(child.stdout.take()?),
            _child: child,
            next: 0,
        };
        mcp.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "fake-acp", "version": "0"}}),
        )?;
        mcp.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        let list = mcp.request("tools/list", json!({}))?;
        let names: Vec<&str> = list["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["name"].as_str())
            .collect();
        eprintln!("FAKE_ACP_TOOLS {}", json!(names));
        Some(mcp)
    }

    fn send(&mut self, v: &Value) {
        let _ = writeln!(self.input, "{v}");
        let _ = self.input.flush();
    }

    /// Sends a request and reads lines until its answer; its result (or error).
    fn request(&mut self, method: &str, params: Value) -> Option<Value> {
        self.next += 1;
        let id = self.next;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let mut line = String::new();
        loop {
            line.clear();
            if self.output.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if msg["id"] == id {
                return Some(if msg.get("error").is_some() {
                    json!({"isError": true, "content": [{"type": "text", "text": msg["error"]["message"]}]})
                } else {
                    msg["result"].clone()
                });
            }
        }
    }

    fn call(&mut self, name: &str, arguments: Value) {
        let result = self
            .request("tools/call", json!({"name": name, "arguments": arguments}))
            .unwrap_or_else(
                || json!({"isError": true, "content": [{"type": "text", "text": "no answer"}]}),
            );
        let text: String = result["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["text"].as_str())
            .collect();
        let error = result["isError"] == true;
        eprintln!(
            "FAKE_ACP_TOOL {name} {}",
            json!({"error": error, "text": text})
        );
    }
}
