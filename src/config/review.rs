//! `launcher.review` (issue 75): a second opinion on each department's
//! recorded work, by another agent the launcher runs read-only. `agent`
//! names it as an attempt does (a department key whose agent to borrow, or
//! an agent's word: `claude`, `gemini`, `codex`); `when` says which work it
//! reviews (`always`, `risky`, `off`); `gate: block_on_important` holds
//! Apply, Merge, the train and a pull request while an important finding is
//! open; `min_lines` is how big a diff counts as risky; `model` the
//! reviewer's model, else its agent's default.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The file's words under `launcher.review`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct FileReview {
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub gate: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub min_lines: Option<u64>,
    #[serde(default)]
    pub fallback: Option<String>,
}

/// The keys of `launcher.review`, for did-you-mean.
pub const KEYS: &[&str] = &["agent", "when", "gate", "model", "min_lines", "fallback"];

/// Where a review runs when its agent's account is held by the quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewFallback {
    /// It waits for the account (the default).
    #[default]
    Wait,
    /// It runs on the department's own agent, stamped `same_vendor`.
    SameVendor,
}

/// Which work a reviewer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewWhen {
    /// No second opinion (the default).
    #[default]
    Off,
    Always,
    /// Work the mandate review flagged, with files out of scope, or a diff
    /// of `min_lines` or more.
    Risky,
}

impl ReviewWhen {
    pub fn from_word(word: &str) -> Option<ReviewWhen> {
        match word.trim() {
            "off" => Some(ReviewWhen::Off),
            "always" => Some(ReviewWhen::Always),
            "risky" => Some(ReviewWhen::Risky),
            _ => None,
        }
    }
}

/// What an open important finding does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewGate {
    /// Findings are shown; nothing is held (the default).
    #[default]
    Off,
    BlockOnImportant,
}

/// `launcher.review`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ReviewSettings {
    /// The reviewer's agent, as `attempts` names one; None with `when: off`.
    pub agent: Option<String>,
    pub when: ReviewWhen,
    pub gate: ReviewGate,
    pub model: Option<String>,
    pub min_lines: u64,
    pub fallback: ReviewFallback,
}

/// `min_lines` unless set.
pub const DEFAULT_MIN_LINES: u64 = 200;

/// Checks the file's words; `file` names the file in errors.
pub fn resolve(file: &str, words: Option<FileReview>) -> Result<ReviewSettings, ConfigError> {
    let Some(w) = words else {
        return Ok(ReviewSettings {
            min_lines: DEFAULT_MIN_LINES,
            ..ReviewSettings::default()
        });
    };
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        file: file.to_string(),
        key: format!("launcher.review.{key}"),
        message,
    };
    let agent = w
        .agent
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty());
    // Unset, `agent` is another vendor's than the department's, when one
    // of this launcher's departments runs one (`second_opinion.rs`). A
    // `review:` section asks for reviews: unset, `when` is `always` (a
    // gate alone must not hold nothing, silently).
    let when = match w.when.as_deref().map(str::trim) {
        None => ReviewWhen::Always,
        Some(word) => ReviewWhen::from_word(word).ok_or_else(|| {
            invalid(
                "when",
                format!("{word:?} is not a choice: always, risky or off"),
            )
        })?,
    };
    let fallback = match w.fallback.as_deref().map(str::trim) {
        None | Some("wait") => ReviewFallback::Wait,
        Some("same_vendor") => ReviewFallback::SameVendor,
        Some(other) => {
            return Err(invalid(
                "fallback",
                format!("{other:?} is not a choice: wait (the default) or same_vendor"),
            ))
        }
    };
    let gate = match w.gate.as_deref().map(str::trim) {
        None | Some("off") => ReviewGate::Off,
        Some("block_on_important") => ReviewGate::BlockOnImportant,
        Some(other) => {
            return Err(invalid(
                "gate",
                format!("{other:?} is not a choice: off (the default) or block_on_important"),
            ))
        }
    };
    if w.min_lines == Some(0) {
        return Err(invalid(
            "min_lines",
            format!("0 is not allowed: a number of lines above 0 (default {DEFAULT_MIN_LINES})"),
        ));
    }
    Ok(ReviewSettings {
        agent,
        when,
        gate,
        model: w
            .model
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty()),
        min_lines: w.min_lines.unwrap_or(DEFAULT_MIN_LINES),
        fallback,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(yaml: &str) -> FileReview {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn an_agent_alone_reviews_always_and_wrong_words_are_named() {
        let s = resolve("g.yaml", Some(words("agent: claude"))).unwrap();
        assert_eq!(
            (s.agent.as_deref(), s.when, s.gate, s.min_lines),
            (
                Some("claude"),
                ReviewWhen::Always,
                ReviewGate::Off,
                DEFAULT_MIN_LINES
            )
        );
        let s = resolve(
            "g.yaml",
            Some(words(
                "{agent: hubu, when: risky, gate: block_on_important}",
            )),
        )
        .unwrap();
        assert_eq!(
            (s.when, s.gate),
            (ReviewWhen::Risky, ReviewGate::BlockOnImportant)
        );
        assert_eq!(resolve("g.yaml", None).unwrap().when, ReviewWhen::Off);
        // A section without `when` asks for reviews.
        let gate_only = resolve("g.yaml", Some(words("{gate: block_on_important}")));
        assert_eq!(gate_only.unwrap().when, ReviewWhen::Always);
        // No agent named: another vendor's, chosen per department.
        let s = resolve(
            "g.yaml",
            Some(words("{when: risky, fallback: same_vendor}")),
        )
        .unwrap();
        assert_eq!((s.agent, s.fallback), (None, ReviewFallback::SameVendor));
        for (bad, key) in [
            ("{agent: claude, when: sometimes}", "launcher.review.when"),
            ("{agent: claude, fallback: any}", "launcher.review.fallback"),
            ("{agent: claude, gate: strict}", "launcher.review.gate"),
            ("{agent: claude, min_lines: 0}", "launcher.review.min_lines"),
        ] {
            match resolve("g.yaml", Some(words(bad))) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
