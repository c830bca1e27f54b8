//! The page on a phone through the user's tailnet (issue 54, tier 2): the
//! launcher as the user runs it with `--allow-host`, a phone paired with
//! `codex-governance pair-phone`, and the phone's requests as `tailscale
//! serve` forwards them (the `Host` the phone asked for, `X-Forwarded-Proto:
//! https`; Funnel's marker on a public request).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::launcher::Api;
use crate::common::launcher::{base_command, spawn_launcher_env, Subprocess, TestRepo};
use crate::common::scenario::Scenario;

const NAME: &str = "desk.tail1234.ts.net";

/// A request as the tailnet proxy forwards it to the launcher's port.
async fn through_tailnet(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}{path}");
    let mut req = match method {
        "GET" => client.get(&url),
        _ => client.post(&url),
    };
    req = req
        .header("host", NAME)
        .header("authorization", format!("Bearer {token}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("the launcher answers");
    let status = resp.status();
    (status, resp.text().await.unwrap_or_default())
}

const TLS: &[(&str, &str)] = &[("x-forwarded-proto", "https")];

/// `codex-governance pair-phone` against the running launcher: its address
/// for the phone, with the token in the fragment.
fn pair_with_the_cli(repo: &std::path::Path, label: &str) -> (String, String) {
    let out = base_command()
        .args(["pair-phone", "--repo"])
        .arg(repo)
        .args(["--label", label])
        .output()
        .expect("pair-phone runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = stdout
        .lines()
        .find(|l| l.starts_with("https://"))
        .unwrap_or_else(|| panic!("no address in {stdout}"))
        .to_string();
    let token = url.split("#token=").nth(1).unwrap().to_string();
    assert!(
        stdout.contains('█') || stdout.contains('▀'),
        "a QR code: {stdout}"
    );
    (url, token)
}

/// `z` registers one zhilibu assignment that waits for the user's confirmation.
async fn plan_waiting(api: &Api, z: &str) {
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": "s", "needs_confirmation": true,
                "assignments": [{"department": "zhilibu", "task": "t", "files": ["README.md"]}]}),
    )
    .await;
}

fn launch(repo: &std::path::Path) -> Subprocess {
    spawn_launcher_env(repo, &["--allow-host", NAME], &[])
}

/// What a paired phone's token POSTs through the name over TLS.
async fn phone_posts(port: u16, phone: &str, path: &str, body: Value) -> (StatusCode, String) {
    through_tailnet(port, "POST", path, phone, Some(body), TLS).await
}

