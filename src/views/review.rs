//! What the review drawer shows of a result and of a department's diff: the
//! handoff packet, the report as received, the review comments. `review`
//! reads them (files, Git's objects); the shapes are here, beside the other
//! answers of the page.

use serde::Serialize;

use crate::model::{CommentState, ReviewComment, TaskResult};

/// The report as received: `raw` and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RawReport {
    /// The report's text (at most 1 MiB of it).
    pub raw: String,
    /// `mailbox_file` (the archived report) or `stored_result` (no file: the
    /// stored result as JSON).
    pub raw_source: &'static str,
    /// The file was longer than 1 MiB and `raw` is its beginning.
    pub raw_truncated: bool,
}

/// `GET /api/result_raw`.
#[derive(Debug, Clone, Serialize)]
pub struct RawView {
    #[serde(flatten)]
    pub raw: RawReport,
    pub result: TaskResult,
}

/// `GET /api/handoff`. `markdown`, `html` and `path` are null for a result
/// that has no packet.
#[derive(Debug, Clone, Serialize)]
pub struct HandoffView {
    /// The packet's Markdown as written (at most 1 MiB of it).
    pub markdown: Option<String>,
    /// The Markdown as HTML, raw HTML shown as text, links only to safe targets.
    pub html: Option<String>,
    /// The packet's file.
    pub path: Option<String>,
    /// The packet was longer than 1 MiB and `markdown` is its beginning.
    pub truncated: bool,
    pub result: TaskResult,
    /// The report as received, as `GET /api/result_raw` gives it.
    #[serde(flatten)]
    pub raw: RawReport,
}

/// One comment as `GET /api/review_comments` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CommentView {
    #[serde(flatten)]
    pub comment: ReviewComment,
    pub state: CommentState,
    /// A draft of the attempt asked about: the page offers Edit and Delete.
    pub draft: bool,
    /// Resolved by the reviewer: the page offers Reopen, otherwise Resolve.
    pub resolved: bool,
    /// Where it is on the attempt asked about (its `line` on its own attempt).
    pub current_line: u32,
    /// `user`, or `reviewer`: a reviewer agent's finding (issue 75), its
    /// words quoted, never shown as the user's until accepted.
    pub author: &'static str,
}

impl CommentView {
    /// `comment` in its `state` on the attempt asked about, at `current_line` there.
    pub fn new(comment: ReviewComment, state: CommentState, current_line: u32) -> CommentView {
        CommentView {
            author: if comment.finding.is_some() {
                "reviewer"
            } else {
                "user"
            },
            draft: state == CommentState::Draft && comment.finding.is_none(),
            resolved: state == CommentState::Resolved,
            state,
            current_line,
            comment,
        }
    }
}

/// `GET /api/review_comments?session_id=`: the attempt's comments and its
/// earlier attempts', oldest attempt first.
#[derive(Debug, Clone, Serialize)]
pub struct CommentsView {
    pub session_id: String,
    pub comments: Vec<CommentView>,
    /// Drafts of this attempt: what the next send-back carries.
    pub drafts: usize,
}

impl CommentsView {
    /// The `comments` shown on attempt `session_id`, its drafts counted.
    pub fn new(session_id: &str, comments: Vec<CommentView>) -> CommentsView {
        let drafts = comments
            .iter()
            .filter(|c| c.state == CommentState::Draft && c.comment.users())
            .count();
        CommentsView {
            session_id: session_id.to_string(),
            comments,
            drafts,
        }
    }
}
