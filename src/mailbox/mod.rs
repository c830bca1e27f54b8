//! The department mailbox (being written).

pub mod send;

use std::sync::Arc;

use crate::launcher::Launcher;

/// Runtime handles of the mailbox watcher.
#[derive(Default)]
pub struct MailboxRuntime {}

pub async fn start(_launcher: &Arc<Launcher>) {}

pub fn watch_zhongshu(_launcher: &Arc<Launcher>, _id: &str) {}

pub fn department_exited(_launcher: &Arc<Launcher>, _id: &str) {}

use crate::launcher::{LResult, LauncherError};
use serde_json::Value;

impl Launcher {
    pub fn inbox_view(&self, _id: &str, _peek: bool) -> LResult<Value> {
        Err(LauncherError::Internal("not yet".into()))
    }
    pub async fn restart_zhongshu(self: &Arc<Self>, _id: &str, _model: Option<&str>) -> LResult<Value> {
        Err(LauncherError::Internal("not yet".into()))
    }
    pub async fn notify_zhongshu_request(self: &Arc<Self>, _b: crate::web::NotifyInput) -> LResult<Value> {
        Err(LauncherError::Internal("not yet".into()))
    }
}
