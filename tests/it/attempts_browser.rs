//! What the page shows first (issue 49 items 9 and 10), in headless Chromium
//! against a real in-process launcher whose agents are the fake agent.
//!
//! A planner whose plan finished and of which nothing runs or waits for
//! review is finished, not running: the header does not count it, its tile comes after every other,
//! and Needs you offers to close it (one action for all such planners,
//! through the API). After a send-back the tiles show the newest attempt,
//! never the superseded one, and each row of the Sessions list opens its
//! attempt's conversation in the drawer; the plan's results count the
//! discarded work too (item 14). Screenshots at 1440x900 and 390x844
//! go to `tests/artifacts/attempts-*.png`.
//!
//! Needs chromium and chromedriver (tools/test.sh installs them); missing ones
//! fail the test with a message, they never skip it.

use crate::common::browser;
use crate::common::launcher as support;

use browser::Browser;
use serde_json::{json, Value};
use support::{Api, InProcess, RepoOptions, TestRepo};

const CLOSE_ITEM: &str = "#needs-you-list .need[data-kind=\"finished-planners\"]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_planners_yield_and_tiles_follow_the_newest_attempt() {
    crate::needs!(Chromium);
    let repo = TestRepo::new(RepoOptions::default());
    // Committed: each attempt works in its own worktree, so it can be sent back.
    crate::common::git::commit_all(&repo.path, "initial");
    let launcher = InProcess::start(&repo).await;
    let api = launcher.api.clone();
    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact("attempts-failure.png");
    d.open_dashboard(&launcher.url, &launcher.token).await;
    let (z, first) = a_plan_whose_work_waits(&api, &repo).await;
    d.wait_text("the header's count", "#stats", "0 planners running")
        .await;
    let second = the_tiles_follow_the_newest_attempt(&d, &api, &z, &first).await;
    each_row_opens_its_attempts_conversation(&d, &first, &second).await;
    the_results_count_the_discarded_work(&d, &api, &second).await;
    the_finished_planner_is_not_running_work(&d, &z, &second).await;
    close_the_finished_planners(&d, &api, &z).await;
    assert_eq!(d.open_alert().await, None);
    d.quit().await;
    launcher.stop().await;
}

/// A plan of one department that documents README.md and reports. Its plan
/// finished, but its planner is not done while the work waits for review (a
/// send-back needs it). Returns the planner and the department.
async fn a_plan_whose_work_waits(api: &Api, repo: &TestRepo) -> (String, String) {
    let plan = repo.write_json(
        "plan.json",
        &json!({
            "summary": "Document the project",
            "assignments": [{
                "department": "zhilibu", "files": ["README.md"],
                "task": "Document it [[fake-agent: --write 'README.md=# documented\\n' --changed-file README.md --summary 'Documented it']]",
            }]
        }),
    );
    let z = api
        .start_zhongshu(&format!(
            "Plan it [[fake-agent: --plan-file {}]]",
            plan.display()
        ))
        .await;
    let st = api
        .wait_status("its plan finished, its work waiting", |s| {
            s["zhongshu_sessions"][0]["plan_status"] == "finished"
                && s["department_sessions"][0]["workspace"]["state"] == "pending"
        })
        .await;
    assert_eq!(st["finished_planners"], json!([]), "{st}");
    // Not running work either: what is left is your review (walk 6 of
    // issue 49: "plan finished" beside "2 planners running").
    assert_eq!(st["planners_running"], 0, "{st}");
    let first = departments_of(&st, &z)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    (z, first)
}

