//! What the API shows of sessions: the stored record plus live values (heartbeat,
//! idle time, transcript preview, terminal URL, unread counts).

use std::time::Duration;

use serde_json::{json, Value};

use super::heartbeat::heartbeat;
use crate::launcher::Launcher;
use crate::pty::preview;
use std::collections::HashMap;

use crate::model::{Session, State, TerminalStatus};

/// Bytes of output the preview looks at.
const PREVIEW_BYTES: usize = 4096;
const PREVIEW_LINES: usize = 8;

pub const API_VERSION: u32 = 8;

/// How stale the status may be when only agent output changed (previews, idle times).
const OUTPUT_STALENESS: Duration = Duration::from_millis(250);

/// The last `/api/status` body and what it was built from. It is rebuilt when the
/// state, the audit log or the clock's second changed, or when agent output changed
/// and the body is older than `OUTPUT_STALENESS`; one request rebuilds, the others wait.
#[derive(Default)]
pub struct StatusCache {
    entry: std::sync::Mutex<Option<CachedStatus>>,
}

struct CachedStatus {
    key: [u64; 3],
    output: u64,
    built: std::time::Instant,
    body: bytes::Bytes,
}

impl Launcher {
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
        let stale = Duration::from_secs(self.config.launcher.department_stale_seconds);
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

    /// `GET /api/status` as JSON bytes, from the cache when nothing relevant changed.
    pub fn status_bytes(&self) -> bytes::Bytes {
        let output: u64 = self
            .live_ptys()
            .iter()
            .map(|(_, p)| p.total_output_bytes())
            .sum();
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let key = [
            self.store.version(),
            self.store.audit_log().last_seq(),
            second,
        ];
        let mut entry = self.status_cache.entry.lock().unwrap();
        if let Some(c) = entry.as_ref() {
            if c.key == key && (c.output == output || c.built.elapsed() < OUTPUT_STALENESS) {
                return c.body.clone();
            }
        }
        let body = bytes::Bytes::from(serde_json::to_vec(&self.status_view()).unwrap_or_default());
        *entry = Some(CachedStatus {
            key,
            output,
            built: std::time::Instant::now(),
            body: body.clone(),
        });
        body
    }

    /// `GET /api/status`.
    pub fn status_view(&self) -> Value {
        let state = self.store.read(State::clone);
        let unread = self.unread_counts();
        let l = &self.config.launcher;
        let sessions: Vec<Value> = state
            .sessions
            .values()
            .rev()
            .map(|s| self.session_view(&state, &unread, s))
            .collect();
        let pick = |kind: &str| -> Vec<Value> {
            sessions
                .iter()
                .filter(|s| s["session_kind"] == kind)
                .cloned()
                .collect()
        };
        let active_departments = state.sessions.values().filter(|s| s.holds_slot()).count();
        let active_zhongshu = state
            .sessions
            .values()
            .filter(|s| s.is_zhongshu() && s.is_running())
            .count();
        let departments: Vec<Value> = self
            .config
            .assignable_departments()
            .iter()
            .map(|d| json!({"key": d.key, "title": d.title, "duty": d.duty, "globs": d.globs, "verify": d.verify}))
            .collect();
        json!({
            "ok": true,
            "api_version": API_VERSION,
            "repo": self.repo.display().to_string(),
            "project_name": l.project_name,
            "workflow_doc": l.workflow_doc,
            "departments": departments,
            "active_zhongshu_sessions": active_zhongshu,
            "active_department_sessions": active_departments,
            "queued_count": state.queue.len(),
            "max_department_sessions": l.max_departments,
            "model_choices": l.models,
            "zhongshu_model": l.zhongshu_model,
            "department_model": l.department_model,
            "require_plan_confirmation": l.require_plan_confirmation,
            "terminal_shells": l.terminal_shells,
            "queue": state.queue,
            "browser_terminals": state.terminals.values().filter(|t| t.status != TerminalStatus::Closed).collect::<Vec<_>>(),
            "zhongshu_sessions": pick("zhongshu"),
            "department_sessions": pick("department"),
            "sessions": sessions,
            "audit_seq": self.store.audit_log().last_seq(),
            "audit_chain_problem": self.audit_chain_problem(),
            "mailbox_ingestion": self
                .mailbox
                .watchdog
                .health(crate::mailbox::watchdog::STUCK_AFTER)
                .to_json(),
        })
    }

    /// `GET /api/status` for an agent's token: no terminal URLs (each carries a
    /// token that reaches a PTY) and no terminal list.
    pub fn status_for_agents(&self) -> Value {
        let mut v = self.status_view();
        if let Some(obj) = v.as_object_mut() {
            obj.remove("browser_terminals");
            for list in ["sessions", "zhongshu_sessions", "department_sessions"] {
                for s in obj
                    .get_mut(list)
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(s) = s.as_object_mut() {
                        s.remove("browser_terminal_url");
                    }
                }
            }
        }
        v
    }

    /// `GET /api/zhongshu_sessions`: each with its children and unread count.
    pub fn zhongshu_sessions_view(&self) -> Value {
        let state = self.store.read(State::clone);
        let unread = self.unread_counts();
        let list: Vec<Value> = state
            .sessions
            .values()
            .rev()
            .filter(|s| s.is_zhongshu())
            .map(|z| {
                let mut v = self.session_view(&state, &unread, z);
                let children: Vec<Value> = state
                    .children_of(&z.id)
                    .map(|c| self.session_view(&state, &unread, c))
                    .collect();
                v["children"] = json!(children);
                v
            })
            .collect();
        json!({"ok": true, "sessions": list, "zhongshu_sessions": list})
    }

    /// `GET /api/zhongshu_context`: what a restart needs.
    pub fn zhongshu_context_view(&self, id: &str) -> Value {
        let state = self.store.read(State::clone);
        let unread = self.unread_counts();
        let Some(z) = state.sessions.get(id) else {
            return json!({"ok": false, "error": format!("no session {id}")});
        };
        let children: Vec<Value> = state
            .children_of(id)
            .map(|c| self.session_view(&state, &unread, c))
            .collect();
        let results = match self.store.results_page(id, 20, None) {
            Ok(page) => page.results,
            Err(e) => return json!({"ok": false, "error": e.to_string()}),
        };
        json!({
            "ok": true,
            "session": self.session_view(&state, &unread, z),
            "task": z.task,
            "plan": state.plans.get(id),
            "recent_results": results,
            "children": children,
        })
    }

    /// Unread results per Zhongshu (none shown when the database cannot be read).
    fn unread_counts(&self) -> HashMap<String, usize> {
        self.store.unread_counts().unwrap_or_else(|e| {
            tracing::error!("unread counts: {e}");
            HashMap::new()
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
