//! "Needs you", plain states, the keyboard, the light theme and the phone
//! layout (issue 14), in headless Chromium against a real in-process launcher
//! whose agents are the fake agent (`tools/fake-agent`).
//!
//! A Zhongshu registers a plan that waits for confirmation: it appears in Needs
//! you with the count in the tab title and is started from there. One of its
//! departments reports, the other fails with exit 3 and no report: the first
//! reads "reported", the second "failed: exit 3" and appears in Needs you with
//! its fallback. In a terminal Esc goes to the agent and Ctrl+] leaves (the
//! tile's bar says so while the terminal has the keyboard); `/` and `?` work; the light
//! theme applies; at 390 px nothing overflows sideways and titles are whole.
//! Screenshots at 1440x900 and 390x844 go to `tests/artifacts/needs-you-*.png`.
//!
//! Needs chromium and chromedriver (tools/test.sh installs them); missing ones
//! fail the test with a message, they never skip it.

use crate::common::browser;
use crate::common::launcher as support;
use crate::common::page;

use browser::{Browser, ESCAPE, WAIT};
use serde_json::json;
use support::{Api, InProcess, RepoOptions, TestRepo};

/// A report summary that would be live markup if anything parsed it as HTML.
const HOSTILE: &str = "<img src=x onerror=alert(1)> <script>alert(2)</script>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn needs_you_plain_states_keyboard_theme_and_phone() {
    crate::needs!(Chromium);
    let repo = TestRepo::new(RepoOptions::default());
    let launcher = InProcess::start(&repo).await;
    let api = launcher.api.clone();
    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact("needs-you-failure.png");
    d.open_dashboard(&launcher.url, &launcher.token).await;
    assert!(d.hidden("#needs-you").await, "nothing needs the user yet");

    let z = list_a_plan_that_waits(&d, &api, &repo).await;
    start_the_plan_from_needs_you(&d, &api, &z).await;
    let failed_item = check_the_plain_states(&d, &api, &z).await;
    d.shoot_at("needs-you-failed-1440x900.png", 1440, 900, None)
        .await;
    d.click(&format!("{failed_item} button[data-action=\"dismiss\"]"))
        .await;
    d.gone("the dismissed failure", &failed_item).await;
    review_the_packet_and_a_diff_in_the_drawer(&d, &repo).await;
    esc_goes_to_the_agent_and_ctrl_bracket_leaves(&d, &z).await;
    slash_writes_a_task_and_question_mark_lists_the_keys(&d).await;
    the_theme_follows_the_system_until_toggled(&d).await;
    on_a_phone_nothing_overflows_and_titles_are_whole(&d).await;
    assert_eq!(d.open_alert().await, None);
    d.quit().await;
    launcher.stop().await;
}

/// A plan that waits for confirmation (zhilibu reports a hostile summary,
/// lingyubu fails with exit 3 and no report) is listed in Needs you, with the
/// count in the tab title. Returns its planner.
async fn list_a_plan_that_waits(d: &Browser, api: &Api, repo: &TestRepo) -> String {
    let plan = repo.write_json(
        "plan.json",
        &json!({
            "summary": "Two departments, confirmed first",
            "needs_confirmation": true,
            "assignments": [
                {"department": "zhilibu",
                 "task": format!("Write the docs [[fake-agent: --summary '{HOSTILE}' --changed-file README.md]]")},
                {"department": "lingyubu",
                 "task": "Break [[fake-agent: --no-report --exit-code 3]]"},
            ]
        }),
    );
    let z = api
        .start_zhongshu(&format!(
            "Plan it [[fake-agent: --plan-file {}]]",
            plan.display()
        ))
        .await;
    let plan_item = page::plan_item(&z);
    d.present("the plan in Needs you", &plan_item).await;
    assert!(
        d.text_of(&plan_item)
            .await
            .contains("awaits your confirmation"),
        "{}",
        d.text_of(&plan_item).await
    );
    d.wait(
        "the count in the tab title",
        "return document.title.startsWith('(1) ') ? document.title : null;",
        vec![],
    )
    .await;
    d.shoot_at("needs-you-plan-1440x900.png", 1440, 900, None)
        .await;
    z
}

