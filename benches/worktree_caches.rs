//! A department's first build in its new worktree with
//! `launcher.worktree.caches: auto` (issue 52 item 3), beside the same work
//! in the user's own tree, measured in the same run.
//!
//! Cargo: a generated workspace of 44 crates, each depending on earlier ones
//! and on crates.io crates (serde with derive, serde_json, indexmap,
//! smallvec, memchr, itoa, log, once_cell) from the local registry
//! (`--offline`). The user builds it cold (`cargo build`, then `cargo test
//! --no-run`). A department's worktree is made, its caches seeded
//! (`caches::seed_cargo`), one line of a middle crate changed, and both
//! commands run there; the reference is the same change built incrementally
//! in the user's tree. Target: at most 1.5x. Without the caches the
//! department's first build is the cold build (printed too). Beside them, in
//! the same run: a second department whose copy also has rustc's incremental
//! caches (rustc drops them: they were made in another folder), and the same
//! change built in the user's tree without its incremental caches (the floor
//! of a build in another folder); and a third department built at the
//! user's tree's path, its worktree mounted there in a mount namespace of
//! its own (`worktrees::at_users_path`; skipped where none can be made), with rustc's
//! incremental caches copied: what the 1.5x needs. The first crate's tests read its
//! `CARGO_MANIFEST_DIR` and include a file at the workspace's root; the
//! department changes that file and runs them, and they must see the
//! department's worktree and file, not the user's.
//!
//! npm: a project with express, lodash, chalk, commander and their
//! dependencies. The reference is `npm ci` in the user's tree with a warm
//! cache; the department's is its set-up `npm ci` in a new worktree, run as
//! the launcher runs set-up commands (with `caches::setup_env`). Target: at
//! most 1.2x. Skipped without npm or without registry access.
//!
//! Disk: what the department's copy adds, beside the user's build output (a
//! full copy). On a file system that shares blocks (Btrfs, XFS) the copy
//! adds almost nothing; the file system of the run is printed.
//!
//! `BENCH_RUNS` sets the npm runs per way (default 3); the Cargo figures are
//! one run each (minutes of a build on a shared machine).

#[path = "common/quick.rs"]
mod quick;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use codex_governance::config::worktree_ready::Caches;
use codex_governance::config::IsolationSettings;
use codex_governance::worktrees::{self, caches, setup, CreateSpec};

fn main() {
    quick::announce("worktree_caches");
    let root = std::env::temp_dir().join("codex-governance-bench-caches");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    println!("file system of {}: {}", root.display(), fs_type(&root));
    cargo_figures(&root.join("cargo"));
    if quick::on() {
        println!("npm: skipped in a quick run");
    } else {
        npm_figures(&root.join("npm"));
    }
    let _ = std::fs::remove_dir_all(&root);
}

