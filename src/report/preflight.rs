//! Preflight `portability_reference_scan`: machine-local paths in governance docs.
//!
//! Workflow documents are read by agents on other machines, so a path like
//! `/home/alice/repo` or `E:\work` in them is a bug. Showing such a path as an
//! example is fine, though, so a hit inside a fenced block, an indented code line or
//! inline code is only an exception; every other hit is a violation to review.

use std::path::Path;

use git2::Repository;
use serde::{Deserialize, Serialize};
use walkdir::WalkDir;

use crate::glob::Glob;
pub use crate::policy::Decision;

/// What `scope` says in the report.
pub const SCOPE: &str = "governance markdown (portability_paths)";

/// Files larger than this are not governance documents; they are skipped.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Longest excerpt, in characters.
const EXCERPT_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PatternKind {
    PosixHome,
    MacUsers,
    WindowsDrive,
    FileUri,
    HomeShortcut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Classification {
    Violation,
    Example,
}

impl PatternKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PatternKind::PosixHome => "POSIX_HOME",
            PatternKind::MacUsers => "MAC_USERS",
            PatternKind::WindowsDrive => "WINDOWS_DRIVE",
            PatternKind::FileUri => "FILE_URI",
            PatternKind::HomeShortcut => "HOME_SHORTCUT",
        }
    }
}

impl Classification {
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Violation => "violation",
            Classification::Example => "example",
        }
    }
}

/// One machine-local reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub path: String,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub pattern: PatternKind,
    pub excerpt: String,
    pub classification: Classification,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortabilityScan {
    pub decision: Decision,
    pub scope: String,
    pub scanned_files: Vec<String>,
    pub violations: Vec<Finding>,
    pub exceptions: Vec<Finding>,
}

impl PortabilityScan {
    /// Builds the check from the scanned files and all their findings.
    pub fn from_findings(scanned_files: Vec<String>, findings: Vec<Finding>) -> PortabilityScan {
        let (violations, exceptions): (Vec<_>, Vec<_>) = findings
            .into_iter()
            .partition(|f| f.classification == Classification::Violation);
        PortabilityScan {
            decision: if violations.is_empty() {
                Decision::Pass
            } else {
                Decision::Review
            },
            scope: SCOPE.to_string(),
            scanned_files,
            violations,
            exceptions,
        }
    }
}

/// Scans the files under `root` that match `patterns` (report glob semantics).
///
/// `.git` and folders Git ignores are not entered; symlinks, unreadable files and
/// files that are not UTF-8 are skipped without mention.
pub fn scan(repo: &Repository, root: &Path, patterns: &[String]) -> PortabilityScan {
    let globs = globs_of(patterns);
    let starts: Vec<&str> = globs.iter().map(Glob::literal_start).collect();
    let ignored = |rel: &str| repo.is_path_ignored(rel).unwrap_or(false);
    // A folder is worth entering only if some pattern's literal start is compatible.
    let wanted_dir = |dir: &str| {
        starts
            .iter()
            .any(|s| s.starts_with(dir) || dir.starts_with(s))
    };

    let mut scanned = Vec::new();
    let mut findings = Vec::new();
    let walk = WalkDir::new(root).follow_links(false).into_iter();
    let walk = walk.filter_entry(|e| {
        if e.depth() == 0 {
            return true;
        }
        if e.file_name() == ".git" {
            return false;
        }
        if !e.file_type().is_dir() {
            return true;
        }
        match relative(root, e.path()) {
            Some(rel) => {
                let dir = format!("{rel}/");
                wanted_dir(&dir) && !ignored(&dir)
            }
            None => false,
        }
    });
    for entry in walk.filter_map(Result::ok) {
        if !entry.file_type().is_file() {
            continue;
        }
        let Some(rel) = relative(root, entry.path()) else {
            continue;
        };
        if !globs.iter().any(|g| g.is_match(&rel)) || ignored(&rel) {
            continue;
        }
        if entry.metadata().map_or(true, |m| m.len() > MAX_FILE_BYTES) {
            continue;
        }
        let Ok(bytes) = std::fs::read(entry.path()) else {
            continue;
        };
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        findings.extend(scan_text(&rel, &text));
        scanned.push(rel);
    }
    scanned.sort();
    findings.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    PortabilityScan::from_findings(scanned, findings)
}

/// The scan's globs: `dir/**/*.md` also means the files directly in `dir`
/// (as the Python tool scans).
fn globs_of(patterns: &[String]) -> Vec<Glob> {
    patterns
        .iter()
        .flat_map(|p| {
            let direct = p.contains("/**/").then(|| p.replacen("/**/", "/", 1));
            std::iter::once(p.clone()).chain(direct)
        })
        .map(|p| Glob::new(&p))
        .collect()
}

/// [`scan`] of the files a recorded tree holds (a department's commit), read
/// from their blobs: what was recorded, not what its folder holds now.
pub fn scan_tree(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    patterns: &[String],
) -> Result<PortabilityScan, git2::Error> {
    let globs = globs_of(patterns);
    let mut scanned = Vec::new();
    let mut findings = Vec::new();
    let mut files = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() == Some(git2::ObjectType::Blob) && entry.filemode() != 0o120000 {
            if let Some(name) = entry.name() {
                files.push((format!("{dir}{name}"), entry.id()));
            }
        }
        git2::TreeWalkResult::Ok
    })?;
    for (rel, id) in files {
        if !globs.iter().any(|g| g.is_match(&rel)) {
            continue;
        }
        let blob = repo.find_blob(id)?;
        if blob.size() as u64 > MAX_FILE_BYTES {
            continue;
        }
        let Ok(text) = std::str::from_utf8(blob.content()) else {
            continue;
        };
        findings.extend(scan_text(&rel, text));
        scanned.push(rel);
    }
    scanned.sort();
    findings.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    Ok(PortabilityScan::from_findings(scanned, findings))
}

