//! A result's report as it was received, for the review drawer.
//!
//! What a department sent may say more than what the launcher kept (unknown
//! fields, its own formatting), so the developer can read the very file it
//! wrote: the report archived in the Zhongshu's mailbox. A result without such
//! a file (a launcher fallback, or one whose file was removed since) shows the
//! stored result instead, and says so.

use std::path::Path;

use super::state_file::{read_state_file, MAX_READ};
use super::ResultRef;
use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::model::TaskResult;
use crate::views::review::{RawReport, RawView};

/// The stored result named by `which` and its report as received.
pub fn result_raw(ctx: &Context, which: &ResultRef) -> LResult<RawView> {
    let result = which.load(ctx)?;
    Ok(RawView {
        raw: raw_report(&ctx.paths.state_dir, &result)?,
        result,
    })
}

/// The archived report file if it is there, else the stored result. A file
/// outside the state folder, a link or a folder is refused, not replaced.
pub fn raw_report(state_dir: &Path, result: &TaskResult) -> LResult<RawReport> {
    if let Some(file) = result.mailbox_file.as_deref() {
        match read_state_file(state_dir, Path::new(file), MAX_READ) {
            Ok(read) => {
                return Ok(RawReport {
                    raw: read.text,
                    raw_source: "mailbox_file",
                    raw_truncated: read.truncated,
                })
            }
            Err(LauncherError::NotFound(_)) => {} // removed since: the stored result
            Err(e) => return Err(e),
        }
    }
    let raw = serde_json::to_string_pretty(result)
        .map_err(|e| LauncherError::Internal(format!("the stored result as JSON: {e}")))?;
    Ok(RawReport {
        raw,
        raw_source: "stored_result",
        raw_truncated: false,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::ResultSource;

    /// A result of `zhongshu-1` whose files would live under `state`.
    pub(crate) fn result(state: &Path) -> TaskResult {
        let archive = state.join("codex_governance_mailbox/zhongshu-1/archive");
        TaskResult {
            report_id: "r1".into(),
            parent_session_id: "zhongshu-1".into(),
            department_session_id: "lingyubu-1".into(),
            department: "lingyubu".into(),
            summary: "<script>alert(1)</script> did it".into(),
            changed_files: vec!["src/lib.rs".into()],
            verifications_run: vec![],
            verifications_skipped: vec![],
            risks: vec![],
            needs_user_confirmation: false,
            next_action: None,
            reported_at: "2026-01-01T00:00:00Z".into(),
            source: ResultSource::Mailbox,
            read: false,
            mailbox_file: Some(archive.join("lingyubu-1.json").display().to_string()),
            handoff_packet: Some(archive.join("handoff-r1-1.md").display().to_string()),
            revision: 1,
            content_sha256: None,
            objective: "the task".into(),
            verified: false,
            ..TaskResult::default()
        }
    }

    #[test]
    fn the_archived_file_as_it_was_received() {
        let dir = tempfile::tempdir().unwrap();
        let r = result(dir.path());
        let file = r.mailbox_file.clone().unwrap();
        std::fs::create_dir_all(Path::new(&file).parent().unwrap()).unwrap();
        let sent = "{\"summary\": \"did it\",\n  \"extra\": [1, 2]}\n";
        std::fs::write(&file, sent).unwrap();
        let got = raw_report(dir.path(), &r).unwrap();
        assert_eq!(
            got,
            RawReport {
                raw: sent.into(),
                raw_source: "mailbox_file",
                raw_truncated: false
            }
        );
    }

    #[test]
    fn no_file_means_the_stored_result() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = result(dir.path());
        // Recorded, but removed since.
        let got = raw_report(dir.path(), &r).unwrap();
        assert_eq!(got.raw_source, "stored_result");
        let back: TaskResult = serde_json::from_str(&got.raw).unwrap();
        assert_eq!(back, r);
        // Never recorded (a launcher fallback).
        r.mailbox_file = None;
        let got = raw_report(dir.path(), &r).unwrap();
        assert_eq!(got.raw_source, "stored_result");
        assert!(got.raw.contains("\"report_id\": \"r1\""), "{}", got.raw);
    }

    #[test]
    fn a_file_outside_the_state_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        let mut r = result(&state);
        let secret = dir.path().join("secret.json");
        std::fs::write(&secret, "{\"secret\": true}").unwrap();
        r.mailbox_file = Some(secret.display().to_string());
        let err = raw_report(&state, &r).unwrap_err();
        assert!(
            matches!(&err, LauncherError::BadRequest(m) if m.contains("outside")),
            "{err}"
        );
    }
}
