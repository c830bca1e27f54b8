//! The handoff packet: a Markdown summary of one department result that a person
//! or the next agent can read without the launcher (`archive/handoff-<id>-<n>.md`).

use askama::Template;

use crate::model::TaskResult;

#[derive(Template)]
#[template(path = "handoff.md", escape = "none")]
pub struct Handoff<'a> {
    pub r: &'a TaskResult,
}
