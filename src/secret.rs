//! Bearer secrets: the developer's token, agents' session tokens, browser
//! terminals' tokens and Codex app-servers' capability tokens all come from here.

/// A fresh 256-bit random token, hex-encoded (64 characters).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_long_and_fresh() {
        let (a, b) = (super::new_token(), super::new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
