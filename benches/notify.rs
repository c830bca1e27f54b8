//! Notices away from the desk (issue 54): from a Needs-you item to the
//! notice's publish (no dwell), and from the phone's reply to the decision
//! recorded, on loopback. A launcher runs in-process (its agents a quiet
//! `sleep`) with a minimal ntfy of this file's own; each round registers a
//! plan that waits for confirmation (the item), times its publish, then
//! publishes the notice's Confirm plan token to the reply topic and times
//! the plan leaving `awaiting_confirmation`. Then, with a dashboard tab in
//! use holding each item's notice, from the tab leaving (`POST
//! /api/notify/presence {visible: false}`, as the page says when hidden or
//! closed) to the notice's publish (issue 70 item 12). The reference beside
//! them: one `GET /api/status` on the same launcher. Target: each ≤ 200 ms
//! p99.
//!
//! Run: `cargo bench --bench notify`.

#[path = "common/quick.rs"]
mod quick;

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use codex_governance::config::{Config, Env};
use codex_governance::web::{self, ServeOptions};

#[derive(Clone)]
struct Ntfy {
    /// (topic, the Actions header, when it arrived).
    published: mpsc::UnboundedSender<(String, String, Instant)>,
    messages: broadcast::Sender<(String, String)>,
}

async fn publish(
    State(n): State<Ntfy>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    let actions = headers
        .get("actions")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let _ = n.published.send((topic.clone(), actions, Instant::now()));
    let _ = n
        .messages
        .send((topic, String::from_utf8_lossy(&body).to_string()));
    "{}"
}

async fn subscribe(State(n): State<Ntfy>, Path(topic): Path<String>) -> Body {
    let mut rx = n.messages.subscribe();
    let (tx, out) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        let _ = tx.send(Ok(Bytes::from("{\"event\":\"open\"}\n"))).await;
        while let Ok((t, m)) = rx.recv().await {
            if t == topic {
                let line = json!({"event": "message", "message": m}).to_string() + "\n";
                if tx.send(Ok(Bytes::from(line))).await.is_err() {
                    break;
                }
            }
        }
    });
    Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(out))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "notify: {what}: p50 {:.1} ms, p99 {:.1} ms ({} rounds)",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.len()
    );
}

fn main() {
    quick::announce("notify");
    let rounds = quick::pick(30, 2);
    let dir = tempfile::Builder::new()
        .prefix("cg-bench-notify-")
        .tempdir()
        .unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git2::Repository::init(&repo).unwrap();
    std::fs::write(repo.join("README.md"), "# bench\n").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (published, mut arrivals) = mpsc::unbounded_channel();
        let ntfy = Ntfy {
            published,
            messages: broadcast::channel(64).0,
        };
        let app = Router::new()
            .route("/{topic}", post(publish))
            .route("/{topic}/json", get(subscribe))
            .with_state(ntfy.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ntfy_addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        std::fs::write(
            repo.join("governance.yaml"),
            format!(
                "launcher:\n  agent_command: [\"/bin/sh\", \"-c\", \"sleep 600\", \"{{prompt}}\"]\n  max_zhongshu: 4\n  \
                 notify:\n    ntfy: {{server: \"http://{ntfy_addr}\", topic: bench}}\n    dwell_seconds: 0\n    \
                 cooldown_seconds: 0\n    remote_decisions: all\n"
            ),
        )
        .unwrap();
        let env = Env::from([("CODEX_GOVERNANCE_TRUST_CONFIG".into(), "1".into())]);
        let config = Config::load_with_env(&repo, &env).expect("config");
        let running = web::serve(
            ServeOptions { repo: repo.clone(), host: "127.0.0.1".into(), port: 0, state_dir: Some(repo.join(".tmp")) , allow_host: None},
            config,
        )
        .await
        .expect("launcher starts");
        let base = running.url.clone();
        let client = reqwest::Client::new();
        let auth = format!("Bearer {}", running.token);
        let call = |path: &str, body: Option<Value>| {
            let req = match body {
                Some(b) => client.post(format!("{base}{path}")).json(&b),
                None => client.get(format!("{base}{path}")),
            };
            let req = req.header("Authorization", auth.clone());
            async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
        };
        // The reply reader connects once the launcher started.
        while ntfy.messages.receiver_count() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut to_publish = Vec::new();
        let mut to_decision = Vec::new();
        let mut status = Vec::new();
        for _ in 0..rounds {
            let z = call("/api/start_zhongshu_session", Some(json!({"task": "bench"}))).await["session_id"]
                .as_str()
                .unwrap()
                .to_string();
            let asked = Instant::now();
            call(
                "/api/report_zhongshu_plan",
                Some(json!({"session_id": z, "summary": "s", "needs_confirmation": true,
                            "assignments": [{"department": "zhilibu", "task": "t", "files": ["README.md"]}]})),
            )
            .await;
            let (actions, at) = loop {
                let (topic, actions, at) = arrivals.recv().await.unwrap();
                if topic == "bench" {
                    break (actions, at);
                }
            };
            to_publish.push(at.duration_since(asked));
            let parts: Vec<&str> = actions.split(", ").collect();
            let url = parts[2].to_string();
            let token = parts.iter().find_map(|p| p.strip_prefix("body=")).unwrap().to_string();
            let replied = Instant::now();
            client.post(&url).body(token).send().await.unwrap();
            loop {
                let plan = call(&format!("/api/zhongshu_plan?id={z}"), None).await;
                if plan["plan"]["status"] != "awaiting_confirmation" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            to_decision.push(replied.elapsed());
            let t = Instant::now();
            call("/api/status", None).await;
            status.push(t.elapsed());
            call("/api/close_session", Some(json!({"session_id": z}))).await;
        }
        // Issue 70 item 12: the figure holds from the moment the page stops
        // being used. A tab in use holds the item's notice; the tab leaves
        // (as the page says when it is hidden or closed) and the notice goes.
        let mut to_leave = Vec::new();
        let mut told_while_in_use = 0;
        for round in 0..rounds {
            while arrivals.try_recv().is_ok() {}
            let tab = format!("bench-tab-{round}");
            call("/api/notify/presence", Some(json!({"visible": true, "tab": tab}))).await;
            let z = call("/api/start_zhongshu_session", Some(json!({"task": "bench"}))).await["session_id"]
                .as_str()
                .unwrap()
                .to_string();
            call(
                "/api/report_zhongshu_plan",
                Some(json!({"session_id": z, "summary": "s", "needs_confirmation": true,
                            "assignments": [{"department": "zhilibu", "task": "t", "files": ["README.md"]}]})),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            while let Ok((topic, _, _)) = arrivals.try_recv() {
                told_while_in_use += usize::from(topic == "bench");
            }
            let left = Instant::now();
            call("/api/notify/presence", Some(json!({"visible": false, "tab": tab}))).await;
            let at = loop {
                let (topic, _, at) = arrivals.recv().await.unwrap();
                if topic == "bench" {
                    break at;
                }
            };
            to_leave.push(at.duration_since(left));
            call("/api/close_session", Some(json!({"session_id": z}))).await;
        }
        report("item -> ntfy publish (dwell 0)", to_publish);
        report("tab leaves -> ntfy publish (its item held while the tab was in use)", to_leave);
        println!("notify: notices told while the tab was in use: {told_while_in_use} (expected 0)");
        report("phone reply -> decision recorded (polled every 2 ms)", to_decision);
        report("reference: GET /api/status", status);
        running.stop().await;
    });
}
