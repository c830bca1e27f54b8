//! Writing into the user's working tree at the moment of writing, not at the
//! moment of checking. An agent whose sandbox may write the user's tree (a
//! Codex planner) can turn a folder into a link while an integration writes:
//! a check of the path before the write does not protect the write. So each
//! file is created, replaced or removed relative to a handle on its folder,
//! opened from the repository root one component at a time without following
//! a link, and no component may be `.git` or the launcher's state folder.
//! After the rename the path is walked again: a folder on the way that was
//! swapped meanwhile stops the integration (the caller undoes it), and the
//! file just written where nobody will look is taken back through the same
//! handle. Used by Apply, Merge, Undo and crash recovery alike.

use std::io;
use std::path::Path;

use cap_fs_ext::DirExt;
use cap_std::fs::Dir;

use super::{io_error, StateFence, WorktreeError};

/// The user's working tree, opened once for one integration's writes.
pub struct TreeWriter<'f> {
    root: Dir,
    fence: &'f StateFence,
}

/// What a path's last folder is, opened.
struct Folder<'p> {
    dir: Dir,
    name: &'p str,
}

impl<'f> TreeWriter<'f> {
    /// Opens the repository root at `repo`.
    pub fn open(repo: &Path, fence: &'f StateFence) -> Result<TreeWriter<'f>, WorktreeError> {
        let root =
            Dir::open_ambient_dir(repo, cap_std::ambient_authority()).map_err(io_error(repo))?;
        Ok(TreeWriter { root, fence })
    }

    /// Puts the file staged at `staged` at `path`, if `unmoved` agrees right
    /// before the rename.
    pub fn put(
        &self,
        path: &str,
        staged: &Path,
        unmoved: impl Fn() -> Result<(), WorktreeError>,
    ) -> Result<(), WorktreeError> {
        let folder = self.folder(path, true)?;
        let tmp = temp_name(folder.name);
        let _ = folder.dir.remove_file(&tmp);
        let existed = folder.dir.symlink_metadata(folder.name).is_ok();
        move_in(staged, &folder.dir, &tmp).map_err(io_error(staged))?;
        if let Err(e) = unmoved() {
            let _ = folder.dir.remove_file(&tmp);
            return Err(e);
        }
        folder
            .dir
            .rename(&tmp, &folder.dir, folder.name)
            .map_err(|e| self.failed(path, e))?;
        self.still_there(path, &folder, !existed)
    }

    /// Removes the file at `path` (nothing when it is absent or a folder),
    /// if `unmoved` agrees right before.
    pub fn remove(
        &self,
        path: &str,
        unmoved: impl Fn() -> Result<(), WorktreeError>,
    ) -> Result<(), WorktreeError> {
        unmoved()?;
        let Some(folder) = self.existing_folder(path)? else {
            return Ok(());
        };
        match folder.dir.symlink_metadata(folder.name) {
            Ok(m) if !m.is_dir() => folder
                .dir
                .remove_file_or_symlink(folder.name)
                .map_err(|e| self.failed(path, e))?,
            _ => return Ok(()),
        }
        self.still_there(path, &folder, false)
    }

    /// Removes the folder at `path`, whatever it holds (a folder a
    /// department made where a file comes back); nothing when `path` is no
    /// folder. Links inside are removed, never followed.
    pub fn remove_folder(&self, path: &str) -> Result<(), WorktreeError> {
        let Some(folder) = self.existing_folder(path)? else {
            return Ok(());
        };
        match folder.dir.symlink_metadata(folder.name) {
            Ok(m) if m.is_dir() => folder
                .dir
                .remove_dir_all(folder.name)
                .map_err(|e| self.failed(path, e)),
            _ => Ok(()),
        }
    }

    /// Removes what a crash left between a file's write and its rename.
    pub fn clear_temp(&self, path: &str) {
        if let Ok(Some(folder)) = self.existing_folder(path) {
            let _ = folder.dir.remove_file(temp_name(folder.name));
        }
    }

    /// The folder holding `path`, created as needed.
    fn folder<'p>(&self, path: &'p str, create: bool) -> Result<Folder<'p>, WorktreeError> {
        self.walk(path, create)?
            .ok_or_else(|| self.refused(path, "a folder on its way is missing"))
    }

    /// The folder holding `path`, or None when a folder on the way is missing.
    fn existing_folder<'p>(&self, path: &'p str) -> Result<Option<Folder<'p>>, WorktreeError> {
        self.walk(path, false)
    }

    /// Opens each folder of `path` from the root without following a link;
    /// a missing one is made when `create`, else None.
    fn walk<'p>(&self, path: &'p str, create: bool) -> Result<Option<Folder<'p>>, WorktreeError> {
        let parts: Vec<&str> = path.split('/').collect();
        if self.fence.names(path) {
            return Err(self.refused(path, "it is in the launcher's state folder"));
        }
        let (name, folders) = parts.split_last().expect("split yields one part");
        let mut dir = self.root.try_clone().map_err(|e| self.failed(path, e))?;
        for (n, part) in folders.iter().chain([name]).enumerate() {
            if part.is_empty() || *part == "." || *part == ".." || is_git(part) {
                return Err(self.refused(path, "not a plain path inside the repository"));
            }
            if n == folders.len() {
                break;
            }
            dir = match dir.open_dir_nofollow(part) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                    match dir.create_dir(part) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(self.failed(path, e)),
                    }
                    dir.open_dir_nofollow(part)
                        .map_err(|e| self.component(path, &parts[..=n], e))?
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(self.component(path, &parts[..=n], e)),
            };
        }
        Ok(Some(Folder { dir, name }))
    }

    /// After a write: `path`'s folder, walked again, is still the one
    /// written into. Otherwise the file just written there (`new`: there was
    /// none before) is taken back, and the integration stops.
    fn still_there(&self, path: &str, wrote: &Folder<'_>, new: bool) -> Result<(), WorktreeError> {
        let now = self.existing_folder(path).ok().flatten();
        let same = match &now {
            Some(f) => same_dir(&f.dir, &wrote.dir).unwrap_or(false),
            None => false,
        };
        if same {
            return Ok(());
        }
        if new {
            let _ = wrote.dir.remove_file(wrote.name);
        }
        Err(self.refused(
            path,
            "a folder on its way was moved or replaced while it was written",
        ))
    }

    /// A component that cannot be opened as a plain folder: a link, a file.
    fn component(&self, path: &str, upto: &[&str], e: io::Error) -> WorktreeError {
        let at = upto.join("/");
        match self.root.symlink_metadata(&at) {
            Ok(m) if m.is_symlink() => self.refused(path, &format!("{at} is a link")),
            Ok(m) if !m.is_dir() => self.refused(path, &format!("{at} is not a folder")),
            _ => self.failed(path, e),
        }
    }

    fn refused(&self, path: &str, why: &str) -> WorktreeError {
        WorktreeError::Refused(format!("{path}: {why}; nothing is written through it"))
    }

    fn failed(&self, path: &str, source: io::Error) -> WorktreeError {
        WorktreeError::Io {
            path: path.to_string(),
            source,
        }
    }
}

