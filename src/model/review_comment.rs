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

word_enum!(
    /// How much a reviewer agent's finding matters (issue 75): with
    /// `review.gate: block_on_important`, an open `important` one holds
    /// the merge.
    Severity { Important => "important", Minor => "minor", Nit => "nit" }
);

/// A finding of a reviewer agent (issue 75), as a comment: the agent's
/// words, never shown as the user's until the user accepts them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The reviewer session that reported it.
    pub reviewer: String,
    pub severity: Severity,
    /// Its line is not one the diff shows: a note on the file (`line` is
    /// the line it named, kept for the record).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub file_note: bool,
    /// The user took it as their own: the next send-back carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<String>,
    /// The user dismissed it, with this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dismissed: Option<String>,
}

impl Finding {
    /// Still asks for something: neither accepted nor dismissed.
    pub fn undecided(&self) -> bool {
        self.accepted_at.is_none() && self.dismissed.is_none()
    }
}

/// The user integrates a commit past its reviewer's hold (issue 75): the
/// findings it passed, and why. A finding reported later holds again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewOverride {
    pub commit: String,
    pub findings: Vec<String>,
    pub reason: String,
}

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
    /// A reviewer agent's finding, not the user's words (issue 75).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<Finding>,
}

impl ReviewComment {
    /// The user's own words: written by them, or a finding they accepted.
    pub fn users(&self) -> bool {
        self.finding
            .as_ref()
            .is_none_or(|f| f.accepted_at.is_some())
    }
}
