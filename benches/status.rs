//! `GET /api/status` under load, idle memory and start-up time (SPEC 15).
//!
//! 1. A launcher is started in-process on `127.0.0.1:0` over a state file holding
//!    100 sessions (10 Zhongshu sessions with 9 departments each, all finished,
//!    each with a transcript log, a plan, results and terminal records), as after
//!    a working day and a restart.
//! 2. 16 keep-alive HTTP/1.1 connections drive `GET /api/status` for ~5 s, then
//!    `GET /healthz` (a trivial route) on the same server in the same run; req/s,
//!    p50 and p99 latency of both are printed. Target for status: ≥ 5,000 req/s,
//!    p99 ≤ 10 ms.
//! 3. The cost of one uncached status build (`status_view` + serialization) is
//!    printed too: what a request pays whenever something changed.
//! 4. The release binary is started (port 0, a fresh repository) 5 times:
//!    spawn → ready line → first successful `/healthz` (target ≤ 25 ms, issue 71), and its
//!    VmRSS (and PSS) after ~1 s idle (target ≤ 15 MiB from a plain build, issue 71: issue
//!    50's 12 MiB needed build tricks, 13.5–14.2 MiB without), with where
//!    the resident pages are (`/proc/<pid>/smaps`: the binary's code, its
//!    relocated data, each shared library, heap, thread stacks).
//!
//! 5. A store change to the page's delta with 50 sessions, p50 / p99, and
//!    the CPU per change (`common/change_to_delta.rs`, issue 71 item 1).
//!
//! Run: `cargo bench --bench status` (builds the binary with the bench profile).
//! `BENCH_SECONDS` sets the duration of each load phase (default 5).
//! `STATUS_BENCH_REFERENCE_BIN=<path>` starts a second binary (say main's
//! release build) in turn with ours, and prints its figures beside.

#[path = "common/quick.rs"]
mod quick;

#[path = "common/procfs.rs"]
mod procfs;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use codex_governance::config::{Config, Env};
use codex_governance::web::{self, ServeOptions};

#[path = "common/fixture.rs"]
mod fixture;
use fixture::{make_repo, write_state};

#[path = "common/change_to_delta.rs"]
mod change_to_delta;

