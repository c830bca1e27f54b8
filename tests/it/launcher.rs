//! The launcher end to end: a real server on a free port, real PTYs running
//! the fake agent (`tools/fake-agent`), real files. Security layer, agent command and
//! environment, plans and the queue, input, closing, restarts, audit, events,
//! the launcher file and the shape of the status and session JSON.

use crate::common::launcher as support;

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use support::*;

fn assert_failure_shape(what: &str, body: &Value) {
    assert_eq!(body["ok"], json!(false), "{what}: {body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: failure without an error message: {body}"
    );
}

fn plan(assignments: Value) -> Value {
    json!({"summary": "test plan", "assignments": assignments})
}

fn dept_set(sessions: &[Value]) -> BTreeSet<String> {
    sessions
        .iter()
        .map(|s| s["department"].as_str().unwrap_or("").to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// Security (SPEC 10)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_host_origin_and_no_cors() {
    let (_repo, server) = serve(&[]).await;
    let mut answers = Answers::new(&server);
    missing_or_wrong_tokens_are_401(&mut answers).await;
    only_a_bearer_header_carries_the_token(&mut answers).await;
    foreign_hosts_are_421(&mut answers).await;
    foreign_origins_are_403(&mut answers).await;
    // No CORS header on any answer.
    for (what, r) in &answers.kept {
        for (name, _) in &r.headers {
            assert!(
                !name.starts_with("access-control-"),
                "{what}: CORS header {name} sent: {r:?}"
            );
        }
    }
    // Nothing was started by the refused POSTs.
    let status = server.api.status().await;
    assert_eq!(status["sessions"], json!([]), "{status}");
    server.stop().await;
}

/// Raw requests to the server under test, every answer kept so that the test
/// can check at its end that none carried a CORS header.
struct Answers {
    addr: std::net::SocketAddr,
    host: String,
    token: String,
    kept: Vec<(String, RawResponse)>,
}

impl Answers {
    fn new(server: &InProcess) -> Answers {
        Answers {
            addr: server.addr,
            host: server.host(),
            token: server.token.clone(),
            kept: Vec::new(),
        }
    }

    /// Sends `head` and `body`, keeps the answer as `what` and returns it.
    async fn send(&mut self, what: &str, head: &str, body: &[u8]) -> &RawResponse {
        let r = raw(self.addr, head, body).await;
        self.kept.push((what.to_string(), r));
        &self.kept.last().unwrap().1
    }
}

/// Token missing, wrong, wrong scheme: 401, and a POST without a token is
/// refused before anything runs.
async fn missing_or_wrong_tokens_are_401(a: &mut Answers) {
    let (host, token) = (a.host.clone(), a.token.clone());
    for (what, auth) in [
        ("no token", String::new()),
        (
            "wrong token",
            format!("Authorization: Bearer {}\n", "0".repeat(64)),
        ),
        (
            "token prefix",
            format!("Authorization: Bearer {}\n", &token[..32]),
        ),
        ("basic scheme", format!("Authorization: Basic {token}\n")),
    ] {
        let head = format!("GET /api/status HTTP/1.1\nHost: {host}\n{auth}");
        let r = a.send(what, &head, b"").await;
        assert_eq!(r.status, 401, "{what}: {r:?}");
        assert_failure_shape(what, &r.json());
    }
    let head = format!(
        "POST /api/start_zhongshu_session HTTP/1.1\nHost: {host}\nContent-Type: application/json"
    );
    let r = a
        .send("post without token", &head, br#"{"task":"x"}"#)
        .await;
    assert_eq!(r.status, 401, "{r:?}");
}

/// The right token works as a bearer header, and only so: no cookie is set
/// or accepted (SECURITY.md), and `/?token=` is refused.
async fn only_a_bearer_header_carries_the_token(a: &mut Answers) {
    let (host, token) = (a.host.clone(), a.token.clone());
    let head = format!("GET /api/status HTTP/1.1\nHost: {host}\nAuthorization: Bearer {token}");
    let r = a.send("bearer", &head, b"").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["ok"], json!(true));
    let head = format!("GET /?token={token} HTTP/1.1\nHost: {host}");
    let r = a.send("token in the query", &head, b"").await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.header("set-cookie"), None, "{r:?}");
    assert_failure_shape("token in the query", &r.json());
    let head =
        format!("GET /api/status HTTP/1.1\nHost: {host}\nCookie: codex_governance_token={token}");
    let r = a.send("cookie", &head, b"").await;
    assert_eq!(r.status, 401, "a token cookie is not a credential: {r:?}");
    assert_failure_shape("token cookie", &r.json());
}

/// Foreign Host: 421, on /api/ and elsewhere, even with the token; no Host at
/// all too. localhost:PORT is the same server.
async fn foreign_hosts_are_421(a: &mut Answers) {
    let token = a.token.clone();
    let port = a.addr.port();
    for bad_host in [
        "evil.example".to_string(),
        format!("evil.example:{port}"),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        format!("192.168.1.10:{port}"),
    ] {
        for path in ["/api/status", "/healthz", "/"] {
            let head =
                format!("GET {path} HTTP/1.1\nHost: {bad_host}\nAuthorization: Bearer {token}");
            let r = a.send(&format!("host {bad_host}"), &head, b"").await;
            assert_eq!(r.status, 421, "Host {bad_host} {path}: {r:?}");
            assert_failure_shape("foreign host", &r.json());
        }
    }
    let r = a.send("no host", "GET /healthz HTTP/1.0", b"").await;
    assert_eq!(r.status, 421, "no Host header at all: {r:?}");
    let head =
        format!("GET /api/status HTTP/1.1\nHost: localhost:{port}\nAuthorization: Bearer {token}");
    let r = a.send("localhost", &head, b"").await;
    assert_eq!(r.status, 200, "{r:?}");
}

/// Foreign Origin: 403 on GET, POST and OPTIONS, token or not. The server's
/// own origin is fine.
async fn foreign_origins_are_403(a: &mut Answers) {
    let (host, token) = (a.host.clone(), a.token.clone());
    for origin in [
        "http://evil.example",
        "null",
        &format!("http://127.0.0.1:{}", a.addr.port().wrapping_add(1)),
    ] {
        let head = format!("GET /api/status HTTP/1.1\nHost: {host}\nOrigin: {origin}\nAuthorization: Bearer {token}");
        let get = a.send(&format!("GET origin {origin}"), &head, b"").await;
        assert_eq!(get.status, 403, "GET Origin {origin}: {get:?}");
        assert_failure_shape("GET foreign origin", &get.json());
        let head = format!(
            "POST /api/start_zhongshu_session HTTP/1.1\nHost: {host}\nOrigin: {origin}\nAuthorization: Bearer {token}\nContent-Type: application/json"
        );
        let body = br#"{"task":"should not start"}"#;
        let post = a.send(&format!("POST origin {origin}"), &head, body).await;
        assert_eq!(post.status, 403, "POST Origin {origin}: {post:?}");
        assert_failure_shape("POST foreign origin", &post.json());
        let head = format!(
            "OPTIONS /api/start_zhongshu_session HTTP/1.1\nHost: {host}\nOrigin: {origin}\nAccess-Control-Request-Method: POST\nAccess-Control-Request-Headers: authorization, content-type"
        );
        let options = a
            .send(&format!("OPTIONS origin {origin}"), &head, b"")
            .await;
        assert_eq!(options.status, 403, "OPTIONS Origin {origin}: {options:?}");
        assert_failure_shape("OPTIONS foreign origin", &options.json());
    }
    let head = format!("GET /api/status HTTP/1.1\nHost: {host}\nOrigin: http://{host}\nAuthorization: Bearer {token}");
    let r = a.send("own origin", &head, b"").await;
    assert_eq!(r.status, 200, "own origin: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_content_types_and_failure_shape() {
    let (_repo, server) = serve(&[]).await;
    simple_content_types_never_reach_a_handler(&server).await;
    oversized_and_non_object_bodies_are_refused(&server).await;
    unknown_routes_and_methods_are_404_and_405(&server).await;
    handler_failures_share_the_shape(&server).await;
    // Successes carry ok:true.
    let (s, b) = server.api.get("/healthz").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["ok"], json!(true), "{b}");
    server.stop().await;
}

/// The head of a POST to start a Zhongshu with the token and Content-Type `ct`.
fn start_zhongshu_head(server: &InProcess, ct: &str) -> String {
    format!(
        "POST /api/start_zhongshu_session HTTP/1.1\nHost: {}\nAuthorization: Bearer {}\nContent-Type: {ct}",
        server.host(),
        server.token
    )
}

