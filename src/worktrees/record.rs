//! Recording a department's work: the launcher commits the worktree's state
//! on the department's branch (`git add -A`, minus what a sparse checkout
//! left out), with the department as author, then reads what really changed
//! against the base: the files and the diff stat.

use std::path::Path;

use git2::{DiffFindOptions, Oid, Repository, StatusOptions};

use super::{
    committer, delta_paths, open_worktree, skips_worktree, tree_of, StateFence, WorktreeError,
};
use crate::model::{DiffStat, LeftOut, Workspace};

const SYMLINK: u32 = 0o120000;

/// What a record leaves out of a department's commit.
#[derive(Debug, Clone, Default)]
pub struct RecordRules {
    /// The launcher's state folder: nothing in its place is recorded.
    pub fence: StateFence,
    /// Larger files stay in the worktree (None: no limit).
    pub max_file_bytes: Option<u64>,
}

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
    /// Files left in the worktree, not recorded (by path).
    pub left_out: Vec<LeftOut>,
    /// Symbolic links among the changed files: `path -> target`.
    pub links: Vec<String>,
}

/// Commits the worktree's state on the department's branch (when it changed)
/// and reads its changes against the base. A worktree whose folder is gone
/// is read from its last recorded commit in the repository at `repo`.
/// Nothing in the state folder's place, no file over the size limit and no
/// name that is not UTF-8 is recorded: they are named instead.
pub fn record(
    repo: &Path,
    ws: &Workspace,
    author: &git2::Signature<'_>,
    message: &str,
    rules: &RecordRules,
) -> Result<Recorded, WorktreeError> {
    let path = Path::new(&ws.path);
    if !path.exists() {
        let Some(commit) = &ws.commit else {
            return Err(WorktreeError::Refused(format!(
                "the worktree {} is gone and nothing of it was recorded",
                ws.path
            )));
        };
        let git = Repository::open(repo)?;
        return changes(&git, &ws.base, commit, false, rules, Staged::default());
    }
    let wt = open_worktree(repo, ws)?;
    let (tree, staged) = stage_all(&wt, rules, &ws.copied)?;
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
        rules,
        staged,
    )
}

/// One change Git's status sees in a worktree.
struct Entry {
    /// The path, lossily when it is not UTF-8.
    path: String,
    utf8: bool,
    status: git2::Status,
}

/// The worktree's changes Git sees against its index: untracked files
/// included, ignored files, a sparse checkout's left-out files and the
/// user's `copied` files not.
fn status_entries(wt: &Repository, copied: &[String]) -> Result<Vec<Entry>, WorktreeError> {
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
        .map(|e| {
            let bytes = e.path_bytes();
            Entry {
                path: String::from_utf8_lossy(bytes).into_owned(),
                utf8: std::str::from_utf8(bytes).is_ok(),
                status: e.status(),
            }
        })
        .filter(|e| !(e.status.is_wt_new() && copied.contains(&e.path)))
        .filter(|e| {
            let sparse = e.status.is_wt_deleted()
                && index
                    .get_path(Path::new(&e.path), 0)
                    .is_some_and(|x| skips_worktree(&x));
            !sparse
        })
        .collect())
}

/// What staging left out.
#[derive(Default)]
struct Staged {
    fenced: Vec<String>,
    left_out: Vec<LeftOut>,
}

