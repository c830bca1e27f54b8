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

mod agent_backend;
mod defaults_file;
mod lenient;
mod plain_errors;
pub use agent_backend::AgentBackend;
pub use defaults_file::commented_defaults;

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
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    High,
    Medium,
    Low,
}

impl RiskLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::High => "high",
            RiskLevel::Medium => "medium",
            RiskLevel::Low => "low",
        }
    }
}

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
    /// How agents are driven (Codex app-server or a plain PTY).
    pub agent: AgentBackend,
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
    /// Unknown keys and other non-fatal remarks, for the log.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

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
    codex_command: Option<String>,
    #[serde(default)]
    approval_policy: Option<String>,
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

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn department(key: &str, title: &str, duty: &str, globs: &[&str], verify: &[&str]) -> Department {
    Department {
        key: key.into(),
        title: title.into(),
        duty: duty.into(),
        globs: strings(globs),
        verify: strings(verify),
    }
}

/// The Python tool's built-in departments (its `DEFAULT_DEPARTMENTS`), so a
/// repository without `governance.yaml` routes the same with either tool.
pub fn default_departments() -> Vec<Department> {
    vec![
        department(
            "zhilibu",
            "治理部",
            "任务拆分、代理规则、README、文档、发布说明",
            &[
                "AGENTS.md",
                "CLAUDE.md",
                "README.md",
                "API.md",
                "CONTRIBUTING.md",
                "INDEPENDENT_RELEASE_PLAN.md",
                "SECURITY.md",
                "RELEASING.md",
                "LICENSE",
                "docs/**",
                "**/README.md",
            ],
            &["git status --short", "python codex_governance.py"],
        ),
        department(
            "gongchengbu",
            "工程部",
            "launcher、前端、脚本、验证、回归、发布链路",
            &[
                "*.py",
                "*.ps1",
                "*.html",
                "*.yaml",
                ".gitignore",
                "scripts/**",
                "tests/**",
                "**/tests/**",
                "tools/**",
            ],
            &[
                "python -m py_compile codex_governance.py codex_launcher.py run_codex_prompt.py",
                "python codex_governance.py --json",
            ],
        ),
        department(
            "lingyubu",
            "领域部",
            "领域实现、业务代码、集成联调",
            &["src/**", "app/**", "packages/**", "data/**", "models/**"],
            &["git status --short"],
        ),
    ]
}

fn menxia_department() -> Department {
    department(
        MENXIA,
        "门下省",
        "Review and veto: check the other departments' work and risks before commit.",
        &[],
        &[],
    )
}

/// The Python tool's built-in risk rules (its `DEFAULT_RISK_RULES`).
pub fn default_risk_rules() -> Vec<RiskRule> {
    let rule = |name: &str, level, pattern: &str, message: &str| RiskRule {
        name: name.into(),
        level,
        pattern: pattern.into(),
        message: message.into(),
        allow_pattern: None,
    };
    vec![
        rule(
            "runtime_artifact",
            RiskLevel::High,
            "output/",
            "output 是构建产物，不应作为源码或提交对象",
        ),
        rule(
            "secret_file",
            RiskLevel::High,
            ".env",
            "疑似环境变量或密钥文件，提交前需确认脱敏",
        ),
        rule(
            "vendor_tree",
            RiskLevel::Medium,
            "vendor/",
            "vendor 目录通常是外部导入，修改前需说明来源和边界",
        ),
    ]
}

pub fn default_portability_paths() -> Vec<String> {
    // The Python tool's scan: every Markdown file under docs/governance and
    // docs/contracts, and these named files.
    strings(&[
        "AGENTS.md",
        "README.md",
        "docs/governance/**/*.md",
        "docs/contracts/**/*.md",
        "docs/18_Codex三省六部协作制.md",
        "tools/codex_governance/README.md",
        "tools/codex_governance/API.md",
    ])
}

pub fn default_agent_command() -> Vec<String> {
    strings(&["codex", "-m", "{model}", "--cd", "{repo}", "{prompt}"])
}

