//! A remote department's Git round trip (issue 53 item 3), with the user's
//! own `git` and `ssh`:
//! - the plan's base commit is pushed to the host's clone under
//!   `refs/governance/base/<session>`;
//! - the department's worktree is added there on its branch;
//! - its work is committed there and fetched back to
//!   `refs/governance/remote/<host>/<session>`, then written into the local
//!   worktree, where the launcher records and reviews it as any department's.
//!
//! Nothing of the host's clone runs for the launcher: every git there is
//! given `core.hooksPath=/dev/null` (so `post-checkout`, `pre-receive`,
//! `reference-transaction`… stay quiet), `core.fsmonitor=false`, and
//! attributes read from the empty tree (so no filter or `ident` runs).
//! Fetched objects are checked (`fetch.fsckObjects`) and then treated as
//! what a department wrote: untrusted.

use std::path::Path;

use super::ssh::{Ssh, SshError};
use crate::config::remotes::Remote;

/// Why a step of the round trip failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteGitError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error("{step} on {host} failed: {detail}")]
    There {
        step: &'static str,
        host: String,
        detail: String,
    },
    #[error("{step} failed: {detail}")]
    Here { step: &'static str, detail: String },
}

/// Where a department works on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTree {
    /// Its worktree folder there.
    pub path: String,
    pub branch: String,
}

/// The folder of `session`'s worktree on the host: beside the host's clone.
pub fn worktree_path(host: &Remote, session: &str) -> String {
    format!("{}.governance/{session}", host.repo.trim_end_matches('/'))
}

/// Git's own record of that worktree in the host's clone: the launcher
/// reaches the worktree through it, never through the `.git` file in the
/// worktree's folder, which the department can rewrite.
fn admin_dir(host: &Remote, session: &str) -> String {
    format!(
        "{}/.git/worktrees/{session}",
        host.repo.trim_end_matches('/')
    )
}

/// The ref the fetched work is kept under here.
pub fn fetched_ref(host: &Remote, session: &str) -> String {
    format!("refs/governance/remote/{}/{session}", host.name)
}

pub(super) fn base_ref(session: &str) -> String {
    format!("refs/governance/base/{session}")
}

/// git on the host, with nothing of the clone's own running.
fn git_there<'a>(words: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec![
        "git",
        "-c",
        "core.hooksPath=/dev/null",
        "-c",
        "core.fsmonitor=false",
    ];
    all.push(ATTR_SOURCE);
    all.extend_from_slice(words);
    all
}

/// Attributes read from Git's empty tree: none, so no filter runs.
const ATTR_SOURCE: &str = "--attr-source=4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// The host's programs for a push or a fetch, hooks off.
const RECEIVE_PACK: &str = "git -c core.hooksPath=/dev/null receive-pack";
const UPLOAD_PACK: &str = "git -c core.hooksPath=/dev/null upload-pack";

/// Pushes `base` to the host and adds `session`'s worktree there on
/// `branch` (kept when it is already there: a restart, a send back).
pub async fn prepare(
    ssh: &Ssh,
    host: &Remote,
    repo: &Path,
    base: &str,
    session: &str,
    branch: &str,
) -> Result<RemoteTree, RemoteGitError> {
    let tree = RemoteTree {
        path: worktree_path(host, session),
        branch: branch.to_string(),
    };
    let admin = format!("--git-dir={}", admin_dir(host, session));
    let present = ssh
        .run(host, &git_there(&[&admin, "rev-parse", "--git-dir"]), STEP)
        .await?;
    if present.ok() {
        return Ok(tree);
    }
    let (s2, h2, r2) = (ssh.clone(), host.clone(), repo.to_path_buf());
    let (b2, n2) = (base.to_string(), session.to_string());
    tokio::task::spawn_blocking(move || push_base(&s2, &h2, &r2, &b2, &n2))
        .await
        .map_err(|e| here("pushing the plan's base", e.to_string()))??;
    let base_ref = base_ref(session);
    let words = git_there(&[
        "-C", &host.repo, "worktree", "add", "-q", "-b", branch, &tree.path, &base_ref,
    ]);
    let ran = ssh.run(host, &words, STEP).await?;
    if !ran.ok() {
        return Err(there("adding the worktree", host, &ran.stderr));
    }
    let temp = temp_path(&tree.path);
    let ran = ssh
        .run(host, &["mkdir", "-p", "-m", "700", "--", &temp], STEP)
        .await?;
    if !ran.ok() {
        return Err(there("making the temporary folder", host, &ran.stderr));
    }
    Ok(tree)
}