/// The status a paired phone reads through the name over TLS.
async fn phone_status(port: u16, phone: &str) -> Value {
    let (status, body) = through_tailnet(port, "GET", "/api/status", phone, None, TLS).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The plan of planner `z` as the desk reads it.
async fn plan_at_the_desk(launcher: &Subprocess, z: &str) -> Value {
    launcher
        .api
        .get_ok(&format!("/api/zhongshu_plan?id={z}"))
        .await
}

/// Issue 69 item 1: what the desk typed into a terminal agent and what it
/// printed reach no phone: not its status, sessions, plan or conversation.
async fn phone_reads_no_transcript(launcher: &Subprocess, phone: &str, z: &str) {
    let typed = "RT6-TYPED-INPUT please";
    launcher
        .api
        .post_ok(
            "/api/session_input",
            &json!({"session_id": z, "input": typed}),
        )
        .await;
    let desk = launcher
        .api
        .wait_status("the typed input in the desk's status", |s| {
            s.to_string().contains("RT6-TYPED-INPUT")
        })
        .await;
    let mine = desk["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == z)
        .cloned()
        .unwrap();
    let preview = mine["transcript_preview"].as_str().unwrap_or_default();
    // Its longest line, as a JSON body writes it.
    let line = preview.lines().max_by_key(|l| l.len()).unwrap_or_default();
    let line = serde_json::to_string(line).unwrap();
    let line = line.trim_matches('"');
    assert!(line.len() > 8, "the desk reads its transcript: {mine}");
    let port = launcher.port;
    for path in [
        "/api/status".to_string(),
        "/api/sessions".to_string(),
        format!("/api/zhongshu_plan?id={z}"),
        format!("/api/session_conversation?id={z}"),
    ] {
        let (status, body) = through_tailnet(port, "GET", &path, phone, None, TLS).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(!body.contains("RT6-TYPED-INPUT"), "{path}: {body}");
        assert!(!body.contains(line), "{path} holds the transcript: {body}");
        let view: Value = serde_json::from_str(&body).unwrap();
        for s in view["sessions"].as_array().into_iter().flatten() {
            assert!(s["transcript_preview"].is_null(), "{path}: {s}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paired_phone_reaches_the_page_through_the_tailnet_name_within_its_scope_only() {
    let repo = Scenario::new()
        .launcher("  notify:\n    remote_decisions: decline_only\n")
        .repo();
    no_phone_is_paired_without_allow_host(&repo.path).await;

    let mut launcher = launch(&repo.path);
    let port = launcher.port;
    let (url, phone) = pair_with_the_cli(&repo.path, "pocket");
    assert_eq!(url, format!("https://{NAME}/#token={phone}"));
    let user = launcher.token.clone();
    the_phone_reads_the_page_and_its_own_status(&launcher, &phone).await;
    only_a_paired_phone_over_tls_passes_the_name(port, &user, &phone).await;
    the_phone_stays_within_its_scope(port, &phone).await;
    at_decline_only_the_phone_declines_a_plan_and_may_not_confirm_it(&launcher, &phone).await;
    launcher.terminate();

    // The user allows plans from the phone; the pairing survived the restart.
    let config = repo.path.join("governance.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("decline_only", "all")).unwrap();
    let mut launcher = launch(&repo.path);
    let view = phone_status(launcher.port, &phone).await;
    assert_eq!(view["phone"]["confirm_plans"], true, "{view}");
    the_phone_confirms_only_the_plan_it_was_shown(&launcher, &phone).await;
    the_phones_stream_says_only_that_something_changed(&launcher, &phone).await;
    unpaired_at_the_desk_its_token_is_refused_and_kept_nowhere(&launcher, &repo, &phone).await;
    launcher.terminate();
}

/// Without --allow-host, no phone can be paired.
async fn no_phone_is_paired_without_allow_host(repo: &std::path::Path) {
    let mut plain = spawn_launcher_env(repo, &[], &[]);
    let (status, body) = plain.api.post("/api/phones/pair", &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("--allow-host"), "{body}");
    plain.terminate();
}

/// The page and the phone's status, with what the phone may do; the
/// desk's own status says nothing of a phone.
async fn the_phone_reads_the_page_and_its_own_status(launcher: &Subprocess, phone: &str) {
    let (status, page) = through_tailnet(launcher.port, "GET", "/", "", None, TLS).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("codex-governance"), "{page}");
    let view = phone_status(launcher.port, phone).await;
    assert_eq!(view["phone"]["label"], "pocket", "{view}");
    assert_eq!(view["phone"]["confirm_plans"], false, "{view}");
    assert_eq!(view["phone"]["approve_commands"], false, "{view}");
    assert!(view.get("browser_terminals").is_none(), "{view}");
    assert!(launcher
        .api
        .get_ok("/api/status")
        .await
        .get("phone")
        .is_none());
}

/// Through the name: only the phone, only over TLS, never from Funnel nor
/// another origin; naming loopback through the proxy gains nothing, and
/// nothing but the page and the API answers.
async fn only_a_paired_phone_over_tls_passes_the_name(port: u16, user: &str, phone: &str) {
    let refusals = [
        (user, TLS.to_vec(), "only a paired phone"),
        (phone, vec![], "HTTPS only"),
        (
            phone,
            vec![
                ("x-forwarded-proto", "https"),
                ("tailscale-funnel-request", "?1"),
            ],
            "public internet",
        ),
        (
            phone,
            vec![
                ("x-forwarded-proto", "https"),
                ("origin", "https://evil.example"),
            ],
            "cross-origin",
        ),
    ];
    for (token, headers, why) in refusals {
        let (status, body) =
            through_tailnet(port, "GET", "/api/status", token, None, &headers).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{why}: {body}");
        assert!(body.contains(why), "{why}: {body}");
    }
    // tailscale serve keeps the Host its client sends: naming loopback
    // through it gains nothing, whatever the token.
    let sneaked = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/status"))
        .header("x-forwarded-host", format!("127.0.0.1:{port}"))
        .header("x-forwarded-for", "100.64.0.9")
        .header("x-forwarded-proto", "https")
        .header("authorization", format!("Bearer {user}"))
        .send()
        .await
        .unwrap();
    assert_eq!(sneaked.status(), StatusCode::FORBIDDEN);
    let (status, _) = through_tailnet(port, "GET", "/healthz", "", None, TLS).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "nothing but the page and the API"
    );
}

/// The phone's scope: no terminal, audit, settings, trust or pairing.
async fn the_phone_stays_within_its_scope(port: u16, phone: &str) {
    for (method, path) in [
        ("POST", "/api/browser_terminal/start"),
        ("GET", "/api/audit"),
        ("GET", "/api/notify"),
        ("POST", "/api/trust_config"),
        ("POST", "/api/phones/pair"),
        ("POST", "/api/integrate"),
        ("GET", "/api/diff"),
        ("GET", "/api/zhongshu_sessions"),
        ("POST", "/api/notify/presence"),
        ("POST", "/api/mark_seen"),
    ] {
        let (status, body) = through_tailnet(port, method, path, phone, Some(json!({})), TLS).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(body.contains("stay at the desk"), "{path}: {body}");
    }
}

/// A plan awaiting confirmation at `decline_only`: the phone reads no
/// transcript, may not confirm it, and declines it (declining is always the
/// phone's, issue 70 item 10), audited as the phone's.
async fn at_decline_only_the_phone_declines_a_plan_and_may_not_confirm_it(
    launcher: &Subprocess,
    phone: &str,
) {
    let z = launcher.api.start_zhongshu("Plan").await;
    plan_waiting(&launcher.api, &z).await;
    phone_reads_no_transcript(launcher, phone, &z).await;
    let confirm = json!({"parent_session_id": z});
    let (status, body) = phone_posts(launcher.port, phone, "/api/start_assignments", confirm).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("remote_decisions"), "{body}");
    let plan = plan_at_the_desk(launcher, &z).await;
    assert_eq!(plan["plan"]["needs_confirmation"], true, "{plan}");
    assert!(plan["plan"]["confirmed_at"].is_null(), "{plan}");
    let decline = json!({"parent_session_id": z, "revision": plan["plan"]["revision"]});
    let (status, body) = phone_posts(launcher.port, phone, "/api/decline_plan", decline).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let declined = launcher.api.audit_events("plan_declined").await;
    assert_eq!(declined.len(), 1, "{declined:?}");
    assert_eq!(declined[0]["by"], "phone (page)", "{declined:?}");
    let plan = plan_at_the_desk(launcher, &z).await;
    assert_ne!(plan["plan"]["status"], "awaiting_confirmation", "{plan}");
}

/// With plans allowed from the phone: edited assignments stay at the desk,
/// and only the plan it was shown (its revision) is confirmed, with no
/// terminal's address; the audit holds the confirmation and the pairing.
async fn the_phone_confirms_only_the_plan_it_was_shown(launcher: &Subprocess, phone: &str) {
    let port = launcher.port;
    let z = launcher.api.start_zhongshu("Plan again").await;
    plan_waiting(&launcher.api, &z).await;
    let edited = json!({"parent_session_id": z, "assignments": []});
    let (status, body) = phone_posts(port, phone, "/api/start_assignments", edited).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("at the desk"), "{body}");
    let unseen = json!({"parent_session_id": z});
    let (status, body) = phone_posts(port, phone, "/api/start_assignments", unseen).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("revision"), "{body}");
    let revision = plan_at_the_desk(launcher, &z).await["plan"]["revision"].clone();
    let shown = json!({"parent_session_id": z, "revision": revision});
    let (status, body) = phone_posts(port, phone, "/api/start_assignments", shown).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.contains("token="), "no terminal address: {body}");
    let confirmed = launcher.api.audit_events("plan_confirmed").await;
    assert_eq!(confirmed.len(), 1, "{confirmed:?}");
    let paired = launcher.api.audit_events("phone_paired").await;
    assert_eq!(paired.len(), 1, "{paired:?}");
    assert_eq!(paired[0]["label"], "pocket");
}