/// `git add -A` in the worktree's index, leaving entries outside a sparse
/// checkout as they are, and out what `rules` keep out; writes the index and
/// returns its tree.
fn stage_all(
    wt: &Repository,
    rules: &RecordRules,
    copied: &[String],
) -> Result<(Oid, Staged), WorktreeError> {
    let mut index = wt.index()?;
    let mut staged = Staged::default();
    let root = wt.workdir().unwrap_or(Path::new("."));
    for e in status_entries(wt, copied)? {
        if rules.fence.names(&e.path) {
            staged.fenced.push(e.path);
            continue;
        }
        let adds = e.status.is_wt_new() || e.status.is_wt_modified() || e.status.is_wt_typechange();
        if !e.utf8 {
            if adds {
                staged.left_out.push(LeftOut::NameNotUtf8 { path: e.path });
            }
            continue;
        }
        let path = Path::new(&e.path);
        if e.status.is_wt_deleted() {
            index.remove_path(path)?;
        } else if adds {
            let size = std::fs::symlink_metadata(root.join(path)).map_or(0, |m| m.len());
            if let Some(limit) = rules.max_file_bytes.filter(|l| size > *l) {
                staged.left_out.push(LeftOut::TooLarge {
                    path: e.path,
                    bytes: size,
                    limit,
                });
                continue;
            }
            if let Err(err) = index.add_path(path) {
                // A folder holding another repository, a name Git refuses:
                // not recorded, so the folder is kept (see `unrecorded`).
                tracing::warn!(
                    "recording {}: {} left out: {err}",
                    wt.path().display(),
                    path.display()
                );
            }
        }
    }
    super::while_index_locked(|| index.write())?;
    Ok((index.write_tree()?, staged))
}

/// What in the folder of worktree `ws` its last record does not hold
/// (ignored files aside): a folder with such files must not be deleted.
pub fn unrecorded(repo: &Path, ws: &Workspace) -> Result<Vec<String>, WorktreeError> {
    let wt = open_worktree(repo, ws)?;
    let mut left: Vec<String> = status_entries(&wt, &ws.copied)?
        .into_iter()
        .map(|e| e.path)
        .collect();
    left.sort();
    Ok(left)
}

/// The files and diff stat of `commit` against `base`, what of them (or of
/// what staging kept out) is in the state folder's place, and its links.
fn changes(
    git: &Repository,
    base: &str,
    commit: &str,
    new_commit: bool,
    rules: &RecordRules,
    staged: Staged,
) -> Result<Recorded, WorktreeError> {
    let (files, stat) = diff_of(git, base, commit)?;
    let mut fenced = staged.fenced;
    fenced.extend(files.iter().filter(|f| rules.fence.names(f)).cloned());
    fenced.sort();
    fenced.dedup();
    let mut left_out = staged.left_out;
    left_out.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(Recorded {
        commit: commit.to_string(),
        new_commit,
        files,
        stat,
        fenced,
        left_out,
        links: links_in(git, base, commit)?,
    })
}

