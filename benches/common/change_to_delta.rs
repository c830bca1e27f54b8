//! A store change to the page's delta (issue 71 item 1): a launcher over 50
//! finished sessions (5 Zhongshu with 9 departments each), one page's event
//! stream open. One department's record changes again and again (its
//! attention's words, as an agent's question sets them), each change waited
//! for until the `event: delta` frame carrying it arrives. Printed: from the
//! change to its delta, p50 / p99 / max, with an audit line (as an agent's
//! question is recorded) and without one (as its token usage is); the
//! process's CPU time per change (user + system, `getrusage`; the bench's own
//! reading of the stream included) with the stream open and with none (the
//! commit alone), their difference being what deriving and sending the
//! change costs; the same of the launcher's runtime threads alone (where the
//! change is derived, diffed and sent, `/proc/self/task`, in clock ticks);
//! and one derivation alone (the status with everything the page shows,
//! serialized).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use codex_governance::config::{Config, Env};
use codex_governance::model::{Attention, AttentionKind, AuditEvent};
use codex_governance::web::{self, ServeOptions};

use super::fixture;
use super::quick;

/// The sessions of this phase: 5 planners × (1 + 9 departments).
const PLANNERS: usize = 5;
/// The department whose record changes.
const CHANGED: &str = "lingyubu-1";

/// Process CPU time (user + system) so far.
fn cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| Duration::new(v.tv_sec as u64, v.tv_usec as u32 * 1000);
    t(u.ru_utime) + t(u.ru_stime)
}

/// CPU time (user + system) of the launcher's own threads so far: those of
/// its runtime, named "server" (the changes are made on the bench's thread,
/// the page's stream read on another).
fn server_cpu() -> Duration {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != "server" {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // After the name's closing parenthesis: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        for i in [11, 12] {
            ticks += fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_secs_f64(ticks as f64 / hz)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn print(what: &str, mut l: Vec<Duration>) {
    l.sort_unstable();
    println!(
        "  {what}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} changes)",
        pct(&l, 0.5),
        pct(&l, 0.99),
        pct(&l, 1.0),
        l.len()
    );
}

/// Reads the event stream of `addr` as a page does, handing each delta
/// frame's data with the moment it arrived.
fn follow(addr: std::net::SocketAddr, token: &str, tx: mpsc::Sender<(Instant, String)>) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).unwrap();
    write!(
        s,
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n",
        addr.port()
    )
    .unwrap();
    let mut pending = Vec::<u8>::new();
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let n = match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let at = Instant::now();
        pending.extend_from_slice(&chunk[..n]);
        // Frames end with a blank line; chunked encoding's size lines sit
        // between them and are no frame of ours.
        while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
            let frame: Vec<u8> = pending.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&frame);
            if text.contains("event: delta") && tx.send((at, text.into_owned())).is_err() {
                return;
            }
        }
    }
}

