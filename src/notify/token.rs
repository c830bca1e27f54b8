//! The ntfy access token (`CODEX_GOVERNANCE_NTFY_TOKEN`), held as the forge's
//! is: [`claim_environment`] runs first thing in `main`, before any thread,
//! and takes the variable out of the launcher's own environment, so no
//! agent, terminal or helper the launcher starts inherits it. It lives in
//! memory only, as a [`Secret`]: never in the repository's file, the state
//! folder, the audit log or a page.

use std::sync::OnceLock;

use crate::config::notify::NTFY_TOKEN_VAR;
use crate::secret::Secret;

static CLAIMED: OnceLock<Option<Secret>> = OnceLock::new();

/// Takes the token out of this process's environment, keeping its value.
/// Call it before any other thread runs.
pub fn claim_environment() {
    let found = std::env::var_os(NTFY_TOKEN_VAR).and_then(|v| {
        std::env::remove_var(NTFY_TOKEN_VAR);
        v.to_str()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(Secret::new)
    });
    let _first_claim_wins = CLAIMED.set(found);
}

/// Whether a token was taken out of the environment at start.
pub fn claimed() -> bool {
    CLAIMED.get().is_some_and(Option::is_some)
}

/// The token: the one claimed at start, else (a launcher run in a test
/// process, which never claimed) as `env` has it.
pub fn ntfy_token(env: &crate::config::Env) -> Option<Secret> {
    match CLAIMED.get() {
        Some(claimed) => claimed.clone(),
        None => env
            .get(NTFY_TOKEN_VAR)
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .map(Secret::new),
    }
}
