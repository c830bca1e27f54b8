//! Unit tests that need a program beyond Rust and git (gpg, git-lfs). A bare
//! `cargo test` without it passes: the test returns after one line on stderr,
//! past the harness's capture, naming it and `tools/test.sh`. Under
//! `CODEX_GOVERNANCE_TEST_ALL_TIERS` (set by `tools/test.sh`, which installs
//! them) a missing one fails the test. The integration tests' tiers follow
//! the same rule (`tests/it/common/tier.rs`).

use std::io::Write as _;
use std::path::PathBuf;

/// `name` found on PATH; else a failure under `CODEX_GOVERNANCE_TEST_ALL_TIERS`,
/// or one line on stderr and None (the test returns).
pub fn program(name: &str, package: &str) -> Option<PathBuf> {
    if let Some(found) = crate::platform::find_program(name) {
        return Some(found);
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    assert!(
        std::env::var_os("CODEX_GOVERNANCE_TEST_ALL_TIERS").is_none(),
        "{test} needs {name}, and CODEX_GOVERNANCE_TEST_ALL_TIERS asks for every tier: \
         run tools/test.sh (it installs {package})"
    );
    let _ = writeln!(
        std::io::stderr(),
        "not run: {test}: needs {name} (not on PATH); run tools/test.sh (it installs {package} and runs every tier)"
    );
    None
}
