//! Registering accepted reports (SPEC 8, steps 3-5): one transaction for a
//! batch with its audit lines, then the handoff packets, then the moves to
//! `archive/`. Every step can be repeated after a crash: a report whose content
//! is already registered is only finished, never registered twice.

use crate::policy::Refusal;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use super::Ingest;
use super::{Outcome, Report};
use crate::clock;
use crate::integration::record::{self, Snapshot};
use crate::mailbox::names::unique_name;
use crate::model::{
    result_key, AuditEvent, MailboxPaths, ReportStatus, ResultFields, ResultFile, ResultSource,
    TaskResult,
};
use crate::store::Tx;

impl Ingest {
    /// Steps 3-5 for a batch: register (one save, one audit sync), packets, archive.
    pub(super) fn register_batch(
        &self,
        paths: &MailboxPaths,
        batch: Vec<Report>,
        outcome: &mut Outcome,
    ) {
        // Archive names chosen before the lock: existing names plus this batch's.
        let mut taken: HashSet<String> = HashSet::new();
        let planned: Vec<(Report, PathBuf)> = batch
            .into_iter()
            .map(|r| {
                let dest = if r.archived {
                    r.path.clone()
                } else {
                    unique_name(&paths.archive, &r.name, &mut taken)
                };
                (r, dest)
            })
            .collect();
        let now = clock::now_rfc3339();
        let snapshots = self.record_worktrees(&planned);
        // Registration and its audit lines: one transaction.
        let registered = self.ctx.store.update(|tx| {
            planned
                .iter()
                .map(|(r, dest)| {
                    let snap = snapshots.get(&r.result.department_session_id);
                    let reg = register_one(tx, paths, r, dest, &now, snap)?;
                    if let Some(event) = reg.event {
                        tx.audit(event(audit_fields(&reg.result, &r.name)));
                    }
                    Ok::<_, Refusal>(reg)
                })
                .collect::<Vec<_>>()
        });
        let registered = match registered {
            Ok(r) => r,
            Err(e) => {
                // Nothing acknowledged: files stay in incoming/ for the next scan.
                tracing::error!("mailbox: {e}");
                return;
            }
        };
        for ((report, dest), reg) in planned.iter().zip(registered) {
            match reg {
                Ok(reg) => self.after_registration(report, dest, reg, outcome),
                Err(refusal) => {
                    let reason = refusal.to_string();
                    outcome.refused.push((report.name.clone(), reason.clone()));
                    if !report.archived {
                        let zid = report.result.parent_session_id.clone();
                        self.reject(&zid, paths, &report.name, &report.path, &reason);
                    }
                }
            }
        }
    }

    /// The worktrees of the reporting departments, recorded before the change
    /// that registers their reports (by department session).
    fn record_worktrees(&self, planned: &[(Report, PathBuf)]) -> HashMap<String, Snapshot> {
        let mut out = HashMap::new();
        for (r, _) in planned {
            let id = &r.result.department_session_id;
            if out.contains_key(id) {
                continue;
            }
            let Some(session) = self.ctx.store.read(|s| s.sessions.get(id).cloned()) else {
                continue;
            };
            let claimed = Some(r.result.changed_files.as_slice());
            if let Some(snap) = record::take_or_log(&self.ctx, &session, claimed) {
                out.insert(id.clone(), snap);
            }
        }
        out
    }

    /// Step 4-5 for one registered report: its handoff packet, then its archive.
    fn after_registration(
        &self,
        report: &Report,
        dest: &Path,
        reg: Registered,
        outcome: &mut Outcome,
    ) {
        // A replay (a crash came before the file was archived) rewrites a packet
        // the crash may have kept from being written.
        let packet_missing = reg.event.is_some()
            || reg
                .result
                .handoff_packet
                .as_deref()
                .is_some_and(|p| !Path::new(p).exists());
        if packet_missing {
            if let Err(e) = write_packet(&reg.result) {
                tracing::error!("mailbox: handoff packet for {}: {e}", reg.key);
            }
        }
        if reg.event.is_some() {
            outcome
                .registered
                .push((reg.key.clone(), reg.result.department_session_id.clone()));
        }
        if report.archived {
            return;
        }
        let target = reg
            .result
            .mailbox_file
            .as_deref()
            .map(PathBuf::from)
            .unwrap_or_else(|| dest.to_path_buf());
        if let Err(e) = move_unless_present(&report.path, &target, dest) {
            tracing::error!("mailbox: cannot archive {}: {e}", report.path.display());
            self.ctx
                .store
                .audit_or_log(AuditEvent::ResultArchiveFailed {
                    parent_session_id: reg.result.parent_session_id.clone(),
                    file: report.name.clone(),
                    error: e.to_string(),
                });
        }
    }
}

