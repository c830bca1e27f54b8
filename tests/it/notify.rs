//! Notices away from the desk (issue 54): a scripted ntfy on loopback and a
//! notice program, the launcher as the user runs it (a subprocess, its ntfy
//! token in its environment only).

use std::path::Path;

use serde_json::{json, Value};

use crate::common::launcher::{spawn_launcher_env, wait_until, Api, Subprocess, TestRepo};
use crate::common::model_server::exec_escalated;
use crate::common::ntfy::Ntfy;
use crate::common::scenario::{Codex, Scenario};
use crate::common::telegram::TelegramApi;

const TOKEN: &str = "tk_NTFY_SECRET_0123456789";

/// How long a test waits for a notice, a press's answer or an audit line.
const PHONE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// `launcher.notify` publishing to `ntfy`, topic `cg-test`, no dwell.
fn notify_yaml(ntfy: &Ntfy, extra: &str) -> String {
    format!(
        "  notify:\n    ntfy: {{server: \"{}\", topic: cg-test}}\n    dwell_seconds: 0\n{extra}",
        ntfy.url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_notice_reaches_ntfy_with_its_token_and_the_program_and_a_failing_ntfy_is_tried_again(
) {
    let ntfy = Ntfy::start().await;
    // The first publish fails: the delivery is audited as failing and tried again.
    ntfy.answer(&[503]);
    let out = tempfile::tempdir().unwrap();
    let got = out.path().join("notice.json");
    let (_repo, launcher) = a_launcher_telling_ntfy_and_a_program(&ntfy, &got);
    let api = &launcher.api;
    a_hidden_or_closed_tab_is_gone_at_once(api).await;
    api.post_ok("/api/notify/test", &json!({})).await;
    published_twice_with_its_token(&ntfy).await;
    delivered_on_the_second_attempt(api).await;
    // The program got the notice as JSON on its standard input.
    let notice: Value = wait_until("the program's notice", PHONE_PATIENCE, || async {
        let text = std::fs::read_to_string(&got).ok()?;
        serde_json::from_str(&text).ok()
    })
    .await;
    assert_eq!(notice["title"], "codex-governance: test notice", "{notice}");
    // No agent inherits it: the launcher took it out of its environment at start.
    let z = api.start_zhongshu("Wait").await;
    not_in_the_agents_environment(api, &z, TOKEN).await;
    // The page sees the channels and their deliveries, never the token.
    let view = api.get_ok("/api/notify").await;
    let channels = view["notify"]["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 2, "{view}");
    assert_eq!(channels[0]["token_set"], true, "{view}");
    assert!(
        !notice.to_string().contains(TOKEN),
        "the token in the program's notice: {notice}"
    );
    shown_nowhere(api, TOKEN).await;
}

/// A launcher (the user's binary, its ntfy token in its environment only)
/// telling `ntfy` and a notice program that writes what it is given to `got`.
fn a_launcher_telling_ntfy_and_a_program(ntfy: &Ntfy, got: &Path) -> (TestRepo, Subprocess) {
    let program = format!(
        "    command: [/bin/sh, -c, 'cat > \"$0\"', \"{}\"]\n",
        got.display()
    );
    let repo = Scenario::new()
        .launcher(&notify_yaml(ntfy, &program))
        .repo();
    let env = [("CODEX_GOVERNANCE_NTFY_TOKEN".to_string(), TOKEN.to_string())];
    let launcher = spawn_launcher_env(&repo.path, &[], &env);
    (repo, launcher)
}

/// Issue 70 item 12: a tab that is hidden or closed counts as gone at once
/// (not 45 s later), and only that tab: another in use still holds.
async fn a_hidden_or_closed_tab_is_gone_at_once(api: &Api) {
    let say = |tab: &'static str, visible: bool| async move {
        api.post_ok(
            "/api/notify/presence",
            &json!({"tab": tab, "visible": visible}),
        )
        .await;
        api.get_ok("/api/notify").await["notify"]["tab_in_use"].clone()
    };
    assert_eq!(say("a", true).await, true);
    assert_eq!(say("b", true).await, true);
    assert_eq!(say("a", false).await, true, "b is still in use");
    assert_eq!(say("b", false).await, false, "both left");
}

/// The test notice reached ntfy twice (the failed publish and its retry),
/// each with the user's token and the notice's words.
async fn published_twice_with_its_token(ntfy: &Ntfy) {
    let published = ntfy.wait_published("the retry of the test notice", 2).await;
    for p in &published {
        assert_eq!(p.topic, "cg-test");
        assert_eq!(
            p.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(p.header("title"), Some("codex-governance: test notice"));
        assert!(
            p.header("priority").is_some() && p.header("tags").is_some(),
            "{p:?}"
        );
    }
}

/// The ntfy delivery is audited once, on its second attempt, after one
/// failure audited as retrying.
async fn delivered_on_the_second_attempt(api: &Api) {
    let delivered = wait_until("the ntfy delivery audited", PHONE_PATIENCE, || async {
        let d = api.audit_events("notice_delivered").await;
        (d.iter().filter(|e| e["channel"] == "ntfy").count() == 1).then_some(d)
    })
    .await;
    let ntfy_delivered: Vec<&Value> = delivered
        .iter()
        .filter(|e| e["channel"] == "ntfy")
        .collect();
    assert_eq!(ntfy_delivered[0]["attempt"], 2, "{delivered:?}");
    let failed = api.audit_events("notice_failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        failed[0]["error"], "the ntfy server answered 503",
        "{failed:?}"
    );
    assert_eq!(failed[0]["retrying"], true, "{failed:?}");
}

/// `secret` is in none of what the page reads: the notify view, the status
/// and the audit.
async fn shown_nowhere(api: &Api, secret: &str) {
    for (what, path) in [
        ("the notify view", "/api/notify"),
        ("the status", "/api/status"),
        ("the audit", "/api/audit?limit=1000"),
    ] {
        let text = api.get_ok(path).await.to_string();
        assert!(!text.contains(secret), "{secret} in {what}: {text}");
    }
}

/// The audit's lines of `event`, once there are at least `n`.
async fn audited(api: &Api, event: &str, n: usize) -> Vec<Value> {
    wait_until(&format!("{n} {event} lines"), PHONE_PATIENCE, || async {
        let lines = api.audit_events(event).await;
        (lines.len() >= n).then_some(lines)
    })
    .await
}

/// A cloned file's channels (a program, a server that would get the token)
/// run nothing before the user trusts the file: the test button neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_notice_of_a_file_not_yet_trusted_runs_nothing() {
    let ntfy = Ntfy::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("program-ran");
    let program = format!(
        "    command: [/bin/sh, -c, 'touch \"$0\"', \"{}\"]\n",
        ran.display()
    );
    let repo = Scenario::new()
        .launcher(&notify_yaml(&ntfy, &program))
        .repo();
    let env = [
        ("CODEX_GOVERNANCE_TRUST_CONFIG".to_string(), "0".to_string()),
        (
            "CODEX_GOVERNANCE_CONFIG_HOME".to_string(),
            dir.path().join("config").display().to_string(),
        ),
        ("CODEX_GOVERNANCE_NTFY_TOKEN".to_string(), TOKEN.to_string()),
    ];
    let launcher = spawn_launcher_env(&repo.path, &[], &env);
    let (status, body) = launcher.api.post("/api/notify/test", &json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not trusted"),
        "{body}"
    );
    // Had anything been started, the program and the publish would be under way.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!ran.exists(), "the notice program ran");
    assert!(ntfy.published().is_empty(), "a notice reached ntfy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_becomes_one_minimal_notice_linking_to_its_session() {
    crate::needs!(Codex);
    let ntfy = Ntfy::start().await;
    let c = Scenario::codex()
        .launcher(&notify_yaml(&ntfy, ""))
        .env("CODEX_GOVERNANCE_NTFY_TOKEN", TOKEN)
        .start()
        .await;
    let outside = tempfile::tempdir().unwrap();
    let secret_path = outside.path().join("SECRET-PATH-marker.txt");
    c.server.on(
        "You are Zhongshu",
        vec![exec_escalated(
            "call_n",
            &format!("touch {}", secret_path.display()),
            "NOTICE-ME",
        )],
    );
    let api = c.api();
    let z = api.start_zhongshu("Write outside the repository").await;
    let pending = c
        .wait_approval("the approval", |a| a["reason"] == "NOTICE-ME")
        .await;
    let published = ntfy.wait_published("the approval's notice", 1).await;
    let p = &published[0];
    assert_eq!(
        p.header("title"),
        Some("codex-governance: approval"),
        "{p:?}"
    );
    // What kind of approval and its program (issue 70 item 11), no more.
    assert_eq!(
        p.body,
        format!("Planner {z} asks to run a command (touch)."),
        "{p:?}"
    );
    let click = p.header("click").unwrap_or_default();
    assert!(
        click.starts_with("http://127.0.0.1:") && click.ends_with(&format!("/#session={z}")),
        "{p:?}"
    );
    // Minimal: none of the agent's words but the program's name, no path,
    // no token of the dashboard's.
    let all = format!("{p:?}");
    for secret in [
        "SECRET-PATH-marker",
        "NOTICE-ME",
        outside.path().to_str().unwrap(),
        c.launcher.token.as_str(),
    ] {
        assert!(!all.contains(secret), "{secret} in the notice: {all}");
    }
    c.decide(&z, &pending["request_id"], "decline").await;
    c.wait_agent(&z, "idle after the decline", |s| s["agent_state"] == "idle")
        .await;
    let item = format!("approval:{z}:");
    let told: Vec<Value> = api
        .audit_events("notice_delivered")
        .await
        .into_iter()
        .filter(|e| e["item_id"].as_str().is_some_and(|i| i.starts_with(&item)))
        .collect();
    assert_eq!(told.len(), 1, "one notice per item: {told:?}");
    assert_eq!(told[0]["kind"], "approval", "{told:?}");
    let approvals = ntfy
        .published()
        .iter()
        .filter(|p| p.header("title") == Some("codex-governance: approval"))
        .count();
    assert_eq!(approvals, 1, "{:?}", ntfy.published());
}

/// Asserts that the process of session `z` was not given `secret`.
async fn not_in_the_agents_environment(api: &Api, z: &str, secret: &str) {
    let pid = wait_until("the planner's process", PHONE_PATIENCE, || async {
        api.session(z).await["pid"].as_u64()
    })
    .await;
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&environ).contains(secret),
        "the agent's environment holds a channel's token"
    );
}

/// The buttons of an ntfy `Actions` header: (label, url, body).
fn actions(header: &str) -> Vec<(String, String, String)> {
    header
        .split("; ")
        .map(|a| {
            let parts: Vec<&str> = a.split(", ").collect();
            let body = parts
                .iter()
                .find_map(|p| p.strip_prefix("body="))
                .unwrap_or_default();
            (parts[1].to_string(), parts[2].to_string(), body.to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_declines_an_approval_once_and_every_other_reply_is_refused_and_audited() {
    crate::needs!(Codex);
    let ntfy = Ntfy::start().await;
    let c = Scenario::codex()
        .launcher(&notify_yaml(&ntfy, ""))
        .start()
        .await;
    let outside = tempfile::tempdir().unwrap();
    let never = outside.path().join("declined-from-the-phone.txt");
    c.server.on(
        "You are Zhongshu",
        vec![exec_escalated(
            "call_p",
            &format!("touch {}", never.display()),
            "PHONE-ME",
        )],
    );
    let api = c.api();
    let z = api.start_zhongshu("Write outside the repository").await;
    c.wait_approval("the approval", |a| a["reason"] == "PHONE-ME")
        .await;
    let (reply_url, decline) = the_approvals_one_button(&ntfy).await;
    ntfy.wait_subscribed().await;
    for body in replies_a_thief_could_make(&c, &decline) {
        ntfy.phone_publishes(&reply_url, &body).await;
    }
    every_other_reply_refused_with_its_reason(api).await;
    declined_once_from_the_phone(api, &z).await;
    c.wait_agent(&z, "idle after the decline", |s| s["agent_state"] == "idle")
        .await;
    assert!(!never.exists(), "the declined command did not run");
    assert!(api.session(&z).await["pending_approvals"]
        .as_array()
        .is_none_or(|a| a.is_empty()));
}

/// The approval's notice, at decline_only (the default), carries one
/// button, Decline, replying to the topic's reply topic: its URL and body.
async fn the_approvals_one_button(ntfy: &Ntfy) -> (String, String) {
    let published = ntfy.wait_published("the approval's notice", 1).await;
    let buttons = actions(published[0].header("actions").expect("buttons"));
    assert_eq!(buttons.len(), 1, "{buttons:?}");
    let (label, reply_url, decline) = buttons[0].clone();
    assert_eq!(label, "Decline");
    assert!(
        reply_url.starts_with(&format!("{}/cg-test-reply-", ntfy.url())),
        "{reply_url}"
    );
    (reply_url, decline)
}

/// What a thief of the topic could send, in order: junk, a forged token,
/// tokens signed with the key itself (an Approve the level does not allow, a
/// Decline of a changed item), then the real Decline twice.
fn replies_a_thief_could_make(c: &Codex, decline: &str) -> Vec<String> {
    use codex_governance::notify::decision_token::{sign, verify, Claim, Key};
    let key = Key::load_or_make(&c.repo.state_dir()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let claim = verify(&key, decline, now).expect("the button's token is ours");
    let approve = sign(
        &key,
        &Claim {
            decision: codex_governance::policy::notice::PhoneDecision::Approve,
            nonce: "a1".into(),
            ..claim.clone()
        },
    );
    let changed = sign(
        &key,
        &Claim {
            digest: "0".repeat(64),
            nonce: "a2".into(),
            ..claim.clone()
        },
    );
    let forged = format!("v1.{}.{}", "00".repeat(8), "0".repeat(64));
    let junk = "junk".to_string();
    vec![
        junk,
        forged,
        approve,
        changed,
        decline.into(),
        decline.into(),
    ]
}

/// Five replies refused, each audited with why, in the order they came.
async fn every_other_reply_refused_with_its_reason(api: &Api) {
    let refused = audited(api, "phone_decision_refused", 5).await;
    let reasons: Vec<&str> = refused
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert_eq!(reasons[0], "not a decision token", "{refused:?}");
    assert_eq!(
        reasons[1], "its signature does not match (forged or changed)",
        "{refused:?}"
    );
    assert!(reasons[2].contains("remote_decisions"), "{refused:?}");
    assert_eq!(
        reasons[3], "its item changed since the notice",
        "{refused:?}"
    );
    assert_eq!(reasons[4], "it was used already", "{refused:?}");
    assert_eq!(refused.len(), 5, "{refused:?}");
}

/// The decision landed once, as the page's would, audited with its
/// channel; the planner's conversation says the phone answered, not the page.
async fn declined_once_from_the_phone(api: &Api, z: &str) {
    let decided = api.audit_events("approval_decided").await;
    assert_eq!(decided.len(), 1, "{decided:?}");
    assert_eq!(decided[0]["decision"], "decline", "{decided:?}");
    assert_eq!(decided[0]["by"], "phone (ntfy)", "{decided:?}");
    let talk = api
        .get_ok(&format!("/api/session_conversation?id={z}"))
        .await;
    let answered: Vec<&Value> = talk["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == "approval" && !e["decision"].is_null())
        .collect();
    assert_eq!(answered.len(), 1, "{talk}");
    assert_eq!(answered[0]["by"], "phone (ntfy)", "{talk}");
    let phone = api.audit_events("phone_decided").await;
    assert_eq!(phone.len(), 1, "{phone:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_reply_topic_is_audited_boundedly_and_the_phone_still_confirms_the_plan_shown() {
    let ntfy = Ntfy::start().await;
    let (_repo, server) = Scenario::new()
        .launcher(&notify_yaml(&ntfy, "    remote_decisions: all\n"))
        .serve()
        .await;
    let api = &server.api;
    let z = api.start_zhongshu("Plan").await;
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": "s", "needs_confirmation": true,
                "assignments": [{"department": "zhilibu", "task": "t", "files": ["README.md"]}]}),
    )
    .await;
    let published = ntfy.wait_published("the plan's notice", 1).await;
    let p = &published[0];
    assert_eq!(
        p.header("title"),
        Some("codex-governance: plan confirmation"),
        "{p:?}"
    );
    let buttons = actions(p.header("actions").expect("buttons"));
    let labels: Vec<&str> = buttons.iter().map(|b| b.0.as_str()).collect();
    assert_eq!(labels, ["Confirm plan", "Decline"], "{buttons:?}");
    let (_, reply_url, confirm) = buttons[0].clone();
    ntfy.wait_subscribed().await;
    // A flood: junk, and a line longer than the reader takes (skipped unread).
    for i in 0..40 {
        ntfy.phone_publishes(&reply_url, &format!("junk {i}")).await;
    }
    ntfy.phone_publishes(&reply_url, &"x".repeat(20_000)).await;
    ntfy.phone_publishes(&reply_url, &confirm).await;
    // Read in order: the confirmation after the flood still lands.
    audited(api, "phone_decided", 1).await;
    let refused = api.audit_events("phone_decision_refused").await;
    assert_eq!(refused.len(), 20, "at most 20 a minute, of 40 junk lines");
    let plan = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_ne!(plan["plan"]["status"], "awaiting_confirmation", "{plan}");
    server.stop().await;
}

/// Issue 70 item 10: a plan's notice carries Decline, at decline_only too;
/// pressed, nothing of the plan starts, it no longer waits for the user,
/// and its planner is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_declines_a_plan_at_decline_only_and_its_planner_is_told() {
    let ntfy = Ntfy::start().await;
    let (repo, server) = Scenario::new()
        .launcher(&notify_yaml(&ntfy, "    remote_decisions: decline_only\n"))
        .serve()
        .await;
    let api = &server.api;
    let z = api.start_zhongshu("Plan").await;
    api.post_ok("/api/report_zhongshu_plan", &plan_of(&z)).await;
    let published = ntfy.wait_published("the plan's notice", 1).await;
    let buttons = actions(published[0].header("actions").expect("buttons"));
    let labels: Vec<&str> = buttons.iter().map(|b| b.0.as_str()).collect();
    assert_eq!(labels, ["Decline"], "{buttons:?}");
    let (_, reply_url, decline) = buttons[0].clone();
    ntfy.wait_subscribed().await;
    ntfy.phone_publishes(&reply_url, &decline).await;
    let declined = audited(api, "plan_declined", 1).await;
    assert_eq!(declined[0]["session_id"], z.as_str(), "{declined:?}");
    assert_eq!(declined[0]["by"], "phone (ntfy)", "{declined:?}");
    let plan = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_ne!(plan["plan"]["status"], "awaiting_confirmation", "{plan}");
    assert!(api.audit_events("plan_confirmed").await.is_empty());
    let queued = api.get_ok("/api/status").await["queued_count"].clone();
    assert_eq!(queued, 0, "nothing of it started");
    wait_until(
        "the planner told",
        std::time::Duration::from_secs(30),
        || async {
            repo.log(&z)
                .contains("from their phone: nothing of it was started")
                .then_some(())
        },
    )
    .await;
    server.stop().await;
}

/// The JSON a planner posts for one zhilibu assignment awaiting confirmation.
fn plan_of(z: &str) -> Value {
    json!({"session_id": z, "summary": "s", "needs_confirmation": true,
           "assignments": [{"department": "zhilibu", "task": "t", "files": ["README.md"]}]})
}

/// The notices published for `z`'s items (their link names its session).
fn told_of(ntfy: &Ntfy, z: &str) -> Vec<crate::common::ntfy::Published> {
    let at = format!("#session={z}");
    ntfy.published()
        .into_iter()
        .filter(|p| p.header("click").is_some_and(|c| c.ends_with(&at)))
        .collect()
}

/// A restart does not make a button used before it usable again: its nonce
/// is kept in the confirmation's own audit line (the store change that
/// confirmed the plan), and the next start reads it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_a_button_used_before_it_stays_used() {
    use codex_governance::notify::decision_token::{verify, Key};
    let ntfy = Ntfy::start().await;
    let (repo, server) = Scenario::new()
        .launcher(&notify_yaml(&ntfy, "    remote_decisions: all\n"))
        .serve()
        .await;
    let api = &server.api;
    let one = api.start_zhongshu("Plan one").await;
    api.post_ok("/api/report_zhongshu_plan", &plan_of(&one))
        .await;
    ntfy.wait_published("the plan's notice", 1).await;
    let buttons = actions(told_of(&ntfy, &one)[0].header("actions").expect("buttons"));
    let (_, reply_url, confirm) = buttons[0].clone();
    ntfy.wait_subscribed().await;
    ntfy.phone_publishes(&reply_url, &confirm).await;
    audited(api, "phone_decided", 1).await;
    let key = Key::load_or_make(&repo.state_dir()).unwrap();
    let claim = verify(&key, &confirm, chrono::Utc::now().timestamp()).unwrap();
    let confirmed = api.audit_events("plan_confirmed").await;
    assert_eq!(confirmed.len(), 1, "{confirmed:?}");
    assert_eq!(confirmed[0]["nonce"], claim.nonce.as_str(), "{confirmed:?}");
    server.stop().await;

    let server = crate::common::launcher::InProcess::start(&repo).await;
    let api = &server.api;
    // The phone sends the used button again (until the new launcher reads it).
    let refused = wait_until("the replay refused", PHONE_PATIENCE, || async {
        let r = api.audit_events("phone_decision_refused").await;
        if r.is_empty() {
            ntfy.phone_publishes(&reply_url, &confirm).await;
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            return None;
        }
        Some(r)
    })
    .await;
    assert_eq!(refused[0]["reason"], "it was used already", "{refused:?}");
    assert_eq!(api.audit_events("plan_confirmed").await.len(), 1);
    server.stop().await;
}

/// A Codex planner started on `task` posts a plan awaiting confirmation;
/// returns its id once its notice is published.
async fn a_plan_told(c: &crate::common::scenario::Codex, ntfy: &Ntfy, task: &str) -> String {
    let z = c.api().start_zhongshu(task).await;
    c.idle(&z).await;
    c.api()
        .post_ok("/api/report_zhongshu_plan", &plan_of(&z))
        .await;
    wait_until("the plan's notice", PHONE_PATIENCE, || async {
        (!told_of(ntfy, &z).is_empty()).then_some(())
    })
    .await;
    z
}

/// A plan still awaiting confirmation when the launcher is killed is told
/// once: its planner resumes, the item is the same, and what its notice
/// showed has not changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_still_waiting_after_a_kill_9_is_not_told_again() {
    crate::needs!(Codex);
    let ntfy = Ntfy::start().await;
    let mut c = Scenario::codex()
        .launcher(&notify_yaml(&ntfy, ""))
        .start()
        .await;
    let z = a_plan_told(&c, &ntfy, "Plan").await;
    // Told and recorded (a kill between the two tells it again: at least once).
    c.wait_audit("notice_delivered", |e| e["kind"] == "plan_confirmation")
        .await;
    c.launcher.kill9();
    c.relaunch();
    // Resumed: idle on a server known again (its TUI, whose pid this waited
    // for, runs only for viewers now).
    c.wait_agent(&z, "resumed", |s| {
        s["status"] == "running" && s["server_pid"].is_number() && s["agent_state"] == "idle"
    })
    .await;
    // Another plan told after the restart: the notifier has looked since.
    a_plan_told(&c, &ntfy, "Another plan").await;
    let still = c.api().get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_eq!(still["plan"]["status"], "awaiting_confirmation", "{still}");
    assert_eq!(
        told_of(&ntfy, &z).len(),
        1,
        "told once, before the kill: {:?}",
        ntfy.published()
    );
    c.stop().await;
}

/// A department's recorded work is a notice of its own ("ready for your
/// review"), once, naming its plan and department and nothing of the work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_ready_for_review_is_told_once_with_nothing_of_the_work() {
    let ntfy = Ntfy::start().await;
    // No cooldown: with no dwell, an item seen for a moment on a loaded
    // machine (its exit seen before its report) is told at once, and the
    // session's cooldown would then hold the review's notice back.
    let (_repo, server) = Scenario::new()
        .launcher(&notify_yaml(&ntfy, "    cooldown_seconds: 0\n"))
        .files(&[("src/a.rs", "a\n")])
        .committed()
        .serve()
        .await;
    let api = &server.api;
    let task = "edit a [[fake-agent: --work-seconds 1 --write src/a.rs=SECRET-EDIT \
                --changed-file src/a.rs]]";
    let z = crate::common::scenario::start_plan(
        api,
        "review",
        "review",
        vec![json!({"department": "lingyubu", "task": task, "files": ["src/a.rs"]})],
    )
    .await;
    let told = wait_until("the review's notice", PHONE_PATIENCE, || async {
        let d = api.audit_events("notice_delivered").await;
        let review: Vec<Value> = d
            .into_iter()
            .filter(|e| e["kind"] == "review_ready")
            .collect();
        (!review.is_empty()).then_some(review)
    })
    .await;
    let item = told[0]["item_id"].as_str().unwrap();
    assert!(item.starts_with("review:lingyubu-"), "{told:?}");
    let published: Vec<_> = ntfy
        .published()
        .into_iter()
        .filter(|p| p.header("title") == Some("codex-governance: review ready"))
        .collect();
    assert_eq!(published.len(), 1, "{:?}", ntfy.published());
    let p = &published[0];
    assert!(
        p.body.contains("lingyubu") && p.body.contains("ready for your review"),
        "{p:?}"
    );
    let all = format!("{p:?}");
    for secret in ["SECRET-EDIT", "src/a.rs"] {
        assert!(!all.contains(secret), "{secret} in the notice: {all}");
    }
    assert!(
        p.header("click").is_some_and(|c| c.contains(&format!(
            "#session={}",
            &item["review:".len()..item.rfind(':').unwrap()]
        ))),
        "{p:?} {z}"
    );
    server.stop().await;
}

const BOT: &str = "424242:BOT-SECRET-TOKEN_abc";

/// Telegram (issue 54 item 3): the user's bot sends the notice to their
/// chat with an inline button carrying only a nonce; a press from another
/// chat is refused, the user's press confirms the plan once, a second press
/// is refused, each press is answered, and the bot's token reaches neither
/// the agents, the page, nor the audit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telegram_button_confirms_the_plan_once_and_only_from_the_users_chat() {
    let tg = TelegramApi::start().await;
    let repo = Scenario::new().launcher(&telegram_yaml(&tg)).repo();
    let env = [(
        "CODEX_GOVERNANCE_TELEGRAM_TOKEN".to_string(),
        BOT.to_string(),
    )];
    let launcher = spawn_launcher_env(&repo.path, &[], &env);
    let api = &launcher.api;
    let z = api.start_zhongshu("Plan").await;
    api.post_ok("/api/report_zhongshu_plan", &plan_of(&z)).await;
    let data = the_plans_message(&tg, &z).await;
    tg.wait_polled().await;
    // Another chat presses the same button: refused, and nothing is decided.
    let answer = pressed(&tg, 999, &data).await;
    assert!(answer.contains("another chat"), "{answer}");
    // The user presses it: the plan is confirmed, once.
    assert_eq!(pressed(&tg, 4242, &data).await, "Done.");
    let answer = pressed(&tg, 4242, &data).await;
    assert!(answer.starts_with("Not done"), "{answer}");
    confirmed_once_and_refused_twice(api).await;
    // The token: never in an agent's environment, the page or the audit.
    not_in_the_agents_environment(api, &z, BOT).await;
    let view = api.get_ok("/api/notify").await;
    let channels = view["notify"]["channels"].as_array().unwrap();
    assert_eq!(channels[0]["channel"], "telegram", "{view}");
    assert_eq!(channels[0]["token_set"], true, "{view}");
    shown_nowhere(api, "BOT-SECRET").await;
}

