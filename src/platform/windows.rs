//! Windows: each agent's process tree in a Job Object that kills it when its
//! handle closes (also when the launcher dies), reparse points refused in the
//! mailbox, Ctrl-C / Ctrl-Break / close to stop the launcher.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Mutex;

use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_ATTRIBUTE_REPARSE_POINT, FILE_FLAG_OPEN_REPARSE_POINT,
};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, Thread32First, Thread32Next, TH32CS_SNAPTHREAD, THREADENTRY32,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, OpenProcess, OpenThread, ResumeThread, TerminateProcess, CREATE_NO_WINDOW,
    CREATE_SUSPENDED, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SET_QUOTA, PROCESS_TERMINATE,
    THREAD_SUSPEND_RESUME,
};

use super::OpenRefusal;

/// A connection to a Codex app-server (loopback TCP on Windows).
pub type LocalStream = tokio::net::TcpStream;

/// `GetExitCodeProcess` while the process runs.
const STILL_ACTIVE: u32 = 259;

/// An agent held by the launcher: its kill-on-close job (none when Windows
/// refused one) and a handle to its process, kept open so that Windows gives
/// its pid to no other process while the entry lasts (handles as integers:
/// they are process-wide values, not memory).
struct Contained {
    job: Option<usize>,
    process: usize,
}

/// The agents held, by pid.
fn contained() -> &'static Mutex<HashMap<u32, Contained>> {
    static HELD: std::sync::OnceLock<Mutex<HashMap<u32, Contained>>> = std::sync::OnceLock::new();
    HELD.get_or_init(Default::default)
}

/// Puts the process `pid` (and every process it starts) into a kill-on-close
/// job, then lets it run: a process started by [`detach`] or [`shell_command`]
/// waits, suspended, until it is in its job, so nothing it starts escapes. A
/// process held already is left as it is. (A ConPTY agent is held and
/// resumed by its spawner, and never passed here.)
pub fn contain(pid: u32) {
    if pid != 0 && hold(pid) {
        resume(pid);
    }
}

/// The job part of [`contain`], once per process (the ConPTY spawner calls it
/// for its suspended process, then resumes the thread it has); false when the
/// process was held already. The entry
/// holds the process, so a pid found here is still this process's: an agent
/// that ended cannot pass its entry to a new process given its pid, and a
/// late [`kill_tree`] of its owner reaches only its own tree.
pub(super) fn hold(pid: u32) -> bool {
    let mut held = contained().lock().unwrap();
    if held.contains_key(&pid) {
        return false;
    }
    // SAFETY: plain Win32 calls on handles this function owns (the process
    // handle and the job go into the map, or are closed here); the limit
    // structure is zeroed and sized as the API requires.
    unsafe {
        let process = OpenProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE, 0, pid);
        if process.is_null() {
            tracing::warn!(
                "agent process {pid} cannot be held: {}",
                std::io::Error::last_os_error()
            );
            return true;
        }
        let job = CreateJobObjectW(std::ptr::null(), std::ptr::null());
        let job = (!job.is_null()).then_some(job).filter(|&job| {
            let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = std::mem::zeroed();
            info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
            // A job that would not kill its tree when closed is none.
            let assigned = SetInformationJobObject(
                job,
                JobObjectExtendedLimitInformation,
                &info as *const _ as *const core::ffi::c_void,
                std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            ) != 0
                && AssignProcessToJobObject(job, process) != 0;
            if !assigned {
                CloseHandle(job);
            }
            assigned
        });
        held.insert(
            pid,
            Contained {
                job: job.map(|j| j as usize),
                process: process as usize,
            },
        );
    }
    true
}

/// Resumes `pid`, a process just started suspended (its one thread). One
/// that cannot be resumed is ended: it would otherwise wait for ever, holding
/// what its owner waits on. (Its owner's child handle keeps its pid from
/// being reused meanwhile.)
fn resume(pid: u32) {
    let resumed = threads_of(pid)
        .unwrap_or_default()
        .into_iter()
        .filter(|&id| {
            // SAFETY: a thread handle opened and closed here.
            unsafe {
                let thread = OpenThread(THREAD_SUSPEND_RESUME, 0, id);
                if thread.is_null() {
                    return false;
                }
                let before = ResumeThread(thread);
                CloseHandle(thread);
                before != u32::MAX && before > 0
            }
        });
    if resumed.count() == 0 {
        tracing::warn!(
            "process {pid} could not be let run: {}",
            std::io::Error::last_os_error()
        );
        end_process(pid);
    }
}

