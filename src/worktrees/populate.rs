//! Writing a new worktree's files, several at once.
//!
//! libgit2's checkout, like `git worktree add`, writes one file after
//! another, and a file's creation is the kernel's work (finding a free inode,
//! adding the name to its folder): on a large tree that is nearly all of the
//! time, and one thread leaves the other cores idle. Here the folders are
//! made first, parents before children, then several threads each take whole
//! folders (files in one folder would wait on that folder's lock) and, for
//! each file, read the blob, apply the checkout filters through libgit2's own
//! `git_blob_filter` (`core.autocrlf`, `.gitattributes` `text`/`eol`/`ident`,
//! as its checkout does; external filter drivers such as Git LFS's smudge
//! are run after, through [`super::filters`], as `git checkout` runs them)
//! and create the file new with its mode (never opening what is already
//! there, so never writing through a link). Symbolic links are made last,
//! once every file is written; a submodule's entry is an empty folder, as
//! Git leaves it.
//!
//! What is not plain goes through libgit2's checkout after the rest, exactly
//! as every file did before: a path with a component libgit2 guards (`.git`
//! in any spelling, NTFS and HFS tricks, names Windows reserves), links where
//! the repository does not make links (`core.symlinks` false, Windows), and a
//! path that collides with one already written (a case-insensitive file
//! system).

use std::ffi::CString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use git2::{build::CheckoutBuilder, Index, IndexEntry, Oid, Repository};

use super::{filters, io_error, WorktreeError};
use crate::git_ffi::RawRepo;
use crate::platform::StatData;

/// Threads writing files: creating a file is mostly waiting on the kernel's
/// allocator and the disk, so more threads than cores still help.
const WRITERS: usize = 8;

/// One entry of the tree to check out.
#[derive(Clone)]
pub struct Entry {
    pub path: Vec<u8>,
    pub id: Oid,
    pub mode: u32,
}

impl From<&IndexEntry> for Entry {
    fn from(e: &IndexEntry) -> Entry {
        Entry {
            path: e.path.clone(),
            id: e.id,
            mode: e.mode,
        }
    }
}

const FILE: u32 = 0o100644;
const EXECUTABLE: u32 = 0o100755;
const LINK: u32 = 0o120000;
const SUBMODULE: u32 = 0o160000;

/// Writes `entries` into the empty working tree of `git` (when `filters`
/// may apply, its index is written already: attributes are read from it).
/// Returns each entry's stat data as it was written (none for a
/// submodule's folder, or where the system keeps none).
pub fn populate(
    git: &Repository,
    entries: &[Entry],
    filters: bool,
) -> Result<Vec<Option<StatData>>, WorktreeError> {
    let root = git
        .workdir()
        .ok_or_else(|| WorktreeError::Refused("the worktree has no working folder".into()))?
        .to_path_buf();
    let links_as_links =
        crate::platform::POSIX_NAMES && git.config()?.get_bool("core.symlinks").unwrap_or(true);
    let (mut by_libgit2, mut files, mut links, mut submodules) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, e) in entries.iter().enumerate() {
        let plain = plain_path(&e.path);
        match e.mode {
            FILE | EXECUTABLE if plain => files.push(i),
            LINK if plain && links_as_links && !guarded_link(&e.path) => links.push(i),
            SUBMODULE if plain => submodules.push(i),
            _ => by_libgit2.push(i),
        }
    }
    let made = files.iter().chain(&links).chain(&submodules);
    make_folders(&root, made.map(|i| &entries[*i]))?;
    let mut stats = vec![None; entries.len()];
    let mut collided = write_files(&root, entries, &files, filters, &mut stats)?;
    for &i in &submodules {
        let path = root.join(native(&entries[i].path)?);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => collided.push(i),
            Err(err) => return Err(io_error(&path)(err)),
        }
    }
    for &i in &links {
        match make_link(git, &root, &entries[i])? {
            true => stats[i] = stat_of(&root, &entries[i]),
            false => collided.push(i),
        }
    }
    by_libgit2.extend(collided);
    if !by_libgit2.is_empty() {
        checkout_with_libgit2(git, &root, by_libgit2.iter().map(|i| &entries[*i]))?;
        for &i in &by_libgit2 {
            stats[i] = stat_of(&root, &entries[i]);
        }
    }
    if filters && filters::any_smudge_driver(git)? {
        for i in smudge(git, &root, entries)? {
            stats[i] = stat_of(&root, &entries[i]);
        }
    }
    Ok(stats)
}

