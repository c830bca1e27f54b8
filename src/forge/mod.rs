//! The forge: where teams review (issue 38). A department's work is pushed to
//! a Git remote with the user's own `git` and credentials ([`push`]) and a pull
//! request is opened there through the forge's API ([`Forge`]), its body the
//! governance review ([`body`]). While it is open, its checks are read back
//! (ETags and rate limits respected) so a failing job's log can go back to
//! the department ([`log`]), and so are its reviews and line comments, so a
//! teammate's "changes requested" comes back the same way.
//!
//! [`Forge`] is the one small interface the rest of the launcher sees: GitHub
//! (and GitHub Enterprise, by `api_url`) implements it through `octocrab`
//! ([`github`]); GitLab or Forgejo would be further implementations. Its
//! token ([`token`]) is read from the environment or `gh`, held as a
//! [`Secret`](crate::secret::Secret) in memory only, and taken out of the
//! launcher's environment so no agent or terminal inherits it.

pub mod body;
pub mod commits;
pub mod findings;
pub mod git_remote;
pub mod github;
pub mod log;
pub mod push;
pub mod token;
pub mod webhook;
pub mod words;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::model::{Check, ForgeComment, ForgeNote, PullRequestState};

/// A forge call in flight.
pub type ForgeFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ForgeError>> + Send + 'a>>;

/// What went wrong on the forge, in words the user can act on.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    #[error("no token for the forge: set GITHUB_TOKEN or GH_TOKEN, or log in with gh auth login")]
    NoToken,
    #[error("the forge at {api} cannot be reached ({why})")]
    Unreachable { api: String, why: String },
    #[error(
        "the forge refused the token ({message}): give GITHUB_TOKEN or GH_TOKEN a token that may \
         open pull requests on {repo}, or run gh auth login"
    )]
    Unauthorized { repo: String, message: String },
    #[error("{repo} was not found on the forge at {api}, or the token may not see it")]
    NotFound { repo: String, api: String },
    #[error("the forge's rate limit is spent: it resets in {}s", .wait.as_secs())]
    RateLimited { wait: Duration },
    #[error("the forge answered {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("the forge's answer could not be read: {0}")]
    Answer(String),
}

/// The repository as the forge shows it to the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    /// `owner/name`.
    pub full_name: String,
    pub default_branch: String,
}

/// A pull request to open.
#[derive(Debug, Clone)]
pub struct NewPull {
    pub title: String,
    pub body: String,
    /// The pushed branch.
    pub head: String,
    /// The branch it targets.
    pub base: String,
}

/// A pull request on the forge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullInfo {
    pub number: u64,
    pub url: String,
    pub state: PullRequestState,
    /// The head commit the forge knows.
    pub head_sha: String,
    /// The head branch the forge names.
    pub head_ref: String,
}

/// What opening a pull request found.
#[derive(Debug, Clone)]
pub struct Opened {
    pub pull: PullInfo,
    /// One was already open for the branch: it was reused (and its title and
    /// body updated).
    pub reused: bool,
}

/// A forge's pull requests and checks, for one repository.
pub trait Forge: Send + Sync {
    /// The repository, read first: the forge is reachable, the token valid,
    /// the repository visible (before anything is pushed).
    fn repository(&self) -> ForgeFuture<'_, RepoInfo>;
    /// Opens a pull request, or reuses the one already open for its head.
    fn open_pull(&self, new: NewPull) -> ForgeFuture<'_, Opened>;
    /// The pull request open for branch `head`, if any.
    fn find_pull(&self, head: String) -> ForgeFuture<'_, Option<PullInfo>>;
    /// A new title and body for an open pull request.
    fn update_body(&self, number: u64, body: String) -> ForgeFuture<'_, ()>;
    /// The pull request as it stands (cached by ETag).
    fn pull(&self, number: u64) -> ForgeFuture<'_, PullInfo>;
    /// The check runs and commit statuses of `sha` (cached by ETag).
    fn checks(&self, sha: String) -> ForgeFuture<'_, Vec<Check>>;
    /// The log of a failed check (a GitHub Actions job's), when the forge
    /// keeps one; None for checks without a log.
    fn job_log(&self, check: Check) -> ForgeFuture<'_, Option<String>>;
    /// The pull request's reviews (cached by ETag), oldest first.
    fn reviews(&self, number: u64) -> ForgeFuture<'_, Vec<ForgeNote>>;
    /// The pull request's line comments (cached by ETag), oldest first;
    /// each with the comment it answers and the review it belongs to.
    fn line_comments(&self, number: u64) -> ForgeFuture<'_, Vec<ForgeComment>>;
    /// Posts a review (a comment, never a verdict) on pull request `number`:
    /// its id.
    fn post_review(&self, number: u64, review: NewReview) -> ForgeFuture<'_, u64>;
    /// Answers line comment `comment` on pull request `number`: the reply's id.
    fn reply(&self, number: u64, comment: u64, body: String) -> ForgeFuture<'_, u64>;
    /// Sets the commit status `status.context` on `sha` (issue 73: the
    /// launcher's own verification of a pull request's head).
    fn set_status(&self, sha: String, status: CommitStatus) -> ForgeFuture<'_, ()>;
    /// How long to wait before the next call, as the forge's rate-limit
    /// headers last asked (None: no wait).
    fn wait_hint(&self) -> Option<Duration>;
}

