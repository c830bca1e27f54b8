//! Reading a mailbox file without following links and without blocking.
//!
//! Departments write into `incoming/`, so its names can change between a
//! check and an open. Checking a path and then opening it lets a department
//! swap a regular file for a FIFO in between, and the ingestion thread would
//! block in `open()` forever. So the file is opened first, with `O_NOFOLLOW`
//! (a symbolic link fails) and `O_NONBLOCK` (a FIFO opens at once), and the
//! *opened descriptor* is checked with `fstat`: only a regular file within the
//! size limit is read, and from that descriptor, never by name again.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

use crate::platform::{self, OpenRefusal};

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum SafeReadError {
    /// The name is gone (renamed or deleted meanwhile).
    #[error("the file is gone")]
    Gone,
    #[error("not a regular file ({0})")]
    NotRegular(&'static str),
    #[error("file is {size} bytes; reports are at most {max} bytes")]
    TooLarge { size: u64, max: u64 },
    /// A hard link: the same file has another name, maybe outside the mailbox.
    #[error("the file has {0} names (a hard link); write a report as a file of its own")]
    Linked(u64),
    #[error("cannot read: {0}")]
    Io(#[source] std::io::Error),
}

/// The bytes of a regular file and the metadata of the descriptor they came from.
#[derive(Debug)]
pub struct SafeRead {
    pub bytes: Vec<u8>,
    pub meta: Metadata,
}

/// Reads `path` if it is a regular file of at most `max` bytes, without following
/// a symbolic link and without ever blocking on a FIFO or a device.
pub fn read_regular(path: &Path, max: u64) -> Result<SafeRead, SafeReadError> {
    let file = platform::open_no_follow(path).map_err(open_error)?;
    let meta = file.metadata().map_err(SafeReadError::Io)?; // fstat
    let kind = meta.file_type();
    if !kind.is_file() {
        return Err(SafeReadError::NotRegular(describe(&kind)));
    }
    if meta.len() > max {
        return Err(SafeReadError::TooLarge {
            size: meta.len(),
            max,
        });
    }
    let names = platform::link_count(&file).map_err(SafeReadError::Io)?;
    if names > 1 {
        return Err(SafeReadError::Linked(names));
    }
    let bytes = read_at_most(file, max)?;
    Ok(SafeRead { bytes, meta })
}

/// Reads to the end, refusing a file that grew past `max` since `fstat`.
fn read_at_most(file: File, max: u64) -> Result<Vec<u8>, SafeReadError> {
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(SafeReadError::Io)?;
    if bytes.len() as u64 > max {
        return Err(SafeReadError::TooLarge {
            size: bytes.len() as u64,
            max,
        });
    }
    Ok(bytes)
}

fn open_error((why, e): (OpenRefusal, std::io::Error)) -> SafeReadError {
    match why {
        OpenRefusal::Gone => SafeReadError::Gone,
        OpenRefusal::NotRegular(what) => SafeReadError::NotRegular(what),
        OpenRefusal::Other => SafeReadError::Io(e),
    }
}

fn describe(t: &std::fs::FileType) -> &'static str {
    platform::describe_file_type(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::files::make_fifo as mkfifo;

    #[test]
    fn a_regular_file_is_read_from_its_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        std::fs::write(&p, b"{\"a\":1}").unwrap();
        let read = read_regular(&p, 1024).unwrap();
        assert_eq!(read.bytes, b"{\"a\":1}");
        assert_eq!(read.meta.len(), 7);
    }

    #[test]
    #[cfg_attr(windows, ignore = "Windows has no FIFOs")]
    fn a_fifo_without_a_writer_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        mkfifo(&p);
        let err = read_regular(&p, 1024).unwrap_err();
        assert!(matches!(err, SafeReadError::NotRegular("a FIFO")), "{err}");
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "Wine makes no symbolic links (its CreateSymbolicLinkW is a stub)"
    )]
    fn links_directories_missing_and_large_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.json");
        std::fs::write(&target, b"{}").unwrap();
        let link = dir.path().join("l.json");
        platform::symlink_for_tests(&target, &link).unwrap();
        let err = read_regular(&link, 1024).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file (a symbolic link)");
        let err = read_regular(dir.path(), 1024).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file (a directory)");
        let err = read_regular(&dir.path().join("none.json"), 1024).unwrap_err();
        assert!(matches!(err, SafeReadError::Gone), "{err}");
        let hard = dir.path().join("hard.json");
        std::fs::hard_link(&target, &hard).unwrap();
        let err = read_regular(&hard, 1024).unwrap_err();
        assert!(matches!(err, SafeReadError::Linked(2)), "{err}");
        std::fs::remove_file(&hard).unwrap();
        let err = read_regular(&target, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "file is 2 bytes; reports are at most 1 bytes"
        );
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "Windows has no /dev: its devices are not files in folders"
    )]
    fn a_device_is_refused_without_reading() {
        let err = read_regular(Path::new("/dev/zero"), 1024).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file (a device)");
    }
}
