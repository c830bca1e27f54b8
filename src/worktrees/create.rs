//! Creating a department's worktree: a new branch at the base commit, a
//! linked worktree on it (added without libgit2's checkout), an index of the
//! whole base tree, and a checkout of what the department gets: everything,
//! or, sparse, its scope and what builds need (the other entries marked
//! skip-worktree). Removing one takes the folder and Git's record of it; the
//! branch stays.

use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

use super::index_file;
use super::populate::{self, populate, Entry};
use super::sparse_builds;
use super::{branch_name, head_commit, io_error, WorktreeError};
use crate::config::{Checkout, IsolationSettings};
use crate::glob::PatternSet;
use crate::model::Workspace;

/// Above this many files, `checkout: auto` checks out a department's scope only.
pub const SPARSE_ABOVE: usize = 10_000;

pub struct CreateSpec<'a> {
    /// The repository's working tree root.
    pub repo: &'a Path,
    pub zhongshu: &'a str,
    pub session: &'a str,
    /// The plan's base commit; HEAD when None (or when it is gone).
    pub base: Option<&'a str>,
    /// The department's scope (assignment files and department globs).
    pub scope: &'a [String],
    pub settings: &'a IsolationSettings,
}

/// A new worktree and how much of the tree it holds.
#[derive(Debug)]
pub struct Created {
    pub workspace: Workspace,
    pub checked_out: usize,
    pub total: usize,
}

/// Creates the department's worktree; None when the repository has no commit
/// yet (there is nothing to branch from: the department shares the tree).
pub fn create(spec: &CreateSpec<'_>) -> Result<Option<Created>, WorktreeError> {
    let repo = Repository::open(spec.repo)?;
    let base = match spec.base.and_then(|b| Oid::from_str(b).ok()) {
        Some(oid) => match repo.find_commit(oid) {
            Ok(c) => c,
            Err(_) => match head_commit(&repo)? {
                Some(c) => c,
                None => return Ok(None),
            },
        },
        None => match head_commit(&repo)? {
            Some(c) => c,
            None => return Ok(None),
        },
    };
    let tree = base.tree()?;
    let root = super::root_for(spec.repo);
    crate::platform::create_private_dir(&root).map_err(|e| {
        WorktreeError::Refused(format!(
            "cannot create the worktrees folder {}: {e}; set launcher.isolation: shared to \
             work without worktrees",
            root.display()
        ))
    })?;
    super::refuse_foreign(&root)?;
    let temp_root = root.join(".tmp");
    // The last worktree going removes it when empty: made again if that came between.
    for again in [true, false] {
        crate::platform::create_private_dir(&temp_root).map_err(io_error(&temp_root))?;
        match super::refuse_foreign(&temp_root) {
            Err(WorktreeError::Io { source, .. })
                if again && source.kind() == std::io::ErrorKind::NotFound => {}
            checked => {
                checked?;
                break;
            }
        }
    }
    let (name, branch, path) = free_names(&repo, &root, spec.zhongshu, spec.session)?;
    let reference = repo.branch(&branch, &base, false)?.into_reference();
    let temp = super::temp_for(spec.repo, &name);
    // Its files and index are written by [`fill`], not by libgit2's checkout.
    let added = crate::git_ffi::add_worktree_without_checkout(spec.repo, &name, &path, &reference)
        .map_err(WorktreeError::from)
        .and_then(|()| fill(&path, &tree, spec))
        .and_then(|filled| {
            crate::platform::create_private_dir(&temp).map_err(io_error(&temp))?;
            Ok(filled)
        });
    let filled = match added {
        Ok(filled) => filled,
        Err(e) => {
            // Nothing of the department's is in it yet: leave nothing behind.
            let _ = std::fs::remove_dir_all(&path);
            let _ = std::fs::remove_dir_all(&temp);
            prune_admin(&repo, &name);
            let _ = repo
                .find_branch(&branch, git2::BranchType::Local)
                .and_then(|mut b| b.delete());
            return Err(e);
        }
    };
    let mut workspace = Workspace::new(
        path.display().to_string(),
        branch,
        base.id().to_string(),
        name,
    );
    workspace.sparse = filled.sparse.then(|| sparse_patterns(spec));
    Ok(Some(Created {
        workspace,
        checked_out: filled.checked_out,
        total: filled.total,
    }))
}

