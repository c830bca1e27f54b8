//! The command line asking the launcher that runs on a state folder: the
//! address and the developer's token come from its owner-only launcher file,
//! and only a loopback address is called. For commands that must not work
//! beside the launcher but through it (`worktrees --prune`).

use serde_json::Value;

use crate::instance::LauncherFile;
use crate::mailbox::client::submit::{loopback_authority, post_json};

/// `POST path` with `body` as the developer; the launcher's JSON answer, or
/// its refusal as the error.
pub fn post(launcher: &LauncherFile, path: &str, body: &Value) -> anyhow::Result<Value> {
    let authority = loopback_authority(&launcher.url)?;
    match post_json(&authority, &launcher.token, path, serde_json::to_vec(body)?)? {
        Some(answer) => answer.accepted(&format!("POST {path}")),
        None => anyhow::bail!("the launcher at {authority} does not answer"),
    }
}
