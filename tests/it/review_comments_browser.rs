//! Review comments in the changes drawer (issue 51 item 1), in headless
//! Chromium at 1440×900 and 390×844: a line commented by a click and one by
//! the keyboard (c on a focused line, ↑ ↓ between lines, Ctrl+Enter saves,
//! Esc cancels), a draft edited and one deleted, the pending counts on the
//! file and in the drawer's title, then Send back… with the drafts and no
//! note, and the plan card's "sent back once with 2 comments". Screenshots:
//! `tests/artifacts/review-comments-*.png`.

use crate::common::axe;
use crate::common::browser::{Browser, CONTROL, ENTER, ESCAPE, WAIT};
use crate::common::launcher::*;
use crate::common::page;
use crate::review_comments::one_attempt_recorded;

use serde_json::json;

const FILE: &str = "#drawer details.file-diff[data-path=\"src/a.rs\"]";

fn line(side: &str, n: u32) -> String {
    format!("{FILE} tr.diff-line[data-{side}-line=\"{n}\"]")
}

/// The dashboard at `width` × `height` with department `id`'s changes open.
async fn drawer_of(
    server: &InProcess,
    id: &str,
    width: u32,
    height: u32,
    artifact: &str,
) -> Browser {
    let d = Browser::start(width, height)
        .await
        .with_failure_artifact(artifact);
    d.open_dashboard(&server.url, &server.token).await;
    d.click(&format!("#needs-you-list [data-open-changes=\"{id}\"]"))
        .await;
    d.present("the diff's lines", &line("new", 3)).await;
    d
}

/// Draft words on the page, in order.
async fn drafts(d: &Browser) -> Vec<String> {
    let v = d
        .js(
            "return [...document.querySelectorAll('#drawer tr.comment-draft .comment-body')].map((b) => b.textContent);",
            vec![],
        )
        .await;
    serde_json::from_value(v).unwrap()
}

