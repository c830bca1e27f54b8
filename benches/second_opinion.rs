//! A second opinion (issue 75): how soon a reviewer calls its tool once a
//! department's work is recorded, and what a running reviewer costs the
//! launcher, each beside its reference measured in the same run.
//!
//! - Latency: the release launcher on a test repository whose departments
//!   are the scripted fake agent and whose reviewer is the scripted ACP
//!   agent (it calls `governance_report_findings` at once: no model time),
//!   confined by Codex's real sandbox. From the status first showing a
//!   department ended with its work recorded to its reviewer's report being
//!   in (`second_opinion` on the session), polled every 10 ms, less the
//!   sandbox's own start (`codex sandbox … sh -c true` alone, the
//!   reference). Target: at most 1 s.
//! - Memory: the launcher's VmRSS (the highest of a few samples) while N
//!   departments run, over the launcher with its planner alone; then, their
//!   work recorded and no review asked (`when: off`), while N reviewers run
//!   (`POST /api/review_again`; they wait for a stop), over the launcher as
//!   it was just before. Per department (the reference: the fake agent in a
//!   PTY, and the same ACP agent the reviewer runs, as a department) and per
//!   reviewer = the growth over N. Target: a reviewer as a department.
//!
//! Run: `cargo bench --bench second_opinion` (`REVIEW_BENCH_N=3` by default).

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

fn main() {
    quick::announce("second_opinion");
    if let Some(why) = tier::Tier::Codex.missing() {
        println!("second_opinion: not measured: {why} (tools/test.sh installs it)");
        return;
    }
    if !cfg!(target_os = "linux") {
        println!("second_opinion: not measured: the reviewer's confinement is Linux's");
        return;
    }
    quick::run(measure(quick::count("REVIEW_BENCH_N", 3, 1)));
}

/// A committed repository whose reviewer is the fake ACP agent, reviewing
/// `when` (`always`, or `off`: only when asked).
fn repo(n: usize, when: &str) -> TestRepo {
    let repo = TestRepo::new(RepoOptions {
        max_departments: n,
        ..RepoOptions::default()
    });
    let config = repo.path.join("governance.yaml");
    let mut yaml = std::fs::read_to_string(&config).unwrap();
    let reviewer =
        serde_json::to_string(&[fake_agent().display().to_string(), "--acp".into()]).unwrap();
    yaml.push_str(&format!(
        "  codex_command: {codex}\n  review:\n    agent: gongbu\n    when: {when}\n\
         departments:\n  lingyubu:\n    title: Notes\n    globs: [\"notes/**\"]\n  \
         gongbu:\n    title: Reviewer\n    globs: [\"docs/**\"]\n    backend: acp\n    \
         acp_agent: other\n    acp_command: {reviewer}\n",
        codex = model_server::codex_bin().display(),
    ));
    std::fs::write(&config, yaml).unwrap();
    commit_all(&repo.path, "base");
    repo
}

/// Department `i`'s task: it works `work` seconds and writes a note; its
/// reviewer does `review` (`[[acp: …]]` words).
fn task(i: usize, work: u32, review: &str) -> Value {
    json!({"department": "lingyubu", "files": ["notes/"], "task": format!(
        "write [[fake-agent: --work-seconds {work} --write 'notes/{i}.md=x' \
         --changed-file notes/{i}.md]] {review}"
    )})
}

async fn plan(api: &Api, z: &str, assignments: Vec<Value>) {
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
}