/// The first free (worktree name, branch, folder) for the session: its id,
/// else its id with `-2`, `-3`… (a state folder started afresh reuses ids).
fn free_names(
    repo: &Repository,
    root: &Path,
    zhongshu: &str,
    session: &str,
) -> Result<(String, String, PathBuf), WorktreeError> {
    let admin = repo.commondir().join("worktrees");
    for n in 1..=100 {
        let name = if n == 1 {
            session.to_string()
        } else {
            format!("{session}-{n}")
        };
        let branch = branch_name(zhongshu, &name);
        let path = root.join(&name);
        if !git2::Reference::is_valid_name(&format!("refs/heads/{branch}")) {
            return Err(WorktreeError::Refused(format!(
                "{branch} is not a valid branch name"
            )));
        }
        let taken = path.exists()
            || admin.join(&name).exists()
            || repo.find_branch(&branch, git2::BranchType::Local).is_ok();
        if !taken {
            return Ok((name, branch, path));
        }
    }
    Err(WorktreeError::Refused(format!(
        "no free worktree name for {session} under {}",
        root.display()
    )))
}

/// The patterns a sparse worktree holds, for the record.
fn sparse_patterns(spec: &CreateSpec<'_>) -> Vec<String> {
    let mut p: Vec<String> = spec.scope.to_vec();
    p.extend(spec.settings.include.iter().cloned());
    p.push(
        "(files at the root, .gitignore, .gitattributes, build manifests and lock files, the \
         Cargo packages the scope's depend on by path)"
            .into(),
    );
    p
}

/// The paths to check out when sparse; None for a full checkout. Besides
/// the scope, the root's files and `include`: what the build needs
/// (`sparse_builds`), with `manifest` reading a file of the tree.
fn kept_paths(
    entries: &[Entry],
    spec: &CreateSpec<'_>,
    manifest: &dyn Fn(&str) -> Option<String>,
) -> Option<Vec<bool>> {
    let sparse = match spec.settings.checkout {
        Checkout::Full => false,
        Checkout::Sparse => !spec.scope.is_empty(),
        Checkout::Auto => !spec.scope.is_empty() && entries.len() > SPARSE_ABOVE,
    };
    if !sparse {
        return None;
    }
    let scope = PatternSet::new(spec.scope);
    let include = PatternSet::new(&spec.settings.include);
    let paths: Vec<String> = entries
        .iter()
        .map(|e| String::from_utf8_lossy(&e.path).into_owned())
        .collect();
    let all: Vec<&str> = paths.iter().map(String::as_str).collect();
    let scoped: Vec<&str> = all.iter().copied().filter(|p| scope.is_match(p)).collect();
    let packages = sparse_builds::cargo_packages(&all);
    let crates = sparse_builds::cargo_closure(&all, &scoped, manifest);
    Some(
        all.iter()
            .map(|path| {
                let name = path.rsplit('/').next().unwrap_or("");
                !path.contains('/')
                    || matches!(name, ".gitignore" | ".gitattributes")
                    || scope.is_match(path)
                    || include.is_match(path)
                    || sparse_builds::is_manifest(path)
                    || sparse_builds::is_target_root(&packages, path)
                    || sparse_builds::in_kept_package(&packages, &crates, path)
            })
            .collect(),
    )
}

/// What [`fill`] checked out.
struct Filled {
    checked_out: usize,
    total: usize,
    sparse: bool,
}

