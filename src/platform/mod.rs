//! The one place that knows the operating system. Everything else asks here:
//! ending an agent's whole process tree, recognising an agent a crashed
//! launcher left behind, private folders, opening a mailbox file without
//! following links or blocking, waiting for the stop signal, and reaching a
//! Codex app-server's local socket.
//!
//! Unix: process groups (each agent leads its own, as a PTY session leader),
//! SIGTERM then SIGKILL, `O_NOFOLLOW|O_NONBLOCK`, unix sockets. Windows: each
//! agent's tree in a Job Object that kills it on close (so nothing outlives the
//! launcher), reparse points refused, Ctrl-C/Ctrl-Break to stop.

#[cfg(windows)]
mod conpty;
#[cfg(target_os = "linux")]
pub mod mount_ns;
#[cfg(target_os = "linux")]
pub mod net_fence;
#[cfg(target_os = "linux")]
mod user_ns;
/// `path` with every link followed, as text; itself when it cannot be
/// resolved (missing).
pub fn real_path_text(path: &str) -> String {
    dunce::canonicalize(path)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.to_string())
}

/// Why a program cannot be started with folders shown at other paths.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NamespaceError {
    #[error("only Linux shows a folder at another path")]
    NotLinux,
    #[error("no user and mount namespace of its own: {0}")]
    Refused(#[source] std::sync::Arc<std::io::Error>),
    #[error("a program in a namespace of its own ended with {0}")]
    Failed(std::process::ExitStatus),
}

/// Whether a program can be started with folders shown at other paths
/// ([`mount_ns`]: Linux's user and mount namespaces), or why not.
pub fn namespaces_work() -> Result<(), NamespaceError> {
    #[cfg(target_os = "linux")]
    return mount_ns::works();
    #[cfg(not(target_os = "linux"))]
    return Err(NamespaceError::NotLinux);
}

/// No network of its own elsewhere: an agent is fenced only on Linux.
#[cfg(not(target_os = "linux"))]
pub mod net_fence {
    use std::net::{SocketAddr, TcpListener};

    pub struct Pending;

    pub fn fence(_: &mut std::process::Command, _: &[SocketAddr]) -> std::io::Result<Pending> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    impl Pending {
        pub fn listeners(self) -> std::io::Result<Vec<(SocketAddr, TcpListener)>> {
            Ok(Vec::new())
        }
    }
}
mod program;
#[cfg(unix)]
mod unix;
mod worktree_files;
#[cfg(unix)]
use unix as os;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

use std::path::Path;

pub use os::{
    connect_local, connect_tools, contain, copy_link, describe_file_type, detach, has_env,
    hide_start_environment, kill_leftovers, kill_marked, kill_tree, link_count, listen_local,
    open_no_follow, private_dir, process_alive, release_tree, runs_session, shell_command,
    stop_signal, terminate_tree, user_id, LocalListener, LocalStream,
};
pub use os::{
    create_private_dir, descriptor_path, free_bytes, make_private, not_own, open_no_follow_with,
    private_file_mode, reuse_address, shared_folder, tighten,
};
pub use os::{
    BACKSLASH_SEPARATES, CLOSE_MASTER_AT_EXIT, CODEX_OVER_WEBSOCKET, DEFAULT_SHELLS, NULL_DEVICE,
    PASTE_LINE_END,
};

pub use worktree_files::{
    git_file_mode, native_repo_path, stat_data, symlink_to_bytes, trim_heap, StatData,
    HAS_STAT_DATA, POSIX_NAMES, TRIMS_HEAP,
};

pub use program::{
    cmd_command_line_from, cmd_special_in, find_program, is_bare_name, program_path,
    resolve as resolve_program, Launch, LaunchError, NotOnPath,
};

/// The pseudo-terminals agents run in: the system's on Unix; on Windows
/// ConPTY without the cursor handshake that would hold back every agent's
/// output until a browser answered it (see `conpty`).
/// The launcher's own environment, the variables whose name and value are
/// text (one that is not cannot be passed on as text anyway).
pub fn text_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}

pub fn pty_system() -> Box<dyn portable_pty::PtySystem + Send> {
    #[cfg(windows)]
    {
        Box::new(conpty::ConPtySystem)
    }
    #[cfg(not(windows))]
    {
        portable_pty::native_pty_system()
    }
}

