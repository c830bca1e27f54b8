//! One Codex conversation driven over its app-server: the thread is started
//! (or resumed after a launcher restart) with the launcher's tools and sandbox,
//! text goes in as turns, approvals and tool calls are answered, and the
//! server's notifications become [`AgentEvent`]s for the sessions service.
//! Events of other threads (Codex's ephemeral title threads) are ignored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::rpc::Incoming;
use super::shared::SharedServer;
use super::thread::{Opened, ThreadSpec};
use super::CodexError;
use crate::agents::conversation::{Conversation, Entry, EntryStatus, What};
use crate::agents::{AgentEvent, Delivery, ToolAnswer};
use crate::model::{PatchChange, TokenUsage};
use approvals::Waiting;

mod approvals;

/// A live Codex conversation.
pub struct CodexAgent {
    session_id: String,
    server: Arc<SharedServer>,
    pub thread_id: String,
    /// The turn in progress, if any.
    turn: Mutex<Option<String>>,
    /// One text at a time: a second text sent while the first one's
    /// `turn/start` is in flight is steered into that turn, not started as
    /// another (which would end the first, its pending tool call unanswered).
    sending: tokio::sync::Mutex<()>,
    /// Waiting approvals: our key -> the server's request.
    requests: Mutex<HashMap<String, Waiting>>,
    /// Waiting tool calls: call id -> the server's JSON-RPC id.
    tool_calls: Mutex<HashMap<String, Value>>,
    /// Patches under way: item id -> what they change (their approval names only the item).
    patches: Mutex<HashMap<String, Vec<PatchChange>>>,
    /// The `projects` keys its thread names untrusted; its TUI names them too.
    untrusted: Vec<String>,
    /// The thread's items as the page shows them.
    pub conversation: Arc<Conversation>,
    events: mpsc::UnboundedSender<AgentEvent>,
    /// Each turn runs there (issue 53): a resumed thread is told again.
    environments: Option<Value>,
}

impl CodexAgent {
    /// Checks the login, starts or resumes the thread on the shared server and
    /// names it. The events end with [`AgentEvent::Closed`].
    pub async fn open(
        server: Arc<SharedServer>,
        session_id: &str,
        thread: ThreadSpec,
        conversation: Arc<Conversation>,
    ) -> Result<(Arc<CodexAgent>, mpsc::UnboundedReceiver<AgentEvent>), CodexError> {
        let Opened {
            thread_id,
            incoming,
            running,
            patches,
            history,
            untrusted,
        } = super::thread::open(&server, &thread).await?;
        if let Some((done, open)) = history {
            conversation.resume(done, open);
        }
        let (events, rx) = mpsc::unbounded_channel();
        let agent = Arc::new(CodexAgent {
            session_id: session_id.to_string(),
            server,
            thread_id,
            turn: Mutex::new(running),
            sending: tokio::sync::Mutex::new(()),
            requests: Mutex::new(HashMap::new()),
            tool_calls: Mutex::new(HashMap::new()),
            patches: Mutex::new(patches),
            untrusted,
            conversation,
            events,
            environments: thread.environment.as_ref().map(super::thread::environments),
        });
        tokio::spawn(Arc::clone(&agent).follow(incoming));
        Ok((agent, rx))
    }

    /// The TUI's arguments (attach to this thread through this server; no
    /// daemon starts with --remote) and the variables it needs.
    pub fn tui_command(&self, cwd: &std::path::Path) -> (Vec<String>, Vec<(String, String)>) {
        let (remote, env) = self.server.server.endpoint.remote_args();
        let mut args = vec!["resume".to_string(), self.thread_id.clone()];
        args.extend(remote);
        args.extend([
            "--cd".to_string(),
            cwd.display().to_string(),
            "-c".into(),
            "check_for_update_on_startup=false".into(),
        ]);
        if !self.untrusted.is_empty() {
            // Its own configuration loads nothing of the repository's either.
            args.extend([
                "-c".into(),
                super::project_trust::untrusted_override(&self.untrusted),
            ]);
        }
        (args, env)
    }

    pub fn server_pid(&self) -> u32 {
        self.server.server.pid()
    }

    pub fn working(&self) -> bool {
        self.turn.lock().unwrap().is_some()
    }

