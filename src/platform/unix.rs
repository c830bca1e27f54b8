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

/// Signals the process group `pid` leads and, on Linux, every process of the
/// session it leads: sandboxes (Codex's bwrap helpers) start process groups
/// of their own and would outlive a group signal.
fn signal_group(pid: u32, signal: libc::c_int) {
    if pid <= 1 {
        return;
    }
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
    unsafe {
        libc::kill(-(pid as libc::pid_t), signal);
    }
    for member in session_members(pid) {
        // SAFETY: as above, for one process.
        unsafe {
            libc::kill(member as libc::pid_t, signal);
        }
    }
}

/// After a crash: kills what is left of session `id`'s process session led by
/// `leader` (which may be gone already: sandboxes outlive it). Only processes
/// whose environment names the session are touched, so a reused pid is safe.
pub fn kill_leftovers(leader: u32, id: &str) {
    let mut ours = session_members(leader);
    ours.push(leader);
    for pid in ours.into_iter().filter(|pid| runs_session(*pid, id)) {
        // SAFETY: kill(2) on one process; no memory is touched.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
    }
}

/// After a crash: kills every process whose environment holds `key` set to
/// one of `values` (Linux `/proc`; elsewhere nothing), so a run the
/// previous launcher left (a landing's checks in their sandbox, which
/// outlives the program that started it) ends; a reused pid is never taken.
pub fn kill_marked(key: &str, values: &[String]) -> usize {
    if values.is_empty() {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let pids: Vec<u32> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // `/proc` only: a process whose environment cannot be read is
            // not ours to end (and asking `ps` for each would be slow).
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                return false;
            };
            values.iter().any(|v| {
                let wanted = format!("{key}={v}");
                environ
                    .split(|b| *b == 0)
                    .any(|var| var == wanted.as_bytes())
            })
        })
        .collect();
    for pid in &pids {
        // SAFETY: kill(2) on one process; no memory is touched.
        unsafe {
            libc::kill(*pid as libc::pid_t, libc::SIGKILL);
        }
    }
    pids.len()
}

/// Processes whose session is `leader`'s (Linux `/proc`; none elsewhere).
fn session_members(leader: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != leader && session_of(*pid) == Some(leader))
        .collect()
}

/// The session id in `/proc/<pid>/stat` (the field after the state, ppid, pgrp).
fn session_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: parse after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(3)?.parse().ok()
}

/// This user's id.
pub fn user_id() -> Option<u32> {
    // SAFETY: getuid(2) cannot fail and touches no memory.
    Some(unsafe { libc::getuid() })
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
    has_env(pid, "CODEX_GOVERNANCE_SESSION_ID", id)
}

/// Makes this process's `/proc` files readable by root only (Linux: not
/// dumpable), so the environment it started with, which keeps secrets even
/// after `remove_var`, cannot be read from `/proc/<pid>/environ` by the
/// user's other processes. Programs it starts are dumpable again after
/// their exec. Elsewhere nothing to do.
pub fn hide_start_environment() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_DUMPABLE takes plain integers and changes only this process.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// True when process `pid` runs with `key=value` in its environment (Linux
/// reads `/proc`; other Unixes ask `ps -E`; false where neither can tell).
pub fn has_env(pid: u32, key: &str, value: &str) -> bool {
    let wanted = format!("{key}={value}");
    if let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) {
        return environ
            .split(|b| *b == 0)
            .any(|var| var == wanted.as_bytes());
    }
    let Some(ps) = super::find_program("ps") else {
        return false;
    };
    let Ok(out) = std::process::Command::new(ps)
        .args(ps_environment_args(pid))
        .output()
    else {
        return false;
    };
    printed_environment_has(&String::from_utf8_lossy(&out.stdout), &wanted)
}

/// `ps` asked for one process's command line and environment, unabridged
/// (macOS and the BSDs: `-E` prints the environment after the command).
fn ps_environment_args(pid: u32) -> Vec<String> {
    let mut args: Vec<String> = ["-E", "-ww", "-o", "command=", "-p"]
        .map(String::from)
        .into();
    args.push(pid.to_string());
    args
}

/// Whether what `ps -E` printed holds `key=value` as one word of its own
/// (never a prefix of another: `ID=a` is not in `ID=ab`).
fn printed_environment_has(printed: &str, wanted: &str) -> bool {
    printed.split_whitespace().any(|w| w == wanted)
}

/// Creates a folder only its owner can enter (0700).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Creates a folder (and its missing parents) that only its owner can enter
/// (0700, whatever the umask). One that exists is left as it is, link or not:
/// the start-up tightening and the mailbox's own checks deal with those.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(dir).is_ok() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    let created = open_no_follow(dir).map_err(|(_, e)| e)?;
    created.set_permissions(std::fs::Permissions::from_mode(0o700))
}

