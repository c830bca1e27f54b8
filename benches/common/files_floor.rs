//! The kernel's own cost of a checkout: a commit's folders and files, with
//! their bytes, written with nothing else (no Git, no blob reading, no
//! index), the floor under any checkout's figure on this machine.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A commit's folders (parents first) and files with their bytes.
pub struct Tree {
    pub folders: Vec<PathBuf>,
    pub files: Vec<(PathBuf, Vec<u8>)>,
}

/// HEAD's tree of `repo`, read into memory.
pub fn read(repo: &Path) -> Tree {
    let git = git2::Repository::open(repo).expect("open");
    let tree = git.head().unwrap().peel_to_tree().unwrap();
    let mut out = Tree {
        folders: Vec::new(),
        files: Vec::new(),
    };
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        let path = PathBuf::from(format!("{dir}{}", entry.name().unwrap_or("")));
        match entry.kind() {
            Some(git2::ObjectType::Tree) => out.folders.push(path),
            Some(git2::ObjectType::Blob) => {
                let blob = git.find_blob(entry.id()).unwrap();
                out.files.push((path, blob.content().to_vec()));
            }
            _ => {}
        }
        git2::TreeWalkResult::Ok
    })
    .unwrap();
    out
}

/// Writes `tree` into the new folder `at` with `threads` threads (folders
/// first, then runs of files taken in turn, as a parallel checkout does).
pub fn write(at: &Path, tree: &Tree, threads: usize) -> Duration {
    let start = Instant::now();
    std::fs::create_dir(at).unwrap();
    for folder in &tree.folders {
        std::fs::create_dir(at.join(folder)).unwrap();
    }
    let runs: Vec<&[(PathBuf, Vec<u8>)]> = tree.files.chunks(32).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while let Some(run) = runs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    for (path, bytes) in run.iter() {
                        let mut file = std::fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(at.join(path))
                            .unwrap();
                        file.write_all(bytes).unwrap();
                    }
                }
            });
        }
    });
    start.elapsed()
}
