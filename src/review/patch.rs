//! A whole unified diff between two recorded commits, cut at a size: what
//! the attempts' comparison shows and what a reviewer agent reads (issues
//! 74 and 75). Read from Git's objects only.

use std::path::Path;

use crate::error::{LResult, LauncherError};

/// A unified diff of commit `a`'s tree against commit `b`'s, cut at `max`
/// bytes (true: cut).
pub fn between(repo: &Path, a: &str, b: &str, max: usize) -> LResult<(String, bool)> {
    let git = git2::Repository::open(repo)?;
    let tree = |c: &str| {
        git2::Oid::from_str(c)
            .and_then(|oid| git.find_commit(oid))
            .and_then(|c| c.tree())
    };
    let (ta, tb) = (tree(a)?, tree(b)?);
    let d = git.diff_tree_to_tree(Some(&ta), Some(&tb), None)?;
    let mut text = String::new();
    let mut truncated = false;
    let printed = d.print(git2::DiffFormat::Patch, |_, _, line| {
        let origin = line.origin();
        if matches!(origin, '+' | '-' | ' ') {
            text.push(origin);
        }
        text.push_str(&String::from_utf8_lossy(line.content()));
        if text.len() > max {
            let mut end = max;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            truncated = true;
            return false;
        }
        true
    });
    if let Err(e) = printed {
        if !truncated {
            return Err(LauncherError::Git(e));
        }
    }
    Ok((text, truncated))
}
