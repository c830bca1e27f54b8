//! Bringing a department's recorded work into the user's repository.
//!
//! First a prediction, in memory: libgit2 merges the trees (the base, the
//! user's HEAD, the department's commit) without touching anything; a
//! conflict, or a file the merge would change that does not hold what HEAD
//! holds in the user's working tree (uncommitted, untracked or ignored), or
//! that lies under a link, in a `.git` folder or in the launcher's state
//! folder ([`StateFence`]), is named and nothing happens. Otherwise the
//! prediction lists every path the working tree gets, with its blob before and
//! after: the caller records that list (the intent) before anything is
//! written. Files are then replaced one by one, each atomically (Apply: the
//! working tree only; Merge: the index too, then the merge commit and the
//! branch moved from the old HEAD, compare-and-swap). After a crash,
//! [`recover`] reads each path and HEAD: a merge whose branch moved is
//! finished, anything else is undone, so an integration is either all done or
//! not at all. A file someone else changed meanwhile is never overwritten.

use std::path::Path;

use git2::{Oid, Repository};

use super::checkout::{blob_of, clear_leftovers, Staged};
use super::filters;
use super::tree_writer::TreeWriter;
use super::{head_commit, tree_of, StateFence, WorktreeError};
use crate::config::MergeStyle;
use crate::model::{PathChange, PendingIntegration, Workspace};
use crate::policy::integration_recovery::{recovery, Held, Recovery, Seen};

const SUBMODULE: u32 = 0o160000;

/// What integrating a department's commit would do now.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// HEAD now.
    pub head: String,
    /// HEAD's branch (`refs/heads/…`); None when HEAD is detached.
    pub branch: Option<String>,
    /// Files the merge of trees cannot merge.
    pub conflicts: Vec<String>,
    /// Files the merge would change that do not hold HEAD's content now
    /// (uncommitted, untracked or ignored files of the user's).
    pub uncommitted: Vec<String>,
    /// Files the merge would write through a link, into a `.git` folder or
    /// into the launcher's state folder.
    pub unsafe_paths: Vec<String>,
    /// What the working tree gets (empty when anything conflicts).
    pub paths: Vec<PathChange>,
    /// The merged tree.
    pub merged_tree: Option<String>,
}

