//! The user's worktree commands and copied files for a department that
//! works on a host or in a container (issue 76): `launcher.worktree.setup`
//! runs in its worktree there before its agent starts, the files
//! `launcher.worktree.copy` copied into its worktree here go there too, and
//! `teardown` runs there (over the plan's base, as here: never over what
//! the department wrote) before the worktree there is removed. They run as
//! the user there, through the same ssh or exec line as everything else.

use std::path::Path;
use std::time::Duration;

use super::ssh::{Ssh, SshError};
use super::PlacementError;
use crate::config::remotes::Remote;
use crate::context::Context;
use crate::model::RemoteWork;

/// How long copying one file there may take.
const COPY: Duration = Duration::from_secs(60);
/// How long putting the plan's base back there may take.
const RESTORE: Duration = Duration::from_secs(120);

/// A department's worktree on its host, as the user's commands reach it.
pub struct Inside {
    ssh: Ssh,
    host: Remote,
    path: String,
    /// Its worktree's name (its base ref there is named by it).
    worktree: String,
    session: String,
}

/// The shell line a command runs in there: in the worktree, with the
/// worktree and the session named as here (`CODEX_GOVERNANCE_WORKTREE`,
/// `CODEX_GOVERNANCE_SESSION`); the command itself is the last word.
const IN_WORKTREE: &str = "cd -- \"$1\" && CODEX_GOVERNANCE_WORKTREE=\"$1\" \
                           CODEX_GOVERNANCE_SESSION=\"$2\" exec sh -c \"$3\"";

impl Inside {
    /// Worktree `worktree` (of session `session`) on its host, `work`.
    pub fn of(
        ctx: &Context,
        work: &RemoteWork,
        worktree: &str,
        session: &str,
    ) -> Result<Inside, PlacementError> {
        Ok(Inside {
            ssh: super::host::ssh(ctx)?,
            host: super::host::for_work(ctx, work)?,
            path: work.path.clone(),
            worktree: worktree.to_string(),
            session: session.to_string(),
        })
    }

    /// Worktree `work` of `ws_name` on `host` (as it reaches its container),
    /// through `ssh`.
    pub(super) fn with(ssh: Ssh, host: Remote, work: &RemoteWork, ws_name: &str) -> Inside {
        Inside {
            ssh,
            host,
            path: work.path.clone(),
            worktree: ws_name.to_string(),
            session: ws_name.to_string(),
        }
    }

    /// Runs the user's `teardown` there over the plan's base (blocking); a
    /// failure is said, and the worktree there still goes.
    pub(super) fn tear_down(
        &self,
        teardown: &crate::worktrees::Teardown,
        repo: &Path,
        local: &Path,
    ) {
        if teardown.commands.is_empty() {
            return;
        }
        if let Err(e) = self.restore_base() {
            tracing::warn!("the teardown of {} there did not run: {e}", self.path);
            return;
        }
        let start = |line: &str| self.command(line);
        let ran = crate::worktrees::setup::run_commands(
            &teardown.commands,
            &crate::worktrees::setup::RunIn {
                repo,
                worktree: if local.is_dir() { local } else { repo },
                session: &self.session,
                timeout: teardown.timeout,
                stopping: &|| false,
                env: &[],
                start: Some(&start),
                limit: crate::worktrees::setup::SETUP_LIMIT,
            },
        );
        if let Some(why) = ran.failure {
            tracing::warn!("the teardown of {} there: {why}\n{}", self.path, ran.output);
        }
    }

    /// The process command line `line` runs as there (what
    /// `worktrees::setup::RunIn::start` takes).
    pub fn command(&self, line: &str) -> std::io::Result<std::process::Command> {
        let words = [
            "sh",
            "-c",
            IN_WORKTREE,
            "sh",
            &self.path,
            &self.session,
            line,
        ];
        Ok(self.ssh.std_command(&self.host, &words))
    }

    /// Copies each of `files` (relative, `/`-separated: what was copied
    /// into `local`, the worktree here) into the worktree there, its
    /// folders made; a file there is replaced, never written through a link
    /// (a link there is removed first). The first failure stops the rest.
    pub fn copy_in(&self, local: &Path, files: &[String]) -> Result<(), CopyError> {
        const WRITE: &str = "cd -- \"$1\" && mkdir -p -- \"$(dirname -- \"$2\")\" && \
                             rm -f -- \"$2\" && cat > \"$2\"";
        for file in files {
            let bytes = std::fs::read(local.join(file)).map_err(|source| CopyError::Read {
                file: file.clone(),
                source,
            })?;
            let words = ["sh", "-c", WRITE, "sh", &self.path, file];
            let ran = self.ssh.run_with_input(&self.host, &words, &bytes, COPY)?;
            if !ran.ok() {
                return Err(CopyError::Refused {
                    file: file.clone(),
                    said: ran.stderr.trim().to_string(),
                });
            }
        }
        Ok(())
    }

    /// Puts the worktree there back to the plan's base (what set-up saw),
    /// for its teardown: the department's files never run as the user's;
    /// what the clone's `.gitignore` ignores stays, as here.
    pub fn restore_base(&self) -> Result<(), CopyError> {
        let base = super::git::base_ref(&self.worktree);
        let words = [
            "git",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "core.fsmonitor=false",
            "-C",
            &self.path,
            "reset",
            "-q",
            "--hard",
            &base,
        ];
        let ran = self.ssh.run_blocking(&self.host, &words, RESTORE)?;
        if !ran.ok() {
            return Err(CopyError::Refused {
                file: base,
                said: ran.stderr.trim().to_string(),
            });
        }
        let clean = [
            "git",
            "-c",
            "core.hooksPath=/dev/null",
            "-C",
            &self.path,
            "clean",
            "-q",
            "-f",
            "-d",
        ];
        let ran = self.ssh.run_blocking(&self.host, &clean, RESTORE)?;
        match ran.ok() {
            true => Ok(()),
            false => Err(CopyError::Refused {
                file: self.path.clone(),
                said: ran.stderr.trim().to_string(),
            }),
        }
    }
}

/// Why a file could not be put in a worktree there.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("reading {file} here: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    There(#[from] SshError),
    #[error("{file} there: {said}")]
    Refused { file: String, said: String },
}
