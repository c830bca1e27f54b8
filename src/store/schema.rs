//! The database's tables and the row-level reads and writes of each.
//!
//! Small tables (sessions, plans, queue, terminals, counters) are mirrored in
//! memory and written row by row when they change; results live only here,
//! indexed by Zhongshu and read state, so a change costs the same whatever the
//! history. `synchronous=FULL` with WAL: every commit is on disk before the
//! change is acknowledged (SPEC 14), at one WAL sync per change.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{de::DeserializeOwned, Serialize};

use super::gate::{Found, SchemaError, APPLICATION_ID, SCHEMA_VERSION};
use crate::audit::{Head, Rendered};

pub use super::result_rows::{
    copy_results, delete_result, get_result, mark_read, mark_seen, put_result, result_from_row,
    results_of_department,
};
use crate::model::State;

pub const DB_FILE: &str = "codex_governance.db";
/// The tables of schema 1 (created `IF NOT EXISTS`: a migration adds any a
/// crash of an older launcher left out).
const SCHEMA_1: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plans (session_id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queue (pos INTEGER PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS terminals (id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    ord INTEGER NOT NULL,
    parent TEXT NOT NULL,
    department_session_id TEXT NOT NULL,
    read INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_by_parent ON results (parent, ord);
DROP INDEX IF EXISTS results_unread;
CREATE INDEX IF NOT EXISTS results_by_read ON results (read, parent);
CREATE INDEX IF NOT EXISTS results_by_department ON results (department_session_id);
CREATE INDEX IF NOT EXISTS results_by_ord ON results (ord);
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, event TEXT NOT NULL, fields TEXT NOT NULL);
";

/// From schema 1 to 2: each outbox row keeps its rendered line (NULL in rows
/// an older launcher left; they are rendered at open), and no terminal's
/// token stays at rest.
const TO_SCHEMA_2: &str = "
ALTER TABLE outbox ADD COLUMN line TEXT;
UPDATE terminals SET json = json_set(json, '$.url',
    substr(json_extract(json, '$.url'), 1, instr(json_extract(json, '$.url'), '?') - 1))
  WHERE instr(json_extract(json, '$.url'), '?') > 0;
";

/// From schema 2 to 3: review comments on a department's diff lines (issue
/// 51), kept by the attempt they were written on.
const TO_SCHEMA_3: &str = "
CREATE TABLE IF NOT EXISTS review_comments (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS review_comments_by_session ON review_comments (session_id);
";

/// Opens the database for writing, as [`gate::inspect`] found it: creates a
/// new one (owner-only, with our id, in one transaction), migrates an older
/// one of ours in one transaction, or opens ours. Nothing else reaches here.
pub fn open_writer(path: &Path, found: Found) -> Result<Connection, SchemaError> {
    let sql = |source| SchemaError::Sql {
        path: path.display().to_string(),
        source,
    };
    if let Found::Ours(v) = found {
        if v > SCHEMA_VERSION {
            return Err(SchemaError::Newer {
                path: path.display().to_string(),
                found: v,
            });
        }
    }
    if found == Found::Nothing {
        create_private(path).map_err(|source| SchemaError::Io {
            path: path.display().to_string(),
            source,
        })?;
    }
    let mut conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
            | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )
    .map_err(sql)?;
    conn.execute_batch(
        "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;
         PRAGMA cache_size=-16384;",
    )
    .map_err(sql)?;
    super::busy::wait_in_short_steps(&conn).map_err(sql)?;
    let from = match found {
        Found::Nothing => 0,
        Found::Older => 1,
        Found::Ours(v) => v,
    };
    if from < SCHEMA_VERSION {
        migrate(&mut conn, from).map_err(sql)?;
    }
    Ok(conn)
}

/// The file a new database lives in, created owner-only before SQLite opens
/// it (SQLite gives its journal the same mode).
fn create_private(path: &Path) -> std::io::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    crate::files::open_own(folder, path, crate::files::Access::Write).map(drop)
}

/// Brings the schema from `from` (0: a new file) to [`SCHEMA_VERSION`] in one
/// transaction, the id and version with it.
fn migrate(conn: &mut Connection, from: i32) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    if from <= 1 {
        tx.execute_batch(SCHEMA_1)?;
        tx.execute_batch(TO_SCHEMA_2)?;
    }
    if from <= 2 {
        tx.execute_batch(TO_SCHEMA_3)?;
    }
    tx.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
    ))?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [SCHEMA_VERSION.to_string()],
    )?;
    tx.commit()
}

