//! The read side: what the API and the page show, one file per screen.
//!
//! Every answer that shows the launcher's state is a typed view built here by
//! a pure function from a [`Snapshot`]: the store's tables, what the live
//! agents and terminals say now, and [`Facts`] that cost git, file or
//! database reads, kept by the launcher per event or tick. Building a view
//! does no I/O and calls no service, so a status costs the same however many
//! transcripts and plans there are, and every field can be traced to the
//! snapshot. The launcher (`crate::launcher`) gathers the snapshot and calls
//! these; the web handlers answer with what they return.
//!
//! The views import only the domain (`model`), the configuration, the
//! policies and small shared pieces; no service imports them.

pub mod agents;
pub mod attempts;
pub mod cache;
pub mod deltas;
pub mod heartbeat;
pub mod inbox;
pub mod needs_you;
pub mod plan;
pub mod planner;
pub mod quota;
pub mod redact;
pub mod session;
pub mod snapshot;
pub mod status;
pub mod terminals;
pub mod train;

pub use snapshot::{
    BackendFacts, Facts, LauncherFacts, Live, Moment, PlanFiles, ReportFact, Snapshot,
};
