//! `kill -9` while hundreds of reports are being ingested (SPEC 8, 14): after each
//! restart every report is registered exactly once, every file is in `archive/`
//! (or `rejected/`), every packet exists, the audit chain verifies and the state
//! file parses. Several kill/restart cycles at varied moments.

use crate::common::launcher as support;
use crate::common::mailbox as extra;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};

use extra::*;
use support::*;

/// Reports dropped per cycle.
const PER_CYCLE: usize = 500;
/// Kill/restart cycles.
const CYCLES: usize = 4;
/// Kill this long after the first drop of a cycle (plus a little jitter).
const KILL_AFTER_MS: [u64; 5] = [60, 170, 300, 110, 230];
/// Waiting for ingestion after a restart (generous: a loaded 2-core machine).
const INGEST_PATIENCE: Duration = Duration::from_secs(60);

/// The jitter's seed: `CODEX_GOVERNANCE_TEST_SEED` to replay a run, else the
/// clock; printed, so a failing run says how to replay it.
fn seed() -> u64 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| {
        let seed = std::env::var("CODEX_GOVERNANCE_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!(
            "mailbox_crash: jitter seed {seed} (CODEX_GOVERNANCE_TEST_SEED={seed} replays it)"
        );
        seed
    })
}

/// 0-39 ms, from the seed (splitmix64 steps).
fn jitter_ms() -> u64 {
    static STEP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = STEP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut z = seed().wrapping_add(n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % 40
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn count_files(dir: &Path) -> usize {
    report_names(dir).len()
}

/// What the test dropped so far: each report id with the sha256 of its
/// file, and every file name.
#[derive(Default)]
struct Dropped {
    expected: BTreeMap<String, String>,
    names: BTreeSet<String>,
}

#[test]
fn sigkill_during_a_burst_loses_and_doubles_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let repo = TestRepo::with_flags(&["--max-lifetime", "600"]);
    let state_dir: PathBuf = repo.root.join("state");
    let sd = state_dir.display().to_string();

    let mut launcher = spawn_launcher(&repo.path, &["--state-dir", &sd]);
    let (z, depts) = rt.block_on(two_departments_that_stay(&launcher.api));
    let mb = mailbox(&state_dir, &z);
    let mut dropped = Dropped::default();
    for cycle in 0..CYCLES {
        let staged = stage_a_burst(cycle, &z, &depts, &mb, &mut dropped);
        kill_during_the_burst(cycle, staged, &mb, &mut launcher);
        launcher = spawn_launcher(&repo.path, &["--state-dir", &sd]);
        rt.block_on(wait_for_ingestion(
            cycle,
            &launcher,
            &z,
            &mb,
            dropped.expected.len(),
        ));
        check(&state_dir, &z, &mb, &dropped, &launcher);
    }
    drop(launcher);
    let (code, out, err) = run_binary(&["audit", "verify", "--state-dir", &sd]);
    assert_eq!(code, 0, "the audit chain survives every kill: {out} {err}");
}

/// A Zhongshu and two departments that stay running without reporting (the
/// reports are dropped by the test). Returns the Zhongshu and the
/// departments' `(session id, department)`.
async fn two_departments_that_stay(api: &Api) -> (String, Vec<(String, String)>) {
    let z = api.start_zhongshu("crash burst").await;
    let mut depts = Vec::new();
    for dept in ["lingyubu", "zhilibu"] {
        let id = start_department(
            api,
            &z,
            dept,
            &format!("stay {dept} [[fake-agent: --no-report --after-report wait]]"),
        )
        .await;
        api.wait_session(&id, "running", |s| s["status"] == "running")
            .await;
        depts.push((id, dept.to_string()));
    }
    (z, depts)
}

/// Writes a cycle's reports under temporary names (ignored: they start with
/// '.'), noted in `dropped`; returns each with the name it is renamed to.
fn stage_a_burst(
    cycle: usize,
    z: &str,
    depts: &[(String, String)],
    mb: &Mailbox,
    dropped: &mut Dropped,
) -> Vec<(PathBuf, PathBuf)> {
    let files: Vec<(String, Vec<u8>)> = (0..PER_CYCLE)
        .map(|i| {
            let (sid, dept) = &depts[i % depts.len()];
            let id = format!("c{cycle}-r{i:04}");
            let mut r = report(z, sid, dept, &format!("cycle {cycle} report {i}"));
            r["report_id"] = json!(id);
            (id, serde_json::to_vec(&r).unwrap())
        })
        .collect();
    for (id, bytes) in &files {
        dropped.expected.insert(id.clone(), sha256_hex(bytes));
        dropped.names.insert(format!("{id}.json"));
    }
    files
        .iter()
        .map(|(id, bytes)| {
            let tmp = mb.incoming.join(format!(".{id}.json.tmp"));
            std::fs::write(&tmp, bytes).unwrap();
            (tmp, mb.incoming.join(format!("{id}.json")))
        })
        .collect()
}

/// Renames the staged files in as fast as possible (a burst) while the
/// launcher is killed with SIGKILL a varied moment after the first.
fn kill_during_the_burst(
    cycle: usize,
    staged: Vec<(PathBuf, PathBuf)>,
    mb: &Mailbox,
    launcher: &mut Subprocess,
) {
    let started = Instant::now();
    let dropper = std::thread::spawn(move || {
        for (tmp, dest) in staged {
            std::fs::rename(&tmp, &dest)
                .unwrap_or_else(|e| panic!("rename {}: {e}", tmp.display()));
        }
        started.elapsed()
    });
    let wait = KILL_AFTER_MS[cycle % KILL_AFTER_MS.len()] + jitter_ms();
    std::thread::sleep(Duration::from_millis(wait).saturating_sub(started.elapsed()));
    let at_kill = (count_files(&mb.incoming), count_files(&mb.archive));
    let status = launcher.kill9();
    assert!(!status.success(), "SIGKILL is not a clean exit");
    let drop_time = dropper.join().expect("the dropper");
    eprintln!(
        "cycle {cycle}: killed after {wait} ms (drops took {drop_time:?}); at the kill {} in incoming/, {} in archive/",
        at_kill.0, at_kill.1
    );
}

/// Waits until the restarted launcher emptied `incoming/` and holds `want`
/// results, saying how far it got every 10 s and, when out of patience,
/// why reports were rejected.
async fn wait_for_ingestion(
    cycle: usize,
    launcher: &Subprocess,
    z: &str,
    mb: &Mailbox,
    want: usize,
) {
    let api = &launcher.api;
    let deadline = Instant::now() + INGEST_PATIENCE;
    let mut last_print = Instant::now();
    loop {
        let n = results(&inbox(api, z).await).len();
        let left = report_names(&mb.incoming).len();
        if left == 0 && n >= want {
            break;
        }
        if last_print.elapsed() > Duration::from_secs(10) || Instant::now() > deadline {
            eprintln!(
                "cycle {cycle}: {n}/{want} results, {left} in incoming/, {} in archive/, {} in rejected/",
                count_files(&mb.archive),
                count_files(&mb.rejected)
            );
            last_print = Instant::now();
        }
        if Instant::now() > deadline {
            for name in names(&mb.rejected)
                .iter()
                .filter(|n| n.ends_with(".reason.json"))
                .take(3)
            {
                eprintln!(
                    "{name}: {}",
                    std::fs::read_to_string(mb.rejected.join(name)).unwrap_or_default()
                );
            }
            eprintln!("sessions: {}", api.status().await["sessions"]);
        }
        assert!(
            Instant::now() < deadline,
            "cycle {cycle}: ingestion did not finish after the restart; launcher stderr:\n{}",
            launcher.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every count after one restart.
fn check(state_dir: &Path, z: &str, mb: &Mailbox, dropped: &Dropped, launcher: &Subprocess) {
    assert_one_result_per_report(state_dir, z, &dropped.expected);
    assert_every_file_archived(mb, &dropped.names);
    assert_audited_once(state_dir, z, &dropped.expected, launcher);
}

/// The database opens and every row parses as launcher state; exactly one
/// result per report id (none lost, none doubled, none extra), each holding
/// the content of its file, its packet and its archived file there.
fn assert_one_result_per_report(state_dir: &Path, z: &str, expected: &BTreeMap<String, String>) {
    let snapshot = codex_governance::store::load_snapshot(state_dir)
        .unwrap_or_else(|e| panic!("the state database loads: {e:#}"));
    let mine: Vec<_> = snapshot
        .results
        .iter()
        .filter(|r| r.parent_session_id == z)
        .collect();
    let ids: BTreeMap<&str, usize> = mine.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.report_id.as_str()).or_default() += 1;
        m
    });
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !ids.contains_key(k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} reports lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let extra: Vec<_> = ids.keys().filter(|k| !expected.contains_key(**k)).collect();
    assert!(
        extra.is_empty(),
        "unexpected results (fallbacks?): {extra:?}"
    );
    assert!(ids.values().all(|n| *n == 1), "a report registered twice");
    assert_eq!(mine.len(), expected.len());
    for r in &mine {
        assert_holds_its_file(r, &expected[&r.report_id]);
    }
}

/// Result `r` holds the content of its file (`sha256`); its packet and its
/// archived file exist.
fn assert_holds_its_file(r: &codex_governance::model::TaskResult, sha256: &str) {
    assert_eq!(r.source.as_str(), "mailbox", "{}", r.report_id);
    assert_eq!(
        r.content_sha256.as_deref(),
        Some(sha256),
        "{} registered with its own content",
        r.report_id
    );
    let packet = r
        .handoff_packet
        .as_deref()
        .unwrap_or_else(|| panic!("{} has no packet", r.report_id));
    let text = std::fs::read_to_string(packet).unwrap_or_else(|e| panic!("packet {packet}: {e}"));
    assert!(text.starts_with("# Codex Department Handoff"), "{packet}");
    assert!(text.contains(&r.summary), "{packet}");
    let file = r.mailbox_file.as_deref().unwrap();
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("archived file {file}: {e}"));
    assert_eq!(sha256_hex(&bytes), sha256, "{file} holds its report");
}