/// The agent's temporary folder on the host, beside its worktree there.
pub fn temp_path(worktree: &str) -> String {
    format!("{worktree}.tmp")
}

fn push_base(
    ssh: &Ssh,
    host: &Remote,
    repo: &Path,
    base: &str,
    session: &str,
) -> Result<(), RemoteGitError> {
    let refspec = format!("{base}:{}", base_ref(session));
    let (url, options) = ssh.git_url(host);
    let mut cmd = local_git(ssh, repo);
    cmd.args(options)
        .args(["push", "-q", "--no-verify"])
        .args(pack_program(host, "--receive-pack", RECEIVE_PACK))
        .arg("--")
        .arg(&url)
        .arg(&refspec);
    run_here(cmd, "pushing the plan's base")
}

/// What a fetch-back brought: the commit, and the files it left on the host.
#[derive(Debug)]
pub struct Fetched {
    pub commit: String,
    /// Files over the size limit the department's work holds there: neither
    /// hashed nor fetched (a sparse file of a terabyte reads as one).
    pub left_out: Vec<crate::model::LeftOut>,
}

/// The department's work committed on its host, in one ssh: every file
/// over the limit that git would add is named (size, tab, path, NUL) and
/// excluded, then everything else is added, and committed only when
/// something is staged.
const COMMIT_THERE: &str = "G=$1; W=$2; M=$3; A=$4; N=$5; L=\"$G/governance-add\"; export G W A L; \
        g() { git --git-dir=\"$G\" --work-tree=\"$W\" -c core.hooksPath=/dev/null \
            -c core.fsmonitor=false -c commit.gpgsign=false -c user.name=codex-governance \
            -c user.email=codex-governance@localhost \"$A\" \"$@\"; }; \
        cd \"$W\" || exit 3; \
        rm -f \"$L.many\"; printf '.\\0' > \"$L\" || exit 5; \
        find . -path ./.git -prune -o -type f -size +\"$N\"c -exec sh -c \"$6\" sh {} + 2>/dev/null; \
        if [ -e \"$L.many\" ]; then rm -f \"$L\" \"$L.many\"; \
            echo \"more than 100 files over the size limit: none is recorded\" >&2; exit 8; fi; \
        g add -A --pathspec-from-file=\"$L\" --pathspec-file-nul || exit 4; \
        rm -f \"$L\"; \
        if g diff --cached --quiet; then exit 0; fi; \
        g commit -q --no-verify -m \"$M\"";

/// For each file `find` gives it: named and excluded when git would add it.
const OVER_THE_LIMIT: &str =
    "g() { git --git-dir=\"$G\" --work-tree=\"$W\" -c core.hooksPath=/dev/null \
            -c core.fsmonitor=false \"$A\" \"$@\"; }; \
        for f; do f=${f#./}; \
            [ -n \"$(g ls-files -o -m --exclude-standard -- \":(literal)$f\")\" ] || continue; \
            [ \"$(tr -cd '\\0' < \"$L\" | wc -c)\" -le 100 ] || { : > \"$L.many\"; exit 0; }; \
            printf ':(exclude,literal)%s\\0' \"$f\" >> \"$L\" || exit 5; \
            printf '%s\\t%s\\0' \"$(ls -ln -- \"$f\" | awk 'NR==1{print $5}')\" \"$f\"; \
        done";

/// Commits what the department left in its worktree on the host (when
/// anything changed; files over `max_file_bytes` stay there, unread) and
/// fetches its branch back. It blocks: it runs where the launcher records a
/// worktree.
pub fn fetch_back(
    ssh: &Ssh,
    host: &Remote,
    repo: &Path,
    session: &str,
    tree: &RemoteTree,
    max_file_bytes: u64,
) -> Result<Fetched, RemoteGitError> {
    let message = format!("{session}: the department's work on {}", host.name);
    let admin = admin_dir(host, tree_name(tree));
    let limit = max_file_bytes.to_string();
    let words = [
        "sh",
        "-c",
        COMMIT_THERE,
        "sh",
        &admin,
        &tree.path,
        &message,
        ATTR_SOURCE,
        &limit,
        OVER_THE_LIMIT,
    ];
    let ran = ssh.run_blocking(host, &words, RECORD)?;
    if !ran.ok() {
        return Err(there("committing the work", host, &ran.stderr));
    }
    let target = fetched_ref(host, tree_name(tree));
    let refspec = format!("+refs/heads/{}:{target}", tree.branch);
    let (url, options) = ssh.git_url(host);
    let mut cmd = local_git(ssh, repo);
    cmd.args(options)
        .args([
            "-c",
            "fetch.fsckObjects=true",
            "fetch",
            "-q",
            "--no-tags",
            "--no-write-fetch-head",
        ])
        .args(pack_program(host, "--upload-pack", UPLOAD_PACK))
        .arg("--")
        .arg(&url)
        .arg(&refspec);
    run_here(cmd, "fetching the work back")?;
    let mut cmd = local_git(ssh, repo);
    cmd.args(["rev-parse", "--verify", "-q"])
        .arg(format!("{target}^{{commit}}"));
    let out = cmd
        .output()
        .map_err(|e| here("reading the fetched commit", e.to_string()))?;
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || commit.len() < 40 {
        return Err(here("reading the fetched commit", "no commit".into()));
    }
    Ok(Fetched {
        commit,
        left_out: left_out_of(&ran.stdout, max_file_bytes),
    })
}

