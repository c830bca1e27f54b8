//! The real `codex-acp` adapter (`@agentclientprotocol/codex-acp`, pinned
//! by `tools/test.sh`) over the pinned Codex CLI, against the scripted
//! model server: a planner and a department in ACP sessions, their
//! governance tools over MCP (each call a Needs-you approval, as Codex asks),
//! the department's commands in Codex's own sandbox, its work merged.

use crate::common::launcher::*;
use crate::common::model_server::{codex_bin, codex_env, codex_home, exec, ModelServer};
use crate::common::real_acp::{plans_and_reports_confined, Calls, Outside};
use crate::common::scenario::reviewers::{could_not_write, findings_approving, reviewer_of};
use crate::common::scenario::{self, merging};

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

/// Codex's home for the scripted model server, on its model with plain
/// function tools (gpt-5.4).
fn codex_home_with_function_tools(repo: &TestRepo, server: &ModelServer) -> std::path::PathBuf {
    let home = codex_home(&repo.root, server, true);
    let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    std::fs::write(
        home.join("config.toml"),
        format!("model = \"gpt-5.4\"\n{config}"),
    )
    .unwrap();
    home
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
    merging::merged(api, dept).await;
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
    let home = codex_home_with_function_tools(&repo, &server);
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
    merging::ends_well(&mut launcher);
}

/// Issue 75, the reverse of Claude reviewing Codex: an ACP department's work
/// (the scripted ACP agent, a maker of its own) reviewed by Codex through
/// its ACP adapter, confined read-only (its write into the reviewed tree
/// fails), its finding through its one MCP tool holding the merge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_acp_reviews_an_acp_departments_work_read_only_and_its_finding_holds_the_merge() {
    crate::needs!(Codex, CodexAcp);
    let server = ModelServer::start().await;
    let repo = TestRepo::with_flags(&[]);
    crate::common::git::commit_all(&repo.path, "start");
    let home = codex_home_with_function_tools(&repo, &server);
    write_an_acp_team_reviewed_by_codex_acp(&repo);
    server.on(
        "Your session id is reviewer-",
        vec![exec("call-rw", "printf x > NOTES.md; echo \" RW-RC=$?\"")],
    );
    server.on(
        "call-rw",
        vec![governance_call(
            "call-findings",
            "governance_report_findings",
            json!({"findings": [{"path": "NOTES.md", "line": 1, "side": "new",
                                 "severity": "important", "body": "the notes say nothing"}],
                   "summary": "one finding"}),
        )],
    );
    let env = codex_env(&home, &codex_bin());
    let mut launcher = spawn_launcher_env(&repo.path, &[], &env);
    let api = &launcher.api;
    let report = json!({"summary": "notes", "changed_files": ["NOTES.md"]});
    let z = scenario::start_plan(
        api,
        "notes",
        "one note",
        vec![
            json!({"department": "zhilibu", "files": ["NOTES.md"], "task": format!(
            "Notes [[acp: write NOTES.md]] [[acp: tool governance_report_result {report}]]")}),
        ],
    )
    .await;
    let dept = scenario::id_of(&scenario::recorded(api, &z, 1).await[0]);
    let v = findings_approving(api, &dept, true).await;
    let finding = &v["comments"][0];
    assert_eq!(finding["finding"]["severity"], "important", "{v}");
    reviewer_of(api, finding, "acp").await;
    could_not_write(&server.outputs("call-rw").join("\n"));
    merging::merge_refused(api, &dept, "(NOTES.md:1)").await;
    merging::ends_well(&mut launcher);
}

/// A team of the scripted ACP agent (a maker of its own), its reviews by
/// Codex through its ACP adapter (menxia) and holding on an important
/// finding.
fn write_an_acp_team_reviewed_by_codex_acp(repo: &TestRepo) {
    let yaml = format!(
        "launcher:\n  backend: acp\n  acp_agent: other\n  acp_command: [{fake}, --acp]\n  \
         codex_command: {codex}\n  agent_env: [CODEX_HOME, SCRIPTED_API_KEY]\n  \
         max_departments: 2\n  models: [m1]\n  require_plan_confirmation: false\n  \
         review:\n    gate: block_on_important\n\
         departments:\n  zhilibu:\n    title: Notes\n    globs: [NOTES.md]\n  \
         menxia:\n    title: Reviewer\n    globs: [docs/**]\n    backend: acp\n    \
         acp_agent: codex\n    acp_command: [{adapter}]\n",
        fake = fake_agent().display(),
        codex = codex_bin().display(),
        adapter = codex_acp().display(),
    );
    std::fs::write(repo.path.join("governance.yaml"), yaml).unwrap();
}