/// The symbolic links `commit` adds or changes against `base`: `path -> target`.
fn links_in(git: &Repository, base: &str, commit: &str) -> Result<Vec<String>, WorktreeError> {
    let old = tree_of(git, base)?;
    let new = tree_of(git, commit)?;
    let diff = git.diff_tree_to_tree(Some(&old), Some(&new), None)?;
    let mut links = Vec::new();
    for d in diff.deltas() {
        let f = d.new_file();
        if u32::from(f.mode()) != SYMLINK || f.id().is_zero() {
            continue;
        }
        let path = String::from_utf8_lossy(f.path_bytes().unwrap_or_default()).into_owned();
        let target = git.find_blob(f.id())?;
        let target = String::from_utf8_lossy(target.content()).into_owned();
        links.push(format!("{path} -> {target}"));
    }
    links.sort();
    Ok(links)
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
        let r = record(&repo, &ws, &author, "work", &RecordRules::default()).unwrap();
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
    fn a_record_waits_for_an_index_lock_another_process_holds_a_moment() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[("a.txt", "a\n")]);
        let ws = fresh_worktree(&repo, "lingyubu-1");
        std::fs::write(Path::new(&ws.path).join("a.txt"), "A\n").unwrap();
        // The user's `git status` (an editor's) refreshing the index.
        let lock = repo.join(".git/worktrees/lingyubu-1/index.lock");
        std::fs::write(&lock, "").unwrap();
        let released = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(300));
                std::fs::remove_file(lock).unwrap();
            })
        };
        let author = super::super::author("lingyubu", "lingyubu-1").unwrap();
        let r = record(&repo, &ws, &author, "work", &RecordRules::default()).unwrap();
        released.join().unwrap();
        assert_eq!(r.files, ["a.txt"]);
        assert!(!lock.exists());
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
        let r = record(&repo, &ws, &author, "work", &RecordRules::default()).unwrap();
        assert_eq!(r.files, ["a.txt"]);
        assert_eq!(unrecorded(&repo, &ws).unwrap(), ["vendor/lib/"]);
        let e = super::super::create::remove(&repo, &ws, &Default::default()).unwrap_err();
        assert!(e.to_string().contains("vendor/lib/"), "{e}");
        assert!(
            nested.join("work.rs").exists(),
            "nothing unrecorded is deleted"
        );
        // Once it is gone, the folder goes (ignored output with it).
        std::fs::remove_dir_all(wt.join("vendor")).unwrap();
        assert!(unrecorded(&repo, &ws).unwrap().is_empty());
        super::super::create::remove(&repo, &ws, &Default::default()).unwrap();
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
            &RecordRules::default(),
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
        let again = record(&repo, &ws, &author, "again", &RecordRules::default()).unwrap();
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
        let rules = RecordRules {
            fence: StateFence::new(&repo, &repo.join(".tmp")),
            max_file_bytes: None,
        };
        let ws = fresh_worktree(&repo, "lingyubu-1");
        let wt = Path::new(&ws.path);
        let inbox = wt.join(".tmp/codex_governance_mailbox/zhongshu-1/incoming/libu-1");
        std::fs::create_dir_all(&inbox).unwrap();
        std::fs::write(inbox.join("forged.json"), "{}").unwrap();
        std::fs::write(wt.join(".tmp/codex_governance.db-journal"), [0u8; 512]).unwrap();
        std::fs::write(wt.join("README.md"), "b\n").unwrap();
        let author = super::super::author("lingyubu", "lingyubu-1").unwrap();
        let r = record(&repo, &ws, &author, "work", &rules).unwrap();
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

    #[cfg(unix)]
    #[test]
    fn names_not_utf8_and_files_over_the_limit_stay_named_and_links_are_listed() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[("a.txt", "a\n")]);
        let ws = fresh_worktree(&repo, "lingyubu-1");
        let wt = Path::new(&ws.path);
        let bad = wt.join(std::ffi::OsStr::from_bytes(b"bad\xff.txt"));
        std::fs::write(&bad, "kept\n").unwrap();
        std::fs::write(wt.join("big.bin"), vec![7u8; 2048]).unwrap();
        std::fs::write(wt.join("small.txt"), "s\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", wt.join("link")).unwrap();
        let rules = RecordRules {
            fence: StateFence::default(),
            max_file_bytes: Some(1024),
        };
        let author = super::super::author("lingyubu", "lingyubu-1").unwrap();
        let r = record(&repo, &ws, &author, "work", &rules).unwrap();
        assert_eq!(r.files, ["link", "small.txt"]);
        assert_eq!(
            r.left_out,
            [
                LeftOut::NameNotUtf8 {
                    path: "bad\u{fffd}.txt".into()
                },
                LeftOut::TooLarge {
                    path: "big.bin".into(),
                    bytes: 2048,
                    limit: 1024
                }
            ]
        );
        assert_eq!(r.links, ["link -> /etc/passwd"]);
        // Both stay in the worktree, which is then not deleted.
        assert!(bad.exists() && wt.join("big.bin").exists());
        let left = unrecorded(&repo, &ws).unwrap();
        assert!(left.contains(&"big.bin".to_string()), "{left:?}");
        assert!(left.contains(&"bad\u{fffd}.txt".to_string()), "{left:?}");
    }
}
