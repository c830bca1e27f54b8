//! The Codex backend's settings: its words in the `launcher:` section of
//! `governance.yaml` (`codex_command`, `approval_policy`, `tui_idle_seconds`,
//! `planner_keeps_tui`) and in the environment (`CODEX_GOVERNANCE_CODEX_BIN`,
//! `CODEX_GOVERNANCE_TUI_IDLE_SECONDS`), their defaults and their checks.
//! `config/` reads the file and hands these words over
//! ([`BackendWords`](crate::agents::BackendWords)); only this module knows
//! what they mean.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::agents::settings::{Risk, SettingsError, TerminalOnDemand, TrustAsk};

/// The `launcher:` keys this backend reads.
pub const KEYS: &[&str] = &[
    "codex_command",
    "approval_policy",
    "tui_idle_seconds",
    "planner_keeps_tui",
];

/// The program run when neither the file nor the environment names one.
const DEFAULT_COMMAND: &str = "codex";

/// When Codex asks the user before running a command (its `approvalPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalPolicy {
    Untrusted,
    OnRequest,
    Never,
}

impl ApprovalPolicy {
    /// Every word, as Codex spells it.
    pub const WORDS: [&'static str; 3] = ["untrusted", "on-request", "never"];

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalPolicy::Untrusted => "untrusted",
            ApprovalPolicy::OnRequest => "on-request",
            ApprovalPolicy::Never => "never",
        }
    }

    /// The policy a word names, if any.
    pub fn from_word(word: &str) -> Option<ApprovalPolicy> {
        [Self::Untrusted, Self::OnRequest, Self::Never]
            .into_iter()
            .find(|p| p.as_str() == word)
    }
}

/// The Codex backend's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// The Codex program (`codex` on PATH unless set).
    pub command: String,
    /// Codex's `approvalPolicy` for new threads.
    pub approval_policy: ApprovalPolicy,
    /// How long Codex's TUI, started for a viewer, outlives its last one.
    pub terminal: TerminalOnDemand,
}

/// The file's words for Codex, as written.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FileWords {
    #[serde(default)]
    codex_command: Option<String>,
    #[serde(default)]
    approval_policy: Option<String>,
    #[serde(default)]
    tui_idle_seconds: Option<u64>,
    #[serde(default)]
    planner_keeps_tui: Option<bool>,
}

/// The settings from the file's words, the environment winning; a word
/// Codex does not take is an error naming its key or variable.
pub fn resolve(words: FileWords, env: &HashMap<String, String>) -> Result<Settings, SettingsError> {
    let approval_policy = words.approval_policy.unwrap_or_else(|| "on-request".into());
    let approval_policy =
        ApprovalPolicy::from_word(&approval_policy).ok_or_else(|| SettingsError::File {
            key: "approval_policy",
            message: crate::suggest::one_of(&approval_policy, &ApprovalPolicy::WORDS),
        })?;
    let command = env
        .get("CODEX_GOVERNANCE_CODEX_BIN")
        .cloned()
        .or(words.codex_command)
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_COMMAND.into());
    let defaults = TerminalOnDemand::default();
    let idle_seconds = match env.get("CODEX_GOVERNANCE_TUI_IDLE_SECONDS") {
        Some(v) => v.trim().parse().map_err(|_| SettingsError::Env {
            name: "CODEX_GOVERNANCE_TUI_IDLE_SECONDS",
            message: format!("{v:?} is not a whole number of seconds"),
        })?,
        None => words.tui_idle_seconds.unwrap_or(defaults.idle_seconds),
    };
    Ok(Settings {
        command,
        approval_policy,
        terminal: TerminalOnDemand {
            idle_seconds,
            planner_keeps: words.planner_keeps_tui.unwrap_or(defaults.planner_keeps),
        },
    })
}

/// What the file's words set that the user must agree to before it runs.
pub fn trust_asks(words: &FileWords) -> Vec<TrustAsk> {
    let mut asks = Vec::new();
    if let Some(command) = &words.codex_command {
        asks.push(TrustAsk {
            risk: Risk::Program,
            key: "codex_command",
            value: command.clone(),
            meaning: "runs this program as Codex",
        });
    }
    if words.approval_policy.as_deref().map(str::trim) == Some("never") {
        asks.push(TrustAsk {
            risk: Risk::Sandbox,
            key: "approval_policy",
            value: "never".into(),
            meaning: "Codex never asks you before running a command outside its sandbox",
        });
    }
    asks
}

