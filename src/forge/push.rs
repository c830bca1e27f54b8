//! Pushing a pull request's branch with the user's own `git`, so the push
//! works exactly when `git push` works here: the same credential helpers,
//! SSH configuration and agent, proxies and URL rewrites. (libgit2 would
//! need OpenSSL and libssh2 loaded in the launcher for the one push a pull
//! request makes, and reads neither `~/.ssh/config` nor every helper.)
//!
//! Git never asks anything: no terminal (its own process session), no
//! stdin, `GIT_TERMINAL_PROMPT=0`; a missing credential is an error that
//! says what to fix. No hook runs (`--no-verify`, `core.hooksPath` on the
//! null device): a hook is code in the repository, which an agent may have
//! written. Only a fast-forward is pushed (no `+`): a branch someone else
//! moved on the remote is named, never overwritten. The commit is pushed by
//! its id, so no local ref is made for it.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// The remote's own words kept from one push (its `remote:` lines).
const MAX_REMOTE_WORDS: usize = 2000;

/// How long one push may take before git is stopped: a remote that takes
/// the connection and never answers would hold it, and the working tree's
/// lock with it, for ever.
const PUSH_TIME_LIMIT: Duration = Duration::from_secs(600);

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
    #[error("pull requests push with your own git, and `git` could not be run ({0}): install Git, or put it on the launcher's PATH")]
    NoGit(#[source] std::io::Error),
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
pub async fn push(repo: &Path, remote: &str, commit: &str, branch: &str) -> Result<(), PushError> {
    let id = git2::Oid::from_str(commit)
        .ok()
        .filter(|_| commit.len() == 40 || commit.len() == 64)
        .ok_or_else(|| PushError::Git(format!("{commit:?} is not a commit id"), remote.into()))?;
    send(repo, remote, &format!("{id}:refs/heads/{branch}"), branch).await
}

/// Deletes `refs/heads/<branch>` on `remote` (undoing a push whose pull
/// request could not be opened).
pub async fn delete(repo: &Path, remote: &str, branch: &str) -> Result<(), PushError> {
    send(repo, remote, &format!(":refs/heads/{branch}"), branch).await
}

/// Deletes `refs/heads/<branch>` on `remote` only while its tip is still
/// `expected` (the commit the launcher pushed): a branch someone pushed to
/// since stays (`--force-with-lease`).
pub async fn delete_at(
    repo: &Path,
    remote: &str,
    branch: &str,
    expected: &str,
) -> Result<(), PushError> {
    let id = git2::Oid::from_str(expected)
        .ok()
        .filter(|_| expected.len() == 40 || expected.len() == 64)
        .ok_or_else(|| PushError::Git(format!("{expected:?} is not a commit id"), remote.into()))?;
    let lease = format!("--force-with-lease=refs/heads/{branch}:{id}");
    let url = checked_remote(repo, remote, branch)?;
    let refspec = format!(":refs/heads/{branch}");
    let out = git_push_with(repo, remote, &refspec, Some(&lease), PUSH_TIME_LIMIT).await?;
    finished(out, remote, branch, url, PUSH_TIME_LIMIT)
}

/// One `git push` of `refspec` to the configured remote `remote_name`.
async fn send(
    repo: &Path,
    remote_name: &str,
    refspec: &str,
    branch: &str,
) -> Result<(), PushError> {
    send_within(repo, remote_name, refspec, branch, PUSH_TIME_LIMIT).await
}

/// `send`, stopping git after `limit`.
async fn send_within(
    repo: &Path,
    remote_name: &str,
    refspec: &str,
    branch: &str,
    limit: Duration,
) -> Result<(), PushError> {
    let url = checked_remote(repo, remote_name, branch)?;
    let out = git_push(repo, remote_name, refspec, limit).await?;
    finished(out, remote_name, branch, url, limit)
}

/// What a `git push` that ran (or was stopped after `limit`) came to.
fn finished(
    out: Option<Output>,
    remote_name: &str,
    branch: &str,
    url: String,
    limit: Duration,
) -> Result<(), PushError> {
    let Some(out) = out else {
        return Err(PushError::Unreachable {
            remote: remote_name.into(),
            url,
            why: format!(
                "git push did not finish within {} s and was stopped",
                limit.as_secs()
            ),
        });
    };
    // What git and the remote said is the forge's words: masked as they come.
    let stderr = super::words::from_forge(&String::from_utf8_lossy(&out.stderr));
    let said = remote_words(&stderr);
    let stdout = super::words::from_forge(&String::from_utf8_lossy(&out.stdout));
    if let Some(reason) = refused_ref(&stdout) {
        return Err(PushError::Rejected {
            branch: branch.into(),
            reason: explain(&reason),
            said,
        });
    }
    if out.status.success() {
        return Ok(());
    }
    Err(failure(&stderr, remote_name, url, said))
}

/// The push URL of `remote_name`, shown without a password, once the remote
/// and the branch are known to be what they claim: a configured remote, a
/// valid branch name (neither can then pass for an option of `git push`).
fn checked_remote(repo: &Path, remote_name: &str, branch: &str) -> Result<String, PushError> {
    let fail = |why: String| PushError::Git(why, remote_name.into());
    if !git2::Reference::is_valid_name(&format!("refs/heads/{branch}")) || branch.starts_with('-') {
        return Err(fail(format!("{branch:?} is not a valid branch name")));
    }
    let git = git2::Repository::open(repo).map_err(|e| fail(e.message().into()))?;
    let remote = git
        .find_remote(remote_name)
        .map_err(|e| fail(e.message().into()))?;
    Ok(super::git_remote::without_password(
        remote.pushurl().or(remote.url()).unwrap_or(""),
    ))
}

/// Runs `git push --porcelain` for one refspec: its output, whatever its
/// exit status, or None when it did not end within `limit` (then it and
/// everything it started are stopped; so is git when the launcher stops
/// and drops the push).
async fn git_push(
    repo: &Path,
    remote_name: &str,
    refspec: &str,
    limit: Duration,
) -> Result<Option<Output>, PushError> {
    git_push_with(repo, remote_name, refspec, None, limit).await
}

/// `git_push` with one more option before the remote (a lease).
async fn git_push_with(
    repo: &Path,
    remote_name: &str,
    refspec: &str,
    option: Option<&str>,
    limit: Duration,
) -> Result<Option<Output>, PushError> {
    let git = crate::platform::find_program("git").ok_or_else(|| {
        PushError::NoGit(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "not found in the absolute folders of PATH",
        ))
    })?;
    let mut cmd = Command::new(git);
    cmd.arg("-C")
        .arg(repo)
        .args([
            "-c",
            &format!("core.hooksPath={}", crate::platform::NULL_DEVICE),
        ])
        // No window or helper asks for a password either: the push uses
        // what is stored, or fails and says so.
        .args(["-c", "core.askPass="])
        .args(["push", "--porcelain", "--no-verify"])
        // Only the one ref: no tags or submodules the user's settings add.
        .args(["--no-follow-tags", "--recurse-submodules=no"])
        .args(option)
        .args(["--", remote_name, refspec])
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("SSH_ASKPASS_REQUIRE", "never")
        .env("GCM_INTERACTIVE", "never")
        // An HTTP transfer slower than 1 KB/s for a minute is given up.
        .env("GIT_HTTP_LOW_SPEED_LIMIT", "1000")
        .env("GIT_HTTP_LOW_SPEED_TIME", "60")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let askpass = ["GIT_ASKPASS", "SSH_ASKPASS"];
    for inherited in askpass
        .into_iter()
        .chain(crate::repository::GIT_LOCATION_VARIABLES)
    {
        cmd.env_remove(inherited);
    }
    crate::platform::detach(cmd.as_std_mut());
    let mut child = cmd.kill_on_drop(true).spawn().map_err(PushError::NoGit)?;
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let pid = child.id();
    if let Some(pid) = pid {
        crate::platform::contain(pid);
    }
    let ran = async {
        let (stdout, stderr, status) =
            tokio::join!(read_capped(stdout), read_capped(stderr), child.wait());
        status.map(|status| Output {
            status,
            stdout,
            stderr,
        })
    };
    tokio::pin!(ran);
    // Past its limit, or dropped, git and what it started (ssh) end; done,
    // what it left is let go (ended, on Windows). Dropped before `ran`, so
    // git is not yet reaped and its number still its own.
    let mut tree = GitTree(pid);
    match tokio::time::timeout(limit, &mut ran).await {
        Ok(done) => {
            tree.release();
            done.map(Some).map_err(PushError::NoGit)
        }
        Err(_) => Ok(None),
    }
}

