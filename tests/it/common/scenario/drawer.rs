//! The page steps the drawer's tests repeat: a department's work opened from
//! its Review button, and a view shot at the desk's size and on a phone's
//! (axe at the desk, nothing sideways on the phone) before the window goes
//! back to the desk's size.

use serde_json::json;

use crate::common::browser::Browser;
use crate::common::{axe, page};

/// Opens `id`'s work in the drawer by its Review button. Its row comes with
/// the page's first answers: it is there before it is clicked.
pub async fn open_changes(page: &Browser, id: &str) {
    page.present(
        "its Review button",
        &format!("[data-open-changes=\"{id}\"]"),
    )
    .await;
    page.js(
        "document.querySelector(`[data-open-changes=\"${arguments[0]}\"]`).click();",
        vec![json!(id)],
    )
    .await;
}

/// Where a screenshot is taken: the element scrolled to the window's top
/// ([`Browser::shoot`]) or to its middle ([`Browser::shoot_centered`]).
#[derive(Clone, Copy)]
pub enum Shot<'a> {
    Top(&'a str),
    Centered(&'a str),
}

impl Shot<'_> {
    async fn take(self, page: &Browser, file: &str) {
        match self {
            Shot::Top(at) => page.shoot(file, Some(at)).await,
            Shot::Centered(at) => page.shoot_centered(file, at).await,
        }
    }
}

/// `view` at the desk (1440×900: `<stem>-1440x900.png` of `desk`, axe finds
/// nothing serious) and on a phone (390×844: nothing overflows sideways,
/// `<stem>-390x844.png` of `phone`); the window is the desk's again after.
pub async fn at_desk_and_on_a_phone(
    page: &Browser,
    stem: &str,
    view: &str,
    desk: Shot<'_>,
    phone: Shot<'_>,
) {
    desk.take(page, &format!("{stem}-1440x900.png")).await;
    axe::accessible(page, view).await;
    page.resize(390, 844).await;
    page.settle().await;
    page::assert_no_sideways_scroll(page, &format!("{view}, on a phone")).await;
    phone.take(page, &format!("{stem}-390x844.png")).await;
    page.resize(1440, 900).await;
    page.settle().await;
}
