//! One home for the launcher's rules (issue 26, item 7).
//!
//! Whether an assignment is valid and which model a session gets
//! ([`plan`]), whether a session may start ([`start`]), where a department works
//! ([`placement`]), which department
//! starts next and whether one may start outside the queue ([`queue`]), the
//! usage limits' hold and the plans' budgets ([`quota`]), whether a report may
//! speak for a department ([`report`]), which departments and risk rules a
//! changed path meets ([`routing`]), and what a department's actual changes
//! say against its mandate (scope, claim, risk) and whether they may be
//! integrated ([`changes`]), what the next start does with an integration a
//! crash cut ([`integration_recovery`]), what no way back in may carry
//! ([`carried`]), which of the user's environment variables an agent gets
//! ([`agent_env`]), where a review comment stands on a later attempt
//! ([`review_comments`]), which forge reviews go back to a department
//! ([`forge_review`]), and which step a department's workspace may take
//! next ([`workspace`]). Every rule is a pure function over typed inputs: the
//! services gather the facts (the store, Git, the configuration) and ask
//! here. Nothing in this module does I/O.

pub mod agent_env;
pub mod attempts;
pub mod carried;
pub mod changes;
pub mod commit_words;
pub mod forge_review;
pub mod integration;
pub mod integration_recovery;
pub mod landing;
pub mod needs_you;
pub mod notice;
pub mod placement;
pub mod plan;
pub mod pushed_branch;
pub mod queue;
pub mod quota;
pub mod report;
pub mod review_comments;
pub mod routing;
pub mod scopes;
pub mod second_opinion;
pub mod start;
pub mod workspace;

pub use crate::model::Decision;

/// Why a rule refuses, by kind (the web layer maps kinds to statuses).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The request is wrong.
    #[error("{0}")]
    Invalid(String),
    /// It names something that does not exist.
    #[error("{0}")]
    Unknown(String),
    /// It does not fit the current state.
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do it.
    #[error("{0}")]
    Forbidden(String),
    /// A limit is reached.
    #[error("{0}")]
    TooMany(String),
}
