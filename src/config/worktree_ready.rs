//! `launcher.worktree` (issue 52): what makes a new department worktree
//! ready for its checks before its agent starts. `setup` commands run in it
//! (as the user, through the platform's shell), `teardown` commands run
//! before it is removed, and `copy` brings untracked or ignored files of the
//! user's tree (`.env`, local settings) into it. The commands come only from
//! this file: a cloned repository's file must be trusted before they run,
//! and a copy of secret-looking files is named in that trust prompt.
//! `caches` says whether a new worktree gets the caches that make its first
//! build fast (`crate::worktrees::caches`).

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The file's words under `launcher.worktree`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct FileWorktree {
    #[serde(default)]
    pub setup: Option<Vec<String>>,
    #[serde(default)]
    pub setup_timeout_seconds: Option<u64>,
    #[serde(default)]
    pub teardown: Option<Vec<String>>,
    #[serde(default)]
    pub copy: Option<Vec<String>>,
    /// Read as text so a wrong word gets this file's own message.
    #[serde(default)]
    pub caches: Option<String>,
}

/// The keys of `launcher.worktree`, for did-you-mean.
pub const KEYS: &[&str] = &[
    "setup",
    "setup_timeout_seconds",
    "teardown",
    "copy",
    "caches",
];

/// `launcher.worktree.caches`: whether a new department worktree gets the
/// caches of its ecosystems (a copy of the user's Cargo `target/`, set-up
/// commands that take packages from the package manager's own store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Caches {
    #[default]
    Auto,
    Off,
}

/// How a new worktree is made ready, and what runs before one goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorktreeReady {
    /// Shell command lines run in order in a new worktree; the first that
    /// fails stops the rest.
    pub setup: Vec<String>,
    /// All of `setup` together may take this long.
    pub setup_timeout_seconds: u64,
    /// Shell command lines run in a worktree before it is removed.
    pub teardown: Vec<String>,
    /// Globs of untracked or ignored files copied from the user's tree.
    pub copy: Vec<String>,
    pub caches: Caches,
}

pub const DEFAULT_SETUP_TIMEOUT_SECONDS: u64 = 600;

impl Default for WorktreeReady {
    fn default() -> Self {
        WorktreeReady {
            setup: Vec::new(),
            setup_timeout_seconds: DEFAULT_SETUP_TIMEOUT_SECONDS,
            teardown: Vec::new(),
            copy: Vec::new(),
            caches: Caches::Auto,
        }
    }
}

/// Checks the file's words; `file` names the file in errors.
pub fn resolve(file: &str, words: Option<FileWorktree>) -> Result<WorktreeReady, ConfigError> {
    let d = WorktreeReady::default();
    let Some(w) = words else { return Ok(d) };
    let invalid = |key: String, message: String| ConfigError::Invalid {
        file: file.to_string(),
        key: format!("launcher.worktree.{key}"),
        message,
    };
    for (name, lines) in [("setup", &w.setup), ("teardown", &w.teardown)] {
        for (i, line) in lines.iter().flatten().enumerate() {
            if line.trim().is_empty() {
                return Err(invalid(
                    format!("{name}[{i}]"),
                    "an empty command: a shell command line, such as \"npm ci\"".into(),
                ));
            }
        }
    }
    if w.setup_timeout_seconds == Some(0) {
        return Err(invalid(
            "setup_timeout_seconds".into(),
            format!(
                "0 is not allowed: a number of seconds above 0 (did you mean \
                 {DEFAULT_SETUP_TIMEOUT_SECONDS}, the default?)"
            ),
        ));
    }
    for (i, glob) in w.copy.iter().flatten().enumerate() {
        let parts: Vec<&str> = glob.split(['/', '\\']).collect();
        if glob.starts_with('/') || glob.contains(':') || parts.contains(&"..") {
            return Err(invalid(
                format!("copy[{i}]"),
                format!(
                    "{glob:?} is not allowed: a glob inside the repository, such as .env or \
                     config/*.local.json"
                ),
            ));
        }
    }
    let caches = match w.caches.as_deref().map(str::trim) {
        None | Some("auto") => Caches::Auto,
        Some("off") => Caches::Off,
        Some(other) => {
            return Err(invalid(
                "caches".into(),
                format!("{other:?} is not a choice: auto (the default) or off"),
            ))
        }
    };
    Ok(WorktreeReady {
        caches,
        setup: w.setup.unwrap_or_default(),
        setup_timeout_seconds: w.setup_timeout_seconds.unwrap_or(d.setup_timeout_seconds),
        teardown: w.teardown.unwrap_or_default(),
        copy: w.copy.unwrap_or_default(),
    })
}

