//! A department's own place to work (issue 26): a git worktree on its own
//! branch, what the launcher recorded of it, and where its integration
//! stands. A department session keeps one on its record; it changes only in
//! store transactions with their audit events, so every step survives
//! `kill -9`.

use serde::{Deserialize, Serialize};

use super::ChangeReview;

word_enum!(
    /// Where a department's worktree stands.
    WorkspaceState {
        /// The department works in it; nothing is recorded yet.
        Working => "working",
        /// Its work is recorded and waits for the user.
        Pending => "pending",
        /// The last attempt to integrate it predicted a conflict.
        Conflicting => "conflicting",
        /// An integration began and has not finished (a crash is recovered at start).
        Integrating => "integrating",
        /// Brought into the user's working tree as uncommitted changes.
        Applied => "applied",
        /// Committed onto the user's branch.
        Merged => "merged",
        /// Removed without integrating; its branch is kept.
        Discarded => "discarded",
        /// Sent back to the department: a successor session works on in it.
        SentBack => "sent_back",
        /// It ended having changed nothing: settled by the launcher, its
        /// worktree and branch removed.
        NoChanges => "no_changes",
        /// Pushed, with a pull request open on the forge: its review and CI
        /// decide (issue 38).
        InReview => "in_review",
        /// Its pull request was merged on the forge.
        PrMerged => "pr_merged",
        /// Its pull request was closed without merging.
        PrClosed => "pr_closed",
    }
);

word_enum!(
    /// How a department's changes come into the user's repository.
    IntegrationMode {
        /// Into the working tree, uncommitted (review before commit).
        Apply => "apply",
        /// Committed onto the current branch.
        Merge => "merge",
        /// Pushed to the remote, with a pull request opened on the forge.
        PullRequest => "pull_request",
    }
);

impl WorkspaceState {
    /// Its work is in the user's repository, or was thrown away by the user:
    /// the worktree folder may go.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            WorkspaceState::Applied
                | WorkspaceState::Merged
                | WorkspaceState::Discarded
                | WorkspaceState::NoChanges
                | WorkspaceState::PrMerged
                | WorkspaceState::PrClosed
        )
    }

    /// The state in words, as the page says it.
    pub fn words(self) -> &'static str {
        match self {
            WorkspaceState::Working => "working",
            WorkspaceState::Pending => "changes pending",
            WorkspaceState::Conflicting => "conflicting",
            WorkspaceState::Integrating => "integrating",
            WorkspaceState::Applied => "integrated (applied)",
            WorkspaceState::Merged => "integrated (merged)",
            WorkspaceState::Discarded => "discarded",
            WorkspaceState::SentBack => "sent back",
            WorkspaceState::NoChanges => "no changes",
            WorkspaceState::InReview => "in review (pull request)",
            WorkspaceState::PrMerged => "pull request merged",
            WorkspaceState::PrClosed => "pull request closed",
        }
    }

    /// Waits for the user to integrate, discard or send it back.
    pub fn awaits_user(self) -> bool {
        matches!(self, WorkspaceState::Pending | WorkspaceState::Conflicting)
    }
}

/// Where a workspace stands, in the terms the page shows it: the page reads
/// these and never compares state words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WorkspaceFacts {
    /// Its department changed something: its diff is worth a figure.
    pub changed: bool,
    /// The last attempt to integrate it predicted a conflict.
    pub conflicting: bool,
    /// Its department still works in it.
    pub working: bool,
    /// Its pull request is open on the forge.
    pub in_review: bool,
    /// It is in the user's repository and Undo may take it back: how it came in.
    pub undoable: Option<IntegrationMode>,
}

impl WorkspaceState {
    /// What the page shows of this state.
    pub fn facts(self) -> WorkspaceFacts {
        WorkspaceFacts {
            changed: self != WorkspaceState::NoChanges,
            conflicting: self == WorkspaceState::Conflicting,
            working: self == WorkspaceState::Working,
            in_review: self == WorkspaceState::InReview,
            undoable: match self {
                WorkspaceState::Applied => Some(IntegrationMode::Apply),
                WorkspaceState::Merged => Some(IntegrationMode::Merge),
                _ => None,
            },
        }
    }
}

