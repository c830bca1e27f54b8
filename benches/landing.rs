//! Verified landing (issue 73): what the launcher adds to a Merge beyond the
//! checks' own run, and a Cargo landing's `cargo test` beside your own
//! incremental one, each beside its reference measured in the same run.
//!
//! - Overhead: departments (the fake agent) each write one file; half are
//!   merged without checks (the reference: the Merge as it was), half with
//!   `launcher.landing.verify: ["true"]`. A check's own run is `codex
//!   sandbox … -- sh -c true` timed alone. Overhead = verified Merge −
//!   unverified Merge − the check's run (the candidate written out, the
//!   built-again candidate, the records). Target: at most 1 s.
//! - Cargo: a small crate you built (`cargo test --offline`); a department
//!   changes one line of `src/lib.rs`; its Merge runs `cargo test --offline
//!   --quiet` on the candidate. Reference: the same change in your tree and
//!   your incremental `cargo test --offline --quiet`. Target: at most 1.5x.
//!   The candidate gets a copy of your `target/` and its checks see it at
//!   your tree's path (`landing/mod.rs`), so rustc's incremental caches
//!   apply. Its run: the landing less what a landing whose check is `true`
//!   takes beyond a plain Merge (the copy of your build counts in the run);
//!   the whole landing's ratio is printed beside it.
//!
//! Run: `cargo bench --bench landing` (`LANDING_BENCH_TRIALS=5` by default).

#[path = "../tests/it/common/model_server.rs"]
#[allow(dead_code)]
mod model_server;
#[path = "../tests/it/common/launcher.rs"]
mod support;
#[path = "../tests/it/common/tier.rs"]
#[allow(dead_code, unused_macros)]
mod tier;

#[path = "common/quick.rs"]
mod quick;
#[path = "common/sandbox.rs"]
mod sandbox;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use quick::ms;
use serde_json::json;
use support::*;

const PATIENCE: Duration = Duration::from_secs(180);

const CARGO_TOML: &str =
    "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n";
const LIB: &str = "pub fn greet(name: &str) -> String {\n    String::from(\"hi \") + name\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn greets() {\n        assert_eq!(super::greet(\"a\"), \"hi a\");\n    }\n}\n";

fn main() {
    quick::announce("landing");
    if let Some(why) = tier::Tier::Codex.missing() {
        println!("landing: not measured: {why} (tools/test.sh installs it)");
        return;
    }
    if !cfg!(target_os = "linux") {
        println!("landing: not measured: the checks' sandbox is Linux's");
        return;
    }
    quick::run(measure(quick::count("LANDING_BENCH_TRIALS", 5, 2)));
}

/// A repository holding the crate, its landing checks `verify`, committed.
fn crate_repo(verify: &str) -> TestRepo {
    let repo = TestRepo::new(RepoOptions {
        max_departments: 8,
        ..RepoOptions::default()
    });
    let config = repo.path.join("governance.yaml");
    let mut yaml = std::fs::read_to_string(&config).unwrap();
    yaml.push_str(&format!(
        "  codex_command: {}\n  landing:\n    verify: [{verify}]\n",
        model_server::codex_bin().display()
    ));
    std::fs::write(&config, yaml).unwrap();
    std::fs::write(repo.path.join("Cargo.toml"), CARGO_TOML).unwrap();
    std::fs::create_dir_all(repo.path.join("src")).unwrap();
    std::fs::write(repo.path.join("src/lib.rs"), LIB).unwrap();
    std::fs::write(repo.path.join(".gitignore"), "/target\n").unwrap();
    git(&repo.path, &["add", "-A"]);
    git(
        &repo.path,
        &[
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@localhost",
            "commit",
            "-qm",
            "base",
        ],
    );
    repo
}

fn git(dir: &Path, args: &[&str]) {
    let ran = Command::new("git")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(ran.success(), "git {args:?}");
}

/// Departments of one planner that each write `files[i]` with `texts[i]`,
/// their work recorded: their ids in order.
async fn departments_writing(api: &Api, z: &str, writes: &[(String, String)]) -> Vec<String> {
    let mut ids = Vec::new();
    for (file, text) in writes {
        let text = text.replace('\n', "\\n");
        let body = json!({"parent_session_id": z, "department": "lingyubu",
            "task": format!("write [[fake-agent: --work-seconds 0 --write '{file}={text}' --changed-file {file}]]")});
        let started = api.post_ok("/api/start_department", &body).await;
        let id = started["session_id"]
            .as_str()
            .or_else(|| started["session"]["id"].as_str())
            .expect("a session id")
            .to_string();
        ids.push(id);
    }
    for id in &ids {
        wait_until(&format!("{id} recorded"), PATIENCE, || async {
            let s = api.session(id).await;
            (s["status"] == "exited" && s["workspace"]["state"] == "pending").then_some(())
        })
        .await;
    }
    ids
}