/// Where a file's new content waits, beside it, for its rename.
pub fn temp_name(name: &str) -> String {
    format!(".{name}.codex-governance-tmp")
}

/// `.git` as any file system may spell it (see `policy::carried`).
fn is_git(part: &str) -> bool {
    let trimmed = part.trim_end_matches(['.', ' ']).to_ascii_lowercase();
    trimmed == ".git" || trimmed == "git~1"
}

/// Whether two handles are the same folder.
fn same_dir(a: &Dir, b: &Dir) -> io::Result<bool> {
    let handle = |d: &Dir| -> io::Result<same_file::Handle> {
        same_file::Handle::from_file(d.try_clone()?.into_std_file())
    };
    Ok(handle(a)? == handle(b)?)
}

/// Moves the staged file (or link) into `dir` as `name`: a rename, or a copy
/// when the staging folder is on another file system.
fn move_in(staged: &Path, dir: &Dir, name: &str) -> io::Result<()> {
    let (Some(from_dir), Some(from_name)) = (staged.parent(), staged.file_name()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no file name"));
    };
    let from = Dir::open_ambient_dir(from_dir, cap_std::ambient_authority())?;
    match from.rename(from_name, dir, name) {
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => copy_in(&from, from_name, dir, name),
        other => other,
    }
}

