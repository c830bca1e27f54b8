//! Attempts (issue 74): what one more attempt costs the launcher, and how
//! soon the comparison is complete once the last attempt has ended, each
//! beside its reference measured in the same run.
//!
//! - Memory: the release launcher on a test repository whose agents are the
//!   scripted fake agent (each works `WORK` seconds, then reports). One
//!   launcher runs a plan of one assignment asking for N attempts; another
//!   runs a plan of N plain assignments (the reference: a department as
//!   today). Each: the launcher's VmRSS with its planner alone, then (the
//!   highest of a few samples) while all N run; per attempt = the growth
//!   over N. Target: at most 5 MB, and as a plain department's.
//! - Latency: from the moment the status shows the last attempt ended to
//!   the moment `GET /api/attempts` shows every attempt's verification
//!   (`launcher.landing.verify: ["true"]`), polled every 10 ms, less the
//!   check's own run (`codex sandbox … sh -c true` alone, the reference).
//!   Target: at most 1 s.
//!
//! Run: `cargo bench --bench attempts` (`ATTEMPTS_BENCH_N=4` by default).

#[path = "../tests/it/common/model_server.rs"]
#[allow(dead_code)]
mod model_server;
#[path = "../tests/it/common/launcher.rs"]
mod support;
#[path = "../tests/it/common/tier.rs"]
#[allow(dead_code, unused_macros)]
mod tier;

#[path = "common/procfs.rs"]
mod procfs;
#[path = "common/quick.rs"]
mod quick;
#[path = "common/sandbox.rs"]
mod sandbox;

use std::time::{Duration, Instant};

use quick::ms;
use serde_json::{json, Value};
use support::*;

const PATIENCE: Duration = Duration::from_secs(180);

/// How long each fake agent works before it reports, in seconds.
const WORK: &str = "3";

fn main() {
    quick::announce("attempts");
    if let Some(why) = tier::Tier::Codex.missing() {
        println!("attempts: not measured: {why} (tools/test.sh installs it)");
        return;
    }
    if !cfg!(target_os = "linux") {
        println!("attempts: not measured: the checks' sandbox is Linux's");
        return;
    }
    quick::run(measure(quick::count("ATTEMPTS_BENCH_N", 4, 2)));
}

/// A repository whose landing check is `true`, `n` departments at once.
fn repo(n: usize) -> TestRepo {
    let repo = TestRepo::new(RepoOptions {
        max_departments: n,
        ..RepoOptions::default()
    });
    let config = repo.path.join("governance.yaml");
    let mut yaml = std::fs::read_to_string(&config).unwrap();
    yaml.push_str(&format!(
        "  codex_command: {}\n  landing:\n    verify: [\"true\"]\n",
        model_server::codex_bin().display()
    ));
    std::fs::write(&config, yaml).unwrap();
    // Worktrees need a commit to start from.
    for args in [
        &["add", "-A"][..],
        &[
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@localhost",
            "commit",
            "-qm",
            "base",
        ],
    ] {
        let ran = std::process::Command::new("git")
            .args(args)
            .current_dir(&repo.path)
            .status()
            .unwrap();
        assert!(ran.success(), "git {args:?}");
    }
    repo
}

fn task(i: usize) -> String {
    format!(
        "write [[fake-agent: --work-seconds {WORK} --write 'notes/{i}-{{session}}.md=x' \
         --changed-file notes/{i}-{{session}}.md]]"
    )
}

/// The launcher's memory growth per department while `assignments` run
/// (KiB), the launcher still running, its planner and its repository.
async fn growth(assignments: Vec<Value>, n: usize) -> (u64, Subprocess, String, TestRepo) {
    let repo = repo(n);
    let launcher = spawn_launcher(&repo.path, &[]);
    let api = &launcher.api;
    let z = api.start_zhongshu("Wait for the bench").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let alone = procfs::rss(launcher.pid());
    let plan = api
        .post_ok(
            "/api/report_zhongshu_plan",
            &json!({"session_id": z, "summary": "bench", "assignments": assignments}),
        )
        .await;
    if plan.to_string().contains("\"needs_confirmation\":true") {
        api.post_ok("/api/start_assignments", &json!({"parent_session_id": z}))
            .await;
    }
    wait_until(&format!("{n} running"), PATIENCE, || async {
        let s = api.status().await;
        let running = departments(&s)
            .iter()
            .filter(|d| d["status"] == "running")
            .count();
        (running == n).then_some(())
    })
    .await;
    let mut peak = 0;
    for _ in 0..5 {
        peak = peak.max(procfs::rss(launcher.pid()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (peak.saturating_sub(alone) / n as u64, launcher, z, repo)
}

async fn measure(n: usize) {
    // Memory with N attempts running, then how soon they are compared.
    let attempts = vec![json!({"department": "lingyubu", "attempts": n, "task": task(0)})];
    let (per_attempt, launcher, z, repo) = growth(attempts, n).await;
    let complete = compared_after_the_last(&launcher.api, &z, n).await;
    drop(launcher);
    drop(repo);
    // The reference: N plain departments.
    let plain: Vec<Value> = (0..n)
        .map(|i| json!({"department": "lingyubu", "task": task(i)}))
        .collect();
    let (per_department, reference, _, repo) = growth(plain, n).await;
    drop(reference);
    drop(repo);
    println!(
        "attempts: launcher memory per department as today (reference) {per_department:>6} KiB \
         ({n} at once)"
    );
    println!(
        "attempts: launcher memory per attempt                          {per_attempt:>6} KiB \
         (target <= 5 MB: {})",
        if per_attempt <= 5 * 1024 {
            "met"
        } else {
            "NOT met"
        }
    );
    let dir = tempfile::tempdir().unwrap();
    let check = sandbox::sandbox_true(dir.path());
    println!(
        "attempts: the check alone (reference)                {:>8.1} ms",
        ms(check)
    );
    println!(
        "attempts: last attempt ended -> comparison complete  {:>8.1} ms",
        ms(complete)
    );
    let beyond = complete.saturating_sub(check);
    println!(
        "attempts: beyond the check's own run                 {:>8.1} ms (target <= 1000 ms: {})",
        ms(beyond),
        if beyond <= Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
}

/// From the status first showing every attempt of `z` ended to
/// `GET /api/attempts` showing each one's verification.
async fn compared_after_the_last(api: &Api, z: &str, n: usize) -> Duration {
    let deadline = Instant::now() + PATIENCE;
    let (ended_at, first) = loop {
        let s = api.status().await;
        let ours: Vec<Value> = departments(&s)
            .into_iter()
            .filter(|d| d["parent_session_id"] == z)
            .collect();
        if ours.len() == n && ours.iter().all(|d| d["status"] == "exited") {
            break (Instant::now(), ours[0]["id"].as_str().unwrap().to_string());
        }
        assert!(Instant::now() < deadline, "the attempts did not end");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    loop {
        let (_, v) = api.get(&format!("/api/attempts?session_id={first}")).await;
        let done = v["attempts"]
            .as_array()
            .is_some_and(|a| a.len() == n && a.iter().all(|x| !x["check"]["passed"].is_null()));
        if done {
            return ended_at.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "the attempts were not verified: {v}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
