//! The Zhongshu's side of the mailbox: the inbox view, notices typed into its
//! PTY (SPEC 9), and resuming a Zhongshu inline or as a new session.

use std::sync::Arc;

use serde_json::{json, Value};

use super::Mailbox;
use crate::error::{LResult, LauncherError};
use crate::model::{NoticeStatus, ResultSource, SessionKind, TaskResult};
use crate::sessions::prompts::ResumePrompt;
use crate::sessions::StartSpec;

/// `POST /api/notify_zhongshu`: another tool's notice for a Zhongshu.
#[derive(Debug, serde::Deserialize)]
pub struct NotifyInput {
    pub parent_session_id: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub risk_count: Option<u64>,
    #[serde(default)]
    pub next_action: Option<String>,
}

/// Notices stay under this many characters.
const NOTICE_MAX: usize = 990;

impl Mailbox {
    /// `GET /api/zhongshu_inbox`: results and department states; marks read unless `peek`.
    pub fn inbox_view(
        &self,
        id: &str,
        peek: bool,
        limit: usize,
        before: Option<i64>,
        count: bool,
    ) -> LResult<Value> {
        let z = self.sessions.require_session(id)?;
        if !z.is_zhongshu() {
            return Err(LauncherError::BadRequest(format!(
                "{id} is not a Zhongshu session"
            )));
        }
        // Python-era readers take what this call read as `unread_results`.
        let newly_read: Vec<TaskResult> = if peek {
            Vec::new()
        } else {
            self.ctx.store.update(|tx| tx.mark_read(id))?
        };
        let marked = newly_read.len();
        if marked > 0 {
            self.ctx.store.notify(
                "results_read",
                json!({"parent_session_id": id, "count": marked}),
            );
        }
        let page = self.ctx.store.results_page(id, limit, before)?;
        // Counting costs a pass over this Zhongshu's results: only when asked.
        let total = if count {
            Some(self.ctx.store.result_count(id)?)
        } else {
            None
        };
        let view = self.ctx.store.read(|s| {
            let results = &page.results;
            let unread: Vec<&TaskResult> = results.iter().filter(|r| !r.read).collect();
            let read: Vec<&TaskResult> = results.iter().filter(|r| r.read).collect();
            let children: Vec<_> = s.children_of(id).collect();
            let running: Vec<&str> = children
                .iter()
                .filter(|c| c.holds_slot())
                .map(|c| c.id.as_str())
                .collect();
            let completed: Vec<&str> = children
                .iter()
                .filter(|c| !c.holds_slot())
                .map(|c| c.id.as_str())
                .collect();
            let queued: Vec<_> = s
                .queue
                .iter()
                .filter(|q| q.parent_session_id.as_deref() == Some(id))
                .collect();
            let unread_results: Vec<&TaskResult> = if peek {
                unread.clone()
            } else {
                newly_read.iter().collect()
            };
            let read_results: Vec<&TaskResult> = if peek {
                read.clone()
            } else {
                read.iter()
                    .copied()
                    .filter(|r| {
                        !newly_read.iter().any(|n| {
                            n.department_session_id == r.department_session_id
                                && n.report_id == r.report_id
                        })
                    })
                    .collect()
            };
            let views = |ids: &[&str]| -> Vec<Value> {
                ids.iter()
                    .filter_map(|c| s.sessions.get(*c))
                    .map(|c| serde_json::to_value(c).unwrap_or_default())
                    .collect()
            };
            json!({
                "session_id": id,
                // The Python tool's fields, same meaning.
                "session": serde_json::to_value(&z).unwrap_or_default(),
                "unread_results": unread_results,
                "read_results": read_results,
                "running_departments": views(&running),
                "completed_departments": views(&completed),
                "queued_departments": queued,
                "unread_count": unread.len(),
                "unread": unread,
                "read": read,
                "results": results,
                "result_count": total,
                "next_before": page.next_before,
                "running": running,
                "completed": completed,
                "queued": queued,
                "peek": peek,
            })
        });
        Ok(view)
    }

    /// Types one notice about `keys` into the Zhongshu's PTY, records the outcome.
    pub(crate) async fn send_notice(self: &Arc<Self>, zhongshu_id: &str, keys: &[String]) {
        let results: Vec<TaskResult> = keys
            .iter()
            .filter_map(|k| self.ctx.store.result(k).ok().flatten())
            .collect();
        let text = self.ctx.store.read(|s| {
            let results: Vec<&TaskResult> = results.iter().collect();
            let children: Vec<_> = s.children_of(zhongshu_id).collect();
            let running = children.iter().filter(|c| c.holds_slot()).count();
            let done = children.len() - running;
            let queued = s
                .queue
                .iter()
                .filter(|q| q.parent_session_id.as_deref() == Some(zhongshu_id))
                .count();
            compose_notice(self.ctx.url(), zhongshu_id, &results, done, running, queued)
        });
        if text.is_empty() {
            return;
        }
        self.deliver_notice(zhongshu_id, &text, keys.len()).await;
    }

