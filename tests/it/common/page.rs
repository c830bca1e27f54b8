//! Steps of the dashboard that several browser tests take, built on the
//! queries of `browser`: the accessibility check in both themes, a width that
//! must not scroll sideways, a planner's group and Needs you items by name,
//! and status fields injected into the page's store (for states a test
//! cannot reach with the fake agent, such as the account's usage windows).
#![allow(dead_code)]

use serde_json::{json, Value};

use super::axe;
use super::browser::Browser;
use super::launcher::Api;

/// Presses the theme toggle by script: a drawer or a modal dialog covers it
/// from the pointer.
pub async fn toggle_theme_by_script(d: &Browser) {
    d.js("document.querySelector('#theme-toggle').click();", vec![])
        .await;
}

/// axe in the theme shown and in the other one (toggled by script), then
/// back to the first.
pub async fn accessible_in_both_themes(d: &Browser, view: &str) {
    axe::accessible(d, &format!("{view}, system theme")).await;
    toggle_theme_by_script(d).await;
    axe::accessible(d, &format!("{view}, other theme")).await;
    toggle_theme_by_script(d).await;
}

/// axe in the theme shown, then the toggle clicked the way a user does and
/// axe again (the page is left in the other theme).
pub async fn accessible_then_toggled(d: &Browser, view: &str) {
    axe::accessible(d, &format!("{view}, system theme")).await;
    d.click("#theme-toggle").await;
    axe::accessible(d, &format!("{view}, other theme")).await;
}

/// Fails when the page is wider than its window (it would scroll sideways);
/// `what` names the view.
pub async fn assert_no_sideways_scroll(d: &Browser, what: &str) {
    let overflow = d.sideways_overflow().await;
    assert!(
        overflow <= 0,
        "{what} is wider than the window by {overflow} px"
    );
}

/// The Needs you item of planner `z`'s plan that waits for confirmation.
pub fn plan_item(z: &str) -> String {
    format!("#needs-you-list .need[data-kind=\"plan\"][data-session=\"{z}\"]")
}

/// Waits until the group of planner `z` says `text` in its heading line.
pub async fn wait_group_says(d: &Browser, z: &str, text: &str) {
    d.wait(
        &format!("the group of {z} to say {text:?}"),
        "const e = document.querySelector(arguments[0]); return e && e.textContent.includes(arguments[1]);",
        vec![
            json!(format!(".zgroup[data-id=\"{z}\"] .zgroup-text")),
            json!(text),
        ],
    )
    .await;
}

/// Puts `fields` into the page's status, and `quota` over its quota, as a
/// delta of the event stream would. It is applied on top of what the page
/// has (first waited for): a delta older than the page's status is dropped.
/// [`inject_status`] again until `script` is truthy, and its value: a delta
/// of the launcher's own that lands after the injection (a session's state
/// moving on a loaded machine) sets the status back.
pub async fn inject_until(
    d: &Browser,
    api: &Api,
    fields: Value,
    quota: Value,
    what: &str,
    script: &str,
) -> Value {
    for _ in 0..50 {
        inject_status(d, api, fields.clone(), quota.clone()).await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let v = d.js(script, vec![]).await;
        if !matches!(&v, Value::Null | Value::Bool(false)) && v != serde_json::json!("") {
            return v;
        }
    }
    d.wait(what, script, vec![]).await
}

pub async fn inject_status(d: &Browser, api: &Api, fields: Value, quota: Value) {
    let seq = api.status().await["audit_seq"].clone();
    d.wait_applied(seq.as_u64().expect("an audit seq")).await;
    d.js(
        "const [seq, fields, quota] = arguments; import('/static/js/store.js').then((m) => \
           m.applyDelta({seq: Math.max(seq, m.get().status.audit_seq || 0), \
             fields: Object.assign({}, fields, {quota: Object.assign({}, m.get().status.quota, quota)})}));",
        vec![seq, fields, quota],
    )
    .await;
}
