//! Pushing a pull request's branch, through libgit2, with the user's own
//! credentials: the SSH agent for SSH remotes, Git's credential helper
//! (`credential.helper`, as `git push` asks it) for HTTPS ones. Each way is
//! tried once; a second ask means the remote refused it, and the push stops
//! there instead of looping. Only a fast-forward is pushed (no `+`): a branch
//! someone else moved on the remote is named, never overwritten.
//!
//! The commit goes out through a short-lived local ref
//! (`refs/codex-governance/push/<n>`), removed whatever happens.

use std::cell::{Cell, RefCell};
use std::path::Path;

use git2::{
    Cred, CredentialType, ErrorClass, ErrorCode, Oid, PushOptions, RemoteCallbacks, Repository,
};

/// The remote's own words kept from one push (sideband lines).
const MAX_REMOTE_WORDS: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("the remote {remote:?} ({url}) did not accept your credentials ({why}). Check that `git push {remote}` works here (an SSH key in your agent, or a credential helper)")]
    AuthRefused {
        remote: String,
        url: String,
        why: String,
    },
    #[error("the remote refused {branch}: {reason}{}", remote_said(.said))]
    Rejected {
        branch: String,
        reason: String,
        said: String,
    },
    #[error("the remote {remote:?} ({url}) cannot be reached: {why}")]
    Unreachable {
        remote: String,
        url: String,
        why: String,
    },
    #[error("push to {remote:?} failed: {0}", remote = .1)]
    Git(String, String),
}

fn remote_said(said: &str) -> String {
    if said.trim().is_empty() {
        String::new()
    } else {
        format!(" (the remote said: {})", said.trim())
    }
}

/// Pushes `commit` as `refs/heads/<branch>` on `remote`, as a fast-forward
/// (or a new branch).
pub fn push(repo: &Path, remote: &str, commit: &str, branch: &str) -> Result<(), PushError> {
    let git =
        Repository::open(repo).map_err(|e| PushError::Git(e.message().into(), remote.into()))?;
    let id =
        Oid::from_str(commit).map_err(|e| PushError::Git(e.message().into(), remote.into()))?;
    let local = format!(
        "refs/codex-governance/push/{}",
        crate::secret::new_token().get(..16).unwrap_or("0")
    );
    git.reference(&local, id, true, "codex-governance: pull request push")
        .map_err(|e| PushError::Git(e.message().into(), remote.into()))?;
    let pushed = send(
        &git,
        remote,
        &format!("{local}:refs/heads/{branch}"),
        branch,
    );
    if let Ok(mut r) = git.find_reference(&local) {
        let _gone_or_left_for_git_gc = r.delete();
    }
    pushed
}

/// Deletes `refs/heads/<branch>` on `remote` (undoing a push whose pull
/// request could not be opened).
pub fn delete(repo: &Path, remote: &str, branch: &str) -> Result<(), PushError> {
    let git =
        Repository::open(repo).map_err(|e| PushError::Git(e.message().into(), remote.into()))?;
    send(&git, remote, &format!(":refs/heads/{branch}"), branch)
}

