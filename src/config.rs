//! Configuration: `governance.yaml` at the repository root plus environment overrides.
//!
//! This is the one source of truth for departments, risk rules, preflight scope and
//! launcher settings; the report and the launcher both read it from here. A file
//! written for the Python tool loads unchanged: keys we do not know are collected as
//! warnings, never errors, and a malformed file is an error naming file, line and key.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::agents::BackendWords;

mod agent_backend;
pub mod changes;
mod defaults;
mod defaults_file;
mod department_agents;
mod fitted;
mod isolation;
pub mod landing;
mod launcher_settings;
mod lenient;
mod located;
pub mod notify;
mod plain_errors;
pub mod provider_lifecycle;
pub mod pull_requests;
mod python_env;
mod python_signs;
pub mod remotes;
pub mod review;
pub mod trust;
pub mod worktree_ready;
pub use agent_backend::AgentSettings;
use defaults::menxia_department;
pub use defaults::{
    default_agent_command, default_departments, default_portability_paths, default_risk_rules,
};
pub use defaults_file::commented_defaults;
pub use fitted::{departments_for, landing_checks_for, portability_paths_for, risk_rules_for};
pub use isolation::{
    AttemptsChoose, AttemptsStop, Checkout, Isolation, IsolationSettings, MergeStyle, ScopeMode,
};
pub use python_env::ignored_python_variables;
pub use python_signs::python_tool_signs;

/// File name looked up at the repository root.
pub const CONFIG_FILE: &str = "governance.yaml";

/// The review/veto department: always assignable, never routed to by globs.
pub const MENXIA: &str = "menxia";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Department {
    pub key: String,
    pub title: String,
    pub duty: String,
    pub globs: Vec<String>,
    pub verify: Vec<String>,
    /// The host of `launcher.remotes` its sessions work on (`where:`);
    /// None: this machine.
    #[serde(rename = "where", skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// `where: {labels: [...]}` (issue 76): any host with every one of
    /// them and a free slot; empty when it names a host or none.
    #[serde(rename = "where_labels", skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Its own `landing: {verify: [...]}` (issue 73), over
    /// `launcher.landing.verify`; `[]`: its work lands unverified.
    #[serde(rename = "landing_verify", skip_serializing_if = "Option::is_none")]
    pub landing_verify: Option<Vec<String>>,
    /// Its assignments' attempts unless one says (issue 74).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<crate::model::AttemptsInput>,
    /// Its own `review: off | always | risky` (issue 75), over `launcher.review.when`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<review::ReviewWhen>,
    /// Its own agent, where it is not the launcher's, as written.
    #[serde(flatten)]
    pub agent: DepartmentAgent,
}

/// The words a department chooses its own agent with (`backend`,
/// `acp_agent`, `acp_command` under it), as written; resolved with the
/// launcher's in [`AgentSettings::departments`].
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DepartmentAgent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acp_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acp_command: Option<Vec<String>>,
}

impl DepartmentAgent {
    /// Whether the department names an agent of its own.
    pub fn is_named(&self) -> bool {
        self.backend.is_some() || self.acp_agent.is_some() || self.acp_command.is_some()
    }
}

