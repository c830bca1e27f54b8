//! The working tree's side of the `worktree` report (index against working
//! tree, untracked files one by one), read with several threads.
//!
//! libgit2 reads the working tree one folder after another and stats every
//! entry by its full path, on one core: on a large tree that is most of the
//! report's time. Here the folders the index names are shared among threads;
//! each reads its folder and stats the tracked files in it relative to the
//! open folder (as `git status` stats the index's files on several threads),
//! and a file is read and hashed (through the repository's filters) only when
//! its stat data no longer proves it unchanged while its size still matches.
//! Untracked entries go through libgit2's own ignore rules.
//!
//! The answer must be libgit2's, path for path: every comparison below is
//! the one its `maybe_modified` makes. Whatever this reading does not
//! reproduce exactly makes it step aside (`None`), and the caller asks
//! libgit2: conflicts, submodules, skip-worktree, assume-unchanged and
//! intent-to-add entries, a case-insensitive or link-less configuration, a
//! nested repository, a file turned into a folder or back, anything
//! unreadable, and a deleted file where libgit2 may find a rename (it pairs
//! a deleted file with a similar untracked or retyped one and lists the new
//! path only). Systems without Git's stat data (Windows) always step aside.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::{DirEntry, FileType};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use git2::{IndexEntryExtendedFlag, ObjectType, Oid, Repository};

use super::index_file::Entry;
use crate::git_ffi::RawRepo;
use crate::platform::StatData;

const FILE: u32 = 0o100644;
const EXECUTABLE: u32 = 0o100755;
const LINK: u32 = 0o120000;
const TYPE_BITS: u32 = 0o170000;
const PERMISSION_BITS: u32 = 0o777;
/// The index entry flag "assume unchanged".
const ASSUME_VALID: u16 = 0x8000;
/// Threads reading folders, per core: a stat may wait on the disk (a cold
/// cache), and on a busy machine each thread gets its turn; measured on the
/// bench repository with 2 cores at load 4-5: 2 threads 0.86-0.92x git
/// status, 4 threads 0.84-0.90x, 8 threads 0.74-0.82x.
const THREADS_PER_CORE: usize = 4;
const MAX_THREADS: usize = 16;

/// How the repository's configuration asks the comparison to be made.
struct Rules {
    trust_mode: bool,
    trust_ctime: bool,
    /// The index file's modification time: a file changed at or after it
    /// may hold other bytes under the same stat data ("racily clean").
    index_stamp: Option<(i32, u32)>,
}

/// The paths that differ between the index `entries` and the working tree
/// (modified, deleted, retyped, untracked and not ignored), as libgit2's
/// index-to-workdir status lists them; `None` when this repository holds
/// something this reading does not reproduce exactly.
pub fn changed_paths(
    repo: &Repository,
    entries: &[Entry<'_>],
    index_stamp: Option<(i32, u32)>,
) -> Option<Vec<Vec<u8>>> {
    let root = repo.workdir()?;
    let rules = rules(repo, index_stamp)?;
    if !entries.iter().all(plain_entry) {
        return None;
    }
    let folders = folders_of(entries);
    let threads = std::thread::available_parallelism()
        .map_or(THREADS_PER_CORE, |n| n.get() * THREADS_PER_CORE)
        .clamp(THREADS_PER_CORE, MAX_THREADS)
        .min(folders.len());
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let read = || {
        let mut reader = Reader {
            root,
            rules: &rules,
            entries,
            git: None,
            names: HashMap::new(),
            found: Found::default(),
        };
        while !stop.load(Ordering::Relaxed) {
            let Some(folder) = folders.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return Some(reader.found);
            };
            if reader.folder(folder).is_none() {
                stop.store(true, Ordering::Relaxed);
                return None;
            }
        }
        None
    };
    let found: Vec<Option<Found>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(read)).collect();
        handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect()
    });
    let mut all = Found::default();
    for part in found {
        all.add(part?);
    }
    if all.deleted && (all.untracked || all.retyped) {
        return None;
    }
    Some(all.paths)
}

