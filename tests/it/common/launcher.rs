//! Test harness for the launcher: a temporary Git repository whose
//! `governance.yaml` runs the fake agent (`tools/fake-agent`), a launcher started
//! either in-process (`web::serve` on port 0) or as a subprocess of the real binary
//! (for restart and kill tests), bearer-token API helpers, a raw HTTP helper for
//! header-level security checks, and `wait_until` for polling.
//!
//! The test modules name it `support`; the benches include it alone with
//! `#[path]`, so it carries `git` itself.
//! Timeouts are generous and only keep a broken test from hanging; nothing here
//! asserts on time.
#![allow(dead_code)]

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use codex_governance::config::{Config, Env};
use codex_governance::launcher::Launcher;
use codex_governance::web::{self, Running, ServeOptions};

#[path = "git.rs"]
pub mod git;
#[allow(unused_imports)]
pub use git::commit_all;

/// How long any wait may take before the test fails. Three times as long on
/// Windows: the tests run there under Wine beside the Linux tests, and there
/// CI ran six times slower than on an idle machine (a burst of 500 drops
/// 1.5 s against 0.25 s; a launcher's restart over 1,000 results, 5.4 s to
/// its ready line idle, passed 30 s once).
pub const PATIENCE: Duration = Duration::from_secs(if cfg!(windows) { 90 } else { 30 });

/// The launcher binary built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_codex-governance");

/// The fake agent (`tools/fake-agent`), built for this executable's target and
/// profile: `<target>[/<triple>]/<profile>/fake-agent[.exe]`. On Unix it is
/// built here when needed (a no-op when up to date); under Wine,
/// `tools/wine-runner.sh` builds it before the test executable starts.
pub fn fake_agent() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("<profile>/deps/<test>")
            .to_path_buf();
        let agent = profile_dir.join(format!("fake-agent{}", std::env::consts::EXE_SUFFIX));
        #[cfg(unix)]
        if std::env::var_os("CODEX_GOVERNANCE_FAKE_AGENT_BUILT").is_none_or(|v| v != "1") {
            build_fake_agent(&profile_dir);
        }
        assert!(
            agent.is_file(),
            "no fake agent at {}: `cargo build -p fake-agent` (with this run's --target and profile) builds it",
            agent.display()
        );
        agent
    })
    .clone()
}

/// `cargo build -p fake-agent` into this run's target folder, so a bare
/// `cargo test` finds it fresh. Skipped when `CODEX_GOVERNANCE_FAKE_AGENT_BUILT=1`
/// says it was built already (the same word tools/wine-runner.sh takes for
/// the Windows one): tools/test.sh builds it first and runs the
/// benchmarks beside the Windows build, where this cargo would wait for that
/// build's lock on the target folder (the benchmarks' quick run took 322 to
/// 356 s there, 100 s alone).
#[cfg(unix)]
fn build_fake_agent(profile_dir: &Path) {
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_string(),
        Some(name) => name.to_string(),
    };
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "-p",
            "fake-agent",
            "--profile",
            &profile,
        ])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(profile_dir.parent().expect("the target folder"))
        .status()
        .expect("cargo runs to build the fake agent");
    assert!(status.success(), "cargo build -p fake-agent failed");
}

/// What the temporary repository's `governance.yaml` says.
#[derive(Debug, Clone)]
pub struct RepoOptions {
    /// Flags for the fake agent, placed before `--prompt {prompt}`.
    pub agent_flags: Vec<String>,
    pub max_departments: usize,
    pub models: Vec<String>,
    pub require_plan_confirmation: bool,
    /// Replaces the whole agent command when set (placeholders still apply).
    pub agent_command: Option<Vec<String>>,
}

impl Default for RepoOptions {
    fn default() -> Self {
        RepoOptions {
            agent_flags: Vec::new(),
            max_departments: 2,
            models: vec!["gpt-5.5".into(), "gpt-5.4".into()],
            require_plan_confirmation: false,
            agent_command: None,
        }
    }
}

/// A temporary folder holding `repo/` (a Git repository) and `files/` (plans and
/// other test inputs, outside the repository).
pub struct TestRepo {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub path: PathBuf,
    pub files: PathBuf,
}

