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
//!   incremental caches (`incremental/` beside `.fingerprint/`) are left out
//!   unless the department builds at the user's tree's path
//!   ([`super::at_users_path`], then its first build takes about what the
//!   user's next one takes): rustc counts the folder it runs in among its
//!   options and drops a cache made in another folder whole (measured: `-Z incremental-info` says
//!   "completely ignoring cache because of differing commandline arguments"
//!   when only the folder differs), so they would be disk for nothing. So
//!   what depends on a change rebuilds whole in a department: slower than the
//!   user's incremental build (measured 2.7x and 2.8x on a shared machine,
//!   beside 2.3x and 3.2x for the user's own build without its incremental
//!   caches), faster than a cold one.
//!   Cargo decides freshness from file times, so the copy keeps the times of
//!   the user's build, and every checked-out file whose bytes equal the
//!   user's takes the user's file's time: Cargo sees the worktree as it sees
//!   the user's tree. A file that differs keeps its checkout time, newer than
//!   any build of the user's, so what depends on it is rebuilt.
//!   Cargo does not notice that a unit built into itself a path of the
//!   user's tree (`env!("CARGO_MANIFEST_DIR")`, `CARGO_BIN_EXE_*`, a build
//!   script's output naming a source folder), nor that it records a file
//!   outside its crate by its absolute path (`include_str!("../../x.json")`):
//!   fresh in the copy, it would read, run or write the user's files, or miss
//!   the department's change to that file. Such units are forgotten in the
//!   copy (their `.fingerprint/` entry removed), so Cargo builds them anew.
//! - npm, pnpm, yarn: set-up commands take packages from the package
//!   manager's own content store (checked by hash on every read) before the
//!   network, and pnpm copies from its store instead of hard-linking to it,
//!   so a department cannot write through its `node_modules` into the store.

use std::collections::BTreeSet;
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
    /// Units of the copy Cargo will build anew: they named the user's tree.
    pub units_forgotten: u64,
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
/// rustc's incremental caches come too when `incremental` (a department
/// that builds at the user's path). None when there is nothing to copy; a
/// failed copy leaves no partial one.
pub fn seed_cargo(
    repo: &Path,
    worktree: &Path,
    caches: Caches,
    incremental: bool,
) -> Result<Option<CargoSeed>, CacheError> {
    if !worth_seeding(repo, worktree, caches) {
        return Ok(None);
    }
    let git = git2::Repository::open(worktree).map_err(|e| CacheError::Git(e.to_string()))?;
    seed_from(repo, worktree, incremental, &git, || checked_out(&git))
}

/// The same for a landing's candidate (`crate::landing`): plain files
/// written from a tree (`files`, paths in it), with no Git of their own; the
/// user's repository says whether `target/` is ignored.
pub fn seed_cargo_candidate(
    repo: &Path,
    candidate: &Path,
    caches: Caches,
    incremental: bool,
    files: &[String],
) -> Result<Option<CargoSeed>, CacheError> {
    if !worth_seeding(repo, candidate, caches) {
        return Ok(None);
    }
    let git = git2::Repository::open(repo).map_err(|e| CacheError::Git(e.to_string()))?;
    seed_from(repo, candidate, incremental, &git, || Ok(files.to_vec()))
}

/// Caches on, a Cargo project, the user's `target/` there and the copy's not.
fn worth_seeding(repo: &Path, worktree: &Path, caches: Caches) -> bool {
    let is_dir = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    caches != Caches::Off
        && worktree.join("Cargo.toml").is_file()
        && is_dir(&repo.join(CARGO_TARGET))
        && std::fs::symlink_metadata(worktree.join(CARGO_TARGET)).is_err()
}

/// Copies `repo`'s `target/` into `worktree` when `git` ignores it, then
/// gives each of `files` whose bytes equal the user's the user's time.
fn seed_from(
    repo: &Path,
    worktree: &Path,
    incremental: bool,
    git: &git2::Repository,
    files: impl FnOnce() -> Result<Vec<String>, CacheError>,
) -> Result<Option<CargoSeed>, CacheError> {
    let from = repo.join(CARGO_TARGET);
    let to = worktree.join(CARGO_TARGET);
    let ignored = git
        .is_path_ignored(format!("{CARGO_TARGET}/debug"))
        .map_err(|e| CacheError::Git(e.to_string()))?;
    if !ignored {
        return Ok(None);
    }
    let needed = bytes_to_copy(&from, incremental);
    let free = crate::platform::free_bytes(worktree).map_err(io_error(worktree))?;
    if !copy_fits(needed, free) {
        return Err(CacheError::NoRoom { needed, free });
    }
    let mut seed = CargoSeed::default();
    let copied = copy_tree(&from, &to, incremental, &mut seed)
        .and_then(|()| forget_units_naming(&to, &user_tree_names(repo)));
    match copied {
        Ok(forgotten) => seed.units_forgotten = forgotten,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&to);
            return Err(e);
        }
    }
    // Without the user's times, checked-out files look newer than the copy:
    // Cargo rebuilds more, never less, so the copy stays.
    seed.sources_matched = files()
        .and_then(|files| match_source_times(&files, repo, worktree))
        .unwrap_or_else(|e| {
            tracing::warn!(
                "{}: the checked-out files keep their own times: {e}",
                worktree.display()
            );
            0
        });
    Ok(Some(seed))
}

