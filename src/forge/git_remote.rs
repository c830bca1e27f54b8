//! The Git remote a pull request's branch goes to: its URL from the
//! repository's configuration (libgit2), and the forge's `owner/name` read
//! from that URL (`git@github.com:owner/name.git`,
//! `https://github.com/owner/name`, `ssh://git@host/owner/name.git`).

use std::path::Path;

use super::Off;
use crate::config::pull_requests::is_owner_name;

/// The push URL of remote `name` (its `pushurl`, else its `url`).
pub fn url_of(repo: &Path, name: &str) -> Result<String, Off> {
    let git = git2::Repository::open(repo)
        .map_err(|e| Off(format!("the repository cannot be opened: {}", e.message())))?;
    let remote = git.find_remote(name).map_err(|_| {
        Off(format!(
            "pull requests are off: this repository has no remote {name:?} \
             (add it with git remote add {name} URL, or name another in launcher.pull_requests.remote)"
        ))
    })?;
    remote
        .pushurl()
        .or(remote.url())
        .map(str::to_string)
        .ok_or_else(|| {
            Off(format!(
                "pull requests are off: remote {name:?} has no URL (or one that is not UTF-8)"
            ))
        })
}

/// `owner/name` from a remote URL; None for a local path or anything else.
pub fn owner_name(url: &str) -> Option<String> {
    let path = if let Some((_, rest)) = url.split_once("://") {
        if url.starts_with("file://") {
            return None;
        }
        // Past the host (and any user or port).
        rest.split_once('/')?.1
    } else if let Some((host, path)) = url.split_once(':') {
        // scp-like `git@github.com:owner/name.git` (not a Windows drive letter).
        if host.len() <= 1 || host.contains('/') {
            return None;
        }
        path
    } else {
        return None;
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let mut parts: Vec<&str> = path.rsplitn(3, '/').collect();
    if parts.len() < 2 {
        return None;
    }
    parts.truncate(2);
    let name = format!("{}/{}", parts[1], parts[0]);
    is_owner_name(&name).then_some(name)
}

/// A URL as it may be shown: a password in it (`https://user:pw@host`) is
/// replaced by `***`.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or("");
            format!("{scheme}://{name}:***@{host}{path}")
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forges_repository_is_read_from_the_remotes_url() {
        for (url, want) in [
            ("git@github.com:acme/tool.git", Some("acme/tool")),
            ("https://github.com/acme/tool", Some("acme/tool")),
            ("https://x:y@github.com/acme/tool.git/", Some("acme/tool")),
            (
                "ssh://git@ghe.example:2222/acme/tool.git",
                Some("acme/tool"),
            ),
            ("http://127.0.0.1:9/git/acme/tool.git", Some("acme/tool")),
            ("file:///tmp/remote.git", None),
            ("/srv/git/tool.git", None),
            ("C:\\repos\\tool.git", None),
            ("https://github.com/acme", None),
        ] {
            assert_eq!(owner_name(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn a_password_in_a_url_is_never_shown() {
        assert_eq!(
            without_password("https://me:hunter2@github.com/a/b.git"),
            "https://me:***@github.com/a/b.git"
        );
        assert_eq!(
            without_password("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
    }
}