/// Makes `options` create files only their owner can read and write (0600).
pub fn private_file_mode(options: &mut OpenOptions) -> &mut OpenOptions {
    options.mode(0o600)
}

/// Makes an open file owner-only (0600), whatever the umask made it.
pub fn make_private(file: &File) -> std::io::Result<()> {
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

/// Takes group and other access away from `path` (a link is not followed:
/// the opened descriptor is changed, never the name again). The old mode when
/// there was any to take; None for what is private already or not a plain
/// file or folder.
pub fn tighten(path: &Path) -> std::io::Result<Option<u32>> {
    let file = match open_no_follow(path) {
        Ok(f) => f,
        Err((OpenRefusal::NotRegular(_) | OpenRefusal::Gone, _)) => return Ok(None),
        Err((_, e)) => return Err(e),
    };
    let meta = file.metadata()?;
    let mode = meta.permissions().mode() & 0o7777;
    if !(meta.is_file() || meta.is_dir()) || mode & 0o077 == 0 {
        return Ok(None);
    }
    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))?;
    Ok(Some(mode))
}

/// A folder many users share (the sticky bit, as on `/tmp`): never made private.
pub fn shared_folder(meta: &std::fs::Metadata) -> bool {
    meta.permissions().mode() & 0o1000 != 0
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

/// Opens `options` (write or append, created 0600) at `path` without
/// following a link at its last component and without blocking on a FIFO;
/// the caller checks what it opened ([`foreign_file`]).
pub fn open_no_follow_with(options: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
    options
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// This user's id (the effective one, as the kernel checks).
fn me() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Why a file or folder is not this user's own: owned by another user, or
/// (`writable_by_others`) writable by group or others. None when it is.
pub fn not_own(meta: &std::fs::Metadata, writable_by_others: bool) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    if meta.uid() != me() {
        return Some(format!("owned by another user (uid {})", meta.uid()));
    }
    let mode = meta.mode() & 0o7777;
    if writable_by_others && mode & 0o022 != 0 {
        return Some(format!("writable by other users (mode {mode:04o})"));
    }
    None
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

/// A listener on a local socket the launcher serves (a session's MCP tools):
/// a unix socket in a private folder.
pub struct LocalListener {
    listener: tokio::net::UnixListener,
    address: std::path::PathBuf,
}

impl LocalListener {
    /// What a client names to reach it ([`connect_tools`]): the socket's path.
    pub fn address(&self) -> &Path {
        &self.address
    }

    /// The next connection.
    pub async fn accept(&mut self) -> std::io::Result<ToolsStream> {
        Ok(self.listener.accept().await?.0)
    }
}

/// Listens on the unix socket `path` (in a private folder; a file left there
/// by an earlier run is replaced).
pub fn listen_local(path: &Path) -> std::io::Result<LocalListener> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok(LocalListener {
        listener: tokio::net::UnixListener::bind(path)?,
        address: path.to_path_buf(),
    })
}

/// A connection to a [`LocalListener`], either end (a unix socket both ways).
pub type ToolsStream = tokio::net::UnixStream;

/// Connects to the [`LocalListener`] at `address`.
pub async fn connect_tools(address: &Path) -> std::io::Result<ToolsStream> {
    tokio::net::UnixStream::connect(address).await
}

/// Where output goes to nothing, and under which no file can exist.
pub const NULL_DEVICE: &str = "/dev/null";

/// Its own process session: no terminal, no hangup when the launcher goes.
pub fn detach(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
}

/// A listening socket may rebind a port in TIME_WAIT, as the standard
/// library's listeners do.
pub fn reuse_address(socket: &tokio::net::TcpSocket) -> std::io::Result<()> {
    socket.set_reuseaddr(true)
}

/// Copies a symbolic link as a link (its target as it is). `None` where a
/// link is copied as what it points to.
pub fn copy_link(from: &Path, to: &Path) -> Option<std::io::Result<()>> {
    Some(std::fs::read_link(from).and_then(|target| std::os::unix::fs::symlink(target, to)))
}

/// How a plain paste ends its lines: a Unix PTY reads `\n` as a line end.
pub const PASTE_LINE_END: &str = "\n";
/// Whether a PTY's master is closed when its program exits, to flush the last
/// output to the reader: a Unix PTY's reader ends by itself.
pub const CLOSE_MASTER_AT_EXIT: bool = false;
/// The shells a browser terminal may start, the first by default.
pub const DEFAULT_SHELLS: &[&str] = &["/bin/bash", "/bin/sh"];
/// Whether `\` separates folders in paths and patterns.
pub const BACKSLASH_SEPARATES: bool = false;
/// Whether Codex's app-server is reached over a loopback WebSocket by
/// default rather than a private Unix socket.
pub const CODEX_OVER_WEBSOCKET: bool = false;

/// A name that opens the same file as the descriptor `file` (libgit2 reads a
/// file by name: this one cannot be swapped for another).
#[cfg(target_os = "linux")]
pub fn descriptor_path(file: &std::fs::File, _full: &Path) -> Option<String> {
    use std::os::fd::AsRawFd;
    Some(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// A name that opens the same file as the descriptor `file`.
#[cfg(not(target_os = "linux"))]
pub fn descriptor_path(file: &std::fs::File, _full: &Path) -> Option<String> {
    use std::os::fd::AsRawFd;
    Some(format!("/dev/fd/{}", file.as_raw_fd()))
}

/// After a contained process exited and was reaped: nothing on Unix (its process group may be gone and its number reused, so no
/// signal is sent to it).
pub fn release_tree(_pid: u32) {}

/// A command line of the user's configuration run by the platform's shell
/// (`sh -c`), in a process group of its own so [`kill_tree`] stops all it
/// started.
pub fn shell_command(line: &str) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(line).process_group(0);
    cmd
}

/// Bytes an unprivileged user may still write on the file system holding `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `name` is a NUL-terminated path and `stats` a zeroed statvfs
    // the call fills.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(name.as_ptr(), &mut stats) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)]
    Ok(stats.f_bavail as u64 * stats.f_frsize as u64)
}

#[cfg(test)]
mod tests {

    /// The macOS path of "is this still our agent" (issue 72 item 3), tested
    /// here: the arguments ps gets, and a match that is never a prefix.
    #[test]
    fn ps_is_asked_for_one_process_and_its_environment_is_matched_whole() {
        assert_eq!(
            ps_environment_args(4242),
            ["-E", "-ww", "-o", "command=", "-p", "4242"]
        );
        let printed = "codex --model m CODEX_GOVERNANCE_SESSION_ID=zhilibu-12 HOME=/h\n";
        let id = |v: &str| format!("CODEX_GOVERNANCE_SESSION_ID={v}");
        assert!(printed_environment_has(printed, &id("zhilibu-12")));
        assert!(!printed_environment_has(printed, &id("zhilibu-1")));
        assert!(!printed_environment_has("", &id("zhilibu-12")));
    }

    #[test]
    fn a_process_that_leaves_the_group_but_not_the_session_goes_with_it() {
        use std::os::unix::process::CommandExt;
        // A session leader (as a PTY spawn makes) whose child takes a group of its own.
        let mut leader = std::process::Command::new("sh");
        // The child takes a process group of its own (perl-base is essential on Debian).
        leader.args([
            "-c",
            "perl -e 'setpgrp(0, 0); $| = 1; print \"$$\\n\"; sleep 30' & wait",
        ]);
        // SAFETY: setsid in the child before exec, as a PTY spawn does.
        unsafe {
            leader.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = leader.stdout(std::process::Stdio::piped()).spawn().unwrap();
        let leader_pid = child.id();
        let mut out = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut out,
        )
        .unwrap();
        let sleeper: u32 = out.trim().parse().unwrap();
        // SAFETY: getpgid only reads.
        let group = unsafe { libc::getpgid(sleeper as libc::pid_t) };
        assert_eq!(
            group, sleeper as libc::pid_t,
            "the sleeper leads its own group"
        );
        assert_eq!(session_of(sleeper), Some(leader_pid));
        assert!(session_members(leader_pid).contains(&sleeper));
        kill_tree(leader_pid);
        let _ = child.wait();
        let gone = (0..500).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            std::fs::read_to_string(format!("/proc/{sleeper}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
        });
        assert!(gone, "the sleeper in its own group went with the session");
    }

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
    fn new_private_folders_are_0700_and_tightening_takes_group_and_other_access() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        // SAFETY: umask(2) only changes this process's file creation mask.
        let old = unsafe { libc::umask(0o777) };
        let made = create_private_dir(&deep);
        unsafe { libc::umask(old) };
        made.unwrap();
        for p in [dir.path().join("a"), dir.path().join("a/b"), deep.clone()] {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", p.display());
        }
        let file = deep.join("f");
        std::fs::write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(tighten(&file).unwrap(), Some(0o755));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(tighten(&file).unwrap(), None, "private already");
        // A link is not followed: its target keeps its mode.
        let target = dir.path().join("target");
        std::fs::write(&target, b"y").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = deep.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(tighten(&link).unwrap(), None);
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn this_process_runs_no_other_session() {
        assert!(process_alive(std::process::id()));
        assert!(!runs_session(std::process::id(), "zhongshu-999"));
    }
}
