//! Creating a department's worktree on the 44k-file repository of the report
//! bench (issue 36 asks for a full one in at most 0.3x the time of `git
//! worktree add`), beside `git worktree add` of the same commit measured in
//! the same run.
//!
//! Four ways, alternately, each removed again after its run (as departments'
//! worktrees come and go, each is made where files were just deleted):
//! - ours, full: every file checked out (`launcher.worktree_checkout: full`);
//! - ours, sparse: a department with a scope of one top folder's module (what
//!   `auto` does above 10,000 files): its scope, the root files, the rest in
//!   the index as skip-worktree;
//! - reference: `git worktree add --detach` (the git CLI, full checkout)
//!   beside the repository, where a user would put it;
//! - second reference: the same git command into our worktrees folder, which
//!   is marked for the file system's allocator (see
//!   `platform::spread_subfolders`): what of our lead is the folder's, and
//!   what the parallel writing's.
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
    let reference_in_ours = worktrees::root_for(&repo).join("git-reference");

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
    let git_cli = |at: &Path| {
        let start = Instant::now();
        repo44k::git(
            &repo,
            &["worktree", "add", "-q", "--detach", path(at), "HEAD"],
        );
        let took = start.elapsed();
        repo44k::git(&repo, &["worktree", "remove", "--force", path(at)]);
        took
    };

    // Warm-up: page cache and pack, and what each way checks out.
    let (_, full_files, total) = ours(0, &full, &[]);
    let (_, sparse_files, _) = ours(0, &auto, &scope);
    git_cli(&reference);
    git_cli(&reference_in_ours);
    println!(
        "repo {}: {total} files in HEAD; full checks out {full_files}, sparse ({}) {sparse_files}",
        repo.display(),
        scope.join(", ")
    );

    let (mut f, mut s, mut g, mut h) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for n in 1..=runs {
        f.push(ours(n, &full, &[]).0);
        g.push(git_cli(&reference));
        s.push(ours(n, &auto, &scope).0);
        h.push(git_cli(&reference_in_ours));
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
    let gm = line(
        "reference: git worktree add --detach (full), beside the repository",
        &mut g,
    );
    let hm = line(
        "second reference: the same, into our worktrees folder",
        &mut h,
    );
    println!(
        "ratio to git worktree add (median): full {:.2} (target <= 0.30), sparse {:.2}; \
         to git into our folder: full {:.2}; {runs} runs each",
        ms(fm) / ms(gm),
        ms(sm) / ms(gm),
        ms(fm) / ms(hm)
    );
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
