//! Everything at once on one launcher (SPEC 10, 11, 15): is every request still
//! answered, and how fast?
//!
//! 1. A launcher is started in-process on `127.0.0.1:0` (its own runtime), with an
//!    agent command that prints continuously (16 KiB every 10 ms by default).
//! 2. 8 Zhongshu sessions start; each gets a WebSocket client reading its browser
//!    terminal (the PTY stream), counting bytes.
//! 3. 100 SSE clients connect to `/api/events`; a plan is registered every 100 ms
//!    so events keep flowing.
//! 4. 16 keep-alive HTTP/1.1 connections hammer `GET /api/status` and
//!    `GET /api/zhongshu_inbox?id=…&peek=1` (alternately) for ~10 s.
//!
//! Printed: req/s, p50/p99/max latency, non-2xx and errors (expected 0), SSE
//! clients still connected and the events each received, terminal MiB/s. The run
//! fails if any request went unanswered or failed, an SSE client dropped or got
//! nothing, or a terminal client got nothing. Loopback only; bounded in time and
//! count. `LOAD_SECONDS` (default 10), `LOAD_PRINT_KIB` (per 10 ms, default 16).
//!
//! Run: `cargo bench --bench load`.

#[path = "../tests/it/common/launcher.rs"]
mod support;

#[path = "common/quick.rs"]
mod quick;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{fake_agent, InProcess, RepoOptions, TestRepo};

const CONNECTIONS: usize = 16;
/// Upper bound on requests per load connection (the run is bounded by time first).
const MAX_REQUESTS_PER_CONNECTION: usize = 2_000_000;
const MIB: f64 = 1024.0 * 1024.0;

fn env_num(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v: &f64| *v > 0.0)
        .unwrap_or(default)
}

