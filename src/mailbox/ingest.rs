//! Ingesting one Zhongshu's `incoming/` folder (SPEC 8, steps 1-6).
//!
//! Files are taken in batches: each is checked for completeness and validated,
//! then the whole batch is registered in one state save and one audit sync, its
//! handoff packets written and its files moved to `archive/`. Every step can be
//! repeated: a file still in `incoming/` after a crash is recognised by its
//! content hash and only finished, never registered twice.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::Mailbox;
use crate::clock;
use crate::ids::check_id;
use crate::model::{result_key, MailboxPaths, ReportStatus, ResultSource, TaskResult};
use crate::store::Tx;

/// Largest report accepted.
pub const MAX_REPORT_BYTES: u64 = 1024 * 1024;
/// How long an unparseable file must keep its size and mtime before it is judged.
pub const STABLE_FOR: Duration = Duration::from_millis(500);
/// Files registered per state save.
const BATCH: usize = 512;

/// A file that parsed but is not settled yet, remembered between scans.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub size: u64,
    pub mtime: Option<SystemTime>,
    pub since: std::time::Instant,
}

/// What a scan found for one file.
enum Verdict {
    Accept(Box<Report>),
    Reject(String),
    /// Not complete yet: look again soon.
    Wait,
}

/// A validated report.
pub struct Report {
    pub(super) path: PathBuf,
    pub(super) name: String,
    pub(super) hash: String,
    pub(super) result: TaskResult,
    /// Already in `archive/` (a report submitted over the API): nothing to move.
    pub(super) archived: bool,
}

/// What the batch did, for the follow-up work.
#[derive(Default)]
pub struct Outcome {
    /// (result key, department session) of each new or changed result.
    pub registered: Vec<(String, String)>,
    /// Files still incomplete.
    pub waiting: usize,
    /// (file, reason) of reports refused at registration.
    pub refused: Vec<(String, String)>,
}

impl Mailbox {
    /// Ingests everything in `zhongshu_id`'s incoming folder. `seen` carries the
    /// size/mtime history of incomplete files between calls.
    pub fn ingest_folder(
        self: &Arc<Self>,
        zhongshu_id: &str,
        seen: &mut std::collections::HashMap<PathBuf, Seen>,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        if check_id("zhongshu id", zhongshu_id).is_err() {
            return outcome;
        }
        let paths = self.ctx.paths.mailbox(zhongshu_id);
        if fs::symlink_metadata(&paths.incoming).is_err() {
            return outcome;
        }
        let listing = match self.usable_listing(zhongshu_id, &paths) {
            Some(l) => l,
            None => return outcome,
        };
        let names = listing.reports;
        let known = self
            .ctx
            .store
            .read(|s| s.sessions.get(zhongshu_id).map(|z| z.is_zhongshu()));
        let mut accepted = Vec::new();
        for (name, path) in names {
            let verdict = match known {
                Some(true) => self.judge(zhongshu_id, &name, &path, seen),
                _ => Verdict::Reject(format!("{zhongshu_id} is not a known Zhongshu session")),
            };
            match verdict {
                Verdict::Accept(report) => {
                    seen.remove(&path);
                    accepted.push(*report);
                    if accepted.len() >= BATCH {
                        self.register_batch(&paths, std::mem::take(&mut accepted), &mut outcome);
                    }
                }
                Verdict::Reject(reason) => {
                    seen.remove(&path);
                    self.reject(zhongshu_id, &paths, &name, &path, &reason);
                }
                Verdict::Wait => outcome.waiting += 1,
            }
        }
        if !accepted.is_empty() {
            self.register_batch(&paths, accepted, &mut outcome);
        }
        outcome
    }

