//! "Resume plan": a plan whose departments the launcher's stop cut off (PTY
//! agents cannot outlive it) goes on. Its planner comes back (the same one
//! when it runs; a Codex planner on its thread; a PTY planner as a new
//! session under the same plan), and each cut-off assignment is queued
//! again under it, in plan order, in its own worktree.

use std::sync::Arc;

use serde::Serialize;

use super::Launcher;
use crate::error::{LResult, LauncherError};
use crate::model::QueueItem;

/// What Resume plan did.
#[derive(Debug, Serialize)]
pub struct ResumedPlan {
    /// The planner that runs the plan now.
    pub planner: String,
    /// The cut-off assignments queued again, in plan order.
    pub queued: Vec<QueueItem>,
}

/// `POST /api/resume_plan`.
pub async fn resume_plan(l: &Arc<Launcher>, zhongshu: &str) -> LResult<ResumedPlan> {
    let z = l.sessions.require_zhongshu(zhongshu)?;
    let cut_off = l.dispatcher.cut_off(zhongshu);
    let running = if z.is_running() {
        Some(zhongshu.to_string())
    } else {
        l.dispatcher.resumed_by(zhongshu)
    };
    if cut_off.is_empty() {
        return Err(LauncherError::Conflict(match running {
            Some(p) => format!("nothing of {zhongshu}'s plan is cut off: {p} runs it"),
            None => format!("nothing of {zhongshu}'s plan was cut off by a stop"),
        }));
    }
    let planner = match running {
        Some(p) => p,
        None => l.mailbox.restart_zhongshu(zhongshu, None).await?.session_id,
    };
    let queued = l.dispatcher.resume_cut_off(&cut_off).await?;
    Ok(ResumedPlan { planner, queued })
}