/// Started from there (once it shows the plan's revision), through the plan
/// dialog: both departments start, the item goes.
async fn start_the_plan_from_needs_you(d: &Browser, api: &Api, z: &str) {
    let plan_item = page::plan_item(z);
    d.present(
        "the plan's revision in Needs you",
        &format!(
            "{plan_item}[data-revision=\"1\"] button[data-action=\"start-plan\"]:not([disabled])"
        ),
    )
    .await;
    d.click(&format!("{plan_item} button[data-action=\"start-plan\"]"))
        .await;
    // The plan is shown first; it starts from the dialog.
    d.present("the plan dialog", "#plan-dialog[open]").await;
    assert!(
        d.text_of("#plan-dialog").await.contains("Break"),
        "the dialog shows the assignments"
    );
    d.click("#plan-dialog button[data-action=\"start-reviewed\"]")
        .await;
    d.gone("the plan item to go", &plan_item).await;
    let dispatched = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_eq!(
        dispatched["plan"]["status"],
        json!("dispatched"),
        "{dispatched}"
    );
}

/// Plain states: one department reports, the other fails with exit 3 and no
/// report and is in Needs you with the fallback the launcher files for it.
/// Returns the failure's Needs you item.
async fn check_the_plain_states(d: &Browser, api: &Api, z: &str) -> String {
    let failed_row = ".session-row[data-state=\"failed\"]";
    d.present("the failed department's row", failed_row).await;
    let badge = d.text_of(&format!("{failed_row} .badge")).await;
    assert_eq!(badge, "failed: exit 3");
    let failed_id = d.data_of(failed_row, "id").await;
    let failed_item =
        format!("#needs-you-list .need[data-kind=\"failed\"][data-session=\"{failed_id}\"]");
    d.present("the failure in Needs you", &failed_item).await;
    assert!(
        d.text_of(&failed_item).await.contains("fallback result"),
        "{}",
        d.text_of(&failed_item).await
    );
    d.present(
        "the reporting department's row",
        ".session-row[data-state=\"reported\"]",
    )
    .await;
    // The launcher files a fallback result for it after a short grace.
    support::wait_until("the failed department's fallback", WAIT, || async {
        let inbox = api
            .get_ok(&format!("/api/zhongshu_inbox?id={z}&peek=1"))
            .await;
        inbox["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| {
                r["department_session_id"] == json!(failed_id) && r["source"] == "launcher_fallback"
            })
            .then_some(())
    })
    .await;
    failed_item
}

/// Review in the page: the packet (hostile text stays text, its own headings
/// render), the raw report, a diff; Esc closes the drawer.
async fn review_the_packet_and_a_diff_in_the_drawer(d: &Browser, repo: &TestRepo) {
    let open = ".inbox-result[data-department=\"zhilibu\"] button.open-handoff";
    d.present("the reported result's Open button", open).await;
    d.click(open).await;
    d.present(
        "the packet in the drawer",
        "#drawer:not([hidden]) .drawer-markdown",
    )
    .await;
    let shown = d.text_of(".drawer-markdown").await;
    assert!(shown.contains(HOSTILE), "the summary as text: {shown}");
    assert!(
        d.text_of(".drawer-raw").await.contains("onerror=alert(1)"),
        "the report as received"
    );
    assert_eq!(
        d.js(
            "return [document.querySelectorAll('img, #drawer script').length, !!document.querySelector('.drawer-markdown h1, .drawer-markdown h2')];",
            vec![],
        )
        .await,
        json!([0, true]),
        "no markup from the report; the packet's own headings render"
    );
    std::fs::write(
        repo.path.join("README.md"),
        "# test repo\n\nA line the docs added.\n",
    )
    .unwrap();
    d.click("#drawer .open-diff[data-path=\"README.md\"]").await;
    d.present("the diff's added line", "#drawer table.diff tr.diff-add")
        .await;
    assert!(
        d.text_of("#drawer table.diff")
            .await
            .contains("A line the docs added."),
        "{}",
        d.text_of("#drawer table.diff").await
    );
    d.shoot_at("needs-you-drawer-1440x900.png", 1440, 900, None)
        .await;
    d.press_keys(ESCAPE).await;
    d.present("the drawer to close", "#drawer[hidden]").await;
}