    /// Steps 1 and 2: is the file complete, and is it acceptable?
    fn judge(
        &self,
        zhongshu_id: &str,
        name: &str,
        path: &Path,
        seen: &mut std::collections::HashMap<PathBuf, Seen>,
    ) -> Verdict {
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(_) => return Verdict::Wait, // gone or renamed meanwhile
        };
        if !meta.file_type().is_file() {
            return Verdict::Reject(format!(
                "not a regular file ({})",
                describe_type(&meta.file_type())
            ));
        }
        if meta.len() > MAX_REPORT_BYTES {
            return Verdict::Reject(format!(
                "file is {} bytes; reports are at most {MAX_REPORT_BYTES} bytes",
                meta.len()
            ));
        }
        // The name may have been swapped since the check: the descriptor decides.
        let bytes = match super::safe_read::read_regular(path, MAX_REPORT_BYTES) {
            Ok(read) => read.bytes,
            Err(super::safe_read::SafeReadError::Gone) => return Verdict::Wait,
            Err(e) => return Verdict::Reject(e.to_string()),
        };
        match parse(&bytes) {
            Ok(obj) => match self.validate(zhongshu_id, &obj) {
                Ok(result) => Verdict::Accept(Box::new(Report {
                    path: path.to_path_buf(),
                    name: name.to_string(),
                    hash: sha256_hex(&bytes),
                    result,
                    archived: false,
                })),
                Err(reason) => Verdict::Reject(reason),
            },
            Err(reason) => {
                // Maybe still being written: judge only once size and mtime settle.
                let now = Seen {
                    size: meta.len(),
                    mtime: meta.modified().ok(),
                    since: std::time::Instant::now(),
                };
                match seen.get(path) {
                    Some(prev) if prev.size == now.size && prev.mtime == now.mtime => {
                        if prev.since.elapsed() >= STABLE_FOR {
                            Verdict::Reject(reason)
                        } else {
                            Verdict::Wait
                        }
                    }
                    _ => {
                        seen.insert(path.to_path_buf(), now);
                        Verdict::Wait
                    }
                }
            }
        }
    }

    /// Fields checked, then the sessions they name; the result to register.
    pub(super) fn validate(
        &self,
        zhongshu_id: &str,
        obj: &Map<String, Value>,
    ) -> Result<TaskResult, String> {
        let f = check_fields(zhongshu_id, obj)?;
        let session = self
            .ctx
            .store
            .read(|s| s.sessions.get(&f.session_id).cloned())
            .ok_or_else(|| {
                format!(
                    "department_session_id {} is not a known session",
                    f.session_id
                )
            })?;
        if session.parent_session_id.as_deref() != Some(zhongshu_id) {
            return Err(format!(
                "session {} is not a department of {zhongshu_id}",
                f.session_id
            ));
        }
        if session.department.as_deref() != Some(f.department.as_str()) {
            return Err(format!(
                "session {} is the {} department, not {}",
                f.session_id,
                session.department.as_deref().unwrap_or("?"),
                f.department
            ));
        }
        Ok(TaskResult {
            report_id: f.report_id,
            parent_session_id: zhongshu_id.to_string(),
            department_session_id: f.session_id,
            department: f.department,
            summary: f.summary,
            changed_files: f.changed_files,
            verifications_run: f.verifications_run,
            verifications_skipped: f.verifications_skipped,
            risks: f.risks,
            needs_user_confirmation: f.needs_user_confirmation,
            next_action: f.next_action,
            reported_at: clock::now_rfc3339(),
            source: ResultSource::Mailbox,
            read: false,
            mailbox_file: None,
            handoff_packet: None,
            revision: 0,
            content_sha256: None,
            objective: session.task.clone(),
            verified: false,
        })
    }

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
        // Registration and its audit lines: one transaction.
        let registered = self.ctx.store.update(|tx| {
            planned
                .iter()
                .map(|(r, dest)| {
                    let reg = register_one(tx, paths, r, dest, &now)?;
                    if let Some(event) = reg.event {
                        tx.audit(
                            event,
                            json!({
                                "parent_session_id": reg.result.parent_session_id,
                                "department_session_id": reg.result.department_session_id,
                                "department": reg.result.department,
                                "report_id": reg.result.report_id,
                                "source": ResultSource::Mailbox,
                                "verified": reg.result.verified,
                                "file": r.name,
                                "sha256": reg.result.content_sha256,
                            }),
                        );
                    }
                    Ok::<_, String>(reg)
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
            let reg = match reg {
                Ok(reg) => reg,
                Err(reason) => {
                    outcome.refused.push((report.name.clone(), reason.clone()));
                    if !report.archived {
                        let zid = report.result.parent_session_id.clone();
                        self.reject(&zid, paths, &report.name, &report.path, &reason);
                    }
                    continue;
                }
            };
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
            let target = reg
                .result
                .mailbox_file
                .as_deref()
                .map(PathBuf::from)
                .unwrap_or_else(|| dest.clone());
            if report.archived {
                continue;
            }
            if let Err(e) = move_unless_present(&report.path, &target, dest) {
                tracing::error!("mailbox: cannot archive {}: {e}", report.path.display());
                self.ctx.store.audit_or_log(
                    "result_archive_failed",
                    json!({"parent_session_id": reg.result.parent_session_id,
                           "file": report.name, "error": e.to_string()}),
                );
            }
        }
    }

    /// Moves a file that cannot be accepted to `rejected/` with its reason.
    pub(super) fn reject(
        &self,
        zhongshu_id: &str,
        paths: &MailboxPaths,
        name: &str,
        path: &Path,
        reason: &str,
    ) {
        if let Err(e) = fs::create_dir_all(&paths.rejected) {
            tracing::error!("mailbox: cannot create {}: {e}", paths.rejected.display());
            return;
        }
        let dest = unique_name(&paths.rejected, name, &mut HashSet::new());
        let dest_name = dest
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let reason_path = paths.rejected.join(format!("{dest_name}.reason.json"));
        let body = json!({"error": reason, "file": name, "at": clock::now_rfc3339()});
        let written = crate::files::write_atomic(
            &reason_path,
            serde_json::to_string_pretty(&body)
                .unwrap_or_default()
                .as_bytes(),
        );
        if let Err(e) = written.and_then(|_| fs::rename(path, &dest)) {
            tracing::error!("mailbox: cannot reject {}: {e}", path.display());
            return;
        }
        self.ctx.store.audit_or_log(
            "result_rejected",
            json!({"parent_session_id": zhongshu_id, "file": name, "rejected_as": dest_name, "error": reason}),
        );
    }

    /// Registers a `launcher_fallback` result for a department that exited silently.
    pub(crate) fn register_fallback(&self, department_session_id: &str) -> Option<String> {
        let session = self.sessions.session(department_session_id)?;
        let parent = session.parent_session_id.clone()?;
        if session.has_reported() {
            return None;
        }
        let paths = self.ctx.paths.mailbox(&parent);
        let now = clock::now_rfc3339();
        let code = session
            .exit_code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "unknown".into());
        let reason = session
            .ended_reason
            .clone()
            .unwrap_or_else(|| "exited".into());
        let result = TaskResult {
            report_id: session.id.clone(),
            parent_session_id: parent.clone(),
            department_session_id: session.id.clone(),
            department: session.department.clone().unwrap_or_default(),
            summary: format!(
                "Department session {} ended ({reason}, exit code {code}) without writing a mailbox report.",
                session.id
            ),
            changed_files: Vec::new(),
            verifications_run: Vec::new(),
            verifications_skipped: Vec::new(),
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
        };
        let key = result_key(&parent, &session.id, &result.report_id);
        let stored = self.ctx.store.update(|tx| {
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
            tx.audit(
                "result_registered",
                json!({"parent_session_id": parent, "department_session_id": session.id,
                       "department": r.department, "report_id": r.report_id,
                       "source": ResultSource::LauncherFallback}),
            );
            Some(r)
        });
        stored.ok().flatten().map(|_| key)
    }
}

