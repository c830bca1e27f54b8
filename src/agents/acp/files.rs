//! The client's `fs/read_text_file` and `fs/write_text_file` for an ACP
//! agent, fenced to its session's working folder: an absolute path inside
//! it, no `..`, no link followed on the way or at the end, never the
//! launcher's state folder nor (for a write) `.git`, and at most
//! [`MAX_BYTES`] read or written. Each folder on the way is opened without
//! following links (`cap-std`), so a link swapped in between the check and
//! the open is refused too. The file itself is opened without blocking (a
//! FIFO opens at once) and must be a regular file by its open handle: a
//! FIFO, a device or a socket is refused at once, so no request can wait on
//! what an agent planted. Each request runs off the connection's loop within
//! [`FILE_REQUEST_TIME`] (`super::agent`), so a slow one never holds the next.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions};

/// The most a read returns or a write takes.
pub(super) const MAX_BYTES: u64 = 1024 * 1024;

/// The longest a client file request may take before it is answered with an
/// error (a file on a stalled network mount).
pub(super) const FILE_REQUEST_TIME: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum FenceError {
    #[error("{0}: not an absolute path inside the session's folder {1}")]
    Outside(String, String),
    #[error("{0}: the launcher's state folder is not the agent's")]
    State(String),
    #[error("{0}: .git is written only by git")]
    Git(String),
    #[error("{0}: this session only reads (a reviewer writes nothing)")]
    ReadOnly(String),
    #[error("{0}: a link, which is not followed")]
    Link(String),
    #[error("{0}: larger than {MAX_BYTES} bytes")]
    TooLarge(String),
    #[error("{0}: not a regular file (a FIFO, device or socket is neither read nor written)")]
    NotAFile(String),
    #[error("{0}: not answered within {secs} s", secs = FILE_REQUEST_TIME.as_secs())]
    TimedOut(String),
    #[error("{0}: {1}")]
    Io(String, String),
}

/// The folder an agent's client file requests are held to.
pub(super) struct Fence {
    /// The session's folder, as given and as the file system names it.
    roots: Vec<PathBuf>,
    /// The launcher's state folder, relative to the root when inside it.
    state: Option<PathBuf>,
    /// Every write is refused (a reviewer, issue 75).
    read_only: bool,
}

impl Fence {
    pub(super) fn new(root: &Path, state_dir: &Path) -> Fence {
        let mut roots = vec![root.to_path_buf()];
        if let Ok(canonical) = root.canonicalize() {
            if canonical != root {
                roots.push(canonical);
            }
        }
        let state_canonical = state_dir
            .canonicalize()
            .unwrap_or_else(|_| state_dir.to_path_buf());
        let state = roots.iter().find_map(|r| {
            state_canonical
                .strip_prefix(r)
                .or_else(|_| state_dir.strip_prefix(r))
                .ok()
                .map(Path::to_path_buf)
        });
        Fence {
            roots,
            state,
            read_only: false,
        }
    }

    /// The same fence, refusing every write.
    pub(super) fn read_only(self, read_only: bool) -> Fence {
        Fence { read_only, ..self }
    }

    /// `path` as folders and a file name under the root, or why not.
    fn relative(&self, path: &Path) -> Result<(Vec<String>, String), FenceError> {
        let shown = path.display().to_string();
        let outside = || FenceError::Outside(shown.clone(), self.roots[0].display().to_string());
        let rest = self
            .roots
            .iter()
            .find_map(|r| path.strip_prefix(r).ok())
            .filter(|_| path.is_absolute())
            .ok_or_else(outside)?;
        let mut parts = Vec::new();
        for c in rest.components() {
            match c {
                Component::Normal(p) => parts.push(p.to_str().ok_or_else(outside)?.to_string()),
                Component::CurDir => {}
                _ => return Err(outside()),
            }
        }
        let rel: PathBuf = parts.iter().collect();
        if self
            .state
            .as_ref()
            .is_some_and(|s| s.as_os_str().is_empty() || rel.starts_with(s))
        {
            return Err(FenceError::State(shown));
        }
        let name = parts.pop().ok_or_else(outside)?;
        Ok((parts, name))
    }

