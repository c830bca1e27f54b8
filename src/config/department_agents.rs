//! The agents departments choose for themselves (`backend`, `acp_agent`,
//! `acp_command` under a department), so one team mixes Codex and ACP
//! agents. Each is resolved as the launcher's own would be, with the
//! department's words in place of the launcher's, and names its errors by
//! the department's key. An agent of a cloned file's choosing runs a program
//! of its choosing: it needs the user's trust as the launcher's does.

use std::collections::BTreeMap;

use super::agent_backend::backend_error;
use super::{ConfigError, Department, Env};
use crate::agents::settings::SettingsError;
use crate::agents::{BackendSettings, BackendWords};
use crate::model::Backend;

/// The backends of the departments whose agent differs from the launcher's
/// (`own`), by department key.
pub(super) fn resolve(
    file: &str,
    departments: &[Department],
    words: &BackendWords,
    own: &BackendSettings,
    env: &Env,
) -> Result<BTreeMap<String, BackendSettings>, ConfigError> {
    let mut out = BTreeMap::new();
    for d in departments.iter().filter(|d| d.agent.is_named()) {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            file: file.to_string(),
            key: format!("departments.{}.{key}", d.key),
            message,
        };
        let a = &d.agent;
        let names_acp_agent = a.acp_agent.is_some() || a.acp_command.is_some();
        let kind = match a.backend.as_deref().map(str::trim) {
            Some(word) => Backend::from_word(word).ok_or_else(|| {
                invalid("backend", crate::suggest::one_of(word, &["codex", "acp"]))
            })?,
            None => Backend::Acp,
        };
        match kind {
            Backend::Pty => {
                return Err(invalid(
                    "backend",
                    "a department runs codex or acp; the PTY backend is the whole \
                     launcher's (launcher.backend: pty)"
                        .into(),
                ))
            }
            Backend::Codex if names_acp_agent => {
                return Err(invalid(
                    "backend",
                    "codex runs Codex's own app-server: acp_agent and acp_command are for \
                     backend: acp"
                        .into(),
                ))
            }
            _ => {}
        }
        let settings = if names_acp_agent {
            // Its own agent: neither the launcher's nor the environment's
            // command carries over.
            let mut env = env.clone();
            env.remove("CODEX_GOVERNANCE_ACP_COMMAND");
            let words = words.with_acp_agent(a.acp_agent.as_deref(), a.acp_command.as_deref());
            BackendSettings::resolve(kind, words, &env)
        } else {
            BackendSettings::resolve(kind, words.clone(), env)
        }
        .map_err(|e| match e {
            SettingsError::File { key, message } if key.starts_with("acp_") => {
                invalid(key, message)
            }
            e => backend_error(file, e),
        })?;
        if !crate::agents::capabilities(kind).runs_elsewhere {
            if let Some(host) = &d.remote {
                return Err(invalid(
                    "where",
                    format!(
                        "{host}: an ACP agent runs its commands on this machine; only a Codex \
                         department works on another (backend: codex)"
                    ),
                ));
            }
        }
        if &settings != own {
            out.insert(d.key.clone(), settings);
        }
    }
    Ok(out)
}

/// What the departments' own agents set that needs the user's trust:
/// `(departments.<key>.<word>, value, meaning)`.
pub(super) fn trust_asks(departments: &[Department]) -> Vec<super::TrustAsk> {
    let mut asks = Vec::new();
    for d in departments {
        let mut ask = |word: &str, value: String, meaning: &str| {
            asks.push(super::TrustAsk {
                key: format!("departments.{}.{word}", d.key),
                value,
                meaning: meaning.to_string(),
            })
        };
        if let Some(command) = &d.agent.acp_command {
            ask(
                "acp_command",
                shell_words::join(command),
                "runs this program as this department's agent",
            );
        }
        if let Some(agent) = &d.agent.acp_agent {
            ask(
                "acp_agent",
                agent.trim().to_string(),
                "runs this agent for this department (its usual command unless acp_command \
                 is set)",
            );
        }
    }
    asks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn department(key: &str, yaml: &str) -> Department {
        let mut said = Vec::new();
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&format!("{key}: {yaml}")).unwrap();
        let mut all = super::super::lenient::departments(Some(&v), Vec::new, &mut said);
        assert!(said.is_empty(), "{said:?}");
        all.remove(0)
    }

    fn codex() -> BackendSettings {
        let words = BackendWords::default();
        BackendSettings::resolve(Backend::Codex, words, &Env::new()).unwrap()
    }

    #[test]
    fn a_department_runs_its_own_agent_and_the_launchers_otherwise() {
        let departments = [
            department("a", "{acp_agent: claude}"),
            department("b", "{backend: acp, acp_command: [/opt/g, --acp]}"),
            department("c", "{backend: codex}"),
            department("d", "{globs: [x]}"),
        ];
        let env = Env::from([(
            "CODEX_GOVERNANCE_ACP_COMMAND".to_string(),
            "/elsewhere".to_string(),
        )]);
        let own = codex();
        let all = resolve("g.yaml", &departments, &BackendWords::default(), &own, &env).unwrap();
        let keys: Vec<&str> = all.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["a", "b"],
            "c runs the launcher's Codex, d names none"
        );
        let BackendSettings::Acp(a) = &all["a"] else {
            panic!("{:?}", all["a"])
        };
        assert_eq!(a.command.as_deref().unwrap(), ["claude-agent-acp"]);
        assert!(!a.confiner.is_empty(), "confined by the launcher's Codex");
        let BackendSettings::Acp(b) = &all["b"] else {
            panic!()
        };
        assert_eq!(b.command.as_deref().unwrap(), ["/opt/g", "--acp"]);
        let asks: Vec<String> = trust_asks(&departments)
            .into_iter()
            .map(|a| a.key)
            .collect();
        assert_eq!(
            asks,
            ["departments.a.acp_agent", "departments.b.acp_command"]
        );
    }

    #[test]
    fn what_a_department_cannot_run_is_named_by_its_key() {
        let own = codex();
        let words = BackendWords::default();
        let env = Env::new();
        for (yaml, key, said) in [
            (
                "{backend: pty}",
                "departments.x.backend",
                "launcher.backend: pty",
            ),
            ("{backend: clade}", "departments.x.backend", "acp"),
            (
                "{backend: codex, acp_agent: claude}",
                "departments.x.backend",
                "backend: acp",
            ),
            ("{acp_agent: gemeni}", "departments.x.acp_agent", "gemini"),
            (
                "{acp_agent: claude, where: box}",
                "departments.x.where",
                "only a Codex",
            ),
        ] {
            let d = department("x", yaml);
            let e = resolve("g.yaml", &[d], &words, &own, &env).unwrap_err();
            let ConfigError::Invalid {
                key: k, message, ..
            } = &e
            else {
                panic!("{e:?}")
            };
            assert_eq!(k, key, "{yaml}");
            assert!(message.contains(said), "{yaml}: {message}");
        }
    }
}
