//! A new worktree's index file, written once, with each file's stat data as
//! it was when the file was written.
//!
//! Through libgit2 a checkout's index was written twice, and each of its
//! entries added again with its stat data, every add checking the object
//! database and the paths around it: on a 44,000-file tree, more time than
//! anything but making the files. Here the entries libgit2 read from the
//! tree are written in Git's index format in one pass: version 2 (3 when a
//! sparse checkout marks entries skip-worktree), the cache tree Git keeps
//! after a checkout (so `git status` and `git commit` need not hash the
//! whole index again), Git's trailing SHA-1, through a lock file renamed
//! into place, as Git writes an index.

use std::io::Write;
use std::path::Path;

use git2::{ObjectType, Oid, Repository, Tree};
use sha1::{Digest, Sha1};

use super::populate::{plain_path, Entry};
use super::{io_error, WorktreeError};
use crate::platform::StatData;

/// The flag bit "extended flags follow" (index version 3).
const EXTENDED: u16 = 0x4000;
/// The extended flag bit "skip-worktree".
const SKIP_WORKTREE: u16 = 0x4000;

/// One tree of the cache tree: its name in its parent, how many index
/// entries and sub-trees it holds, its id.
pub struct CachedTree {
    name: Vec<u8>,
    entries: usize,
    subtrees: usize,
    id: Oid,
}

/// A tree read as an index holds it: its entries (files, links and
/// submodules, in the index's order) and its cache tree (parents before
/// children, the root first with no name).
pub struct TreeIndex {
    pub entries: Vec<Entry>,
    pub trees: Vec<CachedTree>,
}

/// Reads `tree` into a [`TreeIndex`]. Where a path is not plain (see
/// `populate`) or the tree is out of Git's order, libgit2 reads the entries
/// instead, checking every path as for any index (and refusing what it
/// refuses).
pub fn read_tree(git: &Repository, tree: &Tree<'_>) -> Result<TreeIndex, WorktreeError> {
    let mut read = walk(git, tree)?;
    let sorted = read.entries.windows(2).all(|w| w[0].path < w[1].path);
    if !sorted || !read.entries.iter().all(|e| plain_path(&e.path)) {
        let mut index = git.index()?;
        index.read_tree(tree)?;
        read.entries = index.iter().map(|e| Entry::from(&e)).collect();
    }
    if read.trees.first().map(|t| t.entries) != Some(read.entries.len()) {
        return Err(WorktreeError::Refused(
            "the tree's entries and its index differ".into(),
        ));
    }
    Ok(read)
}

/// Every entry of `tree` (sub-trees' entries where their name sorts, as in
/// an index) and its cache tree, depth first without recursion.
fn walk(git: &Repository, tree: &Tree<'_>) -> Result<TreeIndex, WorktreeError> {
    /// A tree being read: the next entry, its cache tree node, where its
    /// entries start, the path's length before its name.
    struct Open<'r> {
        tree: Tree<'r>,
        next: usize,
        node: usize,
        start: usize,
        prefix: usize,
    }
    let mut read = TreeIndex {
        entries: Vec::new(),
        trees: vec![CachedTree {
            name: Vec::new(),
            entries: 0,
            subtrees: 0,
            id: tree.id(),
        }],
    };
    let mut path = Vec::new();
    let mut open = vec![Open {
        tree: tree.clone(),
        next: 0,
        node: 0,
        start: 0,
        prefix: 0,
    }];
    while let Some(top) = open.last_mut() {
        let Some(e) = top.tree.get(top.next) else {
            let (node, start, prefix) = (top.node, top.start, top.prefix);
            open.pop();
            read.trees[node].entries = read.entries.len() - start;
            path.truncate(prefix);
            continue;
        };
        top.next += 1;
        let (kind, id, mode) = (e.kind(), e.id(), e.filemode() as u32);
        let at = path.len();
        path.extend_from_slice(e.name_bytes());
        drop(e);
        if kind != Some(ObjectType::Tree) {
            read.entries.push(Entry {
                path: path.clone(),
                id,
                mode,
            });
            path.truncate(at);
            continue;
        }
        read.trees[top.node].subtrees += 1;
        read.trees.push(CachedTree {
            name: path[at..].to_vec(),
            entries: 0,
            subtrees: 0,
            id,
        });
        path.push(b'/');
        open.push(Open {
            tree: git.find_tree(id)?,
            next: 0,
            node: read.trees.len() - 1,
            start: read.entries.len(),
            prefix: at,
        });
    }
    Ok(read)
}

