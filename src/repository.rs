//! Finding the repository the way Git does: from any folder inside it, up to
//! its root (the working tree of the nearest `.git`).

use std::path::{Path, PathBuf};

/// Variables that would point a `git` the launcher runs at another
/// repository, index or object store than the one it names: taken out of
/// every such `git`'s environment.
pub const GIT_LOCATION_VARIABLES: [&str; 6] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
];

#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    #[error("{0} is not inside a Git repository: run codex-governance in your repository (or pass --repo DIR)")]
    NotARepository(String),
    #[error("{0} is a bare Git repository: codex-governance needs a working tree")]
    Bare(String),
}

/// The root of the working tree that contains `start`.
pub fn discover(start: &Path) -> Result<PathBuf, RepositoryError> {
    let shown = std::path::absolute(start)
        .unwrap_or_else(|_| start.to_path_buf())
        .display()
        .to_string();
    let repo = git2::Repository::discover(start)
        .map_err(|_| RepositoryError::NotARepository(shown.clone()))?;
    let root = repo.workdir().ok_or(RepositoryError::Bare(shown))?;
    let root = dunce::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subfolder_finds_its_root_and_a_plain_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dunce::canonicalize(dir.path()).unwrap().join("repo");
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        git2::Repository::init(&root).unwrap();
        assert_eq!(discover(&root.join("src/deep")).unwrap(), root);
        assert_eq!(discover(&root).unwrap(), root);
        // A path a user reads: never Windows' verbatim `\\?\` form.
        let shown = discover(&root).unwrap().display().to_string();
        assert!(!shown.starts_with(r"\\?\"), "{shown}");
        let plain = tempfile::tempdir().unwrap();
        let e = discover(plain.path()).unwrap_err().to_string();
        assert!(e.contains("is not inside a Git repository"), "{e}");
    }
}
