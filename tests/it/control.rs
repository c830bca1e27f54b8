//! The developer's control over a plan (issue 25), through the API against a
//! real in-process launcher whose agents are the fake agent (`tools/fake-agent`): a plan is
//! stopped (planner, departments, queue); closing a planner drops its queue
//! and stops its departments only when asked; a failed department is retried;
//! a plan finishes with its counts and its Zhongshu is told; a report's
//! confirmation request is answered (the Zhongshu is told) or put aside; a
//! failure is dismissed for good; a turn is interrupted. Every step is audited.

use crate::common::flaky;
use crate::common::launcher as support;
use crate::common::plans::wait_plan;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::*;

/// A repository whose Zhongshu registers `plan` at once and keeps running.
fn repo_with_plan(plan: &Value, max_departments: usize) -> TestRepo {
    let repo = TestRepo::with_flags(&[]);
    let file = repo.write_json("plan.json", plan);
    repo.write_config(&RepoOptions {
        agent_flags: vec!["--plan-file".into(), file.display().to_string()],
        max_departments,
        ..Default::default()
    });
    repo
}

async fn events(api: &Api) -> Vec<Value> {
    api.get_ok("/api/audit?since=0").await["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn wait_event(api: &Api, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    wait_until(what, PATIENCE, || async {
        events(api).await.into_iter().find(|e| pred(e))
    })
    .await
}