fn cargo_figures(dir: &Path) {
    let crates = quick::pick(44, 3);
    let registry = !quick::on();
    let repo = dir.join("ws");
    write_workspace(&repo, crates, registry);
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "workspace"]);
    cargo(&repo, &["generate-lockfile"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "lock"]);

    let cold_build = cargo(&repo, &["build"]);
    let cold_test = cargo(&repo, &["test", "--no-run"]);
    let changed = format!("crates/c{:02}/src/lib.rs", crates / 2);

    // The department: a new worktree, its caches, the one-line change.
    let settings = IsolationSettings::default();
    let start = Instant::now();
    let made = worktrees::create(&CreateSpec {
        repo: &repo,
        zhongshu: "bench",
        session: "bench-1",
        base: None,
        scope: &[],
        settings: &settings,
    })
    .unwrap()
    .unwrap();
    let create = start.elapsed();
    let wt = PathBuf::from(&made.workspace.path);
    let start = Instant::now();
    let seed = caches::seed_cargo(&repo, &wt, Caches::Auto, false)
        .unwrap()
        .expect("the user's target/ copied");
    let seeding = start.elapsed();
    one_line_change(&wt.join(&changed));
    let dept_build = cargo(&wt, &["build"]);
    let dept_test = cargo(&wt, &["test", "--no-run"]);
    // Fails when the tests still name the user's tree or its fixture.
    std::fs::write(wt.join(FIXTURE), "the department's\n").unwrap();
    cargo(&wt, &["test", "-p", "c00", "--lib"]);

    // A department whose copy has rustc's incremental caches too.
    let with_incremental = worktrees::create(&CreateSpec {
        repo: &repo,
        zhongshu: "bench",
        session: "bench-2",
        base: None,
        scope: &[],
        settings: &settings,
    })
    .unwrap()
    .unwrap();
    let wt2 = PathBuf::from(&with_incremental.workspace.path);
    caches::seed_cargo(&repo, &wt2, Caches::Auto, true)
        .unwrap()
        .expect("the user's target/ copied");
    one_line_change(&wt2.join(&changed));
    let incremental_copied_build = cargo(&wt2, &["build"]);

    // A department whose build runs at the user's tree's path: its worktree
    // mounted there in a mount namespace of its own, incremental caches copied.
    let same_path = worktrees::create(&CreateSpec {
        repo: &repo,
        zhongshu: "bench",
        session: "bench-3",
        base: None,
        scope: &[],
        settings: &settings,
    })
    .unwrap()
    .unwrap();
    let wt3 = PathBuf::from(&same_path.workspace.path);
    let start = Instant::now();
    let same_path_seed = caches::seed_cargo(&repo, &wt3, Caches::Auto, true)
        .unwrap()
        .expect("the user's target/ copied");
    let same_path_seeding = start.elapsed();
    one_line_change(&wt3.join(&changed));
    let same_path_build = cargo_at_users_path(&repo, &same_path.workspace, "build");
    let same_path_test = cargo_at_users_path(&repo, &same_path.workspace, "test --no-run");

    // The reference: the same change, incrementally in the user's tree.
    one_line_change(&repo.join(&changed));
    let user_build = cargo(&repo, &["build"]);
    let user_test = cargo(&repo, &["test", "--no-run"]);
    let user_target = du(&repo.join("target"));
    let incremental_bytes = du(&repo.join("target/debug/incremental"));

    // The floor in another folder: the user's tree without its incremental
    // caches, the same change again.
    std::fs::remove_dir_all(repo.join("target/debug/incremental")).unwrap();
    one_line_change(&repo.join(&changed));
    let user_cold_incremental_build = cargo(&repo, &["build"]);

    println!(
        "cargo: {crates} crates{}; a one-line change in {changed}",
        if registry {
            " with crates.io dependencies"
        } else {
            ""
        }
    );
    println!(
        "  user's cold build: cargo build {}, cargo test --no-run {} (a department's first \
         build without caches)",
        secs(cold_build),
        secs(cold_test)
    );
    println!(
        "  department: worktree {} + copy of target/ {} ({} files, {} matched sources, {} \
         units naming your tree forgotten), then cargo build {}, cargo test --no-run {}",
        secs(create),
        secs(seeding),
        seed.files,
        seed.sources_matched,
        seed.units_forgotten,
        secs(dept_build),
        secs(dept_test)
    );
    println!(
        "  user's incremental: cargo build {}, cargo test --no-run {}",
        secs(user_build),
        secs(user_test)
    );
    println!(
        "  department with rustc's incremental caches copied too: cargo build {}; user's tree \
         without its incremental caches: cargo build {}",
        secs(incremental_copied_build),
        secs(user_cold_incremental_build)
    );
    println!(
        "  ratio (copy + build vs incremental build): {:.2}x; build alone {:.2}x; test --no-run \
         {:.2}x (target <= 1.5x); with incremental caches copied {:.2}x; the user's own \
         build without them {:.2}x",
        ratio(seeding + dept_build, user_build),
        ratio(dept_build, user_build),
        ratio(dept_test, user_test),
        ratio(incremental_copied_build, user_build),
        ratio(user_cold_incremental_build, user_build)
    );
    match (same_path_build, same_path_test) {
        (Some(build), Some(test)) => println!(
            "  department at your tree's path (its worktree mounted there, incremental caches \
             copied {}): cargo build {} ({:.2}x with the copy, {:.2}x alone), cargo test \
             --no-run {} ({:.2}x)",
            secs(same_path_seeding),
            secs(build),
            ratio(same_path_seeding + build, user_build),
            ratio(build, user_build),
            secs(test),
            ratio(test, user_test)
        ),
        _ => println!(
            "  department at your tree's path: skipped, no mount namespace can be made here"
        ),
    }
    println!(
        "  disk: the department's copy {} MiB ({} MiB at your tree's path, with the incremental \
         caches), the user's target/ {} MiB (a full copy; {} MiB of it rustc's incremental caches)",
        seed.bytes / MIB,
        same_path_seed.bytes / MIB,
        user_target / MIB,
        incremental_bytes / MIB
    );
    let _ = worktrees::create::remove(&repo, &made.workspace, &no_teardown());
    let _ = worktrees::create::remove(&repo, &with_incremental.workspace, &no_teardown());
    let _ = worktrees::create::remove(&repo, &same_path.workspace, &no_teardown());
}