/// Every dropped file is in archive/ or rejected/ (and, being valid, in
/// archive/), once.
fn assert_every_file_archived(mb: &Mailbox, dropped_names: &BTreeSet<String>) {
    let archived: BTreeSet<String> = report_names(&mb.archive).into_iter().collect();
    let rejected: BTreeSet<String> = report_names(&mb.rejected)
        .into_iter()
        .filter(|n| !n.ends_with(".reason.json"))
        .collect();
    assert!(
        report_names(&mb.incoming).is_empty(),
        "{:?}",
        report_names(&mb.incoming)
    );
    let lost: Vec<_> = dropped_names
        .iter()
        .filter(|n| !archived.contains(*n) && !rejected.contains(*n))
        .collect();
    assert!(lost.is_empty(), "files lost: {lost:?}");
    assert!(rejected.is_empty(), "valid reports rejected: {rejected:?}");
    assert_eq!(
        archived.len(),
        dropped_names.len(),
        "no extra copies in archive/: {:?}",
        archived.difference(dropped_names).collect::<Vec<_>>()
    );
}

/// One result_registered line per report (SPEC 13: audited before acknowledged).
fn assert_audited_once(
    state_dir: &Path,
    z: &str,
    expected: &BTreeMap<String, String>,
    launcher: &Subprocess,
) {
    let audit = audit_lines(state_dir);
    let mut audited: BTreeMap<&str, usize> = BTreeMap::new();
    for e in audit_events(&audit, "result_registered") {
        if e["parent_session_id"] == json!(z) {
            if let Some(id) = e["report_id"].as_str() {
                *audited.entry(id).or_default() += 1;
            }
        }
    }
    let unaudited: Vec<_> = expected
        .keys()
        .filter(|k| !audited.contains_key(k.as_str()))
        .collect();
    let twice: Vec<_> = audited.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "registered twice in the audit log: {twice:?}"
    );
    assert!(
        unaudited.is_empty(),
        "{} registered results have no result_registered audit line (e.g. {:?}); launcher stderr:\n{}",
        unaudited.len(),
        &unaudited[..unaudited.len().min(5)],
        launcher.stderr()
    );
}