/// Copies a file (with its permissions) or a link (as a link) across file systems.
fn copy_in(from: &Dir, from_name: &std::ffi::OsStr, dir: &Dir, name: &str) -> io::Result<()> {
    let meta = from.symlink_metadata(from_name)?;
    if meta.is_symlink() {
        let target = from.read_link_contents(from_name)?;
        return dir.symlink_file(target, name);
    }
    let mut src = from.open(from_name)?;
    let mut options = cap_std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    let mut dst = dir.open_with(name, &options)?;
    io::copy(&mut src, &mut dst)?;
    dst.set_permissions(meta.permissions())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(dir: &Path, text: &str) -> std::path::PathBuf {
        let p = dir.join(format!("staged-{text}"));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn files_are_written_and_removed_in_folders_made_on_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join(".tmp")).unwrap();
        let fence = StateFence::new(&repo, &repo.join(".tmp"));
        let w = TreeWriter::open(&repo, &fence).unwrap();
        w.put("a/b/c.txt", &staged(dir.path(), "one"), || Ok(()))
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(repo.join("a/b/c.txt")).unwrap(),
            "one"
        );
        w.put("a/b/c.txt", &staged(dir.path(), "two"), || Ok(()))
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(repo.join("a/b/c.txt")).unwrap(),
            "two"
        );
        w.remove("a/b/c.txt", || Ok(())).unwrap();
        assert!(!repo.join("a/b/c.txt").exists());
        w.remove("x/missing.txt", || Ok(())).unwrap();
        for bad in [
            ".tmp/codex_governance.db-journal",
            "a/.GIT/config",
            "a/../b",
        ] {
            let e = w
                .put(bad, &staged(dir.path(), "bad"), || Ok(()))
                .unwrap_err();
            assert!(e.to_string().contains("nothing is written"), "{e}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_turned_into_a_link_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let state = repo.join(".tmp");
        std::fs::create_dir_all(&state).unwrap();
        let fence = StateFence::new(&repo, &state);
        let w = TreeWriter::open(&repo, &fence).unwrap();
        // `b` did not exist when the integration was predicted; now it is a link.
        std::os::unix::fs::symlink(".tmp", repo.join("b")).unwrap();
        let e = w
            .put(
                "b/codex_governance.db-journal",
                &staged(dir.path(), "hot"),
                || Ok(()),
            )
            .unwrap_err();
        assert!(e.to_string().contains("b is a link"), "{e}");
        assert!(!state.join("codex_governance.db-journal").exists());
        // A deeper link, to a folder outside the repository.
        std::fs::create_dir_all(repo.join("c")).unwrap();
        std::os::unix::fs::symlink(dir.path(), repo.join("c/d")).unwrap();
        assert!(w
            .put("c/d/e/f", &staged(dir.path(), "x"), || Ok(()))
            .is_err());
        assert!(!dir.path().join("e").exists());
        assert!(w.remove("b/anything", || Ok(())).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_swapped_between_its_opening_and_the_rename_stops_the_write_and_takes_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let state = repo.join(".tmp");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::create_dir_all(repo.join("b")).unwrap();
        let fence = StateFence::new(&repo, &state);
        let w = TreeWriter::open(&repo, &fence).unwrap();
        // The swap happens as late as it can: right before the rename.
        let swap = || {
            std::fs::rename(repo.join("b"), repo.join("b-moved")).unwrap();
            std::os::unix::fs::symlink(".tmp", repo.join("b")).unwrap();
            Ok(())
        };
        let e = w
            .put(
                "b/codex_governance.db-journal",
                &staged(dir.path(), "hot"),
                swap,
            )
            .unwrap_err();
        assert!(e.to_string().contains("moved or replaced"), "{e}");
        assert!(!state.join("codex_governance.db-journal").exists());
        assert!(
            !repo.join("b-moved/codex_governance.db-journal").exists(),
            "taken back"
        );
    }
}
