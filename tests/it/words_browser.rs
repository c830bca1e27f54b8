//! The words the page says (issue 37 item 4), read in headless Chromium from
//! a real in-process launcher whose agents are the fake agent: plain names
//! ("Start a planner", "Departments", "Risks", "Machine-specific paths in
//! docs") with the historical ones as subtitles, English beside the built-in
//! departments' Chinese titles, the slips the walkthrough listed ("1 queued
//! department wait.", a reason and the next sentence run together, a queue
//! id in the Retry toast, Continue beside Resume), and one read state of the
//! user's own: opening a packet or Mark all read marks results read in the
//! page, while the planner's unread is a hint the page never clears.

use crate::common::browser;
use crate::common::launcher as support;

use browser::{Browser, ESCAPE};
use serde_json::json;
use support::*;

/// The text of every element matching `css`, in page order.
async fn texts(d: &Browser, css: &str) -> Vec<String> {
    let v = d
        .js(
            "return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent);",
            vec![json!(css)],
        )
        .await;
    serde_json::from_value(v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_speaks_plainly_and_keeps_the_users_read_state() {
    crate::needs!(Chromium);
    let repo = TestRepo::new(RepoOptions::default());
    let launcher = InProcess::start(&repo).await;
    let api = launcher.api.clone();
    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact("words-failure.png");
    d.open_dashboard(&launcher.url, &launcher.token).await;

    plain_names_with_the_history_beside_them(&d).await;
    let z = a_planners_row_says_what_its_buttons_do(&d, &api, &repo).await;
    a_failure_in_sentences_and_a_retry_without_ids(&d).await;
    opening_a_packet_reads_it_for_the_user_only(&d, &api, &z).await;
    // A second tab agrees.
    d.goto(&format!("{}/", launcher.url)).await;
    d.present(
        "the card after a reload",
        &format!("{ZHILIBU_CARD}[data-seen=\"true\"]"),
    )
    .await;
    d.shoot("words-1440x900.png", Some("#focus-panel")).await;

    // -- the quota's queued count agrees with its verb: a held queue of
    // one, as the launcher holds it (Needs you is the server's words).
    hold_a_queue_of_one(&launcher, &z);
    let quota = "#needs-you-list .need[data-kind=\"quota\"] .need-detail";
    let said = d
        .wait_text("the held queue in Needs you", quota, "queued")
        .await;
    assert_eq!(said, "1 queued department waits.");
    assert_eq!(d.open_alert().await, None);
    d.quit().await;
    launcher.stop().await;
}

/// The queue held (by the reserve) with one department queued in it. The
/// account's window says 97 % so the launcher's own settling of the hold
/// keeps it (a hold alone it lifts on its next pass, maybe before the page
/// shows it).
fn hold_a_queue_of_one(launcher: &InProcess, z: &str) {
    let queued = serde_json::from_value(json!({
        "id": "q-held", "parent_session_id": z, "department": "lingyubu", "task": "wait",
        "model": "m", "queued_at": "2026-05-01T08:00:00+00:00", "status": "queued",
    }))
    .unwrap();
    launcher
        .launcher
        .ctx
        .store
        .update(|tx| {
            tx.quota_mut().account.primary = Some(codex_governance::model::QuotaWindow {
                used_percent: 97.0,
                window_minutes: Some(300),
                resets_at: Some(chrono::Utc::now().timestamp() + 3600),
            });
            tx.quota_mut().hold = Some(codex_governance::model::Hold {
                reason: codex_governance::model::HoldReason::Reserve,
                until: None,
                text: "the 5-hour window is at 95%".into(),
            });
            tx.queue_mut().push(queued);
        })
        .unwrap();
}

/// Plain names, the history beside them; no configuration key in the page.
async fn plain_names_with_the_history_beside_them(d: &Browser) {
    assert_eq!(
        d.text_of("#start-h").await,
        "Start a planner Zhongshu 中书省"
    );
    assert_eq!(d.text_of("#start-zhongshu").await, "Start planner");
    assert_eq!(d.text_of("#focus-h").await, "Plan & inbox");
    d.present("the report", "#report .report-departments").await;
    assert_eq!(
        texts(d, "#report h3.sub").await[..3],
        [
            "Departments Shangshu 尚书省",
            "Risks Menxia 门下省",
            "Checks to run"
        ]
    );
    assert_eq!(
        d.text_of("#report .report-preflight h3").await,
        "Machine-specific paths in docs"
    );
    assert!(
        !d.text_of("#report").await.contains("portability_paths)"),
        "no config key in parentheses"
    );
}

/// A plan (zhilibu reports, lingyubu fails without a report): the planner's
/// row and its two buttons say what differs (your message, or the
/// launcher's reminder); zhilibu's name has its English beside the Chinese.
/// Returns the planner.
async fn a_planners_row_says_what_its_buttons_do(
    d: &Browser,
    api: &Api,
    repo: &TestRepo,
) -> String {
    let plan = repo.write_json(
        "plan.json",
        &json!({"summary": "words", "assignments": [
            {"department": "zhilibu", "task": "Docs [[fake-agent: --changed-file README.md --write README.md=docs]]"},
            {"department": "lingyubu", "task": "Break [[fake-agent: --no-report --exit-code 3]]"},
        ]}),
    );
    let z = api
        .start_zhongshu(&format!(
            "Plan it [[fake-agent: --plan-file {}]]",
            plan.display()
        ))
        .await;
    let row = format!(".session-row[data-id=\"{z}\"]");
    d.present("the planner's row", &row).await;
    assert_eq!(
        d.text_of(&format!("{row} .row-name")).await,
        format!("planner · {z}")
    );
    assert_eq!(d.text_of(&format!("{row} .act-continue")).await, "Message…");
    assert_eq!(
        d.text_of(&format!("{row} .act-resume")).await,
        "Remind of its plan…"
    );
    let zhilibu = d
        .wait(
            "zhilibu's row",
            "const n = [...document.querySelectorAll('.session-row.kind-department .row-name')].find((e) => e.textContent.startsWith('zhilibu')); return n && n.textContent;",
            vec![],
        )
        .await;
    let zhilibu = zhilibu.as_str().unwrap();
    assert!(
        zhilibu.starts_with("zhilibu 治理部 · governance & docs · zhilibu-"),
        "{zhilibu}"
    );
    z
}

/// The failure: its reason and the next sentence, each ending with a full
/// stop; Retry says what happens, without the queue's internal id.
async fn a_failure_in_sentences_and_a_retry_without_ids(d: &Browser) {
    let failed = "#needs-you-list .need[data-kind=\"failed\"]";
    d.present("the failure in Needs you", failed).await;
    let detail = d.text_of(&format!("{failed} .need-detail")).await;
    assert_eq!(detail, "Its fallback result is in its planner's inbox.");
    // With a reason (a Codex department closed after its reminder, in the
    // launcher's words), the reason is a sentence of its own.
    let joined = d
        .wait(
            "the page's sentences",
            "if (!window.__fmt) import('/static/js/format.js').then((m) => { window.__fmt = m; }); \
             return window.__fmt && window.__fmt.sentences(arguments[0], 'Its fallback result is in its planner\\'s inbox');",
            vec![json!("closed after a reminder: it did not report")],
        )
        .await;
    assert_eq!(
        joined,
        "closed after a reminder: it did not report. Its fallback result is in its planner's inbox."
    );
    d.click(&format!("{failed} button[data-action=\"retry\"]"))
        .await;
    let toast = d
        .wait_text("the Retry toast", "#toasts .toast-info", "Queued")
        .await;
    assert!(
        toast.ends_with("'s assignment again: it starts when a slot is free.")
            && !toast.contains("q-"),
        "{toast:?}"
    );
}

const ZHILIBU_CARD: &str = ".inbox-result[data-department=\"zhilibu\"]";

/// One read state of the user's own: opening the packet reads the card in
/// the page, kept by the launcher; the planner's unread is a hint the page
/// never clears.
async fn opening_a_packet_reads_it_for_the_user_only(d: &Browser, api: &Api, z: &str) {
    let card = ZHILIBU_CARD;
    d.present("zhilibu's result", card).await;
    assert_eq!(
        texts(
            d,
            &format!("{card} .row-badges .badge.unread, {card} .planner-unread")
        )
        .await,
        ["new", "planner hasn't read it"]
    );
    let inbox_url = format!("/api/zhongshu_inbox?id={z}&peek=1");
    let unread_before = api.get_ok(&inbox_url).await["unread_count"].clone();
    assert!(unread_before.as_u64().unwrap() >= 1, "{unread_before}");
    d.click(&format!("{card} button.open-handoff")).await;
    d.present("the packet", "#drawer:not([hidden]) .drawer-markdown")
        .await;
    d.press_keys(ESCAPE).await;
    d.present(
        "the card read in the page",
        &format!("{card}[data-seen=\"true\"]"),
    )
    .await;
    assert_eq!(
        d.count(&format!("{card} .badge.unread")).await,
        0,
        "opening the packet read it"
    );
    let inbox = api.get_ok(&inbox_url).await;
    // The page clears none of the planner's unread (another department's
    // fallback result may come in meanwhile: the count may grow, never fall).
    assert!(
        inbox["unread_count"].as_u64() >= unread_before.as_u64(),
        "the planner's unread is the planner's: {inbox}"
    );
    let zhilibu_result = inbox["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["department"] == "zhilibu")
        .unwrap()
        .clone();
    assert_eq!(zhilibu_result["seen"], true, "kept by the launcher");
    assert_eq!(zhilibu_result["read"], false, "{zhilibu_result}");
}
