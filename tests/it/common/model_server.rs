//! A scripted model server for the real Codex CLI: the OpenAI Responses API
//! over SSE on loopback (`POST /v1/responses`), answering from rules the test
//! sets and recording every request so tests can assert what the model saw.
//!
//! A rule matches a request whose JSON contains its needle (developer
//! instructions, user messages, tool outputs: the whole history is in each
//! request); matching rules are used once each, in the order they were added.
//! With no rule left, the answer is a short assistant message.
//!
//! It can also fail the way the real service fails: an HTTP error with a body
//! and headers (429 with or without `retry-after`, a usage-limit body, 500), or
//! a stream cut before `response.completed`; and every answer can carry the
//! `x-codex-*` rate-limit headers and a chosen token usage.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::Notify;

/// What a rule answers.
#[derive(Clone)]
enum Answer {
    /// A stream of these output items, completed.
    Items(Vec<Value>),
    /// An HTTP error: status, extra headers, JSON body.
    Status(u16, Vec<(String, String)>, Value),
    /// A stream of these items that ends without `response.completed`.
    Cut(Vec<Value>),
}

/// One scripted answer.
struct Rule {
    needle: String,
    answer: Answer,
    /// The answer waits for this before it is sent (a turn that keeps working).
    hold: Option<Arc<Notify>>,
}

/// A request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The Codex thread the request is for (Codex names its conversation in a header).
    pub fn thread(&self) -> Option<&str> {
        self.header("session_id")
            .or_else(|| self.header("conversation_id"))
            .or_else(|| self.body["prompt_cache_key"].as_str())
    }

    pub fn model(&self) -> Option<&str> {
        self.body["model"].as_str()
    }
}

#[derive(Default)]
struct Script {
    rules: Vec<Rule>,
    requests: Vec<Recorded>,
    /// Sent with every answer that is not an HTTP error.
    headers: Vec<(String, String)>,
    /// The usage every completed answer reports (default: 100 in, 10 out).
    usage: Option<Value>,
}

#[derive(Clone)]
pub struct ModelServer {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl ModelServer {
    pub async fn start() -> ModelServer {
        let script: Arc<Mutex<Script>> = Arc::default();
        let app = Router::new()
            .route("/v1/responses", post(responses))
            .route("/v1/models", get(models))
            .fallback(unknown)
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the model server");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("model server");
        });
        ModelServer { addr, script }
    }

    fn rule(&self, needle: &str, answer: Answer, hold: Option<Arc<Notify>>) {
        self.script.lock().unwrap().rules.push(Rule {
            needle: needle.into(),
            answer,
            hold,
        });
    }

    /// Answers the next request containing `needle` with these output items.
    pub fn on(&self, needle: &str, items: Vec<Value>) {
        self.rule(needle, Answer::Items(items), None);
    }

    /// Like [`on`], but the answer is sent only after the returned handle is notified.
    pub fn on_held(&self, needle: &str, items: Vec<Value>) -> Arc<Notify> {
        let hold = Arc::new(Notify::new());
        self.rule(needle, Answer::Items(items), Some(Arc::clone(&hold)));
        hold
    }

    /// Answers the next request containing `needle` with an HTTP error.
    pub fn on_status(&self, needle: &str, status: u16, headers: &[(&str, &str)], body: Value) {
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.rule(needle, Answer::Status(status, headers, body), None);
    }

    /// Answers the next request containing `needle` with a stream cut short.
    pub fn on_cut(&self, needle: &str, items: Vec<Value>) {
        self.rule(needle, Answer::Cut(items), None);
    }

    /// Every later answer that is not an HTTP error carries these headers
    /// (`x-codex-primary-used-percent`, ...; a value `{now+N}` is a time N
    /// seconds after the answer).
    pub fn set_headers(&self, headers: &[(&str, &str)]) {
        self.script.lock().unwrap().headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }

    /// Every later completed answer reports this `usage`.
    pub fn set_usage(&self, usage: Value) {
        self.script.lock().unwrap().usage = Some(usage);
    }

    pub fn requests(&self) -> Vec<Value> {
        self.recorded().into_iter().map(|r| r.body).collect()
    }

    /// Every request with its headers, in arrival order.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.script.lock().unwrap().requests.clone()
    }

    /// What the model was given for `call_id` (see [`outputs_of`]).
    pub fn outputs(&self, call_id: &str) -> Vec<String> {
        outputs_of(&self.requests(), call_id)
    }

    /// The first request that carried `text` in a user message, with the
    /// user message that did.
    pub fn first_asking(&self, text: &str) -> Option<(Recorded, String)> {
        self.recorded().into_iter().find_map(|r| {
            let said = user_texts(&r.body).into_iter().find(|t| t.contains(text))?;
            Some((r, said))
        })
    }

    /// True when some request carried `text` in a user message.
    pub fn saw_user_text(&self, text: &str) -> bool {
        self.requests()
            .iter()
            .any(|r| user_texts(r).iter().any(|t| t.contains(text)))
    }
}