fn npm_figures(dir: &Path) {
    if Command::new("npm").arg("--version").output().is_err() {
        println!("npm: skipped, no npm");
        return;
    }
    let repo = dir.join("app");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(
        repo.join("package.json"),
        r#"{"name":"app","version":"1.0.0","private":true,
"dependencies":{"express":"^4","lodash":"^4","chalk":"^4","commander":"^12","debug":"^4","yargs":"^17"}}"#,
    )
    .unwrap();
    std::fs::write(repo.join(".gitignore"), "node_modules/\n").unwrap();
    let installed = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent"])
        .current_dir(&repo)
        .status();
    if !installed.is_ok_and(|s| s.success()) {
        println!("npm: skipped, `npm install` failed (no registry access?)");
        return;
    }
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "app"]);
    let ci = "npm ci --no-audit --no-fund --silent";
    let runs = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let settings = IsolationSettings::default();
    let (mut users, mut departments) = (Vec::new(), Vec::new());
    let mut disk = 0;
    for run in 0..runs {
        let start = Instant::now();
        let ok = Command::new("sh")
            .args(["-c", ci])
            .current_dir(&repo)
            .status()
            .unwrap();
        assert!(ok.success());
        users.push(start.elapsed());

        let made = worktrees::create(&CreateSpec {
            repo: &repo,
            zhongshu: "bench",
            session: &format!("npm-{run}"),
            base: None,
            scope: &[],
            settings: &settings,
        })
        .unwrap()
        .unwrap();
        let wt = PathBuf::from(&made.workspace.path);
        let start = Instant::now();
        let ran = setup::run_commands(
            &[ci.to_string()],
            &setup::RunIn {
                repo: &repo,
                worktree: &wt,
                session: "npm",
                timeout: Duration::from_secs(600),
                stopping: &|| false,
                env: caches::setup_env(Caches::Auto),
                start: None,
                limit: setup::SETUP_LIMIT,
            },
        );
        departments.push(start.elapsed());
        assert_eq!(ran.failure, None, "{}", ran.output);
        disk = du(&wt.join("node_modules"));
        let _ = worktrees::create::remove(&repo, &made.workspace, &no_teardown());
    }
    let (u, d) = (median(&mut users), median(&mut departments));
    println!("npm: express, lodash, chalk, commander, debug, yargs; median of {runs}");
    println!(
        "  user's `{ci}` with a warm cache {}, a department's set-up `{ci}` {}: {:.2}x \
         (target <= 1.2x)",
        secs(u),
        secs(d),
        ratio(d, u)
    );
    println!(
        "  disk: the department's node_modules {} MiB, the user's {} MiB (a full copy)",
        disk / MIB,
        du(&repo.join("node_modules")) / MIB
    );
}