/// Esc goes to the agent (Codex users stop a turn with it); Ctrl+] leaves
/// the terminal, as its tile's bar says while it has the keyboard.
async fn esc_goes_to_the_agent_and_ctrl_bracket_leaves(d: &Browser, z: &str) {
    let frame = format!(".slot[data-session=\"{z}\"] iframe.slot-frame");
    d.present("the Zhongshu's terminal", &frame).await;
    d.switch_to_frame(&frame).await;
    d.wait(
        "the terminal page",
        "return !!document.querySelector('.xterm-helper-textarea');",
        vec![],
    )
    .await;
    d.click(".xterm").await;
    let in_terminal = "return document.activeElement && document.activeElement.classList.contains('xterm-helper-textarea');";
    d.wait("the terminal to have the focus", in_terminal, vec![])
        .await;
    d.switch_to_parent().await;
    let keys = format!(".slot[data-session=\"{z}\"].term-focus .slot-keys");
    d.present("the tile's key hint", &keys).await;
    assert_eq!(
        d.text_of(&keys).await,
        "Esc goes to the agent · Ctrl+] leaves"
    );
    d.switch_to_frame(&frame).await;
    d.press_keys(ESCAPE).await;
    assert_eq!(
        d.js(in_terminal, vec![]).await,
        json!(true),
        "Esc stays in the terminal"
    );
    d.press_chord(browser::CONTROL, "]").await;
    d.wait(
        "the terminal to let the focus go",
        "return !(document.activeElement && document.activeElement.classList.contains('xterm-helper-textarea'));",
        vec![])
    .await;
    d.switch_to_parent().await;
    d.wait("the terminal's tile to hold the focus",
        "const a = document.activeElement; return a && a.classList.contains('slot') ? a.dataset.session : null;",
        vec![],
    )
    .await;
    d.gone("the key hint to go", &keys).await;
}

/// `/` writes a task, `?` lists the keys (Esc closes the list).
async fn slash_writes_a_task_and_question_mark_lists_the_keys(d: &Browser) {
    d.blur().await;
    d.press_keys("/").await;
    assert_eq!(
        d.js("return document.activeElement.id;", vec![]).await,
        json!("task")
    );
    d.blur().await;
    d.press_keys("?").await;
    assert_eq!(
        d.js("return document.querySelector('#shortcuts').open;", vec![])
            .await,
        json!(true)
    );
    d.press_keys(ESCAPE).await;
    d.wait(
        "the shortcuts to close",
        "return !document.querySelector('#shortcuts').open;",
        vec![],
    )
    .await;
}

/// The theme follows the system until toggled; the toggle is kept; dark and
/// light have their own background.
async fn the_theme_follows_the_system_until_toggled(d: &Browser) {
    let background = "return getComputedStyle(document.body).backgroundColor;";
    let theme = "return [document.documentElement.dataset.theme, localStorage.getItem('codex_governance_theme')];";
    let first = d.js(theme, vec![]).await;
    d.click("#theme-toggle").await;
    let second = d.js(theme, vec![]).await;
    assert_ne!(
        first[0], second[0],
        "the toggle switched: {first} -> {second}"
    );
    assert_eq!(second[0], second[1], "and kept it: {second}");
    if second[0] == json!("light") {
        // Shoot the light theme only after seeing the dark one change colour.
        d.click("#theme-toggle").await;
        assert_eq!(d.js(theme, vec![]).await, json!(["dark", "dark"]));
    }
    assert_eq!(
        d.js(background, vec![]).await,
        json!("rgb(13, 17, 23)"),
        "dark"
    );
    d.click("#theme-toggle").await;
    assert_eq!(d.js(theme, vec![]).await, json!(["light", "light"]));
    assert_eq!(
        d.js(background, vec![]).await,
        json!("rgb(255, 255, 255)"),
        "light"
    );
    d.shoot_at("needs-you-light-1440x900.png", 1440, 900, None)
        .await;
}

