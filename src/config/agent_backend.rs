//! How agents are driven: Codex through its app-server (the default command)
//! or any other command in a plain PTY. Kept apart from the rest of the
//! configuration because only the session backends read it.

use super::{ConfigError, Env};
use crate::model::Backend;

/// The approval policies Codex knows.
const APPROVAL_POLICIES: [&str; 3] = ["untrusted", "on-request", "never"];

/// The agent backend's settings.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct AgentBackend {
    pub backend: Backend,
    /// The Codex program (`codex` on PATH unless set).
    pub codex_command: String,
    /// Codex's `approvalPolicy` for new threads.
    pub approval_policy: String,
}

/// Chooses the backend: explicit, else `codex` for the default agent command.
pub fn resolve(
    file: &str,
    backend: Option<&str>,
    codex_command: Option<String>,
    approval_policy: Option<String>,
    default_command: bool,
    env: &Env,
) -> Result<AgentBackend, ConfigError> {
    let backend = match env
        .get("CODEX_GOVERNANCE_BACKEND")
        .map(String::as_str)
        .or(backend)
    {
        None if default_command => Backend::Codex,
        None => Backend::Pty,
        Some("codex") => Backend::Codex,
        Some("pty") => Backend::Pty,
        Some(other) => {
            return Err(ConfigError::Invalid {
                file: file.to_string(),
                key: "launcher.backend".into(),
                message: format!("{other:?} is not a backend: use codex or pty"),
            })
        }
    };
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
    Ok(AgentBackend {
        backend,
        codex_command,
        approval_policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_command_means_codex_and_others_pty() {
        let env = Env::new();
        let b = resolve("f", None, None, None, true, &env).unwrap();
        assert_eq!(b.backend, Backend::Codex);
        assert_eq!(b.codex_command, "codex");
        assert_eq!(b.approval_policy, "on-request");
        let b = resolve("f", None, None, None, false, &env).unwrap();
        assert_eq!(b.backend, Backend::Pty);
        let b = resolve("f", Some("codex"), None, Some("never".into()), false, &env).unwrap();
        assert_eq!(b.backend, Backend::Codex);
        assert_eq!(b.approval_policy, "never");
    }

    #[test]
    fn bad_words_are_named() {
        let env = Env::new();
        let e = resolve("g.yaml", Some("tmux"), None, None, true, &env).unwrap_err();
        assert!(e.to_string().contains("launcher.backend"), "{e}");
        let e = resolve("g.yaml", None, None, Some("always".into()), true, &env).unwrap_err();
        assert!(e.to_string().contains("on-request"), "{e}");
    }

    #[test]
    fn environment_wins() {
        let mut env = Env::new();
        env.insert("CODEX_GOVERNANCE_CODEX_BIN".into(), "/opt/codex".into());
        env.insert("CODEX_GOVERNANCE_BACKEND".into(), "pty".into());
        let b = resolve("f", Some("codex"), Some("x".into()), None, true, &env).unwrap();
        assert_eq!(b.backend, Backend::Pty);
        assert_eq!(b.codex_command, "/opt/codex");
    }
}
