//! Recording a department's work: the launcher commits the worktree's state
//! on the department's branch (`git add -A`, minus what a sparse checkout
//! left out), with the department as author, then reads what really changed
//! against the base: the files and the diff stat.

use std::path::Path;

use git2::{DiffFindOptions, Oid, Repository, StatusOptions};

use super::{
    committer, delta_paths, open_worktree, skips_worktree, tree_of, StateFence, WorktreeError,
};
use crate::model::{DiffStat, Workspace};

/// What a record found.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The branch's tip after the record.
    pub commit: String,
    /// Whether this record made a new commit (the worktree had changed).
    pub new_commit: bool,
    /// Changed files against the base, sorted.
    pub files: Vec<String>,
    pub stat: DiffStat,
    /// Paths in the launcher's state folder the department wrote (never
    /// recorded) or its commits carry (refused at integration), sorted.
    pub fenced: Vec<String>,
}

/// Commits the worktree's state on the department's branch (when it changed)
/// and reads its changes against the base. A worktree whose folder is gone
/// is read from its last recorded commit in the repository at `repo`.
/// Nothing in the state folder's place is recorded (see [`StateFence`]).
pub fn record(
    repo: &Path,
    ws: &Workspace,
    author: &git2::Signature<'_>,
    message: &str,
    fence: &StateFence,
) -> Result<Recorded, WorktreeError> {
    let path = Path::new(&ws.path);
    if !path.exists() {
        let Some(commit) = &ws.commit else {
            return Err(WorktreeError::Refused(format!(
                "the worktree {} is gone and nothing of it was recorded",
                ws.path
            )));
        };
        return changes(
            &Repository::open(repo)?,
            &ws.base,
            commit,
            false,
            fence,
            Vec::new(),
        );
    }
    let wt = open_worktree(repo, ws)?;
    let (tree, fenced) = stage_all(&wt, fence)?;
    let refname = format!("refs/heads/{}", ws.branch);
    let tip = wt.find_reference(&refname)?.peel_to_commit()?;
    let (commit, new_commit) = if tip.tree_id() == tree {
        (tip.id(), false)
    } else {
        let tree = wt.find_tree(tree)?;
        let id = wt.commit(
            Some(&refname),
            author,
            &committer()?,
            message,
            &tree,
            &[&tip],
        )?;
        (id, true)
    };
    changes(
        &wt,
        &ws.base,
        &commit.to_string(),
        new_commit,
        fence,
        fenced,
    )
}

/// The worktree's changes Git sees against its index: untracked files
/// included, ignored files and a sparse checkout's left-out files not.
fn status_entries(wt: &Repository) -> Result<Vec<(String, git2::Status)>, WorktreeError> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true)
        .renames_head_to_index(false)
        .renames_index_to_workdir(false);
    let statuses = wt.statuses(Some(&mut opts))?;
    let index = wt.index()?;
    Ok(statuses
        .iter()
        .filter_map(|e| Some((e.path()?.to_string(), e.status())))
        .filter(|(path, status)| {
            let sparse = status.is_wt_deleted()
                && index
                    .get_path(Path::new(path), 0)
                    .is_some_and(|e| skips_worktree(&e));
            !sparse
        })
        .collect())
}

/// `git add -A` in the worktree's index, leaving entries outside a sparse
/// checkout as they are, and anything in the state folder's place out;
/// writes the index and returns its tree and the paths left out so.
fn stage_all(wt: &Repository, fence: &StateFence) -> Result<(Oid, Vec<String>), WorktreeError> {
    let mut index = wt.index()?;
    let mut fenced = Vec::new();
    for (path, status) in status_entries(wt)? {
        if fence.names(&path) {
            fenced.push(path);
            continue;
        }
        let path = Path::new(&path);
        if status.is_wt_deleted() {
            index.remove_path(path)?;
        } else if status.is_wt_new() || status.is_wt_modified() || status.is_wt_typechange() {
            if let Err(e) = index.add_path(path) {
                // A folder holding another repository, a name Git refuses:
                // not recorded, so the folder is kept (see `unrecorded`).
                tracing::warn!(
                    "recording {}: {} left out: {e}",
                    wt.path().display(),
                    path.display()
                );
            }
        }
    }
    index.write()?;
    Ok((index.write_tree()?, fenced))
}