impl Prediction {
    /// Every file that stands in the way, committed or not.
    pub fn blocking(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .conflicts
            .iter()
            .chain(&self.uncommitted)
            .chain(&self.unsafe_paths)
            .cloned()
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

/// The paths a merge conflicts on, sorted, each once.
fn conflicts_of(merged: &git2::Index) -> Result<Vec<String>, WorktreeError> {
    let mut conflicts = Vec::new();
    for c in merged.conflicts()? {
        let c = c?;
        if let Some(e) = c.our.or(c.their).or(c.ancestor) {
            conflicts.push(String::from_utf8_lossy(&e.path).into_owned());
        }
    }
    conflicts.sort();
    conflicts.dedup();
    Ok(conflicts)
}

/// Each path that changes from `ours` to `merged`; a submodule refused
/// (`branch` named: integrate it with git).
fn changes_between(
    git: &Repository,
    ours: &git2::Tree<'_>,
    merged: &git2::Tree<'_>,
    branch: &str,
) -> Result<Vec<PathChange>, WorktreeError> {
    let diff = git.diff_tree_to_tree(Some(ours), Some(merged), None)?;
    let mut paths = Vec::new();
    for d in diff.deltas() {
        let (old, new) = (d.old_file(), d.new_file());
        let path = new
            .path()
            .or_else(|| old.path())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let side = |f: &git2::DiffFile<'_>| (!f.id().is_zero()).then(|| f.id().to_string());
        let (before_mode, after_mode) = (u32::from(old.mode()), u32::from(new.mode()));
        if before_mode == SUBMODULE || after_mode == SUBMODULE {
            return Err(WorktreeError::Refused(format!(
                "{path} is a submodule: integrate this branch with git ({branch})"
            )));
        }
        paths.push(PathChange {
            path,
            before: side(&old),
            before_mode,
            after: side(&new),
            after_mode,
        });
    }
    Ok(paths)
}

/// Predicts integrating `commit` (the department's, on top of `ws.base`) into
/// the repository at `repo`, against its HEAD and working tree.
pub fn predict(
    repo: &Path,
    ws: &Workspace,
    commit: &str,
    fence: &StateFence,
) -> Result<Prediction, WorktreeError> {
    let git = Repository::open(repo)?;
    let head = head_commit(&git)?.ok_or_else(|| {
        WorktreeError::Refused("the repository has no commit to integrate into".into())
    })?;
    let branch = match git.head() {
        Ok(h) if h.is_branch() => h.name().map(str::to_string),
        _ => None,
    };
    fence.check_carried(
        &git,
        &format!("the work on {}", ws.branch),
        &ws.base,
        commit,
    )?;
    let base = tree_of(&git, &ws.base)?;
    let ours = head.tree()?;
    let theirs = tree_of(&git, commit)?;
    let mut merged = git.merge_trees(&base, &ours, &theirs, None)?;
    let mut prediction = Prediction {
        head: head.id().to_string(),
        branch,
        conflicts: Vec::new(),
        uncommitted: Vec::new(),
        unsafe_paths: Vec::new(),
        paths: Vec::new(),
        merged_tree: None,
    };
    if merged.has_conflicts() {
        prediction.conflicts = conflicts_of(&merged)?;
        return Ok(prediction);
    }
    let tree = git.find_tree(merged.write_tree_to(&git)?)?;
    prediction.paths = changes_between(&git, &ours, &tree, &ws.branch)?;
    // Tracked files through Git's status (its filters, e.g. line endings);
    // a file HEAD lacks must not exist at all (untracked or ignored).
    let dirty = crate::report::changes::changed_paths(&git, &crate::report::Mode::Worktree)
        .map_err(|e| WorktreeError::Git(e.to_string()))?;
    for c in &prediction.paths {
        if unsafe_path(repo, &c.path, fence).is_some() {
            prediction.unsafe_paths.push(c.path.clone());
        } else if dirty.binary_search(&c.path).is_ok() || in_the_way(&git, repo, c)? {
            prediction.uncommitted.push(c.path.clone());
        }
    }
    prediction.merged_tree = Some(tree.id().to_string());
    Ok(prediction)
}

/// The tree a Merge of `commit` (worked from `base`) would build on a
/// branch whose tree is `on` (a tree id), as [`predict`] merges them; None
/// when they conflict. Writes the tree's object, nothing else.
pub fn merged_on(
    repo: &Path,
    base: &str,
    on: &str,
    commit: &str,
) -> Result<Option<String>, WorktreeError> {
    let git = Repository::open(repo)?;
    let base = tree_of(&git, base)?;
    let ours = git.find_tree(git2::Oid::from_str(on)?)?;
    let theirs = tree_of(&git, commit)?;
    let mut merged = git.merge_trees(&base, &ours, &theirs, None)?;
    if merged.has_conflicts() {
        return Ok(None);
    }
    Ok(Some(merged.write_tree_to(&git)?.to_string()))
}

/// The commit a Merge puts on the user's branch (an object only: no branch
/// moves), in the user's name as author and committer: the merged tree on
/// HEAD alone (squash) or with the department's commit as second parent.
pub fn merge_commit(
    repo: &Path,
    prediction: &Prediction,
    commit: &str,
    style: MergeStyle,
    message: &str,
) -> Result<String, WorktreeError> {
    let git = Repository::open(repo)?;
    let me = user_signature(&git)?;
    let tree = prediction
        .merged_tree
        .as_deref()
        .ok_or_else(|| WorktreeError::Refused("nothing to merge: it conflicts".into()))?;
    let tree = git.find_tree(Oid::from_str(tree)?)?;
    let ours = git.find_commit(Oid::from_str(&prediction.head)?)?;
    let theirs = git.find_commit(Oid::from_str(commit)?)?;
    let parents = match style {
        MergeStyle::Squash => vec![&ours],
        MergeStyle::History => vec![&ours, &theirs],
    };
    // Signed when the user's configuration says so, or refused in words.
    let id = super::signing::commit_as_user(&git, &me, message, &tree, &parents)?;
    Ok(id.to_string())
}

/// The user's identity from git's configuration (`user.name`, `user.email`),
/// as `git commit` takes it; refused with the fix when git has none.
pub fn user_signature(git: &Repository) -> Result<git2::Signature<'static>, WorktreeError> {
    git.signature().map_err(|_| {
        WorktreeError::Refused(
            "a Merge commits in your name, and git knows no name for you: set it with \
             git config user.name \"Your Name\" and git config user.email you@example.com \
             (or Apply, which commits nothing)"
                .into(),
        )
    })
}

/// Which content of a path to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Before,
    After,
}

impl Side {
    /// The blob and mode of `c` on this side.
    fn of(self, c: &PathChange) -> (Option<&str>, u32) {
        match self {
            Side::Before => (c.before.as_deref(), c.before_mode),
            Side::After => (c.after.as_deref(), c.after_mode),
        }
    }
}

/// Writes each path's `side` into the working tree (and the index when
/// `index`), each file atomically.
pub fn write(
    repo: &Path,
    changes: &[&PathChange],
    side: Side,
    index: bool,
    fence: &StateFence,
) -> Result<(), WorktreeError> {
    write_each(repo, changes, side, index, fence, false)
}

/// Writes each path's `after` as [`write`] does, checking right before each
/// file is replaced (its rename) that it still holds what the prediction
/// saw: a file the user edited meanwhile stops the integration, named, and
/// is not overwritten.
pub fn write_predicted(
    repo: &Path,
    changes: &[&PathChange],
    index: bool,
    fence: &StateFence,
) -> Result<(), WorktreeError> {
    write_each(repo, changes, Side::After, index, fence, true)
}