/// The Python tool's places, in its order: the repository root, then
/// `tools/codex_governance/governance.yaml`; the root's name when neither exists.
pub fn config_path(repo: &Path) -> PathBuf {
    let candidates = [
        repo.join(CONFIG_FILE),
        repo.join("tools")
            .join("codex_governance")
            .join(CONFIG_FILE),
    ];
    candidates
        .iter()
        .find(|p| p.exists())
        .unwrap_or(&candidates[0])
        .clone()
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
        let (file, source, mut warnings) = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let (file, warnings) = parse_file(&path.display().to_string(), &text)?;
                (file, Some(path), warnings)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                (FileConfig::default(), None, Vec::new())
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    file: path.display().to_string(),
                    source,
                })
            }
        };
        let departments = lenient::departments(file.departments.as_ref(), &mut warnings);
        for d in &departments {
            if !crate::ids::is_valid_id(&d.key) {
                return Err(ConfigError::Invalid {
                    file: file_name,
                    key: format!("departments.{}", d.key),
                    message: "department keys must match ^[A-Za-z0-9_-]{1,128}$".into(),
                });
            }
        }
        let risk_rules = lenient::risk_rules(file.risk_rules.as_ref(), &mut warnings);
        let portability_paths = lenient::portability_paths(file.preflight.as_ref())
            .unwrap_or_else(default_portability_paths);
        let fl = file.launcher.unwrap_or_default();

        let models = match env.get("CODEX_GOVERNANCE_MODELS") {
            Some(v) => {
                let list: Vec<String> = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                if list.is_empty() {
                    return Err(env_error("CODEX_GOVERNANCE_MODELS", v, "names no model"));
                }
                list
            }
            None => fl
                .models
                .unwrap_or_else(|| strings(&["gpt-5.5", "gpt-5.4"])),
        };
        if models.is_empty() {
            return Err(ConfigError::Invalid {
                file: file_name,
                key: "launcher.models".into(),
                message: "must name at least one model".into(),
            });
        }
        let max_departments = match env.get("CODEX_GOVERNANCE_MAX_DEPARTMENTS") {
            Some(v) => parse_positive(v, "CODEX_GOVERNANCE_MAX_DEPARTMENTS")? as usize,
            None => fl.max_departments.unwrap_or(2),
        };
        if max_departments == 0 {
            return Err(ConfigError::Invalid {
                file: file_name,
                key: "launcher.max_departments".into(),
                message: "must be at least 1".into(),
            });
        }
        let max_zhongshu = match env.get("CODEX_GOVERNANCE_MAX_ZHONGSHU") {
            Some(v) => parse_positive(v, "CODEX_GOVERNANCE_MAX_ZHONGSHU")? as usize,
            None => fl.max_zhongshu.unwrap_or(4),
        };
        if max_zhongshu == 0 {
            return Err(ConfigError::Invalid {
                file: file_name,
                key: "launcher.max_zhongshu".into(),
                message: "must be at least 1".into(),
            });
        }
        let department_stale_seconds = match env.get("CODEX_GOVERNANCE_DEPARTMENT_STALE_SECONDS") {
            Some(v) => parse_positive(v, "CODEX_GOVERNANCE_DEPARTMENT_STALE_SECONDS")?,
            None => 300,
        };
        let agent_command = match env.get("CODEX_GOVERNANCE_AGENT_COMMAND") {
            Some(v) => {
                let words = shell_words::split(v)
                    .map_err(|e| env_error("CODEX_GOVERNANCE_AGENT_COMMAND", v, &e.to_string()))?;
                if words.is_empty() {
                    return Err(env_error("CODEX_GOVERNANCE_AGENT_COMMAND", v, "is empty"));
                }
                words
            }
            None => fl.agent_command.unwrap_or_else(default_agent_command),
        };
        if agent_command.is_empty() {
            return Err(ConfigError::Invalid {
                file: file_name,
                key: "launcher.agent_command".into(),
                message: "must name a program".into(),
            });
        }
        let agent = agent_backend::resolve(
            &file_name,
            fl.backend.as_deref(),
            fl.codex_command.clone(),
            fl.approval_policy.clone(),
            agent_command == default_agent_command(),
            env,
        )?;
        let zhongshu_model = env
            .get("CODEX_GOVERNANCE_ZHONGSHU_MODEL")
            .cloned()
            .unwrap_or_else(|| models[0].clone());
        let department_model = env
            .get("CODEX_GOVERNANCE_DEPARTMENT_MODEL")
            .cloned()
            .unwrap_or_else(|| models[models.len() - 1].clone());
        for (name, m) in [
            ("CODEX_GOVERNANCE_ZHONGSHU_MODEL", &zhongshu_model),
            ("CODEX_GOVERNANCE_DEPARTMENT_MODEL", &department_model),
        ] {
            if !models.contains(m) {
                warnings.push(format!("{name}={m} is not among the models {models:?}"));
            }
        }
        let project_name = env
            .get("CODEX_GOVERNANCE_PROJECT_NAME")
            .cloned()
            .unwrap_or_else(|| {
                repo.canonicalize()
                    .unwrap_or_else(|_| repo.to_path_buf())
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "repository".into())
            });
        let workflow_doc = env
            .get("CODEX_GOVERNANCE_WORKFLOW_DOC")
            .cloned()
            .unwrap_or_else(|| "AGENTS.md".into());

        Ok(Config {
            departments,
            risk_rules,
            preflight: Preflight { portability_paths },
            launcher: LauncherSettings {
                agent_command,
                max_departments,
                max_zhongshu,
                models,
                zhongshu_model,
                department_model,
                require_plan_confirmation: fl.require_plan_confirmation.unwrap_or(false),
                terminal_shells: fl
                    .terminal_shells
                    .unwrap_or_else(|| strings(&["/bin/bash", "/bin/sh"])),
                project_name,
                workflow_doc,
                department_stale_seconds,
                agent,
            },
            source,
            warnings,
        })
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

fn env_error(name: &str, value: &str, message: &str) -> ConfigError {
    ConfigError::Env {
        name: name.into(),
        value: value.into(),
        message: message.into(),
    }
}

fn parse_positive(value: &str, name: &str) -> Result<u64, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(env_error(
            name,
            value,
            "must be a whole number of at least 1",
        )),
    }
}