/// The stat data of what is at `e`'s path now; none for a folder (a
/// submodule's, as Git keeps it) or where the system keeps none.
fn stat_of(root: &Path, e: &Entry) -> Option<StatData> {
    let meta = std::fs::symlink_metadata(root.join(native(&e.path).ok()?)).ok()?;
    if meta.is_dir() {
        return None;
    }
    crate::platform::stat_data(&meta)
}

/// Runs each file through its external smudge driver (Git LFS), as `git
/// checkout` does and libgit2 does not, once every file is written.
/// Returns the entries a driver rewrote.
fn smudge(git: &Repository, root: &Path, entries: &[Entry]) -> Result<Vec<usize>, WorktreeError> {
    let mut smudged = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if !matches!(e.mode, FILE | EXECUTABLE) {
            continue;
        }
        // Git's attribute patterns and `%f` are text; a path that is not
        // UTF-8 names no driver here.
        let Ok(path) = std::str::from_utf8(&e.path) else {
            continue;
        };
        if filters::smudge_file(git, &root.join(native(&e.path)?), path)? {
            smudged.push(i);
        }
    }
    Ok(smudged)
}

/// Makes every folder the entries need, parents first; a folder already
/// there must be a real one (not a link).
fn make_folders<'a>(
    root: &Path,
    entries: impl Iterator<Item = &'a Entry>,
) -> Result<(), WorktreeError> {
    let mut folders = std::collections::BTreeSet::new();
    for e in entries {
        let mut end = e.path.len();
        while let Some(slash) = e.path[..end].iter().rposition(|b| *b == b'/') {
            if !folders.insert(e.path[..slash].to_vec()) {
                break;
            }
            end = slash;
        }
    }
    for folder in &folders {
        let path = root.join(native(folder)?);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let meta = std::fs::symlink_metadata(&path).map_err(io_error(&path))?;
                if !meta.is_dir() {
                    return Err(WorktreeError::Refused(format!(
                        "{} is in the way of a folder of the tree (two paths differ only in case?)",
                        path.display()
                    )));
                }
            }
            Err(e) => return Err(io_error(&path)(e)),
        }
    }
    Ok(())
}

/// Writes the `files` of `entries`, a folder at a time per thread, putting
/// each one's stat data in `stats`; returns those whose path is taken
/// already.
fn write_files(
    root: &Path,
    entries: &[Entry],
    files: &[usize],
    filters: bool,
    stats: &mut [Option<StatData>],
) -> Result<Vec<usize>, WorktreeError> {
    // Runs of files in one folder (the index is sorted, so a folder's files
    // are together but for its sub-folders' in between: runs, not folders).
    let folder = |i: usize| parent(&entries[files[i]].path);
    let mut runs: Vec<&[usize]> = Vec::new();
    let mut start = 0;
    for i in 1..=files.len() {
        if i == files.len() || folder(i) != folder(start) {
            if start < i {
                runs.push(&files[start..i]);
            }
            start = i;
        }
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let threads = WRITERS.min(runs.len()).max(1);
    let write_runs = || -> Result<Written, WorktreeError> {
        let repo = RawRepo::open(root)?;
        let mut buf = Vec::new();
        let mut written = Written::default();
        while !failed.load(Ordering::Relaxed) {
            let Some(run) = runs.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            for &i in run.iter() {
                match write_file(&repo, filters, root, &entries[i], &mut buf) {
                    Ok(Some(stat)) => written.stats.push((i, stat)),
                    Ok(None) => written.collided.push(i),
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
        }
        Ok(written)
    };
    let results: Vec<Result<Written, WorktreeError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(write_runs)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(WorktreeError::Refused("a writer thread failed".into()))
                })
            })
            .collect()
    });
    let mut collided = Vec::new();
    for result in results {
        let written = result?;
        for (i, stat) in written.stats {
            stats[i] = stat;
        }
        collided.extend(written.collided);
    }
    Ok(collided)
}

