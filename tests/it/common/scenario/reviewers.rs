//! A reviewer agent's steps as the real-agent tests read them (issue 75):
//! its findings awaited while every approval is accepted, its session, its
//! write into the tree it reads, the audit's lines.

use std::sync::Arc;

use serde_json::Value;

use crate::common::launcher::Api;
use crate::common::real_acp::approve_until;

/// `dept`'s review comments once one is its reviewer's, every waiting
/// approval accepted meanwhile (`tool_calls_only`: each must be a tool call).
pub async fn findings_approving(api: &Api, dept: &str, tool_calls_only: bool) -> Value {
    let url = format!("/api/review_comments?session_id={dept}");
    let found = Arc::new(tokio::sync::Mutex::new(Value::Null));
    approve_until(api, "the reviewer's findings", tool_calls_only, || {
        let (found, url) = (Arc::clone(&found), url.clone());
        async move {
            let v = api.get_ok(&url).await;
            let done = v["comments"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["author"] == "reviewer"));
            *found.lock().await = v;
            done
        }
    })
    .await;
    let found = found.lock().await.clone();
    found
}

/// The session of the reviewer that made `finding`: a reviewer's, run by
/// `backend`.
pub async fn reviewer_of(api: &Api, finding: &Value, backend: &str) -> Value {
    let reviewer = finding["finding"]["reviewer"].as_str().unwrap();
    let session = api.session(reviewer).await;
    assert_eq!(session["backend"], backend, "{session}");
    assert_eq!(session["session_kind"], "reviewer", "{session}");
    session
}

/// The reviewer's write into the tree it reads (`…; echo " RW-RC=$?"`)
/// failed: its exit code is said, and is not 0.
pub fn could_not_write(rw: &str) {
    eprintln!("the reviewer's write: {rw}");
    assert!(
        rw.contains("RW-RC=") && !rw.contains("RW-RC=0"),
        "the reviewer wrote into the tree it reads: {rw}"
    );
}

/// The audit's last 400 events that `pred` takes.
pub async fn audit_where(api: &Api, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
    let events = api.get_ok("/api/audit?limit=400").await["events"].clone();
    let events = events.as_array().unwrap().iter();
    events.filter(|e| pred(e)).cloned().collect()
}
