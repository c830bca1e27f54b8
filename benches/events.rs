//! What one change costs each open dashboard (issue 14, item 8).
//!
//! A launcher is started in-process over the 100-session fixture. Before, the
//! page refetched `GET /api/status` on every event; now `/api/events` carries
//! the change itself (`event: delta`). This opens the event stream as a page
//! does, makes changes through the API (start a Zhongshu, close it), and prints the bytes the stream moved per change and per event,
//! beside the size of `/api/status`, the reference measured in the same run.
//!
//! Run: `cargo bench --bench events`.

#[path = "common/quick.rs"]
mod quick;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use codex_governance::config::{Config, Env};
use codex_governance::web::{self, ServeOptions};

#[path = "common/fixture.rs"]
mod fixture;

#[derive(Default)]
struct Counts {
    bytes: AtomicU64,
    events: AtomicU64,
    deltas: AtomicU64,
}

fn main() {
    quick::announce("events");
    let rounds = quick::pick(10, 2);
    let dir = tempfile::Builder::new()
        .prefix("cg-bench-events-")
        .tempdir()
        .unwrap();
    let repo = dir.path().join("repo");
    fixture::make_repo(&repo);
    // A quiet agent: output-only deltas would blur the cost of a change.
    std::fs::write(
        repo.join("governance.yaml"),
        "launcher:\n  agent_command: [\"/bin/sh\", \"-c\", \"sleep 120\", \"{prompt}\"]\n  max_departments: 2\n",
    )
    .unwrap();
    let state_dir = repo.join(".tmp");
    fixture::write_state(&state_dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let config = Config::load_with_env(&repo, &Env::from([("CODEX_GOVERNANCE_TRUST_CONFIG".into(), "1".into())])).expect("config");
        let running = web::serve(
            ServeOptions { repo: repo.clone(), host: "127.0.0.1".into(), port: 0, state_dir: Some(state_dir) , allow_host: None},
            config,
        )
        .await
        .expect("launcher starts");
        let (addr, token) = (running.addr, running.token.clone());
        let status = call(addr, &token, "GET", "/api/status", "").await;
        let sessions = serde_json::from_slice::<Value>(&status).unwrap()["sessions"]
            .as_array()
            .map_or(0, Vec::len);
        let counts = Arc::new(Counts::default());
        let reader = tokio::spawn(follow(addr, token.clone(), Arc::clone(&counts)));
        tokio::time::sleep(Duration::from_millis(500)).await;
        counts.bytes.store(0, Ordering::SeqCst); // the hello and the first delta are a page's start
        let mut changes = 0;
        for _ in 0..rounds {
            let started = call(addr, &token, "POST", "/api/start_zhongshu_session", r#"{"task":"bench"}"#).await;
            let id = serde_json::from_slice::<Value>(&started).unwrap()["session_id"]
                .as_str()
                .unwrap()
                .to_string();
            tokio::time::sleep(Duration::from_millis(300)).await;
            call(addr, &token, "POST", "/api/close_session", &format!(r#"{{"session_id":"{id}"}}"#)).await;
            changes += 2;
        }
        tokio::time::sleep(Duration::from_millis(2500)).await;
        reader.abort();
        let bytes = counts.bytes.load(Ordering::SeqCst) as f64;
        let events = counts.events.load(Ordering::SeqCst).max(1) as f64;
        let kib = |b: f64| b / 1024.0;
        println!("events bench: {sessions} sessions, {changes} changes through the API ({rounds} × start, close)");
        println!("  reference: GET /api/status = {:.1} KiB, what every event cost each dashboard before (one refetch per event)", kib(status.len() as f64));
        println!(
            "  now: {:.1} KiB moved on /api/events: {} events, {} deltas",
            kib(bytes),
            counts.events.load(Ordering::SeqCst),
            counts.deltas.load(Ordering::SeqCst)
        );
        println!(
            "  per change {:.2} KiB, per event {:.2} KiB; before: {:.1} KiB per event ({:.0}x less); target < 5 KB per change: {}",
            kib(bytes / changes as f64),
            kib(bytes / events),
            kib(status.len() as f64),
            status.len() as f64 / (bytes / events),
            if bytes / (changes as f64) < 5000.0 { "met" } else { "MISSED" }
        );
        running.stop().await;
    });
}

/// Reads the event stream as a page does, counting bytes and frames.
async fn follow(addr: SocketAddr, token: String, counts: Arc<Counts>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n",
        addr.port()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let text = String::from_utf8_lossy(&buf[..n]);
        counts.bytes.fetch_add(n as u64, Ordering::SeqCst);
        counts.deltas.fetch_add(
            text.matches("event: delta").count() as u64,
            Ordering::SeqCst,
        );
        counts.events.fetch_add(
            text.matches("data: {\"data\"").count() as u64,
            Ordering::SeqCst,
        );
    }
}

/// One request on its own connection; the body.
async fn call(addr: SocketAddr, token: &str, method: &str, path: &str, body: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        addr.port(),
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response")
        + 4;
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{method} {path}: {head}");
    let body = out[split..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return dechunk(&body);
    }
    body
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&body[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
    }
}
