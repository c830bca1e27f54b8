//! The Notifications panel (issue 54 item 5) at 1440×900 and 390×844: the
//! channels the launcher reports, what a phone may decide, *Send a test
//! notice* and its delivery's state (tried again after the scripted ntfy's
//! 503), and the open page telling the launcher it is in use.

use serde_json::Value;

use crate::common::browser::Browser;
use crate::common::ntfy::Ntfy;
use crate::common::scenario::Scenario;
use crate::common::{axe, page};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notifications_panel_shows_channels_and_a_test_notices_delivery_on_desk_and_phone() {
    crate::needs!(Chromium);
    let ntfy = Ntfy::start().await;
    ntfy.answer(&[503]);
    let (_repo, server) = Scenario::new()
        .launcher(&format!(
            "  notify:\n    ntfy: {{server: \"{}\", topic: cg-panel}}\n    quiet_hours: '22:00-07:00'\n",
            ntfy.url()
        ))
        .serve()
        .await;
    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact("notify-panel-failure.png");
    d.open_dashboard(&server.url, &server.token).await;
    // The open page says it is in use: notices wait while it is.
    let view: Value = crate::common::launcher::wait_until(
        "the page's presence",
        std::time::Duration::from_secs(60),
        || async {
            let v = server.api.get_ok("/api/notify").await;
            (v["notify"]["tab_in_use"] == true).then_some(v)
        },
    )
    .await;
    assert_eq!(view["notify"]["remote_decisions"], "decline_only", "{view}");
    d.click("#notify-details summary").await;
    d.present("the ntfy channel", ".notify-channel[data-channel=\"ntfy\"]")
        .await;
    let text = d.text_of("#notify-body").await;
    assert!(
        text.contains("cg-panel") && text.contains("decline only"),
        "{text}"
    );
    assert!(text.contains("quiet 22:00-07:00"), "{text}");
    d.click("#notify-test").await;
    // The first try met a 503; the retry went out.
    d.present("a sent delivery", ".notify-delivery[data-state=\"sent\"]")
        .await;
    let published = ntfy.published();
    assert_eq!(published.len(), 2, "{published:?}");
    d.settle().await;
    d.shoot("notify-panel-1440x900.png", Some("#notify-panel"))
        .await;
    axe::accessible(&d, "the Notifications panel open").await;
    d.resize(390, 844).await;
    d.settle().await;
    page::assert_no_sideways_scroll(&d, "the Notifications panel on a phone").await;
    d.shoot("notify-panel-390x844.png", Some("#notify-panel"))
        .await;
    server.stop().await;
}
