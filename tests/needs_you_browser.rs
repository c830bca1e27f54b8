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

#[path = "common/browser.rs"]
mod browser;
#[path = "support/launcher.rs"]
mod support;

use std::time::Duration;

use browser::{save_artifact, Browser};
use serde_json::{json, Value};
use support::{InProcess, RepoOptions, TestRepo};

const WAIT: Duration = Duration::from_secs(45);
/// A report summary that would be live markup if anything parsed it as HTML.
const HOSTILE: &str = "<img src=x onerror=alert(1)> <script>alert(2)</script>";
const ESCAPE: &str = "\u{E00C}";

async fn wait_js(d: &Browser, what: &str, script: &str, args: Vec<Value>) -> Value {
    d.wait_js(what, script, args, WAIT).await
}

async fn present(d: &Browser, what: &str, css: &str) {
    wait_js(
        d,
        what,
        "return !!document.querySelector(arguments[0]);",
        vec![json!(css)],
    )
    .await;
}

async fn gone(d: &Browser, what: &str, css: &str) {
    wait_js(
        d,
        what,
        "return !document.querySelector(arguments[0]);",
        vec![json!(css)],
    )
    .await;
}

async fn text_of(d: &Browser, css: &str) -> String {
    d.js(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
        vec![json!(css)],
    )
    .await
    .as_str()
    .unwrap_or("")
    .to_string()
}

