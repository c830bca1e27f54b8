//! `launcher.landing` (issue 73): the checks the launcher itself runs on the
//! exact tree a Merge would put on the user's branch, before it lands.
//! `verify` lists shell command lines (a department's own
//! `landing: {verify: [...]}` wins over it; `[]` there says the department
//! lands unverified); `timeout_seconds` bounds them all together;
//! `on_failure` says what a red run does to the work: `send_back` (the
//! department gets the failing command and its output as a new turn) or
//! `wait` (it waits for the user with the failure shown). The commands come
//! from the file and run over an agent's work, so they always run confined
//! (`crate::landing`); a cloned file's still asks for trust.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The file's words under `launcher.landing`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct FileLanding {
    #[serde(default)]
    pub verify: Option<Vec<String>>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Read as text so a wrong word gets this file's own message.
    #[serde(default)]
    pub on_failure: Option<String>,
    #[serde(default)]
    pub parallel: Option<u64>,
}

/// The keys of `launcher.landing`, for did-you-mean.
pub const KEYS: &[&str] = &["verify", "timeout_seconds", "on_failure", "parallel"];

/// What a red landing does to the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// The department gets the failure as a new turn (the default).
    #[default]
    SendBack,
    /// The work waits for the user, the failure shown.
    Wait,
}

/// `launcher.landing`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LandingSettings {
    /// The checks every Merge's candidate passes; None: not set (a
    /// department's own list, else none).
    pub verify: Option<Vec<String>>,
    /// All the checks of one candidate together may take this long.
    pub timeout_seconds: u64,
    pub on_failure: OnFailure,
    /// How many candidates of the train are verified at once: the next
    /// one's, and those after it ahead of their turn (1: one at a time).
    pub parallel: usize,
}

/// The most `parallel` may say: each candidate is a build of its own.
pub const MAX_PARALLEL: u64 = 8;

/// `timeout_seconds` unless set: 30 minutes.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 1800;

impl Default for LandingSettings {
    fn default() -> Self {
        LandingSettings {
            verify: None,
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            on_failure: OnFailure::SendBack,
            parallel: 1,
        }
    }
}

/// Checks the file's words; `file` names the file in errors.
pub fn resolve(file: &str, words: Option<FileLanding>) -> Result<LandingSettings, ConfigError> {
    let d = LandingSettings::default();
    let Some(w) = words else { return Ok(d) };
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        file: file.to_string(),
        key: format!("launcher.landing.{key}"),
        message,
    };
    if let Some(lines) = &w.verify {
        check_lines(lines).map_err(|(i, m)| invalid(&format!("verify[{i}]"), m))?;
    }
    if w.timeout_seconds == Some(0) {
        return Err(invalid(
            "timeout_seconds",
            format!(
                "0 is not allowed: a number of seconds above 0 (did you mean \
                 {DEFAULT_TIMEOUT_SECONDS}, the default?)"
            ),
        ));
    }
    let on_failure = match w.on_failure.as_deref().map(str::trim) {
        None | Some("send_back") => OnFailure::SendBack,
        Some("wait") => OnFailure::Wait,
        Some(other) => {
            return Err(invalid(
                "on_failure",
                format!("{other:?} is not a choice: send_back (the default) or wait"),
            ))
        }
    };
    let parallel = match w.parallel {
        None => d.parallel,
        Some(n @ 1..=MAX_PARALLEL) => n as usize,
        Some(n) => {
            return Err(invalid(
                "parallel",
                format!(
                    "{n} is not allowed: 1 (one candidate at a time, the default) to \
                     {MAX_PARALLEL}"
                ),
            ))
        }
    };
    Ok(LandingSettings {
        verify: w.verify,
        timeout_seconds: w.timeout_seconds.unwrap_or(d.timeout_seconds),
        on_failure,
        parallel,
    })
}

