//! A new worktree's index file, written once, with each file's stat data as
//! it was when the file was written.
//!
//! Through libgit2 a checkout's index was written twice, and each of its
//! entries added again with its stat data, every add checking the object
//! database and the paths around it: on a 44,000-file tree, more time than
//! anything but making the files. Here the tree is read once, depth first,
//! into the index's entries (in the index's order), and gitoxide's
//! `gix-index` writes them in one pass: version 2 (3 when a sparse checkout
//! marks entries skip-worktree), Git's trailing SHA-1, through `index.lock`
//! renamed into place, as Git writes an index. It writes no cache tree (Git
//! builds one at the department's first commit).

use std::path::Path;

use git2::{ObjectType, Repository, Tree};
use gix_index::entry::{stat, Flags, Mode, Stat};

use super::populate::{plain_path, Entry};
use super::WorktreeError;
use crate::platform::StatData;

/// Reads `tree` into the index's entries. Where a path is not plain (see
/// `populate`) or the tree is out of Git's order, libgit2 reads the entries
/// instead, checking every path as for any index (and refusing what it
/// refuses).
pub fn read_tree(git: &Repository, tree: &Tree<'_>) -> Result<Vec<Entry>, WorktreeError> {
    let entries = walk(git, tree)?;
    let sorted = entries.windows(2).all(|w| w[0].path < w[1].path);
    if sorted && entries.iter().all(|e| plain_path(&e.path)) {
        return Ok(entries);
    }
    let mut index = git.index()?;
    index.read_tree(tree)?;
    Ok(index.iter().map(|e| Entry::from(&e)).collect())
}

/// Every entry of `tree` (sub-trees' entries where their name sorts, as in
/// an index), depth first without recursion.
fn walk(git: &Repository, tree: &Tree<'_>) -> Result<Vec<Entry>, WorktreeError> {
    /// A tree being read: the next entry, the path's length before its name.
    struct Open<'r> {
        tree: Tree<'r>,
        next: usize,
        prefix: usize,
    }
    let mut entries = Vec::new();
    let mut path = Vec::new();
    let mut open = vec![Open {
        tree: tree.clone(),
        next: 0,
        prefix: 0,
    }];
    while let Some(top) = open.last_mut() {
        let Some(e) = top.tree.get(top.next) else {
            path.truncate(top.prefix);
            open.pop();
            continue;
        };
        top.next += 1;
        let (kind, id, mode) = (e.kind(), e.id(), e.filemode() as u32);
        let at = path.len();
        path.extend_from_slice(e.name_bytes());
        drop(e);
        if kind != Some(ObjectType::Tree) {
            entries.push(Entry {
                path: path.clone(),
                id,
                mode,
            });
            path.truncate(at);
            continue;
        }
        path.push(b'/');
        open.push(Open {
            tree: git.find_tree(id)?,
            next: 0,
            prefix: at,
        });
    }
    Ok(entries)
}

/// Writes the index of the worktree whose Git folder is `git_dir`:
/// `entries` (in the index's order), each with its stat data (`stats[i]`,
/// none for a file not written) and marked skip-worktree where `skip(i)`.
pub fn write(
    git_dir: &Path,
    entries: &[Entry],
    stats: &[Option<StatData>],
    skip: &dyn Fn(usize) -> bool,
) -> Result<(), WorktreeError> {
    let mut state = gix_index::State::new(gix_index::hash::Kind::Sha1);
    for (i, e) in entries.iter().enumerate() {
        let id = gix_index::hash::ObjectId::try_from(e.id.as_bytes())
            .map_err(|e| WorktreeError::Refused(format!("an object id: {e}")))?;
        let mode = Mode::from_bits(e.mode).ok_or_else(|| {
            WorktreeError::Refused(format!(
                "mode {:o} of {}",
                e.mode,
                String::from_utf8_lossy(&e.path)
            ))
        })?;
        let flags = if skip(i) {
            Flags::EXTENDED | Flags::SKIP_WORKTREE
        } else {
            Flags::empty()
        };
        let stat = stats
            .get(i)
            .copied()
            .flatten()
            .map_or_else(Stat::default, stat_of);
        state.dangerously_push_entry(stat, id, flags, mode, e.path.as_slice().into());
    }
    let mut file = gix_index::File::from_state(state, git_dir.join("index"));
    file.write(gix_index::write::Options::default())
        .map_err(|e| WorktreeError::Git(format!("the index of {}: {e}", git_dir.display())))
}

/// Stat data as the index keeps it: 32 bits a field, as Git truncates them.
fn stat_of(s: StatData) -> Stat {
    let time = |(secs, nsecs): (i64, i64)| stat::Time {
        secs: secs as u32,
        nsecs: nsecs as u32,
    };
    Stat {
        mtime: time(s.mtime),
        ctime: time(s.ctime),
        dev: s.dev as u32,
        ino: s.ino as u32,
        uid: s.uid,
        gid: s.gid,
        size: s.size as u32,
    }
}

#[cfg(all(test, unix))]
#[path = "index_file_tests.rs"]
mod tests;
