//! The Codex scenario: a repository whose launcher drives the real Codex CLI
//! (a private CODEX_HOME, proxies closed) against the scripted model server,
//! the launcher binary running, and the waits a Codex test makes: a tool's
//! output, a text the model was given, an agent's state, an audit event, a
//! waiting approval.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use super::Scenario;
use crate::common::browser::Browser;
use crate::common::launcher::TestRepo;
use crate::common::launcher::{departments, spawn_launcher_env, wait_until, Api, Subprocess};
use crate::common::model_server::{codex_bin, codex_env, codex_home, tool_call, ModelServer};

/// Codex starts node, a native binary and sandboxes: be patient on a loaded machine.
pub const CODEX_PATIENCE: Duration = Duration::from_secs(120);

/// `governance.yaml` of a Codex scenario; gpt-5.5 has a price.
const CODEX_CONFIG: &str = "launcher:\n  backend: codex\n  max_departments: 2\n  \
     models: [\"gpt-5.5\", \"gpt-5.4\"]\n  model_prices:\n    \
     gpt-5.5: {input: 1.25, cached_input: 0.125, output: 10}\n";

/// A Codex scenario to build: see [`Scenario::codex`].
pub struct CodexScenario {
    repo: Scenario,
    logged_in: bool,
    retries: u32,
    env: Vec<(String, String)>,
    trusted: bool,
    args: Vec<String>,
}

impl Scenario {
    /// A repository whose launcher runs Codex, logged in to the scripted
    /// model server, Codex's own retries off.
    pub fn codex() -> CodexScenario {
        CodexScenario {
            repo: Scenario::new().config(CODEX_CONFIG),
            logged_in: true,
            retries: 0,
            env: Vec::new(),
            trusted: false,
            args: Vec::new(),
        }
    }
}

impl CodexScenario {
    /// Adds `yaml` (indented lines) under `launcher:`.
    pub fn launcher(mut self, yaml: &str) -> CodexScenario {
        self.repo = self.repo.launcher(yaml);
        self
    }

    /// A file of the repository (folders made as needed).
    pub fn file(mut self, path: &str, text: &str) -> CodexScenario {
        self.repo = self.repo.file(path, text);
        self
    }

    /// Everything committed before the launcher starts.
    pub fn committed(mut self) -> CodexScenario {
        self.repo = self.repo.committed();
        self
    }

    /// Codex keeps its default OpenAI provider, without credentials.
    pub fn logged_out(mut self) -> CodexScenario {
        self.logged_in = false;
        self
    }

    /// Codex retries a failed request or stream `n` times.
    pub fn codex_retries(mut self, n: u32) -> CodexScenario {
        self.retries = n;
        self
    }

    /// The user trusts the repository in their own Codex configuration.
    pub fn trusted_in_codex(mut self) -> CodexScenario {
        self.trusted = true;
        self
    }

    /// `key=value` in the launcher's environment.
    pub fn env(mut self, key: &str, value: &str) -> CodexScenario {
        self.env.push((key.into(), value.into()));
        self
    }

    /// `arg` on the launcher's command line.
    pub fn arg(mut self, arg: &str) -> CodexScenario {
        self.args.push(arg.into());
        self
    }

    /// The repository, the model server and the launcher, started.
    pub async fn start(self) -> Codex {
        let repo = self.repo.repo();
        let server = ModelServer::start().await;
        let home = codex_home(&repo.root, &server, self.logged_in);
        if self.retries > 0 {
            let config = home.join("config.toml");
            let n = self.retries;
            let text = std::fs::read_to_string(&config)
                .unwrap()
                .replace(
                    "request_max_retries = 0",
                    &format!("request_max_retries = {n}"),
                )
                .replace(
                    "stream_max_retries = 0",
                    &format!("stream_max_retries = {n}"),
                );
            std::fs::write(&config, text).unwrap();
        }
        if self.trusted {
            let config = home.join("config.toml");
            let mut text = std::fs::read_to_string(&config).unwrap();
            text.push_str(&format!(
                "\n[projects.{}]\ntrust_level = \"trusted\"\n",
                serde_json::Value::String(repo.path.display().to_string())
            ));
            std::fs::write(&config, text).unwrap();
        }
        let mut env = codex_env(&home, &codex_bin());
        env.extend(self.env);
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let launcher = spawn_launcher_env(&repo.path, &args, &env);
        Codex {
            repo,
            server,
            env,
            launcher,
        }
    }
}

