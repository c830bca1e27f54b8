//! Identifiers that reach the file system.
//!
//! Session ids, Zhongshu ids and department keys come from requests and mailbox
//! files; each is checked here before it is joined to a path, so `../` never
//! escapes the state directory.

/// True when `id` matches `^[A-Za-z0-9_-]{1,128}$`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// An id that may not reach the file system, named by its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} must match ^[A-Za-z0-9_-]{{1,128}}$, got {got:?}")]
pub struct BadId {
    pub field: String,
    /// The value, cut to 80 characters.
    pub got: String,
}

/// Returns the id, or why not, naming the field.
pub fn check_id<'a>(field: &str, id: &'a str) -> Result<&'a str, BadId> {
    if is_valid_id(id) {
        Ok(id)
    } else {
        Err(BadId {
            field: field.to_string(),
            got: truncate(id, 80).to_string(),
        })
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        assert!(is_valid_id("zhongshu-1"));
        assert!(is_valid_id("lingyubu_2"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("../x"));
        assert!(!is_valid_id("a/b"));
        assert!(!is_valid_id("a.b"));
        assert!(!is_valid_id(&"a".repeat(129)));
        assert!(check_id("session_id", "..").is_err());
    }
}