/// A review the launcher posts: its text and its line comments, on the
/// head `commit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    pub commit: String,
    pub body: String,
    pub lines: Vec<ReviewLine>,
}

/// One line comment of a [`NewReview`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewLine {
    pub path: String,
    pub line: u32,
    /// On the diff's new side (else the old one).
    pub new_side: bool,
    pub body: String,
}

/// A commit status the launcher posts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStatus {
    /// `pending`, `success`, `failure` or `error`.
    pub state: &'static str,
    /// At most 140 characters (the forge's limit).
    pub description: String,
    pub context: &'static str,
}

/// Pull requests as configured for this repository: the remote and its URL,
/// the forge's repository, and the client.
#[derive(Clone)]
pub struct Setup {
    pub remote: String,
    /// The remote's push URL (shown, never holding a password: see
    /// [`git_remote::without_password`]).
    pub remote_url: String,
    /// `owner/name` on the forge.
    pub repo: String,
    pub api_url: String,
    pub forge: Arc<dyn Forge>,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("remote", &self.remote)
            .field("remote_url", &self.remote_url)
            .field("repo", &self.repo)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// Why pull requests are off for this repository, in words with the fix.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Off(pub String);

/// The host of an `http://` URL that is not this machine (a token sent there
/// crosses the network in the clear); None for https or loopback.
fn plain_http_elsewhere(url: &str) -> Option<String> {
    let uri = url.parse::<http::Uri>().ok()?;
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let host = uri.host().unwrap_or("").trim_matches(['[', ']']);
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!loopback).then(|| host.to_string())
}

impl Setup {
    /// Resolves `launcher.pull_requests` against the repository: off (with
    /// why) until the remote resolves and the forge's repository is known.
    /// The token is looked up later, when a pull request is opened.
    pub fn resolve(
        repo: &std::path::Path,
        settings: &crate::config::pull_requests::PullRequestSettings,
    ) -> Result<Setup, Off> {
        let remote_url = git_remote::url_of(repo, &settings.remote)?;
        let forge_repo = match &settings.repo {
            Some(r) => r.clone(),
            None => git_remote::owner_name(&remote_url).ok_or_else(|| {
                Off(format!(
                    "the forge's repository cannot be read from the URL of remote {:?} ({}): \
                     set launcher.pull_requests.repo to owner/name",
                    settings.remote,
                    git_remote::without_password(&remote_url)
                ))
            })?,
        };
        if let Some(host) = plain_http_elsewhere(&settings.api_url) {
            return Err(Off(format!(
                "launcher.pull_requests.api_url is plain http to {host}: the forge's token is \
                 never sent unencrypted to another machine; use https://{host}/…"
            )));
        }
        let forge = github::GitHub::new(&settings.api_url, &forge_repo).map_err(|e| {
            Off(format!(
                "launcher.pull_requests.api_url: {:?} is not a URL: {e}",
                settings.api_url
            ))
        })?;
        Ok(Setup {
            remote: settings.remote.clone(),
            remote_url: git_remote::without_password(&remote_url),
            repo: forge_repo,
            api_url: settings.api_url.clone(),
            forge: Arc::new(forge),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 48 item 4: a token never goes over plain http to another machine.
    #[test]
    fn plain_http_is_refused_for_any_host_but_this_machine() {
        for url in [
            "http://evil.example",
            "http://10.0.0.1:8080/api",
            "http://[fe80::1]/x",
        ] {
            assert!(plain_http_elsewhere(url).is_some(), "{url}");
        }
        for url in [
            "https://api.github.com",
            "http://127.0.0.1:4000",
            "http://localhost:80/api/v3",
            "http://[::1]:9",
            "http://127.0.0.2",
        ] {
            assert_eq!(plain_http_elsewhere(url), None, "{url}");
        }
        let dir = tempfile::tempdir().unwrap();
        let git = git2::Repository::init(dir.path()).unwrap();
        git.remote("origin", "https://github.com/acme/tool.git")
            .unwrap();
        let settings = crate::config::pull_requests::PullRequestSettings {
            api_url: "http://evil.example".into(),
            ..Default::default()
        };
        let off = Setup::resolve(dir.path(), &settings).err().unwrap();
        assert!(off.0.contains("plain http to evil.example"), "{off}");
    }
}