/// What in the folder of worktree `ws` its last record does not hold
/// (ignored files aside): a folder with such files must not be deleted.
pub fn unrecorded(repo: &Path, ws: &Workspace) -> Result<Vec<String>, WorktreeError> {
    let wt = open_worktree(repo, ws)?;
    let mut left: Vec<String> = status_entries(&wt)?
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    left.sort();
    Ok(left)
}

/// The files and diff stat of `commit` against `base`,
/// and what of them, or of `fenced`, is in the state folder's place.
fn changes(
    git: &Repository,
    base: &str,
    commit: &str,
    new_commit: bool,
    fence: &StateFence,
    mut fenced: Vec<String>,
) -> Result<Recorded, WorktreeError> {
    let (files, stat) = diff_of(git, base, commit)?;
    fenced.extend(files.iter().filter(|f| fence.names(f)).cloned());
    fenced.sort();
    fenced.dedup();
    Ok(Recorded {
        commit: commit.to_string(),
        new_commit,
        files,
        stat,
        fenced,
    })
}

/// Changed files (a rename under both its paths) and the diff stat of
/// `commit` against `base`.
pub fn diff_of(
    git: &Repository,
    base: &str,
    commit: &str,
) -> Result<(Vec<String>, DiffStat), WorktreeError> {
    let old = tree_of(git, base)?;
    let new = tree_of(git, commit)?;
    let mut diff = git.diff_tree_to_tree(Some(&old), Some(&new), None)?;
    diff.find_similar(Some(DiffFindOptions::new().renames(true)))?;
    let stats = diff.stats()?;
    Ok((
        delta_paths(&diff),
        DiffStat {
            files: stats.files_changed(),
            insertions: stats.insertions(),
            deletions: stats.deletions(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::super::create::{create, CreateSpec};
    use super::super::testing::{fresh_worktree, repo_with};
    use super::*;
    use crate::config::{Checkout, IsolationSettings};

    #[test]
    fn a_rewritten_git_file_does_not_move_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[("a.txt", "a\n")]);
        // A repository of the agent's, which its `.git` file is made to name.
        let (decoy, _) = repo_with(&dir.path().join("decoy"), &[("a.txt", "decoy\n")]);
        let ws = fresh_worktree(&repo, "lingyubu-1");
        let wt = Path::new(&ws.path);
        std::fs::write(
            wt.join(".git"),
            format!("gitdir: {}\n", decoy.join(".git").display()),
        )
        .unwrap();
        std::fs::write(wt.join("a.txt"), "A\n").unwrap();
        let author = super::super::author("lingyubu", "lingyubu-1").unwrap();
        let r = record(&repo, &ws, &author, "work", &StateFence::default()).unwrap();
        assert_eq!(r.files, ["a.txt"], "recorded on the department's branch");
        let git = Repository::open(&repo).unwrap();
        let tip = git
            .find_branch(&ws.branch, git2::BranchType::Local)
            .unwrap()
            .get()
            .peel_to_commit()
            .unwrap();
        assert_eq!(tip.id().to_string(), r.commit);
        let decoy = Repository::open(&decoy).unwrap();
        assert!(decoy
            .find_branch(&ws.branch, git2::BranchType::Local)
            .is_err());
    }

    #[test]
    fn a_folder_with_what_no_record_holds_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[(".gitignore", "target/\n"), ("a.txt", "a\n")]);
        let ws = fresh_worktree(&repo, "lingyubu-1");
        let wt = Path::new(&ws.path);
        // A nested repository Git cannot record, and ignored build output.
        let nested = wt.join("vendor/lib");
        Repository::init(&nested).unwrap();
        std::fs::write(nested.join("work.rs"), "w\n").unwrap();
        std::fs::create_dir_all(wt.join("target")).unwrap();
        std::fs::write(wt.join("target/out.o"), "o").unwrap();
        std::fs::write(wt.join("a.txt"), "A\n").unwrap();
        let author = super::super::author("lingyubu", "lingyubu-1").unwrap();
        let r = record(&repo, &ws, &author, "work", &StateFence::default()).unwrap();
        assert_eq!(r.files, ["a.txt"]);
        assert_eq!(unrecorded(&repo, &ws).unwrap(), ["vendor/lib/"]);
        let e = super::super::create::remove(&repo, &ws).unwrap_err();
        assert!(e.to_string().contains("vendor/lib/"), "{e}");
        assert!(
            nested.join("work.rs").exists(),
            "nothing unrecorded is deleted"
        );
        // Once it is gone, the folder goes (ignored output with it).
        std::fs::remove_dir_all(wt.join("vendor")).unwrap();
        assert!(unrecorded(&repo, &ws).unwrap().is_empty());
        super::super::create::remove(&repo, &ws).unwrap();
        assert!(!wt.exists());
    }

    #[test]
    fn a_record_commits_the_worktree_as_the_department() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, base) = repo_with(
            dir.path(),
            &[
                ("a.txt", "a\n"),
                ("docs/x.md", "x\n"),
                ("src/b.rs", "b\n"),
                ("src/gone.rs", "x\n"),
            ],
        );
        let s = IsolationSettings {
            checkout: Checkout::Sparse,
            ..Default::default()
        };
        let scope = vec!["src/**".to_string()];
        let ws = create(&CreateSpec {
            repo: &repo,
            zhongshu: "zhongshu-1",
            session: "lingyubu-1",
            base: None,
            scope: &scope,
            settings: &s,
        })
        .unwrap()
        .unwrap()
        .workspace;
        let wt = Path::new(&ws.path);
        std::fs::write(wt.join("src/b.rs"), "b\nmore\n").unwrap();
        std::fs::write(wt.join("new.txt"), "new\n").unwrap();
        std::fs::remove_file(wt.join("src/gone.rs")).unwrap();
        let author = super::super::author("lingyubu", "lingyubu-1").unwrap();
        let r = record(
            &repo,
            &ws,
            &author,
            "lingyubu-1: the task",
            &StateFence::default(),
        )
        .unwrap();
        assert!(r.new_commit);
        assert_eq!(r.files, ["new.txt", "src/b.rs", "src/gone.rs"]);
        assert_eq!(
            r.stat,
            DiffStat {
                files: 3,
                insertions: 2,
                deletions: 1
            }
        );
        let git = Repository::open(&repo).unwrap();
        let c = git.find_commit(Oid::from_str(&r.commit).unwrap()).unwrap();
        assert_eq!(c.author().name(), Some("lingyubu (lingyubu-1)"));
        assert_eq!(c.parent_id(0).unwrap().to_string(), base);
        let tree = c.tree().unwrap();
        assert!(!wt.join("docs/x.md").exists(), "sparse: not checked out");
        assert!(
            tree.get_path(Path::new("docs/x.md")).is_ok(),
            "but kept in the commit"
        );
        assert!(tree.get_path(Path::new("src/gone.rs")).is_err());
        // The main working tree saw nothing.
        assert!(!repo.join("new.txt").exists());
        // Nothing changed since: the same commit.
        let again = record(&repo, &ws, &author, "again", &StateFence::default()).unwrap();
        assert_eq!(
            (again.commit.as_str(), again.new_commit),
            (r.commit.as_str(), false)
        );
    }

    #[test]
    fn nothing_in_the_state_folders_place_is_recorded_but_it_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[("README.md", "a\n")]);
        std::fs::create_dir_all(repo.join(".tmp")).unwrap();
        let fence = StateFence::new(&repo, &repo.join(".tmp"));
        let ws = fresh_worktree(&repo, "lingyubu-1");
        let wt = Path::new(&ws.path);
        let inbox = wt.join(".tmp/codex_governance_mailbox/zhongshu-1/incoming/libu-1");
        std::fs::create_dir_all(&inbox).unwrap();
        std::fs::write(inbox.join("forged.json"), "{}").unwrap();
        std::fs::write(wt.join(".tmp/codex_governance.db-journal"), [0u8; 512]).unwrap();
        std::fs::write(wt.join("README.md"), "b\n").unwrap();
        let author = super::super::author("lingyubu", "lingyubu-1").unwrap();
        let r = record(&repo, &ws, &author, "work", &fence).unwrap();
        assert_eq!(r.files, ["README.md"]);
        assert_eq!(
            r.fenced,
            [
                ".tmp/codex_governance.db-journal",
                ".tmp/codex_governance_mailbox/zhongshu-1/incoming/libu-1/forged.json"
            ]
        );
        let git = Repository::open(&repo).unwrap();
        let tree = git
            .find_commit(Oid::from_str(&r.commit).unwrap())
            .unwrap()
            .tree()
            .unwrap();
        assert!(tree.get_path(Path::new(".tmp")).is_err(), "not recorded");
    }
}
