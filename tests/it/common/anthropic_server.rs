//! A scripted Anthropic Messages API on loopback (`POST /v1/messages`, SSE
//! when the request streams), for Claude Code under its ACP adapter: a rule
//! answers the next request whose JSON contains its needle with these
//! content blocks (text, or a tool use); with no rule left, a short text.
//! Every request is recorded.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

/// One block of an answer.
#[derive(Clone)]
pub enum Block {
    Text(String),
    /// A tool use: its id, the tool's name, its input.
    ToolUse(String, String, Value),
}

#[derive(Default)]
struct Script {
    rules: Vec<(String, Vec<Block>)>,
    requests: Vec<Value>,
    answered: u64,
}

pub struct AnthropicServer {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl AnthropicServer {
    pub async fn start() -> AnthropicServer {
        AnthropicServer::start_at("127.0.0.1").await
    }

    /// On another address of this machine (a model that is not on loopback).
    pub async fn start_at(ip: &str) -> AnthropicServer {
        let script: Arc<Mutex<Script>> = Arc::default();
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "{}") })
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind((ip, 0))
            .await
            .expect("bind the scripted Anthropic server");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("scripted Anthropic server");
        });
        AnthropicServer { addr, script }
    }

    /// Answers the next request containing `needle` with `blocks`.
    pub fn on(&self, needle: &str, blocks: Vec<Block>) {
        self.script
            .lock()
            .unwrap()
            .rules
            .push((needle.to_string(), blocks));
    }

    pub fn requests(&self) -> Vec<Value> {
        self.script.lock().unwrap().requests.clone()
    }

    /// What the model was given for tool use `id` (its `tool_result`s' text).
    pub fn results(&self, id: &str) -> Vec<String> {
        let mut found = Vec::new();
        for r in self.requests() {
            for m in r["messages"].as_array().into_iter().flatten() {
                for b in m["content"].as_array().into_iter().flatten() {
                    if b["type"] == "tool_result" && b["tool_use_id"] == id {
                        let text = match &b["content"] {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        if !found.contains(&text) {
                            found.push(text);
                        }
                    }
                }
            }
        }
        found
    }
}

async fn messages(State(script): State<Arc<Mutex<Script>>>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = request.to_string();
    let (blocks, n) = {
        let mut s = script.lock().unwrap();
        s.requests.push(request.clone());
        s.answered += 1;
        let n = s.answered;
        // A side request for structured output (a session's title) is
        // answered on its own, never with a rule meant for the turn.
        let side = !request["output_config"]["format"].is_null();
        let at = (!side)
            .then(|| s.rules.iter().position(|(needle, _)| text.contains(needle)))
            .flatten();
        let blocks = match at {
            Some(i) => s.rules.remove(i).1,
            None if side => vec![Block::Text(json!({"title": "a task"}).to_string())],
            None => vec![Block::Text(format!("done {n}"))],
        };
        (blocks, n)
    };
    let model = request["model"].clone();
    let stop = if blocks.iter().any(|b| matches!(b, Block::ToolUse(..))) {
        "tool_use"
    } else {
        "end_turn"
    };
    let usage = json!({"input_tokens": 10, "output_tokens": 5});
    if request["stream"] != true {
        let content: Vec<Value> = blocks.iter().map(whole).collect();
        let message = json!({"id": format!("msg_{n}"), "type": "message", "role": "assistant",
            "model": model, "content": content, "stop_reason": stop, "stop_sequence": null,
            "usage": usage});
        return axum::Json(message).into_response();
    }
    let mut events = vec![(
        "message_start",
        json!({"type": "message_start", "message": {"id": format!("msg_{n}"), "type": "message",
            "role": "assistant", "model": model, "content": [], "stop_reason": null,
            "stop_sequence": null, "usage": usage}}),
    )];
    for (index, block) in blocks.iter().enumerate() {
        let (start, delta) = match block {
            Block::Text(t) => (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": t}),
            ),
            Block::ToolUse(id, name, input) => (
                json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                json!({"type": "input_json_delta", "partial_json": input.to_string()}),
            ),
        };
        events.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        events.push((
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        ));
        events.push((
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.push((
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
               "usage": {"output_tokens": 5}}),
    ));
    events.push(("message_stop", json!({"type": "message_stop"})));
    let body: String = events
        .into_iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect();
    ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
}

/// A block as a whole (non-streaming) answer carries it.
fn whole(block: &Block) -> Value {
    match block {
        Block::Text(t) => json!({"type": "text", "text": t}),
        Block::ToolUse(id, name, input) => {
            json!({"type": "tool_use", "id": id, "name": name, "input": input})
        }
    }
}
