//! Notices to a Zhongshu (SPEC 9): composed from its new results or from
//! another tool's request, delivered as a turn or typed, and recorded.

use std::sync::Arc;

use serde::Serialize;

use super::Mailbox;
use crate::error::{LResult, LauncherError};
use crate::model::{AuditEvent, NoticeStatus, ResultSource, TaskResult};

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

/// The answer to `POST /api/notify_zhongshu`.
#[derive(Debug, Serialize)]
pub struct NoticeSent {
    pub status: NoticeStatus,
    pub notice: String,
}

/// Notices stay under this many characters.
const NOTICE_MAX: usize = 990;

impl Mailbox {
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
    ) -> NoticeStatus {
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
            if let Some(z) = tx.session_mut(zhongshu_id).and_then(|z| z.zhongshu_mut()) {
                z.auto_notification_status = Some(status);
            }
            tx.audit(AuditEvent::ZhongshuNotified {
                session_id: zhongshu_id.to_string(),
                status,
                results,
                chars: text.chars().count(),
                error,
                delivery: delivery.map(str::to_string),
            });
        });
        if let Err(e) = saved {
            tracing::error!("recording the notice to {zhongshu_id}: {e}");
        }
        status
    }

    /// `POST /api/notify_zhongshu`: another tool's notice, same path as ours.
    pub async fn notify_zhongshu_request(self: &Arc<Self>, b: NotifyInput) -> LResult<NoticeSent> {
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
        Ok(NoticeSent {
            status,
            notice: text,
        })
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
pub(super) fn one_line(s: &str, max: usize) -> String {
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
            risks: vec!["r".into()],
            next_action: Some("merge".into()),
            ..TaskResult::sample("lingyubu-1", summary)
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