/// Opens a read-only connection (for result queries beside the writer).
pub fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
            | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )?;
    conn.execute_batch("PRAGMA cache_size=-8192;")?;
    super::busy::wait_in_short_steps(&conn)?;
    Ok(conn)
}

pub(super) fn from_json<T: DeserializeOwned>(table: &str, json: &str) -> rusqlite::Result<T> {
    serde_json::from_str(json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, {
            Box::new(std::io::Error::other(format!("a row of {table}: {e}")))
        })
    })
}

pub(super) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}

/// Loads the small tables into memory.
pub fn load_state(conn: &Connection) -> rusqlite::Result<State> {
    let mut state = State::default();
    if let Some(c) = conn
        .query_row("SELECT value FROM meta WHERE key='counters'", [], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
    {
        state.counters = from_json("meta", &c)?;
    }
    if let Some(q) = conn
        .query_row("SELECT value FROM meta WHERE key='quota'", [], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
    {
        state.quota = from_json("meta", &q)?;
    }
    for (table, order) in [
        ("sessions", "rowid"),
        ("plans", "rowid"),
        ("queue", "pos"),
        ("terminals", "rowid"),
    ] {
        let mut stmt = conn.prepare(&format!("SELECT json FROM {table} ORDER BY {order}"))?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for json in rows {
            match table {
                "sessions" => {
                    let s: crate::model::Session = from_json(table, &json)?;
                    state.sessions.insert(s.id.clone(), s);
                }
                "plans" => {
                    let p: crate::model::Plan = from_json(table, &json)?;
                    state.plans.insert(p.session_id.clone(), p);
                }
                "queue" => state.queue.push(from_json(table, &json)?),
                _ => {
                    let t: crate::model::TerminalRecord = from_json(table, &json)?;
                    state.terminals.insert(t.id.clone(), t);
                }
            }
        }
    }
    Ok(state)
}

/// Writes a review comment (new or changed).
pub fn put_review_comment(
    conn: &Connection,
    c: &crate::model::ReviewComment,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO review_comments (id, session_id, json) VALUES (?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET json = excluded.json",
    )?
    .execute(params![c.id, c.session_id, to_json(c)])?;
    Ok(())
}

pub fn delete_review_comment(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM review_comments WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

pub fn get_review_comment(
    conn: &Connection,
    id: &str,
) -> rusqlite::Result<Option<crate::model::ReviewComment>> {
    conn.prepare_cached("SELECT json FROM review_comments WHERE id = ?1")?
        .query_row([id], |r| r.get::<_, String>(0))
        .optional()?
        .map(|json| from_json("review_comments", &json))
        .transpose()
}

/// The comments written on one attempt, oldest first.
pub fn review_comments_of(
    conn: &Connection,
    session_id: &str,
) -> rusqlite::Result<Vec<crate::model::ReviewComment>> {
    let rows: Vec<String> = conn
        .prepare_cached("SELECT json FROM review_comments WHERE session_id = ?1 ORDER BY rowid")?
        .query_map([session_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    rows.iter()
        .map(|json| from_json("review_comments", json))
        .collect()
}

/// A table of small records kept as JSON by their key.
#[derive(Debug, Clone, Copy)]
pub enum Rows {
    Sessions,
    Plans,
    Terminals,
}

impl Rows {
    fn upsert(self) -> &'static str {
        match self {
            Rows::Sessions => {
                "INSERT INTO sessions (id, json) VALUES (?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET json = excluded.json"
            }
            Rows::Plans => {
                "INSERT INTO plans (session_id, json) VALUES (?1, ?2)
                 ON CONFLICT(session_id) DO UPDATE SET json = excluded.json"
            }
            Rows::Terminals => {
                "INSERT INTO terminals (id, json) VALUES (?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET json = excluded.json"
            }
        }
    }

    fn delete(self) -> &'static str {
        match self {
            Rows::Sessions => "DELETE FROM sessions WHERE id = ?1",
            Rows::Plans => "DELETE FROM plans WHERE session_id = ?1",
            Rows::Terminals => "DELETE FROM terminals WHERE id = ?1",
        }
    }
}

/// Writes a record under its key, or deletes the key when the record is gone.
pub fn put_row<T: Serialize>(
    conn: &Connection,
    rows: Rows,
    key: &str,
    record: Option<&T>,
) -> rusqlite::Result<()> {
    match record {
        Some(r) => conn
            .prepare_cached(rows.upsert())?
            .execute(params![key, to_json(r)])?,
        None => conn.prepare_cached(rows.delete())?.execute([key])?,
    };
    Ok(())
}

/// The queue is small (pending items only): written whole when it changes.
pub fn put_queue(conn: &Connection, queue: &[crate::model::QueueItem]) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM queue", [])?;
    let mut stmt = conn.prepare_cached("INSERT INTO queue (pos, json) VALUES (?1, ?2)")?;
    for (i, item) in queue.iter().enumerate() {
        stmt.execute(params![i as i64, to_json(item)])?;
    }
    Ok(())
}

pub fn put_counters(
    conn: &Connection,
    counters: &std::collections::BTreeMap<String, u64>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('counters', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute([to_json(counters)])?;
    Ok(())
}

/// Keeps one small record in `meta` under `key`.
pub fn put_meta<T: Serialize>(conn: &Connection, key: &str, value: &T) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, &to_json(value)])?;
    Ok(())
}

