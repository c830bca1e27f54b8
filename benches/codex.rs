//! The Codex backend with the real Codex CLI (installed by `tools/test.sh`) and
//! the scripted model server of the tests: how long from a report dropped into
//! a Zhongshu's mailbox until the model receives the notice as user input
//! (p50/p99; the notice window of 2 s, which gathers results into one notice, is
//! printed beside it as the floor), and the memory of one Codex session
//! (app-server and TUI process groups) beside the launcher's own.
//!
//! Run: `cargo bench --bench codex` (`CODEX_BENCH_DROPS=20` by default).

#[path = "../tests/support/model_server.rs"]
#[allow(dead_code)]
mod model_server;
#[path = "../tests/support/launcher.rs"]
mod support;

use std::time::{Duration, Instant};

use model_server::{codex_bin, codex_env, codex_home, ModelServer};
use serde_json::json;
use support::*;

fn main() {
    let drops: usize = std::env::var("CODEX_BENCH_DROPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(measure(drops));
}

async fn measure(drops: usize) {
    let repo = TestRepo::new(RepoOptions::default());
    std::fs::write(
        repo.path.join("governance.yaml"),
        "launcher:\n  backend: codex\n",
    )
    .unwrap();
    let server = ModelServer::start().await;
    let home = codex_home(&repo.root, &server, true);
    let launcher = spawn_launcher_env(&repo.path, &[], &codex_env(&home, &codex_bin()));
    let api = &launcher.api;
    let z = api.start_zhongshu("Wait for reports").await;
    idle(api, &z).await;
    // Reports name a department of this Zhongshu: one is started (it reports
    // nothing, so it is reminded, closed, and its fallback noticed).
    let plan = json!({"session_id": z, "summary": "bench",
        "assignments": [{"department": "zhilibu", "task": "nothing"}]});
    api.post_ok("/api/report_zhongshu_plan", &plan).await;
    let dept = wait_until("the department ends", Duration::from_secs(180), || async {
        departments(&api.status().await)
            .into_iter()
            .find(|d| d["status"] == "exited")
    })
    .await;
    let dept_id = dept["id"].as_str().unwrap().to_string();
    wait_until(
        "the fallback is noticed",
        Duration::from_secs(120),
        || async { server.saw_user_text(&dept_id).then_some(()) },
    )
    .await;
    idle(api, &z).await;
    let incoming = repo
        .state_dir()
        .join("codex_governance_mailbox")
        .join(&z)
        .join("incoming");
    let mut lat = Vec::with_capacity(drops);
    for i in 0..drops {
        let marker = format!("BENCH-REPORT-{i:03}");
        let body = json!({"parent_session_id": z, "department_session_id": dept_id,
            "department": "zhilibu", "report_id": marker, "summary": marker});
        let tmp = incoming.join(format!(".{marker}.tmp"));
        std::fs::write(&tmp, body.to_string()).unwrap();
        let t0 = Instant::now();
        std::fs::rename(&tmp, incoming.join(format!("{marker}.json"))).unwrap();
        wait_until(
            "the notice reaches the model",
            Duration::from_secs(120),
            || async { server.saw_user_text(&marker).then_some(()) },
        )
        .await;
        lat.push(t0.elapsed());
        idle(api, &z).await;
    }
    lat.sort();
    let session = api.session(&z).await;
    let groups = [session["pid"].as_u64(), session["server_pid"].as_u64()];
    let codex_kib: u64 = groups
        .iter()
        .flatten()
        .map(|g| group_rss_kib(*g as u32))
        .sum();
    let launcher_kib = group_rss_kib_of_pid(launcher.pid());
    println!(
        "Codex backend, real Codex {} ({} drops)",
        codex_version(),
        drops
    );
    println!("| figure | value | reference |");
    println!("|---|---|---|");
    println!(
        "| report dropped -> model receives notice, p50 | {:.0} ms | notice window {} ms |",
        ms(lat[lat.len() / 2]),
        2000
    );
    println!(
        "| same, p99 | {:.0} ms | notice window {} ms |",
        ms(lat[(lat.len() * 99 / 100).min(lat.len() - 1)]),
        2000
    );
    println!(
        "| RSS of one Codex session (app-server + TUI groups) | {:.1} MB | launcher {:.1} MB |",
        codex_kib as f64 / 1024.0,
        launcher_kib as f64 / 1024.0
    );
}

async fn idle(api: &Api, z: &str) {
    wait_until("the Zhongshu is idle", Duration::from_secs(120), || async {
        (api.session(z).await["agent_state"] == "idle").then_some(())
    })
    .await
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn codex_version() -> String {
    let out = std::process::Command::new(codex_bin())
        .arg("--version")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Resident memory of every process in process group `pgid` (from `ps`).
fn group_rss_kib(pgid: u32) -> u64 {
    ps_rows()
        .into_iter()
        .filter(|(_, g, _)| *g == pgid)
        .map(|(_, _, rss)| rss)
        .sum()
}

fn group_rss_kib_of_pid(pid: u32) -> u64 {
    ps_rows()
        .into_iter()
        .filter(|(p, _, _)| *p == pid)
        .map(|(_, _, rss)| rss)
        .sum()
}

fn ps_rows() -> Vec<(u32, u32, u64)> {
    let out = std::process::Command::new("ps")
        .args(["-eo", "pid=,pgid=,rss="])
        .output()
        .expect("ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace().map(|x| x.parse::<u64>().ok());
            Some((w.next()?? as u32, w.next()?? as u32, w.next()??))
        })
        .collect()
}