/// Ends `pid`: its tree when held, else the process alone.
fn end_process(pid: u32) {
    if contained().lock().unwrap().contains_key(&pid) {
        kill_tree(pid);
        return;
    }
    // SAFETY: a handle opened and closed here.
    unsafe {
        let process = OpenProcess(PROCESS_TERMINATE, 0, pid);
        if !process.is_null() {
            TerminateProcess(process, 1);
            CloseHandle(process);
        }
    }
}

/// The ids of the threads of `pid`, or none when Windows would not say.
fn threads_of(pid: u32) -> Option<Vec<u32>> {
    // SAFETY: a snapshot this function opens and closes; the entry is zeroed
    // and sized as the API requires.
    unsafe {
        let snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
        if snapshot == INVALID_HANDLE_VALUE {
            return None;
        }
        let mut entry: THREADENTRY32 = std::mem::zeroed();
        entry.dwSize = std::mem::size_of::<THREADENTRY32>() as u32;
        let mut threads = Vec::new();
        let mut more = Thread32First(snapshot, &mut entry) != 0;
        while more {
            if entry.th32OwnerProcessID == pid {
                threads.push(entry.th32ThreadID);
            }
            more = Thread32Next(snapshot, &mut entry) != 0;
        }
        CloseHandle(snapshot);
        Some(threads)
    }
}

/// No signal reaches a ConPTY child from here: false tells the PTY to type
/// Ctrl-C into the agent's console instead, before the tree is killed.
pub fn terminate_tree(_pid: u32) -> bool {
    false
}

/// Ends the agent's whole tree (its job, or the process itself when it has
/// none) and lets it go. An agent not held (never, or already let go) is left
/// alone: its pid may be another process's by now.
pub fn kill_tree(pid: u32) {
    let Some(agent) = contained().lock().unwrap().remove(&pid) else {
        return;
    };
    // SAFETY: both handles came from `contain` and are closed once, here.
    unsafe {
        match agent.job {
            Some(job) => {
                TerminateJobObject(job as HANDLE, 1);
                CloseHandle(job as HANDLE);
            }
            None => {
                TerminateProcess(agent.process as HANDLE, 1);
            }
        }
        CloseHandle(agent.process as HANDLE);
    }
}

/// This user's id (none on Windows: users are named by SIDs).
pub fn user_id() -> Option<u32> {
    None
}

/// True while the process runs.
pub fn process_alive(pid: u32) -> bool {
    // SAFETY: a query handle, closed before returning.
    unsafe {
        let process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if process.is_null() {
            return false;
        }
        let mut code = 0u32;
        let ok = GetExitCodeProcess(process, &mut code) != 0;
        CloseHandle(process);
        ok && code == STILL_ACTIVE
    }
}

/// Agents die with the launcher's job handles, so none is ever left behind.
pub fn runs_session(_pid: u32, _id: &str) -> bool {
    false
}

/// Another process's environment is not read here: nothing is claimed.
pub fn has_env(_pid: u32, _key: &str, _value: &str) -> bool {
    false
}

/// Nothing to do: another process reads this one's environment only with
/// rights to its memory.
pub fn hide_start_environment() {}

/// A folder under the user's profile is readable by that user only (see SECURITY.md).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// A new folder inherits its parent's ACL (see SECURITY.md).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// No mode bits on Windows: a new file takes its folder's ACL (see SECURITY.md).
pub fn private_file_mode(options: &mut OpenOptions) -> &mut OpenOptions {
    options
}

/// No mode bits on Windows: the folder's inherited ACL decides who reads it.
pub fn make_private(_file: &File) -> std::io::Result<()> {
    Ok(())
}

/// No mode bits on Windows: nothing to tighten (the ACL is inherited).
pub fn tighten(_path: &Path) -> std::io::Result<Option<u32>> {
    Ok(None)
}

/// Shared folders are told by their ACL on Windows, which is not read here.
pub fn shared_folder(_meta: &std::fs::Metadata) -> bool {
    false
}

/// Opens a file that is not a reparse point (symbolic link, junction).
pub fn open_no_follow(path: &Path) -> Result<File, (OpenRefusal, std::io::Error)> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err((OpenRefusal::Gone, e)),
        Err(e) => return Err((OpenRefusal::Other, e)),
        Ok(m)
            if m.file_type().is_symlink()
                || m.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 =>
        {
            let e = std::io::Error::other("a reparse point");
            return Err((
                OpenRefusal::NotRegular("a link or junction (reparse point)"),
                e,
            ));
        }
        Ok(_) => {}
    }
    OpenOptions::new()
        .read(true)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
        .map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                OpenRefusal::Gone
            } else {
                OpenRefusal::Other
            };
            (why, e)
        })
}

