//! The Merge steps the end-to-end tests repeat: a department's work merged,
//! a Merge refused with the launcher's words, and a launcher that ends well.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::launcher::{Api, Subprocess};

/// Asks `id`'s Merge (`more`: more fields of the request): its answer.
async fn ask_merge(api: &Api, id: &str, more: Value) -> (StatusCode, Value) {
    let mut body = json!({"session_id": id, "mode": "merge"});
    for (k, v) in more.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    api.post("/api/integrate", &body).await
}

/// Merges `id`: its work is merged. The answer.
pub async fn merged(api: &Api, id: &str) -> Value {
    merged_with(api, id, json!({})).await
}

/// Merges `id` with `more` in the request (an override and its reason, …):
/// its work is merged. The answer.
pub async fn merged_with(api: &Api, id: &str, more: Value) -> Value {
    let (code, body) = ask_merge(api, id, more).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["workspace"]["state"], "merged", "{body}");
    body
}

/// Asks `id`'s Merge, which is refused (409) with words holding `said`:
/// the answer.
pub async fn merge_refused(api: &Api, id: &str, said: &str) -> Value {
    let (code, body) = ask_merge(api, id, json!({})).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert!(error_of(&body).contains(said), "{said}: {body}");
    body
}

/// The words of a refusal (its `error`).
pub fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

/// The launcher stops when asked and exits well.
pub fn ends_well(launcher: &mut Subprocess) {
    let status = launcher.terminate();
    assert!(status.success(), "{status:?}\n{}", launcher.stderr());
}