fn statuses(plan: &Value) -> Vec<String> {
    plan["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap().to_string())
        .collect()
}

const LONG: &str = "[[fake-agent: --no-report --work-seconds 300]]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_plan_stops_its_planner_departments_and_queue() {
    let repo = repo_with_plan(
        &json!({"summary": "three", "assignments": [
            {"department": "lingyubu", "task": format!("a {LONG}")},
            {"department": "zhilibu", "task": format!("b {LONG}")},
            {"department": "gongchengbu", "task": format!("c {LONG}")},
        ]}),
        1,
    );
    let l = InProcess::start(&repo).await;
    let api = &l.api;
    let z = api.start_zhongshu("stop me").await;
    let status = api
        .wait_status("one running, two queued", |s| {
            running(&departments(s)).len() == 1 && s["queue"].as_array().map(Vec::len) == Some(2)
        })
        .await;
    let first = running(&departments(&status))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let stopped = api
        .post_ok("/api/stop_plan", &json!({"session_id": z}))
        .await;
    assert_eq!(stopped["stopped_departments"], json!([first]), "{stopped}");
    assert_eq!(stopped["dropped"].as_array().unwrap().len(), 2, "{stopped}");
    assert_eq!(stopped["session"]["status"], "exited", "{stopped}");
    assert_eq!(stopped["session"]["state"], "stopped_by_you", "{stopped}");

    let status = api.status().await;
    assert_eq!(status["queue"], json!([]), "{status}");
    let d = api.session(&first).await;
    assert_eq!(d["state"], "stopped_by_you", "{d}");
    assert_eq!(d["close_reason"], "plan_stopped", "{d}");
    // Once the stopped department's fallback is in, the plan has its counts.
    let plan = wait_plan(api, &z, "the stopped plan's counts", |p| {
        p["outcome"].is_object()
    })
    .await;
    assert_eq!(plan["status"], "stopped", "{plan}");
    assert_eq!(statuses(&plan), ["started", "dropped", "dropped"]);
    assert_eq!(
        plan["outcome"],
        json!({"assignments": 3, "reported": 0, "failed": 0, "no_report": 0, "stopped": 3}),
        "{plan}"
    );
    assert_eq!(api.session(&z).await["plan_status"], "stopped");
    // The audit file gets the transaction's lines just after its commit: a
    // reader may see the outcome a moment before the plan_finished line.
    wait_event(api, "the plan's end in the audit", |e| {
        e["event"] == "plan_finished"
    })
    .await;
    let log = events(api).await;
    let names: Vec<&str> = log.iter().filter_map(|e| e["event"].as_str()).collect();
    let stop = log.iter().find(|e| e["event"] == "plan_stopped").unwrap();
    assert_eq!(stop["departments"], json!([first]), "{stop}");
    assert_eq!(stop["dropped"], 2);
    assert_eq!(
        names.iter().filter(|n| **n == "assignment_dropped").count(),
        2,
        "{names:?}"
    );
    assert!(names.contains(&"plan_finished"), "{names:?}");
    // Nothing of the plan ever starts again.
    api.post_ok(
        "/api/start_department",
        &json!({"parent_session_id": z, "department": "menxia", "task": "after"}),
    )
    .await;
    let status = api
        .wait_status("the late item dropped", |s| {
            s["queue"].as_array().is_some_and(Vec::is_empty)
        })
        .await;
    assert_eq!(departments(&status).len(), 1, "{status}");
    l.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_planner_never_starts_its_queue_and_stops_departments_only_when_asked() {
    let repo = repo_with_plan(
        &json!({"summary": "two", "assignments": [
            {"department": "lingyubu", "task": "a [[fake-agent: --work-seconds 3]]"},
            {"department": "zhilibu", "task": "b [[fake-agent: --work-seconds 3]]"},
        ]}),
        1,
    );
    let l = InProcess::start(&repo).await;
    let api = &l.api;
    let z = api.start_zhongshu("close me").await;
    let status = api
        .wait_status("one running, one queued", |s| {
            running(&departments(s)).len() == 1 && s["queue"].as_array().map(Vec::len) == Some(1)
        })
        .await;
    let first = running(&departments(&status))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Close the planner, letting its running department finish.
    let closed = api
        .post_ok("/api/close_session", &json!({"session_id": z}))
        .await;
    assert_eq!(closed["session"]["status"], "exited", "{closed}");
    assert_eq!(closed["running_departments"], json!([first]), "{closed}");
    assert_eq!(closed["stopped_departments"], json!([]), "{closed}");
    assert_eq!(closed["dropped"].as_array().unwrap().len(), 1, "{closed}");
    // It reports (its slot frees), yet the dropped one never starts.
    api.wait_session(&first, "reported", |s| s["state"] == "reported")
        .await;
    let plan = wait_plan(api, &z, "the plan to finish", |p| p["status"] == "finished").await;
    assert_eq!(statuses(&plan), ["started", "dropped"], "{plan}");
    assert_eq!(plan["outcome"]["reported"], 1);
    assert_eq!(plan["outcome"]["stopped"], 1);
    let status = api.status().await;
    assert_eq!(
        departments(&status).len(),
        1,
        "no second department: {status}"
    );
    let dropped = events(api)
        .await
        .into_iter()
        .find(|e| e["event"] == "assignment_dropped")
        .unwrap();
    assert_eq!(dropped["reason"], "planner_closed", "{dropped}");

    close_a_second_planner_with_its_departments(api).await;
    l.stop().await;
}

/// A second planner, closed with its departments: they stop.
async fn close_a_second_planner_with_its_departments(api: &Api) {
    let z2 = api.start_zhongshu("close all").await;
    let status = api
        .wait_status("its department running", |s| {
            running(&departments(s))
                .iter()
                .any(|d| d["parent_session_id"] == json!(z2))
        })
        .await;
    let d2 = running(&departments(&status))
        .into_iter()
        .find(|d| d["parent_session_id"] == json!(z2))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let closed = api
        .post_ok(
            "/api/close_session",
            &json!({"session_id": z2, "stop_departments": true}),
        )
        .await;
    assert_eq!(closed["stopped_departments"], json!([d2]), "{closed}");
    let d = api.session(&d2).await;
    assert_eq!(
        (d["status"].as_str(), d["state"].as_str()),
        (Some("exited"), Some("stopped_by_you")),
        "{d}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_department_is_retried_and_the_plan_finishes_again_with_its_counts() {
    let repo = flaky::flaky_repo(2);
    let plan = repo.write_json(
        "plan.json",
        &json!({"summary": "two", "assignments": [
            {"department": "lingyubu", "task": "domain work"},
            {"department": "zhilibu", "task": "docs work"},
        ]}),
    );
    let l = InProcess::start(&repo).await;
    let api = &l.api;
    let z = api
        .start_zhongshu(&format!(
            "retry [[fake-agent: --plan-file {}]]",
            plan.display()
        ))
        .await;
    let plan = wait_plan(api, &z, "the plan to finish", |p| p["status"] == "finished").await;
    assert_eq!(
        plan["outcome"],
        json!({"assignments": 2, "reported": 1, "failed": 1, "no_report": 0, "stopped": 0}),
        "{plan}"
    );
    let failed = plan["assignments"][0]["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(api.session(&failed).await["state"], "failed");
    // The Zhongshu is told, with the counts (the fake agent echoes what it is given).
    wait_log(
        &repo,
        &z,
        "your plan finished: 2 of 2 ended: 1 reported, 1 failed",
    )
    .await;
    let told = wait_event(api, "the finished notice", |e| {
        e["event"] == "zhongshu_notified" && e["status"] == "sent"
    })
    .await;
    assert_eq!(told["session_id"], json!(z));

    retry_once_until_the_plan_finishes_again(api, &z, &failed).await;
    l.stop().await;
}

/// Retried once (a second retry of the same session is refused): the new
/// attempt reports and the plan finishes again; the retry is audited, and a
/// department that reported has nothing to retry.
async fn retry_once_until_the_plan_finishes_again(api: &Api, z: &str, failed: &str) {
    let retried = api
        .post_ok("/api/retry", &json!({"session_id": failed}))
        .await;
    let qid = retried["queue_item"]["id"].as_str().unwrap().to_string();
    let (code, again) = api.post("/api/retry", &json!({"session_id": failed})).await;
    assert_eq!(code, StatusCode::CONFLICT, "{again}");
    assert!(again["error"].as_str().unwrap().contains(&qid), "{again}");
    let plan = wait_plan(
        api,
        z,
        "the retry to report and the plan to finish again",
        |p| p["status"] == "finished" && p["outcome"]["reported"] == 2,
    )
    .await;
    let a = &plan["assignments"][0];
    assert_eq!(a["earlier_sessions"], json!([failed]), "{plan}");
    assert_ne!(a["session_id"], json!(failed), "{plan}");
    assert_eq!(
        api.session(a["session_id"].as_str().unwrap()).await["state"],
        "reported"
    );
    assert_eq!(api.session(failed).await["retried_as"], json!(qid));
    let retry = wait_event(api, "the retry's audit line", |e| {
        e["event"] == "assignment_retried"
    })
    .await;
    assert_eq!(retry["retried_session_id"], json!(failed), "{retry}");
    assert_eq!(retry["queue_id"], json!(qid), "{retry}");
    // A department that reported has nothing to retry.
    let (code, _) = api
        .post("/api/retry", &json!({"session_id": a["session_id"]}))
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    let (code, body) = api.post("/api/retry", &json!({})).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
}

/// The question zhilibu asks in its report.
const ASK: &str = "Confirm the README wording before commit";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_is_answered_to_the_zhongshu_or_put_aside_and_failures_dismissed() {
    let repo = repo_with_plan(
        &json!({"summary": "ask", "assignments": [
            {"department": "zhilibu", "task": format!("docs [[fake-agent: --needs-confirmation --next-action '{ASK}']]")},
            {"department": "lingyubu", "task": format!("code [[fake-agent: --needs-confirmation --next-action 'Drop the old API?']]")},
            {"department": "gongchengbu", "task": "tools [[fake-agent: --no-report --exit-code 2]]"},
        ]}),
        3,
    );
    let l = InProcess::start(&repo).await;
    let api = &l.api;
    let z = api.start_zhongshu("confirm").await;
    let status = api
        .wait_status("both questions asked", |s| {
            departments(s)
                .iter()
                .filter(|d| d["confirmation"]["question"].is_string())
                .count()
                == 2
        })
        .await;
    let by = |dept: &str| {
        departments(&status)
            .into_iter()
            .find(|d| d["department"] == dept)
            .unwrap()
    };
    let docs = by("zhilibu");
    confirm_with_a_note_once(api, &repo, &z, &docs).await;

    // Put aside: nothing is typed, the answer is kept.
    let code_dept = by("lingyubu");
    let put_aside = api
        .post_ok(
            "/api/answer_confirmation",
            &json!({"department_session_id": code_dept["id"],
                    "report_id": code_dept["confirmation"]["report_id"], "decision": "dismiss"}),
        )
        .await;
    assert_eq!(put_aside["confirmation"]["decision"], "dismissed");
    assert!(!repo.log(&z).contains("what lingyubu"), "nothing sent");

    let failed = dismiss_the_failure_for_good(api, &docs).await;
    l.stop().await;

    // After a restart the dismissal and the answers are still there.
    let l = InProcess::start(&repo).await;
    let api = &l.api;
    assert_eq!(
        api.session(failed["id"].as_str().unwrap()).await["dismissed"],
        true
    );
    assert_eq!(
        api.session(docs["id"].as_str().unwrap()).await["confirmation"]["answer"]["decision"],
        "confirmed"
    );
    l.stop().await;
}

/// A question whose work the user settled (here: discarded) is moot: it
/// leaves Needs you (issue 70 item 13: the demo kept asking after Apply).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_leaves_needs_you_once_its_work_is_settled() {
    let repo = repo_with_plan(
        &json!({"summary": "ask", "assignments": [
            {"department": "zhilibu", "files": ["docs/"],
             "task": format!("docs [[fake-agent: --needs-confirmation --next-action '{ASK}' --write docs/x.md=x --changed-file docs/x.md]]")},
        ]}),
        1,
    );
    std::fs::write(repo.path.join("README.md"), "# r\n").unwrap();
    commit_all(&repo.path, "initial");
    let l = InProcess::start(&repo).await;
    let api = &l.api;
    api.start_zhongshu("confirm").await;
    let status = api
        .wait_status("the question asked and the work recorded", |s| {
            departments(s).iter().any(|d| {
                d["confirmation"]["question"].is_string()
                    && d["workspace"]["state"] == "pending"
                    && d["status"] == "exited"
            })
        })
        .await;
    let id = departments(&status)[0]["id"].as_str().unwrap().to_string();
    api.post_ok("/api/discard", &json!({"session_id": id}))
        .await;
    let after = api.session(&id).await;
    assert_eq!(after["workspace"]["state"], "discarded", "{after}");
    assert!(after["confirmation"].is_null(), "{after}");
    l.stop().await;
}

/// zhilibu's question, confirmed with a note: the Zhongshu is told both; a
/// second answer is refused; the answer is kept and audited.
async fn confirm_with_a_note_once(api: &Api, repo: &TestRepo, z: &str, docs: &Value) {
    assert_eq!(docs["confirmation"]["question"], ASK, "{docs}");
    assert_eq!(docs["confirmation"]["answer"], Value::Null);
    let report = docs["confirmation"]["report_id"].as_str().unwrap();
    let answer = api
        .post_ok(
            "/api/answer_confirmation",
            &json!({"department_session_id": docs["id"], "report_id": report,
                    "decision": "confirm", "note": "ship \"as is\""}),
        )
        .await;
    assert_eq!(answer["confirmation"]["decision"], "confirmed", "{answer}");
    let log = wait_log(repo, z, "the user CONFIRMED what zhilibu").await;
    assert!(log.contains(ASK), "{log}");
    assert!(
        log.contains(r#"the user's note: "ship \"as is\"""#),
        "{log}"
    );
    let (code, again) = api
        .post(
            "/api/answer_confirmation",
            &json!({"department_session_id": docs["id"], "report_id": report, "decision": "reject"}),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "{again}");
    let seen = api.session(docs["id"].as_str().unwrap()).await;
    assert_eq!(seen["confirmation"]["answer"]["decision"], "confirmed");
    assert_eq!(seen["confirmation"]["answer"]["note"], "ship \"as is\"");
    let line = wait_event(api, "the answer's audit line", |e| {
        e["event"] == "confirmation_answered"
    })
    .await;
    assert_eq!(line["decision"], "confirmed");
    assert_eq!(line["note_chars"], 12);
    assert_eq!(line["delivery"], "typed", "{line}");
}

/// A failed department's item is dismissed for good (kept by the launcher,
/// audited); a reported one (`docs`) is no failure. Returns the failed one.
async fn dismiss_the_failure_for_good(api: &Api, docs: &Value) -> Value {
    let failed = api
        .wait_status("the failure", |s| {
            departments(s).iter().any(|d| d["state"] == "failed")
        })
        .await;
    let failed = departments(&failed)
        .into_iter()
        .find(|d| d["state"] == "failed")
        .unwrap();
    let dismissed = api
        .post_ok("/api/dismiss", &json!({"session_id": failed["id"]}))
        .await;
    assert_eq!(dismissed["session"]["dismissed"], true, "{dismissed}");
    let (code, _) = api
        .post("/api/dismiss", &json!({"session_id": docs["id"]}))
        .await;
    assert_eq!(
        code,
        StatusCode::CONFLICT,
        "a reported department is no failure"
    );
    wait_event(api, "the dismissal's audit line", |e| {
        e["event"] == "needs_you_dismissed" && e["session_id"] == failed["id"]
    })
    .await;
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_is_the_developers_and_audited() {
    let repo = TestRepo::with_flags(&[]);
    let l = InProcess::start(&repo).await;
    let api = &l.api;
    let z = api.start_zhongshu("interrupt me").await;
    wait_log(&repo, &z, "FAKE_AGENT_WAITING").await;
    let answer = api
        .post_ok("/api/interrupt", &json!({"session_id": z}))
        .await;
    assert_eq!(answer["session"]["status"], "running", "{answer}");
    wait_event(api, "the interrupt's audit line", |e| {
        e["event"] == "session_interrupted" && e["session_id"] == json!(z)
    })
    .await;
    // The session still takes input after its turn was interrupted.
    api.post_ok(
        "/api/session_input",
        &json!({"session_id": z, "input": "still here"}),
    )
    .await;
    wait_log(&repo, &z, "ECHO: still here").await;
    let (code, body) = api
        .post("/api/interrupt", &json!({"session_id": "zhongshu-99"}))
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
    let (code, body) = api
        .post("/api/interrupt", &json!({"session_id": "../x"}))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    l.stop().await;
}

/// Issue 34 item 2: a Retry whose planner is gone leads somewhere. It says
/// to Resume the planner; once resumed, the retry goes to the resumed
/// planner, whose plan follows the new attempt to its report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_its_planner_is_gone_goes_to_the_resumed_planner() {
    let repo = flaky::flaky_repo(2);
    let l = InProcess::start(&repo).await;
    let api = &l.api;
    // Registered by the test, so the resumed planner does not register it anew.
    let z = api.start_zhongshu("retry later").await;
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": "one", "assignments": [
            {"department": "lingyubu", "task": "domain work"}]}),
    )
    .await;
    let finished = wait_plan(api, &z, "the plan to finish", |p| p["status"] == "finished").await;
    let failed = finished["assignments"][0]["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    api.post_ok("/api/close_session", &json!({"session_id": z}))
        .await;
    let (code, refused) = api.post("/api/retry", &json!({"session_id": failed})).await;
    assert_eq!(code, StatusCode::CONFLICT, "{refused}");
    let why = refused["error"].as_str().unwrap();
    assert!(
        why.contains(&format!("Resume {z}"))
            && why.contains("the retry goes to the resumed planner"),
        "{why}"
    );
    let resumed = api
        .post_ok("/api/restart_zhongshu_session", &json!({"session_id": z}))
        .await;
    let z2 = resumed["session_id"].as_str().unwrap().to_string();
    assert_ne!(z2, z);
    let retried = api
        .post_ok("/api/retry", &json!({"session_id": failed}))
        .await;
    assert_eq!(
        retried["queue_item"]["parent_session_id"],
        z2.as_str(),
        "{retried}"
    );
    let p = wait_plan(
        api,
        &z2,
        "the resumed plan to follow the retry to its report",
        |p| p["outcome"]["reported"] == 1,
    )
    .await;
    let a = &p["assignments"][0];
    assert_ne!(a["session_id"], failed.as_str(), "{p}");
    assert_eq!(a["earlier_sessions"], json!([failed]), "{p}");
    // /api/status names the attempt that took over.
    let old = api.session(&failed).await;
    assert_eq!(old["superseded_by"], a["session_id"], "{old}");
    l.stop().await;
}
