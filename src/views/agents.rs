//! How the launcher's agents run and what they reach, in words for the
//! dashboard (the status's `agents`), from the backend's capabilities.

use serde::Serialize;

use super::snapshot::BackendFacts;
use crate::config::Config;

/// How the launcher's agents run.
#[derive(Debug, Clone, Serialize)]
pub struct AgentsView {
    pub backend: crate::model::Backend,
    /// Their commands run in the backend's sandbox (Codex), or as the user (PTY).
    pub sandboxed: bool,
    /// Whether sandboxed commands may use the network (`launcher.agent_network`).
    pub network: bool,
    /// What an agent can reach, plainly.
    pub reach: String,
    /// What keeps agents from starting (Codex missing or too old), with the fix.
    pub problems: Vec<String>,
    /// A scripted demo (`codex-governance demo`): no Codex, a banner says so.
    pub demo: bool,
    /// Whether a session's model reaches its agent: Codex takes it; a PTY
    /// agent only when its command names `{model}` (the demo's scripted
    /// agent uses none). The page shows model chips only then.
    pub models_apply: bool,
    /// The departments that run an agent of their own, and how.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<OwnAgentView>,
    /// Why *Start* is off, when it is: agents cannot start, or the
    /// repository's configuration waits for the user's trust.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_off: Option<String>,
}

/// A department that runs an agent of its own (`departments.<key>.backend`).
#[derive(Debug, Clone, Serialize)]
pub struct OwnAgentView {
    pub department: String,
    pub backend: crate::model::Backend,
    /// Its agent, in a few words ("ACP agent claude").
    pub agent: String,
    /// Confined (an ACP agent's network then holds only its model).
    pub sandboxed: bool,
}

/// How agents run and what they reach (the dashboard says it plainly);
/// `trust` is the configuration waiting for the user's trust, if it is.
pub fn agents(
    config: &Config,
    backend: &BackendFacts,
    trust: Option<&crate::config_trust::TrustRequest>,
) -> AgentsView {
    let network = config.launcher.agent.agent_network;
    let sandboxed = backend.capabilities.sandboxed;
    let acp = backend.kind == crate::model::Backend::Acp;
    let fenced = backend.capabilities.model_only_network;
    let reach = match (sandboxed, network) {
        (true, _) if acp => {
            "ACP agents run in Codex's sandbox: each writes only its own worktree and \
            temporary folder, cannot see the launcher's state folder, holds no key, and reaches \
            the launcher only through its governance tools. Its network holds only its model \
            (its base URL, its usual host, or launcher.acp_model_hosts; none for an agent of no \
            known profile that names none): the commands it runs reach no other host and no \
            port of this machine but its model's."
        }
        (true, false) => {
            "Codex agents run in Codex's sandbox: they write only the repository \
            (their own mailbox folder aside), cannot see the launcher's state folder, have no \
            network and no key, and reach the launcher only through their governance tools."
        }
        (true, true) => {
            "Codex agents run in Codex's sandbox with the network ON \
            (launcher.agent_network): they write only the repository and cannot see the \
            launcher's state folder, but they can reach any address, loopback included."
        }
        (false, _) if acp => {
            "ACP agents run unsandboxed, as you (launcher.acp_unsandboxed): they can read \
            and change every file you can (the launcher's state folder included), use the \
            network, and start any program. Use them only with agents you trust."
        }
        (false, _) => {
            "PTY agents run unsandboxed, as you: they can read and change every file \
            you can (the launcher's state folder and its token included), use the network, and \
            start any program. Use them only with agents you trust."
        }
    };
    let departments: Vec<OwnAgentView> = config
        .launcher
        .agent
        .departments
        .iter()
        .map(|(key, s)| OwnAgentView {
            department: key.clone(),
            backend: s.kind(),
            agent: s.agent_in_words(),
            sandboxed: !s.unsandboxed(),
        })
        .collect();
    let mut reach = reach.to_string();
    for d in &departments {
        reach.push_str(&format!(
            " Department {} runs {} instead, {}.",
            d.department,
            d.agent,
            match (d.sandboxed, d.backend) {
                (true, crate::model::Backend::Acp) => {
                    "in Codex's sandbox, its network holding only its model"
                }
                (true, _) => "in Codex's sandbox",
                (false, _) => "unsandboxed, as you",
            }
        ));
    }
    let own_network = departments
        .iter()
        .any(|d| d.backend == crate::model::Backend::Acp && !d.sandboxed);
    AgentsView {
        backend: backend.kind,
        sandboxed,
        // An ACP agent reaches its model: its network is on, unless it holds
        // only that model.
        network: network || (acp && !fenced) || own_network,
        reach: reach.split_whitespace().collect::<Vec<_>>().join(" "),
        departments,
        problems: backend.problems.clone(),
        // The demo's scripted agent runs unsandboxed, in its terminal.
        demo: !sandboxed && is_demo(config),
        // The demo's scripted agent is handed `{model}` and uses no model.
        models_apply: sandboxed
            || (!is_demo(config)
                && (backend.kind != crate::model::Backend::Pty
                    || config
                        .launcher
                        .agent_command
                        .iter()
                        .any(|a| a.contains("{model}")))),
        start_off: start_off(&backend.planner_problems, trust),
    }
}

/// Why no planner can start now, in one sentence; None when one can.
fn start_off(
    problems: &[String],
    trust: Option<&crate::config_trust::TrustRequest>,
) -> Option<String> {
    if !problems.is_empty() {
        // The banner above says what and how to fix it, once.
        return Some(match problems.len() {
            1 => "Start is off until the problem above is fixed.".to_string(),
            n => format!("Start is off until the {n} problems above are fixed."),
        });
    }
    trust.map(|t| {
        let file = std::path::Path::new(&t.file)
            .file_name()
            .map_or(t.file.clone(), |n| n.to_string_lossy().into_owned());
        format!("Start is off until you trust this repository's {file} (see what it sets above).")
    })
}

/// Whether the agents are `codex-governance demo`'s scripted fake agent.
fn is_demo(config: &Config) -> bool {
    let command = &config.launcher.agent_command;
    let program = command.first().map(std::path::Path::new);
    program
        .and_then(|p| p.file_stem())
        .is_some_and(|n| n.to_string_lossy() == "fake-agent")
        && command.iter().any(|a| a == "--demo")
}
