//! GitHub (and GitHub Enterprise, by `api_url`) as a [`Forge`], through
//! `octocrab`: its client, base URL, authentication and redirects (a job's
//! log is a redirect to storage; credentials are not sent across origins).
//! Only the REST subset the launcher uses: the repository, pulls, a commit's
//! check runs and combined status, a job's log, a pull request's reviews and
//! line comments, and a reply to one.
//!
//! Polled reads are conditional: each answer's `ETag` is kept with its body
//! and sent back as `If-None-Match`, so an unchanged pull request or check
//! list costs a `304` (which GitHub does not count against the rate limit).
//! `x-ratelimit-remaining`/`x-ratelimit-reset` and `retry-after` set how long
//! the poller waits ([`Forge::wait_hint`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    CommitStatus, Forge, ForgeError, ForgeFuture, NewPull, NewReview, Opened, PullInfo, RepoInfo,
};
use crate::model::{Check, CheckKind, CheckVerdict, ForgeComment, ForgeNote, PullRequestState};

/// At most this much of a job's log is read.
const MAX_LOG_BYTES: usize = 8 * 1024 * 1024;
/// Answers kept for conditional requests.
const MAX_CACHED: usize = 256;

pub struct GitHub {
    api_url: String,
    repo: String,
    client: tokio::sync::Mutex<Option<Octocrab>>,
    /// route → (ETag, body) of its last 200.
    cache: Mutex<HashMap<String, (String, Bytes)>>,
    /// Not before this instant, as the rate-limit headers asked.
    wait_until: Mutex<Option<Instant>>,
}

