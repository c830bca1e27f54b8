//! governance.yaml is user-written: any text loads or fails with a message, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = codex_governance::config::check_yaml("governance.yaml", text) {
            assert!(!e.to_string().is_empty());
        }
    }
});
