//! Where a host of `launcher.remotes` stands (issue 53), as its pre-flight
//! found it: what the status and the page show of each.

use serde::Serialize;

/// A host's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteState {
    /// The repository's configuration names it and waits for the user's
    /// trust: nothing is run, not even ssh, until then.
    AwaitsTrust,
    /// Its pre-flight runs.
    Checking,
    /// Departments may be placed there.
    Ready,
    /// Something the user must change first (a Codex version mismatch, a
    /// sandbox that does not hold, a host key or ssh key refused).
    Refused,
    /// ssh could not reach it: it is checked again.
    Unreachable,
}

/// One host and what its last pre-flight found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteHost {
    pub name: String,
    pub ssh: String,
    pub repo: String,
    pub max_departments: usize,
    /// Its department slots taken now (the status fills it in).
    #[serde(default)]
    pub in_use: usize,
    /// Whether its departments must run in Codex's sandbox there.
    pub sandbox_required: bool,
    pub state: RemoteState,
    /// What the header says beside it while it takes no department (None
    /// when ready).
    #[serde(default)]
    pub note: Option<String>,
    /// Why it is refused or unreachable; what was found when ready.
    pub detail: String,
    /// `codex --version` there, when it answered.
    pub codex_version: Option<String>,
    pub checked_at: Option<String>,
}

/// A department's work on a host: its worktree and branch there, and the
/// commit last fetched back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RemoteWork {
    /// The host's name under `launcher.remotes`.
    pub host: String,
    /// Its worktree folder on the host.
    pub path: String,
    pub branch: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched: Option<String>,
    /// Its worktree, branch and refs there are gone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
    /// Why its last fetch back was refused (fsck, a size limit): nothing of
    /// it was written here. Cleared by the next fetch that is taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The container of the launcher's making it works in (issue 76), for
    /// a provider with `create`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}