pub use crate::model::RiskLevel;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RiskRule {
    pub name: String,
    pub level: RiskLevel,
    pub pattern: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub allow_pattern: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Preflight {
    pub portability_paths: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LauncherSettings {
    pub agent_command: Vec<String>,
    pub max_departments: usize,
    /// Live Zhongshu sessions at most (each is an agent process).
    pub max_zhongshu: usize,
    pub models: Vec<String>,
    pub zhongshu_model: String,
    pub department_model: String,
    pub require_plan_confirmation: bool,
    pub terminal_shells: Vec<String>,
    pub project_name: String,
    pub workflow_doc: String,
    pub department_stale_seconds: u64,
    /// A mailbox scan running this long makes `/healthz` answer 503.
    pub mailbox_stuck_seconds: u64,
    /// How agents are driven: the backend, with its own settings, and the network.
    pub agent: AgentSettings,
    /// Prices per model, to show what sessions cost (none: tokens only).
    pub model_prices: std::collections::BTreeMap<String, ModelPrice>,
    /// Where departments work and how their changes come back.
    pub isolation: IsolationSettings,
    /// No new department starts while the 5-hour window is this full (percent).
    pub quota_reserve_percent: f64,
    /// What one plan's departments may spend, in US dollars (priced by
    /// `model_prices`) and in tokens; none: no limit.
    pub plan_budget_usd: Option<f64>,
    pub plan_budget_tokens: Option<u64>,
    /// `launcher.pull_requests` (issue 38).
    pub pull_requests: pull_requests::PullRequestSettings,
    /// `launcher.worktree` (issue 52): set-up, teardown and copied files.
    pub worktree: worktree_ready::WorktreeReady,
    /// `launcher.remotes` (issue 53): other machines departments may work on.
    pub remotes: Vec<remotes::Remote>,
    /// `launcher.notify` (issue 54): notices away from the desk.
    pub notify: notify::NotifySettings,
    /// `launcher.landing` (issue 73): the checks a Merge's candidate passes.
    pub landing: landing::LandingSettings,
    /// `launcher.review` (issue 75): a second opinion on recorded work.
    pub review: review::ReviewSettings,
    /// The user's `ssh` that reaches them (`CODEX_GOVERNANCE_SSH`, else
    /// `ssh` from PATH's absolute folders).
    pub ssh_program: String,
}

/// What a model costs, in US dollars per million tokens (`launcher.model_prices`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input: f64,
    /// Cached input tokens; the input price when not given.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Output tokens (reasoning tokens are billed as output and counted in them).
    pub output: f64,
}

/// The loaded configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Routed departments in file order (menxia excluded unless the file names it).
    pub departments: Vec<Department>,
    pub risk_rules: Vec<RiskRule>,
    pub preflight: Preflight,
    pub launcher: LauncherSettings,
    /// The file this came from, if there was one.
    pub source: Option<PathBuf>,
    /// The Python tool's installed file (`tools/codex_governance/governance.yaml`)
    /// when it exists beside the root's, which wins: it is not read.
    pub shadowed: Option<PathBuf>,
    /// What the file sets that needs the user's say-so before it runs.
    pub trust: trust::ConfigTrust,
    /// Unknown keys and other non-fatal remarks, for the log.
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// The file's text as loaded ("" without a file): what a later edit is
    /// compared with (`changes::Watch`).
    #[serde(skip)]
    pub text: String,
}

/// One setting a repository's file makes that needs the user's say-so
/// (each part of the configuration names its own; `trust` gathers them).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrustAsk {
    /// `launcher.<key>`.
    pub key: String,
    /// What it sets, as written.
    pub value: String,
    /// What it means, in a few words.
    pub meaning: String,
}

