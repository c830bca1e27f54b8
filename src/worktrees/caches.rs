//! Caches that make a department's first build fast (issue 52 item 3),
//! `launcher.worktree.caches: auto|off`, without sharing anything a
//! department could spoil for the user or for another department.
//!
//! - Cargo: the user's `target/` is copied into the new worktree's own
//!   `target/` (Cargo's default build folder there), so the department's
//!   first build recompiles only what differs. The copy is the department's:
//!   its sandbox may write its worktree, but never the user's tree (read
//!   only) or another department's worktree (the worktrees folder is read
//!   only). Hard links were ruled out: a department writing a linked file
//!   would write the user's. The kernel's copy (`copy_file_range`) shares
//!   the blocks where the file system can (Btrfs, XFS); elsewhere it is a
//!   full copy, measured worthwhile (benches/worktree_caches.rs). rustc's
//!   incremental caches (`incremental/` beside `.fingerprint/`, in every
//!   profile's folder) are left out: they hold the folder the build ran in.
//!   Cargo decides freshness from file times, so the copy keeps the times of
//!   the user's build, and every checked-out file whose bytes equal the
//!   user's takes the user's file's time: Cargo sees the worktree as it sees
//!   the user's tree. A file that differs keeps its checkout time, newer than
//!   any build of the user's, so what depends on it is rebuilt.
//! - npm, pnpm, yarn: set-up commands take packages from the package
//!   manager's own content store (checked by hash on every read) before the
//!   network, and pnpm copies from its store instead of hard-linking to it,
//!   so a department cannot write through its `node_modules` into the store.

use std::fs::OpenOptions;
use std::path::Path;
use std::time::SystemTime;

use crate::config::worktree_ready::Caches;

/// The build folder of a Cargo project, in the user's tree and a worktree.
const CARGO_TARGET: &str = "target";

/// Why the Cargo build folder was not copied.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("git: {0}")]
    Git(String),
    #[error(
        "not copied: the copy ({} MiB) would take more than half of the {} MiB free",
        needed / MIB,
        free / MIB
    )]
    NoRoom { needed: u64, free: u64 },
}

const MIB: u64 = 1024 * 1024;

/// Whether a copy of `needed` bytes leaves room: it may take at most half
/// of what is free, so departments' copies never fill the disk the user
/// builds on.
pub fn copy_fits(needed: u64, free: u64) -> bool {
    needed <= free / 2
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What the copy of the user's `target/` gave the worktree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CargoSeed {
    pub files: u64,
    pub bytes: u64,
    /// Checked-out files given the time of the user's same file.
    pub sources_matched: u64,
}

/// Environment for set-up commands, so package managers install from their
/// own store first and pnpm never hard-links its store into a worktree.
pub fn setup_env(caches: Caches) -> &'static [(&'static str, &'static str)] {
    match caches {
        Caches::Off => &[],
        Caches::Auto => &[
            ("npm_config_prefer_offline", "true"),
            ("npm_config_package_import_method", "clone-or-copy"),
            ("pnpm_config_package_import_method", "clone-or-copy"),
        ],
    }
}

/// Copies the user's Cargo build folder into the new worktree when `caches`
/// is auto, the worktree is a Cargo project, its `target/` is ignored by Git
/// (so it is never recorded as the department's work) and not there yet.
/// None when there is nothing to copy; a failed copy leaves no partial one.
pub fn seed_cargo(
    repo: &Path,
    worktree: &Path,
    caches: Caches,
) -> Result<Option<CargoSeed>, CacheError> {
    let from = repo.join(CARGO_TARGET);
    let to = worktree.join(CARGO_TARGET);
    let is_dir = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    if caches == Caches::Off
        || !worktree.join("Cargo.toml").is_file()
        || !is_dir(&from)
        || std::fs::symlink_metadata(&to).is_ok()
    {
        return Ok(None);
    }
    let git = git2::Repository::open(worktree).map_err(|e| CacheError::Git(e.to_string()))?;
    let ignored = git
        .is_path_ignored(format!("{CARGO_TARGET}/debug"))
        .map_err(|e| CacheError::Git(e.to_string()))?;
    if !ignored {
        return Ok(None);
    }
    let needed = bytes_to_copy(&from);
    let free = crate::platform::free_bytes(worktree).map_err(io_error(worktree))?;
    if !copy_fits(needed, free) {
        return Err(CacheError::NoRoom { needed, free });
    }
    let mut seed = CargoSeed::default();
    if let Err(e) = copy_tree(&from, &to, &mut seed) {
        let _ = std::fs::remove_dir_all(&to);
        return Err(e);
    }
    seed.sources_matched = match_source_times(&git, repo, worktree)?;
    Ok(Some(seed))
}

