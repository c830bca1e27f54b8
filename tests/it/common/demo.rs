//! The README's demo, started as it says: `codex-governance demo` run the way
//! `cargo run --release -- demo` runs it, and the repository it names on
//! stderr.
#![allow(dead_code)]

use std::path::PathBuf;

use super::launcher::{
    base_command, fake_agent, spawn_until_ready, wait_until, Subprocess, PATIENCE,
};

/// Starts the demo and waits until its stderr says `ready` (the words that
/// tell the user what to press). Returns the launcher, the demo repository
/// it named, and all it said.
pub async fn start_demo(ready: &str) -> (Subprocess, PathBuf, String) {
    start_demo_with(ready, &[]).await
}

/// [`start_demo`] with more arguments for `demo` (`--dir DIR`).
pub async fn start_demo_with(ready: &str, args: &[&str]) -> (Subprocess, PathBuf, String) {
    fake_agent();
    let mut cmd = base_command();
    cmd.arg("demo").args(args);
    // Under Wine the Linux cargo cannot run: the agent beside the binary is used.
    if cfg!(windows) {
        cmd.env_remove("CARGO");
    }
    let l = spawn_until_ready(cmd);
    let said = wait_until("the demo repository named", PATIENCE, || async {
        let err = l.stderr();
        err.contains(ready).then_some(err)
    })
    .await;
    let repo = said
        .split("demo repository at ")
        .nth(1)
        .and_then(|rest| rest.split(" (it stays").next())
        .map(|named| named.trim_end_matches(", as you left it"))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no demo repository named: {said}"));
    (l, repo, said)
}

/// The demo repository and the worktrees folder beside it
/// (`<repo>.worktrees`), removed when the test ends, failed or not.
pub struct DemoRepo(pub PathBuf);

impl Drop for DemoRepo {
    fn drop(&mut self) {
        let mut worktrees = self.0.clone().into_os_string();
        worktrees.push(".worktrees");
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_dir_all(worktrees);
    }
}
