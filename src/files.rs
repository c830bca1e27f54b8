//! Writing the launcher's own files in its state folder. An agent can read
//! and (through an integration or a cloned repository) plant files there, so
//! nothing is written through a link: a file is replaced by rename
//! ([`write_atomic`]) or opened without following links and checked to be a
//! regular file of this user's with one name ([`open_own`]).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes` atomically and durably: a temporary file in the
/// same folder, owner-only (0600), synced, renamed over the old one, then the
/// folder synced (where the platform can: [`crate::platform::sync_dir`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    crate::platform::make_private(tmp.as_file())?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    crate::platform::sync_dir(dir)
}

/// How a launcher file is opened by [`open_own`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Appended to (a transcript, a log).
    Append,
    /// Read and appended to (the audit log).
    ReadAppend,
    /// Written in place, never truncated (a lock, a database).
    Write,
}

/// Opens (creating it owner-only when missing) the launcher's file `path`,
/// which lies in `root` (the state folder). Refused with the reason: a link at
/// `path` or at any folder between `root` and it, or a file that is not a
/// regular file of this user's with exactly one name. `root` itself is
/// checked once at start ([`crate::private_state::secure`]).
pub fn open_own(root: &Path, path: &Path, access: Access) -> std::io::Result<File> {
    let refused = |why: String| {
        std::io::Error::other(format!(
            "{} {why}: the launcher writes only its own files; move it away",
            path.display()
        ))
    };
    check_folders(root, path)
        .map_err(|(folder, why)| refused(format!("is in {}, which is {why}", folder.display())))?;
    let mut options = OpenOptions::new();
    options.create(true);
    match access {
        Access::Append => options.append(true),
        Access::ReadAppend => options.read(true).append(true),
        Access::Write => options.write(true).truncate(false),
    };
    let file = crate::platform::open_no_follow_with(&mut options, path).map_err(|e| {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            refused("is a symbolic link".into())
        } else {
            e
        }
    })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        let what = crate::platform::describe_file_type(&meta.file_type());
        return Err(refused(format!("is {what}")));
    }
    if let Some(why) = crate::platform::not_own(&meta, false) {
        return Err(refused(format!("is {why}")));
    }
    let names = crate::platform::link_count(&file)?;
    if names != 1 {
        return Err(refused(format!(
            "has {names} names (a hard link to another file)"
        )));
    }
    crate::platform::make_private(&file)?;
    Ok(file)
}

/// Opens `path` for reading if it is a regular file, without following a
/// link at it and without blocking on a FIFO (checked on the descriptor):
/// what someone planted at a name the launcher reads holds nothing up.
pub fn open_regular(path: &Path) -> Option<File> {
    let file = crate::platform::open_no_follow(path).ok()?;
    file.metadata().ok()?.is_file().then_some(file)
}

/// The text of the regular file at `path`, at most `max` bytes, opened as
/// [`open_regular`] opens it: a link, a FIFO or a device planted there (by an
/// agent that can write the user's tree) is an error that says what it is,
/// never a read that follows it, blocks or never ends. A missing file is
/// `NotFound`.
pub fn read_regular_text(path: &Path, max: u64) -> std::io::Result<String> {
    use crate::platform::OpenRefusal;
    use std::io::{Error, ErrorKind, Read};
    let file = crate::platform::open_no_follow(path).map_err(|(why, e)| match why {
        OpenRefusal::NotRegular(what) => Error::new(
            ErrorKind::InvalidInput,
            format!("it is {what}, not a regular file: only a file of its own is read there"),
        ),
        OpenRefusal::Gone | OpenRefusal::Other => e,
    })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "it is not a regular file (a folder, a FIFO or a device): only a file of its own is read there",
        ));
    }
    if meta.len() > max {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("it is {} bytes; at most {max} are read", meta.len()),
        ));
    }
    let mut text = String::new();
    file.take(max).read_to_string(&mut text)?;
    Ok(text)
}

