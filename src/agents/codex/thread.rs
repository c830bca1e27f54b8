//! A Codex thread opened for a session on the shared app-server: started
//! with the launcher's tools, sandbox profile and settings, or resumed after a
//! restart with its history, the turn under way and that turn's patches.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::rpc::Incoming;
use super::settings::ApprovalPolicy;
use super::shared::SharedServer;
use super::CodexError;
use crate::agents::conversation::Entry;
use crate::agents::{Sandbox, ToolSpec};
use crate::model::PatchChange;

/// The permission profiles of the launcher's threads: this word and a random
/// part, new for every `thread/start` and `thread/resume`, so no other
/// configuration layer (a cloned repository's `.codex/config.toml`, the
/// user's own) can define a profile of the same name that Codex would merge
/// into the launcher's.
const PROFILE_PREFIX: &str = "codex-governance";

fn fresh_profile_name() -> String {
    format!("{PROFILE_PREFIX}-{}", &crate::secret::new_token()[..16])
}

/// The thread to start or resume.
pub struct ThreadSpec {
    pub cwd: PathBuf,
    pub model: String,
    pub approval_policy: ApprovalPolicy,
    /// The role prompt, as developer instructions.
    pub instructions: String,
    /// Shown in Codex's thread list and needed before the TUI can attach.
    pub name: String,
    /// The agent's commands' whole environment: nothing of Codex's own
    /// (the app-server keeps the user's, its provider's key among them).
    pub shell_env: Vec<(String, String)>,
    /// The launcher's functions (a new thread only: a resumed one keeps its own).
    pub tools: Vec<ToolSpec>,
    pub sandbox: Sandbox,
    /// Resume this thread instead of starting one.
    pub resume: Option<String>,
    /// The host its commands and file changes run on (issue 53).
    pub environment: Option<crate::agents::RemoteEnvironment>,
}

/// A thread as it was opened.
pub(super) struct Opened {
    pub(super) thread_id: String,
    /// What the server says about it.
    pub(super) incoming: mpsc::UnboundedReceiver<Incoming>,
    /// The turn it is in, if any.
    pub(super) running: Option<String>,
    /// Patches under way in that turn, by item id.
    pub(super) patches: HashMap<String, Vec<PatchChange>>,
    /// A resumed thread's history: its finished items and those under way.
    pub(super) history: Option<(Vec<Entry>, Vec<Entry>)>,
    /// The `projects` keys the thread names untrusted (none when the user
    /// trusted the project in their own Codex configuration).
    pub(super) untrusted: Vec<String>,
}

/// Starts or resumes the thread (a thread resumed on a server that kept
/// running may be mid-turn).
pub(super) async fn open(server: &SharedServer, t: &ThreadSpec) -> Result<Opened, CodexError> {
    let rpc = &server.rpc;
    let account = rpc.request("account/read", json!({})).await?;
    let needs_login = account["requiresOpenaiAuth"].as_bool().unwrap_or(false);
    if needs_login && account["account"].is_null() {
        return Err(CodexError::NotLoggedIn);
    }
    let untrusted = untrusted_keys(server, t).await;
    if let Some(env) = &t.environment {
        server.add_environment(env).await?;
    }
    let params = params(t, &untrusted);
    let mut opened = match &t.resume {
        Some(id) => resume(server, params, id).await,
        None => start(server, params, t).await,
    }?;
    opened.untrusted = untrusted;
    Ok(opened)
}

/// The `projects` keys the thread names untrusted, so Codex loads nothing
/// of the repository's `.codex/` and records no trust of its own: all of
/// them unless the user's own Codex configuration trusts the project
/// (`project_trust`). A configuration Codex cannot read trusts nothing.
async fn untrusted_keys(server: &SharedServer, t: &ThreadSpec) -> Vec<String> {
    let keys = super::project_trust::lookup_keys(&t.cwd);
    match server.rpc.request("config/read", json!({})).await {
        Ok(answer) if super::project_trust::user_trusts(&answer["config"]["projects"], &keys) => {
            Vec::new()
        }
        Ok(_) => keys,
        Err(e) => {
            tracing::warn!("config/read: {e}; the repository's Codex settings stay off");
            keys
        }
    }
}