/// Opens `options` at `path` unless it is a reparse point (symbolic link,
/// junction); the caller checks what it opened.
pub fn open_no_follow_with(options: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if m.file_type().is_symlink() || m.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Err(std::io::Error::other("a link or junction (reparse point)"));
        }
    }
    options
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// Owners are told by ACLs on Windows, which are not read here (see SECURITY.md).
pub fn not_own(_meta: &std::fs::Metadata, _writable_by_others: bool) -> Option<String> {
    None
}

/// How many names the opened file has (a hard link adds one).
pub fn link_count(file: &File) -> std::io::Result<u64> {
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Storage::FileSystem::{
        GetFileInformationByHandle, BY_HANDLE_FILE_INFORMATION,
    };
    // SAFETY: the handle is open for the call and `info` is plain data it fills.
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    let ok = unsafe { GetFileInformationByHandle(file.as_raw_handle() as HANDLE, &mut info) };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(u64::from(info.nNumberOfLinks))
}

/// What a file that is not a regular file is, in words.
pub fn describe_file_type(t: &std::fs::FileType) -> &'static str {
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else {
        "a device or special file"
    }
}

/// Resolves on Ctrl-C, Ctrl-Break or the console closing.
pub async fn stop_signal() -> std::io::Result<()> {
    use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
    let mut c = ctrl_c()?;
    let mut b = ctrl_break()?;
    let mut x = ctrl_close()?;
    tokio::select! {
        _ = c.recv() => {}
        _ = b.recv() => {}
        _ = x.recv() => {}
    }
    Ok(())
}

/// A listener the launcher serves locally (a session's MCP tools): a named
/// pipe of a fresh random name, made by this process first (a planted pipe of
/// that name fails the start), refusing clients of other machines.
pub struct LocalListener {
    name: std::path::PathBuf,
    next: tokio::net::windows::named_pipe::NamedPipeServer,
}

impl LocalListener {
    /// What a client names to reach it ([`connect_tools`]): `\\.\pipe\…`.
    pub fn address(&self) -> &Path {
        &self.name
    }

    /// The next connection; a new instance of the pipe waits for the one after.
    /// The new instance is made while the old one is still held, also when
    /// the connection failed: the name is never free for another to take.
    pub async fn accept(&mut self) -> std::io::Result<ToolsStream> {
        let connected = self.next.connect().await;
        let after = pipe_options(false).create(&self.name)?;
        let this = std::mem::replace(&mut self.next, after);
        connected.map(|()| this)
    }
}

fn pipe_options(first: bool) -> tokio::net::windows::named_pipe::ServerOptions {
    let mut options = tokio::net::windows::named_pipe::ServerOptions::new();
    options
        .first_pipe_instance(first)
        .reject_remote_clients(true);
    options
}

/// A named pipe of a fresh name for what `_path` would be on Unix (the pipe
/// is not a file, so nothing is left in its folder).
pub fn listen_local(_path: &Path) -> std::io::Result<LocalListener> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    let name =
        std::path::PathBuf::from(format!(r"\\.\pipe\codex-governance-{}", hex::encode(bytes)));
    let next = pipe_options(true).create(&name)?;
    Ok(LocalListener { name, next })
}

/// The server's end of a [`LocalListener`]'s connection.
pub type ToolsStream = tokio::net::windows::named_pipe::NamedPipeServer;

/// Connects to the [`LocalListener`] at `address`, waiting while every
/// instance of the pipe is busy.
pub async fn connect_tools(
    address: &Path,
) -> std::io::Result<tokio::net::windows::named_pipe::NamedPipeClient> {
    const ERROR_PIPE_BUSY: i32 = 231;
    let mut tries = 0;
    loop {
        match tokio::net::windows::named_pipe::ClientOptions::new().open(address) {
            Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY) && tries < 100 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// Codex on Windows cannot listen on a unix socket; its loopback WebSocket
/// listener (with a capability token) is not wired yet.
pub async fn connect_local(path: &Path) -> std::io::Result<LocalStream> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!(
            "the Codex backend needs a unix socket ({}), which Windows builds do not use yet: \
             set launcher.backend: pty",
            path.display()
        ),
    ))
}

/// After a crash: what is left of a session. Nothing to do here: a session's
/// processes are in a Job Object that kills them when its last handle closes,
/// which the crash did.
pub fn kill_leftovers(_leader: u32, _id: &str) {}

/// Nothing to find here: what it ends (a landing's checks) runs on Linux only.
pub fn kill_marked(_key: &str, _values: &[String]) -> usize {
    0
}

/// Where output goes to nothing, and under which no file can exist.
pub const NULL_DEVICE: &str = "NUL";

/// No console window, and started suspended: [`contain`] puts it in its Job
/// Object (which ends it with the launcher) before it runs, so every process
/// started this way must be contained.
pub fn detach(cmd: &mut std::process::Command) {
    use std::os::windows::process::CommandExt;
    cmd.creation_flags(CREATE_NO_WINDOW | CREATE_SUSPENDED);
}

