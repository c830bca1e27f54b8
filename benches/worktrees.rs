//! Creating a department's worktree on the 44k-file repository of the report
//! bench (issue 26 asks for at most 2 s), beside `git worktree add` of the
//! same commit measured in the same run.
//!
//! Three ways, alternately, each removed again after its run:
//! - ours, full: every file checked out (`launcher.worktree_checkout: full`);
//! - ours, sparse: a department with a scope of one top folder's module (what
//!   `auto` does above 10,000 files): its scope, the root files, the rest in
//!   the index as skip-worktree;
//! - reference: `git worktree add --detach` (the git CLI, full checkout).
//!
//! `BENCH_RUNS` sets the number of timed runs per way (default 5).

#[path = "common/repo44k.rs"]
mod repo44k;

#[path = "common/quick.rs"]
mod quick;

use std::path::Path;
use std::time::{Duration, Instant};

use codex_governance::config::{Checkout, IsolationSettings};
use codex_governance::worktrees::{self, CreateSpec};

fn main() {
    quick::announce("worktrees");
    let runs = repo44k::runs(5);
    let repo = repo44k::bench_repo();
    let scope = vec!["src/mod0/**".to_string()];
    let full = IsolationSettings {
        checkout: Checkout::Full,
        ..Default::default()
    };
    let auto = IsolationSettings::default();
    let reference = repo.parent().unwrap().join("report-44k-reference-wt");

    let ours = |n: usize, settings: &IsolationSettings, scope: &[String]| {
        let session = format!("bench-{n}");
        let start = Instant::now();
        let made = worktrees::create(&CreateSpec {
            repo: &repo,
            zhongshu: "bench",
            session: &session,
            base: None,
            scope,
            settings,
        })
        .expect("create")
        .expect("the repository has a commit");
        let took = start.elapsed();
        worktrees::create::undo(&repo, &made.workspace).expect("undo");
        (took, made.checked_out, made.total)
    };
    let git_cli = || {
        let start = Instant::now();
        repo44k::git(
            &repo,
            &[
                "worktree",
                "add",
                "-q",
                "--detach",
                path(&reference),
                "HEAD",
            ],
        );
        let took = start.elapsed();
        repo44k::git(&repo, &["worktree", "remove", "--force", path(&reference)]);
        took
    };

    // Warm-up: page cache and pack, and what each way checks out.
    let (_, full_files, total) = ours(0, &full, &[]);
    let (_, sparse_files, _) = ours(0, &auto, &scope);
    git_cli();
    println!(
        "repo {}: {total} files in HEAD; full checks out {full_files}, sparse ({}) {sparse_files}",
        repo.display(),
        scope.join(", ")
    );

    let (mut f, mut s, mut g) = (Vec::new(), Vec::new(), Vec::new());
    for n in 1..=runs {
        f.push(ours(n, &full, &[]).0);
        s.push(ours(n, &auto, &scope).0);
        g.push(git_cli());
    }
    let line = |what: &str, times: &mut Vec<Duration>| {
        times.sort();
        println!(
            "{what}: median {:.0} ms, min {:.0} ms",
            ms(times[times.len() / 2]),
            ms(times[0])
        );
        times[times.len() / 2]
    };
    let fm = line("ours, full checkout", &mut f);
    let sm = line("ours, sparse (the default for a scoped department)", &mut s);
    let gm = line("reference: git worktree add --detach (full)", &mut g);
    println!(
        "ratio to git worktree add (median): full {:.2}, sparse {:.2}; target <= 2000 ms; {runs} runs each",
        ms(fm) / ms(gm),
        ms(sm) / ms(gm)
    );
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