fn rules(repo: &Repository, index_stamp: Option<(i32, u32)>) -> Option<Rules> {
    if !crate::platform::HAS_STAT_DATA {
        return None;
    }
    let config = repo.config().ok()?.snapshot().ok()?;
    let flag = |key: &str, default: bool| match config.get_bool(key) {
        Ok(v) => Some(v),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Some(default),
        Err(_) => None,
    };
    if flag("core.ignorecase", false)?
        || !flag("core.symlinks", true)?
        || flag("core.ignorestat", false)?
    {
        return None;
    }
    Some(Rules {
        trust_mode: flag("core.filemode", true)?,
        trust_ctime: flag("core.trustctime", true)?,
        index_stamp,
    })
}

/// An entry this reading compares exactly: stage 0, no special flag, a
/// file or a link, a path of plain components.
fn plain_entry(e: &Entry<'_>) -> bool {
    let stage = (e.flags >> 12) & 3;
    let special =
        IndexEntryExtendedFlag::INTENT_TO_ADD.bits() | IndexEntryExtendedFlag::SKIP_WORKTREE.bits();
    stage == 0
        && e.flags & ASSUME_VALID == 0
        && e.flags_extended & special == 0
        && matches!(e.mode, FILE | EXECUTABLE | LINK)
        && e.path
            .split(|b| *b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b".." && !c.eq_ignore_ascii_case(b".git"))
}

/// A folder the index names: its tracked files (names with their entries)
/// and sub-folders (names).
struct Folder<'a> {
    path: &'a [u8],
    files: Vec<(&'a [u8], usize)>,
    folders: Vec<&'a [u8]>,
}

fn folders_of<'a>(entries: &'a [Entry<'_>]) -> Vec<Folder<'a>> {
    let mut folders = vec![Folder {
        path: b"",
        files: Vec::new(),
        folders: Vec::new(),
    }];
    let mut by_path: HashMap<&[u8], usize> = HashMap::from([(&b""[..], 0)]);
    let mut last: (&[u8], usize) = (b"", 0);
    for (i, e) in entries.iter().enumerate() {
        let (parent, name) = split(&e.path);
        if parent != last.0 {
            last = (parent, folder_at(&mut folders, &mut by_path, parent));
        }
        folders[last.1].files.push((name, i));
    }
    folders
}

/// The folder at `path`, made (with its parents) when new.
fn folder_at<'a>(
    folders: &mut Vec<Folder<'a>>,
    by_path: &mut HashMap<&'a [u8], usize>,
    path: &'a [u8],
) -> usize {
    if let Some(i) = by_path.get(path) {
        return *i;
    }
    let (parent, name) = split(path);
    let up = folder_at(folders, by_path, parent);
    folders[up].folders.push(name);
    folders.push(Folder {
        path,
        files: Vec::new(),
        folders: Vec::new(),
    });
    by_path.insert(path, folders.len() - 1);
    folders.len() - 1
}

/// (folder, name) of a repository path.
fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|b| *b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (b"", path),
    }
}

fn joined(folder: &[u8], name: &[u8]) -> Vec<u8> {
    let mut path = Vec::with_capacity(folder.len() + 1 + name.len());
    if !folder.is_empty() {
        path.extend_from_slice(folder);
        path.push(b'/');
    }
    path.extend_from_slice(name);
    path
}

/// `.git` in any case: libgit2's working tree reading skips it everywhere.
fn is_dot_git(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b".git")
}

/// What one thread found.
#[derive(Default)]
struct Found {
    paths: Vec<Vec<u8>>,
    deleted: bool,
    untracked: bool,
    retyped: bool,
}

impl Found {
    fn add(&mut self, other: Found) {
        self.paths.extend(other.paths);
        self.deleted |= other.deleted;
        self.untracked |= other.untracked;
        self.retyped |= other.retyped;
    }
}

/// How a file compares with its index entry by stat data alone.
#[derive(Debug, PartialEq, Eq)]
enum Compared {
    Same,
    Modified,
    Retyped,
    /// Stat data differs but the size does not: the bytes decide.
    Uncertain,
}