fn main() {
    quick::announce("load");
    let sessions = quick::pick(8, 2);
    let sse_clients = quick::pick(100, 4);
    let seconds = env_num("LOAD_SECONDS", quick::pick(10.0, 0.5));
    let print_kib = env_num("LOAD_PRINT_KIB", 16.0) as usize;
    let repo = TestRepo::new(RepoOptions {
        agent_command: Some(vec![
            fake_agent().display().to_string(),
            "--quiet-env".into(),
            "--stream-kib".into(),
            print_kib.to_string(),
            "--session".into(),
            "{session_id}".into(),
        ]),
        ..Default::default()
    });

    let server_rt = support::named_runtime("server");
    let client_rt = support::named_runtime("client");
    let server = server_rt.block_on(InProcess::start(&repo));
    let addr = server.addr;
    let host = server.host();
    let token = server.token.clone();
    let api = server.api.clone();
    println!(
        "load bench: {sessions} sessions printing {print_kib} KiB / 10 ms each, {sse_clients} SSE clients, {CONNECTIONS} keep-alive API connections, {seconds} s"
    );

    client_rt.block_on(async {
        // Sessions and their terminal clients.
        let mut ids = Vec::new();
        for i in 0..sessions {
            let (status, body) = api
                .post("/api/start_zhongshu_session", &json!({"task": format!("load {i}")}))
                .await;
            assert!(status.is_success(), "start: {body}");
            ids.push(body["session_id"].as_str().unwrap().to_string());
        }
        let mut term_bytes = Vec::new();
        let mut term_tasks = Vec::new();
        for id in &ids {
            let s = api.session(id).await;
            let url = s["browser_terminal_url"].as_str().expect("terminal url").to_string();
            let rest = url.strip_prefix("http://127.0.0.1:").unwrap();
            let (port, tok) = rest.split_once("/?token=").unwrap();
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            let mut req = format!("ws://127.0.0.1:{port}/ws?token={tok}")
                .into_client_request()
                .unwrap();
            req.headers_mut()
                .insert("Origin", format!("http://127.0.0.1:{port}").parse().unwrap());
            let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("terminal connects");
            let bytes = Arc::new(AtomicU64::new(0));
            term_bytes.push(Arc::clone(&bytes));
            term_tasks.push(tokio::spawn(async move {
                while let Some(Ok(m)) = ws.next().await {
                    bytes.fetch_add(m.len() as u64, Ordering::Relaxed);
                }
            }));
        }

        // SSE clients.
        let mut sse = Vec::new();
        for _ in 0..sse_clients {
            let events = Arc::new(AtomicU64::new(0));
            let alive = Arc::new(AtomicBool::new(true));
            let (e, a) = (Arc::clone(&events), Arc::clone(&alive));
            let (host, token) = (host.clone(), token.clone());
            let task = tokio::spawn(async move { sse_client(addr, &host, &token, e, a).await });
            sse.push((events, alive, task));
        }
        // Every client has its hello before the clock starts.
        let deadline = Instant::now() + Duration::from_secs(30);
        while sse.iter().any(|(e, _, _)| e.load(Ordering::Relaxed) == 0) {
            assert!(Instant::now() < deadline, "SSE clients did not connect");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // Events keep flowing: a plan every 100 ms.
        let stop = Arc::new(AtomicBool::new(false));
        let generator = {
            let (api, ids, stop) = (api.clone(), ids.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let z = &ids[n % ids.len()];
                    let _ = api
                        .post(
                            "/api/report_zhongshu_plan",
                            &json!({"session_id": z, "summary": format!("plan {n}"), "assignments": []}),
                        )
                        .await;
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                n
            })
        };

        let sse_start: Vec<u64> = sse.iter().map(|(e, _, _)| e.load(Ordering::Relaxed)).collect();
        let term_start: Vec<u64> = term_bytes.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let requests = [
            format!("GET /api/status HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"),
            format!(
                "GET /api/zhongshu_inbox?id={}&peek=1 HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n",
                ids[0]
            ),
        ];
        let t0 = Instant::now();
        let until = t0 + Duration::from_secs_f64(seconds);
        let mut load = Vec::new();
        for c in 0..CONNECTIONS {
            let requests = requests.clone();
            load.push(tokio::spawn(async move { hammer(addr, requests, c, until).await }));
        }
        let mut lat = Vec::new();
        let (mut ok, mut non2xx, mut errors) = (0u64, 0u64, 0u64);
        let (mut status_n, mut inbox_n) = (0u64, 0u64);
        for t in load {
            let r = t.await.unwrap();
            lat.extend(r.latencies_us);
            ok += r.ok;
            non2xx += r.non2xx;
            errors += r.errors;
            status_n += r.per_kind[0];
            inbox_n += r.per_kind[1];
        }
        let elapsed = t0.elapsed().as_secs_f64();
        let sse_end: Vec<u64> = sse.iter().map(|(e, _, _)| e.load(Ordering::Relaxed)).collect();
        let term_end: Vec<u64> = term_bytes.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        stop.store(true, Ordering::Relaxed);
        let plans = generator.await.unwrap();

        lat.sort_unstable();
        let pct = |p: f64| -> f64 {
            if lat.is_empty() {
                return 0.0;
            }
            lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)] as f64 / 1000.0
        };
        let total = ok + non2xx + errors;
        println!(
            "  API: {total} requests in {elapsed:.1} s = {:.0} req/s ({status_n} /api/status, {inbox_n} /api/zhongshu_inbox); latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; non-2xx {non2xx}, errors {errors}",
            total as f64 / elapsed,
            pct(0.50),
            pct(0.99),
            lat.last().copied().unwrap_or(0) as f64 / 1000.0,
        );
        let got: Vec<u64> = sse_end.iter().zip(&sse_start).map(|(e, s)| e - s).collect();
        let connected = sse.iter().filter(|(_, a, _)| a.load(Ordering::Relaxed)).count();
        let mut sorted = got.clone();
        sorted.sort_unstable();
        println!(
            "  SSE: {connected}/{sse_clients} clients still connected; {plans} plans registered meanwhile; events received per client during the run: min {}, median {}, max {}",
            sorted[0],
            sorted[sorted.len() / 2],
            sorted[sorted.len() - 1]
        );
        let rates: Vec<f64> = term_end
            .iter()
            .zip(&term_start)
            .map(|(e, s)| (e - s) as f64 / MIB / elapsed)
            .collect();
        println!(
            "  terminals: {sessions} WebSocket clients, {:.2} MiB/s in total (per client min {:.2}, max {:.2} MiB/s)",
            rates.iter().sum::<f64>(),
            rates.iter().cloned().fold(f64::INFINITY, f64::min),
            rates.iter().cloned().fold(0.0, f64::max),
        );

        assert_eq!(errors, 0, "every request answered");
        assert_eq!(non2xx, 0, "every request succeeded");
        assert!(total > 0);
        assert_eq!(connected, sse_clients, "every SSE client still connected");
        assert!(got.iter().all(|n| *n > 0), "every SSE client received events: {got:?}");
        assert!(rates.iter().all(|r| *r > 0.0), "every terminal client received output");
        for (_, _, t) in sse {
            t.abort();
        }
        for t in term_tasks {
            t.abort();
        }
    });
    server_rt.block_on(server.stop());
    drop(client_rt);
}

