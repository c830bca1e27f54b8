//! One launcher per state folder, and a state folder that keeps to itself.
//!
//! A launcher holds an exclusive OS lock on `<state-dir>/codex_governance.lock`
//! for its whole life (the lock goes with the process, even on `kill -9`), so a
//! second launcher on the same folder stops before it touches anything. The
//! launcher file says where the running one listens (`codex-governance url`).
//! A state folder inside the repository gets a `.gitignore` of `*`, so neither
//! `git status` nor `git add -A` sees the launcher's files.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The lock file's name inside the state folder.
pub const LOCK_FILE: &str = "codex_governance.lock";
/// The launcher file's name (URL, pid, token; 0600).
pub const LAUNCHER_FILE: &str = "codex_governance_launcher.json";

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("already running at {url} (pid {pid}): open it with `codex-governance url`")]
    AlreadyRunning { url: String, pid: u32 },
    #[error("another launcher holds {0} (it has not written its address yet)")]
    Locked(String),
    #[error("cannot lock {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Held for the launcher's life; dropping it releases the folder.
#[derive(Debug)]
pub struct InstanceLock {
    file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// False once the lock file was deleted or replaced (another launcher may
    /// then hold a lock on the new one): this launcher must stop writing.
    pub fn still_held(&self) -> bool {
        let Ok(ours) = self.file.try_clone().and_then(same_file::Handle::from_file) else {
            return false;
        };
        same_file::Handle::from_path(&self.path).is_ok_and(|now| now == ours)
    }
}

/// What the running launcher wrote about itself.
#[derive(Debug, Clone, Deserialize)]
pub struct LauncherFile {
    pub pid: u32,
    pub url: String,
    pub token: String,
}

impl LauncherFile {
    /// The dashboard URL with the token in its fragment.
    pub fn dashboard_url(&self) -> String {
        format!("{}/#token={}", self.url, self.token)
    }
}

/// How many tenths of a second a lock without an address is waited for.
const LOCK_PATIENCE_STEPS: u32 = 30;

/// Takes the state folder's lock, or says who has it.
pub fn lock(state_dir: &Path) -> Result<InstanceLock, InstanceError> {
    let path = state_dir.join(LOCK_FILE);
    let io = |source| InstanceError::Io {
        path: path.display().to_string(),
        source,
    };
    crate::platform::create_private_dir(state_dir).map_err(io)?;
    let file = crate::files::open_own(state_dir, &path, crate::files::Access::Write).map_err(io)?;
    // A holder without an address is starting, or has just let go while a
    // process forked elsewhere in this one still shares the lock until its
    // exec: it gets a moment before it is named as another launcher.
    let mut attempt = file.try_lock();
    for _ in 0..LOCK_PATIENCE_STEPS {
        if !matches!(attempt, Err(TryLockError::WouldBlock))
            || read_launcher_file(state_dir).is_some()
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        attempt = file.try_lock();
    }
    match attempt {
        Ok(()) => Ok(InstanceLock { file, path }),
        Err(TryLockError::WouldBlock) => Err(match read_launcher_file(state_dir) {
            Some(f) => InstanceError::AlreadyRunning {
                url: f.url,
                pid: f.pid,
            },
            None => InstanceError::Locked(path.display().to_string()),
        }),
        Err(TryLockError::Error(e)) => Err(io(e)),
    }
}

/// The running launcher's file, if there is one and its lock is held.
pub fn running(state_dir: &Path) -> Option<LauncherFile> {
    let path = state_dir.join(LOCK_FILE);
    let file = OpenOptions::new().write(true).open(path).ok()?;
    match file.try_lock() {
        // We got the lock: nobody runs here (the file is stale).
        Ok(()) => None,
        Err(_) => read_launcher_file(state_dir),
    }
}

/// Where the port the last launcher on a state folder served is kept (the
/// launcher file goes at a clean stop; this stays).
const PORT_FILE: &str = "codex_governance_last_port";

/// Keeps the port this launcher serves, for [`last_port`].
pub fn remember_port(state_dir: &Path, port: u16) -> std::io::Result<()> {
    crate::files::write_atomic(&state_dir.join(PORT_FILE), port.to_string().as_bytes())
}

/// The port the last launcher on this state folder served: a tab open on it
/// works again when the next launcher takes the same port.
pub fn last_port(state_dir: &Path) -> Option<u16> {
    let (bytes, _) = crate::files::read_tail(&state_dir.join(PORT_FILE), 16)?;
    String::from_utf8(bytes).ok()?.trim().parse().ok()
}

fn read_launcher_file(state_dir: &Path) -> Option<LauncherFile> {
    let text = std::fs::read(state_dir.join(LAUNCHER_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Writes `<state-dir>/.gitignore` (`*`) when the folder lies inside the repository.
pub fn keep_out_of_git(repo: &Path, state_dir: &Path) -> std::io::Result<Option<PathBuf>> {
    let inside = match (repo.canonicalize(), state_dir.canonicalize()) {
        (Ok(r), Ok(s)) => s.starts_with(&r),
        _ => state_dir.starts_with(repo),
    };
    let path = state_dir.join(".gitignore");
    if !inside || path.exists() {
        return Ok(None);
    }
    crate::files::write_atomic(
        &path,
        b"# codex-governance's runtime folder: never committed.\n*\n",
    )?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_folder_is_refused_with_the_first_ones_address() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        assert!(running(dir.path()).is_none(), "no launcher file yet");
        assert!(matches!(lock(dir.path()), Err(InstanceError::Locked(_))));
        std::fs::write(
            dir.path().join(LAUNCHER_FILE),
            r#"{"pid": 42, "url": "http://127.0.0.1:6211", "token": "t"}"#,
        )
        .unwrap();
        let e = lock(dir.path()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "already running at http://127.0.0.1:6211 (pid 42): open it with `codex-governance url`"
        );
        assert_eq!(
            running(dir.path()).unwrap().dashboard_url(),
            "http://127.0.0.1:6211/#token=t"
        );
        drop(first);
        // A process another test forks may share the lock until its exec
        // (as `lock` allows for): given the same moment.
        let mut seen = running(dir.path());
        for _ in 0..LOCK_PATIENCE_STEPS {
            if seen.is_none() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            seen = running(dir.path());
        }
        assert!(seen.is_none(), "a stale file is not a launcher");
        lock(dir.path()).expect("free again");
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "Wine keeps a deleted file's name while it is open (Windows 10 NTFS frees it at once)"
    )]
    fn a_deleted_lock_file_is_a_lost_lock() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(dir.path()).unwrap();
        assert!(held.still_held());
        std::fs::remove_file(dir.path().join(LOCK_FILE)).unwrap();
        assert!(!held.still_held());
        let _other = lock(dir.path()).expect("a new file: another launcher could start");
        assert!(!held.still_held(), "the new file is not ours");
    }

    #[test]
    fn the_state_folder_ignores_itself_only_inside_the_repository() {
        let repo = tempfile::tempdir().unwrap();
        let state = repo.path().join(".tmp");
        std::fs::create_dir_all(&state).unwrap();
        let written = keep_out_of_git(repo.path(), &state).unwrap().unwrap();
        assert_eq!(
            std::fs::read_to_string(written).unwrap().lines().last(),
            Some("*")
        );
        assert!(
            keep_out_of_git(repo.path(), &state).unwrap().is_none(),
            "kept"
        );
        let outside = tempfile::tempdir().unwrap();
        assert!(keep_out_of_git(repo.path(), outside.path())
            .unwrap()
            .is_none());
    }
}