/// A test that ends while a launcher of this repository runs a Codex
/// app-server (a kill -9 test, a failed one) leaves that server detached and
/// running, by design: the next launcher reconnects to it. Nothing else will
/// come, so the repository takes it along.
impl Drop for TestRepo {
    fn drop(&mut self) {
        #[cfg(unix)]
        end_app_servers_under(&self.root);
    }
}

/// Kills every process whose app-server marker (its state folder) lies under `root`.
#[cfg(unix)]
pub fn end_app_servers_under(root: &Path) {
    // The launcher's marker on its app-server (agents/codex/server.rs).
    let key = "CODEX_GOVERNANCE_APP_SERVER=";
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let ours = environ.split(|b| *b == 0).any(|var| {
            std::str::from_utf8(var)
                .ok()
                .and_then(|v| v.strip_prefix(key))
                .is_some_and(|dir| Path::new(dir).starts_with(root))
        });
        if ours {
            // SAFETY: a signal to a process of ours, found by its marker.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

impl TestRepo {
    pub fn new(opts: RepoOptions) -> TestRepo {
        let dir = tempfile::Builder::new()
            .prefix("cg-launcher-")
            .tempdir()
            .expect("temp dir");
        // As a user reads it: no `\\?\` on Windows.
        let root = dunce::canonicalize(dir.path()).expect("canonical temp dir");
        let path = root.join("repo");
        let files = root.join("files");
        std::fs::create_dir_all(&path).unwrap();
        std::fs::create_dir_all(&files).unwrap();
        let git = git2::Repository::init(&path).expect("git init");
        // The user a Merge commits as, whatever this machine's git config says.
        let mut config = git.config().expect("the repository's config");
        config.set_str("user.name", "The User").unwrap();
        config.set_str("user.email", "user@example.com").unwrap();
        std::fs::write(path.join("README.md"), "# test repo\n").unwrap();
        let repo = TestRepo {
            _dir: dir,
            root,
            path,
            files,
        };
        repo.write_config(&opts);
        repo
    }

    /// A repository whose agents run the fake agent with these flags.
    pub fn with_flags(flags: &[&str]) -> TestRepo {
        TestRepo::new(RepoOptions {
            agent_flags: flags.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
    }

    /// The agent command the fake agent runs with (every placeholder passed through).
    pub fn agent_command(opts: &RepoOptions) -> Vec<String> {
        if let Some(cmd) = &opts.agent_command {
            return cmd.clone();
        }
        let mut cmd = vec![
            fake_agent().display().to_string(),
            "--bin".into(),
            BIN.into(),
            "--model".into(),
            "{model}".into(),
            "--cd".into(),
            "{repo}".into(),
            "--session".into(),
            "{session_id}".into(),
            "--prompt-file".into(),
            "{prompt_file}".into(),
        ];
        cmd.extend(opts.agent_flags.iter().cloned());
        cmd.push("--prompt".into());
        cmd.push("{prompt}".into());
        cmd
    }

    pub fn write_config(&self, opts: &RepoOptions) {
        let q = |s: &str| serde_json::to_string(s).unwrap();
        let list = |v: &[String]| {
            format!(
                "[{}]",
                v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
            )
        };
        let yaml = format!(
            "launcher:\n  agent_command: {}\n  max_departments: {}\n  models: {}\n  require_plan_confirmation: {}\n",
            list(&TestRepo::agent_command(opts)),
            opts.max_departments,
            list(&opts.models),
            opts.require_plan_confirmation,
        );
        std::fs::write(self.path.join("governance.yaml"), yaml).unwrap();
    }

    /// The default runtime folder, `<repo>/.tmp`.
    pub fn state_dir(&self) -> PathBuf {
        self.path.join(".tmp")
    }

    /// Writes a JSON file under `files/` and returns its absolute path.
    pub fn write_json(&self, name: &str, value: &Value) -> PathBuf {
        let p = self.files.join(name);
        std::fs::write(&p, serde_json::to_vec_pretty(value).unwrap()).unwrap();
        p
    }

    /// The configuration as the launcher sees it, ignoring this process's
    /// environment; the test's own governance.yaml is trusted.
    pub fn config(&self) -> Config {
        let env = Env::from([("CODEX_GOVERNANCE_TRUST_CONFIG".into(), "1".into())]);
        Config::load_with_env(&self.path, &env).expect("governance.yaml loads")
    }

    /// The transcript log of a session, carriage returns removed. On Windows
    /// the console's own escape sequences go too, and rows Wine's console broke
    /// at the session's width (120 columns) are joined again.
    pub fn log(&self, session_id: &str) -> String {
        let p = self
            .state_dir()
            .join("codex_governance_logs")
            .join(format!("{session_id}.log"));
        let raw = std::fs::read(p).unwrap_or_default();
        if cfg!(windows) {
            return join_wrapped_rows(&codex_governance::pty::strip_escapes(&raw), 120);
        }
        String::from_utf8_lossy(&raw).replace('\r', "")
    }
}

// ---------------------------------------------------------------------------
// API client

/// Bearer-token helpers against one launcher.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Api {
        Api {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(60))
                // The launcher closes a connection that sends no request head
                // for 10 s (net::listener::HEADER_TIMEOUT): a pooled one idle
                // that long could be reused as it closes ("error sending
                // request", seen once in the Wine lane), so none is kept 5 s.
                .pool_idle_timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GET with the bearer token: (status, JSON body or `null`).
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let send = || {
            self.client
                .get(self.url(path))
                .bearer_auth(&self.token)
                .send()
        };
        // A GET is idempotent: one sent on a kept-alive connection the
        // launcher closed meanwhile (an idle one made to give way to other
        // clients, net::peers) is sent once more on a new one, as browsers do.
        let resp = match send().await {
            Ok(resp) => resp,
            Err(e) if e.is_request() && e.status().is_none() => send()
                .await
                .unwrap_or_else(|again| panic!("GET {path}: {e}; again: {again}")),
            Err(e) => panic!("GET {path}: {e}"),
        };
        split(resp).await
    }

    /// POST a JSON body with the bearer token.
    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let resp = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        split(resp).await
    }

    /// GET that must succeed with `"ok": true`.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        assert_eq!(body["ok"], json!(true), "GET {path}: {body}");
        body
    }

    /// POST that must succeed with `"ok": true`.
    pub async fn post_ok(&self, path: &str, body: &Value) -> Value {
        let (status, answer) = self.post(path, body).await;
        assert_eq!(status, StatusCode::OK, "POST {path} {body}: {answer}");
        assert_eq!(answer["ok"], json!(true), "POST {path}: {answer}");
        answer
    }

    pub async fn status(&self) -> Value {
        self.get_ok("/api/status").await
    }

    /// One session from `/api/status` (Null when absent).
    pub async fn session(&self, id: &str) -> Value {
        self.status().await["sessions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Starts a Zhongshu session and returns its id.
    pub async fn start_zhongshu(&self, task: &str) -> String {
        let body = self
            .post_ok("/api/start_zhongshu_session", &json!({ "task": task }))
            .await;
        body["session_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no session_id in {body}"))
            .to_string()
    }

    /// The audit events named `event`, oldest first (the last 1,000 lines).
    pub async fn audit_events(&self, event: &str) -> Vec<Value> {
        let body = self.get_ok("/api/audit?limit=1000").await;
        body["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["event"] == event)
            .cloned()
            .collect()
    }

    /// Waits until `/api/status` satisfies `pred`, returning that status.
    pub async fn wait_status(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait_until(what, PATIENCE, || async {
            let s = self.status().await;
            pred(&s).then_some(s)
        })
        .await
    }

    /// Waits until session `id` satisfies `pred`.
    pub async fn wait_session(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait_showing(&format!("{id}: {what}"), PATIENCE, || async {
            let s = self.session(id).await;
            if !s.is_null() && pred(&s) {
                Ok(s)
            } else {
                Err(s.to_string())
            }
        })
        .await
    }
}

async fn split(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, value)
}

/// Department sessions of a status answer.
pub fn departments(status: &Value) -> Vec<Value> {
    status["department_sessions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The id of the department session of `department` in a status.
pub fn department_id(status: &Value, department: &str) -> String {
    departments(status)
        .into_iter()
        .find(|d| d["department"] == department)
        .and_then(|d| d["id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no session of {department}: {status}"))
}

pub fn running(sessions: &[Value]) -> Vec<Value> {
    sessions
        .iter()
        .filter(|s| s["status"] == "running")
        .cloned()
        .collect()
}

/// Waits until the Zhongshu `id` has posted the plan its `--plan-file` names, and
/// checks that the launcher accepted it (HTTP 200); returns the transcript.
pub async fn wait_plan_accepted(repo: &TestRepo, id: &str) -> String {
    let log = wait_log(repo, id, "FAKE_AGENT_PLAN_STATUS").await;
    assert!(log.contains("FAKE_AGENT_PLAN_STATUS 200 "), "{log}");
    log
}

/// Polls `f` every 100 ms until it yields Some, or fails the test after `timeout`.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// As [`wait_until`]; a failure shows what `f` saw last (its `Err`), so a
/// run that only keeps the output says where things stood.
pub async fn wait_showing<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match f().await {
            Ok(v) => return v,
            Err(last) if Instant::now() > deadline => {
                panic!("timed out after {timeout:?} waiting for: {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Waits until the transcript of `id` contains `needle`; returns the transcript.
pub async fn wait_log(repo: &TestRepo, id: &str, needle: &str) -> String {
    wait_showing(
        &format!("{needle:?} in the transcript of {id}"),
        PATIENCE,
        || async {
            let log = repo.log(id);
            if log.contains(needle) {
                Ok(log)
            } else {
                // Its end: what the agent did last.
                let start = log.len().saturating_sub(2000);
                let start = (start..log.len())
                    .find(|&i| log.is_char_boundary(i))
                    .unwrap_or(log.len());
                Err(log[start..].to_string())
            }
        },
    )
    .await
}

/// Lines with each row of exactly `cols` characters joined to the next one.
fn join_wrapped_rows(text: &str, cols: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for row in text.split_inclusive('\n') {
        let body = row.strip_suffix('\n').unwrap_or(row);
        out.push_str(body);
        if body.chars().count() != cols && row.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// The JSON after `prefix ` on the first transcript line starting with `prefix`.
pub fn log_json(log: &str, prefix: &str) -> Option<Value> {
    log.lines()
        .filter_map(|l| l.find(prefix).map(|i| &l[i + prefix.len()..]))
        .find_map(|rest| serde_json::from_str(rest.trim()).ok())
}

// ---------------------------------------------------------------------------
// Raw HTTP, for requests reqwest would tidy up (foreign Host, odd bodies)

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends `head` (request line and headers, without the blank line) plus `body` to
/// `addr` with `Connection: close` and reads the whole answer.
pub async fn raw(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = head
        .trim_end()
        .replace('\n', "\r\n")
        .replace("\r\r\n", "\r\n");
    if !body.is_empty() && !head.to_ascii_lowercase().contains("content-length") {
        req.push_str(&format!("\r\nContent-Length: {}", body.len()));
    }
    req.push_str("\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("write head");
    // The server may answer (413) before reading a large body; ignore write errors.
    let _ = stream.write_all(body).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut buf)).await;
    parse_raw(&buf)
}

fn parse_raw(buf: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

// ---------------------------------------------------------------------------
// In-process launcher

/// A launcher served by this test process on `127.0.0.1:0`.
pub struct InProcess {
    pub api: Api,
    pub url: String,
    pub token: String,
    pub addr: std::net::SocketAddr,
    pub launcher: Arc<Launcher>,
    running: Option<Running>,
}

impl InProcess {
    /// Starts on the repository's default state dir (`<repo>/.tmp`).
    pub async fn start(repo: &TestRepo) -> InProcess {
        InProcess::start_with_state_dir(repo, Some(repo.state_dir())).await
    }

    pub async fn start_with_state_dir(repo: &TestRepo, state_dir: Option<PathBuf>) -> InProcess {
        InProcess::start_with(repo, state_dir, None).await
    }

    /// Served with `--allow-host NAME` too (the tailnet page).
    pub async fn start_allowing(repo: &TestRepo, name: &str) -> InProcess {
        let name = codex_governance::net::allowed_host::AllowedHost::parse(name).unwrap();
        InProcess::start_with(repo, Some(repo.state_dir()), Some(name)).await
    }

    /// Started as a cloned repository's launcher: its configuration waits
    /// for the user's trust (answers kept in `config_home`).
    pub async fn start_untrusted(repo: &TestRepo, config_home: &Path) -> InProcess {
        let env = Env::from([
            ("CODEX_GOVERNANCE_TRUST_CONFIG".into(), "0".into()),
            (
                "CODEX_GOVERNANCE_CONFIG_HOME".into(),
                config_home.display().to_string(),
            ),
        ]);
        let config = Config::load_with_env(&repo.path, &env).expect("governance.yaml loads");
        InProcess::start_config(repo, Some(repo.state_dir()), None, config).await
    }

    async fn start_with(
        repo: &TestRepo,
        state_dir: Option<PathBuf>,
        allow_host: Option<codex_governance::net::allowed_host::AllowedHost>,
    ) -> InProcess {
        InProcess::start_config(repo, state_dir, allow_host, repo.config()).await
    }

    async fn start_config(
        repo: &TestRepo,
        state_dir: Option<PathBuf>,
        allow_host: Option<codex_governance::net::allowed_host::AllowedHost>,
        config: Config,
    ) -> InProcess {
        let running = web::serve(
            ServeOptions {
                repo: repo.path.clone(),
                host: "127.0.0.1".into(),
                port: 0,
                state_dir,
                allow_host,
            },
            config,
        )
        .await
        .expect("launcher starts");
        InProcess {
            api: Api::new(&running.url, &running.token),
            url: running.url.clone(),
            token: running.token.clone(),
            addr: running.addr,
            launcher: Arc::clone(&running.launcher),
            running: Some(running),
        }
    }

    /// Graceful stop: sessions terminated, state saved, `launcher_stopped` audited.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    /// `Host` value the server accepts.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if self.running.is_some() {
            // A test that failed before stop(): leave no agent behind.
            kill_session_groups(&self.launcher);
        }
    }
}

/// A fresh repository whose agents run the fake agent with `flags`, and a
/// launcher serving it in this process.
pub async fn serve(flags: &[&str]) -> (TestRepo, InProcess) {
    let repo = TestRepo::with_flags(flags);
    let server = InProcess::start(&repo).await;
    (repo, server)
}

/// A two-worker runtime, for tests that drive a launcher subprocess from sync code.
pub fn test_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A multi-thread runtime whose threads carry `name` (a bench's server or client side).
pub fn named_runtime(name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(name)
        .build()
        .unwrap()
}

/// Raises this process's open-file limit to its hard limit, for tests and
/// benches that hold both ends of many sockets.
#[cfg(unix)]
pub fn more_open_files() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain structs in and out.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Windows has no such per-process limit on sockets.
#[cfg(not(unix))]
pub fn more_open_files() {}

/// SIGKILLs the process group of every session the launcher believes runs.
pub fn kill_session_groups(launcher: &Launcher) {
    let pids: Vec<u32> = launcher.ctx.store.read(|s| {
        s.sessions
            .values()
            .filter(|x| x.is_running())
            .filter_map(|x| x.pid)
            .collect()
    });
    for pid in pids {
        codex_governance::pty::kill_tree(pid);
    }
}

// ---------------------------------------------------------------------------
// Subprocess launcher (the real binary)

/// The launcher binary running as a child process.
pub struct Subprocess {
    pub child: Child,
    pub api: Api,
    pub url: String,
    pub token: String,
    pub port: u16,
    stderr: Arc<Mutex<String>>,
}

/// `codex-governance serve --repo R --port 0 [extra...]` with a clean environment,
/// waiting for the ready line.
pub fn spawn_launcher(repo: &Path, extra: &[&str]) -> Subprocess {
    spawn_launcher_env(repo, extra, &[])
}

/// [`spawn_launcher`] with extra environment variables.
pub fn spawn_launcher_env(repo: &Path, extra: &[&str], env: &[(String, String)]) -> Subprocess {
    let mut cmd = serve_command(repo, 0);
    cmd.envs(env.iter().map(|(k, v)| (k, v))).args(extra);
    spawn_until_ready(cmd)
}

/// `codex-governance serve --repo R --port PORT` on a chosen port (a launcher
/// that comes back where a page knew it), waiting for the ready line.
pub fn spawn_launcher_at(repo: &Path, port: u16) -> Subprocess {
    let launcher = spawn_until_ready(serve_command(repo, port));
    assert_eq!(launcher.port, port, "{}", launcher.url);
    launcher
}

fn serve_command(repo: &Path, port: u16) -> Command {
    let mut cmd = base_command();
    cmd.args(["serve", "--repo"])
        .arg(repo)
        .args(["--port", &port.to_string()]);
    cmd
}

/// Starts `cmd` (a launcher that serves) and waits for its ready line.
pub fn spawn_until_ready(mut cmd: Command) -> Subprocess {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn_child(&mut cmd).expect("spawn the launcher binary");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let err_buf = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&err_buf);
    std::thread::spawn(move || {
        let mut r = BufReader::new(stderr);
        let mut line = String::new();
        while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        let mut sent = false;
        while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            if !sent && line.starts_with("codex-governance listening on ") {
                let _ = tx.send(line.trim().to_string());
                sent = true;
            }
            line.clear();
        }
    });
    let ready = match rx.recv_timeout(PATIENCE) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the launcher printed no ready line; stderr:\n{}",
                err_buf.lock().unwrap()
            );
        }
    };
    let (url, token) = parse_ready_line(&ready);
    let port = url.rsplit(':').next().unwrap().parse().unwrap();
    Subprocess {
        child,
        api: Api::new(&url, &token),
        url,
        token,
        port,
        stderr: err_buf,
    }
}

/// `codex-governance listening on http://127.0.0.1:PORT/?token=TOKEN` → (url, token).
pub fn parse_ready_line(line: &str) -> (String, String) {
    let rest = line
        .strip_prefix("codex-governance listening on ")
        .unwrap_or_else(|| panic!("not a ready line: {line:?}"));
    let (url, token) = rest
        .split_once("/#token=")
        .unwrap_or_else(|| panic!("no token in the ready line: {line:?}"));
    assert!(url.starts_with("http://127.0.0.1:"), "url {url}");
    assert_eq!(token.len(), 64, "a 256-bit token is 64 hex digits: {token}");
    (url.to_string(), token.to_string())
}

/// Starts `cmd`. Under Wine, a new process that dies while Wine starts it
/// (before any of its own code runs) fails CreateProcess with
/// ERROR_INTERNAL_ERROR (1359: Wine's NtCreateUserProcess when the child
/// reports no success and no exit code); seen once in CI on a loaded machine.
/// That start is tried again, twice at most; every other error is returned.
pub fn spawn_child(cmd: &mut Command) -> std::io::Result<Child> {
    const WINE_START_FAILED: i32 = 1359;
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e) if cfg!(windows) && e.raw_os_error() == Some(WINE_START_FAILED) && tries < 2 => {
                tries += 1;
                eprintln!("the start of {cmd:?} failed under Wine ({e}); trying again");
                std::thread::sleep(Duration::from_millis(500));
            }
            other => return other,
        }
    }
}