/// What one writer thread wrote: stat data by entry, and the entries whose
/// path was taken.
#[derive(Default)]
struct Written {
    stats: Vec<(usize, Option<StatData>)>,
    collided: Vec<usize>,
}

/// Writes one file, created new, and returns its stat data (taken from the
/// open file); `None` when its path is taken already.
fn write_file(
    repo: &RawRepo,
    filters: bool,
    root: &Path,
    e: &Entry,
    buf: &mut Vec<u8>,
) -> Result<Option<Option<StatData>>, WorktreeError> {
    let path = root.join(native(&e.path)?);
    let c_path = CString::new(e.path.clone())
        .map_err(|_| WorktreeError::Refused("a path holds a NUL byte".into()))?;
    repo.blob_as_checked_out(e.id, &c_path, filters, buf)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    crate::platform::git_file_mode(&mut options, e.mode == EXECUTABLE);
    let mut file = match options.open(&path) {
        Ok(f) => f,
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
        Err(err) => return Err(io_error(&path)(err)),
    };
    file.write_all(buf).map_err(io_error(&path))?;
    let meta = file.metadata().map_err(io_error(&path))?;
    Ok(Some(crate::platform::stat_data(&meta)))
}

/// Makes a symbolic link (Unix, `core.symlinks` on), holding the blob as
/// its target, as Git does; false when the path is taken (or links are
/// not made here).
fn make_link(git: &Repository, root: &Path, e: &Entry) -> Result<bool, WorktreeError> {
    let path = root.join(native(&e.path)?);
    let blob = git.find_blob(e.id)?;
    match crate::platform::symlink_to_bytes(blob.content(), &path) {
        Ok(()) => Ok(true),
        // Not Unix (links go through libgit2 there), or the path is taken.
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::Unsupported
            ) =>
        {
            Ok(false)
        }
        Err(err) => Err(io_error(&path)(err)),
    }
}

/// libgit2's checkout of `entries` only (the rest of the tree is written):
/// its own path checks, links as the repository wants them, and a path that
/// is taken overwritten, as every file was before.
fn checkout_with_libgit2<'a>(
    git: &Repository,
    root: &Path,
    entries: impl Iterator<Item = &'a Entry>,
) -> Result<(), WorktreeError> {
    let mut index = Index::new()?;
    let mut opts = CheckoutBuilder::new();
    opts.force()
        .update_index(false)
        .disable_pathspec_match(true)
        .target_dir(root);
    for e in entries {
        index.add(&super::checkout::entry(&e.path, e.id, e.mode))?;
        opts.path(e.path.as_slice());
    }
    git.checkout_index(Some(&mut index), Some(&mut opts))?;
    Ok(())
}

