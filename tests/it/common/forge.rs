//! A scripted forge on loopback: the subset of GitHub's REST API the launcher
//! uses (the repository, pulls, a commit's check runs and combined status, a
//! job's log, a pull request's reviews and line comments, replies) with GitHub's rate-limit headers, `ETag`/`If-None-Match` (304),
//! 401 for a wrong token, 422 "A pull request already exists" and faults the
//! test scripts (a status with a body, once). A pull request's head is read
//! from the real bare repository it serves as the remote, so what the forge
//! shows is what was pushed. Every request is recorded, headers included.
//!
//! It also answers Git's smart-HTTP discovery under `/git/` with 401, as a
//! remote that refuses every credential does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

/// A request as it arrived.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// What the forge answered.
    pub status: u16,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A pull request the forge holds.
#[derive(Debug, Clone)]
pub struct Pull {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub head: String,
    pub base: String,
    pub state: String,
    pub merged: bool,
}

/// A scripted failure: the next request whose method and path start match
/// gets this status, headers and body.
struct Fault {
    method: String,
    path_prefix: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

struct Script {
    token: String,
    owner: String,
    name: String,
    /// The bare repository pull request heads are read from.
    remote: PathBuf,
    pulls: Vec<Pull>,
    /// sha → check runs (GitHub's JSON).
    check_runs: HashMap<String, Vec<Value>>,
    /// sha → statuses.
    statuses: HashMap<String, Vec<Value>>,
    /// job id → log text.
    logs: HashMap<u64, String>,
    faults: Vec<Fault>,
    seen: Vec<Seen>,
    remaining: u64,
    /// pull number → reviews (GitHub's JSON).
    reviews: HashMap<u64, Vec<Value>>,
    /// pull number → line comments, replies included.
    comments: HashMap<u64, Vec<Value>>,
    /// The last review or comment id given.
    last_id: u64,
}

#[derive(Clone)]
pub struct Forge {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl Forge {
    /// A forge for `owner/name` accepting `token`, whose pushed branches are
    /// in the bare repository `remote`.
    pub async fn start(repo: &str, token: &str, remote: PathBuf) -> Forge {
        let (owner, name) = repo.split_once('/').expect("owner/name");
        let script = Arc::new(Mutex::new(Script {
            token: token.into(),
            owner: owner.into(),
            name: name.into(),
            remote,
            pulls: Vec::new(),
            check_runs: HashMap::new(),
            statuses: HashMap::new(),
            logs: HashMap::new(),
            faults: Vec::new(),
            seen: Vec::new(),
            remaining: 5000,
            reviews: HashMap::new(),
            comments: HashMap::new(),
            last_id: 100,
        }));
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the forge");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("forge");
        });
        Forge { addr, script }
    }

    /// The API URL to configure (`launcher.pull_requests.api_url`).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A Git URL under this server that refuses every credential.
    pub fn refusing_git_url(&self) -> String {
        format!("http://{}/git/acme/tool.git", self.addr)
    }

    /// The next `method` request whose path starts with `path_prefix` gets
    /// `status` with `headers` and `body`.
    pub fn fail_next(
        &self,
        method: &str,
        path_prefix: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: Value,
    ) {
        self.script.lock().unwrap().faults.push(Fault {
            method: method.into(),
            path_prefix: path_prefix.into(),
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body,
        });
    }

    /// Opens a pull request as someone else did (for "already exists").
    pub fn add_pull(&self, head: &str, base: &str, title: &str) -> u64 {
        let mut s = self.script.lock().unwrap();
        let number = s.pulls.len() as u64 + 1;
        s.pulls.push(Pull {
            number,
            title: title.into(),
            body: String::new(),
            head: head.into(),
            base: base.into(),
            state: "open".into(),
            merged: false,
        });
        number
    }

    pub fn pulls(&self) -> Vec<Pull> {
        self.script.lock().unwrap().pulls.clone()
    }

    pub fn pull(&self, number: u64) -> Pull {
        self.pulls()
            .into_iter()
            .find(|p| p.number == number)
            .unwrap_or_else(|| panic!("no pull request #{number}"))
    }