/// Checks out what the department gets of `tree` into the new worktree at
/// `path` and writes its index: the whole tree, entries not checked out
/// marked skip-worktree, the others with the stat data of the file written,
/// as `git checkout` leaves them (without it Git and libgit2 would read and
/// hash every file of the worktree to learn it is unchanged). The index is
/// written after the files, so none is racily clean.
fn fill(
    path: &Path,
    tree: &git2::Tree<'_>,
    spec: &CreateSpec<'_>,
) -> Result<Filled, WorktreeError> {
    let wt = Repository::open(path)?;
    let entries = index_file::read_tree(&wt, tree)?;
    let by_path = |path: &str| {
        let e = entries.iter().find(|e| e.path == path.as_bytes())?;
        let blob = wt.find_blob(e.id).ok()?;
        Some(String::from_utf8_lossy(blob.content()).into_owned())
    };
    let kept = kept_paths(&entries, spec, &by_path);
    let skip = |i: usize| kept.as_ref().is_some_and(|k| !k[i]);
    let checkout: Vec<Entry> = (0..entries.len())
        .filter(|i| !skip(*i))
        .map(|i| entries[i].clone())
        .collect();
    let filters = populate::filters_may_apply(&wt, &checkout)?;
    if filters {
        // Attributes are read from the index while files are written.
        index_file::write(wt.path(), &entries, &[], &skip)?;
    }
    let mut written = populate(&wt, &checkout, filters)?.into_iter();
    let stats: Vec<_> = (0..entries.len())
        .map(|i| {
            if skip(i) {
                None
            } else {
                written.next().flatten()
            }
        })
        .collect();
    index_file::write(wt.path(), &entries, &stats, &skip)?;
    Ok(Filled {
        checked_out: checkout.len(),
        total: entries.len(),
        sparse: kept.is_some(),
    })
}

/// Git's record of a linked worktree whose folder is gone.
fn prune_admin(repo: &Repository, name: &str) {
    if let Ok(wt) = repo.find_worktree(name) {
        let mut opts = git2::WorktreePruneOptions::new();
        opts.valid(true).working_tree(true);
        if let Err(e) = wt.prune(Some(&mut opts)) {
            tracing::warn!("pruning worktree {name}: {e}");
        }
    }
}

/// The user's `launcher.worktree.teardown` commands, run in a worktree
/// before it is removed (none when the configuration is not trusted).
#[derive(Debug, Clone, Default)]
pub struct Teardown {
    pub commands: Vec<String>,
    pub timeout: std::time::Duration,
}

/// Removes a department's worktree (its folder, its temporary folder and
/// Git's record of it) after its `teardown` commands; its branch, and so
/// every commit the launcher recorded, stays. A folder holding anything its
/// last record lacks (ignored files aside) is kept, and the error names what.
pub fn remove(repo: &Path, ws: &Workspace, teardown: &Teardown) -> Result<(), WorktreeError> {
    let path = Path::new(&ws.path);
    if path.exists() {
        let left = super::record::unrecorded(repo, ws)?;
        if !left.is_empty() {
            return Err(WorktreeError::Refused(format!(
                "{} is kept: it holds what no record has ({})",
                ws.path,
                left.join(", ")
            )));
        }
        // Never over the department's files: see `teardown`. Not for a host's
        // department: its set-up never ran here (issue 70 item 1).
        let restored = !teardown.commands.is_empty()
            && ws.workplace.here()
            && super::teardown::restore_base(repo, ws)
                .map_err(|e| {
                    tracing::warn!(
                        "the teardown of {} did not run: its files could not be put back \
                         as set-up saw them ({e})",
                        ws.path
                    )
                })
                .is_ok();
        if restored {
            let ran = super::setup::run_commands(
                &teardown.commands,
                &super::setup::RunIn {
                    repo,
                    worktree: path,
                    session: &ws.name,
                    timeout: teardown.timeout,
                    stopping: &|| false,
                    env: &[],
                    start: None,
                    limit: crate::worktrees::setup::SETUP_LIMIT,
                },
            );
            // A failed teardown is said; the worktree still goes.
            if let Some(why) = ran.failure {
                tracing::warn!("the teardown of {}: {why}\n{}", ws.path, ran.output);
            }
        }
        std::fs::remove_dir_all(path).map_err(io_error(path))?;
    }
    let temp = super::temp_for(repo, &ws.name);
    if temp.exists() {
        std::fs::remove_dir_all(&temp).map_err(io_error(&temp))?;
    }
    super::at_users_path::forget(repo, &ws.name);
    super::remove_empty_temp_root(repo);
    let git = Repository::open(repo)?;
    prune_admin(&git, &ws.name);
    Ok(())
}