/// A cross-site "simple" request: text/plain (and form types) never reach a
/// handler, nor a body without a Content-Type: 415.
async fn simple_content_types_never_reach_a_handler(server: &InProcess) {
    for ct in [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let r = raw(
            server.addr,
            &start_zhongshu_head(server, ct),
            br#"{"task":"sneaky"}"#,
        )
        .await;
        assert_eq!(r.status, 415, "Content-Type {ct}: {r:?}");
        assert_failure_shape(ct, &r.json());
    }
    let head = format!(
        "POST /api/start_zhongshu_session HTTP/1.1\nHost: {}\nAuthorization: Bearer {}",
        server.host(),
        server.token
    );
    let r = raw(server.addr, &head, br#"{"task":"no content type"}"#).await;
    assert_eq!(r.status, 415, "no Content-Type: {r:?}");
    assert_failure_shape("no content type", &r.json());
}

/// Over 1 MiB: 413; not a JSON object, or fields of the wrong type: 400.
async fn oversized_and_non_object_bodies_are_refused(server: &InProcess) {
    let head = start_zhongshu_head(server, "application/json");
    let big = format!("{{\"task\":\"{}\"}}", "a".repeat(1024 * 1024 + 16));
    let r = raw(server.addr, &head, big.as_bytes()).await;
    assert_eq!(
        r.status, 413,
        "body over 1 MiB: status {} body {}",
        r.status, r.body
    );
    assert_failure_shape("413", &r.json());
    for body in [
        &b"[1,2,3]"[..],
        b"\"a string\"",
        b"42",
        b"null",
        b"true",
        b"{not json",
        b"",
    ] {
        let r = raw(server.addr, &head, body).await;
        assert_eq!(
            r.status,
            400,
            "body {:?}: {r:?}",
            String::from_utf8_lossy(body)
        );
        assert_failure_shape("non-object body", &r.json());
    }
    let (s, b) = server
        .api
        .post("/api/start_zhongshu_session", &json!({"task": 5}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_failure_shape("wrong type", &b);
}

/// Unknown routes are 404, known routes with another method 405, all in the
/// failure shape.
async fn unknown_routes_and_methods_are_404_and_405(server: &InProcess) {
    for (method, path, want) in [
        ("GET", "/api/no_such_route", 404),
        ("GET", "/no/such/page", 404),
        ("POST", "/api/no_such_route", 404),
        ("GET", "/api/close_session", 405),
        ("POST", "/api/status", 405),
        ("DELETE", "/api/status", 405),
        ("PUT", "/api/session_input", 405),
    ] {
        let extra = if method == "GET" {
            ""
        } else {
            "\nContent-Type: application/json"
        };
        let body: &[u8] = if method == "GET" { b"" } else { b"{}" };
        let head = format!(
            "{method} {path} HTTP/1.1\nHost: {}\nAuthorization: Bearer {}{extra}",
            server.host(),
            server.token
        );
        let r = raw(server.addr, &head, body).await;
        assert_eq!(r.status, want, "{method} {path}: {r:?}");
        assert_failure_shape(&format!("{method} {path}"), &r.json());
    }
}

/// Handler-level failures share the shape: missing id, unknown session, empty
/// task, a bad audit cursor, an unknown model.
async fn handler_failures_share_the_shape(server: &InProcess) {
    for (path, want) in [
        ("/api/zhongshu_plan", 400),
        ("/api/zhongshu_plan?id=../../etc", 400),
        ("/api/zhongshu_plan?id=zhongshu-999", 404),
        ("/api/audit?since=abc", 400),
        ("/api/audit?before=-1", 400),
    ] {
        let (s, b) = server.api.get(path).await;
        assert_eq!(s.as_u16(), want, "GET {path}: {b}");
        assert_failure_shape(path, &b);
    }
    for (path, body, want) in [
        ("/api/start_zhongshu_session", json!({"task": "   "}), 400),
        (
            "/api/close_session",
            json!({"session_id": "zhongshu-999"}),
            404,
        ),
        ("/api/close_session", json!({"session_id": "../x"}), 400),
        (
            "/api/session_input",
            json!({"session_id": "zhongshu-999", "input": "x"}),
            404,
        ),
        (
            "/api/start_zhongshu_session",
            json!({"task": "x", "model": "gpt-0"}),
            400,
        ),
    ] {
        let (s, b) = server.api.post(path, &body).await;
        assert_eq!(s.as_u16(), want, "POST {path} {body}: {b}");
        assert_failure_shape(path, &b);
    }
}

// ---------------------------------------------------------------------------
// Agent command and environment (SPEC 6)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    windows,
    ignore = "Wine's pseudo console breaks the agent's several-KB FAKE_AGENT_ARGV line (seen in the Wine lane); src/platform/program.rs's unit tests keep every argument of a Windows start, a multi-line one too"
)]
async fn prompt_is_one_argument_and_env_reaches_agents() {
    let (repo, server) = serve(&[]).await;
    let api = &server.api;
    let task = r#"Fix "the thing" in 'src/x y.rs'; then $(touch /tmp/cg-pwned) `id` && echo {model} \ done"#;
    let id = api.start_zhongshu(task).await;
    let log = wait_log(&repo, &id, "FAKE_AGENT_OPTIONS").await;
    let session = api.session(&id).await;
    let argv = log_json(&log, "FAKE_AGENT_ARGV ")
        .unwrap_or_else(|| panic!("no FAKE_AGENT_ARGV line in the log:\n{log}"));
    let argv: Vec<String> = serde_json::from_value(argv).unwrap();
    the_prompt_is_the_last_argument_verbatim(&argv, task, &session);
    let after = |flag: &str| {
        let i = argv
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("{flag} in {argv:?}"));
        argv[i + 1].clone()
    };
    assert_eq!(after("--model"), session["model"].as_str().unwrap());
    assert_eq!(after("--session"), id);
    assert_eq!(
        after("--prompt-file"),
        session["prompt_path"].as_str().unwrap()
    );
    assert_eq!(
        std::fs::canonicalize(after("--cd")).unwrap(),
        std::fs::canonicalize(&repo.path).unwrap()
    );
    let env = log_json(&log, "FAKE_AGENT_ENV ").expect("env line");
    a_zhongshus_environment_names_it_and_no_department(&env, &server, &id, &session);
    assert!(
        !log.contains(&server.token),
        "the token never appears in a transcript"
    );
    a_department_gets_its_parent_department_and_mailbox(&repo, &server, &id, &session).await;
    server.stop().await;
}

/// The argument vector holds every word of the template, program first; the
/// task arrives verbatim in the last one, unrun, as in the prompt file.
fn the_prompt_is_the_last_argument_verbatim(argv: &[String], task: &str, session: &Value) {
    let expected_len = TestRepo::agent_command(&Default::default()).len();
    assert_eq!(
        argv.len(),
        expected_len,
        "one argument per template word: {argv:?}"
    );
    let prompt = argv.last().unwrap();
    assert!(
        prompt.contains(task),
        "the task arrives verbatim in one argument: {prompt}"
    );
    assert!(
        !std::path::Path::new("/tmp/cg-pwned").exists(),
        "no shell ran the prompt"
    );
    let prompt_file = std::fs::read_to_string(session["prompt_path"].as_str().unwrap()).unwrap();
    assert_eq!(
        &prompt_file, prompt,
        "the prompt file holds the same prompt"
    );
}

/// A Zhongshu's environment (`env`, as the fake agent printed it) names the
/// launcher, its session, prompt file and model, and nothing of a department.
fn a_zhongshus_environment_names_it_and_no_department(
    env: &Value,
    server: &InProcess,
    id: &str,
    session: &Value,
) {
    assert_eq!(env["CODEX_GOVERNANCE_URL"], json!(server.url), "{env}");
    assert_eq!(
        env["CODEX_GOVERNANCE_TOKEN_LEN"],
        json!(server.token.len()),
        "{env}"
    );
    assert_eq!(env["CODEX_GOVERNANCE_SESSION_ID"], json!(id));
    assert_eq!(env["CODEX_GOVERNANCE_SESSION_KIND"], json!("zhongshu"));
    assert_eq!(env["CODEX_GOVERNANCE_PROMPT_FILE"], session["prompt_path"]);
    assert_eq!(env["CODEX_GOVERNANCE_MODEL"], session["model"]);
    for absent in [
        "CODEX_GOVERNANCE_PARENT_SESSION_ID",
        "CODEX_GOVERNANCE_DEPARTMENT",
        "CODEX_GOVERNANCE_MAILBOX",
    ] {
        assert!(
            env.get(absent).is_none(),
            "a Zhongshu gets no {absent}: {env}"
        );
    }
}