/// A read answer: its status, headers and body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl GitHub {
    /// A client for `repo` (`owner/name`) at `api_url`; checked, not yet connected.
    pub fn new(api_url: &str, repo: &str) -> Result<GitHub, http::uri::InvalidUri> {
        api_url.parse::<http::Uri>()?;
        Ok(GitHub {
            api_url: api_url.trim_end_matches('/').to_string(),
            repo: repo.to_string(),
            client: tokio::sync::Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
            wait_until: Mutex::new(None),
        })
    }

    /// The client, built on first use with the token looked up then.
    async fn client(&self) -> Result<Octocrab, ForgeError> {
        let mut held = self.client.lock().await;
        if let Some(c) = held.as_ref() {
            return Ok(c.clone());
        }
        let token = super::token::token(&self.api_url).await?;
        let client = Octocrab::builder()
            .base_uri(self.api_url.as_str())
            .and_then(|b| {
                b.personal_token(token.expose().to_string())
                    .set_connect_timeout(Some(Duration::from_secs(10)))
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .build()
            })
            .map_err(|e| ForgeError::Answer(format!("the forge's client: {e}")))?;
        *held = Some(client.clone());
        Ok(client)
    }

    /// Changes pull request `number` as `patch` says (its title, its body).
    async fn patch_pull(&self, number: u64, patch: Value) -> Result<(), ForgeError> {
        let a = self
            .send(
                http::Method::PATCH,
                &self.route(&format!("/pulls/{number}")),
                Some(&patch),
                None,
            )
            .await?;
        self.checked(a).map(drop)
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> ForgeError {
        let why = super::words::from_forge(&e.to_string());
        // octocrab's words carry a backtrace after a line break.
        let why = why.lines().next().unwrap_or("").trim().to_string();
        ForgeError::Unreachable {
            api: self.api_url.clone(),
            why,
        }
    }

    /// Sends one request; a transport failure is [`ForgeError::Unreachable`].
    /// The answer's body is the forge's words from here on: every string in
    /// it cleaned and masked ([`super::words::body_from_forge`]) before any
    /// part of the launcher reads, keeps or caches it.
    async fn send(
        &self,
        method: http::Method,
        route: &str,
        body: Option<&Value>,
        if_none_match: Option<&str>,
    ) -> Result<Answer, ForgeError> {
        let client = self.client().await?;
        let response = match method {
            http::Method::POST => client._post(route, body).await,
            http::Method::PATCH => client._patch(route, body).await,
            _ => {
                let mut headers = HeaderMap::new();
                if let Some(tag) = if_none_match.and_then(|t| t.parse().ok()) {
                    headers.insert(http::header::IF_NONE_MATCH, tag);
                }
                client._get_with_headers(route, Some(headers)).await
            }
        }
        .map_err(|e| self.unreachable(e))?;
        let (parts, body) = response.into_parts();
        let body = http_body_util::Limited::new(body, MAX_LOG_BYTES)
            .collect()
            .await
            .map_err(|e| self.unreachable(e))?
            .to_bytes();
        let body = Bytes::from(super::words::body_from_forge(&body));
        self.note_rate_limit(parts.status, &parts.headers);
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Keeps what the rate-limit headers say about waiting.
    fn note_rate_limit(&self, status: StatusCode, headers: &HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let now_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let wait = if let Some(secs) = number("retry-after") {
            Some(Duration::from_secs(secs))
        } else if number("x-ratelimit-remaining") == Some(0) {
            number("x-ratelimit-reset").map(|at| Duration::from_secs(at.saturating_sub(now_unix)))
        } else {
            None
        };
        let limited = status == StatusCode::TOO_MANY_REQUESTS || wait.is_some();
        *self.wait_until.lock().unwrap() = match (limited, wait) {
            (true, Some(w)) => Some(Instant::now() + w),
            (true, None) => Some(Instant::now() + Duration::from_secs(60)),
            _ => None,
        };
    }

    /// The body of a successful answer, else the error it means.
    fn checked(&self, a: Answer) -> Result<Bytes, ForgeError> {
        if a.status.is_success() {
            return Ok(a.body);
        }
        let parsed: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
        let mut message = parsed["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| a.status.canonical_reason().unwrap_or("error").to_string());
        let details: Vec<&str> = parsed["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["message"].as_str())
            .collect();
        if !details.is_empty() {
            message = format!("{message}: {}", details.join("; "));
        }
        let message = crate::sanitize::shown(&message.chars().take(500).collect::<String>());
        let limited = a
            .headers
            .get("x-ratelimit-remaining")
            .is_some_and(|v| v == "0")
            || a.headers.contains_key("retry-after");
        Err(match a.status.as_u16() {
            401 => ForgeError::Unauthorized {
                repo: self.repo.clone(),
                message,
            },
            403 | 429 if limited || a.status == StatusCode::TOO_MANY_REQUESTS => {
                ForgeError::RateLimited {
                    wait: self.wait_hint().unwrap_or(Duration::from_secs(60)),
                }
            }
            404 => ForgeError::NotFound {
                repo: self.repo.clone(),
                api: self.api_url.clone(),
            },
            status => ForgeError::Refused { status, message },
        })
    }

    fn remember(&self, route: &str, a: &Answer) {
        let Some(tag) = a
            .headers
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
        else {
            return;
        };
        let mut cache = self.cache.lock().unwrap();
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(route.to_string(), (tag.to_string(), a.body.clone()));
    }

    /// A conditional GET: the cached body on 304, the new one (kept) on 200.
    async fn read(&self, route: &str) -> Result<Bytes, ForgeError> {
        let known = self.cache.lock().unwrap().get(route).cloned();
        let a = self
            .send(
                http::Method::GET,
                route,
                None,
                known.as_ref().map(|(t, _)| t.as_str()),
            )
            .await?;
        if a.status == StatusCode::NOT_MODIFIED {
            if let Some((_, body)) = known {
                return Ok(body);
            }
        }
        if a.status.is_success() {
            self.remember(route, &a);
        }
        self.checked(a)
    }

    fn route(&self, rest: &str) -> String {
        format!("/repos/{}{rest}", self.repo)
    }

    fn owner(&self) -> &str {
        self.repo.split('/').next().unwrap_or(&self.repo)
    }
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ForgeError> {
    serde_json::from_slice(body).map_err(|e| ForgeError::Answer(e.to_string()))
}

/// Percent-encodes a query value (`owner:branch`, branch names with `/`).
fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[derive(Deserialize)]
struct RepoJson {
    full_name: String,
    #[serde(default)]
    default_branch: String,
}

#[derive(Deserialize)]
struct HeadJson {
    sha: String,
    #[serde(rename = "ref", default)]
    branch: String,
}

#[derive(Deserialize)]
struct PullJson {
    number: u64,
    html_url: String,
    state: String,
    #[serde(default)]
    merged: Option<bool>,
    #[serde(default)]
    merged_at: Option<String>,
    head: HeadJson,
}

impl PullJson {
    fn info(self) -> PullInfo {
        let merged = self.merged.unwrap_or(false) || self.merged_at.is_some();
        PullInfo {
            number: self.number,
            url: self.html_url,
            state: match (self.state.as_str(), merged) {
                (_, true) => PullRequestState::Merged,
                ("open", _) => PullRequestState::Open,
                _ => PullRequestState::Closed,
            },
            head_sha: self.head.sha,
            head_ref: self.head.branch,
        }
    }
}

#[derive(Deserialize)]
struct CheckRunsJson {
    #[serde(default)]
    check_runs: Vec<CheckRunJson>,
}

#[derive(Deserialize, Default)]
struct OutputJson {
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize)]
struct CheckRunJson {
    id: u64,
    name: String,
    status: String,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    details_url: Option<String>,
    #[serde(default)]
    output: Option<OutputJson>,
}

#[derive(Deserialize)]
struct CombinedJson {
    #[serde(default)]
    statuses: Vec<StatusJson>,
}

#[derive(Deserialize)]
struct StatusJson {
    context: String,
    state: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    target_url: Option<String>,
}

#[derive(Deserialize, Default)]
struct UserJson {
    #[serde(default)]
    login: String,
}

#[derive(Deserialize)]
struct ReviewJson {
    id: u64,
    #[serde(default)]
    user: Option<UserJson>,
    #[serde(default)]
    state: String,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize)]
struct CommentJson {
    id: u64,
    #[serde(default)]
    user: Option<UserJson>,
    #[serde(default)]
    path: String,
    /// None on an outdated comment (its line is gone from the head).
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    original_line: Option<u32>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    in_reply_to_id: Option<u64>,
    #[serde(default)]
    pull_request_review_id: Option<u64>,
}

#[derive(Deserialize)]
struct CreatedJson {
    id: u64,
}

fn login(user: Option<UserJson>) -> String {
    user.unwrap_or_default().login
}

/// A check run's verdict from its status and conclusion.
fn run_verdict(status: &str, conclusion: Option<&str>) -> CheckVerdict {
    match (status, conclusion) {
        ("completed", Some("success" | "neutral" | "skipped")) => CheckVerdict::Passed,
        ("completed", _) => CheckVerdict::Failed,
        _ => CheckVerdict::Pending,
    }
}

fn status_verdict(state: &str) -> CheckVerdict {
    match state {
        "success" => CheckVerdict::Passed,
        "failure" | "error" => CheckVerdict::Failed,
        _ => CheckVerdict::Pending,
    }
}

impl Forge for GitHub {
    fn repository(&self) -> ForgeFuture<'_, RepoInfo> {
        Box::pin(async move {
            let body = self.read(&self.route("")).await?;
            let r: RepoJson = parse(&body)?;
            Ok(RepoInfo {
                full_name: r.full_name,
                default_branch: r.default_branch,
            })
        })
    }

    fn open_pull(&self, new: NewPull) -> ForgeFuture<'_, Opened> {
        Box::pin(async move {
            let body = json!({"title": new.title, "head": new.head, "base": new.base,
                              "body": new.body, "maintainer_can_modify": false});
            let a = self
                .send(http::Method::POST, &self.route("/pulls"), Some(&body), None)
                .await?;
            match self.checked(a) {
                Ok(body) => Ok(Opened {
                    pull: parse::<PullJson>(&body)?.info(),
                    reused: false,
                }),
                // "A pull request already exists for owner:branch.": reuse it.
                Err(ForgeError::Refused {
                    status: 422,
                    message,
                }) if message.contains("already exists") => {
                    let Some(found) = self.find_pull(new.head.clone()).await? else {
                        return Err(ForgeError::Refused {
                            status: 422,
                            message,
                        });
                    };
                    self.patch_pull(found.number, json!({"title": new.title, "body": new.body}))
                        .await?;
                    Ok(Opened {
                        pull: found,
                        reused: true,
                    })
                }
                Err(e) => Err(e),
            }
        })
    }

    fn find_pull(&self, head: String) -> ForgeFuture<'_, Option<PullInfo>> {
        Box::pin(async move {
            let query = format!(
                "?head={}&state=open",
                percent(&format!("{}:{head}", self.owner()))
            );
            let answer = self
                .send(
                    http::Method::GET,
                    &self.route(&format!("/pulls{query}")),
                    None,
                    None,
                )
                .await?;
            let pulls: Vec<PullJson> = parse(&self.checked(answer)?)?;
            Ok(pulls.into_iter().next().map(PullJson::info))
        })
    }

    fn update_body(&self, number: u64, body: String) -> ForgeFuture<'_, ()> {
        Box::pin(async move { self.patch_pull(number, json!({"body": body})).await })
    }

    fn pull(&self, number: u64) -> ForgeFuture<'_, PullInfo> {
        Box::pin(async move {
            let body = self.read(&self.route(&format!("/pulls/{number}"))).await?;
            Ok(parse::<PullJson>(&body)?.info())
        })
    }

    fn checks(&self, sha: String) -> ForgeFuture<'_, Vec<Check>> {
        Box::pin(async move {
            let runs = self
                .read(&self.route(&format!("/commits/{sha}/check-runs?per_page=100")))
                .await?;
            let runs: CheckRunsJson = parse(&runs)?;
            let statuses = self
                .read(&self.route(&format!("/commits/{sha}/status?per_page=100")))
                .await?;
            let statuses: CombinedJson = parse(&statuses)?;
            let mut checks: Vec<Check> = runs
                .check_runs
                .into_iter()
                .map(|r| Check {
                    verdict: run_verdict(&r.status, r.conclusion.as_deref()),
                    conclusion: r.conclusion.or(Some(r.status)),
                    name: r.name,
                    kind: CheckKind::CheckRun,
                    id: Some(r.id),
                    url: r.html_url.or(r.details_url),
                    summary: r.output.unwrap_or_default().title,
                })
                .collect();
            checks.extend(statuses.statuses.into_iter().map(|s| Check {
                verdict: status_verdict(&s.state),
                conclusion: Some(s.state),
                name: s.context,
                kind: CheckKind::Status,
                id: None,
                url: s.target_url,
                summary: s.description,
            }));
            checks.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(checks)
        })
    }

    fn job_log(&self, check: Check) -> ForgeFuture<'_, Option<String>> {
        Box::pin(async move {
            let Some(id) = check.id.filter(|_| check.kind == CheckKind::CheckRun) else {
                return Ok(None);
            };
            let a = self
                .send(
                    http::Method::GET,
                    &self.route(&format!("/actions/jobs/{id}/logs")),
                    None,
                    None,
                )
                .await?;
            // Not a GitHub Actions job (another app's check run): no log.
            if a.status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let body = self.checked(a)?;
            Ok(Some(String::from_utf8_lossy(&body).into_owned()))
        })
    }

    fn reviews(&self, number: u64) -> ForgeFuture<'_, Vec<ForgeNote>> {
        Box::pin(async move {
            let body = self
                .read(&self.route(&format!("/pulls/{number}/reviews?per_page=100")))
                .await?;
            let reviews: Vec<ReviewJson> = parse(&body)?;
            Ok(reviews
                .into_iter()
                .map(|r| ForgeNote {
                    id: r.id,
                    line_comment: false,
                    author: login(r.user),
                    verdict: Some(r.state),
                    path: None,
                    line: None,
                    body: r.body.unwrap_or_default(),
                })
                .collect())
        })
    }

    fn line_comments(&self, number: u64) -> ForgeFuture<'_, Vec<ForgeComment>> {
        Box::pin(async move {
            let body = self
                .read(&self.route(&format!("/pulls/{number}/comments?per_page=100")))
                .await?;
            let comments: Vec<CommentJson> = parse(&body)?;
            Ok(comments
                .into_iter()
                .map(|c| ForgeComment {
                    note: ForgeNote {
                        id: c.id,
                        line_comment: true,
                        author: login(c.user),
                        verdict: None,
                        path: Some(c.path),
                        line: c.line.or(c.original_line),
                        body: c.body,
                    },
                    in_reply_to: c.in_reply_to_id,
                    review: c.pull_request_review_id,
                })
                .collect())
        })
    }

    fn post_review(&self, number: u64, review: NewReview) -> ForgeFuture<'_, u64> {
        Box::pin(async move {
            let lines: Vec<Value> = review
                .lines
                .iter()
                .map(|l| {
                    json!({"path": l.path, "line": l.line, "body": l.body,
                           "side": if l.new_side { "RIGHT" } else { "LEFT" }})
                })
                .collect();
            let body = json!({"commit_id": review.commit, "body": review.body,
                              "event": "COMMENT", "comments": lines});
            let route = self.route(&format!("/pulls/{number}/reviews"));
            let a = self
                .send(http::Method::POST, &route, Some(&body), None)
                .await?;
            Ok(parse::<CreatedJson>(&self.checked(a)?)?.id)
        })
    }

    fn reply(&self, number: u64, comment: u64, body: String) -> ForgeFuture<'_, u64> {
        Box::pin(async move {
            let route = self.route(&format!("/pulls/{number}/comments/{comment}/replies"));
            let a = self
                .send(
                    http::Method::POST,
                    &route,
                    Some(&json!({"body": body})),
                    None,
                )
                .await?;
            Ok(parse::<CreatedJson>(&self.checked(a)?)?.id)
        })
    }

    fn set_status(&self, sha: String, status: CommitStatus) -> ForgeFuture<'_, ()> {
        Box::pin(async move {
            let description: String = status.description.chars().take(140).collect();
            let body = json!({"state": status.state, "description": description,
                              "context": status.context});
            let a = self
                .send(
                    http::Method::POST,
                    &self.route(&format!("/statuses/{}", percent(&sha))),
                    Some(&body),
                    None,
                )
                .await?;
            self.checked(a).map(drop)
        })
    }

    fn wait_hint(&self) -> Option<Duration> {
        let until = (*self.wait_until.lock().unwrap())?;
        until.checked_duration_since(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_from_the_forges_words() {
        assert_eq!(
            run_verdict("completed", Some("success")),
            CheckVerdict::Passed
        );
        assert_eq!(
            run_verdict("completed", Some("skipped")),
            CheckVerdict::Passed
        );
        assert_eq!(
            run_verdict("completed", Some("timed_out")),
            CheckVerdict::Failed
        );
        assert_eq!(run_verdict("in_progress", None), CheckVerdict::Pending);
        assert_eq!(status_verdict("error"), CheckVerdict::Failed);
        assert_eq!(status_verdict("pending"), CheckVerdict::Pending);
        assert_eq!(
            percent("acme:governance/z-1/d-2"),
            "acme%3Agovernance%2Fz-1%2Fd-2"
        );
    }
}
