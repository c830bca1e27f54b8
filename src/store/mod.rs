//! Durable launcher state in SQLite, with the audit log fed from an outbox.
//!
//! `Store::update` applies one change: the caller's closure alters the in-memory
//! tables through a [`Tx`] (which tracks the rows it touched), writes results
//! straight into the open transaction and records audit events; then the dirty
//! rows and the events (as outbox rows) are committed in ONE SQLite transaction.
//! Only after that commit is the change acknowledged. The events are then
//! appended to the hash-chained JSONL log and broadcast; whatever a crash kept
//! from the log is appended at the next start from the outbox. A commit that
//! fails is undone in memory, so nothing unacknowledged takes effect later.

mod anchor;
mod busy;
pub mod gate;
mod legacy;
mod news;
mod paths;
mod result_rows;
mod results;
mod schema;
mod trim;
mod tx;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use serde_json::Value;
use tokio::sync::broadcast;

use crate::audit::{AuditLog, Head, Rendered};
use crate::model::{AuditEvent, State, TaskResult};
pub use anchor::{verify_audit, AuditCheckError, AuditVerified};
pub use gate::SchemaError;
pub use legacy::STATE_FILE;
pub use paths::Paths;
pub use schema::DB_FILE;
pub use tx::{Change, Tx};

pub use news::{Event, News, Touched};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state not saved: {0}")]
    Persist(#[source] rusqlite::Error),
    #[error("state database: {0}")]
    Schema(#[from] SchemaError),
    /// This launcher may no longer write (it lost the state folder's lock).
    #[error("nothing is written any more: {0}")]
    Fenced(String),
}

/// The writer's side: the connection and the audit events not yet in the log.
struct Writer {
    conn: Connection,
    /// Rows of recorded changes whose commit failed, written with the next one.
    carry: tx::Dirty,
    /// Outbox lines committed but not yet appended to the JSONL log.
    pending: Vec<Rendered>,
    /// The chain's head after the last committed line (the database's anchor).
    head: Head,
}

/// What [`Store::observe`] calls after every change, with what it wrote of
/// the results (nothing when it failed).
pub type Observer = Box<dyn Fn(&Store, &Change) + Send + Sync>;

/// Owner of the state, its persistence, the audit log and the event feed.
pub struct Store {
    state: Mutex<State>,
    writer: Mutex<Writer>,
    /// The results' reader, opened at the first query: an idle launcher
    /// whose page is closed never needs it.
    reader: Mutex<Option<Connection>>,
    audit: AuditLog,
    events: broadcast::Sender<Arc<Event>>,
    version: AtomicU64,
    /// Moves with every committed change that wrote results.
    results_version: AtomicU64,
    /// Told after every change ([`Store::observe`]).
    observer: std::sync::OnceLock<Observer>,
    db_path: PathBuf,
    /// Set when this launcher lost the state folder: every change is refused.
    fenced: std::sync::OnceLock<String>,
    /// Where the log disagreed with the database's anchor at open.
    anchor_problem: Option<String>,
    /// Hands the heap a burst freed back once changes pause.
    trim: trim::Trimmer,
}

/// A page of results, newest first.
#[derive(Debug, Default)]
pub struct ResultPage {
    pub results: Vec<TaskResult>,
    /// Pass as `before` for the next page; `None` on the last page.
    pub next_before: Option<i64>,
}

impl Store {
    /// Opens the state directory: the database (refusing one that is not ours
    /// before touching it, and a missing one beside a log with history;
    /// importing an old JSON state file once), then the audit log, to which the
    /// outbox's leftovers are appended once compared with the database's anchor.
    pub fn open(state_dir: &Path) -> anyhow::Result<Store> {
        crate::platform::create_private_dir(state_dir)?;
        // A state folder given through a link (its owner checked at start:
        // `private_state`) is the folder it names: SQLite opens without
        // following links, so it is handed the resolved path.
        let resolved = dunce::canonicalize(state_dir)
            .map_err(|e| anyhow::anyhow!("the state folder {}: {e}", state_dir.display()))?;
        let state_dir = resolved.as_path();
        let db_path = state_dir.join(DB_FILE);
        let found = gate::inspect(&db_path)?;
        if found == gate::Found::Nothing {
            refuse_lost_database(state_dir, &db_path)?;
        }
        let mut conn = schema::open_writer(&db_path, found)?;
        import_legacy(&mut conn, state_dir)?;
        let state =
            schema::load_state(&conn).map_err(|e| anyhow::anyhow!("{}: {e}", db_path.display()))?;
        let audit = AuditLog::open(state_dir)?;
        let (events, _) = broadcast::channel(1024);
        let recovered = anchor::recover(&mut conn, &audit)
            .map_err(|e| anyhow::anyhow!("{}: {e}", db_path.display()))?;
        let store = Store {
            state: Mutex::new(state),
            writer: Mutex::new(Writer {
                conn,
                carry: Default::default(),
                pending: recovered.pending,
                head: recovered.head,
            }),
            reader: Mutex::new(None),
            audit,
            events,
            version: AtomicU64::new(0),
            results_version: AtomicU64::new(0),
            observer: std::sync::OnceLock::new(),
            db_path,
            fenced: std::sync::OnceLock::new(),
            anchor_problem: recovered.problem,
            trim: trim::Trimmer::start(),
        };
        store.flush(&mut store.writer.lock().unwrap());
        Ok(store)
    }

    /// Where the audit log disagreed with the database's anchor when the store
    /// opened (a log rewritten, cut short or written past the database).
    pub fn audit_anchor_problem(&self) -> Option<&str> {
        self.anchor_problem.as_deref()
    }

    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    /// A number that changes with every update (for caches of derived views).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// A number that changes with every committed change that wrote results
    /// (for what is derived from them).
    pub fn results_version(&self) -> u64 {
        self.results_version.load(Ordering::Acquire)
    }

    /// From now on `observer` is called after every change, in the thread
    /// that made it, once it is committed (or failed) and the store's locks
    /// are released, before the change is acknowledged: what is derived from
    /// the state keeps up with it. One observer; a second is refused (false).
    pub fn observe(&self, observer: Observer) -> bool {
        self.observer.set(observer).is_ok()
    }

    /// Reads the in-memory tables under the lock (no I/O is done under it).
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.lock().unwrap())
    }

    /// Applies a change and commits it before returning; the change is
    /// acknowledged only if this returns Ok. A change that could not be committed
    /// is undone.
    pub fn update<R>(&self, f: impl FnOnce(&mut Tx) -> R) -> Result<R, StoreError> {
        off_the_runtime(|| self.observed(|change| self.apply(f, true, change)))
    }

    /// Like [`Store::update`], for a change that records what already happened
    /// outside (a process started or ended): one that cannot be committed now stays
    /// in memory, and the next successful commit writes it.
    pub fn record<R>(&self, f: impl FnOnce(&mut Tx) -> R) -> Result<R, StoreError> {
        off_the_runtime(|| self.observed(|change| self.apply(f, false, change)))
    }

    /// Makes a change, then tells the observer; passes its outcome on.
    fn observed<R>(&self, make: impl FnOnce(&mut Change) -> R) -> R {
        let mut change = Change::default();
        let outcome = make(&mut change);
        if let Some(observer) = self.observer.get() {
            observer(self, &change);
        }
        outcome
    }

    /// From now on nothing is written: another launcher owns the folder.
    pub fn fence(&self, why: String) {
        let _ = self.fenced.set(why);
    }

    /// Applies and commits a change; what it wrote of the results goes to
    /// `change` once it is committed.
    fn apply<R>(
        &self,
        f: impl FnOnce(&mut Tx) -> R,
        undo_failed: bool,
        change: &mut Change,
    ) -> Result<R, StoreError> {
        if let Some(why) = self.fenced.get() {
            return Err(StoreError::Fenced(why.clone()));
        }
        let mut w = self.writer.lock().unwrap();
        let w = &mut *w;
        let sql = w
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(StoreError::Persist)?;
        let mut state = self.state.lock().unwrap();
        let mut t = Tx::new(&mut state, &sql);
        let result = f(&mut t);
        let Tx {
            dirty,
            undo,
            audit,
            error,
            results,
            ..
        } = t;
        let mut rows = std::mem::take(&mut w.carry);
        rows.merge(dirty);
        let written = match error {
            Some(e) => Err(e),
            None => render_lines(&w.head, &audit).and_then(|(lines, head)| {
                rows.write(&sql, &state)?;
                write_outbox(&sql, &audit, &lines, &head, self.audit.last_seq())?;
                Ok((lines, head))
            }),
        };
        drop(state);
        match written.and_then(|done| sql.commit().map(|()| done)) {
            Ok((lines, head)) => {
                w.head = head;
                w.pending.extend(lines);
                if results.results_written {
                    self.results_version.fetch_add(1, Ordering::AcqRel);
                }
                let touched = rows.touched(&results);
                *change = results;
                self.version.fetch_add(1, Ordering::AcqRel);
                self.flush(w);
                if !touched.is_empty() {
                    let _ = self.events.send(Arc::new(Event::Committed {
                        seq: self.audit.last_seq(),
                        touched,
                    }));
                }
                self.trim.changed();
                Ok(result)
            }
            Err(e) => {
                if undo_failed {
                    undo.apply(&mut self.state.lock().unwrap());
                }
                // Rewriting a row that was put back is harmless; an unsaved record is owed.
                w.carry = rows;
                self.version.fetch_add(1, Ordering::AcqRel);
                Err(StoreError::Persist(e))
            }
        }
    }

    /// Appends committed events to the JSONL log and broadcasts them. A failure
    /// (a full disk) leaves them pending: they are durable in the outbox and go
    /// out with the next flush or at the next start.
    fn flush(&self, w: &mut Writer) {
        if w.pending.is_empty() {
            return;
        }
        match self.audit.append_rendered(&w.pending) {
            Ok(entries) => {
                w.pending.clear();
                for entry in entries {
                    let _ = self
                        .events
                        .send(Arc::new(Event::audited(entry.seq, entry.line)));
                }
            }
            Err(e) => tracing::error!("audit log not written (kept in the outbox): {e}"),
        }
    }

    /// Records one audit event on its own, logging instead of failing: for
    /// events about something already done outside (a process ended).
    pub fn audit_or_log(&self, event: AuditEvent) {
        let name = event.name();
        if let Err(e) = self.update(|tx| tx.audit(event)) {
            tracing::error!("audit event {name} not recorded: {e}");
        }
    }

    /// Broadcasts news that is not audited (read marks, checks).
    pub fn tell(&self, news: News) {
        let _ = self.events.send(Arc::new(Event::News {
            seq: self.audit.last_seq(),
            news,
        }));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }
}

