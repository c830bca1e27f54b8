//! A scripted ntfy on loopback (issue 54): every publish (`POST /TOPIC`) is
//! recorded with its headers and body and answered with the next scripted
//! status (200 once the script is used up); `GET /TOPIC/json` streams what is
//! published to that topic as JSON lines, as ntfy's subscribe does.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::launcher::wait_until;

/// One publish as the server received it.
#[derive(Debug, Clone)]
pub struct Published {
    pub topic: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Published {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

#[derive(Default)]
struct Script {
    published: Vec<Published>,
    statuses: VecDeque<u16>,
}

#[derive(Clone)]
struct Shared {
    script: Arc<Mutex<Script>>,
    messages: broadcast::Sender<(String, String)>,
}

pub struct Ntfy {
    pub addr: SocketAddr,
    shared: Shared,
}

impl Ntfy {
    pub async fn start() -> Ntfy {
        let shared = Shared {
            script: Arc::default(),
            messages: broadcast::channel(64).0,
        };
        let app = Router::new()
            .route("/{topic}", post(publish))
            .route("/{topic}/json", get(subscribe))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the scripted ntfy");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("scripted ntfy");
        });
        Ntfy { addr, shared }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next publishes are answered with these statuses, in order.
    pub fn answer(&self, statuses: &[u16]) {
        self.shared
            .script
            .lock()
            .unwrap()
            .statuses
            .extend(statuses.iter().copied());
    }

    pub fn published(&self) -> Vec<Published> {
        self.shared.script.lock().unwrap().published.clone()
    }

    /// Waits until someone reads a topic's stream.
    pub async fn wait_subscribed(&self) {
        wait_until("a subscriber", Duration::from_secs(60), || async {
            (self.shared.messages.receiver_count() > 0).then_some(())
        })
        .await
    }

    /// Publishes `body` to `url` as a phone's button does.
    pub async fn phone_publishes(&self, url: &str, body: &str) {
        let resp = reqwest::Client::new()
            .post(url)
            .body(body.to_string())
            .send()
            .await
            .expect("publish to the scripted ntfy");
        assert!(resp.status().is_success(), "{resp:?}");
    }

    /// Waits until `n` publishes were received (whatever they were answered).
    pub async fn wait_published(&self, what: &str, n: usize) -> Vec<Published> {
        wait_until(what, Duration::from_secs(60), || async {
            let p = self.published();
            (p.len() >= n).then_some(p)
        })
        .await
    }
}

async fn publish(
    State(s): State<Shared>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let body = String::from_utf8_lossy(&body).to_string();
    let headers = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let status = {
        let mut script = s.script.lock().unwrap();
        script.published.push(Published {
            topic: topic.clone(),
            headers,
            body: body.clone(),
        });
        script.statuses.pop_front().unwrap_or(200)
    };
    if status == 200 {
        let _ = s.messages.send((topic, body));
    }
    let code = StatusCode::from_u16(status).unwrap();
    (code, json!({"id": "x"}).to_string())
}

async fn subscribe(State(s): State<Shared>, Path(topic): Path<String>) -> Body {
    let mut rx = s.messages.subscribe();
    let stream = async_stream(
        move |tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>| async move {
            let open: Value = json!({"event": "open", "topic": topic});
            let _ = tx.send(Ok(Bytes::from(format!("{open}\n")))).await;
            while let Ok((t, message)) = rx.recv().await {
                if t != topic {
                    continue;
                }
                let line = json!({"event": "message", "topic": t, "message": message});
                if tx.send(Ok(Bytes::from(format!("{line}\n")))).await.is_err() {
                    break;
                }
            }
        },
    );
    Body::from_stream(stream)
}

/// A stream fed by a task given its sender.
fn async_stream<F, Fut>(
    f: F,
) -> tokio_stream::wrappers::ReceiverStream<Result<Bytes, std::io::Error>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}