    async fn deliver_notice(
        self: &Arc<Self>,
        zhongshu_id: &str,
        text: &str,
        results: usize,
    ) -> String {
        let running = self
            .sessions
            .session(zhongshu_id)
            .map(|z| z.is_running())
            .unwrap_or(false);
        let (status, error, delivery) = if running {
            match self.sessions.deliver(zhongshu_id, text).await {
                Ok(how) => (NoticeStatus::Sent, None, Some(how)),
                Err(e) => (NoticeStatus::Error, Some(e), None),
            }
        } else {
            (
                NoticeStatus::Skipped,
                Some("Zhongshu session is not running".to_string()),
                None,
            )
        };
        let saved = self.ctx.store.update(|tx| {
            if let Some(z) = tx.session_mut(zhongshu_id) {
                z.auto_notification_status = Some(status);
            }
            tx.audit(
                "zhongshu_notified",
                json!({"session_id": zhongshu_id, "status": status, "results": results,
                       "chars": text.chars().count(), "error": error, "delivery": delivery}),
            );
        });
        if let Err(e) = saved {
            tracing::error!("recording the notice to {zhongshu_id}: {e}");
        }
        status.as_str().to_string()
    }

    /// `POST /api/notify_zhongshu`: another tool's notice, same path as ours.
    pub async fn notify_zhongshu_request(self: &Arc<Self>, b: NotifyInput) -> LResult<Value> {
        let z = self.sessions.require_session(&b.parent_session_id)?;
        if !z.is_zhongshu() {
            return Err(LauncherError::BadRequest(format!(
                "{} is not a Zhongshu session",
                z.id
            )));
        }
        let mut text = format!("[codex-governance] {}", one_line(&b.summary, 400));
        if let Some(n) = b.risk_count {
            text.push_str(&format!(" | risks: {n}"));
        }
        if let Some(a) = b.next_action.as_deref().filter(|a| !a.is_empty()) {
            text.push_str(&format!(" | next: {}", one_line(a, 200)));
        }
        text.push_str(&format!(
            " | inbox: {}/api/zhongshu_inbox?id={}&peek=1",
            self.ctx.url(),
            z.id
        ));
        let text = truncate(&text, NOTICE_MAX);
        let status = self.deliver_notice(&z.id, &text, 0).await;
        Ok(json!({"status": status, "notice": text}))
    }

    /// `POST /api/restart_zhongshu_session`.
    pub async fn restart_zhongshu(
        self: &Arc<Self>,
        id: &str,
        model: Option<&str>,
    ) -> LResult<Value> {
        let z = self.sessions.require_session(id)?;
        if !z.is_zhongshu() {
            return Err(LauncherError::BadRequest(format!(
                "{id} is not a Zhongshu session"
            )));
        }
        let results = self.ctx.store.results_page(id, 10, None)?.results;
        let (plan, children) = self.ctx.store.read(|s| {
            let children: Vec<String> = s
                .children_of(id)
                .map(|c| {
                    format!(
                        "{} ({}): {} / {}",
                        c.id,
                        c.department.as_deref().unwrap_or("?"),
                        if c.is_running() { "running" } else { "exited" },
                        c.report_status.map(|r| r.as_str()).unwrap_or("pending")
                    )
                })
                .collect();
            (s.plans.get(id).cloned(), children)
        });
        let result_lines: Vec<String> = results
            .iter()
            .take(10)
            .map(|r| {
                format!(
                    "{} ({}, {}): {}",
                    r.department_session_id,
                    r.department,
                    r.source.as_str(),
                    one_line(&r.summary, 160)
                )
            })
            .collect();
        let render = |session_id: &str| {
            use askama::Template;
            ResumePrompt {
                session_id,
                task: &z.task,
                plan_summary: plan.as_ref().map(|p| p.summary.as_str()).unwrap_or(""),
                departments: &children,
                results: &result_lines,
                url: self.ctx.url(),
            }
            .render()
            .map_err(|e| LauncherError::Internal(format!("resume template: {e}")))
        };
        if z.is_running() && self.sessions.pty(id).is_some() {
            let prompt = render(id)?;
            self.sessions.session_input(id, &prompt).await?;
            self.ctx.store.audit_or_log(
                "zhongshu_resumed",
                json!({"session_id": id, "inline": true}),
            );
            return Ok(
                json!({"resumed_inline": true, "session_id": id, "session": self.sessions.session_json(id)}),
            );
        }
        // A new session, carrying the old plan and results (as read).
        let model = model.map(str::to_string).or(Some(z.model.clone()));
        let model = self
            .sessions
            .pick_model(model.as_deref(), SessionKind::Zhongshu)?;
        let mut spec = StartSpec::zhongshu(z.task.clone(), Some(model));
        spec.resumed_from_session_id = Some(id.to_string());
        // `{session_id}` becomes the new session's id when it starts.
        spec.prompt_override = Some(render("{session_id}")?);
        let new = self.sessions.start_session(spec).await?;
        let new_id = new.id.clone();
        self.ctx.store.update(|tx| {
            if let Some(mut p) = plan.clone() {
                p.session_id = new_id.clone();
                let status = p.status;
                tx.insert_plan(p);
                if let Some(x) = tx.session_mut(&new_id) {
                    x.plan_status = Some(status);
                }
            }
            let copied = tx.copy_results(id, &new_id);
            tx.audit(
                "zhongshu_resumed",
                json!({"session_id": new_id, "resumed_from_session_id": id, "inline": false,
                       "results_copied": copied}),
            );
        })?;
        Ok(json!({"resumed_inline": false, "session_id": new_id,
                  "resumed_from_session_id": id, "session": self.sessions.session_json(&new_id)}))
    }
}

