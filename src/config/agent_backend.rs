//! How agents are driven: which backend (Codex's app-server for the default
//! command, else any command in a plain PTY), whether their sandbox reaches
//! the network, which of the user's environment variables they get besides
//! the allowlist (`policy::agent_env`), and the backend's own settings. Those are the backend's to
//! parse and check (`agents::settings`): this module hands them its words
//! and names none of them. Kept apart from the rest of the configuration
//! because only the session backends read it.

use super::{ConfigError, Env};
use crate::agents::settings::SettingsError;
use crate::agents::{BackendSettings, BackendWords};
use crate::model::Backend;

/// The agents' settings.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct AgentSettings {
    /// The backend that drives them, with its own settings.
    pub backend: BackendSettings,
    /// Whether sandboxed agents' commands may use the network (loopback included).
    pub agent_network: bool,
    /// The user's variables agents get besides the allowlist
    /// (`launcher.agent_env`): names, or prefixes ending in `*`.
    pub agent_env: Vec<String>,
    /// The departments that run an agent of their own (key → its backend's
    /// settings; only those that differ from the launcher's).
    pub departments: std::collections::BTreeMap<String, BackendSettings>,
    /// The Codex CLI whose sandbox confines the launcher's own runs over an
    /// agent's work (a landing's checks), whatever the backend.
    pub confiner: String,
}

/// The file's words for the agents.
#[derive(Debug, Default)]
pub struct FileWords {
    pub backend: Option<String>,
    pub agent_network: Option<serde_yaml_ng::Value>,
    pub agent_env: Option<Vec<String>>,
    /// The `launcher:` words only the backends know.
    pub backends: BackendWords,
}

/// Chooses the backend: explicit, else `codex` for the default agent command.
pub fn resolve(
    file: &str,
    words: FileWords,
    default_command: bool,
    env: &Env,
) -> Result<AgentSettings, ConfigError> {
    let FileWords {
        backend,
        agent_network,
        agent_env,
        backends,
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
            message: crate::suggest::one_of(word, Backend::WORDS),
        })?,
    };
    let agent_network = network(file, agent_network.as_ref(), env)?;
    let agent_env = environment_names(file, agent_env, env)?;
    let confiner = backends.confiner(env).map_err(|e| backend_error(file, e))?;
    let backend =
        BackendSettings::resolve(backend, backends, env).map_err(|e| backend_error(file, e))?;
    Ok(AgentSettings {
        backend,
        agent_network,
        agent_env,
        departments: Default::default(),
        confiner,
    })
}

/// A backend's refusal, naming the file or the environment as the rest do.
pub(super) fn backend_error(file: &str, e: SettingsError) -> ConfigError {
    match e {
        SettingsError::File { key, message } => ConfigError::Invalid {
            file: file.to_string(),
            key: format!("launcher.{key}"),
            message,
        },
        SettingsError::Env { name, message } => ConfigError::Invalid {
            file: super::ENVIRONMENT.into(),
            key: name.into(),
            message,
        },
    }
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
                file: super::ENVIRONMENT.into(),
                key: "CODEX_GOVERNANCE_AGENT_NETWORK".into(),
                message: crate::suggest::one_of(v, &["on", "off"]),
            }
        })?,
        None => match agent_network {
            None => false,
            Some(v) => switch(v).ok_or_else(|| ConfigError::Invalid {
                file: file.to_string(),
                key: "launcher.agent_network".into(),
                message: crate::suggest::one_of(
                    serde_yaml_ng::to_string(v).unwrap_or_default().trim(),
                    &["on", "off"],
                ),
            })?,
        },
    })
}

/// The variables agents get besides the allowlist: the environment's list
/// (`CODEX_GOVERNANCE_AGENT_ENV`, separated by commas or spaces), else the
/// file's; each a name or a prefix ending in `*`.
fn environment_names(
    file: &str,
    agent_env: Option<Vec<String>>,
    env: &Env,
) -> Result<Vec<String>, ConfigError> {
    const NAME: &str = "CODEX_GOVERNANCE_AGENT_ENV";
    if let Some(v) = env.get(NAME) {
        let names: Vec<String> = v
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        return match names.iter().find_map(|n| bad_variable_name(n)) {
            Some(message) => Err(ConfigError::Env {
                name: NAME.into(),
                value: v.clone(),
                message,
            }),
            None => Ok(names),
        };
    }
    let names: Vec<String> = agent_env
        .unwrap_or_default()
        .into_iter()
        .map(|n| n.trim().to_string())
        .collect();
    match names.iter().find_map(|n| bad_variable_name(n)) {
        Some(message) => Err(ConfigError::Invalid {
            file: file.to_string(),
            key: "launcher.agent_env".into(),
            message,
        }),
        None => Ok(names),
    }
}

/// Why `name` cannot be named in `launcher.agent_env`, if it cannot: it
/// names no variable, or one of the launcher's own (it sets an agent's
/// itself; `policy::agent_env` never passes the environment's).
fn bad_variable_name(name: &str) -> Option<String> {
    const OWN: &str = "CODEX_GOVERNANCE_";
    let bare = name.strip_suffix('*').unwrap_or(name);
    if bare.is_empty() {
        return Some(format!(
            "{name:?} names no variable (a prefix ending in * needs at least one character)"
        ));
    }
    if bare.contains(['=', '*', '\0']) || bare.chars().any(char::is_whitespace) {
        return Some(format!(
            "{name:?} is not a variable name (a * may only end a prefix)"
        ));
    }
    if bare
        .get(..OWN.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(OWN))
    {
        return Some(format!(
            "{name:?}: the launcher sets its own {OWN}* variables for each agent"
        ));
    }
    None
}

