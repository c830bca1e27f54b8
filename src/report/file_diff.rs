//! One changed file's diff, for the dashboard's review drawer: the working
//! tree (with the index) against HEAD or a base revision, through libgit2,
//! with line numbers. Binary files are only named; a huge diff is cut.

use std::path::Path;

use git2::{Delta, DiffOptions, Patch};
use serde::Serialize;

use super::changes::{open, resolve_base};
use super::ReportError;

/// Lines shown at most; the rest is summarised.
pub const MAX_LINES: usize = 2000;

#[derive(Debug, Clone, Serialize)]
pub struct FileDiff {
    pub path: String,
    pub base: Option<String>,
    pub status: &'static str,
    pub binary: bool,
    pub truncated: bool,
    pub added: usize,
    pub removed: usize,
    pub hunks: Vec<Hunk>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hunk {
    pub header: String,
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// `add`, `del` or `ctx`.
    pub kind: &'static str,
    pub old_line: Option<u32>,
    pub new_line: Option<u32>,
    pub text: String,
}

/// Checks a repository path from a request: relative, `/`-separated, no `..`.
pub fn check_path(path: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("path {path:?} {why}"));
    if path.is_empty() || path.len() > 4096 {
        return bad("must be 1 to 4096 bytes");
    }
    if path.contains('\0') || path.contains('\\') {
        return bad("must not hold NUL or a backslash (use /)");
    }
    if path.starts_with('/')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return bad("must be relative to the repository, without empty, . or .. parts");
    }
    Ok(())
}

/// The diff of `path` in the repository at `root`, against `base` or HEAD.
pub fn file_diff(
    root: &Path,
    path: &str,
    base: Option<&str>,
) -> Result<Option<FileDiff>, ReportError> {
    let repo = open(root)?;
    let tree = match base {
        Some(b) => Some(resolve_base(&repo, b)?),
        None => repo.head().ok().and_then(|h| h.peel_to_tree().ok()),
    };
    let mut opts = DiffOptions::new();
    opts.pathspec(path)
        .disable_pathspec_match(true)
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .show_untracked_content(true)
        .context_lines(3);
    let diff = repo.diff_tree_to_workdir_with_index(tree.as_ref(), Some(&mut opts))?;
    let Some(delta) = diff.deltas().next() else {
        return Ok(None);
    };
    let status = match delta.status() {
        Delta::Added | Delta::Untracked => "added",
        Delta::Deleted => "deleted",
        Delta::Renamed => "renamed",
        _ => "modified",
    };
    let mut out = FileDiff {
        path: path.to_string(),
        base: base.map(str::to_string),
        status,
        binary: delta.flags().is_binary(),
        truncated: false,
        added: 0,
        removed: 0,
        hunks: Vec::new(),
    };
    let patch = Patch::from_diff(&diff, 0)?;
    match patch {
        Some(patch) if !patch.delta().flags().is_binary() => read_hunks(&patch, &mut out)?,
        _ => out.binary = true,
    }
    Ok(Some(out))
}

fn read_hunks(patch: &Patch<'_>, out: &mut FileDiff) -> Result<(), git2::Error> {
    let mut shown = 0;
    for h in 0..patch.num_hunks() {
        let (hunk, count) = patch.hunk(h)?;
        let mut lines = Vec::new();
        for l in 0..count {
            let line = patch.line_in_hunk(h, l)?;
            let kind = match line.origin() {
                '+' => "add",
                '-' => "del",
                ' ' => "ctx",
                _ => continue, // "no newline at end of file" and the like
            };
            match kind {
                "add" => out.added += 1,
                "del" => out.removed += 1,
                _ => {}
            }
            if shown >= MAX_LINES {
                out.truncated = true;
                continue;
            }
            shown += 1;
            let text = String::from_utf8_lossy(line.content());
            lines.push(Line {
                kind,
                old_line: line.old_lineno(),
                new_line: line.new_lineno(),
                text: text.trim_end_matches(['\n', '\r']).to_string(),
            });
        }
        if !lines.is_empty() {
            out.hunks.push(Hunk {
                header: String::from_utf8_lossy(hunk.header())
                    .trim_end()
                    .to_string(),
                lines,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit_all(repo: &git2::Repository, message: &str) {
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap();
    }

    #[test]
    fn modified_untracked_binary_huge_and_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let repo = git2::Repository::init(root).unwrap();
        std::fs::write(root.join("a.txt"), "one\ntwo\nthree\n").unwrap();
        std::fs::write(root.join("same.txt"), "same\n").unwrap();
        commit_all(&repo, "first");
        std::fs::write(root.join("a.txt"), "one\nTWO\nthree\nfour\n").unwrap();
        std::fs::create_dir(root.join("new")).unwrap();
        std::fs::write(root.join("new/b.rs"), "fn b() {}\n").unwrap();
        std::fs::write(root.join("blob.bin"), [0u8, 1, 2, 0, 255, 0]).unwrap();
        let huge: String = (0..3000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(root.join("huge.txt"), huge).unwrap();

        let a = file_diff(root, "a.txt", None).unwrap().unwrap();
        assert_eq!(
            (a.status, a.added, a.removed, a.binary),
            ("modified", 2, 1, false)
        );
        let lines = &a.hunks[0].lines;
        let del = lines.iter().find(|l| l.kind == "del").unwrap();
        assert_eq!(
            (del.text.as_str(), del.old_line, del.new_line),
            ("two", Some(2), None)
        );
        let add = lines.iter().find(|l| l.text == "four").unwrap();
        assert_eq!((add.kind, add.new_line), ("add", Some(4)));
        assert!(
            a.hunks[0].header.starts_with("@@ -1,3 +1,4 @@"),
            "{}",
            a.hunks[0].header
        );

        let b = file_diff(root, "new/b.rs", None).unwrap().unwrap();
        assert_eq!((b.status, b.added), ("added", 1));
        let bin = file_diff(root, "blob.bin", None).unwrap().unwrap();
        assert!(bin.binary && bin.hunks.is_empty(), "{bin:?}");
        let h = file_diff(root, "huge.txt", None).unwrap().unwrap();
        assert!(h.truncated, "cut");
        assert_eq!(h.added, 3000, "counted in full");
        let shown: usize = h.hunks.iter().map(|x| x.lines.len()).sum();
        assert_eq!(shown, MAX_LINES);
        assert!(file_diff(root, "same.txt", None).unwrap().is_none());

        // Against a base: the first commit, after a second one.
        commit_all(&repo, "second");
        let first = repo
            .head()
            .unwrap()
            .peel_to_commit()
            .unwrap()
            .parent(0)
            .unwrap()
            .id()
            .to_string();
        let again = file_diff(root, "a.txt", Some(&first)).unwrap().unwrap();
        assert_eq!(again.added, 2);
        assert!(
            file_diff(root, "a.txt", None).unwrap().is_none(),
            "clean at HEAD"
        );
        assert!(file_diff(root, "a.txt", Some("--help")).is_err());
    }

    #[test]
    fn paths_must_stay_in_the_repository() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a\\b",
            "./a",
            "a\0b",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "src/lib.rs", ".env", "docs/x.md"] {
            assert!(check_path(good).is_ok(), "{good:?}");
        }
    }
}
