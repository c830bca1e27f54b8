//! Plans and their department queue (SPEC 7): a Zhongshu's plan registered,
//! its assignments queued and started as slots free, the developer's control
//! over a plan (stop, close, retry, dismiss), a plan settled when its work has
//! ended, and a plan proposed from the governance report.
//!
//! The dispatcher owns the queue; it starts departments through the sessions
//! service, never the other way round.

pub mod control;
mod plan_input;
pub mod proposal;
pub mod queue;
mod queue_records;
mod settle;

pub use queue::Dispatcher;
