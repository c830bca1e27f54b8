//! The check of a host before any department is placed there (issue 53
//! item 2), each step one command through the user's ssh:
//! 1. `codex --version` there answers, and names the version this launcher
//!    runs (a mismatch is refused, naming both);
//! 2. the repository's clone there is a git work tree (git present), asked
//!    with the clone's fsmonitor off, so nothing of the clone's own runs;
//! 3. Codex's sandbox starts there and holds: a command in it prints, and its
//!    write to the home folder is refused. A host where it does not hold is
//!    refused unless the user set `sandbox: none` for it.

use std::time::Duration;

use crate::config::remotes::{Remote, RemoteSandbox};
use crate::model::RemoteState;

use super::ssh::{Ssh, SshError};

/// How long one step may take (a sandbox's first start included).
const STEP: Duration = Duration::from_secs(60);
/// The file the sandbox probe tries to write in the host's home folder.
const PROBE: &str = ".codex-governance-sandbox-probe";

/// What the pre-flight found: the state, in words, and the version there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub state: RemoteState,
    pub detail: String,
    pub codex_version: Option<String>,
}

impl Found {
    fn refused(detail: String, codex_version: Option<String>) -> Found {
        Found {
            state: RemoteState::Refused,
            detail,
            codex_version,
        }
    }
}

/// Checks `host`; `here` is the Codex version this launcher runs.
pub async fn check(ssh: &Ssh, host: &Remote, here: Option<(u32, u32, u32)>) -> Found {
    match steps(ssh, host, here).await {
        Ok(found) | Err(found) => found,
    }
}

async fn steps(ssh: &Ssh, host: &Remote, here: Option<(u32, u32, u32)>) -> Result<Found, Found> {
    let name = &host.name;
    let codex = host.codex.as_str();
    let ran = ssh
        .run(host, &[codex, "--version"], STEP)
        .await
        .map_err(|e| unreached(name, e))?;
    let printed = ran
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    if !ran.ok() {
        return Err(Found::refused(
            format!("{codex} does not run on {name}: {}", tail(&ran.stderr)),
            None,
        ));
    }
    let there = crate::agents::exec_server_version_printed(&printed);
    let version = Some(printed.clone());
    match (there, here) {
        (Some(t), Some(h)) if t != h => {
            return Err(Found::refused(
                format!(
                    "Codex {} on {name} and {} here: install the same version on both",
                    dotted(t),
                    dotted(h)
                ),
                version,
            ))
        }
        (None, _) => {
            return Err(Found::refused(
                format!("{codex} --version printed {printed:?} on {name}"),
                version,
            ))
        }
        _ => {}
    }
    let repo = host.repo.as_str();
    clone_there(ssh, host, &version).await?;
    let sandbox = match host.sandbox {
        // `sandbox: none` skips this check and nothing else (issue 70 item 3):
        // the department's thread asks Codex for its sandbox as everywhere.
        RemoteSandbox::None => "in Codex's sandbox if it starts there: not checked, as you \
             set (sandbox: none)"
            .to_string(),
        RemoteSandbox::Required => sandbox_holds(ssh, host)
            .await
            .map(|()| "in Codex's sandbox".to_string())
            .map_err(|why| Found::refused(why.to_string(), version.clone()))?,
    };
    Ok(Found {
        state: RemoteState::Ready,
        detail: format!("{printed}, git, {repo}; commands {sandbox}"),
        codex_version: version,
    })
}

/// The host has git and the repository's clone at `repo`.
async fn clone_there(ssh: &Ssh, host: &Remote, version: &Option<String>) -> Result<(), Found> {
    let (name, repo) = (&host.name, host.repo.as_str());
    let version = version.clone();
    let words = [
        "git",
        "-c",
        "core.fsmonitor=false",
        "-C",
        repo,
        "rev-parse",
        "--is-inside-work-tree",
    ];
    let ran = ssh
        .run(host, &words, STEP)
        .await
        .map_err(|e| unreached(name, e))?;
    if ran.code == Some(127) {
        return Err(Found::refused(
            format!("git is not installed on {name}"),
            version,
        ));
    }
    if !ran.ok() || ran.stdout.trim() != "true" {
        return Err(Found::refused(
            format!(
                "{repo} on {name} is not a clone of the repository: {}",
                tail(&ran.stderr)
            ),
            version,
        ));
    }
    Ok(())
}

/// Why Codex's sandbox does not hold on a host.
#[derive(Debug, thiserror::Error)]
enum SandboxFails {
    #[error(transparent)]
    Unreached(#[from] SshError),
    #[error(
        "Codex's sandbox does not start on {name}, so its commands would run unsandboxed \
         (set sandbox: none for it to allow that): {said}"
    )]
    DoesNotStart { name: String, said: String },
    #[error(
        "Codex's sandbox on {0} let a command write to your home folder there: its \
         commands would not be confined (set sandbox: none for it to allow that)"
    )]
    LetsWrite(String),
}

/// Whether Codex's sandbox starts on the host and refuses a write to the
/// home folder, or why not.
async fn sandbox_holds(ssh: &Ssh, host: &Remote) -> Result<(), SandboxFails> {
    let (name, codex) = (&host.name, host.codex.as_str());
    let ran = ssh
        .run(host, &[codex, "sandbox", "--", "/bin/echo", "inside"], STEP)
        .await?;
    if !ran.ok() || ran.stdout.trim() != "inside" {
        return Err(SandboxFails::DoesNotStart {
            name: name.clone(),
            said: tail(&ran.stderr),
        });
    }
    let write = format!(": > \"$HOME/{PROBE}\" && echo wrote");
    let ran = ssh
        .run(
            host,
            &[codex, "sandbox", "--", "/bin/sh", "-c", &write],
            STEP,
        )
        .await?;
    if ran.stdout.contains("wrote") {
        let _ = ssh.run(host, &["rm", "-f", "--", PROBE], STEP).await;
        return Err(SandboxFails::LetsWrite(name.clone()));
    }
    Ok(())
}

/// ssh's failure as the host's state: a refused key is the user's to fix; a
/// host that does not answer is checked again.
fn unreached(name: &str, e: SshError) -> Found {
    let state = match e {
        SshError::HostKey { .. } | SshError::AuthRefused { .. } | SshError::Missing(_) => {
            RemoteState::Refused
        }
        SshError::Unreachable { .. } | SshError::TimedOut { .. } => RemoteState::Unreachable,
    };
    Found {
        state,
        detail: format!("{name}: {e}"),
        codex_version: None,
    }
}

fn dotted(v: (u32, u32, u32)) -> String {
    format!("{}.{}.{}", v.0, v.1, v.2)
}

/// The last line a command printed to its error output, for a message.
fn tail(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("it said nothing")
        .to_string()
}
