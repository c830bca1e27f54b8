//! The ACP backend's settings: its words in the `launcher:` section of
//! `governance.yaml` (`acp_agent`, `acp_command`) and in the environment
//! (`CODEX_GOVERNANCE_ACP_COMMAND`), their defaults and their checks. Only
//! this module knows what they mean.
//!
//! `acp_agent` names a known agent (its usual command, and what the launcher
//! knows of it); `acp_command` runs another program, or the known agent from
//! elsewhere. Either one runs a program of the file's choosing, so both need
//! the user's trust in a cloned configuration.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::agents::settings::{Risk, SettingsError, TrustAsk};

/// The `launcher:` keys this backend reads.
pub const KEYS: &[&str] = &[
    "acp_agent",
    "acp_command",
    "acp_unsandboxed",
    "acp_model_hosts",
];

/// The agents the launcher knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    Claude,
    Gemini,
    Opencode,
    Codex,
    /// Any other agent speaking ACP (its command is required).
    Other,
}

impl Profile {
    /// Every word, as the file spells it.
    pub const WORDS: [&'static str; 5] = ["claude", "gemini", "opencode", "codex", "other"];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Claude => "claude",
            Profile::Gemini => "gemini",
            Profile::Opencode => "opencode",
            Profile::Codex => "codex",
            Profile::Other => "other",
        }
    }

    pub fn from_word(word: &str) -> Option<Profile> {
        [
            Profile::Claude,
            Profile::Gemini,
            Profile::Opencode,
            Profile::Codex,
            Profile::Other,
        ]
        .into_iter()
        .find(|p| p.as_str() == word)
    }

    /// The command that runs the agent's ACP side when none is set.
    pub fn default_command(self) -> Option<Vec<String>> {
        let argv: &[&str] = match self {
            Profile::Claude => &["claude-agent-acp"],
            Profile::Gemini => &["gemini", "--acp"],
            Profile::Opencode => &["opencode", "acp"],
            Profile::Codex => &["codex-acp"],
            Profile::Other => return None,
        };
        Some(argv.iter().map(|s| s.to_string()).collect())
    }
}

/// The ACP backend's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    pub agent: Profile,
    /// The agent's program and arguments; `None` when neither the file, the
    /// environment nor the profile names one (a backend that cannot start).
    pub command: Option<Vec<String>>,
    /// The user lets ACP agents run unconfined, as they are, where Codex's
    /// sandbox cannot hold them (or by choice).
    pub unsandboxed: bool,
    /// The Codex CLI whose sandbox confines them (`launcher.codex_command`,
    /// `CODEX_GOVERNANCE_CODEX_BIN`, else `codex`): set by the registry.
    pub confiner: String,
    /// Where their models are beside what the launcher knows (`host:port`,
    /// as `acp_model_hosts` names them): all a confined agent's network
    /// reaches besides.
    pub model_hosts: Vec<String>,
}

/// The file's words for ACP, as written.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FileWords {
    #[serde(default)]
    acp_agent: Option<String>,
    #[serde(default)]
    acp_command: Option<Vec<String>>,
    #[serde(default)]
    acp_unsandboxed: Option<bool>,
    #[serde(default)]
    acp_model_hosts: Option<Vec<String>>,
    /// `launcher.isolation` (config's key), read only to check that
    /// unconfined agents at least work in worktrees of their own.
    #[serde(default)]
    isolation: Option<String>,
}

impl FileWords {
    /// These words with another agent in place of theirs (a department's
    /// own `acp_agent` and `acp_command`): neither of theirs carries over.
    pub fn with_agent(&self, agent: Option<&str>, command: Option<&[String]>) -> FileWords {
        FileWords {
            acp_agent: agent.map(str::to_string),
            acp_command: command.map(<[String]>::to_vec),
            ..self.clone()
        }
    }
}

