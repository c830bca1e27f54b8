//! The `launcher_fallback` result of a department that ended without a report:
//! registered with its packet and audit line in one change, and never over a
//! real report.

use super::register::write_packet;
use crate::clock;
use crate::context::Context;
use crate::integration::record;
use crate::model::{result_key, AuditEvent, ResultFields, ResultSource, Session, TaskResult};

/// Registers a `launcher_fallback` result for a department that exited silently.
pub(crate) fn register_fallback(ctx: &Context, department_session_id: &str) -> Option<String> {
    let session = ctx
        .store
        .read(|s| s.sessions.get(department_session_id).cloned())?;
    let parent = session.parent_session_id()?.to_string();
    if session.has_reported() {
        return None;
    }
    let paths = ctx.paths.mailbox(&parent);
    let mut result = fallback_result(&session, &parent);
    let snap = record::take_or_log(ctx, &session, None);
    if let Some(snap) = &snap {
        record::fill_result(&mut result, snap);
    }
    let key = result_key(&parent, &session.id, &result.report_id);
    let stored = ctx.store.update(|tx| {
        let reported = tx.session(&session.id).map(|x| x.has_reported()) == Some(true);
        if reported || !tx.results_of_department(&session.id).is_empty() {
            return None;
        }
        let mut r = result.clone();
        r.handoff_packet = Some(
            paths
                .archive
                .join(format!("handoff-{}-{}.md", r.packet_stem(), r.revision))
                .display()
                .to_string(),
        );
        // Written before the commit: a packet is never missing for a stored result.
        if let Err(e) = write_packet(&r) {
            tracing::error!("mailbox: fallback packet for {key}: {e}");
        }
        tx.put_result(&key, &r);
        // The Python tool's marks of a registered result on its session
        // (the API shows it `reported`); the session itself stays one
        // that ended without a report (retryable, not counted done).
        if let Some(d) = tx.session_mut(&session.id).and_then(|x| x.department_mut()) {
            d.reported_at = Some(r.reported_at.clone());
            d.last_report_id = Some(r.report_id.clone());
        }
        if let Some(snap) = &snap {
            let _ = record::store(tx, &session.id, snap, "exit");
        }
        tx.audit(AuditEvent::ResultRegistered(ResultFields {
            parent_session_id: parent.to_string(),
            department_session_id: session.id.clone(),
            department: r.department.clone(),
            report_id: r.report_id.clone(),
            source: ResultSource::LauncherFallback,
            risk_count: r.risks.len(),
            needs_user_confirmation: r.needs_user_confirmation,
            file: None,
        }));
        Some(r)
    });
    stored.ok().flatten().map(|_| key)
}

/// The result said for a department that ended without a report: what the
/// Python tool's fallback said, unverified.
fn fallback_result(session: &Session, parent: &str) -> TaskResult {
    let now = clock::now_rfc3339();
    let code = session
        .exit_code
        .map(|c| c.to_string())
        .unwrap_or_else(|| "unknown".into());
    let reason = session
        .ended_reason
        .clone()
        .unwrap_or_else(|| "exited".into());
    TaskResult {
            report_id: session.id.clone(),
            parent_session_id: parent.to_string(),
            department_session_id: session.id.clone(),
            department: session.department.clone().unwrap_or_default(),
            summary: format!(
                "Department session {} ended ({reason}, exit code {code}) without writing a mailbox report.",
                session.id
            ),
            changed_files: Vec::new(),
            verifications_run: Vec::new(),
            // As the Python tool's fallback said: no verification reported.
            verifications_skipped: vec!["The department reported no verification.".into()],
            risks: vec![
                "No mailbox report was written: the department's work and checks are unverified."
                    .into(),
            ],
            needs_user_confirmation: false,
            next_action: Some(
                "Inspect the department's transcript and the working tree before relying on its work."
                    .into(),
            ),
            reported_at: now,
            source: ResultSource::LauncherFallback,
            read: false,
            mailbox_file: None,
            handoff_packet: None,
            revision: 1,
            content_sha256: None,
            objective: session.task.clone(),
            verified: false,
            ..TaskResult::default()
        }
}