/// Copies the folders and regular files under `from` (links are skipped,
/// never followed), keeping each file's permissions and modified time.
fn copy_tree(from: &Path, to: &Path, seed: &mut CargoSeed) -> Result<(), CacheError> {
    std::fs::create_dir(to).map_err(io_error(to))?;
    let walk = walkdir::WalkDir::new(from)
        .follow_links(false)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !is_incremental_cache(e));
    for entry in walk {
        let entry = entry.map_err(|e| CacheError::Io {
            path: from.display().to_string(),
            source: e.into(),
        })?;
        let rel = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir(&dest).map_err(io_error(&dest))?;
        } else if entry.file_type().is_file() {
            seed.bytes += copy_file(entry.path(), &dest)?;
            seed.files += 1;
        }
    }
    Ok(())
}

/// The bytes of the regular files [`copy_tree`] would copy.
fn bytes_to_copy(from: &Path) -> u64 {
    walkdir::WalkDir::new(from)
        .follow_links(false)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !is_incremental_cache(e))
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// rustc's incremental caches, `incremental/` in a profile's folder (the one
/// with Cargo's `.fingerprint/`: `target/debug`, `target/<triple>/debug`):
/// rustc drops a cache made in another folder, so a worktree cannot use them
/// (measured: no faster with them, and they were over half of the copy).
fn is_incremental_cache(entry: &walkdir::DirEntry) -> bool {
    entry.file_type().is_dir()
        && entry.file_name() == "incremental"
        && entry
            .path()
            .parent()
            .is_some_and(|profile| profile.join(".fingerprint").is_dir())
}

fn copy_file(from: &Path, to: &Path) -> Result<u64, CacheError> {
    let mut source = crate::platform::open_no_follow(from).map_err(|(_, e)| io_error(from)(e))?;
    let meta = source.metadata().map_err(io_error(from))?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    let mut target =
        crate::platform::open_no_follow_with(&mut options, to).map_err(io_error(to))?;
    let bytes = std::io::copy(&mut source, &mut target).map_err(io_error(to))?;
    target
        .set_permissions(meta.permissions())
        .map_err(io_error(to))?;
    let modified = meta.modified().map_err(io_error(from))?;
    target.set_modified(modified).map_err(io_error(to))?;
    Ok(bytes)
}

/// Gives each checked-out file of the worktree whose bytes equal the user's
/// same file that file's modified time; returns how many.
fn match_source_times(
    git: &git2::Repository,
    repo: &Path,
    worktree: &Path,
) -> Result<u64, CacheError> {
    let index = git.index().map_err(|e| CacheError::Git(e.to_string()))?;
    let mut matched = 0;
    for entry in index.iter() {
        // Sparse checkouts mark what is not there skip-worktree.
        if entry.flags_extended & (git2::IndexEntryExtendedFlag::SKIP_WORKTREE.bits()) != 0 {
            continue;
        }
        let Ok(rel) = std::str::from_utf8(&entry.path) else {
            continue;
        };
        let theirs = worktree.join(rel);
        let users = repo.join(rel);
        if let Some(time) = same_bytes_time(&users, &theirs) {
            let mut options = OpenOptions::new();
            options.write(true);
            let file = crate::platform::open_no_follow_with(&mut options, &theirs)
                .map_err(io_error(&theirs))?;
            file.set_modified(time).map_err(io_error(&theirs))?;
            matched += 1;
        }
    }
    Ok(matched)
}