/// The settings from the file's words, the environment's command winning.
pub fn resolve(words: FileWords, env: &HashMap<String, String>) -> Result<Settings, SettingsError> {
    let agent = match words.acp_agent.as_deref().map(str::trim) {
        None => Profile::Other,
        Some(word) => Profile::from_word(word).ok_or_else(|| SettingsError::File {
            key: "acp_agent",
            message: crate::suggest::one_of(word, &Profile::WORDS),
        })?,
    };
    let from_env = match env.get("CODEX_GOVERNANCE_ACP_COMMAND") {
        Some(v) => Some(shell_words::split(v).map_err(|e| SettingsError::Env {
            name: "CODEX_GOVERNANCE_ACP_COMMAND",
            message: format!("cannot split {v:?} into words: {e}"),
        })?),
        None => None,
    };
    let command = from_env
        .or(words.acp_command)
        .filter(|argv| argv.first().is_some_and(|p| !p.trim().is_empty()))
        .or_else(|| agent.default_command());
    let unsandboxed = words.acp_unsandboxed.unwrap_or(false);
    let isolation = env
        .get("CODEX_GOVERNANCE_ISOLATION")
        .cloned()
        .or(words.isolation);
    if unsandboxed && isolation.as_deref().map(str::trim) == Some("shared") {
        return Err(SettingsError::File {
            key: "acp_unsandboxed",
            message: "unconfined ACP agents need launcher.isolation: worktree (each \
                      department in a worktree of its own), not shared"
                .into(),
        });
    }
    let mut model_hosts = Vec::new();
    for word in words.acp_model_hosts.iter().flatten() {
        let (host, port) = super::reach::place_of(word).ok_or_else(|| SettingsError::File {
            key: "acp_model_hosts",
            message: format!("{word:?} is not a host:port, a host (port 443) or an http(s) URL"),
        })?;
        let place = super::reach::join(&host, port);
        if !model_hosts.contains(&place) {
            model_hosts.push(place);
        }
    }
    Ok(Settings {
        agent,
        command,
        unsandboxed,
        confiner: String::new(),
        model_hosts,
    })
}

/// What the file's words set that the user must agree to before it runs.
pub fn trust_asks(words: &FileWords) -> Vec<TrustAsk> {
    let mut asks = Vec::new();
    if let Some(command) = &words.acp_command {
        asks.push(TrustAsk {
            risk: Risk::Program,
            key: "acp_command",
            value: shell_words::join(command),
            meaning: "runs this program as every ACP agent",
        });
    }
    if let Some(agent) = &words.acp_agent {
        asks.push(TrustAsk {
            risk: Risk::Program,
            key: "acp_agent",
            value: agent.trim().to_string(),
            meaning: "runs this agent (its usual command unless acp_command is set)",
        });
    }
    if let Some(hosts) = words.acp_model_hosts.as_ref().filter(|h| !h.is_empty()) {
        asks.push(TrustAsk {
            risk: Risk::Sandbox,
            key: "acp_model_hosts",
            value: super::reach::in_words(hosts),
            meaning: "confined ACP agents (and their commands) may reach these hosts",
        });
    }
    if words.acp_unsandboxed == Some(true) {
        asks.push(TrustAsk {
            risk: Risk::Sandbox,
            key: "acp_unsandboxed",
            value: "true".into(),
            meaning: "ACP agents run unsandboxed, as you",
        });
    }
    asks
}

