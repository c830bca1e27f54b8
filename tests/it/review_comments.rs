//! Review comments on a department's diff lines (issue 51) end to end: a
//! real launcher, a real Git repository, the fake agent in a real PTY. The
//! reviewer comments on lines (a line outside the diff is refused), sends
//! the work back, and the next attempt's turn holds each `path:line`, the
//! lines around it and the reviewer's words; the next attempt then shows
//! each comment as addressed or open.

use crate::common::launcher::*;
use crate::common::model_server::{exec, tool_call};
use crate::common::scenario::{self, id_of, recorded, Codex, Scenario, CODEX_PATIENCE};

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{json, Value};

const BEFORE: &str = "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\n";
/// The first attempt: lines 3 and 7 changed.
const FIRST: &str = r"l1\\nl2\\nL3\\nl4\\nl5\\nl6\\nL7\\nl8\\nl9\\n";
/// The second: a line added on top, line 3 fixed as asked, line 7 left
/// as it was (now line 8).
const SECOND: &str = r"l0\\nl1\\nl2\\nthree\\nl4\\nl5\\nl6\\nL7\\nl8\\nl9\\n";

fn work(text: &str) -> String {
    format!("[[fake-agent: --work-seconds 1 --write src/a.rs={text} --changed-file src/a.rs]]")
}

/// A launcher on a repository holding `src/a.rs`, one department's first
/// attempt recorded: the server, its Zhongshu and the department.
pub async fn one_attempt_recorded() -> (TestRepo, InProcess, String, String) {
    let (repo, server) = Scenario::new()
        .files(&[("src/a.rs", BEFORE)])
        .committed()
        .serve()
        .await;
    let z = scenario::start_plan(
        &server.api,
        "review comments",
        "comments",
        vec![json!({"department": "lingyubu", "files": ["src/"],
                    "task": format!("edit a {}", work(FIRST))})],
    )
    .await;
    let d = recorded(&server.api, &z, 1).await.remove(0);
    (repo, server, z, id_of(&d))
}

pub async fn comment(api: &Api, d: &str, line: u32, side: &str, body: &str) -> (StatusCode, Value) {
    api.post(
        "/api/review_comments",
        &json!({"session_id": d, "path": "src/a.rs", "line": line, "side": side, "body": body}),
    )
    .await
}

async fn comments(api: &Api, d: &str) -> Value {
    api.get_ok(&format!("/api/review_comments?session_id={d}"))
        .await
}

