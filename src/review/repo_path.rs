//! The file path a diff request names, checked before Git sees it.
//!
//! The path comes from the page (a report's changed file, which an agent
//! wrote), so it must name a file of the working tree and nothing else: relative
//! to the repository root, `/`-separated, no `..`, `.` or empty component, no
//! absolute or drive-letter path, no NUL or backslash. Git gets it as a literal
//! pathspec, never a pattern.

use crate::error::LauncherError;

/// Longest path accepted, in bytes.
pub const MAX_PATH: usize = 4096;

/// `Ok` for a repository-relative path, else a BadRequest saying what is wrong.
pub fn check_path(path: &str) -> Result<(), LauncherError> {
    let bad = |why: &str| {
        Err(LauncherError::BadRequest(format!(
            "path {:?} {why}",
            path.chars().take(200).collect::<String>()
        )))
    };
    if path.is_empty() || path.len() > MAX_PATH {
        return bad(&format!("must be 1 to {MAX_PATH} bytes long"));
    }
    if path.contains('\0') {
        return bad("must not contain NUL");
    }
    if path.contains('\\') {
        return bad("must use / between folders, not a backslash");
    }
    if path.starts_with('/') {
        return bad("must be relative to the repository root, not absolute");
    }
    let first = path.split('/').next().unwrap_or("");
    if first.len() == 2 && first.ends_with(':') && first.as_bytes()[0].is_ascii_alphabetic() {
        return bad("must be relative to the repository root, not a drive path");
    }
    if path.split('/').any(|c| c == "..") {
        return bad("must not contain a .. component (it would leave the repository)");
    }
    if path.split('/').any(|c| c.is_empty() || c == ".") {
        return bad("must not contain an empty or . component");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(path: &str) -> String {
        match check_path(path) {
            Err(LauncherError::BadRequest(m)) => m,
            other => panic!("{path:?}: {other:?}"),
        }
    }

    #[test]
    fn only_paths_inside_the_repository_pass() {
        for good in [
            "a",
            "src/lib.rs",
            ".env",
            "docs/x.md",
            "a..b/c",
            "名前.txt",
            "a b/c:d",
        ] {
            assert!(check_path(good).is_ok(), "{good:?}");
        }
        assert!(why("../etc/passwd").contains(".. component"));
        assert!(why("a/../../b").contains(".. component"));
        assert!(why("a/..").contains(".. component"));
        assert!(why("/etc/passwd").contains("not absolute"));
        assert!(why("C:/Windows/win.ini").contains("drive path"));
        assert!(why("a\\..\\b").contains("backslash"));
        assert!(why("a\0b").contains("NUL"));
        assert!(why("").contains("1 to 4096"));
        assert!(why(&"a".repeat(MAX_PATH + 1)).contains("1 to 4096"));
        for odd in ["a//b", "./a", "a/", "a/./b"] {
            assert!(why(odd).contains("empty or ."), "{odd:?}");
        }
    }
}
