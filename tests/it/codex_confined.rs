//! What a Codex agent of the launcher is given, with the real Codex CLI
//! against the scripted model server (issue 48, items 5, 9 and 11): no tool
//! that works outside the launcher's sight (sub-agents, web search, tool
//! search), nothing a cloned repository's `.codex/` sets, and an environment
//! built from an allowlist.

use crate::common::model_server;
use crate::common::scenario::{Codex, Scenario};

use model_server::tool_call;
use serde_json::{json, Value};

/// Every tool a request offers the model, namespaced ones as `namespace/name`,
/// tools without a name (Codex's hosted ones) by their type.
fn tools_offered(request: &Value) -> Vec<String> {
    fn walk(tools: &Value, prefix: &str, out: &mut Vec<String>) {
        for t in tools.as_array().into_iter().flatten() {
            let word = t["name"]
                .as_str()
                .or_else(|| t["type"].as_str())
                .unwrap_or("?");
            let name = format!("{prefix}{word}");
            if t.get("tools").is_some() {
                walk(&t["tools"], &format!("{name}/"), out);
            }
            out.push(name);
        }
    }
    let mut out = Vec::new();
    walk(&request["tools"], "", &mut out);
    out
}

/// The tools of the first request that contains `needle`.
fn offered_to(c: &Codex, needle: &str) -> Vec<String> {
    c.server
        .requests()
        .iter()
        .find(|r| r.to_string().contains(needle))
        .map(tools_offered)
        .unwrap_or_else(|| panic!("no request contains {needle:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_threads_are_offered_no_sub_agents_web_search_or_tool_search() {
    let mut c = Scenario::codex().committed().start().await;
    c.plans_one_notes_department();
    c.server.on(
        "department (zhilibu)",
        vec![tool_call(
            "call_report",
            "governance_report_result",
            json!({"summary": "done", "changed_files": []}),
        )],
    );
    c.api().start_zhongshu("Plan one change").await;
    c.first_department().await;
    c.output("call_report").await;
    let planner = offered_to(&c, "You are Zhongshu");
    let department = offered_to(&c, "department (zhilibu)");
    println!("[planner tools] {planner:?}\n[department tools] {department:?}");
    for (who, tools) in [("planner", &planner), ("department", &department)] {
        assert!(
            tools
                .iter()
                .any(|t| t.ends_with("governance_read_inbox")
                    || t.ends_with("governance_report_result")),
            "{who}: the launcher's tools are there: {tools:?}"
        );
        let ungoverned: Vec<&String> = tools
            .iter()
            .filter(|t| {
                let t = t.to_ascii_lowercase();
                [
                    "spawn",
                    "_agent",
                    "web_search",
                    "tool_search",
                    "collab",
                    "multi_agent",
                ]
                .iter()
                .any(|word| t.contains(word))
            })
            .collect();
        assert!(
            ungoverned.is_empty(),
            "{who} is offered {ungoverned:?}: {tools:?}"
        );
    }
    c.stop().await;
}