/// What a repository's own file sets here that needs the user's say-so:
/// (key, value, meaning). Commands run as the user; copied files that look
/// like secrets are named (the agent reads its worktree).
pub fn trust_asks(w: &FileWorktree) -> Vec<(&'static str, String, String)> {
    let mut asks = Vec::new();
    // One command as written; several as a list, so ["a ; b"] and ["a", "b"]
    // never read the same.
    let lines = |v: &Option<Vec<String>>| match v.as_deref() {
        None | Some([]) => None,
        Some([one]) => Some(one.clone()),
        Some(many) => Some(serde_json::to_string(many).unwrap_or_default()),
    };
    if let Some(setup) = lines(&w.setup) {
        asks.push((
            "worktree.setup",
            setup,
            "runs these commands, as you, in every new department worktree: on this machine, \
             or on the host or in the container the department works in"
                .into(),
        ));
    }
    if let Some(teardown) = lines(&w.teardown) {
        asks.push((
            "worktree.teardown",
            teardown,
            "runs these commands, as you, before a department worktree is removed: on this \
             machine, or on its host or in its container"
                .into(),
        ));
    }
    let secret: Vec<&str> = w
        .copy
        .iter()
        .flatten()
        .filter(|g| crate::secret::glob_takes_secret_looking(g))
        .map(String::as_str)
        .collect();
    if !secret.is_empty() {
        asks.push((
            "worktree.copy",
            secret.join(", "),
            format!(
                "copies files with secret-looking names ({}) from your tree into every \
                 department's worktree, where its agent reads them",
                secret.join(", ")
            ),
        ));
    }
    asks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_checks_and_trust() {
        assert_eq!(resolve("g.yaml", None).unwrap(), WorktreeReady::default());
        let words = FileWorktree {
            setup: Some(vec!["npm ci".into()]),
            setup_timeout_seconds: Some(5),
            teardown: Some(vec!["rm -rf node_modules".into()]),
            copy: Some(vec![".env".into(), "config/*.local.json".into()]),
            caches: None,
        };
        let s = resolve("g.yaml", Some(words.clone())).unwrap();
        assert_eq!((s.setup.len(), s.setup_timeout_seconds), (1, 5));
        let keys: Vec<&str> = trust_asks(&words).iter().map(|a| a.0).collect();
        assert_eq!(
            keys,
            ["worktree.setup", "worktree.teardown", "worktree.copy"]
        );
        assert_eq!(trust_asks(&words)[2].1, ".env", "only the secret-looking");
        for (bad, key) in [
            (
                FileWorktree {
                    setup_timeout_seconds: Some(0),
                    ..Default::default()
                },
                "launcher.worktree.setup_timeout_seconds",
            ),
            (
                FileWorktree {
                    setup: Some(vec![" ".into()]),
                    ..Default::default()
                },
                "launcher.worktree.setup[0]",
            ),
            (
                FileWorktree {
                    copy: Some(vec!["../other/.env".into()]),
                    ..Default::default()
                },
                "launcher.worktree.copy[0]",
            ),
        ] {
            let e = resolve("g.yaml", Some(bad)).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn caches_are_auto_unless_off_and_a_wrong_word_says_the_choices() {
        let with = |word: &str| FileWorktree {
            caches: Some(word.into()),
            ..Default::default()
        };
        assert_eq!(resolve("g.yaml", None).unwrap().caches, Caches::Auto);
        assert_eq!(
            resolve("g.yaml", Some(with("off"))).unwrap().caches,
            Caches::Off
        );
        assert_eq!(
            resolve("g.yaml", Some(with("auto"))).unwrap().caches,
            Caches::Auto
        );
        let e = resolve("g.yaml", Some(with("shared")))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("launcher.worktree.caches")
                && e.contains("\"shared\" is not a choice: auto (the default) or off"),
            "{e}"
        );
    }
}
