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
    let can = backend.capabilities;
    let sandboxed = can.sandboxed;
    let fenced = can.model_only_network;
    let mut reach = reach_in_words(config, backend);
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
    let mut own_network = false;
    for (d, s) in departments
        .iter()
        .zip(config.launcher.agent.departments.values())
    {
        let its = s.capabilities();
        own_network |= its.own_model_traffic && !its.model_only_network;
        reach.push_str(&format!(
            " Department {} runs {} instead, {}.",
            d.department,
            d.agent,
            match (its.sandboxed, its.model_only_network) {
                (true, true) => "in Codex's sandbox, its network holding only its model",
                (true, false) => "in Codex's sandbox",
                (false, _) => "unsandboxed, as you",
            }
        ));
    }
    AgentsView {
        backend: backend.kind,
        sandboxed,
        // An ACP agent reaches its model: its network is on, unless it holds
        // only that model.
        network: network || (can.own_model_traffic && !fenced) || own_network,
        reach: reach.split_whitespace().collect::<Vec<_>>().join(" "),
        departments,
        problems: backend.problems.clone(),
        // The demo's scripted agent runs unsandboxed, in its terminal.
        demo: !sandboxed && is_demo(config),
        // The demo's scripted agent is handed `{model}` and uses no model.
        models_apply: sandboxed
            || (!is_demo(config)
                && (!can.model_from_command
                    || config
                        .launcher
                        .agent_command
                        .iter()
                        .any(|a| a.contains("{model}")))),
        start_off: start_off(&backend.planner_problems, trust),
    }
}

/// What the backend's agents reach, in words: where their commands run, what
/// they may write and see, and their network; unsandboxed, why and what that
/// means.
fn reach_in_words(config: &Config, backend: &BackendFacts) -> String {
    let network = config.launcher.agent.agent_network;
    let can = backend.capabilities;
    let sandboxed = can.sandboxed;
    let fenced = can.model_only_network;
    let noun = backend.kind.agents_noun();
    let reach = match (sandboxed, network) {
        (true, _) if fenced => {
            "run in Codex's sandbox: each writes only its own worktree and \
            temporary folder, cannot see the launcher's state folder, holds no key, and reaches \
            the launcher only through its governance tools. Its network holds only its model \
            (its base URL, its usual host, or launcher.acp_model_hosts; none for an agent of no \
            known profile that names none): the commands it runs reach no other host and no \
            port of this machine but its model's."
        }
        (true, false) => {
            "run in Codex's sandbox: they write only the repository \
            (their own mailbox folder aside), cannot see the launcher's state folder, have no \
            network and no key, and reach the launcher only through their governance tools."
        }
        (true, true) => {
            "run in Codex's sandbox with the network ON \
            (launcher.agent_network): they write only the repository and cannot see the \
            launcher's state folder, but they can reach any address, loopback included."
        }
        (false, _) => "run unsandboxed, as you",
    };
    let mut reach = format!("{noun} {reach}");
    if !sandboxed {
        if let Some(key) = config.launcher.agent.backend.unsandboxed_by() {
            reach.push_str(&format!(" ({key})"));
        }
        reach.push_str(
            ": they can read and change every file you can (the launcher's state folder and \
             its token included), use the network, and start any program. Use them only with \
             agents you trust.",
        );
    }
    reach
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::acp::settings::{Profile, Settings};
    use crate::agents::BackendSettings;

    fn acp(unsandboxed: bool) -> BackendSettings {
        BackendSettings::Acp(Settings {
            agent: Profile::Other,
            command: Some(vec!["agent".into()]),
            unsandboxed,
            confiner: "codex".into(),
            model_hosts: vec![],
        })
    }

    /// The page's words and its network flag follow what each backend
    /// says it can do, not its name.
    #[test]
    fn how_agents_run_is_said_from_their_capabilities() {
        let repo = tempfile::tempdir().unwrap();
        git2::Repository::init(repo.path()).unwrap();
        let mut config = Config::load(repo.path()).unwrap();
        let facts = |b: &BackendSettings| BackendFacts {
            kind: b.kind(),
            capabilities: b.capabilities(),
            problems: vec![],
            planner_problems: vec![],
        };
        let (confined, unconfined) = (acp(false), acp(true));
        config.launcher.agent.backend = confined.clone();
        let view = agents(&config, &facts(&confined), None);
        assert!(
            view.reach.starts_with("ACP agents run in Codex's sandbox"),
            "{}",
            view.reach
        );
        assert!(
            !view.network,
            "a confined ACP agent's network holds only its model"
        );

        config.launcher.agent.backend = unconfined.clone();
        let view = agents(&config, &facts(&unconfined), None);
        assert!(
            view.reach.starts_with(
                "ACP agents run unsandboxed, as you (launcher.acp_unsandboxed): they can read"
            ),
            "{}",
            view.reach
        );
        assert!(view.network, "an unconfined ACP agent reaches its model");

        let pty = BackendSettings::Pty;
        config.launcher.agent.backend = pty.clone();
        config
            .launcher
            .agent
            .departments
            .insert("gongbu".into(), confined);
        config
            .launcher
            .agent
            .departments
            .insert("hubu".into(), unconfined);
        let view = agents(&config, &facts(&pty), None);
        assert!(
            view.reach
                .starts_with("PTY agents run unsandboxed, as you: "),
            "{}",
            view.reach
        );
        assert!(view.reach.contains(
            "Department gongbu runs ACP agent other instead, in Codex's sandbox, its network \
             holding only its model."
        ));
        assert!(view
            .reach
            .contains("Department hubu runs ACP agent other instead, unsandboxed"));
        assert!(view.network, "hubu's agent reaches its model");
        // A terminal command is handed a model only where it names `{model}`.
        assert!(view.models_apply, "{:?}", config.launcher.agent_command);
        config.launcher.agent_command = vec!["my-agent".into()];
        assert!(!agents(&config, &facts(&pty), None).models_apply);
    }
}
