//! Does the cost of a change grow with history? The release binary is run on a
//! state folder that already holds 1k, 10k and 100k results (written through the
//! store, as ingestion would), and at each size this prints:
//! single-report drop-to-inbox latency (p50/p99, polled through the inbox API),
//! burst throughput, the inbox's first page (bytes, time), the launcher's RSS
//! and PSS (`/proc/<pid>/smaps_rollup`) 3 s after the drops and the burst, and
//! its restart time (spawn to ready). The 1k figures are the reference: each
//! larger size is also printed as a ratio to them. The reference for the
//! latencies, measured first in the same run: a 4 KiB write + fsync on the
//! same disk (p50/p99 of 200).
//!
//! Run: `cargo bench --bench scale` (`SCALE_BENCH_SIZES=1000,10000` to choose).

#[path = "common/quick.rs"]
mod quick;

#[path = "common/procfs.rs"]
mod procfs;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/disk.rs"]
mod disk;

use codex_governance::model::{
    result_key, ReportStatus, ResultSource, Session, SessionKind, SessionStatus, TaskResult,
};
use codex_governance::store::{Paths, Store};
use serde_json::{json, Value};

const ZHONGSHU: usize = 10;
const SINGLE_DROPS: usize = 200;
const BURST: usize = 2_000;

struct Figures {
    results: usize,
    p50: Duration,
    p99: Duration,
    burst_per_s: f64,
    page_bytes: usize,
    page_time: Duration,
    rss_kib: u64,
    pss_kib: u64,
    restart: Duration,
}

