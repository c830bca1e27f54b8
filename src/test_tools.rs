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

/// The process id a test's program wrote to `marker`, once it has.
#[cfg(target_os = "linux")]
pub async fn pid_written(marker: &std::path::Path) -> u32 {
    loop {
        let said = std::fs::read_to_string(marker).unwrap_or_default();
        if let Ok(pid) = said.trim().parse() {
            return pid;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// True once `pid` has ended (reaped, or a zombie whose parent ended too),
/// false if it still runs after about 5 s.
#[cfg(target_os = "linux")]
pub async fn ends(pid: u32) -> bool {
    for _ in 0..250 {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(')').next().map(|r| r.trim().chars().next()));
        if matches!(state, None | Some(Some('Z'))) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}