fn write_each(
    repo: &Path,
    changes: &[&PathChange],
    side: Side,
    index: bool,
    fence: &StateFence,
    as_predicted: bool,
) -> Result<(), WorktreeError> {
    for c in changes {
        if let Some(why) = unsafe_path(repo, &c.path, fence) {
            return Err(WorktreeError::Refused(format!(
                "{}: {why}; nothing is written through it",
                c.path
            )));
        }
    }
    let git = Repository::open(repo)?;
    let mut idx = git.index()?;
    let blobs = changes
        .iter()
        .filter_map(|c| {
            let (blob, mode) = side.of(c);
            blob.map(|b| Ok((c.path.as_str(), Oid::from_str(b)?, mode)))
        })
        .collect::<Result<Vec<_>, git2::Error>>()?;
    let staged = Staged::checkout(&git, &blobs)?;
    let tree = TreeWriter::open(repo, fence)?;
    for (n, c) in changes.iter().enumerate() {
        let (blob, _) = side.of(c);
        if in_the_way(&git, repo, c)? {
            return Err(WorktreeError::Refused(format!(
                "{} appeared meanwhile: it is not overwritten",
                c.path
            )));
        }
        pause_for_tests(Some(n));
        let unmoved = || -> Result<(), WorktreeError> {
            if as_predicted && moved(&git, repo, c)? {
                return Err(WorktreeError::Refused(format!(
                    "{} changed during the integration: it is not overwritten",
                    c.path
                )));
            }
            Ok(())
        };
        match blob {
            None => {
                tree.remove(&c.path, unmoved)?;
                if index && idx.get_path(Path::new(&c.path), 0).is_some() {
                    idx.remove_path(Path::new(&c.path))?;
                }
            }
            Some(id) => {
                tree.put(&c.path, &staged.file(&c.path), unmoved)?;
                if index {
                    index_file(&git, &mut idx, &c.path, id, side.of(c).1)?;
                }
            }
        }
    }
    pause_for_tests(None);
    if index {
        idx.write()?;
    }
    Ok(())
}

/// Puts `path` in the index as holding `blob`. libgit2 hashes the file
/// itself, which is right unless a filter driver (LFS) cleans it: then the
/// blob is entered as is, with no stat data, so Git reads the file again.
fn index_file(
    git: &Repository,
    idx: &mut git2::Index,
    path: &str,
    blob: &str,
    mode: u32,
) -> Result<(), WorktreeError> {
    if filters::driver_for(git, path, filters::Direction::Clean)?.is_none() {
        idx.add_path(Path::new(path))?;
        return Ok(());
    }
    idx.add(&super::checkout::entry(
        path.as_bytes(),
        Oid::from_str(blob)?,
        mode,
    ))?;
    Ok(())
}

/// Whether a path no longer holds what the prediction saw (read through
/// the checkout filters: line endings), or, for a file that was not there,
/// is now there with other content.
fn moved(git: &Repository, repo: &Path, c: &PathChange) -> Result<bool, WorktreeError> {
    if c.before.is_none() {
        return in_the_way(git, repo, c);
    }
    // Its content now (through the checkout filters) against what the
    // prediction saw: HEAD's for an integration, the integrated one for an Undo.
    Ok(current(git, repo, &c.path)? != c.before)
}

/// Where the tree writer puts `file`'s content before the rename.
#[cfg(test)]
fn temp_beside(file: &Path) -> std::path::PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.with_file_name(super::tree_writer::temp_name(&name))
}

/// Why writing `path` under `repo` could land elsewhere: a folder on its way
/// that is a link (or not a folder), a `.git` component, or the launcher's
/// state folder. None: safe.
fn unsafe_path(repo: &Path, path: &str, fence: &StateFence) -> Option<String> {
    let parts: Vec<&str> = path.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == ".." || p.eq_ignore_ascii_case(".git"))
    {
        return Some("not a plain path inside the repository".into());
    }
    if fence.reached_from(repo, path) {
        return Some(format!(
            "it is in the launcher's state folder ({}): a department's work never goes there",
            fence.shown()
        ));
    }
    let mut at = repo.to_path_buf();
    for part in &parts[..parts.len() - 1] {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Some(format!("{} is a link", at.display()))
            }
            Ok(m) if !m.is_dir() => return Some(format!("{} is not a folder", at.display())),
            Ok(_) => {}
            Err(_) => break, // missing: created as a folder
        }
    }
    None
}

/// A file HEAD lacks that exists now with other content than the
/// integration's (untracked or ignored: Git's status does not list it).
fn in_the_way(git: &Repository, repo: &Path, c: &PathChange) -> Result<bool, WorktreeError> {
    if c.before.is_some() {
        return Ok(false);
    }
    let now = current(git, repo, &c.path)?;
    Ok(now.is_some() && now != c.after)
}