    /// Sets one check run on `sha`: `status` and `conclusion` as GitHub
    /// words them; `job` is its id (a GitHub Actions job's) with `log`.
    pub fn set_check(
        &self,
        sha: &str,
        name: &str,
        status: &str,
        conclusion: Option<&str>,
        job: u64,
        log: Option<&str>,
    ) {
        let mut s = self.script.lock().unwrap();
        let runs = s.check_runs.entry(sha.to_string()).or_default();
        runs.retain(|r| r["name"] != name);
        runs.push(json!({
            "id": job, "name": name, "status": status, "conclusion": conclusion,
            "html_url": format!("https://forge.invalid/runs/{job}"),
            "output": {"title": format!("{name}: {}", conclusion.unwrap_or(status))}
        }));
        if let Some(log) = log {
            s.logs.insert(job, log.to_string());
        }
    }

    /// Gives the check run `name` on `sha` the title `title` (its
    /// `output.title`, which GitHub shows as the check's summary).
    pub fn set_check_title(&self, sha: &str, name: &str, title: &str) {
        let mut s = self.script.lock().unwrap();
        let runs = s.check_runs.entry(sha.to_string()).or_default();
        for run in runs.iter_mut().filter(|r| r["name"] == name) {
            run["output"]["title"] = json!(title);
        }
    }

    /// Sets one commit status on `sha`.
    pub fn set_status(&self, sha: &str, context: &str, state: &str, description: &str) {
        let mut s = self.script.lock().unwrap();
        let all = s.statuses.entry(sha.to_string()).or_default();
        all.retain(|x| x["context"] != context);
        all.push(
            json!({"context": context, "state": state, "description": description,
                        "target_url": "https://ci.invalid/build/1"}),
        );
    }

    /// The commit statuses set on `sha` (by the test or the launcher).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub fn statuses(&self, sha: &str) -> Vec<Value> {
        let s = self.script.lock().unwrap();
        s.statuses.get(sha).cloned().unwrap_or_default()
    }

    /// Merges pull request `number`, as a reviewer on the forge would.
    pub fn merge(&self, number: u64) {
        self.finish(number, true);
    }

    /// Closes pull request `number` without merging.
    pub fn close(&self, number: u64) {
        self.finish(number, false);
    }

    fn finish(&self, number: u64, merged: bool) {
        let mut s = self.script.lock().unwrap();
        let p = s
            .pulls
            .iter_mut()
            .find(|p| p.number == number)
            .expect("the pull request");
        p.state = "closed".into();
        p.merged = merged;
    }

    /// A review of pull request `number` by `user`, its `state` as GitHub
    /// words it (`CHANGES_REQUESTED`…): its id.
    pub fn add_review(&self, number: u64, user: &str, state: &str, body: &str) -> u64 {
        let mut s = self.script.lock().unwrap();
        s.last_id += 1;
        let id = s.last_id;
        s.reviews.entry(number).or_default().push(json!({
            "id": id, "user": {"login": user}, "state": state, "body": body,
            "commit_id": "0".repeat(40)
        }));
        id
    }

    /// A line comment on pull request `number`: its id.
    pub fn add_line_comment(
        &self,
        number: u64,
        user: &str,
        path: &str,
        line: u32,
        body: &str,
    ) -> u64 {
        let mut s = self.script.lock().unwrap();
        s.last_id += 1;
        let id = s.last_id;
        s.comments.entry(number).or_default().push(json!({
            "id": id, "user": {"login": user}, "path": path, "line": line,
            "original_line": line, "side": "RIGHT", "body": body
        }));
        id
    }

    /// The replies posted on pull request `number`'s line comments.
    pub fn replies(&self, number: u64) -> Vec<Value> {
        let s = self.script.lock().unwrap();
        let all = s.comments.get(&number).cloned().unwrap_or_default();
        all.into_iter()
            .filter(|c| !c["in_reply_to_id"].is_null())
            .collect()
    }

    /// The reviews on pull request `number`, the launcher's included.
    pub fn reviews(&self, number: u64) -> Vec<Value> {
        let s = self.script.lock().unwrap();
        s.reviews.get(&number).cloned().unwrap_or_default()
    }

    /// The line comments of review `review` on pull request `number`.
    pub fn comments_of_review(&self, number: u64, review: u64) -> Vec<Value> {
        let s = self.script.lock().unwrap();
        let all = s.comments.get(&number).cloned().unwrap_or_default();
        all.into_iter()
            .filter(|c| c["pull_request_review_id"] == review)
            .collect()
    }

    /// Sets the rate limit's remaining count (0: every call is refused until
    /// it is set again).
    pub fn set_remaining(&self, n: u64) {
        self.script.lock().unwrap().remaining = n;
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.script.lock().unwrap().seen.clone()
    }
}