/// A mailbox result as its audit line records it.
fn audit_fields(result: &TaskResult, file: &str) -> ResultFields {
    ResultFields {
        parent_session_id: result.parent_session_id.clone(),
        department_session_id: result.department_session_id.clone(),
        department: result.department.clone(),
        report_id: result.report_id.clone(),
        source: ResultSource::Mailbox,
        risk_count: result.risks.len(),
        needs_user_confirmation: result.needs_user_confirmation,
        file: Some(ResultFile {
            verified: result.verified,
            file: file.to_string(),
            sha256: result.content_sha256.clone(),
        }),
    }
}

/// How one report was registered.
struct Registered {
    key: String,
    result: TaskResult,
    /// `ResultRegistered` or `ResultUpdated`; none for a replay.
    event: Option<fn(ResultFields) -> AuditEvent>,
}

/// Step 3 in the transaction: idempotent by id, and by content hash for replays.
fn register_one(
    tx: &mut Tx,
    paths: &MailboxPaths,
    r: &Report,
    dest: &Path,
    now: &str,
    snap: Option<&Snapshot>,
) -> Result<Registered, Refusal> {
    let key = result_key(
        &r.result.parent_session_id,
        &r.result.department_session_id,
        &r.result.report_id,
    );
    let previous = tx.result(&key);
    if let Some(existing) = &previous {
        if existing.content_sha256.as_deref() == Some(r.hash.as_str()) {
            // The same file again (a crash came between registering and archiving).
            return Ok(Registered {
                key,
                result: existing.clone(),
                event: None,
            });
        }
        crate::policy::report::may_replace(existing, &r.result)?;
    }
    let revision = previous.as_ref().map(|p| p.revision + 1).unwrap_or(1);
    let mut result = r.result.clone();
    if let Some(snap) = snap {
        record::fill_result(&mut result, snap);
        let _ = record::store(tx, &result.department_session_id, snap, "report");
    }
    result.revision = revision;
    result.content_sha256 = Some(r.hash.clone());
    result.mailbox_file = Some(dest.display().to_string());
    result.handoff_packet = Some(
        paths
            .archive
            .join(format!("handoff-{}-{revision}.md", result.packet_stem()))
            .display()
            .to_string(),
    );
    // A real report replaces a fallback, which is filed under the session's id.
    let dept = result.department_session_id.clone();
    let fallback_key = result_key(&result.parent_session_id, &dept, &dept);
    if fallback_key != key
        && tx
            .result(&fallback_key)
            .is_some_and(|x| crate::policy::report::superseded_by_report(&x))
    {
        tx.remove_result(&fallback_key);
    }
    tx.put_result(&key, &result);
    if let (Some(receipt), Some(session)) = (&r.receipt, tx.session_mut(&dept)) {
        session.agent.record_tool_call(crate::model::ToolReceipt {
            outcome: key.clone(),
            ..receipt.clone()
        });
    }
    if let Some(session) = tx.session_mut(&dept).and_then(|s| s.department_mut()) {
        session.report_status = Some(ReportStatus::Reported);
        session.reported_at = Some(now.to_string());
        session.last_report_id = Some(result.report_id.clone());
        // SPEC 8 step 6, recorded with the report; the launcher closes it shortly.
        session.auto_closed = true;
        session.auto_close_reason = Some("mailbox_report_received".into());
    }
    Ok(Registered {
        key,
        result,
        event: Some(if previous.is_some() {
            AuditEvent::ResultUpdated
        } else {
            AuditEvent::ResultRegistered
        }),
    })
}

/// Step 4: the Markdown handoff packet, replaced atomically.
pub fn write_packet(r: &TaskResult) -> std::io::Result<()> {
    use askama::Template;
    let Some(path) = r.handoff_packet.as_deref() else {
        return Ok(());
    };
    let text = crate::mailbox::handoff::Handoff { r }
        .render()
        .map_err(std::io::Error::other)?;
    let path = Path::new(path);
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::platform::create_private_dir(dir)?;
    // No fsync: the database is the durable record; a replay rewrites a missing packet.
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-handoff")
        .tempfile_in(dir)?;
    crate::platform::make_private(tmp.as_file())?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Step 5: the move, which a replay may find already done. A rename is atomic, so
/// a file still in incoming/ whose target already exists is not the archived file
/// but a byte-identical copy of it: it is kept under its own name (`copy_to`),
/// never deleted.
fn move_unless_present(from: &Path, to: &Path, copy_to: &Path) -> std::io::Result<()> {
    let to = if to.exists() {
        if !from.exists() {
            return Ok(());
        }
        copy_to
    } else {
        to
    };
    if let Some(dir) = to.parent() {
        crate::platform::create_private_dir(dir)?;
    }
    fs::rename(from, to)
}
