//! The user's uncommitted files a plan names (issue 26, issue 34 item 6):
//! which of them the user's working tree still changes, and which of those
//! hold a department's applied change (the department's, not the user's).
//! Read through libgit2 by the launcher's facts cache, off the status path.

use std::path::Path;

use crate::model::AppliedFile;

/// Of a plan's `named` files, those holding a department's applied change
/// (`applied`: each applied department session with its commit) and those
/// the user's working tree still changes otherwise, the repository opened
/// once. A repository that cannot be opened changes them all, the user's.
pub fn plan_files(
    repo: &Path,
    named: &[String],
    applied: &[(String, String)],
) -> (Vec<AppliedFile>, Vec<String>) {
    if named.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let Ok(git) = git2::Repository::open(repo) else {
        return (Vec::new(), named.to_vec());
    };
    let dirty = still_dirty(&git, named);
    attribute_applied(&git, repo, applied, dirty)
}

/// Of `files`, those the user's working tree still changes (against the
/// index or HEAD, or untracked): committing or reverting one ends its
/// mention. Each is looked up alone, so a large repository costs little.
fn still_dirty(git: &git2::Repository, files: &[String]) -> Vec<String> {
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
fn attribute_applied(
    git: &git2::Repository,
    repo: &Path,
    applied: &[(String, String)],
    dirty: Vec<String>,
) -> (Vec<AppliedFile>, Vec<String>) {
    if dirty.is_empty() || applied.is_empty() {
        return (Vec::new(), dirty);
    }
    // Each applied commit's tree, looked up once.
    let trees: Vec<(&String, git2::Tree<'_>)> = applied
        .iter()
        .filter_map(|(id, commit)| {
            let commit = git.find_commit(git2::Oid::from_str(commit).ok()?).ok()?;
            Some((id, commit.tree().ok()?))
        })
        .collect();
    let holds = |tree: &git2::Tree<'_>, path: &str| -> Option<bool> {
        let on_disk = repo.join(path);
        match tree.get_path(Path::new(path)) {
            // The department deleted it, and it is still gone.
            Err(_) => Some(std::fs::symlink_metadata(&on_disk).is_err()),
            Ok(entry) => holds_blob(git, &entry, &on_disk),
        }
    };
    let (mut theirs, mut users) = (Vec::new(), Vec::new());
    for path in dirty {
        match trees.iter().find(|(_, t)| holds(t, &path) == Some(true)) {
            Some((id, _)) => theirs.push(AppliedFile {
                path,
                session_id: (*id).clone(),
            }),
            None => users.push(path),
        }
    }
    (theirs, users)
}

/// Whether `on_disk` holds the blob `entry` names, as Git would hash it
/// (unfiltered; a link as its target). What someone with write access to
/// the tree planted cannot hold this up: a link is never followed, a FIFO
/// or a device is never read (opened without blocking, checked on the
/// descriptor), and a file is read only when its size is the blob's.
fn holds_blob(git: &git2::Repository, entry: &git2::TreeEntry, on_disk: &Path) -> Option<bool> {
    use std::io::Read;
    const LINK: i32 = 0o120000;
    let meta = std::fs::symlink_metadata(on_disk).ok()?;
    if meta.file_type().is_symlink() {
        if entry.filemode() != LINK {
            return Some(false);
        }
        let target = std::fs::read_link(on_disk).ok()?;
        let bytes = target.as_os_str().as_encoded_bytes();
        return Some(git2::Oid::hash_object(git2::ObjectType::Blob, bytes).ok()? == entry.id());
    }
    let (size, _) = git.odb().ok()?.read_header(entry.id()).ok()?;
    let file = crate::platform::open_no_follow(on_disk).ok()?;
    let opened = file.metadata().ok()?;
    if entry.filemode() == LINK || !opened.is_file() || opened.len() != size as u64 {
        return Some(false);
    }
    let mut bytes = Vec::with_capacity(size);
    file.take(size as u64 + 1).read_to_end(&mut bytes).ok()?;
    Some(git2::Oid::hash_object(git2::ObjectType::Blob, &bytes).ok()? == entry.id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(
        repo: &Path,
        applied: &[(String, String)],
        dirty: Vec<String>,
    ) -> (Vec<AppliedFile>, Vec<String>) {
        attribute_applied(&git2::Repository::open(repo).unwrap(), repo, applied, dirty)
    }

    /// A repository whose HEAD holds `a.txt` ("applied\n"): its commit id.
    fn repo_with_applied(repo: &Path) -> String {
        let git = git2::Repository::init(repo).unwrap();
        std::fs::write(repo.join("a.txt"), "applied\n").unwrap();
        let mut index = git.index().unwrap();
        index.add_path(Path::new("a.txt")).unwrap();
        let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
        let me = git2::Signature::now("t", "t@example.com").unwrap();
        let id = git.commit(Some("HEAD"), &me, &me, "applied", &tree, &[]);
        id.unwrap().to_string()
    }

    #[test]
    fn an_applied_file_is_the_departments_and_an_edited_one_the_users() {
        let dir = tempfile::tempdir().unwrap();
        let commit = repo_with_applied(dir.path());
        let applied = [("lingyubu-1".to_string(), commit)];
        let dirty = vec!["a.txt".to_string()];
        let (theirs, users) = attribute(dir.path(), &applied, dirty.clone());
        assert_eq!((theirs.len(), users.len()), (1, 0), "as committed");
        std::fs::write(dir.path().join("a.txt"), "applied, then edited\n").unwrap();
        let (theirs, users) = attribute(dir.path(), &applied, dirty.clone());
        assert_eq!((theirs.len(), users), (0, dirty.clone()), "longer");
        std::fs::write(dir.path().join("a.txt"), "applieD\n").unwrap();
        let (theirs, users) = attribute(dir.path(), &applied, dirty.clone());
        assert_eq!((theirs.len(), users), (0, dirty), "same size, other bytes");
    }

    /// A FIFO (or a link to one, or to a device) where an applied file was
    /// is the user's, and looking never blocks: an agent that can write the
    /// tree could otherwise hold up every later change of the launcher.
    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_link_planted_where_an_applied_file_was_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let commit = repo_with_applied(dir.path());
        let applied = [("lingyubu-1".to_string(), commit)];
        let file = dir.path().join("a.txt");
        std::fs::remove_file(&file).unwrap();
        crate::files::make_fifo(&file);
        let dirty = vec!["a.txt".to_string()];
        let (theirs, users) = attribute(dir.path(), &applied, dirty.clone());
        assert_eq!((theirs.len(), users), (0, dirty.clone()), "a FIFO");
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &file).unwrap();
        let (theirs, users) = attribute(dir.path(), &applied, dirty.clone());
        assert_eq!((theirs.len(), users), (0, dirty), "a link to a device");
    }
}