/// Waits for the delta frame holding `marker`; None after `patience`.
fn delta_with(
    rx: &mpsc::Receiver<(Instant, String)>,
    marker: &str,
    patience: Duration,
) -> Option<Instant> {
    let deadline = Instant::now() + patience;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match rx.recv_timeout(left) {
            Ok((at, text)) if text.contains(marker) => return Some(at),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

pub fn run() {
    let audited_changes = quick::count("STATUS_BENCH_CHANGES", 1000, 5);
    let silent_changes = quick::count("STATUS_BENCH_SILENT_CHANGES", 20, 2);
    let dir = tempfile::Builder::new()
        .prefix("cg-bench-changes-")
        .tempdir()
        .unwrap();
    let repo = dir.path().join("repo");
    fixture::make_repo(&repo);
    let state_dir = repo.join(".tmp");
    fixture::write_state_of(&state_dir, PLANNERS);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("server")
        .build()
        .unwrap();
    let config = Config::load_with_env(
        &repo,
        &Env::from([("CODEX_GOVERNANCE_TRUST_CONFIG".into(), "1".into())]),
    )
    .expect("config");
    let running = rt
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
    let store = &running.launcher.ctx.store;
    let sessions = store.read(|s| s.sessions.len());
    println!(
        "\nA store change to the page's delta: {sessions} sessions, one page's event stream open"
    );

    // Each change as the launcher makes it: the department's record in one
    // transaction, with (or without) its audit line.
    let change = |n: usize, audited: bool| {
        let text = format!("bench-change-{n}: which branch?");
        let set = |tx: &mut codex_governance::store::Tx| {
            let s = tx.session_mut(CHANGED).expect("the changed department");
            s.agent.attention = Some(Attention {
                kind: AttentionKind::Input,
                text: text.clone(),
            });
            if audited {
                tx.audit(AuditEvent::AgentNeedsInput {
                    session_id: CHANGED.into(),
                    text: text.clone(),
                });
            }
        };
        if audited {
            store.update(set).expect("committed");
        } else {
            store.record(set).expect("committed");
        }
    };
    // The commits alone, no page listening: what a change costs before
    // anything is derived from it.
    let alone = audited_changes.min(300);
    let (cpu_before, server_before) = (cpu(), server_cpu());
    for n in 0..alone {
        change(n, true);
    }
    let commit_cpu = (cpu() - cpu_before).as_secs_f64() * 1000.0 / alone as f64;
    let server_alone = (server_cpu() - server_before).as_secs_f64() * 1000.0 / alone as f64;
    let (tx, rx) = mpsc::channel();
    let (addr, token) = (running.addr, running.token.clone());
    std::thread::spawn(move || follow(addr, &token, tx));
    // The first delta carries the whole status: the page is up to date after it.
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the first delta");
    let mut audited = Vec::new();
    let mut committed = Vec::new();
    let (cpu_before, server_before) = (cpu(), server_cpu());
    let wall = Instant::now();
    for n in alone..alone + audited_changes {
        let t0 = Instant::now();
        change(n, true);
        let t1 = Instant::now();
        let at = delta_with(&rx, &format!("bench-change-{n}:"), Duration::from_secs(10))
            .expect("its delta");
        audited.push(at - t0);
        committed.push(at - t1);
    }
    let spent = cpu() - cpu_before;
    let server = (server_cpu() - server_before).as_secs_f64() * 1000.0 / audited_changes as f64;
    let wall = wall.elapsed();
    print("change with an audit line → its delta", audited);
    print("  of which after its commit", committed);
    let per = spent.as_secs_f64() * 1000.0 / audited_changes as f64;
    println!(
        "  CPU per change: {per:.2} ms with the page's stream open, {commit_cpu:.2} ms with none \
         (the commit alone): {:.2} ms to derive and send it (process user + system over \
         {audited_changes} changes, {:.0} % of one core meanwhile)",
        per - commit_cpu,
        spent.as_secs_f64() * 100.0 / wall.as_secs_f64()
    );
    println!(
        "  CPU per change of the launcher's runtime threads (deriving, diffing and sending it; \
         the commit runs on the changing thread): {server:.2} ms with the page's stream open, \
         {server_alone:.2} ms with none"
    );
    let mut silent = Vec::new();
    let mut missed = 0;
    for n in 0..silent_changes {
        let n = alone + audited_changes + n;
        let t0 = Instant::now();
        change(n, false);
        match delta_with(&rx, &format!("bench-change-{n}:"), Duration::from_secs(10)) {
            Some(at) => silent.push(at - t0),
            None => missed += 1,
        }
    }
    print("change without an audit line → its delta", silent);
    if missed > 0 {
        println!("    {missed} of them reached no delta within 10 s");
    }

    // One derivation alone: what the publisher builds per change.
    let builds = quick::pick(200, 3);
    let t = Instant::now();
    let mut bytes = 0;
    for _ in 0..builds {
        bytes += serde_json::to_vec(&running.launcher.status_view())
            .unwrap()
            .len();
    }
    println!(
        "  one status build and serialization ({sessions} sessions, {:.1} KiB): {:.2} ms",
        bytes as f64 / builds as f64 / 1024.0,
        t.elapsed().as_secs_f64() * 1000.0 / builds as f64
    );
    rt.block_on(running.stop());
}
