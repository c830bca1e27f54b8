//! How much one message may carry, the same on every way in: an HTTP body, a
//! mailbox report file, a governance tool call's arguments. A limit that
//! holds on one path only is no limit: an agent takes the open one.

/// Largest message accepted: an HTTP body, a report, tool arguments.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