/// The binary with this process's CODEX_GOVERNANCE_* and FAKE_AGENT_* removed;
/// the test repositories' own governance.yaml trusted
/// (`CODEX_GOVERNANCE_TRUST_CONFIG=1`; a test of the trust gate sets it to 0).
pub fn base_command() -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("CODEX_GOVERNANCE_") || k.starts_with("FAKE_AGENT_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("CODEX_GOVERNANCE_TRUST_CONFIG", "1");
    cmd
}

impl Subprocess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    #[cfg(unix)]
    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, sig);
        }
    }

    /// Waits for the process to end (up to PATIENCE, then SIGKILL and fail).
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the launcher did not exit; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `kill -9` (Windows: TerminateProcess): nothing graceful happens.
    pub fn kill9(&mut self) -> ExitStatus {
        #[cfg(unix)]
        self.signal(libc::SIGKILL);
        #[cfg(windows)]
        let _ = self.child.kill();
        self.wait()
    }

    /// SIGTERM: the graceful stop. Windows: TerminateProcess, as `kill9`, since
    /// a test under Wine cannot deliver Ctrl-Break to another process
    /// (GenerateConsoleCtrlEvent fails there); tests/it/windows_loop.rs stops a
    /// launcher gracefully by typing Ctrl-C into its console (a ConPTY).
    pub fn terminate(&mut self) -> ExitStatus {
        #[cfg(unix)]
        self.signal(libc::SIGTERM);
        #[cfg(windows)]
        let _ = self.child.kill();
        self.wait()
    }
}

