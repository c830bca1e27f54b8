//! Ingesting one Zhongshu's `incoming/` folder (SPEC 8, steps 1-6).
//!
//! Files are taken in batches: each is checked for completeness and validated,
//! then the whole batch is registered in one state save and one audit sync, its
//! handoff packets written and its files moved to `archive/`. Every step can be
//! repeated: a file still in `incoming/` after a crash is recognised by its
//! content hash and only finished, never registered twice.

mod fallback;
pub(crate) use fallback::register_fallback;
pub mod folders;
mod register;
pub mod report_file;
pub mod safe_read;
mod submit;
pub mod watchdog;
pub mod watcher;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use super::names::unique_name;
use crate::clock;
use crate::context::Context;
use crate::ids::check_id;
use crate::model::{AuditEvent, MailboxPaths, ResultSource, TaskResult};
use crate::policy::report as policy;
use folders::Dropped;
use report_file::sha256_hex;

/// Largest report accepted.
pub const MAX_REPORT_BYTES: u64 = crate::limits::MAX_MESSAGE_BYTES as u64;
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
    /// The tool call it came from, recorded with the registration.
    pub(super) receipt: Option<crate::model::ToolReceipt>,
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

/// Ingestion: a Zhongshu's `incoming/` folder taken in, batch by batch, by
/// the mailbox's ingestion thread (and a report submitted over the API). It
/// owns the watchdog, which says whether a scan is busy and since when.
pub struct Ingest {
    ctx: Arc<Context>,
    pub watchdog: watchdog::Watchdog,
}

impl Ingest {
    pub fn new(ctx: Arc<Context>) -> Ingest {
        Ingest {
            ctx,
            watchdog: Default::default(),
        }
    }

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
        for dropped in names {
            let (name, path) = (dropped.name.as_str(), dropped.path.as_path());
            let verdict = match known {
                Some(true) => self.judge(zhongshu_id, &dropped, seen),
                _ => Verdict::Reject(format!("{zhongshu_id} is not a known Zhongshu session")),
            };
            match verdict {
                Verdict::Accept(report) => {
                    seen.remove(path);
                    accepted.push(*report);
                    if accepted.len() >= BATCH {
                        self.register_batch(&paths, std::mem::take(&mut accepted), &mut outcome);
                    }
                }
                Verdict::Reject(reason) => {
                    seen.remove(path);
                    self.reject(zhongshu_id, &paths, name, path, &reason);
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
        dropped: &Dropped,
        seen: &mut std::collections::HashMap<PathBuf, Seen>,
    ) -> Verdict {
        let (name, path) = (dropped.name.as_str(), dropped.path.as_path());
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
        let read = safe_read::read_regular(path, MAX_REPORT_BYTES);
        let bytes = match read {
            Ok(read) => Ok(read.bytes),
            Err(safe_read::SafeReadError::Gone) => return Verdict::Wait,
            // A writer that persists by link-then-unlink shows two names for a moment.
            Err(e @ safe_read::SafeReadError::Linked(_)) => Err(Rejection::new(e.to_string())),
            Err(e) => return Verdict::Reject(e.to_string()),
        };
        match bytes.and_then(|b| parse(&b).map(|obj| (obj, b))) {
            Ok((obj, bytes)) => match self.validate(zhongshu_id, &obj, dropped.channel()) {
                Ok(result) => Verdict::Accept(Box::new(Report {
                    path: path.to_path_buf(),
                    name: name.to_string(),
                    hash: sha256_hex(&bytes),
                    result,
                    archived: false,
                    receipt: None,
                })),
                Err(reason) => Verdict::Reject(reason.to_string()),
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
                            Verdict::Reject(reason.to_string())
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

    /// Fields checked, then bound to the session they name
    /// ([`policy::bind`]); the result to register.
    pub(super) fn validate(
        &self,
        zhongshu_id: &str,
        obj: &Map<String, Value>,
        channel: policy::Channel,
    ) -> Result<TaskResult, Rejection> {
        let f = check_fields(zhongshu_id, obj)?;
        let session = self
            .ctx
            .store
            .read(|s| s.sessions.get(&f.session_id).cloned());
        let sandboxed = session
            .as_ref()
            .is_some_and(|s| crate::agents::capabilities_of(&s.agent).sandboxed);
        let claim = policy::Claim {
            zhongshu: zhongshu_id,
            session_id: &f.session_id,
            department: &f.department,
        };
        policy::bind(claim, channel, session.as_ref(), sandboxed)?;
        let objective = session.map(|s| s.task).unwrap_or_default();
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
            objective,
            verified: false,
            ..TaskResult::default()
        })
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
        if let Err(e) = crate::platform::create_private_dir(&paths.rejected) {
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
        self.ctx.store.audit_or_log(AuditEvent::ResultRejected {
            parent_session_id: zhongshu_id.to_string(),
            file: name.to_string(),
            rejected_as: dest_name.to_string(),
            error: reason.to_string(),
        });
    }
}

fn describe_type(t: &fs::FileType) -> &'static str {
    crate::platform::describe_file_type(t)
}

pub use report_file::{check_fields, parse, Rejection, ReportFields};
