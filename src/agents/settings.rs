//! What a backend's settings are made of. `config/` reads `governance.yaml`
//! and the environment, chooses the backend and hands the backends the
//! `launcher:` words it does not know ([`BackendWords`](super::BackendWords));
//! each backend's own `settings.rs` (`codex/settings.rs`) says which keys are
//! its, parses them, fills its defaults and checks them, in these terms. So
//! `config/` names no backend's option, and a backend's options live in its
//! folder.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// How long a terminal started for a viewer runs
/// ([`Capabilities::terminal_on_demand`](super::Capabilities)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TerminalOnDemand {
    /// It stops after this many seconds without a viewer.
    pub idle_seconds: u64,
    /// A planner's runs, watched or not, while its plan goes on (opt-in:
    /// by default a planner's runs only for viewers, as a department's).
    pub planner_keeps: bool,
}

impl Default for TerminalOnDemand {
    fn default() -> Self {
        TerminalOnDemand {
            idle_seconds: 300,
            planner_keeps: false,
        }
    }
}

impl TerminalOnDemand {
    pub fn idle(&self) -> Duration {
        Duration::from_secs(self.idle_seconds)
    }
}

/// A backend's setting that `config/` must not run before the user says so
/// (`config::trust`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustAsk {
    pub risk: Risk,
    /// The `launcher:` key.
    pub key: &'static str,
    /// What it sets, as written.
    pub value: String,
    /// What it means, in a few words.
    pub meaning: &'static str,
}

/// What a setting risks; the trust request lists programs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Risk {
    /// It runs a program of the file's choosing.
    Program,
    /// It loosens the agents' sandbox.
    Sandbox,
}

/// A backend's word that it does not take.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// In the file's `launcher:` section.
    #[error("launcher.{key}: {message}")]
    File { key: &'static str, message: String },
    /// In an environment variable.
    #[error("{name}: {message}")]
    Env { name: &'static str, message: String },
}

/// A backend's key holding a value of the wrong kind (text for a number).
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct WordsError {
    /// Its path (`launcher.<key>`).
    pub key: String,
    /// Its line in the file (0: unknown).
    pub line: usize,
    /// The YAML reader's message.
    pub message: String,
}

/// The `launcher:` section of the file's `text` as a backend's words `W`
/// (the other keys ignored).
pub fn launcher_section<W: DeserializeOwned + Default>(text: &str) -> Result<W, WordsError> {
    #[derive(Deserialize)]
    struct File<W> {
        #[serde(default)]
        launcher: Option<W>,
    }
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let file: Option<File<W>> = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        WordsError {
            key,
            line: inner.location().map_or(0, |l| l.line()),
            message: inner.to_string(),
        }
    })?;
    Ok(file.and_then(|f| f.launcher).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    struct Words {
        #[serde(default)]
        seconds: Option<u64>,
    }

    #[test]
    fn a_value_of_the_wrong_kind_is_named_with_its_line() {
        let e = launcher_section::<Words>("# x\nlauncher:\n  models: [a]\n  seconds: soon\n")
            .unwrap_err();
        assert_eq!(e.key, "launcher.seconds");
        assert_eq!(e.line, 4);
        assert!(e.message.contains("u64"), "{}", e.message);
        let read = launcher_section::<Words>("launcher:\n  seconds: 3\nother: [1]\n").unwrap();
        assert_eq!(read.seconds, Some(3));
        for nothing in ["launcher:\n", "departments: {}\n", "---\n"] {
            let read = launcher_section::<Words>(nothing).unwrap();
            assert_eq!(read, Words::default(), "{nothing:?}");
        }
    }
}
