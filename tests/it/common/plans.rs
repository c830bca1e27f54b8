//! What the tests of plans ask the launcher: a planner's plan, a wait for it
//! to reach a state, and the session id of one of its departments.
#![allow(dead_code)]

use serde_json::Value;

use super::launcher::{departments, wait_until, Api, PATIENCE};

/// The plan of planner `z`, as `/api/zhongshu_plan` answers it.
pub async fn plan_of(api: &Api, z: &str) -> Value {
    api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await["plan"].clone()
}

/// Waits until the plan of planner `z` satisfies `pred`; returns it.
pub async fn wait_plan(api: &Api, z: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    wait_until(what, PATIENCE, || async {
        let p = plan_of(api, z).await;
        pred(&p).then_some(p)
    })
    .await
}

/// The session id of the department `dept` in `status` (the first, when it
/// ran more than once).
pub fn department_id(status: &Value, dept: &str) -> String {
    departments(status)
        .iter()
        .find(|d| d["department"] == dept)
        .and_then(|d| d["id"].as_str())
        .unwrap_or_else(|| panic!("no {dept} in {status}"))
        .to_string()
}
