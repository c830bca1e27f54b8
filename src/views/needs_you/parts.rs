//! What a Needs-you item is made of beside its words: the parts it shows
//! under them, the box it may offer to write in, and its actions, each
//! naming the call it makes (the API route and body) or the page's own
//! step (show a session, open its changes, the plan's dialog).

use serde::Serialize;
use serde_json::{Map, Value};

/// A part shown under an item's words.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "part", rename_all = "snake_case")]
pub enum Part {
    /// A line of the launcher's words, in the page's style `class`
    /// (`need-detail`, `need-revision`, `need-changed`…).
    Line { class: &'static str, text: String },
    /// Why the actions are as they are.
    Why { text: String },
    /// An agent's own words, quoted.
    Said { text: String },
    /// A command's output.
    Output { text: String },
    /// Files under a label ("uncommitted: a.rs, b.rs").
    Paths { label: String, paths: Vec<String> },
    /// A link to a forge's page (only http(s) is opened).
    Link { url: String },
    /// What a plan starts: its assignments as registered (the dialog of
    /// *Review and start…* shows them whole).
    Plan {
        summary: String,
        assignments: Vec<crate::model::Assignment>,
    },
    /// The departments whose work waits for the user, in the queue's order.
    Queue { entries: Vec<QueueEntry> },
}

/// One department in the review queue's item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueEntry {
    pub session: String,
    /// "lingyubu (2 files · REVIEW)".
    pub line: String,
    /// What its button does, for a pointer's tip.
    pub title: String,
    /// What it says beyond its name (files out of scope, risks…).
    pub parts: Vec<Part>,
}

/// A box the user writes in; its value goes with the item's actions that
/// name it ([`Fill`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputView {
    /// The body field it fills.
    pub name: &'static str,
    /// The page's style (`need-note`, `need-reply`, `budget-input`).
    pub class: &'static str,
    /// Shown first among the actions (a budget beside *Raise budget*),
    /// else under the body.
    pub in_actions: bool,
    /// Lines of a text box; none: a number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u32>,
    /// What it is, for screen readers.
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// A number box's step and first value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// One button of an item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    pub label: String,
    /// Its look beside `small`: `primary`, `danger`, or a class of its own.
    pub class: String,
    /// What the page and its tests know it by (`data-action`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Its name for screen readers, when the label alone is not enough.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aria_label: Option<String>,
    pub does: Does,
}

impl Action {
    pub fn new(label: impl Into<String>, class: &str, action: &'static str, does: Does) -> Action {
        Action {
            label: label.into(),
            class: class.to_string(),
            action: Some(action),
            title: None,
            aria_label: None,
            does,
        }
    }

    /// *Show*: the session's tile.
    pub fn show(session: &str) -> Action {
        Action::new(
            "Show",
            "",
            "show",
            Does::Show {
                session: session.to_string(),
            },
        )
    }

    pub fn titled(mut self, title: impl Into<String>) -> Action {
        self.title = Some(title.into());
        self
    }

    pub fn read_as(mut self, label: impl Into<String>) -> Action {
        self.aria_label = Some(label.into());
        self
    }
}

/// What a button does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "does", rename_all = "snake_case")]
pub enum Does {
    /// Calls the API.
    Call(Call),
    /// Shows a session's tile.
    Show { session: String },
    /// Opens a department's changes in the drawer.
    OpenChanges { session: String },
    /// Opens a report's handoff packet.
    OpenHandoff {
        planner: String,
        department: String,
        report: String,
    },
    /// Shows the item's plan whole, with *Start* for its revision.
    ReviewPlan { session: String },
    /// Fetches the status again (the user's tree may have changed).
    Refresh,
    /// Asks the agents' programs again (`/api/check_agents`).
    CheckAgents,
    /// Checks the hosts again (`/api/check_remotes`) and says what each is.
    CheckHosts,
}

/// Calls of the API, in turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    pub requests: Vec<Request>,
    /// Takes the value of the item's box.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fill: Option<Fill>,
    /// Said before the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Said once every call is done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done: Option<String>,
    /// Said with the server's reason when a call fails (`… : why`).
    pub failed: String,
    pub hold: Hold,
}

impl Call {
    /// One call of `path` with `body`; `failed` begins the words of a failure.
    pub fn one(path: &'static str, body: Value, failed: impl Into<String>) -> Call {
        let body = match body {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Call {
            requests: vec![Request {
                path,
                body,
                what: None,
            }],
            fill: None,
            before: None,
            done: None,
            failed: failed.into(),
            hold: Hold::Button,
        }
    }

    pub fn done(mut self, text: impl Into<String>) -> Call {
        self.done = Some(text.into());
        self
    }

    pub fn hold(mut self, hold: Hold) -> Call {
        self.hold = hold;
        self
    }

    pub fn fill(mut self, fill: Fill) -> Call {
        self.fill = Some(fill);
        self
    }

    pub fn action(self, label: impl Into<String>, class: &str, action: &'static str) -> Action {
        Action::new(label, class, action, Does::Call(self))
    }
}

/// One call of the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub path: &'static str,
    pub body: Map<String, Value>,
    /// What it is about, named in a failure among several calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what: Option<String>,
}

/// How the item's box fills a call's body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fill {
    /// The body's field.
    pub field: &'static str,
    /// Said, and nothing called, while the box is empty (or, for a
    /// number, not above 0); none: an empty box is left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<String>,
    /// A number, rounded to a whole one when `whole`.
    pub number: bool,
    pub whole: bool,
    /// The box is emptied once the call is done.
    pub clear: bool,
}

/// What waits while a call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hold {
    /// The button, until a call fails (on success the item goes).
    Button,
    /// The button, while the calls run.
    WhileRunning,
    /// Every button of the item, until a call fails.
    Item,
    /// Nothing.
    Nothing,
}