/// The `file` of a [`ConfigError`] that an environment variable caused.
pub const ENVIRONMENT: &str = "the environment";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {key}: {message}")]
    Malformed {
        file: String,
        line: usize,
        key: String,
        message: String,
    },
    #[error("environment variable {name}={value:?}: {message}")]
    Env {
        name: String,
        value: String,
        message: String,
    },
    #[error("{file}: {key}: {message}")]
    Invalid {
        file: String,
        key: String,
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
struct FileLauncher {
    #[serde(default)]
    agent_command: Option<Vec<String>>,
    #[serde(default)]
    max_departments: Option<usize>,
    #[serde(default)]
    max_zhongshu: Option<usize>,
    #[serde(default)]
    models: Option<Vec<String>>,
    #[serde(default)]
    require_plan_confirmation: Option<bool>,
    #[serde(default)]
    terminal_shells: Option<Vec<String>>,
    #[serde(default)]
    backend: Option<String>,
    #[serde(default)]
    agent_network: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    agent_env: Option<Vec<String>>,
    #[serde(default)]
    model_prices: Option<std::collections::BTreeMap<String, ModelPrice>>,
    #[serde(default)]
    isolation: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    auto_integrate: Option<bool>,
    #[serde(default)]
    worktree_checkout: Option<String>,
    #[serde(default)]
    worktree_include: Option<Vec<String>>,
    #[serde(default)]
    worktree_max_file_bytes: Option<u64>,
    #[serde(default)]
    merge: Option<String>,
    #[serde(default)]
    keep_discarded_days: Option<u32>,
    #[serde(default)]
    attempts_choose: Option<String>,
    #[serde(default)]
    attempts_stop: Option<String>,
    #[serde(default)]
    quota_reserve_percent: Option<f64>,
    #[serde(default)]
    plan_budget_usd: Option<f64>,
    #[serde(default)]
    plan_budget_tokens: Option<u64>,
    #[serde(default)]
    pull_requests: Option<pull_requests::FilePullRequests>,
    #[serde(default)]
    worktree: Option<worktree_ready::FileWorktree>,
    #[serde(default)]
    remotes: Option<std::collections::BTreeMap<String, remotes::FileRemote>>,
    #[serde(default)]
    notify: Option<notify::FileNotify>,
    #[serde(default)]
    landing: Option<landing::FileLanding>,
    #[serde(default)]
    review: Option<review::FileReview>,
}

#[derive(Debug, Default, Deserialize)]
struct FileConfig {
    /// Read leniently, as the Python tool reads them (`lenient.rs`).
    #[serde(default)]
    departments: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    risk_rules: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    preflight: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    launcher: Option<FileLauncher>,
    /// The `launcher:` words only the backends know, read by them.
    #[serde(skip)]
    backends: BackendWords,
    /// Keys of the Python tool's file that only it reads.
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    #[allow(dead_code)]
    provinces: Option<serde_yaml_ng::Value>,
}

/// The most of a `governance.yaml` that is read (a larger one is refused).
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The Python tool's places, in its order: the repository root, then
/// `tools/codex_governance/governance.yaml`; the root's name when neither exists.
pub fn config_path(repo: &Path) -> PathBuf {
    let candidates = [repo.join(CONFIG_FILE), installed_config_path(repo)];
    candidates
        .iter()
        .find(|p| p.exists())
        .unwrap_or(&candidates[0])
        .clone()
}

/// Where the Python tool's installed layout keeps its file.
pub fn installed_config_path(repo: &Path) -> PathBuf {
    repo.join("tools")
        .join("codex_governance")
        .join(CONFIG_FILE)
}

/// The installed file when a root file exists too (the root's wins, as in
/// the Python tool, and the installed one is not read).
pub fn shadowed_config(repo: &Path) -> Option<PathBuf> {
    let installed = installed_config_path(repo);
    (repo.join(CONFIG_FILE).exists() && installed.exists()).then_some(installed)
}

/// Where configuration comes from: the repository and an environment.
pub type Env = HashMap<String, String>;

pub fn process_env() -> Env {
    std::env::vars().collect()
}

impl Config {
    /// Loads `governance.yaml` from `repo` (if present) with overrides from the process environment.
    pub fn load(repo: &Path) -> Result<Config, ConfigError> {
        Config::load_with_env(repo, &process_env())
    }

    /// Loads with an explicit environment (tests pass their own).
    pub fn load_with_env(repo: &Path, env: &Env) -> Result<Config, ConfigError> {
        let path = config_path(repo);
        let file_name = path.display().to_string();
        let mut text = String::new();
        let (file, source, mut warnings, trust) =
            match crate::files::read_regular_text(&path, MAX_CONFIG_BYTES) {
                Ok(read) => {
                    text = read;
                    let (file, warnings) = parse_file(&path.display().to_string(), &text)?;
                    let trust = trust::of(
                        file.launcher.as_ref().unwrap_or(&FileLauncher::default()),
                        &file.backends,
                        text.as_bytes(),
                    );
                    (file, Some(path), warnings, trust)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => (
                    FileConfig::default(),
                    None,
                    Vec::new(),
                    trust::ConfigTrust::default(),
                ),
                Err(source) => {
                    return Err(ConfigError::Read {
                        file: path.display().to_string(),
                        source,
                    })
                }
            };
        // What the lenient readers say names a key: said with its line.
        // Without departments, risk rules or preflight paths in a file (or
        // without a file), what `init` would write for this repository
        // applies: the Python tool's own where it shows the Python tool.
        let python = std::cell::OnceCell::new();
        let python = || *python.get_or_init(|| python_tool_signs(repo).is_some());
        let mut said = Vec::new();
        let departments = lenient::departments(
            file.departments.as_ref(),
            || fitted::fitted_departments(repo, python()),
            &mut said,
        );
        for d in &departments {
            if !crate::ids::is_valid_id(&d.key) {
                let meant: String = d
                    .key
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .take(128)
                    .collect();
                let error = ConfigError::Invalid {
                    file: file_name,
                    key: format!("departments.{}", d.key),
                    message: format!(
                        "not allowed as a department key: letters, digits, _ and -, at most \
                         128 (did you mean {meant}?)"
                    ),
                };
                return Err(plain_errors::at_line(error, &text));
            }
        }
        let risk_rules = lenient::risk_rules(
            file.risk_rules.as_ref(),
            || fitted::fitted_risk_rules(python()),
            &mut said,
        );
        let portability_paths = lenient::portability_paths(file.preflight.as_ref());
        if !text.is_empty() {
            check_globs(
                &file_name,
                &text,
                &departments,
                &risk_rules,
                &portability_paths,
                &file.launcher,
            )?;
        }
        let portability_paths =
            portability_paths.unwrap_or_else(|| fitted::fitted_portability_paths(python()));
        let department_words = file.backends.clone();
        let mut launcher = launcher_settings::resolve(
            file.launcher.unwrap_or_default(),
            file.backends,
            env,
            repo,
            &file_name,
            &mut said,
        )
        .map_err(|e| plain_errors::at_line(e, &text))?;
        check_placements(&file_name, &departments, &launcher.remotes)
            .map_err(|e| plain_errors::at_line(e, &text))?;
        launcher.agent.departments = department_agents::resolve(
            &file_name,
            &departments,
            &department_words,
            &launcher.agent.backend,
            env,
        )
        .map_err(|e| plain_errors::at_line(e, &text))?;
        let mut trust = trust;
        trust
            .asks
            .extend(department_agents::trust_asks(&departments));
        trust
            .asks
            .extend(landing::department_trust_asks(&departments));
        warnings.extend(
            said.iter()
                .map(|w| plain_errors::located(&file_name, &text, w)),
        );

        Ok(Config {
            departments,
            risk_rules,
            preflight: Preflight { portability_paths },
            launcher,
            shadowed: shadowed_config(repo),
            source,
            trust: trust::from_env(trust, env),
            warnings,
            text,
        })
    }

    /// Which file is read when both the root's and the installed one exist,
    /// in words (said at start and shown in the dashboard); None otherwise.
    pub fn shadow_note(&self) -> Option<String> {
        let shadowed = self.shadowed.as_ref()?;
        let used = self
            .source
            .as_ref()
            .map_or_else(|| CONFIG_FILE.into(), |p| p.display().to_string());
        Some(format!(
            "two configuration files: {used} is read and {} is not (the root's file wins, as \
             in the Python tool): its departments and risk rules do not apply. Merge it into \
             the root's file, or delete one of the two.",
            shadowed.display()
        ))
    }

    /// Every department an assignment may name: menxia first, then the routed ones.
    pub fn assignable_departments(&self) -> Vec<Department> {
        let mut all = Vec::with_capacity(self.departments.len() + 1);
        if !self.departments.iter().any(|d| d.key == MENXIA) {
            all.push(menxia_department());
        }
        all.extend(self.departments.iter().cloned());
        all
    }

    /// The department with this key, menxia included.
    pub fn department(&self, key: &str) -> Option<Department> {
        self.departments
            .iter()
            .find(|d| d.key == key)
            .cloned()
            .or_else(|| (key == MENXIA).then(menxia_department))
    }
}

/// Parses `governance.yaml` text without loading anything else; Ok holds the warnings.
/// Used by fuzzing and by tools that lint a file.
pub fn check_yaml(file: &str, text: &str) -> Result<Vec<String>, ConfigError> {
    parse_file(file, text).map(|(_, warnings)| warnings)
}

/// Parses the YAML text; unknown keys become warnings, anything malformed an
/// error with line and key. The backends read their own `launcher:` words
/// from the same text; of two errors, the one earlier in the file is said.
fn parse_file(file: &str, text: &str) -> Result<(FileConfig, Vec<String>), ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Ok((FileConfig::default(), Vec::new()));
    }
    let mut unknown = Vec::new();
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let mut on_unknown = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let ignoring = serde_ignored::Deserializer::new(de, &mut on_unknown);
    let parsed: Result<Option<FileConfig>, _> = serde_path_to_error::deserialize(ignoring);
    let backends =
        BackendWords::read(text).map_err(|e| (e.line, malformed(file, e.line, e.key, &e.message)));
    match (parsed, backends) {
        (Ok(cfg), Ok(backends)) => {
            let warnings = unknown
                .into_iter()
                .filter(|key| !plain_errors::is_backend_key(key))
                .map(|key| {
                    plain_errors::located(file, text, &plain_errors::unknown_key(&key, None))
                })
                .collect();
            let cfg = FileConfig {
                backends,
                ..cfg.unwrap_or_default()
            };
            Ok((cfg, warnings))
        }
        (Ok(_), Err((_, e))) => Err(e),
        (Err(err), backends) => {
            let key = err.path().to_string();
            let inner = err.into_inner();
            let line = inner.location().map(|l| l.line()).unwrap_or(0);
            match backends {
                Err((earlier, e)) if earlier > 0 && earlier < line => Err(e),
                _ => Err(malformed(file, line, key, &inner.to_string())),
            }
        }
    }
}

