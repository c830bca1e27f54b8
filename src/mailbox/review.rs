//! A result for review in the dashboard's drawer: its handoff packet as
//! Markdown and as safe HTML, and the report as it was received. Only files
//! inside the Zhongshu's own mailbox folder are read, without following links,
//! and at most 1 MiB of each.

use std::path::Path;

use serde::Serialize;

use super::render_html::safe_html;
use super::safe_read::read_regular;
use super::Mailbox;
use crate::error::{LResult, LauncherError};
use crate::model::{result_key, TaskResult};

/// Bytes read of a packet or a report file at most.
const MAX_READ: u64 = 1024 * 1024;

/// `GET /api/handoff`.
#[derive(Debug, Serialize)]
pub struct HandoffView {
    pub result: TaskResult,
    /// The packet's Markdown, and rendered with all raw HTML escaped.
    pub markdown: Option<String>,
    pub html: Option<String>,
    /// The mailbox JSON as received (a fallback has none: the stored result).
    pub raw: String,
    pub raw_source: &'static str,
}

impl Mailbox {
    pub fn handoff_view(
        &self,
        parent: &str,
        department_session_id: &str,
        report_id: &str,
    ) -> LResult<HandoffView> {
        let key = result_key(parent, department_session_id, report_id);
        let result = self.ctx.store.result(&key)?.ok_or_else(|| {
            LauncherError::NotFound(format!(
                "no result {report_id} of {department_session_id} for {parent}"
            ))
        })?;
        let root = self.ctx.paths.mailbox(parent).root;
        let read = |path: Option<&str>| -> LResult<Option<String>> {
            let Some(path) = path else { return Ok(None) };
            let path = Path::new(path);
            if !inside(&root, path) {
                return Err(LauncherError::BadRequest(format!(
                    "{} is outside the mailbox of {parent}",
                    path.display()
                )));
            }
            match read_regular(path, MAX_READ) {
                Ok(r) => Ok(Some(String::from_utf8_lossy(&r.bytes).into_owned())),
                Err(e) => Err(LauncherError::NotFound(format!("{}: {e}", path.display()))),
            }
        };
        let markdown = read(result.handoff_packet.as_deref())?;
        let (raw, raw_source) = match read(result.mailbox_file.as_deref()) {
            Ok(Some(text)) => (text, "mailbox_file"),
            _ => (
                serde_json::to_string_pretty(&result).unwrap_or_default(),
                "stored_result",
            ),
        };
        Ok(HandoffView {
            html: markdown.as_deref().map(safe_html),
            markdown,
            raw,
            raw_source,
            result,
        })
    }
}

/// Whether `path` is inside `root` once both are resolved.
fn inside(root: &Path, path: &Path) -> bool {
    match (root.canonicalize(), path.canonicalize()) {
        (Ok(root), Ok(path)) => path.starts_with(root),
        _ => false,
    }
}
