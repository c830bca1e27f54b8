//! One change: what a caller may read and alter inside `Store::update`.
//!
//! Every mutable access marks its row dirty and keeps the row's first value, so
//! the commit writes only what changed and a failed commit puts memory back as it
//! was. Results are read and written straight in the open SQLite transaction.
//! Audit events recorded here are committed with the change (the outbox).

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;
use serde_json::Value;

use super::schema;
use crate::model::{
    AuditEvent, Plan, QueueItem, QuotaState, Session, State, TaskResult, TerminalRecord,
};

/// Rows changed by a transaction (or carried over from an unsaved record).
#[derive(Debug, Default, Clone)]
pub(super) struct Dirty {
    pub sessions: BTreeSet<String>,
    pub plans: BTreeSet<String>,
    pub terminals: BTreeSet<String>,
    pub queue: bool,
    pub counters: bool,
    pub quota: bool,
}

impl Dirty {
    pub fn merge(&mut self, other: Dirty) {
        self.sessions.extend(other.sessions);
        self.plans.extend(other.plans);
        self.terminals.extend(other.terminals);
        self.queue |= other.queue;
        self.counters |= other.counters;
        self.quota |= other.quota;
    }

    /// What the followers are told of these rows, and of the results the
    /// change wrote, once committed.
    pub fn touched(&self, results: &Change) -> super::Touched {
        super::Touched {
            sessions: self.sessions.iter().cloned().collect(),
            plans: self.plans.iter().cloned().collect(),
            terminals: !self.terminals.is_empty(),
            queue: self.queue,
            quota: self.quota,
            results: results.result_keys.clone(),
            results_marked: results.results_written && results.result_keys.is_empty(),
        }
    }

    /// Writes the dirty rows of `state` (a row gone from memory is deleted).
    pub fn write(&self, conn: &Connection, state: &State) -> rusqlite::Result<()> {
        use schema::{put_row, Rows};
        for id in &self.sessions {
            put_row(conn, Rows::Sessions, id, state.sessions.get(id))?;
        }
        for id in &self.plans {
            put_row(conn, Rows::Plans, id, state.plans.get(id))?;
        }
        for id in &self.terminals {
            // The terminal's token lives in memory only.
            let at_rest = state.terminals.get(id).map(TerminalRecord::at_rest);
            put_row(conn, Rows::Terminals, id, at_rest.as_ref())?;
        }
        if self.queue {
            schema::put_queue(conn, &state.queue)?;
        }
        if self.counters {
            schema::put_counters(conn, &state.counters)?;
        }
        if self.quota {
            schema::put_meta(conn, "quota", &state.quota)?;
        }
        Ok(())
    }
}

/// First values of the rows a transaction touched.
#[derive(Default)]
pub(super) struct Undo {
    sessions: BTreeMap<String, Option<Session>>,
    plans: BTreeMap<String, Option<Plan>>,
    terminals: BTreeMap<String, Option<TerminalRecord>>,
    queue: Option<Vec<QueueItem>>,
    counters: Option<BTreeMap<String, u64>>,
    quota: Option<QuotaState>,
}

impl Undo {
    /// Puts every touched row back as it was.
    pub fn apply(self, state: &mut State) {
        for (id, old) in self.sessions {
            match old {
                Some(s) => {
                    state.sessions.insert(id, s);
                }
                None => {
                    state.sessions.shift_remove(&id);
                }
            }
        }
        for (id, old) in self.plans {
            match old {
                Some(p) => {
                    state.plans.insert(id, p);
                }
                None => {
                    state.plans.remove(&id);
                }
            }
        }
        for (id, old) in self.terminals {
            match old {
                Some(t) => {
                    state.terminals.insert(id, t);
                }
                None => {
                    state.terminals.shift_remove(&id);
                }
            }
        }
        if let Some(q) = self.queue {
            state.queue = q;
        }
        if let Some(c) = self.counters {
            state.counters = c;
        }
        if let Some(q) = self.quota {
            state.quota = q;
        }
    }
}