/// An outbox row: the event, its fields and its rendered line.
pub fn put_outbox(
    conn: &Connection,
    event: &str,
    fields: &str,
    line: &Rendered,
) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO outbox (seq, event, fields, line) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![line.seq as i64, event, fields, line.line])?;
    Ok(())
}

/// Outbox lines the audit log already holds are dropped.
pub fn trim_outbox(conn: &Connection, flushed_through: u64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM outbox WHERE seq <= ?1")?
        .execute([flushed_through as i64])?;
    Ok(())
}

/// One outbox row; `line` is None in rows an older launcher wrote.
pub struct OutboxRow {
    pub seq: u64,
    pub event: String,
    pub fields: String,
    pub line: Option<String>,
}

pub fn outbox(conn: &Connection) -> rusqlite::Result<Vec<OutboxRow>> {
    conn.prepare("SELECT seq, event, fields, line FROM outbox ORDER BY seq")?
        .query_map([], |r| {
            Ok(OutboxRow {
                seq: r.get::<_, i64>(0)? as u64,
                event: r.get(1)?,
                fields: r.get(2)?,
                line: r.get(3)?,
            })
        })?
        .collect()
}

/// Keeps the line an outbox row of an older launcher is now rendered as.
pub fn set_outbox_line(conn: &Connection, line: &Rendered) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE outbox SET line = ?2 WHERE seq = ?1")?
        .execute(params![line.seq as i64, line.line])?;
    Ok(())
}

/// The audit chain's head as the database knows it (None before schema 2's
/// first open).
pub fn audit_anchor(conn: &Connection) -> rusqlite::Result<Option<Head>> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = 'audit_head'")?
        .query_row([], |r| r.get::<_, String>(0))
        .optional()?
        .map(|json| from_json("meta", &json))
        .transpose()
}