/// Writes the index of the worktree whose Git folder is `git_dir`:
/// `entries` (as libgit2 read them from the tree, in order), each with its
/// stat data (`stats[i]`, none for a file not written) and marked
/// skip-worktree where `skip(i)`, then the cache tree `trees`.
pub fn write(
    git_dir: &Path,
    entries: &[Entry],
    stats: &[Option<StatData>],
    skip: &dyn Fn(usize) -> bool,
    trees: &[CachedTree],
) -> Result<(), WorktreeError> {
    let extended = (0..entries.len()).any(skip);
    let count = u32::try_from(entries.len())
        .map_err(|_| WorktreeError::Refused("too many files for an index".into()))?;
    let mut out = Vec::with_capacity(64 + entries.len() * 104);
    out.extend_from_slice(b"DIRC");
    out.extend_from_slice(&(if extended { 3u32 } else { 2 }).to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    for (i, e) in entries.iter().enumerate() {
        entry(&mut out, e, stats.get(i).copied().flatten(), skip(i));
    }
    let mut cache = Vec::new();
    for t in trees {
        cache.extend_from_slice(&t.name);
        cache.push(0);
        cache.extend_from_slice(format!("{} {}\n", t.entries, t.subtrees).as_bytes());
        cache.extend_from_slice(t.id.as_bytes());
    }
    out.extend_from_slice(b"TREE");
    out.extend_from_slice(&(cache.len() as u32).to_be_bytes());
    out.extend_from_slice(&cache);
    let hash = Sha1::digest(&out);
    out.extend_from_slice(&hash);
    replace(&git_dir.join("index"), &git_dir.join("index.lock"), &out)
}

/// One entry in Git's on-disk form (32-bit fields as Git keeps them).
fn entry(out: &mut Vec<u8>, e: &Entry, stat: Option<StatData>, skip: bool) {
    let start = out.len();
    let mut word = |v: u32| out.extend_from_slice(&v.to_be_bytes());
    let s = stat.as_ref();
    word(s.map_or(0, |s| s.ctime.0 as u32));
    word(s.map_or(0, |s| s.ctime.1 as u32));
    word(s.map_or(0, |s| s.mtime.0 as u32));
    word(s.map_or(0, |s| s.mtime.1 as u32));
    word(s.map_or(0, |s| s.dev as u32));
    word(s.map_or(0, |s| s.ino as u32));
    word(e.mode);
    word(s.map_or(0, |s| s.uid));
    word(s.map_or(0, |s| s.gid));
    word(s.map_or(0, |s| s.size as u32));
    out.extend_from_slice(e.id.as_bytes());
    let name_length = e.path.len().min(0xfff) as u16;
    if skip {
        out.extend_from_slice(&(name_length | EXTENDED).to_be_bytes());
        out.extend_from_slice(&SKIP_WORKTREE.to_be_bytes());
    } else {
        out.extend_from_slice(&name_length.to_be_bytes());
    }
    out.extend_from_slice(&e.path);
    // One to eight NULs, to a multiple of eight bytes.
    let padded = (out.len() - start + 8) & !7;
    out.resize(start + padded, 0);
}

/// Puts `bytes` at `path` through the lock file `lock`, created new (a lock
/// already there means another writer: refused), then renamed into place.
fn replace(path: &Path, lock: &Path, bytes: &[u8]) -> Result<(), WorktreeError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(lock)
        .map_err(io_error(lock))?;
    let written = file.write_all(bytes);
    // Closed before the rename (Windows renames no open file).
    drop(file);
    if let Err(e) = written.and_then(|()| std::fs::rename(lock, path)) {
        let _ = std::fs::remove_file(lock);
        return Err(io_error(path)(e));
    }
    Ok(())
}

#[cfg(all(test, unix))]
#[path = "index_file_tests.rs"]
mod tests;