/// How much a diff changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffStat {
    pub files: usize,
    pub insertions: usize,
    pub deletions: usize,
}

/// The base of a plan's departments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanBase {
    /// The repository's HEAD when the plan was registered.
    pub commit: String,
    /// The user's uncommitted files that the plan names: its departments do
    /// not see these changes.
    #[serde(default)]
    pub dirty_files: Vec<String>,
}

/// One path an integration changes in the user's working tree: its blob
/// before and after (None: absent) and its mode after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathChange {
    pub path: String,
    pub before: Option<String>,
    pub before_mode: u32,
    pub after: Option<String>,
    pub after_mode: u32,
}

/// An integration in progress: what it changes, kept before anything is
/// touched, so that a crash is finished or undone at the next start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingIntegration {
    pub mode: IntegrationMode,
    /// HEAD when it began.
    pub head: String,
    /// The merge commit (Merge): once HEAD names it, the merge is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The branch HEAD is on (Merge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    pub paths: Vec<PathChange>,
    pub started_at: String,
    /// The user's Undo of an earlier integration (its paths and branch
    /// reversed): finished, the work is pending again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub undo: bool,
}

impl PendingIntegration {
    /// The integration that takes this one back: every path from its `after`
    /// to its `before`, a Merge's branch from its commit back to where it was.
    pub fn reversed(&self, started_at: String) -> PendingIntegration {
        PendingIntegration {
            mode: self.mode,
            head: self.target.clone().unwrap_or_else(|| self.head.clone()),
            target: self.target.as_ref().map(|_| self.head.clone()),
            branch: self.branch.clone(),
            paths: self
                .paths
                .iter()
                .map(|c| PathChange {
                    path: c.path.clone(),
                    before: c.after.clone(),
                    before_mode: c.after_mode,
                    after: c.before.clone(),
                    after_mode: c.before_mode,
                })
                .collect(),
            started_at,
            undo: !self.undo,
        }
    }
}

/// A Zhongshu's proposal to integrate one of its departments' results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub mode: IntegrationMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub by: String,
    pub at: String,
}

/// A file in a department's worktree its record left out: it stays in the
/// worktree (which is then kept), named in the review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum LeftOut {
    /// A name that is not UTF-8 (shown lossily).
    NameNotUtf8 { path: String },
    /// Larger than `launcher.worktree_max_file_bytes`.
    TooLarge {
        path: String,
        bytes: u64,
        limit: u64,
    },
}

impl LeftOut {
    pub fn path(&self) -> &str {
        match self {
            LeftOut::NameNotUtf8 { path } | LeftOut::TooLarge { path, .. } => path,
        }
    }
}

impl std::fmt::Display for LeftOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeftOut::NameNotUtf8 { path } => write!(f, "{path} (its name is not UTF-8)"),
            LeftOut::TooLarge { path, bytes, limit } => {
                write!(f, "{path} ({bytes} bytes, over the {limit}-byte limit)")
            }
        }
    }
}

/// A file of the user's working tree that holds a department's applied change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedFile {
    pub path: String,
    /// The department session whose change it holds.
    pub session_id: String,
}