/// Makes a rename in `dir` durable. Unix: the folder is synced (`fsync` on it).
/// Windows: skipped. A folder opens only with `FILE_FLAG_BACKUP_SEMANTICS`
/// (`File::open(dir)` failed there with "Access denied" after every write had
/// succeeded), and Windows documents no folder sync for applications. NTFS
/// journals the rename, so after a crash the file is the old one or the new one,
/// whole; a power cut just after the call may still undo the rename.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Why a mailbox file could not be opened.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenRefusal {
    /// The name is gone (renamed or deleted meanwhile).
    Gone,
    /// Not a regular file: what it is.
    NotRegular(&'static str),
    /// Another error (the caller keeps the original).
    Other,
}

/// The exit code of a process ended by a signal named like portable-pty names
/// it ("Terminated", "Killed", ...): 128 + the signal's number, as shells say.
pub fn signal_exit_code(description: &str) -> i32 {
    let number = match description {
        s if s.contains("Hangup") => 1,
        s if s.contains("Interrupt") => 2,
        s if s.contains("Killed") => 9,
        s if s.contains("Terminated") => 15,
        _ => 0,
    };
    128 + number
}

/// A repository path as the report and the API speak it on every platform:
/// `/`-separated, without a leading `./` (`src\\a.rs` and `./src/a.rs` are `src/a.rs`).
/// Absolute paths (`E:\\x`, `/x`) keep their meaning, with `/` separators.
pub fn repo_path(path: &str) -> String {
    let mut p = path.trim().replace('\\', "/");
    while let Some(rest) = p.strip_prefix("./") {
        p = rest.to_string();
    }
    p
}

/// Tests' symbolic links on every platform (on Windows a file or a folder
/// link, as the target is; Wine and a developer-mode Windows allow both).
#[cfg(test)]
pub fn symlink_for_tests(target: impl AsRef<Path>, link: impl AsRef<Path>) -> std::io::Result<()> {
    let (target, link) = (target.as_ref(), link.as_ref());
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(target, link)
    }
    #[cfg(windows)]
    {
        let resolved = link.parent().unwrap_or(Path::new(".")).join(target);
        if resolved.is_dir() {
            std::os::windows::fs::symlink_dir(target, link)?;
        } else {
            std::os::windows::fs::symlink_file(target, link)?;
        }
        // Wine answers success and makes nothing.
        std::fs::symlink_metadata(link).map(|_| ()).map_err(|e| {
            std::io::Error::other(format!("no link was made at {}: {e}", link.display()))
        })
    }
}

/// Whether agents need Windows' system variables and environment names
/// ignore case (`policy::agent_env`).
pub const WINDOWS_ENVIRONMENT: bool = cfg!(windows);

/// The user's own configuration folder (`$XDG_CONFIG_HOME`, else
/// `~/.config`; `%APPDATA%` on Windows): outside every repository.
pub fn user_config_dir(
    env: &std::collections::HashMap<String, String>,
) -> Option<std::path::PathBuf> {
    let from = |k: &str| {
        env.get(k)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    };
    if cfg!(windows) {
        from("APPDATA")
    } else {
        from("XDG_CONFIG_HOME").or_else(|| from("HOME").map(|h| h.join(".config")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_become_shell_exit_codes() {
        assert_eq!(signal_exit_code("Terminated"), 143);
        assert_eq!(signal_exit_code("Killed: 9"), 137);
        assert_eq!(signal_exit_code("Hangup"), 129);
        assert_eq!(signal_exit_code("something else"), 128);
    }

    #[test]
    fn repository_paths_use_forward_slashes_everywhere() {
        assert_eq!(repo_path("src\\lib.rs"), "src/lib.rs");
        assert_eq!(repo_path("./docs/a.md"), "docs/a.md");
        assert_eq!(repo_path(".\\docs\\a.md"), "docs/a.md");
        assert_eq!(repo_path("E:\\work\\x.txt"), "E:/work/x.txt");
        assert_eq!(repo_path("/abs/x"), "/abs/x");
        assert_eq!(repo_path(".gitignore"), ".gitignore");
    }

    #[test]
    fn private_dirs_are_created() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b");
        private_dir(&p).unwrap();
        assert!(p.is_dir());
    }
}
