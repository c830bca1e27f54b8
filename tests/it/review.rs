//! The review drawer's routes end to end (issue 14, item 3): a real server on a
//! free port, real PTYs running the fake agent (`tools/fake-agent`), a department that
//! reports through `codex-governance mailbox send`, and a real Git repository.
//!
//! - `GET /api/handoff`: the real handoff packet, rendered with the report's
//!   hostile HTML shown as text; the report as received beside it;
//! - `GET /api/result_raw`: the archived report file byte for byte;
//! - `GET /api/diff`: modified, untracked and binary files, a base, bad paths;
//! - all three refuse an agent's own token.
//!
//! No timing is asserted: every wait is a generous wait-until loop.

use crate::common::launcher as support;
use crate::common::mailbox as extra;
#[allow(dead_code)] // body_naming is for the attack suite
use crate::common::scopes;

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{json, Value};

use support::git::commit_paths;
use support::*;

/// A report summary that would be live markup if anything parsed it as HTML.
const HOSTILE: &str = "<script>alert(1)</script> <img src=x onerror=alert(2)>";

fn assert_failure(what: &str, status: StatusCode, body: &Value, want: StatusCode, says: &str) {
    assert_eq!(status, want, "{what}: {body}");
    assert_eq!(body["ok"], json!(false), "{what}: {body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(says),
        "{what}: {error:?} should say {says:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handoff_packet_and_the_report_as_received() {
    let (_repo, server) = serve(&[]).await;
    let api = &server.api;
    let z = api.start_zhongshu("review the docs").await;
    let task = format!(
        "Write the docs [[fake-agent: --report-via cli --summary '{HOSTILE}' \
         --changed-file README.md --verification 'cargo test: ok']]"
    );
    let d = extra::start_department(api, &z, "zhilibu", &task).await;
    let r = extra::wait_result(api, &z, "the docs' report", |r| {
        r["department_session_id"] == json!(d)
    })
    .await;
    assert_eq!(r["verified"], json!(true), "sent with `mailbox send`: {r}");
    assert_eq!(r["summary"], json!(HOSTILE), "{r}");

    let h = check_the_packet(api, &r).await;
    check_the_report_as_received(api, &r, &h).await;
    refuse_missing_results_and_bad_names(api, &r, &z, &d).await;
    server.stop().await;
}

/// `GET /api/handoff`: the packet as written, the report's hostile text as
/// entities in its markdown and as text in its HTML, the result beside it.
async fn check_the_packet(api: &Api, r: &Value) -> Value {
    let h = api
        .get_ok(&format!("/api/handoff?{}", extra::naming(r)))
        .await;
    let packet_path = r["handoff_packet"].as_str().unwrap();
    assert_eq!(h["path"], json!(packet_path), "{h}");
    let markdown = h["markdown"].as_str().unwrap();
    assert_eq!(
        markdown,
        std::fs::read_to_string(packet_path).unwrap(),
        "the packet as written"
    );
    assert!(
        markdown.starts_with("# Codex Department Handoff\n"),
        "{markdown}"
    );
    // Report text is written with `<` and `&` as entities (issue 23).
    assert!(
        markdown.contains(&HOSTILE.replace('&', "&amp;").replace('<', "&lt;")),
        "{markdown}"
    );
    let html = h["html"].as_str().unwrap();
    assert!(html.contains("<h1>Codex Department Handoff</h1>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt;"),
        "the summary as text: {html}"
    );
    for live in ["<script", "<img", "javascript:"] {
        assert!(!html.contains(live), "{live} is live in {html}");
    }
    assert_eq!(h["truncated"], json!(false));
    for key in [
        "report_id",
        "department_session_id",
        "summary",
        "changed_files",
        "handoff_packet",
        "mailbox_file",
    ] {
        assert_eq!(h["result"][key], r[key], "result.{key}: {h}");
    }
    assert_eq!(h["raw_source"], json!("mailbox_file"), "{h}");
    h
}

/// `GET /api/result_raw`: the archived report file as it is, the same as
/// the packet's answer carries.
async fn check_the_report_as_received(api: &Api, r: &Value, h: &Value) {
    let raw = api
        .get_ok(&format!("/api/result_raw?{}", extra::naming(r)))
        .await;
    let file = r["mailbox_file"].as_str().unwrap();
    assert!(Path::new(file).is_file(), "archived: {file}");
    assert_eq!(
        raw["raw"],
        json!(std::fs::read_to_string(file).unwrap()),
        "the archived file as it is"
    );
    assert_eq!(raw["raw_source"], json!("mailbox_file"));
    assert_eq!(raw["raw_truncated"], json!(false));
    let sent: Value = serde_json::from_str(raw["raw"].as_str().unwrap()).unwrap();
    assert_eq!(sent["summary"], json!(HOSTILE), "{sent}");
    assert_eq!(sent["changed_files"], json!(["README.md"]), "{sent}");
    assert_eq!(raw["result"]["report_id"], r["report_id"], "{raw}");
    assert_eq!(
        h["raw"], raw["raw"],
        "the packet's answer carries the same report"
    );
}

/// Both routes: a result that is not there is 404, a missing or bad name 400.
async fn refuse_missing_results_and_bad_names(api: &Api, r: &Value, z: &str, d: &str) {
    for route in ["/api/handoff", "/api/result_raw"] {
        let mut other = r.clone();
        other["report_id"] = json!("no-such-report");
        let (status, body) = api.get(&format!("{route}?{}", extra::naming(&other))).await;
        assert_failure(
            route,
            status,
            &body,
            StatusCode::NOT_FOUND,
            "no result no-such-report",
        );
        let (status, body) = api
            .get(&format!("{route}?session_id={z}&report_id=x"))
            .await;
        assert_failure(
            route,
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "missing ?department_session_id=",
        );
        let (status, body) = api
            .get(&format!(
                "{route}?session_id=..%2F{z}&department_session_id={d}&report_id=x"
            ))
            .await;
        assert_failure(
            route,
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "session_id must match",
        );
    }
}

/// `(kind, old_line, new_line, text)` of every shown line.
fn rows(d: &Value) -> Vec<(String, Value, Value, String)> {
    d["hunks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["lines"].as_array().unwrap().clone())
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_string(),
                l["old_line"].clone(),
                l["new_line"].clone(),
                l["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_file_diffs_against_head_or_a_base() {
    let (repo, server) = serve(&[]).await;
    let api = &server.api;
    let root = &repo.path;
    commit_paths(root, &["README.md", "governance.yaml"], "test");
    std::fs::write(
        root.join("README.md"),
        "# test repo\n\nA line the docs added.\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("notes")).unwrap();
    std::fs::write(root.join("notes/new.txt"), "first\nsecond\n").unwrap();
    std::fs::write(root.join("logo.bin"), [0u8, 159, 146, 150, 0, 1]).unwrap();

    modified_untracked_and_binary_files(api).await;
    // Against a base: after a second commit, HEAD~1 still sees the README change.
    commit_paths(root, &["README.md"], "test");
    the_readme_against_head_and_a_base(api).await;
    // Refused: paths out of the repository, option-like or unknown bases.
    for (query, says) in [
        ("path=../etc/passwd", ".. component"),
        ("path=..%2F..%2Fetc%2Fpasswd", ".. component"),
        ("path=notes/../../x", ".. component"),
        ("path=%2Fetc%2Fpasswd", "not absolute"),
        ("path=README.md%00", "NUL"),
        ("path=", "1 to 4096"),
        ("base=HEAD", "missing ?path="),
        (
            "path=README.md&base=--output=/tmp/x",
            "looks like an option",
        ),
        ("path=README.md&base=no-such-branch", "not a known revision"),
    ] {
        let (status, body) = api.get(&format!("/api/diff?{query}")).await;
        assert_failure(query, status, &body, StatusCode::BAD_REQUEST, says);
    }
    server.stop().await;
}

/// The README modified, a new untracked file, a binary one: each file's diff
/// against HEAD, line by line.
async fn modified_untracked_and_binary_files(api: &Api) {
    let m = api.get_ok("/api/diff?path=README.md").await;
    assert_eq!(
        (
            &m["path"],
            &m["base"],
            &m["status"],
            &m["binary"],
            &m["truncated"]
        ),
        (
            &json!("README.md"),
            &json!("HEAD"),
            &json!("modified"),
            &json!(false),
            &json!(false)
        ),
        "{m}"
    );
    assert_eq!((&m["added"], &m["removed"]), (&json!(2), &json!(0)), "{m}");
    assert_eq!(m["hunks"][0]["header"], json!("@@ -1 +1,3 @@"), "{m}");
    assert_eq!(
        rows(&m),
        vec![
            ("ctx".into(), json!(1), json!(1), "# test repo".into()),
            ("add".into(), Value::Null, json!(2), "".into()),
            (
                "add".into(),
                Value::Null,
                json!(3),
                "A line the docs added.".into()
            ),
        ]
    );

    let u = api.get_ok("/api/diff?path=notes%2Fnew.txt").await;
    assert_eq!(
        (&u["status"], &u["added"]),
        (&json!("untracked"), &json!(2)),
        "{u}"
    );
    assert_eq!(
        rows(&u),
        vec![
            ("add".into(), Value::Null, json!(1), "first".into()),
            ("add".into(), Value::Null, json!(2), "second".into()),
        ]
    );

    let b = api.get_ok("/api/diff?path=logo.bin").await;
    assert_eq!(
        (&b["binary"], &b["hunks"]),
        (&json!(true), &json!([])),
        "{b}"
    );
}

/// The README, committed: clean at HEAD, changed against HEAD~1.
async fn the_readme_against_head_and_a_base(api: &Api) {
    let (status, body) = api.get("/api/diff?path=README.md").await;
    assert_failure(
        "clean at HEAD",
        status,
        &body,
        StatusCode::NOT_FOUND,
        "no change against HEAD",
    );
    let based = api.get_ok("/api/diff?path=README.md&base=HEAD~1").await;
    assert_eq!(
        (&based["base"], &based["added"]),
        (&json!("HEAD~1"), &json!(2)),
        "{based}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_tokens_cannot_review() {
    let (_repo, server) = serve(&[]).await;
    let z = server.api.start_zhongshu("scopes").await;
    let d = scopes::waiting_department(&server, &z, "lingyubu").await;
    let (_, z_api) = scopes::agent_api(&server, &z).await;
    let (_, d_api) = scopes::agent_api(&server, &d).await;
    let own = format!("session_id={z}&department_session_id={d}&report_id={d}");
    // The developer's token reaches each route: no result yet (404); README.md
    // is new in a repository without commits (200).
    for (path, user_status) in [
        (format!("/api/handoff?{own}"), StatusCode::NOT_FOUND),
        (format!("/api/result_raw?{own}"), StatusCode::NOT_FOUND),
        ("/api/diff?path=README.md".to_string(), StatusCode::OK),
    ] {
        for (who, api) in [("zhongshu", &z_api), ("department", &d_api)] {
            let (status, body) = api.get(&path).await;
            assert_failure(
                &format!("{who} token, {path}"),
                status,
                &body,
                StatusCode::FORBIDDEN,
                "may not call",
            );
        }
        let (status, body) = server.api.get(&path).await;
        assert_eq!(status, user_status, "the developer's token, {path}: {body}");
        assert_eq!(
            body["ok"],
            json!(status == StatusCode::OK),
            "{path}: {body}"
        );
    }
    server.stop().await;
}