/// A value the YAML readers refused, in words.
fn malformed(file: &str, line: usize, key: String, message: &str) -> ConfigError {
    let message = plain_errors::in_words(message, &key);
    ConfigError::Malformed {
        file: file.into(),
        line,
        key: if key == "." {
            "(top level)".into()
        } else {
            key
        },
        message,
    }
}

/// Every glob the file gives, checked before anything uses it: one `[`
/// left open is an error naming the file, the line, the key and the pattern.
fn check_globs(
    file: &str,
    text: &str,
    departments: &[Department],
    rules: &[RiskRule],
    portability: &Option<Vec<String>>,
    launcher: &Option<FileLauncher>,
) -> Result<(), ConfigError> {
    let mut all: Vec<(String, &str)> = Vec::new();
    for d in departments {
        for (i, g) in d.globs.iter().enumerate() {
            all.push((format!("departments.{}.globs[{i}]", d.key), g));
        }
    }
    for (i, r) in rules.iter().enumerate() {
        all.push((format!("risk_rules[{i}].pattern"), &r.pattern));
        if let Some(a) = &r.allow_pattern {
            all.push((format!("risk_rules[{i}].allow_pattern"), a));
        }
    }
    for (i, p) in portability.iter().flatten().enumerate() {
        all.push((format!("preflight.portability_paths[{i}]"), p));
    }
    let include = launcher.as_ref().and_then(|l| l.worktree_include.as_ref());
    for (i, p) in include.into_iter().flatten().enumerate() {
        all.push((format!("launcher.worktree_include[{i}]"), p));
    }
    let copy = launcher
        .as_ref()
        .and_then(|l| l.worktree.as_ref())
        .and_then(|w| w.copy.as_ref());
    for (i, p) in copy.into_iter().flatten().enumerate() {
        all.push((format!("launcher.worktree.copy[{i}]"), p));
    }
    for (key, pattern) in all {
        if let Some(why) = located::glob_problem(pattern) {
            return Err(ConfigError::Malformed {
                file: file.into(),
                line: located::line_of(text, &key).unwrap_or(0),
                key,
                message: format!("the glob {pattern:?} is not valid: {why}"),
            });
        }
    }
    Ok(())
}