/// libgit2's `maybe_modified` for an entry against the file's stat data.
fn compare(entry: &Entry<'_>, st: &StatData, rules: &Rules) -> Compared {
    let old = entry.mode;
    let mut new = if st.mode & TYPE_BITS == LINK {
        LINK
    } else if st.mode & 0o100 != 0 {
        EXECUTABLE
    } else {
        FILE
    };
    if !rules.trust_mode && new & PERMISSION_BITS != old & PERMISSION_BITS {
        new = (new & !PERMISSION_BITS) | (old & PERMISSION_BITS);
    }
    if old & TYPE_BITS != new & TYPE_BITS {
        return Compared::Retyped;
    }
    let size = st.size as u32;
    if old != new || entry.size != size {
        // An entry without its size (after `read-tree`) is checked by bytes.
        return if old == new && entry.size == 0 && size > 0 {
            Compared::Uncertain
        } else {
            Compared::Modified
        };
    }
    let same_time =
        |(s, n): (i32, u32), (secs, nanos): (i64, i64)| s == secs as i32 && n == nanos as u32;
    let racy = rules.index_stamp.is_some_and(|(secs, nanos)| {
        let mtime = (st.mtime.0 as i32, st.mtime.1 as u32);
        secs < mtime.0 || (secs == mtime.0 && nanos <= mtime.1)
    });
    if !same_time(entry.mtime, st.mtime)
        || (rules.trust_ctime && !same_time(entry.ctime, st.ctime))
        || entry.ino != st.ino as u32
        || entry.uid != st.uid
        || entry.gid != st.gid
        || racy
    {
        Compared::Uncertain
    } else {
        Compared::Same
    }
}

/// One thread's reading of folders.
struct Reader<'a> {
    root: &'a Path,
    rules: &'a Rules,
    entries: &'a [Entry<'a>],
    /// This thread's own repository handle, opened at first need.
    git: Option<RawRepo>,
    /// The folder being read's tracked names (kept for its allocation).
    names: HashMap<&'a [u8], Name>,
    found: Found,
}

/// What a tracked name of a folder is: its file or sub-folder, by position.
#[derive(Clone, Copy)]
enum Name {
    File(usize),
    Folder(usize),
}

impl<'a> Reader<'a> {
    /// Reads one folder the index names; `None` to step aside.
    fn folder(&mut self, folder: &Folder<'a>) -> Option<()> {
        self.names.clear();
        let files = folder.files.iter().enumerate();
        self.names
            .extend(files.map(|(i, (name, _))| (*name, Name::File(i))));
        let folders = folder.folders.iter().enumerate();
        self.names
            .extend(folders.map(|(i, name)| (*name, Name::Folder(i))));
        // A name both file and folder (an index Git would not write).
        if self.names.len() != folder.files.len() + folder.folders.len() {
            return None;
        }
        let dir = self.root.join(native(folder.path)?);
        let mut seen_files = vec![false; folder.files.len()];
        let mut seen_folders = vec![false; folder.folders.len()];
        for dirent in std::fs::read_dir(dir).ok()? {
            let dirent = dirent.ok()?;
            let name = dirent.file_name();
            let name = name.as_encoded_bytes();
            if is_dot_git(name) {
                continue;
            }
            match self.names.get(name).copied() {
                Some(Name::File(i)) => {
                    seen_files[i] = true;
                    self.tracked(&dirent, folder.files[i].1)?;
                }
                Some(Name::Folder(i)) => {
                    // A tracked folder is read as a folder of its own.
                    if !dirent.file_type().ok()?.is_dir() {
                        return None;
                    }
                    seen_folders[i] = true;
                }
                None => {
                    let kind = dirent.file_type().ok()?;
                    self.untracked(joined(folder.path, name), dirent.path(), kind)?;
                }
            }
        }
        if seen_folders.contains(&false) {
            return None;
        }
        for (seen, (_, i)) in seen_files.iter().zip(&folder.files) {
            if !seen {
                self.deleted(*i);
            }
        }
        Some(())
    }

    fn deleted(&mut self, i: usize) {
        self.found.deleted = true;
        self.found.paths.push(self.entries[i].path.to_vec());
    }

