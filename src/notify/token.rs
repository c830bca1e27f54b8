//! The channels' secrets: the ntfy access token (`CODEX_GOVERNANCE_NTFY_TOKEN`)
//! and the Telegram bot's token (`CODEX_GOVERNANCE_TELEGRAM_TOKEN`), held as
//! the forge's is: [`claim_environment`] runs first thing in `main`, before
//! any thread, and takes the variables out of the launcher's own
//! environment, so no agent, terminal or helper the launcher starts inherits
//! them. They live in memory only, as [`Secret`]s: never in the repository's
//! file, the state folder, the audit log or a page.

use std::sync::OnceLock;

use crate::config::notify::{NTFY_TOKEN_VAR, TELEGRAM_TOKEN_VAR};
use crate::secret::Secret;

static NTFY: OnceLock<Option<Secret>> = OnceLock::new();
static TELEGRAM: OnceLock<Option<Secret>> = OnceLock::new();

/// Takes one variable out of this process's environment, keeping its value.
fn claim(var: &str, into: &OnceLock<Option<Secret>>) {
    let found = std::env::var_os(var).and_then(|v| {
        std::env::remove_var(var);
        v.to_str()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(Secret::new)
    });
    let _first_claim_wins = into.set(found);
}

/// Takes the tokens out of this process's environment, keeping their
/// values. Call it before any other thread runs.
pub fn claim_environment() {
    claim(NTFY_TOKEN_VAR, &NTFY);
    claim(TELEGRAM_TOKEN_VAR, &TELEGRAM);
}

/// Whether a token was taken out of the environment at start.
pub fn claimed() -> bool {
    [&NTFY, &TELEGRAM]
        .iter()
        .any(|c| c.get().is_some_and(Option::is_some))
}

/// A token: the one claimed at start, else (a launcher run in a test
/// process, which never claimed) as `env` has it.
fn token(
    claimed: &OnceLock<Option<Secret>>,
    var: &str,
    env: &crate::config::Env,
) -> Option<Secret> {
    match claimed.get() {
        Some(claimed) => claimed.clone(),
        None => env
            .get(var)
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .map(Secret::new),
    }
}

pub fn ntfy_token(env: &crate::config::Env) -> Option<Secret> {
    token(&NTFY, NTFY_TOKEN_VAR, env)
}

pub fn telegram_token(env: &crate::config::Env) -> Option<Secret> {
    token(&TELEGRAM, TELEGRAM_TOKEN_VAR, env)
}
