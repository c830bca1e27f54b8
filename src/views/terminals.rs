//! The browser terminals as the API shows them (`/api/status`'s
//! `browser_terminals`, `/api/browser_terminals`, a start's terminal).

use serde::Serialize;

use crate::model::{State, TerminalKind, TerminalRecord, TerminalStatus};

/// A terminal as the API shows it: the record, with the Python tool's words
/// beside it (`scope`, `read_only`, `ended_at`, `host`). A closed terminal
/// shows `exited`, as the Python tool's did (it had no other end).
#[derive(Debug, Clone, Serialize)]
pub struct TerminalView {
    #[serde(flatten)]
    pub record: TerminalRecord,
    /// Where its listener is bound: always the loopback address.
    pub host: &'static str,
    /// `session` for a session's terminal, `global` for a shell.
    pub scope: &'static str,
    pub read_only: bool,
    pub ended_at: Option<String>,
}

/// A terminal record as the API shows it.
pub fn terminal(mut record: TerminalRecord) -> TerminalView {
    record.status = record.status.shown();
    TerminalView {
        host: "127.0.0.1",
        scope: match record.kind {
            TerminalKind::Interactive => "global",
            _ => "session",
        },
        read_only: !record.kind.accepts_input(),
        ended_at: record.closed_at.clone(),
        record,
    }
}

/// The terminals `/api/status` and `/api/browser_terminals` list: the open
/// ones, and those this launcher opened that ended since (`exited`, as the
/// Python tool kept them listed).
pub fn listed_terminals(
    state: &State,
    run_started: chrono::DateTime<chrono::FixedOffset>,
) -> Vec<TerminalView> {
    let this_run = |started: &str| {
        chrono::DateTime::parse_from_rfc3339(started).is_ok_and(|t| t >= run_started)
    };
    state
        .terminals
        .values()
        .filter(|t| t.status != TerminalStatus::Closed || this_run(&t.started_at))
        .cloned()
        .map(terminal)
        .collect()
}
