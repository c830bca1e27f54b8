//! What an independent review of the read side found, each pinned by a
//! test: an agent's token reads its planner's routes (plan, context, inbox)
//! without transcripts, typed input or terminal URLs, as its status does.

use serde_json::{json, Value};

use crate::common::launcher::{serve, Api};
use crate::common::scopes;

/// The sessions an answer of a planner's route shows: `session` (a view
/// or a record), `children` and the inbox's departments, wherever the
/// answer has them.
fn sessions_in(answer: &Value) -> Vec<Value> {
    let mut found = Vec::new();
    for at in [answer, &answer["context"]] {
        found.extend(at.get("session").filter(|s| s.is_object()).cloned());
        for list in ["children", "running_departments", "completed_departments"] {
            found.extend(at[list].as_array().into_iter().flatten().cloned());
        }
    }
    found
}

/// A session as an agent's token may see it: no transcript, no typed input,
/// no terminal URL (each carries a token that types into a PTY).
fn assert_hidden(route: &str, s: &Value) {
    let id = &s["id"];
    assert!(s.get("transcript_preview").is_none(), "{route} {id}: {s}");
    assert!(s.get("browser_terminal_url").is_none(), "{route} {id}: {s}");
    let typed = s["input_history"].as_array().map_or(0, Vec::len);
    assert_eq!(typed, 0, "{route} {id}: {s}");
}

/// A Zhongshu's token reads its own plan, context and inbox: each shows its
/// session and its department without the transcripts, the typed input and
/// the terminal URLs the developer's token sees there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planners_token_reads_its_routes_without_transcripts_or_terminal_urls() {
    let (_repo, server) = serve(&[]).await;
    let api = &server.api;
    let z = api.start_zhongshu("a group").await;
    let d = scopes::waiting_department(&server, &z, "lingyubu").await;
    for id in [&z, &d] {
        api.post_ok(
            "/api/session_input",
            &json!({"session_id": id, "input": "a secret typed in"}),
        )
        .await;
        api.wait_session(id, "its transcript, typed input and terminal", |s| {
            !s["transcript_preview"].as_str().unwrap_or("").is_empty()
                && !s["input_history"].as_array().unwrap().is_empty()
                && s["browser_terminal_url"].is_string()
        })
        .await;
    }
    let routes = [
        format!("/api/zhongshu_plan?id={z}"),
        format!("/api/zhongshu_context?id={z}"),
        format!("/api/zhongshu_inbox?id={z}&peek=1"),
    ];
    // The developer's token sees them there.
    let context = api.get_ok(&routes[1]).await;
    let shown = sessions_in(&context);
    assert_eq!(
        shown.len(),
        4,
        "the session and its child, twice: {context}"
    );
    assert!(
        shown.iter().all(|s| s["browser_terminal_url"].is_string()),
        "{context}"
    );
    let (_, z_api): (String, Api) = scopes::agent_api(&server, &z).await;
    for route in &routes {
        let answer = z_api.get_ok(route).await;
        let shown = sessions_in(&answer);
        assert!(
            shown.iter().any(|s| s["id"] == json!(z)),
            "{route}: {answer}"
        );
        for s in &shown {
            assert_hidden(route, s);
        }
    }
    let inbox = z_api.get_ok(&routes[2]).await;
    let departments = sessions_in(&inbox);
    assert!(
        departments.iter().any(|s| s["id"] == json!(d)),
        "its department: {inbox}"
    );
    server.stop().await;
}