fn departments_of(st: &Value, z: &str) -> Vec<Value> {
    st["department_sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["parent_session_id"] == z)
        .cloned()
        .collect()
}

/// Once its work is settled the planner still runs, idle, and is done: the
/// page counts no planner running, puts its tile after the department's and
/// offers to close it.
async fn the_finished_planner_is_not_running_work(d: &Browser, z: &str, last: &str) {
    d.wait_text("the header's count", "#stats", "0 planners running")
        .await;
    let item = d
        .wait_text("the offer to close it", CLOSE_ITEM, "done with its plan")
        .await;
    assert!(item.contains(&format!("Planner {z} is done")), "{item}");
    assert_eq!(
        d.text_of(&format!(
            "{CLOSE_ITEM} button[data-action=\"close-finished\"]"
        ))
        .await,
        "Close 1 finished planner"
    );
    let planner_tile = format!("#grid .slot[data-session=\"{z}\"]");
    d.present("the planner's tile", &planner_tile).await;
    assert_eq!(d.data_of(&planner_tile, "state").await, "finished");
    // Its row says it waits, not "active · idle 32s … running 2m" beside
    // "finished" (found walking the demo).
    let row = format!(".session-row[data-id=\"{z}\"] .row-meta");
    let meta = d.wait_text("the planner's row", &row, "since").await;
    assert!(
        !meta.contains("active") && !meta.contains("idle") && !meta.contains("running"),
        "{meta}"
    );
    assert_eq!(
        d.data_of("#grid .slot[data-slot=\"0\"]", "session").await,
        last,
        "the department's work comes before the planner done with its plan"
    );
    d.shoot_at("attempts-finished-1440x900.png", 1440, 900, None)
        .await;
    d.shoot_at("attempts-finished-390x844.png", 390, 844, Some(CLOSE_ITEM))
        .await;
    d.resize(1440, 900).await;
}

/// Sent back, the department's next attempt takes the tile of the first;
/// returns the next attempt.
async fn the_tiles_follow_the_newest_attempt(
    d: &Browser,
    api: &Api,
    z: &str,
    first: &str,
) -> String {
    let sent = api
        .post_ok(
            "/api/send_back",
            &json!({"session_id": first,
                    "note": "say it better [[fake-agent: --work-seconds 8 --write 'README.md=# documented well\\n' --changed-file README.md --summary 'Documented it well']]"}),
        )
        .await;
    let second = sent["successor"].as_str().expect("a successor").to_string();
    d.present(
        "the next attempt's tile",
        &format!("#grid .slot[data-session=\"{second}\"]"),
    )
    .await;
    d.gone(
        "the superseded attempt's tile",
        &format!("#grid .slot[data-session=\"{first}\"]"),
    )
    .await;
    d.present(
        "the planner's tile",
        &format!("#grid .slot[data-session=\"{z}\"]"),
    )
    .await;
    d.shoot_at("attempts-newest-1440x900.png", 1440, 900, None)
        .await;
    d.shoot_at("attempts-newest-390x844.png", 390, 844, None)
        .await;
    d.resize(1440, 900).await;
    second
}

/// The superseded attempt's row opens its own conversation (the fake agent's
/// transcript) in the drawer, and the next one's its own.
async fn each_row_opens_its_attempts_conversation(d: &Browser, first: &str, second: &str) {
    for (id, file) in [(first, "attempts-conversation"), (second, "")] {
        d.click(&format!(
            ".session-row[data-id=\"{id}\"] button[data-open-conversation=\"{id}\"]"
        ))
        .await;
        let shown = d
            .wait_text(
                "the attempt's conversation in the drawer",
                "#drawer .conversation[data-loaded=\"1\"]",
                &format!("session={id}"),
            )
            .await;
        let other = if id == first { second } else { first };
        assert!(!shown.contains(&format!("session={other}")), "{shown}");
        assert!(d
            .text_of("#drawer-title")
            .await
            .contains(&format!("Conversation of {id}")));
        if !file.is_empty() {
            d.shoot_at(&format!("{file}-1440x900.png"), 1440, 900, None)
                .await;
            d.shoot_at(&format!("{file}-390x844.png"), 390, 844, None)
                .await;
            d.resize(1440, 900).await;
        }
        d.click("#drawer-close").await;
        d.present("the drawer closed", "#drawer[hidden]").await;
    }
}

/// The next attempt reports; the plan's results count each assignment by its
/// newest attempt, the discarded one included (issue 49 item 14).
async fn the_results_count_the_discarded_work(d: &Browser, api: &Api, second: &str) {
    api.wait_session(second, "its work recorded", |s| {
        s["status"] == "exited" && s["workspace"]["state"] == "pending"
    })
    .await;
    d.wait_text(
        "the plan's results",
        ".plan-integration",
        "Results: 0 integrated, 1 waiting for your review.",
    )
    .await;
    api.post_ok("/api/discard", &json!({"session_id": second}))
        .await;
    d.wait_text(
        "the discarded work in the plan's results",
        ".plan-integration",
        "Results: 0 integrated, 1 discarded.",
    )
    .await;
    d.shoot_at(
        "attempts-results-1440x900.png",
        1440,
        900,
        Some(".plan-integration"),
    )
    .await;
    d.resize(1440, 900).await;
}

/// One click on the offer closes every finished planner through the API, and
/// the offer goes.
async fn close_the_finished_planners(d: &Browser, api: &Api, z: &str) {
    d.click(&format!(
        "{CLOSE_ITEM} button[data-action=\"close-finished\"]"
    ))
    .await;
    let closed = api
        .wait_session(z, "closed", |s| s["status"] != "running")
        .await;
    assert_eq!(closed["plan_status"], "finished", "{closed}");
    d.gone("the offer", CLOSE_ITEM).await;
    d.shoot_at("attempts-closed-1440x900.png", 1440, 900, None)
        .await;
}