/// The texts of the user messages in a request's input.
pub fn user_texts(request: &Value) -> Vec<String> {
    request["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "message" && i["role"] == "user")
        .flat_map(|i| i["content"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["text"].as_str().map(str::to_string))
        .collect()
}

/// An assistant message.
pub fn message(text: &str) -> Value {
    json!({"type": "message", "role": "assistant", "id": format!("msg_{}", short(text)),
           "content": [{"type": "output_text", "text": text}]})
}

/// A call of Codex's `exec_command` tool.
pub fn exec(call_id: &str, cmd: &str) -> Value {
    json!({"type": "function_call", "id": format!("fc_{call_id}"), "call_id": call_id,
           "name": "exec_command", "arguments": json!({"cmd": cmd}).to_string()})
}

/// A call of one of the launcher's tools (Codex passes it to the launcher as
/// `item/tool/call`).
pub fn tool_call(call_id: &str, name: &str, arguments: Value) -> Value {
    json!({"type": "function_call", "id": format!("fc_{call_id}"), "call_id": call_id,
           "name": name, "arguments": arguments.to_string()})
}

/// A call of Codex's `apply_patch` edit tool as the models the tests use get
/// it: a freeform (custom) tool whose input is the patch text itself.
pub fn apply_patch(call_id: &str, patch: &str) -> Value {
    json!({"type": "custom_tool_call", "id": format!("ctc_{call_id}"), "call_id": call_id,
           "name": "apply_patch", "input": patch})
}

/// The outputs the model was given for `call_id` in the newest request that has
/// any: tool answers, command and patch outputs, as text.
pub fn outputs_of(requests: &[Value], call_id: &str) -> Vec<String> {
    requests
        .iter()
        .rev()
        .map(|r| {
            r["input"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|i| {
                    matches!(
                        i["type"].as_str(),
                        Some("function_call_output" | "custom_tool_call_output")
                    ) && i["call_id"] == call_id
                })
                .map(|i| match &i["output"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
        })
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

/// The tools the model was offered in a request, by name.
pub fn tool_names(request: &Value) -> Vec<String> {
    request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}

/// A command that asks to run outside the sandbox (an approval with `on-request`).
pub fn exec_escalated(call_id: &str, cmd: &str, why: &str) -> Value {
    json!({"type": "function_call", "id": format!("fc_{call_id}"), "call_id": call_id,
           "name": "exec_command",
           "arguments": json!({"cmd": cmd, "sandbox_permissions": "require_escalated",
                               "justification": why}).to_string()})
}

fn short(text: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    format!("{:x}", h.finish())
}

/// A usage-limit answer as ChatGPT sends it: resets at `resets_at` (unix seconds).
pub fn usage_limit_body(resets_at: u64) -> Value {
    json!({"error": {"type": "usage_limit_reached",
                     "message": "You've hit your usage limit.",
                     "resets_at": resets_at}})
}

async fn responses(
    State(script): State<Arc<Mutex<Script>>>,
    request_headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = request.to_string();
    let headers: Vec<(String, String)> = request_headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let (n, answer, hold, extra, usage) = {
        let mut s = script.lock().unwrap();
        s.requests.push(Recorded {
            body: request,
            headers,
        });
        let n = s.requests.len();
        let (answer, hold) = match s.rules.iter().position(|r| text.contains(&r.needle)) {
            Some(i) => {
                let rule = s.rules.remove(i);
                (rule.answer, rule.hold)
            }
            None => (Answer::Items(vec![message(&format!("done {n}"))]), None),
        };
        (n, answer, hold, s.headers.clone(), s.usage.clone())
    };
    if let Some(hold) = hold {
        hold.notified().await;
    }
    let (items, completed) = match answer {
        Answer::Status(status, headers, body) => {
            let mut r = (
                axum::http::StatusCode::from_u16(status).unwrap(),
                axum::Json(body),
            )
                .into_response();
            for (k, v) in headers {
                r.headers_mut().insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    expand(&v).parse().unwrap(),
                );
            }
            return r;
        }
        Answer::Items(items) => (items, true),
        Answer::Cut(items) => (items, false),
    };
    let mut events =
        vec![json!({"type": "response.created", "response": {"id": format!("resp_{n}")}})];
    for item in items {
        events.push(json!({"type": "response.output_item.done", "item": item}));
    }
    if completed {
        let usage = usage.unwrap_or_else(|| {
            json!({"input_tokens": 100, "input_tokens_details": null, "output_tokens": 10,
                   "output_tokens_details": null, "total_tokens": 110})
        });
        events.push(json!({"type": "response.completed",
                           "response": {"id": format!("resp_{n}"), "usage": usage}}));
    }
    let sse: String = events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect();
    let mut r = ([(header::CONTENT_TYPE, "text/event-stream")], sse).into_response();
    for (k, v) in extra {
        r.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            expand(&v).parse().unwrap(),
        );
    }
    r
}

/// A header value `{now+N}` is the unix time N seconds after the answer is
/// sent (a reset a test wants a little ahead of when the limit is hit).
fn expand(v: &str) -> String {
    match v.strip_prefix("{now+").and_then(|r| r.strip_suffix('}')) {
        Some(n) => (unix_now() + n.parse::<u64>().expect("{now+N}")).to_string(),
        None => v.to_string(),
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn models() -> Response {
    axum::Json(json!({"data": [], "models": []})).into_response()
}

async fn unknown(uri: axum::http::Uri) -> Response {
    eprintln!("model server: unknown path {uri}");
    (axum::http::StatusCode::NOT_FOUND, "unknown").into_response()
}

/// The pinned Codex CLI that `tools/test.sh` installs (a Codex test starts
/// with `needs!(Codex)`, see `tier`).
pub fn codex_bin() -> PathBuf {
    let p = super::tier::codex();
    assert!(
        p.exists(),
        "the Codex CLI {} is not installed at {}: run tools/test.sh (it installs it from npm)",
        super::tier::CODEX_VERSION,
        p.display()
    );
    p
}

/// A private CODEX_HOME for one test: Codex talks only to this model server.
/// `logged_in: false` keeps Codex's default OpenAI provider without credentials.
pub fn codex_home(dir: &Path, server: &ModelServer, logged_in: bool) -> PathBuf {
    let home = dir.join("codex-home");
    std::fs::create_dir_all(&home).unwrap();
    let provider = if logged_in {
        format!(
            "model_provider = \"scripted\"\n\n[model_providers.scripted]\nname = \"scripted\"\n\
             base_url = \"http://{}/v1\"\nwire_api = \"responses\"\nenv_key = \"SCRIPTED_API_KEY\"\n\
             request_max_retries = 0\nstream_max_retries = 0\n",
            server.addr
        )
    } else {
        String::new()
    };
    std::fs::write(
        home.join("config.toml"),
        format!("check_for_update_on_startup = false\n{provider}"),
    )
    .unwrap();
    home
}

/// The environment a launcher under test gives Codex: its home, a key for the
/// scripted provider, and proxies on a closed port so nothing leaves loopback.
pub fn codex_env(home: &Path, codex: &Path) -> Vec<(String, String)> {
    let closed = "http://127.0.0.1:9";
    let mut env = vec![
        ("CODEX_HOME".to_string(), home.display().to_string()),
        ("SCRIPTED_API_KEY".into(), "test-key".into()),
        (
            "CODEX_GOVERNANCE_CODEX_BIN".into(),
            codex.display().to_string(),
        ),
        ("NO_PROXY".into(), "127.0.0.1,localhost".into()),
        ("no_proxy".into(), "127.0.0.1,localhost".into()),
    ];
    for k in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        env.push((k.into(), closed.into()));
    }
    env
}

/// How many requests' last user message contains `text` (how many turns the
/// model was given it in).
pub fn user_texts_everywhere(requests: &[Value], text: &str) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    for r in requests {
        for t in user_texts(r) {
            if t.contains(text) {
                seen.insert(t);
            }
        }
    }
    seen.len()
}

/// What the pinned Codex says of its version (`codex-cli 0.171.0`).
pub fn codex_version() -> String {
    let out = std::process::Command::new(codex_bin())
        .arg("--version")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