/// On a phone (the width took, the page redrew for it and is still): no
/// sideways overflow, titles whole.
async fn on_a_phone_nothing_overflows_and_titles_are_whole(d: &Browser) {
    d.resize(390, 844).await;
    d.settle().await;
    page::assert_no_sideways_scroll(d, "the page on a phone").await;
    let cut = d
        .js(
            "return [...document.querySelectorAll('.slot-title, .row-name')].filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1).map(e => e.textContent);",
            vec![],
        )
        .await;
    assert_eq!(cut, json!([]), "titles cut on a phone");
    d.shoot_at("needs-you-phone-390x844.png", 390, 844, None)
        .await;
}

/// Found walking the demo (issue 49 item 1, nothing lost): a department's
/// question stayed unanswered while its planner stopped (a restart whose PTY
/// planner did not come back), and the question left Needs you. It stays,
/// saying why it cannot be answered now, with Put aside and the planner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_whose_planner_stopped_stays_in_needs_you() {
    crate::needs!(Chromium);
    let repo = a_repository_whose_department_asks("Keep the old heading?");
    let launcher = InProcess::start(&repo).await;
    let api = launcher.api.clone();
    let z = api.start_zhongshu("ask").await;
    let dept = the_department_asking(&api, "Keep the old heading?").await;
    api.post_ok("/api/close_session", &json!({"session_id": z}))
        .await;
    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact("needs-you-question-failure.png");
    d.open_dashboard(&launcher.url, &launcher.token).await;
    let item = format!("#needs-you-list .need[data-kind=\"confirm\"][data-session=\"{dept}\"]");
    it_says_its_planner_is_not_running_and_offers_no_confirm(&d, &item, &z).await;
    // Resumed as a new session, the planner carries the plan on: the answer
    // goes to it (found on the second walk: the item stayed unanswerable).
    api.wait_session(&z, "exited", |s| s["status"] == "exited")
        .await;
    let resumed = api
        .post_ok("/api/restart_zhongshu_session", &json!({"session_id": z}))
        .await;
    let heir = resumed["session_id"].as_str().unwrap().to_string();
    assert_ne!(heir, z, "{resumed}");
    let confirm = format!("{item} button[data-action=\"confirm\"]");
    d.present("Confirm, now that a planner hears it", &confirm)
        .await;
    d.click(&confirm).await;
    d.gone("the question, answered", &item).await;
    let answered = api.session(&dept).await;
    assert_eq!(answered["confirmation"]["answer"]["decision"], "confirmed");
    support::wait_until("the resumed planner told", WAIT, || async {
        repo.log(&heir).contains("the user CONFIRMED").then_some(())
    })
    .await;
    d.quit().await;
    launcher.stop().await;
}

/// A repository whose planner's plan is one zhilibu department that asks
/// the user `question` and waits for the answer.
fn a_repository_whose_department_asks(question: &str) -> TestRepo {
    let repo = TestRepo::with_flags(&[]);
    let plan = repo.write_json(
        "plan.json",
        &json!({"summary": "ask", "assignments": [
            {"department": "zhilibu",
             "task": format!("docs [[fake-agent: --needs-confirmation --next-action '{question}']]")},
        ]}),
    );
    repo.write_config(&RepoOptions {
        agent_flags: vec!["--plan-file".into(), plan.display().to_string()],
        ..Default::default()
    });
    repo
}

/// The department that asked `question`, once it asked.
async fn the_department_asking(api: &Api, question: &str) -> String {
    let status = api
        .wait_status("the question asked", |s| {
            s["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["confirmation"]["question"] == question)
        })
        .await;
    status["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["confirmation"]["question"].is_string())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The question's `item` stays in Needs you while its planner `z` is not
/// running, saying so, with no Confirm that would reach no one.
async fn it_says_its_planner_is_not_running_and_offers_no_confirm(
    d: &Browser,
    item: &str,
    z: &str,
) {
    let text = d
        .wait_text("the question in Needs you", item, "Keep the old heading?")
        .await;
    assert!(
        text.contains(&format!("Its planner {z} is not running")),
        "{text}"
    );
    let confirms = d
        .js(
            "return document.querySelectorAll(arguments[0]).length;",
            vec![json!(format!("{item} button[data-action=\"confirm\"]"))],
        )
        .await;
    assert_eq!(confirms, json!(0), "no Confirm that would reach no one");
    d.shoot_at(
        "needs-you-question-no-planner-1440x900.png",
        1440,
        900,
        None,
    )
    .await;
}