/// The user's file's modified time when both are regular files with the same bytes.
fn same_bytes_time(users: &Path, theirs: &Path) -> Option<SystemTime> {
    let a = std::fs::symlink_metadata(users).ok()?;
    let b = std::fs::symlink_metadata(theirs).ok()?;
    if !a.is_file() || !b.is_file() || a.len() != b.len() {
        return None;
    }
    (std::fs::read(users).ok()? == std::fs::read(theirs).ok()?)
        .then(|| a.modified().ok())
        .flatten()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    fn cargo_repo(dir: &Path, ignore: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let (repo, _) = super::super::testing::repo_with(
            dir,
            &[
                (".gitignore", ignore),
                ("Cargo.toml", "[package]\nname = \"a\"\n"),
                ("src/lib.rs", "pub fn a() {}\n"),
                ("src/other.rs", "pub fn b() {}\n"),
            ],
        );
        std::fs::create_dir_all(repo.join("target/debug/.fingerprint")).unwrap();
        std::fs::write(repo.join("target/debug/liba.rlib"), "built").unwrap();
        std::fs::create_dir_all(repo.join("target/debug/incremental/a-1")).unwrap();
        std::fs::write(repo.join("target/debug/incremental/a-1/q.bin"), "cache").unwrap();
        let wt = super::super::testing::fresh_worktree(&repo, "lingyubu-1");
        (repo, wt.path.into())
    }

    #[test]
    fn the_users_target_is_copied_with_its_times_and_same_sources_take_the_users_times() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, wt) = cargo_repo(dir.path(), "/target\n");
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        let set = |p: &Path| filetime::set_file_mtime(p, old.into()).unwrap();
        set(&repo.join("target/debug/liba.rlib"));
        set(&repo.join("src/lib.rs"));
        std::fs::write(repo.join("src/other.rs"), "pub fn changed() {}\n").unwrap();
        let seed = seed_cargo(&repo, &wt, Caches::Auto).unwrap().unwrap();
        assert_eq!((seed.files, seed.bytes), (1, 5));
        assert!(
            !wt.join("target/debug/incremental").exists(),
            "rustc's incremental caches, of no use at another path, are left out"
        );
        let copied = wt.join("target/debug/liba.rlib");
        assert_eq!(std::fs::read_to_string(&copied).unwrap(), "built");
        let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
        assert_eq!(mtime(&copied), old);
        assert_eq!(
            mtime(&wt.join("src/lib.rs")),
            old,
            "same bytes: the user's time"
        );
        assert!(
            mtime(&wt.join("src/other.rs")) > old,
            "differs from the user's: newer than the user's build"
        );
        assert_ne!(
            std::fs::metadata(&copied).unwrap().ino(),
            std::fs::metadata(repo.join("target/debug/liba.rlib"))
                .unwrap()
                .ino(),
            "a copy, never a link to the user's file"
        );
    }

    /// A Cargo build folder's units as Cargo leaves them: `.fingerprint/`
    /// entries and what says what each unit read.
    fn unit(target: &Path, profile: &str, name: &str) -> std::path::PathBuf {
        let entry = target.join(profile).join(".fingerprint").join(name);
        std::fs::create_dir_all(&entry).unwrap();
        std::fs::write(entry.join("lib-x"), "fingerprint").unwrap();
        target.join(profile)
    }

    #[test]
    fn incremental_caches_of_a_build_for_a_named_target_are_left_out_too() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, wt) = cargo_repo(dir.path(), "/target\n");
        let triple = unit(
            &repo.join("target"),
            "x86_64-unknown-linux-gnu/debug",
            "a-1",
        );
        std::fs::create_dir_all(triple.join("incremental/a-2")).unwrap();
        std::fs::write(triple.join("incremental/a-2/q.bin"), "cache").unwrap();
        // Documentation of a crate named `incremental` is not a cache.
        std::fs::create_dir_all(repo.join("target/doc/incremental")).unwrap();
        std::fs::write(repo.join("target/doc/incremental/index.html"), "doc").unwrap();
        seed_cargo(&repo, &wt, Caches::Auto).unwrap().unwrap();
        let copied = wt.join("target/x86_64-unknown-linux-gnu/debug");
        assert!(copied.join(".fingerprint/a-1/lib-x").is_file());
        assert!(!copied.join("incremental").exists());
        assert!(!wt.join("target/debug/incremental").exists());
        assert!(wt.join("target/doc/incremental/index.html").is_file());
    }

    #[test]
    fn off_or_a_target_git_would_record_gets_no_copy() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, wt) = cargo_repo(dir.path(), "/target\n");
        assert_eq!(seed_cargo(&repo, &wt, Caches::Off).unwrap(), None);
        assert!(!wt.join("target").exists());
        let dir = tempfile::tempdir().unwrap();
        let (repo, wt) = cargo_repo(dir.path(), "*.log\n");
        assert_eq!(seed_cargo(&repo, &wt, Caches::Auto).unwrap(), None);
        assert!(!wt.join("target").exists());
    }

    #[test]
    fn a_copy_takes_at_most_half_of_the_free_space() {
        assert!(copy_fits(50, 100));
        assert!(!copy_fits(51, 100));
        assert!(!copy_fits(1, 0));
        let e = CacheError::NoRoom {
            needed: 600 * MIB,
            free: 1000 * MIB,
        };
        assert_eq!(
            e.to_string(),
            "not copied: the copy (600 MiB) would take more than half of the 1000 MiB free"
        );
    }

    #[test]
    fn set_up_env_only_when_auto() {
        assert!(setup_env(Caches::Off).is_empty());
        assert!(setup_env(Caches::Auto).contains(&("npm_config_prefer_offline", "true")));
    }
}
