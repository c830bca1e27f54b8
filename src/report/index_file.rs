//! The index file, read as Git reads it: once, with no pass over the whole
//! file to check its hash, each entry's path borrowed from the bytes read.
//!
//! libgit2 hashes the whole file before reading it (SHA-1 with collision
//! detection; a 44,000-file index is 4 MB) and every entry is then copied
//! twice (libgit2's, then git2's). Git does not check the hash when it reads
//! an index, nor does this reader. Whatever it does not know (a split or
//! sparse index, another object format or version, entries out of order, an
//! entry or extension running past the end, a path longer than a system's
//! or whose length field and end disagree) makes it answer `None`, and the
//! report asks libgit2, which reads and checks everything.
//!
//! Why not `gix-index`: a report must read exactly what Git and libgit2
//! read, or step aside. gix-index decodes leniently where they do not (it
//! folds an odd mode such as 100664 into 100644, and takes a path's length
//! from its length field where they read up to the NUL), so a crafted index
//! would read as two different trees; it also parses extensions
//! recursively, which an agent's index could nest deep enough to overflow a
//! stack. New worktrees' indexes are written by gix-index (`worktrees`).
//!
//! The file is opened without following a link or blocking (an agent may
//! plant a FIFO there) and read whole, at most [`MAX_INDEX_BYTES`].

use std::borrow::Cow;
use std::io::Read;

use git2::{IndexEntry, Oid, Repository};

use super::ReportError;

const HEADER: usize = 12;
/// The trailing SHA-1 of the file.
const HASH: usize = 20;
/// Stat data, mode, ids, size, object id and flags: the part before a path.
const FIXED: usize = 62;
const EXTENDED: u16 = 0x4000;
const NAME_LENGTH: u16 = 0x0fff;
/// The largest index read (a million files make about 100 MB).
pub const MAX_INDEX_BYTES: u64 = 1 << 30;
/// The longest path read here; a longer one is left to libgit2.
const MAX_PATH: usize = 4096;

/// One index entry (times as seconds and nanoseconds, as the index keeps
/// them: 32 bits each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub ctime: (i32, u32),
    pub mtime: (i32, u32),
    pub dev: u32,
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u32,
    pub id: Oid,
    pub flags: u16,
    pub flags_extended: u16,
    pub path: Cow<'a, [u8]>,
}

impl From<IndexEntry> for Entry<'static> {
    fn from(e: IndexEntry) -> Entry<'static> {
        Entry {
            ctime: (e.ctime.seconds(), e.ctime.nanoseconds()),
            mtime: (e.mtime.seconds(), e.mtime.nanoseconds()),
            dev: e.dev,
            ino: e.ino,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            size: e.file_size,
            id: e.id,
            flags: e.flags,
            flags_extended: e.flags_extended,
            path: Cow::Owned(e.path),
        }
    }
}

/// The bytes of a repository's index file and its modification time.
pub struct IndexFile {
    bytes: Vec<u8>,
    /// When the file was last written (none: no file, or no such data here).
    pub stamp: Option<(i32, u32)>,
}

impl IndexFile {
    /// Reads `repo`'s index; `Ok(None)` when this reader cannot (the report
    /// then asks libgit2). A repository without an index has no entries. An
    /// index that is not a regular file (a link, a FIFO) or larger than
    /// [`MAX_INDEX_BYTES`] is refused: libgit2 would follow the link, block
    /// on the FIFO or try to hold it all.
    pub fn read(repo: &Repository) -> Result<Option<IndexFile>, ReportError> {
        let Ok(config) = repo.config() else {
            return Ok(None);
        };
        let format = config.get_string("extensions.objectformat");
        if format.is_ok_and(|f| !f.eq_ignore_ascii_case("sha1")) {
            return Ok(None);
        }
        let path = repo.path().join("index");
        let refused = |why: &str| ReportError::Index {
            path: path.display().to_string(),
            why: why.to_string(),
        };
        let mut file = match crate::platform::open_no_follow(&path) {
            Ok(file) => file,
            Err((crate::platform::OpenRefusal::Gone, _)) => {
                return Ok(Some(IndexFile {
                    bytes: Vec::new(),
                    stamp: None,
                }))
            }
            Err((crate::platform::OpenRefusal::NotRegular(what), _)) => {
                return Err(refused(&format!("it is {what}, not a regular file")))
            }
            Err((_, e)) => return Err(refused(&e.to_string())),
        };
        let meta = file.metadata().map_err(|e| refused(&e.to_string()))?;
        if !meta.is_file() {
            return Err(refused("it is not a regular file"));
        }
        if meta.len() > MAX_INDEX_BYTES {
            return Err(refused("it is larger than 1 GiB"));
        }
        let mut bytes = Vec::new();
        let read = (&mut file)
            .take(MAX_INDEX_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| refused(&e.to_string()))?;
        if read as u64 > MAX_INDEX_BYTES {
            return Err(refused("it is larger than 1 GiB"));
        }
        let stamp = crate::platform::stat_data(&meta).map(|s| (s.mtime.0 as i32, s.mtime.1 as u32));
        Ok(Some(IndexFile { bytes, stamp }))
    }

