//! A reviewer's comment on one line of a department's diff (issue 51): kept
//! with the attempt (session) it was written on, a draft until a send-back
//! carries it to the department, then followed through the later attempts.

use serde::{Deserialize, Serialize};

word_enum!(
    /// Which side of the diff a comment is on: the department's version
    /// (`new`) or the base it started from (`old`).
    DiffSide { New => "new", Old => "old" }
);

word_enum!(
    /// Where a comment stands, as `GET /api/review_comments` says: `draft`
    /// (not sent yet), `sent` (carried by a send-back of this attempt),
    /// `addressed` or `open` (written on an earlier attempt: its line changed
    /// since, or not), `resolved` (the reviewer said so).
    CommentState { Draft => "draft", Sent => "sent", Addressed => "addressed", Open => "open", Resolved => "resolved" }
);

/// One stored comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewComment {
    /// `rc-<n>`.
    pub id: String,
    /// The attempt (department session) whose diff it was written on.
    pub session_id: String,
    pub path: String,
    /// The line number on `side` of that attempt's diff.
    pub line: u32,
    pub side: DiffSide,
    /// The reviewer's words.
    pub body: String,
    pub created_at: String,
    /// The attempt's recorded commit the comment was written against.
    pub commit: String,
    /// The base commit of the diff (the `old` side).
    pub base: String,
    /// When a send-back carried it to the department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// The reviewer resolved it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resolved: bool,
}
