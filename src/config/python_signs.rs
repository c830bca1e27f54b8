//! Whether a repository had the Python tool: its files now, its folder in the
//! Git history, or its runtime folder. `init` writes the Python tool's own
//! defaults there (a team switching keeps its routing), and the defaults
//! fitted to the repository elsewhere.

use std::path::Path;

/// The Python tool's installed layout inside a repository.
const PYTHON_TOOL_DIR: &str = "tools/codex_governance";
/// Its program files, in the installed layout or at a standalone root.
const PYTHON_FILES: &[&str] = &[
    "codex_governance.py",
    "codex_launcher.py",
    "tools/codex_governance/codex_governance.py",
    "tools/codex_governance/codex_launcher.py",
];
/// Commits of history looked at, newest first: a team that switched removed
/// the Python tool lately, and every `report` and start pays for the walk
/// (each commit's tree is read), so it stays short.
const HISTORY_LIMIT: usize = 2_000;
/// Bytes of the audit log's first line read to tell whose log it is.
const FIRST_LINE_BYTES: u64 = 64 * 1024;

/// What shows that `repo` had the Python tool, in words; None when nothing does.
pub fn python_tool_signs(repo: &Path) -> Option<String> {
    if repo.join(PYTHON_TOOL_DIR).is_dir() {
        return Some(format!("{PYTHON_TOOL_DIR}/ exists"));
    }
    if let Some(f) = PYTHON_FILES.iter().find(|f| repo.join(f).is_file()) {
        return Some(format!("{f} exists"));
    }
    if let Some(what) = python_runtime_folder(&repo.join(".tmp")) {
        return Some(what);
    }
    in_history(repo)
}

/// The Python tool's `.tmp/`: prompt files named `YYYYmmdd-HHMMSS-<role>.txt`,
/// or an audit log whose lines carry no hash chain.
fn python_runtime_folder(tmp: &Path) -> Option<String> {
    let prompts = tmp.join("codex_governance_prompts");
    let python_prompt = |name: &str| {
        let b = name.as_bytes();
        name.ends_with(".txt")
            && b.len() > 16
            && b[..8].iter().all(u8::is_ascii_digit)
            && b[8] == b'-'
            && b[9..15].iter().all(u8::is_ascii_digit)
            && b[15] == b'-'
    };
    let found = std::fs::read_dir(&prompts).ok().and_then(|entries| {
        entries
            .flatten()
            .find(|e| python_prompt(&e.file_name().to_string_lossy()))
    });
    if found.is_some() {
        return Some(format!(
            "{} holds the Python tool's prompts",
            prompts.display()
        ));
    }
    let audit = tmp.join("codex_governance_audit.jsonl");
    // Its first line only (a launcher's own log may be large), from a
    // regular file (never a link, a FIFO or a device).
    let mut first = String::new();
    let file = crate::files::open_regular(&audit)?;
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(std::io::Read::take(file, FIRST_LINE_BYTES)),
        &mut first,
    )
    .ok()?;
    let line: serde_json::Value = serde_json::from_str(first.trim_end()).ok()?;
    (line.get("event").is_some() && line.get("hash").is_none())
        .then(|| format!("{} is the Python tool's audit log", audit.display()))
}

/// A commit of the repository's history that held the Python tool.
fn in_history(repo: &Path) -> Option<String> {
    let git = git2::Repository::open(repo).ok()?;
    let mut walk = git.revwalk().ok()?;
    walk.push_head().ok()?;
    for oid in walk.take(HISTORY_LIMIT).flatten() {
        let Ok(tree) = git.find_commit(oid).and_then(|c| c.tree()) else {
            continue;
        };
        let held = [PYTHON_TOOL_DIR, "codex_governance.py"]
            .iter()
            .find(|p| tree.get_path(Path::new(p)).is_ok());
        if let Some(p) = held {
            return Some(format!("commit {:.10} held {p}", oid.to_string()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn each_sign_of_the_python_tool_is_found_and_a_new_repository_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let git = git2::Repository::init(root).unwrap();
        assert_eq!(python_tool_signs(root), None, "a new repository");

        write(root, "codex_governance.py", "");
        assert!(python_tool_signs(root)
            .unwrap()
            .contains("codex_governance.py"));
        std::fs::remove_file(root.join("codex_governance.py")).unwrap();

        write(
            root,
            ".tmp/codex_governance_prompts/20260518-201000-zhongshu.txt",
            "p",
        );
        assert!(python_tool_signs(root).unwrap().contains("prompts"));
        std::fs::remove_dir_all(root.join(".tmp")).unwrap();
        // Ours name prompt files differently and chain the audit log.
        write(
            root,
            ".tmp/codex_governance_prompts/20261120T231501123-zhongshu-1.txt",
            "p",
        );
        write(
            root,
            ".tmp/codex_governance_audit.jsonl",
            "{\"seq\":1,\"event\":\"x\",\"hash\":\"ab\"}\n",
        );
        assert_eq!(python_tool_signs(root), None, "our own runtime folder");
        write(
            root,
            ".tmp/codex_governance_audit.jsonl",
            "{\"ts\":\"2026-05-18 20:00:00\",\"event\":\"session_started\"}\n",
        );
        assert!(python_tool_signs(root).unwrap().contains("audit log"));
        std::fs::remove_dir_all(root.join(".tmp")).unwrap();

        // Deleted while switching: the history still shows it.
        write(
            root,
            "tools/codex_governance/governance.yaml",
            "departments: {}\n",
        );
        let mut index = git.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("u", "u@e.com").unwrap();
        let first = git
            .commit(Some("HEAD"), &sig, &sig, "python", &tree, &[])
            .unwrap();
        std::fs::remove_dir_all(root.join("tools")).unwrap();
        let mut index = git.index().unwrap();
        index.remove_dir(Path::new("tools"), 0).unwrap();
        let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
        let parent = git.find_commit(first).unwrap();
        git.commit(Some("HEAD"), &sig, &sig, "switch", &tree, &[&parent])
            .unwrap();
        let sign = python_tool_signs(root).unwrap();
        assert!(
            sign.starts_with("commit ") && sign.contains(PYTHON_TOOL_DIR),
            "{sign}"
        );
    }
}
