//! Where departments work and how their changes come back (issue 26):
//! `launcher.isolation` (a git worktree per department, or the one shared
//! working tree), `launcher.scope` (out-of-scope changes warn or block
//! integration), `launcher.auto_integrate` (a Zhongshu's proposed integration
//! runs without the user), and what a worktree checks out.

use serde::Serialize;

use super::{ConfigError, Env};

/// Where a department works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Its own git worktree on its own branch (the default).
    Worktree,
    /// The repository's working tree, shared by everyone (the Python tool's way).
    Shared,
}

/// What an out-of-scope change does to integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeMode {
    /// A REVIEW finding; integration goes ahead.
    Warn,
    /// A REVIEW finding; integration needs the user's explicit override.
    Block,
}

/// What a department's worktree checks out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Checkout {
    /// Everything, unless the tree is large and the department has a scope.
    Auto,
    /// Everything.
    Full,
    /// The department's scope, the files at the root and `worktree_include`.
    Sparse,
}

/// What a Merge writes on the user's branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeStyle {
    /// One commit per department attempt, its message from the department's
    /// summary (the default).
    Squash,
    /// A merge commit that keeps the department's own commits.
    History,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IsolationSettings {
    pub isolation: Isolation,
    pub scope: ScopeMode,
    pub auto_integrate: bool,
    pub checkout: Checkout,
    /// Paths every sparse worktree also checks out (what builds need).
    pub include: Vec<String>,
    /// Largest file recorded from a worktree; a larger one stays there,
    /// named as a finding (nothing that size is hashed into `.git`).
    pub max_file_bytes: u64,
    pub merge: MergeStyle,
    /// Days a discarded department's branch is kept before
    /// `worktrees --prune` deletes it.
    pub keep_discarded_days: u32,
    /// Who chooses among an assignment's attempts (issue 74).
    pub attempts_choose: AttemptsChoose,
    /// Whether the other attempts stop once one is verified.
    pub attempts_stop: AttemptsStop,
}

/// `launcher.attempts_choose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptsChoose {
    /// You do (the default).
    User,
    /// The launcher, when exactly one attempt's own verification is green
    /// and its scope clean; else you.
    Verified,
}

/// `launcher.attempts_stop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptsStop {
    /// Every attempt runs to its end (the default).
    Never,
    /// The others stop once one attempt's verification is green (their
    /// work kept for review).
    FirstVerified,
}

/// `launcher.worktree_max_file_bytes` unless set: 50 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;

