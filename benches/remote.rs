//! Departments on other machines (issue 53), with the real Codex CLI on both
//! sides, OpenSSH on loopback and the scripted model server of the tests.
//! Beside each figure, the same for a department on this machine in the
//! same run:
//! - from *Start* (`POST /api/start_department`) until the department's
//!   first command has run and its output reached the model;
//! - from that output reaching the model (whose answer is the report) until
//!   the review shows the changed file (`GET /api/changes`), the fetch back
//!   from the host included;
//! - the launcher's memory (RSS) with the host ready and no department there,
//!   and with departments there waiting on their model, and the ssh client
//!   that carries the host's exec-server;
//! - a stop (SIGTERM to exit) with departments mid-turn there, beside a
//!   launcher of its own with one mid-turn here (issue 70 item 4: <= 2 s).
//!
//! Target (issue 53): at most 2 s added to each time, at most 5 MB of the
//! launcher's memory per remote department. Run: `cargo bench --bench
//! remote` (`REMOTE_BENCH_TRIALS=5` by default).

#[path = "../tests/it/common/model_server.rs"]
#[allow(dead_code)]
mod model_server;
#[path = "../tests/it/common/sshd.rs"]
#[allow(dead_code)]
mod sshd;
#[path = "../tests/it/common/launcher.rs"]
mod support;
#[path = "../tests/it/common/tier.rs"]
#[allow(dead_code, unused_macros)]
mod tier;

#[path = "common/quick.rs"]
mod quick;

#[path = "common/procfs.rs"]
mod procfs;

use std::time::{Duration, Instant};

use model_server::{codex_bin, codex_env, codex_home, exec, tool_call, ModelServer};
use quick::ms;
use serde_json::json;
use support::*;

const PATIENCE: Duration = Duration::from_secs(180);

fn main() {
    quick::announce("remote");
    if let Some(why) = tier::Tier::Sshd
        .missing()
        .or_else(|| tier::Tier::Codex.missing())
    {
        println!("remote: not measured: {why} (tools/test.sh installs it)");
        return;
    }
    quick::run(measure(quick::count("REMOTE_BENCH_TRIALS", 5, 1)));
}

