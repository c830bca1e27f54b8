//! Files a build or a test needs that Git does not hold (issue 52 item 2):
//! `launcher.worktree.copy` globs name untracked or ignored files of the
//! user's tree (`.env`, local settings) copied into each new department
//! worktree before its agent starts. They are the user's, not the
//! department's work: the worktree's record leaves them out (by the list
//! kept with the workspace, which the department cannot write), so they are
//! never committed, reviewed or integrated back.
//!
//! A hostile repository can plant links: nothing here follows one. The walk
//! does not enter linked folders, a file is opened without following a link
//! and copied only when the opened file is a regular one, and in the
//! worktree each folder on the way is made or found as a real folder (a
//! committed link there skips the file) and the file is created new,
//! without following a link. `std::io::copy` between two files uses the
//! kernel's copy (`copy_file_range` on Linux), which shares the blocks on a
//! file system that can (Btrfs, XFS).

use std::fs::OpenOptions;
use std::path::{Component, Path};

use crate::glob::{Glob, PatternSet};

/// Copies the user's untracked or ignored files matching `globs` from `repo`
/// into the new worktree `worktree`; `skip` is a folder of the tree never
/// copied from (the launcher's state folder). Returns the paths copied
/// (relative, `/`-separated, sorted); a file that cannot be copied is
/// skipped and said in the log.
pub fn copy_into(repo: &Path, worktree: &Path, globs: &[String], skip: &Path) -> Vec<String> {
    if globs.is_empty() {
        return Vec::new();
    }
    let tracked = match git2::Repository::open(repo).and_then(|g| g.index()) {
        Ok(index) => index,
        Err(e) => {
            tracing::warn!("copying files into {}: {e}", worktree.display());
            return Vec::new();
        }
    };
    let set = PatternSet::new(globs);
    let starts: Vec<String> = globs
        .iter()
        .map(|g| Glob::new(g).literal_start().to_string())
        .collect();
    // A folder may hold a match when a glob's literal start and its path agree.
    let may_hold = |folder: &str| {
        let folder = format!("{folder}/");
        starts
            .iter()
            .any(|s| folder.starts_with(s.as_str()) || s.starts_with(folder.as_str()))
    };
    // The state folder as given, and as it resolves (a `..` or a link in its
    // path names the same folder).
    let fence = super::fence::StateFence::new(repo, skip);
    let mut copied = Vec::new();
    let walk = walkdir::WalkDir::new(repo)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let Some(rel) = relative(repo, e.path()) else {
                return e.depth() == 0;
            };
            if fence.names(&rel) {
                return false;
            }
            if !e.file_type().is_dir() {
                return true;
            }
            rel != ".git" && !rel.ends_with("/.git") && may_hold(&rel)
        });
    let mut chosen = Vec::new();
    let mut needed = 0u64;
    for entry in walk.flatten() {
        if !entry.file_type().is_file() {
            continue;
        }
        let Some(rel) = relative(repo, entry.path()) else {
            continue;
        };
        if !set.is_match(&rel) || tracked.get_path(Path::new(&rel), 0).is_some() {
            continue;
        }
        needed += entry.metadata().map_or(0, |m| m.len());
        chosen.push((entry, rel));
    }
    // Copies never fill the disk the user works on (as the Cargo cache's).
    let free = crate::platform::free_bytes(worktree).unwrap_or(u64::MAX);
    if !super::caches::copy_fits(needed, free) {
        tracing::warn!(
            "nothing copied into {}: the {} files `worktree.copy` names take {needed} bytes, \
             more than half of the {free} free",
            worktree.display(),
            chosen.len()
        );
        return Vec::new();
    }
    for (entry, rel) in chosen {
        match copy_one(entry.path(), worktree, &rel) {
            Ok(true) => copied.push(rel),
            Ok(false) => {}
            Err(why) => tracing::warn!("not copied into {}: {rel}: {why}", worktree.display()),
        }
    }
    copied.sort();
    copied
}

