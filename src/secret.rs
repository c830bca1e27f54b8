//! Bearer secrets: the developer's token, agents' session tokens, browser
//! terminals' tokens and Codex app-servers' capability tokens all come from
//! here; [`Secret`] holds one the launcher did not make (the forge's token).

/// A fresh 256-bit random token, hex-encoded (64 characters).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex::encode(bytes)
}

/// A credential held in memory only: it has no `Display`, no `Serialize`,
/// and its `Debug` says `Secret(…)`, so no log line, audit field, API answer
/// or error message can carry it by accident. [`Secret::expose`] is the one
/// way to its text, for the request that needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret's text, for the one request that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_fresh() {
        let (a, b) = (super::new_token(), super::new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn a_secret_never_shows_in_debug() {
        let s = Secret::new("ghp_SECRETVALUE");
        let shown = format!("{s:?} {:?} {:#?}", Some(&s), vec![s.clone()]);
        assert!(!shown.contains("SECRETVALUE"), "{shown}");
        assert_eq!(s.expose(), "ghp_SECRETVALUE");
    }
}