/// Deletes a worktree and its branch: only for a start that failed before
/// the department did anything.
pub fn undo(repo: &Path, ws: &Workspace, teardown: &Teardown) -> Result<(), WorktreeError> {
    remove(repo, ws, teardown)?;
    let git = Repository::open(repo)?;
    if let Ok(mut b) = git.find_branch(&ws.branch, git2::BranchType::Local) {
        b.delete()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::repo_with;
    use super::*;

    fn settings(checkout: Checkout) -> IsolationSettings {
        IsolationSettings {
            checkout,
            ..Default::default()
        }
    }

    #[test]
    fn a_worktree_on_its_own_branch_from_the_base() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, base) = repo_with(dir.path(), &[("a.txt", "a\n"), ("src/b.rs", "b\n")]);
        let s = settings(Checkout::Auto);
        let spec = CreateSpec {
            repo: &repo,
            zhongshu: "zhongshu-1",
            session: "lingyubu-1",
            base: Some(&base),
            scope: &[],
            settings: &s,
        };
        let made = create(&spec).unwrap().unwrap();
        let ws = &made.workspace;
        assert_eq!(ws.branch, "governance/zhongshu-1/lingyubu-1");
        assert_eq!(ws.base, base);
        assert_eq!(made.checked_out, 2);
        assert!(ws.sparse.is_none());
        let path = PathBuf::from(&ws.path);
        assert_eq!(
            path,
            dir.path()
                .canonicalize()
                .unwrap()
                .join("repo.worktrees/lingyubu-1")
        );
        assert_eq!(
            std::fs::read_to_string(path.join("src/b.rs")).unwrap(),
            "b\n"
        );
        let wt = Repository::open(&path).unwrap();
        assert_eq!(wt.head().unwrap().shorthand(), Some(ws.branch.as_str()));
        let clean = wt.statuses(None).unwrap();
        assert!(clean.is_empty(), "a new worktree is clean");
        // A second one for the same id (a state folder started afresh) gets its own names.
        let again = create(&spec).unwrap().unwrap().workspace;
        assert_eq!(again.branch, "governance/zhongshu-1/lingyubu-1-2");
        remove(&repo, ws, &Teardown::default()).unwrap();
        assert!(!path.exists());
        let git = Repository::open(&repo).unwrap();
        assert!(git.find_branch(&ws.branch, git2::BranchType::Local).is_ok());
        assert!(
            git.find_worktree(&ws.name).is_err(),
            "Git's record is pruned"
        );
    }

    #[test]
    fn sparse_holds_the_scope_and_the_root_and_git_sees_it_clean() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(
            dir.path(),
            &[
                ("Cargo.toml", "[package]\n"),
                ("src/a.rs", "a\n"),
                ("docs/guide.md", "g\n"),
                ("docs/.gitignore", "*.tmp\n"),
                ("tools/x.py", "x\n"),
            ],
        );
        let s = settings(Checkout::Sparse);
        let scope = vec!["src/**".to_string()];
        let made = create(&CreateSpec {
            repo: &repo,
            zhongshu: "zhongshu-1",
            session: "lingyubu-2",
            base: None,
            scope: &scope,
            settings: &s,
        })
        .unwrap()
        .unwrap();
        let path = PathBuf::from(&made.workspace.path);
        assert_eq!((made.checked_out, made.total), (3, 5));
        assert!(path.join("src/a.rs").exists() && path.join("Cargo.toml").exists());
        assert!(path.join("docs/.gitignore").exists());
        assert!(!path.join("docs/guide.md").exists() && !path.join("tools/x.py").exists());
        // The user's git sees it clean (the Windows lane under Wine has no git CLI).
        #[cfg(unix)]
        {
            let git = std::process::Command::new("git")
                .args(["status", "--porcelain"])
                .current_dir(&path)
                .output()
                .unwrap();
            assert!(git.status.success());
            assert_eq!(
                String::from_utf8_lossy(&git.stdout),
                "",
                "git sees it clean"
            );
        }
    }

    /// Issue 52 item 4: a sparse worktree of one crate of a Cargo workspace
    /// keeps every manifest, the crates it depends on by path and the
    /// others' target roots, and builds.
    #[test]
    #[cfg(unix)]
    fn a_sparse_cargo_workspace_checkout_builds() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(
            dir.path(),
            &[
                ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n\n[workspace.dependencies]\nc = { path = \"crates/c\" }\n"),
                ("crates/a/Cargo.toml", "[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nb = { path = \"../b\" }\n"),
                ("crates/a/src/lib.rs", "pub fn a() -> u32 { b::b() + 1 }\n"),
                ("crates/b/Cargo.toml", "[package]\nname = \"b\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nc.workspace = true\n"),
                ("crates/b/src/lib.rs", "mod inner;\npub fn b() -> u32 { inner::one() + c::c() }\n"),
                ("crates/b/src/inner.rs", "pub fn one() -> u32 { 1 }\n"),
                ("crates/b/docs/notes.md", "not built\n"),
                ("crates/c/Cargo.toml", "[package]\nname = \"c\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
                ("crates/c/src/lib.rs", "pub fn c() -> u32 { 2 }\n"),
                ("crates/d/Cargo.toml", "[package]\nname = \"d\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
                ("crates/d/src/lib.rs", "mod big;\n"),
                ("crates/d/src/big.rs", "\n"),
                ("web/package.json", "{}\n"),
                ("web/src/index.js", "\n"),
            ],
        );
        let s = settings(Checkout::Sparse);
        let scope = vec!["crates/a/**".to_string()];
        let made = create(&CreateSpec {
            repo: &repo,
            zhongshu: "zhongshu-1",
            session: "bingbu-1",
            base: None,
            scope: &scope,
            settings: &s,
        })
        .unwrap()
        .unwrap();
        let wt = PathBuf::from(&made.workspace.path);
        for kept in [
            "crates/b/src/inner.rs",
            "crates/c/src/lib.rs",
            "crates/d/Cargo.toml",
            "crates/d/src/lib.rs",
            "web/package.json",
        ] {
            assert!(wt.join(kept).exists(), "{kept} is kept");
        }
        for left in [
            "crates/d/src/big.rs",
            "crates/b/docs/notes.md",
            "web/src/index.js",
        ] {
            assert!(!wt.join(left).exists(), "{left} is left out");
        }
        let target = dir.path().join("target");
        let build = std::process::Command::new("cargo")
            .args(["build", "--offline", "--quiet", "-p", "a"])
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(&wt)
            .output()
            .unwrap();
        assert!(
            build.status.success(),
            "{}",
            String::from_utf8_lossy(&build.stderr)
        );
    }

    #[test]
    fn a_repository_without_a_commit_has_no_worktree() {
        let dir = tempfile::tempdir().unwrap();
        Repository::init(dir.path()).unwrap();
        let s = settings(Checkout::Auto);
        let made = create(&CreateSpec {
            repo: dir.path(),
            zhongshu: "zhongshu-1",
            session: "lingyubu-1",
            base: None,
            scope: &[],
            settings: &s,
        })
        .unwrap();
        assert!(made.is_none());
    }

    /// A full worktree of `repo` (every file checked out: a small tree).
    fn full_worktree(repo: &Path, session: &str) -> PathBuf {
        PathBuf::from(super::super::testing::fresh_worktree(repo, session).path)
    }

    /// `git status --porcelain` in `dir` (the user's git; none under Wine).
    #[cfg(unix)]
    fn git_status(dir: &Path) -> String {
        let out = std::process::Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=all"])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A repository whose last commit holds files under CRLF and ident
    /// filters, deep folders, an executable and two links (on Unix) and a
    /// submodule's entry; and the blob of its `stamp.id`.
    fn repo_of_every_kind(dir: &Path) -> (PathBuf, Oid) {
        let (repo, _) = repo_with(
            dir,
            &[
                (".gitattributes", "*.crlf text eol=crlf\n*.id ident\n"),
                ("plain.txt", "one\ntwo\n"),
                ("run.sh", "#!/bin/sh\necho hi\n"),
                ("a/b/c/d/deep.txt", "deep\n"),
                ("a/b/c/d/e/deeper.crlf", "x\ny\n"),
                ("docs/notes.crlf", "first\nsecond\n"),
                ("stamp.id", "$Id$\n"),
            ],
        );
        let git = Repository::open(&repo).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let exe = repo.join("run.sh");
            std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::os::unix::fs::symlink("plain.txt", repo.join("link")).unwrap();
            std::os::unix::fs::symlink("a/b", repo.join("to-folder")).unwrap();
        }
        // A submodule's entry (a commit of another repository).
        let mut index = git.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        let sub = Oid::from_str("0123456789abcdef0123456789abcdef01234567").unwrap();
        index
            .add(&super::super::checkout::entry(b"vendor/lib", sub, 0o160000))
            .unwrap();
        index.write().unwrap();
        let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let head = git.head().unwrap().peel_to_commit().unwrap();
        git.commit(Some("HEAD"), &sig, &sig, "more", &tree, &[&head])
            .unwrap();
        let blob_of_stamp = tree.get_path(Path::new("stamp.id")).unwrap().id();
        (repo, blob_of_stamp)
    }

    /// The worktree's files as git checkout writes them: through their
    /// filters, in their deep folders, a submodule as an empty folder.
    fn files_as_checkout_writes_them(wt: &Path, blob_of_stamp: Oid) {
        let read = |p: &str| std::fs::read(wt.join(p)).unwrap();
        assert_eq!(read("plain.txt"), b"one\ntwo\n");
        assert_eq!(read("a/b/c/d/deep.txt"), b"deep\n");
        assert_eq!(read("a/b/c/d/e/deeper.crlf"), b"x\r\ny\r\n", "eol=crlf");
        assert_eq!(read("docs/notes.crlf"), b"first\r\nsecond\r\n");
        assert_eq!(
            String::from_utf8(read("stamp.id")).unwrap(),
            format!("$Id: {blob_of_stamp} $\n"),
            "ident"
        );
        let sub_dir = std::fs::symlink_metadata(wt.join("vendor/lib")).unwrap();
        assert!(sub_dir.is_dir(), "a submodule is an empty folder");
        assert_eq!(std::fs::read_dir(wt.join("vendor/lib")).unwrap().count(), 0);
    }

    /// The worktree's executable bit and links as the commit has them.
    #[cfg(unix)]
    fn modes_and_links_kept(wt: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| std::fs::metadata(wt.join(p)).unwrap().permissions().mode();
        assert_ne!(mode("run.sh") & 0o111, 0, "executable");
        assert_eq!(mode("plain.txt") & 0o111, 0, "not executable");
        let link = std::fs::symlink_metadata(wt.join("link")).unwrap();
        assert!(link.file_type().is_symlink());
        assert_eq!(
            std::fs::read_link(wt.join("link")).unwrap(),
            Path::new("plain.txt")
        );
        assert_eq!(
            std::fs::read_link(wt.join("to-folder")).unwrap(),
            Path::new("a/b")
        );
    }

    /// Git's stat check alone (no reading of files, no index refresh) finds
    /// every entry of a fresh worktree of `repo` unchanged: the index holds
    /// each file's stat data, as after git checkout.
    #[cfg(unix)]
    fn unchanged_by_stat_alone(repo: &Path) {
        let fresh = full_worktree(repo, "lingyubu-2");
        let stat_dirty = std::process::Command::new("git")
            .args(["diff-files", "--name-only"])
            .current_dir(&fresh)
            .output()
            .unwrap();
        assert!(stat_dirty.status.success());
        assert_eq!(String::from_utf8_lossy(&stat_dirty.stdout), "");
    }

    #[test]
    fn a_full_worktree_keeps_modes_links_filters_folders_and_submodules() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, blob_of_stamp) = repo_of_every_kind(dir.path());
        let wt = full_worktree(&repo, "lingyubu-1");
        files_as_checkout_writes_them(&wt, blob_of_stamp);
        #[cfg(unix)]
        {
            modes_and_links_kept(&wt);
            assert_eq!(git_status(&wt), "", "git sees it clean");
            unchanged_by_stat_alone(&repo);
        }
    }

    #[test]
    fn autocrlf_and_links_without_symlinks_are_checked_out_as_git_would() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[("a.txt", "x\ny\n"), ("b/c.txt", "z\n")]);
        let git = Repository::open(&repo).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("a.txt", repo.join("link")).unwrap();
            super::super::testing::commit_all(&git, "a link");
        }
        let mut config = git.config().unwrap();
        config.set_bool("core.autocrlf", true).unwrap();
        config.set_bool("core.symlinks", false).unwrap();
        let wt = full_worktree(&repo, "lingyubu-1");
        assert_eq!(std::fs::read(wt.join("a.txt")).unwrap(), b"x\r\ny\r\n");
        assert_eq!(std::fs::read(wt.join("b/c.txt")).unwrap(), b"z\r\n");
        #[cfg(unix)]
        {
            let link = std::fs::symlink_metadata(wt.join("link")).unwrap();
            assert!(link.is_file(), "core.symlinks false: the link is a file");
            assert_eq!(std::fs::read(wt.join("link")).unwrap(), b"a.txt");
        }
    }

    #[test]
    fn attributes_outside_the_tree_still_filter() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[("a.txt", "x\ny\n"), ("b.bin", "x\n")]);
        std::fs::create_dir_all(repo.join(".git/info")).unwrap();
        std::fs::write(repo.join(".git/info/attributes"), "*.txt eol=crlf\n").unwrap();
        let wt = full_worktree(&repo, "lingyubu-1");
        assert_eq!(std::fs::read(wt.join("a.txt")).unwrap(), b"x\r\ny\r\n");
        assert_eq!(std::fs::read(wt.join("b.bin")).unwrap(), b"x\n");
    }

    #[test]
    #[cfg_attr(windows, ignore = "the Wine lane has no git to configure a driver for")]
    fn a_full_worktree_runs_the_smudge_driver_a_filter_attribute_names() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(
            dir.path(),
            &[
                (".gitattributes", "*.up filter=upper\n"),
                ("a.up", "shout\n"),
                ("deep/b.up", "louder\n"),
                ("c.txt", "quiet\n"),
            ],
        );
        let git = Repository::open(&repo).unwrap();
        let mut config = git.config().unwrap();
        // As Git LFS: a smudge for checkout, a clean back to the blob.
        config.set_str("filter.upper.smudge", "tr a-z A-Z").unwrap();
        config.set_str("filter.upper.clean", "tr A-Z a-z").unwrap();
        config.set_bool("filter.upper.required", true).unwrap();
        let wt = full_worktree(&repo, "lingyubu-1");
        let read = |p: &str| std::fs::read(wt.join(p)).unwrap();
        assert_eq!(read("a.up"), b"SHOUT\n", "smudged");
        assert_eq!(read("deep/b.up"), b"LOUDER\n", "smudged");
        assert_eq!(read("c.txt"), b"quiet\n", "no filter attribute");
        #[cfg(unix)]
        assert_eq!(git_status(&wt), "", "git sees it clean");
    }

    /// Every file of a worktree: path, mode bits that matter, content (a
    /// link as its target).
    #[cfg(unix)]
    fn files_of(root: &Path) -> Vec<(Vec<u8>, bool, bool, Vec<u8>)> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::PermissionsExt;
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let e = e.unwrap();
                let path = e.path();
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .as_os_str()
                    .as_bytes()
                    .to_vec();
                if rel == b".git" {
                    continue;
                }
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if meta.is_dir() {
                    out.push((rel, false, false, Vec::new()));
                    stack.push(path);
                } else if meta.file_type().is_symlink() {
                    let target = std::fs::read_link(&path).unwrap();
                    out.push((rel, true, false, target.as_os_str().as_bytes().to_vec()));
                } else {
                    let exe = meta.permissions().mode() & 0o111 != 0;
                    out.push((rel, false, exe, std::fs::read(&path).unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    #[cfg(unix)]
    fn odd_paths_come_out_as_git_worktree_add_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[("plain.txt", "p\n")]);
        let git = Repository::open(&repo).unwrap();
        let mut index = git.index().unwrap();
        let odd: &[(&[u8], u32)] = &[
            (b"sp ace/f i l e.txt", 0o100644),
            (b" lead/trail ", 0o100644),
            ("\u{fc}n\u{ef}/c\u{f8}d\u{e9}.txt".as_bytes(), 0o100644),
            (b"tab\tname", 0o100644),
            (b"back\\slash", 0o100644),
            (b"colon:name", 0o100755),
            (b"bytes\xff\xfe.txt", 0o100644),
            (b"con.txt", 0o100644),
            (b"trail.", 0o100644),
            (b"-dash/#hash", 0o100644),
            (b"star*q?", 0o100644),
            (b"nested/.gitignore", 0o100644),
            (b"nested/deeper/.gitattributes", 0o100644),
            (b"nested/deeper/x.crlf", 0o100644),
            (b"links/up", 0o120000),
            (b"links/dangling", 0o120000),
            (b"links/abs", 0o120000),
            (b"links/sp ace", 0o120000),
        ];
        for (path, mode) in odd {
            let content: &[u8] = match *path {
                b"links/up" => b"../plain.txt",
                b"links/dangling" => b"nowhere/at/all",
                b"links/abs" => b"/etc/hostname",
                b"links/sp ace" => b"../sp ace",
                b"nested/.gitignore" => b"*.log\n",
                b"nested/deeper/.gitattributes" => b"*.crlf text eol=crlf\n",
                b"nested/deeper/x.crlf" => b"one\ntwo\n",
                p => p,
            };
            let id = git.blob(content).unwrap();
            index
                .add(&super::super::checkout::entry(path, id, *mode))
                .unwrap();
        }
        index.write().unwrap();
        let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let head = git.head().unwrap().peel_to_commit().unwrap();
        let commit = git
            .commit(Some("HEAD"), &sig, &sig, "odd", &tree, &[&head])
            .unwrap();

        let ours = full_worktree(&repo, "lingyubu-1");
        let theirs = dir.path().join("by-git");
        let added = std::process::Command::new("git")
            .args(["worktree", "add", "--detach"])
            .arg(&theirs)
            .arg(commit.to_string())
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(
            added.status.success(),
            "{}",
            String::from_utf8_lossy(&added.stderr)
        );
        let ours_files = files_of(&ours);
        assert_eq!(ours_files.len(), files_of(&theirs).len());
        assert_eq!(ours_files, files_of(&theirs), "the same files as git's");
        assert_eq!(git_status(&ours), "", "git sees it clean");
    }

    #[test]
    fn a_commit_of_an_empty_tree_gets_an_empty_worktree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        let git = Repository::init(&path).unwrap();
        let tree = git
            .find_tree(git.treebuilder(None).unwrap().write().unwrap())
            .unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        git.commit(Some("HEAD"), &sig, &sig, "empty", &tree, &[])
            .unwrap();
        let wt = full_worktree(&path.canonicalize().unwrap(), "lingyubu-1");
        let names: Vec<_> = std::fs::read_dir(&wt)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [".git"]);
    }
}
