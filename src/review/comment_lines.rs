//! Where a review comment's line is now, and the lines around it, read from
//! Git's objects (the recorded commits and the base), never from a worktree
//! an agent controls: the reading half of [`super::comments`].

use std::path::Path;

use git2::{DiffOptions, Oid, Patch, Repository};

use crate::error::{LResult, LauncherError};
use crate::model::{DiffSide, ReviewComment, Workspace};
use crate::policy::review_comments::{follow_base_line, follow_line, ChangedRun, Followed};

/// Lines shown on each side of a commented line in the send-back turn.
pub const CONTEXT_LINES: u32 = 3;
/// A file larger than this is not followed (its comments stay where they were).
const MAX_FOLLOWED_BYTES: usize = 4 * 1024 * 1024;

/// Where comment `c` stands on the version recorded as commit `now`. A file
/// Git cannot read as text leaves it open where it was.
pub(super) fn follow(git: &Repository, c: &ReviewComment, now: &str) -> Followed {
    let unchanged = Followed::Open { line: c.line };
    let read = |commit: &str| file_at(git, commit, &c.path);
    match c.side {
        DiffSide::New => {
            if c.commit == now {
                return unchanged;
            }
            let (Ok(was), Ok(is)) = (read(&c.commit), read(now)) else {
                return unchanged;
            };
            match changed_runs(&was.unwrap_or_default(), &is.unwrap_or_default()) {
                Some(runs) => follow_line(c.line, &runs),
                None => unchanged,
            }
        }
        DiffSide::Old => {
            let (Ok(base), Ok(was), Ok(is)) = (read(&c.base), read(&c.commit), read(now)) else {
                return unchanged;
            };
            let base = base.unwrap_or_default();
            let before = in_place_of(&base, &was.unwrap_or_default(), c.line);
            let now = in_place_of(&base, &is.unwrap_or_default(), c.line);
            follow_base_line(c.line, before.as_deref(), now.as_deref())
        }
    }
}

