//! The ACP backend: any agent that speaks the Agent Client Protocol (Claude
//! Code's and Codex's ACP adapters, `gemini --acp`, `opencode acp`, …),
//! driven with the `agent-client-protocol` crate as its client over the
//! agent's stdio. One agent process per session, in the session's working
//! folder with the session's environment only (no launcher URL, no token:
//! the channel is [`Channel::Tools`]).
//!
//! What it guarantees: the session's turns are `session/prompt`s and
//! their end is the prompt's answer (working, idle); *Stop* is
//! `session/cancel` (waiting permission requests are answered cancelled, as
//! the protocol asks); `session/update`s fill the same conversation view as a
//! Codex thread; `session/request_permission` is a Needs-you approval
//! answered with the agent's own option of the kind the user chose (never
//! another kind). An agent that offers `session/load` (its `initialize`
//! says so) keeps its session across a launcher's restart: the session is
//! loaded again in a new process, numbering on where the page's conversation
//! left off, its replay not recorded twice. The client's `fs/*` (read and
//! write a text file) is held to the session's folder (`files`); it offers
//! no terminal.
//!
//! On Linux the whole agent process runs in Codex's sandbox (`confine`):
//! it writes only its own folders and cannot see the launcher's state
//! folder. Codex's adapter, Claude Code and Gemini CLI (`acp_agent: codex`,
//! `claude`, `gemini`) get a settings folder of their own in the session's
//! temporary folder (they write theirs). Each confined agent's network holds
//! only its model (`reach`, `relay`). Elsewhere, or without Codex,
//! none starts unless the user set `launcher.acp_unsandboxed: true` (with
//! `isolation: worktree`), and the page names the backend's problem until
//! then.

mod agent;
mod client_hello;
pub(crate) mod confine;
mod files;
mod home;
pub mod mcp;
mod reach;
mod relay;
pub mod settings;
mod updates;

use futures_util::future::BoxFuture;

pub use settings::Settings;

use super::{AgentBackend, AgentError, AgentSpec, Channel, Started};
use crate::model::Backend;

#[derive(Debug, thiserror::Error)]
pub enum AcpError {
    #[error(
        "no ACP agent is named: set launcher.acp_agent (claude, gemini, opencode, codex) \
         or launcher.acp_command"
    )]
    NoCommand,
    #[error(
        "ACP agents are confined by Codex's sandbox, which is only on Linux here: they start \
         only with launcher.acp_unsandboxed: true (they then run as you, each department in \
         its own worktree)"
    )]
    NotConfined,
    #[error(
        "ACP agents run in Codex's sandbox, and Codex cannot be run ({0}): install it \
         (npm install -g @openai/codex) or set launcher.codex_command, or let them run \
         unconfined with launcher.acp_unsandboxed: true"
    )]
    NoConfiner(String),
    #[error(
        "an unconfined ACP agent works only in a worktree of its own, and this department has \
         none (the repository has no commit yet, or launcher.isolation is shared): commit \
         once, or let Codex's sandbox hold it (without acp_unsandboxed)"
    )]
    NoWorktree,
    #[error("cannot run the ACP agent ({0}): install it or set launcher.acp_command")]
    Missing(String),
    #[error("the ACP agent exited ({0}) before its session opened: see the session's log")]
    Exited(i32),
    #[error("timed out waiting for {0}")]
    Timeout(String),
    #[error("the ACP agent answered: {0}")]
    Protocol(String),
    #[error("{0}")]
    Io(String),
}

impl From<AcpError> for AgentError {
    fn from(e: AcpError) -> Self {
        match e {
            AcpError::NoCommand
            | AcpError::NotConfined
            | AcpError::NoConfiner(_)
            | AcpError::NoWorktree
            | AcpError::Missing(_) => AgentError::Missing(e.to_string()),
            other => AgentError::Failed(other.to_string()),
        }
    }
}

pub(super) struct AcpBackend {
    command: Option<Vec<String>>,
    /// Which agent it is: Codex's adapter holds its commands in Codex's own
    /// sandbox, any other runs whole in it.
    profile: settings::Profile,
    /// How its agents are held: Codex's sandbox (the CLI), or nothing
    /// (`None`: unconfined by the user's choice).
    confiner: Option<String>,
    /// `acp_model_hosts`: what a confined agent's network reaches besides
    /// what its profile and environment name.
    model_hosts: Vec<String>,
}

impl AcpBackend {
    pub(super) fn new(settings: &Settings) -> AcpBackend {
        AcpBackend {
            command: settings.command.clone(),
            profile: settings.agent,
            confiner: (!settings.unsandboxed).then(|| settings.confiner.clone()),
            model_hosts: settings.model_hosts.clone(),
        }
    }

    /// The Codex CLI that confines its agents, or why there is none; `None`
    /// when they run unconfined.
    fn confiner(&self) -> Result<Option<std::path::PathBuf>, AcpError> {
        let Some(command) = &self.confiner else {
            return Ok(None);
        };
        if !cfg!(target_os = "linux") {
            return Err(AcpError::NotConfined);
        }
        let program = crate::agents::codex::native::resolve(command).path;
        // Absolute: the agent starts in its worktree, where a relative
        // path would name a file the agent may have put there.
        match crate::platform::program_path(&program).map(|p| std::path::absolute(&p).unwrap_or(p))
        {
            Ok(path) if path.is_file() => Ok(Some(path)),
            Ok(path) => Err(AcpError::NoConfiner(format!(
                "{command}: no program at {}",
                path.display()
            ))),
            Err(e) => Err(AcpError::NoConfiner(format!("{command}: {e}"))),
        }
    }
}

impl AgentBackend for AcpBackend {
    fn kind(&self) -> Backend {
        Backend::Acp
    }

    fn capabilities(&self) -> crate::model::Capabilities {
        crate::model::Capabilities {
            sandboxed: self.confiner.is_some(),
            model_only_network: self.confiner.is_some(),
            ..crate::agents::capabilities(Backend::Acp)
        }
    }

    fn channel(&self) -> Channel {
        Channel::Tools
    }

    fn problems(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            let mut problems = Vec::new();
            if let Err(e) = self.confiner() {
                problems.push(e.to_string());
            }
            match self.command.as_ref().and_then(|c| c.first()) {
                None => problems.push(AcpError::NoCommand.to_string()),
                Some(program) => {
                    if let Err(e) = crate::platform::program_path(std::path::Path::new(program)) {
                        problems.push(AcpError::Missing(format!("{program}: {e}")).to_string());
                    }
                }
            }
            problems
        })
    }

    fn start(&self, spec: AgentSpec) -> BoxFuture<'_, Result<Started, AgentError>> {
        Box::pin(async move {
            let hold = match self.confiner()? {
                None => confine::Hold::Unconfined,
                Some(codex) if self.profile == settings::Profile::Codex => {
                    confine::Hold::WithHome(codex, confine::CODEX_HOME)
                }
                Some(codex) if self.profile == settings::Profile::Claude => {
                    confine::Hold::WithHome(codex, confine::CLAUDE_HOME)
                }
                Some(codex) if self.profile == settings::Profile::Gemini => {
                    confine::Hold::WithHome(codex, confine::GEMINI_HOME)
                }
                Some(codex) => confine::Hold::Whole(codex),
            };
            let department = spec.kind == crate::model::SessionKind::Department;
            if matches!(hold, confine::Hold::Unconfined) && department && !spec.own_worktree {
                return Err(AcpError::NoWorktree.into());
            }
            let command = self.command.as_deref().ok_or(AcpError::NoCommand)?;
            Ok(agent::start(command, hold, &self.model_hosts, spec).await?)
        })
    }
}