/// A department of Zhongshu `id` gets its parent, department and its own
/// drop folder inside its Zhongshu's incoming/ (`zhongshu` is its session).
async fn a_department_gets_its_parent_department_and_mailbox(
    repo: &TestRepo,
    server: &InProcess,
    id: &str,
    zhongshu: &Value,
) {
    let api = &server.api;
    let answer = api
        .post_ok(
            "/api/start_department",
            &json!({"parent_session_id": id, "department": "lingyubu",
                    "task": "department task [[fake-agent: --no-report --after-report wait]]"}),
        )
        .await;
    assert_eq!(answer["queued"], json!(false), "{answer}");
    let dept = answer["session_id"].as_str().unwrap().to_string();
    let dlog = wait_log(repo, &dept, "FAKE_AGENT_WAITING").await;
    let denv = log_json(&dlog, "FAKE_AGENT_ENV ").expect("env line");
    let dsession = api.session(&dept).await;
    assert_eq!(denv["CODEX_GOVERNANCE_SESSION_KIND"], json!("department"));
    assert_eq!(denv["CODEX_GOVERNANCE_SESSION_ID"], json!(dept));
    assert_eq!(denv["CODEX_GOVERNANCE_PARENT_SESSION_ID"], json!(id));
    assert_eq!(denv["CODEX_GOVERNANCE_DEPARTMENT"], json!("lingyubu"));
    assert_eq!(denv["CODEX_GOVERNANCE_MODEL"], dsession["model"]);
    assert_eq!(denv["CODEX_GOVERNANCE_URL"], json!(server.url));
    let incoming = zhongshu["mailbox"]["incoming"]
        .as_str()
        .expect("mailbox.incoming");
    let own = std::path::Path::new(incoming).join(&dept);
    assert_eq!(
        denv["CODEX_GOVERNANCE_MAILBOX"],
        json!(own.display().to_string())
    );
    assert_eq!(dsession["drop_folder"], json!(own.display().to_string()));
    assert!(own.is_dir());
    let dargv: Vec<String> =
        serde_json::from_value(log_json(&dlog, "FAKE_AGENT_ARGV ").unwrap()).unwrap();
    assert!(
        dargv.last().unwrap().contains("department task"),
        "{dargv:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn department_writes_its_report_into_the_mailbox() {
    // --report-via file (the default) and --report-via cli (`codex-governance mailbox send`).
    let (repo, server) = serve(&["--max-lifetime", "120"]).await;
    let api = &server.api;
    let z = api.start_zhongshu("mailbox test").await;
    let zs = api.session(&z).await;
    let incoming = std::path::PathBuf::from(zs["mailbox"]["incoming"].as_str().unwrap());
    let archive = std::path::PathBuf::from(zs["mailbox"]["archive"].as_str().unwrap());
    let mut ids = Vec::new();
    for (dept, via) in [("lingyubu", "file"), ("zhilibu", "cli")] {
        let a = api
            .post_ok(
                "/api/start_department",
                &json!({"parent_session_id": z, "department": dept,
                        "task": format!("report [[fake-agent: --report-via {via} --risk 'r one' --summary 'done by {via}']]")}),
            )
            .await;
        ids.push((a["session_id"].as_str().unwrap().to_string(), dept, via));
    }
    for (id, dept, via) in &ids {
        let log = wait_log(&repo, id, "FAKE_AGENT_EXIT").await;
        if *via == "cli" {
            assert!(
                log.contains("FAKE_AGENT_REPORT_CLI 0 "),
                "mailbox send failed: {log}"
            );
        } else {
            assert!(log.contains("FAKE_AGENT_REPORT_WRITTEN "), "{log}");
        }
        // The file is in incoming/ until the launcher ingests it, then in archive/.
        let report = wait_until(
            &format!("report of {id} in the mailbox"),
            PATIENCE,
            || async {
                for dir in [&incoming, &archive] {
                    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                        let name = entry.file_name().to_string_lossy().to_string();
                        if name.starts_with('.') || !name.ends_with(".json") {
                            continue;
                        }
                        let Ok(text) = std::fs::read_to_string(entry.path()) else {
                            continue;
                        };
                        let Ok(v) = serde_json::from_str::<Value>(&text) else {
                            continue;
                        };
                        if v["department_session_id"] == json!(id) {
                            return Some(v);
                        }
                    }
                }
                None
            },
        )
        .await;
        assert_eq!(report["parent_session_id"], json!(z), "{report}");
        assert_eq!(report["department"], json!(dept), "{report}");
        assert_eq!(
            report["summary"],
            json!(format!("done by {via}")),
            "{report}"
        );
        assert_eq!(report["risks"], json!(["r one"]), "{report}");
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------
// Plans and the queue (SPEC 7)

fn three_assignments(directive: &str) -> Value {
    json!([
        {"department": "lingyubu", "task": format!("domain work {directive}")},
        {"department": "zhilibu", "task": format!("docs work {directive}"), "verify_commands": ["git status --short"]},
        {"department": "gongchengbu", "task": format!("tooling work {directive}"), "model": "gpt-5.4", "files": ["tools/x.py"]},
    ])
}

/// A repository whose Zhongshu reports `plan` as soon as it starts (the fake
/// agent's `--plan-file`).
fn repo_with_plan(plan: &Value) -> TestRepo {
    let repo = TestRepo::with_flags(&[]);
    let plan_file = repo.write_json("plan.json", plan);
    repo.write_config(&RepoOptions {
        agent_flags: vec!["--plan-file".into(), plan_file.display().to_string()],
        ..Default::default()
    });
    repo
}

/// [`repo_with_plan`], served by a launcher in this process.
async fn serve_with_plan(plan: &Value) -> (TestRepo, InProcess) {
    let repo = repo_with_plan(plan);
    let server = InProcess::start(&repo).await;
    (repo, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_of_three_with_limit_two_queues_one_until_a_slot_frees() {
    let (repo, server) = serve_with_plan(&plan(three_assignments(
        "[[fake-agent: --no-report --work-seconds 120]]",
    )))
    .await;
    let api = &server.api;
    let z = api.start_zhongshu("plan three").await;
    wait_plan_accepted(&repo, &z).await;
    let status = api
        .wait_status("2 departments running, 1 queued", |s| {
            running(&departments(s)).len() == 2 && s["queue"].as_array().map(Vec::len) == Some(1)
        })
        .await;
    two_started_and_the_third_queued(api, &status, &z).await;
    // GETs never pump the queue.
    for _ in 0..3 {
        api.status().await;
    }
    assert_eq!(api.status().await["queue"].as_array().unwrap().len(), 1);
    // A fourth, started by hand while the limit is reached, is refused as
    // the Python tool refused it (a plan's assignments queue; tests/python_parity.rs).
    let (code, d) = api
        .post(
            "/api/start_department",
            &json!({"parent_session_id": z, "department": "menxia", "task": "review [[fake-agent: --no-report --work-seconds 120]]"}),
        )
        .await;
    assert_eq!(code.as_u16(), 400, "{d}");
    assert_eq!(api.status().await["queue"].as_array().unwrap().len(), 1);
    closing_one_starts_the_queue_head(api, &status).await;
    server.stop().await;
}

/// In `status`: lingyubu and zhilibu started, gongchengbu (the third) waits in
/// the queue, FIFO, and Zhongshu `z`'s plan says so.
async fn two_started_and_the_third_queued(api: &Api, status: &Value, z: &str) {
    assert_eq!(status["active_department_sessions"], json!(2), "{status}");
    assert_eq!(status["max_department_sessions"], json!(2));
    let queued = status["queue"][0].clone();
    assert_eq!(
        queued["department"],
        json!("gongchengbu"),
        "FIFO: the third waits: {queued}"
    );
    assert_eq!(queued["status"], json!("queued"));
    assert_eq!(queued["parent_session_id"], json!(z));
    let started = dept_set(&departments(status));
    assert_eq!(
        started,
        BTreeSet::from(["lingyubu".to_string(), "zhilibu".to_string()])
    );
    let p = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    let statuses: Vec<&str> = p["plan"]["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["started", "started", "queued"], "{p}");
    assert_eq!(
        p["plan"]["assignments"][1]["verify"],
        json!(["git status --short"]),
        "verify_commands alias"
    );
}

/// Closing lingyubu (in `status`) frees a slot: the queue head, gongchengbu,
/// starts with its assignment's model.
async fn closing_one_starts_the_queue_head(api: &Api, status: &Value) {
    let first = departments(status)
        .into_iter()
        .find(|s| s["department"] == "lingyubu")
        .unwrap();
    let closed = api
        .post_ok("/api/close_session", &json!({"session_id": first["id"]}))
        .await;
    assert_eq!(closed["session"]["status"], json!("exited"), "{closed}");
    let status = api
        .wait_status("gongchengbu started after the close", |s| {
            // Started: its session runs and its queue item is gone (it is
            // "starting" for a moment in between).
            departments(s)
                .iter()
                .any(|d| d["department"] == "gongchengbu" && d["status"] == "running")
                && !s["queue"]
                    .as_array()
                    .is_some_and(|q| q.iter().any(|i| i["department"] == "gongchengbu"))
        })
        .await;
    assert_eq!(running(&departments(&status)).len(), 2, "{status}");
    assert!(status["queue"].as_array().unwrap().is_empty(), "{status}");
    let g = departments(&status)
        .into_iter()
        .find(|d| d["department"] == "gongchengbu")
        .unwrap();
    assert_eq!(
        g["model"],
        json!("gpt-5.4"),
        "the assignment's model is used"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_drains_as_departments_exit_never_over_the_limit() {
    let (_repo, server) = serve_with_plan(&plan(three_assignments(
        "[[fake-agent: --no-report --work-seconds 2 --after-report exit]]",
    )))
    .await;
    let api = &server.api;
    let z = api.start_zhongshu("drain").await;
    let status = api
        .wait_status("all three departments ran and exited", |s| {
            let d = departments(s);
            d.len() == 3 && running(&d).is_empty() && s["queue"].as_array().map(Vec::len) == Some(0)
        })
        .await;
    assert_eq!(
        dept_set(&departments(&status)),
        BTreeSet::from(["lingyubu".into(), "zhilibu".into(), "gongchengbu".into()])
    );
    for d in departments(&status) {
        assert_eq!(d["parent_session_id"], json!(z));
        assert_eq!(d["exit_code"], json!(0), "{d}");
        assert_eq!(d["heartbeat_status"], json!("exited"), "{d}");
    }
    // Replay the audit log: at no point did more than 2 departments run.
    let audit = api.get_ok("/api/audit?since=0").await;
    let kinds: std::collections::HashMap<String, String> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "session_started")
        .map(|e| {
            (
                e["session_id"].as_str().unwrap().to_string(),
                e["session_kind"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let (mut now, mut max) = (0i32, 0i32);
    let mut exited = BTreeSet::new();
    for e in audit["events"].as_array().unwrap() {
        let sid = e["session_id"].as_str().unwrap_or("");
        if kinds.get(sid).map(String::as_str) != Some("department") {
            continue;
        }
        match e["event"].as_str().unwrap() {
            "session_started" => now += 1,
            "session_exited" if exited.insert(sid.to_string()) => now -= 1,
            _ => {}
        }
        max = max.max(now);
    }
    assert_eq!(max, 2, "departments running at once, per the audit log");
    let events: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    for needed in [
        "zhongshu_plan_registered",
        "assignment_queued",
        "assignment_started",
        "session_started",
        "session_exited",
    ] {
        assert!(events.contains(&needed), "audit has {needed}: {events:?}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_starts_only_ticked_assignments() {
    let mut p = plan(three_assignments(
        "[[fake-agent: --no-report --work-seconds 120]]",
    ));
    p["needs_confirmation"] = json!(true);
    let (repo, server) = serve_with_plan(&p).await;
    let api = &server.api;
    let z = api.start_zhongshu("confirm").await;
    api.wait_session(&z, "plan awaiting confirmation", |s| {
        s["plan_status"] == "awaiting_confirmation"
    })
    .await;
    // The Zhongshu's registration is answered after the queue was pumped:
    // a wrong pump has shown itself by then.
    wait_plan_accepted(&repo, &z).await;
    let status = api.status().await;
    assert!(
        departments(&status).is_empty(),
        "nothing starts before confirmation: {status}"
    );
    assert_eq!(status["queue"], json!([]), "{status}");
    let plan_view = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_eq!(plan_view["plan"]["needs_confirmation"], json!(true));
    assert_eq!(plan_view["plan"]["status"], json!("awaiting_confirmation"));

    // Tick the first and third only; the third's task edited.
    let mut edited = plan_view["plan"]["assignments"].as_array().unwrap().clone();
    edited[1]["selected"] = json!(false);
    edited[2]["task"] = json!("edited tooling work [[fake-agent: --no-report --work-seconds 120]]");
    let answer = api
        .post_ok(
            "/api/start_assignments",
            &json!({"parent_session_id": z, "assignments": edited}),
        )
        .await;
    let statuses: Vec<&str> = answer["plan"]["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["started", "skipped", "started"], "{answer}");
    let status = api
        .wait_status("two departments running", |s| {
            running(&departments(s)).len() == 2
        })
        .await;
    assert_eq!(
        dept_set(&departments(&status)),
        BTreeSet::from(["lingyubu".into(), "gongchengbu".into()])
    );
    assert_eq!(status["queue"], json!([]));
    let g = departments(&status)
        .into_iter()
        .find(|d| d["department"] == "gongchengbu")
        .unwrap();
    assert!(
        g["task"]
            .as_str()
            .unwrap()
            .starts_with("edited tooling work"),
        "{g}"
    );
    assert_eq!(api.session(&z).await["plan_status"], json!("dispatched"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_assignments_are_400s_naming_the_assignment() {
    let (_repo, server) = serve(&[]).await;
    let api = &server.api;
    let z = api.start_zhongshu("validation").await;
    let good = json!({"department": "lingyubu", "task": "fine"});
    for (bad, needle) in [
        (
            json!({"department": "nosuchdept", "task": "x"}),
            "nosuchdept",
        ),
        (json!({"department": "zhilibu", "task": "   "}), "task"),
        (json!({"department": "zhilibu", "task": ""}), "task"),
        (
            json!({"department": "zhilibu", "task": "x", "model": "gpt-0"}),
            "gpt-0",
        ),
    ] {
        let body =
            json!({"session_id": z, "summary": "s", "assignments": [good.clone(), bad.clone()]});
        let (s, b) = api.post("/api/report_zhongshu_plan", &body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {b}");
        assert_failure_shape("bad assignment", &b);
        let e = b["error"].as_str().unwrap();
        assert!(
            e.contains("assignment 2"),
            "names the assignment by position: {e}"
        );
        assert!(e.contains(needle), "says what is wrong ({needle}): {e}");
        // The same check in the nested form and in start_assignments.
        let nested = json!({"session_id": z, "plan": {"summary": "s", "assignments": [good.clone(), bad.clone()]}});
        let (s, b) = api.post("/api/report_zhongshu_plan", &nested).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "nested {bad}: {b}");
        assert!(b["error"].as_str().unwrap().contains("assignment 2"), "{b}");
        let (s, b) = api
            .post(
                "/api/start_assignments",
                &json!({"parent_session_id": z, "assignments": [good.clone(), bad.clone()]}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "start_assignments {bad}: {b}");
        assert!(b["error"].as_str().unwrap().contains("assignment 2"), "{b}");
    }
    // Nothing was registered or queued by the refused plans.
    let status = api.status().await;
    assert_eq!(status["queue"], json!([]));
    assert!(departments(&status).is_empty());
    assert_eq!(api.session(&z).await["plan_status"], json!("none"));
    let p = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    // No plan: the Python tool's empty plan, not ready.
    assert_eq!(p["plan"]["ready"], json!(false), "{p}");
    assert_eq!(p["plan"]["assignments"], json!([]), "{p}");
    // A plan for a session that does not exist, or is not a Zhongshu.
    let (s, b) = api
        .post(
            "/api/report_zhongshu_plan",
            &json!({"session_id": "zhongshu-99", "assignments": []}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    let (s, b) = api
        .post(
            "/api/report_zhongshu_plan",
            &json!({"session_id": "../../x", "assignments": []}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_plan_form_and_empty_plan() {
    let (_repo, server) = serve(&[]).await;
    let api = &server.api;

    let z1 = api.start_zhongshu("nested").await;
    let answer = api
        .post_ok(
            "/api/report_zhongshu_plan",
            &json!({"session_id": z1, "plan": {"summary": "nested summary", "assignments": [
                {"department": "zhilibu", "task": "docs [[fake-agent: --no-report --work-seconds 120]]", "reason": "docs changed"}]}}),
        )
        .await;
    assert_eq!(
        answer["plan"]["summary"],
        json!("nested summary"),
        "{answer}"
    );
    assert_eq!(
        answer["plan"]["assignments"][0]["reason"],
        json!("docs changed")
    );
    let status = api
        .wait_status("the nested plan's department runs", |s| {
            running(&departments(s)).len() == 1
        })
        .await;
    assert_eq!(departments(&status)[0]["parent_session_id"], json!(z1));
    assert_eq!(api.session(&z1).await["plan_status"], json!("dispatched"));

    let z2 = api.start_zhongshu("empty").await;
    let answer = api
        .post_ok(
            "/api/report_zhongshu_plan",
            &json!({"session_id": z2, "summary": "nothing to do", "assignments": []}),
        )
        .await;
    assert_eq!(answer["plan"]["status"], json!("ready"), "{answer}");
    assert_eq!(api.session(&z2).await["plan_status"], json!("ready"));
    // Without an assignments key at all, too.
    let z3 = api.start_zhongshu("empty too").await;
    let answer = api
        .post_ok(
            "/api/report_zhongshu_plan",
            &json!({"session_id": z3, "plan": {"summary": "nothing"}}),
        )
        .await;
    assert_eq!(answer["plan"]["status"], json!("ready"), "{answer}");
    let p = api.get_ok(&format!("/api/zhongshu_plan?id={z2}")).await;
    assert_eq!(p["plan"]["assignments"], json!([]));
    assert_eq!(api.status().await["queue"], json!([]));
    server.stop().await;
}

// ---------------------------------------------------------------------------
// Input and closing (SPEC 6)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_input_reaches_the_pty_and_is_recorded() {
    let (repo, server) = serve(&[]).await;
    let api = &server.api;
    let z = api.start_zhongshu("input").await;
    wait_log(&repo, &z, "FAKE_AGENT_WAITING").await;
    let inputs = [
        "hello world",
        r#"with "double" and 'single' quotes $(id)"#,
        "中文 and ünïcode",
    ];
    for input in inputs {
        let answer = api
            .post_ok(
                "/api/session_input",
                &json!({"session_id": z, "input": input}),
            )
            .await;
        let history = answer["session"]["input_history"].as_array().unwrap();
        assert_eq!(history.last().unwrap()["input"], json!(input), "{answer}");
        wait_log(&repo, &z, &format!("ECHO: {input}")).await;
    }
    let session = api.session(&z).await;
    let history: Vec<&str> = session["input_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["input"].as_str().unwrap())
        .collect();
    assert_eq!(history, inputs);
    for h in session["input_history"].as_array().unwrap() {
        chrono::DateTime::parse_from_rfc3339(h["at"].as_str().unwrap()).expect("RFC 3339 time");
    }
    let preview = session["transcript_preview"].as_str().unwrap();
    assert!(
        preview.contains(&format!("ECHO: {}", inputs[2])),
        "preview: {preview}"
    );
    assert!(
        !preview.contains('\x1b'),
        "preview has no escape sequences: {preview:?}"
    );
    // The `text` alias, an empty input, and an exited session.
    api.post_ok(
        "/api/session_input",
        &json!({"session_id": z, "text": "via alias"}),
    )
    .await;
    wait_log(&repo, &z, "ECHO: via alias").await;
    let (s, b) = api
        .post("/api/session_input", &json!({"session_id": z, "input": ""}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    api.post_ok("/api/close_session", &json!({"session_id": z}))
        .await;
    let (s, b) = api
        .post(
            "/api/session_input",
            &json!({"session_id": z, "input": "late"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_failure_shape("input to an exited session", &b);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_kills_the_whole_process_group() {
    let (repo, server) = serve(&["--spawn-child"]).await;
    let api = &server.api;
    let z = api.start_zhongshu("close").await;
    let log = wait_log(&repo, &z, "FAKE_AGENT_WAITING").await;
    let child = child_pid(&log).expect("CHILD_PID in the transcript");
    let pid = api.session(&z).await["pid"].as_u64().unwrap() as u32;
    assert!(!process_gone(child), "the child runs before the close");
    assert!(!process_gone(pid));
    let answer = api
        .post_ok("/api/close_session", &json!({"session_id": z}))
        .await;
    let s = &answer["session"];
    assert_eq!(s["status"], json!("exited"), "{answer}");
    assert_eq!(s["ended_reason"], json!("closed"), "{answer}");
    assert!(s["ended_at"].is_string(), "{answer}");
    wait_gone(pid, "the agent").await;
    wait_gone(child, "the agent's child in its process group").await;
    // Closing again is harmless.
    api.post_ok("/api/close_session", &json!({"session_id": z}))
        .await;
    let audit = api.get_ok("/api/audit?since=0").await;
    assert!(
        audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "session_closed" && e["session_id"] == json!(z)),
        "session_closed audited"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    windows,
    ignore = "Wine 8 raises no console control event for a Ctrl-C typed into a pseudo console"
)]
async fn an_agent_ignoring_sigterm_is_killed() {
    let (repo, server) = serve(&["--ignore-sigterm", "--spawn-child"]).await;
    let api = &server.api;
    let z = api.start_zhongshu("stubborn").await;
    let log = wait_log(&repo, &z, "FAKE_AGENT_WAITING").await;
    let child = child_pid(&log).unwrap();
    let pid = api.session(&z).await["pid"].as_u64().unwrap() as u32;
    let answer = tokio::time::timeout(
        PATIENCE,
        api.post("/api/close_session", &json!({"session_id": z})),
    )
    .await
    .expect("close returns (SIGKILL after the grace period)");
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    assert_eq!(answer.1["session"]["status"], json!("exited"));
    wait_log(&repo, &z, "FAKE_AGENT_SIGTERM_IGNORED").await;
    assert!(
        process_gone(pid),
        "the agent was killed and reaped by the time close returned"
    );
    wait_gone(child, "the child").await;
    let code = answer.1["session"]["exit_code"].as_i64();
    assert!(
        code.is_some() && code != Some(0),
        "killed, not a clean exit: {code:?}"
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------
// Restarts and durability (SPEC 14), as a subprocess

#[test]
fn kill_9_then_restart_recovers_sessions_plans_and_queue() {
    let rt = test_runtime();
    let repo = repo_with_plan(&plan(three_assignments(
        "[[fake-agent: --no-report --work-seconds 300]]",
    )));
    let state_dir = repo.root.join("state");
    let sd = state_dir.display().to_string();

    let mut first = spawn_launcher(&repo.path, &["--state-dir", &sd]);
    let (z, before) = rt.block_on(async {
        let api = &first.api;
        let z = api.start_zhongshu("restart").await;
        let s = api
            .wait_status("2 running, 1 queued", |s| {
                running(&departments(s)).len() == 2
                    && s["queue"].as_array().map(Vec::len) == Some(1)
            })
            .await;
        (z, s)
    });
    assert!(state_dir.join("codex_governance.db").is_file());
    assert!(
        !repo.path.join(".tmp").exists(),
        "--state-dir is honoured: nothing in <repo>/.tmp"
    );
    let status = first.kill9();
    assert!(!status.success());

    let second = spawn_launcher(&repo.path, &["--state-dir", &sd]);
    assert_eq!(
        second.token, first.token,
        "the token is kept for the state folder: tabs open before the kill keep working"
    );
    rt.block_on(recovered_after_the_kill(&second.api, &z, &before));
    drop(second);
    let (code, out, err) = run_binary(&["audit", "verify", "--state-dir", &sd]);
    assert_eq!(code, 0, "the chain continues across a kill -9: {out} {err}");
}

/// After a restart: every session of `before` (the killed launcher's status)
/// is exited for the restart and its agent gone, Zhongshu `z`'s plan is
/// still there, its queued item still queued or started by the new launcher,
/// and each recovered session has one `session_exited` line.
async fn recovered_after_the_kill(api: &Api, z: &str, before: &Value) {
    let old: Vec<&Value> = before["sessions"].as_array().unwrap().iter().collect();
    let old_ids: BTreeSet<String> = old
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    let after = api.status().await;
    for id in &old_ids {
        let s = after["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == json!(id))
            .cloned();
        let s = s.unwrap_or_else(|| panic!("{id} survives the restart: {after}"));
        assert_eq!(s["status"], json!("exited"), "{s}");
        assert_eq!(s["ended_reason"], json!("launcher_restart"), "{s}");
        assert!(s["ended_at"].is_string(), "{s}");
    }
    for s in &old {
        let pid = s["pid"].as_u64().unwrap() as u32;
        wait_gone(pid, "an agent of the killed launcher").await;
    }
    let p = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_eq!(p["plan"]["assignments"].as_array().unwrap().len(), 3, "{p}");
    assert_eq!(p["plan"]["summary"], json!("test plan"));
    the_queued_item_is_queued_or_started(api, z, &before["queue"][0]["id"], &old_ids).await;
    let audit = api.get_ok("/api/audit?since=0").await;
    let restarts = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "session_exited" && e["reason"] == "launcher_restart")
        .count();
    assert_eq!(
        restarts,
        old_ids.len(),
        "one session_exited per recovered session"
    );
}

/// The queued gongchengbu (queue item `queued_id`) is still queued, or was
/// started by the new launcher (a session not in `old_ids`) and left the queue.
async fn the_queued_item_is_queued_or_started(
    api: &Api,
    z: &str,
    queued_id: &Value,
    old_ids: &BTreeSet<String>,
) {
    let is_new_gongchengbu = |d: &Value| {
        d["department"] == "gongchengbu" && !old_ids.contains(d["id"].as_str().unwrap())
    };
    let after = api
        .wait_status("the queued gongchengbu is queued or started", |s| {
            let queued = s["queue"]
                .as_array()
                .unwrap()
                .iter()
                .any(|q| q["id"] == *queued_id && q["status"] == "queued");
            queued || departments(s).iter().any(is_new_gongchengbu)
        })
        .await;
    if let Some(new) = departments(&after).iter().find(|d| is_new_gongchengbu(d)) {
        assert_eq!(new["parent_session_id"], json!(z));
        assert!(
            after["queue"]
                .as_array()
                .unwrap()
                .iter()
                .all(|q| q["id"] != *queued_id),
            "started items leave the queue"
        );
    }
}

#[test]
#[cfg_attr(
    windows,
    ignore = "a graceful stop by signal; tests/it/windows_loop.rs stops one with Ctrl-C in its console"
)]
fn sigterm_stops_gracefully_and_state_survives() {
    let rt = test_runtime();
    let repo = TestRepo::with_flags(&["--spawn-child"]);
    // Default state dir: <repo>/.tmp.
    let mut first = spawn_launcher(&repo.path, &[]);
    let launcher_file = repo.state_dir().join("codex_governance_launcher.json");
    assert!(launcher_file.is_file());
    let (z, pid, child) = rt.block_on(async {
        let api = &first.api;
        let z = api.start_zhongshu("graceful").await;
        let log = wait_log(&repo, &z, "FAKE_AGENT_WAITING").await;
        let pid = api.session(&z).await["pid"].as_u64().unwrap() as u32;
        api.post_ok(
            "/api/report_zhongshu_plan",
            &json!({"session_id": z, "summary": "kept", "assignments": []}),
        )
        .await;
        (z, pid, child_pid(&log).unwrap())
    });
    let status = first.terminate();
    assert!(
        status.success(),
        "SIGTERM is a clean exit: {status:?}\n{}",
        first.stderr()
    );
    assert!(process_gone(pid), "sessions are terminated before exit");
    rt.block_on(wait_gone(child, "the agent's child"));
    assert!(
        !launcher_file.exists(),
        "the launcher file goes with the launcher"
    );
    let audit =
        std::fs::read_to_string(repo.state_dir().join("codex_governance_audit.jsonl")).unwrap();
    assert!(
        audit
            .lines()
            .last()
            .unwrap()
            .contains("\"launcher_stopped\""),
        "last event: launcher_stopped"
    );

    let second = spawn_launcher(&repo.path, &[]);
    rt.block_on(async {
        let api = &second.api;
        let s = api.session(&z).await;
        assert_eq!(s["status"], json!("exited"), "{s}");
        assert_eq!(s["ended_reason"], json!("launcher_stopped"), "{s}");
        assert_eq!(s["plan_status"], json!("ready"), "{s}");
        let p = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
        assert_eq!(p["plan"]["summary"], json!("kept"));
        // The transcript of the old session is still previewed.
        assert!(
            s["transcript_preview"]
                .as_str()
                .unwrap()
                .contains("FAKE_AGENT"),
            "{s}"
        );
        // Ids continue.
        let z2 = api.start_zhongshu("again").await;
        assert_ne!(z2, z);
    });
}

// ---------------------------------------------------------------------------
// Audit log and events (SPEC 13, 10)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_since_and_verify_detects_an_edit() {
    let (repo, server) = serve(&[]).await;
    let api = &server.api;
    let z = api.start_zhongshu("audit").await;
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "assignments": []}),
    )
    .await;
    let all = api.get_ok("/api/audit?since=0").await;
    let events = all["events"].as_array().unwrap().clone();
    assert!(events.len() >= 3, "{all}");
    let seqs = seqs_of(&all);
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "seq counts up from 1"
    );
    assert_eq!(all["last_seq"], json!(seqs.len()));
    for e in &events {
        for key in ["seq", "ts", "event", "prev_hash", "hash"] {
            assert!(e.get(key).is_some(), "{key} in {e}");
        }
        chrono::DateTime::parse_from_rfc3339(e["ts"].as_str().unwrap()).expect("ts is RFC 3339");
    }
    assert_eq!(events[0]["event"], json!("launcher_started"));
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for needed in [
        "session_started",
        "zhongshu_plan_registered",
        "terminal_started",
    ] {
        assert!(names.contains(&needed), "{needed} in {names:?}");
    }
    audit_pages_since_and_before(api, &seqs).await;
    server.stop().await;
    verify_passes_then_names_an_edited_or_removed_line(&repo);
}

/// The `seq` of each event in an audit page.
fn seqs_of(page: &Value) -> Vec<u64> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect()
}

/// `since` gives the lines after it; paging back from the newest line,
/// `before` gives the lines just before it and where the page before that
/// one ends. `seqs` are all the lines'.
async fn audit_pages_since_and_before(api: &Api, seqs: &[u64]) {
    let since = 2u64;
    let tail = api.get_ok(&format!("/api/audit?since={since}")).await;
    assert_eq!(seqs_of(&tail), seqs[since as usize..].to_vec());
    let none = api
        .get_ok(&format!("/api/audit?since={}", seqs.len()))
        .await;
    assert_eq!(none["events"], json!([]));
    let last = *seqs.last().unwrap();
    let newest = api
        .get_ok(&format!("/api/audit?before={}&limit=2", last + 1))
        .await;
    assert_eq!(seqs_of(&newest), vec![last - 1, last], "{newest}");
    assert_eq!(newest["next_before"], json!(last - 1));
    let older = api
        .get_ok(&format!("/api/audit?before={}&limit=2", last - 1))
        .await;
    assert_eq!(seqs_of(&older), vec![last - 3, last - 2], "{older}");
    let oldest = api.get_ok("/api/audit?before=2&limit=5").await;
    assert_eq!(seqs_of(&oldest), vec![1], "{oldest}");
    assert_eq!(oldest["next_before"], json!(null));
}

/// `audit verify` passes on the intact chain (by `--state-dir` and by
/// `--repo`), then fails naming line 3 once a value in it is edited, and
/// line 2 once that line is removed.
fn verify_passes_then_names_an_edited_or_removed_line(repo: &TestRepo) {
    let sd = repo.state_dir().display().to_string();
    let (code, out, err) = run_binary(&["audit", "verify", "--state-dir", &sd]);
    assert_eq!(code, 0, "intact chain: {out} {err}");
    let (code, _, _) = run_binary(&[
        "audit",
        "verify",
        "--repo",
        &repo.path.display().to_string(),
    ]);
    assert_eq!(code, 0, "--repo finds <repo>/.tmp");

    // Edit line 3 (a value only: still valid JSON).
    let path = repo.state_dir().join("codex_governance_audit.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut v: Value = serde_json::from_str(&lines[2]).unwrap();
    v["ts"] = json!("2000-01-01T00:00:00+00:00");
    lines[2] = serde_json::to_string(&v).unwrap();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let (code, out, err) = run_binary(&["audit", "verify", "--state-dir", &sd]);
    assert_eq!(code, 1, "an edited line fails verification: {out} {err}");
    assert!(
        format!("{out}{err}").contains("line 3"),
        "names the line: {out} {err}"
    );

    // Deleting a line breaks the chain too.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(1);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let (code, out, err) = run_binary(&["audit", "verify", "--state-dir", &sd]);
    assert_eq!(code, 1, "a removed line fails verification: {out} {err}");
    assert!(
        format!("{out}{err}").contains("line 2"),
        "names the line: {out} {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_delivers_state_changes_with_ids() {
    let (_repo, server) = serve(&[]).await;
    let api = &server.api;
    let mut events = SseReader::open(api, "/api/events").await;
    let hello = events.next().await.expect("a hello frame");
    assert_eq!(hello.event.as_deref(), Some("hello"), "{hello:?}");
    let hello_seq: u64 = hello.id.expect("hello has an id").parse().unwrap();

    let z = api.start_zhongshu("events").await;
    let found = events
        .until("session_started", |f| {
            let text = f.json().to_string();
            text.contains("session_started") && text.contains(&z)
        })
        .await;
    let seq: u64 = found
        .id
        .expect("the event has an id:")
        .parse()
        .expect("id is the audit seq");
    assert!(seq > hello_seq, "{seq} > {hello_seq}");
    let audit = api.get_ok(&format!("/api/audit?since={}", seq - 1)).await;
    assert_eq!(audit["events"][0]["seq"], json!(seq));
    assert_eq!(
        audit["events"][0]["event"],
        json!("session_started"),
        "id: is the audit seq of that event"
    );

    // A reconnecting client with Last-Event-ID gets what it missed.
    let resp = api
        .client
        .get(api.url("/api/events"))
        .bearer_auth(&api.token)
        .header("Last-Event-ID", hello_seq.to_string())
        .send()
        .await
        .unwrap();
    let mut replay = SseReader::from_response(resp);
    replay
        .until("the missed session_started", |f| {
            f.id.as_deref() == Some(&seq.to_string())
        })
        .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_stream_carries_the_transcript_then_the_exit() {
    let (repo, server) = serve(&[]).await;
    let api = &server.api;
    let z = api.start_zhongshu("stream").await;
    wait_log(&repo, &z, "FAKE_AGENT_WAITING").await;
    let mut stream = SseReader::open(api, &format!("/api/session_stream?id={z}")).await;
    let first = stream.next().await.expect("the scrollback first");
    assert_eq!(first.event.as_deref(), Some("output"));
    let text = first.json()["text"].as_str().unwrap_or("").to_string();
    assert!(
        text.contains("FAKE_AGENT_START"),
        "late joiner gets the scrollback: {text}"
    );

    api.post_ok(
        "/api/session_input",
        &json!({"session_id": z, "input": "streamed hello"}),
    )
    .await;
    let mut seen = String::new();
    stream
        .until("the echo", |f| {
            seen.push_str(f.json()["text"].as_str().unwrap_or(""));
            seen.contains("ECHO: streamed hello")
        })
        .await;
    api.post_ok("/api/close_session", &json!({"session_id": z}))
        .await;
    let exit = stream
        .until("the exit event", |f| f.event.as_deref() == Some("exit"))
        .await;
    assert!(exit.json()["code"].is_i64(), "{exit:?}");
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the exit"
    );
    // A late viewer of an exited session gets the final transcript and the exit
    // (or a 404 failure): never a stream that hangs.
    let resp = api
        .client
        .get(api.url(&format!("/api/session_stream?id={z}")))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    if resp.status() == StatusCode::OK {
        let mut late = SseReader::from_response(resp);
        late.until("the exit event of an exited session", |f| {
            f.event.as_deref() == Some("exit")
        })
        .await;
        assert!(late.next().await.is_none(), "the late stream ends too");
    } else {
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------
// Launcher file, CLI refusals, status and session JSON

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launcher_file_is_private_and_holds_the_token() {
    let (repo, server) = serve(&[]).await;
    let path = repo.state_dir().join("codex_governance_launcher.json");
    let meta = std::fs::metadata(&path).expect("launcher file exists");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "mode 0600");
    }
    assert!(meta.is_file());
    let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(v["token"], json!(server.token));
    assert_eq!(v["url"], json!(server.url));
    assert_eq!(v["pid"], json!(std::process::id()));
    chrono::DateTime::parse_from_rfc3339(v["started_at"].as_str().unwrap())
        .expect("started_at RFC 3339");
    assert_eq!(server.token.len(), 64);
    assert!(server.token.chars().all(|c| c.is_ascii_hexdigit()));
    server.stop().await;
    assert!(!path.exists(), "removed on a graceful stop");
}

#[test]
fn non_loopback_hosts_are_refused() {
    let repo = TestRepo::with_flags(&[]);
    let r = repo.path.display().to_string();
    for host in ["0.0.0.0", "::", "192.168.1.10", "example.com"] {
        let (code, out, err) = run_binary(&["serve", "--repo", &r, "--host", host, "--port", "0"]);
        assert_ne!(code, 0, "--host {host} must be refused: {out} {err}");
        assert!(
            err.contains("loopback") || err.contains("localhost"),
            "a clear message for {host}: {err}"
        );
        assert!(!out.contains("listening"), "{out}");
    }
    // The default subcommand is serve: the same refusal without `serve`.
    let (code, _, err) = run_binary(&["--repo", &r, "--host", "0.0.0.0", "--port", "0"]);
    assert_ne!(code, 0, "{err}");
    assert!(!repo
        .state_dir()
        .join("codex_governance_launcher.json")
        .exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_carries_every_spec_field() {
    let (repo, server) = serve(&[]).await;
    let api = &server.api;
    api.start_zhongshu("status fields").await;
    for path in ["/api/status", "/api/sessions"] {
        let s = api.get_ok(path).await;
        assert_eq!(s["api_version"], json!(8), "{path}");
        for key in [
            "ok",
            "api_version",
            "repo",
            "project_name",
            "workflow_doc",
            "departments",
            "active_zhongshu_sessions",
            "active_department_sessions",
            "max_department_sessions",
            "model_choices",
            "zhongshu_model",
            "department_model",
            "queue",
            "browser_terminals",
            "sessions",
            "zhongshu_sessions",
            "department_sessions",
        ] {
            assert!(s.get(key).is_some(), "{path} lacks {key}: {s}");
        }
        assert_eq!(
            std::fs::canonicalize(s["repo"].as_str().unwrap()).unwrap(),
            std::fs::canonicalize(&repo.path).unwrap()
        );
        assert_eq!(
            s["project_name"],
            json!("repo"),
            "default: the repo folder name"
        );
        assert_eq!(s["workflow_doc"], json!("AGENTS.md"));
        assert_eq!(s["model_choices"], json!(["gpt-5.5", "gpt-5.4"]));
        assert_eq!(s["zhongshu_model"], json!("gpt-5.5"));
        assert_eq!(s["department_model"], json!("gpt-5.4"));
        assert_eq!(s["max_department_sessions"], json!(2));
        assert_eq!(s["active_zhongshu_sessions"], json!(1));
        let keys: BTreeSet<&str> = s["department_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["key"].as_str().unwrap())
            .collect();
        for k in ["menxia", "zhilibu", "gongchengbu", "lingyubu"] {
            assert!(keys.contains(k), "{k} in departments: {keys:?}");
        }
        for k in ["menxia", "zhilibu", "gongchengbu", "lingyubu"] {
            let pair = &s["departments"][k];
            assert!(
                pair[0].is_string() && pair[1].is_string(),
                "Python's {{key: [title, duty]}}: {pair}"
            );
        }
        for d in s["department_list"].as_array().unwrap() {
            assert!(d["title"].is_string() && d["duty"].is_string(), "{d}");
        }
        assert_eq!(s["sessions"].as_array().unwrap().len(), 1);
        assert_eq!(s["zhongshu_sessions"].as_array().unwrap().len(), 1);
        assert!(s["browser_terminals"].is_array());
        assert!(s["queue"].is_array());
    }
    server.stop().await;
}

fn assert_keys(what: &str, v: &Value, keys: &[&str]) {
    let missing: Vec<&&str> = keys.iter().filter(|k| v.get(**k).is_none()).collect();
    assert!(missing.is_empty(), "{what} lacks {missing:?}: {v}");
}

fn assert_time(what: &str, v: &Value) {
    if let Some(t) = v.as_str() {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap_or_else(|e| panic!("{what} {t:?} is not RFC 3339: {e}"));
        // A numeric offset (`+08:00`), as the Python tool wrote local times.
        let offset = t.len().checked_sub(6).map(|i| &t.as_bytes()[i..]);
        assert!(
            offset.is_some_and(|o| matches!(o[0], b'+' | b'-') && o[3] == b':'),
            "{what} {t:?} ends with a numeric offset"
        );
    } else {
        assert!(v.is_null(), "{what} is a time or null: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_json_carries_every_spec_field() {
    let (repo, server) = serve(&[]).await;
    let api = &server.api;
    let z = api.start_zhongshu("session fields").await;
    let d = api
        .post_ok(
            "/api/start_department",
            &json!({"parent_session_id": z, "department": "zhilibu", "task": "fields [[fake-agent: --no-report --after-report wait]]"}),
        )
        .await["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_log(&repo, &d, "FAKE_AGENT_WAITING").await;
    wait_log(&repo, &z, "FAKE_AGENT_WAITING").await;
    let zs = api.session(&z).await;
    a_zhongshu_carries_its_fields(&zs, &d);
    let ds = api.session(&d).await;
    a_department_carries_its_fields(&ds, &z);
    for s in [&zs, &ds] {
        for key in ["started_at", "ended_at", "last_activity_at"] {
            assert_time(key, &s[key]);
        }
        assert!(s["pid"].is_u64());
        assert!(std::path::Path::new(s["prompt_path"].as_str().unwrap()).is_file());
        assert!(std::path::Path::new(s["log_path"].as_str().unwrap()).is_file());
    }
    // After exit: status, exit code and end time.
    api.post_ok("/api/close_session", &json!({"session_id": d}))
        .await;
    let ds = api.session(&d).await;
    assert_eq!(ds["status"], json!("exited"));
    assert_eq!(ds["heartbeat_status"], json!("exited"));
    assert!(ds["exit_code"].is_i64(), "{ds}");
    assert_time("ended_at", &ds["ended_at"]);
    assert!(ds["ended_at"].is_string());
    server.stop().await;
}

/// The fields every session carries, Zhongshu or department.
const SESSION_FIELDS: [&str; 21] = [
    "id",
    "session_kind",
    "role",
    "department",
    "title",
    "model",
    "pid",
    "status",
    "exit_code",
    "started_at",
    "ended_at",
    "prompt_path",
    "log_path",
    "heartbeat_status",
    "idle_seconds",
    "last_activity_at",
    "transcript_preview",
    "browser_terminal_id",
    "browser_terminal_url",
    "browser_terminal_status",
    "input_history",
];

/// A running Zhongshu `zs` with one department `d`: its own fields, its
/// mailbox, its terminal, and what its backend can do.
fn a_zhongshu_carries_its_fields(zs: &Value, d: &str) {
    assert_keys("zhongshu", zs, &SESSION_FIELDS);
    assert_keys(
        "zhongshu",
        zs,
        &[
            "task",
            "unread_result_count",
            "child_department_ids",
            "mailbox",
            "plan_status",
        ],
    );
    assert_keys(
        "zhongshu mailbox",
        &zs["mailbox"],
        &["root", "incoming", "archive"],
    );
    assert_eq!(zs["session_kind"], json!("zhongshu"));
    assert_eq!(zs["status"], json!("running"));
    assert_eq!(zs["child_department_ids"], json!([d]));
    assert_eq!(zs["unread_result_count"], json!(0));
    assert_eq!(zs["plan_status"], json!("none"));
    // What the page may offer comes from the backend's capabilities, not its
    // name (issue 35 item 3): a PTY agent is neither sandboxed nor interruptible.
    assert_eq!(zs["interruptible"], json!(false), "{zs}");
    assert_eq!(zs["capabilities"]["sandboxed"], json!(false), "{zs}");
    assert_eq!(zs["capabilities"]["reports_turns"], json!(false), "{zs}");
    assert_eq!(zs["task"], json!("session fields"));
    assert!(zs["title"].as_str().unwrap().contains("中书省"), "{zs}");
    assert!(
        zs["browser_terminal_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:") && u.contains("token=")),
        "{zs}"
    );
    assert_eq!(zs["browser_terminal_status"], json!("running"));
}

/// A waiting zhilibu department `ds` of Zhongshu `z`: its own fields, not
/// reported yet, active, its transcript previewed.
fn a_department_carries_its_fields(ds: &Value, z: &str) {
    assert_keys("department", ds, &SESSION_FIELDS);
    assert_keys(
        "department",
        ds,
        &[
            "task",
            "parent_session_id",
            "report_status",
            "reported_at",
            "last_report_id",
            "auto_closed",
            "auto_close_reason",
        ],
    );
    assert_eq!(ds["session_kind"], json!("department"));
    assert_eq!(ds["department"], json!("zhilibu"));
    assert_eq!(ds["parent_session_id"], json!(z));
    assert_eq!(ds["report_status"], json!("pending"));
    assert_eq!(ds["auto_closed"], json!(false));
    assert_eq!(ds["heartbeat_status"], json!("active"), "{ds}");
    assert!(ds["idle_seconds"].is_u64(), "{ds}");
    assert!(
        ds["transcript_preview"]
            .as_str()
            .unwrap()
            .contains("FAKE_AGENT_WAITING"),
        "{ds}"
    );
}

#[test]
#[cfg_attr(windows, ignore = "counts the launcher's descriptors in /proc (Linux)")]
fn finished_sessions_release_their_file_descriptors() {
    let rt = test_runtime();
    let repo = TestRepo::with_flags(&[]);
    let launcher = spawn_launcher(&repo.path, &[]);
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", launcher.pid()))
            .unwrap()
            .count()
    };
    let cycle = |task: String| {
        let api = launcher.api.clone();
        let repo = &repo;
        async move {
            let z = api.start_zhongshu(&task).await;
            wait_log(repo, &z, "FAKE_AGENT_WAITING").await;
            let pid = api.session(&z).await["pid"].as_u64().unwrap() as u32;
            api.post_ok("/api/close_session", &json!({"session_id": z}))
                .await;
            wait_gone(pid, "the closed session's agent").await;
        }
    };
    rt.block_on(cycle("warm-up".into()));
    let before = fds();
    for i in 0..10 {
        rt.block_on(cycle(format!("session {i}")));
    }
    // Released once each session's terminal is dropped: waited for, not timed.
    let after = rt.block_on(wait_until(
        "10 closed sessions' descriptors released (fewer than 10 more than before)",
        PATIENCE,
        || async {
            let now = fds();
            (now < before + 10).then_some(now)
        },
    ));
    println!("launcher descriptors: {before} before, {after} after 10 sessions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_department_answers_with_the_session_it_started() {
    let repo = TestRepo::new(RepoOptions {
        max_departments: 3,
        ..Default::default()
    });
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = api.start_zhongshu("same tasks").await;
    let task = "the same words [[fake-agent: --no-report --after-report wait]]";
    let mut ids = Vec::new();
    for dept in ["lingyubu", "zhilibu", "lingyubu"] {
        let a = api
            .post_ok(
                "/api/start_department",
                &json!({"parent_session_id": z, "department": dept, "task": task}),
            )
            .await;
        assert_eq!(a["queued"], json!(false), "{a}");
        let id = a["session_id"].as_str().unwrap().to_string();
        assert_eq!(a["session"]["id"], json!(id), "{a}");
        assert_eq!(
            a["session"]["department"],
            json!(dept),
            "the answer names a {dept} session: {a}"
        );
        assert!(
            !ids.contains(&id),
            "a new session each time, got {id} again: {a}"
        );
        ids.push(id);
    }
    let status = api.status().await;
    assert_eq!(running(&departments(&status)).len(), 3, "{status}");
    server.stop().await;
}

/// Issue 34 item 7: a start that fails spends no id. Three starts with an
/// agent program that is not there yet, then one that is: it is zhongshu-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_starts_spend_no_session_id() {
    let repo = TestRepo::new(RepoOptions::default());
    let program = repo.files.join(format!(
        "agent-installed-later{}",
        std::env::consts::EXE_SUFFIX
    ));
    let mut command = TestRepo::agent_command(&RepoOptions::default());
    let real = std::mem::replace(&mut command[0], program.display().to_string());
    repo.write_config(&RepoOptions {
        agent_command: Some(command),
        ..Default::default()
    });
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    for _ in 0..3 {
        let (status, body) = api
            .post(
                "/api/start_zhongshu_session",
                &json!({"task": "before the agent is installed"}),
            )
            .await;
        assert!(!status.is_success(), "{body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("agent-installed-later"),
            "{body}"
        );
    }
    let status = api.status().await;
    assert_eq!(status["sessions"], json!([]), "no record of a failed start");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(&program, format!("#!/bin/sh\nexec '{real}' \"$@\"\n")).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    #[cfg(windows)]
    std::fs::copy(&real, &program).unwrap();
    let z = api.start_zhongshu("now it is there").await;
    assert_eq!(z, "zhongshu-1");
    server.stop().await;
}

/// Issue 48 item 12: a state folder reached through a link (`.tmp` linking
/// to a folder of the user's elsewhere) is the folder it names: the launcher
/// starts (before: a raw `SQLITE_CANTOPEN_SYMLINK`), keeps its state there,
/// and a restart finds it.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_folder_reached_through_a_link_is_the_folder_it_names() {
    let repo = TestRepo::new(RepoOptions::default());
    let elsewhere = tempfile::tempdir().unwrap();
    let state = elsewhere.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::os::unix::fs::symlink(&state, repo.path.join(".tmp")).unwrap();
    let mut launcher = spawn_launcher_env(&repo.path, &[], &[]);
    let z = launcher.api.start_zhongshu("kept through the link").await;
    assert!(state.join("codex_governance.db").exists());
    launcher.terminate();
    let mut launcher = spawn_launcher_env(&repo.path, &[], &[]);
    let s = launcher.api.session(&z).await;
    assert_eq!(s["id"], z.as_str(), "{s}");
    launcher.terminate();
}

/// Issue 49 item 2: the dashboard's token is kept for the same state folder
/// across clean restarts (a tab holding it keeps working), and
/// `url --new-token` replaces it while no launcher runs, audited; then the
/// old token is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_survives_a_clean_restart_until_the_user_rotates_it() {
    let repo = TestRepo::new(RepoOptions::default());
    let mut first = spawn_launcher_env(&repo.path, &[], &[]);
    let z = first.api.start_zhongshu("across restarts").await;
    let tab = first.api.clone();
    first.terminate();
    let mut second = spawn_launcher_env(&repo.path, &[], &[]);
    assert_eq!(
        second.token, first.token,
        "the same token after a clean restart"
    );
    // The tab's client, pointed at the new port, holds the old token.
    let tab = Api::new(&second.api.base, &tab.token);
    assert_eq!(tab.session(&z).await["id"], z.as_str());
    let repo_arg = repo.path.to_str().unwrap();
    let (code, _, stderr) = run_binary(&["url", "--new-token", "--repo", repo_arg]);
    assert_ne!(code, 0, "refused while a launcher runs");
    assert!(stderr.contains("stop it first"), "{stderr}");
    second.terminate();
    let (code, stdout, stderr) = run_binary(&["url", "--new-token", "--repo", repo_arg]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("token was replaced"), "{stdout}");
    let mut third = spawn_launcher_env(&repo.path, &[], &[]);
    assert_ne!(third.token, first.token, "a new token after the rotation");
    let old = Api::new(&third.api.base, &first.token);
    let (code, _) = old.get("/api/status").await;
    assert_eq!(code.as_u16(), 401);
    let rotated = third.api.audit_events("token_rotated").await;
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    let audit =
        std::fs::read_to_string(repo.state_dir().join("codex_governance_audit.jsonl")).unwrap();
    assert!(!audit.contains(&first.token) && !audit.contains(&third.token));
    third.terminate();
}

/// Issue 49 item 8: a planner's temporary folder (its `TMPDIR`, in the state
/// folder) goes when it closes, whatever it left there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planners_temporary_folder_goes_when_it_closes() {
    let (repo, server) = serve(&[]).await;
    let api = &server.api;
    let z = api
        .start_zhongshu("think a while [[fake-agent: --work-seconds 600]]")
        .await;
    let temp = repo.state_dir().join("codex_governance_tmp").join(&z);
    assert!(temp.is_dir(), "its TMPDIR while it works: {temp:?}");
    std::fs::write(temp.join("scratch.txt"), "notes").unwrap();
    api.post_ok("/api/close_session", &json!({"session_id": z}))
        .await;
    api.wait_session(&z, "exited", |s| s["status"] == "exited")
        .await;
    assert!(!temp.exists(), "{temp:?} is left after the close");
    server.stop().await;
}