async fn measure(trials: usize) {
    let sshd = sshd::Sshd::start();
    let repo = TestRepo::new(RepoOptions::default());
    let host = tempfile::tempdir().unwrap();
    let clone = host.path().join("clone");
    let codex = codex_bin().display().to_string();
    std::fs::write(
        repo.path.join("governance.yaml"),
        format!(
            "launcher:\n  backend: codex\n  max_departments: 8\n  remotes:\n    gpu1:\n      \
             ssh: {}\n      repo: {}\n      codex: {codex}\n      max_departments: 8\n\
             departments:\n  zhilibu:\n    title: There\n    where: gpu1\n  wenshu:\n    title: Here\n",
            sshd::HOST,
            clone.display()
        ),
    )
    .unwrap();
    // Committed, then cloned as the host's copy.
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
        assert!(ran.success());
    }
    let cloned = std::process::Command::new("git")
        .args(["clone", "-q"])
        .arg(&repo.path)
        .arg(&clone)
        .status()
        .unwrap();
    assert!(cloned.success());
    let server = ModelServer::start().await;
    let home = codex_home(&repo.root, &server, true);
    let mut env = codex_env(&home, &codex_bin());
    env.push((
        "CODEX_GOVERNANCE_SSH".into(),
        sshd.ssh_wrapper().display().to_string(),
    ));
    let launcher = spawn_launcher_env(&repo.path, &[], &env);
    let api = &launcher.api;
    wait_until("gpu1 ready", PATIENCE, || async {
        (api.status().await["remotes"][0]["state"] == "ready").then_some(())
    })
    .await;
    let z = api.start_zhongshu("Wait for the bench").await;
    let mut rows = Vec::new();
    for (department, place) in [("wenshu", "here"), ("zhilibu", "on gpu1")] {
        let mut to_command = Vec::new();
        let mut to_review = Vec::new();
        for i in 0..trials {
            let marker = format!("BENCH-{department}-{i}");
            let call = format!("call_{department}_{i}");
            let file = format!("{marker}.md");
            server.on(&marker, vec![exec(&call, &format!("echo {i} > {file}"))]);
            server.on(
                &call,
                vec![tool_call(
                    &format!("{call}_report"),
                    "governance_report_result",
                    json!({"summary": "written", "changed_files": [file]}),
                )],
            );
            let body = json!({"parent_session_id": z, "department": department,
                "task": format!("{marker}: write {file}")});
            let t0 = Instant::now();
            let started = api.post_ok("/api/start_department", &body).await;
            let id = started["session_id"]
                .as_str()
                .or_else(|| started["session"]["id"].as_str())
                .map(str::to_string);
            wait_until("the first command's output", PATIENCE, || async {
                (!server.outputs(&call).is_empty()).then_some(())
            })
            .await;
            to_command.push(t0.elapsed());
            let t1 = Instant::now();
            let id = match id {
                Some(id) => id,
                None => {
                    wait_until("the department's id", PATIENCE, || async {
                        departments(&api.status().await)
                            .into_iter()
                            .find(|d| d["task"].as_str().is_some_and(|t| t.contains(&marker)))
                            .and_then(|d| d["id"].as_str().map(str::to_string))
                    })
                    .await
                }
            };
            wait_until("the review shows the file", PATIENCE, || async {
                let changes = api.get(&format!("/api/changes?session_id={id}")).await.1;
                changes["files"].to_string().contains(&file).then_some(())
            })
            .await;
            to_review.push(t1.elapsed());
        }
        rows.push((place, median(&mut to_command), median(&mut to_review)));
    }
    // Memory: the launcher before and while departments wait there.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = procfs::rss(launcher.pid());
    let waiting = quick::pick(3, 1);
    let mut holds = Vec::new();
    for i in 0..waiting {
        let marker = format!("WAIT-THERE-{i}");
        holds.push(server.on_held(&marker, vec![]));
        let body = json!({"parent_session_id": z, "department": "zhilibu",
            "task": format!("{marker}: wait")});
        api.post_ok("/api/start_department", &body).await;
        wait_until("its turn reaches the model", PATIENCE, || async {
            server.saw_user_text(&marker).then_some(())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = procfs::rss(launcher.pid());
    let ssh_kib = ssh_clients_rss_kib();
    println!(
        "Departments on other machines: real Codex {} on both sides, OpenSSH on loopback, {trials} trial(s) each",
        model_server::codex_version()
    );
    println!("| figure | on gpu1 | here (reference) | added |");
    println!("|---|---|---|---|");
    let (here, there) = (&rows[0], &rows[1]);
    println!(
        "| Start -> first command done, median | {:.0} ms | {:.0} ms | {:+.0} ms (target <= 2000) |",
        ms(there.1),
        ms(here.1),
        ms(there.1) - ms(here.1)
    );
    println!(
        "| its output -> the change in the review, median | {:.0} ms | {:.0} ms | {:+.0} ms (target <= 2000) |",
        ms(there.2),
        ms(here.2),
        ms(there.2) - ms(here.2)
    );
    println!();
    println!("| memory | value |");
    println!("|---|---|");
    println!(
        "| launcher RSS, host ready, none there | {:.1} MiB |",
        before as f64 / 1024.0
    );
    println!(
        "| launcher RSS, {waiting} waiting there | {:.1} MiB |",
        after as f64 / 1024.0
    );
    println!(
        "| launcher's added RSS per remote department | {:.2} MiB (target <= 5 MB) |",
        (after as f64 - before as f64) / 1024.0 / waiting as f64
    );
    println!(
        "| ssh clients carrying exec-servers (all hosts), RSS | {:.1} MiB |",
        ssh_kib as f64 / 1024.0
    );
    // A stop (SIGTERM) with departments mid-turn there, beside one with a
    // department mid-turn here only (issue 70 item 4: at most 2 s).
    let t0 = Instant::now();
    let mut launcher = launcher;
    launcher.terminate();
    let stop_there = t0.elapsed();
    let alarmed = launcher.stderr().contains("still running after");
    drop(holds);
    let stop_here = stop_with_a_local_department_mid_turn(&server).await;
    println!();
    println!("| stop (SIGTERM to exit) | with {waiting} mid-turn on gpu1 | one mid-turn here (reference) |");
    println!("|---|---|---|");
    println!(
        "| time | {:.0} ms{} | {:.0} ms | (target <= 2000) |",
        ms(stop_there),
        if alarmed {
            ", 'tasks still running' printed"
        } else {
            ""
        },
        ms(stop_here)
    );
}

/// A launcher of its own, with one department mid-turn on this machine:
/// how long its stop takes.
async fn stop_with_a_local_department_mid_turn(server: &ModelServer) -> Duration {
    let repo = TestRepo::new(RepoOptions::default());
    std::fs::write(
        repo.path.join("governance.yaml"),
        "launcher:\n  backend: codex\ndepartments:\n  wenshu:\n    title: Here\n",
    )
    .unwrap();
    let home = codex_home(&repo.root, server, true);
    let env = codex_env(&home, &codex_bin());
    let mut launcher = spawn_launcher_env(&repo.path, &[], &env);
    let api = &launcher.api;
    let hold = server.on_held("WAIT-HERE", vec![]);
    let z = api.start_zhongshu("Wait for the bench here").await;
    let body = json!({"parent_session_id": z, "department": "wenshu", "task": "WAIT-HERE: wait"});
    api.post_ok("/api/start_department", &body).await;
    wait_until("its turn reaches the model", PATIENCE, || async {
        server.saw_user_text("WAIT-HERE").then_some(())
    })
    .await;
    let t0 = Instant::now();
    launcher.terminate();
    let took = t0.elapsed();
    drop(hold);
    took
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The resident memory of every ssh client that carries a `codex exec-server`.
fn ssh_clients_rss_kib() -> u64 {
    let out = std::process::Command::new("ps")
        .args(["-eo", "rss=,args="])
        .output()
        .expect("ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let rss = words.next()?.parse::<u64>().ok()?;
            let program = words.next()?;
            (program.ends_with("ssh") && l.contains("exec-server --listen stdio")).then_some(rss)
        })
        .sum()
}
