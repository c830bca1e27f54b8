//! The launcher's one connection to its shared app-server, with what the
//! server says routed to the conversation of the thread it concerns. The
//! memory of a Codex session is then its TUI and a few MB of thread, not a
//! server of its own (see the `codex` bench); the price is a shared fate,
//! which resuming every thread on a new server answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::account;
use super::rpc::{Incoming, Rpc};
use super::server::{AppServer, ServerSpec};
use super::CodexError;
use crate::agents::AccountEvent;

type Routes = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Incoming>>>>;
/// Where account-wide news goes.
pub type Account = mpsc::UnboundedSender<AccountEvent>;

pub struct SharedServer {
    pub server: AppServer,
    pub rpc: Rpc,
    routes: Routes,
    connected: Arc<AtomicBool>,
    /// The remote environments added to this server (issue 53), by id.
    environments: tokio::sync::Mutex<std::collections::HashSet<String>>,
}

impl SharedServer {
    /// Reconnects to the server a crashed launcher left, or starts one.
    /// Account-wide news goes to `account`: the current rate limits at once
    /// (when the login can read them), then every update.
    pub async fn open(
        spec: ServerSpec<'_>,
        account: Option<Account>,
    ) -> Result<Arc<SharedServer>, CodexError> {
        let (server, rpc, incoming) = AppServer::open(spec).await?;
        let routes: Routes = Arc::default();
        let connected = Arc::new(AtomicBool::new(true));
        tokio::spawn(route(
            incoming,
            Arc::clone(&routes),
            Arc::clone(&connected),
            account.clone(),
        ));
        let shared = Arc::new(SharedServer {
            server,
            rpc,
            routes,
            connected,
            environments: Default::default(),
        });
        if let Some(account) = account {
            tokio::spawn(read_account(Arc::clone(&shared), account));
        }
        Ok(shared)
    }

    /// Adds the host `env` to the server once (`environment/add`): its
    /// exec-server is reached through the launcher's relay, with the
    /// relay's secret as the bearer token (loopback only).
    pub async fn add_environment(
        &self,
        env: &crate::agents::RemoteEnvironment,
    ) -> Result<(), CodexError> {
        let mut added = self.environments.lock().await;
        if added.contains(&env.id) {
            return Ok(());
        }
        self.rpc
            .request(
                "environment/add",
                json!({
                    "environmentId": env.id,
                    "execServerUrl": env.url,
                    "authBearerToken": env.secret.expose(),
                }),
            )
            .await?;
        added.insert(env.id.clone());
        Ok(())
    }

    /// What the server says about `thread_id`, from now on (requests it makes
    /// again when the thread is resumed included: subscribe before resuming).
    pub fn subscribe(&self, thread_id: &str) -> mpsc::UnboundedReceiver<Incoming> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.routes
            .lock()
            .unwrap()
            .insert(thread_id.to_string(), tx);
        rx
    }

    /// The conversation of `thread_id` ends (its stream ends).
    pub fn unsubscribe(&self, thread_id: &str) {
        self.routes.lock().unwrap().remove(thread_id);
    }

    /// Whether the server runs and the launcher's connection to it is open.
    pub fn usable(&self) -> bool {
        self.connected.load(Ordering::SeqCst) && self.server.alive()
    }

    pub async fn stop(&self) {
        self.rpc.close();
        self.server.stop().await;
    }
}

/// How often the limits are read again while Codex says the plan's included
/// usage may not be used: no update says when that ends, only a read does.
const REREAD_WHILE_REFUSED: std::time::Duration = std::time::Duration::from_secs(300);

/// Reads the account's limits (every bucket, and whether ordinary usage is
/// allowed) and sends them to `account`; again while ordinary usage is refused.
async fn read_account(shared: Arc<SharedServer>, account: Account) {
    loop {
        // An API-key login cannot read them: the updates still come.
        let answer = match shared
            .rpc
            .request("account/rateLimits/read", json!({}))
            .await
        {
            Ok(answer) => answer,
            Err(e) => {
                tracing::debug!("account/rateLimits/read: {e}");
                return;
            }
        };
        if let Some(q) = account::read_answer(&answer) {
            if account.send(AccountEvent::RateLimits(q)).is_err() {
                return;
            }
        }
        if !account::ordinary_usage_refused(&answer) {
            return;
        }
        tokio::time::sleep(REREAD_WHILE_REFUSED).await;
        if !shared.usable() {
            return;
        }
    }
}

/// Routes every message to its thread's conversation until the connection
/// ends; then every conversation's stream ends.
async fn route(
    mut incoming: mpsc::UnboundedReceiver<Incoming>,
    routes: Routes,
    connected: Arc<AtomicBool>,
    account: Option<Account>,
) {
    while let Some(m) = incoming.recv().await {
        let Some(thread) = thread_of(&m) else {
            if let (Some(tx), Incoming::Notification { method, params }) = (&account, &m) {
                if method == account::RATE_LIMITS_UPDATED {
                    if let Some(q) = account::rate_limits(params) {
                        let _ = tx.send(AccountEvent::RateLimits(q));
                    }
                }
            }
            continue;
        };
        let sender = routes.lock().unwrap().get(thread).cloned();
        if let Some(tx) = sender {
            let _ = tx.send(m);
        }
    }
    connected.store(false, Ordering::SeqCst);
    routes.lock().unwrap().clear();
}

/// The thread a message concerns: `threadId`, or the thread it describes.
fn thread_of(m: &Incoming) -> Option<&str> {
    let params: &Value = match m {
        Incoming::Notification { params, .. } | Incoming::Request { params, .. } => params,
    };
    params["threadId"]
        .as_str()
        .or_else(|| params["thread"]["id"].as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_go_to_the_thread_they_name() {
        let n = |p: Value| Incoming::Notification {
            method: "turn/started".into(),
            params: p,
        };
        assert_eq!(thread_of(&n(json!({"threadId": "t1"}))), Some("t1"));
        assert_eq!(thread_of(&n(json!({"thread": {"id": "t2"}}))), Some("t2"));
        assert_eq!(thread_of(&n(json!({"rateLimits": {}}))), None);
        let r = Incoming::Request {
            id: json!(0),
            method: "item/tool/call".into(),
            params: json!({"threadId": "t3", "callId": "c"}),
        };
        assert_eq!(thread_of(&r), Some("t3"));
    }
}