/// A department's worktree and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    /// The worktree folder (the agent's working folder).
    pub path: String,
    /// `governance/<zhongshu>/<session>`.
    pub branch: String,
    /// The commit the branch started from.
    pub base: String,
    /// Git's name for the linked worktree.
    pub name: String,
    /// The patterns checked out when the worktree is sparse; None: everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse: Option<Vec<String>>,
    pub state: WorkspaceState,
    /// The launcher's last commit of the worktree's state on the branch.
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actual_changed_files: Vec<String>,
    #[serde(default)]
    pub diff_stat: Option<DiffStat>,
    /// Scope, claim and risk findings of the last record.
    #[serde(default)]
    pub review: Option<ChangeReview>,
    /// Files of the last predicted conflict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrating: Option<PendingIntegration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal: Option<Proposal>,
    /// The worktree folder is gone (after Apply, Merge or Discard).
    #[serde(default)]
    pub removed: bool,
    /// Its last record changes nothing and kept nothing out of the record
    /// (no file left in the worktree, no attempt on the launcher's state).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nothing_to_review: bool,
    /// When it was settled (integrated, discarded, found empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<String>,
    /// The integration that brought it in (Apply or Merge), kept for Undo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrated: Option<PendingIntegration>,
    /// Its branch was deleted (integrated work, or discarded long enough ago).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub branch_deleted: bool,
    /// The session that works on in this worktree after a send back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<String>,
    /// The session whose worktree this was before a send back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predecessor: Option<String>,
    /// The pull request that carries this work (issue 38); kept across send
    /// backs, so the next report updates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<super::PullRequest>,
    /// Its `launcher.worktree.setup` commands (issue 52): None when none ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<WorktreeSetup>,
    /// Files of the user's tree copied in (`launcher.worktree.copy`): the
    /// user's, never recorded as the department's work.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copied: Vec<String>,
    /// Where its department's commands run: its own folder, the user's
    /// path, or a host (issue 76). Written as the `remote` and
    /// `at_users_path` keys earlier launchers wrote.
    #[serde(flatten)]
    pub workplace: super::Workplace,
    /// Its Merge's verified landing (issue 73): asked, its checks running,
    /// or how the last run went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landing: Option<Landing>,
    /// An attempt's own tree through the landing checks, without landing
    /// (issue 74): the launcher's verification the comparison shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_check: Option<AttemptCheck>,
}

/// The launcher's checks on an attempt's recorded tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptCheck {
    /// The tree checked (its recorded commit's).
    pub tree: String,
    pub commands: Vec<String>,
    /// Running while None, then whether every command passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
}

/// The trailer of a commit the launcher landed verified (its checks named
/// after it); `audit verify` looks for its `landing_verified` line.
pub const VERIFIED_TRAILER: &str = "Governance-Verified:";

/// A Merge's verified landing: the launcher's own checks on the exact tree
/// that would land.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Landing {
    pub state: LandingState,
    /// When the Merge was asked (its place in the train).
    pub asked_at: String,
    /// The checks it runs.
    pub commands: Vec<String>,
    /// What was asked: a Merge, or an Apply verified (kept, so a restart
    /// goes on with what was asked).
    #[serde(default = "merge_mode")]
    pub mode: IntegrationMode,
    /// `launcher.scope: block`'s override, as asked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub override_scope: bool,
    /// The tree the last run verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
    /// When its checks started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// The check running now (ahead of its turn too, with
    /// `landing.parallel`); None between runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<String>,
    /// What failed: the command and its exit, or its time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// What the checks wrote, its newest part.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// How long the last run took, in whole seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
}

fn merge_mode() -> IntegrationMode {
    IntegrationMode::Merge
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LandingState {
    /// Waits for the Merges asked before it.
    Queued,
    /// Its checks run on the candidate.
    Verifying,
    /// Its candidate passed and landed.
    Passed,
    /// Its candidate failed: nothing landed.
    Failed,
}

/// Where a new worktree's set-up commands stand: its agent starts only after
/// they succeed, or when the user says "Start anyway".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorktreeSetup {
    pub state: SetupState,
    /// What the commands wrote (each after `$ command`), its newest part.
    #[serde(default)]
    pub output: String,
    /// Why it failed: the command and its exit code, or the time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupState {
    /// The commands run; the agent waits.
    Running,
    /// They succeeded and the agent started.
    Done,
    /// One failed: a Needs-you item asks Retry set-up / Start anyway / Discard.
    Failed,
    /// They failed and the user started the agent anyway.
    Overridden,
}

impl Workspace {
    /// A worktree just created for a department.
    pub fn new(path: String, branch: String, base: String, name: String) -> Workspace {
        Workspace {
            path,
            branch,
            base,
            name,
            sparse: None,
            state: WorkspaceState::Working,
            commit: None,
            actual_changed_files: Vec::new(),
            diff_stat: None,
            review: None,
            conflicts: Vec::new(),
            integrating: None,
            proposal: None,
            removed: false,
            nothing_to_review: false,
            settled_at: None,
            integrated: None,
            branch_deleted: false,
            successor: None,
            predecessor: None,
            pull_request: None,
            setup: None,
            copied: Vec::new(),
            workplace: super::Workplace::Own,
            landing: None,
            attempt_check: None,
        }
    }
}
