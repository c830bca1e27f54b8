//! Does the dashboard still answer while another local process holds sockets
//! open (issue 23, item 9)?
//!
//! 1. A launcher is started in-process on `127.0.0.1:0` (its own runtime).
//! 2. Reference: `GET /healthz` on a fresh connection, one after another, with
//!    no other socket open.
//! 3. 1,000 sockets are opened from the same address and held: each sends
//!    nothing, and when the server closes one (3 s of silence, or to make room
//!    under the per-peer cap) it is opened again at once, so 1,000 are held or
//!    being reopened throughout, the harshest such client.
//! 4. The same `/healthz` measurement while they are held; then once more after
//!    they are gone.
//!
//! Printed: p50/p99/max of each, failures (expected 0), and how often the server
//! closed a held socket. `IDLE_SOCKETS` (default 1000), `IDLE_REQUESTS` (default
//! 500). Loopback only; bounded in count and time.
//!
//! Run: `cargo bench --bench idle_sockets`.

#[path = "../tests/it/common/launcher.rs"]
mod support;

#[path = "common/quick.rs"]
mod quick;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{more_open_files, named_runtime, InProcess, RepoOptions, TestRepo};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v: &usize| *v > 0)
        .unwrap_or(default)
}

/// Latencies of one series, and how many requests failed.
struct Series {
    micros: Vec<u64>,
    failed: usize,
}

impl Series {
    fn pct(&self, p: f64) -> f64 {
        if self.micros.is_empty() {
            return f64::NAN;
        }
        let mut v = self.micros.clone();
        v.sort_unstable();
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i] as f64 / 1000.0
    }

    fn line(&self, what: &str) -> String {
        format!(
            "{what:<34} p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms  failed {}",
            self.pct(0.5),
            self.pct(0.99),
            self.pct(1.0),
            self.failed
        )
    }
}

/// `requests` sequential `GET /healthz`, each on a fresh connection.
async fn healthz_series(addr: SocketAddr, host: &str, requests: usize) -> Series {
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let mut s = Series {
        micros: Vec::with_capacity(requests),
        failed: 0,
    };
    for _ in 0..requests {
        let t = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(30), async {
            let mut c = TcpStream::connect(addr).await?;
            c.write_all(request.as_bytes()).await?;
            let mut buf = Vec::new();
            c.read_to_end(&mut buf).await?;
            std::io::Result::Ok(buf)
        })
        .await;
        match answer {
            Ok(Ok(buf)) if buf.starts_with(b"HTTP/1.1 200") => {
                s.micros.push(t.elapsed().as_micros() as u64)
            }
            _ => s.failed += 1,
        }
    }
    s
}

/// A socket held open without a word, reopened whenever the server closes it.
async fn hold(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    opened: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
) {
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut s) = TcpStream::connect(addr).await else {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        opened.fetch_add(1, Ordering::Relaxed);
        loop {
            tokio::select! {
                r = s.read(&mut buf) => match r {
                    Ok(0) | Err(_) => {
                        closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Ok(_) => {}
                },
                _ = tokio::time::sleep(Duration::from_millis(200)) => {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                }
            }
        }
    }
}

fn main() {
    quick::announce("idle_sockets");
    more_open_files();
    let sockets = env_num("IDLE_SOCKETS", quick::pick(1000, 20));
    let requests = env_num("IDLE_REQUESTS", quick::pick(500, 10));
    let repo = TestRepo::new(RepoOptions::default());
    let server_rt = named_runtime("server");
    let client_rt = named_runtime("client");
    let server = server_rt.block_on(InProcess::start(&repo));
    let (addr, host) = (server.addr, server.host());
    println!(
        "idle sockets bench: GET /healthz on a fresh connection each, {requests} requests per series; {sockets} held sockets"
    );
    client_rt.block_on(async {
        let before = healthz_series(addr, &host, requests).await;

        let stop = Arc::new(AtomicBool::new(false));
        let opened = Arc::new(AtomicU64::new(0));
        let closed = Arc::new(AtomicU64::new(0));
        let holders: Vec<_> = (0..sockets)
            .map(|_| {
                tokio::spawn(hold(
                    addr,
                    Arc::clone(&stop),
                    Arc::clone(&opened),
                    Arc::clone(&closed),
                ))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while opened.load(Ordering::Relaxed) < sockets as u64 {
            assert!(Instant::now() < deadline, "the held sockets did not open");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let closed_at_start = closed.load(Ordering::Relaxed);
        let t = Instant::now();
        let held = healthz_series(addr, &host, requests).await;
        let seconds = t.elapsed().as_secs_f64();
        let closed_during = closed.load(Ordering::Relaxed) - closed_at_start;
        stop.store(true, Ordering::Relaxed);
        for h in holders {
            h.abort();
            let _ = h.await;
        }
        let after = healthz_series(addr, &host, requests).await;

        println!("{}", before.line("no held sockets (reference)"));
        println!("{}", held.line(&format!("{sockets} held sockets")));
        println!("{}", after.line("after they are gone"));
        println!(
            "the server closed held sockets {closed_during} times in {seconds:.1} s ({:.0}/s), each reopened at once",
            closed_during as f64 / seconds
        );
        assert_eq!(
            before.failed + held.failed + after.failed,
            0,
            "every /healthz is answered"
        );
    });
    server_rt.block_on(server.stop());
}
