//! How much one message may carry, the same on every way in: an HTTP body, a
//! mailbox report file, a governance tool call's arguments. A limit that
//! holds on one path only is no limit: an agent takes the open one.

/// Largest message accepted: an HTTP body, a report, tool arguments.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Longest review comment on a diff line, in characters: a reviewer's
/// remark, and every one of them goes into one send-back turn.
pub const MAX_REVIEW_COMMENT_CHARS: usize = 8000;

/// Review comments one attempt may hold (all of them go into one turn).
pub const MAX_REVIEW_COMMENTS: usize = 100;