fn no_teardown() -> worktrees::Teardown {
    worktrees::Teardown {
        commands: Vec::new(),
        timeout: Duration::from_secs(1),
    }
}

const MIB: u64 = 1024 * 1024;

fn write_workspace(repo: &Path, crates: usize, registry: bool) {
    std::fs::create_dir_all(repo).unwrap();
    let members: Vec<String> = (0..crates).map(|i| format!("\"crates/c{i:02}\"")).collect();
    std::fs::write(
        repo.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    )
    .unwrap();
    std::fs::write(repo.join(".gitignore"), "/target\n").unwrap();
    std::fs::write(repo.join(FIXTURE), "the user's\n").unwrap();
    let registry_deps = "serde = { version = \"1\", features = [\"derive\"] }\n\
         serde_json = \"1\"\nindexmap = \"2\"\nsmallvec = \"1\"\nmemchr = \"2\"\n\
         itoa = \"1\"\nlog = \"0.4\"\nonce_cell = \"1\"\n";
    for i in 0..crates {
        let dir = repo.join(format!("crates/c{i:02}/src"));
        std::fs::create_dir_all(&dir).unwrap();
        let earlier: Vec<usize> = [i.wrapping_sub(1), i / 2, i / 3]
            .into_iter()
            .filter(|&d| d < i)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut deps = String::new();
        for d in &earlier {
            deps.push_str(&format!("c{d:02} = {{ path = \"../c{d:02}\" }}\n"));
        }
        if registry {
            deps.push_str(registry_deps);
        }
        std::fs::write(
            dir.parent().unwrap().join("Cargo.toml"),
            format!(
                "[package]\nname = \"c{i:02}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                 [dependencies]\n{deps}"
            ),
        )
        .unwrap();
        let mut source = crate_source(i, &earlier, registry);
        if i == 0 {
            source.push_str(READS_ITS_MANIFEST_DIR);
        }
        std::fs::write(dir.join("lib.rs"), source).unwrap();
    }
}

/// Some hundred lines of ordinary code: serde types, functions over them,
/// calls into the crates it depends on, and a test.
fn crate_source(i: usize, earlier: &[usize], registry: bool) -> String {
    // The first crate depends on none: its `t` is never added to.
    let mut s = String::from("#![allow(unused_mut)]\n");
    for k in 0..12 {
        if registry {
            s.push_str("#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]\n");
        } else {
            s.push_str("#[derive(Debug, Clone, Default)]\n");
        }
        s.push_str(&format!(
            "pub struct Item{k} {{ pub id: u64, pub name: String, pub tags: Vec<String>, \
             pub score: f64 }}\n\
             impl Item{k} {{\n    pub fn weight(&self) -> f64 {{\n        \
             let mut w = self.score * {k}.0 + self.id as f64;\n        \
             for t in &self.tags {{ w += t.len() as f64; }}\n        w\n    }}\n}}\n"
        ));
    }
    s.push_str("pub fn total(n: u64) -> u64 {\n    let mut t = n;\n");
    for d in earlier {
        s.push_str(&format!(
            "    t = t.wrapping_add(c{d:02}::total(n / 2 + 1));\n"
        ));
    }
    s.push_str(&format!("    t.wrapping_mul({})\n}}\n", i + 1));
    if registry {
        s.push_str(
            "pub fn encode(item: &Item0) -> String { serde_json::to_string(item).unwrap() }\n\
             pub fn index(items: &[Item1]) -> indexmap::IndexMap<u64, String> {\n    \
             items.iter().map(|i| (i.id, i.name.clone())).collect()\n}\n\
             pub fn small(n: u8) -> smallvec::SmallVec<[u8; 8]> { (0..n).collect() }\n\
             pub fn find(hay: &[u8]) -> Option<usize> { memchr::memchr(b',', hay) }\n\
             pub fn digits(n: u64) -> String { itoa::Buffer::new().format(n).to_string() }\n\
             pub static NAME: once_cell::sync::Lazy<String> = \
             once_cell::sync::Lazy::new(|| { log::debug!(\"named\"); digits(7) });\n",
        );
    }
    s.push_str(
        "#[cfg(test)]\nmod tests {\n    #[test]\n    fn total_is_stable() { \
         assert_eq!(super::total(3), super::total(3)); }\n}\n",
    );
    s
}

