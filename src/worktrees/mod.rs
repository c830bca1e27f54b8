//! Departments' own git worktrees (issue 26), through libgit2 only.
//!
//! A department starts in a new linked worktree on its own branch
//! `governance/<zhongshu>/<session>`, from its plan's base commit
//! ([`create`]); when it reports or exits, the launcher commits the worktree's
//! state on that branch ([`record`]), so agents never need `.git` write access;
//! its changes come into the user's working tree, uncommitted or as a merge
//! commit, after an in-memory prediction of conflicts, in steps a crash can
//! finish or undo ([`integrate`]); [`list`] shows and prunes them.
//!
//! Where they live: beside the repository, in
//! `<parent>/<repository name>.worktrees/<session>/`, not in the state folder.
//! The state folder is hidden from sandboxed agents (Codex denies it), so a
//! worktree inside it would have to be punched back open; the default state
//! folder (`<repository>/.tmp`) is inside the working tree, where editors'
//! file watchers and indexers and the user's tools that search upward
//! (`node_modules`, configuration files) would take a worktree of tens of
//! thousands of files for part of the project; and clearing the state folder
//! (`rm -rf .tmp`, `git clean -fdx`) would take un-integrated work with it.
//!
//! Each department also gets a private temporary folder, its `TMPDIR`, in
//! `<repository name>.worktrees/.tmp/<worktree name>/`: outside its worktree,
//! so nothing it leaves there is recorded as a change, and made and removed
//! with the worktree. The worktrees folder is read-only to sandboxed agents
//! but for a department's own worktree and temporary folder.
//!
//! Large trees check out sparsely: a department gets its scope, the files at
//! the root, `.gitignore`s, `launcher.worktree_include` and what its build
//! needs ([`sparse_builds`]); the other files
//! are in the index marked skip-worktree, so `git status` in the worktree is
//! clean and the recorded commit keeps them as they were.

pub mod at_users_path;
pub mod caches;
pub mod checkout;
pub mod copy;
pub mod create;
pub mod dirty;
pub mod export;
pub mod fence;
mod filters;
mod index_file;
pub mod integrate;
pub mod list;
pub mod mirror;
pub mod populate;
mod prune;
pub mod record;
pub mod setup;
pub mod signing;
pub mod sparse_builds;
mod teardown;
pub mod tree_writer;

pub use prune::{prune, prune_store, PruneError, Pruned};

use std::path::{Path, PathBuf};

use git2::{Commit, ErrorCode, Oid, Repository, Signature, Tree};

use crate::model::{Assignment, PlanBase, Workspace};

pub use create::{create, CreateSpec, Created, Teardown};
pub use fence::StateFence;
pub use record::{record, RecordRules, Recorded};

