//! A commit's tree written out as plain files in a new folder (issue 73): the
//! exact tree a landing verifies, with no `.git` that leads back into the
//! user's repository. Files keep their executable bit and links stay links;
//! a submodule is an empty folder. Every write goes through a handle on the
//! new folder (cap-std), so a link the tree holds never carries a later
//! entry outside it, and a name Git would refuse (`..`, `.git`, a slash) is
//! refused here too.

use std::path::Path;

use cap_std::fs::Dir;
use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use super::{io_error, WorktreeError};

/// Writes `tree` of `repo` into `dest`, which must not exist yet; the
/// files it wrote (their paths in the tree, links among them).
pub fn export_tree(repo: &Path, tree: &str, dest: &Path) -> Result<Vec<String>, WorktreeError> {
    let git = Repository::open(repo)?;
    let tree = git.find_tree(Oid::from_str(tree)?)?;
    std::fs::create_dir(dest).map_err(io_error(dest))?;
    let root = Dir::open_ambient_dir(dest, cap_std::ambient_authority()).map_err(io_error(dest))?;
    let mut written = Vec::new();
    let mut failure: Option<WorktreeError> = None;
    let walked = tree.walk(TreeWalkMode::PreOrder, |folder, entry| {
        let Some(name) = entry.name().filter(|n| fit_name(n)) else {
            failure = Some(WorktreeError::Refused(format!(
                "the tree holds a name no checkout would write: {:?} in {folder:?}",
                String::from_utf8_lossy(entry.name_bytes())
            )));
            return TreeWalkResult::Abort;
        };
        let path = format!("{folder}{name}");
        let done = match entry.kind() {
            Some(ObjectType::Tree) => root.create_dir(&path).map(|()| false),
            Some(ObjectType::Blob) => git
                .find_blob(entry.id())
                .map_err(std::io::Error::other)
                .and_then(|blob| write_entry(&root, &path, entry.filemode(), blob.content()))
                .map(|()| true),
            // A submodule: its folder, empty.
            _ => root.create_dir(&path).map(|()| false),
        };
        match done {
            Ok(file) => {
                if file {
                    written.push(path);
                }
                TreeWalkResult::Ok
            }
            Err(e) => {
                failure = Some(io_error(&dest.join(&path))(e));
                TreeWalkResult::Abort
            }
        }
    });
    match (failure, walked) {
        (Some(e), _) => Err(e),
        (None, Err(e)) => Err(e.into()),
        (None, Ok(())) => Ok(written),
    }
}

/// A name one folder of a checkout may hold.
fn fit_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.eq_ignore_ascii_case(".git")
        && !name.contains(['/', '\\', '\0'])
}

fn write_entry(root: &Dir, path: &str, mode: i32, content: &[u8]) -> std::io::Result<()> {
    if mode == 0o120000 {
        let target = String::from_utf8_lossy(content).into_owned();
        // As Git writes it, wherever it points: the handle keeps every
        // later write inside the folder all the same.
        #[cfg(unix)]
        return root.symlink_contents(target, path);
        #[cfg(not(unix))]
        return root.write(path, target.as_bytes());
    }
    root.write(path, content)?;
    #[cfg(unix)]
    if mode == 0o100755 {
        use cap_std::fs::PermissionsExt;
        root.set_permissions(path, cap_std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_tree_comes_out_as_plain_files_with_modes_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let git = Repository::init(dir.path()).unwrap();
        let blob = |b: &[u8]| git.blob(b).unwrap();
        let mut sub = git.treebuilder(None).unwrap();
        sub.insert("lib.rs", blob(b"pub fn a() {}\n"), 0o100644)
            .unwrap();
        let sub = sub.write().unwrap();
        let mut top = git.treebuilder(None).unwrap();
        top.insert("src", sub, 0o040000).unwrap();
        top.insert("run.sh", blob(b"#!/bin/sh\n"), 0o100755)
            .unwrap();
        top.insert("up", blob(b"/etc"), 0o120000).unwrap();
        let tree = top.write().unwrap().to_string();
        let out = dir.path().join("out");
        assert_eq!(export_tree(dir.path(), &tree, &out).unwrap().len(), 3);
        assert_eq!(
            std::fs::read_to_string(out.join("src/lib.rs")).unwrap(),
            "pub fn a() {}\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("run.sh")).unwrap().permissions();
        assert_eq!(mode.mode() & 0o111, 0o111);
        assert_eq!(
            std::fs::read_link(out.join("up")).unwrap(),
            Path::new("/etc")
        );
        assert!(!out.join(".git").exists());
        // A folder that is there already is not written into.
        assert!(export_tree(dir.path(), &tree, &out).is_err());
    }
}