/// The tip of `refs/heads/<branch>` in the bare repository.
fn head_sha(remote: &PathBuf, branch: &str) -> Option<String> {
    let git = git2::Repository::open_bare(remote).ok()?;
    let r = git.find_reference(&format!("refs/heads/{branch}")).ok()?;
    r.target().map(|o| o.to_string())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn pull_json(s: &Script, p: &Pull, base_url: &str) -> Value {
    let sha = head_sha(&s.remote, &p.head).unwrap_or_else(|| "0".repeat(40));
    json!({
        "number": p.number, "title": p.title, "body": p.body, "state": p.state,
        "merged": p.merged, "merged_at": if p.merged { json!("2026-01-01T00:00:00Z") } else { Value::Null },
        "html_url": format!("{base_url}/{}/{}/pull/{}", s.owner, s.name, p.number),
        "head": {"ref": p.head, "sha": sha, "label": format!("{}:{}", s.owner, p.head)},
        "base": {"ref": p.base}
    })
}

fn respond(
    status: u16,
    headers: &[(String, String)],
    body: Vec<u8>,
    content_type: &str,
) -> Response {
    let mut r = (StatusCode::from_u16(status).unwrap(), body).into_response();
    r.headers_mut()
        .insert("content-type", content_type.parse().unwrap());
    for (k, v) in headers {
        r.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    r
}

async fn answer(
    State(script): State<Arc<Mutex<Script>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let text = String::from_utf8_lossy(&body).into_owned();
    let seen_headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let mut s = script.lock().unwrap();
    let (status, extra, body, content_type) =
        route(&mut s, &method, &path, &query, &headers, &text);
    s.seen.push(Seen {
        method: method.to_string(),
        path: if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{query}")
        },
        headers: seen_headers,
        body: text,
        status,
    });
    respond(status, &extra, body, content_type)
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>, &'static str);

fn json_answer(status: u16, headers: Vec<(String, String)>, v: Value) -> Answer {
    (
        status,
        headers,
        v.to_string().into_bytes(),
        "application/json",
    )
}

fn route(
    s: &mut Script,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &str,
) -> Answer {
    if let Some(answer) = outside_the_api(s, path) {
        return answer;
    }
    let mut limit = rate_limit_headers(s);
    if let Err(refused) = admit(s, method, path, headers, &mut limit) {
        return refused;
    }
    let repo_root = format!("/repos/{}/{}", s.owner, s.name);
    let Some(rest) = path.strip_prefix(&repo_root) else {
        return json_answer(404, limit, json!({"message": "Not Found"}));
    };
    let parts: Vec<&str> = rest
        .trim_start_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    match repo_api(s, method, &parts, query, body, &mut limit) {
        Ok(answer) => with_etag(method, headers, limit, answer),
        Err(answer) => answer,
    }
}

/// Git's smart HTTP (a remote that refuses every credential) and the storage
/// a job's log is redirected to: no token, no rate limit.
fn outside_the_api(s: &Script, path: &str) -> Option<Answer> {
    if path.starts_with("/git/") {
        return Some((
            401,
            vec![("www-authenticate".into(), "Basic realm=\"forge\"".into())],
            b"credentials refused".to_vec(),
            "text/plain",
        ));
    }
    let id = path.strip_prefix("/storage/logs/")?;
    let id: u64 = id.parse().unwrap_or(0);
    Some(match s.logs.get(&id) {
        Some(log) => (200, Vec::new(), log.clone().into_bytes(), "text/plain"),
        None => (404, Vec::new(), b"no such log".to_vec(), "text/plain"),
    })
}

/// GitHub's rate-limit headers, as every API answer carries them.
fn rate_limit_headers(s: &Script) -> Vec<(String, String)> {
    vec![
        ("x-ratelimit-limit".to_string(), "5000".to_string()),
        (
            "x-ratelimit-remaining".to_string(),
            s.remaining.saturating_sub(1).to_string(),
        ),
        ("x-ratelimit-reset".to_string(), (now() + 3600).to_string()),
        ("x-ratelimit-used".to_string(), "1".to_string()),
    ]
}

/// The token checked, a scripted fault served once, the rate limit spent
/// (refused at 0, its reset a few seconds ahead) and counted.
fn admit(
    s: &mut Script,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    limit: &mut Vec<(String, String)>,
) -> Result<(), Answer> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {}", s.token) && auth != format!("token {}", s.token) {
        return Err(json_answer(
            401,
            limit.clone(),
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}),
        ));
    }
    if let Some(i) = s
        .faults
        .iter()
        .position(|f| f.method == method.as_str() && path.starts_with(&f.path_prefix))
    {
        let f = s.faults.remove(i);
        limit.extend(f.headers);
        return Err(json_answer(f.status, limit.clone(), f.body));
    }
    if s.remaining == 0 {
        limit[1].1 = "0".into();
        limit[2].1 = (now() + 8).to_string();
        return Err(json_answer(
            403,
            limit.clone(),
            json!({"message": "API rate limit exceeded"}),
        ));
    }
    s.remaining -= 1;
    Ok(())
}

