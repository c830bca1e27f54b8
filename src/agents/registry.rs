//! The backends, listed: which one drives the agents, with its settings
//! ([`BackendSettings`]), every backend's words in the file
//! ([`BackendWords`]), and the backend the settings choose
//! ([`backend_for`]). The only place outside a backend's own folder that
//! names them all.
//!
//! A backend is one folder, one arm and one word:
//!
//! - **one folder**, `src/agents/<name>/`: the backend (`AgentBackend`: kind,
//!   capabilities, channel, problems, start), its agents (`Agent`: send,
//!   interrupt, stop, …) and its `settings.rs` (its `launcher:` keys and
//!   environment variables, their defaults and checks; `config/` names none);
//! - **one arm** in each list here: a variant of [`BackendSettings`] (with
//!   its arms in `resolve`, `kind`, `terminal`; the compiler lists them), a
//!   field of [`BackendWords`] (read, keys, trust asks, commented lines), an
//!   arm in [`backend_for`]; and one in [`capabilities`](super::capabilities);
//! - **one word** in [`Backend`](crate::model::Backend), which the file's
//!   `launcher.backend` and the sessions' records use.
//!
//! Nothing else changes: the page, the queue, the mailbox and the rules read
//! [`Capabilities`](super::Capabilities), never the backend's name; `config/`
//! hands every backend its words and asks for their keys. The third, ACP
//! (Claude Code, Gemini CLI, codex-acp), is the shape a new one follows:
//! `agents/acp/` (its settings, its backend and agent), its arm here and in
//! `capabilities`, its word in `model::Backend`; ARCHITECTURE.md's recipe
//! "add an agent backend" names every file.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::settings::{launcher_section, SettingsError, TerminalOnDemand, TrustAsk, WordsError};
use super::{acp, codex, pty, AgentBackend};
use crate::model::Backend;

/// The settings of the backend that drives the agents.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "backend", rename_all = "snake_case")]
pub enum BackendSettings {
    /// Any command in a PTY (`launcher.agent_command`): nothing of its own.
    Pty,
    /// Codex's app-server.
    Codex(codex::Settings),
    /// Any agent speaking the Agent Client Protocol.
    Acp(acp::Settings),
}

impl BackendSettings {
    /// The chosen backend's settings (`kind`). Every backend checks its
    /// words whichever is chosen: a file is valid or not whatever backend
    /// the environment picks.
    pub fn resolve(
        kind: Backend,
        words: BackendWords,
        env: &HashMap<String, String>,
    ) -> Result<BackendSettings, SettingsError> {
        let codex = codex::settings::resolve(words.codex, env)?;
        let acp = acp::settings::resolve(words.acp, env)?;
        Ok(match kind {
            Backend::Codex => BackendSettings::Codex(codex),
            Backend::Acp => BackendSettings::Acp(acp::Settings {
                confiner: codex.command,
                ..acp
            }),
            Backend::Pty => BackendSettings::Pty,
        })
    }

    /// Which backend these are the settings of.
    pub fn kind(&self) -> Backend {
        match self {
            BackendSettings::Pty => Backend::Pty,
            BackendSettings::Codex(_) => Backend::Codex,
            BackendSettings::Acp(_) => Backend::Acp,
        }
    }

    /// The word an attempt names this agent by (`attempts: [codex,
    /// claude]`, issue 74): `codex` for Codex's app-server, the ACP agent's
    /// profile (`codex-acp` for Codex through ACP); None for a PTY command.
    pub fn attempt_word(&self) -> Option<&'static str> {
        match self {
            BackendSettings::Pty => None,
            BackendSettings::Codex(_) => Some("codex"),
            BackendSettings::Acp(s) if s.agent == acp::settings::Profile::Codex => {
                Some("codex-acp")
            }
            BackendSettings::Acp(s) if s.agent == acp::settings::Profile::Other => None,
            BackendSettings::Acp(s) => Some(s.agent.as_str()),
        }
    }

    /// The agent these settings run, in a few words ("Codex", "ACP agent
    /// claude").
    pub fn agent_in_words(&self) -> String {
        match self {
            BackendSettings::Pty => "an agent in a terminal".into(),
            BackendSettings::Codex(_) => "Codex".into(),
            BackendSettings::Acp(acp) => format!("ACP agent {}", acp.agent.as_str()),
        }
    }

    /// Whether its agents run unconfined by the user's choice.
    pub fn unsandboxed(&self) -> bool {
        match self {
            BackendSettings::Pty => true,
            BackendSettings::Codex(_) => false,
            BackendSettings::Acp(acp) => acp.unsandboxed,
        }
    }

    /// The version of the program that runs its agents' commands on a host
    /// (Codex's `exec-server`), which a host must run too; None for a
    /// backend whose agents run here only, or when it cannot be read.
    /// Blocking: it runs the program.
    pub fn exec_server_version(&self) -> Option<(u32, u32, u32)> {
        match self {
            BackendSettings::Codex(codex) => super::codex::installed_version(&codex.command).ok(),
            _ => None,
        }
    }

    /// The setting that turned its agents' confinement off, if one did
    /// (an agent in a terminal has none to turn off).
    pub fn unsandboxed_by(&self) -> Option<&'static str> {
        match self {
            BackendSettings::Acp(acp) if acp.unsandboxed => Some("launcher.acp_unsandboxed"),
            _ => None,
        }
    }

    /// What its agents can do, as these settings start them (a confined
    /// ACP agent's network holds only its model).
    pub fn capabilities(&self) -> crate::model::Capabilities {
        let base = super::capabilities(self.kind());
        match self {
            BackendSettings::Acp(acp) => crate::model::Capabilities {
                sandboxed: !acp.unsandboxed,
                model_only_network: !acp.unsandboxed,
                ..base
            },
            _ => base,
        }
    }

    /// How a terminal started for viewers outlives them (backends whose
    /// terminal runs on demand; the defaults for the others).
    pub fn terminal(&self) -> TerminalOnDemand {
        match self {
            BackendSettings::Codex(codex) => codex.terminal,
            BackendSettings::Pty | BackendSettings::Acp(_) => TerminalOnDemand::default(),
        }
    }
}

