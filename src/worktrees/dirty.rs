//! The user's uncommitted files a plan names (issue 26, issue 34 item 6):
//! which of them the user's working tree still changes, and which of those
//! hold a department's applied change (the department's, not the user's).
//! Read through libgit2 by the launcher's facts cache, off the status path.

use std::path::Path;

use crate::model::AppliedFile;

/// Of `files`, those the user's working tree still changes (against the
/// index or HEAD, or untracked): committing or reverting one ends its
/// mention. Each is looked up alone, so a large repository costs little.
/// A repository that cannot be opened changes them all.
pub fn still_dirty(repo: &Path, files: &[String]) -> Vec<String> {
    if files.is_empty() {
        return Vec::new();
    }
    let Ok(git) = git2::Repository::open(repo) else {
        return files.to_vec();
    };
    files
        .iter()
        .filter(|f| {
            git.status_file(Path::new(f.as_str()))
                .is_ok_and(|s| !s.is_empty() && !s.contains(git2::Status::IGNORED))
        })
        .cloned()
        .collect()
}

/// Splits uncommitted files into those holding a department's applied change
/// (the file is as the department's recorded commit has it; `applied` names
/// each applied department session with its commit) and the user's.
pub fn attribute_applied(
    repo: &Path,
    applied: &[(String, String)],
    dirty: Vec<String>,
) -> (Vec<AppliedFile>, Vec<String>) {
    if dirty.is_empty() || applied.is_empty() {
        return (Vec::new(), dirty);
    }
    let Ok(git) = git2::Repository::open(repo) else {
        return (Vec::new(), dirty);
    };
    let holds = |commit: &str, path: &str| -> Option<bool> {
        let tree = git
            .find_commit(git2::Oid::from_str(commit).ok()?)
            .ok()?
            .tree()
            .ok()?;
        let on_disk = repo.join(path);
        match tree.get_path(Path::new(path)) {
            // The department deleted it, and it is still gone.
            Err(_) => Some(std::fs::symlink_metadata(&on_disk).is_err()),
            Ok(entry) => {
                let now = git2::Oid::hash_file(git2::ObjectType::Blob, &on_disk).ok()?;
                Some(entry.id() == now)
            }
        }
    };
    let (mut theirs, mut users) = (Vec::new(), Vec::new());
    for path in dirty {
        match applied.iter().find(|(_, c)| holds(c, &path) == Some(true)) {
            Some((id, _)) => theirs.push(AppliedFile {
                path,
                session_id: id.clone(),
            }),
            None => users.push(path),
        }
    }
    (theirs, users)
}
