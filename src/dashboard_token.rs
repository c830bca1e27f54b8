//! The developer's token, kept for the same state folder across clean
//! restarts: a tab open before a restart keeps working after it, without a
//! reload or a new URL. It lives owner-only in the state folder (as it does in
//! the launcher file while a launcher runs), read without following a link;
//! anything but a well-formed token there is replaced by a new one.
//! `codex-governance url --new-token` rotates it while no launcher runs, and
//! the rotation is audited.

use std::path::Path;

/// The token's file in the state folder (0600).
pub const TOKEN_FILE: &str = "codex_governance_token";

/// Where the token a launcher serves with came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The one an earlier launcher of this state folder served with.
    Kept,
    /// Made now: the first start, or the file was missing or not a token.
    New,
}

/// The token kept in `state_dir`, or a new one written there.
pub fn load_or_make(state_dir: &Path) -> std::io::Result<(String, Origin)> {
    if let Some(token) = read(state_dir) {
        return Ok((token, Origin::Kept));
    }
    Ok((rotate(state_dir)?, Origin::New))
}

/// Writes a new token into `state_dir` and returns it.
pub fn rotate(state_dir: &Path) -> std::io::Result<String> {
    let token = crate::secret::new_token();
    crate::files::write_atomic(&state_dir.join(TOKEN_FILE), token.as_bytes())?;
    Ok(token)
}

/// The kept token, when the file is a regular file (not a link) holding one.
fn read(state_dir: &Path) -> Option<String> {
    let (bytes, _) = crate::files::read_tail(&state_dir.join(TOKEN_FILE), 256)?;
    let text = String::from_utf8(bytes).ok()?;
    let token = text.trim();
    let well_formed = token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_kept_until_rotated_and_anything_else_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (first, origin) = load_or_make(dir.path()).unwrap();
        assert_eq!(origin, Origin::New);
        assert_eq!(
            load_or_make(dir.path()).unwrap(),
            (first.clone(), Origin::Kept)
        );
        let second = rotate(dir.path()).unwrap();
        assert_ne!(first, second);
        assert_eq!(load_or_make(dir.path()).unwrap(), (second, Origin::Kept));
        std::fs::write(dir.path().join(TOKEN_FILE), "short").unwrap();
        assert_eq!(load_or_make(dir.path()).unwrap().1, Origin::New);
        #[cfg(unix)]
        {
            let other = dir.path().join("other");
            std::fs::write(&other, "a".repeat(64)).unwrap();
            std::fs::remove_file(dir.path().join(TOKEN_FILE)).unwrap();
            std::os::unix::fs::symlink(&other, dir.path().join(TOKEN_FILE)).unwrap();
            let (token, origin) = load_or_make(dir.path()).unwrap();
            assert_eq!(origin, Origin::New, "a link is never read");
            assert_ne!(token, "a".repeat(64));
            assert_eq!(std::fs::read_to_string(&other).unwrap(), "a".repeat(64));
        }
    }
}