/// How a result reached the launcher, when it is not a verified submission.
fn provenance(r: &TaskResult) -> &'static str {
    match (r.source, r.verified) {
        (ResultSource::LauncherFallback, _) => " (launcher fallback)",
        (ResultSource::Mailbox, false) => " (unverified: a file dropped into the mailbox)",
        (ResultSource::Mailbox, true) => "",
    }
}

/// The notice text (SPEC 9): department, summary, risks, counts, inbox, next action.
fn compose_notice(
    url: &str,
    zhongshu_id: &str,
    results: &[&TaskResult],
    done: usize,
    running: usize,
    queued: usize,
) -> String {
    if results.is_empty() {
        return String::new();
    }
    let risks: usize = results.iter().map(|r| r.risks.len()).sum();
    let mut text = if results.len() == 1 {
        let r = results[0];
        format!(
            "[codex-governance] {} ({}) reported{}: {}",
            r.department,
            r.department_session_id,
            provenance(r),
            one_line(&r.summary, 300)
        )
    } else {
        let list: Vec<String> = results
            .iter()
            .map(|r| {
                format!(
                    "{} ({}){}: {}",
                    r.department,
                    r.department_session_id,
                    provenance(r),
                    one_line(&r.summary, 80)
                )
            })
            .collect();
        format!(
            "[codex-governance] {} results: {}",
            results.len(),
            list.join("; ")
        )
    };
    text.push_str(&format!(
        " | risks: {risks} | departments done {done}, running {running}, queued {queued} | inbox: {url}/api/zhongshu_inbox?id={zhongshu_id}&peek=1"
    ));
    if let Some(next) = results.iter().rev().find_map(|r| r.next_action.as_deref()) {
        text.push_str(&format!(" | next: {}", one_line(next, 160)));
    }
    truncate(&text, NOTICE_MAX)
}

/// One line, at most `max` characters.
fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(flat.trim(), max)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(summary: &str) -> TaskResult {
        TaskResult {
            report_id: "lingyubu-1".into(),
            parent_session_id: "zhongshu-1".into(),
            department_session_id: "lingyubu-1".into(),
            department: "lingyubu".into(),
            summary: summary.into(),
            changed_files: vec![],
            verifications_run: vec![],
            verifications_skipped: vec![],
            risks: vec!["r".into()],
            needs_user_confirmation: false,
            next_action: Some("merge".into()),
            reported_at: "t".into(),
            source: ResultSource::Mailbox,
            read: false,
            mailbox_file: None,
            handoff_packet: None,
            revision: 1,
            content_sha256: None,
            objective: String::new(),
            verified: false,
        }
    }

    #[test]
    fn notice_is_short_and_complete() {
        let long = "x".repeat(5000);
        let r = result(&long);
        let n = compose_notice("http://127.0.0.1:1", "zhongshu-1", &[&r, &r], 1, 1, 0);
        assert!(n.chars().count() < 1000);
        let r = result("fixed the parser\nand tests");
        let n = compose_notice("http://127.0.0.1:1", "zhongshu-1", &[&r], 2, 0, 1);
        assert!(n.contains("lingyubu") && n.contains("fixed the parser and tests"));
        assert!(
            n.contains("risks: 1")
                && n.contains("queued 1")
                && n.contains("peek=1")
                && n.contains("next: merge")
        );
        assert!(!n.contains('\n'));
    }

    #[test]
    fn notices_say_how_a_result_arrived() {
        let mut r = result("done");
        assert!(compose_notice("u", "z", &[&r], 0, 0, 0).contains("unverified"));
        r.verified = true;
        assert!(!compose_notice("u", "z", &[&r], 0, 0, 0).contains("unverified"));
        r.source = ResultSource::LauncherFallback;
        assert!(compose_notice("u", "z", &[&r], 0, 0, 0).contains("(launcher fallback)"));
        assert!(
            compose_notice("u", "z", &[], 0, 0, 0).is_empty(),
            "no result, no notice"
        );
    }
}
