//! The `launcher:` section: the file's values, overridden by `CODEX_GOVERNANCE_*`
//! environment variables, each checked with an error that names its source.

use std::collections::BTreeMap;
use std::path::Path;

use super::defaults::{default_agent_command, default_terminal_shells, strings};
use super::{
    agent_backend, isolation, ConfigError, Env, FileLauncher, LauncherSettings, ModelPrice,
};
use crate::agents::BackendWords;

/// Resolves the launcher settings (`backends`: the backends' own words in
/// the section); `file_name` names the file in errors.
pub(super) fn resolve(
    fl: FileLauncher,
    backends: BackendWords,
    env: &Env,
    repo: &Path,
    file_name: &str,
    warnings: &mut Vec<String>,
) -> Result<LauncherSettings, ConfigError> {
    let models = models(&fl, env, file_name)?;
    let max_departments = limit(
        env,
        "CODEX_GOVERNANCE_MAX_DEPARTMENTS",
        fl.max_departments,
        2,
        file_name,
        "launcher.max_departments",
    )?;
    let max_zhongshu = limit(
        env,
        "CODEX_GOVERNANCE_MAX_ZHONGSHU",
        fl.max_zhongshu,
        4,
        file_name,
        "launcher.max_zhongshu",
    )?;
    let department_stale_seconds =
        seconds_from(env, "CODEX_GOVERNANCE_DEPARTMENT_STALE_SECONDS", 300)?;
    let mailbox_stuck_seconds = seconds_from(env, "CODEX_GOVERNANCE_MAILBOX_STUCK_SECONDS", 30)?;
    let agent_command = agent_command(&fl, env, file_name)?;
    let agent = agent_backend::resolve(
        file_name,
        agent_backend::FileWords {
            backend: fl.backend.clone(),
            agent_network: fl.agent_network.clone(),
            agent_env: fl.agent_env.clone(),
            backends,
        },
        agent_command == default_agent_command(),
        env,
    )?;
    let (zhongshu_model, department_model) = role_models(&models, env, warnings);
    let model_prices = model_prices(fl.model_prices.clone(), file_name)?;
    let isolation = isolation::resolve(file_name, isolation_words(&fl), env)?;
    let quota_reserve_percent = quota_reserve_percent(&fl, env, file_name)?;
    check_plan_budgets(&fl, file_name)?;
    let review = review(&fl, &models, file_name)?;
    Ok(LauncherSettings {
        agent_command,
        max_departments,
        max_zhongshu,
        models,
        zhongshu_model,
        department_model,
        require_plan_confirmation: fl.require_plan_confirmation.unwrap_or(false),
        terminal_shells: fl.terminal_shells.unwrap_or_else(default_terminal_shells),
        project_name: project_name(env, repo),
        workflow_doc: env
            .get("CODEX_GOVERNANCE_WORKFLOW_DOC")
            .cloned()
            .unwrap_or_else(|| "AGENTS.md".into()),
        department_stale_seconds,
        mailbox_stuck_seconds,
        agent,
        model_prices,
        isolation,
        quota_reserve_percent,
        plan_budget_usd: fl.plan_budget_usd,
        plan_budget_tokens: fl.plan_budget_tokens,
        pull_requests: super::pull_requests::resolve(file_name, fl.pull_requests.clone())?,
        worktree: super::worktree_ready::resolve(file_name, fl.worktree.clone())?,
        remotes: super::remotes::resolve(file_name, fl.remotes.clone())?,
        notify: super::notify::resolve(file_name, fl.notify.clone())?,
        landing: super::landing::resolve(file_name, fl.landing.clone())?,
        review,
        ssh_program: env
            .get("CODEX_GOVERNANCE_SSH")
            .map_or_else(|| "ssh".to_string(), |s| s.to_string()),
    })
}