/// Its lines in `codex-governance init`'s commented `launcher:` section.
pub fn commented_defaults() -> String {
    let terminal = TerminalOnDemand::default();
    format!(
        "  # codex_command: {DEFAULT_COMMAND}\n  # approval_policy: {}\n  \
         # Codex's own terminal runs only while someone watches it: it stops after\n  \
         # this many seconds without a viewer. The planner's too, unless\n  \
         # planner_keeps_tui: true keeps it running while its plan goes on.\n  \
         tui_idle_seconds: {}\n  planner_keeps_tui: {}\n",
        ApprovalPolicy::OnRequest.as_str(),
        terminal.idle_seconds,
        terminal.planner_keeps,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(policy: Option<&str>) -> FileWords {
        FileWords {
            approval_policy: policy.map(str::to_string),
            ..FileWords::default()
        }
    }

    #[test]
    fn defaults_and_the_files_words() {
        let env = HashMap::new();
        let s = resolve(FileWords::default(), &env).unwrap();
        assert_eq!(s.command, "codex");
        assert_eq!(s.approval_policy, ApprovalPolicy::OnRequest);
        assert_eq!(s.terminal.idle_seconds, 300);
        assert!(
            !s.terminal.planner_keeps,
            "a planner's TUI runs only for viewers unless asked (issue 71 item 6)"
        );
        let keeps = FileWords {
            planner_keeps_tui: Some(true),
            ..FileWords::default()
        };
        assert!(resolve(keeps, &env).unwrap().terminal.planner_keeps);
        let s = resolve(words(Some("never")), &env).unwrap();
        assert_eq!(s.approval_policy, ApprovalPolicy::Never);
        assert_eq!(
            serde_json::to_value(s.approval_policy).unwrap(),
            "never",
            "Codex's word"
        );
        let blank = FileWords {
            codex_command: Some("  ".into()),
            ..FileWords::default()
        };
        assert_eq!(resolve(blank, &env).unwrap().command, "codex");
    }

    #[test]
    fn bad_words_are_named() {
        let env = HashMap::new();
        let e = resolve(words(Some("always")), &env).unwrap_err();
        assert!(e.to_string().contains("on-request"), "{e}");
        assert!(
            matches!(
                e,
                SettingsError::File {
                    key: "approval_policy",
                    ..
                }
            ),
            "{e:?}"
        );
        let env = HashMap::from([(
            "CODEX_GOVERNANCE_TUI_IDLE_SECONDS".to_string(),
            "soon".to_string(),
        )]);
        let e = resolve(FileWords::default(), &env).unwrap_err();
        assert!(e.to_string().contains("whole number of seconds"), "{e}");
    }

    #[test]
    fn environment_wins() {
        let env = HashMap::from([
            (
                "CODEX_GOVERNANCE_CODEX_BIN".to_string(),
                "/opt/codex".to_string(),
            ),
            (
                "CODEX_GOVERNANCE_TUI_IDLE_SECONDS".to_string(),
                " 7 ".to_string(),
            ),
        ]);
        let file = FileWords {
            codex_command: Some("x".into()),
            tui_idle_seconds: Some(5),
            ..FileWords::default()
        };
        let s = resolve(file, &env).unwrap();
        assert_eq!(s.command, "/opt/codex");
        assert_eq!(s.terminal.idle_seconds, 7);
    }

    #[test]
    fn every_key_is_read() {
        let text = "codex_command: c\napproval_policy: never\ntui_idle_seconds: 1\nplanner_keeps_tui: false\n";
        let w: FileWords = serde_yaml_ng::from_str(text).unwrap();
        assert_eq!(text.lines().count(), KEYS.len());
        for key in KEYS {
            assert!(text.contains(&format!("{key}:")), "{key}");
        }
        assert!(w.codex_command.is_some() && w.approval_policy.is_some());
        assert!(w.tui_idle_seconds.is_some() && w.planner_keeps_tui.is_some());
        let asks: Vec<&str> = trust_asks(&w).iter().map(|a| a.key).collect();
        assert_eq!(asks, ["codex_command", "approval_policy"]);
    }
}