/// Debug builds only: `CODEX_GOVERNANCE_TEST_PAUSE_INTEGRATION=<n>` stops an
/// integration for good before its path number `n` (`end`: after the last
/// file, before the index and the branch), so a test can kill the launcher
/// at a known point of the writes. With `CODEX_GOVERNANCE_TEST_RESUME_FILE`
/// it goes on once that file exists (a test acts in the pause).
fn pause_for_tests(at: Option<usize>) {
    pause_at(&at.map_or("end".to_string(), |n| n.to_string()));
}

/// [`pause_for_tests`] at a named point of an integration's saga (`intent`:
/// after its intent is stored, before Git is touched; `done`: after its Git
/// job, before it is recorded done).
pub fn pause_at(here: &str) {
    #[cfg(debug_assertions)]
    if let Ok(wanted) = std::env::var("CODEX_GOVERNANCE_TEST_PAUSE_INTEGRATION") {
        if wanted == here {
            tracing::warn!("integration paused at {here} (test setting)");
            let resume = std::env::var_os("CODEX_GOVERNANCE_TEST_RESUME_FILE");
            loop {
                match &resume {
                    Some(file) if Path::new(file).exists() => return,
                    Some(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
                    None => std::thread::park(),
                }
            }
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = here;
}

/// The blob a working tree path holds now (read through the repository's
/// filters); None when it is absent.
fn current(git: &Repository, repo: &Path, path: &str) -> Result<Option<String>, WorktreeError> {
    Ok(blob_of(git, &repo.join(path), path)?.map(|id| id.to_string()))
}

/// What stops an Undo of `p`: paths that no longer hold what it wrote (the
/// user changed them since), and for a Merge a branch whose tip is no longer
/// its commit. Empty: it can be undone.
pub fn undo_blockers(
    repo: &Path,
    p: &PendingIntegration,
    fence: &StateFence,
) -> Result<Vec<String>, WorktreeError> {
    let git = Repository::open(repo)?;
    let mut blockers = Vec::new();
    for c in &p.paths {
        if unsafe_path(repo, &c.path, fence).is_none() && current(&git, repo, &c.path)? != c.after {
            blockers.push(format!("{} (changed since)", c.path));
        }
    }
    if let (Some(target), Some(branch)) = (&p.target, &p.branch) {
        let tip = git
            .find_reference(branch)
            .ok()
            .and_then(|r| r.target())
            .map(|o| o.to_string());
        if tip.as_deref() != Some(target.as_str()) {
            blockers.push(format!(
                "{branch} (its tip is no longer the merge commit {}: commits came after it; \
                 use git revert)",
                &target[..target.len().min(10)]
            ));
        }
    }
    Ok(blockers)
}

/// Moves the branch from `from` to `to`, only if it still names `from`.
pub fn move_branch(
    repo: &Path,
    branch: &str,
    from: &str,
    to: &str,
    message: &str,
) -> Result<(), WorktreeError> {
    let git = Repository::open(repo)?;
    git.reference_matching(
        branch,
        Oid::from_str(to)?,
        true,
        Oid::from_str(from)?,
        message,
    )?;
    Ok(())
}

/// How an interrupted integration ended after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// Finished: everything is in.
    Done { untouched: Vec<String> },
    /// Undone: nothing of it is in.
    Undone { untouched: Vec<String> },
    /// Cut before it wrote anything: nothing of it is in, nothing was
    /// written back.
    NothingWritten { untouched: Vec<String> },
}

/// Finishes or undoes an integration a crash interrupted, as
/// [`policy::integration_recovery::recovery`] decides from what HEAD and
/// each path hold. Paths holding neither side (the user changed them
/// meanwhile), and paths nothing may be written to (never written, see
/// [`write`]), are left as they are, and named.
///
/// [`policy::integration_recovery::recovery`]: crate::policy::integration_recovery::recovery
pub fn recover(
    repo: &Path,
    p: &PendingIntegration,
    fence: &StateFence,
) -> Result<Recovered, WorktreeError> {
    let merge = p.target.is_some();
    let git = Repository::open(repo)?;
    clear_leftovers(&git);
    let tree = TreeWriter::open(repo, fence)?;
    let mut at = Vec::with_capacity(p.paths.len());
    for c in &p.paths {
        // A file the crash caught between its write and its rename.
        tree.clear_temp(&c.path);
        at.push(current(&git, repo, &c.path)?);
    }
    let seen = Seen {
        head: head_commit(&git)?.map(|h| h.id().to_string()),
        held: p
            .paths
            .iter()
            .zip(&at)
            .map(|(c, now)| Held::of(c, now.as_deref()))
            .collect(),
    };
    let decided = recovery(p, &seen);
    let wanted = match decided {
        Recovery::Finish => Side::After,
        // Nothing written: a Merge's index entries are set back all the same.
        Recovery::Undo | Recovery::Nothing => Side::Before,
    };
    let mut fix = Vec::new();
    let mut untouched = Vec::new();
    for (c, held) in p.paths.iter().zip(&seen.held) {
        if unsafe_path(repo, &c.path, fence).is_some() {
            untouched.push(c.path.clone()); // never written: nothing to undo
            continue;
        }
        match (held, wanted) {
            // The index may not have followed yet.
            (Held::After, Side::After) | (Held::Before, Side::Before) => {
                if merge {
                    fix.push(c);
                }
            }
            (Held::Before, Side::After) | (Held::After, Side::Before) => fix.push(c),
            (Held::Other, _) => untouched.push(c.path.clone()),
        }
    }
    write(repo, &fix, wanted, merge, fence)?;
    Ok(match decided {
        Recovery::Finish => Recovered::Done { untouched },
        Recovery::Undo => Recovered::Undone { untouched },
        Recovery::Nothing => Recovered::NothingWritten { untouched },
    })
}

#[cfg(test)]
mod tests {
    use super::super::record::record;
    use super::super::testing::{fresh_worktree, repo_with};
    use super::*;

    fn department(repo: &Path, session: &str, edits: &[(&str, &str)]) -> Workspace {
        let mut ws = fresh_worktree(repo, session);
        for (rel, text) in edits {
            let file = Path::new(&ws.path).join(rel);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        let author = super::super::author("lingyubu", session).unwrap();
        ws.commit = Some(
            record(repo, &ws, &author, "work", &Default::default())
                .unwrap()
                .commit,
        );
        ws
    }

    fn pending(p: &Prediction, target: Option<String>) -> PendingIntegration {
        PendingIntegration {
            mode: if target.is_some() {
                crate::model::IntegrationMode::Merge
            } else {
                crate::model::IntegrationMode::Apply
            },
            head: p.head.clone(),
            target,
            branch: p.branch.clone(),
            paths: p.paths.clone(),
            started_at: "now".into(),
            undo: false,
        }
    }

    #[test]
    fn the_second_of_two_edits_of_one_file_conflicts_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(
            dir.path(),
            &[("shared.txt", "one\ntwo\n"), ("b.txt", "b\n")],
        );
        let a = department(&repo, "lingyubu-1", &[("shared.txt", "one\nTWO by a\n")]);
        let b = department(&repo, "lingyubu-2", &[("shared.txt", "one\nTWO by b\n")]);
        // Neither saw the other's change.
        assert_eq!(
            std::fs::read_to_string(Path::new(&b.path).join("shared.txt")).unwrap(),
            "one\nTWO by b\n"
        );
        let first = predict(
            &repo,
            &a,
            a.commit.as_deref().unwrap(),
            &StateFence::default(),
        )
        .unwrap();
        assert!(first.blocking().is_empty(), "{first:?}");
        let target = merge_commit(
            &repo,
            &first,
            a.commit.as_deref().unwrap(),
            MergeStyle::History,
            "merge",
        )
        .unwrap();
        let refs: Vec<&PathChange> = first.paths.iter().collect();
        write(&repo, &refs, Side::After, true, &StateFence::default()).unwrap();
        move_branch(
            &repo,
            first.branch.as_deref().unwrap(),
            &first.head,
            &target,
            "m",
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(repo.join("shared.txt")).unwrap(),
            "one\nTWO by a\n"
        );
        let git = Repository::open(&repo).unwrap();
        assert!(git.statuses(None).unwrap().is_empty(), "merged and clean");
        let merge = git.find_commit(Oid::from_str(&target).unwrap()).unwrap();
        assert_eq!(
            merge.parent_count(),
            2,
            "history keeps the department's commit"
        );
        assert_eq!(merge.author().name(), Some("The User"));
        assert_eq!(merge.committer().email(), Some("user@example.com"));
        let second = predict(
            &repo,
            &b,
            b.commit.as_deref().unwrap(),
            &StateFence::default(),
        )
        .unwrap();
        assert_eq!(second.conflicts, ["shared.txt"]);
        assert!(second.paths.is_empty());
    }

    #[test]
    fn uncommitted_changes_in_the_way_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[("a.txt", "a\n"), ("b.txt", "b\n")]);
        let ws = department(
            &repo,
            "lingyubu-1",
            &[("a.txt", "a by dept\n"), ("b.txt", "b by dept\n")],
        );
        std::fs::write(repo.join("a.txt"), "a by the user\n").unwrap();
        let p = predict(
            &repo,
            &ws,
            ws.commit.as_deref().unwrap(),
            &StateFence::default(),
        )
        .unwrap();
        assert!(p.conflicts.is_empty());
        assert_eq!(p.uncommitted, ["a.txt"]);
        assert_eq!(p.blocking(), ["a.txt"]);
    }

    #[test]
    fn ignored_and_untracked_files_of_the_user_are_in_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[(".gitignore", ".env\n"), ("a.txt", "a\n")]);
        let ws = department(
            &repo,
            "lingyubu-1",
            &[
                (".gitignore", ""),
                (".env", "TOKEN=the department's\n"),
                ("new.txt", "n\n"),
            ],
        );
        std::fs::write(repo.join(".env"), "TOKEN=the user's\n").unwrap();
        std::fs::write(repo.join("new.txt"), "the user's own\n").unwrap();
        let p = predict(
            &repo,
            &ws,
            ws.commit.as_deref().unwrap(),
            &StateFence::default(),
        )
        .unwrap();
        assert_eq!(p.blocking(), [".env", "new.txt"]);
        // Appearing between the prediction and the write: refused, kept.
        std::fs::remove_file(repo.join(".env")).unwrap();
        std::fs::remove_file(repo.join("new.txt")).unwrap();
        let p = predict(
            &repo,
            &ws,
            ws.commit.as_deref().unwrap(),
            &StateFence::default(),
        )
        .unwrap();
        assert!(p.blocking().is_empty(), "{p:?}");
        std::fs::write(repo.join("new.txt"), "the user's own\n").unwrap();
        let all: Vec<&PathChange> = p.paths.iter().collect();
        let e = write(&repo, &all, Side::After, false, &StateFence::default()).unwrap_err();
        assert!(e.to_string().contains("new.txt appeared meanwhile"), "{e}");
        assert_eq!(
            std::fs::read_to_string(repo.join("new.txt")).unwrap(),
            "the user's own\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn nothing_is_written_through_a_link_in_the_users_tree() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let (repo, _) = repo_with(&dir.path().join("r"), &[("a.txt", "a\n")]);
        let ws = department(&repo, "lingyubu-1", &[("x/pre-commit", "#!/bin/sh\n")]);
        // A link the user has (or an earlier Apply left) where the department
        // writes a folder.
        std::os::unix::fs::symlink(&outside, repo.join("x")).unwrap();
        let p = predict(
            &repo,
            &ws,
            ws.commit.as_deref().unwrap(),
            &StateFence::default(),
        )
        .unwrap();
        assert_eq!(p.unsafe_paths, ["x/pre-commit"]);
        assert_eq!(p.blocking(), ["x/pre-commit"]);
        let all: Vec<&PathChange> = p.paths.iter().collect();
        let e = write(&repo, &all, Side::After, false, &StateFence::default()).unwrap_err();
        assert!(e.to_string().contains("is a link"), "{e}");
        assert!(!outside.join("pre-commit").exists());
        assert!(unsafe_path(&repo, ".git/hooks/pre-commit", &StateFence::default()).is_some());
        assert!(unsafe_path(&repo, "src/../../x", &StateFence::default()).is_some());
        assert!(unsafe_path(&repo, "src/new/a.rs", &StateFence::default()).is_none());
    }

    #[test]
    fn apply_leaves_changes_uncommitted_and_a_crash_is_undone_or_finished() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, head) = repo_with(dir.path(), &[("a.txt", "a\n"), ("b.txt", "b\n")]);
        let ws = department(&repo, "lingyubu-1", &[("a.txt", "A\n"), ("c.txt", "new\n")]);
        let p = predict(
            &repo,
            &ws,
            ws.commit.as_deref().unwrap(),
            &StateFence::default(),
        )
        .unwrap();
        assert_eq!(p.paths.len(), 2);
        // Half applied (a crash after the first file, the second one's
        // temporary file written but not renamed): undone, nothing left.
        write(
            &repo,
            &[&p.paths[0]],
            Side::After,
            false,
            &StateFence::default(),
        )
        .unwrap();
        std::fs::write(temp_beside(&repo.join("c.txt")), "new\n").unwrap();
        let r = recover(&repo, &pending(&p, None), &StateFence::default()).unwrap();
        assert_eq!(r, Recovered::Undone { untouched: vec![] });
        assert_eq!(std::fs::read_to_string(repo.join("a.txt")).unwrap(), "a\n");
        assert!(!repo.join("c.txt").exists());
        assert!(!temp_beside(&repo.join("c.txt")).exists());
        let git = Repository::open(&repo).unwrap();
        assert!(git.statuses(None).unwrap().is_empty(), "a clean tree");
        // All written: done, uncommitted, HEAD unchanged.
        let all: Vec<&PathChange> = p.paths.iter().collect();
        write(&repo, &all, Side::After, false, &StateFence::default()).unwrap();
        assert_eq!(
            recover(&repo, &pending(&p, None), &StateFence::default()).unwrap(),
            Recovered::Done { untouched: vec![] }
        );
        let git = Repository::open(&repo).unwrap();
        assert_eq!(head_commit(&git).unwrap().unwrap().id().to_string(), head);
        let changed =
            crate::report::changes::changed_paths(&git, &crate::report::Mode::Worktree).unwrap();
        assert_eq!(changed, ["a.txt", "c.txt"]);
    }

    #[test]
    fn a_merge_cut_before_its_branch_moved_is_undone_after_it_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[("a.txt", "a\n")]);
        let ws = department(&repo, "lingyubu-1", &[("a.txt", "A\n"), ("n.txt", "n\n")]);
        let commit = ws.commit.clone().unwrap();
        let p = predict(&repo, &ws, &commit, &StateFence::default()).unwrap();
        let target = merge_commit(&repo, &p, &commit, MergeStyle::Squash, "merge").unwrap();
        let squashed = Repository::open(&repo)
            .unwrap()
            .find_commit(Oid::from_str(&target).unwrap())
            .unwrap()
            .parent_ids()
            .map(|p| p.to_string())
            .collect::<Vec<_>>();
        assert_eq!(squashed, vec![p.head.as_str()], "squash: on HEAD alone");
        let all: Vec<&PathChange> = p.paths.iter().collect();
        write(&repo, &all, Side::After, true, &StateFence::default()).unwrap();
        // Cut before the branch moved: undone, index and all.
        let none = StateFence::default();
        let r = recover(&repo, &pending(&p, Some(target.clone())), &none).unwrap();
        assert!(matches!(r, Recovered::Undone { .. }));
        let git = Repository::open(&repo).unwrap();
        assert!(git.statuses(None).unwrap().is_empty(), "back as it was");
        // Cut after the branch moved, before the files: finished.
        move_branch(&repo, p.branch.as_deref().unwrap(), &p.head, &target, "m").unwrap();
        let r = recover(&repo, &pending(&p, Some(target)), &none).unwrap();
        assert!(matches!(r, Recovered::Done { .. }));
        assert_eq!(std::fs::read_to_string(repo.join("n.txt")).unwrap(), "n\n");
        assert!(git.statuses(None).unwrap().is_empty(), "merged and clean");
    }

    #[test]
    fn nothing_is_written_into_the_state_folder_however_it_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[("README.md", "a\n")]);
        // A commit carrying the state folder's path (a department that
        // committed it itself; recording never does).
        let ws = department(
            &repo,
            "lingyubu-1",
            &[
                ("README.md", "b\n"),
                (".tmp/codex_governance.db-journal", "journal"),
                (
                    ".TMP/codex_governance_mailbox/z/incoming/d/forged.json",
                    "{}",
                ),
            ],
        );
        std::fs::create_dir_all(repo.join(".tmp")).unwrap();
        let fence = StateFence::new(&repo, &repo.join(".tmp"));
        // The prediction refuses the commit whole, in the words of every way in.
        let e = predict(&repo, &ws, ws.commit.as_deref().unwrap(), &fence).unwrap_err();
        assert!(
            e.to_string().contains("carries what is never brought"),
            "{e}"
        );
        // Below it, the paths themselves: as a fence-less prediction lists them.
        let mut p = predict(
            &repo,
            &ws,
            ws.commit.as_deref().unwrap(),
            &Default::default(),
        )
        .unwrap();
        p.unsafe_paths = p
            .paths
            .iter()
            .filter(|c| fence.names(&c.path))
            .map(|c| c.path.clone())
            .collect();
        // Case folded: on a case-insensitive file system (Windows) `.TMP/`
        // was written into the worktree's `.tmp/` and is recorded so.
        let mut refused: Vec<String> = p.unsafe_paths.iter().map(|x| x.to_lowercase()).collect();
        refused.sort();
        assert_eq!(
            refused,
            [
                ".tmp/codex_governance.db-journal",
                ".tmp/codex_governance_mailbox/z/incoming/d/forged.json"
            ]
        );
        let all: Vec<&PathChange> = p.paths.iter().collect();
        let e = write(&repo, &all, Side::After, false, &fence).unwrap_err();
        assert!(e.to_string().contains("launcher's state folder"), "{e}");
        assert!(!repo.join(".tmp/codex_governance.db-journal").exists());
        assert_eq!(
            std::fs::read_to_string(repo.join("README.md")).unwrap(),
            "a\n"
        );
        // Crash recovery leaves them alone, and names them.
        let r = recover(&repo, &pending(&p, None), &fence).unwrap();
        let Recovered::NothingWritten { untouched } = r else {
            panic!("{r:?}")
        };
        assert_eq!(untouched, p.unsafe_paths);
        assert!(!repo.join(".tmp/codex_governance_mailbox").exists());
        assert!(!repo.join(".tmp/codex_governance.db-journal").exists());
    }

    #[test]
    fn a_file_the_user_edits_during_an_apply_is_not_overwritten_and_all_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[("a.txt", "a\n"), ("z.txt", "z\n")]);
        let ws = department(&repo, "lingyubu-1", &[("a.txt", "A\n"), ("z.txt", "Z\n")]);
        let none = StateFence::default();
        let p = predict(&repo, &ws, ws.commit.as_deref().unwrap(), &none).unwrap();
        assert!(p.blocking().is_empty(), "{p:?}");
        // The user rewrites the last file once the prediction is made.
        std::fs::write(repo.join("z.txt"), "the user's\n").unwrap();
        let all: Vec<&PathChange> = p.paths.iter().collect();
        let e = write_predicted(&repo, &all, false, &none).unwrap_err();
        assert!(e.to_string().contains("z.txt changed during"), "{e}");
        assert_eq!(
            std::fs::read_to_string(repo.join("z.txt")).unwrap(),
            "the user's\n"
        );
        assert!(!temp_beside(&repo.join("z.txt")).exists());
        let r = recover(&repo, &pending(&p, None), &none).unwrap();
        assert_eq!(
            r,
            Recovered::Undone {
                untouched: vec!["z.txt".into()]
            }
        );
        assert_eq!(std::fs::read_to_string(repo.join("a.txt")).unwrap(), "a\n");
    }

    #[test]
    fn apply_writes_what_checkout_would_and_recovery_reads_it_back_the_same_way() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(
            dir.path(),
            &[
                (".gitattributes", "*.bat text eol=crlf\n"),
                ("a.txt", "a\n"),
                ("run.bat", "echo a\n"),
            ],
        );
        let ws = department(
            &repo,
            "lingyubu-1",
            &[("a.txt", "A\nB\n"), ("run.bat", "echo b\necho c\n")],
        );
        // The user's clone converts line endings on checkout.
        let git = Repository::open(&repo).unwrap();
        git.config()
            .unwrap()
            .set_bool("core.autocrlf", true)
            .unwrap();
        for file in ["a.txt", "run.bat"] {
            std::fs::remove_file(repo.join(file)).unwrap();
        }
        git.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
            .unwrap();
        assert_eq!(std::fs::read(repo.join("a.txt")).unwrap(), b"a\r\n");
        let st: Vec<String> = git
            .statuses(None)
            .unwrap()
            .iter()
            .map(|e| format!("{:?} {:?}", e.path(), e.status()))
            .collect();
        assert!(st.is_empty(), "a clean CRLF checkout: {st:?}");
        let none = StateFence::default();
        let p = predict(&repo, &ws, ws.commit.as_deref().unwrap(), &none).unwrap();
        assert!(p.blocking().is_empty(), "{p:?}");
        let all: Vec<&PathChange> = p.paths.iter().collect();
        write_predicted(&repo, &all, false, &none).unwrap();
        assert_eq!(
            std::fs::read(repo.join("a.txt")).unwrap(),
            b"A\r\nB\r\n",
            "autocrlf"
        );
        assert_eq!(
            std::fs::read(repo.join("run.bat")).unwrap(),
            b"echo b\r\necho c\r\n",
            "eol=crlf"
        );
        // Recovery sees the department's blobs in those files: done.
        assert_eq!(
            recover(&repo, &pending(&p, None), &none).unwrap(),
            Recovered::Done { untouched: vec![] }
        );
        assert!(!git.path().join("codex-governance-checkout").exists());
    }
    /// Runs the git CLI in `dir` with `input` on stdin; its stdout.
    fn git_cli(dir: &Path, args: &[&str], input: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut child = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("git is needed (tools/test.sh installs it)");
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", out.status);
        out.stdout
    }

    #[test]
    #[cfg_attr(windows, ignore = "the Wine lane has neither git nor git-lfs")]
    fn apply_and_merge_run_the_lfs_smudge_and_read_lfs_files_back_as_their_pointers() {
        let Some(_) = crate::test_tools::program("git-lfs", "git-lfs") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(
            dir.path(),
            &[
                (
                    ".gitattributes",
                    "*.bin filter=lfs diff=lfs merge=lfs -text\n",
                ),
                ("a.txt", "a\n"),
            ],
        );
        let installed = std::process::Command::new("git")
            .args(["lfs", "install", "--local"])
            .current_dir(&repo)
            .output()
            .expect("git is needed (tools/test.sh installs it)");
        assert!(
            installed.status.success(),
            "git-lfs is needed for this test (tools/test.sh installs it): {}",
            String::from_utf8_lossy(&installed.stderr)
        );
        // A large file as LFS keeps it: the object in .git/lfs, the pointer
        // as the blob the department commits.
        let content = b"a large file\n".repeat(500);
        let pointer = git_cli(&repo, &["lfs", "clean", "--", "big.bin"], &content);
        assert!(
            pointer.starts_with(b"version https://git-lfs"),
            "{pointer:?}"
        );
        let ws = department(
            &repo,
            "lingyubu-1",
            &[
                ("big.bin", std::str::from_utf8(&pointer).unwrap()),
                ("a.txt", "b\n"),
            ],
        );
        let none = StateFence::default();
        let p = predict(&repo, &ws, ws.commit.as_deref().unwrap(), &none).unwrap();
        assert!(p.blocking().is_empty(), "{p:?}");
        let all: Vec<&PathChange> = p.paths.iter().collect();
        write_predicted(&repo, &all, true, &none).unwrap();
        assert!(
            std::fs::read(repo.join("big.bin")).unwrap() == content,
            "the file holds what git checkout writes, not the pointer"
        );
        // The index holds the pointer, so Git sees the file unchanged.
        let diff = git_cli(&repo, &["diff", "--name-only"], b"");
        assert!(
            diff.is_empty(),
            "git diff: {}",
            String::from_utf8_lossy(&diff)
        );
        // Read back through the clean filter: the department's blobs, done.
        assert_eq!(
            recover(&repo, &pending(&p, None), &none).unwrap(),
            Recovered::Done { untouched: vec![] }
        );
    }
}