/// The files `commit` brings over `limit` bytes, against `base` (read from
/// the object store's headers, never whole): what a department grew on its
/// host between the size check there and `git add`.
pub fn oversized(
    repo: &Path,
    base: &str,
    commit: &str,
    limit: u64,
) -> Result<Vec<String>, git2::Error> {
    let git = git2::Repository::open(repo)?;
    let tree = |id: &str| {
        git2::Oid::from_str(id)
            .and_then(|oid| git.find_commit(oid))
            .and_then(|c| c.tree())
    };
    let (old, new) = (tree(base)?, tree(commit)?);
    let diff = git.diff_tree_to_tree(Some(&old), Some(&new), None)?;
    let odb = git.odb()?;
    let mut over = Vec::new();
    for delta in diff.deltas() {
        let file = delta.new_file();
        if file.id().is_zero() {
            continue;
        }
        if odb.read_header(file.id())?.0 as u64 > limit {
            over.push(
                file.path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            );
        }
    }
    Ok(over)
}

/// The files the host's script named as over the limit (`size\tpath\0`).
fn left_out_of(said: &str, limit: u64) -> Vec<crate::model::LeftOut> {
    said.split('\0')
        .filter_map(|record| record.split_once('\t'))
        .map(|(size, path)| crate::model::LeftOut::TooLarge {
            path: path.to_string(),
            bytes: size.trim().parse().unwrap_or(limit.saturating_add(1)),
            limit,
        })
        .collect()
}

/// The worktree's name: its folder's, the session that made it.
fn tree_name(tree: &RemoteTree) -> &str {
    tree.path.rsplit('/').next().unwrap_or_default()
}

/// Removes the worktree, its branch and base ref on the host, and the
/// fetched ref here. What is already gone is not an error. It blocks.
pub fn remove(
    ssh: &Ssh,
    host: &Remote,
    repo: &Path,
    tree: &RemoteTree,
) -> Result<(), RemoteGitError> {
    let name = tree_name(tree);
    let base = base_ref(name);
    // A worktree holding what no record has (files over the size limit
    // left there, work since the last record) is kept, as one here is.
    let script = "cd \"$1\" || exit 3; \
        if [ -d \"$2\" ]; then \
            left=$(git --git-dir=\"$6\" --work-tree=\"$2\" -c core.hooksPath=/dev/null \
                -c core.fsmonitor=false \"$7\" status --porcelain --untracked-files=all) \
                || { echo \"kept: what it holds could not be read\" >&2; exit 7; }; \
            if [ -n \"$left\" ]; then \
                echo \"kept: it holds what no record has: $(echo \"$left\" | head -n 3 | tr '\\n' ' ')\" >&2; \
                exit 7; fi; fi; \
        git -c core.hooksPath=/dev/null worktree remove --force \"$2\" 2>/dev/null; \
        git -c core.hooksPath=/dev/null worktree prune; \
        git -c core.hooksPath=/dev/null branch -q -D \"$3\" 2>/dev/null; \
        git -c core.hooksPath=/dev/null update-ref -d \"$4\"; rm -rf -- \"$5\"; exit 0";
    let temp = temp_path(&tree.path);
    let admin = admin_dir(host, name);
    let words = [
        "sh",
        "-c",
        script,
        "sh",
        &host.repo,
        &tree.path,
        &tree.branch,
        &base,
        &temp,
        &admin,
        ATTR_SOURCE,
    ];
    let ran = ssh.run_blocking(host, &words, STEP)?;
    if !ran.ok() {
        return Err(there("removing the worktree", host, &ran.stderr));
    }
    let mut cmd = local_git(ssh, repo);
    cmd.args(["update-ref", "-d", &fetched_ref(host, name)]);
    run_here(cmd, "removing the fetched ref")
}

