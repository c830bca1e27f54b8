//! The audit log as the tests read it: one event's lines, now or once
//! there are enough (the log is appended after the store change the API
//! already shows, so a test waits for a line rather than reading it at once).
#![allow(dead_code)]

use serde_json::Value;

use super::launcher::{wait_until, TestRepo, PATIENCE};

/// The audit log's lines of `event`.
pub fn audited(repo: &TestRepo, event: &str) -> Vec<Value> {
    super::mailbox::audit_lines(&repo.state_dir())
        .into_iter()
        .filter(|l| l["event"] == event)
        .collect()
}

/// The same, once there are `n`.
pub async fn audited_once(repo: &TestRepo, event: &str, n: usize) -> Vec<Value> {
    wait_until(&format!("{n} {event} lines"), PATIENCE, || async {
        let lines = audited(repo, event);
        (lines.len() >= n).then_some(lines)
    })
    .await
}