impl Drop for Subprocess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the binary to completion: (exit code, stdout, stderr).
pub fn run_binary(args: &[&str]) -> (i32, String, String) {
    let mut cmd = base_command();
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = spawn_child(&mut cmd)
        .and_then(|child| child.wait_with_output())
        .expect("run the binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------
// Processes

/// True when `pid` no longer names a live process (gone, or a zombie nobody reaped).
#[cfg(windows)]
pub fn process_gone(pid: u32) -> bool {
    !codex_governance::pty::process_alive(pid)
}

/// True when `pid` no longer names a live process (gone, or a zombie nobody reaped).
#[cfg(unix)]
pub fn process_gone(pid: u32) -> bool {
    use std::io::Read;
    let mut s = String::new();
    match std::fs::File::open(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(mut f) => {
            if f.read_to_string(&mut s).is_err() {
                return true;
            }
            // "pid (comm) S ..." — comm may hold spaces and parentheses.
            let state = s
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start())
                .unwrap_or("");
            state.starts_with('Z') || state.starts_with('X')
        }
    }
}

pub async fn wait_gone(pid: u32, what: &str) {
    wait_until(
        &format!("{what} (pid {pid}) to be gone"),
        PATIENCE,
        || async move { process_gone(pid).then_some(()) },
    )
    .await
}

/// `CHILD_PID=<n>` from a transcript.
pub fn child_pid(log: &str) -> Option<u32> {
    log.lines()
        .find_map(|l| l.trim().strip_prefix("CHILD_PID="))
        .and_then(|v| v.trim().parse().ok())
}

// ---------------------------------------------------------------------------
// Server-sent events

/// One SSE frame: `id:`, `event:` and the joined `data:` lines.
#[derive(Debug, Clone)]
pub struct SseFrame {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl SseFrame {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }
}

/// Reads SSE frames from a streaming response (keep-alive comments skipped).
pub struct SseReader {
    stream: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>,
    >,
    buf: String,
}

impl SseReader {
    /// GET `path` with the bearer token; the answer must be a 200 event stream.
    pub async fn open(api: &Api, path: &str) -> SseReader {
        let resp = api
            .client
            .get(api.url(path))
            .bearer_auth(&api.token)
            .timeout(Duration::from_secs(600))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
        SseReader::from_response(resp)
    }

    /// Wraps a 200 event-stream response.
    pub fn from_response(resp: reqwest::Response) -> SseReader {
        let path = resp.url().path().to_string();
        assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(ct.starts_with("text/event-stream"), "GET {path}: {ct}");
        assert!(
            resp.headers().get("access-control-allow-origin").is_none(),
            "no CORS on {path}"
        );
        SseReader {
            stream: Box::pin(resp.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next frame; None when the stream ended. Fails the test after PATIENCE.
    pub async fn next(&mut self) -> Option<SseFrame> {
        use futures_util::StreamExt;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf[..end].to_string();
                self.buf.drain(..end + 2);
                let mut f = SseFrame {
                    id: None,
                    event: None,
                    data: String::new(),
                };
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        f.id = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        f.event = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if !f.data.is_empty() {
                            f.data.push('\n');
                        }
                        f.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if f.id.is_none() && f.event.is_none() && f.data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some(f);
            }
            let chunk = tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .expect("an SSE frame in time")?;
            let chunk = chunk.expect("SSE chunk");
            self.buf
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }

    /// Reads frames until `pred` holds for one (returned), failing after PATIENCE.
    pub async fn until(&mut self, what: &str, mut pred: impl FnMut(&SseFrame) -> bool) -> SseFrame {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        loop {
            assert!(Instant::now() < deadline, "no frame {what}; seen: {seen:?}");
            match self.next().await {
                Some(f) if pred(&f) => return f,
                Some(f) => seen.push(f),
                None => panic!("the stream ended before {what}; seen: {seen:?}"),
            }
        }
    }
}
