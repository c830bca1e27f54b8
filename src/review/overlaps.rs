//! Which other departments' waiting work conflicts with this one's (issue 37):
//! the review drawer names them before the user applies either, so that two
//! departments that both edit the same lines are seen as a pair, not found out
//! by the second Apply. Each pair's recorded commits are merged in memory
//! (libgit2, from their merge base), nothing is written; for a file both edit
//! in the same place, the line next to the clash says where ("both change
//! README.md before '## Usage'").

use std::path::Path;

use git2::{IndexEntry, MergeFileOptions, Oid, Repository};

use crate::model::Workspace;
use crate::views::changes::{ConflictSpot, DepartmentConflict};

/// A line quoted from a file is cut to this many characters.
const QUOTE_CHARS: usize = 60;

/// Another department's waiting work, as [`department_conflicts`] needs it.
pub struct Neighbour<'a> {
    pub session_id: &'a str,
    pub department: Option<&'a str>,
    pub workspace: &'a Workspace,
}

/// The departments among `others` whose recorded commit conflicts with
/// `commit` (this department's). A pair git cannot read (a commit gone) is
/// left out rather than failing the drawer.
pub fn department_conflicts(
    repo: &Path,
    commit: &str,
    others: &[Neighbour<'_>],
) -> Result<Vec<DepartmentConflict>, git2::Error> {
    let git = Repository::open(repo)?;
    let ours = Oid::from_str(commit)?;
    let mut found = Vec::new();
    for n in others {
        let Some(theirs) = n.workspace.commit.as_deref() else {
            continue;
        };
        let Ok(theirs) = Oid::from_str(theirs) else {
            continue;
        };
        match clashes(&git, ours, theirs, &n.workspace.base) {
            Ok(spots) if !spots.is_empty() => found.push(DepartmentConflict {
                session_id: n.session_id.to_string(),
                department: n.department.map(str::to_string),
                spots,
            }),
            Ok(_) => {}
            Err(e) => tracing::debug!("cannot compare with {}: {e}", n.session_id),
        }
    }
    Ok(found)
}

/// The files where merging `theirs` into `ours` conflicts, each with its place.
fn clashes(
    git: &Repository,
    ours: Oid,
    theirs: Oid,
    base: &str,
) -> Result<Vec<ConflictSpot>, git2::Error> {
    let ancestor = match git.merge_base(ours, theirs) {
        Ok(oid) => oid,
        Err(_) => Oid::from_str(base)?,
    };
    let tree = |oid: Oid| git.find_commit(oid).and_then(|c| c.tree());
    let merged = git.merge_trees(&tree(ancestor)?, &tree(ours)?, &tree(theirs)?, None)?;
    if !merged.has_conflicts() {
        return Ok(Vec::new());
    }
    let mut spots = Vec::new();
    for c in merged.conflicts()? {
        let c = c?;
        let Some(entry) = c.our.as_ref().or(c.their.as_ref()).or(c.ancestor.as_ref()) else {
            continue;
        };
        let path = String::from_utf8_lossy(&entry.path).into_owned();
        let (before_line, after_line) = match (&c.ancestor, &c.our, &c.their) {
            (Some(a), Some(o), Some(t)) => place(git, a, o, t).unwrap_or_default(),
            _ => (None, None),
        };
        spots.push(ConflictSpot {
            path,
            before_line,
            after_line,
        });
    }
    spots.sort_by(|a, b| a.path.cmp(&b.path));
    spots.dedup_by(|a, b| a.path == b.path);
    Ok(spots)
}

/// The line after the first clash of a file (else the line before it).
fn place(
    git: &Repository,
    ancestor: &IndexEntry,
    ours: &IndexEntry,
    theirs: &IndexEntry,
) -> Result<(Option<String>, Option<String>), git2::Error> {
    let mut opts = MergeFileOptions::new();
    opts.marker_size(7);
    let merged = git.merge_file_from_index(ancestor, ours, theirs, Some(&mut opts))?;
    let text = String::from_utf8_lossy(merged.content()).into_owned();
    Ok(around_first_clash(&text))
}

/// In merged text with conflict markers: the first non-blank line after the
/// first clash, else the last non-blank line before it.
fn around_first_clash(text: &str) -> (Option<String>, Option<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| l.starts_with("<<<<<<<")) else {
        return (None, None);
    };
    let end = lines[start..]
        .iter()
        .position(|l| l.starts_with(">>>>>>>"))
        .map(|i| start + i);
    let after = end.and_then(|end| {
        lines[end + 1..]
            .iter()
            .find(|l| !l.trim().is_empty() && !l.starts_with("<<<<<<<"))
    });
    if let Some(line) = after {
        return (Some(quote(line)), None);
    }
    let before = lines[..start].iter().rev().find(|l| !l.trim().is_empty());
    (None, before.map(|l| quote(l)))
}