/// A report's fields, checked for presence, types and id syntax.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFields {
    pub session_id: String,
    pub department: String,
    pub summary: String,
    pub report_id: String,
    pub changed_files: Vec<String>,
    pub verifications_run: Vec<String>,
    pub verifications_skipped: Vec<String>,
    pub risks: Vec<String>,
    pub next_action: Option<String>,
    pub needs_user_confirmation: bool,
}

/// Checks a parsed report against SPEC 8 without looking at any session.
pub fn check_fields(zhongshu_id: &str, obj: &Map<String, Value>) -> Result<ReportFields, String> {
    let text = |key: &str| -> Result<Option<String>, String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("{key} must be a string, not {}", kind(other))),
        }
    };
    let required = |key: &str| -> Result<String, String> {
        match text(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(format!("{key} is required")),
        }
    };
    let session_id = required("department_session_id")?;
    check_id("department_session_id", &session_id)?;
    let department = required("department")?;
    check_id("department", &department)?;
    let summary = required("summary")?;
    if let Some(parent) = text("parent_session_id")? {
        if parent != zhongshu_id {
            return Err(format!(
                "parent_session_id {parent:?} does not name this mailbox's session {zhongshu_id}"
            ));
        }
    }
    let report_id = match text("report_id")? {
        Some(id) => {
            check_id("report_id", &id)?;
            id
        }
        None => session_id.clone(),
    };
    let list = |keys: &[&str]| -> Result<Vec<String>, String> {
        for key in keys {
            match obj.get(*key) {
                None | Some(Value::Null) => continue,
                Some(v) => return string_list(key, v),
            }
        }
        Ok(Vec::new())
    };
    let needs_user_confirmation = match obj.get("needs_user_confirmation") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(format!(
                "needs_user_confirmation must be true or false, not {}",
                kind(other)
            ))
        }
    };
    Ok(ReportFields {
        changed_files: list(&["changed_files", "files"])?,
        verifications_run: list(&["verifications_run", "verification"])?,
        verifications_skipped: list(&["verifications_skipped"])?,
        risks: list(&["risks"])?,
        next_action: text("next_action")?,
        needs_user_confirmation,
        session_id,
        department,
        summary,
        report_id,
    })
}

