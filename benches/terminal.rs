//! PTY → WebSocket throughput and memory under a flood (SPEC 15).
//!
//! 1. Memory: a PTY floods (`yes`) for ~10 s while one client reads at ~1 MiB/s
//!    and another never reads; prints the process's peak RSS (VmHWM).
//! 2. Throughput: ≥ 200 MiB of PTY output goes to one WebSocket client while a
//!    direct subscriber of the same PTY reads it too, in the same run; prints
//!    MiB/s of both and the ratio (target ≥ 0.7).
//!
//! Run: `cargo bench --bench terminal`.

#[path = "common/quick.rs"]
mod quick;

use std::sync::Arc;
use std::time::{Duration, Instant};

use codex_governance::pty::{Pty, SpawnSpec};
use codex_governance::terminal::{TerminalInfo, TerminalKind, Terminals};
use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What one PTY streams in the throughput runs.
fn stream_bytes() -> u64 {
    quick::pick(200, 1) * 1024 * 1024
}
const MIB: f64 = 1024.0 * 1024.0;

fn spawn(script: &str) -> Arc<Pty> {
    Pty::spawn(SpawnSpec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        cwd: std::env::temp_dir(),
        env: vec![("LANG".into(), "C.UTF-8".into())],
        cols: 120,
        rows: 40,
        transcript: None,
    })
    .expect("spawn a PTY")
}

