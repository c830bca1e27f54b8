//! A department's work under review on the forge (issue 38): the pull request
//! the launcher opened for it, and what CI says of its latest commit. It sits
//! on the department's workspace (`workspace.pull_request`), so it changes in
//! the same store transactions, with their audit events, as the rest of it.

use serde::{Deserialize, Serialize};

word_enum!(
    /// Where a pull request stands on the forge.
    PullRequestState {
        Open => "open",
        /// Closed without merging.
        Closed => "closed",
        Merged => "merged",
    }
);

word_enum!(
    /// What one check says of the pull request's head commit.
    CheckVerdict {
        /// Queued or running (a status still `pending`).
        Pending => "pending",
        /// Succeeded, or neutral or skipped.
        Passed => "passed",
        /// Failed, errored, timed out, cancelled or needs action.
        Failed => "failed",
    }
);

word_enum!(
    /// Where a check comes from on the forge.
    CheckKind {
        /// A check run (GitHub Actions jobs are check runs).
        CheckRun => "check_run",
        /// A commit status (older CI integrations).
        Status => "status",
    }
);

/// One check of the pull request's head commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub kind: CheckKind,
    pub verdict: CheckVerdict,
    /// The forge's own word for it (`failure`, `timed_out`, `in_progress`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    /// The check run's id (for GitHub Actions, its job's id: the log's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Where the forge shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its one-line description (a status's, a check run's output title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// The department work a pull request carries: its branch (the same across
/// send backs) and the recorded commit last pushed for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carried {
    pub session_id: String,
    pub branch: String,
    pub commit: String,
}

/// A pull request the launcher opened, as the session records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub url: String,
    pub number: u64,
    pub state: PullRequestState,
    /// The checks of `head`, as last seen.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// `owner/name` on the forge.
    pub repo: String,
    /// The Git remote it was pushed to.
    pub remote: String,
    /// Its branch on the remote.
    pub branch: String,
    /// The branch it targets.
    pub base: String,
    /// The commit last pushed (the pull request's head).
    pub head: String,
    /// The department work in it (several for a plan's pull request).
    #[serde(default)]
    pub carries: Vec<Carried>,
    pub opened_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
    /// Times a failing check sent the work back.
    #[serde(default)]
    pub send_backs: u32,
    /// The failing check a send back last carried, by name and head commit:
    /// the same failure is not sent twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_failure: Option<String>,
    /// The forge's reviews and line comments already read, by key
    /// ([`ForgeNote::key`]): a restart neither drops nor repeats them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen_notes: Vec<String>,
    /// Read from the forge and waiting to be sent back ("Send back with the
    /// review"); empty when nothing waits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub review_waiting: Vec<ForgeNote>,
    /// Line comments sent back whose reply (naming the fix's commit) is
    /// posted once the fix is pushed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replies_due: Vec<ForgeNote>,
    /// The reviews the launcher posted itself (a reviewer agent's findings,
    /// issue 75): neither they nor their line comments are news to send
    /// back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub posted_reviews: Vec<u64>,
    /// The review comments (`rc-N`, a reviewer agent's findings) already in
    /// a posted review: each goes once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings_posted: Vec<String>,
}

/// A review or a line comment someone wrote on the forge: untrusted text
/// with its author, never the user's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgeNote {
    /// The forge's id of the review or comment.
    pub id: u64,
    /// A line comment (else a review).
    pub line_comment: bool,
    pub author: String,
    /// A review's verdict as the forge words it (`CHANGES_REQUESTED`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub body: String,
}

/// A line comment as the forge lists it: the note, the comment it answers
/// (a reply) and the review it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgeComment {
    pub note: ForgeNote,
    pub in_reply_to: Option<u64>,
    pub review: Option<u64>,
}

impl ForgeNote {
    /// Its key among the seen ones (reviews and comments are counted apart).
    pub fn key(&self) -> String {
        format!("{}{}", if self.line_comment { "c" } else { "r" }, self.id)
    }
}

impl PullRequest {
    /// All checks together: failed when one failed, pending while one runs,
    /// passed when all passed; None while there is none.
    pub fn verdict(&self) -> Option<CheckVerdict> {
        verdict_of(&self.checks)
    }

    /// The first failing check, if any.
    pub fn failing(&self) -> Option<&Check> {
        self.checks
            .iter()
            .find(|c| c.verdict == CheckVerdict::Failed)
    }

    /// The key of a failure already sent back: check name at head commit.
    pub fn failure_key(&self, check: &Check) -> String {
        format!("{}@{}", check.name, self.head)
    }

    pub fn is_open(&self) -> bool {
        self.state == PullRequestState::Open
    }
}

/// The verdict of several checks together.
pub fn verdict_of(checks: &[Check]) -> Option<CheckVerdict> {
    if checks.is_empty() {
        return None;
    }
    let any = |v| checks.iter().any(|c| c.verdict == v);
    Some(if any(CheckVerdict::Failed) {
        CheckVerdict::Failed
    } else if any(CheckVerdict::Pending) {
        CheckVerdict::Pending
    } else {
        CheckVerdict::Passed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, verdict: CheckVerdict) -> Check {
        Check {
            name: name.into(),
            kind: CheckKind::CheckRun,
            verdict,
            conclusion: None,
            id: None,
            url: None,
            summary: None,
        }
    }

    #[test]
    fn each_states_json_word_is_its_word() {
        use crate::model::{IntegrationMode, WorkspaceState};
        fn same<T: serde::Serialize>(words: &[&str], from: impl Fn(&str) -> Option<T>) {
            for w in words {
                let v = from(w).unwrap();
                assert_eq!(serde_json::to_value(v).unwrap(), *w);
            }
        }
        same(WorkspaceState::WORDS, WorkspaceState::from_word);
        same(IntegrationMode::WORDS, IntegrationMode::from_word);
        same(PullRequestState::WORDS, PullRequestState::from_word);
        same(CheckVerdict::WORDS, CheckVerdict::from_word);
        same(CheckKind::WORDS, CheckKind::from_word);
    }

    #[test]
    fn one_failure_fails_the_pull_request_and_a_running_check_keeps_it_pending() {
        use CheckVerdict::*;
        assert_eq!(verdict_of(&[]), None);
        assert_eq!(
            verdict_of(&[check("a", Passed), check("b", Pending)]),
            Some(Pending)
        );
        assert_eq!(
            verdict_of(&[check("a", Failed), check("b", Pending)]),
            Some(Failed)
        );
        assert_eq!(
            verdict_of(&[check("a", Passed), check("b", Passed)]),
            Some(Passed)
        );
    }
}