    /// Puts text into the conversation: a new turn when idle, steered into
    /// the running turn otherwise (a turn that just ended gets a new one).
    pub async fn send_text(&self, text: &str) -> Result<Delivery, CodexError> {
        let _one_at_a_time = self.sending.lock().await;
        let input = json!([{"type": "text", "text": text}]);
        let running = self.turn.lock().unwrap().clone();
        if let Some(turn_id) = running {
            let steered = self
                .server
                .rpc
                .request(
                    "turn/steer",
                    json!({"threadId": self.thread_id, "expectedTurnId": turn_id, "input": input}),
                )
                .await;
            match steered {
                Ok(_) => return Ok(Delivery::Steered),
                Err(e) => tracing::info!("steering {}: {e}; starting a turn", self.session_id),
            }
        }
        let mut params = json!({"threadId": self.thread_id, "input": input});
        if let Some(environments) = &self.environments {
            params["environments"] = environments.clone();
        }
        let answer = self.server.rpc.request("turn/start", params).await?;
        if let Some(id) = answer["turn"]["id"].as_str() {
            let status = answer["turn"]["status"].as_str().unwrap_or("inProgress");
            if status == "inProgress" {
                *self.turn.lock().unwrap() = Some(id.to_string());
            }
        }
        Ok(Delivery::Started)
    }

    /// The thread's next turns use `model` (the running one keeps its own).
    pub async fn set_model(&self, model: &str) -> Result<(), CodexError> {
        self.server
            .rpc
            .request(
                "thread/settings/update",
                json!({"threadId": self.thread_id, "model": model}),
            )
            .await?;
        Ok(())
    }

    /// Stops the running turn, if any.
    pub async fn interrupt(&self) -> Result<(), CodexError> {
        let running = self.turn.lock().unwrap().clone();
        let Some(turn_id) = running else {
            return Ok(());
        };
        self.server
            .rpc
            .request(
                "turn/interrupt",
                json!({"threadId": self.thread_id, "turnId": turn_id}),
            )
            .await?;
        Ok(())
    }

    /// Answers a waiting tool call; the text reaches the model as the function's output.
    fn answer_tool(&self, call_id: &str, answer: &ToolAnswer) -> Result<(), CodexError> {
        let id = self
            .tool_calls
            .lock()
            .unwrap()
            .remove(call_id)
            .ok_or_else(|| CodexError::NoSuchApproval(call_id.to_string()))?;
        self.server.rpc.respond(
            &id,
            json!({"contentItems": [{"type": "inputText", "text": answer.text}],
                   "success": answer.success}),
        )?;
        Ok(())
    }

    /// Ends the conversation: its running turn is interrupted (which ends the
    /// commands it runs) and the launcher stops listening to it. The shared
    /// server stays for the other threads.
    pub async fn stop(&self) {
        if self.working() {
            let interrupted =
                tokio::time::timeout(std::time::Duration::from_secs(5), self.interrupt()).await;
            if !matches!(interrupted, Ok(Ok(()))) && !self.ended_meanwhile().await {
                tracing::warn!("{}: its turn did not stop when asked", self.session_id);
            }
        }
        self.server.unsubscribe(&self.thread_id);
    }