/// Runs a commit (its syncs block) so that no async worker waits on the disk: on
/// a multi-threaded tokio worker the worker hands its other tasks to the runtime
/// first (`block_in_place`); elsewhere (the ingestion thread, a blocking task)
/// it just runs.
fn off_the_runtime<R>(commit: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(commit),
        _ => commit(),
    }
}

/// A change's audit lines, chained on from `head`, and the head after them.
fn render_lines(
    head: &Head,
    events: &[(String, Value)],
) -> rusqlite::Result<(Vec<Rendered>, Head)> {
    let mut head = head.clone();
    let mut lines = Vec::with_capacity(events.len());
    for (event, fields) in events {
        let line = crate::audit::render(head.seq + 1, event, fields, &head.hash)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        head = Head::of(&line);
        lines.push(line);
    }
    Ok((lines, head))
}

/// The outbox rows of a change and the chain's new head, in its transaction.
fn write_outbox(
    conn: &Connection,
    events: &[(String, Value)],
    lines: &[Rendered],
    head: &Head,
    flushed_through: u64,
) -> rusqlite::Result<()> {
    schema::trim_outbox(conn, flushed_through)?;
    if lines.is_empty() {
        return Ok(());
    }
    for ((event, fields), line) in events.iter().zip(lines) {
        schema::put_outbox(conn, event, &fields.to_string(), line)?;
    }
    schema::put_audit_anchor(conn, head)
}

