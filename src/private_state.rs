//! The state folder is the user's alone: it holds the database, the audit log,
//! transcripts, prompts, mailboxes and the launcher file, so another local user
//! must be able to read none of it. The folder is created 0700; one found with
//! wider modes (an older launcher made it 0755 and its files 0644) is tightened
//! at start, with what was ours inside it, and the launcher says so. Every file
//! the launcher writes there is created 0600 whatever the umask (see
//! `platform::make_private`), every folder 0700.
//!
//! Only the launcher's own names are touched inside (`.tmp` is a common name:
//! another tool's files there keep their modes), and a folder that cannot be
//! private without harm is refused: a shared one (the sticky bit, as `/tmp`)
//! or the repository itself or one above it.
//!
//! On Windows there are no mode bits: the folder and its files take the ACL of
//! the folder they are in (see SECURITY.md), and nothing is tightened here.

use std::path::{Path, PathBuf};

/// What was found wider than private, and tightened.
#[derive(Debug, Default)]
pub struct Tightened {
    /// The state folder's own mode before, when it was wider.
    pub folder_was: Option<u32>,
    /// Files and folders inside that were tightened.
    pub entries: usize,
    /// Entries that could not be tightened, with why.
    pub failed: Vec<(PathBuf, std::io::Error)>,
}

impl Tightened {
    /// Whether there is anything to say: the folder itself was open to
    /// others. Entries inside a private folder were out of everyone else's
    /// reach (Codex makes its own there at every start): they are tightened
    /// without a word.
    pub fn any(&self) -> bool {
        self.folder_was.is_some()
    }

    /// One line for the terminal.
    pub fn describe(&self, dir: &Path) -> String {
        let mode = self.folder_was.unwrap_or(0o700);
        let entries = match self.entries {
            1 => "1 file or folder in it is".to_string(),
            n => format!("{n} files and folders in it are"),
        };
        format!(
            "the state folder {} was {mode:04o}, readable by other users: now 0700, and \
             {entries} owner-only now",
            dir.display()
        )
    }
}

/// Whether an entry directly in the state folder is the launcher's own.
fn ours(name: &str) -> bool {
    name.starts_with("codex_governance")
        || name == crate::phones::PHONES_FILE
        || name == "codex"
        || name == ".gitignore"
        || name.starts_with(".tmp-")
}

/// Makes `state_dir` private: created 0700 when missing, else tightened with
/// the launcher's entries inside it. Refuses a folder that must not be made
/// private (shared, or the repository or above it).
pub fn secure(repo: &Path, state_dir: &Path) -> anyhow::Result<Tightened> {
    refuse_unfit(repo, state_dir)?;
    let cannot = |e: std::io::Error| {
        anyhow::anyhow!(
            "cannot make the state folder {} private: {e}",
            state_dir.display()
        )
    };
    let mut tightened = Tightened::default();
    if !state_dir.exists() {
        crate::platform::create_private_dir(state_dir).map_err(cannot)?;
        return Ok(tightened);
    }
    // A folder given through a link is the folder it names.
    let real = state_dir.canonicalize().map_err(cannot)?;
    tightened.folder_was = crate::platform::tighten(&real).map_err(cannot)?;
    for entry in std::fs::read_dir(&real).map_err(cannot)?.flatten() {
        if !ours(&entry.file_name().to_string_lossy()) {
            continue;
        }
        for item in walkdir::WalkDir::new(entry.path()).follow_links(false) {
            let Ok(item) = item else { continue };
            match crate::platform::tighten(item.path()) {
                Ok(Some(_)) => tightened.entries += 1,
                Ok(None) => {}
                Err(e) => tightened.failed.push((item.path().to_path_buf(), e)),
            }
        }
    }
    Ok(tightened)
}

/// An entry that was not the launcher's, moved out of its way.
#[derive(Debug)]
pub struct SetAside {
    pub from: PathBuf,
    /// What it was: "a symbolic link", "owned by another user (uid 65534)".
    pub why: String,
    pub to: PathBuf,
}

/// The folder [`set_aside_planted`] moves what it finds into.
pub const SET_ASIDE: &str = "codex_governance_set_aside";