    /// Whether a turn that refused the interrupt had just ended on its own
    /// (Codex answers an interrupt that comes after the turn with an error,
    /// and its `turn/completed` may follow the answer): given a moment.
    async fn ended_meanwhile(&self) -> bool {
        for _ in 0..20 {
            if !self.working() {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        !self.working()
    }

    /// Turns the server's messages into events until the connection ends.
    async fn follow(self: Arc<Self>, mut incoming: mpsc::UnboundedReceiver<Incoming>) {
        while let Some(m) = incoming.recv().await {
            let event = match m {
                Incoming::Notification { method, params } => self.on_notification(&method, &params),
                Incoming::Request { id, method, params } => self.on_request(id, &method, &params),
            };
            if let Some(e) = event {
                if self.events.send(e).is_err() {
                    break;
                }
            }
        }
        let _ = self.events.send(AgentEvent::Closed);
    }

    fn ours(&self, params: &Value) -> bool {
        params["threadId"].as_str() == Some(self.thread_id.as_str())
    }

    fn on_notification(&self, method: &str, p: &Value) -> Option<AgentEvent> {
        if !self.ours(p) {
            return None;
        }
        tracing::debug!(
            "{}: {method} {}",
            self.session_id,
            p["item"]["type"].as_str().unwrap_or_default()
        );
        match method {
            "turn/started" => {
                let turn_id = p["turn"]["id"].as_str()?.to_string();
                *self.turn.lock().unwrap() = Some(turn_id.clone());
                Some(AgentEvent::TurnStarted { turn_id })
            }
            "turn/completed" => self.turn_completed(p),
            "item/started" => {
                self.item_started(p);
                None
            }
            "item/completed" => {
                if let Some(id) = p["item"]["id"].as_str() {
                    self.patches.lock().unwrap().remove(id);
                }
                if let Some(e) = super::items::entry(&p["item"], p["turnId"].as_str(), false) {
                    self.conversation.finish(e);
                }
                None
            }
            "item/agentMessage/delta" | "item/commandExecution/outputDelta" => {
                if let (Some(id), Some(delta)) = (p["itemId"].as_str(), p["delta"].as_str()) {
                    let clean = crate::pty::strip_escapes(delta.as_bytes());
                    self.conversation.grow(id, &crate::sanitize::shown(&clean));
                }
                None
            }
            "item/fileChange/patchUpdated" => {
                self.patch_updated(p);
                None
            }
            "thread/tokenUsage/updated" => Some(token_usage(p)),
            "serverRequest/resolved" => self.request_resolved(p),
            "error" => {
                let limit = super::account::is_limit(&p["error"]["codexErrorInfo"])
                    .then_some(crate::agents::Limit::Account);
                Some(AgentEvent::Error {
                    message: p["error"]["message"]
                        .as_str()
                        .unwrap_or("Codex reported an error")
                        .to_string(),
                    will_retry: p["willRetry"].as_bool().unwrap_or(false),
                    limit,
                })
            }
            _ => None,
        }
    }

    /// A turn ended: its error, if any, joins the conversation and the turn is
    /// no longer the one under way.
    fn turn_completed(&self, p: &Value) -> Option<AgentEvent> {
        let turn_id = p["turn"]["id"].as_str()?.to_string();
        if let Some(message) = p["turn"]["error"]["message"].as_str() {
            self.conversation.finish(Entry {
                id: format!("{turn_id}-error"),
                turn_id: Some(turn_id.clone()),
                status: EntryStatus::Failed,
                cut: false,
                what: What::Error {
                    message: crate::sanitize::shown(message),
                },
            });
        }
        {
            let mut turn = self.turn.lock().unwrap();
            if turn.as_deref() == Some(turn_id.as_str()) {
                *turn = None;
            }
        }
        Some(AgentEvent::TurnCompleted {
            turn_id,
            status: p["turn"]["status"].as_str().unwrap_or("completed").into(),
            error: p["turn"]["error"]["message"].as_str().map(str::to_string),
        })
    }

    /// An item began: a patch is kept for its approval, and the item joins the
    /// conversation.
    fn item_started(&self, p: &Value) {
        match super::file_change::from_item(&p["item"]) {
            Some(Ok((item_id, changes))) => {
                self.patches.lock().unwrap().insert(item_id, changes);
            }
            Some(Err(e)) => tracing::warn!("{}: {e}", self.session_id),
            None => {}
        }
        if let Some(e) = super::items::entry(&p["item"], p["turnId"].as_str(), true) {
            self.conversation.begin(e);
        }
    }

    /// A patch under way changed: kept for its approval and shown again.
    fn patch_updated(&self, p: &Value) {
        let item = json!({"type": "fileChange", "id": p["itemId"],
                          "changes": p["changes"], "status": "inProgress"});
        if let Some(Ok((item_id, changes))) = super::file_change::from_item(&item) {
            self.patches.lock().unwrap().insert(item_id, changes);
        }
        if let Some(e) = super::items::entry(&item, p["turnId"].as_str(), true) {
            self.conversation.begin(e);
        }
    }
}

/// The thread's token totals so far.
fn token_usage(p: &Value) -> AgentEvent {
    let t = &p["tokenUsage"]["total"];
    let n = |k: &str| t[k].as_u64().unwrap_or(0);
    AgentEvent::TokenUsage(TokenUsage {
        input_tokens: n("inputTokens"),
        cached_input_tokens: n("cachedInputTokens"),
        output_tokens: n("outputTokens"),
        reasoning_output_tokens: n("reasoningOutputTokens"),
        total_tokens: n("totalTokens"),
    })
}
