//! A JSON-RPC client for Codex's app-server: one WebSocket over its unix
//! socket, one JSON message per text frame (the app-server drops plain
//! newline-delimited JSON on a socket). Codex's messages carry no `"jsonrpc"`
//! field. Requests are answered through oneshots keyed by id; notifications and
//! the server's own requests (approvals) arrive on one channel, in order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use super::endpoint::Endpoint;

/// How long a request may wait for its answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("cannot connect to the Codex app-server at {path}: {source}")]
    Connect {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("WebSocket handshake with the Codex app-server failed: {0}")]
    Handshake(#[from] Box<tokio_tungstenite::tungstenite::Error>),
    #[error("the Codex app-server connection closed")]
    Closed,
    #[error("the Codex app-server did not answer {method} within {secs} s")]
    Timeout { method: String, secs: u64 },
    #[error("Codex refused {method}: {message} (code {code})")]
    Refused {
        method: String,
        code: i64,
        message: String,
    },
}

/// What the server sends that is not an answer.
#[derive(Debug, Clone)]
pub enum Incoming {
    Notification {
        method: String,
        params: Value,
    },
    /// The server asks the client (approvals); answer with [`Rpc::respond`].
    Request {
        id: Value,
        method: String,
        params: Value,
    },
}

type Answer = Result<Value, (i64, String)>;
type Pending = Arc<Mutex<HashMap<i64, oneshot::Sender<Answer>>>>;

/// One connection to one app-server.
pub struct Rpc {
    out: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_id: AtomicI64,
}

impl Rpc {
    /// Connects to the server's endpoint; returns the client and its
    /// incoming stream (which ends when the connection does).
    pub async fn connect(
        endpoint: &Endpoint,
    ) -> Result<(Rpc, mpsc::UnboundedReceiver<Incoming>), RpcError> {
        match endpoint {
            Endpoint::Unix(path) => {
                let stream = crate::platform::connect_local(path)
                    .await
                    .map_err(|source| RpcError::Connect {
                        path: path.display().to_string(),
                        source,
                    })?;
                let (ws, _) = tokio_tungstenite::client_async("ws://localhost/", stream)
                    .await
                    .map_err(Box::new)?;
                Ok(Self::run(ws))
            }
            Endpoint::WebSocket { port, token, .. } => {
                use tokio_tungstenite::tungstenite::client::IntoClientRequest;
                let url = format!("ws://127.0.0.1:{port}/");
                let stream = tokio::net::TcpStream::connect(("127.0.0.1", *port))
                    .await
                    .map_err(|source| RpcError::Connect {
                        path: url.clone(),
                        source,
                    })?;
                let mut request = url.into_client_request().map_err(Box::new)?;
                let bearer = format!("Bearer {token}")
                    .parse()
                    .map_err(|_| RpcError::Closed)?;
                request.headers_mut().insert("Authorization", bearer);
                let (ws, _) = tokio_tungstenite::client_async(request, stream)
                    .await
                    .map_err(Box::new)?;
                Ok(Self::run(ws))
            }
        }
    }