/// Moves out of the launcher's way every link, and every file that is not a
/// regular file of this user's with one name, found under the launcher's own
/// names in `state_dir` (a cloned repository can carry
/// `.tmp/codex_governance_logs/zhongshu-1.log` as a link to a shell rc file),
/// and every file there that the repository `repo` tracks (a clone brought
/// it: a phone pairing whose token its author knows, a database).
/// They go to `codex_governance_set_aside/<stamp>/`, kept as they were.
/// Run with the instance lock held.
/// Returns what was moved.
pub fn set_aside_planted(repo: &Path, state_dir: &Path) -> anyhow::Result<Vec<SetAside>> {
    let tracked = tracked_in(repo, state_dir);
    let mut moved = Vec::new();
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S").to_string();
    let aside = state_dir.join(SET_ASIDE).join(stamp);
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return Ok(moved);
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // Codex's folder is Codex's; mailboxes have their own rules for what
        // agents drop there (links rejected with a reason, linked folders
        // unusable: see `mailbox::folders`).
        let theirs = ["codex", "codex_governance_mailbox", ".gitignore", SET_ASIDE];
        if !ours(&name) || theirs.contains(&name.as_str()) {
            continue;
        }
        let mut walk = walkdir::WalkDir::new(entry.path())
            .follow_links(false)
            .into_iter();
        while let Some(item) = walk.next() {
            let Ok(item) = item else { continue };
            // As committed: a clone brought it. (A file the user once
            // committed and the launcher has written since is the user's.)
            let brought = || {
                let real = item.path().canonicalize().ok()?;
                let committed = tracked.get(&real)?;
                let now = git2::Oid::hash_file(git2::ObjectType::Blob, &real).ok()?;
                (now == *committed).then(|| {
                    "a file the repository tracks, as committed (a clone brought it)".to_string()
                })
            };
            let Some(why) = planted(item.path()).or_else(brought) else {
                continue;
            };
            let rel = item.path().strip_prefix(state_dir).unwrap_or(item.path());
            let to = aside.join(rel);
            if let Some(parent) = to.parent() {
                crate::platform::create_private_dir(parent)?;
            }
            std::fs::rename(item.path(), &to).map_err(|e| {
                anyhow::anyhow!(
                    "{} is {why} and cannot be moved aside to {}: {e}; remove it",
                    item.path().display(),
                    to.display()
                )
            })?;
            if item.file_type().is_dir() {
                walk.skip_current_dir();
            }
            moved.push(SetAside {
                from: item.path().to_path_buf(),
                why,
                to,
            });
        }
    }
    Ok(moved)
}

/// The files of `state_dir` that the index of `repo` holds (resolved paths),
/// with their blobs; none when it is not a repository or the folder lies
/// outside its tree.
fn tracked_in(repo: &Path, state_dir: &Path) -> std::collections::HashMap<PathBuf, git2::Oid> {
    let fence = crate::worktrees::fence::StateFence::new(repo, state_dir);
    if fence.shown().is_empty() {
        // Outside the tree: nothing the repository tracks is there.
        return Default::default();
    }
    let Ok(index) = git2::Repository::open(repo).and_then(|git| git.index()) else {
        return Default::default();
    };
    index
        .iter()
        .filter_map(|entry| {
            let rel = std::str::from_utf8(&entry.path).ok()?;
            let real = fence
                .names(rel)
                .then(|| repo.join(rel).canonicalize().ok())??;
            Some((real, entry.id))
        })
        .collect()
}

/// Why an entry under the launcher's names is not the launcher's: a link, a
/// FIFO, socket or device, another user's, or a file with several names.
fn planted(path: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let kind = meta.file_type();
    if !(kind.is_file() || kind.is_dir()) {
        return Some(crate::platform::describe_file_type(&kind).to_string());
    }
    if let Some(why) = crate::platform::not_own(&meta, false) {
        return Some(why);
    }
    if kind.is_file() {
        let file = crate::platform::open_no_follow(path).ok()?;
        let names = crate::platform::link_count(&file).ok()?;
        if names != 1 {
            return Some(format!("a file with {names} names (a hard link)"));
        }
    }
    None
}