/// Line 3 by a click on its code, line 7 by the keyboard; a third (on the
/// old side, by c on a removed line) deleted; line 7's draft edited. Each
/// step waits for the page to show it.
async fn comment_by_mouse_and_keyboard(d: &Browser, size: &str) {
    d.click(&format!("{} td.code", line("new", 3))).await;
    d.present("the comment form", "#drawer tr.comment-form textarea")
        .await;
    d.type_into("#drawer tr.comment-form textarea", "name it three")
        .await;
    d.click("#drawer tr.comment-form .comment-save").await;
    d.wait_count("one draft", "#drawer tr.comment-draft", 1)
        .await;
    d.wait_text(
        "the title's count",
        "#drawer-title .pending-comments",
        "1 comment pending",
    )
    .await;
    assert_eq!(
        d.text_of(&format!("{FILE} .comment-count")).await,
        "1 comment pending"
    );

    // The keyboard: c with no line focused goes to the file's first line,
    // ↓ eight times to the new line 7 (l1 l2 −l3 +L3 l4 l5 l6 −l7 +L7).
    d.blur().await;
    d.press_keys("c").await;
    d.wait(
        "the first line focused",
        "return document.activeElement.matches('tr.diff-line');",
        vec![],
    )
    .await;
    d.press_keys(&"\u{E015}".repeat(8)).await;
    let at = d
        .js(
            "return document.activeElement.dataset.newLine || null;",
            vec![],
        )
        .await;
    assert_eq!(at, "7", "↓ moved to the new line 7 ({size})");
    // Esc cancels a form and leaves the drawer open.
    d.press_keys("c").await;
    d.present("the form", "#drawer tr.comment-form textarea")
        .await;
    d.press_keys(ESCAPE).await;
    d.gone("the form", "#drawer tr.comment-form").await;
    assert!(
        !d.hidden("#drawer").await,
        "Esc closed the form, not the drawer"
    );
    d.press_keys("c").await;
    d.present("the form", "#drawer tr.comment-form textarea")
        .await;
    d.press_keys("and seven").await;
    d.press_chord(CONTROL, ENTER).await;
    d.wait_count("two drafts", "#drawer tr.comment-draft", 2)
        .await;

    // A removed line takes a comment on the old side; it is deleted.
    d.js(
        &format!(
            "document.querySelector('{}').focus();",
            line("old", 3).replace('\'', "\\'")
        ),
        vec![],
    )
    .await;
    d.press_keys("c").await;
    d.present("the form", "#drawer tr.comment-form textarea")
        .await;
    d.press_keys("why drop l3?").await;
    d.press_chord(CONTROL, ENTER).await;
    d.wait_count("three drafts", "#drawer tr.comment-draft", 3)
        .await;
    d.wait_text(
        "the title's count",
        "#drawer-title .pending-comments",
        "3 comments pending",
    )
    .await;
    d.click(
        "#drawer tr.comment-draft [aria-label^=\"delete this draft on src/a.rs:3 (old side)\"]",
    )
    .await;
    d.wait_count("two drafts again", "#drawer tr.comment-draft", 2)
        .await;

    // Line 7's draft edited in place.
    d.click("#drawer tr.comment-draft [aria-label=\"edit this draft on src/a.rs:7\"]")
        .await;
    d.present("the form", "#drawer tr.comment-form textarea")
        .await;
    d.clear("#drawer tr.comment-form textarea").await;
    d.type_into("#drawer tr.comment-form textarea", "and seven, too")
        .await;
    d.click("#drawer tr.comment-form .comment-save").await;
    d.wait(
        "the edited draft",
        "return [...document.querySelectorAll('#drawer tr.comment-draft .comment-body')].some((b) => b.textContent === 'and seven, too');",
        vec![],
    )
    .await;
    assert_eq!(
        drafts(d).await,
        ["name it three", "and seven, too"],
        "{size}"
    );
    assert_eq!(
        d.text_of("#drawer-title .pending-comments").await,
        "2 comments pending"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_by_mouse_and_keyboard_go_back_with_send_back_on_a_desktop() {
    crate::needs!(Chromium);
    let (_repo, server, _z, first) = one_attempt_recorded().await;
    let d = drawer_of(
        &server,
        &first,
        1440,
        900,
        "review-comments-failure-1440.png",
    )
    .await;
    comment_by_mouse_and_keyboard(&d, "1440x900").await;
    d.shoot("review-comments-drafts-1440x900.png", Some(FILE))
        .await;
    axe::accessible(&d, "the changes drawer with review comments").await;

    // Send back… with the drafts: no note needed.
    d.click("#drawer .decide-send-back").await;
    let question = d.text_of("#drawer .decision-question").await;
    assert!(question.contains("with your 2 comments"), "{question}");
    d.shoot(
        "review-comments-send-back-1440x900.png",
        Some("#drawer .decision-actions"),
    )
    .await;
    d.click("#drawer [data-confirm=\"send_back\"]").await;
    let api = &server.api;
    let sent = wait_until("the review sent back", PATIENCE, || async {
        api.audit_events("review_sent_back").await.pop()
    })
    .await;
    assert_eq!(sent["comments"], 2, "{sent}");
    // Walk 3 of issue 49: the drawer said "Nothing to decide: sent back."
    // and led nowhere; it names the new attempt and opens it.
    let successor = sent["successor"].as_str().unwrap();
    let next = format!("#drawer .decision-actions [data-open-changes=\"{successor}\"]");
    d.present("the way to the new attempt", &next).await;
    let words = d.text_of("#drawer .decision-actions").await;
    assert!(
        words.contains(&format!("goes on in {successor}")),
        "{words}"
    );
    d.click(&next).await;
    d.wait_text("the new attempt's drawer", "#drawer-title", successor)
        .await;
    d.press_keys(ESCAPE).await;
    d.js(
        "const t = document.querySelector('.view-tab[data-panel=\"focus-panel\"]'); if (t && t.offsetParent) t.click();",
        vec![],
    )
    .await;
    let card = d
        .wait_text(
            "the plan card",
            ".plan-view .reruns",
            "sent back once with 2 comments",
        )
        .await;
    assert!(card.contains(&format!("earlier {first}")), "{card}");
    // The new attempt's row: no note, so no words are shown as the user's.
    let row = d
        .wait_text(
            "the new attempt's row",
            &format!(
                ".session-row[data-id=\"{}\"] .row-task",
                sent["successor"].as_str().unwrap()
            ),
            "Sent back by you",
        )
        .await;
    assert!(
        row.ends_with("\nSent back by you with 2 line comments"),
        "{row:?}"
    );
    d.shoot("review-comments-plan-card-1440x900.png", Some(".plan-view"))
        .await;
    d.quit().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_by_tap_and_keyboard_on_a_phone_and_the_next_attempt_shows_them() {
    crate::needs!(Chromium);
    let (_repo, server, _z, first) = one_attempt_recorded().await;
    let d = drawer_of(&server, &first, 390, 844, "review-comments-failure-390.png").await;
    comment_by_mouse_and_keyboard(&d, "390x844").await;
    page::assert_no_sideways_scroll(&d, "the drawer with comments on a phone").await;
    d.shoot("review-comments-drafts-390x844.png", Some(FILE))
        .await;

    // The next attempt (line 3 fixed, line 7 not) shows them addressed and open.
    let fix = r"l1\\nl2\\nthree\\nl4\\nl5\\nl6\\nL7\\nl8\\nl9\\n";
    let sent = server
        .api
        .post_ok(
            "/api/send_back",
            &json!({"session_id": first, "note": format!(
                "[[fake-agent: --work-seconds 1 --write src/a.rs={fix} --changed-file src/a.rs]]")}),
        )
        .await;
    let second = sent["successor"].as_str().unwrap().to_string();
    server
        .api
        .wait_session(&second, "recorded", |s| {
            s["workspace"]["state"] == "pending" && s["status"] == "exited"
        })
        .await;
    // Its row says what went back: the note and how many comments.
    let task = d
        .wait_js(
            "the sent-back session's task",
            "const t = document.querySelector(`.session-row[data-id=\"${arguments[0]}\"] .row-task`); return t && t.textContent.includes('Sent back by you') ? t.textContent : null;",
            vec![json!(second)],
            WAIT,
        )
        .await;
    let task = task.as_str().unwrap();
    assert!(task.ends_with("(with 2 line comments)"), "{task:?}");
    assert!(!task.contains("The user's review"), "{task:?}");
    d.press_keys(ESCAPE).await;
    d.click(&format!("#needs-you-list [data-open-changes=\"{second}\"]"))
        .await;
    d.present(
        "the next attempt's addressed comment",
        "#drawer .comment-addressed",
    )
    .await;
    d.present("its open comment", "#drawer .comment-open").await;
    let said = d.text_of("#drawer .review-comments-said").await;
    assert_eq!(said, "Review comments: 1 open · 1 addressed.");
    d.click("#drawer .comment-open [aria-label^=\"resolve the comment\"]")
        .await;
    d.present("it resolved", "#drawer .comment-resolved").await;
    page::assert_no_sideways_scroll(&d, "the next attempt's drawer on a phone").await;
    d.shoot(
        "review-comments-next-attempt-390x844.png",
        Some("#drawer .review-comments"),
    )
    .await;
    d.shoot_at(
        "review-comments-next-attempt-1440x900.png",
        1440,
        900,
        Some("#drawer .review-comments"),
    )
    .await;
    d.quit().await;
    server.stop().await;
}
