//! Launcher state: the one owner of everything the launcher remembers.
//!
//! `State` is plain data (sessions, plans, results, queue, terminals), saved as one
//! JSON file. `Store` guards it with one mutex held only for short, I/O-free
//! critical sections; every change is persisted (atomic replace, coalesced between
//! concurrent writers) before it is acknowledged, audited, and broadcast to the
//! dashboard as an event.

mod persist;
mod records;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::audit::AuditLog;
pub use persist::{load_state, write_atomic, StateFile, STATE_FILE};
pub use records::*;

/// A change the dashboard hears about on `/api/events`.
#[derive(Debug, Clone)]
pub struct Event {
    /// The audit seq this event carries (the latest one when not audited).
    pub seq: u64,
    pub event: String,
    pub data: Value,
}

/// Owner of the state, its persistence, the audit log and the event feed.
pub struct Store {
    /// The state, its version, and its serialization (what a failed save restores).
    state: Mutex<(State, u64, Arc<Vec<u8>>)>,
    file: StateFile,
    audit: AuditLog,
    events: broadcast::Sender<Arc<Event>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state not saved: {0}")]
    Persist(#[source] std::io::Error),
    #[error("audit log not written: {0}")]
    Audit(#[source] std::io::Error),
}

impl Store {
    /// Opens the state directory: loads state and continues the audit chain.
    pub fn open(state_dir: &Path) -> anyhow::Result<Store> {
        std::fs::create_dir_all(state_dir)?;
        let file = StateFile::new(state_dir.join(STATE_FILE));
        let state = load_state(file.path())?;
        let audit = AuditLog::open(state_dir)?;
        let (events, _) = broadcast::channel(1024);
        let bytes = Arc::new(serde_json::to_vec(&state)?);
        Ok(Store {
            state: Mutex::new((state, 0, bytes)),
            file,
            audit,
            events,
        })
    }

    pub fn state_path(&self) -> &Path {
        self.file.path()
    }

    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    /// A number that changes with every update (for caches of derived views).
    pub fn version(&self) -> u64 {
        self.state.lock().unwrap().1
    }

    /// Reads the state under the lock.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.lock().unwrap().0)
    }

    /// Changes the state and saves it before returning; the change is acknowledged
    /// only if this returns Ok. A change that could not be saved is undone.
    pub fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> Result<R, StoreError> {
        self.apply(f, true)
    }

    /// Like [`Store::update`], for a change that records what already happened
    /// outside (a process started or ended): one that cannot be saved now stays in
    /// memory, so the next successful save persists it.
    pub fn record<R>(&self, f: impl FnOnce(&mut State) -> R) -> Result<R, StoreError> {
        self.apply(f, false)
    }

    fn apply<R>(
        &self,
        f: impl FnOnce(&mut State) -> R,
        undo_unsaved: bool,
    ) -> Result<R, StoreError> {
        let (result, version, bytes, previous) = {
            let mut guard = self.state.lock().unwrap();
            let result = f(&mut guard.0);
            guard.1 += 1;
            let bytes = Arc::new(serde_json::to_vec(&guard.0).expect("state serializes"));
            let previous = std::mem::replace(&mut guard.2, Arc::clone(&bytes));
            (result, guard.1, bytes, previous)
        };
        if let Err(e) = self.file.save(version, &bytes) {
            if undo_unsaved {
                self.roll_back(version, &previous);
            }
            return Err(StoreError::Persist(e));
        }
        Ok(result)
    }

    /// Undoes the unsaved change `version` (its caller reports a failure, so it
    /// must not take effect later, e.g. a refused plan's queue items starting once
    /// the disk has room again). Only when no later change was made on top of it:
    /// that change's own save then decides.
    fn roll_back(&self, version: u64, previous: &Arc<Vec<u8>>) {
        let mut guard = self.state.lock().unwrap();
        if guard.1 != version {
            return;
        }
        match serde_json::from_slice::<State>(previous) {
            Ok(state) => {
                guard.0 = state;
                guard.1 += 1;
                guard.2 = Arc::clone(previous);
            }
            Err(e) => tracing::error!("cannot undo an unsaved change: {e}"),
        }
    }

    /// Appends an audit line and broadcasts it as an event.
    pub fn audit(&self, event: &str, fields: Value) -> Result<u64, StoreError> {
        let entry = self
            .audit
            .append(event, fields)
            .map_err(StoreError::Audit)?;
        let _ = self.events.send(Arc::new(Event {
            seq: entry.seq,
            event: event.to_string(),
            data: entry.line,
        }));
        Ok(entry.seq)
    }

    /// Appends several audit lines with one sync, broadcasting each.
    pub fn audit_many(&self, events: Vec<(String, Value)>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let entries = self.audit.append_many(events).map_err(StoreError::Audit)?;
        for entry in entries {
            let name = entry.line["event"].as_str().unwrap_or("").to_string();
            let _ = self.events.send(Arc::new(Event {
                seq: entry.seq,
                event: name,
                data: entry.line,
            }));
        }
        Ok(())
    }

    /// Audits, logging instead of failing: for changes already acknowledged elsewhere.
    pub fn audit_or_log(&self, event: &str, fields: Value) {
        if let Err(e) = self.audit(event, fields) {
            tracing::error!("{e}");
        }
    }

    /// Broadcasts a change that is not audited (read marks, heartbeats).
    pub fn notify(&self, event: &str, data: Value) {
        let _ = self.events.send(Arc::new(Event {
            seq: self.audit.last_seq(),
            event: event.to_string(),
            data,
        }));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    /// An event carrying just a session id, for the common case.
    pub fn session_event(&self, event: &str, session_id: &str) {
        self.notify(event, json!({ "session_id": session_id }));
    }
}

/// Paths of every runtime file under the state directory.
#[derive(Debug, Clone)]
pub struct Paths {
    pub state_dir: PathBuf,
}

impl Paths {
    pub fn new(state_dir: PathBuf) -> Paths {
        Paths { state_dir }
    }
    pub fn launcher_file(&self) -> PathBuf {
        self.state_dir.join("codex_governance_launcher.json")
    }
    pub fn prompts_dir(&self) -> PathBuf {
        self.state_dir.join("codex_governance_prompts")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.state_dir.join("codex_governance_logs")
    }
    pub fn mailbox_root(&self) -> PathBuf {
        self.state_dir.join("codex_governance_mailbox")
    }
    /// The mailbox of one Zhongshu session; `id` must already be validated.
    pub fn mailbox(&self, zhongshu_id: &str) -> MailboxPaths {
        let root = self.mailbox_root().join(zhongshu_id);
        MailboxPaths {
            incoming: root.join("incoming"),
            archive: root.join("archive"),
            rejected: root.join("rejected"),
            root,
        }
    }
}
