//! The ACP backend with the scripted ACP agent (`fake-agent --acp`), each
//! department in a worktree of its own, in one run twice: confined in
//! Codex's sandbox (the Codex CLI `tools/test.sh` installs), and beside it the
//! same agent unconfined (`acp_unsandboxed: true`), which is what the
//! confinement adds:
//! - the memory (RSS, and PSS from `/proc/<pid>/smaps_rollup`) of the
//!   launcher's whole process tree with 1 idle department and with N, and
//!   what each added department costs, its agent process (and sandbox)
//!   included;
//! - start to first tool call: from `POST /api/start_department` until the
//!   department's `governance_report_result` call has been answered (its
//!   agent logs the answer).
//!
//! A Codex department's figures are `cargo bench --bench codex`'s (the real
//! Codex against the scripted model server).
//!
//! Run: `cargo bench --bench acp` (`ACP_BENCH_SESSIONS=5` by default).

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

use serde_json::json;
use support::*;

fn main() {
    quick::announce("acp");
    let sessions = quick::count("ACP_BENCH_SESSIONS", 5, 2).max(2);
    let codex = tier::codex();
    assert!(
        codex.exists(),
        "the Codex CLI {} confines ACP agents: run tools/test.sh (it installs it)",
        codex.display()
    );
    let confined = quick::run(measure(Some(&codex), sessions));
    let unconfined = quick::run(measure(None, sessions));
    println!(
        "ACP backend, scripted ACP agent, 1 and {sessions} idle departments beside the Zhongshu"
    );
    println!("| mode | whole tree, 1 department RSS / PSS | whole tree, {sessions} RSS / PSS | per added department RSS / PSS | start -> first tool call answered, p50 / max |");
    println!("|---|---|---|---|---|");
    for (name, f) in [
        ("confined (Codex's sandbox)", &confined),
        ("unconfined (reference)", &unconfined),
    ] {
        let added = (sessions - 1) as f64;
        println!(
            "| {name} | {} / {} | {} / {} | {} / {} | {:.0} / {:.0} ms |",
            mb(f.one.0 as f64),
            mb(f.one.1 as f64),
            mb(f.all.0 as f64),
            mb(f.all.1 as f64),
            mb((f.all.0 as f64 - f.one.0 as f64) / added),
            mb((f.all.1 as f64 - f.one.1 as f64) / added),
            f.first_call_ms[f.first_call_ms.len() / 2],
            f.first_call_ms[f.first_call_ms.len() - 1],
        );
    }
}

struct Figures {
    /// Whole tree with 1 department: RSS, PSS (KiB).
    one: (u64, u64),
    /// With every department.
    all: (u64, u64),
    /// Start to first tool call answered, sorted.
    first_call_ms: Vec<f64>,
}

async fn measure(confiner: Option<&std::path::Path>, sessions: usize) -> Figures {
    let repo = TestRepo::with_flags(&[]);
    let agent =
        serde_json::to_string(&[fake_agent().display().to_string(), "--acp".into()]).expect("argv");
    let confinement = match confiner {
        Some(codex) => format!(
            "acp_unsandboxed: false\n  codex_command: {}",
            codex.display()
        ),
        None => "acp_unsandboxed: true".into(),
    };
    std::fs::write(
        repo.path.join("governance.yaml"),
        format!(
            "launcher:\n  backend: acp\n  acp_agent: other\n  acp_command: {agent}\n  \
             {confinement}\n  isolation: worktree\n  max_departments: {}\n  models: [m1]\n  \
             require_plan_confirmation: false\n",
            2 * sessions + 1
        ),
    )
    .unwrap();
    for args in [&["add", "-A"][..], &["commit", "-qm", "start"]] {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(&repo.path)
            .status()
            .expect("git");
        assert!(ok.success(), "git {args:?}");
    }
    let codex_home = repo.files.join("codex-home");
    std::fs::create_dir_all(&codex_home).unwrap();
    let env = vec![("CODEX_HOME".to_string(), codex_home.display().to_string())];
    let mut launcher = spawn_launcher_env(&repo.path, &[], &env);
    let api = &launcher.api;
    let z = api.start_zhongshu("Plan, then wait [[acp: wait]]").await;
    wait_log(&repo, &z, "FAKE_ACP_PROMPT").await;
    // Memory: departments that wait on their first turn, their agents idle.
    let mut one = (0, 0);
    for i in 0..sessions {
        let id = start(api, &z, i, &format!("Wait {i} [[acp: wait]]")).await;
        wait_log(&repo, &id, "FAKE_ACP_PROMPT").await;
        if i == 0 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            one = tree_memory(launcher.pid());
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = tree_memory(launcher.pid());
    // Start to first tool call: departments that report at once.
    let mut first_call_ms = Vec::new();
    for i in 0..sessions {
        let task = format!(
            "Report {i} [[acp: tool governance_report_result {{\"summary\": \"ok {i}\"}}]]"
        );
        let started = Instant::now();
        let id = start(api, &z, i, &task).await;
        wait_until(
            "its tool call is answered",
            Duration::from_secs(60),
            || async {
                repo.log(&id)
                    .contains("FAKE_ACP_TOOL governance_report_result")
                    .then_some(())
            },
        )
        .await;
        first_call_ms.push(quick::ms(started.elapsed()));
    }
    let status = launcher.terminate();
    assert!(status.success(), "{status:?}\n{}", launcher.stderr());
    first_call_ms.sort_by(f64::total_cmp);
    Figures {
        one,
        all,
        first_call_ms,
    }
}

/// Starts department `i` of planner `z` on `task`; its session id.
async fn start(api: &Api, z: &str, i: usize, task: &str) -> String {
    let department = ["zhilibu", "gongchengbu", "lingyubu"][i % 3];
    let body = api
        .post_ok(
            "/api/start_department",
            &json!({"parent_session_id": z, "department": department, "task": task}),
        )
        .await;
    body["session_id"].as_str().expect("its id").to_string()
}

/// RSS and PSS (KiB) of `root` and every process under it.
fn tree_memory(root: u32) -> (u64, u64) {
    let out = std::process::Command::new("ps")
        .args(["-eo", "pid=,ppid="])
        .output()
        .expect("ps");
    let parents: Vec<(u32, u32)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace().map(|x| x.parse::<u32>().ok());
            Some((w.next()??, w.next()??))
        })
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    tree.iter().fold((0, 0), |(r, p), pid| {
        (r + procfs::rss(*pid), p + procfs::pss(*pid))
    })
}

/// KiB as MB for the table.
fn mb(kib: f64) -> String {
    format!("{:.1} MB", kib / 1024.0)
}
