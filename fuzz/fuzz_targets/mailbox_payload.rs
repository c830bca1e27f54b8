//! Mailbox reports are written by agents: any bytes must give a clear verdict.
#![no_main]

use codex_governance::mailbox::ingest::{check_fields, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = parse(data) {
        if let Ok(fields) = check_fields("zhongshu-1", &obj) {
            // Whatever was accepted names only safe ids.
            assert!(codex_governance::ids::is_valid_id(&fields.session_id));
            assert!(codex_governance::ids::is_valid_id(&fields.report_id));
            assert!(!fields.summary.trim().is_empty());
        }
    }
});
