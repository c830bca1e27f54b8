//! The real Claude Code ACP adapter (`@agentclientprotocol/claude-agent-acp`,
//! pinned by `tools/test.sh`) against a scripted Anthropic Messages API on
//! loopback: a planner and a department whose governance tools are MCP tools,
//! each tool use a Needs-you approval (Claude asks), the whole agent in
//! Codex's sandbox with a settings folder of its own, the work merged.

use crate::acp_codex::its_notes_are_merged;
use crate::common::anthropic_server::{AnthropicServer, Block};
use crate::common::launcher::*;
use crate::common::model_server::codex_bin;

use serde_json::json;

fn tool(id: &str, name: &str, input: serde_json::Value) -> Vec<Block> {
    vec![Block::ToolUse(id.into(), name.into(), input)]
}

fn bash(id: &str, command: &str) -> Vec<Block> {
    tool(
        id,
        "Bash",
        json!({"command": command, "description": "run it"}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_claude_code_plans_and_reports_through_its_tools_confined_and_is_merged() {
    crate::needs!(Codex, ClaudeAcp);
    let server = AnthropicServer::start().await;
    let repo = TestRepo::with_flags(&[]);
    crate::common::git::commit_all(&repo.path, "start");
    let yaml = format!(
        "launcher:\n  backend: acp\n  acp_agent: claude\n  acp_command: [{}]\n  \
         codex_command: {}\n  agent_env: [ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY, \
         CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, DISABLE_AUTOUPDATER]\n  max_departments: 2\n  \
         models: [m1]\n  require_plan_confirmation: false\n",
        crate::common::tier::claude_acp().display(),
        codex_bin().display()
    );
    std::fs::write(repo.path.join("governance.yaml"), yaml).unwrap();
    let escaped = repo.files.join("escaped.txt");
    let token_file = repo.state_dir().join("codex_governance_token");
    let plan = json!({"summary": "one change", "assignments": [{"department": "zhilibu",
        "task": "DEPT-TASK write NOTES.md"}]});
    server.on(
        "PLAN-TASK",
        tool(
            "tu-plan",
            "mcp__codex-governance__governance_register_plan",
            plan,
        ),
    );
    server.on(
        "your session id is zhilibu-1",
        bash("tu-in", "printf 'notes\\n' > NOTES.md"),
    );
    server.on(
        "tu-in",
        bash("tu-out", &format!("printf x > {}", escaped.display())),
    );
    server.on(
        "tu-out",
        bash("tu-token", &format!("cat {}", token_file.display())),
    );
    server.on(
        "tu-token",
        tool(
            "tu-report",
            "mcp__codex-governance__governance_report_result",
            json!({"summary": "NOTES.md written", "changed_files": ["NOTES.md"]}),
        ),
    );
    let env = vec![
        (
            "ANTHROPIC_BASE_URL".to_string(),
            format!("http://{}", server.addr),
        ),
        ("ANTHROPIC_API_KEY".into(), "test-key".into()),
        (
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
            "1".into(),
        ),
        ("DISABLE_AUTOUPDATER".into(), "1".into()),
    ];
    let mut launcher = spawn_launcher_env(&repo.path, &[], &env);
    let api = &launcher.api;
    let agents = api.status().await["agents"].clone();
    assert_eq!(agents["sandboxed"], true, "{agents}");
    assert_eq!(agents["problems"], json!([]), "{agents}");
    let z = api.start_zhongshu("PLAN-TASK plan it").await;
    // Every tool use asks: the user allows each in Needs you.
    let approve_until = |what: &'static str, done: Box<dyn Fn() -> bool + Send + Sync>| {
        let done = std::sync::Arc::new(done);
        async move {
            wait_until(what, std::time::Duration::from_secs(120), || {
                let done = std::sync::Arc::clone(&done);
                async move {
                    let all = api.get_ok("/api/approvals").await;
                    for a in all["approvals"].as_array().into_iter().flatten() {
                        let body = json!({"session_id": a["session_id"],
                            "request_id": a["request_id"], "decision": "accept"});
                        api.post("/api/approval", &body).await;
                    }
                    done().then_some(())
                }
            })
            .await
        }
    };
    let s = &server;
    approve_until(
        "the plan is registered",
        Box::new(move || !s.results("tu-plan").is_empty()),
    )
    .await;
    assert!(
        server.results("tu-plan")[0].contains("Plan registered"),
        "{:?}",
        server.results("tu-plan")
    );
    let dept = api
        .wait_status("a department", |s| !departments(s).is_empty())
        .await;
    let dept = departments(&dept)[0]["id"].as_str().unwrap().to_string();
    approve_until(
        "the department reports",
        Box::new(move || !s.results("tu-report").is_empty()),
    )
    .await;
    // Its commands ran in the sandbox: the one outside its worktree failed,
    // and the launcher's token was out of its reach.
    assert!(
        server.results("tu-out")[0].contains("Read-only file system"),
        "{:?}",
        server.results("tu-out")
    );
    assert!(!escaped.exists(), "a command wrote outside its worktree");
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert!(
        !server.results("tu-token").join("\n").contains(token.trim()),
        "the token reached the model"
    );
    its_notes_are_merged(api, &repo, &dept).await;
    // The planner heard of the result through its tools' notice.
    api.wait_session(&z, "the planner is told", |s| s["agent_state"] == "idle")
        .await;
    let status = launcher.terminate();
    assert!(status.success(), "{status:?}\n{}", launcher.stderr());
}
