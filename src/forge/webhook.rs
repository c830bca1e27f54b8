//! The forge's webhook, where the user set one up (issue 38, item 2): a
//! `POST /forge/webhook` signed as GitHub signs deliveries
//! (`X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>`) with the secret
//! from `CODEX_GOVERNANCE_WEBHOOK_SECRET`. A delivery is only a nudge: the
//! launcher reads its pull requests back from the forge at once instead of
//! at the next poll, and trusts nothing the body says. Without the secret
//! the route answers 404, and an unsigned or wrongly signed delivery 403.
//!
//! The launcher listens on loopback only: a delivery reaches it through a
//! forwarder the user runs (e.g. `smee --target
//! http://127.0.0.1:6211/forge/webhook`). The secret leaves the environment
//! at start, as the forge's token does.

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

/// The variable the webhook secret is read from.
pub const SECRET_VARIABLE: &str = "CODEX_GOVERNANCE_WEBHOOK_SECRET";
/// The header a delivery's signature comes in.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

static CLAIMED: OnceLock<Option<Secret>> = OnceLock::new();

/// Takes the secret out of this process's environment, keeping it in
/// memory. Call it before any other thread runs.
pub fn claim_environment() {
    let found = std::env::var_os(SECRET_VARIABLE).and_then(|v| {
        let text = v.to_str().map(str::trim).filter(|t| !t.is_empty());
        text.map(Secret::new)
    });
    std::env::remove_var(SECRET_VARIABLE);
    let _first_claim_wins = CLAIMED.set(found);
}

/// The webhook secret, if the launcher was given one.
pub fn secret() -> Option<&'static Secret> {
    CLAIMED.get().and_then(Option::as_ref)
}

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookRefusal {
    #[error("webhooks are off: start the launcher with {SECRET_VARIABLE} set to the secret the forge signs its deliveries with")]
    Off,
    #[error(
        "the delivery carries no X-Hub-Signature-256 header: set the webhook's secret on the forge"
    )]
    Unsigned,
    #[error("the delivery's signature does not match: the forge's webhook secret differs from {SECRET_VARIABLE}")]
    WrongSignature,
}

/// Checks `signature` (the header's value) against `body` signed with `secret`.
pub fn verify(
    secret: Option<&Secret>,
    body: &[u8],
    signature: Option<&str>,
) -> Result<(), WebhookRefusal> {
    let secret = secret.ok_or(WebhookRefusal::Off)?;
    let given = signature
        .and_then(|s| s.trim().strip_prefix("sha256="))
        .ok_or(WebhookRefusal::Unsigned)?;
    let given = hex::decode(given).map_err(|_| WebhookRefusal::WrongSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    // Constant time, as `verify_slice` compares.
    mac.verify_slice(&given)
        .map_err(|_| WebhookRefusal::WrongSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn githubs_own_example_delivery_verifies() {
        // From GitHub's documentation of webhook signatures.
        let secret = Secret::new("It's a Secret to Everybody");
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(verify(Some(&secret), b"Hello, World!", Some(sig)), Ok(()));
    }

    #[test]
    fn off_unsigned_and_wrong_signatures_are_refused() {
        let secret = Secret::new("s3cret");
        let body = br#"{"action":"completed"}"#;
        assert_eq!(
            verify(None, body, Some(&sign("s3cret", body))),
            Err(WebhookRefusal::Off)
        );
        assert_eq!(
            verify(Some(&secret), body, None),
            Err(WebhookRefusal::Unsigned)
        );
        assert_eq!(
            verify(Some(&secret), body, Some("sha1=abcd")),
            Err(WebhookRefusal::Unsigned)
        );
        assert_eq!(
            verify(Some(&secret), body, Some(&sign("other", body))),
            Err(WebhookRefusal::WrongSignature)
        );
        assert_eq!(
            verify(Some(&secret), b"{}", Some(&sign("s3cret", body))),
            Err(WebhookRefusal::WrongSignature)
        );
        assert_eq!(
            verify(Some(&secret), body, Some("sha256=zz")),
            Err(WebhookRefusal::WrongSignature)
        );
        assert_eq!(
            verify(Some(&secret), body, Some(&sign("s3cret", body))),
            Ok(())
        );
    }
}