/// An empty command line, by its index and what to write instead.
pub fn check_lines(lines: &[String]) -> Result<(), (usize, String)> {
    match lines.iter().position(|l| l.trim().is_empty()) {
        Some(i) => Err((
            i,
            "an empty command: a shell command line, such as \"cargo test --locked\"".into(),
        )),
        None => Ok(()),
    }
}

/// What a repository's own file sets here that needs the user's say-so.
pub fn trust_asks(w: &FileLanding) -> Vec<(&'static str, String, &'static str)> {
    match w.verify.as_deref() {
        None | Some([]) => Vec::new(),
        Some(lines) => vec![(
            "landing.verify",
            serde_json::to_string(lines).unwrap_or_default(),
            "runs these commands, confined, on every Merge's candidate: a green run lets it land",
        )],
    }
}

/// What departments' own `landing.verify` lists set that needs the user's
/// say-so: a list runs commands, and `[]` lets the work land unverified
/// whatever `launcher.landing` says.
pub fn department_trust_asks(departments: &[super::Department]) -> Vec<super::TrustAsk> {
    departments
        .iter()
        .filter_map(|d| {
            let lines = d.landing_verify.as_ref()?;
            Some(super::TrustAsk {
                key: format!("departments.{}.landing.verify", d.key),
                value: serde_json::to_string(lines).unwrap_or_default(),
                meaning: if lines.is_empty() {
                    "its work lands unverified, whatever launcher.landing says".into()
                } else {
                    "runs these commands, confined, on its Merges' candidates instead of \
                     launcher.landing's: a green run lets it land"
                        .into()
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cloned file's department that lands unverified, or with checks of
    /// its own, asks for trust (found by the review of issue 73).
    #[test]
    fn a_departments_own_landing_list_asks_for_trust() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("governance.yaml"),
            "departments:\n  lingyubu:\n    globs: [\"src/**\"]\n    landing: {verify: []}\n  \
             zhilibu:\n    globs: [\"docs/**\"]\n    landing: {verify: [\"true\"]}\n",
        )
        .unwrap();
        let c = super::super::Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let keys: Vec<&str> = c.trust.asks.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "departments.lingyubu.landing.verify",
                "departments.zhilibu.landing.verify"
            ],
            "{:?}",
            c.trust.asks
        );
        assert_eq!(c.departments[0].landing_verify, Some(Vec::new()));
    }

    #[test]
    fn defaults_words_and_refusals() {
        assert_eq!(resolve("g.yaml", None).unwrap(), LandingSettings::default());
        let words = FileLanding {
            verify: Some(vec!["cargo test --locked".into()]),
            timeout_seconds: Some(60),
            on_failure: Some("wait".into()),
            parallel: Some(3),
        };
        let s = resolve("g.yaml", Some(words.clone())).unwrap();
        assert_eq!(s.parallel, 3);
        assert_eq!(
            s.verify.as_deref(),
            Some(&["cargo test --locked".to_string()][..])
        );
        assert_eq!((s.timeout_seconds, s.on_failure), (60, OnFailure::Wait));
        assert_eq!(trust_asks(&words)[0].0, "landing.verify");
        let bad = |w: FileLanding| resolve("g.yaml", Some(w)).unwrap_err().to_string();
        assert!(bad(FileLanding {
            verify: Some(vec!["  ".into()]),
            ..Default::default()
        })
        .contains("launcher.landing.verify[0]: an empty command"));
        assert!(bad(FileLanding {
            timeout_seconds: Some(0),
            ..Default::default()
        })
        .contains("0 is not allowed"));
        assert!(bad(FileLanding {
            on_failure: Some("retry".into()),
            ..Default::default()
        })
        .contains("\"retry\" is not a choice: send_back (the default) or wait"));
        for n in [0, MAX_PARALLEL + 1] {
            assert!(bad(FileLanding {
                parallel: Some(n),
                ..Default::default()
            })
            .contains(&format!("launcher.landing.parallel: {n} is not allowed: 1")));
        }
        assert!(trust_asks(&FileLanding {
            verify: Some(Vec::new()),
            ..Default::default()
        })
        .is_empty());
    }
}
