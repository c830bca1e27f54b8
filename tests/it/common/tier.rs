//! The tiers of the suite that need more than Rust and git: headless Chromium
//! (the browser tests), the pinned Codex CLI (the Codex tests), OpenSSH (hosts
//! on loopback), the ACP adapters, and podman (departments in containers).
//!
//! A fresh `cargo test` without them passes: a test that needs a missing one
//! returns at its first line, after one line on stderr naming the test, what
//! it needs and `tools/test.sh`. That line is written past the harness's
//! output capture, so it shows in a passing run. `tools/test.sh` (and so CI)
//! installs every tier and sets [`ALL_TIERS`]: there a missing one fails the
//! test, so a tier that stopped being installed cannot pass unseen. A test
//! that uses a tier without asking first still fails where it is missing
//! (`Browser::start`, `codex_bin`), as before.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Set by `tools/test.sh`: every tier must run, a missing one is a failure.
pub const ALL_TIERS: &str = "CODEX_GOVERNANCE_TEST_ALL_TIERS";
/// Where the browser tests find Chromium (default `/usr/bin/chromium`).
pub const CHROMIUM_ENV: &str = "CODEX_GOVERNANCE_TEST_CHROMIUM";
/// Where the Codex tests find the Codex CLI (default: where `tools/test.sh` installs it).
pub const CODEX_ENV: &str = "CODEX_GOVERNANCE_TEST_CODEX";
/// Where Debian's package puts OpenSSH's server.
pub const SSHD: &str = "/usr/sbin/sshd";
/// Where Debian's package puts podman (`common/podman.rs` runs this one).
pub const PODMAN: &str = "/usr/bin/podman";
/// The Codex CLI version `tools/test.sh` installs.
pub const CODEX_VERSION: &str = "0.171.0";
/// The `codex-acp` adapter version `tools/test.sh` installs.
pub const CODEX_ACP_VERSION: &str = "2.6.0";
/// The Claude Code ACP adapter version `tools/test.sh` installs.
pub const CLAUDE_ACP_VERSION: &str = "0.101.0";
/// The Gemini CLI version `tools/test.sh` installs.
pub const GEMINI_VERSION: &str = "0.61.0";

/// What a tier needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Chromium and chromedriver.
    Chromium,
    /// The pinned Codex CLI.
    Codex,
    /// OpenSSH's server (`/usr/sbin/sshd`) and client, for hosts on loopback.
    Sshd,
    /// Codex's ACP adapter, `codex-acp` (with Node).
    CodexAcp,
    /// Claude Code's ACP adapter, `claude-agent-acp` (with Node).
    ClaudeAcp,
    /// Gemini CLI (`gemini --acp`, with Node).
    GeminiAcp,
    /// Debian's podman with crun and conmon, run as root (`common/podman.rs`).
    Podman,
}