async fn connect(info: &TerminalInfo) -> Ws {
    let token = info.url.split("token=").nth(1).unwrap();
    let mut req = format!("ws://127.0.0.1:{}/ws?token={token}", info.port)
        .into_client_request()
        .unwrap();
    let origin = format!("http://127.0.0.1:{}", info.port);
    req.headers_mut().insert("Origin", origin.parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .expect("connect")
        .0
}

fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Reads PTY output from the broadcast until the output ends; (bytes, end, lagged chunks).
async fn read_direct(pty: Arc<Pty>) -> (u64, Instant, u64) {
    let (_, mut rx) = pty.subscribe();
    let mut closed = pty.output_closed_watch();
    let (mut bytes, mut lagged) = (0u64, 0u64);
    loop {
        tokio::select! {
            r = rx.recv() => match r {
                Ok(chunk) => bytes += chunk.len() as u64,
                Err(RecvError::Lagged(n)) => lagged += n,
                Err(RecvError::Closed) => break,
            },
            _ = closed.wait_for(|c| *c) => {
                while let Ok(chunk) = rx.try_recv() {
                    bytes += chunk.len() as u64;
                }
                break;
            }
        }
    }
    (bytes, Instant::now(), lagged)
}

/// Reads a WebSocket until the exit frame; (bytes, end, lagged notices).
async fn read_ws(mut ws: Ws) -> (u64, Instant, u64) {
    let (mut bytes, mut lagged) = (0u64, 0u64);
    while let Some(Ok(m)) = ws.next().await {
        match m {
            Message::Binary(b) => bytes += b.len() as u64,
            Message::Text(t) if t.contains("\"exit\"") => break,
            Message::Text(t) if t.contains("\"lagged\"") => lagged += 1,
            _ => {}
        }
    }
    (bytes, Instant::now(), lagged)
}

async fn memory_under_flood(terms: &Terminals) {
    let pty = spawn("read go; exec yes 'flood flood flood flood flood flood flood flood'");
    let info = terms
        .open(TerminalKind::Interactive, pty.clone(), None, "flood".into())
        .await
        .unwrap();
    let slow = connect(&info).await;
    let _sleeper = connect(&info).await; // never read
                                         // Forget the peak so far (Linux ≥ 4.0: "5" resets VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = proc_status_kib("VmRSS:");
    let total_before = pty.total_output_bytes();
    pty.write(b"go\r").unwrap();

    let slow_reader = tokio::spawn(async move {
        let mut slow = slow;
        let start = Instant::now();
        let mut got = 0u64;
        while let Some(Ok(m)) = slow.next().await {
            if let Message::Binary(b) = m {
                got += b.len() as u64;
                // Pace to ~1 MiB/s.
                let due = Duration::from_secs_f64(got as f64 / MIB);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
        }
        got
    });
    let mut peak_sampled = 0;
    let flood_start = Instant::now();
    let flood_for = Duration::from_secs(quick::pick(10, 1));
    while flood_start.elapsed() < flood_for {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak_sampled = peak_sampled.max(proc_status_kib("VmRSS:"));
    }
    let produced = pty.total_output_bytes() - total_before;
    let hwm = proc_status_kib("VmHWM:");
    pty.terminate(Duration::from_secs(2)).await;
    terms.close(&info.id).await;
    let slow_got = slow_reader.await.unwrap_or(0);
    println!("memory under flood (10 s, one client at ~1 MiB/s, one not reading):");
    println!(
        "  PTY produced {:.0} MiB ({:.0} MiB/s); the slow client got {:.1} MiB",
        produced as f64 / MIB,
        produced as f64 / MIB / 10.0,
        slow_got as f64 / MIB
    );
    println!(
        "  RSS before {:.1} MiB, peak sampled {:.1} MiB, VmHWM {:.1} MiB",
        rss_before as f64 / 1024.0,
        peak_sampled as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}

fn stream_script() -> String {
    format!(
        "read go; yes 'the quick brown fox jumps over the lazy dog 0123456789' | head -c {}",
        stream_bytes()
    )
}

/// The same stream with no WebSocket at all, for reference.
async fn throughput_direct_alone() {
    let pty = spawn(&stream_script());
    let direct = tokio::spawn(read_direct(pty.clone()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    pty.write(b"go\r").unwrap();
    let (bytes, end, lag) = direct.await.unwrap();
    let secs = end.duration_since(start).as_secs_f64();
    println!(
        "  direct subscriber alone (reference run): {:.1} MiB in {:.2} s = {:.1} MiB/s (lagged chunks: {lag})",
        bytes as f64 / MIB,
        secs,
        bytes as f64 / MIB / secs
    );
}

async fn throughput(terms: &Terminals) {
    let pty = spawn(&stream_script());
    let info = terms
        .open(
            TerminalKind::Interactive,
            pty.clone(),
            None,
            "throughput".into(),
        )
        .await
        .unwrap();
    let ws = connect(&info).await;
    let direct = tokio::spawn(read_direct(pty.clone()));
    let websocket = tokio::spawn(read_ws(ws));
    // Let both subscribe before the output starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    pty.write(b"go\r").unwrap();
    let (d_bytes, d_end, d_lag) = direct.await.unwrap();
    let (w_bytes, w_end, w_lag) = websocket.await.unwrap();
    let d_secs = d_end.duration_since(start).as_secs_f64();
    let w_secs = w_end.duration_since(start).as_secs_f64();
    let d_rate = d_bytes as f64 / MIB / d_secs;
    let w_rate = w_bytes as f64 / MIB / w_secs;
    println!(
        "throughput ({:.0} MiB through one PTY):",
        stream_bytes() as f64 / MIB
    );
    println!(
        "  direct subscriber: {:.1} MiB in {:.2} s = {:.1} MiB/s (lagged chunks: {d_lag})",
        d_bytes as f64 / MIB,
        d_secs,
        d_rate
    );
    println!(
        "  WebSocket client:  {:.1} MiB in {:.2} s = {:.1} MiB/s (lagged notices: {w_lag})",
        w_bytes as f64 / MIB,
        w_secs,
        w_rate
    );
    println!(
        "  ratio WebSocket/direct: {:.2} (target >= 0.70)",
        w_rate / d_rate
    );
    terms.close(&info.id).await;
    throughput_direct_alone().await;
}

fn main() {
    // `cargo bench` passes --bench; a plain `cargo test --benches` passes nothing we need.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    quick::announce("terminal");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let terms = Terminals::new(vec![]);
        memory_under_flood(&terms).await;
        throughput(&terms).await;
        terms.close_all().await;
    });
}