    /// The entries, in the index's order.
    pub fn entries(&self) -> Option<Vec<Entry<'_>>> {
        if self.bytes.is_empty() {
            return Some(Vec::new());
        }
        parse(&self.bytes)
    }
}

fn parse(bytes: &[u8]) -> Option<Vec<Entry<'_>>> {
    let end = bytes.len().checked_sub(HASH)?;
    if end < HEADER || &bytes[..4] != b"DIRC" {
        return None;
    }
    let body = &bytes[..end];
    let version = be32(body, 4)?;
    let count = usize::try_from(be32(body, 8)?).ok()?;
    if !(2..=4).contains(&version) {
        return None;
    }
    let mut entries: Vec<Entry<'_>> = Vec::with_capacity(count.min(end / FIXED));
    let mut at = HEADER;
    for _ in 0..count {
        let previous = entries.last().map_or(&b""[..], |e| &e.path[..]);
        let (entry, next) = entry(body, at, version, previous)?;
        // Git keeps entries sorted by path (then stage): a file out of
        // order or listed twice is left to libgit2.
        if !entries.is_empty() && entry.path[..] <= *previous {
            return None;
        }
        entries.push(entry);
        at = next;
    }
    // The extensions, up to the hash: a split or sparse index is not read here.
    while at < end {
        let signature = body.get(at..at + 4)?;
        if signature == b"link" || signature == b"sdir" {
            return None;
        }
        let size = usize::try_from(be32(body, at + 4)?).ok()?;
        at = at.checked_add(8)?.checked_add(size)?;
    }
    (at == end).then_some(entries)
}

/// The entry at `at` and where the next one starts.
fn entry<'a>(
    body: &'a [u8],
    at: usize,
    version: u32,
    previous: &[u8],
) -> Option<(Entry<'a>, usize)> {
    let fixed = body.get(at..at.checked_add(FIXED)?)?;
    let word = |i: usize| be32(fixed, i * 4);
    let flags = be16(fixed, 60)?;
    let mut next = at + FIXED;
    let flags_extended = if flags & EXTENDED != 0 {
        if version < 3 {
            return None;
        }
        next += 2;
        be16(body, at + FIXED)?
    } else {
        0
    };
    let path: Cow<'a, [u8]> = if version == 4 {
        // The previous path without its last `strip` bytes, then the rest.
        let (strip, used) = varint(body.get(next..)?)?;
        next += used;
        let rest = body.get(next..)?;
        let nul = rest.iter().position(|b| *b == 0)?;
        let kept = previous.len().checked_sub(strip)?;
        next += nul + 1;
        Cow::Owned([&previous[..kept], &rest[..nul]].concat())
    } else {
        let nul = body.get(next..)?.iter().position(|b| *b == 0)?;
        let path = &body[next..next + nul];
        // NUL-padded to a multiple of 8 bytes (at least one NUL).
        next = at + ((next + nul - at + 8) & !7);
        Cow::Borrowed(path)
    };
    if next > body.len()
        || usize::from(flags & NAME_LENGTH) != path.len().min(0xfff)
        || path.len() > MAX_PATH
    {
        return None;
    }
    let entry = Entry {
        ctime: (word(0)? as i32, word(1)?),
        mtime: (word(2)? as i32, word(3)?),
        dev: word(4)?,
        ino: word(5)?,
        mode: word(6)?,
        uid: word(7)?,
        gid: word(8)?,
        size: word(9)?,
        id: Oid::from_bytes(&fixed[40..60]).ok()?,
        flags,
        flags_extended,
        path,
    };
    Some((entry, next))
}

/// Git's offset encoding (index version 4): (value, bytes used).
fn varint(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value: usize = 0;
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            value = value.checked_add(1)?;
        }
        value = value.checked_mul(128)?.checked_add(usize::from(b & 0x7f))?;
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

#[cfg(all(test, unix))]
#[path = "index_file_tests.rs"]
mod tests;