/// The bytes of `path` at `commit` (None: no such file there).
fn file_at(git: &Repository, commit: &str, path: &str) -> Result<Option<Vec<u8>>, git2::Error> {
    let tree = git.find_commit(Oid::from_str(commit)?)?.tree()?;
    let entry = match tree.get_path(Path::new(path)) {
        Ok(e) => e,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let blob = git.find_blob(entry.id())?;
    if blob.size() > MAX_FOLLOWED_BYTES {
        return Err(git2::Error::from_str("too large to follow"));
    }
    Ok(Some(blob.content().to_vec()))
}

fn zero_context() -> DiffOptions {
    let mut opts = DiffOptions::new();
    opts.context_lines(0);
    opts
}

/// The runs of lines that differ between two versions (None: binary).
fn changed_runs(was: &[u8], is: &[u8]) -> Option<Vec<ChangedRun>> {
    let patch = Patch::from_buffers(was, None, is, None, Some(&mut zero_context())).ok()?;
    if patch.delta().flags().is_binary() {
        return None;
    }
    (0..patch.num_hunks())
        .map(|h| {
            patch.hunk(h).ok().map(|(hunk, _)| ChangedRun {
                old_start: hunk.old_start(),
                old_lines: hunk.old_lines(),
                new_start: hunk.new_start(),
                new_lines: hunk.new_lines(),
            })
        })
        .collect()
}

/// What `version` has in place of the base's line `line` when the base's
/// line is changed or removed there (None: kept).
fn in_place_of(base: &[u8], version: &[u8], line: u32) -> Option<Vec<String>> {
    let patch = Patch::from_buffers(base, None, version, None, Some(&mut zero_context())).ok()?;
    for h in 0..patch.num_hunks() {
        let (hunk, count) = patch.hunk(h).ok()?;
        let end = hunk.old_start() + hunk.old_lines();
        if hunk.old_lines() == 0 || !(hunk.old_start()..end).contains(&line) {
            continue;
        }
        let added = (0..count)
            .filter_map(|l| patch.line_in_hunk(h, l).ok())
            .filter(|l| l.origin() == '+')
            .map(|l| text_of(l.content()))
            .collect();
        return Some(added);
    }
    None
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches(['\n', '\r'])
        .to_string()
}

pub(super) fn from_git(e: git2::Error) -> LauncherError {
    LauncherError::Internal(format!("reading the repository for review comments: {e}"))
}

/// The review part of a send-back turn: each draft with `path:line`, the
/// lines around it as the department's recorded worktree (`ws.commit`; the
/// base for a comment on the old side) has them, and the reviewer's words,
/// marked as the user's.
pub fn review_text(repo: &Path, ws: &Workspace, drafts: &[ReviewComment]) -> LResult<String> {
    if drafts.is_empty() {
        return Ok(String::new());
    }
    let git = Repository::open(repo).map_err(from_git)?;
    let now = ws.commit.clone().unwrap_or_default();
    let mut out = format!(
        "\n\nThe user's review: {} comment{} on lines of your changes. Each comment is the \
         user's own words; act on each one.\n",
        drafts.len(),
        if drafts.len() == 1 { "" } else { "s" }
    );
    for (i, c) in drafts.iter().enumerate() {
        let (line, source, where_) = match c.side {
            DiffSide::New => {
                let line = if now.is_empty() {
                    c.line
                } else {
                    follow(&git, c, &now).line()
                };
                (
                    line,
                    if now.is_empty() { &c.commit } else { &now },
                    "in your worktree",
                )
            }
            DiffSide::Old => (
                c.line,
                &c.base,
                "in the base you started from (a line your change removed or replaced)",
            ),
        };
        out.push_str(&format!("\n{}. {}:{line}\n", i + 1, c.path));
        let text = file_at(&git, source, &c.path).ok().flatten();
        match text {
            Some(bytes) => {
                out.push_str(&format!("   The lines around it {where_}:\n"));
                out.push_str(&around(&String::from_utf8_lossy(&bytes), line));
            }
            None => out.push_str(&format!("   ({} is not there {where_}.)\n", c.path)),
        }
        out.push_str("   The user's comment (the user's own words):\n");
        for l in c.body.lines() {
            out.push_str(&format!("   | {l}\n"));
        }
    }
    Ok(out)
}

/// The lines around line `line` of `path` as commit `commit` has them
/// (numbered, the line marked), read from Git's objects; None when the file
/// is not there or cannot be read.
pub fn lines_at(repo: &Path, commit: &str, path: &str, line: u32) -> Option<String> {
    let git = Repository::open(repo).ok()?;
    let bytes = file_at(&git, commit, path).ok().flatten()?;
    Some(around(&String::from_utf8_lossy(&bytes), line))
}

/// Characters of one context line kept in the turn (a minified file's line
/// may be megabytes long).
const CONTEXT_LINE_CHARS: usize = 400;

/// Lines `line - CONTEXT_LINES ..= line + CONTEXT_LINES` of `text`, numbered,
/// the commented one marked `>`, each cut at [`CONTEXT_LINE_CHARS`].
fn around(text: &str, line: u32) -> String {
    let first = line.saturating_sub(CONTEXT_LINES).max(1);
    let last = line + CONTEXT_LINES;
    text.lines()
        .enumerate()
        .map(|(i, l)| (i as u32 + 1, l))
        .filter(|(n, _)| (first..=last).contains(n))
        .map(|(n, l)| {
            let mark = if n == line { ">" } else { " " };
            let cut = match l.char_indices().nth(CONTEXT_LINE_CHARS) {
                Some((at, _)) => format!("{}…", &l[..at]),
                None => l.to_string(),
            };
            // A department's line, shown as agent words are everywhere.
            let cut = crate::sanitize::shown(&cut);
            format!("   {mark} {n:>4} | {cut}\n")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_around_a_comment_are_numbered_and_it_is_marked() {
        let text = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let got = around(text, 2);
        assert_eq!(
            got,
            "        1 | a\n   >    2 | b\n        3 | c\n        4 | d\n        5 | e\n"
        );
    }

    /// Issue 69 item 7: a line's bidirectional marks and controls are
    /// written out, as everywhere agent words are shown.
    #[test]
    fn a_quoted_line_cannot_reorder_or_hide_what_follows() {
        let got = around("let ok = \"\u{202e}\u{2066}evil\u{1b}[2K\";\n", 1);
        assert_eq!(
            got,
            "   >    1 | let ok = \"\\u{202e}\\u{2066}evil\\u{001b}[2K\";\n"
        );
    }

    #[test]
    fn a_long_context_line_is_cut() {
        let long = "x".repeat(5000);
        let got = around(&format!("a\n{long}\n"), 1);
        assert!(
            got.contains(&format!("| {}…\n", "x".repeat(CONTEXT_LINE_CHARS))),
            "{got}"
        );
        assert!(got.len() < 600, "{}", got.len());
    }

    #[test]
    fn changed_runs_number_lines_as_git_does() {
        let runs = changed_runs(b"a\nb\nc\nd\n", b"a\nB\nc\nx\nd\n").unwrap();
        assert_eq!(
            runs,
            vec![
                ChangedRun {
                    old_start: 2,
                    old_lines: 1,
                    new_start: 2,
                    new_lines: 1
                },
                ChangedRun {
                    old_start: 3,
                    old_lines: 0,
                    new_start: 4,
                    new_lines: 1
                },
            ]
        );
        assert_eq!(
            in_place_of(b"a\nb\nc\n", b"a\nB\nc\n", 2),
            Some(vec!["B".to_string()])
        );
        assert_eq!(in_place_of(b"a\nb\nc\n", b"a\nb\nc\nd\n", 2), None);
    }
}
