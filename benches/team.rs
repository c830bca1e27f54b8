//! A team of 20 departments working at once on this machine (issue 36: on 2
//! cores, `/api/status` p99 <= 50 ms).
//!
//! The release binary is started on a test repository whose agents are the
//! scripted fake agent; one Zhongshu registers a plan of 20 assignments
//! (`launcher.max_departments: 20`), and each department works: it prints
//! 1 KiB to its terminal every 10 ms and does not report for the length of
//! the run. Once all 20 run, `/api/status` is asked by two keep-alive
//! clients, as a dashboard would, for `TEAM_SECONDS` (default 10); printed:
//! p50, p99 and max beside the target, and the reference measured the same
//! way in the same run before the plan, with the Zhongshu alone.
//!
//! Run: `cargo bench --bench team`.

#[path = "../tests/it/common/launcher.rs"]
mod support;

#[path = "common/quick.rs"]
mod quick;

use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

const POLLERS: usize = 2;

fn main() {
    quick::announce("team");
    let team = quick::pick(20, 3);
    let seconds: f64 = std::env::var("TEAM_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(quick::pick(10.0, 0.5));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(measure(team, seconds));
}

async fn measure(team: usize, seconds: f64) {
    let repo = TestRepo::new(RepoOptions {
        agent_flags: ["--no-report", "--work-seconds", "900", "--stream-kib", "1"]
            .map(String::from)
            .to_vec(),
        max_departments: team,
        ..Default::default()
    });
    let launcher = spawn_launcher(&repo.path, &[]);
    let api = &launcher.api;
    let z = api.start_zhongshu("Lead the team").await;
    let alone = poll_status(api, seconds).await;

    let assignments: Vec<_> = (0..team)
        .map(|i| {
            let department = ["zhilibu", "gongchengbu", "lingyubu"][i % 3];
            json!({"department": department, "task": format!("work item {i}")})
        })
        .collect();
    let plan = json!({"session_id": z, "summary": "a team", "assignments": assignments});
    api.post_ok("/api/report_zhongshu_plan", &plan).await;
    wait_until(
        "every department runs",
        Duration::from_secs(300),
        || async {
            let running = departments(&api.status().await)
                .iter()
                .filter(|d| d["status"] == "running")
                .count();
            (running >= team).then_some(())
        },
    )
    .await;
    let working = poll_status(api, seconds).await;
    let still = departments(&api.status().await)
        .iter()
        .filter(|d| d["status"] == "running")
        .count();

    println!(
        "team bench: {team} departments working (1 KiB to the terminal every 10 ms each), {POLLERS} clients asking /api/status for {seconds} s"
    );
    let line = |what: &str, s: &Stats| {
        println!(
            "{what}: {} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            s.n, s.p50, s.p99, s.max
        );
    };
    line("reference: the Zhongshu alone", &alone);
    line(&format!("{team} departments working"), &working);
    println!(
        "p99 with the team: {:.1} ms, target <= 50 ms: {}; {still} of {team} departments still running at the end",
        working.p99,
        if working.p99 <= 50.0 { "met" } else { "MISSED" }
    );
    assert_eq!(still, team, "every department kept working");
}

struct Stats {
    n: usize,
    p50: f64,
    p99: f64,
    max: f64,
}

/// `/api/status` asked back to back by [`POLLERS`] clients for `seconds`.
async fn poll_status(api: &Api, seconds: f64) -> Stats {
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..POLLERS {
        let api = Api::new(&api.base, &api.token);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < until {
                let t = Instant::now();
                let (status, _) = api.get("/api/status").await;
                assert!(status.is_success(), "/api/status answered {status}");
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    lat.sort_by(f64::total_cmp);
    let at = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    Stats {
        n: lat.len(),
        p50: at(0.5),
        p99: at(0.99),
        max: lat[lat.len() - 1],
    }
}
