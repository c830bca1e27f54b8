//! Mailbox speed (SPEC 15), with an in-process launcher (`web::serve` on port 0)
//! whose agents are the fake agent (`tools/fake-agent`) staying alive quietly.
//!
//! 1. Latency: ≥ 500 single drops, one at a time (temporary name, then a rename
//!    into `incoming/`), each timed until the result is in the launcher's state
//!    (what `GET /api/zhongshu_inbox` reads): p50 / p99 / max.
//! 2. Burst: 10,000 reports over 10 Zhongshu sessions, staged in a sibling folder
//!    on the same file system and renamed in at once; timed until all are
//!    registered, their packets written, their files archived and their
//!    `result_registered` audit lines present. Checks none is lost or doubled.
//! 3. The cost of one fsync on the same disk (4 KiB write + fsync, median of 200).
//!
//! Run: `cargo bench --bench mailbox` (set `MAILBOX_BENCH_LATENCY=N`,
//! `MAILBOX_BENCH_BURST=N` to change the sizes).

#[path = "common/quick.rs"]
mod quick;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "common/disk.rs"]
mod disk;
#[path = "../tests/it/common/launcher.rs"]
mod support;

use codex_governance::config::{Config, Env};
use codex_governance::launcher::Launcher;
use codex_governance::model::{result_key, SessionKind};
use codex_governance::sessions::StartSpec;
use codex_governance::web::{self, ServeOptions};
use serde_json::{json, Value};

const ZHONGSHU_BURST: usize = 10;
const DEPARTMENTS: [&str; 3] = ["lingyubu", "zhilibu", "gongchengbu"];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A Git repository whose agents are the fake agent, waiting quietly.
fn make_repo(root: &Path) -> PathBuf {
    let repo = root.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git2::Repository::init(&repo).unwrap();
    std::fs::write(repo.join("README.md"), "# bench\n").unwrap();
    let cmd: Vec<String> = vec![
        support::fake_agent().display().to_string(),
        "--no-report".into(),
        "--after-report".into(),
        "wait".into(),
        "--quiet-env".into(),
        "--lines".into(),
        "1".into(),
        "--max-lifetime".into(),
        "7200".into(),
        "--prompt".into(),
        "{prompt}".into(),
    ];
    let yaml = format!(
        "launcher:\n  agent_command: {}\n  max_departments: 64\n  max_zhongshu: 16\n",
        serde_json::to_string(&cmd).unwrap()
    );
    std::fs::write(repo.join("governance.yaml"), yaml).unwrap();
    repo
}

async fn start_zhongshu(l: &Arc<Launcher>, task: &str) -> String {
    l.sessions
        .start_session(StartSpec::zhongshu(task.into(), None))
        .await
        .expect("Zhongshu starts")
        .id
}

async fn start_department(l: &Arc<Launcher>, z: &str, dept: &str) -> String {
    let mut spec = StartSpec::zhongshu(format!("bench {dept} for {z}"), None);
    spec.kind = SessionKind::Department;
    spec.department = Some(dept.into());
    spec.parent_session_id = Some(z.into());
    l.sessions
        .start_session(spec)
        .await
        .expect("department starts")
        .id
}

fn report_bytes(z: &str, session: &str, dept: &str, id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "parent_session_id": z,
        "department_session_id": session,
        "department": dept,
        "report_id": id,
        "summary": format!("bench report {id}"),
        "changed_files": ["src/lib.rs", "src/main.rs"],
        "verifications_run": ["cargo test: ok"],
        "verifications_skipped": [],
        "risks": ["none"],
        "next_action": "none",
    }))
    .unwrap()
}

fn json_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    n.ends_with(".json") && !n.starts_with('.') && !n.starts_with("handoff-")
                })
                .count()
        })
        .unwrap_or(0)
}