    fn run<S>(ws: tokio_tungstenite::WebSocketStream<S>) -> (Rpc, mpsc::UnboundedReceiver<Incoming>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let pending: Pending = Arc::default();
        tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let answers = Arc::clone(&pending);
        let pong = out.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                match frame {
                    Message::Text(t) => dispatch(&t, &answers, &in_tx),
                    Message::Binary(b) => dispatch(&String::from_utf8_lossy(&b), &answers, &in_tx),
                    Message::Ping(p) => {
                        let _ = pong.send(Message::Pong(p));
                    }
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            // Everyone still waiting learns the connection is gone.
            answers.lock().unwrap().clear();
        });
        let rpc = Rpc {
            out,
            pending,
            next_id: AtomicI64::new(1),
        };
        (rpc, in_rx)
    }

    /// Sends a request and waits for its result.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        let msg = json!({"id": id, "method": method, "params": params});
        if self.out.send(Message::text(msg.to_string())).is_err() {
            self.pending.lock().unwrap().remove(&id);
            return Err(RpcError::Closed);
        }
        match tokio::time::timeout(REQUEST_TIMEOUT, rx).await {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err((code, message)))) => Err(RpcError::Refused {
                method: method.to_string(),
                code,
                message,
            }),
            Ok(Err(_)) => Err(RpcError::Closed),
            Err(_) => {
                self.pending.lock().unwrap().remove(&id);
                Err(RpcError::Timeout {
                    method: method.to_string(),
                    secs: REQUEST_TIMEOUT.as_secs(),
                })
            }
        }
    }

    /// Sends a notification (no answer).
    pub fn notify(&self, method: &str, params: Value) -> Result<(), RpcError> {
        let msg = json!({"method": method, "params": params});
        self.out
            .send(Message::text(msg.to_string()))
            .map_err(|_| RpcError::Closed)
    }

    /// Answers one of the server's requests.
    pub fn respond(&self, id: &Value, result: Value) -> Result<(), RpcError> {
        let msg = json!({"id": id, "result": result});
        self.out
            .send(Message::text(msg.to_string()))
            .map_err(|_| RpcError::Closed)
    }

    /// Closes the connection.
    pub fn close(&self) {
        let _ = self.out.send(Message::Close(None));
    }
}

/// Routes one frame: an answer to its waiter, anything else to the stream.
fn dispatch(text: &str, answers: &Pending, incoming: &mpsc::UnboundedSender<Incoming>) {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        tracing::warn!("Codex app-server sent a frame that is not JSON");
        return;
    };
    let method = v.get("method").and_then(Value::as_str).map(str::to_string);
    match (method, v.get("id")) {
        (Some(method), Some(id)) => {
            let _ = incoming.send(Incoming::Request {
                id: id.clone(),
                method,
                params: v.get("params").cloned().unwrap_or(Value::Null),
            });
        }
        (Some(method), None) => {
            let _ = incoming.send(Incoming::Notification {
                method,
                params: v.get("params").cloned().unwrap_or(Value::Null),
            });
        }
        (None, Some(id)) => {
            let Some(id) = id.as_i64() else { return };
            let Some(waiter) = answers.lock().unwrap().remove(&id) else {
                return;
            };
            let answer = match v.get("error") {
                Some(e) => Err((
                    e.get("code").and_then(Value::as_i64).unwrap_or(0),
                    e.get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown error")
                        .to_string(),
                )),
                None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
            };
            let _ = waiter.send(answer);
        }
        (None, None) => tracing::warn!("Codex app-server sent a message without method or id"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_routed_by_shape() {
        let pending: Pending = Arc::default();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (a_tx, mut a_rx) = oneshot::channel();
        pending.lock().unwrap().insert(7, a_tx);
        dispatch(r#"{"id":7,"result":{"ok":1}}"#, &pending, &tx);
        assert_eq!(a_rx.try_recv().unwrap().unwrap(), json!({"ok":1}));
        dispatch(
            r#"{"id":3,"method":"item/commandExecution/requestApproval","params":{"x":1}}"#,
            &pending,
            &tx,
        );
        dispatch(r#"{"method":"turn/started","params":{}}"#, &pending, &tx);
        match rx.try_recv().unwrap() {
            Incoming::Request { id, method, .. } => {
                assert_eq!(id, json!(3));
                assert_eq!(method, "item/commandExecution/requestApproval");
            }
            other => panic!("expected a request, got {other:?}"),
        }
        assert!(matches!(
            rx.try_recv().unwrap(),
            Incoming::Notification { method, .. } if method == "turn/started"
        ));
        let (e_tx, mut e_rx) = oneshot::channel();
        pending.lock().unwrap().insert(8, e_tx);
        dispatch(
            r#"{"id":8,"error":{"code":-32600,"message":"bad"}}"#,
            &pending,
            &tx,
        );
        assert_eq!(e_rx.try_recv().unwrap(), Err((-32600, "bad".to_string())));
    }
}
