//! What the API shows of one session: the stored record plus live values
//! (heartbeat, idle time, transcript preview, terminal URL, unread counts).

use std::time::Duration;

use serde_json::{json, Value};

use super::heartbeat::heartbeat;
use super::Sessions;
use crate::pty::preview;
use std::collections::HashMap;

use crate::model::{Session, State, TerminalStatus};

/// Bytes of output the preview looks at.
const PREVIEW_BYTES: usize = 4096;
const PREVIEW_LINES: usize = 8;

impl Sessions {
    /// One session as the API shows it.
    pub fn session_view(
        &self,
        state: &State,
        unread: &HashMap<String, usize>,
        session: &Session,
    ) -> Value {
        let mut v = serde_json::to_value(session).unwrap_or_else(|_| json!({}));
        let obj = v.as_object_mut().expect("session is an object");
        obj.remove("closing");
        let pty = self.pty(&session.id);
        let stale = Duration::from_secs(self.ctx.config.launcher.department_stale_seconds);
        let hb = heartbeat(
            session.is_running(),
            pty.as_ref().and_then(|p| p.last_output()),
            stale,
        );
        obj.insert("heartbeat_status".into(), hb.status.into());
        obj.insert("idle_seconds".into(), json!(hb.idle_seconds));
        if let Some(t) = pty.as_ref().and_then(|p| p.last_output_wall()) {
            let t = chrono::DateTime::<chrono::Local>::from(t);
            obj.insert("last_activity_at".into(), crate::clock::rfc3339(&t).into());
        }
        let preview_text = match &pty {
            Some(p) => preview(&p.tail(PREVIEW_BYTES), PREVIEW_LINES),
            None => log_preview(&session.log_path),
        };
        obj.insert("transcript_preview".into(), preview_text.into());
        let terminal = session
            .browser_terminal_id
            .as_deref()
            .and_then(|t| state.terminals.get(t));
        obj.insert(
            "browser_terminal_url".into(),
            json!(terminal
                .filter(|t| t.status != TerminalStatus::Closed)
                .map(|t| &t.url)),
        );
        obj.insert(
            "browser_terminal_status".into(),
            json!(terminal.map(|t| &t.status)),
        );
        obj.insert(
            "browser_terminal_kind".into(),
            json!(terminal.map(|t| &t.kind)),
        );
        obj.insert(
            "browser_terminal_started_at".into(),
            json!(terminal.map(|t| &t.started_at)),
        );
        // The Python tool's word: a session's own terminal.
        obj.insert(
            "browser_terminal_scope".into(),
            json!(terminal.map(|_| "session")),
        );
        obj.insert(
            "browser_terminal_title".into(),
            json!(terminal.map(|t| &t.title)),
        );
        if session.is_zhongshu() {
            let children: Vec<&str> = state
                .children_of(&session.id)
                .map(|c| c.id.as_str())
                .collect();
            obj.insert("child_department_ids".into(), json!(children));
            obj.insert(
                "unread_result_count".into(),
                unread.get(&session.id).copied().unwrap_or(0).into(),
            );
            let plan_status = state
                .plans
                .get(&session.id)
                .map(|p| p.status)
                .unwrap_or(crate::model::PlanStatus::None);
            obj.insert("plan_status".into(), json!(plan_status));
        }
        if session.is_department() {
            // SPEC 6: these are always present on a department (null until set).
            for key in ["reported_at", "last_report_id", "auto_close_reason"] {
                obj.entry(key).or_insert(Value::Null);
            }
        }
        v
    }

    /// One session as JSON, for answers.
    pub fn session_json(&self, id: &str) -> Value {
        let unread = self.ctx.store.unread_counts().unwrap_or_default();
        self.ctx.store.read(|s| {
            s.sessions
                .get(id)
                .map(|x| self.session_view(s, &unread, x))
                .unwrap_or(Value::Null)
        })
    }
}

/// Preview from the transcript file of a session whose PTY is gone.
fn log_preview(path: &str) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(PREVIEW_BYTES as u64)));
    let mut buf = Vec::new();
    let _ = f.take(PREVIEW_BYTES as u64).read_to_end(&mut buf);
    preview(&buf, PREVIEW_LINES)
}
