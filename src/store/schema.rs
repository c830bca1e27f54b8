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

use crate::model::{State, TaskResult};

pub const DB_FILE: &str = "codex_governance.db";
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
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

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("{path} is not a codex-governance database ({reason}); it is left as it is")]
    Foreign { path: String, reason: String },
    #[error("{path}: {source}")]
    Sql {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
}

/// Opens (creating if needed) the database for writing, checking its shape.
pub fn open_writer(path: &Path) -> Result<Connection, SchemaError> {
    let sql = |source| SchemaError::Sql {
        path: path.display().to_string(),
        source,
    };
    let conn = Connection::open(path).map_err(sql)?;
    conn.execute_batch(
        "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;
         PRAGMA cache_size=-16384;",
    )
    .map_err(|e| foreign_or(path, e))?;
    super::busy::wait_in_short_steps(&conn).map_err(sql)?;
    check_foreign_tables(&conn, path)?;
    conn.execute_batch(SCHEMA).map_err(sql)?;
    let version: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key='schema'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sql)?;
    match version.as_deref() {
        None => {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema', ?1)",
                [SCHEMA_VERSION.to_string()],
            )
            .map_err(sql)?;
        }
        Some(v) if v == SCHEMA_VERSION.to_string() => {}
        Some(v) => {
            return Err(SchemaError::Foreign {
                path: path.display().to_string(),
                reason: format!("schema version {v}, this launcher knows {SCHEMA_VERSION}"),
            })
        }
    }
    Ok(conn)
}

/// Opens a read-only connection (for result queries beside the writer).
pub fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch("PRAGMA cache_size=-8192;")?;
    super::busy::wait_in_short_steps(&conn)?;
    Ok(conn)
}

fn foreign_or(path: &Path, e: rusqlite::Error) -> SchemaError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => SchemaError::Foreign {
            path: path.display().to_string(),
            reason: "not an SQLite file".into(),
        },
        _ => SchemaError::Sql {
            path: path.display().to_string(),
            source: e,
        },
    }
}

/// A database holding tables of another program is refused, not extended.
fn check_foreign_tables(conn: &Connection, path: &Path) -> Result<(), SchemaError> {
    let known = [
        "meta",
        "sessions",
        "plans",
        "queue",
        "terminals",
        "results",
        "outbox",
    ];
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type='table'")
        .map_err(|e| foreign_or(path, e))?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| foreign_or(path, e))?;
    if let Some(other) = names.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(SchemaError::Foreign {
            path: path.display().to_string(),
            reason: format!("it has a table {other:?}"),
        });
    }
    Ok(())
}

fn from_json<T: DeserializeOwned>(table: &str, json: &str) -> rusqlite::Result<T> {
    serde_json::from_str(json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, {
            Box::new(std::io::Error::other(format!("a row of {table}: {e}")))
        })
    })
}

fn to_json<T: Serialize>(value: &T) -> String {
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

/// Inserts or replaces a result; it becomes the newest of its Zhongshu.
pub fn put_result(conn: &Connection, key: &str, r: &TaskResult) -> rusqlite::Result<()> {
    // A bare MAX is answered from the index's last entry; wrapped in an
    // expression it would scan the whole index.
    let last: Option<i64> = conn
        .prepare_cached("SELECT MAX(ord) FROM results")?
        .query_row([], |row| row.get(0))?;
    let ord = last.unwrap_or(0) + 1;
    conn.prepare_cached(
        "INSERT INTO results (key, ord, parent, department_session_id, read, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(key) DO UPDATE SET ord = excluded.ord, parent = excluded.parent,
           department_session_id = excluded.department_session_id, read = excluded.read,
           json = excluded.json",
    )?
    .execute(params![
        key,
        ord,
        r.parent_session_id,
        r.department_session_id,
        r.read,
        to_json(r)
    ])?;
    Ok(())
}

pub fn delete_result(conn: &Connection, key: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM results WHERE key = ?1")?
        .execute([key])?;
    Ok(())
}

/// A result row: its paging cursor and the result (read state from its column).
pub fn result_from_row(row: &rusqlite::Row) -> rusqlite::Result<(i64, TaskResult)> {
    let ord: i64 = row.get("ord")?;
    let read: bool = row.get("read")?;
    let json: String = row.get("json")?;
    let mut r: TaskResult = from_json("results", &json)?;
    r.read = read;
    Ok((ord, r))
}

pub fn get_result(conn: &Connection, key: &str) -> rusqlite::Result<Option<TaskResult>> {
    conn.prepare_cached("SELECT ord, read, json FROM results WHERE key = ?1")?
        .query_row([key], result_from_row)
        .optional()
        .map(|r| r.map(|(_, r)| r))
}

/// Results filed for one department session (a fallback, or its reports).
pub fn results_of_department(
    conn: &Connection,
    department_session_id: &str,
) -> rusqlite::Result<Vec<TaskResult>> {
    conn.prepare_cached(
        "SELECT ord, read, json FROM results WHERE department_session_id = ?1 ORDER BY ord",
    )?
    .query_map([department_session_id], result_from_row)?
    .map(|r| r.map(|(_, r)| r))
    .collect()
}

/// Marks a Zhongshu's unread results read; returns them as they were (unread).
pub fn mark_read(conn: &Connection, parent: &str) -> rusqlite::Result<Vec<TaskResult>> {
    let unread: Vec<TaskResult> = conn
        .prepare_cached(
            "SELECT ord, read, json FROM results WHERE parent = ?1 AND read = 0 ORDER BY ord DESC",
        )?
        .query_map([parent], result_from_row)?
        .map(|r| r.map(|(_, r)| r))
        .collect::<Result<_, _>>()?;
    conn.prepare_cached("UPDATE results SET read = 1 WHERE parent = ?1 AND read = 0")?
        .execute([parent])?;
    Ok(unread)
}

pub fn put_outbox(conn: &Connection, seq: u64, event: &str, fields: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO outbox (seq, event, fields) VALUES (?1, ?2, ?3)")?
        .execute(params![seq as i64, event, fields])?;
    Ok(())
}

/// Outbox lines the audit log already holds are dropped.
pub fn trim_outbox(conn: &Connection, flushed_through: u64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM outbox WHERE seq <= ?1")?
        .execute([flushed_through as i64])?;
    Ok(())
}

pub fn outbox(conn: &Connection) -> rusqlite::Result<Vec<(u64, String, String)>> {
    conn.prepare("SELECT seq, event, fields FROM outbox ORDER BY seq")?
        .query_map([], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
        })?
        .collect()
}

pub fn copy_results(conn: &Connection, from: &str, to: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT OR REPLACE INTO results (key, ord, parent, department_session_id, read, json)
         SELECT ?2 || '/' || json_extract(json, '$.report_id'),
                (SELECT MAX(ord) FROM results) + ROW_NUMBER() OVER (ORDER BY ord),
                ?2, department_session_id, 1,
                json_set(json, '$.parent_session_id', ?2, '$.read', json('true'))
         FROM results WHERE parent = ?1 ORDER BY ord",
        params![from, to],
    )
}
