//! A scripted Telegram Bot API on loopback (issue 54 item 3): `sendMessage`
//! is recorded with the bot token its URL names; `getUpdates` long-polls the
//! presses the test queues (answering at once when one waits, else after a
//! short wait with none), honouring `offset`; `answerCallbackQuery` is
//! recorded.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::Notify;

use super::launcher::wait_until;

#[derive(Default)]
struct Script {
    /// (bot token, body) of each `sendMessage`.
    sent: Vec<(String, Value)>,
    answered: Vec<Value>,
    /// Updates not yet confirmed by an `offset` past them.
    updates: Vec<Value>,
    next_update: i64,
    polls: usize,
}

#[derive(Clone, Default)]
struct Shared {
    script: Arc<Mutex<Script>>,
    queued: Arc<Notify>,
}

pub struct TelegramApi {
    pub addr: SocketAddr,
    shared: Shared,
}

impl TelegramApi {
    pub async fn start() -> TelegramApi {
        let shared = Shared::default();
        let app = Router::new()
            .route("/{bot}/{method}", post(method))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the scripted Telegram");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("scripted Telegram");
        });
        TelegramApi { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// (bot token, body) of every message sent so far.
    pub fn sent(&self) -> Vec<(String, Value)> {
        self.shared.script.lock().unwrap().sent.clone()
    }

    pub fn answered(&self) -> Vec<Value> {
        self.shared.script.lock().unwrap().answered.clone()
    }

    /// Waits until `n` messages were sent.
    pub async fn wait_sent(&self, what: &str, n: usize) -> Vec<(String, Value)> {
        wait_until(what, Duration::from_secs(60), || async {
            let sent = self.sent();
            (sent.len() >= n).then_some(sent)
        })
        .await
    }

    /// Waits until the launcher has asked for updates at least once.
    pub async fn wait_polled(&self) {
        wait_until("a getUpdates", Duration::from_secs(60), || async {
            (self.shared.script.lock().unwrap().polls > 0).then_some(())
        })
        .await
    }

    /// Someone in chat `chat` presses a button whose data is `data`.
    pub fn press(&self, chat: i64, data: &str) -> String {
        self.press_as(chat, chat, data)
    }

    /// User `from` presses a button in chat `chat`.
    pub fn press_as(&self, chat: i64, from: i64, data: &str) -> String {
        let mut s = self.shared.script.lock().unwrap();
        s.next_update += 1;
        let id = format!("press-{}", s.next_update);
        let update = json!({"update_id": s.next_update, "callback_query": {
            "id": id, "from": {"id": from}, "data": data,
            "message": {"message_id": 1, "chat": {"id": chat, "type": "private"}}}});
        s.updates.push(update);
        drop(s);
        self.shared.queued.notify_waiters();
        id
    }

    /// Waits until the press `id` was answered; its answer.
    pub async fn wait_answered(&self, id: &str) -> Value {
        wait_until("a press answered", Duration::from_secs(60), || async {
            self.answered()
                .into_iter()
                .find(|a| a["callback_query_id"] == id)
        })
        .await
    }
}

async fn method(
    State(shared): State<Shared>,
    Path((bot, method)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let token = bot.strip_prefix("bot").unwrap_or_default().to_string();
    match method.as_str() {
        "sendMessage" => {
            shared.script.lock().unwrap().sent.push((token, body));
            Json(json!({"ok": true, "result": {"message_id": 1}}))
        }
        "answerCallbackQuery" => {
            shared.script.lock().unwrap().answered.push(body);
            Json(json!({"ok": true, "result": true}))
        }
        "getUpdates" => {
            let offset = body["offset"].as_i64().unwrap_or(0);
            let pending = |s: &mut Script| {
                s.updates
                    .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
                s.updates.clone()
            };
            let waited = shared.queued.notified();
            let now = {
                let mut s = shared.script.lock().unwrap();
                s.polls += 1;
                pending(&mut s)
            };
            if now.is_empty() {
                let _ = tokio::time::timeout(Duration::from_secs(2), waited).await;
            }
            let result = pending(&mut shared.script.lock().unwrap());
            Json(json!({"ok": true, "result": result}))
        }
        _ => Json(json!({"ok": false, "description": "unknown method"})),
    }
}