/// Every `departments.KEY.where` names a host of `launcher.remotes`.
fn check_placements(
    file: &str,
    departments: &[Department],
    remotes: &[remotes::Remote],
) -> Result<(), ConfigError> {
    for d in departments {
        if let Some(why) = unlabelled(&d.labels, remotes) {
            return Err(ConfigError::Invalid {
                file: file.to_string(),
                key: format!("departments.{}.where.labels", d.key),
                message: why,
            });
        }
        let Some(name) = &d.remote else { continue };
        if !remotes.iter().any(|r| &r.name == name) {
            let known: Vec<&str> = remotes.iter().map(|r| r.name.as_str()).collect();
            let hint = match crate::suggest::closest(name, &known) {
                Some(m) => format!(" (did you mean {m}?)"),
                None if known.is_empty() => " (no host is named under launcher.remotes)".into(),
                None => format!(" (the hosts are {})", known.join(", ")),
            };
            return Err(ConfigError::Invalid {
                file: file.to_string(),
                key: format!("departments.{}.where", d.key),
                message: format!("{name} is not a host of launcher.remotes{hint}"),
            });
        }
    }
    Ok(())
}

/// Why no host of `remotes` can take a department placed by `labels`, if
/// none can (every label on one host).
fn unlabelled(labels: &[String], remotes: &[remotes::Remote]) -> Option<String> {
    if labels.is_empty()
        || remotes
            .iter()
            .any(|r| labels.iter().all(|l| r.labels.contains(l)))
    {
        return None;
    }
    let known: std::collections::BTreeSet<&str> = remotes
        .iter()
        .flat_map(|r| r.labels.iter().map(String::as_str))
        .collect();
    Some(match known.is_empty() {
        true => format!(
            "no host of launcher.remotes has the labels {}: no host has labels",
            labels.join(", ")
        ),
        false => format!(
            "no host of launcher.remotes has the labels {} (the hosts' labels are {})",
            labels.join(", "),
            known.into_iter().collect::<Vec<_>>().join(", ")
        ),
    })
}

impl fmt::Display for Department {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.key, self.title)
    }
}

#[cfg(test)]
mod tests;