pub fn put_audit_anchor(conn: &Connection, head: &Head) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('audit_head', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute([to_json(head)])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TerminalKind, TerminalRecord, TerminalStatus};
    use crate::store::{gate, verify_audit, Store};

    /// A database as the launcher wrote it before the application id: schema
    /// 1, a terminal URL with its token, an outbox row never appended.
    fn schema_1_database(dir: &Path) {
        let conn = Connection::open(dir.join(DB_FILE)).unwrap();
        conn.execute_batch(SCHEMA_1).unwrap();
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema', '1')", [])
            .unwrap();
        let terminal = TerminalRecord {
            id: "term-1".into(),
            kind: TerminalKind::Interactive,
            session_id: None,
            title: "shell".into(),
            url: "http://127.0.0.1:4242/?token=00ff".into(),
            status: TerminalStatus::Running,
            started_at: "2025-01-01T00:00:00Z".into(),
            closed_at: None,
            pid: None,
        };
        conn.execute(
            "INSERT INTO terminals (id, json) VALUES ('term-1', ?1)",
            [to_json(&terminal)],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO outbox (seq, event, fields) VALUES (1, 'launcher_stopped', '{\"pid\":7}')",
            [],
        )
        .unwrap();
    }

    #[test]
    fn an_older_database_of_ours_opens_migrated_in_one_step() {
        let dir = tempfile::tempdir().unwrap();
        schema_1_database(dir.path());
        let path = dir.path().join(DB_FILE);
        assert_eq!(gate::inspect(&path).unwrap(), Found::Older);
        let store = Store::open(dir.path()).unwrap();
        let url = store.read(|s| s.terminals["term-1"].url.clone());
        assert_eq!(url, "http://127.0.0.1:4242/", "the old token is gone");
        assert_eq!(
            store.audit_log().last_seq(),
            1,
            "the outbox row was appended"
        );
        drop(store);
        assert_eq!(gate::inspect(&path).unwrap(), Found::Ours(SCHEMA_VERSION));
        let raw = std::fs::read(&path).unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("token=00ff"));
        verify_audit(dir.path()).unwrap();
    }

    fn comment(id: &str, session_id: &str) -> crate::model::ReviewComment {
        crate::model::ReviewComment {
            id: id.into(),
            session_id: session_id.into(),
            path: "src/a.rs".into(),
            line: 3,
            side: crate::model::DiffSide::New,
            body: "rename it".into(),
            created_at: "2025-01-01T00:00:00Z".into(),
            commit: "c".into(),
            base: "b".into(),
            sent_at: None,
            resolved: false,
            finding: None,
        }
    }

    #[test]
    fn a_schema_2_database_gains_the_review_comments_and_they_outlive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        drop(Store::open(dir.path()).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("DROP TABLE review_comments; PRAGMA user_version = 2;")
            .unwrap();
        drop(conn);
        assert_eq!(gate::inspect(&path).unwrap(), Found::Ours(2));
        let store = Store::open(dir.path()).unwrap();
        store
            .update(|tx| {
                tx.put_review_comment(&comment("rc-1", "lingyubu-1"));
                tx.put_review_comment(&comment("rc-2", "lingyubu-1"));
                tx.put_review_comment(&comment("rc-3", "lingyubu-2"));
                tx.delete_review_comment("rc-2");
            })
            .unwrap();
        drop(store);
        assert_eq!(gate::inspect(&path).unwrap(), Found::Ours(SCHEMA_VERSION));
        let store = Store::open(dir.path()).unwrap();
        let first = store.review_comments_of("lingyubu-1").unwrap();
        assert_eq!(first, vec![comment("rc-1", "lingyubu-1")]);
        assert_eq!(
            store.review_comment("rc-3").unwrap(),
            Some(comment("rc-3", "lingyubu-2"))
        );
    }

    #[test]
    fn terminal_tokens_never_reach_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let token = "ab".repeat(32);
        let record = TerminalRecord {
            id: "term-1".into(),
            kind: TerminalKind::Interactive,
            session_id: None,
            title: "shell".into(),
            url: format!("http://127.0.0.1:4242/?token={token}"),
            status: TerminalStatus::Running,
            started_at: "2025-01-01T00:00:00Z".into(),
            closed_at: None,
            pid: None,
        };
        store.update(|tx| tx.insert_terminal(record)).unwrap();
        let in_memory = store.read(|s| s.terminals["term-1"].url.clone());
        assert!(in_memory.ends_with(&token), "the dashboard still gets it");
        drop(store);
        let raw = std::fs::read(dir.path().join(DB_FILE)).unwrap();
        assert!(!raw.windows(token.len()).any(|w| w == token.as_bytes()));
        let store = Store::open(dir.path()).unwrap();
        let at_rest = store.read(|s| s.terminals["term-1"].url.clone());
        assert_eq!(at_rest, "http://127.0.0.1:4242/");
    }

    #[cfg(unix)]
    #[test]
    fn a_new_database_and_its_log_are_owner_only_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: umask(2) only changes this process's file creation mask.
        let old = unsafe { libc::umask(0) };
        let store = Store::open(dir.path());
        unsafe { libc::umask(old) };
        let store = store.unwrap();
        store
            .update(|tx| tx.audit(crate::model::AuditEvent::LauncherStopped { pid: 1 }))
            .unwrap();
        for name in [DB_FILE, crate::audit::AUDIT_FILE] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
        }
    }
}
