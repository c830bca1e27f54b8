//! The mixed team of the real-agent tests: the launcher's Codex (the
//! planner, zhilibu) against the scripted model server, and Claude Code
//! through its ACP adapter (gongbu) against the scripted Anthropic API, in
//! a committed repository; the planner registers the plan it is given on
//! `PLAN-TASK`.

use std::path::PathBuf;

use serde_json::Value;

use crate::common::anthropic_server::AnthropicServer;
use crate::common::launcher::{
    department_id, departments, spawn_launcher_env, Subprocess, TestRepo,
};
use crate::common::model_server::{codex_bin, codex_env, codex_home, tool_call, ModelServer};

/// What Claude Code needs to reach the scripted API, and nothing else.
pub fn claude_env(server: &AnthropicServer) -> Vec<(String, String)> {
    [
        ("ANTHROPIC_BASE_URL", format!("http://{}", server.addr)),
        ("ANTHROPIC_API_KEY", "test-key".into()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
        ("DISABLE_AUTOUPDATER", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A team of the launcher's Codex (the planner, zhilibu) and Claude Code
/// through its ACP adapter (gongbu), `launcher_more` under `launcher:`.
fn write_mixed_team(repo: &TestRepo, launcher_more: &str) {
    let yaml = format!(
        "launcher:\n  backend: codex\n  codex_command: {codex}\n  agent_env: [ANTHROPIC_BASE_URL, \
         ANTHROPIC_API_KEY, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, DISABLE_AUTOUPDATER]\n  \
         max_departments: 2\n  models: [\"gpt-5.5\", \"gpt-5.4\"]\n  \
         require_plan_confirmation: false\n{launcher_more}\
         departments:\n  zhilibu:\n    title: Notes\n    globs: [NOTES.md]\n  \
         gongbu:\n    title: Claude's notes\n    globs: [CLAUDE.md]\n    backend: acp\n    \
         acp_agent: claude\n    acp_command: [{claude}]\n",
        codex = codex_bin().display(),
        claude = crate::common::tier::claude_acp().display(),
    );
    std::fs::write(repo.path.join("governance.yaml"), yaml).unwrap();
}

/// A mixed team's servers and repository, its launcher not started yet.
pub struct MixedTeam {
    pub openai: ModelServer,
    pub anthropic: AnthropicServer,
    pub repo: TestRepo,
    home: PathBuf,
}

impl MixedTeam {
    /// Both scripted APIs, a committed repository whose team is Codex and
    /// Claude Code (`launcher_more` under `launcher:`), and the planner's
    /// answer to `PLAN-TASK`: registering `plan`.
    pub async fn start(launcher_more: &str, plan: Value) -> MixedTeam {
        let openai = ModelServer::start().await;
        let anthropic = AnthropicServer::start().await;
        let repo = TestRepo::with_flags(&[]);
        crate::common::git::commit_all(&repo.path, "start");
        let home = codex_home(&repo.root, &openai, true);
        write_mixed_team(&repo, launcher_more);
        openai.on(
            "PLAN-TASK",
            vec![tool_call("call-plan", "governance_register_plan", plan)],
        );
        MixedTeam {
            openai,
            anthropic,
            repo,
            home,
        }
    }

    /// The launcher binary, with Codex's environment and Claude Code's.
    pub fn launch(&self) -> Subprocess {
        let mut env = codex_env(&self.home, &codex_bin());
        env.extend(claude_env(&self.anthropic));
        spawn_launcher_env(&self.repo.path, &[], &env)
    }

    /// The launcher, its planner started on `PLAN-TASK`: it, and the
    /// session of its one department `key` once it started.
    pub async fn planned_one(&self, key: &str) -> (Subprocess, String) {
        let launcher = self.launch();
        launcher.api.start_zhongshu("PLAN-TASK plan it").await;
        let status = launcher
            .api
            .wait_status("the department", |s| !departments(s).is_empty())
            .await;
        let dept = department_id(&status, key);
        (launcher, dept)
    }
}
