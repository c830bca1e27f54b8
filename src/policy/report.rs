//! Report checks: whom a department report may speak for. A report names its
//! sender; the sender must be a department of the Zhongshu whose mailbox it is
//! in, of the department it claims, and a report in a department's own drop
//! folder speaks only for that department; a result the session submitted
//! with its own token is not replaced by a file dropped by hand; a report's
//! question is answered once.

use super::Refusal;
use crate::model::{ResultSource, Session, TaskResult};

/// Whom a report says it speaks for.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The Zhongshu whose mailbox the report is in.
    pub zhongshu: &'a str,
    /// The department session it names.
    pub session_id: &'a str,
    /// The department it names.
    pub department: &'a str,
}

/// How a report reached the launcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel<'a> {
    /// Submitted with the session's own token.
    Token,
    /// A file in the drop folder of the session named here.
    DropFolder(&'a str),
    /// A file in the Zhongshu's shared `incoming/`.
    SharedIncoming,
}

/// Binds a report to the session it speaks for, or refuses it: the session
/// must exist, be a department of the Zhongshu, of the department claimed,
/// and the channel must be one that session may use. `sandboxed` is whether
/// that session's agent runs in the OS sandbox.
pub fn bind(
    claim: Claim,
    channel: Channel,
    session: Option<&Session>,
    sandboxed: bool,
) -> Result<(), Refusal> {
    check_sender(claim.zhongshu, claim.session_id, claim.department, session)?;
    let folder = match channel {
        Channel::Token => return Ok(()),
        Channel::DropFolder(owner) => Some(owner),
        Channel::SharedIncoming => None,
    };
    check_folder(claim.session_id, folder, session, sandboxed)
}

/// Whether a registered result `old` gives way to a department's real
/// report: the launcher's fallback stands in only until one comes.
/// Whether a report's question still waits for the user: until it is
/// answered, or until the user settled the department's work (applied,
/// merged, discarded), which makes it moot (issue 70 item 13: the demo kept
/// asking after the work was applied).
pub fn question_waits(answered: bool, work_settled: bool) -> bool {
    !answered && !work_settled
}

pub fn superseded_by_report(old: &TaskResult) -> bool {
    old.source == ResultSource::LauncherFallback
}

/// Whether `session` (the session the report names, if it exists) may send a
/// report as `claimed` of `department` to `zhongshu`.
fn check_sender(
    zhongshu: &str,
    claimed: &str,
    department: &str,
    session: Option<&Session>,
) -> Result<(), Refusal> {
    let session = session.ok_or_else(|| {
        Refusal::Unknown(format!(
            "department_session_id {claimed} is not a known session"
        ))
    })?;
    if session.parent_session_id() != Some(zhongshu) {
        return Err(Refusal::Forbidden(format!(
            "session {claimed} is not a department of {zhongshu}"
        )));
    }
    if session.department.as_deref() != Some(department) {
        return Err(Refusal::Forbidden(format!(
            "session {claimed} is the {} department, not {department}",
            session.department.as_deref().unwrap_or("?")
        )));
    }
    Ok(())
}

/// A report speaks only for the session whose drop folder (`folder`) it is
/// in. One in the shared `incoming/` cannot speak for a `sandboxed` agent,
/// which reports through its tool or its own folder, the only part of the
/// state folder its sandbox can write; it still can for an unsandboxed agent,
/// which could write any folder, and for sessions of older launchers or the
/// Python tool.
fn check_folder(
    claimed: &str,
    folder: Option<&str>,
    session: Option<&Session>,
    sandboxed: bool,
) -> Result<(), Refusal> {
    match folder {
        Some(owner) if owner != claimed => Err(Refusal::Forbidden(format!(
            "a file in the drop folder of {owner} cannot report for {claimed}"
        ))),
        Some(_) => Ok(()),
        None => {
            let own = session
                .filter(|_| sandboxed)
                .and_then(|s| s.department_part())
                .and_then(|d| d.drop_folder.as_deref());
            match own {
                Some(dir) => Err(Refusal::Forbidden(format!(
                    "{claimed} reports from its own drop folder {dir}; a file in the shared \
                     incoming/ cannot speak for it"
                ))),
                None => Ok(()),
            }
        }
    }
}

/// A result submitted with the session's own token (`verified`) is replaced
/// only by another such submission, never by a file dropped by hand.
pub fn may_replace(existing: &TaskResult, new: &TaskResult) -> Result<(), Refusal> {
    if existing.verified && !new.verified {
        return Err(Refusal::Forbidden(format!(
            "result {} of session {} was submitted with the session's own token; \
             a file dropped by hand cannot replace it",
            existing.report_id, existing.department_session_id
        )));
    }
    Ok(())
}