/// `launcher.review`, its model one of `launcher.models`.
fn review(
    fl: &FileLauncher,
    models: &[String],
    file_name: &str,
) -> Result<super::review::ReviewSettings, ConfigError> {
    let review = super::review::resolve(file_name, fl.review.clone())?;
    if let Some(m) = review.model.as_ref().filter(|m| !models.contains(m)) {
        return Err(ConfigError::Invalid {
            file: file_name.to_string(),
            key: "launcher.review.model".into(),
            message: format!(
                "{m:?} is not one of launcher.models ({})",
                models.join(", ")
            ),
        });
    }
    Ok(review)
}

/// A number of seconds above 0 from variable `name`, `default` without it.
fn seconds_from(env: &Env, name: &str, default: u64) -> Result<u64, ConfigError> {
    match env.get(name) {
        Some(v) => parse_positive(v, name),
        None => Ok(default),
    }
}

/// The share of the quota to keep in reserve, from the environment first,
/// then the file; 90 % when neither says.
fn quota_reserve_percent(
    fl: &FileLauncher,
    env: &Env,
    file_name: &str,
) -> Result<f64, ConfigError> {
    Ok(match env.get("CODEX_GOVERNANCE_QUOTA_RESERVE_PERCENT") {
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|p| *p > 0.0 && *p <= 100.0)
            .ok_or_else(|| ConfigError::Env {
                name: "CODEX_GOVERNANCE_QUOTA_RESERVE_PERCENT".into(),
                value: v.clone(),
                message: "a percentage above 0 and at most 100".into(),
            })?,
        None => match fl.quota_reserve_percent {
            Some(p) if !(p > 0.0 && p <= 100.0) => {
                let meant = if p > 100.0 { 100 } else { 90 };
                return Err(invalid(
                    file_name,
                    "launcher.quota_reserve_percent",
                    &format!(
                        "{p} is not allowed: a percentage above 0 and at most 100 (did you \
                         mean {meant}?)"
                    ),
                ));
            }
            Some(p) => p,
            None => 90.0,
        },
    })
}

/// A plan budget, when the file sets one, must be above 0.
fn check_plan_budgets(fl: &FileLauncher, file_name: &str) -> Result<(), ConfigError> {
    if fl
        .plan_budget_usd
        .is_some_and(|b| !b.is_finite() || b <= 0.0)
    {
        return Err(invalid(
            file_name,
            "launcher.plan_budget_usd",
            "not allowed: US dollars, a number above 0 (did you mean to leave it out? \
             without it a plan has no limit)",
        ));
    }
    if fl.plan_budget_tokens == Some(0) {
        return Err(invalid(
            file_name,
            "launcher.plan_budget_tokens",
            "0 is not allowed: a whole number of tokens above 0 (did you mean to leave it \
             out? without it a plan has no limit)",
        ));
    }
    Ok(())
}

/// The file's words about isolation, for `isolation::resolve`.
fn isolation_words(fl: &FileLauncher) -> isolation::FileWords {
    isolation::FileWords {
        isolation: fl.isolation.clone(),
        scope: fl.scope.clone(),
        auto_integrate: fl.auto_integrate,
        worktree_checkout: fl.worktree_checkout.clone(),
        worktree_include: fl.worktree_include.clone(),
        worktree_max_file_bytes: fl.worktree_max_file_bytes,
        merge: fl.merge.clone(),
        keep_discarded_days: fl.keep_discarded_days,
        attempts_choose: fl.attempts_choose.clone(),
        attempts_stop: fl.attempts_stop.clone(),
    }
}

/// Prices must be finite and not negative: a typo must not show a wrong cost.
fn model_prices(
    prices: Option<BTreeMap<String, ModelPrice>>,
    file_name: &str,
) -> Result<BTreeMap<String, ModelPrice>, ConfigError> {
    let prices = prices.unwrap_or_default();
    for (model, p) in &prices {
        let all = [Some(p.input), p.cached_input, Some(p.output)];
        if all.into_iter().flatten().any(|v| !v.is_finite() || v < 0.0) {
            return Err(ConfigError::Invalid {
                file: file_name.to_string(),
                key: format!("launcher.model_prices.{model}"),
                message: "not allowed: prices are US dollars per million tokens, numbers of 0 \
                          or more (did you mean 0?)"
                    .into(),
            });
        }
    }
    Ok(prices)
}

