//! What a request or a command could change in and around a Git repository,
//! read before and after it: refs, objects, config, every file (inside and in
//! a folder outside), and the launcher's state rows and audit lines.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Sorted relative paths of everything under `root` (symlinks not followed),
/// skipping any path under one of `skip` (relative to `root`).
pub fn tree(root: &Path, skip: &[&str]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap_or(entry.path())
            .to_string_lossy()
            .into_owned();
        if rel.is_empty()
            || skip
                .iter()
                .any(|s| rel == *s || rel.starts_with(&format!("{s}/")))
        {
            continue;
        }
        out.insert(rel);
    }
    out
}

/// What a request served by our code could change in and around a Git
/// repository. The launcher never runs the git CLI: it reaches Git through
/// libgit2 (refs, HEAD, config, objects, the index and work tree files), and
/// its own state (database rows, audit lines) and any file it might write.
#[derive(Debug, PartialEq)]
pub struct Footprint {
    /// Every reference, HEAD included: name -> target (or `-> symbolic target`).
    pub refs: BTreeMap<String, String>,
    /// Every object id in the object database (loose and packed).
    pub objects: BTreeSet<String>,
    /// `.git/config`, as text.
    pub config: String,
    /// Every file under the repository (`.git` included, the state folder not):
    /// path -> SHA-256 of its content (`dir` for a folder, `link` for a link).
    pub files: BTreeMap<String, String>,
    /// Names in a folder outside the repository that requests point at.
    pub outside: BTreeSet<String>,
    /// Rows per table of the state database.
    pub rows: BTreeMap<String, i64>,
    /// Lines of the audit log.
    pub audit_lines: usize,
}

impl Footprint {
    /// Reads it all now. `state_dir` (None: no launcher state) lies inside
    /// `repo`; `outside` does not.
    pub fn take(repo: &Path, state_dir: Option<&Path>, outside: &Path) -> Footprint {
        let git = git2::Repository::open(repo).expect("open the repository");
        let mut refs = BTreeMap::new();
        for r in git.references().unwrap().flatten() {
            let name = r.name().unwrap_or("?").to_string();
            let target = match r.symbolic_target() {
                Some(t) => format!("-> {t}"),
                None => r.target().map(|o| o.to_string()).unwrap_or_default(),
            };
            refs.insert(name, target);
        }
        let head = git.find_reference("HEAD").unwrap();
        let head = match head.symbolic_target() {
            Some(t) => format!("-> {t}"),
            None => head.target().map(|o| o.to_string()).unwrap_or_default(),
        };
        refs.insert("HEAD".into(), head);
        let mut objects = BTreeSet::new();
        git.odb()
            .unwrap()
            .foreach(|id| {
                objects.insert(id.to_string());
                true
            })
            .unwrap();
        let config = std::fs::read_to_string(git.path().join("config")).unwrap_or_default();
        let skip: Vec<String> = state_dir
            .map(|d| {
                d.strip_prefix(repo)
                    .expect("the state folder is inside the repository")
                    .to_string_lossy()
                    .into_owned()
            })
            .into_iter()
            .collect();
        let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
        let mut files = BTreeMap::new();
        for rel in tree(repo, &skip) {
            let path = repo.join(&rel);
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let what = if meta.is_dir() {
                "dir".to_string()
            } else if meta.file_type().is_symlink() {
                "link".to_string()
            } else {
                codex_governance::mailbox::ingest::report_file::sha256_hex(
                    &std::fs::read(&path).unwrap(),
                )
            };
            files.insert(rel, what);
        }
        let outside = tree(outside, &[]);
        let (rows, audit_lines) = match state_dir {
            Some(dir) => state_of(dir),
            None => (BTreeMap::new(), 0),
        };
        Footprint {
            refs,
            objects,
            config,
            files,
            outside,
            rows,
            audit_lines,
        }
    }

    /// What differs from `before`, one line per change (empty: nothing).
    pub fn changes_since(&self, before: &Footprint) -> Vec<String> {
        fn diff<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
            what: &str,
            a: &BTreeMap<K, V>,
            b: &BTreeMap<K, V>,
            out: &mut Vec<String>,
        ) {
            for (k, v) in b {
                match a.get(k) {
                    None => out.push(format!("{what} added: {k:?} = {v:?}")),
                    Some(old) if old != v => {
                        out.push(format!("{what} changed: {k:?}: {old:?} -> {v:?}"))
                    }
                    _ => {}
                }
            }
            for k in a.keys().filter(|k| !b.contains_key(k)) {
                out.push(format!("{what} removed: {k:?}"));
            }
        }
        let mut out = Vec::new();
        diff("ref", &before.refs, &self.refs, &mut out);
        let set = |s: &BTreeSet<String>| s.iter().map(|k| (k.clone(), ())).collect();
        let (o1, o2): (BTreeMap<_, _>, BTreeMap<_, _>) = (set(&before.objects), set(&self.objects));
        diff("object", &o1, &o2, &mut out);
        if before.config != self.config {
            out.push(format!(
                ".git/config changed: {:?} -> {:?}",
                before.config, self.config
            ));
        }
        diff(
            "file in the repository",
            &before.files,
            &self.files,
            &mut out,
        );
        let (x1, x2): (BTreeMap<_, _>, BTreeMap<_, _>) = (set(&before.outside), set(&self.outside));
        diff("file outside the repository", &x1, &x2, &mut out);
        diff("state database rows", &before.rows, &self.rows, &mut out);
        if before.audit_lines != self.audit_lines {
            out.push(format!(
                "audit lines: {} -> {}",
                before.audit_lines, self.audit_lines
            ));
        }
        out
    }
}

/// Rows per table of the state database, and the audit log's lines.
fn state_of(dir: &Path) -> (BTreeMap<String, i64>, usize) {
    let db = rusqlite::Connection::open_with_flags(
        dir.join(codex_governance::store::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the state database");
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .flatten()
        .collect();
    let rows = tables
        .into_iter()
        .map(|t| {
            let n: i64 = db
                .query_row(&format!("SELECT COUNT(*) FROM \"{t}\""), [], |r| r.get(0))
                .unwrap();
            (t, n)
        })
        .collect();
    let audit =
        std::fs::read_to_string(dir.join("codex_governance_audit.jsonl")).unwrap_or_default();
    (rows, audit.lines().count())
}