/// Every backend's words in the file's `launcher:` section, each backend's
/// read by its own type.
#[derive(Debug, Clone, Default)]
pub struct BackendWords {
    codex: codex::settings::FileWords,
    acp: acp::settings::FileWords,
}

impl BackendWords {
    /// The Codex CLI whose sandbox confines what the launcher runs over an
    /// agent's work (a confined ACP agent, a landing's checks), whatever
    /// backend drives the agents.
    pub fn confiner(&self, env: &HashMap<String, String>) -> Result<String, SettingsError> {
        Ok(codex::settings::resolve(self.codex.clone(), env)?.command)
    }

    /// Reads them from the file's text (which `config/` has read once).
    pub fn read(text: &str) -> Result<BackendWords, WordsError> {
        Ok(BackendWords {
            codex: launcher_section(text)?,
            acp: launcher_section(text)?,
        })
    }

    /// These words with a department's own ACP agent in place of the
    /// launcher's (`departments.<key>.acp_agent`, `acp_command`).
    pub fn with_acp_agent(&self, agent: Option<&str>, command: Option<&[String]>) -> BackendWords {
        BackendWords {
            codex: self.codex.clone(),
            acp: self.acp.with_agent(agent, command),
        }
    }

    /// Every backend's `launcher:` keys.
    pub fn keys() -> impl Iterator<Item = &'static str> {
        [codex::settings::KEYS, acp::settings::KEYS]
            .into_iter()
            .flatten()
            .copied()
    }

    /// What they set that the user must agree to before it runs.
    pub fn trust_asks(&self) -> Vec<TrustAsk> {
        let mut asks = codex::settings::trust_asks(&self.codex);
        asks.extend(acp::settings::trust_asks(&self.acp));
        asks
    }

    /// The backends' lines in `codex-governance init`'s commented
    /// `launcher:` section.
    pub fn commented_defaults() -> String {
        codex::settings::commented_defaults() + &acp::settings::commented_defaults()
    }
}

/// The backend the settings choose (a PTY backend runs `agent_command`).
pub fn backend_for(settings: &BackendSettings, agent_command: &[String]) -> Arc<dyn AgentBackend> {
    match settings {
        BackendSettings::Codex(codex) => Arc::new(codex::CodexBackend::new(codex)),
        BackendSettings::Acp(acp) => Arc::new(acp::AcpBackend::new(acp)),
        BackendSettings::Pty => Arc::new(pty::PtyBackend::new(agent_command.to_vec())),
    }
}

/// The launcher's backend and its departments' own (`departments`: key →
/// settings, those that differ from the launcher's).
pub fn team_for(
    own: &BackendSettings,
    departments: &std::collections::BTreeMap<String, BackendSettings>,
    agent_command: &[String],
) -> super::Team {
    super::Team::new(own, departments, |s| backend_for(s, agent_command))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_checks_its_words_whichever_is_chosen() {
        let env = HashMap::new();
        let words = || BackendWords::read("launcher:\n  max_departments: 3\n").unwrap();
        let codex = BackendSettings::resolve(Backend::Codex, words(), &env).unwrap();
        assert_eq!(codex.kind(), Backend::Codex);
        assert_eq!(codex.terminal(), TerminalOnDemand::default());
        let pty = BackendSettings::resolve(Backend::Pty, words(), &env).unwrap();
        assert_eq!(pty, BackendSettings::Pty);
        assert_eq!(pty.kind(), Backend::Pty);
        let bad = BackendWords::read("launcher:\n  approval_policy: always\n").unwrap();
        let e = BackendSettings::resolve(Backend::Pty, bad, &env).unwrap_err();
        assert!(
            e.to_string().starts_with("launcher.approval_policy: "),
            "{e}"
        );
    }

    #[test]
    fn the_words_are_each_backends() {
        let e = BackendWords::read("launcher:\n  tui_idle_seconds: soon\n").unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("launcher.tui_idle_seconds", 2));
        let words = BackendWords::read("launcher:\n  codex_command: /opt/codex\n").unwrap();
        let asks: Vec<&str> = words.trust_asks().iter().map(|a| a.key).collect();
        assert_eq!(asks, ["codex_command"]);
        let words = BackendWords::read("launcher:\n  acp_agent: gemini\n").unwrap();
        let acp = BackendSettings::resolve(Backend::Acp, words, &HashMap::new()).unwrap();
        assert_eq!(acp.kind(), Backend::Acp);
        assert!(BackendWords::keys().any(|k| k == "acp_command"));
        assert!(BackendWords::keys().any(|k| k == "planner_keeps_tui"));
        assert!(BackendWords::commented_defaults().contains("  tui_idle_seconds: 300\n"));
    }
}
