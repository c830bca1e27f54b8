//! Globs and paths come from config and Git: matching must never panic or hang.
//! Input: pattern, a NUL byte, then the path.
#![no_main]

use codex_governance::glob::Glob;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, path) = text.split_once('\0').unwrap_or((text, "src/main.rs"));
    let glob = Glob::new(pattern);
    let matched = glob.is_match(path);
    // The prefix rule: a pattern without wildcards matches itself.
    if !pattern.is_empty() && !pattern.contains(['*', '?', '[']) {
        assert!(glob.is_match(pattern));
    }
    let _ = matched;
});
