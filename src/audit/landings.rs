//! `audit verify`'s look at the branch (issue 73): every commit on it that
//! carries the launcher's `Governance-Verified:` trailer must have its
//! `landing_verified` line in the (hash-chained) log, naming that commit and
//! its tree. A trailer anyone can type; the line only the launcher writes
//! after the checks passed on that tree.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

pub use crate::model::VERIFIED_TRAILER as TRAILER;

/// How far back the branch is read.
const MAX_COMMITS: usize = 100_000;

/// What the branch holds of the launcher's landings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Landings {
    /// Commits with the trailer and their audit line.
    pub verified: usize,
    /// Commits with the trailer and no audit line naming them and their
    /// tree: the trailer says what the log does not.
    pub unbacked: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LandingsError {
    #[error("the repository's branch cannot be read: {0}")]
    Git(#[from] git2::Error),
    #[error("the audit log cannot be read: {0}")]
    Log(#[from] std::io::Error),
}

/// Reads the branch checked out in `repo` against the audit log at `log`.
pub fn check(repo: &Path, log: &Path) -> Result<Landings, LandingsError> {
    let audited = verified_lines(log)?;
    let git = git2::Repository::discover(repo)?;
    let mut found = Landings::default();
    let Ok(head) = git.head() else {
        return Ok(found);
    };
    let Some(tip) = head.target() else {
        return Ok(found);
    };
    let mut walk = git.revwalk()?;
    walk.push(tip)?;
    walk.simplify_first_parent()?;
    for id in walk.take(MAX_COMMITS) {
        let commit = git.find_commit(id?)?;
        let message = String::from_utf8_lossy(commit.message_bytes());
        if !message.lines().any(|l| l.starts_with(TRAILER)) {
            continue;
        }
        let id = commit.id().to_string();
        match audited.get(&id) {
            Some(tree) if *tree == commit.tree_id().to_string() => found.verified += 1,
            _ => found.unbacked.push(id),
        }
    }
    Ok(found)
}

/// `landing_verified` lines of the log: commit → tree.
fn verified_lines(log: &Path) -> Result<HashMap<String, String>, std::io::Error> {
    let mut lines = HashMap::new();
    let file = match std::fs::File::open(log) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(lines),
        Err(e) => return Err(e),
    };
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        if !line.contains("\"landing_verified\"") {
            continue;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if v["event"] != "landing_verified" {
            continue;
        }
        if let (Some(commit), Some(tree)) = (v["commit"].as_str(), v["tree"].as_str()) {
            lines.insert(commit.to_string(), tree.to_string());
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(git: &git2::Repository, message: &str, file: &str) -> (String, String) {
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let blob = git.blob(file.as_bytes()).unwrap();
        let mut tb = git.treebuilder(None).unwrap();
        tb.insert("f", blob, 0o100644).unwrap();
        let tree = git.find_tree(tb.write().unwrap()).unwrap();
        let parents: Vec<git2::Commit> = git
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .into_iter()
            .collect();
        let parents: Vec<&git2::Commit> = parents.iter().collect();
        let id = git
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap();
        (id.to_string(), tree.id().to_string())
    }

    #[test]
    fn a_trailer_without_its_audit_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let git = git2::Repository::init(dir.path()).unwrap();
        commit(&git, "base\n", "0");
        let (landed, tree) = commit(&git, "a\n\nGovernance-Verified: cargo test\n", "1");
        let (typed, _) = commit(&git, "b\n\nGovernance-Verified: cargo test\n", "2");
        let log = dir.path().join("audit.jsonl");
        std::fs::write(
            &log,
            format!(
                "{{\"event\":\"landing_verified\",\"commit\":\"{landed}\",\"tree\":\"{tree}\"}}\n\
                 {{\"event\":\"landing_verified\",\"commit\":\"{typed}\",\"tree\":\"0000\"}}\n"
            ),
        )
        .unwrap();
        let found = check(dir.path(), &log).unwrap();
        assert_eq!(found.verified, 1);
        assert_eq!(found.unbacked, [typed], "its line names another tree");
    }
}
