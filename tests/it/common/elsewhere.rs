//! A department that works elsewhere (on an ssh host, or in a container
//! reached through a provider's line): the launcher's word on the host once
//! its pre-flight ran, the department's worktree there, its work fetched
//! back, merged here, and its worktree there removed once settled.
#![allow(dead_code)]

use std::path::Path;

use serde_json::{json, Value};

use super::scenario::Codex;

/// The status's word on the first host of `launcher.remotes` (`name`) once
/// its pre-flight ran: ready, refused or unreachable.
pub async fn host_checked(c: &Codex, name: &str) -> Value {
    let status = c
        .api()
        .wait_status(&format!("{name} checked"), |s| {
            s["remotes"][0]["state"]
                .as_str()
                .is_some_and(|w| ["ready", "refused", "unreachable"].contains(&w))
        })
        .await;
    status["remotes"][0].clone()
}

/// The worktree there of department `dept`, beside the host's clone `clone`.
pub fn worktree_there(clone: &str, dept: &str) -> String {
    format!("{clone}.governance/{dept}")
}

/// `dept`'s work fetched back from `host`, out of its worktree `there`:
/// the audit line.
pub async fn fetched_from(c: &Codex, dept: &str, host: &str, there: &str) -> Value {
    let fetched = c
        .wait_audit("remote_work_fetched", |e| e["session_id"] == dept)
        .await;
    assert_eq!(fetched["host"], host, "{fetched}");
    assert_eq!(fetched["remote_path"], there, "{fetched}");
    fetched
}

/// Waits until `dept`'s agent is closed (after its report).
pub async fn closed(c: &Codex, dept: &str) {
    c.wait_agent(dept, "closed", |s| s["agent_state"] == "exited")
        .await;
}

/// `dept`'s work integrated here in `mode` (`apply`, `merge`).
pub async fn integrated(c: &Codex, dept: &str, mode: &str) {
    c.api()
        .post_ok("/api/integrate", &json!({"session_id": dept, "mode": mode}))
        .await;
}

/// The text of `file` in the last commit of the repository at `repo` (""
/// when it has none).
pub fn committed_text(repo: &Path, file: &str) -> String {
    let shown = std::process::Command::new("git")
        .args(["show", &format!("HEAD:{file}")])
        .current_dir(repo)
        .output()
        .unwrap();
    String::from_utf8_lossy(&shown.stdout).into_owned()
}

/// `dept`'s work merged here: `file` holds `text` in the last commit.
pub async fn merged_here(c: &Codex, dept: &str, file: &str, text: &str) {
    integrated(c, dept, "merge").await;
    assert_eq!(committed_text(&c.repo.path, file), text, "{file}");
}

/// Settled, `dept`'s worktree there is removed (its audit line).
pub async fn removed_there(c: &Codex, dept: &str) -> Value {
    c.wait_audit("remote_worktree_removed", |e| e["session_id"] == dept)
        .await
}