impl Tier {
    /// What is missing, in words; None when the tier can run.
    pub fn missing(self) -> Option<String> {
        match self {
            Tier::Chromium => {
                let chromium = chromium();
                if !chromium.exists() {
                    return Some(format!("chromium ({} is missing)", chromium.display()));
                }
                if codex_governance::platform::find_program("chromedriver").is_none() {
                    return Some("chromedriver (not on PATH)".into());
                }
                None
            }
            Tier::Sshd => {
                if !Path::new(SSHD).exists() {
                    return Some(format!("OpenSSH's server ({} is missing)", SSHD));
                }
                codex_governance::platform::find_program("ssh")
                    .is_none()
                    .then(|| "OpenSSH's client (ssh is not on PATH)".into())
            }
            Tier::ClaudeAcp => {
                let acp = claude_acp();
                (!acp.exists()).then(|| {
                    format!(
                        "the claude-agent-acp adapter {CLAUDE_ACP_VERSION} ({} is missing)",
                        acp.display()
                    )
                })
            }
            Tier::GeminiAcp => {
                let gemini = gemini_cli();
                (!gemini.exists()).then(|| {
                    format!(
                        "the Gemini CLI {GEMINI_VERSION} ({} is missing)",
                        gemini.display()
                    )
                })
            }
            Tier::CodexAcp => {
                let acp = codex_acp();
                (!acp.exists()).then(|| {
                    format!(
                        "the codex-acp adapter {CODEX_ACP_VERSION} ({} is missing)",
                        acp.display()
                    )
                })
            }
            Tier::Podman => {
                if !Path::new(PODMAN).exists() {
                    return Some(format!("podman ({PODMAN} is missing)"));
                }
                for program in ["crun", "conmon", "unshare"] {
                    let found = codex_governance::platform::find_program(program).is_some()
                        || Path::new("/usr/bin").join(program).exists();
                    if !found {
                        return Some(format!("{program} for podman (not on PATH)"));
                    }
                }
                // SAFETY: geteuid cannot fail and touches no memory.
                let root = unsafe { libc::geteuid() } == 0;
                (!root).then(|| "root, for podman as the tests run it (rootful)".into())
            }
            Tier::Codex => {
                let codex = codex();
                (!codex.exists()).then(|| {
                    format!(
                        "the Codex CLI {CODEX_VERSION} ({} is missing)",
                        codex.display()
                    )
                })
            }
        }
    }
}

/// True when every tier in `tiers` can run. Otherwise: under [`ALL_TIERS`]
/// a panic saying what is missing; else one line on stderr, and false (the
/// test returns).
pub fn ready(tiers: &[Tier]) -> bool {
    let missing: Vec<String> = tiers.iter().filter_map(|t| t.missing()).collect();
    if missing.is_empty() {
        return true;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let needs = missing.join(" and ");
    assert!(
        std::env::var_os(ALL_TIERS).is_none(),
        "{test} needs {needs}, and {ALL_TIERS} asks for every tier: run tools/test.sh (it installs them)"
    );
    // Past the capture of `eprintln!`, which a passing test would swallow.
    let _ = writeln!(
        std::io::stderr(),
        "not run: {test}: needs {needs}; run tools/test.sh (it installs it and runs every tier)"
    );
    false
}

/// Returns from the test unless every tier named can run (see [`ready`]):
/// `needs!(Chromium)`, `needs!(Codex, Chromium)`.
#[macro_export]
macro_rules! needs {
    ($($tier:ident),+) => {
        if !$crate::common::tier::ready(&[$($crate::common::tier::Tier::$tier),+]) {
            return;
        }
    };
}

/// The Chromium the browser tests run.
pub fn chromium() -> PathBuf {
    std::env::var_os(CHROMIUM_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// The `codex-acp` adapter the ACP tests run (where `tools/test.sh` installs it).
pub fn codex_acp() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(format!(
        ".cache/codex-governance/codex-acp-{CODEX_ACP_VERSION}/node_modules/.bin/codex-acp"
    ))
}

/// The Claude Code ACP adapter the ACP tests run (where `tools/test.sh` installs it).
pub fn claude_acp() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(format!(
        ".cache/codex-governance/claude-agent-acp-{CLAUDE_ACP_VERSION}/node_modules/.bin/claude-agent-acp"
    ))
}

/// The Gemini CLI the ACP tests run (where `tools/test.sh` installs it).
pub fn gemini_cli() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(format!(
        ".cache/codex-governance/gemini-cli-{GEMINI_VERSION}/node_modules/.bin/gemini"
    ))
}

/// The folder the pinned Codex CLI is installed in (the one holding its
/// `node_modules`), found from [`codex`]; the container tests mount it.
pub fn codex_dir() -> PathBuf {
    let codex = codex();
    codex
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "node_modules"))
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            Path::new(&home).join(format!(".cache/codex-governance/codex-{CODEX_VERSION}"))
        })
}

/// The Codex CLI the Codex tests run.
pub fn codex() -> PathBuf {
    if let Some(p) = std::env::var_os(CODEX_ENV) {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(format!(
        ".cache/codex-governance/codex-{CODEX_VERSION}/node_modules/.bin/codex"
    ))
}
