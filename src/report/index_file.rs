//! The index file, read as Git reads it: without checking its trailing
//! hash first, each entry's path borrowed from the decoded index.
//!
//! libgit2 hashes the whole file before reading it (SHA-1 with collision
//! detection; a 44,000-file index is 4 MB) and every entry is then copied
//! twice (libgit2's, then git2's). gitoxide's `gix-index` decodes it in one
//! pass. Whatever this reading does not reproduce (a split or sparse index,
//! another object format, entries out of order, a file that does not decode)
//! makes it answer `None`, and the report asks libgit2, which reads and
//! checks everything. The file is opened without following a link and read
//! into memory (never mapped: an agent may truncate it under us).

use std::borrow::Cow;
use std::io::Read;

use git2::{IndexEntry, Oid, Repository};

/// The on-disk flag bits kept from the index's extended flags (intent to
/// add, skip-worktree), as libgit2 gives them.
const EXTENDED_ON_DISK: u16 = 0x6000;
/// The flag bits that hold the path's length, not kept (the path is).
const PATH_LENGTH: u16 = 0x0fff;

/// One index entry (times as seconds and nanoseconds, as the index keeps
/// them: 32 bits each; flags without the path's length).
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
            flags: e.flags & !PATH_LENGTH,
            flags_extended: e.flags_extended,
            path: Cow::Owned(e.path),
        }
    }
}

/// A repository's decoded index and its modification time.
pub struct IndexFile {
    state: Option<gix_index::State>,
    /// When the file was last written (none: no file, or no such data here).
    pub stamp: Option<(i32, u32)>,
}

impl IndexFile {
    /// Reads `repo`'s index; `None` when this reader cannot (the report
    /// then asks libgit2). A repository without an index has no entries.
    pub fn read(repo: &Repository) -> Option<IndexFile> {
        let format = repo.config().ok()?.get_string("extensions.objectformat");
        if format.is_ok_and(|f| !f.eq_ignore_ascii_case("sha1")) {
            return None;
        }
        let path = repo.path().join("index");
        let mut file = match crate::files::open_regular(&path) {
            Some(file) => file,
            None if std::fs::symlink_metadata(&path)
                .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) =>
            {
                return Some(IndexFile {
                    state: None,
                    stamp: None,
                })
            }
            None => return None,
        };
        let meta = file.metadata().ok()?;
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).ok()?);
        file.read_to_end(&mut bytes).ok()?;
        let mut read = decode(&bytes)?;
        read.stamp =
            crate::platform::stat_data(&meta).map(|s| (s.mtime.0 as i32, s.mtime.1 as u32));
        Some(read)
    }

    /// The entries, in the index's order; `None` when they are out of Git's
    /// order (or a path is listed twice).
    pub fn entries(&self) -> Option<Vec<Entry<'_>>> {
        let Some(state) = &self.state else {
            return Some(Vec::new());
        };
        let entries: Vec<Entry<'_>> = state
            .entries()
            .iter()
            .map(|e| entry(e, e.path(state)))
            .collect::<Option<_>>()?;
        entries
            .windows(2)
            .all(|w| w[0].path < w[1].path)
            .then_some(entries)
    }
}

/// The index in `bytes`, decoded; `None` where this reading does not fit.
fn decode(bytes: &[u8]) -> Option<IndexFile> {
    let options = gix_index::decode::Options {
        // An entry count or extension larger than the file could hold is
        // refused before anything is allocated for it.
        alloc_limit_bytes: Some(bytes.len().saturating_mul(4).max(1 << 20)),
        ..Default::default()
    };
    let (state, _) = gix_index::State::from_bytes(
        bytes,
        filetime::FileTime::zero(),
        gix_index::hash::Kind::Sha1,
        options,
    )
    .ok()?;
    // A split or sparse index is not read here.
    if state.link().is_some() || state.is_sparse() {
        return None;
    }
    Some(IndexFile {
        state: Some(state),
        stamp: None,
    })
}

fn entry<'a>(e: &gix_index::Entry, path: &'a [u8]) -> Option<Entry<'a>> {
    let bits = e.flags.bits();
    Some(Entry {
        ctime: (e.stat.ctime.secs as i32, e.stat.ctime.nsecs),
        mtime: (e.stat.mtime.secs as i32, e.stat.mtime.nsecs),
        dev: e.stat.dev,
        ino: e.stat.ino,
        mode: e.mode.bits(),
        uid: e.stat.uid,
        gid: e.stat.gid,
        size: e.stat.size,
        id: Oid::from_bytes(e.id.as_slice()).ok()?,
        flags: (bits & 0xffff) as u16 & !PATH_LENGTH,
        flags_extended: (bits >> 16) as u16 & EXTENDED_ON_DISK,
        path: Cow::Borrowed(path),
    })
}

#[cfg(all(test, unix))]
#[path = "index_file_tests.rs"]
mod tests;