impl Default for IsolationSettings {
    fn default() -> Self {
        IsolationSettings {
            isolation: Isolation::Worktree,
            scope: ScopeMode::Warn,
            auto_integrate: false,
            checkout: Checkout::Auto,
            include: Vec::new(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            merge: MergeStyle::Squash,
            keep_discarded_days: 7,
            attempts_choose: AttemptsChoose::User,
            attempts_stop: AttemptsStop::Never,
        }
    }
}

/// The file's words for these settings.
#[derive(Debug, Default)]
pub struct FileWords {
    pub isolation: Option<String>,
    pub scope: Option<String>,
    pub auto_integrate: Option<bool>,
    pub worktree_checkout: Option<String>,
    pub worktree_include: Option<Vec<String>>,
    pub worktree_max_file_bytes: Option<u64>,
    pub merge: Option<String>,
    pub keep_discarded_days: Option<u32>,
    pub attempts_choose: Option<String>,
    pub attempts_stop: Option<String>,
}

/// The words each choice of `launcher:` takes.
const ISOLATIONS: &[(&str, Isolation)] = &[
    ("worktree", Isolation::Worktree),
    ("shared", Isolation::Shared),
];
const SCOPES: &[(&str, ScopeMode)] = &[("warn", ScopeMode::Warn), ("block", ScopeMode::Block)];
const CHECKOUTS: &[(&str, Checkout)] = &[
    ("auto", Checkout::Auto),
    ("full", Checkout::Full),
    ("sparse", Checkout::Sparse),
];
const MERGES: &[(&str, MergeStyle)] = &[
    ("squash", MergeStyle::Squash),
    ("history", MergeStyle::History),
];
const CHOOSERS: &[(&str, AttemptsChoose)] = &[
    ("user", AttemptsChoose::User),
    ("verified", AttemptsChoose::Verified),
];
const STOPS: &[(&str, AttemptsStop)] = &[
    ("never", AttemptsStop::Never),
    ("first_verified", AttemptsStop::FirstVerified),
];

/// Resolves the file's words, `CODEX_GOVERNANCE_ISOLATION` and
/// `CODEX_GOVERNANCE_SCOPE` winning over them.
pub fn resolve(file: &str, words: FileWords, env: &Env) -> Result<IsolationSettings, ConfigError> {
    let d = IsolationSettings::default();
    // A variable's value, else the file's: with where it came from.
    let word = |env_name: &str, key: &str, from_file: Option<String>| match env.get(env_name) {
        Some(v) => Some((
            v.clone(),
            super::ENVIRONMENT.to_string(),
            env_name.to_string(),
        )),
        None => from_file.map(|v| (v, file.to_string(), format!("launcher.{key}"))),
    };
    let isolation = match word("CODEX_GOVERNANCE_ISOLATION", "isolation", words.isolation) {
        None => d.isolation,
        Some((v, f, k)) => one_of(&f, &k, Some(&v), d.isolation, ISOLATIONS)?,
    };
    let scope = match word("CODEX_GOVERNANCE_SCOPE", "scope", words.scope) {
        None => d.scope,
        Some((v, f, k)) => one_of(&f, &k, Some(&v), d.scope, SCOPES)?,
    };
    let key = |k: &str| format!("launcher.{k}");
    let checkout = words.worktree_checkout.as_deref();
    let checkout = one_of(
        file,
        &key("worktree_checkout"),
        checkout,
        d.checkout,
        CHECKOUTS,
    )?;
    let merge = one_of(file, &key("merge"), words.merge.as_deref(), d.merge, MERGES)?;
    if words.worktree_max_file_bytes == Some(0) {
        return Err(ConfigError::Invalid {
            file: file.to_string(),
            key: key("worktree_max_file_bytes"),
            message: format!(
                "0 is not allowed: a size in bytes above 0 (did you mean {DEFAULT_MAX_FILE_BYTES}, \
                 the default?)"
            ),
        });
    }
    let choose = words.attempts_choose.as_deref();
    let attempts_choose = one_of(
        file,
        &key("attempts_choose"),
        choose,
        d.attempts_choose,
        CHOOSERS,
    )?;
    let stop = words.attempts_stop.as_deref();
    let attempts_stop = one_of(file, &key("attempts_stop"), stop, d.attempts_stop, STOPS)?;
    Ok(IsolationSettings {
        attempts_choose,
        attempts_stop,
        isolation,
        scope,
        auto_integrate: words.auto_integrate.unwrap_or(d.auto_integrate),
        checkout,
        include: words.worktree_include.unwrap_or_default(),
        max_file_bytes: words.worktree_max_file_bytes.unwrap_or(d.max_file_bytes),
        merge,
        keep_discarded_days: words.keep_discarded_days.unwrap_or(d.keep_discarded_days),
    })
}

/// `value` (trimmed) as one of `choices`, `default` when absent; else the
/// error naming `key` in `file` with what is allowed.
fn one_of<T: Copy>(
    file: &str,
    key: &str,
    value: Option<&str>,
    default: T,
    choices: &[(&str, T)],
) -> Result<T, ConfigError> {
    let Some(v) = value else { return Ok(default) };
    match choices.iter().find(|(word, _)| *word == v.trim()) {
        Some((_, chosen)) => Ok(*chosen),
        None => {
            let allowed: Vec<&str> = choices.iter().map(|(word, _)| *word).collect();
            Err(invalid(file, key, v, &allowed))
        }
    }
}

fn invalid(file: &str, key: &str, value: &str, allowed: &[&str]) -> ConfigError {
    ConfigError::Invalid {
        file: file.to_string(),
        key: key.to_string(),
        message: crate::suggest::one_of(value, allowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_words_and_the_environment() {
        let s = resolve("g.yaml", FileWords::default(), &Env::new()).unwrap();
        assert_eq!(s, IsolationSettings::default());
        assert_eq!(s.isolation, Isolation::Worktree);
        let words = FileWords {
            isolation: Some("shared".into()),
            scope: Some("block".into()),
            auto_integrate: Some(true),
            worktree_checkout: Some("sparse".into()),
            worktree_include: Some(vec!["Cargo.*".into()]),
            worktree_max_file_bytes: Some(1000),
            merge: Some("history".into()),
            keep_discarded_days: Some(0),
            attempts_choose: Some("verified".into()),
            attempts_stop: Some("first_verified".into()),
        };
        let s = resolve("g.yaml", words, &Env::new()).unwrap();
        assert_eq!(
            (s.attempts_choose, s.attempts_stop),
            (AttemptsChoose::Verified, AttemptsStop::FirstVerified)
        );
        let wrong = FileWords {
            attempts_choose: Some("planner".into()),
            ..FileWords::default()
        };
        let said = resolve("g.yaml", wrong, &Env::new())
            .unwrap_err()
            .to_string();
        assert!(said.contains("launcher.attempts_choose"), "{said}");
        assert_eq!(s.merge, MergeStyle::History);
        assert_eq!(s.keep_discarded_days, 0);
        assert_eq!(
            (s.isolation, s.scope, s.auto_integrate, s.checkout),
            (Isolation::Shared, ScopeMode::Block, true, Checkout::Sparse)
        );
        assert_eq!(s.max_file_bytes, 1000);
        let zero = FileWords {
            worktree_max_file_bytes: Some(0),
            ..Default::default()
        };
        let e = resolve("g.yaml", zero, &Env::new()).unwrap_err();
        assert!(e.to_string().contains("worktree_max_file_bytes"), "{e}");
        let rebase = FileWords {
            merge: Some("rebase".into()),
            ..Default::default()
        };
        let e = resolve("g.yaml", rebase, &Env::new()).unwrap_err();
        assert!(e.to_string().contains("squash, history"), "{e}");
        let env = Env::from([("CODEX_GOVERNANCE_ISOLATION".into(), "worktree".into())]);
        let words = FileWords {
            isolation: Some("shared".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve("g.yaml", words, &env).unwrap().isolation,
            Isolation::Worktree
        );
        let bad = FileWords {
            scope: Some("maybe".into()),
            ..Default::default()
        };
        let e = resolve("g.yaml", bad, &Env::new()).unwrap_err().to_string();
        assert!(
            e.contains("launcher.scope") && e.contains("warn, block"),
            "{e}"
        );
    }
}