/// `on`/`off`, `true`/`false`, `yes`/`no` (YAML reads some of them as booleans).
pub(super) fn switch(v: &serde_yaml_ng::Value) -> Option<bool> {
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
        assert_eq!(b.backend.kind(), Backend::Codex);
        assert!(!b.agent_network, "agents have no network unless asked");
        let b = resolve("f", FileWords::default(), false, &env).unwrap();
        assert_eq!(b.backend, BackendSettings::Pty);
        let words = FileWords {
            backend: Some("codex".into()),
            agent_network: Some(serde_yaml_ng::Value::String("on".into())),
            ..FileWords::default()
        };
        let b = resolve("f", words, false, &env).unwrap();
        assert_eq!(b.backend.kind(), Backend::Codex);
        assert!(b.agent_network);
    }

    #[test]
    fn bad_words_are_named() {
        let env = Env::new();
        let backend = FileWords {
            backend: Some("tmux".into()),
            ..FileWords::default()
        };
        let e = resolve("g.yaml", backend, true, &env).unwrap_err();
        assert!(e.to_string().contains("launcher.backend"), "{e}");
        assert!(e.to_string().contains("codex"), "{e}");
        let bad = FileWords {
            agent_network: Some(serde_yaml_ng::Value::String("sometimes".into())),
            ..FileWords::default()
        };
        let e = resolve("g.yaml", bad, true, &env).unwrap_err();
        assert!(e.to_string().contains("launcher.agent_network"), "{e}");
    }

    #[test]
    fn a_backends_refusal_names_the_file_or_the_environment() {
        let no = || "no".to_string();
        let cases = [
            (
                SettingsError::File {
                    key: "k",
                    message: no(),
                },
                "g.yaml: launcher.k: no",
            ),
            (
                SettingsError::Env {
                    name: "V",
                    message: no(),
                },
                "the environment: V: no",
            ),
        ];
        for (refusal, said) in cases {
            assert_eq!(backend_error("g.yaml", refusal).to_string(), said);
        }
    }

    #[test]
    fn agent_env_names_variables_or_prefixes_and_the_environment_wins() {
        let env = Env::new();
        let b = resolve("f", FileWords::default(), true, &env).unwrap();
        assert!(b.agent_env.is_empty(), "nothing beyond the allowlist");
        let words = || FileWords {
            agent_env: Some(vec!["MY_NAMED_VAR".into(), " NPM_CONFIG_* ".into()]),
            ..FileWords::default()
        };
        let b = resolve("f", words(), true, &env).unwrap();
        assert_eq!(b.agent_env, ["MY_NAMED_VAR", "NPM_CONFIG_*"]);
        let mut env = Env::new();
        env.insert("CODEX_GOVERNANCE_AGENT_ENV".into(), "A, B C".into());
        let b = resolve("f", words(), true, &env).unwrap();
        assert_eq!(b.agent_env, ["A", "B", "C"]);
        let bad = FileWords {
            agent_env: Some(vec!["CODEX_GOVERNANCE_TOKEN".into()]),
            ..FileWords::default()
        };
        let e = resolve("g.yaml", bad, true, &Env::new()).unwrap_err();
        assert!(
            e.to_string().starts_with("g.yaml: launcher.agent_env: "),
            "{e}"
        );
        env.insert("CODEX_GOVERNANCE_AGENT_ENV".into(), "A=B".into());
        let e = resolve("g.yaml", words(), true, &env).unwrap_err();
        assert!(e.to_string().contains("CODEX_GOVERNANCE_AGENT_ENV"), "{e}");
    }

    #[test]
    fn names_that_name_nothing_or_the_launchers_own_are_refused() {
        for bad in [
            "",
            "*",
            "A=B",
            "A*B",
            "A B",
            "CODEX_GOVERNANCE_TOKEN",
            "codex_governance_*",
        ] {
            assert!(bad_variable_name(bad).is_some(), "{bad:?} passed");
        }
        // A prefix that covers the launcher's own still passes none of them.
        for good in [
            "MY_NAMED_VAR",
            "NPM_CONFIG_*",
            "ProgramFiles(x86)",
            "CODEX_HOME",
            "CODEX_*",
        ] {
            assert_eq!(bad_variable_name(good), None, "{good:?}");
        }
    }

    #[test]
    fn environment_wins() {
        let mut env = Env::new();
        env.insert("CODEX_GOVERNANCE_BACKEND".into(), "pty".into());
        env.insert("CODEX_GOVERNANCE_AGENT_NETWORK".into(), "on".into());
        let words = FileWords {
            backend: Some("codex".into()),
            ..FileWords::default()
        };
        let b = resolve("f", words, true, &env).unwrap();
        assert_eq!(b.backend, BackendSettings::Pty);
        assert!(b.agent_network);
    }
}