/// Parses `governance.yaml` text without loading anything else; Ok holds the warnings.
/// Used by fuzzing and by tools that lint a file.
pub fn check_yaml(file: &str, text: &str) -> Result<Vec<String>, ConfigError> {
    parse_file(file, text).map(|(_, warnings)| warnings)
}

/// Parses the YAML text; unknown keys become warnings, anything malformed an error with line and key.
fn parse_file(file: &str, text: &str) -> Result<(FileConfig, Vec<String>), ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Ok((FileConfig::default(), Vec::new()));
    }
    let mut unknown = Vec::new();
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let mut on_unknown =
        |path: serde_ignored::Path<'_>| unknown.push(path.to_string().replace(".?", ""));
    let ignoring = serde_ignored::Deserializer::new(de, &mut on_unknown);
    let parsed: Result<Option<FileConfig>, _> = serde_path_to_error::deserialize(ignoring);
    match parsed {
        Ok(cfg) => {
            let warnings = unknown
                .into_iter()
                .map(|key| plain_errors::unknown_key(file, &key))
                .collect();
            Ok((cfg.unwrap_or_default(), warnings))
        }
        Err(err) => {
            let key = err.path().to_string();
            let inner = err.into_inner();
            let line = inner.location().map(|l| l.line()).unwrap_or(0);
            let message = plain_errors::in_words(&inner.to_string(), &key);
            Err(ConfigError::Malformed {
                file: file.into(),
                line,
                key: if key == "." {
                    "(top level)".into()
                } else {
                    key
                },
                message,
            })
        }
    }
}

impl fmt::Display for Department {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.key, self.title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), text).unwrap();
        Config::load_with_env(dir.path(), &Env::new())
    }

    #[test]
    fn defaults_without_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::load_with_env(dir.path(), &Env::new()).unwrap();
        let keys: Vec<_> = cfg.departments.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, ["zhilibu", "gongchengbu", "lingyubu"]);
        assert_eq!(cfg.launcher.max_departments, 2);
        assert_eq!(cfg.launcher.zhongshu_model, "gpt-5.5");
        assert_eq!(cfg.launcher.department_model, "gpt-5.4");
        assert_eq!(cfg.risk_rules.len(), 3);
        assert!(cfg.department(MENXIA).is_some());
        assert_eq!(cfg.assignable_departments()[0].key, MENXIA);
    }

    #[test]
    fn python_tool_file_loads_with_warnings() {
        let cfg = load_text(
            "version: 3\ndepartments:\n  zhilibu:\n    title: 治理部\n    duty: docs\n    globs: [README.md, docs/**]\n    verify: [git status --short]\n    owner: someone\nrisk_rules:\n  - {name: secret_file, level: high, pattern: .env, message: no, allow_pattern: .env.example}\n",
        )
        .unwrap();
        assert_eq!(cfg.departments.len(), 1);
        assert_eq!(cfg.departments[0].verify, ["git status --short"]);
        assert_eq!(
            cfg.risk_rules[0].allow_pattern.as_deref(),
            Some(".env.example")
        );
        // `version` is the Python tool's own key: silent.
        assert_eq!(cfg.warnings.len(), 1, "{:?}", cfg.warnings);
        assert!(cfg
            .warnings
            .iter()
            .any(|w| w.contains("departments.zhilibu.owner")));
    }

    #[test]
    fn malformed_names_file_line_and_key() {
        let err = load_text("launcher:\n  max_departments: lots\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("governance.yaml:2:"), "{text}");
        assert!(text.contains("launcher.max_departments"), "{text}");
        // As in the Python tool, an unknown level is medium (with a warning).
        let cfg = load_text("risk_rules:\n  - {name: x, level: extreme, pattern: y}\n").unwrap();
        assert_eq!(cfg.risk_rules[0].level, RiskLevel::Medium);
        assert!(
            cfg.warnings[0].contains("risk_rules[0].level"),
            "{:?}",
            cfg.warnings
        );
        let err = load_text("departments: [unclosed\n").unwrap_err();
        assert!(matches!(err, ConfigError::Malformed { .. }), "{err}");
    }

    #[test]
    fn env_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "launcher:\n  max_departments: 5\n  models: [a, b, c]\n",
        )
        .unwrap();
        let mut env = Env::new();
        env.insert("CODEX_GOVERNANCE_MAX_DEPARTMENTS".into(), "3".into());
        env.insert(
            "CODEX_GOVERNANCE_AGENT_COMMAND".into(),
            "python3 'my agent.py' --model {model}".into(),
        );
        let cfg = Config::load_with_env(dir.path(), &env).unwrap();
        assert_eq!(cfg.launcher.max_departments, 3);
        assert_eq!(cfg.launcher.agent_command[1], "my agent.py");
        assert_eq!(cfg.launcher.zhongshu_model, "a");
        assert_eq!(cfg.launcher.department_model, "c");
        env.insert("CODEX_GOVERNANCE_MAX_DEPARTMENTS".into(), "zero".into());
        assert!(Config::load_with_env(dir.path(), &env).is_err());
    }
}