/// The highest of a few samples of the launcher's VmRSS, once `n` sessions
/// of `kind` run.
async fn peak_with(launcher: &Subprocess, kind: &str, n: usize) -> u64 {
    wait_until(
        &format!("{n} {kind} sessions running"),
        PATIENCE,
        || async {
            let s = launcher.api.status().await;
            let running = s["sessions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|x| x["session_kind"] == kind && x["status"] == "running")
                .count();
            (running == n).then_some(())
        },
    )
    .await;
    let mut peak = 0;
    for _ in 0..5 {
        peak = peak.max(procfs::rss(launcher.pid()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    peak
}

async fn measure(n: usize) {
    // Memory: N departments, then N reviewers that wait.
    let repo_m = repo(n, "off");
    let launcher = spawn_launcher(&repo_m.path, &[]);
    let z = launcher.api.start_zhongshu("Wait for the bench").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let alone = procfs::rss(launcher.pid());
    plan(
        &launcher.api,
        &z,
        (0..n).map(|i| task(i, 3, "[[acp: wait]]")).collect(),
    )
    .await;
    let with_departments = peak_with(&launcher, "department", n).await;
    // Their work recorded, nothing reviewing: the launcher as it stands.
    let ended = wait_until("the departments' work recorded", PATIENCE, || async {
        let s = launcher.api.status().await;
        let ids: Vec<String> = departments(&s)
            .iter()
            .filter(|d| d["status"] == "exited" && !d["workspace"]["commit"].is_null())
            .map(|d| d["id"].as_str().unwrap_or_default().to_string())
            .collect();
        (ids.len() == n).then_some(ids)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_reviews = procfs::rss(launcher.pid());
    for id in &ended {
        launcher
            .api
            .post_ok("/api/review_again", &json!({"session_id": id}))
            .await;
    }
    let reviewers = peak_with(&launcher, "reviewer", n).await;
    drop(launcher);
    drop(repo_m);
    let per = |peak: u64, alone: u64| peak.saturating_sub(alone) / n as u64;
    // The same agent as a department: N ACP departments that wait.
    let repo_a = repo(n, "off");
    let launcher = spawn_launcher(&repo_a.path, &[]);
    let za = launcher.api.start_zhongshu("Wait for the bench").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let alone_a = procfs::rss(launcher.pid());
    let waiting: Vec<Value> = (0..n)
        .map(|i| json!({"department": "gongbu", "files": ["docs/"], "task": format!("wait {i} [[acp: wait]]")}))
        .collect();
    plan(&launcher.api, &za, waiting).await;
    let acp_departments = peak_with(&launcher, "department", n).await;
    drop(launcher);
    drop(repo_a);
    println!(
        "second_opinion: launcher memory per running PTY department (reference) {:>6} KiB ({n} at once)",
        per(with_departments, alone)
    );
    println!(
        "second_opinion: launcher memory per running ACP department (reference) {:>6} KiB",
        per(acp_departments, alone_a)
    );
    println!(
        "second_opinion: launcher memory per running reviewer (the ACP agent)   {:>6} KiB",
        per(reviewers, before_reviews)
    );

    // Latency: each department's recorded work to its reviewer's report.
    let repo_l = repo(n, "always");
    let script = repo_l.root.join("review.txt");
    std::fs::write(
        &script,
        "governance_report_findings {\"findings\": [], \"summary\": \"nothing\"}\n",
    )
    .unwrap();
    let launcher = spawn_launcher(&repo_l.path, &[]);
    let api = &launcher.api;
    let z = api.start_zhongshu("Wait for the bench").await;
    let review = format!("[[acp: script {}]]", script.display());
    plan(api, &z, (0..n).map(|i| task(i, 1, &review)).collect()).await;
    let mut worst = Duration::ZERO;
    let mut all = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    let mut ended: std::collections::HashMap<String, Instant> = Default::default();
    let mut done: std::collections::HashMap<String, Duration> = Default::default();
    while done.len() < n {
        let s = api.status().await;
        for d in departments(&s) {
            let id = d["id"].as_str().unwrap_or_default().to_string();
            if d["status"] == "exited" && !d["workspace"]["commit"].is_null() {
                ended.entry(id.clone()).or_insert_with(Instant::now);
            }
            let reported =
                d["second_opinion"]["reviewing"] == false && d["second_opinion"]["failed"] == false;
            if reported && !done.contains_key(&id) {
                if let Some(t) = ended.get(&id) {
                    done.insert(id, t.elapsed());
                }
            }
        }
        assert!(Instant::now() < deadline, "the reviews did not come: {s}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for d in done.values() {
        worst = worst.max(*d);
        all.push(ms(*d));
    }
    drop(launcher);
    drop(repo_l);
    let dir = tempfile::tempdir().unwrap();
    let alone = sandbox::sandbox_true(dir.path());
    println!(
        "second_opinion: the sandbox's own start (reference)          {:>8.1} ms",
        ms(alone)
    );
    println!(
        "second_opinion: work recorded -> reviewer's report in (worst) {:>8.1} ms (each: {all:.1?})",
        ms(worst)
    );
    let beyond = worst.saturating_sub(alone);
    println!(
        "second_opinion: beyond the sandbox's start                   {:>8.1} ms (target <= 1000 ms: {})",
        ms(beyond),
        if beyond <= Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
}