/// A push's git and what it started, ended when dropped unless released.
struct GitTree(Option<u32>);

impl GitTree {
    fn release(&mut self) {
        if let Some(pid) = self.0.take() {
            crate::platform::release_tree(pid);
        }
    }
}

impl Drop for GitTree {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            crate::platform::kill_tree(pid);
        }
    }
}

/// A pipe read to its end, 1 MiB at most.
async fn read_capped(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(pipe) = pipe {
        let _cut_or_closed = pipe.take(1 << 20).read_to_end(&mut bytes).await;
    }
    bytes
}

/// The status of a ref the push refused (`!` in `--porcelain` output):
/// `[remote rejected] (pre-receive hook declined)` gives the reason in
/// brackets, or the words in the brackets when there is none.
fn refused_ref(stdout: &str) -> Option<String> {
    let line = stdout.lines().find(|l| l.starts_with('!'))?;
    let summary = line.splitn(3, '\t').nth(2).unwrap_or("").trim();
    let reason = summary
        .split_once('(')
        .and_then(|(_, r)| r.rsplit_once(')'))
        .map(|(r, _)| r.trim())
        .filter(|r| !r.is_empty())
        .unwrap_or(summary.trim_matches(['[', ']']));
    Some(reason.to_string())
}

/// What the remote said (`remote:` lines), on one line and cut to a budget.
fn remote_words(stderr: &str) -> String {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("remote:"))
        .map(|l| crate::sanitize::pasted_text(l.trim()))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
        .chars()
        .take(MAX_REMOTE_WORDS)
        .collect()
}