/// How one report was registered.
struct Registered {
    key: String,
    result: TaskResult,
    event: Option<&'static str>,
}

/// Step 3 in the transaction: idempotent by id, and by content hash for replays.
fn register_one(
    tx: &mut Tx,
    paths: &MailboxPaths,
    r: &Report,
    dest: &Path,
    now: &str,
) -> Result<Registered, String> {
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
        if existing.verified && !r.result.verified {
            return Err(format!(
                "result {} of session {} was submitted with the session's own token; \
                 a file dropped by hand cannot replace it",
                existing.report_id, existing.department_session_id
            ));
        }
    }
    let revision = previous.as_ref().map(|p| p.revision + 1).unwrap_or(1);
    let mut result = r.result.clone();
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
            .is_some_and(|x| x.source == ResultSource::LauncherFallback)
    {
        tx.remove_result(&fallback_key);
    }
    tx.put_result(&key, &result);
    if let Some(session) = tx.session_mut(&dept) {
        session.report_status = Some(ReportStatus::Reported);
        session.reported_at = Some(now.to_string());
        session.last_report_id = Some(result.report_id.clone());
    }
    Ok(Registered {
        key,
        result,
        event: Some(if previous.is_some() {
            "result_updated"
        } else {
            "result_registered"
        }),
    })
}

/// Step 4: the Markdown handoff packet, replaced atomically.
pub fn write_packet(r: &TaskResult) -> std::io::Result<()> {
    use askama::Template;
    let Some(path) = r.handoff_packet.as_deref() else {
        return Ok(());
    };
    let text = super::handoff::Handoff { r }
        .render()
        .map_err(std::io::Error::other)?;
    let path = Path::new(path);
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    // No fsync: the database is the durable record; a replay rewrites a missing packet.
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-handoff")
        .tempfile_in(dir)?;
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
        fs::create_dir_all(dir)?;
    }
    fs::rename(from, to)
}