/// Never on Windows: reusing an address there would let another program take
/// the port over.
pub fn reuse_address(_socket: &tokio::net::TcpSocket) -> std::io::Result<()> {
    Ok(())
}

/// A link is copied as what it points to (making a link needs a privilege).
pub fn copy_link(_from: &Path, _to: &Path) -> Option<std::io::Result<()>> {
    None
}

/// How a plain paste ends its lines: Windows consoles end a line on Enter
/// (CR) only, so each line end is typed as CR, as terminals do when they paste.
pub const PASTE_LINE_END: &str = "\r";
/// Whether a PTY's master is closed when its program exits: ConPTY flushes
/// the final output to the reader, then ends it, only then.
pub const CLOSE_MASTER_AT_EXIT: bool = true;
/// The shells a browser terminal may start, the first by default: Windows'
/// own, the ones every machine has.
pub const DEFAULT_SHELLS: &[&str] = &["powershell.exe", "cmd.exe"];
/// Whether `\` separates folders in paths and patterns.
pub const BACKSLASH_SEPARATES: bool = true;
/// Whether Codex's app-server is reached over a loopback WebSocket by
/// default (Windows has no Unix socket Codex listens on).
pub const CODEX_OVER_WEBSOCKET: bool = true;

/// No name opens a descriptor's file on Windows: the file's own path
/// (checked regular just before; Windows has no FIFO in a working tree).
pub fn descriptor_path(_file: &std::fs::File, full: &Path) -> Option<String> {
    full.to_str().map(str::to_string)
}

/// After a contained process exited (a set-up command, a push's git, an ACP
/// agent): its job is closed (what it left running ends with it), so no
/// handle is kept.
pub fn release_tree(pid: u32) {
    kill_tree(pid);
}

/// A command line of the user's configuration run by the platform's shell
/// (`cmd /S /C`, the line as written), started as [`detach`] starts one:
/// [`contain`] its process to let it run, so [`kill_tree`] stops all it
/// started.
pub fn shell_command(line: &str) -> std::process::Command {
    use std::os::windows::process::CommandExt;
    let mut cmd = std::process::Command::new("cmd");
    cmd.raw_arg(format!("/D /S /C \"{line}\""));
    detach(&mut cmd);
    cmd
}

/// Bytes the user may still write on the volume holding `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Storage::FileSystem::GetDiskFreeSpaceExW;
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    let mut available = 0u64;
    // SAFETY: `wide` is NUL-terminated; the other outputs may be null.
    let ok = unsafe {
        GetDiskFreeSpaceExW(
            wide.as_ptr(),
            &mut available,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(available)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process that runs until its input closes, started as agents are.
    fn waiting_process() -> std::process::Child {
        let mut cmd = std::process::Command::new("cmd");
        detach(&mut cmd);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("cmd starts")
    }

    fn job_of(pid: u32) -> Option<usize> {
        contained().lock().unwrap().get(&pid).and_then(|c| c.job)
    }

    #[test]
    fn an_agent_is_held_once_and_its_tree_ends_with_its_job() {
        let mut child = waiting_process();
        let pid = child.id();
        contain(pid);
        let job = job_of(pid).expect("a kill-on-close job");
        contain(pid);
        assert_eq!(job_of(pid), Some(job), "the same job, not a second one");

        kill_tree(pid);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(1), "ended by its job: {status:?}");
        assert!(!contained().lock().unwrap().contains_key(&pid));
        // Let go: a late second call reaches nothing.
        kill_tree(pid);
    }

    /// How many times each thread of `pid` is suspended.
    fn suspensions(pid: u32) -> Vec<u32> {
        let threads = threads_of(pid).expect("a thread snapshot");
        threads
            .into_iter()
            .map(|id| unsafe {
                use windows_sys::Win32::System::Threading::SuspendThread;
                let thread = OpenThread(THREAD_SUSPEND_RESUME, 0, id);
                assert!(!thread.is_null(), "thread {id} opens");
                let before = SuspendThread(thread);
                ResumeThread(thread);
                CloseHandle(thread);
                before
            })
            .collect()
    }

    #[test]
    fn a_shell_command_waits_for_its_job_then_runs() {
        let mut child = shell_command("exit 7").spawn().expect("cmd starts");
        let pid = child.id();
        let before = suspensions(pid);
        assert!(
            !before.is_empty() && before.iter().all(|&n| n == 1),
            "every thread suspended until it is contained: {before:?}"
        );
        contain(pid);
        assert!(job_of(pid).is_some(), "in its kill-on-close job");
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(7), "it ran: {status:?}");
        release_tree(pid);
        assert!(!contained().lock().unwrap().contains_key(&pid));
    }
}