const CONNECTIONS: usize = 16;
const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    quick::announce("status");
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .unwrap_or(quick::pick(5.0, 0.3));
    let dir = tempfile::Builder::new()
        .prefix("cg-bench-status-")
        .tempdir()
        .unwrap();
    let repo = dir.path().join("repo");
    make_repo(&repo);
    let state_dir = repo.join(".tmp");
    write_state(&state_dir);

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("server")
        .build()
        .unwrap();
    let config = Config::load_with_env(
        &repo,
        &Env::from([("CODEX_GOVERNANCE_TRUST_CONFIG".into(), "1".into())]),
    )
    .expect("config");
    let running = server_rt
        .block_on(web::serve(
            ServeOptions {
                repo: repo.clone(),
                host: "127.0.0.1".into(),
                port: 0,
                state_dir: Some(state_dir.clone()),
                allow_host: None,
            },
            config,
        ))
        .expect("launcher starts");
    let addr = running.addr;
    let launcher = Arc::clone(&running.launcher);
    let sessions = launcher.ctx.store.read(|s| s.sessions.len());
    println!("status bench: {sessions} sessions recorded, {CONNECTIONS} keep-alive connections, {seconds} s per phase");

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("client")
        .build()
        .unwrap();
    let status_req = request("/api/status", addr, Some(&running.token));
    let health_req = request("/healthz", addr, None);

    // The answer is what we think it is.
    let first = client_rt.block_on(one_request(addr, &status_req));
    let body: Value = serde_json::from_slice(&first).expect("status is JSON");
    assert_eq!(body["ok"], json!(true), "status failed");
    assert_eq!(body["sessions"].as_array().map(Vec::len), Some(sessions));
    println!("  /api/status body: {:.1} KiB", first.len() as f64 / 1024.0);

    // Each phase: a short warm-up, then the measured run.
    let measure = |request: &[u8]| {
        client_rt.block_on(drive(
            addr,
            request,
            CONNECTIONS,
            Duration::from_millis(500),
        ));
        client_rt.block_on(drive(
            addr,
            request,
            CONNECTIONS,
            Duration::from_secs_f64(seconds),
        ))
    };
    measure(&status_req).print("GET /api/status", Some((5_000.0, 10.0)));
    measure(&health_req).print("GET /healthz", None);

    // The same with one live session printing a line every ~10 ms, as an agent
    // streaming its work does: PTY output changes the status (preview, idle time).
    let live = client_rt.block_on(post(
        addr,
        &running.token,
        "/api/start_zhongshu_session",
        r#"{"task":"stream output"}"#,
    ));
    let live: Value = serde_json::from_slice(&live).expect("start answer");
    let live_id = live["session_id"]
        .as_str()
        .expect("a live session")
        .to_string();
    std::thread::sleep(Duration::from_millis(300));
    measure(&status_req).print(
        "GET /api/status, 1 live session printing every 10 ms",
        Some((5_000.0, 10.0)),
    );
    client_rt.block_on(post(
        addr,
        &running.token,
        "/api/close_session",
        &format!(r#"{{"session_id":"{live_id}"}}"#),
    ));

    // One uncached build, as paid whenever the state, the audit log, any PTY's
    // output or the clock's second changed.
    let builds = 50;
    let t = Instant::now();
    let mut bytes = 0;
    for _ in 0..builds {
        bytes += serde_json::to_vec(&launcher.status_view()).unwrap().len();
    }
    let per = t.elapsed().as_secs_f64() * 1000.0 / builds as f64;
    println!(
        "  uncached status build ({} sessions, {:.1} KiB): {per:.2} ms each (≈ {:.0} builds/s on one core)",
        sessions,
        bytes as f64 / builds as f64 / 1024.0,
        1000.0 / per
    );

    // Of which: transcript previews of finished sessions, read from their logs
    // (what `log_preview` does for every session without a live PTY).
    let logs: Vec<String> = launcher.ctx.store.read(|s| {
        s.sessions
            .values()
            .filter(|x| !x.is_running())
            .map(|x| x.log_path.clone())
            .collect()
    });
    let t = Instant::now();
    for _ in 0..builds {
        for path in &logs {
            use std::io::{Read, Seek, SeekFrom};
            let mut f = std::fs::File::open(path).unwrap();
            let len = f.metadata().unwrap().len();
            f.seek(SeekFrom::Start(len.saturating_sub(4096))).unwrap();
            let mut buf = Vec::new();
            f.take(4096).read_to_end(&mut buf).unwrap();
            std::hint::black_box(codex_governance::pty::preview(&buf, 8));
        }
    }
    println!(
        "    of which {} transcript previews read from logs: {:.2} ms per build",
        logs.len(),
        t.elapsed().as_secs_f64() * 1000.0 / builds as f64
    );

    server_rt.block_on(running.stop());
    drop(server_rt);
    drop(client_rt);

    change_to_delta::run();
    startup_and_memory();
}