    /// Compares a tracked file with its entry.
    fn tracked(&mut self, dirent: &DirEntry, i: usize) -> Option<()> {
        let entry = &self.entries[i];
        // Relative to the open folder (no walk of the whole path).
        let meta = dirent.metadata().ok()?;
        let kind = meta.file_type();
        if kind.is_dir() {
            return None;
        }
        if !kind.is_file() && !kind.is_symlink() {
            // A socket or a FIFO: libgit2 does not see it, the file is gone.
            self.deleted(i);
            return Some(());
        }
        let changed = match compare(entry, &crate::platform::stat_data(&meta)?, self.rules) {
            Compared::Same => false,
            Compared::Modified => true,
            Compared::Retyped => {
                self.found.retyped = true;
                true
            }
            Compared::Uncertain => self.blob_id(&entry.path, kind.is_symlink())? != entry.id,
        };
        if changed {
            self.found.paths.push(entry.path.to_vec());
        }
        Some(())
    }

    /// The blob id of the working tree's `path`, as `git add` would make it.
    fn blob_id(&mut self, path: &[u8], link: bool) -> Option<Oid> {
        if link {
            let target = std::fs::read_link(self.root.join(native(path)?)).ok()?;
            return Oid::hash_object(ObjectType::Blob, target.as_os_str().as_encoded_bytes()).ok();
        }
        let root = self.root;
        hashed_blob(self.git()?, root, path)
    }

    /// An untracked entry, and every file below it when it is a folder,
    /// unless ignored.
    fn untracked(&mut self, path: Vec<u8>, full: PathBuf, kind: FileType) -> Option<()> {
        let mut stack = vec![(path, full, kind)];
        while let Some((path, full, kind)) = stack.pop() {
            // Sockets and FIFOs are not seen, as libgit2 does not see them.
            if !(kind.is_file() || kind.is_dir() || kind.is_symlink()) {
                continue;
            }
            if self
                .git()?
                .ignored(&CString::new(path.as_slice()).ok()?)
                .ok()?
            {
                continue;
            }
            if !kind.is_dir() {
                // libgit2's ignore check takes a link to a folder for one.
                if kind.is_symlink() && std::fs::metadata(&full).is_ok_and(|m| m.is_dir()) {
                    return None;
                }
                self.found.untracked = true;
                self.found.paths.push(path);
                continue;
            }
            // A nested repository is listed as a folder: libgit2's call.
            if std::fs::symlink_metadata(full.join(".git")).is_ok() {
                return None;
            }
            for dirent in std::fs::read_dir(&full).ok()? {
                let dirent = dirent.ok()?;
                let name = dirent.file_name();
                if is_dot_git(name.as_encoded_bytes()) {
                    continue;
                }
                let kind = dirent.file_type().ok()?;
                stack.push((joined(&path, name.as_encoded_bytes()), dirent.path(), kind));
            }
        }
        Some(())
    }

    fn git(&mut self) -> Option<&RawRepo> {
        if self.git.is_none() {
            self.git = Some(RawRepo::open(self.root).ok()?);
        }
        self.git.as_ref()
    }
}

/// The blob id of the working tree's file `path` through its filters, read
/// from a descriptor opened without following a link or blocking. None for a
/// file swapped since it was listed for anything but a regular file (a FIFO
/// would hold the walk for ever), or gone: the walk then steps aside.
fn hashed_blob(git: &RawRepo, root: &Path, path: &[u8]) -> Option<Oid> {
    let full = root.join(native(path)?);
    let file = crate::platform::open_no_follow(&full).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    // libgit2 reads it by the descriptor's own name, so no other file can
    // take its place meanwhile; `file` stays open through the call.
    let on_disk = CString::new(crate::platform::descriptor_path(&file, &full)?).ok()?;
    git.hash_file(&on_disk, &CString::new(path).ok()?).ok()
}

/// A repository path as a relative path of this system.
fn native(path: &[u8]) -> Option<PathBuf> {
    crate::platform::native_repo_path(path)
}

#[cfg(all(test, unix))]
#[path = "workdir_tests.rs"]
mod tests;