/// `launcher.notify` sending to chat 4242 through `tg`, no dwell, every
/// decision allowed from the phone.
fn telegram_yaml(tg: &TelegramApi) -> String {
    format!(
        "  notify:\n    telegram: {{chat_id: 4242, api: \"{}\"}}\n    dwell_seconds: 0\n    \
         remote_decisions: all\n",
        tg.url()
    )
}

/// The plan's message, sent by the user's bot to their chat, linking to
/// planner `z`, with one button that carries only a nonce: its data.
async fn the_plans_message(tg: &TelegramApi, z: &str) -> String {
    let sent = tg.wait_sent("the plan's message", 1).await;
    let (token, message) = &sent[0];
    assert_eq!(token, BOT, "sent by the user's bot");
    assert_eq!(message["chat_id"], 4242, "{message}");
    let text = message["text"].as_str().unwrap();
    assert!(
        text.contains("codex-governance: plan confirmation")
            && text.contains(&format!("#session={z}")),
        "{message}"
    );
    let button = &message["reply_markup"]["inline_keyboard"][0][0];
    assert_eq!(button["text"], "Confirm plan", "{message}");
    let data = button["callback_data"].as_str().unwrap();
    assert!(
        data.len() <= 64 && data.chars().all(|c| c.is_ascii_hexdigit()),
        "only a nonce: {data}"
    );
    data.to_string()
}

