//! What the API shows of the whole launcher: the status (cached), the status an
//! agent may see, Zhongshu sessions with their departments, and a Zhongshu's
//! context for a restart.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::status_cache::{CachedStatus, OUTPUT_STALENESS};
use super::Launcher;
use crate::model::{State, TerminalStatus};

pub const API_VERSION: u32 = 8;

impl Launcher {
    /// `GET /api/status` as JSON bytes, from the cache when nothing relevant changed.
    pub fn status_bytes(&self) -> bytes::Bytes {
        let output: u64 = self
            .sessions
            .live_ptys()
            .iter()
            .map(|(_, p)| p.total_output_bytes())
            .sum();
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let key = [
            self.ctx.store.version(),
            self.ctx.store.audit_log().last_seq(),
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
        let state = self.ctx.store.read(State::clone);
        let unread = self.unread_counts();
        let l = &self.ctx.config.launcher;
        let sessions: Vec<Value> = state
            .sessions
            .values()
            .rev()
            .map(|s| self.sessions.session_view(&state, &unread, s))
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
            .ctx
            .config
            .assignable_departments()
            .iter()
            .map(|d| json!({"key": d.key, "title": d.title, "duty": d.duty, "globs": d.globs, "verify": d.verify}))
            .collect();
        // The Python tool's `departments`: key -> [title, duty].
        let department_prompts: serde_json::Map<String, Value> = self
            .ctx
            .config
            .assignable_departments()
            .iter()
            .map(|d| (d.key.clone(), json!([d.title, d.duty])))
            .collect();
        json!({
            "ok": true,
            "api_version": API_VERSION,
            "repo": self.ctx.repo.display().to_string(),
            "project_name": l.project_name,
            "workflow_doc": l.workflow_doc,
            "departments": department_prompts,
            "department_list": departments,
            "active_zhongshu_sessions": active_zhongshu,
            "active_department_sessions": active_departments,
            "active_terminals": active_departments,
            "active_sessions_total": active_departments + active_zhongshu,
            "queued_count": state.queue.len(),
            "max_department_sessions": l.max_departments,
            "max_terminals": l.max_departments,
            "department_queue": state.queue,
            // The Python tool used ttyd; terminals are built in here.
            "ttyd": {"available": false, "builtin_terminals": true},
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
            "audit_seq": self.ctx.store.audit_log().last_seq(),
            "audit_chain_problem": self.audit_chain_problem(),
            "mailbox_ingestion": self.mailbox.ingestion_health().to_json(),
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
        let state = self.ctx.store.read(State::clone);
        let unread = self.unread_counts();
        let list: Vec<Value> = state
            .sessions
            .values()
            .rev()
            .filter(|s| s.is_zhongshu())
            .map(|z| {
                let mut v = self.sessions.session_view(&state, &unread, z);
                let children: Vec<Value> = state
                    .children_of(&z.id)
                    .map(|c| self.sessions.session_view(&state, &unread, c))
                    .collect();
                let queued: Vec<_> = state
                    .queue
                    .iter()
                    .filter(|q| q.parent_session_id.as_deref() == Some(z.id.as_str()))
                    .collect();
                v["child_departments"] = json!(children);
                v["children"] = json!(children);
                v["queued_departments"] = json!(queued);
                v["report_count"] = json!(self.ctx.store.result_count(&z.id).unwrap_or(0));
                v
            })
            .collect();
        let l = &self.ctx.config.launcher;
        json!({
            "ok": true,
            "sessions": list,
            "zhongshu_sessions": list,
            "active_zhongshu_sessions": state.sessions.values().filter(|s| s.is_zhongshu() && s.is_running()).count(),
            "active_department_sessions": state.sessions.values().filter(|s| s.holds_slot()).count(),
            "max_department_sessions": l.max_departments,
            "queue": state.queue,
        })
    }

    /// `GET /api/zhongshu_context`: what a restart needs.
    pub fn zhongshu_context_view(&self, id: &str) -> Value {
        let state = self.ctx.store.read(State::clone);
        let unread = self.unread_counts();
        let Some(z) = state.sessions.get(id) else {
            return json!({"ok": false, "error": format!("no session {id}")});
        };
        let children: Vec<Value> = state
            .children_of(id)
            .map(|c| self.sessions.session_view(&state, &unread, c))
            .collect();
        let results = match self.ctx.store.results_page(id, 20, None) {
            Ok(page) => page.results,
            Err(e) => return json!({"ok": false, "error": e.to_string()}),
        };
        let context = json!({
            "session": self.sessions.session_view(&state, &unread, z),
            "task": z.task,
            "plan": state.plans.get(id),
            "recent_results": results,
            "children": children,
        });
        // The Python tool's shape (`{ok, context}`), and ours flat beside it.
        let mut v = context.clone();
        v["ok"] = json!(true);
        v["context"] = context;
        v
    }

    /// `GET /api/zhongshu_plan`: the plan with the Python tool's fields beside
    /// ours (`ready` false and empty defaults until one is registered).
    pub fn zhongshu_plan_view(&self, id: &str) -> Value {
        let state = self.ctx.store.read(State::clone);
        let unread = self.unread_counts();
        let l = &self.ctx.config.launcher;
        let active_departments = state.sessions.values().filter(|s| s.holds_slot()).count();
        let active_zhongshu = state
            .sessions
            .values()
            .filter(|s| s.is_zhongshu() && s.is_running())
            .count();
        let started: Vec<&str> = state.children_of(id).map(|c| c.id.as_str()).collect();
        let queued = state
            .queue
            .iter()
            .filter(|q| q.parent_session_id.as_deref() == Some(id))
            .count();
        let mut plan = match state.plans.get(id) {
            Some(p) => {
                let mut v = json!(p);
                v["ready"] = json!(true);
                v["reported_at"] = json!(p.registered_at);
                v["source"] = json!("api");
                v["requested_confirmation"] = json!(p.needs_confirmation);
                v["auto_dispatch"] = json!({"started": started, "queued_count": queued, "active": active_departments});
                v
            }
            None => json!({
                "session_id": id, "summary": "", "reported_at": null, "source": null,
                "ready": false, "needs_confirmation": false, "assignments": [],
            }),
        };
        plan["active_department_sessions"] = json!(active_departments);
        plan["max_department_sessions"] = json!(l.max_departments);
        plan["max_terminals"] = json!(l.max_departments);
        plan["active_terminals"] = json!(active_departments);
        plan["active_zhongshu_sessions"] = json!(active_zhongshu);
        plan["model_choices"] = json!(l.models);
        let session = state
            .sessions
            .get(id)
            .map(|z| self.sessions.session_view(&state, &unread, z));
        json!({"session_id": id, "session": session, "plan": plan})
    }

    /// The Python tool's answer to a start: the session, its prompt file, pid
    /// and browser terminal, and the counts.
    pub fn started_view(&self, id: &str) -> Value {
        let state = self.ctx.store.read(State::clone);
        let session = self.sessions.session_json(id);
        let terminal = state
            .sessions
            .get(id)
            .and_then(|s| s.browser_terminal_id.as_deref())
            .and_then(|t| state.terminals.get(t));
        let (zhongshu, departments) = active_counts(&state);
        json!({
            "session_id": id,
            "session": session,
            "prompt_path": session["prompt_path"],
            "pid": session["pid"],
            "browser_terminal": terminal,
            "active": departments,
            "active_zhongshu_sessions": zhongshu,
            "active_department_sessions": departments,
            "active_sessions_total": zhongshu + departments,
        })
    }

    /// The Python tool's answer to `start_assignments`, beside our plan.
    pub fn assignments_view(&self, plan: &crate::model::Plan) -> Value {
        let state = self.ctx.store.read(State::clone);
        let started: Vec<Value> = plan
            .assignments
            .iter()
            .filter(|a| a.status == crate::model::AssignmentStatus::Started)
            .filter_map(|a| a.session_id.as_deref())
            .map(|id| self.sessions.session_json(id))
            .collect();
        let queued: Vec<_> = state
            .queue
            .iter()
            .filter(|q| q.parent_session_id.as_deref() == Some(plan.session_id.as_str()))
            .collect();
        let (zhongshu, departments) = active_counts(&state);
        json!({
            "plan": plan,
            "started": started,
            "queued_count": queued.len(),
            "queued": queued,
            "active": departments,
            "active_department_sessions": departments,
            "active_zhongshu_sessions": zhongshu,
        })
    }

    /// Unread results per Zhongshu (none shown when the database cannot be read).
    fn unread_counts(&self) -> HashMap<String, usize> {
        self.ctx.store.unread_counts().unwrap_or_else(|e| {
            tracing::error!("unread counts: {e}");
            HashMap::new()
        })
    }
}

/// (running Zhongshu sessions, departments holding a slot).
fn active_counts(state: &State) -> (usize, usize) {
    let zhongshu = state
        .sessions
        .values()
        .filter(|s| s.is_zhongshu() && s.is_running())
        .count();
    let departments = state.sessions.values().filter(|s| s.holds_slot()).count();
    (zhongshu, departments)
}