/// A report's question is answered once, if it asked one, with a note of at
/// most `note_max` characters; the note trimmed (none when empty).
pub fn may_answer<'a>(
    result: &TaskResult,
    department_session_id: &str,
    note: Option<&'a str>,
    note_max: usize,
) -> Result<Option<&'a str>, Refusal> {
    let report_id = &result.report_id;
    if !result.needs_user_confirmation {
        return Err(Refusal::Conflict(format!(
            "report {report_id} of {department_session_id} asks for no confirmation"
        )));
    }
    if let Some(a) = &result.confirmation {
        return Err(Refusal::Conflict(format!(
            "report {report_id} of {department_session_id} was answered already ({} at {})",
            a.decision, a.at
        )));
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > note_max) {
        return Err(Refusal::Invalid(format!(
            "the note is longer than {note_max} characters"
        )));
    }
    Ok(note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn department(backend: &str) -> Session {
        serde_json::from_value(json!({
            "id": "lingyubu-1", "session_kind": "department", "role": "department",
            "department": "lingyubu", "title": "t", "model": "m", "task": "do",
            "pid": null, "status": "running", "exit_code": null, "started_at": "s",
            "ended_at": null, "prompt_path": "", "log_path": "",
            "parent_session_id": "zhongshu-1", "drop_folder": "/s/incoming/lingyubu-1",
            "backend": backend,
        }))
        .unwrap()
    }

    #[test]
    fn a_report_speaks_only_for_its_own_department() {
        let d = department("pty");
        assert!(check_sender("zhongshu-1", "lingyubu-1", "lingyubu", Some(&d)).is_ok());
        let e = check_sender("zhongshu-2", "lingyubu-1", "lingyubu", Some(&d)).unwrap_err();
        assert!(
            e.to_string().contains("not a department of zhongshu-2"),
            "{e}"
        );
        let e = check_sender("zhongshu-1", "lingyubu-1", "menxia", Some(&d)).unwrap_err();
        assert!(
            e.to_string()
                .contains("is the lingyubu department, not menxia"),
            "{e}"
        );
        let e = check_sender("zhongshu-1", "nobody-1", "lingyubu", None).unwrap_err();
        assert!(e.to_string().contains("not a known session"), "{e}");
    }

    #[test]
    fn bind_checks_the_sender_for_every_channel_and_the_folder_for_files() {
        let codex = department("codex");
        let claim = |zhongshu, department| Claim {
            zhongshu,
            session_id: "lingyubu-1",
            department,
        };
        let ok = claim("zhongshu-1", "lingyubu");
        assert!(bind(ok, Channel::Token, Some(&codex), true).is_ok());
        assert!(bind(ok, Channel::DropFolder("lingyubu-1"), Some(&codex), true).is_ok());
        let e = bind(ok, Channel::SharedIncoming, Some(&codex), true).unwrap_err();
        assert!(matches!(e, Refusal::Forbidden(_)), "{e}");
        let e = bind(ok, Channel::DropFolder("zhilibu-2"), Some(&codex), true).unwrap_err();
        assert!(e.to_string().contains("drop folder of zhilibu-2"), "{e}");
        // A token does not lift the sender checks.
        let other = claim("zhongshu-2", "lingyubu");
        let e = bind(other, Channel::Token, Some(&codex), true).unwrap_err();
        assert!(
            e.to_string().contains("not a department of zhongshu-2"),
            "{e}"
        );
        let e = bind(ok, Channel::Token, None, true).unwrap_err();
        assert!(matches!(e, Refusal::Unknown(_)), "{e}");
    }

    #[test]
    fn only_a_fallback_gives_way_to_a_report() {
        let mut old = TaskResult {
            source: ResultSource::LauncherFallback,
            ..TaskResult::default()
        };
        assert!(superseded_by_report(&old));
        old.source = ResultSource::Mailbox;
        assert!(!superseded_by_report(&old));
    }

    #[test]
    fn a_drop_folder_speaks_for_its_owner_and_codex_only_from_its_own() {
        let pty = department("pty");
        let codex = department("codex");
        assert!(check_folder("lingyubu-1", Some("lingyubu-1"), Some(&codex), true).is_ok());
        let e = check_folder("lingyubu-1", Some("zhilibu-2"), Some(&pty), false).unwrap_err();
        assert!(e.to_string().contains("drop folder of zhilibu-2"), "{e}");
        assert!(check_folder("lingyubu-1", None, Some(&pty), false).is_ok());
        let e = check_folder("lingyubu-1", None, Some(&codex), true).unwrap_err();
        assert!(e.to_string().contains("its own drop folder"), "{e}");
    }
}
