//! Coalescing notices: results registered within one window make one notice
//! per Zhongshu. The first result of a window schedules the notice; the others
//! join it; the notice takes them all.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct PendingNotices {
    by_zhongshu: Mutex<HashMap<String, Vec<String>>>,
}

impl PendingNotices {
    /// Adds result keys; true when they open a window (the caller schedules the notice).
    pub fn add(&self, zhongshu_id: &str, keys: impl IntoIterator<Item = String>) -> bool {
        let mut pending = self.by_zhongshu.lock().unwrap();
        let list = pending.entry(zhongshu_id.to_string()).or_default();
        let opens = list.is_empty();
        list.extend(keys);
        opens && !list.is_empty()
    }

    /// Closes the window: every key gathered for this Zhongshu, in order.
    pub fn take(&self, zhongshu_id: &str) -> Vec<String> {
        self.by_zhongshu
            .lock()
            .unwrap()
            .remove(zhongshu_id)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_notice_per_window_and_zhongshu() {
        let p = PendingNotices::default();
        assert!(
            p.add("zhongshu-1", ["a".into()]),
            "the first opens a window"
        );
        assert!(!p.add("zhongshu-1", ["b".into()]), "the next joins it");
        assert!(
            p.add("zhongshu-2", ["c".into()]),
            "windows are per Zhongshu"
        );
        assert!(!p.add("zhongshu-3", []), "nothing opens nothing");
        assert_eq!(p.take("zhongshu-1"), ["a", "b"]);
        assert!(p.take("zhongshu-1").is_empty());
        assert!(
            p.add("zhongshu-1", ["d".into(), "e".into()]),
            "a new window after the notice, a batch at once"
        );
        assert_eq!(p.take("zhongshu-2"), ["c"]);
    }
}
