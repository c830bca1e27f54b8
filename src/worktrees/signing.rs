//! Commits made in the user's name honour their signing setting. libgit2
//! writes a commit without running GPG, so a user with `commit.gpgsign=true`
//! would get an unsigned Merge without a word. When the setting is on, the
//! commit is made by the user's own `git commit-tree -S` (their `gpg.format`,
//! `gpg.program`, `user.signingkey`, agent and pinentry; `commit-tree` runs
//! no hook) from the same tree, parents and message; when that fails, the
//! integration stops with Git's words and what to do. Never unsigned
//! silently.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use git2::{Commit, Oid, Repository, Signature, Tree};

use super::WorktreeError;

/// How long signing may take (a passphrase typed in a pinentry window).
const SIGNING_TIME_LIMIT: Duration = Duration::from_secs(300);

/// Whether the user's configuration for `git` asks for signed commits.
pub fn signs_commits(git: &Repository) -> bool {
    git.config()
        .and_then(|mut c| c.snapshot())
        .and_then(|c| c.get_bool("commit.gpgsign"))
        .unwrap_or(false)
}

/// A commit of `tree` on `parents` with `message`, by `me` (author and
/// committer), signed when the user's configuration says so; no ref moves.
pub fn commit_as_user(
    git: &Repository,
    me: &Signature<'_>,
    message: &str,
    tree: &Tree<'_>,
    parents: &[&Commit<'_>],
) -> Result<Oid, WorktreeError> {
    if !signs_commits(git) {
        return Ok(git.commit(None, me, me, message, tree, parents)?);
    }
    let workdir = git.workdir().unwrap_or(git.path());
    let id = signed_commit(workdir, tree.id(), parents, message, SIGNING_TIME_LIMIT)?;
    let made = git.find_commit(id)?;
    if git.extract_signature(&id, None).is_err() {
        return Err(refusal(&format!("git made {id} without a signature")));
    }
    if made.tree_id() != tree.id() {
        return Err(refusal(&format!("git made {id} of another tree")));
    }
    Ok(id)
}

fn refusal(why: &str) -> WorktreeError {
    WorktreeError::Refused(format!(
        "your Git configuration signs commits (commit.gpgsign=true), and git could not sign \
         this commit made in your name: {why}. Nothing was changed. Make signing work here \
         (`git commit -S` in this repository, with your key and agent), or set \
         commit.gpgsign=false for this repository, or use Apply, which commits nothing"
    ))
}

/// `git commit-tree -S` in `workdir`: the new commit's id.
fn signed_commit(
    workdir: &Path,
    tree: Oid,
    parents: &[&Commit<'_>],
    message: &str,
    limit: Duration,
) -> Result<Oid, WorktreeError> {
    let program = crate::platform::find_program("git").ok_or_else(|| {
        refusal("`git` is not in an absolute folder of PATH, and libgit2 cannot sign")
    })?;
    let mut cmd = Command::new(program);
    cmd.arg("-C")
        .arg(workdir)
        .args(["commit-tree", "-S"])
        .arg(tree.to_string());
    for p in parents {
        cmd.arg("-p").arg(p.id().to_string());
    }
    for inherited in crate::repository::GIT_LOCATION_VARIABLES {
        cmd.env_remove(inherited);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| refusal(&format!("git could not be run ({e})")))?;
    // git is held here and waited for with a limit; its input is written and
    // its output read beside it.
    let mut stdin = child.stdin.take();
    let text = message.as_bytes().to_vec();
    std::thread::spawn(move || {
        if let Some(stdin) = stdin.as_mut() {
            let _closed_early = stdin.write_all(&text);
        }
    });
    // git itself is killed at the limit, through its own handle (a signing
    // agent it started stays the user's).
    let out = crate::bounded_run::wait_within(&mut child, limit)
        .map_err(|e| refusal(&format!("git could not be run ({e})")))?
        .ok_or_else(|| {
            refusal(&format!(
                "signing did not finish within {} s and was stopped",
                limit.as_secs()
            ))
        })?;
    if !out.status.success() {
        let said = crate::sanitize::pasted_text(&String::from_utf8_lossy(&out.stderr));
        let said: Vec<&str> = said
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let said = crate::text::head(&said.join(" / "), 600).to_string();
        return Err(refusal(&format!(
            "git commit-tree -S failed ({}): {said}",
            out.status
        )));
    }
    let id = String::from_utf8_lossy(&out.stdout);
    Oid::from_str(id.trim()).map_err(|_| refusal(&format!("git answered {:?}", id.trim())))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A repository with one commit, user The User, `commit.gpgsign=true`
    /// and `gpg.program` a wrapper using `gnupg_home` only.
    fn signing_repo(root: &Path, gnupg_home: &Path) -> Repository {
        use std::os::unix::fs::PermissionsExt;
        let repo = root.join("repo");
        let git = Repository::init(&repo).unwrap();
        let mut config = git.config().unwrap();
        config.set_str("user.name", "The User").unwrap();
        config.set_str("user.email", "user@example.com").unwrap();
        config.set_bool("commit.gpgsign", true).unwrap();
        let wrapper = root.join("gpg-wrapper");
        let gpg = crate::platform::find_program("gpg").expect("gpg (tools/test.sh installs gnupg)");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nGNUPGHOME='{}' exec '{}' \"$@\"\n",
                gnupg_home.display(),
                gpg.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        config
            .set_str("gpg.program", &wrapper.display().to_string())
            .unwrap();
        std::fs::write(repo.join("a.txt"), "a\n").unwrap();
        let mut index = git.index().unwrap();
        index.add_path(Path::new("a.txt")).unwrap();
        let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
        let me = git.signature().unwrap();
        git.commit(Some("HEAD"), &me, &me, "first", &tree, &[])
            .unwrap();
        drop(tree);
        git
    }

    fn private_dir(path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(path).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
    }

    fn commit_on_head(git: &Repository, message: &str) -> Result<Oid, WorktreeError> {
        let head = git.head().unwrap().peel_to_commit().unwrap();
        let tree = head.tree().unwrap();
        let me = git.signature().unwrap();
        commit_as_user(git, &me, message, &tree, &[&head])
    }

    #[test]
    fn with_gpgsign_and_no_key_the_commit_is_refused_in_words() {
        let Some(_) = crate::test_tools::program("gpg", "gnupg") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("gnupg-empty");
        private_dir(&home);
        let git = signing_repo(dir.path(), &home);
        let before = git.head().unwrap().target();
        let err = commit_on_head(&git, "merge").unwrap_err().to_string();
        assert!(err.contains("commit.gpgsign=true"), "{err}");
        assert!(err.contains("git commit-tree -S failed"), "{err}");
        assert!(err.contains("commit.gpgsign=false"), "{err}");
        assert_eq!(git.head().unwrap().target(), before);
    }

    /// Processes whose command line holds every one of `words`.
    fn running(words: &[&str]) -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| words.iter().all(|w| c.contains(w)))
            .collect()
    }

    #[test]
    fn signing_past_its_limit_stops_git_and_says_so() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let git = Repository::init(dir.path().join("repo")).unwrap();
        let head = {
            let tree = git
                .find_tree(git.index().unwrap().write_tree().unwrap())
                .unwrap();
            let me = Signature::now("The User", "user@example.com").unwrap();
            let id = git
                .commit(Some("HEAD"), &me, &me, "first", &tree, &[])
                .unwrap();
            git.find_commit(id).unwrap()
        };
        // A signing program that never answers (a pinentry nobody types into).
        let slow = dir.path().join("slow-gpg");
        std::fs::write(&slow, "#!/bin/sh\nexec sleep 60\n").unwrap();
        std::fs::set_permissions(&slow, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut config = git.config().unwrap();
        config
            .set_str("gpg.program", &slow.display().to_string())
            .unwrap();
        config.set_str("user.name", "The User").unwrap();
        config.set_str("user.email", "user@example.com").unwrap();

        let workdir = git.workdir().unwrap().to_path_buf();
        let tree = head.tree_id();
        let err = signed_commit(&workdir, tree, &[&head], "m", Duration::from_secs(1))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("did not finish within 1 s and was stopped"),
            "{err}"
        );
        let tree = tree.to_string();
        let left = running(&["commit-tree", &tree]);
        assert!(left.is_empty(), "git still runs: {left:?}");
    }

    #[test]
    fn with_gpgsign_and_a_key_the_commit_is_signed_by_the_users_git() {
        let Some(_) = crate::test_tools::program("gpg", "gnupg") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("gnupg");
        private_dir(&home);
        let gpg = crate::platform::find_program("gpg").expect("gpg (tools/test.sh installs gnupg)");
        let made = Command::new(gpg)
            .env("GNUPGHOME", &home)
            .args(["--batch", "--passphrase", "", "--quick-gen-key"])
            .args(["The User <user@example.com>", "default", "default", "never"])
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let git = signing_repo(dir.path(), &home);
        let id = commit_on_head(&git, "signed merge\n\nGovernance-Session: d-1\n").unwrap();
        let (signature, signed) = git.extract_signature(&id, None).unwrap();
        assert!(
            signature.as_str().unwrap().contains("BEGIN PGP SIGNATURE"),
            "{:?}",
            signature.as_str()
        );
        assert!(signed.as_str().unwrap().contains("signed merge"));
        let c = git.find_commit(id).unwrap();
        assert_eq!(c.author().email(), Some("user@example.com"));
        assert_eq!(
            c.message(),
            Some("signed merge\n\nGovernance-Session: d-1\n")
        );
        // Without the setting, libgit2 commits unsigned, as before.
        git.config()
            .unwrap()
            .set_bool("commit.gpgsign", false)
            .unwrap();
        let plain = commit_on_head(&git, "plain").unwrap();
        assert!(git.extract_signature(&plain, None).is_err());
    }
}