/// One push of `refspec`, with the user's credentials, each way once.
fn send(git: &Repository, remote_name: &str, refspec: &str, branch: &str) -> Result<(), PushError> {
    let mut remote = git
        .find_remote(remote_name)
        .map_err(|e| PushError::Git(e.message().into(), remote_name.into()))?;
    let url = super::remote::without_password(remote.pushurl().or(remote.url()).unwrap_or(""));
    let config = git
        .config()
        .map_err(|e| PushError::Git(e.message().into(), remote_name.into()))?;
    let attempts = CredentialAttempts::default();
    let rejected = RefCell::new(None::<String>);
    let said = RefCell::new(String::new());
    let pushed = {
        let mut callbacks = RemoteCallbacks::new();
        callbacks.credentials(|url, user, allowed| attempts.next(&config, url, user, allowed));
        callbacks.push_update_reference(|_name, status| {
            if let Some(s) = status {
                *rejected.borrow_mut() = Some(s.to_string());
            }
            Ok(())
        });
        callbacks.sideband_progress(|data| {
            let mut s = said.borrow_mut();
            if s.len() < MAX_REMOTE_WORDS {
                s.push_str(&crate::sanitize::pasted_text(&String::from_utf8_lossy(
                    data,
                )));
            }
            true
        });
        let mut opts = PushOptions::new();
        opts.remote_callbacks(callbacks);
        remote.push(&[refspec], Some(&mut opts))
    };
    let said = one_line(&said.into_inner());
    if let Some(why) = attempts.refused.into_inner() {
        return Err(PushError::AuthRefused {
            remote: remote_name.into(),
            url,
            why,
        });
    }
    match pushed {
        Ok(()) => match rejected.into_inner() {
            None => Ok(()),
            Some(reason) => Err(PushError::Rejected {
                branch: branch.into(),
                reason: explain(&reason),
                said,
            }),
        },
        Err(e) => Err(failure(e, remote_name, url, branch, said)),
    }
}

/// Which ways of signing in were tried, each once, and why none worked.
#[derive(Default)]
struct CredentialAttempts {
    agent: Cell<bool>,
    helper: Cell<bool>,
    default: Cell<bool>,
    refused: RefCell<Option<String>>,
}

impl CredentialAttempts {
    /// The next way to sign in that Git allows and was not tried yet.
    fn next(
        &self,
        config: &git2::Config,
        url: &str,
        user: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, git2::Error> {
        let user = user.unwrap_or("git");
        if allowed.contains(CredentialType::USERNAME) {
            return Cred::username(user);
        }
        if allowed.contains(CredentialType::SSH_KEY) && !self.agent.replace(true) {
            return Cred::ssh_key_from_agent(user);
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) && !self.helper.replace(true) {
            if let Ok(c) = Cred::credential_helper(config, url, None) {
                return Ok(c);
            }
        }
        if allowed.contains(CredentialType::DEFAULT) && !self.default.replace(true) {
            return Cred::default();
        }
        let why = if self.agent.get() || self.helper.get() || self.default.get() {
            "the ones Git gave were refused"
        } else {
            "none were found: no SSH agent key or credential helper answered"
        };
        *self.refused.borrow_mut() = Some(why.to_string());
        Err(git2::Error::from_str(why))
    }
}

/// What the remote said, on one line and cut to a budget.
fn one_line(said: &str) -> String {
    said.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
        .chars()
        .take(MAX_REMOTE_WORDS)
        .collect()
}

/// Why a push failed, from Git's error.
fn failure(
    e: git2::Error,
    remote_name: &str,
    url: String,
    branch: &str,
    said: String,
) -> PushError {
    if e.code() == ErrorCode::Auth {
        PushError::AuthRefused {
            remote: remote_name.into(),
            url,
            why: e.message().into(),
        }
    } else if e.code() == ErrorCode::NotFastForward || e.message().contains("non-fastforwardable") {
        PushError::Rejected {
            branch: branch.into(),
            reason: "it is not a fast-forward: someone pushed to it since (fetch and look, or discard this work)".into(),
            said,
        }
    } else if matches!(
        e.class(),
        ErrorClass::Net | ErrorClass::Ssh | ErrorClass::Os | ErrorClass::Http | ErrorClass::Ssl
    ) {
        PushError::Unreachable {
            remote: remote_name.into(),
            url,
            why: e.message().into(),
        }
    } else {
        PushError::Git(e.message().into(), remote_name.into())
    }
}

/// The remote's status for a refused ref, with what it most likely means.
fn explain(status: &str) -> String {
    let lower = status.to_ascii_lowercase();
    if lower.contains("protected") || lower.contains("hook declined") {
        format!("{status}: a protected branch, or a rule on the remote, refuses it")
    } else {
        status.to_string()
    }
}