/// The last `max` bytes of the regular file at `path`, opened as
/// [`open_regular`] opens it, and the offset they start at; `None` when there
/// is no such file or it cannot be read.
pub fn read_tail(path: &Path, max: u64) -> Option<(Vec<u8>, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = open_regular(path)?;
    let from = f.metadata().ok()?.len().saturating_sub(max);
    f.seek(SeekFrom::Start(from)).ok()?;
    let mut bytes = Vec::new();
    f.take(max).read_to_end(&mut bytes).ok()?;
    Some((bytes, from))
}

/// The length of the regular file at `path`, without following a link at it.
pub fn regular_len(path: &Path) -> Option<u64> {
    std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// Creates the launcher's folder `dir` in `root`, new (0700): one already
/// there, link or folder, is an `AlreadyExists` error; a link or another
/// user's folder on the way is refused.
pub fn create_own_dir(root: &Path, dir: &Path) -> std::io::Result<()> {
    check_folders(root, dir).map_err(|(folder, why)| {
        std::io::Error::other(format!(
            "{} is in {}, which is {why}: the launcher makes its folders only in its own",
            dir.display(),
            folder.display()
        ))
    })?;
    std::fs::create_dir(dir)?;
    crate::platform::tighten(dir).map(drop)
}

/// Every folder between `root` and `path` is a folder (not a link) of this
/// user's that no one else may write; else the first that is not, and why.
fn check_folders(root: &Path, path: &Path) -> Result<(), (std::path::PathBuf, String)> {
    let Ok(inner) = path.strip_prefix(root) else {
        return Ok(());
    };
    let mut folder = root.to_path_buf();
    let parts: Vec<_> = inner.components().collect();
    for part in parts.iter().take(parts.len().saturating_sub(1)) {
        folder.push(part);
        let meta = match std::fs::symlink_metadata(&folder) {
            Ok(m) => m,
            Err(e) => return Err((folder, e.to_string())),
        };
        if !meta.is_dir() {
            let what = crate::platform::describe_file_type(&meta.file_type());
            return Err((folder, what.to_string()));
        }
        if let Some(why) = crate::platform::not_own(&meta, true) {
            return Err((folder, why));
        }
    }
    Ok(())
}

/// Makes a FIFO at `path`, as an agent could plant one (tests only).
#[cfg(test)]
pub(crate) fn make_fifo(path: &Path) {
    #[cfg(unix)]
    {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        let made = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(made, 0, "mkfifo {}", path.display());
    }
    #[cfg(not(unix))]
    panic!("no FIFOs on this platform: {}", path.display());
}

/// Where `path` lands as the file system stands now: its deepest part that
/// resolves (links followed), then the rest as written.
pub struct Landing {
    pub path: std::path::PathBuf,
    /// A part past the resolved one exists but does not resolve: a link to
    /// nothing, which a write would follow.
    pub through_dangling: bool,
}

/// [`Landing`] of `path`; None when no part of it resolves.
pub fn landing(path: &Path) -> Option<Landing> {
    let mut existing = path;
    let mut rest = Vec::new();
    let mut through_dangling = false;
    loop {
        if let Ok(real) = existing.canonicalize() {
            let path = rest.iter().rev().fold(real, |full, part| full.join(part));
            return Some(Landing {
                path,
                through_dangling,
            });
        }
        through_dangling |= std::fs::symlink_metadata(existing).is_ok();
        rest.push(existing.file_name()?.to_os_string());
        existing = existing.parent()?;
    }
}

/// Whether `path` (absolute, no `..`) lies inside `root` as the file system
/// resolves it now ([`landing`]). A patch through a link a department made
/// points where the link does; one through a link to nothing is not inside.
pub fn resolves_inside(root: &Path, path: &Path) -> bool {
    use std::path::Component;
    if !path.is_absolute() || path.components().any(|c| c == Component::ParentDir) {
        return false;
    }
    let Ok(root) = root.canonicalize() else {
        return false;
    };
    landing(path).is_some_and(|at| !at.through_dangling && at.path.starts_with(&root))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_inside_a_root_as_its_links_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let (root, outside) = (dir.path().join("wt"), dir.path().join("home"));
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        assert!(resolves_inside(&root, &root.join("src/new/file.rs")));
        assert!(resolves_inside(&root, &root.join("src")));
        assert!(!resolves_inside(&root, &root.join("link/.bashrc")));
        assert!(!resolves_inside(&root, &root.join("src/../../home/x")));
        assert!(!resolves_inside(&root, Path::new("src/relative.rs")));
        assert!(!resolves_inside(&root, &outside.join("x")));
        // A link to a file not there yet is written through.
        std::os::unix::fs::symlink(outside.join("authorized_keys"), root.join("notes.md")).unwrap();
        assert!(!resolves_inside(&root, &root.join("notes.md")));
    }

    #[test]
    fn a_tail_is_read_from_a_regular_file_only_never_through_a_link_or_from_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("codex_governance_logs");
        std::fs::create_dir_all(&logs).unwrap();
        let own = logs.join("zhilibu-1.log");
        std::fs::write(&own, "0123456789").unwrap();
        assert_eq!(read_tail(&own, 4), Some((b"6789".to_vec(), 6)));
        assert_eq!(read_tail(&own, 40), Some((b"0123456789".to_vec(), 0)));
        assert_eq!(regular_len(&own), Some(10));
        // An agent's link to the user's file: neither read nor measured.
        let secret = dir.path().join("id_ed25519");
        std::fs::write(&secret, "PRIVATE KEY").unwrap();
        let linked = logs.join("zhilibu-2.log");
        std::os::unix::fs::symlink(&secret, &linked).unwrap();
        assert_eq!(read_tail(&linked, 100), None);
        assert_eq!(regular_len(&linked), None);
        // A FIFO: nothing waits for a writer.
        let fifo = logs.join("zhilibu-3.log");
        make_fifo(&fifo);
        assert_eq!(read_tail(&fifo, 100), None);
        assert_eq!(regular_len(&fifo), None);
        assert_eq!(read_tail(&logs.join("gone.log"), 100), None);
    }

    #[test]
    fn a_link_a_hard_link_or_a_linked_folder_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("state");
        let logs = root.join("codex_governance_logs");
        std::fs::create_dir_all(&logs).unwrap();
        let target = dir.path().join("bashrc");
        std::fs::write(&target, "mine\n").unwrap();

        let linked = logs.join("zhongshu-1.log");
        std::os::unix::fs::symlink(&target, &linked).unwrap();
        let e = open_own(&root, &linked, Access::Append).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");

        let hard = logs.join("zhongshu-2.log");
        std::fs::hard_link(&target, &hard).unwrap();
        let e = open_own(&root, &hard, Access::Append).unwrap_err();
        assert!(e.to_string().contains("has 2 names"), "{e}");

        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let linked_folder = root.join("codex_governance_prompts");
        std::os::unix::fs::symlink(&elsewhere, &linked_folder).unwrap();
        let e = open_own(&root, &linked_folder.join("a.md"), Access::Write).unwrap_err();
        assert!(e.to_string().contains("which is a symbolic link"), "{e}");
        assert!(!elsewhere.join("a.md").exists());

        let fifo = logs.join("zhongshu-3.log");
        make_fifo(&fifo);
        assert!(
            open_own(&root, &fifo, Access::Append).is_err(),
            "no reader: refused, not hung"
        );

        assert_eq!(std::fs::read_to_string(&target).unwrap(), "mine\n");
        let fresh = logs.join("zhongshu-4.log");
        let mut f = open_own(&root, &fresh, Access::Append).unwrap();
        f.write_all(b"ok").unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
