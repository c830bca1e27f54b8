//! The walk the real ACP adapters' tests share: a planner registers a plan
//! through its MCP tool, its department works, tries to write outside its
//! worktree and to read the launcher's token, and reports through its tool;
//! the user allows each tool call in Needs you.

use serde_json::json;

use super::launcher::{departments, wait_until, Api};

/// The ids of the scripted calls: the plan, the write outside, the token
/// read, the report.
pub struct Calls<'a> {
    pub plan: &'a str,
    pub out: &'a str,
    pub token: &'a str,
    pub report: &'a str,
}

/// A port open on the host's loopback (its model's server is another),
/// and the command that tries to write `escaped` and to connect to it:
/// a confined agent's command does neither.
pub struct Outside {
    open: std::net::TcpListener,
    /// A file outside every worktree, which no command may write.
    pub escaped: std::path::PathBuf,
    /// The launcher's token, which no command may read.
    pub token_file: std::path::PathBuf,
}

impl Outside {
    pub fn new(repo: &super::launcher::TestRepo) -> Outside {
        Outside {
            open: std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
            escaped: repo.files.join("escaped.txt"),
            token_file: repo.state_dir().join("codex_governance_token"),
        }
    }

    /// The command that reads the launcher's token.
    pub fn read_token(&self) -> String {
        format!("cat {}", self.token_file.display())
    }

    /// Nothing connected to the open port.
    pub fn untouched(&self) {
        self.open.set_nonblocking(true).unwrap();
        let got = self.open.accept();
        assert!(
            matches!(&got, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "a command reached the host's port: {got:?}"
        );
    }

    /// The command: `NET-FENCED` where the port is out of its reach.
    pub fn command(&self) -> String {
        let port = self.open.local_addr().unwrap().port();
        format!(
            "printf x > {}; bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' 2>/dev/null \
             && echo NET-OPEN || echo NET-FENCED",
            self.escaped.display()
        )
    }
}

/// Whether a shell's output says its write was refused by the sandbox: a
/// read-only folder, or one it cannot see at all (`/tmp` of a fenced agent).
pub fn write_refused(out: &str) -> bool {
    out.contains("Read-only file system") || out.contains("No such file or directory")
}

/// Accepts every waiting approval until `done` (`tool_calls_only`: each
/// must be a tool call).
pub async fn approve_until<F, Fut>(api: &Api, what: &str, tool_calls_only: bool, done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    wait_until(what, std::time::Duration::from_secs(180), || async {
        let all = api.get_ok("/api/approvals").await;
        for a in all["approvals"].as_array().into_iter().flatten() {
            if tool_calls_only {
                assert_eq!(a["command"], "a tool call", "only tool calls ask: {a}");
            }
            let body = json!({"session_id": a["session_id"], "request_id": a["request_id"],
                              "decision": "accept"});
            api.post("/api/approval", &body).await;
        }
        done().await.then_some(())
    })
    .await;
}

/// Starts the planner on `PLAN-TASK`, walks its plan to the department's
/// report (`results`: what the model was given for a call) and checks the
/// department was confined: nothing written at `escaped`, and the token of
/// `token_file` never reached the model. Returns (planner, department).
pub async fn plans_and_reports_confined<F>(
    api: &Api,
    results: F,
    calls: Calls<'_>,
    tool_calls_only: bool,
    outside: &Outside,
) -> (String, String)
where
    F: Fn(&str) -> Vec<String>,
{
    let agents = api.status().await["agents"].clone();
    assert_eq!(agents["sandboxed"], true, "{agents}");
    // The page says its network holds only its model.
    assert_eq!(agents["network"], false, "{agents}");
    let reach = agents["reach"].as_str().unwrap();
    assert!(reach.contains("holds only its model"), "{reach}");
    assert_eq!(agents["problems"], json!([]), "{agents}");
    let z = api.start_zhongshu("PLAN-TASK plan it").await;
    approve_until(api, "the plan is registered", tool_calls_only, || async {
        !results(calls.plan).is_empty()
    })
    .await;
    let plan = results(calls.plan);
    assert!(plan[0].contains("Plan registered"), "{plan:?}");
    let dept = api
        .wait_status("a department", |s| !departments(s).is_empty())
        .await;
    let dept = departments(&dept)[0]["id"].as_str().unwrap().to_string();
    approve_until(api, "the department reports", tool_calls_only, || async {
        !results(calls.report).is_empty()
    })
    .await;
    // Its commands ran in the sandbox: the one outside its worktree wrote
    // nothing and reached no port of the host's, and the launcher's token
    // was out of its reach.
    let out = results(calls.out).join("\n");
    assert!(
        !outside.escaped.exists(),
        "a command wrote outside its worktree: {out}"
    );
    assert!(out.contains("NET-FENCED"), "{out}");
    assert!(
        !out.contains("NET-OPEN"),
        "a command reached the host: {out}"
    );
    assert!(write_refused(&out), "{out}");
    outside.untouched();
    let token = std::fs::read_to_string(&outside.token_file).unwrap();
    let seen = results(calls.token).join("\n");
    assert!(
        !seen.contains(token.trim()),
        "the token reached the model: {seen}"
    );
    (z, dept)
}