/// A change in progress.
pub struct Tx<'a> {
    pub(super) state: &'a mut State,
    pub(super) conn: &'a Connection,
    pub(super) dirty: Dirty,
    pub(super) undo: Undo,
    pub(super) audit: Vec<(String, Value)>,
    pub(super) error: Option<rusqlite::Error>,
    /// The results it wrote (their facts are read again after the commit).
    pub(super) results: Change,
}

/// What a committed change wrote of the results, for [`super::Store::observe`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Change {
    /// It wrote results: stored, removed, or marked read or seen.
    pub results_written: bool,
    /// The results it stored or removed, by key.
    pub result_keys: Vec<String>,
}

impl Change {
    fn wrote(&mut self, key: &str) {
        self.results_written = true;
        if !self.result_keys.iter().any(|k| k == key) {
            self.result_keys.push(key.to_string());
        }
    }
}

impl<'a> Tx<'a> {
    pub(super) fn new(state: &'a mut State, conn: &'a Connection) -> Tx<'a> {
        Tx {
            state,
            conn,
            dirty: Dirty::default(),
            undo: Undo::default(),
            audit: Vec::new(),
            error: None,
            results: Change::default(),
        }
    }

    /// Everything in memory, for reading.
    pub fn state(&self) -> &State {
        self.state
    }

    pub fn session(&self, id: &str) -> Option<&Session> {
        self.state.sessions.get(id)
    }

    pub fn session_mut(&mut self, id: &str) -> Option<&mut Session> {
        if !self.undo.sessions.contains_key(id) {
            let old = self.state.sessions.get(id).cloned();
            old.as_ref()?;
            self.undo.sessions.insert(id.to_string(), old);
        }
        self.dirty.sessions.insert(id.to_string());
        self.state.sessions.get_mut(id)
    }

    pub fn insert_session(&mut self, session: Session) {
        let id = session.id.clone();
        let old = self.state.sessions.get(&id).cloned();
        self.undo.sessions.entry(id.clone()).or_insert(old);
        self.dirty.sessions.insert(id.clone());
        self.state.sessions.insert(id, session);
    }

    pub fn remove_session(&mut self, id: &str) {
        let old = self.state.sessions.get(id).cloned();
        self.undo.sessions.entry(id.to_string()).or_insert(old);
        self.dirty.sessions.insert(id.to_string());
        self.state.sessions.shift_remove(id);
    }

    pub fn plan(&self, session_id: &str) -> Option<&Plan> {
        self.state.plans.get(session_id)
    }

    pub fn plan_mut(&mut self, session_id: &str) -> Option<&mut Plan> {
        if !self.undo.plans.contains_key(session_id) {
            let old = self.state.plans.get(session_id).cloned();
            old.as_ref()?;
            self.undo.plans.insert(session_id.to_string(), old);
        }
        self.dirty.plans.insert(session_id.to_string());
        self.state.plans.get_mut(session_id)
    }

    pub fn insert_plan(&mut self, plan: Plan) {
        let id = plan.session_id.clone();
        let old = self.state.plans.get(&id).cloned();
        self.undo.plans.entry(id.clone()).or_insert(old);
        self.dirty.plans.insert(id.clone());
        self.state.plans.insert(id, plan);
    }

    pub fn terminal_mut(&mut self, id: &str) -> Option<&mut TerminalRecord> {
        if !self.undo.terminals.contains_key(id) {
            let old = self.state.terminals.get(id).cloned();
            old.as_ref()?;
            self.undo.terminals.insert(id.to_string(), old);
        }
        self.dirty.terminals.insert(id.to_string());
        self.state.terminals.get_mut(id)
    }

    pub fn insert_terminal(&mut self, t: TerminalRecord) {
        let id = t.id.clone();
        let old = self.state.terminals.get(&id).cloned();
        self.undo.terminals.entry(id.clone()).or_insert(old);
        self.dirty.terminals.insert(id.clone());
        self.state.terminals.insert(id, t);
    }

    /// Ids of every terminal, for sweeping changes.
    pub fn terminal_ids(&self) -> Vec<String> {
        self.state.terminals.keys().cloned().collect()
    }

    pub fn queue(&self) -> &[QueueItem] {
        &self.state.queue
    }

    pub fn queue_mut(&mut self) -> &mut Vec<QueueItem> {
        if self.undo.queue.is_none() {
            self.undo.queue = Some(self.state.queue.clone());
        }
        self.dirty.queue = true;
        &mut self.state.queue
    }

    /// The account's quota, the queue's hold and the parking order, to change.
    pub fn quota_mut(&mut self) -> &mut QuotaState {
        if self.undo.quota.is_none() {
            self.undo.quota = Some(self.state.quota.clone());
        }
        self.dirty.quota = true;
        &mut self.state.quota
    }

    /// Allocates the next id with this prefix: `zhongshu-1`, `lingyubu-3`, `q-7`.
    pub fn next_id(&mut self, prefix: &str) -> String {
        if self.undo.counters.is_none() {
            self.undo.counters = Some(self.state.counters.clone());
        }
        self.dirty.counters = true;
        self.state.next_id(prefix)
    }

    /// Takes back an id a failed start was issued (see `Records::release_id`).
    pub fn release_id(&mut self, id: &str) -> bool {
        if self.undo.counters.is_none() {
            self.undo.counters = Some(self.state.counters.clone());
        }
        self.dirty.counters = true;
        self.state.release_id(id)
    }

    /// Records an audit event, committed with this change.
    pub fn audit(&mut self, event: AuditEvent) {
        self.audit.push(event.into_parts());
    }

    fn sql<T: Default>(&mut self, r: rusqlite::Result<T>) -> T {
        match r {
            Ok(v) => v,
            Err(e) => {
                self.error.get_or_insert(e);
                T::default()
            }
        }
    }

    pub fn result(&mut self, key: &str) -> Option<TaskResult> {
        let r = schema::get_result(self.conn, key);
        self.sql(r)
    }

    pub fn put_result(&mut self, key: &str, result: &TaskResult) {
        self.results.wrote(key);
        let r = schema::put_result(self.conn, key, result);
        self.sql(r)
    }

    pub fn remove_result(&mut self, key: &str) {
        self.results.wrote(key);
        let r = schema::delete_result(self.conn, key);
        self.sql(r)
    }

    pub fn results_of_department(&mut self, department_session_id: &str) -> Vec<TaskResult> {
        let r = schema::results_of_department(self.conn, department_session_id);
        self.sql(r)
    }

    /// Marks a Zhongshu's unread results read; returns them as they were.
    pub fn mark_read(&mut self, parent: &str) -> Vec<TaskResult> {
        self.results.results_written = true;
        let r = schema::mark_read(self.conn, parent);
        self.sql(r)
    }

    /// Marks the developer's unseen results seen (see [`schema::mark_seen`]).
    pub fn mark_seen(
        &mut self,
        parent: &str,
        department: Option<&str>,
        report: Option<&str>,
    ) -> Vec<TaskResult> {
        self.results.results_written = true;
        let r = schema::mark_seen(self.conn, parent, department, report);
        self.sql(r)
    }

    /// Copies a Zhongshu's results to another (as read), keeping their order.
    pub fn copy_results(&mut self, from: &str, to: &str) -> usize {
        self.results.results_written = true;
        let r = schema::copy_results(self.conn, from, to);
        self.sql(r)
    }

    /// Writes a review comment, with this change.
    pub fn put_review_comment(&mut self, c: &crate::model::ReviewComment) {
        let r = schema::put_review_comment(self.conn, c);
        self.sql(r)
    }

    pub fn delete_review_comment(&mut self, id: &str) {
        let r = schema::delete_review_comment(self.conn, id);
        self.sql(r)
    }

    pub fn review_comment(&mut self, id: &str) -> Option<crate::model::ReviewComment> {
        let r = schema::get_review_comment(self.conn, id);
        self.sql(r)
    }

    /// The comments written on one attempt, oldest first.
    pub fn review_comments_of(&mut self, session_id: &str) -> Vec<crate::model::ReviewComment> {
        let r = schema::review_comments_of(self.conn, session_id);
        self.sql(r)
    }
}