/// Copies the folders and regular files under `from` (links are skipped,
/// never followed), keeping each file's permissions and modified time.
fn copy_tree(
    from: &Path,
    to: &Path,
    incremental: bool,
    seed: &mut CargoSeed,
) -> Result<(), CacheError> {
    std::fs::create_dir(to).map_err(io_error(to))?;
    let walk = walkdir::WalkDir::new(from)
        .follow_links(false)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| incremental || !is_incremental_cache(e));
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
fn bytes_to_copy(from: &Path, incremental: bool) -> u64 {
    walkdir::WalkDir::new(from)
        .follow_links(false)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| incremental || !is_incremental_cache(e))
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

/// The user's tree as a build may have recorded it: as given and resolved.
fn user_tree_names(repo: &Path) -> Vec<String> {
    let mut names = vec![repo.display().to_string()];
    if let Ok(real) = std::fs::canonicalize(repo) {
        let real = real.display().to_string();
        if !names.contains(&real) {
            names.push(real);
        }
    }
    names
}

/// Whether `text` names `tree` or a path under it (not a sibling that only
/// starts the same, `/src/app2` for `/src/app`).
fn names_tree(text: &str, tree: &str) -> bool {
    !tree.is_empty()
        && text.match_indices(tree).any(|(at, _)| {
            matches!(
                text[at + tree.len()..].chars().next(),
                None | Some('/' | '\\' | '\n' | '\r' | '"' | ' ' | ':' | ';')
            )
        })
}

/// Whether a unit whose rustc dep-info (`deps/<unit>.d`) is `dep_info` built
/// a path of the user's tree into itself: an environment variable it read at
/// compile time (`# env-dep:NAME=value`) names the tree. A build script's
/// `OUT_DIR` (`OUT_DIR` itself, or a path under one of `out_dirs`, the
/// scripts' `root-output`) is left to Cargo: it gives the copy its own, whose
/// files are copied too, and counting it would rebuild every crate that
/// includes generated code.
pub fn dep_info_names_tree(dep_info: &str, trees: &[String], out_dirs: &[String]) -> bool {
    dep_info
        .lines()
        .filter_map(|line| line.strip_prefix("# env-dep:"))
        .filter_map(|var| var.split_once('='))
        .filter(|(name, _)| *name != "OUT_DIR")
        .any(|(_, value)| names_tree_beyond(&unescape_dep_env(value), out_dirs, trees))
}

/// Whether a build script's recorded output (`build/<unit>/output`) names
/// the user's tree anywhere but in the script's own `OUT_DIR` (`out_dir`,
/// from its `root-output`), which Cargo moves to the copy's.
pub fn script_output_names_tree(output: &str, out_dir: &str, trees: &[String]) -> bool {
    names_tree_beyond(output, &[out_dir.to_string()], trees)
}

/// Whether `text` names one of `trees` once the `out_dirs` are taken out.
fn names_tree_beyond(text: &str, out_dirs: &[String], trees: &[String]) -> bool {
    let mut rest = text.to_string();
    for out_dir in out_dirs.iter().filter(|d| !d.is_empty()) {
        rest = rest.replace(out_dir.as_str(), "");
    }
    trees.iter().any(|tree| names_tree(&rest, tree))
}

/// Whether Cargo's own record of the files a unit read
/// (`.fingerprint/<unit>/dep-*`, binary) lists a file of the user's tree by
/// its absolute path. Cargo keeps a path in the package or the build folder
/// relative and any other absolute (a workspace file a crate includes,
/// `include_str!("../../schema.json")`): in the copy it would check the
/// user's file, not the department's, and miss the department's change.
pub fn fingerprint_names_file_in_tree(dep_info: &[u8], trees: &[String]) -> bool {
    trees.iter().map(|t| t.as_bytes()).any(|tree| {
        !tree.is_empty()
            && dep_info
                .windows(tree.len() + 1)
                .any(|w| w.starts_with(tree) && matches!(w[tree.len()], b'/' | b'\\'))
    })
}