/// `dir/name`, or `dir/stem-N.ext` when taken on disk or in `taken`.
pub(super) fn unique_name(dir: &Path, name: &str, taken: &mut HashSet<String>) -> PathBuf {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) => (s.to_string(), format!(".{e}")),
        None => (name.to_string(), String::new()),
    };
    let mut candidate = name.to_string();
    let mut n = 1;
    while taken.contains(&candidate) || fs::symlink_metadata(dir.join(&candidate)).is_ok() {
        n += 1;
        candidate = format!("{stem}-{n}{ext}");
    }
    taken.insert(candidate.clone());
    dir.join(candidate)
}

/// UTF-8 JSON object, a BOM tolerated.
pub fn parse(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes.starts_with(b"\xff\xfe") || bytes.starts_with(b"\xfe\xff") {
        return Err("file is UTF-16; reports must be UTF-8".into());
    }
    let text = std::str::from_utf8(bytes).map_err(|e| format!("file is not UTF-8: {e}"))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "report must be a JSON object, not {}",
            kind(&other)
        )),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

fn string_list(key: &str, v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                Value::Object(_) => Ok(item.to_string()),
                other => Err(format!(
                    "{key} must be a list of strings; found {}",
                    kind(other)
                )),
            })
            .collect(),
        other => Err(format!(
            "{key} must be a list of strings, not {}",
            kind(other)
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn describe_type(t: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a device"
    }
}

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_bom_and_refuses_the_rest() {
        assert!(parse(b"\xef\xbb\xbf{\"a\":1}").is_ok());
        assert!(parse(b"[1]").unwrap_err().contains("an array"));
        assert!(parse(b"\"x\"").unwrap_err().contains("a string"));
        assert!(parse(b"\xff\xfe{\x00").unwrap_err().contains("UTF-16"));
        assert!(parse(b"\x00\x01\xff").is_err());
        assert!(parse(b"{\"a\":").unwrap_err().contains("invalid JSON"));
    }

    #[test]
    fn fields_are_checked() {
        let obj = |v: Value| v.as_object().unwrap().clone();
        let ok = check_fields(
            "zhongshu-1",
            &obj(
                json!({"department_session_id": "lingyubu-1", "department": "lingyubu",
                        "summary": "s", "files": ["a"], "verification": "cargo test"}),
            ),
        )
        .unwrap();
        assert_eq!(ok.report_id, "lingyubu-1");
        assert_eq!(ok.changed_files, ["a"]);
        assert_eq!(ok.verifications_run, ["cargo test"]);
        let err = |v: Value| check_fields("zhongshu-1", &obj(v)).unwrap_err();
        assert!(err(json!({"department": "x", "summary": "s"}))
            .contains("department_session_id is required"));
        assert!(
            err(json!({"department_session_id": "../x", "department": "x", "summary": "s"}))
                .contains("must match")
        );
        assert!(
            err(json!({"department_session_id": "a", "department": "x", "summary": 3}))
                .contains("summary must be a string")
        );
        assert!(err(json!({"department_session_id": "a", "department": "x", "summary": "s", "changed_files": {"a": 1}})).contains("changed_files"));
        assert!(err(json!({"department_session_id": "a", "department": "x", "summary": "s", "parent_session_id": "zhongshu-2"})).contains("does not name"));
        assert!(err(json!({"department_session_id": "a", "department": "x", "summary": "s", "needs_user_confirmation": "yes"})).contains("true or false"));
    }

    #[test]
    fn unique_names_skip_taken() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.json"), "x").unwrap();
        let mut taken = HashSet::new();
        let first = unique_name(dir.path(), "a.json", &mut taken);
        assert_eq!(first.file_name().unwrap(), "a-2.json");
        let second = unique_name(dir.path(), "a.json", &mut taken);
        assert_eq!(second.file_name().unwrap(), "a-3.json");
    }
}