async fn shoot(d: &Browser, name: &str, width: u32, height: u32) {
    d.set_size(width, height).await;
    wait_js(
        d,
        "the window size",
        "return Math.abs(window.innerWidth - arguments[0]) < 40;",
        vec![json!(width)],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    d.js("window.scrollTo(0, 0);", vec![]).await;
    let png = d.screenshot_png().await.expect("a screenshot");
    save_artifact(&format!("needs-you-{name}-{width}x{height}.png"), &png);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn needs_you_plain_states_keyboard_theme_and_phone() {
    let repo = TestRepo::new(RepoOptions::default());
    let launcher = InProcess::start(&repo).await;
    let api = launcher.api.clone();
    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact("needs-you-failure.png");
    d.goto(&format!("{}/#token={}", launcher.url, launcher.token))
        .await;
    present(&d, "the live indicator", "#conn.live").await;
    assert_eq!(
        d.js(
            "return document.querySelector('#needs-you').hidden;",
            vec![]
        )
        .await,
        json!(true),
        "nothing needs the user yet"
    );

    // -- a plan that waits for confirmation is listed, with the count in the title
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
    let plan_item = format!("#needs-you-list .need[data-kind=\"plan\"][data-session=\"{z}\"]");
    present(&d, "the plan in Needs you", &plan_item).await;
    assert!(
        text_of(&d, &plan_item)
            .await
            .contains("awaits your confirmation"),
        "{}",
        text_of(&d, &plan_item).await
    );
    wait_js(
        &d,
        "the count in the tab title",
        "return document.title.startsWith('(1) ') ? document.title : null;",
        vec![],
    )
    .await;
    shoot(&d, "plan", 1440, 900).await;

    // -- started from there (once it shows the plan's revision): both departments start, the item goes
    present(
        &d,
        "the plan's revision in Needs you",
        &format!(
            "{plan_item}[data-revision=\"1\"] button[data-action=\"start-plan\"]:not([disabled])"
        ),
    )
    .await;
    d.click(&format!("{plan_item} button[data-action=\"start-plan\"]"))
        .await;
    // The plan is shown first; it starts from the dialog.
    present(&d, "the plan dialog", "#plan-dialog[open]").await;
    assert!(
        text_of(&d, "#plan-dialog").await.contains("Break"),
        "the dialog shows the assignments"
    );
    d.click("#plan-dialog button[data-action=\"start-reviewed\"]")
        .await;
    gone(&d, "the plan item to go", &plan_item).await;
    let dispatched = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_eq!(
        dispatched["plan"]["status"],
        json!("dispatched"),
        "{dispatched}"
    );

    // -- plain states: one reports, the other fails with exit 3 and no report
    let failed_row = ".session-row[data-state=\"failed\"]";
    present(&d, "the failed department's row", failed_row).await;
    let badge = text_of(&d, &format!("{failed_row} .badge")).await;
    assert_eq!(badge, "failed: exit 3");
    let failed_id = d
        .js(
            "return document.querySelector(arguments[0]).dataset.id;",
            vec![json!(failed_row)],
        )
        .await
        .as_str()
        .unwrap()
        .to_string();
    let failed_item =
        format!("#needs-you-list .need[data-kind=\"failed\"][data-session=\"{failed_id}\"]");
    present(&d, "the failure in Needs you", &failed_item).await;
    assert!(
        text_of(&d, &failed_item).await.contains("fallback result"),
        "{}",
        text_of(&d, &failed_item).await
    );
    present(
        &d,
        "the reporting department's row",
        ".session-row[data-state=\"reported\"]",
    )
    .await;
    // The launcher files a fallback result for it after a short grace.
    support::wait_until("the failed department's fallback", WAIT, || {
        let api = api.clone();
        let (z, failed_id) = (z.clone(), failed_id.clone());
        async move {
            let inbox = api
                .get_ok(&format!("/api/zhongshu_inbox?id={z}&peek=1"))
                .await;
            inbox["results"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| {
                    r["department_session_id"] == json!(failed_id)
                        && r["source"] == "launcher_fallback"
                })
                .then_some(())
        }
    })
    .await;
    shoot(&d, "failed", 1440, 900).await;
    d.click(&format!("{failed_item} button[data-action=\"dismiss\"]"))
        .await;
    gone(&d, "the dismissed failure", &failed_item).await;

    // -- review in the page: the packet (hostile text stays text), the raw report, a diff
    let open = ".inbox-result[data-department=\"zhilibu\"] button.open-handoff";
    present(&d, "the reported result's Open button", open).await;
    d.click(open).await;
    present(
        &d,
        "the packet in the drawer",
        "#drawer:not([hidden]) .drawer-markdown",
    )
    .await;
    let shown = text_of(&d, ".drawer-markdown").await;
    assert!(shown.contains(HOSTILE), "the summary as text: {shown}");
    assert!(
        text_of(&d, ".drawer-raw")
            .await
            .contains("onerror=alert(1)"),
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
    present(
        &d,
        "the diff's added line",
        "#drawer table.diff tr.diff-add",
    )
    .await;
    assert!(
        text_of(&d, "#drawer table.diff")
            .await
            .contains("A line the docs added."),
        "{}",
        text_of(&d, "#drawer table.diff").await
    );
    shoot(&d, "drawer", 1440, 900).await;
    d.press_keys(ESCAPE).await;
    present(&d, "the drawer to close", "#drawer[hidden]").await;

    // -- Esc goes to the agent (Codex users stop a turn with it); Ctrl+]
    // leaves the terminal, as its bar says while it has the keyboard
    let frame = format!(".slot[data-session=\"{z}\"] iframe.slot-frame");
    present(&d, "the Zhongshu's terminal", &frame).await;
    d.switch_to_frame(&frame).await;
    d.wait_js(
        "the terminal page",
        "return !!document.querySelector('.xterm-helper-textarea');",
        vec![],
        WAIT,
    )
    .await;
    d.click(".xterm").await;
    let in_terminal = "return document.activeElement && document.activeElement.classList.contains('xterm-helper-textarea');";
    d.wait_js("the terminal to have the focus", in_terminal, vec![], WAIT)
        .await;
    d.switch_to_parent().await;
    let keys = format!(".slot[data-session=\"{z}\"].term-focus .slot-keys");
    present(&d, "the tile's key hint", &keys).await;
    assert_eq!(
        text_of(&d, &keys).await,
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
    d.wait_js(
        "the terminal to let the focus go",
        "return !(document.activeElement && document.activeElement.classList.contains('xterm-helper-textarea'));",
        vec![],
        WAIT,
    )
    .await;
    d.switch_to_parent().await;
    wait_js(
        &d,
        "the terminal's tile to hold the focus",
        "const a = document.activeElement; return a && a.classList.contains('slot') ? a.dataset.session : null;",
        vec![],
    )
    .await;
    gone(&d, "the key hint to go", &keys).await;

    // -- `/` writes a task, `?` lists the keys
    d.js("document.activeElement.blur();", vec![]).await;
    d.press_keys("/").await;
    assert_eq!(
        d.js("return document.activeElement.id;", vec![]).await,
        json!("task")
    );
    d.js("document.activeElement.blur();", vec![]).await;
    d.press_keys("?").await;
    assert_eq!(
        d.js("return document.querySelector('#shortcuts').open;", vec![])
            .await,
        json!(true)
    );
    d.press_keys(ESCAPE).await;
    wait_js(
        &d,
        "the shortcuts to close",
        "return !document.querySelector('#shortcuts').open;",
        vec![],
    )
    .await;

    // -- the theme follows the system until toggled; the toggle is kept
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
    shoot(&d, "light", 1440, 900).await;

    // -- on a phone: no sideways overflow, titles whole
    d.set_size(390, 844).await;
    wait_js(
        &d,
        "the phone width",
        "return window.innerWidth < 450;",
        vec![],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let overflow = d
        .js(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await;
    assert!(
        overflow[0].as_u64() <= overflow[1].as_u64(),
        "the page is wider than the phone: {overflow}"
    );
    let cut = d
        .js(
            "return [...document.querySelectorAll('.slot-title, .row-name')].filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1).map(e => e.textContent);",
            vec![],
        )
        .await;
    assert_eq!(cut, json!([]), "titles cut on a phone");
    shoot(&d, "phone", 390, 844).await;

    assert_eq!(d.open_alert().await, None);
    d.quit().await;
    launcher.stop().await;
}
