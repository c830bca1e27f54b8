//! "Needs you": everything that waits for the user, derived once on the
//! server from the status's own views (issue 71 item 1). Each item has a
//! stable key, its kind, its words, what it shows under them and its
//! actions, each naming the call it makes; the page draws them in the order
//! given and decides nothing about them (`static/js/needs_you.js`). The
//! items a notice may tell carry the rule's item (`policy::needs_you`), so
//! the notices and a phone's decisions read this same list.

mod confirmation;
mod groups;
mod isolation;
mod parts;
mod quota;
mod review_queue;
mod sessions;
mod words;

use serde::Serialize;

pub use parts::{Action, Call, Does, Fill, Hold, InputView, Part, QueueEntry, Request};

use super::quota::QuotaView;
use super::session::SessionView;
use super::snapshot::Snapshot;
use crate::model::{AppliedFile, QueueItem};
use crate::policy::needs_you::NeedItem;

/// One thing waiting for the user, as the page draws it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NeedView {
    /// Stable while the same thing waits: the page keeps its node (and
    /// what is typed in it) by this, and announces a key it has not seen.
    pub key: String,
    /// What kind of thing waits (`plan`, `confirm`, `changes`, an
    /// attention's kind, a session's state word…): the page's style.
    pub kind: String,
    /// When it began to wait, as the page orders by (newest first).
    pub at: String,
    /// What waits, in one line.
    pub text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The session it belongs to (the page shows it on *Show*).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// An approval's request (drawn by the approvals' cards).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// A plan's revision (what *Start* and *Decline* answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// What it shows under its words, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub body: Vec<Part>,
    /// A box to write in: under the body, or first among the actions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<InputView>,
    pub actions: Vec<Action>,
    /// What a notice of it tells (none: nothing goes to a phone).
    #[serde(skip)]
    pub notices: Vec<NeedItem>,
}

impl NeedView {
    fn new(key: String, kind: impl Into<String>, at: &str, text: String) -> NeedView {
        NeedView {
            key,
            kind: kind.into(),
            at: at.to_string(),
            text,
            detail: String::new(),
            session: None,
            request: None,
            revision: None,
            body: Vec::new(),
            input: None,
            actions: Vec::new(),
            notices: Vec::new(),
        }
    }

    fn of(mut self, session: &str) -> NeedView {
        self.session = Some(session.to_string());
        self
    }

    fn detail(mut self, detail: impl Into<String>) -> NeedView {
        self.detail = detail.into();
        self
    }

    fn told(mut self, notices: impl IntoIterator<Item = NeedItem>) -> NeedView {
        self.notices.extend(notices);
        self
    }
}

/// What the derivation reads: the snapshot, and what the status built from
/// it (the sessions' views, the quota, the queue).
pub struct Inputs<'a> {
    pub snap: &'a Snapshot<'a>,
    /// Every session shown, newest first, as the status lists them.
    pub sessions: &'a [SessionView],
    pub quota: &'a QuotaView,
    pub queue: &'a [QueueItem],
    /// Planners done with their plan, oldest first.
    pub finished_planners: &'a [String],
    pub applied_files: &'a [AppliedFile],
}

/// Everything waiting for the user, newest first (an item without a time
/// last), each kind in the order the page listed them before.
pub fn needs_you(inputs: &Inputs) -> Vec<NeedView> {
    let mut items = sessions::items(inputs);
    items.extend(groups::suspended(inputs));
    items.extend(groups::finished_planners(inputs.finished_planners));
    items.extend(
        inputs
            .sessions
            .iter()
            .filter_map(confirmation::confirmation),
    );
    items.extend(isolation::isolation(inputs));
    items.extend(review_queue::item(inputs));
    items.extend(quota::items(inputs));
    items.extend(quota::hosts(inputs.queue));
    // Stable: equal times keep the order above.
    items.sort_by(|a, b| b.at.cmp(&a.at));
    items
}

/// What the notices may tell of `items`, in their order.
pub fn notices(items: &[NeedView]) -> Vec<NeedItem> {
    items
        .iter()
        .flat_map(|i| i.notices.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests;
