//! Decision tokens (issue 54, tier 1): what a notice's button publishes to
//! the private reply topic the launcher reads. No listener is opened: the
//! launcher reads the topic as an outbound stream, so anything may be
//! published there, and only a token this launcher signed is acted on. A
//! token names the item, the decision, a digest of what the notice showed,
//! when it expires (at most 15 minutes) and a random nonce; it is signed
//! with HMAC-SHA256 under a key of 32 random bytes kept owner-only in the
//! state folder. Its text is `v1.PAYLOAD.SIGNATURE`, both hex, so it holds no
//! comma or quote that ntfy's action header would split.

use std::path::Path;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::policy::notice::PhoneDecision;

/// The key's file in the state folder.
pub const KEY_FILE: &str = "codex_governance_notify_key";
/// The longest a token lives.
pub const MAX_LIFE_SECONDS: i64 = 15 * 60;
/// The longest token text read (anything longer is junk).
pub const MAX_TOKEN_CHARS: usize = 2048;

type HmacSha256 = Hmac<Sha256>;

/// The signing key.
pub struct Key([u8; 32]);

impl Key {
    /// The state folder's key, made (32 random bytes, owner-only) when it is
    /// missing or not a key.
    pub fn load_or_make(state_dir: &Path) -> std::io::Result<Key> {
        let path = state_dir.join(KEY_FILE);
        if let Some((bytes, _)) = crate::files::read_tail(&path, 256) {
            if let Some(key) = std::str::from_utf8(&bytes).ok().and_then(Key::from_hex) {
                return Ok(key);
            }
        }
        let text = crate::secret::new_token();
        crate::files::write_atomic(&path, text.as_bytes())?;
        Key::from_hex(&text).ok_or_else(|| std::io::Error::other("a new key is 64 hex digits"))
    }

    fn from_hex(text: &str) -> Option<Key> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(Key(bytes.try_into().ok()?))
    }

    #[cfg(test)]
    pub fn for_test(byte: u8) -> Key {
        Key([byte; 32])
    }

    fn mac(&self) -> HmacSha256 {
        match HmacSha256::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(e) => unreachable!("HMAC takes a key of any length: {e}"),
        }
    }

    /// The reply topic beside `topic`: named by the key, so only who holds
    /// the key (and the notices' readers) knows it.
    pub fn reply_topic(&self, topic: &str) -> String {
        let mut m = self.mac();
        m.update(b"codex-governance reply topic\0");
        m.update(topic.as_bytes());
        let tag = hex::encode(m.finalize().into_bytes());
        format!("{topic}-reply-{}", &tag[..24])
    }
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The item's id (`policy::needs_you::NeedItem::id`).
    pub item: String,
    pub decision: PhoneDecision,
    /// The item's digest when the notice was sent.
    pub digest: String,
    /// Unix seconds.
    pub expires: i64,
    /// 16 random bytes, hex: a token is used once.
    pub nonce: String,
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadToken {
    #[error("not a decision token")]
    Malformed,
    #[error("its signature does not match (forged or changed)")]
    Signature,
    #[error("it expired")]
    Expired,
    #[error("it claims to live longer than {MAX_LIFE_SECONDS} s")]
    TooLong,
}

/// A signed token for `claim`.
pub fn sign(key: &Key, claim: &Claim) -> String {
    let payload = hex::encode(serde_json::to_vec(claim).unwrap_or_default());
    let mut m = key.mac();
    m.update(payload.as_bytes());
    format!("v1.{payload}.{}", hex::encode(m.finalize().into_bytes()))
}

/// The claim of a token this key signed, still alive at `now` (unix seconds).
/// The signature is checked in constant time before anything in it is read.
pub fn verify(key: &Key, text: &str, now: i64) -> Result<Claim, BadToken> {
    let text = text.trim();
    if text.len() > MAX_TOKEN_CHARS {
        return Err(BadToken::Malformed);
    }
    let mut parts = text.split('.');
    let (Some("v1"), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BadToken::Malformed);
    };
    let signature = hex::decode(signature).map_err(|_| BadToken::Malformed)?;
    if signature.len() != 32 {
        return Err(BadToken::Malformed);
    }
    let mut m = key.mac();
    m.update(payload.as_bytes());
    m.verify_slice(&signature)
        .map_err(|_| BadToken::Signature)?;
    let bytes = hex::decode(payload).map_err(|_| BadToken::Malformed)?;
    let claim: Claim = serde_json::from_slice(&bytes).map_err(|_| BadToken::Malformed)?;
    if claim.expires <= now {
        return Err(BadToken::Expired);
    }
    if claim.expires > now + MAX_LIFE_SECONDS {
        return Err(BadToken::TooLong);
    }
    Ok(claim)
}

/// A fresh nonce.
pub fn nonce() -> String {
    crate::secret::new_token()[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(expires: i64) -> Claim {
        Claim {
            item: "approval:zhongshu-1:0".into(),
            decision: PhoneDecision::Decline,
            digest: "abc".into(),
            expires,
            nonce: "00ff".into(),
        }
    }

    #[test]
    fn a_signed_token_is_read_back_and_has_nothing_a_header_would_split() {
        let key = Key::for_test(7);
        let token = sign(&key, &claim(1_000));
        assert!(!token.contains([',', ';', '"', ' ', '=']), "{token}");
        assert_eq!(verify(&key, &token, 500), Ok(claim(1_000)));
    }

    #[test]
    fn forged_tampered_expired_and_overlong_tokens_are_refused() {
        let key = Key::for_test(7);
        let token = sign(&key, &claim(1_000));
        // Another key's token.
        assert_eq!(
            verify(&Key::for_test(8), &token, 500),
            Err(BadToken::Signature)
        );
        // The payload changed (approve instead of decline), signature kept.
        let mut changed = claim(1_000);
        changed.decision = PhoneDecision::Approve;
        let forged = sign(&Key::for_test(9), &changed);
        let payload = forged.split('.').nth(1).unwrap();
        let signature = token.split('.').nth(2).unwrap();
        assert_eq!(
            verify(&key, &format!("v1.{payload}.{signature}"), 500),
            Err(BadToken::Signature)
        );
        assert_eq!(verify(&key, &token, 1_000), Err(BadToken::Expired));
        let long = sign(&key, &claim(500 + MAX_LIFE_SECONDS + 1));
        assert_eq!(verify(&key, &long, 500), Err(BadToken::TooLong));
        for junk in ["", "v1", "v2.aa.bb", "v1.zz.zz", "v1..", &"a".repeat(5000)] {
            assert_eq!(verify(&key, junk, 500), Err(BadToken::Malformed), "{junk}");
        }
    }

    #[test]
    fn the_key_is_kept_owner_only_and_names_a_reply_topic_only_it_knows() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::load_or_make(dir.path()).unwrap();
        let again = Key::load_or_make(dir.path()).unwrap();
        assert_eq!(key.0, again.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        let topic = key.reply_topic("cg");
        assert!(topic.starts_with("cg-reply-") && topic.len() == "cg-reply-".len() + 24);
        assert_ne!(topic, Key::for_test(1).reply_topic("cg"));
    }
}