/// A state folder that cannot be made private without harm is refused.
fn refuse_unfit(repo: &Path, state_dir: &Path) -> anyhow::Result<()> {
    let resolved = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (repo, dir) = (resolved(repo), resolved(state_dir));
    if repo.starts_with(&dir) {
        anyhow::bail!(
            "the state folder {} is the repository or a folder above it: it would be made \
             private (0700) with everything of the launcher's inside; pass --state-dir \
             with a folder of its own",
            dir.display()
        );
    }
    if let Ok(meta) = std::fs::metadata(&dir) {
        if let Some(why) = crate::platform::not_own(&meta, false) {
            anyhow::bail!(
                "the state folder {} is {why}: that user could swap its mailbox and forge \
                 reports; remove it (or the link to it) and start again, or pass --state-dir \
                 with a folder of your own",
                dir.display()
            );
        }
        if crate::platform::shared_folder(&meta) {
            anyhow::bail!(
                "the state folder {} is a folder shared by many users (it has the sticky \
                 bit, as /tmp): pass --state-dir with a folder of its own inside it",
                dir.display()
            );
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    fn chmod(p: &Path, m: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    }

    #[test]
    fn a_wide_state_folder_is_tightened_with_the_launchers_files_only() {
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("repo");
        let state = repo.join(".tmp");
        let logs = state.join("codex_governance_logs");
        std::fs::create_dir_all(&logs).unwrap();
        let db = state.join("codex_governance.db");
        let log = logs.join("zhongshu-1.log");
        let other = state.join("other-tool.sh");
        for f in [&db, &log, &other] {
            std::fs::write(f, b"x").unwrap();
        }
        chmod(&state, 0o755);
        chmod(&logs, 0o755);
        chmod(&db, 0o644);
        chmod(&log, 0o644);
        chmod(&other, 0o755);
        let t = secure(&repo, &state).unwrap();
        assert_eq!(t.folder_was, Some(0o755));
        assert_eq!(t.entries, 3, "{t:?}");
        assert!(t
            .describe(&state)
            .contains("was 0755, readable by other users: now 0700"));
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&logs), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&log), 0o600);
        assert_eq!(mode(&other), 0o755, "not the launcher's: left alone");
        assert!(!secure(&repo, &state).unwrap().any(), "private now");
    }

    /// Codex makes its own files and folders (its app-server's) in its
    /// folder at every start with its own modes. Inside a private state
    /// folder nobody else can reach them: they are tightened without saying
    /// at every start that they "were readable by other users" (issue 37).
    #[test]
    fn entries_inside_a_private_folder_are_tightened_quietly() {
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        let state = repo.join(".tmp");
        secure(&repo, &state).unwrap();
        let codex = state.join("codex").join("tmp");
        std::fs::create_dir_all(&codex).unwrap();
        chmod(&state.join("codex"), 0o700);
        chmod(&codex, 0o755);
        let t = secure(&repo, &state).unwrap();
        assert_eq!(t.entries, 1, "{t:?}");
        assert!(!t.any(), "nothing to say: {t:?}");
        assert_eq!(mode(&codex), 0o700);
    }

    #[test]
    fn a_new_state_folder_is_private_and_unfit_ones_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        let state = repo.join(".tmp");
        assert!(!secure(&repo, &state).unwrap().any());
        assert_eq!(mode(&state), 0o700);
        let e = secure(&repo, &repo).unwrap_err().to_string();
        assert!(e.contains("the repository or a folder above it"), "{e}");
        assert!(secure(&repo, root.path()).is_err());
        let shared = root.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        chmod(&shared, 0o1777);
        let e = secure(&repo, &shared).unwrap_err().to_string();
        assert!(e.contains("sticky"), "{e}");
        assert_eq!(mode(&shared), 0o1777, "left as it was");
    }

    #[test]
    fn files_a_clone_brought_into_the_state_folder_are_set_aside() {
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("repo");
        let state = repo.join(".tmp");
        std::fs::create_dir_all(&state).unwrap();
        let git = git2::Repository::init(&repo).unwrap();
        // The repository's author committed a pairing whose token they know.
        std::fs::write(state.join(crate::phones::PHONES_FILE), "[]").unwrap();
        std::fs::write(state.join("codex_governance.db"), "planted").unwrap();
        let mut index = git.index().unwrap();
        index
            .add_path(Path::new(".tmp/paired_phones.json"))
            .unwrap();
        index
            .add_path(Path::new(".tmp/codex_governance.db"))
            .unwrap();
        index.write().unwrap();
        // The launcher's own, untracked.
        std::fs::write(state.join("codex_governance_notify_key"), "k").unwrap();

        // One the user committed long ago and the launcher wrote since.
        std::fs::write(state.join("codex_governance_audit.jsonl"), "old\n").unwrap();
        index
            .add_path(Path::new(".tmp/codex_governance_audit.jsonl"))
            .unwrap();
        index.write().unwrap();
        std::fs::write(state.join("codex_governance_audit.jsonl"), "old\nnew\n").unwrap();

        let moved = set_aside_planted(&repo, &state).unwrap();
        let mut names: Vec<String> = moved
            .iter()
            .map(|m| m.from.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["codex_governance.db", "paired_phones.json"]);
        assert!(moved.iter().all(|m| m.why.contains("as committed")));
        assert!(!state.join(crate::phones::PHONES_FILE).exists());
        assert!(state.join("codex_governance_notify_key").exists());
        assert!(
            state.join("codex_governance_audit.jsonl").exists(),
            "the user's own"
        );
        assert!(moved.iter().all(|m| m.to.exists()), "kept as they were");
    }
}
