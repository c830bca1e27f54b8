//! Free names in a mailbox folder: a clash gets `-2`, `-3`, … before the
//! extension, so no file is ever replaced.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

/// `dir/name`, or `dir/stem-N.ext` when taken on disk or in `taken`.
pub fn unique_name(dir: &Path, name: &str, taken: &mut HashSet<String>) -> PathBuf {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) => (s.to_string(), format!(".{e}")),
        None => (name.to_string(), String::new()),
    };
    let mut candidate = name.to_string();
    let mut n = 1;
    while taken.contains(&candidate) || fs::symlink_metadata(dir.join(&candidate)).is_ok() {
        n += 1;
        candidate = format!("{stem}-{n}{ext}");
    }
    taken.insert(candidate.clone());
    dir.join(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_skip_taken() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.json"), "x").unwrap();
        let mut taken = HashSet::new();
        let first = unique_name(dir.path(), "a.json", &mut taken);
        assert_eq!(first.file_name().unwrap(), "a-2.json");
        let second = unique_name(dir.path(), "a.json", &mut taken);
        assert_eq!(second.file_name().unwrap(), "a-3.json");
    }
}