/// rustc escapes `\`, newlines and returns in `env-dep` values.
fn unescape_dep_env(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Removes, in the copied `target`, the `.fingerprint/` entry of each unit
/// that named the user's tree, so Cargo builds it (and what uses it) anew;
/// returns how many. Only the department's copy is touched.
fn forget_units_naming(target: &Path, trees: &[String]) -> Result<u64, CacheError> {
    let mut forgotten = 0;
    for profile in profile_dirs(target) {
        let units = units_naming(&profile, trees);
        if units.is_empty() {
            continue;
        }
        let fingerprints = profile.join(".fingerprint");
        for entry in read_dir(&fingerprints)? {
            if unit_hash(Some(&entry.file_name())).is_some_and(|u| units.contains(&u)) {
                let path = entry.path();
                std::fs::remove_dir_all(&path).map_err(io_error(&path))?;
                forgotten += 1;
            }
        }
    }
    Ok(forgotten)
}

/// The profile folders of a Cargo build folder: those holding `.fingerprint/`
/// (`debug`, `release`, `<triple>/debug`, …).
fn profile_dirs(target: &Path) -> Vec<std::path::PathBuf> {
    walkdir::WalkDir::new(target)
        .follow_links(false)
        .min_depth(1)
        .max_depth(2)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_dir() && e.path().join(".fingerprint").is_dir())
        .map(|e| e.into_path())
        .collect()
}

/// The units of `profile` that named the tree, by the hash Cargo puts in
/// their files' names and their `.fingerprint/` entry: crates, tests,
/// examples and build scripts by rustc's dep-info (`deps/c-<hash>.d`,
/// `build/c-<hash>/build_script_build-<hash>.d`) and Cargo's
/// (`.fingerprint/c-<hash>/dep-lib-c`), build script runs by their output
/// (`build/c-<hash>/output`).
fn units_naming(profile: &Path, trees: &[String]) -> BTreeSet<String> {
    let files_under = |dir: &str| {
        walkdir::WalkDir::new(profile.join(dir))
            .follow_links(false)
            .min_depth(1)
            .max_depth(2)
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
    };
    let out_dirs: Vec<String> = files_under("build")
        .filter(|f| f.depth() == 2 && f.file_name() == "root-output")
        .filter_map(|f| read_text(f.path()))
        .map(|d| d.trim_end().to_string())
        .collect();
    let mut units = BTreeSet::new();
    for dir in ["deps", "examples", "build"] {
        for file in files_under(dir) {
            let path = file.path();
            let (unit, named) = if path.extension().is_some_and(|e| e == "d") {
                let named =
                    read_text(path).is_some_and(|t| dep_info_names_tree(&t, trees, &out_dirs));
                (unit_hash(path.file_stem()), named)
            } else if dir == "build" && file.depth() == 2 && file.file_name() == "output" {
                let out_dir = read_text(&path.with_file_name("root-output")).unwrap_or_default();
                let named = read_text(path)
                    .is_some_and(|t| script_output_names_tree(&t, out_dir.trim_end(), trees));
                (unit_hash(path.parent().and_then(Path::file_name)), named)
            } else {
                continue;
            };
            if let Some(unit) = unit.filter(|_| named) {
                units.insert(unit);
            }
        }
    }
    for file in files_under(".fingerprint") {
        let is_dep_info = file.depth() == 2
            && file
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with("dep-"));
        let named = is_dep_info
            && std::fs::read(file.path())
                .is_ok_and(|bytes| fingerprint_names_file_in_tree(&bytes, trees));
        let unit = file.path().parent().and_then(Path::file_name);
        if let Some(unit) = unit_hash(unit).filter(|_| named) {
            units.insert(unit);
        }
    }
    units
}

/// `<hash>` of a unit's `<name>-<hash>`.
fn unit_hash(name: Option<&std::ffi::OsStr>) -> Option<String> {
    let (_, hash) = name?.to_str()?.rsplit_once('-')?;
    Some(hash.to_string())
}