/// Whether any checkout filter may change a blob on its way to a file: only
/// when some attributes file exists (in the tree, the repository's
/// `info/attributes`, the user's or the system's) or the configuration asks
/// for line-ending conversion by itself (`core.autocrlf` true, `core.eol`).
/// Otherwise every file is its blob as is, and asking libgit2 for each
/// file's attributes (files looked for in every parent folder) would be
/// most of the work. Where the places are not known (not Unix), yes.
pub fn filters_may_apply(git: &Repository, entries: &[Entry]) -> Result<bool, WorktreeError> {
    if !crate::platform::POSIX_NAMES {
        return Ok(true);
    }
    let in_tree = entries.iter().any(|e| {
        let name = e.path.rsplit(|b| *b == b'/').next().unwrap_or(&e.path);
        name.eq_ignore_ascii_case(b".gitattributes")
    });
    let config = git.config()?.snapshot()?;
    let set = |key: &str| config.get_entry(key).is_ok();
    let autocrlf = config
        .get_str("core.autocrlf")
        .map(|v| {
            !matches!(
                v.to_ascii_lowercase().as_str(),
                "false" | "input" | "no" | "off" | "0" | ""
            )
        })
        .unwrap_or(false);
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".config")));
    let files = [
        Some(git.commondir().join("info/attributes")),
        Some(git.path().join("info/attributes")),
        xdg.map(|x| x.join("git/attributes")),
        Some(PathBuf::from("/etc/gitattributes")),
    ];
    let exists = files.iter().flatten().any(|f| f.exists());
    Ok(in_tree
        || exists
        || autocrlf
        || set("core.eol")
        || set("core.attributesfile")
        || std::env::var_os("GIT_ATTR_SOURCE").is_some())
}

/// The folder part of a repository path.
fn parent(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|b| *b == b'/') {
        Some(i) => &path[..i],
        None => &[],
    }
}

/// A repository path as a relative path of this system.
fn native(path: &[u8]) -> Result<PathBuf, WorktreeError> {
    // `plain_path` let only paths of this system through.
    crate::platform::native_repo_path(path)
        .ok_or_else(|| WorktreeError::Refused("a path is not UTF-8".into()))
}

/// Whether a path is one this module writes itself: every component an
/// ordinary name, none that libgit2 guards (`.git` in any spelling a file
/// system may take for it), none Windows reserves.
pub(super) fn plain_path(path: &[u8]) -> bool {
    if !crate::platform::POSIX_NAMES && std::str::from_utf8(path).is_err() {
        return false;
    }
    !path.is_empty() && path.split(|b| *b == b'/').all(plain_component)
}

fn plain_component(name: &[u8]) -> bool {
    if name.is_empty() || name == b"." || name == b".." {
        return false;
    }
    if name
        .iter()
        .any(|b| *b < 0x20 || b"\\:*?\"<>|".contains(b) || *b == 0x7f)
    {
        return false;
    }
    // What remains of the name once the characters a file system may ignore
    // (HFS+ drops some Unicode ones; NTFS trailing dots and spaces) are gone.
    let ascii: Vec<u8> = name
        .iter()
        .filter(|b| b.is_ascii())
        .map(u8::to_ascii_lowercase)
        .collect();
    let trimmed = {
        let mut end = ascii.len();
        while end > 0 && matches!(ascii[end - 1], b'.' | b' ') {
            end -= 1;
        }
        &ascii[..end]
    };
    if trimmed == b".git" || trimmed.starts_with(b"git~") {
        return false;
    }
    if name.iter().any(|b| !b.is_ascii()) && trimmed.starts_with(b".git") {
        return false;
    }
    if trimmed.len() != ascii.len() && !crate::platform::POSIX_NAMES {
        return false;
    }
    let stem = trimmed.split(|b| *b == b'.').next().unwrap_or(&[]);
    let reserved = matches!(stem, b"con" | b"prn" | b"aux" | b"nul")
        || (stem.len() == 4
            && (stem.starts_with(b"com") || stem.starts_with(b"lpt"))
            && stem[3].is_ascii_digit());
    crate::platform::POSIX_NAMES || !reserved
}

/// Links libgit2 treats with care (it refuses `.gitmodules` as a link).
fn guarded_link(path: &[u8]) -> bool {
    let name = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    lower.starts_with(b".git") || lower.starts_with(b"gitmod~") || lower == b".mailmap"
}