/// A missing or empty database beside an audit log with history is refused:
/// starting empty would drop every session, plan and result without a word,
/// and would anchor whatever the log now says. The old JSON state file, when
/// present, is the history's state (it is imported).
fn refuse_lost_database(state_dir: &Path, db_path: &Path) -> anyhow::Result<()> {
    let log = state_dir.join(crate::audit::AUDIT_FILE);
    let history = crate::audit::head_of(&log)?.seq;
    if history == 0 || state_dir.join(STATE_FILE).exists() {
        return Ok(());
    }
    anyhow::bail!(
        "{db} is missing or empty, but the audit log {log} records {history} events: the \
         launcher's state (sessions, plans, results) is gone, and starting empty would hide \
         that. Restore {db} from a backup; or, to start a new history, move the log aside \
         (`mv {log} {log}.old`) and start again. Nothing was changed.",
        db = db_path.display(),
        log = log.display(),
    )
}

/// Imports `codex_governance_state.json` once, in one transaction, then renames it.
fn import_legacy(conn: &mut Connection, state_dir: &Path) -> anyhow::Result<()> {
    let path = state_dir.join(STATE_FILE);
    let Some(old) = legacy::read(&path)? else {
        return Ok(());
    };
    let sql = conn.transaction()?;
    let empty: i64 = sql.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0))?;
    if empty != 0 {
        anyhow::bail!(
            "{} exists beside a database that already holds sessions; move one of them away",
            path.display()
        );
    }
    let mut rows = tx::Dirty {
        queue: true,
        counters: true,
        quota: true,
        ..Default::default()
    };
    rows.sessions.extend(old.state.sessions.keys().cloned());
    rows.plans.extend(old.state.plans.keys().cloned());
    rows.terminals.extend(old.state.terminals.keys().cloned());
    rows.write(&sql, &old.state)?;
    for (key, r) in &old.results {
        schema::put_result(&sql, key, r)?;
    }
    sql.commit()?;
    let mut imported = path.clone().into_os_string();
    imported.push(".imported");
    std::fs::rename(&path, &imported)?;
    tracing::info!(
        "imported {} ({} sessions, {} results)",
        path.display(),
        old.state.sessions.len(),
        old.results.len()
    );
    Ok(())
}

/// Everything the database holds, read without a launcher (tests, tools).
pub struct Snapshot {
    pub state: State,
    pub results: Vec<TaskResult>,
}

/// Reads the state folder's database as it is on disk. Opened for writing (never
/// created), so that a transaction a crash cut off is rolled back first, as the
/// launcher's next start would do.
pub fn load_snapshot(state_dir: &Path) -> anyhow::Result<Snapshot> {
    let conn = Connection::open_with_flags(
        state_dir.join(DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    busy::wait_in_short_steps(&conn)?;
    let state = schema::load_state(&conn)?;
    let results = conn
        .prepare("SELECT ord, read, json FROM results ORDER BY ord")?
        .query_map([], schema::result_from_row)?
        .map(|r| r.map(|(_, r)| r))
        .collect::<Result<_, _>>()?;
    Ok(Snapshot { state, results })
}