/// One Merge's wall time; `without`: with the user's reason to skip the checks.
async fn merge(api: &Api, id: &str, without: bool) -> Duration {
    let mut body = json!({"session_id": id, "mode": "merge"});
    if without {
        body["without_checks"] = json!(true);
        body["reason"] = json!("the reference");
    }
    let t0 = Instant::now();
    let merged = api.post_ok("/api/integrate", &body).await;
    let took = t0.elapsed();
    assert_eq!(merged["workspace"]["state"], "merged", "{merged}");
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn measure(trials: usize) {
    // Overhead.
    let repo = crate_repo("\"true\"");
    let launcher = spawn_launcher(&repo.path, &[]);
    let api = &launcher.api;
    let writes: Vec<(String, String)> = (0..trials * 2)
        .map(|i| (format!("notes/n{i}.md"), format!("note {i}\n")))
        .collect();
    let z = api.start_zhongshu("Wait for the bench").await;
    let ids = departments_writing(api, &z, &writes).await;
    let (mut plain, mut verified, mut alone) = (Vec::new(), Vec::new(), Vec::new());
    for pair in ids.chunks(2) {
        plain.push(merge(api, &pair[0], true).await);
        verified.push(merge(api, &pair[1], false).await);
        alone.push(sandbox::sandbox_true(&repo.root));
    }
    let (p, v, a) = (median(plain), median(verified), median(alone));
    let verified_true = v;
    let overhead = v.saturating_sub(p).saturating_sub(a);
    println!(
        "landing: Merge without checks (reference)   {:>8.1} ms (median of {trials})",
        ms(p)
    );
    println!(
        "landing: Merge verified by [\"true\"]         {:>8.1} ms",
        ms(v)
    );
    println!(
        "landing: the check alone (codex sandbox)    {:>8.1} ms",
        ms(a)
    );
    println!(
        "landing: overhead per landing              {:>8.1} ms  (target <= 1000 ms: {})",
        ms(overhead),
        if overhead <= Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
    drop(launcher);

    // Cargo.
    let repo = crate_repo("\"cargo test --offline --quiet\"");
    let cargo = |dir: &Path| {
        let t0 = Instant::now();
        let ran = Command::new("cargo")
            .args(["test", "--offline", "--quiet"])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            ran.status.success(),
            "{}",
            String::from_utf8_lossy(&ran.stderr)
        );
        t0.elapsed()
    };
    cargo(&repo.path);
    let launcher = spawn_launcher(&repo.path, &[]);
    let api = &launcher.api;
    let z = api.start_zhongshu("Wait for the bench").await;
    let (mut yours, mut landed) = (Vec::new(), Vec::new());
    for i in 0..trials {
        let changed = LIB
            .replace("\"hi \"", &format!("\"hi{i} \""))
            .replace("\"hi a\"", &format!("\"hi{i} a\""));
        let ids = departments_writing(api, &z, &[("src/lib.rs".into(), changed.clone())]).await;
        // Your own: the same change, built incrementally in your tree, then put back.
        let before = std::fs::read_to_string(repo.path.join("src/lib.rs")).unwrap();
        std::fs::write(repo.path.join("src/lib.rs"), &changed).unwrap();
        yours.push(cargo(&repo.path));
        std::fs::write(repo.path.join("src/lib.rs"), before).unwrap();
        landed.push(merge(api, &ids[0], false).await.saturating_sub(p));
        cargo(&repo.path);
    }
    let (y, l) = (median(yours), median(landed));
    // The check's own run in its candidate (with its copy of your build):
    // the landing less what a landing whose check is `true` takes beyond a
    // plain Merge (the candidate written, the sandbox started, the records).
    let run = l.saturating_sub(verified_true.saturating_sub(p));
    println!(
        "landing: your incremental cargo test (reference) {:>8.1} ms (median of {trials})",
        ms(y)
    );
    println!(
        "landing: the landing's cargo test, its run       {:>8.1} ms",
        ms(run)
    );
    println!(
        "landing: the whole landing beyond a plain Merge  {:>8.1} ms",
        ms(l)
    );
    let ratio = run.as_secs_f64() / y.as_secs_f64().max(0.001);
    println!(
        "landing: ratio {ratio:.2}x (target <= 1.5x: {}); the whole landing {:.2}x",
        if ratio <= 1.5 { "met" } else { "NOT met" },
        l.as_secs_f64() / y.as_secs_f64().max(0.001)
    );
}