/// Why a push failed, from what git (and ssh) wrote, in the C locale; the
/// remote's own `remote:` lines are its words, never taken for git's.
fn failure(stderr: &str, remote_name: &str, url: String, said: String) -> PushError {
    let own: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("remote:"))
        .collect();
    let why = git_said(&own);
    let has = |words: &[&str]| own.iter().any(|l| words.iter().any(|w| l.contains(w)));
    if has(&[
        "Authentication failed",
        "could not read Username",
        "could not read Password",
        "Permission denied (publickey",
        "Invalid username or password",
        "denied to",
        "Repository not found",
        "The requested URL returned error: 401",
        "The requested URL returned error: 403",
    ]) {
        PushError::AuthRefused {
            remote: remote_name.into(),
            url,
            why,
        }
    } else if has(&[
        "Could not resolve host",
        "Connection refused",
        "Connection timed out",
        "Host key verification failed",
        "Could not read from remote repository",
        "unable to access",
        "Network is unreachable",
        "the remote end hung up",
    ]) {
        PushError::Unreachable {
            remote: remote_name.into(),
            url,
            why,
        }
    } else if said.is_empty() {
        PushError::Git(why, remote_name.into())
    } else {
        PushError::Git(
            format!("{why} (the remote said: {said})"),
            remote_name.into(),
        )
    }
}

/// What git and the programs it ran (ssh, a credential helper) wrote, on one
/// line, without `fatal:`/`error:` and hints, with any password in a URL
/// hidden.
fn git_said(lines: &[&str]) -> String {
    let lines: Vec<String> = lines
        .iter()
        .filter(|l| !l.starts_with("hint:") && !l.starts_with("To "))
        .map(|l| {
            let bare = l
                .strip_prefix("fatal:")
                .or_else(|| l.strip_prefix("error:"));
            hide_passwords(&crate::sanitize::pasted_text(bare.unwrap_or(l).trim()))
        })
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return "git push failed without saying why".into();
    }
    lines.join(" / ").chars().take(MAX_REMOTE_WORDS).collect()
}

