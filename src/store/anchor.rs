//! The audit chain anchored in the database. Each change renders its audit
//! lines inside its transaction and stores the chain's new head (seq and hash)
//! in `meta.audit_head` with the outbox rows, so the log and the database vouch
//! for each other: a log rewritten with its whole chain recomputed still
//! chains, but no longer ends where the database says it does.
//!
//! At open the log is compared with the stored head before anything is
//! committed (a mismatch is kept for the start-up check to report), and
//! `codex-governance audit verify` checks both, while a launcher runs or not.

use std::path::Path;

use rusqlite::Connection;
use serde_json::{json, Value};

use super::gate::{self, Found, SCHEMA_VERSION};
use super::schema::{self, DB_FILE};
use crate::audit::{self, AuditLog, Head, Rendered, VerifyError};

/// What the outbox owes the log at open, and whether the log matched.
pub(super) struct Recovered {
    /// Committed lines the log lacks, oldest first.
    pub pending: Vec<Rendered>,
    /// The chain's head once they are written.
    pub head: Head,
    /// Where the log disagrees with the database's anchor.
    pub problem: Option<String>,
}

/// Reads the outbox's lines past the log's end (rendering those an older
/// launcher stored unrendered), compares the log with the stored anchor, and
/// stores the anchor when there was none (a new or migrated database), in one
/// transaction.
pub(super) fn recover(conn: &mut Connection, log: &AuditLog) -> rusqlite::Result<Recovered> {
    let log_head = log.head();
    let stored = schema::audit_anchor(conn)?;
    let mut head = log_head.clone();
    let mut pending = Vec::new();
    let mut rendered_now = Vec::new();
    for row in schema::outbox(conn)?
        .into_iter()
        .filter(|r| r.seq > log_head.seq)
    {
        let line = match row.line.as_deref().and_then(Rendered::parse) {
            Some(line) => line,
            None => {
                let fields: Value = serde_json::from_str(&row.fields).unwrap_or_else(|_| json!({}));
                let line = audit::render(row.seq, &row.event, &fields, &head.hash)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                rendered_now.push(line.clone());
                line
            }
        };
        head = Head::of(&line);
        pending.push(line);
    }
    let problem = stored
        .as_ref()
        .and_then(|anchor| audit::check_anchor(&log_head, anchor, &pending).err())
        .map(|e| e.0);
    if stored.is_none() || !rendered_now.is_empty() {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for line in &rendered_now {
            schema::set_outbox_line(&tx, line)?;
        }
        schema::put_audit_anchor(&tx, &head)?;
        tx.commit()?;
    }
    Ok(Recovered {
        pending,
        head,
        problem,
    })
}

/// What `audit verify` found: the log's whole lines chain, and end where the
/// database's anchor says (or its pending lines continue them there).
#[derive(Debug)]
pub struct AuditVerified {
    pub lines: usize,
    pub anchor: Head,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditCheckError {
    #[error(transparent)]
    Chain(#[from] VerifyError),
    #[error("{0}")]
    Anchor(String),
    #[error("{0}")]
    Database(String),
}

/// Verifies the state folder's audit log: its chain, and its end against the
/// database's anchor. A launcher may be writing meanwhile: lines are appended
/// only after the commit that anchors them, so the log is read first and the
/// database after; a mismatch while the log grew is read again.
pub fn verify_audit(state_dir: &Path) -> Result<AuditVerified, AuditCheckError> {
    let path = state_dir.join(audit::AUDIT_FILE);
    let len = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let before = len();
        let (lines, head) = audit::verify_whole_lines(&path)?;
        let (anchor, pending) = read_anchor(state_dir)?;
        match audit::check_anchor(&head, &anchor, &pending) {
            Ok(()) => return Ok(AuditVerified { lines, anchor }),
            Err(_) if attempts < 5 && len() != before => continue,
            Err(problem) => return Err(AuditCheckError::Anchor(problem.0)),
        }
    }
}

/// The anchor and the outbox's lines, read in one transaction.
fn read_anchor(state_dir: &Path) -> Result<(Head, Vec<Rendered>), AuditCheckError> {
    let path = state_dir.join(DB_FILE);
    let database = |what: String| AuditCheckError::Database(what);
    match gate::inspect(&path).map_err(|e| database(e.to_string()))? {
        Found::Nothing => {
            return Err(database(format!(
                "{} is missing or empty: the log cannot be checked against it (a log \
                 rewritten with its chain recomputed would chain as well)",
                path.display()
            )))
        }
        Found::Ours(SCHEMA_VERSION) => {}
        Found::Ours(_) | Found::Older => {
            return Err(database(format!(
                "{} was written by an older launcher and holds no anchor yet: start the \
                 launcher once, then verify",
                path.display()
            )))
        }
    }
    let sql = |e: rusqlite::Error| database(format!("{}: {e}", path.display()));
    // Read-write (never created), so that a transaction a crash cut off is rolled
    // back first, as the launcher's next start would do; nothing is written.
    let mut conn = Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql)?;
    super::busy::wait_in_short_steps(&conn).map_err(sql)?;
    let tx = conn.transaction().map_err(sql)?;
    let anchor = schema::audit_anchor(&tx).map_err(sql)?.ok_or_else(|| {
        database(format!(
            "{} holds no audit anchor: start the launcher once, then verify",
            path.display()
        ))
    })?;
    let pending = schema::outbox(&tx)
        .map_err(sql)?
        .into_iter()
        .filter_map(|r| r.line.as_deref().and_then(Rendered::parse))
        .collect();
    Ok((anchor, pending))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AuditEvent;
    use crate::store::Store;