/// A running Codex scenario. Fields drop in the order written: the launcher
/// first, then the repository, which ends the app-server the launcher left.
/// (The other way round, a launcher that saw its app-server ended started
/// another in the moment before it was killed, and that one was left
/// running: seen after a whole run.)
pub struct Codex {
    pub launcher: Subprocess,
    pub repo: TestRepo,
    pub server: ModelServer,
    /// The launcher's environment (Codex's home, binary and proxies).
    pub env: Vec<(String, String)>,
}

impl Codex {
    pub fn api(&self) -> &Api {
        &self.launcher.api
    }

    /// A new launcher in place of the one that stopped or was killed.
    pub fn relaunch(&mut self) {
        self.launcher = spawn_launcher_env(&self.repo.path, &[], &self.env);
    }

    /// A new launcher whose environment is `env` instead.
    pub fn relaunch_with(&mut self, env: &[(String, String)]) {
        self.launcher = spawn_launcher_env(&self.repo.path, &[], env);
    }

    /// The graceful stop; no Codex process is left.
    pub async fn stop(&mut self) {
        self.launcher.terminate();
        self.assert_no_codex_left().await;
    }

    /// The launcher's environment with the Codex it runs set to `bin`.
    pub fn env_with_codex_bin(&self, bin: &str) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.retain(|(k, _)| k != "CODEX_GOVERNANCE_CODEX_BIN");
        env.push(("CODEX_GOVERNANCE_CODEX_BIN".into(), bin.into()));
        env
    }

    /// A variable of the launcher's environment.
    pub fn env_var(&self, key: &str) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {key} in the launcher's environment"))
    }

    /// Codex processes of this test still alive (app-servers name their socket
    /// or token file under this repository, TUIs the repository with `--cd`).
    pub fn codex_processes(&self) -> Vec<String> {
        codex_processes_of(&self.repo.path)
    }

    pub async fn assert_no_codex_left(&self) {
        let deadline = std::time::Instant::now() + CODEX_PATIENCE;
        loop {
            let left = self.codex_processes();
            if left.is_empty() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "Codex processes left {CODEX_PATIENCE:?} after the stop:\n{}",
                left.join("\n")
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// See [`plans_one_notes_department`].
    pub fn plans_one_notes_department(&self) {
        plans_one_notes_department(&self.server);
    }

    /// The launcher's dashboard in headless Chromium at 1440x900; a failure
    /// leaves `<name>.png`.
    pub async fn dashboard(&self, name: &str) -> Browser {
        super::dashboard(&self.launcher.url, &self.launcher.token, name).await
    }

    /// The first output the model was given for the tool call `call`.
    pub async fn output(&self, call: &str) -> String {
        wait_until(&format!("the output of {call}"), CODEX_PATIENCE, || async {
            self.server.outputs(call).into_iter().next()
        })
        .await
    }

    /// Waits until the model was given `text` in a user message.
    pub async fn told(&self, text: &str) {
        wait_until(
            &format!("{text:?} reaches the model"),
            CODEX_PATIENCE,
            || async { self.server.saw_user_text(text).then_some(()) },
        )
        .await
    }

    /// Waits until session `id` satisfies `pred`.
    pub async fn wait_agent(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait_until(&format!("{id}: {what}"), CODEX_PATIENCE, || async {
            let s = self.api().session(id).await;
            (!s.is_null() && pred(&s)).then_some(s)
        })
        .await
    }

    /// Waits until session `id` is idle.
    pub async fn idle(&self, id: &str) -> Value {
        self.wait_agent(id, "idle", |s| s["agent_state"] == "idle")
            .await
    }

    /// Waits until `id`'s turn has ended: idle, or already closed (a
    /// department that reported is closed once its turn ends, and a slow poll
    /// may not see the moment it was idle).
    pub async fn turn_ended(&self, id: &str) -> Value {
        self.wait_agent(id, "its turn ended", |s| {
            s["agent_state"] == "idle" || s["agent_state"] == "exited"
        })
        .await
    }

    /// The first audit event named `event` that `pred` accepts, once there is one.
    pub async fn wait_audit(&self, event: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait_until(&format!("audit event {event}"), CODEX_PATIENCE, || async {
            let events = self.api().audit_events(event).await;
            events.into_iter().find(|e| pred(e))
        })
        .await
    }

    /// The first waiting approval (`GET /api/approvals`) that `pred` accepts.
    pub async fn wait_approval(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait_until(what, CODEX_PATIENCE, || async {
            let all = self.api().get_ok("/api/approvals").await;
            all["approvals"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| pred(a))
                .cloned()
        })
        .await
    }

    /// Answers the approval `request_id` of session `z` with `decision`.
    pub async fn decide(&self, z: &str, request_id: &Value, decision: &str) -> Value {
        let body = json!({"session_id": z, "request_id": request_id, "decision": decision});
        self.api().post_ok("/api/approval", &body).await
    }

    /// The first department session, once there is one; its id.
    pub async fn first_department(&self) -> String {
        let dept = wait_until("a department session", CODEX_PATIENCE, || async {
            departments(&self.api().status().await).into_iter().next()
        })
        .await;
        super::id_of(&dept)
    }

    /// Registers one zhilibu assignment doing `task` as the plan of `z`
    /// through the API; returns the department's id once it started.
    pub async fn one_department(&self, z: &str, task: &str) -> String {
        let assignments = json!([{"department": "zhilibu", "task": task}]);
        super::register_plan(self.api(), z, "one department", assignments).await;
        self.first_department().await
    }

    /// The inbox of `z`, once it holds `mark`.
    pub async fn inbox_with(&self, z: &str, mark: &str) -> Value {
        self.inbox_holding(&format!("session_id={z}"), mark).await
    }

    /// The inbox of `z` read without marking it read, once it holds `mark`.
    pub async fn peek_inbox_with(&self, z: &str, mark: &str) -> Value {
        self.inbox_holding(&format!("id={z}&peek=1"), mark).await
    }

    /// `GET /api/zhongshu_inbox?<query>`, once it holds `mark`.
    async fn inbox_holding(&self, query: &str, mark: &str) -> Value {
        wait_until(&format!("{mark} in the inbox"), CODEX_PATIENCE, || async {
            let path = format!("/api/zhongshu_inbox?{query}");
            let inbox = self.api().get_ok(&path).await;
            inbox.to_string().contains(mark).then_some(inbox)
        })
        .await
    }

    /// See [`first_recorded`].
    pub async fn first_recorded(&self) -> Value {
        first_recorded(self.api(), CODEX_PATIENCE).await
    }

    /// Types `input` into session `id` as the page does.
    pub async fn say(&self, id: &str, input: &str) {
        self.api()
            .post_ok(
                "/api/session_input",
                &json!({"session_id": id, "input": input}),
            )
            .await;
    }
}

/// The Zhongshu's first answer registers one zhilibu assignment: write NOTES.md.
pub fn plans_one_notes_department(server: &ModelServer) {
    server.on(
        "You are Zhongshu",
        vec![tool_call(
            "call_plan",
            "governance_register_plan",
            json!({"summary": "one department",
                   "assignments": [{"department": "zhilibu", "task": "Write NOTES.md",
                                    "files": ["NOTES.md"]}]}),
        )],
    );
}

/// The first department that exited with its work recorded (pending), once
/// there is one (within `patience`).
pub async fn first_recorded(api: &Api, patience: Duration) -> Value {
    wait_until("the department's work recorded", patience, || async {
        departments(&api.status().await)
            .into_iter()
            .find(|d| d["status"] == "exited" && d["workspace"]["state"] == "pending")
    })
    .await
}

/// Codex processes under `repo` (not the launcher, `serve --repo <repo>`).
pub fn codex_processes_of(repo: &Path) -> Vec<String> {
    let out = std::process::Command::new("ps")
        .args(["-eo", "pid,args"])
        .output()
        .expect("ps");
    let marker = repo.display().to_string();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&marker) && !l.contains(" serve --repo "))
        .map(str::to_string)
        .collect()
}
