//! `codex-governance worktrees [--prune]`: the departments' worktrees, and
//! their removal once integrated (through the running launcher when one runs).

use anyhow::Context;
use std::process::ExitCode;

use crate::{fail, out, root_of, state_dir_of};
use codex_governance::config::Config;
use codex_governance::instance::{self, InstanceError};
use codex_governance::store;
use codex_governance::worktrees::PruneError;

use crate::WorktreesArgs;

/// `codex-governance worktrees [--prune]`.
pub fn worktrees(args: WorktreesArgs) -> ExitCode {
    use codex_governance::worktrees::list;
    let root = match root_of(&args.locate.repo) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let dir = match state_dir_of(&root, args.locate.state_dir) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    if args.prune {
        let (keep_days, teardown) = match Config::load(&root) {
            Ok(c) => (
                c.launcher.isolation.keep_discarded_days,
                codex_governance::config_trust::teardown_of(&c),
            ),
            Err(e) => return fail(&e.to_string()),
        };
        let pruned = match codex_governance::worktrees::prune(&root, &dir, keep_days, &teardown) {
            Ok(p) => p,
            // A launcher runs here: it prunes, under its own locks.
            Err(PruneError::Instance(InstanceError::AlreadyRunning { .. })) => {
                match prune_through_launcher(&dir) {
                    Ok(p) => p,
                    Err(e) => return fail(&format!("{e:#}")),
                }
            }
            Err(e) => return fail(&e.to_string()),
        };
        for line in pruned.lines() {
            eprintln!("codex-governance: {line}");
        }
    }
    let snapshot = match store::load_snapshot(&dir) {
        Ok(s) => s,
        Err(e) => return fail(&format!("{}: {e:#}", dir.display())),
    };
    let listed = list::list(&snapshot.state, &root);
    if args.json {
        let text = serde_json::to_string_pretty(&listed).expect("the list serializes");
        return out(&text, ExitCode::SUCCESS);
    }
    out(&list::render(&listed), ExitCode::SUCCESS)
}

/// `worktrees --prune` while a launcher runs: it prunes, and says what.
fn prune_through_launcher(
    dir: &std::path::Path,
) -> anyhow::Result<codex_governance::worktrees::Pruned> {
    let Some(launcher) = instance::running(dir) else {
        anyhow::bail!(
            "a launcher holds {} but has not said where it listens; try again in a moment",
            dir.display()
        );
    };
    let answer = codex_governance::launcher_client::post(
        &launcher,
        "/api/worktrees/prune",
        &serde_json::json!({}),
    )
    .with_context(|| format!("pruning through the launcher at {}", launcher.url))?;
    serde_json::from_value(answer).context("the launcher's answer")
}