/// Git's pack program on a host reached over ssh, its hooks off (`option`
/// names it to git); none through an exec line, whose `ext::` URL names it
/// ([`Ssh::git_url`]).
fn pack_program<'a>(host: &Remote, option: &'a str, program: &'a str) -> Vec<&'a str> {
    match host.reach {
        crate::config::remotes::Reach::Ssh(_) => vec![option, program],
        crate::config::remotes::Reach::Exec(_) => Vec::new(),
    }
}

/// How long one step may take (a push of a large base included).
const STEP: std::time::Duration = std::time::Duration::from_secs(300);
/// How long committing a department's work there, or fetching it, may take.
const RECORD: std::time::Duration = std::time::Duration::from_secs(600);

/// The user's git in the repository here, reaching hosts with the user's
/// ssh, with the repository's hooks and fsmonitor off.
fn local_git(ssh: &Ssh, repo: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("git");
    cmd.arg("-C")
        .arg(repo)
        .args([
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "core.fsmonitor=false",
        ])
        .env("GIT_SSH_COMMAND", ssh.git_ssh_command())
        .env("GIT_SSH_VARIANT", "ssh")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null());
    cmd
}

/// Runs git here for `step`, killed past [`RECORD`] (what ssh it started
/// ends with its pipes).
fn run_here(mut cmd: std::process::Command, step: &'static str) -> Result<(), RemoteGitError> {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| here(step, e.to_string()))?;
    let out = crate::bounded_run::wait_within(&mut child, RECORD)
        .map_err(|e| here(step, e.to_string()))?
        .ok_or_else(|| here(step, format!("stopped after {} s", RECORD.as_secs())))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(here(step, last_line(&String::from_utf8_lossy(&out.stderr))))
    }
}

fn here(step: &'static str, detail: String) -> RemoteGitError {
    RemoteGitError::Here { step, detail }
}

fn there(step: &'static str, host: &Remote, stderr: &str) -> RemoteGitError {
    RemoteGitError::There {
        step,
        host: host.name.clone(),
        detail: last_line(stderr),
    }
}

fn last_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("it said nothing")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_a_host_left_out_are_read_from_what_it_said() {
        let said = "73\tbig.bin\0x\ty\tz\0\0junk";
        let named: Vec<String> = left_out_of(said, 50)
            .into_iter()
            .map(|l| match l {
                crate::model::LeftOut::TooLarge { path, bytes, .. } => format!("{path}={bytes}"),
                other => other.path().to_string(),
            })
            .collect();
        assert_eq!(named, ["big.bin=73", "y\tz=51"]);
    }

    /// A file that grew past the limit after the host's check is found in
    /// what was fetched, from its header.
    #[test]
    fn what_was_fetched_is_checked_for_files_over_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let git = git2::Repository::init(dir.path()).unwrap();
        let who = git2::Signature::now("t", "t@t").unwrap();
        let commit = |files: &[(&str, &[u8])]| {
            for (name, bytes) in files {
                std::fs::write(dir.path().join(name), bytes).unwrap();
            }
            let mut index = git.index().unwrap();
            index
                .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
                .unwrap();
            let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
            let parents: Vec<git2::Commit> = git
                .head()
                .ok()
                .and_then(|h| h.peel_to_commit().ok())
                .into_iter()
                .collect();
            let parents: Vec<&git2::Commit> = parents.iter().collect();
            git.commit(Some("HEAD"), &who, &who, "c", &tree, &parents)
                .unwrap()
                .to_string()
        };
        let base = commit(&[("a", b"a")]);
        let work = commit(&[("big", &[b'x'; 2000]), ("a", b"small")]);
        assert_eq!(oversized(dir.path(), &base, &work, 1000).unwrap(), ["big"]);
        assert!(oversized(dir.path(), &base, &work, 5000)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn git_there_runs_nothing_of_the_clone() {
        let words = git_there(&["-C", "/r", "status"]);
        assert!(words.contains(&"core.hooksPath=/dev/null"));
        assert!(words.contains(&"core.fsmonitor=false"));
        assert!(words.contains(&ATTR_SOURCE));
        assert_eq!(&words[words.len() - 3..], ["-C", "/r", "status"]);
    }
}