fn read_text(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>, CacheError> {
    std::fs::read_dir(dir)
        .and_then(|entries| entries.collect())
        .map_err(io_error(dir))
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
/// The files Git checked out in the worktree (a sparse checkout marks what
/// is not there skip-worktree).
fn checked_out(git: &git2::Repository) -> Result<Vec<String>, CacheError> {
    let index = git.index().map_err(|e| CacheError::Git(e.to_string()))?;
    Ok(index
        .iter()
        .filter(|e| e.flags_extended & git2::IndexEntryExtendedFlag::SKIP_WORKTREE.bits() == 0)
        .filter_map(|e| String::from_utf8(e.path).ok())
        .collect())
}

fn match_source_times(files: &[String], repo: &Path, worktree: &Path) -> Result<u64, CacheError> {
    let mut matched = 0;
    for rel in files {
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
        let seed = seed_cargo(&repo, &wt, Caches::Auto, false)
            .unwrap()
            .unwrap();
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

    /// Writes `text` at `rel` under the profile folder `debug`.
    fn write_under(debug: &Path, rel: &str, text: String) {
        let path = debug.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// rustc's dep-info of four units built from the user's tree at `user`:
    /// one names it (CARGO_MANIFEST_DIR), the others do not.
    fn rustc_dep_infos(debug: &Path, user: &str) {
        // A test reading its fixtures through env!("CARGO_MANIFEST_DIR").
        write_under(
            debug,
            "deps/a-1111111111111111.d",
            format!("{user}/target/debug/deps/a-1111111111111111.d: a/src/lib.rs\n\n# env-dep:CARGO_MANIFEST_DIR={user}/a\n"),
        );
        // Generated code and the crate's name: Cargo moves OUT_DIRs itself.
        write_under(
            debug,
            "deps/a-2222222222222222.d",
            format!("# env-dep:OUT_DIR={user}/target/debug/build/s-5555555555555555/out\n# env-dep:GEN={user}/target/debug/build/s-6666666666666666/out/gen.rs\n# env-dep:CARGO_PKG_NAME=a\n"),
        );
        // A sibling folder whose name starts like the user's tree.
        write_under(
            debug,
            "deps/b-3333333333333333.d",
            format!("# env-dep:CARGO_MANIFEST_DIR={user}2/b\n"),
        );
        write_under(
            debug,
            "build/s-4444444444444444/build_script_build-4444444444444444.d",
            "build.rs:\n".into(),
        );
    }

    /// Two build scripts' runs: one told its crate where the user's
    /// fixtures are, the other named only its own OUT_DIR.
    fn build_script_outputs(debug: &Path, user: &str) {
        let out_dir = |hash: &str| format!("{user}/target/debug/build/s-{hash}/out");
        let script = |hash: &str, output: String| {
            write_under(debug, &format!("build/s-{hash}/root-output"), out_dir(hash));
            write_under(debug, &format!("build/s-{hash}/output"), output);
        };
        script(
            "5555555555555555",
            format!(
                "cargo:rustc-link-search=native={}\ncargo:rustc-env=FIXTURES={user}/fixtures\n",
                out_dir("5555555555555555")
            ),
        );
        script(
            "6666666666666666",
            format!(
                "cargo:rustc-link-search=native={}\n",
                out_dir("6666666666666666")
            ),
        );
    }

    /// Cargo's own dep-info (binary): a workspace file outside the crate by
    /// its absolute path, and one with package and target relative ones.
    fn cargo_dep_infos(debug: &Path, user: &str) {
        let fingerprint_dep_info = |unit: &str, paths: &[&str]| {
            let mut bytes = vec![1, 0, 0, 0, 0xff, 1];
            for p in paths {
                bytes.extend((p.len() as u32).to_le_bytes());
                bytes.extend(p.as_bytes());
                bytes.push(1);
            }
            std::fs::write(debug.join(format!(".fingerprint/{unit}/dep-lib-x")), bytes).unwrap();
        };
        let shared = format!("{user}/b/src/../../shared/schema.json");
        fingerprint_dep_info("b-7777777777777777", &["src/lib.rs", &shared]);
        fingerprint_dep_info(
            "c-8888888888888888",
            &["src/lib.rs", "debug/build/s-5555555555555555/out/gen.rs"],
        );
    }

    /// The units of `target`'s debug profile, by their fingerprints' names.
    fn fingerprints(target: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(target.join("debug/.fingerprint"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn units_that_built_in_a_path_of_the_users_tree_are_built_anew_in_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, wt) = cargo_repo(dir.path(), "/target\n");
        let target = repo.join("target");
        let user = repo.display().to_string();
        let debug = unit(&target, "debug", "a-1111111111111111");
        for name in [
            "a-2222222222222222",
            "b-3333333333333333",
            "s-4444444444444444",
            "s-5555555555555555",
            "s-6666666666666666",
            "b-7777777777777777",
            "c-8888888888888888",
        ] {
            unit(&target, "debug", name);
        }
        rustc_dep_infos(&debug, &user);
        build_script_outputs(&debug, &user);
        cargo_dep_infos(&debug, &user);

        let seed = seed_cargo(&repo, &wt, Caches::Auto, false)
            .unwrap()
            .unwrap();
        assert_eq!(
            fingerprints(&wt.join("target")),
            [
                "a-2222222222222222",
                "b-3333333333333333",
                "c-8888888888888888",
                "s-4444444444444444",
                "s-6666666666666666"
            ],
            "the units that named the user's tree are forgotten in the copy"
        );
        assert_eq!(seed.units_forgotten, 3);
        assert_eq!(
            fingerprints(&target).len(),
            8,
            "the user's build folder is untouched"
        );
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
        seed_cargo(&repo, &wt, Caches::Auto, false)
            .unwrap()
            .unwrap();
        let copied = wt.join("target/x86_64-unknown-linux-gnu/debug");
        assert!(copied.join(".fingerprint/a-1/lib-x").is_file());
        assert!(!copied.join("incremental").exists());
        assert!(!wt.join("target/debug/incremental").exists());
        assert!(wt.join("target/doc/incremental/index.html").is_file());
        // A department that builds at the user's path takes them too.
        let wt2 = std::path::PathBuf::from(
            super::super::testing::fresh_worktree(&repo, "lingyubu-2").path,
        );
        seed_cargo(&repo, &wt2, Caches::Auto, true)
            .unwrap()
            .unwrap();
        let cache = wt2.join("target/x86_64-unknown-linux-gnu/debug/incremental/a-2/q.bin");
        assert_eq!(std::fs::read_to_string(cache).unwrap(), "cache");
    }

    #[test]
    fn cargos_dep_info_names_a_file_in_the_tree_by_its_absolute_path() {
        let trees = ["/src/app".to_string()];
        let names = |bytes: &[u8]| fingerprint_names_file_in_tree(bytes, &trees);
        assert!(names(b"\x01\x00\x15\x00/src/app/shared/a.json\x00"));
        assert!(!names(b"\x01\x00\x0a\x00src/lib.rs\x00"));
        assert!(!names(b"\x01\x00\x10\x00/src/app2/a.json\x00"));
        assert!(!names(b"\x01\x00\x08\x00/src/app\x00"));
        let windows = [r"C:\src\app".to_string()];
        assert!(fingerprint_names_file_in_tree(
            br"C:\src\app\shared\a.json",
            &windows
        ));
    }

    #[test]
    fn a_dep_info_names_the_tree_by_an_environment_variable_other_than_out_dir() {
        let trees = ["/src/app".to_string()];
        let out_dirs = ["/src/app/target/debug/build/s-1/out".to_string()];
        let names = |d: &str| dep_info_names_tree(d, &trees, &out_dirs);
        assert!(names("# env-dep:CARGO_MANIFEST_DIR=/src/app/crates/a\n"));
        assert!(names(
            "# env-dep:CARGO_BIN_EXE_app=/src/app/target/debug/app\n"
        ));
        assert!(names("# env-dep:ROOT=/src/app\n"));
        assert!(!names(
            "# env-dep:OUT_DIR=/src/app/target/debug/build/a-1/out\n"
        ));
        assert!(!names("# env-dep:CARGO_MANIFEST_DIR=/src/app2/a\n"));
        // A path a build script put in its OUT_DIR, which Cargo moves.
        assert!(!names(
            "# env-dep:GEN=/src/app/target/debug/build/s-1/out/gen.rs\n"
        ));
        assert!(names(
            "# env-dep:GEN=/src/app/target/debug/build/s-2/gen.rs\n"
        ));
        assert!(!names(
            "# env-dep:HOME\n/src/app/target/debug/deps/a.d: a/src/lib.rs\n"
        ));
        // rustc escapes backslashes: a Windows path.
        let windows = [r"C:\src\app".to_string()];
        assert!(dep_info_names_tree(
            r"# env-dep:CARGO_MANIFEST_DIR=C:\\src\\app\\a",
            &windows,
            &[]
        ));
        assert!(!dep_info_names_tree(
            r"# env-dep:CARGO_MANIFEST_DIR=C:\\src\\apps",
            &windows,
            &[]
        ));
    }

    #[test]
    fn off_or_a_target_git_would_record_gets_no_copy() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, wt) = cargo_repo(dir.path(), "/target\n");
        assert_eq!(seed_cargo(&repo, &wt, Caches::Off, false).unwrap(), None);
        assert!(!wt.join("target").exists());
        let dir = tempfile::tempdir().unwrap();
        let (repo, wt) = cargo_repo(dir.path(), "*.log\n");
        assert_eq!(seed_cargo(&repo, &wt, Caches::Auto, false).unwrap(), None);
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