    fn store_with_events(dir: &Path, n: u32) -> Store {
        let store = Store::open(dir).unwrap();
        for pid in 0..n {
            store
                .update(|tx| tx.audit(AuditEvent::LauncherStopped { pid }))
                .unwrap();
        }
        store
    }

    fn log_path(dir: &Path) -> std::path::PathBuf {
        dir.join(audit::AUDIT_FILE)
    }

    fn lines(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(log_path(dir))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Writes the lines back with every hash recomputed: a chain that holds.
    fn write_rechained(dir: &Path, lines: &[String]) {
        let mut prev = Head::genesis().hash;
        let mut out = String::new();
        for line in lines {
            let (line, hash) = audit::seal(serde_json::from_str(line).unwrap(), &prev).unwrap();
            out.push_str(&line);
            out.push('\n');
            prev = hash;
        }
        std::fs::write(log_path(dir), out).unwrap();
    }

    fn stored_anchor(dir: &Path) -> Head {
        let conn = Connection::open(dir.join(DB_FILE)).unwrap();
        schema::audit_anchor(&conn).unwrap().unwrap()
    }

    /// A state folder each earlier release wrote (tests/fixtures/audit):
    /// its audit log and database, as bytes.
    const EARLIER_RELEASES: [(&str, &[u8], &[u8]); 2] = [
        (
            "6bb12bf (before ACP: keys sorted)",
            include_bytes!("../../tests/fixtures/audit/6bb12bf/codex_governance_audit.jsonl"),
            include_bytes!("../../tests/fixtures/audit/6bb12bf/codex_governance.db"),
        ),
        (
            "1dacb00 (ACP: keys in insertion order)",
            include_bytes!("../../tests/fixtures/audit/1dacb00/codex_governance_audit.jsonl"),
            include_bytes!("../../tests/fixtures/audit/1dacb00/codex_governance.db"),
        ),
    ];

    /// Issue 69 item 2: a log (and the database's anchor) written by any
    /// earlier release verifies after an upgrade, and the lines this release
    /// adds chain on from it in the launcher's own canonical form.
    #[test]
    fn logs_and_anchors_written_by_earlier_releases_verify_and_go_on() {
        for (release, log, db) in EARLIER_RELEASES {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(log_path(dir.path()), log).unwrap();
            std::fs::write(dir.path().join(DB_FILE), db).unwrap();
            let before = lines(dir.path()).len();
            assert_eq!(
                audit::verify(&log_path(dir.path())).unwrap(),
                before,
                "{release}"
            );
            let v = verify_audit(dir.path()).unwrap();
            assert_eq!(
                (v.lines, v.anchor.seq),
                (before, before as u64),
                "{release}"
            );
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.audit_anchor_problem(), None, "{release}");
            store
                .update(|tx| tx.audit(AuditEvent::LauncherStopped { pid: 7 }))
                .unwrap();
            drop(store);
            let all = lines(dir.path());
            assert_eq!(all.len(), before + 1, "{release}");
            let v = verify_audit(dir.path()).unwrap();
            assert_eq!(v.lines, before + 1, "{release}");
            let added: Value = serde_json::from_str(&all[before]).unwrap();
            assert_eq!(
                all[before],
                audit::canonical::to_string(&added),
                "{release}: the new line in the canonical form"
            );
        }
    }