#[derive(Debug, thiserror::Error)]
pub enum WorktreeError {
    #[error("git: {0}")]
    Git(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Not possible as things stand (the user's to resolve).
    #[error("{0}")]
    Refused(String),
}

impl From<git2::Error> for WorktreeError {
    fn from(e: git2::Error) -> Self {
        WorktreeError::Git(e.message().split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> WorktreeError + '_ {
    move |source| WorktreeError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The folder a repository's department worktrees live in.
pub fn root_for(repo: &Path) -> PathBuf {
    let name = repo
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repository".into());
    repo.parent()
        .unwrap_or(repo)
        .join(format!("{name}.worktrees"))
}

/// Removes the temporary folders' folder (`<repository name>.worktrees/.tmp`)
/// once no department's is left in it, so nothing empty stays beside the
/// repository; a folder with anything in it stays.
pub fn remove_empty_temp_root(repo: &Path) {
    let temp_root = root_for(repo).join(".tmp");
    let empty = std::fs::read_dir(&temp_root).is_ok_and(|mut entries| entries.next().is_none());
    if empty {
        if let Err(e) = std::fs::remove_dir(&temp_root) {
            tracing::debug!("{}: {e}", temp_root.display());
        }
    }
}

/// Refuses the worktrees folder (or its `.tmp`) when it is another user's or
/// others may write it: that user could read and swap a department's work.
pub(crate) fn refuse_foreign(folder: &Path) -> Result<(), WorktreeError> {
    let meta = std::fs::metadata(folder).map_err(io_error(folder))?;
    match crate::platform::not_own(&meta, true) {
        None => Ok(()),
        Some(why) => Err(WorktreeError::Refused(format!(
            "the worktrees folder {} is {why}: another user could read and swap a \
             department's work there; remove it (a new one is made, yours alone), or set \
             launcher.isolation: shared",
            folder.display()
        ))),
    }
}

/// The private temporary folder of the worktree named `name` (its agent's
/// `TMPDIR`), in the worktrees folder but outside every worktree.
pub fn temp_for(repo: &Path, name: &str) -> PathBuf {
    root_for(repo).join(".tmp").join(name)
}

/// A department's worktree, opened through the main repository's record of
/// it (`.git/worktrees/<name>`), never through the `.git` file in its folder:
/// the agent can write its folder, and a rewritten `.git` would send the
/// launcher's record, review and clean-up to a repository of its choosing.
pub fn open_worktree(repo: &Path, ws: &Workspace) -> Result<Repository, WorktreeError> {
    let main = Repository::open(repo)?;
    main.find_worktree(&ws.name)?;
    // Its administrative folder (libgit2's open_from_worktree reads the `.git` file).
    let git = Repository::open(main.commondir().join("worktrees").join(&ws.name))?;
    let same = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let workdir = git.workdir().map(same);
    if workdir.as_deref() != Some(same(Path::new(&ws.path)).as_path()) {
        return Err(WorktreeError::Refused(format!(
            "Git's record of the worktree {} names another folder ({})",
            ws.name,
            workdir.map(|p| p.display().to_string()).unwrap_or_default()
        )));
    }
    Ok(git)
}

/// Runs `write` again while another process holds the index's lock (an
/// editor's `git status` refreshing it, the user's own git), waiting up to
/// about five seconds before its refusal stands.
pub(crate) fn while_index_locked<T>(
    mut write: impl FnMut() -> Result<T, git2::Error>,
) -> Result<T, git2::Error> {
    let mut wait = std::time::Duration::from_millis(20);
    let mut waited = std::time::Duration::ZERO;
    loop {
        match write() {
            Err(e) if e.code() == ErrorCode::Locked && waited < INDEX_LOCK_PATIENCE => {
                std::thread::sleep(wait);
                waited += wait;
                wait = (wait * 2).min(std::time::Duration::from_millis(500));
            }
            other => return other,
        }
    }
}

/// How long [`while_index_locked`] waits for another process's index lock.
const INDEX_LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether the index entry is outside a sparse checkout.
pub(crate) fn skips_worktree(entry: &git2::IndexEntry) -> bool {
    entry.flags_extended & git2::IndexEntryExtendedFlag::SKIP_WORKTREE.bits() != 0
}

/// The branch of a department: `governance/<zhongshu>/<session>`.
pub fn branch_name(zhongshu: &str, session: &str) -> String {
    format!("governance/{zhongshu}/{session}")
}

/// The author of a department's commits: it names the department.
pub fn author(department: &str, session: &str) -> Result<Signature<'static>, WorktreeError> {
    Ok(Signature::now(
        &format!("{department} ({session})"),
        &format!("{session}@codex-governance.invalid"),
    )?)
}

/// The launcher, as committer.
pub fn committer() -> Result<Signature<'static>, WorktreeError> {
    Ok(Signature::now(
        "codex-governance",
        "launcher@codex-governance.invalid",
    )?)
}

/// HEAD's commit; None while HEAD is unborn (no commit yet).
pub(crate) fn head_commit(repo: &Repository) -> Result<Option<Commit<'_>>, WorktreeError> {
    match repo.head() {
        Ok(head) => Ok(Some(head.peel_to_commit()?)),
        Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn tree_of<'r>(repo: &'r Repository, commit: &str) -> Result<Tree<'r>, WorktreeError> {
    let oid = Oid::from_str(commit)?;
    Ok(repo.find_commit(oid)?.tree()?)
}

/// The base of a plan: HEAD now, and the user's uncommitted files its
/// assignments name. None when the repository has no commit yet (its
/// departments then work in the shared working tree).
pub async fn plan_base(repo: &Path, assignments: &[Assignment]) -> Option<PlanBase> {
    let repo = repo.to_path_buf();
    let assignments = assignments.to_vec();
    let found = tokio::task::spawn_blocking(move || base_now(&repo, &assignments)).await;
    match found {
        Ok(Ok(base)) => base,
        Ok(Err(e)) => {
            tracing::warn!("the plan's base commit: {e}");
            None
        }
        Err(e) => {
            tracing::warn!("the plan's base commit: {e}");
            None
        }
    }
}

fn base_now(repo: &Path, assignments: &[Assignment]) -> Result<Option<PlanBase>, WorktreeError> {
    let git = Repository::open(repo)?;
    let Some(head) = head_commit(&git)? else {
        return Ok(None);
    };
    let dirty = crate::report::changes::changed_paths(&git, &crate::report::Mode::Worktree)
        .map_err(|e| WorktreeError::Git(e.to_string()))?;
    Ok(Some(PlanBase {
        commit: head.id().to_string(),
        dirty_files: crate::policy::plan::dirty_named(&dirty, assignments),
    }))
}

/// Repository paths a diff touches: the new path, the old one for a
/// deletion, and both for a rename or a copy, so moving a file out of a place
/// (`Cargo.toml` into `src/`) counts against the place it left.
pub(crate) fn delta_paths(diff: &git2::Diff<'_>) -> Vec<String> {
    let path = |f: git2::DiffFile<'_>| {
        f.path_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    };
    let mut out: Vec<String> = diff
        .deltas()
        .flat_map(|d| match d.status() {
            git2::Delta::Deleted => [path(d.old_file()), None],
            git2::Delta::Renamed | git2::Delta::Copied => [path(d.old_file()), path(d.new_file())],
            _ => [path(d.new_file()).or_else(|| path(d.old_file())), None],
        })
        .flatten()
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
pub(crate) mod testing {
    //! Real repositories in temporary folders, for the tests of this module.
    use super::*;

    /// A repository with `files` committed; returns (its folder, the commit).
    pub fn repo_with(dir: &Path, files: &[(&str, &str)]) -> (PathBuf, String) {
        let path = dir.join("repo");
        std::fs::create_dir_all(&path).unwrap();
        let git = Repository::init(&path).unwrap();
        let mut config = git.config().unwrap();
        config.set_str("user.name", "The User").unwrap();
        config.set_str("user.email", "user@example.com").unwrap();
        for (rel, text) in files {
            let p = path.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let commit = commit_all(&git, "initial");
        (path.canonicalize().unwrap(), commit)
    }

    /// A department's worktree with every file checked out.
    pub fn fresh_worktree(repo: &Path, session: &str) -> crate::model::Workspace {
        let s = crate::config::IsolationSettings::default();
        super::create::create(&super::create::CreateSpec {
            repo,
            zhongshu: "zhongshu-1",
            session,
            base: None,
            scope: &[],
            settings: &s,
        })
        .unwrap()
        .unwrap()
        .workspace
    }

    /// Commits every file of the working tree onto HEAD.
    pub fn commit_all(git: &Repository, message: &str) -> String {
        let mut index = git.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.update_all(["*"], None).unwrap();
        index.write().unwrap();
        let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = Signature::now("t", "t@example.com").unwrap();
        let parents: Vec<Commit> = head_commit(git).unwrap().into_iter().collect();
        let parents: Vec<&Commit> = parents.iter().collect();
        git.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::record::diff_of;
    use super::testing::{commit_all, repo_with};
    use super::*;
    use crate::config::Config;
    use crate::policy::changes::{review, Decision, Mandate};
    use crate::policy::routing::Router;

    #[test]
    fn a_move_into_the_scope_counts_where_it_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, base) = repo_with(
            dir.path(),
            &[
                (
                    "Cargo.toml",
                    "[package]\nname = \"x\"\nversion = \"0.1.0\"\n",
                ),
                (".env", "TOKEN=secret-value-of-some-length\n"),
                ("src/a.rs", "a\n"),
            ],
        );
        std::fs::rename(repo.join("Cargo.toml"), repo.join("src/Cargo.toml")).unwrap();
        std::fs::rename(repo.join(".env"), repo.join("src/env.txt")).unwrap();
        let git = Repository::open(&repo).unwrap();
        let moved = commit_all(&git, "moves");
        let (files, stat) = diff_of(&git, &base, &moved).unwrap();
        assert_eq!(
            files,
            [".env", "Cargo.toml", "src/Cargo.toml", "src/env.txt"],
            "both ends of each rename"
        );
        assert_eq!(stat.files, 2, "git still sees two renames");
        let globs = vec!["src/**".to_string()];
        let config = Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let r = review(
            Mandate {
                files: &[],
                globs: &globs,
            },
            &files,
            Some(&["src/Cargo.toml".to_string(), "src/env.txt".to_string()]),
            &[],
            &Router::new(&config),
        );
        assert_eq!(r.decision, Decision::Review);
        assert_eq!(r.scope.out_of_scope, [".env", "Cargo.toml"]);
        let unreported = r.claim.unwrap().unreported;
        assert_eq!(
            unreported,
            [".env", "Cargo.toml"],
            "the claim names the old paths too"
        );
        let risks: Vec<&str> = r.risks.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(risks, [".env"], "the risk rules see the file that left");
    }
}
