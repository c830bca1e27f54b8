//! How agents are driven: Codex through its app-server (the default command)
//! or any other command in a plain PTY. Kept apart from the rest of the
//! configuration because only the session backends read it.

use super::{ConfigError, Env};
use crate::model::Backend;

/// The approval policies Codex knows.
const APPROVAL_POLICIES: [&str; 3] = ["untrusted", "on-request", "never"];

/// The agent backend's settings.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct AgentBackendSettings {
    pub backend: Backend,
    /// The Codex program (`codex` on PATH unless set).
    pub codex_command: String,
    /// Codex's `approvalPolicy` for new threads.
    pub approval_policy: String,
    /// Whether sandboxed agents' commands may use the network (loopback included).
    pub agent_network: bool,
    /// An on-demand terminal (Codex's TUI) stops after this long without a viewer.
    pub tui_idle_seconds: u64,
    /// A planner's on-demand terminal runs for the whole session.
    pub planner_keeps_tui: bool,
}

/// The file's words for the backend settings.
#[derive(Debug, Default)]
pub struct FileWords {
    pub backend: Option<String>,
    pub codex_command: Option<String>,
    pub approval_policy: Option<String>,
    pub agent_network: Option<serde_yaml_ng::Value>,
    pub tui_idle_seconds: Option<u64>,
    pub planner_keeps_tui: Option<bool>,
}

/// Chooses the backend: explicit, else `codex` for the default agent command.
pub fn resolve(
    file: &str,
    words: FileWords,
    default_command: bool,
    env: &Env,
) -> Result<AgentBackendSettings, ConfigError> {
    let FileWords {
        backend,
        codex_command,
        approval_policy,
        agent_network,
        tui_idle_seconds,
        planner_keeps_tui,
    } = words;
    let backend = match env
        .get("CODEX_GOVERNANCE_BACKEND")
        .map(String::as_str)
        .or(backend.as_deref())
    {
        None if default_command => Backend::Codex,
        None => Backend::Pty,
        Some(word) => Backend::from_word(word).ok_or_else(|| ConfigError::Invalid {
            file: file.to_string(),
            key: "launcher.backend".into(),
            message: format!(
                "{word:?} is not a backend: use one of {}",
                Backend::WORDS.join(", ")
            ),
        })?,
    };
    let agent_network = network(file, agent_network.as_ref(), env)?;
    let approval_policy = approval_policy.unwrap_or_else(|| "on-request".into());
    if !APPROVAL_POLICIES.contains(&approval_policy.as_str()) {
        return Err(ConfigError::Invalid {
            file: file.to_string(),
            key: "launcher.approval_policy".into(),
            message: format!(
                "{approval_policy:?} is not one of {}",
                APPROVAL_POLICIES.join(", ")
            ),
        });
    }
    let codex_command = env
        .get("CODEX_GOVERNANCE_CODEX_BIN")
        .cloned()
        .or(codex_command)
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| "codex".into());
    let tui_idle_seconds = match env.get("CODEX_GOVERNANCE_TUI_IDLE_SECONDS") {
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
            file: "the environment".into(),
            key: "CODEX_GOVERNANCE_TUI_IDLE_SECONDS".into(),
            message: format!("{v:?} is not a whole number of seconds"),
        })?,
        None => tui_idle_seconds.unwrap_or(300),
    };
    Ok(AgentBackendSettings {
        backend,
        codex_command,
        approval_policy,
        agent_network,
        tui_idle_seconds,
        planner_keeps_tui: planner_keeps_tui.unwrap_or(true),
    })
}

/// Whether agents reach the network: the environment's word, else the file's.
fn network(
    file: &str,
    agent_network: Option<&serde_yaml_ng::Value>,
    env: &Env,
) -> Result<bool, ConfigError> {
    Ok(match env.get("CODEX_GOVERNANCE_AGENT_NETWORK") {
        Some(v) => switch(&serde_yaml_ng::Value::String(v.clone())).ok_or_else(|| {
            ConfigError::Invalid {
                file: "the environment".into(),
                key: "CODEX_GOVERNANCE_AGENT_NETWORK".into(),
                message: format!("{v:?} is not on or off"),
            }
        })?,
        None => match agent_network {
            None => false,
            Some(v) => switch(v).ok_or_else(|| ConfigError::Invalid {
                file: file.to_string(),
                key: "launcher.agent_network".into(),
                message: "must be on or off".into(),
            })?,
        },
    })
}

/// `on`/`off`, `true`/`false`, `yes`/`no` (YAML reads some of them as booleans).
fn switch(v: &serde_yaml_ng::Value) -> Option<bool> {
    match v {
        serde_yaml_ng::Value::Bool(b) => Some(*b),
        serde_yaml_ng::Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" | "1" => Some(true),
            "off" | "false" | "no" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_command_means_codex_and_others_pty() {
        let env = Env::new();
        let b = resolve("f", FileWords::default(), true, &env).unwrap();
        assert_eq!(b.backend, Backend::Codex);
        assert_eq!(b.codex_command, "codex");
        assert_eq!(b.approval_policy, "on-request");
        assert!(!b.agent_network, "agents have no network unless asked");
        assert_eq!(b.tui_idle_seconds, 300);
        assert!(b.planner_keeps_tui);
        let b = resolve("f", FileWords::default(), false, &env).unwrap();
        assert_eq!(b.backend, Backend::Pty);
        let words = FileWords {
            backend: Some("codex".into()),
            approval_policy: Some("never".into()),
            agent_network: Some(serde_yaml_ng::Value::String("on".into())),
            ..FileWords::default()
        };
        let b = resolve("f", words, false, &env).unwrap();
        assert_eq!(b.backend, Backend::Codex);
        assert_eq!(b.approval_policy, "never");
        assert!(b.agent_network);
    }

    #[test]
    fn bad_words_are_named() {
        let env = Env::new();
        let words = |backend: Option<&str>, policy: Option<&str>| FileWords {
            backend: backend.map(str::to_string),
            approval_policy: policy.map(str::to_string),
            ..FileWords::default()
        };
        let e = resolve("g.yaml", words(Some("tmux"), None), true, &env).unwrap_err();
        assert!(e.to_string().contains("launcher.backend"), "{e}");
        assert!(e.to_string().contains("codex"), "{e}");
        let e = resolve("g.yaml", words(None, Some("always")), true, &env).unwrap_err();
        assert!(e.to_string().contains("on-request"), "{e}");
        let bad = FileWords {
            agent_network: Some(serde_yaml_ng::Value::String("sometimes".into())),
            ..FileWords::default()
        };
        let e = resolve("g.yaml", bad, true, &env).unwrap_err();
        assert!(e.to_string().contains("launcher.agent_network"), "{e}");
    }

    #[test]
    fn environment_wins() {
        let mut env = Env::new();
        env.insert("CODEX_GOVERNANCE_CODEX_BIN".into(), "/opt/codex".into());
        env.insert("CODEX_GOVERNANCE_BACKEND".into(), "pty".into());
        env.insert("CODEX_GOVERNANCE_AGENT_NETWORK".into(), "on".into());
        let words = FileWords {
            backend: Some("codex".into()),
            codex_command: Some("x".into()),
            ..FileWords::default()
        };
        let b = resolve("f", words, true, &env).unwrap();
        assert_eq!(b.backend, Backend::Pty);
        assert_eq!(b.codex_command, "/opt/codex");
        assert!(b.agent_network);
    }
}
