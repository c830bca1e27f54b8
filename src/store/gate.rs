//! Which database file the launcher may open, decided before SQLite writes a
//! byte to it: ours (our `application_id` in its header), ours from before the
//! id (recognised by its tables and their columns, then migrated), nothing yet
//! (no file, or an empty one), or another program's, which is refused and left
//! byte for byte as it is.
//!
//! The header is read as plain bytes; a file without our id is examined through
//! an `immutable` read-only connection, which takes no lock, rolls nothing back
//! and creates no journal: a foreign file with a crashed transaction stays as
//! it is too.

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

/// `CGOV`: SQLite's `application_id` of every database this launcher creates.
pub const APPLICATION_ID: i32 = 0x4347_4F56;
/// The schema version, kept in `user_version` (and `meta.schema`). 1: before
/// the application id; 2: the id, outbox lines rendered, the audit anchor;
/// 3: review comments.
pub const SCHEMA_VERSION: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "{path} is not a codex-governance database ({reason}); it is left as it is: \
         move it away, or pass --state-dir to use another folder"
    )]
    Foreign { path: String, reason: String },
    #[error(
        "{path} was written by a newer codex-governance (schema {found}; this one knows \
         {SCHEMA_VERSION}); it is left as it is: run the newer version"
    )]
    Newer { path: String, found: i32 },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Sql {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
}

/// The tables of schema 1 (the databases before the id) and their columns.
const SCHEMA_1: [(&str, &[&str]); 7] = [
    ("meta", &["key", "value"]),
    ("sessions", &["id", "json"]),
    ("plans", &["session_id", "json"]),
    ("queue", &["pos", "json"]),
    ("terminals", &["id", "json"]),
    (
        "results",
        &[
            "key",
            "ord",
            "parent",
            "department_session_id",
            "read",
            "json",
        ],
    ),
    ("outbox", &["seq", "event", "fields"]),
];

/// What lies at the database's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// No file, or a zero-byte one: a new database is created.
    Nothing,
    /// Ours, at this schema version (its `user_version`).
    Ours(i32),
    /// Ours from before the application id: schema 1, migrated on open.
    Older,
}

/// Looks at the file without changing it; a file that is not ours is an error.
pub fn inspect(path: &Path) -> Result<Found, SchemaError> {
    let foreign = |reason: String| SchemaError::Foreign {
        path: path.display().to_string(),
        reason,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(e) => return Err(io_error(path, e)),
    };
    if !meta.file_type().is_file() {
        return Err(foreign(format!(
            "it is {}, not a file",
            crate::platform::describe_file_type(&meta.file_type())
        )));
    }
    if meta.len() == 0 {
        return Ok(Found::Nothing);
    }
    let mut header = [0u8; 100];
    let read = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => foreign("not an SQLite file".into()),
            _ => io_error(path, e),
        });
    read?;
    if &header[..16] != b"SQLite format 3\0" {
        return Err(foreign("not an SQLite file".into()));
    }
    let word = |at: usize| i32::from_be_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    let (user_version, application_id) = (word(60), word(68));
    if application_id == APPLICATION_ID {
        return Ok(Found::Ours(user_version));
    }
    if application_id != 0 {
        return Err(foreign(format!(
            "its application_id is {application_id:#x}, another program's"
        )));
    }
    if user_version != 0 {
        return Err(foreign(format!(
            "it has a user_version ({user_version}) but not our application_id"
        )));
    }
    let tables = tables_of(path).map_err(|e| foreign(format!("its schema cannot be read: {e}")))?;
    older_schema(&tables).map_err(|e| foreign(e.0))?;
    Ok(Found::Older)
}

fn io_error(path: &Path, e: std::io::Error) -> SchemaError {
    SchemaError::Io {
        path: path.display().to_string(),
        source: e,
    }
}

/// Whether the tables are those of schema 1 (all of them, or at least the
/// first ones a start creates), each with exactly its columns.
fn older_schema(tables: &[(String, Vec<String>)]) -> Result<(), NotOurs> {
    if tables.is_empty() {
        return Err(NotOurs("it has no tables".into()));
    }
    for (name, columns) in tables {
        let Some((_, want)) = SCHEMA_1.iter().find(|(known, _)| known == name) else {
            return Err(NotOurs(format!("it has a table {name:?}")));
        };
        if columns.iter().map(String::as_str).ne(want.iter().copied()) {
            return Err(NotOurs(format!(
                "its table {name:?} has the columns ({}), not ours",
                columns.join(", ")
            )));
        }
    }
    for needed in ["meta", "sessions"] {
        if !tables.iter().any(|(name, _)| name == needed) {
            return Err(NotOurs(format!("it has no table {needed:?}")));
        }
    }
    Ok(())
}

