//! Attempts at one task (issue 74) as the tests read them: compared by
//! `GET /api/attempts` once each has its verification.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::launcher::{wait_until, Api, PATIENCE};

/// `id`'s attempts as `GET /api/attempts` compares them, once `n` of them
/// have their verification (passed or not).
pub async fn compared(api: &Api, id: &str, n: usize) -> Value {
    wait_until(&format!("{n} attempts verified"), PATIENCE, || async {
        let (code, v) = api.get(&format!("/api/attempts?session_id={id}")).await;
        let done = code == StatusCode::OK
            && v["attempts"]
                .as_array()
                .is_some_and(|a| a.len() == n && a.iter().all(|x| !x["check"]["passed"].is_null()));
        done.then_some(v)
    })
    .await
}

/// `id`'s attempts as they are compared now.
pub async fn attempts_of(api: &Api, id: &str) -> Value {
    api.get_ok(&format!("/api/attempts?session_id={id}")).await
}
