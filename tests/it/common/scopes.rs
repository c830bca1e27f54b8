//! Agent credentials for the attack suite: a session's own token, read from the
//! agent process's environment the way the agent itself sees it.

use serde_json::{json, Value};

use super::launcher::{Api, InProcess, PATIENCE};

/// The environment the launcher gave an agent process.
pub fn agent_env(pid: u32) -> Vec<(String, String)> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).expect("the agent's environment");
    raw.split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            k.starts_with("CODEX_GOVERNANCE_")
                .then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// The environment of a started agent: the pid is known from the fork, and
/// until the agent's program runs its environment is still the launcher's.
pub async fn started_agent_env(pid: u32) -> Vec<(String, String)> {
    super::launcher::wait_until("the agent's own environment", PATIENCE, || async {
        let env = agent_env(pid);
        env.iter()
            .any(|(k, _)| k == "CODEX_GOVERNANCE_SESSION_ID")
            .then_some(env)
    })
    .await
}

/// A session's own token and an API client that uses it.
pub async fn agent_api(server: &InProcess, session_id: &str) -> (String, Api) {
    let s = server
        .api
        .wait_session(session_id, "has a pid", |s| s["pid"].is_u64())
        .await;
    let pid = s["pid"].as_u64().unwrap() as u32;
    // The pid is known from the fork: until the agent's program is running,
    // its environment is still the launcher's (seen at four tests at a time).
    let token = super::launcher::wait_until("the agent has a token", PATIENCE, || async {
        agent_env(pid)
            .into_iter()
            .find(|(k, _)| k == "CODEX_GOVERNANCE_TOKEN")
            .map(|(_, v)| v)
    })
    .await;
    (token.clone(), Api::new(&server.url, &token))
}

/// Starts a department of `parent` that stays alive without reporting.
pub async fn waiting_department(server: &InProcess, parent: &str, department: &str) -> String {
    let answer = server
        .api
        .post_ok(
            "/api/start_department",
            &json!({"parent_session_id": parent, "department": department,
                    "task": "stay [[fake-agent: --no-report --after-report wait]]"}),
        )
        .await;
    let id = answer["session_id"]
        .as_str()
        .unwrap_or_else(|| panic!("started at once: {answer}"))
        .to_string();
    let _ = PATIENCE;
    id
}

/// A body for a route, naming `own` wherever a session id is asked for.
pub fn body_naming(path: &str, own: &str) -> Value {
    match path {
        "/api/report_zhongshu_plan" => {
            json!({"session_id": own, "summary": "s", "assignments": []})
        }
        "/api/notify_zhongshu" => json!({"parent_session_id": own, "summary": "s"}),
        "/api/submit_result" => json!({"summary": "s"}),
        "/api/plan_assignments" => json!({"task": "t"}),
        _ => json!({"session_id": own, "id": "term-1", "task": "t", "department": "lingyubu",
                    "parent_session_id": own, "input": "x"}),
    }
}
