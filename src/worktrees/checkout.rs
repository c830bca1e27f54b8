//! Files as `git checkout` writes them, and read back as `git add` reads them.
//!
//! A blob is not always the file: `core.autocrlf`, `.gitattributes` `eol` and
//! `text`, `ident` turn it into what the user's checkout holds. An
//! integration writes each path through libgit2's own checkout, into a
//! staging folder inside `.git` (never the working tree, so nothing half
//! written is seen), and moves the result into place; reading a path back
//! (crash recovery, the check before each rename) hashes it through the
//! same filters, so a file holding CRLF where the blob holds LF still counts
//! as that blob. External filter drivers (Git LFS) libgit2 does not run are
//! run through [`super::filters`]: smudge after the checkout, clean before
//! hashing, in Git's order.

use std::path::{Path, PathBuf};

use git2::{build::CheckoutBuilder, Index, IndexEntry, IndexTime, ObjectType, Oid, Repository};

use super::filters::{self, Direction};
use super::{io_error, WorktreeError};

/// Blobs checked out into a private folder, ready to be moved into place;
/// the folder goes when this does.
pub struct Staged {
    dir: Option<tempfile::TempDir>,
    parent: PathBuf,
}

impl Drop for Staged {
    fn drop(&mut self) {
        drop(self.dir.take());
        let _ = std::fs::remove_dir(&self.parent); // when no other is there
    }
}

impl Staged {
    /// Checks out each `(path, blob, mode)` into a new folder inside `.git`.
    pub fn checkout(git: &Repository, files: &[(&str, Oid, u32)]) -> Result<Staged, WorktreeError> {
        let parent = git.path().join("codex-governance-checkout");
        std::fs::create_dir_all(&parent).map_err(io_error(&parent))?;
        let dir = tempfile::Builder::new()
            .prefix("apply-")
            .tempdir_in(&parent)
            .map_err(io_error(&parent))?;
        let staged = Staged {
            dir: Some(dir),
            parent,
        };
        if files.is_empty() {
            return Ok(staged);
        }
        let mut index = Index::new()?;
        for (path, id, mode) in files {
            index.add(&entry(path.as_bytes(), *id, *mode))?;
        }
        let mut opts = CheckoutBuilder::new();
        opts.force()
            .update_index(false)
            .recreate_missing(true)
            .target_dir(staged.dir());
        git.checkout_index(Some(&mut index), Some(&mut opts))?;
        for (path, _, mode) in files {
            if *mode != 0o120000 {
                staged.smudge(git, path)?;
            }
        }
        Ok(staged)
    }

    /// Runs `path`'s smudge driver, if any, over what libgit2 wrote.
    fn smudge(&self, git: &Repository, path: &str) -> Result<(), WorktreeError> {
        filters::smudge_file(git, &self.file(path), path).map(|_| ())
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().map_or(&self.parent, |d| d.path())
    }

    /// Where `path` was checked out.
    pub fn file(&self, path: &str) -> PathBuf {
        self.dir().join(path)
    }
}

/// Removes what an interrupted integration left in `.git`.
pub fn clear_leftovers(git: &Repository) {
    let _ = std::fs::remove_dir_all(git.path().join("codex-governance-checkout"));
}

/// An index entry for an object at `path` with `mode` (no file data).
pub(super) fn entry(path: &[u8], id: Oid, mode: u32) -> IndexEntry {
    IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: 0,
        id,
        flags: 0,
        flags_extended: 0,
        path: path.to_vec(),
    }
}

/// The blob id of what `file` (the repository path `path`) holds, read
/// through the repository's filters as `git add` would read it; a link as
/// its target. None when it is absent (or a folder).
pub fn blob_of(git: &Repository, file: &Path, path: &str) -> Result<Option<Oid>, WorktreeError> {
    let meta = match std::fs::symlink_metadata(file) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(file)(e)),
    };
    if meta.is_dir() {
        return Ok(None);
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(file).map_err(io_error(file))?;
        let bytes = target.as_os_str().as_encoded_bytes();
        return Ok(Some(Oid::hash_object(ObjectType::Blob, bytes)?));
    }
    // Opened without following a link or blocking on a FIFO (one planted
    // since the look above too), and read only from a regular file.
    let mut source = crate::platform::open_no_follow(file).map_err(|(_, e)| io_error(file)(e))?;
    if !source.metadata().map_err(io_error(file))?.is_file() {
        return Err(WorktreeError::Refused(format!(
            "{path} is not a regular file (a FIFO, a socket or a device): move it away"
        )));
    }
    let mut writer = git.blob_writer(Some(Path::new(path)))?;
    if let Some(driver) = filters::driver_for(git, path, Direction::Clean)? {
        // Git cleans first, then converts line endings (the writer does that).
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut source, &mut raw).map_err(io_error(file))?;
        let workdir = git.workdir().unwrap_or(git.path());
        let cleaned = filters::run(&driver, workdir, path, raw)?;
        std::io::Write::write_all(&mut writer, &cleaned).map_err(io_error(file))?;
        return Ok(Some(writer.commit()?));
    }
    std::io::copy(&mut source, &mut writer).map_err(io_error(file))?;
    Ok(Some(writer.commit()?))
}

#[cfg(test)]
mod tests {
    use super::super::testing::repo_with;
    use super::*;

    #[test]
    fn a_blob_is_written_with_crlf_where_the_attributes_say_and_read_back_as_itself() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(
            dir.path(),
            &[
                (".gitattributes", "*.txt text eol=crlf\n"),
                ("a.txt", "x\n"),
            ],
        );
        let git = Repository::open(&repo).unwrap();
        let id = git.blob(b"one\ntwo\n").unwrap();
        let staged = Staged::checkout(&git, &[("sub/new.txt", id, 0o100644)]).unwrap();
        let bytes = std::fs::read(staged.file("sub/new.txt")).unwrap();
        assert_eq!(bytes, b"one\r\ntwo\r\n");
        let placed = repo.join("new.txt");
        std::fs::write(&placed, &bytes).unwrap();
        assert_eq!(blob_of(&git, &placed, "new.txt").unwrap(), Some(id));
        assert_eq!(
            blob_of(&git, &repo.join("gone.txt"), "gone.txt").unwrap(),
            None
        );
    }

    /// A FIFO planted where a path is looked at is named, never read (the
    /// read would block the integration, and every change after it).
    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_by_name_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[("a.txt", "x\n")]);
        let git = Repository::open(&repo).unwrap();
        let fifo = repo.join("pipe");
        crate::files::make_fifo(&fifo);
        let e = blob_of(&git, &fifo, "pipe").unwrap_err().to_string();
        assert!(e.contains("pipe is not a regular file"), "{e}");
    }
}
