//! A department's worktree shown at the user's tree's path, with Git
//! working there (issue 52). rustc keeps its incremental caches only for a
//! build in the folder that made them; a department building at the user's
//! path reuses the user's (copied into its own `target/`), and its first
//! build takes about as long as the user's next one (`worktree_caches`
//! bench). The binds are for [`crate::platform::mount_ns`] (Linux):
//!
//! 0. each folder or file to `carry` (the department's drop folder, in the
//!    state folder in the tree) to a launcher folder beside the worktrees,
//!    where the program finds it by another path (the next binds hide it);
//! 1. the repository's Git folder, when it lies in the tree, to a folder of
//!    the launcher's beside the worktrees (the next binds hide it), and
//!    over Git's record of the worktree's `commondir`, one naming it there;
//! 2. the worktree over the user's tree;
//! 3. over the worktree's `.git` file there, one naming Git's record of the
//!    worktree at its new place, so `git status` works as in the worktree.
//!
//! Both launcher folders live in the worktrees folder, outside the
//! department's temporary folder: the department cannot write them.

use std::path::{Path, PathBuf};

use git2::Repository;

use super::{io_error, WorktreeError};
use crate::model::Workspace;

/// What a program needs to see `ws`'s worktree at the user's tree's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// In the order they are made.
    pub binds: Vec<(PathBuf, PathBuf)>,
    /// The user's tree's path: the worktree there.
    pub cwd: PathBuf,
    /// Where each path to carry is seen (None: it was not there).
    pub carried: Vec<Option<PathBuf>>,
}

/// The folder of `name`'s binds' own files (gone with its worktree).
pub fn folder_for(repo: &Path, name: &str) -> PathBuf {
    super::root_for(repo)
        .join(".tmp")
        .join(format!("{name}.shown"))
}

/// Where [`prepare`] shows the `i`th path it carries for `name`.
pub fn carried_path(repo: &Path, name: &str, i: usize) -> PathBuf {
    let repo = dunce::canonicalize(repo).unwrap_or_else(|_| repo.to_path_buf());
    folder_for(&repo, name).join(format!("carried-{i}"))
}

/// Prepares the binds that show `ws`'s worktree at `repo`'s path, and
/// `carry` where the program can still reach it.
pub fn prepare(repo: &Path, ws: &Workspace, carry: &[PathBuf]) -> Result<Shown, WorktreeError> {
    let common = Repository::open(repo)?.commondir().to_path_buf();
    let common = common.canonicalize().map_err(io_error(&common))?;
    let repo = dunce::canonicalize(repo).map_err(io_error(repo))?;
    let worktree = PathBuf::from(&ws.path);
    let own = folder_for(&repo, &ws.name);
    crate::platform::create_private_dir(&own).map_err(io_error(&own))?;
    let write = |name: &str, text: String| {
        let file = own.join(name);
        std::fs::write(&file, text).map_err(io_error(&file))?;
        Ok::<_, WorktreeError>(file)
    };
    let mut binds = Vec::new();
    let mut carried = Vec::new();
    for (i, from) in carry.iter().enumerate() {
        let Ok(meta) = std::fs::symlink_metadata(from) else {
            carried.push(None);
            continue;
        };
        let at = carried_path(&repo, &ws.name, i);
        if meta.is_dir() {
            crate::platform::create_private_dir(&at).map_err(io_error(&at))?;
        } else {
            write(&format!("carried-{i}"), String::new())?;
        }
        binds.push((from.clone(), at.clone()));
        carried.push(Some(at));
    }
    let mut record = common.join("worktrees").join(&ws.name);
    if common.starts_with(&repo) {
        let stage = own.join("git");
        crate::platform::create_private_dir(&stage).map_err(io_error(&stage))?;
        binds.push((common.clone(), stage.clone()));
        record = stage.join("worktrees").join(&ws.name);
        // Git's record names the Git folder by its path in the tree.
        let commondir = write("commondir", format!("{}\n", stage.display()))?;
        binds.push((commondir, record.join("commondir")));
    }
    let gitfile = write("gitfile", format!("gitdir: {}\n", record.display()))?;
    binds.push((worktree, repo.clone()));
    binds.push((gitfile, repo.join(".git")));
    Ok(Shown {
        binds,
        cwd: repo,
        carried,
    })
}

/// Removes what [`prepare`] made for `name`.
pub fn forget(repo: &Path, name: &str) {
    let own = folder_for(repo, name);
    if own.exists() {
        if let Err(e) = std::fs::remove_dir_all(&own) {
            tracing::warn!("{}: {e}", own.display());
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::super::testing::*;
    use super::*;

    /// A program started with the binds is at the user's path, sees the
    /// worktree there (its changes, Git's view of them) and writes into
    /// it; the user's tree is untouched.
    #[test]
    fn a_program_works_in_the_worktree_at_the_users_path_with_git() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[("f", "base\n"), ("src/a.rs", "a\n")]);
        let ws = fresh_worktree(&repo, "lingyubu-1");
        let wt = Path::new(&ws.path);
        std::fs::write(wt.join("f"), "department\n").unwrap();
        // A folder of the launcher's in the tree, carried where it is seen.
        let drop = repo.join(".tmp/drop");
        std::fs::create_dir_all(&drop).unwrap();
        let shown = prepare(&repo, &ws, &[drop.clone(), repo.join("gone")]).unwrap();
        let carried = shown.carried[0].clone().unwrap();
        assert_eq!(shown.carried[1], None);
        let mut cmd = std::process::Command::new("sh");
        cmd.args([
            "-c",
            &format!(
                "pwd; cat f; echo new > made; git status --porcelain; \
                 git rev-parse --show-toplevel; echo dropped > {}/note",
                carried.display()
            ),
        ]);
        crate::platform::mount_ns::bind(&mut cmd, &shown.binds, &shown.cwd).unwrap();
        let out = cmd.output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let at = repo.canonicalize().unwrap().display().to_string();
        assert_eq!(said, format!("{at}\ndepartment\n M f\n?? made\n{at}\n"));
        assert_eq!(std::fs::read_to_string(wt.join("made")).unwrap(), "new\n");
        assert!(!repo.join("made").exists());
        assert_eq!(
            std::fs::read_to_string(drop.join("note")).unwrap(),
            "dropped\n"
        );
        assert_eq!(std::fs::read_to_string(repo.join("f")).unwrap(), "base\n");
        forget(&repo, &ws.name);
        assert!(!folder_for(&repo, &ws.name).exists());
    }
}
