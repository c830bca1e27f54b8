//! The results table's rows: a department's reports and fallbacks, kept
//! only in the database and indexed by Zhongshu and read state, so a change
//! costs the same whatever the history.

use rusqlite::{params, Connection, OptionalExtension};

use super::schema::{from_json, to_json};
use crate::model::TaskResult;

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

/// Marks the developer's unseen results of `parent` seen (of one department
/// session, or one report of it, when given); returns them as now stored.
/// The flag lives in the result's JSON: its row keeps its place and the
/// planner's read state.
pub fn mark_seen(
    conn: &Connection,
    parent: &str,
    department: Option<&str>,
    report: Option<&str>,
) -> rusqlite::Result<Vec<TaskResult>> {
    let rows: Vec<TaskResult> = conn
        .prepare_cached(
            "SELECT ord, read, json FROM results WHERE parent = ?1
               AND (?2 IS NULL OR department_session_id = ?2) ORDER BY ord DESC",
        )?
        .query_map(params![parent, department], result_from_row)?
        .map(|r| r.map(|(_, r)| r))
        .collect::<Result<_, _>>()?;
    let mut marked = Vec::new();
    for mut r in rows {
        if r.seen || report.is_some_and(|id| id != r.report_id) {
            continue;
        }
        r.seen = true;
        let key = crate::model::result_key(parent, &r.department_session_id, &r.report_id);
        conn.prepare_cached("UPDATE results SET json = ?2 WHERE key = ?1")?
            .execute(params![key, to_json(&r)])?;
        marked.push(r);
    }
    Ok(marked)
}

/// Copies `from`'s results to the Zhongshu `to` (its successor), read.
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
