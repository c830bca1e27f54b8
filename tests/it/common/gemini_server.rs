//! A scripted Gemini API on loopback (`POST /v1beta/models/<model>:
//! streamGenerateContent?alt=sse`), for Gemini CLI in ACP mode: a rule
//! answers the next request whose JSON contains its needle with these
//! parts (text, or a function call with its id); with no rule left, a short
//! text. Every request is recorded.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

/// One part of an answer.
#[derive(Clone)]
pub enum Part {
    Text(String),
    /// A function call: its id, the function's name, its arguments.
    Call(String, String, Value),
}

#[derive(Default)]
struct Script {
    rules: Vec<(String, Vec<Part>)>,
    /// Each request: its path, its headers' names, its body.
    requests: Vec<(String, Vec<String>, Value)>,
    answered: u64,
}

pub struct GeminiServer {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl GeminiServer {
    pub async fn start() -> GeminiServer {
        let script: Arc<Mutex<Script>> = Arc::default();
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the scripted Gemini server");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("scripted Gemini server");
        });
        GeminiServer { addr, script }
    }

    /// Answers the next request containing `needle` with `parts`.
    pub fn on(&self, needle: &str, parts: Vec<Part>) {
        self.script
            .lock()
            .unwrap()
            .rules
            .push((needle.to_string(), parts));
    }

    /// Every request's path, in order.
    pub fn paths(&self) -> Vec<String> {
        let s = self.script.lock().unwrap();
        s.requests.iter().map(|(p, _, _)| p.clone()).collect()
    }

    /// Every request's header names (lower case), in order.
    pub fn header_names(&self) -> Vec<Vec<String>> {
        let s = self.script.lock().unwrap();
        s.requests.iter().map(|(_, h, _)| h.clone()).collect()
    }

    /// What the model was given for function call `id` (its
    /// `functionResponse`s' response, as JSON text).
    pub fn results(&self, id: &str) -> Vec<String> {
        let requests: Vec<Value> = {
            let s = self.script.lock().unwrap();
            s.requests.iter().map(|(_, _, r)| r.clone()).collect()
        };
        let mut found = Vec::new();
        for r in requests {
            for c in r["contents"].as_array().into_iter().flatten() {
                for p in c["parts"].as_array().into_iter().flatten() {
                    let f = &p["functionResponse"];
                    if f["id"] == id {
                        let text = f["response"].to_string();
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

async fn answer(
    State(script): State<Arc<Mutex<Script>>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = uri.path().to_string();
    let text = request.to_string();
    let parts = {
        let mut s = script.lock().unwrap();
        let names = headers.keys().map(|k| k.as_str().to_string()).collect();
        s.requests.push((path.clone(), names, request.clone()));
        s.answered += 1;
        let n = s.answered;
        let streams = path.ends_with(":streamGenerateContent");
        let at = streams
            .then(|| s.rules.iter().position(|(needle, _)| text.contains(needle)))
            .flatten();
        match at {
            Some(i) => s.rules.remove(i).1,
            None => vec![Part::Text(format!("done {n}"))],
        }
    };
    let parts: Vec<Value> = parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => json!({"text": t}),
            Part::Call(id, name, args) => {
                json!({"functionCall": {"id": id, "name": name, "args": args}})
            }
        })
        .collect();
    let candidate = json!({"candidates": [{"content": {"role": "model", "parts": parts},
        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": "gemini-2.5-flash"});
    if path.ends_with(":streamGenerateContent") {
        // One event per line: Gemini CLI reads `data: <json>` and a blank line.
        let body = format!("data: {candidate}\r\n\r\n");
        return ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response();
    }
    if path.ends_with(":generateContent") {
        return axum::Json(candidate).into_response();
    }
    if path.ends_with(":countTokens") {
        return axum::Json(json!({"totalTokens": 10})).into_response();
    }
    (axum::http::StatusCode::NOT_FOUND, "{}").into_response()
}