/// A line trimmed and cut on a character boundary.
fn quote(line: &str) -> String {
    let line = line.trim();
    match line.char_indices().nth(QUOTE_CHARS) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn commit_files(git: &Repository, parent: Option<Oid>, files: &[(&str, &str)]) -> Oid {
        let mut builder = match parent {
            Some(p) => git.treebuilder(Some(&git.find_commit(p).unwrap().tree().unwrap())),
            None => git.treebuilder(None),
        }
        .unwrap();
        for (path, text) in files {
            let blob = git.blob(text.as_bytes()).unwrap();
            builder.insert(path, blob, 0o100644).unwrap();
        }
        let tree = git.find_tree(builder.write().unwrap()).unwrap();
        let who = git2::Signature::now("t", "t@example.invalid").unwrap();
        let parents: Vec<git2::Commit<'_>> = parent
            .map(|p| git.find_commit(p).unwrap())
            .into_iter()
            .collect();
        let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        git.commit(None, &who, &who, "c", &tree, &refs).unwrap()
    }

    fn workspace(base: Oid, commit: Oid) -> Workspace {
        let mut ws = Workspace::new("w".into(), "b".into(), base.to_string(), "n".into());
        ws.commit = Some(commit.to_string());
        ws
    }

    #[test]
    fn two_departments_inserting_at_one_place_are_named_with_the_line_after() {
        let dir = tempfile::tempdir().unwrap();
        let git = Repository::init(dir.path()).unwrap();
        let readme = "# Project\n\nIntro.\n\n## Usage\n\nRun it.\n";
        let base = commit_files(&git, None, &[("README.md", readme), ("a.txt", "a\n")]);
        let docs = commit_files(
            &git,
            Some(base),
            &[(
                "README.md",
                &readme.replace("## Usage", "## Install\n\nnpm i\n\n## Usage"),
            )],
        );
        let code = commit_files(
            &git,
            Some(base),
            &[(
                "README.md",
                &readme.replace("## Usage", "## Build\n\nmake\n\n## Usage"),
            )],
        );
        let apart = commit_files(&git, Some(base), &[("a.txt", "b\n")]);
        let (w_code, w_apart) = (workspace(base, code), workspace(base, apart));
        let others = [
            Neighbour {
                session_id: "lingyubu-1",
                department: Some("lingyubu"),
                workspace: &w_code,
            },
            Neighbour {
                session_id: "gongchengbu-1",
                department: Some("gongchengbu"),
                workspace: &w_apart,
            },
        ];
        let found = department_conflicts(dir.path(), &docs.to_string(), &others).unwrap();
        assert_eq!(
            found,
            vec![DepartmentConflict {
                session_id: "lingyubu-1".into(),
                department: Some("lingyubu".into()),
                spots: vec![ConflictSpot {
                    path: "README.md".into(),
                    before_line: Some("## Usage".into()),
                    after_line: None,
                }],
            }],
            "only the department editing the same place"
        );
        assert!(Path::new(dir.path()).join(".git").is_dir());
    }

    #[test]
    fn a_clash_at_the_end_is_placed_after_the_last_line_and_quotes_are_cut_whole() {
        let text = "one\ntwo\n<<<<<<< ours\nx\n=======\ny\n>>>>>>> theirs\n";
        assert_eq!(around_first_clash(text), (None, Some("two".into())));
        let long = "治".repeat(QUOTE_CHARS + 5);
        let q = quote(&long);
        assert_eq!(q.chars().count(), QUOTE_CHARS + 1);
        assert!(q.ends_with('…'));
    }
}
