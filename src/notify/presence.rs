//! Whether a dashboard tab is in use, so no notice goes out while the user is
//! at the page (issue 54), told by each tab: "in use" every 20 s while it is
//! visible and used, trusted for [`PRESENCE_FRESH`]; "left" when it is hidden
//! or closed, which counts at once (issue 70 item 12: a notice came 40 s after
//! the tab closed). Kept per tab, so one tab going away does not make
//! another, still in use, absent.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How long a tab's "in use" holds notices.
pub const PRESENCE_FRESH: Duration = Duration::from_secs(45);
/// The most tabs followed; past it the one heard from longest ago is dropped.
const MAX_TABS: usize = 32;
/// The longest tab id kept (the page makes a random one).
const MAX_TAB_ID: usize = 64;

/// The tabs that said they are in use, with when (ms on the notifier's clock).
#[derive(Debug, Default)]
pub struct Presence {
    tabs: Mutex<HashMap<String, u64>>,
}

impl Presence {
    /// Tab `tab` is in use (`visible`) or left (`!visible`) at `now_ms`; a
    /// page of an older launcher names no tab and counts as one.
    pub fn said(&self, tab: Option<&str>, visible: bool, now_ms: u64) {
        let tab: String = tab.unwrap_or("").chars().take(MAX_TAB_ID).collect();
        let mut tabs = self.tabs.lock().unwrap();
        if !visible {
            tabs.remove(&tab);
            return;
        }
        tabs.retain(|_, seen| fresh(*seen, now_ms));
        if tabs.len() >= MAX_TABS && !tabs.contains_key(&tab) {
            let oldest = tabs
                .iter()
                .min_by_key(|(_, seen)| **seen)
                .map(|(t, _)| t.clone());
            if let Some(oldest) = oldest {
                tabs.remove(&oldest);
            }
        }
        tabs.insert(tab, now_ms);
    }

    /// Whether some tab is in use at `now_ms`, and until when it counts.
    pub fn in_use_until(&self, now_ms: u64) -> Option<u64> {
        let tabs = self.tabs.lock().unwrap();
        tabs.values()
            .filter(|seen| fresh(**seen, now_ms))
            .map(|seen| seen + PRESENCE_FRESH.as_millis() as u64)
            .max()
    }
}

fn fresh(seen_ms: u64, now_ms: u64) -> bool {
    now_ms < seen_ms + PRESENCE_FRESH.as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tab_that_leaves_counts_at_once_and_another_in_use_still_holds() {
        let p = Presence::default();
        assert_eq!(p.in_use_until(0), None);
        p.said(Some("a"), true, 1_000);
        p.said(Some("b"), true, 2_000);
        assert_eq!(p.in_use_until(3_000), Some(47_000));
        p.said(Some("b"), false, 3_000);
        assert_eq!(p.in_use_until(3_000), Some(46_000), "a is still in use");
        p.said(Some("a"), false, 3_500);
        assert_eq!(
            p.in_use_until(3_500),
            None,
            "both left: at once, not in 45 s"
        );
        p.said(None, true, 10_000);
        assert_eq!(p.in_use_until(54_999), Some(55_000));
        assert_eq!(p.in_use_until(55_000), None, "stale after 45 s");
    }

    #[test]
    fn tabs_are_bounded() {
        let p = Presence::default();
        for i in 0..100u64 {
            p.said(Some(&format!("tab-{i}")), true, 1_000 + i);
        }
        assert_eq!(p.tabs.lock().unwrap().len(), MAX_TABS);
        p.said(Some(&"x".repeat(1000)), true, 2_000);
        assert!(p.tabs.lock().unwrap().keys().all(|k| k.len() <= MAX_TAB_ID));
    }
}