const BASE_URL: &str = "https://forge.invalid";

/// The repository's routes (`parts` after `/repos/OWNER/NAME`): Ok is a
/// JSON body read with an ETag, Err an answer as it stands.
fn repo_api(
    s: &mut Script,
    method: &Method,
    parts: &[&str],
    query: &str,
    body: &str,
    limit: &mut Vec<(String, String)>,
) -> Result<Value, Answer> {
    let not_found = |limit: &[(String, String)]| {
        json_answer(404, limit.to_vec(), json!({"message": "Not Found"}))
    };
    match (method.as_str(), parts) {
        ("GET", []) => Ok(
            json!({"full_name": format!("{}/{}", s.owner, s.name), "default_branch": "main",
                   "html_url": format!("{BASE_URL}/{}/{}", s.owner, s.name)}),
        ),
        ("POST", ["pulls"]) => Err(open_pull(s, body, limit.clone())),
        ("GET", ["pulls"]) => Ok(open_pulls_of(s, query)),
        ("GET", ["pulls", n]) | ("PATCH", ["pulls", n]) => {
            let n: u64 = n.parse().unwrap_or(0);
            let edit = (method == Method::PATCH).then_some(body);
            edit_pull(s, n, edit).ok_or_else(|| not_found(limit))
        }
        ("GET", ["pulls", n, "reviews"]) => {
            let n: u64 = n.parse().unwrap_or(0);
            Ok(json!(s.reviews.get(&n).cloned().unwrap_or_default()))
        }
        ("GET", ["pulls", n, "comments"]) => {
            let n: u64 = n.parse().unwrap_or(0);
            Ok(json!(s.comments.get(&n).cloned().unwrap_or_default()))
        }
        ("POST", ["pulls", n, "reviews"]) => {
            let n: u64 = n.parse().unwrap_or(0);
            Err(post_review(s, n, body, limit.clone()))
        }
        ("POST", ["pulls", n, "comments", id, "replies"]) => {
            let (n, id): (u64, u64) = (n.parse().unwrap_or(0), id.parse().unwrap_or(0));
            reply_to(s, n, id, body)
                .ok_or_else(|| not_found(limit))
                .map(|reply| json_answer(201, limit.clone(), reply))
                .and_then(Err)
        }
        ("GET", ["commits", sha, "check-runs"]) => {
            let runs = s.check_runs.get(*sha).cloned().unwrap_or_default();
            Ok(json!({"total_count": runs.len(), "check_runs": runs}))
        }
        ("GET", ["commits", sha, "status"]) => Ok(combined_status(s, sha)),
        ("POST", ["statuses", sha]) => {
            let b: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let all = s.statuses.entry(sha.to_string()).or_default();
            all.retain(|x| x["context"] != b["context"]);
            all.push(b.clone());
            Err(json_answer(201, limit.clone(), b))
        }
        ("GET", ["actions", "jobs", id, "logs"]) => {
            let id: u64 = id.parse().unwrap_or(0);
            if !s.logs.contains_key(&id) {
                return Err(not_found(limit));
            }
            limit.push(("location".into(), format!("/storage/logs/{id}")));
            Err((302, limit.clone(), Vec::new(), "text/plain"))
        }
        _ => Err(not_found(limit)),
    }
}

