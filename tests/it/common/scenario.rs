//! Scenarios: the set-ups the end-to-end tests repeat, each built in one
//! chain instead of a dozen lines per test, and the plan steps they take.
//!
//! - [`Scenario::new`]: a temporary repository (files, extra `launcher:`
//!   lines, committed or not, a shell step before a department's agent) whose
//!   agents are the fake agent; [`Scenario::serve`] adds a launcher in this
//!   process.
//! - [`Scenario::codex`] (`scenario/codex.rs`): the same repository driving
//!   the real Codex CLI against the scripted model server, the launcher
//!   binary started with Codex's environment, and the waits a Codex test makes.
//! - [`Scenario::terminal`] (`scenario/terminal.rs`): a program in a
//!   pseudo-terminal behind a browser terminal.
//! - [`start_plan`], [`register_plan`], [`recorded`]: a Zhongshu with a plan,
//!   and its departments' work once it is recorded.
//! - [`attempts`]: attempts at one task compared once verified.
//! - [`merging`]: a department's work merged, a Merge refused with the
//!   launcher's words, a launcher that ends well.
//! - [`mixed_team`]: the real Codex and Claude Code in one team, against
//!   their scripted APIs.
//! - [`reviewers`]: a real reviewer agent's findings, session and write.
//! - [`drawer`]: a department's work opened in the drawer, and a view shot
//!   at the desk's size and on a phone's (axe, nothing sideways).
#![allow(dead_code)]

pub mod attempts;
#[cfg(unix)]
mod codex;
#[cfg(unix)]
pub mod drawer;
pub mod merging;
#[cfg(unix)]
pub mod mixed_team;
#[cfg(unix)]
pub mod reviewers;
mod terminal;

#[cfg(unix)]
#[cfg_attr(not(target_os = "linux"), allow(unused_imports))]
pub use codex::{
    codex_processes_of, first_recorded, plans_one_notes_department, Codex, CodexScenario,
    CODEX_PATIENCE,
};
pub use terminal::{OpenTerminal, TerminalScenario};

use serde_json::{json, Value};

use super::launcher::{commit_all, departments, Api, InProcess, RepoOptions, TestRepo};

/// A repository to build: see the module docs.
pub struct Scenario {
    options: RepoOptions,
    /// Replaces the whole `governance.yaml` when set.
    config: Option<String>,
    /// Lines added under `launcher:` (indented).
    launcher_yaml: String,
    files: Vec<(String, String)>,
    commit: bool,
    department_script: Option<String>,
}

impl Scenario {
    /// A repository whose agents run the fake agent, nothing committed.
    pub fn new() -> Scenario {
        Scenario {
            options: RepoOptions::default(),
            config: None,
            launcher_yaml: String::new(),
            files: Vec::new(),
            commit: false,
            department_script: None,
        }
    }

    /// `governance.yaml` is `yaml` (then the [`Scenario::launcher`] lines).
    pub fn config(mut self, yaml: &str) -> Scenario {
        self.config = Some(yaml.to_string());
        self
    }

    /// Adds `yaml` (indented lines) under `launcher:`.
    pub fn launcher(mut self, yaml: &str) -> Scenario {
        self.launcher_yaml.push_str(yaml);
        self
    }

    /// A file of the repository (folders made as needed).
    pub fn file(mut self, path: &str, text: &str) -> Scenario {
        self.files.push((path.to_string(), text.to_string()));
        self
    }

    pub fn files(self, files: &[(&str, &str)]) -> Scenario {
        files.iter().fold(self, |s, (p, t)| s.file(p, t))
    }

    /// Everything committed (`initial`) before anything starts.
    pub fn committed(mut self) -> Scenario {
        self.commit = true;
        self
    }

    /// A department's agent first runs `script` (sh) in its folder, then the
    /// fake agent; other agents run the fake agent alone.
    pub fn department_script(mut self, script: &str) -> Scenario {
        self.department_script = Some(script.to_string());
        self
    }

    pub fn max_departments(mut self, n: usize) -> Scenario {
        self.options.max_departments = n;
        self
    }

    /// The repository, built.
    pub fn repo(mut self) -> TestRepo {
        if let Some(script) = &self.department_script {
            let script = format!(
                "if [ \"$CODEX_GOVERNANCE_SESSION_KIND\" = department ]; then {script}; fi; \
                 exec \"$0\" \"$@\""
            );
            let mut command = vec!["/bin/sh".to_string(), "-c".into(), script];
            command.extend(TestRepo::agent_command(&RepoOptions::default()));
            self.options.agent_command = Some(command);
        }
        let repo = TestRepo::new(self.options.clone());
        let config = repo.path.join("governance.yaml");
        let yaml = match &self.config {
            Some(yaml) => yaml.clone(),
            None => std::fs::read_to_string(&config).unwrap(),
        };
        std::fs::write(&config, yaml + &self.launcher_yaml).unwrap();
        for (rel, text) in &self.files {
            let p = repo.path.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        if self.commit {
            commit_all(&repo.path, "initial");
        }
        repo
    }

    /// The repository and a launcher serving it in this process.
    pub async fn serve(self) -> (TestRepo, InProcess) {
        let repo = self.repo();
        let server = InProcess::start(&repo).await;
        (repo, server)
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario::new()
    }
}

/// Registers `assignments` as the plan of the Zhongshu `z` (no confirmation).
pub async fn register_plan(api: &Api, z: &str, summary: &str, assignments: Value) {
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": summary, "assignments": assignments}),
    )
    .await;
}

/// Starts a Zhongshu on `task` and registers `assignments` as its plan;
/// returns the Zhongshu's id.
pub async fn start_plan(api: &Api, task: &str, summary: &str, assignments: Vec<Value>) -> String {
    let z = api.start_zhongshu(task).await;
    register_plan(api, &z, summary, Value::Array(assignments)).await;
    z
}

/// The departments of `z` in the order they started, once `n` of them have
/// exited with their work recorded (pending).
pub async fn recorded(api: &Api, z: &str, n: usize) -> Vec<Value> {
    let status = api
        .wait_status(&format!("{n} departments of {z} recorded"), |s| {
            departments(s)
                .iter()
                .filter(|d| d["parent_session_id"] == z && d["status"] == "exited")
                .filter(|d| d["workspace"]["state"] == "pending")
                .count()
                == n
        })
        .await;
    let mut ds: Vec<Value> = departments(&status)
        .into_iter()
        .filter(|d| d["parent_session_id"] == z)
        .collect();
    ds.sort_by_key(|d| d["started_at"].as_str().unwrap_or("").to_string());
    ds
}

/// The dashboard of the launcher at `url` in headless Chromium at 1440x900
/// (opened as its printed URL opens it); a failure leaves `<artifact>.png`.
#[cfg(unix)]
pub async fn dashboard(url: &str, token: &str, artifact: &str) -> super::browser::Browser {
    let d = super::browser::Browser::start(1440, 900)
        .await
        .with_failure_artifact(&format!("{artifact}.png"));
    d.goto(&format!("{url}/#token={token}")).await;
    d
}

/// The `id` of a session (or department) as JSON gives it.
pub fn id_of(session: &Value) -> String {
    session["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {session}"))
        .to_string()
}
