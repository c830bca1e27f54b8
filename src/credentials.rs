//! Per-session credentials: the user's token never reaches an agent.
//!
//! Each agent session gets its own 256-bit token, mapped here to the session and
//! its role. The API resolves a presented token to a [`Principal`]; what each
//! principal may call is decided by the web layer's scope table. Tokens are kept
//! by their SHA-256, so a lookup reveals nothing about a token through timing.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::model::SessionKind;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The developer (the dashboard, or a script with the launcher's token).
    User,
    /// An agent session, with the rights of its role.
    Session(Grant),
    /// A phone the user paired for the page through their tailnet: the
    /// user's own sessions, within a phone's scope (`policy::scopes`).
    Phone(crate::phones::PhoneGrant),
}

/// What a session token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub session_id: String,
    pub kind: SessionKind,
    /// The Zhongshu a department works for.
    pub parent_session_id: Option<String>,
    pub department: Option<String>,
}

impl Principal {
    /// Whether this principal may act for session `id` (its own data only).
    pub fn owns(&self, id: &str) -> bool {
        match self {
            Principal::User | Principal::Phone(_) => true,
            Principal::Session(g) => g.session_id == id,
        }
    }
}

/// The live session tokens (held as digests; `Debug` shows no secret).
#[derive(Debug, Default)]
pub struct Credentials {
    by_hash: Mutex<HashMap<[u8; 32], Grant>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Credentials {
    /// Mints a token for a session (replacing any earlier one of that session).
    pub fn issue(&self, grant: Grant) -> String {
        let token = crate::secret::new_token();
        let mut map = self.by_hash.lock().unwrap();
        map.retain(|_, g| g.session_id != grant.session_id);
        map.insert(digest(&token), grant);
        token
    }

    /// The grant a token stands for, if it is a live session token.
    pub fn resolve(&self, token: &str) -> Option<Grant> {
        self.by_hash.lock().unwrap().get(&digest(token)).cloned()
    }

    /// Ends a session's token (the session ended).
    pub fn revoke(&self, session_id: &str) {
        self.by_hash
            .lock()
            .unwrap()
            .retain(|_, g| g.session_id != session_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(id: &str) -> Grant {
        Grant {
            session_id: id.into(),
            kind: SessionKind::Department,
            parent_session_id: Some("zhongshu-1".into()),
            department: Some("lingyubu".into()),
        }
    }

    #[test]
    fn tokens_resolve_to_their_session_until_revoked() {
        let c = Credentials::default();
        let a = c.issue(grant("lingyubu-1"));
        let b = c.issue(grant("lingyubu-2"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(c.resolve(&a).unwrap().session_id, "lingyubu-1");
        assert_eq!(c.resolve(&b).unwrap().session_id, "lingyubu-2");
        assert!(c.resolve("not-a-token").is_none());
        c.revoke("lingyubu-1");
        assert!(c.resolve(&a).is_none());
        assert!(c.resolve(&b).is_some());
        let again = c.issue(grant("lingyubu-2"));
        assert!(c.resolve(&b).is_none(), "a new token replaces the old");
        assert!(c.resolve(&again).is_some());
    }

    #[test]
    fn principals_own_only_their_session() {
        assert!(Principal::User.owns("zhongshu-9"));
        let p = Principal::Session(grant("lingyubu-1"));
        assert!(p.owns("lingyubu-1"));
        assert!(!p.owns("lingyubu-2"));
    }
}
