//! The forge's token: from `GITHUB_TOKEN` or `GH_TOKEN` (and, for GitHub
//! Enterprise, `GH_ENTERPRISE_TOKEN` or `GITHUB_ENTERPRISE_TOKEN`), else from
//! `gh auth token` when `gh` is installed. It lives in memory only, as a
//! [`Secret`]: never written to the state folder, the audit log or a page.
//!
//! [`claim_environment`] runs first thing in `main`, before any thread: it
//! takes these variables out of the launcher's own environment, so no agent,
//! app-server, TUI, terminal or Git helper the launcher starts inherits them.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::ForgeError;
use crate::secret::Secret;

/// The variables a token is read from, in order.
pub const VARIABLES: [&str; 4] = [
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
];

/// The tokens taken out of the environment at start, by variable.
static CLAIMED: OnceLock<Vec<(&'static str, Secret)>> = OnceLock::new();

/// Takes the token variables out of this process's environment, keeping
/// their values in memory. Call it before any other thread runs.
pub fn claim_environment() {
    let mut found = Vec::new();
    for name in VARIABLES {
        if let Some(v) = std::env::var_os(name) {
            if let Some(v) = v.to_str().map(str::trim).filter(|v| !v.is_empty()) {
                found.push((name, Secret::new(v)));
            }
            std::env::remove_var(name);
        }
    }
    let _first_claim_wins = CLAIMED.set(found);
}

/// Tokens `gh auth token` gave (one per forge host asked).
static FROM_GH: Mutex<Vec<Secret>> = Mutex::new(Vec::new());

/// Every token value the launcher knows: the variables' (taken at start,
/// else as they stand) and what `gh` gave. The forge's words are masked
/// for all of them ([`super::words`]), not only the one a client sends.
pub fn known() -> Vec<Secret> {
    let mut all: Vec<Secret> = match CLAIMED.get() {
        Some(claimed) => claimed.iter().map(|(_, s)| s.clone()).collect(),
        None => VARIABLES
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(Secret::new)
            .collect(),
    };
    all.extend(FROM_GH.lock().unwrap().iter().cloned());
    all
}

/// Whether a token was taken out of the environment at start.
pub fn any_claimed() -> bool {
    CLAIMED.get().is_some_and(|found| !found.is_empty())
}

/// Whether `api_url` is github.com's API (else Enterprise or another forge).
fn is_github_com(api_url: &str) -> bool {
    api_url.trim_end_matches('/') == super::super::config::pull_requests::DEFAULT_API_URL
}

/// The host `gh` knows the forge by: `github.com`, or an Enterprise host.
pub fn gh_host(api_url: &str) -> String {
    if is_github_com(api_url) {
        return "github.com".into();
    }
    let rest = api_url.split_once("://").map(|(_, r)| r).unwrap_or(api_url);
    rest.split(['/', '?']).next().unwrap_or(rest).to_string()
}

/// The token for the forge at `api_url`, or [`ForgeError::NoToken`].
pub async fn token(api_url: &str) -> Result<Secret, ForgeError> {
    let wanted: &[&str] = if is_github_com(api_url) {
        &VARIABLES[..2]
    } else {
        &VARIABLES
    };
    match CLAIMED.get() {
        Some(claimed) => {
            for name in wanted {
                if let Some((_, s)) = claimed.iter().find(|(n, _)| n == name) {
                    return Ok(s.clone());
                }
            }
        }
        // Not claimed (a launcher inside another program, as tests run
        // one): read, and left where it is.
        None => {
            for name in wanted {
                if let Ok(v) = std::env::var(name) {
                    if !v.trim().is_empty() {
                        return Ok(Secret::new(v.trim()));
                    }
                }
            }
        }
    }
    from_gh(&gh_host(api_url)).await.ok_or(ForgeError::NoToken)
}

/// `gh auth token --hostname HOST`, when `gh` is installed (in an absolute
/// folder of PATH: a `gh` an agent wrote in the current folder would choose
/// the token) and logged in.
async fn from_gh(host: &str) -> Option<Secret> {
    let gh = crate::platform::find_program("gh")?;
    let mut cmd = tokio::process::Command::new(gh);
    cmd.args(["auth", "token", "--hostname", host])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    for name in VARIABLES {
        cmd.env_remove(name);
    }
    let out = tokio::time::timeout(Duration::from_secs(10), cmd.output())
        .await
        .ok()?
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    if text.is_empty() || text.contains(char::is_whitespace) {
        return None;
    }
    let token = Secret::new(text);
    let mut held = FROM_GH.lock().unwrap();
    if !held.contains(&token) {
        held.push(token.clone());
    }
    Some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gh_knows_the_forge_by_its_host() {
        assert_eq!(gh_host("https://api.github.com"), "github.com");
        assert_eq!(gh_host("https://ghe.example.com/api/v3"), "ghe.example.com");
        assert_eq!(gh_host("http://127.0.0.1:8080"), "127.0.0.1:8080");
    }
}