/// `path` relative to `root`, joined with `/`; `None` if not valid UTF-8.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.iter().map(|c| c.to_str()).collect();
    Some(parts?.join("/"))
}

/// Finds every machine-local reference in one document, classifying each.
pub fn scan_text(path: &str, text: &str) -> Vec<Finding> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut findings = Vec::new();
    // The open fence's character and length, while inside a fenced block.
    let mut fence: Option<(char, usize)> = None;
    for (index, line) in text.lines().enumerate() {
        let marker = fence_marker(line);
        let in_fence = match (fence, marker) {
            (Some((c, n)), Some((mc, mn, rest)))
                if mc == c && mn >= n && rest.trim().is_empty() =>
            {
                fence = None; // closing fence line
                true
            }
            (Some(_), _) => true,
            (None, Some((mc, mn, _))) => {
                fence = Some((mc, mn));
                true
            }
            (None, None) => false,
        };
        let hits = find_hits(line);
        if hits.is_empty() {
            continue;
        }
        let indented = line.starts_with("    ") || line.starts_with('\t');
        let spans = if in_fence || indented {
            Vec::new()
        } else {
            inline_code_spans(line)
        };
        for (byte, kind) in hits {
            let example = in_fence || indented || spans.iter().any(|&(s, e)| s <= byte && byte < e);
            findings.push(Finding {
                path: path.to_string(),
                line: index + 1,
                column: line[..byte].chars().count() + 1,
                pattern: kind,
                excerpt: excerpt(line, byte),
                classification: if example {
                    Classification::Example
                } else {
                    Classification::Violation
                },
            });
        }
    }
    findings
}

/// A fence line (up to 3 spaces, then 3+ backticks or tildes): (char, length, rest).
fn fence_marker(line: &str) -> Option<(char, usize, &str)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let c = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = trimmed.chars().take_while(|x| *x == c).count();
    (n >= 3).then(|| (c, n, &trimmed[n..]))
}

/// Every hit on a line: (byte offset, kind), in order of offset.
fn find_hits(line: &str) -> Vec<(usize, PatternKind)> {
    const LITERALS: [(&str, PatternKind); 4] = [
        ("/home/", PatternKind::PosixHome),
        ("/Users/", PatternKind::MacUsers),
        ("file://", PatternKind::FileUri),
        ("~/", PatternKind::HomeShortcut),
    ];
    let mut hits = Vec::new();
    for (needle, kind) in LITERALS {
        hits.extend(line.match_indices(needle).map(|(i, _)| (i, kind)));
    }
    // A drive letter: one ASCII letter not right after an ASCII letter or digit
    // (the Python tool's `(?<![A-Za-z0-9])`), then `:\` or `:/`.
    let bytes = line.as_bytes();
    for i in 0..bytes.len().saturating_sub(2) {
        if bytes[i].is_ascii_alphabetic()
            && bytes[i + 1] == b':'
            && (bytes[i + 2] == b'\\' || bytes[i + 2] == b'/')
            && !line[..i]
                .chars()
                .next_back()
                .is_some_and(|p| p.is_ascii_alphanumeric())
        {
            hits.push((i, PatternKind::WindowsDrive));
        }
    }
    hits.sort_by_key(|&(i, _)| i);
    hits
}

/// Byte ranges of inline code spans: a run of N backticks up to the next run of exactly N.
fn inline_code_spans(line: &str) -> Vec<(usize, usize)> {
    let bytes = line.as_bytes();
    let run_at = |i: usize| bytes[i..].iter().take_while(|b| **b == b'`').count();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let open = run_at(i);
        let mut j = i + open;
        let mut close = None;
        while j < bytes.len() {
            if bytes[j] == b'`' {
                let run = run_at(j);
                if run == open {
                    close = Some(j + run);
                    break;
                }
                j += run;
            } else {
                j += 1;
            }
        }
        match close {
            Some(end) => {
                spans.push((i, end));
                i = end;
            }
            None => i += open, // unmatched backticks are literal text
        }
    }
    spans
}

/// The trimmed line, or a window of it around the hit when it is long.
fn excerpt(line: &str, hit: usize) -> String {
    let trimmed = line.trim();
    let total = trimmed.chars().count();
    if total <= EXCERPT_CHARS {
        return trimmed.to_string();
    }
    let lead = line.len() - line.trim_start().len();
    let hit_char = line[lead..hit.max(lead)].chars().count();
    let start = hit_char
        .saturating_sub(EXCERPT_CHARS / 3)
        .min(total - EXCERPT_CHARS);
    let window: String = trimmed.chars().skip(start).take(EXCERPT_CHARS).collect();
    let before = if start > 0 { "…" } else { "" };
    let after = if start + EXCERPT_CHARS < total {
        "…"
    } else {
        ""
    };
    format!("{before}{window}{after}")
}

#[cfg(test)]
#[path = "preflight_tests.rs"]
mod tests;