/// The model choices: `CODEX_GOVERNANCE_MODELS` (comma-separated), the file, or ours.
fn models(fl: &FileLauncher, env: &Env, file_name: &str) -> Result<Vec<String>, ConfigError> {
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
            .clone()
            .unwrap_or_else(|| strings(&["gpt-5.5", "gpt-5.4"])),
    };
    if models.is_empty() {
        return Err(invalid(
            file_name,
            "launcher.models",
            "an empty list is not allowed: at least one model (did you mean to leave it \
             out? [gpt-5.5, gpt-5.4] is the default)",
        ));
    }
    Ok(models)
}

/// A count of at least 1, from the environment, the file, or `default`.
fn limit(
    env: &Env,
    name: &str,
    from_file: Option<usize>,
    default: usize,
    file_name: &str,
    key: &str,
) -> Result<usize, ConfigError> {
    let n = match env.get(name) {
        Some(v) => parse_positive(v, name)? as usize,
        None => from_file.unwrap_or(default),
    };
    if n == 0 {
        return Err(invalid(
            file_name,
            key,
            "0 is not allowed: a whole number of at least 1 (did you mean 1?)",
        ));
    }
    Ok(n)
}

/// The agent's command line: `CODEX_GOVERNANCE_AGENT_COMMAND` (shell words), the file, or Codex.
fn agent_command(
    fl: &FileLauncher,
    env: &Env,
    file_name: &str,
) -> Result<Vec<String>, ConfigError> {
    let command = match env.get("CODEX_GOVERNANCE_AGENT_COMMAND") {
        Some(v) => {
            let words = shell_words::split(v)
                .map_err(|e| env_error("CODEX_GOVERNANCE_AGENT_COMMAND", v, &e.to_string()))?;
            if words.is_empty() {
                return Err(env_error("CODEX_GOVERNANCE_AGENT_COMMAND", v, "is empty"));
            }
            words
        }
        None => fl
            .agent_command
            .clone()
            .unwrap_or_else(default_agent_command),
    };
    if command.is_empty() {
        return Err(invalid(
            file_name,
            "launcher.agent_command",
            "an empty list is not allowed: a program and its arguments (did you mean to \
             leave it out? Codex is the default)",
        ));
    }
    Ok(command)
}

/// (Zhongshu model, department model): the first and last choice unless set;
/// one outside the choices is a warning, not an error.
fn role_models(models: &[String], env: &Env, warnings: &mut Vec<String>) -> (String, String) {
    let zhongshu = env
        .get("CODEX_GOVERNANCE_ZHONGSHU_MODEL")
        .cloned()
        .unwrap_or_else(|| models[0].clone());
    let department = env
        .get("CODEX_GOVERNANCE_DEPARTMENT_MODEL")
        .cloned()
        .unwrap_or_else(|| models[models.len() - 1].clone());
    for (name, m) in [
        ("CODEX_GOVERNANCE_ZHONGSHU_MODEL", &zhongshu),
        ("CODEX_GOVERNANCE_DEPARTMENT_MODEL", &department),
    ] {
        if !models.contains(m) {
            let allowed: Vec<&str> = models.iter().map(String::as_str).collect();
            warnings.push(format!(
                "{name}={m} is not among the models: allowed: {}{}",
                allowed.join(", "),
                crate::suggest::closest(m, &allowed)
                    .map(|c| format!(" (did you mean {c}?)"))
                    .unwrap_or_default()
            ));
        }
    }
    (zhongshu, department)
}

/// `CODEX_GOVERNANCE_PROJECT_NAME`, else the repository folder's name.
fn project_name(env: &Env, repo: &Path) -> String {
    env.get("CODEX_GOVERNANCE_PROJECT_NAME")
        .cloned()
        .unwrap_or_else(|| {
            repo.canonicalize()
                .unwrap_or_else(|_| repo.to_path_buf())
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "repository".into())
        })
}

fn invalid(file_name: &str, key: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        file: file_name.into(),
        key: key.into(),
        message: message.into(),
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