/// The comment whose body is `body` in a `GET /api/review_comments` answer.
fn named<'a>(list: &'a Value, body: &str) -> &'a Value {
    list["comments"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["body"] == body))
        .unwrap_or_else(|| panic!("no comment {body:?} in {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_diffs_lines_take_comments_and_drafts_are_kept_deleted_and_resolved() {
    let (_repo, server, _z, first) = one_attempt_recorded().await;
    let api = &server.api;
    only_lines_of_the_diff_take_comments(api, &first).await;
    let (_, added) = comment(api, &first, 3, "new", "name it three").await;
    assert_eq!(added["comment"]["id"], "rc-1", "{added}");
    assert_eq!(added["comment"]["side"], "new", "{added}");
    comment(api, &first, 3, "old", "why drop l3?").await;
    let (_, extra) = comment(api, &first, 4, "new", "never mind").await;
    let extra_id = extra["comment"]["id"].as_str().unwrap();
    api.post_ok("/api/review_comments/delete", &json!({"id": extra_id}))
        .await;
    let (status, gone) = api
        .post("/api/review_comments/delete", &json!({"id": extra_id}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{gone}");
    let kept = comments(api, &first).await;
    assert_eq!(kept["drafts"], 2, "{kept}");
    assert_eq!(kept["comments"].as_array().unwrap().len(), 2, "{kept}");
    let old = named(&kept, "why drop l3?");
    assert_eq!(
        (old["state"].as_str(), old["side"].as_str()),
        (Some("draft"), Some("old"))
    );
    let id = old["id"].as_str().unwrap();
    for (resolved, state, drafts) in [(true, "resolved", 1), (false, "draft", 2)] {
        api.post_ok(
            "/api/review_comments/resolve",
            &json!({"id": id, "resolved": resolved}),
        )
        .await;
        let now = comments(api, &first).await;
        assert_eq!(named(&now, "why drop l3?")["state"], state, "{now}");
        assert_eq!(now["drafts"], drafts, "{now}");
    }
    assert_eq!(api.audit_events("review_comment_added").await.len(), 3);
    assert_eq!(api.audit_events("review_comment_deleted").await.len(), 1);
    let resolved = api.audit_events("review_comment_resolved").await;
    assert_eq!(resolved.len(), 2, "{resolved:?}");
    assert_eq!(resolved[0]["resolved"], true, "{resolved:?}");
    let (status, body) = api.get("/api/review_comments?session_id=lingyubu-99").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_go_back_as_one_review_and_follow_the_next_attempt() {
    let (_repo, server, z, first) = one_attempt_recorded().await;
    let api = &server.api;
    comment(api, &first, 3, "new", "name it three").await;
    comment(api, &first, 7, "new", "and seven, too").await;
    comment(api, &first, 3, "old", "why drop l3?").await;
    let (_, extra) = comment(api, &first, 4, "new", "never mind").await;
    let extra_id = extra["comment"]["id"].as_str().unwrap();
    api.post_ok("/api/review_comments/delete", &json!({"id": extra_id}))
        .await;
    let drafts = comments(api, &first).await;
    assert_eq!(drafts["drafts"], 3, "{drafts}");
    assert_eq!(
        named(&drafts, "name it three")["state"],
        "draft",
        "{drafts}"
    );

    let sent = api
        .post_ok(
            "/api/send_back",
            &json!({"session_id": first, "note": format!("please {}", work(SECOND))}),
        )
        .await;
    assert_eq!(sent["comments"], 3, "{sent}");
    let second = sent["successor"].as_str().expect("a successor").to_string();
    let next = api
        .wait_session(&second, "recorded", |s| {
            s["status"] == "exited" && s["workspace"]["state"] == "pending"
        })
        .await;
    the_turn_holds_each_comment(&next);

    let was = comments(api, &first).await;
    assert_eq!(named(&was, "name it three")["state"], "sent", "{was}");
    let now = comments(api, &second).await;
    assert_eq!(now["drafts"], 0, "{now}");
    let three = named(&now, "name it three");
    assert_eq!(three["state"], "addressed", "line 3 changed: {now}");
    assert_eq!(three["current_line"], 4, "where the change now is: {now}");
    let seven = named(&now, "and seven, too");
    assert_eq!(seven["state"], "open", "line 7 untouched: {now}");
    assert_eq!(seven["current_line"], 8, "one line added above it: {now}");
    assert_eq!(seven["line"], 7, "where it was written: {now}");
    assert_eq!(
        named(&now, "why drop l3?")["state"],
        "addressed",
        "what replaced base line 3 changed: {now}"
    );
    let seven_id = seven["id"].as_str().unwrap();
    for (resolved, state) in [(true, "resolved"), (false, "open")] {
        api.post_ok(
            "/api/review_comments/resolve",
            &json!({"id": seven_id, "resolved": resolved}),
        )
        .await;
        let now = comments(api, &second).await;
        assert_eq!(named(&now, "and seven, too")["state"], state, "{now}");
    }
    the_record_holds_them(api, &z, &second).await;
    server.stop().await;
}

/// A line or a file the attempt's diff does not show, an empty or an
/// oversized comment: each refused with a 400 that says why.
async fn only_lines_of_the_diff_take_comments(api: &Api, d: &str) {
    let (status, body) = comment(api, d, 40, "new", "here?").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let why = body["error"].as_str().unwrap();
    assert!(
        why.contains("line 40 of src/a.rs (new side) is not in the diff"),
        "{why}"
    );
    let (status, body) = api
        .post(
            "/api/review_comments",
            &json!({"session_id": d, "path": "src/b.rs", "line": 1, "side": "new", "body": "b"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("src/b.rs is not among the changes"),
        "{body}"
    );
    let (status, body) = comment(api, d, 3, "new", "  ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = comment(api, d, 3, "new", &"x".repeat(8001)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("at most 8000"),
        "{body}"
    );
    let (status, body) = comment(api, d, 3, "middle", "x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let none = comments(api, d).await;
    assert_eq!(
        none["comments"],
        json!([]),
        "nothing refused was kept: {none}"
    );
}

/// The next attempt's first turn (its prompt: the fake agent's department
/// was not running) holds each comment's `path:line`, its lines as the
/// first attempt left them, and the reviewer's words, marked as theirs.
fn the_turn_holds_each_comment(next: &Value) {
    let prompt = std::fs::read_to_string(next["prompt_path"].as_str().unwrap()).unwrap();
    for expected in [
        "The user's review: 3 comments",
        "1. src/a.rs:3\n",
        "   >    3 | L3\n",
        "        4 | l4\n",
        "   | name it three\n",
        "2. src/a.rs:7\n",
        "   >    7 | L7\n",
        "   | and seven, too\n",
        "3. src/a.rs:3\n   The lines around it in the base you started from",
        "   >    3 | l3\n",
        "   | why drop l3?\n",
        "The user's comment (the user's own words):",
    ] {
        assert!(prompt.contains(expected), "{expected:?} in\n{prompt}");
    }
    assert!(!prompt.contains("never mind"), "a deleted draft: {prompt}");
}

/// The audit log and the plan say what was sent.
async fn the_record_holds_them(api: &Api, z: &str, second: &str) {
    assert_eq!(api.audit_events("review_comment_added").await.len(), 4);
    assert_eq!(api.audit_events("review_comment_deleted").await.len(), 1);
    let sent = api.audit_events("review_sent_back").await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["comments"], 3, "{sent:?}");
    assert_eq!(sent[0]["successor"], second, "{sent:?}");
    let plan = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_eq!(
        plan["plan"]["assignments"][0]["review_comments"], 3,
        "{plan}"
    );
}

/// The real Codex CLI (against the scripted model server): a department
/// sent back with two line comments gets them on its own thread, with their
/// lines, and fixes both; the next attempt shows both addressed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codex_department_fixes_both_commented_lines_on_its_thread() {
    crate::needs!(Codex);
    let mut c = Scenario::codex().committed().start().await;
    script_seven_lines_then_the_two_fixes(&c);
    let api = c.api();
    api.start_zhongshu("Plan one change").await;
    let dept = c.first_recorded().await;
    let id = id_of(&dept);
    let thread = dept["thread_id"].as_str().expect("a thread").to_string();
    for (line, words) in [(2, "REVIEW-TWO make it TWO"), (6, "REVIEW-SIX make it SIX")] {
        let (status, body) = api
            .post(
                "/api/review_comments",
                &json!({"session_id": id, "path": "NOTES.md", "line": line, "side": "new",
                        "body": words}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let sent = api
        .post_ok(
            "/api/send_back",
            &json!({"session_id": id, "note": "REVIEW-MARK fix the lines I commented on"}),
        )
        .await;
    assert_eq!(sent["comments"], 2, "{sent}");
    let successor = sent["successor"]
        .as_str()
        .expect("a new session")
        .to_string();
    for said in [
        "NOTES.md:2",
        ">    2 | two",
        "REVIEW-TWO make it TWO",
        "NOTES.md:6",
        ">    6 | six",
        "REVIEW-SIX make it SIX",
    ] {
        c.told(said).await;
    }
    let (asked, _) = wait_until("the review on the thread", CODEX_PATIENCE, || async {
        c.server.first_asking("REVIEW-MARK")
    })
    .await;
    assert_eq!(
        asked.thread(),
        Some(thread.as_str()),
        "the same conversation"
    );
    let done = c
        .wait_agent(&successor, "reported again and recorded", |s| {
            s["status"] == "exited" && s["workspace"]["state"] == "pending"
        })
        .await;
    let worktree = done["workspace"]["path"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(Path::new(worktree).join("NOTES.md")).unwrap(),
        "one\nTWO\nthree\nfour\nfive\nSIX\nseven\n"
    );
    let now = comments(api, &successor).await;
    for words in ["REVIEW-TWO make it TWO", "REVIEW-SIX make it SIX"] {
        assert_eq!(named(&now, words)["state"], "addressed", "{now}");
    }
    c.stop().await;
}

/// The department writes seven lines and reports; the review's turn
/// (`REVIEW-MARK`) rewrites lines 2 and 6 and it reports again.
fn script_seven_lines_then_the_two_fixes(c: &Codex) {
    c.plans_one_notes_department();
    c.server.on(
        "department (zhilibu)",
        vec![exec(
            "call_seven",
            "printf 'one\\ntwo\\nthree\\nfour\\nfive\\nsix\\nseven\\n' > NOTES.md",
        )],
    );
    c.server.on(
        "call_seven",
        vec![tool_call(
            "call_report",
            "governance_report_result",
            json!({"summary": "SEVEN-LINES", "changed_files": ["NOTES.md"]}),
        )],
    );
    c.server.on(
        "REVIEW-MARK",
        vec![exec(
            "call_fix",
            "sed -i -e '2s/.*/TWO/' -e '6s/.*/SIX/' NOTES.md",
        )],
    );
    c.server.on(
        "call_fix",
        vec![tool_call(
            "call_report_again",
            "governance_report_result",
            json!({"summary": "FIXED-BOTH", "changed_files": ["NOTES.md"]}),
        )],
    );
}
