//! `launcher.pull_requests` (issue 38): where a department's work goes when
//! the user chooses Pull request. The remote (default `origin`) must resolve
//! in the repository for pull requests to be on; the forge's repository is
//! derived from the remote's URL unless `repo` names it; `api_url` points at
//! GitHub Enterprise (or a test's forge). The token is never configured here:
//! it comes from the environment or `gh` (see `forge::token`).

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The file's words under `launcher.pull_requests`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct FilePullRequests {
    #[serde(default)]
    pub remote: Option<String>,
    #[serde(default)]
    pub api_url: Option<String>,
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default)]
    pub base: Option<String>,
    #[serde(default)]
    pub auto_send_back: Option<bool>,
    #[serde(default)]
    pub max_send_backs: Option<u32>,
    #[serde(default)]
    pub poll_seconds: Option<u64>,
    #[serde(default)]
    pub keep_branch: Option<bool>,
    #[serde(default)]
    pub reply_to_comments: Option<bool>,
}

/// How pull requests are opened and followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullRequestSettings {
    /// The Git remote the branch is pushed to.
    pub remote: String,
    /// The forge's REST API (GitHub: `https://api.github.com`; Enterprise:
    /// `https://HOST/api/v3`).
    pub api_url: String,
    /// `owner/name` on the forge; None: derived from the remote's URL.
    pub repo: Option<String>,
    /// The branch pull requests target; None: the user's current branch.
    pub base: Option<String>,
    /// A failing check, or a review asking for changes, sends the work back
    /// without a click.
    pub auto_send_back: bool,
    /// At most this many such send backs per pull request.
    pub max_send_backs: u32,
    /// Seconds between two looks at an open pull request's checks (the
    /// forge's rate-limit headers may ask for longer).
    pub poll_seconds: u64,
    /// A merged pull request's branch stays on the remote (default: the
    /// launcher deletes the branch it pushed).
    pub keep_branch: bool,
    /// Each forge line comment sent back gets a reply naming the commit
    /// that answers it, once pushed.
    pub reply_to_comments: bool,
}

pub const DEFAULT_API_URL: &str = "https://api.github.com";

impl Default for PullRequestSettings {
    fn default() -> Self {
        PullRequestSettings {
            remote: "origin".into(),
            api_url: DEFAULT_API_URL.into(),
            repo: None,
            base: None,
            auto_send_back: false,
            max_send_backs: 2,
            poll_seconds: 30,
            keep_branch: false,
            reply_to_comments: true,
        }
    }
}

/// Checks the file's words; `file` names the file in errors.
pub fn resolve(
    file: &str,
    words: Option<FilePullRequests>,
) -> Result<PullRequestSettings, ConfigError> {
    let d = PullRequestSettings::default();
    let Some(w) = words else { return Ok(d) };
    let invalid = |key: &str, message: &str| ConfigError::Invalid {
        file: file.to_string(),
        key: format!("launcher.pull_requests.{key}"),
        message: message.to_string(),
    };
    let text = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let remote = text(w.remote).unwrap_or(d.remote);
    if remote.starts_with('-') || remote.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("remote", "a Git remote's name, such as origin"));
    }
    let api_url = text(w.api_url).unwrap_or(d.api_url);
    if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
        return Err(invalid(
            "api_url",
            "an http(s) URL, such as https://api.github.com or https://HOST/api/v3",
        ));
    }
    let repo = text(w.repo);
    if let Some(r) = &repo {
        if !is_owner_name(r) {
            return Err(invalid(
                "repo",
                "owner/name, as in https://github.com/owner/name",
            ));
        }
    }
    let base = text(w.base);
    if base.as_deref().is_some_and(|b| b.starts_with('-')) {
        return Err(invalid("base", "a branch name"));
    }
    let poll_seconds = w.poll_seconds.unwrap_or(d.poll_seconds);
    if poll_seconds == 0 {
        return Err(invalid(
            "poll_seconds",
            "0 is not allowed: a number of seconds above 0 (did you mean 30, the default?)",
        ));
    }
    Ok(PullRequestSettings {
        remote,
        api_url: api_url.trim_end_matches('/').to_string(),
        repo,
        base,
        auto_send_back: w.auto_send_back.unwrap_or(d.auto_send_back),
        max_send_backs: w.max_send_backs.unwrap_or(d.max_send_backs),
        poll_seconds,
        keep_branch: w.keep_branch.unwrap_or(d.keep_branch),
        reply_to_comments: w.reply_to_comments.unwrap_or(d.reply_to_comments),
    })
}

/// What a repository's own file sets under `pull_requests` that changes
/// where the forge's token is sent, which forge repository it acts on, or
/// where the work is pushed with the user's credentials: (key, value,
/// meaning). A value equal to the default asks nothing.
pub fn trust_asks(w: &FilePullRequests) -> Vec<(&'static str, String, &'static str)> {
    fn set(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    let mut asks = Vec::new();
    if let Some(url) = set(&w.api_url).filter(|u| u.trim_end_matches('/') != DEFAULT_API_URL) {
        asks.push((
            "pull_requests.api_url",
            url.to_string(),
            "the forge's token (GITHUB_TOKEN, GH_TOKEN or gh's) is sent to this address",
        ));
    }
    if let Some(repo) = set(&w.repo) {
        asks.push((
            "pull_requests.repo",
            repo.to_string(),
            "pull requests, with your token, go to this repository instead of your remote's",
        ));
    }
    if let Some(remote) = set(&w.remote).filter(|r| *r != "origin") {
        asks.push((
            "pull_requests.remote",
            remote.to_string(),
            "departments' work is pushed to this remote with your credentials",
        ));
    }
    asks
}

/// `owner/name`: two parts of letters, digits, `-`, `_` and `.` (not `..`).
pub fn is_owner_name(s: &str) -> bool {
    let mut parts = s.split('/');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p != "."
                && p != ".."
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_the_files_words_checked() {
        assert_eq!(
            resolve("g.yaml", None).unwrap(),
            PullRequestSettings::default()
        );
        let words = FilePullRequests {
            remote: Some("upstream".into()),
            api_url: Some("https://ghe.example/api/v3/".into()),
            repo: Some("acme/tool".into()),
            base: Some("main".into()),
            auto_send_back: Some(true),
            max_send_backs: Some(3),
            poll_seconds: Some(5),
            keep_branch: Some(true),
            reply_to_comments: Some(false),
        };
        let s = resolve("g.yaml", Some(words)).unwrap();
        assert_eq!(s.api_url, "https://ghe.example/api/v3");
        assert_eq!((s.auto_send_back, s.max_send_backs), (true, 3));
        assert!(s.keep_branch, "off by default, on when set");
        assert!(!s.reply_to_comments, "on by default, off when set");
        for (words, key) in [
            (
                FilePullRequests {
                    repo: Some("acme".into()),
                    ..Default::default()
                },
                "launcher.pull_requests.repo",
            ),
            (
                FilePullRequests {
                    api_url: Some("ftp://x".into()),
                    ..Default::default()
                },
                "launcher.pull_requests.api_url",
            ),
            (
                FilePullRequests {
                    remote: Some("--upload-pack=x".into()),
                    ..Default::default()
                },
                "launcher.pull_requests.remote",
            ),
        ] {
            let e = resolve("g.yaml", Some(words)).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
        assert!(is_owner_name("a-b/c.d_e"));
        assert!(!is_owner_name("a/../b") && !is_owner_name("../x") && !is_owner_name("a/b/c"));
    }
}