/// `path` relative to `root`, `/`-separated; None for the root itself or a
/// name that is not UTF-8.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel
        .components()
        .map(|c| match c {
            Component::Normal(n) => n.to_str(),
            _ => None,
        })
        .collect();
    let parts = parts?;
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Why one file was not copied in (logged; the others still are).
#[derive(Debug, thiserror::Error)]
enum NotCopied {
    #[error("not a regular file")]
    NotAFile,
    #[error("{0} is not a folder in the worktree")]
    NotAFolder(std::path::PathBuf),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Copies one regular file to `rel` in the worktree; false when the
/// worktree already holds that path (a checked-out file is never replaced).
fn copy_one(from: &Path, worktree: &Path, rel: &str) -> Result<bool, NotCopied> {
    let mut source = crate::platform::open_no_follow(from).map_err(|(_, e)| e)?;
    let meta = source.metadata()?;
    if !meta.is_file() {
        return Err(NotCopied::NotAFile);
    }
    let mut folder = worktree.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len() - 1] {
        folder.push(part);
        match std::fs::symlink_metadata(&folder) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(NotCopied::NotAFolder(folder)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(&folder)?,
            Err(e) => return Err(e.into()),
        }
    }
    let to = folder.join(parts[parts.len() - 1]);
    if std::fs::symlink_metadata(&to).is_ok() {
        return Ok(false);
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    let mut target = crate::platform::open_no_follow_with(&mut options, &to)?;
    std::io::copy(&mut source, &mut target)?;
    target.set_permissions(meta.permissions())?;
    Ok(true)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn untracked_and_ignored_matches_are_copied_and_links_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = super::super::testing::repo_with(
            dir.path(),
            &[
                (".gitignore", ".env\nconfig/*.local.json\n"),
                ("config/app.json", "{}\n"),
            ],
        );
        std::fs::write(repo.join(".env"), "TOKEN=1\n").unwrap();
        std::fs::write(repo.join("config/dev.local.json"), "{\"dev\":1}\n").unwrap();
        std::fs::write(repo.join("config/other.txt"), "no\n").unwrap();
        // Planted links: a file and a folder pointing out of the tree.
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.local.json"), "stolen\n").unwrap();
        std::os::unix::fs::symlink(
            outside.join("secret.local.json"),
            repo.join("config/link.local.json"),
        )
        .unwrap();
        std::os::unix::fs::symlink(&outside, repo.join("linked")).unwrap();
        let wt = super::super::testing::fresh_worktree(&repo, "lingyubu-1");
        let wt = Path::new(&wt.path);
        let globs: Vec<String> = [".env", "config/*.json", "linked/*"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let copied = copy_into(&repo, wt, &globs, &repo.join(".tmp"));
        assert_eq!(
            copied,
            [".env", "config/dev.local.json"],
            "tracked config/app.json and links are not copied"
        );
        assert_eq!(
            std::fs::read_to_string(wt.join(".env")).unwrap(),
            "TOKEN=1\n"
        );
        assert!(!wt.join("config/link.local.json").exists());
        assert!(!wt.join("linked").exists());
    }

    #[test]
    fn the_state_folder_is_never_copied_however_its_path_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) =
            super::super::testing::repo_with(dir.path(), &[(".gitignore", ".tmp/\nlocal/\n")]);
        std::fs::create_dir_all(repo.join(".tmp")).unwrap();
        std::fs::write(repo.join(".tmp/codex_governance_token"), "secret\n").unwrap();
        std::fs::create_dir_all(repo.join("local")).unwrap();
        std::fs::write(repo.join("local/settings"), "s\n").unwrap();
        let wt = super::super::testing::fresh_worktree(&repo, "lingyubu-1");
        let wt = Path::new(&wt.path);
        let globs = vec![".tmp/codex_governance_t".to_string(), "local/*".to_string()];
        // `--state-dir local/../.tmp`, and the same through a link.
        let link = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&repo, &link).unwrap();
        for given in [repo.join("local/../.tmp"), link.join(".tmp")] {
            let copied = copy_into(&repo, wt, &globs, &given);
            assert!(!wt.join(".tmp").exists(), "{}: {copied:?}", given.display());
        }
        assert!(wt.join("local/settings").exists());
    }

    #[test]
    fn files_that_would_take_half_the_free_disk_are_not_copied() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = super::super::testing::repo_with(dir.path(), &[(".gitignore", "*.bin\n")]);
        let wt = super::super::testing::fresh_worktree(&repo, "lingyubu-1");
        let wt = Path::new(&wt.path);
        std::fs::write(repo.join("small.bin"), "s").unwrap();
        // A sparse file as long as the free space: no block of it is written.
        let free = crate::platform::free_bytes(wt).unwrap();
        let big = std::fs::File::create(repo.join("big.bin")).unwrap();
        big.set_len(free + 1).unwrap();
        let copied = copy_into(&repo, wt, &["*.bin".to_string()], &repo.join(".tmp"));
        assert!(copied.is_empty(), "{copied:?}");
        assert!(!wt.join("big.bin").exists() && !wt.join("small.bin").exists());
        std::fs::remove_file(repo.join("big.bin")).unwrap();
        let copied = copy_into(&repo, wt, &["*.bin".to_string()], &repo.join(".tmp"));
        assert_eq!(copied, ["small.bin"]);
    }

    #[test]
    fn a_link_in_the_worktree_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let (repo, _) = super::super::testing::repo_with(dir.path(), &[(".gitignore", "conf/\n")]);
        std::fs::create_dir_all(repo.join("conf")).unwrap();
        std::fs::write(repo.join("conf/x.env"), "x\n").unwrap();
        let wt = super::super::testing::fresh_worktree(&repo, "lingyubu-1");
        let wt = Path::new(&wt.path);
        // As a link the repository committed at `conf` would check out.
        std::os::unix::fs::symlink(&outside, wt.join("conf")).unwrap();
        let copied = copy_into(&repo, wt, &["conf/*".to_string()], &repo.join(".tmp"));
        assert!(copied.is_empty(), "{copied:?}");
        assert!(
            !outside.join("x.env").exists(),
            "nothing written through the link"
        );
    }
}
