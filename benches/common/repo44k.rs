//! The benches' 44k-file repository (8 tops x 10 x 10 folders, each with 45
//! files and a sub-folder of 10), with 2,000 modified and 1,000 untracked
//! files. Built once with the `git` CLI (for speed) under
//! `target/bench-repos/` and reused.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const TOPS: [(&str, &str); 8] = [
    ("src", "rs"),
    ("docs", "md"),
    ("tools", "py"),
    ("tests", "rs"),
    ("lib", "ts"),
    ("assets", "txt"),
    ("scripts", "sh"),
    ("packages", "js"),
];
/// 8 tops × 10 × 10 folders, each with 45 files and a sub-folder of 10: 44,000 files.
pub const FILES_PER_DIR: usize = 45;
pub const FILES_PER_SUBDIR: usize = 10;
pub const MODIFIED: usize = 2_000;
pub const UNTRACKED: usize = 1_000;

/// `BENCH_RUNS`, the number of timed runs per side, else `default`.
pub fn runs(default: usize) -> usize {
    if crate::quick::on() {
        return 1;
    }
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// The cached repository, built on first use.
pub fn bench_repo() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let base = target.join("bench-repos");
    // Quick runs (see quick.rs) get a small tree of the same shape.
    let (name, folders, modified, untracked) = if crate::quick::on() {
        ("report-quick", 2, 20, 10)
    } else {
        ("report-44k", 10, MODIFIED, UNTRACKED)
    };
    let repo = base.join(name);
    let ready = base.join(format!("{name}.ready"));
    if ready.exists() && repo.join(".git").exists() {
        return repo;
    }
    let _ = std::fs::remove_dir_all(&repo);
    std::fs::create_dir_all(&repo).unwrap();
    eprintln!("building {} (once)...", repo.display());
    let start = Instant::now();

    let mut all = Vec::new();
    for (top, ext) in TOPS {
        for a in 0..folders {
            for b in 0..folders {
                let dir = format!("{top}/mod{a}/part{b}");
                for f in 0..FILES_PER_DIR {
                    all.push(format!("{dir}/file{f:02}.{ext}"));
                }
                for f in 0..FILES_PER_SUBDIR {
                    all.push(format!("{dir}/inner/leaf{f}.{ext}"));
                }
            }
        }
    }
    for (i, rel) in all.iter().enumerate() {
        write(
            &repo.join(rel),
            &format!("// {rel}\nline {i}\n{}\n", "x".repeat(i % 300)),
        );
    }
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "44k files"]);
    git(&repo, &["repack", "-a", "-d", "-q"]);
    git(&repo, &["prune"]);

    // 2,000 modified files spread over the tree, 1,000 untracked (half in new folders).
    let step = all.len() / modified;
    for rel in all.iter().step_by(step).take(modified) {
        let path = repo.join(rel);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("modified\n");
        std::fs::write(&path, text).unwrap();
    }
    for i in 0..untracked {
        let rel = if i % 2 == 0 {
            let (top, ext) = TOPS[i % TOPS.len()];
            format!("{top}/mod{}/part{}/new{i}.{ext}", i % 10, (i / 10) % 10)
        } else {
            format!("generated/batch{}/deep{}/new{i}.txt", i % 7, i % 13)
        };
        write(&repo.join(rel), &format!("untracked {i}\n"));
    }
    // Let the index's timestamps settle so neither side pays for racy entries.
    std::thread::sleep(Duration::from_millis(1100));
    let _ = Command::new("git")
        .args(["update-index", "-q", "--refresh"])
        .current_dir(&repo)
        .status();
    std::fs::write(&ready, "").unwrap();
    eprintln!("built in {:.1} s", start.elapsed().as_secs_f64());
    repo
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

pub fn git(repo: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
        ])
        .args(["-c", "commit.gpgsign=false", "-c", "gc.auto=0"])
        .args(args)
        .current_dir(repo)
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?} failed");
}