/// `text` with each URL's password replaced by `***`.
fn hide_passwords(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let quote = |c: char| matches!(c, '\'' | '"');
            let inner = word.trim_matches(quote);
            if inner.contains("://") {
                word.replace(inner, &super::git_remote::without_password(inner))
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The remote's status for a refused ref, with what it most likely means.
fn explain(status: &str) -> String {
    let lower = status.to_ascii_lowercase();
    if lower.contains("non-fast-forward") || lower.contains("fetch first") {
        "it is not a fast-forward: someone pushed to it since (fetch and look, or discard this work)"
            .into()
    } else if lower.contains("protected") || lower.contains("hook declined") {
        format!("{status}: a protected branch, or a rule on the remote, refuses it")
    } else {
        status.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_ref_is_read_from_porcelain_output() {
        let out = "To file:///r.git\n!\tabc:refs/heads/b\t[remote rejected] (pre-receive hook declined)\nDone\n";
        assert_eq!(
            refused_ref(out).as_deref(),
            Some("pre-receive hook declined")
        );
        let out = "To x\n!\tabc:refs/heads/b\t[rejected] (non-fast-forward)\nDone\n";
        assert!(explain(&refused_ref(out).unwrap()).starts_with("it is not a fast-forward"));
        let out = "To x\n!\tabc:refs/heads/b\t[remote failure]\n";
        assert_eq!(refused_ref(out).as_deref(), Some("remote failure"));
        assert_eq!(
            refused_ref("To x\n*\tabc:refs/heads/b\t[new branch]\nDone\n"),
            None
        );
    }

    #[test]
    fn a_password_git_quotes_is_hidden_and_the_remote_words_kept() {
        let err = "remote: Denied by policy\nfatal: unable to access 'https://me:hunter2@h/a.git/': 403\n";
        let e = failure(err, "origin", "u".into(), remote_words(err));
        let shown = e.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("https://me:***@h/a.git/"), "{shown}");
        assert!(matches!(e, PushError::Unreachable { .. }), "{e:?}");
        assert_eq!(remote_words(err), "Denied by policy");
    }

    #[test]
    fn ssh_and_forge_refusals_are_told_apart_from_the_remotes_own_words() {
        let denied = "ERROR: Permission to acme/tool.git denied to someone.\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\n";
        let e = failure(
            denied,
            "origin",
            "git@github.com:acme/tool.git".into(),
            String::new(),
        );
        assert!(matches!(e, PushError::AuthRefused { .. }), "{e:?}");
        assert!(e.to_string().contains("denied to someone"), "{e}");
        let host_key =
            "Host key verification failed.\nfatal: Could not read from remote repository.\n";
        let e = failure(host_key, "origin", "u".into(), String::new());
        assert!(matches!(e, PushError::Unreachable { .. }), "{e:?}");
        assert!(
            e.to_string().contains("Host key verification failed"),
            "{e}"
        );
        // A remote that says "Authentication failed" in its own words is not
        // taken for git's refusal.
        let said =
            "remote: Authentication failed for the mirror, ignored\nerror: something else broke\n";
        let e = failure(said, "origin", "u".into(), remote_words(said));
        assert!(matches!(e, PushError::Git(..)), "{e:?}");
    }

    /// A remote that takes the connection and never answers: git is stopped
    /// at the time limit, with everything it started, and the push fails.
    #[tokio::test]
    #[cfg_attr(windows, ignore = "the Wine lane has no git")]
    async fn a_remote_that_never_answers_stops_the_push_at_the_time_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (work, _bare, first) = with_origin(dir.path());
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/acme/tool.git", silent.local_addr().unwrap());
        let held = std::thread::spawn(move || {
            let mut held = Vec::new();
            while let Ok((conn, _)) = silent.accept() {
                held.push(conn);
                if held.len() > 4 {
                    break;
                }
            }
        });
        git2::Repository::open(&work)
            .unwrap()
            .remote_set_url("origin", &url)
            .unwrap();
        let refspec = format!("{first}:refs/heads/governance/a");
        let limit = Duration::from_secs(2);
        let e = send_within(&work, "origin", &refspec, "governance/a", limit).await;
        match e {
            Err(e @ PushError::Unreachable { .. }) => {
                assert!(e.to_string().contains("did not finish within 2 s"), "{e}")
            }
            e => panic!("{e:?}"),
        }
        drop(held);
    }

    /// A push given up (its request dropped) ends git and what git started:
    /// the ssh it runs does not go on holding the connection.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_push_dropped_midway_ends_git_and_the_ssh_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let (work, _bare, first) = with_origin(dir.path());
        let marker = dir.path().join("ssh.pid");
        let repo = git2::Repository::open(&work).unwrap();
        repo.remote_set_url("origin", "ssh://example.invalid/acme/tool.git")
            .unwrap();
        let ssh = format!("sh -c 'echo $$ > {}; exec sleep 300'", marker.display());
        repo.config()
            .unwrap()
            .set_str("core.sshCommand", &ssh)
            .unwrap();
        let refspec = format!("{first}:refs/heads/governance/a");
        let limit = Duration::from_secs(300);
        let push = send_within(&work, "origin", &refspec, "governance/a", limit);
        let ssh = tokio::select! {
            done = push => panic!("the push ended by itself: {done:?}"),
            pid = crate::test_tools::pid_written(&marker) => pid,
        };
        assert!(
            crate::test_tools::ends(ssh).await,
            "ssh ({ssh}) still runs after its push was dropped"
        );
    }

    #[test]
    fn a_branch_or_remote_that_could_pass_for_an_option_is_refused_before_git_runs() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for (remote, branch, why) in [
            ("origin", "-f", "\"-f\" is not a valid branch name"),
            ("origin", "a..b", "\"a..b\" is not a valid branch name"),
            ("--exec=x", "b", "remote '--exec=x' does not exist"),
        ] {
            let refspec = format!(":refs/heads/{branch}");
            match runtime.block_on(send(dir.path(), remote, &refspec, branch)) {
                Err(PushError::Git(said, _)) => assert!(said.contains(why), "{said}"),
                e => panic!("{remote} {branch}: {e:?}"),
            }
        }
    }

    /// A repository with one commit and a bare `origin` (file://); the
    /// commit's id.
    fn with_origin(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, String) {
        let (work, bare) = (dir.join("work"), dir.join("origin.git"));
        git2::Repository::init_bare(&bare).unwrap();
        let git = git2::Repository::init(&work).unwrap();
        git.remote("origin", &format!("file://{}", bare.display()))
            .unwrap();
        let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
        let tree = git
            .find_tree(git.index().unwrap().write_tree().unwrap())
            .unwrap();
        let id = git.commit(None, &sig, &sig, "one", &tree, &[]).unwrap();
        (work, bare, id.to_string())
    }

    #[tokio::test]
    #[cfg_attr(windows, ignore = "the Wine lane has no git")]
    async fn the_push_runs_no_hook_of_the_repository_and_only_fast_forwards() {
        let dir = tempfile::tempdir().unwrap();
        let (work, bare, first) = with_origin(dir.path());
        let ran = dir.path().join("hook-ran");
        let hooks = work.join(".git/hooks");
        for hook in ["pre-push", "reference-transaction"] {
            std::fs::write(
                hooks.join(hook),
                format!("#!/bin/sh\ntouch '{}'\n", ran.display()),
            )
            .unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::Permissions::from_mode(0o755);
                std::fs::set_permissions(hooks.join(hook), mode).unwrap();
            }
        }
        // The user's settings would add an annotated tag of the commit.
        let git = git2::Repository::open(&work).unwrap();
        let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
        git.config()
            .unwrap()
            .set_bool("push.followTags", true)
            .unwrap();
        let commit = git.revparse_single(&first).unwrap();
        git.tag("v1", &commit, &sig, "a tag", false).unwrap();
        push(&work, "origin", &first, "governance/a").await.unwrap();
        let remote = git2::Repository::open_bare(&bare).unwrap();
        assert!(
            remote.tag_names(None).unwrap().is_empty(),
            "only the one ref"
        );
        let tip = remote.refname_to_id("refs/heads/governance/a").unwrap();
        assert_eq!(tip.to_string(), first);
        assert!(!ran.exists(), "a hook of the repository ran");

        // A commit that does not descend from the remote's tip is refused.
        let tree = git.find_commit(tip).unwrap().tree().unwrap();
        let other = git.commit(None, &sig, &sig, "other", &tree, &[]).unwrap();
        match push(&work, "origin", &other.to_string(), "governance/a").await {
            Err(e @ PushError::Rejected { .. }) => {
                assert!(e.to_string().contains("not a fast-forward"), "{e}")
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(
            remote.refname_to_id("refs/heads/governance/a").unwrap(),
            tip
        );
        delete(&work, "origin", "governance/a").await.unwrap();
        assert!(remote.find_reference("refs/heads/governance/a").is_err());
    }
}