/// The phone's stream says only that something changed: no audit line, no
/// delta.
async fn the_phones_stream_says_only_that_something_changed(launcher: &Subprocess, phone: &str) {
    let resp = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/api/events", launcher.port))
        .header("host", NAME)
        .header("x-forwarded-proto", "https")
        .header("authorization", format!("Bearer {phone}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp;
    launcher.api.start_zhongshu("Something changes").await;
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !seen.contains("event: changed") && std::time::Instant::now() < deadline {
        if let Ok(Ok(Some(chunk))) =
            tokio::time::timeout(std::time::Duration::from_secs(5), stream.chunk()).await
        {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    assert!(seen.contains("event: changed"), "{seen}");
    assert!(!seen.contains("session_started"), "no audit line: {seen}");
    assert!(!seen.contains("event: delta"), "no delta: {seen}");
}

/// Unpaired at the desk: the phone's token is refused at once, and neither
/// the list of phones, the file the pairing was kept in nor the audit
/// holds it.
async fn unpaired_at_the_desk_its_token_is_refused_and_kept_nowhere(
    launcher: &Subprocess,
    repo: &TestRepo,
    phone: &str,
) {
    let listed = launcher.api.get_ok("/api/phones").await;
    let id = listed["phones"]["phones"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(listed["phones"]["tailnet"], format!("https://{NAME}"));
    assert!(!listed.to_string().contains(phone), "{listed}");
    launcher
        .api
        .post_ok("/api/phones/unpair", &json!({"phone_id": id}))
        .await;
    let (status, body) =
        through_tailnet(launcher.port, "GET", "/api/status", phone, None, TLS).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let kept = std::fs::read_to_string(repo.state_dir().join("paired_phones.json")).unwrap();
    assert!(!kept.contains(phone), "{kept}");
    let audit = launcher
        .api
        .get_ok("/api/audit?limit=1000")
        .await
        .to_string();
    assert!(!audit.contains(phone), "the token in the audit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paired_phone_declines_a_codex_approval_in_the_page_and_may_not_approve_it() {
    crate::needs!(Codex);
    let c = Scenario::codex()
        .arg("--allow-host")
        .arg(NAME)
        .start()
        .await;
    let outside = tempfile::tempdir().unwrap();
    let never = outside.path().join("declined-on-the-phone.txt");
    c.server.on(
        "You are Zhongshu",
        vec![crate::common::model_server::exec_escalated(
            "call_t",
            &format!("touch {}", never.display()),
            "PHONE-PAGE",
        )],
    );
    let api = c.api();
    let z = api.start_zhongshu("Write outside the repository").await;
    let pending = c
        .wait_approval("the approval", |a| a["reason"] == "PHONE-PAGE")
        .await;
    let (_, phone) = pair_with_the_cli(&c.repo.path, "pocket");
    let port = c.launcher.port;
    // The phone's page sees what waits, and may not approve a command.
    let (status, body) = through_tailnet(port, "GET", "/api/approvals", &phone, None, TLS).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("PHONE-PAGE"), "{body}");
    let answer = |decision: &str| {
        json!({"session_id": pending["session_id"], "request_id": pending["request_id"],
               "decision": decision})
    };
    for refused in ["accept", "accept_for_session"] {
        let (status, body) = through_tailnet(
            port,
            "POST",
            "/api/approval",
            &phone,
            Some(answer(refused)),
            TLS,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused}: {body}");
        assert!(body.contains("remote_decisions"), "{body}");
    }
    let (status, body) = through_tailnet(
        port,
        "POST",
        "/api/approval",
        &phone,
        Some(answer("decline")),
        TLS,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let decided = api.audit_events("approval_decided").await;
    assert_eq!(decided.len(), 1, "{decided:?}");
    assert_eq!(decided[0]["decision"], "decline", "{decided:?}");
    assert_eq!(decided[0]["by"], "phone (page)", "{decided:?}");
    c.wait_agent(&z, "idle after the decline", |s| s["agent_state"] == "idle")
        .await;
    assert!(!never.exists(), "the declined command did not run");
}