/// Reads `/api/events` until the stream ends; counts `data:` lines (events).
async fn sse_client(
    addr: SocketAddr,
    host: &str,
    token: &str,
    events: Arc<AtomicU64>,
    alive: Arc<AtomicBool>,
) {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        alive.store(false, Ordering::Relaxed);
        return;
    };
    let req = format!(
        "GET /api/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).await.is_err() {
        alive.store(false, Ordering::Relaxed);
        return;
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut carry: Vec<u8> = Vec::new();
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                carry.extend_from_slice(&buf[..n]);
                let mut count = 0;
                let mut i = 0;
                while let Some(p) = find(&carry[i..], b"data:") {
                    count += 1;
                    i += p + 5;
                }
                events.fetch_add(count, Ordering::Relaxed);
                // Keep a tail that might hold a split "data:".
                let keep = carry.len().saturating_sub(4).max(i);
                carry.drain(..keep);
            }
        }
    }
    alive.store(false, Ordering::Relaxed);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

struct LoadResult {
    latencies_us: Vec<u32>,
    ok: u64,
    non2xx: u64,
    errors: u64,
    per_kind: [u64; 2],
}

/// One keep-alive connection sending `requests` alternately until `until`.
async fn hammer(addr: SocketAddr, requests: [String; 2], c: usize, until: Instant) -> LoadResult {
    let mut r = LoadResult {
        latencies_us: Vec::with_capacity(64 * 1024),
        ok: 0,
        non2xx: 0,
        errors: 0,
        per_kind: [0; 2],
    };
    let mut stream: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(256 * 1024);
    let mut i = c;
    while Instant::now() < until && r.latencies_us.len() < MAX_REQUESTS_PER_CONNECTION {
        let kind = i % 2;
        i += 1;
        if stream.is_none() {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                }
                Err(_) => {
                    r.errors += 1;
                    continue;
                }
            }
        }
        let s = stream.as_mut().unwrap();
        let t = Instant::now();
        let answer =
            tokio::time::timeout(Duration::from_secs(30), one(s, &requests[kind], &mut buf)).await;
        let us = t.elapsed().as_micros().min(u32::MAX as u128) as u32;
        match answer {
            Ok(Ok((status, keep))) => {
                r.latencies_us.push(us);
                r.per_kind[kind] += 1;
                if (200..300).contains(&status) {
                    r.ok += 1;
                } else {
                    r.non2xx += 1;
                }
                if !keep {
                    stream = None;
                }
            }
            _ => {
                r.errors += 1;
                stream = None;
            }
        }
    }
    r
}

/// Sends one request and reads one whole answer: (status, connection reusable).
async fn one(s: &mut TcpStream, request: &str, buf: &mut Vec<u8>) -> std::io::Result<(u16, bool)> {
    s.write_all(request.as_bytes()).await?;
    buf.clear();
    let mut chunk = [0u8; 64 * 1024];
    let head_end = loop {
        if let Some(p) = find(buf, b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or(std::io::ErrorKind::InvalidData)?;
    let keep = !head.contains("connection: close");
    if let Some(len) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        while buf.len() < head_end + len {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    } else if head.contains("transfer-encoding: chunked") {
        while !buf[head_end..].ends_with(b"0\r\n\r\n") {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    } else {
        return Ok((status, false));
    }
    Ok((status, keep))
}