/// A file at the workspace's root that the first crate's test includes.
const FIXTURE: &str = "fixture.txt";

/// Tests that find their files through `CARGO_MANIFEST_DIR` and include one
/// from outside their crate, as tests with fixtures do (cargo runs them in
/// their package's folder).
const READS_ITS_MANIFEST_DIR: &str = "#[cfg(test)]\n\
    mod manifest_dir {\n    #[test]\n    fn names_the_tree_it_runs_in() {\n        \
    let here = std::env::current_dir().unwrap().canonicalize().unwrap();\n        \
    let manifest = std::path::Path::new(env!(\"CARGO_MANIFEST_DIR\"));\n        \
    assert_eq!(manifest.canonicalize().unwrap(), here);\n    }\n    #[test]\n    \
    fn includes_the_fixture_of_the_tree_it_runs_in() {\n        \
    let read = std::fs::read_to_string(\"../../fixture.txt\").unwrap();\n        \
    assert_eq!(include_str!(\"../../../fixture.txt\"), read);\n    }\n}\n";

/// Appends one line to the file (a new function each time).
fn one_line_change(file: &Path) {
    let mut text = std::fs::read_to_string(file).unwrap();
    let n = text.matches("pub fn changed").count();
    text.push_str(&format!("pub fn changed{n}() -> u32 {{ 42 }}\n"));
    std::fs::write(file, text).unwrap();
}

fn cargo(dir: &Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    let status = Command::new("cargo")
        .args(args)
        .args(["--offline", "--quiet"])
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_INCREMENTAL", "1")
        .status()
        .unwrap();
    assert!(status.success(), "cargo {args:?} in {}", dir.display());
    start.elapsed()
}

/// `cargo <args>` in `ws`'s worktree shown at the user's tree's path
/// (`worktrees::at_users_path`, in a mount namespace of its own); `None`
/// where that cannot be made (not Linux, or no user namespace allowed).
fn cargo_at_users_path(
    repo: &Path,
    ws: &codex_governance::model::Workspace,
    args: &str,
) -> Option<Duration> {
    #[cfg(target_os = "linux")]
    {
        let shown = worktrees::at_users_path::prepare(repo, ws, &[]).ok()?;
        let mut cmd = Command::new("cargo");
        cmd.args(args.split(' '))
            .args(["--offline", "--quiet"])
            .env_remove("CARGO_TARGET_DIR")
            .env("CARGO_INCREMENTAL", "1");
        codex_governance::platform::mount_ns::bind(&mut cmd, &shown.binds, &shown.cwd).ok()?;
        let start = Instant::now();
        let status = cmd.status().ok()?;
        assert!(status.success(), "cargo {args} at the user's path");
        Some(start.elapsed())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (repo, ws, args);
        None
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=b", "-c", "user.email=b@b"])
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// Bytes of the regular files under `dir`.
fn du(dir: &Path) -> u64 {
    walkdir_sum(dir)
}

fn walkdir_sum(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => walkdir_sum(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

fn fs_type(dir: &Path) -> String {
    Command::new("df")
        .args(["--output=fstype"])
        .arg(dir)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().nth(1).map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(0.001)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