/// Its lines in `codex-governance init`'s commented `launcher:` section.
pub fn commented_defaults() -> String {
    "  # With backend: acp, any agent speaking the Agent Client Protocol:\n  \
     # acp_agent: gemini            # claude, gemini, opencode, codex or other\n  \
     # acp_command: [gemini, --acp]\n  \
     # They run in Codex's sandbox (Linux); without it, only with this (and isolation: worktree).\n  \
     # acp_unsandboxed: false\n  \
     # Their network holds only their model; name another agent's model host here.\n  \
     # acp_model_hosts: [api.example.com:443]\n"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unconfined_agents_are_off_unless_asked_and_never_in_a_shared_tree() {
        let env = HashMap::new();
        let s = resolve(words("acp_agent: gemini\n"), &env).unwrap();
        assert!(!s.unsandboxed);
        let s = resolve(words("acp_unsandboxed: true\nisolation: worktree\n"), &env).unwrap();
        assert!(s.unsandboxed);
        let e = resolve(words("acp_unsandboxed: true\nisolation: shared\n"), &env).unwrap_err();
        assert!(
            matches!(
                e,
                SettingsError::File {
                    key: "acp_unsandboxed",
                    ..
                }
            ),
            "{e:?}"
        );
        let shared = HashMap::from([(
            "CODEX_GOVERNANCE_ISOLATION".to_string(),
            "shared".to_string(),
        )]);
        assert!(resolve(words("acp_unsandboxed: true\n"), &shared).is_err());
    }

    fn words(text: &str) -> FileWords {
        serde_yaml_ng::from_str(text).unwrap()
    }

    #[test]
    fn a_profile_gives_its_command_and_a_command_wins() {
        let env = HashMap::new();
        let s = resolve(words("acp_agent: gemini\n"), &env).unwrap();
        assert_eq!(s.agent, Profile::Gemini);
        assert_eq!(s.command.unwrap(), ["gemini", "--acp"]);
        let s = resolve(words("acp_agent: claude\nacp_command: [/opt/a, x]\n"), &env).unwrap();
        assert_eq!(s.command.unwrap(), ["/opt/a", "x"]);
        let s = resolve(FileWords::default(), &env).unwrap();
        assert_eq!((s.agent, s.command), (Profile::Other, None));
        let env = HashMap::from([(
            "CODEX_GOVERNANCE_ACP_COMMAND".to_string(),
            "'/opt/my agent' --acp".to_string(),
        )]);
        let s = resolve(words("acp_command: [x]\n"), &env).unwrap();
        assert_eq!(s.command.unwrap(), ["/opt/my agent", "--acp"]);
    }

    #[test]
    fn an_unknown_agent_is_named() {
        let e = resolve(words("acp_agent: gemeni\n"), &HashMap::new()).unwrap_err();
        assert!(
            matches!(
                e,
                SettingsError::File {
                    key: "acp_agent",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("gemini"), "{e}");
    }

    #[test]
    fn both_words_ask_for_trust() {
        let w = words("acp_agent: claude\nacp_command: [/opt/evil, --acp]\n");
        let asks: Vec<(&str, String)> = trust_asks(&w)
            .into_iter()
            .map(|a| (a.key, a.value))
            .collect();
        assert_eq!(
            asks,
            [
                ("acp_command", "/opt/evil --acp".to_string()),
                ("acp_agent", "claude".to_string())
            ]
        );
        assert_eq!(KEYS.len(), 4);
        let w = words("acp_model_hosts: [\"https://models.example/v1\", \"10.0.0.5:8080\"]\n");
        let asks: Vec<(&str, Risk, String)> = trust_asks(&w)
            .into_iter()
            .map(|a| (a.key, a.risk, a.value))
            .collect();
        assert_eq!(asks[0].0, "acp_model_hosts");
        assert_eq!(asks[0].1, Risk::Sandbox);
        let s = resolve(w, &HashMap::new()).unwrap();
        assert_eq!(s.model_hosts, ["models.example:443", "10.0.0.5:8080"]);
        let e = resolve(words("acp_model_hosts: [\"ftp://x\"]\n"), &HashMap::new()).unwrap_err();
        assert!(e.to_string().contains("host:port"), "{e}");
        let w = words("acp_unsandboxed: true\n");
        let asks: Vec<(&str, Risk)> = trust_asks(&w)
            .into_iter()
            .map(|a| (a.key, a.risk))
            .collect();
        assert_eq!(asks, [("acp_unsandboxed", Risk::Sandbox)]);
        assert!(trust_asks(&FileWords::default()).is_empty());
    }
}