/// `POST /pulls`: 422 when the head is not on the remote or already has an
/// open pull request; else the new pull request, 201.
fn open_pull(s: &mut Script, body: &str, limit: Vec<(String, String)>) -> Answer {
    let b: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let head = b["head"].as_str().unwrap_or("").to_string();
    if head_sha(&s.remote, &head).is_none() {
        return json_answer(
            422,
            limit,
            json!({"message": "Validation Failed",
            "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}]}),
        );
    }
    if s.pulls.iter().any(|p| p.head == head && p.state == "open") {
        return json_answer(
            422,
            limit,
            json!({"message": "Validation Failed",
            "errors": [{"resource": "PullRequest", "code": "custom",
                        "message": format!("A pull request already exists for {}:{head}.", s.owner)}]}),
        );
    }
    let p = Pull {
        number: s.pulls.len() as u64 + 1,
        title: b["title"].as_str().unwrap_or("").into(),
        body: b["body"].as_str().unwrap_or("").into(),
        head,
        base: b["base"].as_str().unwrap_or("").into(),
        state: "open".into(),
        merged: false,
    };
    s.pulls.push(p.clone());
    json_answer(201, limit, pull_json(s, &p, BASE_URL))
}

/// `POST /pulls/N/reviews`: as GitHub, 422 when a line comment's line is
/// not in a hunk of the pull request's diff (on its side), else the review
/// and its line comments are kept, 200.
fn post_review(s: &mut Script, n: u64, body: &str, limit: Vec<(String, String)>) -> Answer {
    let b: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let Some(pull) = s.pulls.iter().find(|p| p.number == n).cloned() else {
        return json_answer(404, limit, json!({"message": "Not Found"}));
    };
    let lines = b["comments"].as_array().cloned().unwrap_or_default();
    for c in &lines {
        let (path, line) = (
            c["path"].as_str().unwrap_or(""),
            c["line"].as_u64().unwrap_or(0),
        );
        let right = c["side"].as_str() != Some("LEFT");
        if !in_a_hunk(&s.remote, &pull, path, line as u32, right) {
            return json_answer(
                422,
                limit,
                json!({"message": "Unprocessable Entity",
                       "errors": ["Line could not be resolved"]}),
            );
        }
    }
    s.last_id += 1;
    let id = s.last_id;
    let review = json!({
        "id": id, "user": {"login": "codex-governance-user"}, "state": "COMMENTED",
        "body": b["body"], "commit_id": b["commit_id"], "event": b["event"]
    });
    s.reviews.entry(n).or_default().push(review.clone());
    for c in lines {
        s.last_id += 1;
        let comment = json!({
            "id": s.last_id, "user": {"login": "codex-governance-user"}, "path": c["path"],
            "line": c["line"], "original_line": c["line"], "side": c["side"], "body": c["body"],
            "pull_request_review_id": id
        });
        s.comments.entry(n).or_default().push(comment);
    }
    json_answer(200, limit, review)
}

/// Whether `line` of `path` is in a hunk of the pull request's diff (its
/// base branch's tip to its head's), on the new side or the old.
fn in_a_hunk(remote: &PathBuf, pull: &Pull, path: &str, line: u32, new_side: bool) -> bool {
    let Ok(git) = git2::Repository::open_bare(remote) else {
        return false;
    };
    let tree = |branch: &str| {
        let r = git.find_reference(&format!("refs/heads/{branch}")).ok()?;
        r.peel_to_commit().ok()?.tree().ok()
    };
    let (Some(base), Some(head)) = (tree(&pull.base), tree(&pull.head)) else {
        return false;
    };
    let mut opts = git2::DiffOptions::new();
    opts.pathspec(path);
    let Ok(diff) = git.diff_tree_to_tree(Some(&base), Some(&head), Some(&mut opts)) else {
        return false;
    };
    let mut found = false;
    let _ = diff.foreach(
        &mut |_, _| true,
        None,
        Some(&mut |_, h| {
            let (start, count) = if new_side {
                (h.new_start(), h.new_lines())
            } else {
                (h.old_start(), h.old_lines())
            };
            found |= line >= start && line < start + count;
            true
        }),
        None,
    );
    found
}

/// `POST /pulls/N/comments/ID/replies`: the reply, kept among the pull
/// request's comments as GitHub keeps it; None when there is no comment ID.
fn reply_to(s: &mut Script, n: u64, id: u64, body: &str) -> Option<Value> {
    let b: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let original = s.comments.get(&n)?.iter().find(|c| c["id"] == id)?.clone();
    s.last_id += 1;
    let reply = json!({
        "id": s.last_id, "user": {"login": "codex-governance-user"},
        "path": original["path"], "line": original["line"], "original_line": original["line"],
        "body": b["body"], "in_reply_to_id": id
    });
    s.comments.get_mut(&n)?.push(reply.clone());
    Some(reply)
}

/// `GET /pulls?head=OWNER:BRANCH`: the open pull requests of that head.
fn open_pulls_of(s: &Script, query: &str) -> Value {
    let wanted = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("head="))
        .map(|v| v.replace("%3A", ":").replace("%2F", "/"))
        .unwrap_or_default();
    let list: Vec<Value> = s
        .pulls
        .iter()
        .filter(|p| p.state == "open" && format!("{}:{}", s.owner, p.head) == wanted)
        .map(|p| pull_json(s, p, BASE_URL))
        .collect();
    json!(list)
}

/// Pull request `n`, its title and body first set from `edit` (a PATCH's
/// body) when given; None when there is no such pull request.
fn edit_pull(s: &mut Script, n: u64, edit: Option<&str>) -> Option<Value> {
    let i = s.pulls.iter().position(|p| p.number == n)?;
    if let Some(body) = edit {
        let b: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        if let Some(t) = b["title"].as_str() {
            s.pulls[i].title = t.into();
        }
        if let Some(t) = b["body"].as_str() {
            s.pulls[i].body = t.into();
        }
    }
    let p = s.pulls[i].clone();
    Some(pull_json(s, &p, BASE_URL))
}

/// A commit's combined status: failure over pending (or none) over success.
fn combined_status(s: &Script, sha: &str) -> Value {
    let statuses = s.statuses.get(sha).cloned().unwrap_or_default();
    let state = if statuses
        .iter()
        .any(|x| x["state"] == "failure" || x["state"] == "error")
    {
        "failure"
    } else if statuses.iter().any(|x| x["state"] == "pending") || statuses.is_empty() {
        "pending"
    } else {
        "success"
    };
    json!({"state": state, "sha": sha, "total_count": statuses.len(), "statuses": statuses})
}

/// Conditional reads: the same body has the same ETag, and a GET that names
/// it is answered 304.
fn with_etag(
    method: &Method,
    headers: &HeaderMap,
    mut limit: Vec<(String, String)>,
    answer: Value,
) -> Answer {
    let text = answer.to_string();
    let tag = format!("\"{:x}\"", md5ish(&text));
    limit.push(("etag".into(), tag.clone()));
    if method == Method::GET
        && headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(tag.as_str())
    {
        return (304, limit, Vec::new(), "application/json");
    }
    (200, limit, text.into_bytes(), "application/json")
}

/// A stable hash of a body, for its ETag.
fn md5ish(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}