    #[test]
    fn each_change_stores_the_chains_head_with_its_outbox_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_events(dir.path(), 3);
        assert_eq!(stored_anchor(dir.path()), store.audit_log().head());
        assert_eq!(store.audit_log().head().seq, 3);
        let v = verify_audit(dir.path()).unwrap();
        assert_eq!((v.lines, v.anchor.seq), (3, 3));
        // A change without audit events leaves the anchor where it was.
        store.update(|tx| tx.state().sessions.len()).unwrap();
        assert_eq!(stored_anchor(dir.path()).seq, 3);
    }

    #[test]
    fn a_log_rewritten_with_its_whole_chain_recomputed_fails_against_the_database() {
        let dir = tempfile::tempdir().unwrap();
        drop(store_with_events(dir.path(), 4));
        let mut edited = lines(dir.path());
        edited[1] = edited[1].replace("\"pid\":1", "\"pid\":666");
        write_rechained(dir.path(), &edited);
        assert_eq!(
            audit::verify(&log_path(dir.path())).unwrap(),
            4,
            "the chain alone passes"
        );
        let e = verify_audit(dir.path()).unwrap_err().to_string();
        assert!(e.contains("the log was rewritten"), "{e}");
        // The next start finds it before it commits anything.
        let store = Store::open(dir.path()).unwrap();
        let problem = store.audit_anchor_problem().unwrap();
        assert!(problem.contains("seq 4"), "{problem}");
    }

    #[test]
    fn a_log_cut_short_or_written_past_the_database_fails() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_events(dir.path(), 3);
        // Trim the outbox, as the next change would: the database owes nothing.
        store
            .update(|tx| tx.audit(AuditEvent::LauncherStopped { pid: 9 }))
            .unwrap();
        drop(store);
        let all = lines(dir.path());
        // Line 4 is still in the outbox (trimmed by the next change): only a
        // cut below it is missing lines.
        std::fs::write(log_path(dir.path()), all[..3].join("\n") + "\n").unwrap();
        verify_audit(dir.path()).unwrap();
        std::fs::write(log_path(dir.path()), all[..2].join("\n") + "\n").unwrap();
        let e = verify_audit(dir.path()).unwrap_err().to_string();
        assert!(e.contains("lines are missing"), "{e}");

        let store = Store::open(dir.path()).unwrap();
        assert!(store.audit_anchor_problem().is_some());
        drop(store);
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_events(dir.path(), 2);
        store
            .audit_log()
            .append("forged", json!({"by": "someone else"}))
            .unwrap();
        drop(store);
        let e = verify_audit(dir.path()).unwrap_err().to_string();
        assert!(e.contains("past the database's anchor"), "{e}");
    }

    #[test]
    fn committed_lines_missing_from_the_log_are_covered_by_the_outbox_and_written_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .update(|tx| {
                for pid in 0..3 {
                    tx.audit(AuditEvent::LauncherStopped { pid });
                }
            })
            .unwrap();
        drop(store);
        // As after a crash between the commit and the append (and a torn line).
        let all = lines(dir.path());
        std::fs::write(log_path(dir.path()), all[0].clone() + "\n{\"seq\":2,\"ts").unwrap();
        let v = verify_audit(dir.path()).unwrap();
        assert_eq!((v.lines, v.anchor.seq), (1, 3));
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.audit_anchor_problem(), None);
        assert_eq!(lines(dir.path()), all);
        assert_eq!(audit::verify(&log_path(dir.path())).unwrap(), 3);
    }

    #[test]
    fn a_missing_or_empty_database_beside_a_log_with_history_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        drop(store_with_events(dir.path(), 2));
        let log = std::fs::read(log_path(dir.path())).unwrap();
        let db = dir.path().join(DB_FILE);
        std::fs::remove_file(&db).unwrap();
        let e = Store::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains("records 2 events") && e.contains("mv "), "{e}");
        assert!(!db.exists(), "no database was created");
        std::fs::write(&db, b"").unwrap();
        let e = Store::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains("missing or empty"), "{e}");
        assert_eq!(std::fs::read(&db).unwrap(), b"");
        assert_eq!(std::fs::read(log_path(dir.path())).unwrap(), log);
        let e = verify_audit(dir.path()).unwrap_err().to_string();
        assert!(e.contains("missing or empty"), "{e}");
        // The fix it names works: the log moved aside, a new history starts.
        std::fs::rename(log_path(dir.path()), dir.path().join("old.jsonl")).unwrap();
        drop(store_with_events(dir.path(), 1));
        verify_audit(dir.path()).unwrap();
    }
}