    /// The folder holding the file, opened without following a link.
    fn folder(&self, folders: &[String], shown: &str) -> Result<Dir, FenceError> {
        let io = |e: std::io::Error| FenceError::Io(shown.to_string(), e.to_string());
        let mut dir =
            Dir::open_ambient_dir(&self.roots[0], cap_std::ambient_authority()).map_err(io)?;
        for f in folders {
            if dir.symlink_metadata(f).map_err(io)?.is_symlink() {
                return Err(FenceError::Link(shown.to_string()));
            }
            dir = dir.open_dir_nofollow(f).map_err(io)?;
        }
        Ok(dir)
    }

    /// The text of the file at `path`: from line `line` (1-based), at most
    /// `limit` lines.
    pub(super) fn read(
        &self,
        path: &Path,
        line: Option<u32>,
        limit: Option<u32>,
    ) -> Result<String, FenceError> {
        let shown = path.display().to_string();
        let io = |e: std::io::Error| FenceError::Io(shown.clone(), e.to_string());
        let (folders, name) = self.relative(path)?;
        let dir = self.folder(&folders, &shown)?;
        let meta = dir.symlink_metadata(&name).map_err(io)?;
        if meta.is_symlink() {
            return Err(FenceError::Link(shown));
        }
        if meta.len() > MAX_BYTES {
            return Err(FenceError::TooLarge(shown));
        }
        if !meta.is_file() {
            return Err(FenceError::NotAFile(shown));
        }
        let mut options = OpenOptions::new();
        options.read(true).follow(FollowSymlinks::No);
        without_blocking(&mut options);
        let file = dir.open_with(&name, &options).map_err(io)?;
        // What was opened, not what was looked at: a FIFO swapped in between.
        if !file.metadata().map_err(io)?.is_file() {
            return Err(FenceError::NotAFile(shown));
        }
        let mut text = String::new();
        file.take(MAX_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if text.len() as u64 > MAX_BYTES {
            return Err(FenceError::TooLarge(shown));
        }
        let skip = line.map_or(0, |l| l.saturating_sub(1) as usize);
        if skip == 0 && limit.is_none() {
            return Ok(text);
        }
        let lines = text.split_inclusive('\n').skip(skip);
        Ok(match limit {
            Some(n) => lines.take(n as usize).collect(),
            None => lines.collect(),
        })
    }

    /// Writes `content` as the whole file at `path` (made when missing).
    pub(super) fn write(&self, path: &Path, content: &str) -> Result<(), FenceError> {
        let shown = path.display().to_string();
        let io = |e: std::io::Error| FenceError::Io(shown.clone(), e.to_string());
        if self.read_only {
            return Err(FenceError::ReadOnly(shown));
        }
        if content.len() as u64 > MAX_BYTES {
            return Err(FenceError::TooLarge(shown));
        }
        let (folders, name) = self.relative(path)?;
        if folders.first().map(String::as_str) == Some(".git")
            || (folders.is_empty() && name == ".git")
        {
            return Err(FenceError::Git(shown));
        }
        let dir = self.folder(&folders, &shown)?;
        match dir.symlink_metadata(&name) {
            Ok(m) if m.is_symlink() => return Err(FenceError::Link(shown)),
            Ok(m) if !m.is_file() => return Err(FenceError::NotAFile(shown)),
            _ => {}
        }
        // Truncated only once the handle is known to be a regular file.
        let mut options = OpenOptions::new();
        options.write(true).create(true).follow(FollowSymlinks::No);
        without_blocking(&mut options);
        let mut file = dir.open_with(&name, &options).map_err(io)?;
        if !file.metadata().map_err(io)?.is_file() {
            return Err(FenceError::NotAFile(shown));
        }
        file.set_len(0).map_err(io)?;
        file.write_all(content.as_bytes()).map_err(io)
    }
}

/// Opens without waiting for a FIFO's other end (or a device's carrier).
#[cfg(unix)]
fn without_blocking(options: &mut OpenOptions) {
    use cap_std::fs::OpenOptionsExt;
    options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
}

#[cfg(not(unix))]
fn without_blocking(_: &mut OpenOptions) {}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf, Fence) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::create_dir_all(root.join(".tmp")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join("src/a.txt"), "one\ntwo\nthree\n").unwrap();
        std::fs::write(root.join(".tmp/launcher.json"), "secret").unwrap();
        std::fs::write(dir.path().join("outside.txt"), "outside").unwrap();
        let fence = Fence::new(&root, &root.join(".tmp"));
        (dir, root, fence)
    }

    #[test]
    fn reads_and_writes_stay_in_the_sessions_folder() {
        let (dir, root, fence) = setup();
        assert_eq!(
            fence.read(&root.join("src/a.txt"), None, None).unwrap(),
            "one\ntwo\nthree\n"
        );
        assert_eq!(
            fence
                .read(&root.join("src/a.txt"), Some(2), Some(1))
                .unwrap(),
            "two\n"
        );
        fence.write(&root.join("src/new.txt"), "made").unwrap();
        let reviewer = Fence::new(&root, &root.join(".tmp")).read_only(true);
        assert!(matches!(
            reviewer.write(&root.join("src/new.txt"), "x"),
            Err(FenceError::ReadOnly(_))
        ));
        assert_eq!(
            reviewer
                .read(&root.join("src/new.txt"), None, None)
                .unwrap(),
            "made"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("src/new.txt")).unwrap(),
            "made"
        );
        let outside = dir.path().join("outside.txt");
        for path in [
            outside.clone(),
            root.join("src/../../outside.txt"),
            PathBuf::from("src/a.txt"),
        ] {
            assert!(
                matches!(fence.read(&path, None, None), Err(FenceError::Outside(..))),
                "{path:?}"
            );
            assert!(
                matches!(fence.write(&path, "x"), Err(FenceError::Outside(..))),
                "{path:?}"
            );
        }
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "outside");
    }

    #[test]
    fn no_link_is_followed_and_the_state_folder_and_git_are_refused() {
        let (dir, root, fence) = setup();
        let outside = dir.path().join("outside.txt");
        std::os::unix::fs::symlink(&outside, root.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
        for path in [root.join("link.txt"), root.join("up/outside.txt")] {
            assert!(
                matches!(fence.read(&path, None, None), Err(FenceError::Link(_))),
                "{path:?}"
            );
            assert!(
                matches!(fence.write(&path, "x"), Err(FenceError::Link(_))),
                "{path:?}"
            );
        }
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "outside");
        let token = root.join(".tmp/launcher.json");
        assert!(matches!(
            fence.read(&token, None, None),
            Err(FenceError::State(_))
        ));
        assert!(matches!(
            fence.write(&token, "x"),
            Err(FenceError::State(_))
        ));
        assert!(matches!(
            fence.write(&root.join(".git/config"), "x"),
            Err(FenceError::Git(_))
        ));
    }

    /// Issue 69 item 3: a FIFO (or a socket) the agent made in its own
    /// folder is refused at once, read or written, with nothing waiting on
    /// its other end; the next request is answered as usual.
    #[test]
    fn a_fifo_or_socket_is_refused_at_once_and_never_waited_on() {
        let (_dir, root, fence) = setup();
        let fifo = root.join("src/pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let socket = root.join("src/sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        for path in [&fifo, &socket] {
            assert!(
                matches!(fence.read(path, None, None), Err(FenceError::NotAFile(_))),
                "{path:?}"
            );
            assert!(
                matches!(fence.write(path, "x"), Err(FenceError::NotAFile(_))),
                "{path:?}"
            );
        }
        assert!(fence
            .read(&fifo, None, None)
            .unwrap_err()
            .to_string()
            .contains("not a regular file"));
        assert_eq!(
            fence.read(&root.join("src/a.txt"), None, Some(1)).unwrap(),
            "one\n"
        );
    }

    #[test]
    fn sizes_are_bounded() {
        let (_dir, root, fence) = setup();
        let big = "x".repeat(MAX_BYTES as usize + 1);
        assert!(matches!(
            fence.write(&root.join("big.txt"), &big),
            Err(FenceError::TooLarge(_))
        ));
        std::fs::write(root.join("big.txt"), &big).unwrap();
        assert!(matches!(
            fence.read(&root.join("big.txt"), None, None),
            Err(FenceError::TooLarge(_))
        ));
    }
}
