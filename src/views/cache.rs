//! The last `/api/status` body, so that many dashboards polling at once cost
//! one build. It is rebuilt when what it was built from changed (the state,
//! the audit log, the cached facts or the clock's second), or when agent
//! output changed and the body is older than [`OUTPUT_STALENESS`]; one
//! request rebuilds, the others wait.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// How stale the status may be when only agent output changed (previews, idle times).
pub const OUTPUT_STALENESS: Duration = Duration::from_millis(250);

/// What a status body was built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheKey {
    /// The store's version (every change moves it).
    pub store: u64,
    /// The audit log's last sequence number.
    pub audit_seq: u64,
    /// The cached facts' version.
    pub facts: u64,
    /// The clock's second (idle times count in seconds).
    pub second: u64,
}

/// The last status body and what it was built from.
#[derive(Default)]
pub struct StatusCache {
    entry: Mutex<Option<Cached>>,
}

struct Cached {
    key: CacheKey,
    /// The agents' total output when it was built.
    output: u64,
    built: Instant,
    body: Bytes,
}

impl StatusCache {
    /// The body for `key` while the agents' total output is `output`: the
    /// cached one when it still holds, else the one `build` makes (kept).
    pub fn get_or_build(&self, key: CacheKey, output: u64, build: impl FnOnce() -> Bytes) -> Bytes {
        let mut entry = self.entry.lock().unwrap();
        if let Some(c) = entry.as_ref() {
            if c.key == key && (c.output == output || c.built.elapsed() < OUTPUT_STALENESS) {
                return c.body.clone();
            }
        }
        let body = build();
        *entry = Some(Cached {
            key,
            output,
            built: Instant::now(),
            body: body.clone(),
        });
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(store: u64) -> CacheKey {
        CacheKey {
            store,
            audit_seq: 1,
            facts: 1,
            second: 1,
        }
    }

    #[test]
    fn a_body_is_built_again_only_when_what_it_was_built_from_moved() {
        let cache = StatusCache::default();
        let builds = std::cell::Cell::new(0);
        let get = |k: CacheKey, text: &'static str| {
            cache.get_or_build(k, 0, || {
                builds.set(builds.get() + 1);
                Bytes::from(text)
            })
        };
        assert_eq!(get(key(1), "a"), "a");
        assert_eq!(get(key(1), "b"), "a", "nothing moved");
        assert_eq!(get(key(2), "c"), "c", "the state moved");
        assert_eq!(
            get(CacheKey { facts: 2, ..key(2) }, "d"),
            "d",
            "the facts moved"
        );
        assert_eq!(builds.get(), 3);
    }
}