fn main() {
    quick::announce("scale");
    let sizes: Vec<usize> = std::env::var("SCALE_BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| quick::pick(vec![1_000, 10_000, 20_000, 100_000], vec![200]));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let probe = tempfile::Builder::new()
        .prefix("cg-scale-")
        .tempdir()
        .unwrap();
    let fsync = disk::fsync_times(probe.path(), 200);
    println!(
        "reference: 4 KiB write + fsync on this disk, p50 {:.2} ms, p99 {:.2} ms (200 samples)",
        ms(pct(&fsync, 0.5)),
        ms(pct(&fsync, 0.99))
    );
    drop(probe);
    // Each size's folder is kept until every size is measured: deleting a large
    // state folder between runs loads the disk the next run's syncs wait on.
    let mut kept = Vec::new();
    let figures: Vec<Figures> = sizes
        .iter()
        .map(|n| {
            let (figures, dir) = rt.block_on(measure(*n));
            kept.push(dir);
            figures
        })
        .collect();
    print_table(&figures);
}

fn print_table(figures: &[Figures]) {
    let base = &figures[0];
    println!(
        "\nresults | drop→inbox p50 | p99 | burst /s | inbox page | page time | RSS | PSS | restart"
    );
    for f in figures {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        println!(
            "{:>7} | {:>7.2} ms ({:.2}x) | {:>6.2} ms ({:.2}x) | {:>7.0} ({:.2}x) | {:>6.1} KB ({:.2}x) | {:>5.2} ms ({:.2}x) | {:>5.1} MB ({:.2}x) | {:>5.1} MB | {:>6.1} ms ({:.2}x)",
            f.results,
            ms(f.p50),
            ratio(ms(f.p50), ms(base.p50)),
            ms(f.p99),
            ratio(ms(f.p99), ms(base.p99)),
            f.burst_per_s,
            ratio(base.burst_per_s, f.burst_per_s),
            f.page_bytes as f64 / 1000.0,
            ratio(f.page_bytes as f64, base.page_bytes as f64),
            ms(f.page_time),
            ratio(ms(f.page_time), ms(base.page_time)),
            f.rss_kib as f64 / 1024.0,
            ratio(f.rss_kib as f64, base.rss_kib as f64),
            f.pss_kib as f64 / 1024.0,
            ms(f.restart),
            ratio(ms(f.restart), ms(base.restart)),
        );
    }
    println!("targets: RSS <= 60 MB at 20k (issue 36); at 100k: p99 <= 20 ms, RSS <= 60 MB, restart <= 300 ms, page <= 100 KB; each within 1.5x of 1k (burst: 1k rate / this rate)");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn make_repo(root: &Path) -> PathBuf {
    let repo = root.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git2::Repository::init(&repo).unwrap();
    std::fs::write(repo.join("README.md"), "# bench\n").unwrap();
    repo
}

fn session(id: &str, kind: SessionKind, parent: Option<&str>, paths: &Paths) -> Session {
    let department = (kind == SessionKind::Department).then(|| "lingyubu".to_string());
    serde_json::from_value(json!({
        "id": id, "session_kind": kind, "role": "bench", "department": department,
        "title": id, "model": "gpt-5.5", "task": format!("task of {id}"), "pid": null,
        "status": SessionStatus::Exited, "exit_code": 0, "started_at": "2026-01-01T00:00:00+00:00",
        "ended_at": null, "prompt_path": "", "log_path": "",
        "mailbox": (kind == SessionKind::Zhongshu).then(|| paths.mailbox(id)),
        "parent_session_id": parent,
        "report_status": (kind == SessionKind::Department).then_some(ReportStatus::Reported),
    }))
    .unwrap()
}

fn result(z: &str, d: &str, id: &str) -> TaskResult {
    TaskResult {
        report_id: id.into(),
        parent_session_id: z.into(),
        department_session_id: d.into(),
        department: "lingyubu".into(),
        summary: format!("history report {id}: a summary of a few dozen words of work done"),
        changed_files: vec!["src/lib.rs".into(), "src/main.rs".into()],
        verifications_run: vec!["cargo test: ok".into()],
        verifications_skipped: vec![],
        risks: vec!["none".into()],
        needs_user_confirmation: false,
        next_action: Some("none".into()),
        reported_at: "2026-01-01T00:00:00+00:00".into(),
        source: ResultSource::Mailbox,
        read: true,
        mailbox_file: None,
        handoff_packet: None,
        revision: 1,
        content_sha256: None,
        objective: "bench".into(),
        verified: false,
        ..TaskResult::default()
    }
}

/// Writes `n` results of history (read) over ten Zhongshu sessions.
fn fill(state_dir: &Path, n: usize) {
    let paths = Paths::new(state_dir.to_path_buf());
    let store = Store::open(state_dir).unwrap();
    store
        .update(|tx| {
            for z in 1..=ZHONGSHU {
                let zid = format!("zhongshu-{z}");
                let did = format!("lingyubu-{z}");
                tx.insert_session(session(&zid, SessionKind::Zhongshu, None, &paths));
                tx.insert_session(session(&did, SessionKind::Department, Some(&zid), &paths));
                let mb = paths.mailbox(&zid);
                for d in [&mb.incoming, &mb.archive, &mb.rejected] {
                    std::fs::create_dir_all(d).unwrap();
                }
            }
        })
        .unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        store
            .update(|tx| {
                for i in chunk {
                    let z = format!("zhongshu-{}", i % ZHONGSHU + 1);
                    let d = format!("lingyubu-{}", i % ZHONGSHU + 1);
                    let id = format!("history-{i:06}");
                    tx.put_result(&result_key(&z, &d, &id), &result(&z, &d, &id));
                }
            })
            .unwrap();
    }
}

struct Launcher {
    child: Child,
    url: String,
    token: String,
    restart: Duration,
}

impl Drop for Launcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(repo: &Path, state_dir: &Path) -> Launcher {
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_codex-governance"))
        .env("CODEX_GOVERNANCE_TRUST_CONFIG", "1")
        .args(["serve", "--port", "0", "--repo"])
        .arg(repo)
        .arg("--state-dir")
        .arg(state_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let restart = t0.elapsed();
    assert!(line.contains("listening on"), "ready line: {line:?}");
    let file: Value = serde_json::from_slice(
        &std::fs::read(state_dir.join("codex_governance_launcher.json")).unwrap(),
    )
    .unwrap();
    let url = file["url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let url = url
        .split(['?', '#'])
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    Launcher {
        child,
        url,
        token: file["token"].as_str().unwrap().to_string(),
        restart,
    }
}

fn report(z: &str, d: &str, id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "parent_session_id": z, "department_session_id": d, "department": "lingyubu",
        "report_id": id, "summary": format!("bench report {id}"),
        "changed_files": ["src/lib.rs"], "verifications_run": ["cargo test: ok"],
    }))
    .unwrap()
}