fn request(path: &str, addr: SocketAddr, token: Option<&str>) -> Vec<u8> {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{auth}Accept: */*\r\n\r\n",
        addr.port()
    )
    .into_bytes()
}

struct Stats {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    body_bytes: u64,
}

impl Stats {
    fn print(&self, what: &str, target: Option<(f64, f64)>) {
        let mut l = self.latencies_us.clone();
        l.sort_unstable();
        let pct = |p: f64| -> f64 {
            if l.is_empty() {
                return f64::NAN;
            }
            let i = ((l.len() as f64 * p).ceil() as usize).clamp(1, l.len()) - 1;
            l[i] as f64 / 1000.0
        };
        let rps = self.requests as f64 / self.elapsed.as_secs_f64();
        let (p50, p99, max) = (pct(0.50), pct(0.99), pct(1.0));
        println!(
            "  {what}: {rps:.0} req/s, p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms ({} requests, {} errors, {:.1} MiB/s of bodies)",
            self.requests,
            self.errors,
            self.body_bytes as f64 / MIB / self.elapsed.as_secs_f64()
        );
        if let Some((rps_target, p99_target)) = target {
            let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
            println!(
                "    target ≥ {rps_target:.0} req/s: {}; target p99 ≤ {p99_target:.0} ms: {}",
                verdict(rps >= rps_target),
                verdict(p99 <= p99_target)
            );
        }
    }
}

async fn one_request(addr: SocketAddr, req: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req).await.unwrap();
    let mut buf = Vec::new();
    let (status, body) = read_response(&mut s, &mut buf).await.expect("a response");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    body
}

async fn post(addr: SocketAddr, token: &str, path: &str, body: &str) -> Vec<u8> {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        addr.port(),
        body.len()
    );
    one_request(addr, req.as_bytes()).await
}

/// `connections` keep-alive connections send `req` back to back for `duration`.
async fn drive(addr: SocketAddr, req: &[u8], connections: usize, duration: Duration) -> Stats {
    let req: Arc<[u8]> = Arc::from(req);
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let req = Arc::clone(&req);
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            s.set_nodelay(true).unwrap();
            let mut buf = Vec::with_capacity(256 * 1024);
            let mut lat = Vec::with_capacity(100_000);
            let (mut errors, mut bytes) = (0usize, 0u64);
            while Instant::now() < deadline {
                let t = Instant::now();
                if s.write_all(&req).await.is_err() {
                    errors += 1;
                    s = TcpStream::connect(addr).await.expect("reconnect");
                    buf.clear();
                    continue;
                }
                match read_response(&mut s, &mut buf).await {
                    Some((status, body)) => {
                        lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        bytes += body.len() as u64;
                        if status != 200 {
                            errors += 1;
                        }
                    }
                    None => {
                        errors += 1;
                        s = TcpStream::connect(addr).await.expect("reconnect");
                        buf.clear();
                    }
                }
            }
            (lat, errors, bytes)
        }));
    }
    let mut stats = Stats {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
        body_bytes: 0,
    };
    for t in tasks {
        let (lat, errors, bytes) = t.await.unwrap();
        stats.requests += lat.len();
        stats.errors += errors;
        stats.body_bytes += bytes;
        stats.latencies_us.extend(lat);
    }
    stats.elapsed = start.elapsed();
    stats
}

/// Reads one HTTP/1.1 response (Content-Length or chunked); `buf` keeps what
/// arrived past it. None when the connection closed or the answer is malformed.
async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(u16, Vec<u8>)> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if !fill(s, buf).await {
            return None;
        }
    };
    let head = std::str::from_utf8(&buf[..head_end])
        .ok()?
        .to_ascii_lowercase();
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let header = |name: &str| {
        head.lines().find_map(|l| {
            l.strip_prefix(name)
                .map(|v| v.trim_start_matches(':').trim().to_string())
        })
    };
    if let Some(len) = header("content-length") {
        let len: usize = len.parse().ok()?;
        while buf.len() < head_end + len {
            if !fill(s, buf).await {
                return None;
            }
        }
        let body = buf[head_end..head_end + len].to_vec();
        buf.drain(..head_end + len);
        return Some((status, body));
    }
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut pos = head_end;
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(&buf[pos..], b"\r\n") {
                    break pos + i;
                }
                if !fill(s, buf).await {
                    return None;
                }
            };
            let size =
                usize::from_str_radix(std::str::from_utf8(&buf[pos..line_end]).ok()?.trim(), 16)
                    .ok()?;
            let need = line_end + 2 + size + 2;
            while buf.len() < need {
                if !fill(s, buf).await {
                    return None;
                }
            }
            body.extend_from_slice(&buf[line_end + 2..line_end + 2 + size]);
            pos = need;
            if size == 0 {
                break;
            }
        }
        buf.drain(..pos);
        return Some((status, body));
    }
    None
}

async fn fill(s: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 64 * 1024];
    match s.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------
// The release binary: start-up and idle memory

/// What one start of a binary showed.
struct Start {
    to_ready_ms: f64,
    to_first_ms: f64,
    rss_mib: f64,
    pss_mib: f64,
    threads: u64,
    parts: Vec<procfs::Part>,
}

/// The binary this bench built, and `STATUS_BENCH_REFERENCE_BIN` if set (say
/// main's build), started in turn 5 times each in the same run.
fn startup_and_memory() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_codex-governance"));
    let reference = std::env::var_os("STATUS_BENCH_REFERENCE_BIN").map(PathBuf::from);
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..5 {
        ours.push(start_once(&bin));
        if let Some(r) = &reference {
            theirs.push(start_once(r));
        }
    }
    print_starts(&bin, ours, true);
    if let Some(r) = &reference {
        print_starts(r, theirs, false);
    }
}

/// Starts `bin` on a fresh repository (port 0), times its ready line and first
/// `/healthz`, reads its memory after ~1 s idle, and stops it.
fn start_once(bin: &std::path::Path) -> Start {
    let dir = tempfile::Builder::new()
        .prefix("cg-bench-start-")
        .tempdir()
        .unwrap();
    let repo = dir.path().join("repo");
    make_repo(&repo);
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars() {
        if k.starts_with("CODEX_GOVERNANCE_") {
            cmd.env_remove(k);
        }
    }
    let t0 = Instant::now();
    let mut child = cmd
        .env("CODEX_GOVERNANCE_TRUST_CONFIG", "1")
        .args(["serve", "--port", "0", "--repo"])
        .arg(&repo)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the binary");
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).expect("ready line");
    let ready = t0.elapsed();
    let port: u16 = line
        .trim()
        .strip_prefix("codex-governance listening on http://127.0.0.1:")
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("not a ready line: {line:?}"));
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let req = request("/healthz", addr, None);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(addr) {
            use std::io::{Read, Write};
            let _ = s.write_all(&req);
            let mut b = [0u8; 512];
            if let Ok(n) = s.read(&mut b) {
                if b[..n].starts_with(b"HTTP/1.1 200") {
                    break;
                }
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no /healthz answer");
    }
    let first = t0.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let start = Start {
        to_ready_ms: ready.as_secs_f64() * 1000.0,
        to_first_ms: first.as_secs_f64() * 1000.0,
        rss_mib: procfs::rss(child.id()) as f64 / 1024.0,
        pss_mib: procfs::pss(child.id()) as f64 / 1024.0,
        threads: procfs::threads(child.id()),
        parts: procfs::breakdown(child.id()),
    };
    // SAFETY: our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let _ = child.wait();
    start
}

fn print_starts(bin: &std::path::Path, mut starts: Vec<Start>, targets: bool) {
    let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0);
    println!(
        "{}: {} ({:.1} MiB)",
        if targets {
            "binary"
        } else {
            "reference binary"
        },
        bin.display(),
        size as f64 / MIB
    );
    let column = |starts: &[Start], f: fn(&Start) -> f64| -> (f64, Vec<f64>) {
        let runs: Vec<f64> = starts.iter().map(f).collect();
        let mut sorted = runs.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        (sorted[sorted.len() / 2], runs)
    };
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    let (r, runs) = column(&starts, |s| s.to_ready_ms);
    println!(
        "  start → ready line: median {r:.1} ms (runs: {})",
        fmt(&runs)
    );
    let (f, runs) = column(&starts, |s| s.to_first_ms);
    print!(
        "  start → first /healthz: median {f:.1} ms (runs: {})",
        fmt(&runs)
    );
    if targets {
        print!("; target ≤ 25 ms (issue 71): {}", verdict(f <= 25.0));
    }
    println!();
    let (m, runs) = column(&starts, |s| s.rss_mib);
    print!(
        "  idle RSS after 1 s: median {m:.1} MiB (runs: {})",
        fmt(&runs)
    );
    if targets {
        print!("; target ≤ 15 MiB (issue 71): {}", verdict(m <= 15.0));
    }
    println!();
    let (p, runs) = column(&starts, |s| s.pss_mib);
    println!(
        "  idle PSS after 1 s: median {p:.1} MiB (runs: {})",
        fmt(&runs)
    );
    // Where the pages of the run nearest the median RSS are (smaps).
    starts.sort_by(|a, b| (a.rss_mib - m).abs().total_cmp(&(b.rss_mib - m).abs()));
    let near = &starts[0];
    if near.parts.is_empty() {
        return;
    }
    println!(
        "  of the run with {:.1} MiB RSS ({} threads), MiB RSS / PSS / private dirty:",
        near.rss_mib, near.threads
    );
    for part in near.parts.iter().filter(|p| p.rss_kib >= 64) {
        println!(
            "    {:>5.1} / {:>5.1} / {:>5.1}  {}",
            part.rss_kib as f64 / 1024.0,
            part.pss_kib as f64 / 1024.0,
            part.private_dirty_kib as f64 / 1024.0,
            part.what
        );
    }
}

fn fmt(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.1}"))
        .collect::<Vec<_>>()
        .join(", ")
}
