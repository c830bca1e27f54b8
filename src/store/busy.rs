//! Waiting for the other connection's lock. The writer and the page reader
//! share one database file; with the rollback journal a commit needs every
//! read to have ended, and a read waits for a commit. SQLite's own
//! `busy_timeout` sleeps 1, 2, 5, 10 ms and more between tries, so a commit
//! that met a 0.2 ms inbox read could sleep ten times longer than the read
//! took, in the middle of the drop-to-inbox path.

use rusqlite::Connection;

/// How long a connection waits for another one's lock before it gives up.
const BUSY_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// Makes `conn` wait for another connection's lock in steps of 50 µs to 1 ms,
/// up to [`BUSY_FOR`], instead of SQLite's coarse sleeps.
pub fn wait_in_short_steps(conn: &Connection) -> rusqlite::Result<()> {
    fn retry(tries: i32) -> bool {
        let step = busy_step(tries);
        if step.is_zero() {
            return false;
        }
        std::thread::sleep(step);
        true
    }
    conn.busy_handler(Some(retry))
}

/// The sleep before try `tries + 1`, zero once [`BUSY_FOR`] has been waited.
fn busy_step(tries: i32) -> std::time::Duration {
    let tries = tries.max(0) as u32;
    if waited_before(tries) >= BUSY_FOR {
        std::time::Duration::ZERO
    } else {
        step_at(tries)
    }
}

/// 50, 100, 200, 400, 800 µs, then 1 ms per try.
fn step_at(try_no: u32) -> std::time::Duration {
    std::time::Duration::from_micros((50u64 << try_no.min(5)).min(1000))
}

/// The sum of the steps before try `try_no`.
fn waited_before(try_no: u32) -> std::time::Duration {
    let doubling = try_no.min(5);
    let micros = 50 * ((1u64 << doubling) - 1) + 1000 * u64::from(try_no - doubling);
    std::time::Duration::from_micros(micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn steps_start_at_50_microseconds_and_grow_to_one_millisecond() {
        let steps: Vec<u64> = (0..8).map(|t| busy_step(t).as_micros() as u64).collect();
        assert_eq!(steps, [50, 100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(waited_before(5), Duration::from_micros(1550));
        assert_eq!(waited_before(7), Duration::from_micros(3550));
    }

    #[test]
    fn waiting_ends_after_five_seconds() {
        let last = (0..20_000).find(|t| busy_step(*t).is_zero()).unwrap() as u32;
        assert!(waited_before(last) >= BUSY_FOR);
        assert!(waited_before(last - 1) < BUSY_FOR);
        assert!(
            busy_step(-1) == busy_step(0),
            "a negative count is the first try"
        );
    }

    #[test]
    fn a_commit_waits_for_a_read_in_progress_and_then_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let writer = Connection::open(&db).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode=DELETE; CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);",
            )
            .unwrap();
        // Two barriers, no timing: the read stays open until the writer saw
        // its commit refused, and only then ends.
        let reading = std::sync::Arc::new(std::sync::Barrier::new(2));
        let refused_seen = std::sync::Arc::new(std::sync::Barrier::new(2));
        let reader = {
            let (db, reading, refused_seen) = (db.clone(), reading.clone(), refused_seen.clone());
            std::thread::spawn(move || {
                let conn = Connection::open(&db).unwrap();
                wait_in_short_steps(&conn).unwrap();
                conn.execute_batch("BEGIN; SELECT * FROM t;").unwrap();
                reading.wait();
                refused_seen.wait();
                std::thread::sleep(Duration::from_millis(5));
                conn.execute_batch("COMMIT").unwrap();
            })
        };
        reading.wait();
        // The reader holds its shared lock: without waiting, the commit is refused;
        writer.busy_timeout(Duration::ZERO).unwrap();
        let refused = writer.execute("UPDATE t SET v = 2", []).unwrap_err();
        assert_eq!(
            refused.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy)
        );
        refused_seen.wait();
        // waiting in short steps, it retries until the read ends.
        wait_in_short_steps(&writer).unwrap();
        writer.execute("UPDATE t SET v = 2", []).unwrap();
        reader.join().unwrap();
        let v: i64 = writer
            .query_row("SELECT v FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 2);
    }
}