/// The inbox, peeked: `limit` results (the default page when `None`), counted on request.
async fn inbox(
    c: &reqwest::Client,
    l: &Launcher,
    z: &str,
    limit: Option<usize>,
    count: bool,
) -> (Value, usize) {
    let limit = limit.map(|n| format!("&limit={n}")).unwrap_or_default();
    let body = c
        .get(format!(
            "{}/api/zhongshu_inbox?id={z}&peek=1{limit}&count={}",
            l.url,
            u8::from(count)
        ))
        .bearer_auth(&l.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    (serde_json::from_slice(&body).unwrap(), body.len())
}

async fn measure(n: usize) -> (Figures, tempfile::TempDir) {
    let tmp = tempfile::Builder::new()
        .prefix("cg-scale-")
        .tempdir()
        .unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let repo = make_repo(&root);
    let state_dir = root.join("state");
    fill(&state_dir, n);
    // First start (warms the page cache), then three restarts: the median counts.
    drop(spawn(&repo, &state_dir));
    let mut restarts: Vec<Duration> = (0..2).map(|_| spawn(&repo, &state_dir).restart).collect();
    let l = spawn(&repo, &state_dir);
    restarts.push(l.restart);
    restarts.sort();
    let c = reqwest::Client::new();
    let z = "zhongshu-1";
    let incoming = Paths::new(state_dir.clone()).mailbox(z).incoming;

    let mut lat = Vec::with_capacity(SINGLE_DROPS);
    for i in 0..SINGLE_DROPS {
        let id = format!("single-{i:05}");
        let tmpf = incoming.join(format!(".{id}.tmp"));
        std::fs::write(&tmpf, report(z, "lingyubu-1", &id)).unwrap();
        let t0 = Instant::now();
        std::fs::rename(&tmpf, incoming.join(format!("{id}.json"))).unwrap();
        loop {
            let (v, _) = inbox(&c, &l, z, Some(1), false).await;
            if v["results"][0]["report_id"] == json!(id) {
                break;
            }
            // Polling, not spinning: the launcher shares these two cores.
            tokio::time::sleep(Duration::from_micros(500)).await;
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "{id} not registered"
            );
        }
        lat.push(t0.elapsed());
    }
    lat.sort();

    let staging = root.join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    for i in 0..BURST {
        std::fs::write(
            staging.join(format!("burst-{i:05}.json")),
            report(z, "lingyubu-1", &format!("burst-{i:05}")),
        )
        .unwrap();
    }
    let (before, _) = inbox(&c, &l, z, Some(1), true).await;
    let want = before["result_count"].as_u64().unwrap() as usize + BURST;
    let t0 = Instant::now();
    for i in 0..BURST {
        let name = format!("burst-{i:05}.json");
        std::fs::rename(staging.join(&name), incoming.join(&name)).unwrap();
    }
    loop {
        let (v, _) = inbox(&c, &l, z, Some(1), true).await;
        if v["result_count"].as_u64().unwrap() as usize >= want {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "burst not registered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let burst_per_s = BURST as f64 / t0.elapsed().as_secs_f64();

    let mut times = Vec::new();
    let mut page_bytes = 0;
    for _ in 0..100 {
        let t = Instant::now();
        let (_, bytes) = inbox(&c, &l, "zhongshu-2", None, false).await;
        times.push(t.elapsed());
        page_bytes = bytes;
    }
    times.sort();
    // Memory once the burst has settled (the launcher trims its heap when
    // changes pause for 2 s).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let f = Figures {
        results: n,
        p50: pct(&lat, 0.5),
        p99: pct(&lat, 0.99),
        burst_per_s,
        page_bytes,
        page_time: pct(&times, 0.5),
        rss_kib: procfs::rss(l.child.id()),
        pss_kib: procfs::pss(l.child.id()),
        restart: restarts[1],
    };
    eprintln!("{n} results measured");
    drop(l);
    (f, tmp)
}