/// `thread/start` and `thread/resume` parameters: the model, the approval
/// policy, the instructions, the permission profile of the sandbox, and
/// Codex's tools that would work out of the launcher's sight turned off
/// (`contract::FEATURES_OFF`, `contract::SETTINGS`).
fn params(t: &ThreadSpec, untrusted: &[String]) -> Value {
    let profile = fresh_profile_name();
    let mut set: serde_json::Map<String, Value> = t
        .shell_env
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    // Codex hands a command's shell a socket for its input, and bash
    // (Debian's, Ubuntu's) then reads `~/.bashrc` as if run by ssh, which
    // would export the user's secrets again: only a first-level shell does.
    set.insert("SHLVL".into(), json!("1"));
    let mut filesystem = serde_json::Map::new();
    for dir in &t.sandbox.hidden {
        filesystem.insert(dir.display().to_string(), json!("deny"));
    }
    for dir in &t.sandbox.read_only {
        filesystem.insert(dir.display().to_string(), json!("read"));
    }
    for dir in &t.sandbox.writable {
        filesystem.insert(dir.display().to_string(), json!("write"));
    }
    if t.sandbox.work_read_only {
        // `:workspace` writes its roots (the working folder): not here.
        filesystem.insert(":workspace_roots".into(), json!("read"));
        filesystem.insert(t.cwd.display().to_string(), json!("read"));
    }
    if let Some(temp) = &t.sandbox.temp {
        // `:workspace` lets commands write /tmp and $TMPDIR: not here.
        filesystem.insert(":slash_tmp".into(), json!("read"));
        filesystem.insert(":tmpdir".into(), json!("read"));
        filesystem.insert(temp.display().to_string(), json!("write"));
    }
    let mut params = json!({
        "cwd": t.cwd,
        "model": t.model,
        "approvalPolicy": t.approval_policy,
        // A permission profile, not `sandbox`: only a profile can hide a
        // folder inside the workspace (the launcher's state folder).
        "permissions": profile,
        "developerInstructions": t.instructions,
        "config": {
            "permissions": {&profile: {
                "extends": ":workspace",
                "filesystem": filesystem,
                // Off by default: the agent reaches the launcher through its tools.
                "network": {"enabled": t.sandbox.network},
            }},
            // A login shell would reset PATH (Debian's /etc/profile).
            "allow_login_shell": false,
            // The agent's commands (and the sandbox's helpers) get
            // `shell_env` alone, not the app-server's environment.
            "shell_environment_policy": {"inherit": "none", "set": set},
        },
    });
    let config = params["config"].as_object_mut().expect("an object");
    let features: serde_json::Map<String, Value> = super::contract::FEATURES_OFF
        .iter()
        .map(|f| (f.to_string(), json!(false)))
        .collect();
    config.insert("features".into(), Value::Object(features));
    for (key, value) in super::contract::SETTINGS {
        config.insert(key.to_string(), json!(value));
    }
    if !untrusted.is_empty() {
        config.insert(
            "projects".into(),
            super::project_trust::untrusted(untrusted),
        );
    }
    if let Some(env) = &t.environment {
        if !env.here {
            // The host's own environment (its PATH, HOME) for its commands,
            // with the launcher's allowlisted variables set over it.
            params["config"]["shell_environment_policy"]["inherit"] = json!("core");
        }
        params["cwd"] = json!(env.cwd);
        params["environments"] = environments(env);
    }
    params
}

/// A thread's sticky environments: the host alone, at its worktree there.
pub(super) fn environments(env: &crate::agents::RemoteEnvironment) -> Value {
    json!([{"environmentId": env.id, "cwd": env.cwd}])
}

/// Takes up thread `id` again: its history, the turn under way and that
/// turn's patches still waiting.
async fn resume(server: &SharedServer, mut params: Value, id: &str) -> Result<Opened, CodexError> {
    // The thread keeps the instructions and tools it was started with (and
    // its environments: resume takes none, turns name them).
    params.as_object_mut().map(|o| {
        o.remove("developerInstructions");
        o.remove("environments")
    });
    params["threadId"] = json!(id);
    // Subscribed first: what it waits for is sent again on resume, maybe before the answer.
    let incoming = server.subscribe(id);
    let answer = match server.rpc.request("thread/resume", params).await {
        Ok(a) => a,
        Err(e) => {
            server.unsubscribe(id);
            return Err(e.into());
        }
    };
    let history = super::items::from_turns(&answer["thread"]["turns"]);
    let running = answer["thread"]["turns"]
        .as_array()
        .and_then(|turns| turns.last())
        .filter(|turn| turn["status"] == "inProgress");
    // Its patches under way: an approval asked again names only the item.
    let patches = running
        .and_then(|turn| turn["items"].as_array())
        .into_iter()
        .flatten()
        .filter(|item| item["status"] == "inProgress")
        .filter_map(super::file_change::from_item)
        .filter_map(Result::ok)
        .collect();
    let running = running
        .and_then(|turn| turn["id"].as_str())
        .map(str::to_string);
    Ok(Opened {
        thread_id: id.to_string(),
        incoming,
        running,
        patches,
        history: Some(history),
        untrusted: Vec::new(),
    })
}

/// Starts a new thread with its tools and names it.
async fn start(
    server: &SharedServer,
    mut params: Value,
    t: &ThreadSpec,
) -> Result<Opened, CodexError> {
    let rpc = &server.rpc;
    let tools: Vec<Value> = t
        .tools
        .iter()
        .map(|tool| {
            json!({"type": "function", "name": tool.name,
                   "description": tool.description, "inputSchema": tool.input_schema})
        })
        .collect();
    if !tools.is_empty() {
        params["dynamicTools"] = Value::Array(tools);
    }
    let answer = rpc.request("thread/start", params).await?;
    let thread_id = answer["thread"]["id"]
        .as_str()
        .ok_or_else(|| CodexError::Protocol("thread.id".into()))?
        .to_string();
    let incoming = server.subscribe(&thread_id);
    let named = rpc
        .request(
            "thread/name/set",
            json!({"threadId": thread_id, "name": t.name}),
        )
        .await;
    if let Err(e) = named {
        server.unsubscribe(&thread_id);
        return Err(e.into());
    }
    Ok(Opened {
        thread_id,
        incoming,
        running: None,
        patches: HashMap::new(),
        history: None,
        untrusted: Vec::new(),
    })
}