/// CLOCK_MONOTONIC in seconds, to line the phases up with `perf record -k CLOCK_MONOTONIC`.
fn monotonic() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Waits (0.2 ms sleeps) until `f` is true; None after `limit`.
fn spin_until(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    loop {
        if f() {
            return Some(t0.elapsed());
        }
        if t0.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Median cost of writing 4 KiB and fsyncing it, in `dir`.
fn fsync_cost(dir: &Path) -> Duration {
    pct(&disk::fsync_times(dir, 200), 0.5)
}

/// Drops `n` reports one at a time; (until registered, until archived) each.
fn drop_one_at_a_time(
    l: &Arc<Launcher>,
    z: &str,
    d: &str,
    incoming: &Path,
    prefix: &str,
    n: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    let mut lat = Vec::with_capacity(n);
    let mut archived = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("{prefix}-{i:05}");
        let tmpf = incoming.join(format!(".{id}.tmp"));
        std::fs::write(&tmpf, report_bytes(z, d, "lingyubu", &id)).unwrap();
        let key = result_key(z, d, &id);
        let dest = incoming.join(format!("{id}.json"));
        let t0 = Instant::now();
        std::fs::rename(&tmpf, &dest).unwrap();
        let seen = spin_until(Duration::from_secs(30), || {
            l.ctx.store.result(&key).unwrap().is_some()
        })
        .unwrap_or_else(|| panic!("{id} not registered within 30 s"));
        lat.push(seen);
        // Until it has left incoming/ (archived), before the next drop.
        spin_until(Duration::from_secs(30), || !dest.exists()).expect("archived");
        archived.push(t0.elapsed());
    }
    (lat, archived)
}

struct Row {
    figure: String,
    value: String,
    target: String,
    ok: Option<bool>,
}

fn main() {
    quick::announce("mailbox");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let n_latency = env_usize("MAILBOX_BENCH_LATENCY", quick::pick(500, 5));
    let n_burst = env_usize("MAILBOX_BENCH_BURST", quick::pick(10_000, 50));
    let tmp = tempfile::Builder::new()
        .prefix("cg-mailbox-bench-")
        .tempdir()
        .unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let repo = make_repo(&root);
    let state_dir = root.join("state");
    let config = Config::load_with_env(
        &repo,
        &Env::from([("CODEX_GOVERNANCE_TRUST_CONFIG".into(), "1".into())]),
    )
    .expect("config");
    let running = web::serve(
        ServeOptions {
            repo: repo.clone(),
            host: "127.0.0.1".into(),
            port: 0,
            state_dir: Some(state_dir.clone()),
            allow_host: None,
        },
        config,
    )
    .await
    .expect("launcher starts");
    let l = Arc::clone(&running.launcher);
    let mut rows: Vec<Row> = Vec::new();

    // (3) first, on a quiet disk: one fsync.
    let fsync = fsync_cost(&state_dir);
    eprintln!("fsync (4 KiB write + fsync), median of 200: {}", ms(fsync));

    // (1) Latency.
    let z0 = start_zhongshu(&l, "latency").await;
    let d0 = start_department(&l, &z0, "lingyubu").await;
    let incoming0 = l.ctx.paths.mailbox(&z0).incoming;
    // Let the agents come up so their start-up does not count.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (mut lat, mut archived_lat) =
        drop_one_at_a_time(&l, &z0, &d0, &incoming0, "lat", n_latency);
    lat.sort();
    archived_lat.sort();
    eprintln!(
        "latency over {n_latency} drops: p50 {} p90 {} p99 {} max {} (until archived: p50 {} p99 {})",
        ms(pct(&lat, 0.5)),
        ms(pct(&lat, 0.9)),
        ms(pct(&lat, 0.99)),
        ms(*lat.last().unwrap()),
        ms(pct(&archived_lat, 0.5)),
        ms(pct(&archived_lat, 0.99)),
    );
    let p99 = pct(&lat, 0.99);
    rows.push(Row {
        figure: format!("drop → inbox, p50 ({n_latency} drops)"),
        value: ms(pct(&lat, 0.5)),
        target: String::new(),
        ok: None,
    });
    rows.push(Row {
        figure: "drop → inbox, p99".into(),
        value: ms(p99),
        target: "≤ 50 ms".into(),
        ok: Some(p99 <= Duration::from_millis(50)),
    });
    rows.push(Row {
        figure: "drop → inbox, max".into(),
        value: ms(*lat.last().unwrap()),
        target: String::new(),
        ok: None,
    });
    // Let the notices and closes of the latency phase settle.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // (2) Burst.
    let mut zs = Vec::new();
    for i in 0..ZHONGSHU_BURST {
        let z = start_zhongshu(&l, &format!("burst {i}")).await;
        let mut ds = Vec::new();
        for dept in DEPARTMENTS {
            ds.push((start_department(&l, &z, dept).await, dept));
        }
        zs.push((z, ds));
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let staging = state_dir.join("bench-staging");
    std::fs::create_dir_all(&staging).unwrap();
    let per_z = n_burst / ZHONGSHU_BURST;
    let mut moves: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(n_burst);
    let mut expected: HashMap<String, usize> = HashMap::new();
    let mut expected_keys: Vec<String> = Vec::with_capacity(n_burst);
    for (zi, (z, ds)) in zs.iter().enumerate() {
        let incoming = l.ctx.paths.mailbox(z).incoming;
        for i in 0..per_z {
            let (d, dept) = &ds[i % ds.len()];
            let id = format!("burst-{zi}-{i:05}");
            let name = format!("{id}.json");
            let src = staging.join(format!("{zi}-{name}"));
            std::fs::write(&src, report_bytes(z, d, dept, &id)).unwrap();
            moves.push((src, incoming.join(&name)));
            expected_keys.push(result_key(z, d, &id));
        }
        expected.insert(z.clone(), per_z);
    }
    // Interleave the Zhongshu folders, as independent departments would.
    moves.sort_by_key(|(src, _)| {
        let name = src.file_name().unwrap().to_string_lossy().to_string();
        let (zi, rest) = name.split_once('-').unwrap();
        (rest.to_string(), zi.parse::<usize>().unwrap())
    });
    let total_before = l.ctx.store.result_total().unwrap();
    let want = total_before + n_burst;
    let audit_path = l.ctx.store.audit_log().path().to_path_buf();
    let audit_len_before = std::fs::metadata(&audit_path).map(|m| m.len()).unwrap_or(0);

    let mono0 = monotonic();
    let t0 = Instant::now();
    for (src, dest) in &moves {
        std::fs::rename(src, dest).unwrap();
    }
    let t_dropped = t0.elapsed();
    let registered = spin_until(Duration::from_secs(600), || {
        l.ctx.store.result_total().unwrap() >= want
    })
    .map(|_| t0.elapsed());
    let t_registered = registered.unwrap_or_else(|| {
        panic!(
            "only {} of {n_burst} registered after 600 s",
            l.ctx.store.result_total().unwrap() - total_before
        )
    });
    // Archived: every incoming/ empty.
    let incomings: Vec<PathBuf> = zs
        .iter()
        .map(|(z, _)| l.ctx.paths.mailbox(z).incoming)
        .collect();
    let archived = loop {
        if incomings.iter().all(|d| json_count(d) == 0) {
            break t0.elapsed();
        }
        std::thread::sleep(Duration::from_millis(2));
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "files not archived"
        );
    };
    // Audit lines: one result_registered per burst report.
    let burst_ids: HashSet<String> = expected_keys
        .iter()
        .map(|k| k.rsplit('/').next().unwrap().to_string())
        .collect();
    let audit_count = |from: u64| -> usize {
        let bytes = std::fs::read(&audit_path).unwrap_or_default();
        let tail = &bytes[(from as usize).min(bytes.len())..];
        String::from_utf8_lossy(tail)
            .lines()
            .filter(|l| l.contains("\"result_registered\""))
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| {
                v["report_id"]
                    .as_str()
                    .map(|id| burst_ids.contains(id))
                    .unwrap_or(false)
            })
            .count()
    };
    let audited = loop {
        if audit_count(audit_len_before) >= n_burst {
            break t0.elapsed();
        }
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "audit lines missing"
        );
    };
    // Packets: every result's packet on disk.
    let packets: Vec<String> = expected_keys
        .iter()
        .filter_map(|k| {
            l.ctx
                .store
                .result(k)
                .unwrap()
                .and_then(|r| r.handoff_packet)
        })
        .collect();
    assert_eq!(packets.len(), n_burst, "every burst report is a result");
    let packets_done = loop {
        if packets.iter().all(|p| Path::new(p).is_file()) {
            break t0.elapsed();
        }
        std::thread::sleep(Duration::from_millis(5));
        assert!(t0.elapsed() < Duration::from_secs(600), "packets missing");
    };
    let t_all = [t_registered, archived, audited, packets_done]
        .into_iter()
        .max()
        .unwrap();
    eprintln!(
        "burst window (CLOCK_MONOTONIC): {mono0:.3},{:.3}",
        mono0 + t_all.as_secs_f64()
    );
    let rate_all = n_burst as f64 / t_all.as_secs_f64();
    let rate_reg = n_burst as f64 / t_registered.as_secs_f64();
    eprintln!(
        "burst of {n_burst}: renamed in {}; registered {}; archived {}; audited {}; packets {}",
        ms(t_dropped),
        ms(t_registered),
        ms(archived),
        ms(audited),
        ms(packets_done)
    );

    // None lost, none doubled.
    let (per_parent, distinct) = {
        let mut per: HashMap<String, usize> = HashMap::new();
        let mut ids = BTreeSet::new();
        for k in &expected_keys {
            if let Some(r) = l.ctx.store.result(k).unwrap() {
                *per.entry(r.parent_session_id.clone()).or_default() += 1;
                ids.insert(k.clone());
            }
        }
        (per, ids.len())
    };
    assert_eq!(distinct, n_burst, "results lost");
    assert_eq!(per_parent, expected, "results per Zhongshu");
    assert_eq!(
        l.ctx.store.result_total().unwrap(),
        want,
        "no extra results"
    );
    for (z, _) in &zs {
        let mb = l.ctx.paths.mailbox(z);
        assert_eq!(
            json_count(&mb.archive),
            per_z,
            "{z}: every file archived once"
        );
        assert_eq!(json_count(&mb.rejected), 0, "{z}: nothing rejected");
    }
    assert_eq!(
        audit_count(audit_len_before),
        n_burst,
        "one result_registered line each"
    );
    rows.push(Row {
        figure: format!("burst {n_burst} → registered"),
        value: format!("{} ({rate_reg:.0}/s)", ms(t_registered)),
        target: String::new(),
        ok: None,
    });
    rows.push(Row {
        figure: format!("burst {n_burst} → registered + packets + archived + audited"),
        value: format!("{} ({rate_all:.0}/s)", ms(t_all)),
        target: "≥ 1,000 reports/s".into(),
        ok: Some(rate_all >= 1000.0),
    });
    rows.push(Row {
        figure: "burst: lost / doubled".into(),
        value: "0 / 0".into(),
        target: "0 / 0".into(),
        ok: Some(true),
    });
    rows.push(Row {
        figure: "fsync (4 KiB write + fsync), median of 200".into(),
        value: ms(fsync),
        target: String::new(),
        ok: None,
    });
    let state_bytes = std::fs::metadata(l.ctx.store.db_path())
        .map(|m| m.len())
        .unwrap_or(0);
    rows.push(Row {
        figure: "state file after the burst".into(),
        value: format!("{:.1} MiB", state_bytes as f64 / 1048576.0),
        target: String::new(),
        ok: None,
    });

    // What the launcher still does after the burst (closes, notices), for the record.
    let settle_start = Instant::now();
    let closes_pending = || {
        l.ctx.store.read(|s| {
            s.sessions
                .values()
                .filter(|x| x.has_reported() && !x.department_part().is_some_and(|d| d.auto_closed))
                .count()
        })
    };
    let _ = spin_until(Duration::from_secs(120), || closes_pending() == 0);
    eprintln!(
        "after the burst: auto-closes settled {} later",
        ms(settle_start.elapsed())
    );

    // Single drops again, now that the state holds the burst.
    let n_after = env_usize("MAILBOX_BENCH_LATENCY_AFTER", quick::pick(100, 5));
    if n_after > 0 {
        let (mut after, _) = drop_one_at_a_time(&l, &z0, &d0, &incoming0, "after", n_after);
        after.sort();
        eprintln!(
            "latency over {n_after} drops with {} results in the state: p50 {} p99 {} max {}",
            l.ctx.store.result_total().unwrap(),
            ms(pct(&after, 0.5)),
            ms(pct(&after, 0.99)),
            ms(*after.last().unwrap())
        );
        rows.push(Row {
            figure: format!("drop → inbox after the burst, p50 ({n_after} drops)"),
            value: ms(pct(&after, 0.5)),
            target: String::new(),
            ok: None,
        });
        let p99 = pct(&after, 0.99);
        rows.push(Row {
            figure: "drop → inbox after the burst, p99".into(),
            value: ms(p99),
            target: "≤ 50 ms".into(),
            ok: Some(p99 <= Duration::from_millis(50)),
        });
    }

    // One state save with the state the burst left (every change pays it).
    let mut saves: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            l.ctx.store.update(|_| ()).expect("state saves");
            t.elapsed()
        })
        .collect();
    saves.sort();
    rows.push(Row {
        figure: "one state save after the burst (median of 5)".into(),
        value: ms(pct(&saves, 0.5)),
        target: String::new(),
        ok: None,
    });

    println!();
    println!("{:<58} {:>22}  {:<20} ", "figure", "value", "target");
    println!("{}", "-".repeat(104));
    for r in &rows {
        let verdict = match r.ok {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        };
        println!(
            "{:<58} {:>22}  {:<20} {verdict}",
            r.figure, r.value, r.target
        );
    }
    println!();
    running.stop().await;
    drop(tmp);
}
