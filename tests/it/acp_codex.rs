//! The real `codex-acp` adapter (`@agentclientprotocol/codex-acp`, pinned
//! by `tools/test.sh`) over the pinned Codex CLI, against the scripted
//! model server: a planner and a department in ACP sessions, their
//! governance tools over MCP (each call a Needs-you approval, as Codex asks),
//! the department's commands in Codex's own sandbox, its work merged.

use crate::common::launcher::*;
use crate::common::model_server::{codex_bin, codex_env, codex_home, exec, ModelServer};
use crate::common::real_acp::{plans_and_reports_confined, Calls, Outside};

use serde_json::{json, Value};

/// Where `tools/test.sh` installs the pinned adapter.
fn codex_acp() -> std::path::PathBuf {
    crate::common::tier::codex_acp()
}

/// A function call to a tool of the launcher's MCP server, as Codex names it.
fn governance_call(call_id: &str, tool: &str, arguments: Value) -> Value {
    json!({"type": "function_call", "call_id": call_id, "namespace": "mcp__codex_governance",
           "name": tool, "arguments": arguments.to_string()})
}

/// An ACP department's session ends with its work waiting for review; the
/// user merges it and its `NOTES.md` is in the tree.
pub(crate) async fn its_notes_are_merged(api: &Api, repo: &TestRepo, dept: &str) {
    let session = api
        .wait_session(dept, "its work waits for review", |s| {
            s["status"] == "exited" && s["workspace"]["state"] == "pending"
        })
        .await;
    assert_eq!(session["backend"], "acp", "{session}");
    let merged = api
        .post_ok(
            "/api/integrate",
            &json!({"session_id": dept, "mode": "merge"}),
        )
        .await;
    assert_eq!(merged["workspace"]["state"], "merged", "{merged}");
    assert_eq!(
        std::fs::read_to_string(repo.path.join("NOTES.md")).unwrap(),
        "notes\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_codex_acp_plans_and_reports_through_its_tools_its_commands_confined_and_is_merged(
) {
    crate::needs!(Codex, CodexAcp);
    let server = ModelServer::start().await;
    let repo = TestRepo::with_flags(&[]);
    crate::common::git::commit_all(&repo.path, "start");
    let home = codex_home(&repo.root, &server, true);
    // A model of the scripted server's with plain function tools.
    let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    std::fs::write(
        home.join("config.toml"),
        format!("model = \"gpt-5.4\"\n{config}"),
    )
    .unwrap();
    let yaml = format!(
        "launcher:\n  backend: acp\n  acp_agent: codex\n  acp_command: [{}]\n  \
         codex_command: {}\n  agent_env: [CODEX_HOME, SCRIPTED_API_KEY]\n  max_departments: 2\n  \
         models: [m1]\n  require_plan_confirmation: false\n",
        codex_acp().display(),
        codex_bin().display()
    );
    std::fs::write(repo.path.join("governance.yaml"), yaml).unwrap();
    let outside = Outside::new(&repo);
    let plan = json!({"summary": "one change", "assignments": [{"department": "zhilibu",
        "task": "DEPT-TASK write NOTES.md"}]});
    server.on(
        "PLAN-TASK",
        vec![governance_call(
            "call-plan",
            "governance_register_plan",
            plan,
        )],
    );
    // The department's own prompt (the planner's history names its task too).
    server.on(
        "your session id is zhilibu-1",
        vec![
            exec("call-in", "printf 'notes\\n' > NOTES.md"),
            exec("call-out", &outside.command()),
            exec("call-token", &outside.read_token()),
        ],
    );
    server.on(
        "call-token",
        vec![governance_call(
            "call-report",
            "governance_report_result",
            json!({"summary": "NOTES.md written", "changed_files": ["NOTES.md"]}),
        )],
    );
    let env = codex_env(&home, &codex_bin());
    let mut launcher = spawn_launcher_env(&repo.path, &[], &env);
    let api = &launcher.api;
    let calls = Calls {
        plan: "call-plan",
        out: "call-out",
        token: "call-token",
        report: "call-report",
    };
    let results = |id: &str| server.outputs(id);
    let (z, dept) = plans_and_reports_confined(api, results, calls, true, &outside).await;
    its_notes_are_merged(api, &repo, &dept).await;
    let events: Vec<String> = api.get_ok("/api/audit?limit=200").await["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["session_id"] == dept.as_str() || e["session_id"] == z.as_str())
        .map(|e| e["event"].as_str().unwrap_or("").to_string())
        .collect();
    eprintln!("audit of the plan: {events:?}");
    let status = launcher.terminate();
    assert!(status.success(), "{status:?}\n{}", launcher.stderr());
}
