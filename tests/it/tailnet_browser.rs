//! Pairing a phone in the page and the page as a paired phone sees it (issue
//! 54, tier 2), in headless Chromium: at the desk (1440×900) *Pair a phone*
//! shows the tailnet address once with its QR code and lists the phone; on
//! the phone (390×844, the phone's token) the desk-only panels are gone, the
//! planner's tile is there and nothing scrolls sideways. (Requests through
//! the tailnet name itself: `tailnet.rs`.)
//! Screenshots: `tests/artifacts/phone-pairing-1440x900.png`,
//! `tests/artifacts/phone-page-390x844.png`.

use crate::common::browser::Browser;
use crate::common::launcher::InProcess;
use crate::common::scenario::Scenario;
use crate::common::{axe, page};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_is_paired_in_the_page_and_its_page_offers_only_what_it_may_do() {
    crate::needs!(Chromium);
    let repo = Scenario::new().repo();
    let server = InProcess::start_allowing(&repo, "desk.tail1234.ts.net").await;
    let z = server.api.start_zhongshu("Plan from the phone").await;
    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact("phone-pairing-failure.png");
    d.open_dashboard(&server.url, &server.token).await;
    d.click("#notify-details summary").await;
    d.present("the pairing form", "#phone-pair").await;
    d.type_into("#phone-label", "pocket").await;
    d.click("#phone-pair").await;
    d.present("the pairing code", ".phone-qr svg").await;
    let url = d.text_of(".phone-url").await;
    assert!(
        url.starts_with("https://desk.tail1234.ts.net/#token="),
        "{url}"
    );
    d.wait_text("the paired phone listed", ".phones", "pocket")
        .await;
    d.settle().await;
    d.shoot("phone-pairing-1440x900.png", Some("#notify-panel"))
        .await;
    axe::accessible(&d, "the Notifications panel with a phone paired").await;
    let phone = url.split("#token=").nth(1).unwrap().to_string();

    let p = Browser::start(390, 844)
        .await
        .with_failure_artifact("phone-page-failure.png");
    p.open_dashboard(&server.url, &phone).await;
    p.present("the phone's scope", "body[data-scope=\"phone\"]")
        .await;
    p.present(
        "the planner's row",
        &format!(".session-row[data-id=\"{z}\"]"),
    )
    .await;
    let shown = p
        .js(
            "return ['#start-panel', '#terminals-panel', '#timeline-panel', '#notify-panel', '#inbox-panel']
               .filter((s) => { const e = document.querySelector(s); return e && e.offsetParent; });",
            vec![],
        )
        .await;
    assert_eq!(
        shown,
        serde_json::json!([]),
        "desk-only panels on the phone"
    );
    p.settle().await;
    page::assert_no_sideways_scroll(&p, "the page on a paired phone").await;
    p.shoot("phone-page-390x844.png", None).await;
    server.stop().await;
}
