//! Unix: process groups and signals, `O_NOFOLLOW`, unix sockets.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::OpenRefusal;

/// A connection to a local socket.
pub type LocalStream = tokio::net::UnixStream;

/// Nothing to do on Unix: the PTY made the agent a group leader.
pub fn contain(_pid: u32) {}

/// SIGTERM to the agent's process group; true: the polite request was sent.
pub fn terminate_tree(pid: u32) -> bool {
    signal_group(pid, libc::SIGTERM);
    true
}

/// SIGKILL to the agent's process group.
pub fn kill_tree(pid: u32) {
    signal_group(pid, libc::SIGKILL);
}

fn signal_group(pid: u32, signal: libc::c_int) {
    if pid > 1 {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
        unsafe {
            libc::kill(-(pid as libc::pid_t), signal);
        }
    }
}

/// True while a process with this pid exists.
pub fn process_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    pid > 1 && unsafe { libc::kill(pid as libc::pid_t, 0) } == 0
}

/// True when `pid` is still the agent of session `id` (not a reused pid): its
/// environment names the session. Linux reads `/proc`; other Unixes ask `ps -E`.
/// Where neither can tell, nothing is claimed (and nothing killed).
pub fn runs_session(pid: u32, id: &str) -> bool {
    let wanted = format!("CODEX_GOVERNANCE_SESSION_ID={id}");
    if let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) {
        return environ
            .split(|b| *b == 0)
            .any(|var| var == wanted.as_bytes());
    }
    let Ok(out) = std::process::Command::new("ps")
        .args(["-E", "-ww", "-o", "command=", "-p", &pid.to_string()])
        .output()
    else {
        return false;
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .any(|w| w == wanted)
}

/// Creates a folder only its owner can enter (0700).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Opens without following a symbolic link and without blocking on a FIFO;
/// the caller checks the opened descriptor (`fstat`).
pub fn open_no_follow(path: &Path) -> Result<File, (OpenRefusal, std::io::Error)> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            let why = match e.raw_os_error() {
                Some(libc::ENOENT) => OpenRefusal::Gone,
                Some(libc::ELOOP) => OpenRefusal::NotRegular("a symbolic link"),
                // A socket cannot be opened.
                Some(libc::ENXIO) => OpenRefusal::NotRegular("a socket"),
                _ => OpenRefusal::Other,
            };
            (why, e)
        })
}

/// How many names the opened file has (a hard link adds one).
pub fn link_count(file: &File) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(file.metadata()?.nlink())
}

/// What a file that is not a regular file is, in words.
pub fn describe_file_type(t: &std::fs::FileType) -> &'static str {
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a device"
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn stop_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// Connects to a Codex app-server's unix socket.
pub async fn connect_local(path: &Path) -> std::io::Result<LocalStream> {
    tokio::net::UnixStream::connect(path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_dirs_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("codex");
        private_dir(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn this_process_runs_no_other_session() {
        assert!(process_alive(std::process::id()));
        assert!(!runs_session(std::process::id(), "zhongshu-999"));
    }
}