/// Someone in chat `chat` presses the button `data`: the words it is answered with.
async fn pressed(tg: &TelegramApi, chat: i64, data: &str) -> String {
    let press = tg.press(chat, data);
    let answer = tg.wait_answered(&press).await;
    answer["text"].as_str().unwrap().to_string()
}

/// The plan was confirmed once from Telegram; the press from another chat
/// and the second press were refused, each saying why.
async fn confirmed_once_and_refused_twice(api: &Api) {
    let decided = api.audit_events("phone_decided").await;
    assert_eq!(decided.len(), 1, "{decided:?}");
    assert_eq!(decided[0]["channel"], "telegram", "{decided:?}");
    let confirmed = api.audit_events("plan_confirmed").await;
    assert_eq!(confirmed.len(), 1, "{confirmed:?}");
    let refused = api.audit_events("phone_decision_refused").await;
    let reasons: Vec<&str> = refused
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        [
            "a button pressed in another chat",
            "its button is used, expired or unknown"
        ],
        "{refused:?}"
    );
    assert!(refused.iter().all(|e| e["channel"] == "telegram"));
}

/// A Telegram button handed out before a clean restart still works after
/// it (the buttons are kept owner-only in the state folder), once: the
/// Codex planner resumes, its plan still waits unchanged, and the press
/// confirms it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telegram_button_handed_out_before_a_restart_confirms_the_plan_after_it() {
    crate::needs!(Codex);
    let tg = TelegramApi::start().await;
    let mut c = Scenario::codex()
        .launcher(&telegram_yaml(&tg))
        .env("CODEX_GOVERNANCE_TELEGRAM_TOKEN", BOT)
        .start()
        .await;
    let z = c.api().start_zhongshu("Plan").await;
    c.idle(&z).await;
    c.api()
        .post_ok("/api/report_zhongshu_plan", &plan_of(&z))
        .await;
    let sent = tg.wait_sent("the plan's message", 1).await;
    let data = sent[0].1["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    let kept =
        std::fs::read_to_string(c.repo.state_dir().join("notify_telegram_buttons.json")).unwrap();
    assert!(kept.contains(&data), "{kept}");
    c.launcher.terminate();
    c.relaunch();
    c.wait_agent(&z, "resumed", |s| {
        s["status"] == "running" && s["agent_state"] == "idle"
    })
    .await;
    tg.wait_polled().await;
    // Issue 69 item 6: someone else in the chat decides nothing, and the
    // button stays for its user.
    let stranger = tg.press_as(4242, 777, &data);
    let answer = tg.wait_answered(&stranger).await;
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("user_ids does not name"),
        "{answer}"
    );
    assert_eq!(pressed(&tg, 4242, &data).await, "Done.");
    let confirmed = c.api().audit_events("plan_confirmed").await;
    assert_eq!(confirmed.len(), 1, "{confirmed:?}");
    let answer = pressed(&tg, 4242, &data).await;
    assert!(answer.starts_with("Not done"), "{answer}");
    c.stop().await;
}
