//! The Codex backend: each Codex session is a thread on the launcher's one
//! Codex app-server (a private unix socket, or a token-guarded loopback
//! WebSocket on Windows) that the launcher drives over JSON-RPC (threads,
//! turns, approvals, tool calls, token usage), plus Codex's own TUI in the
//! session's PTY attached to the same thread (`codex resume <thread>
//! --remote`), so the browser terminal shows the real conversation and the
//! user can type there.
//!
//! The launcher never types into Codex: notices and inputs are turns
//! (`turn/start` when idle, `turn/steer` while working), and the agent's state
//! comes from the server's events, not from its screen.

mod account;
mod agent;
mod backend;
pub mod contract;
mod endpoint;
mod file_change;
mod items;
mod login;
pub(crate) mod native;
pub(crate) mod project_trust;
mod rpc;
mod server;
pub mod settings;
mod shared;
mod thread;

pub(super) use agent::CodexAgent;
pub(super) use backend::CodexBackend;
pub use settings::Settings;
pub(super) use thread::ThreadSpec;

/// The oldest Codex CLI whose app-server this backend was verified against.
pub const MIN_VERSION: (u32, u32, u32) = (0, 169, 0);
/// The newest Codex CLI the suite ran (the version `tools/test.sh` pins);
/// a newer one is used, with a note that it is not proven yet.
pub const NEWEST_PROVEN: (u32, u32, u32) = (0, 171, 0);

/// The supported range in words: `0.169.0 to 0.171.0`.
pub fn supported_range() -> String {
    let (a, b) = (MIN_VERSION, NEWEST_PROVEN);
    format!("{}.{}.{} to {}.{}.{}", a.0, a.1, a.2, b.0, b.1, b.2)
}

/// A note for a Codex newer than any the launcher was proven with: it
/// runs, and the note says which one is proven.
pub fn newer_than_proven(version: (u32, u32, u32)) -> Option<String> {
    (version > NEWEST_PROVEN).then(|| {
        let v = version;
        format!(
            "Codex {}.{}.{} is newer than the versions this launcher was proven with ({}): \
             it is used; if something misbehaves, `npm install -g @openai/codex@{}.{}.{}`",
            v.0,
            v.1,
            v.2,
            supported_range(),
            NEWEST_PROVEN.0,
            NEWEST_PROVEN.1,
            NEWEST_PROVEN.2
        )
    })
}

#[derive(Debug, thiserror::Error)]
pub enum CodexError {
    #[error(
        "cannot run Codex ({0}): install it with `npm install -g @openai/codex` \
         or set launcher.codex_command / CODEX_GOVERNANCE_CODEX_BIN"
    )]
    Missing(String),
    #[error("Codex is not logged in: run codex login")]
    NotLoggedIn,
    #[error("the Codex app-server exited with {0} before it listened: {1}")]
    ServerExited(i32, String),
    #[error("timed out waiting for {0}")]
    Timeout(String),
    #[error(transparent)]
    Rpc(#[from] rpc::RpcError),
    #[error("Codex answered without {0}")]
    Protocol(String),
    #[error("{0}")]
    Io(String),
    #[error("no waiting approval {0}")]
    NoSuchApproval(String),
}

/// Why the installed Codex version cannot be told.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error("cannot run {codex}: {source}")]
    CannotRun {
        codex: String,
        source: std::io::Error,
    },
    #[error("{codex} --version printed {printed:?}")]
    Unreadable { codex: String, printed: String },
}

/// The installed Codex version, or why it cannot be told.
pub fn installed_version(codex: &str) -> Result<(u32, u32, u32), VersionError> {
    let program = crate::platform::program_path(std::path::Path::new(codex)).map_err(|e| {
        VersionError::CannotRun {
            codex: codex.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, e),
        }
    })?;
    let out = std::process::Command::new(program)
        .arg("--version")
        .output()
        .map_err(|source| VersionError::CannotRun {
            codex: codex.to_string(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_version(&text).ok_or_else(|| VersionError::Unreadable {
        codex: codex.to_string(),
        printed: text.trim().to_string(),
    })
}

/// `codex-cli 0.169.0` -> (0, 169, 0).
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let word = text
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let mut parts = word
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>());
    Some((
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next().unwrap_or(Ok(0)).ok()?,
    ))
}

/// A warning for the start-up log when Codex is missing or too old.
pub fn version_warning(codex: &str) -> Option<String> {
    match installed_version(codex) {
        Err(VersionError::CannotRun { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            // A bare name's error says where it was looked for; a path, in words.
            let why = if crate::platform::is_bare_name(std::path::Path::new(codex)) {
                source.to_string()
            } else {
                format!("{codex} does not exist")
            };
            Some(format!(
                "Codex sessions cannot start until Codex is installed: run \
                 `npm install -g @openai/codex`, then `codex login` ({why})"
            ))
        }
        Err(e) => Some(format!(
            "{e}: Codex sessions cannot start until it runs (npm install -g @openai/codex)"
        )),
        Ok(v) if v < MIN_VERSION => Some(format!(
            "Codex {}.{}.{} is older than the versions this launcher supports ({}): \
             update it with `npm install -g @openai/codex@latest`",
            v.0,
            v.1,
            v.2,
            supported_range()
        )),
        Ok(v) => {
            if let Some(note) = newer_than_proven(v) {
                tracing::warn!("{note}");
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_compare() {
        assert_eq!(parse_version("codex-cli 0.169.0\n"), Some((0, 169, 0)));
        assert_eq!(parse_version("codex-cli 1.2.3-alpha.1"), Some((1, 2, 3)));
        assert_eq!(parse_version("codex 0.170"), Some((0, 170, 0)));
        assert_eq!(parse_version("no digits"), None);
        assert!(parse_version("codex-cli 0.168.9").unwrap() < MIN_VERSION);
    }

    #[test]
    fn a_codex_outside_the_proven_range_is_named_with_the_range() {
        assert_eq!(supported_range(), "0.169.0 to 0.171.0");
        for proven in ["0.169.0", "0.170.2", "0.171.0"] {
            assert_eq!(newer_than_proven(parse_version(proven).unwrap()), None);
        }
        let note = newer_than_proven((0, 172, 1)).unwrap();
        assert!(
            note.starts_with("Codex 0.172.1 is newer than") && note.contains("0.169.0 to 0.171.0"),
            "{note}"
        );
    }

    #[test]
    fn a_missing_codex_is_a_warning_that_names_the_fix() {
        let w = version_warning("/nonexistent/codex").unwrap();
        assert!(w.contains("npm install -g @openai/codex"), "{w}");
    }
}