/// Why a database is not one of ours, in words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct NotOurs(String);

/// Each table's name and columns, read without a lock or a journal.
fn tables_of(path: &Path) -> rusqlite::Result<Vec<(String, Vec<String>)>> {
    let conn = Connection::open_with_flags(
        format!("file:{}?immutable=1", uri_path(path)),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let names: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    names
        .into_iter()
        .map(|name| {
            let columns = conn
                .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?
                .query_map([&name], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok((name, columns))
        })
        .collect()
}

/// A path as the path of a `file:` URI: `/`-separated, reserved bytes escaped.
fn uri_path(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut out = String::with_capacity(text.len());
    if !text.starts_with('/') {
        // A Windows drive path: `file:/C:/...`.
        out.push('/');
    }
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(path: &Path) -> Vec<u8> {
        use sha2::Digest;
        sha2::Sha256::digest(std::fs::read(path).unwrap()).to_vec()
    }

    #[test]
    fn nothing_ours_older_and_foreign_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        // Characters that mean something in a SQLite URI (`?` is no file name on Windows).
        let path = dir.path().join(if cfg!(windows) {
            "a db#%.db"
        } else {
            "a db?#%.db"
        });
        assert_eq!(inspect(&path).unwrap(), Found::Nothing);
        std::fs::write(&path, b"").unwrap();
        assert_eq!(inspect(&path).unwrap(), Found::Nothing);

        let c = Connection::open(&path).unwrap();
        c.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 7;
             CREATE TABLE x (y);"
        ))
        .unwrap();
        drop(c);
        assert_eq!(inspect(&path).unwrap(), Found::Ours(7));

        std::fs::remove_file(&path).unwrap();
        let c = Connection::open(&path).unwrap();
        for (table, columns) in SCHEMA_1 {
            c.execute_batch(&format!("CREATE TABLE {table} ({});", columns.join(", ")))
                .unwrap();
        }
        drop(c);
        assert_eq!(inspect(&path).unwrap(), Found::Older);
    }

    #[test]
    fn foreign_files_are_refused_and_left_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &str); 5] = [
            ("CREATE TABLE sessions(x)", "columns (x)"),
            (
                "CREATE TABLE meta(key, value); CREATE TABLE notes(t)",
                "a table \"notes\"",
            ),
            (
                "PRAGMA application_id = 42; CREATE TABLE sessions(id, json)",
                "application_id",
            ),
            (
                "PRAGMA user_version = 3; CREATE TABLE sessions(id, json)",
                "user_version",
            ),
            ("CREATE TABLE meta(key, value)", "no table \"sessions\""),
        ];
        for (i, (sql, why)) in cases.iter().enumerate() {
            let path = dir.path().join(format!("{i}.db"));
            Connection::open(&path).unwrap().execute_batch(sql).unwrap();
            let before = sha(&path);
            let e = inspect(&path).unwrap_err().to_string();
            assert!(e.contains(why), "{sql}: {e}");
            assert!(e.contains("left as it is"), "{e}");
            assert_eq!(sha(&path), before, "{sql}");
        }
        let text = dir.path().join("text.db");
        std::fs::write(&text, b"hello").unwrap();
        assert!(inspect(&text)
            .unwrap_err()
            .to_string()
            .contains("not an SQLite file"));
        let folder = dir.path().join("folder.db");
        std::fs::create_dir(&folder).unwrap();
        assert!(inspect(&folder)
            .unwrap_err()
            .to_string()
            .contains("a directory"));
    }

    #[test]
    fn a_crashed_transaction_of_a_foreign_file_is_not_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE sessions(x); INSERT INTO sessions VALUES (1);")
            .unwrap();
        // A hot journal beside it: a copy of the file as if a writer had died.
        let journal = dir.path().join("f.db-journal");
        std::fs::write(&journal, b"not really a journal, but it must stay").unwrap();
        let (before, journal_before) = (sha(&path), sha(&journal));
        assert!(inspect(&path).is_err());
        assert_eq!(sha(&path), before);
        assert_eq!(sha(&journal), journal_before);
    }
}
