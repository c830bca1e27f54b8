//! The read side: what the API and the page show, one file per screen.
//!
//! The status and every view it is made of are typed values built here by
//! pure functions from a [`Snapshot`]: the store's tables, what the live
//! agents and terminals say now, and [`Facts`] that cost git, file or
//! database reads, kept by the launcher per event or tick. Building a view
//! does no I/O and calls no service, so a status costs the same however many
//! transcripts and plans there are, and every field can be traced to the
//! snapshot. The launcher (`crate::launcher`) gathers the snapshot and calls
//! these; the web handlers answer with what they return.
//!
//! An answer read for one request (a department's changes, a result's
//! packet and report, review comments, a conversation, the notifier's
//! deliveries, the paired phones, the governance report) has its shape here
//! too; the service, the launcher or the handler that reads it fills it.
//!
//! The views import only the domain (`model`), the configuration, the
//! policies, the backends' words (`agents`), the report's shape and small
//! shared pieces, never a service; services, the launcher and the web
//! handlers import them.

pub mod agents;
pub mod attempts;
pub mod cache;
pub mod changes;
pub mod conversation;
pub mod deltas;
pub mod heartbeat;
pub mod inbox;
pub mod needs_you;
pub mod notify;
pub mod phones;
pub mod plan;
pub mod planner;
pub mod quota;
pub mod redact;
pub mod report;
pub mod review;
pub mod session;
pub mod snapshot;
pub mod status;
pub mod terminals;
pub mod train;

pub use snapshot::{
    BackendFacts, Facts, LauncherFacts, Live, Moment, PlanFiles, ReportFact, Snapshot,
};
