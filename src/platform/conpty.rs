//! Windows pseudo consoles for `pty.rs`, behind portable-pty's traits.
//!
//! portable-pty's own ConPTY asks for `PSEUDOCONSOLE_INHERIT_CURSOR`: the
//! console then asks the terminal where its cursor is (`ESC[6n`) and shows
//! nothing until it is answered. The launcher reads every agent's output
//! itself, with or without a browser attached, so an agent would print
//! nothing until someone opened its terminal (and under Wine, never). This one
//! asks for no such thing and no win32 input mode (browsers send plain VT).
//! It also starts each program suspended, puts it in its Job Object, then lets
//! it run, so no grandchild can escape the job by starting early.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail};
use portable_pty::{
    Child, ChildKiller, CommandBuilder, ExitStatus, MasterPty, PtyPair, PtySize, PtySystem,
    SlavePty,
};
use windows_sys::Win32::Foundation::{HANDLE, INVALID_HANDLE_VALUE, WAIT_OBJECT_0};
use windows_sys::Win32::System::Console::{
    ClosePseudoConsole, CreatePseudoConsole, ResizePseudoConsole, COORD, HPCON,
};
use windows_sys::Win32::System::Pipes::CreatePipe;
use windows_sys::Win32::System::Threading::{
    CreateProcessW, DeleteProcThreadAttributeList, GetExitCodeProcess,
    InitializeProcThreadAttributeList, ResumeThread, TerminateProcess, UpdateProcThreadAttribute,
    WaitForSingleObject, CREATE_SUSPENDED, CREATE_UNICODE_ENVIRONMENT,
    EXTENDED_STARTUPINFO_PRESENT, INFINITE, LPPROC_THREAD_ATTRIBUTE_LIST, PROCESS_INFORMATION,
    PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE, STARTF_USESTDHANDLES, STARTUPINFOEXW,
};

/// `GetExitCodeProcess` while the process runs.
const STILL_ACTIVE: u32 = 259;

/// Pseudo consoles without the cursor handshake.
pub struct ConPtySystem;

impl PtySystem for ConPtySystem {
    fn openpty(&self, size: PtySize) -> anyhow::Result<PtyPair> {
        // A console host that fails to come up (seen under Wine while other
        // consoles start and stop: HRESULT 0x80070001) is tried again with
        // fresh pipes, a few times, before the start is refused.
        let mut attempt = 1;
        let (console, input_write, output_read) = loop {
            match open_console(size) {
                Ok(opened) => break opened,
                Err(e) if attempt >= CONSOLE_ATTEMPTS => return Err(e),
                Err(_) => {
                    std::thread::sleep(std::time::Duration::from_millis(100 * attempt));
                    attempt += 1;
                }
            }
        };
        let console = Arc::new(console);
        Ok(PtyPair {
            slave: Box::new(Slave {
                console: Arc::clone(&console),
            }),
            master: Box::new(Master {
                console,
                size: Mutex::new(size),
                output: File::from(output_read),
                input: Mutex::new(Some(File::from(input_write))),
            }),
        })
    }
}

/// How many times a pseudo console is asked for before a start fails.
const CONSOLE_ATTEMPTS: u64 = 4;

/// One pseudo console with the launcher's ends of its two pipes.
fn open_console(size: PtySize) -> anyhow::Result<(Console, OwnedHandle, OwnedHandle)> {
    let (input_read, input_write) = pipe()?;
    let (output_read, output_write) = pipe()?;
    let mut console: HPCON = 0;
    // SAFETY: valid pipe handles and an out pointer; flags 0 (see the module doc).
    let result = unsafe {
        CreatePseudoConsole(
            coord(size),
            input_read.as_raw_handle() as HANDLE,
            output_write.as_raw_handle() as HANDLE,
            0,
            &mut console,
        )
    };
    if result != 0 {
        bail!("CreatePseudoConsole failed: HRESULT {result:#x}");
    }
    // The console holds its own copies of its ends.
    drop((input_read, output_write));
    Ok((Console(console), input_write, output_read))
}

/// The pseudo console, closed when the last of master and slave goes.
struct Console(HPCON);

// SAFETY: an HPCON may be used and closed from any thread.
unsafe impl Send for Console {}
// SAFETY: as above; the calls made through `&Console` are thread-safe.
unsafe impl Sync for Console {}

impl Drop for Console {
    fn drop(&mut self) {
        // SAFETY: the handle came from CreatePseudoConsole and is closed once.
        unsafe { ClosePseudoConsole(self.0) }
    }
}

struct Master {
    console: Arc<Console>,
    size: Mutex<PtySize>,
    output: File,
    input: Mutex<Option<File>>,
}

impl MasterPty for Master {
    fn resize(&self, size: PtySize) -> anyhow::Result<()> {
        // SAFETY: a live console handle.
        let result = unsafe { ResizePseudoConsole(self.console.0, coord(size)) };
        if result != 0 {
            bail!("ResizePseudoConsole failed: HRESULT {result:#x}");
        }
        *self.size.lock().unwrap() = size;
        Ok(())
    }

    fn get_size(&self) -> anyhow::Result<PtySize> {
        Ok(*self.size.lock().unwrap())
    }

    fn try_clone_reader(&self) -> anyhow::Result<Box<dyn Read + Send>> {
        Ok(Box::new(self.output.try_clone()?))
    }

    fn take_writer(&self) -> anyhow::Result<Box<dyn Write + Send>> {
        let input = self.input.lock().unwrap().take();
        Ok(Box::new(
            input.ok_or_else(|| anyhow!("the writer was taken"))?,
        ))
    }
}

struct Slave {
    console: Arc<Console>,
}

impl SlavePty for Slave {
    fn spawn_command(&self, cmd: CommandBuilder) -> anyhow::Result<Box<dyn Child + Send + Sync>> {
        let argv = cmd.get_argv();
        let program = argv.first().ok_or_else(|| anyhow!("no program to start"))?;
        let mut line = command_line(argv)?;
        line.push(0);
        let mut env: Vec<(&str, &str)> = cmd.iter_full_env_as_str().collect();
        env.sort_by_key(|(k, _)| k.to_uppercase());
        let mut block: Vec<u16> = Vec::new();
        for (k, v) in env {
            block.extend(k.encode_utf16());
            block.push('=' as u16);
            block.extend(v.encode_utf16());
            block.push(0);
        }
        block.push(0);
        let cwd: Option<Vec<u16>> = cmd
            .get_cwd()
            .map(|d| d.encode_wide().chain(Some(0)).collect());
        let mut attributes = AttributeList::with_console(&self.console)?;

        // SAFETY: zeroed plain-data structures, sized as the API requires.
        let mut startup: STARTUPINFOEXW = unsafe { std::mem::zeroed() };
        startup.StartupInfo.cb = std::mem::size_of::<STARTUPINFOEXW>() as u32;
        // No handle of the launcher's own reaches the program: it gets the
        // console's (Windows), or opens CONOUT$ (Wine 8 gives it none).
        startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
        startup.StartupInfo.hStdInput = INVALID_HANDLE_VALUE;
        startup.StartupInfo.hStdOutput = INVALID_HANDLE_VALUE;
        startup.StartupInfo.hStdError = INVALID_HANDLE_VALUE;
        startup.lpAttributeList = attributes.0.as_mut_ptr() as LPPROC_THREAD_ATTRIBUTE_LIST;
        // SAFETY: as above.
        let mut info: PROCESS_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: every pointer is to a NUL-terminated buffer or a structure
        // that outlives the call; the command line buffer is writable.
        let created = unsafe {
            CreateProcessW(
                std::ptr::null(),
                line.as_mut_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                0,
                EXTENDED_STARTUPINFO_PRESENT | CREATE_UNICODE_ENVIRONMENT | CREATE_SUSPENDED,
                block.as_ptr().cast(),
                cwd.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
                &startup.StartupInfo,
                &mut info,
            )
        };
        if created == 0 {
            let error = std::io::Error::last_os_error();
            // The io::Error stays in the chain: a start failure can tell "not found".
            return Err(anyhow::Error::new(error).context(format!("CreateProcessW {program:?}")));
        }
        // SAFETY: both handles are new and ours.
        let (process, thread) = unsafe {
            (
                OwnedHandle::from_raw_handle(info.hProcess as RawHandle),
                OwnedHandle::from_raw_handle(info.hThread as RawHandle),
            )
        };
        super::windows::hold(info.dwProcessId);
        // SAFETY: the suspended main thread of the process just created.
        unsafe { ResumeThread(thread.as_raw_handle() as HANDLE) };
        Ok(Box::new(ConsoleChild {
            process: Arc::new(process),
            pid: info.dwProcessId,
        }))
    }
}

/// A one-entry attribute list naming the pseudo console.
struct AttributeList(Vec<u64>);

impl AttributeList {
    fn with_console(console: &Console) -> anyhow::Result<AttributeList> {
        let mut size = 0usize;
        // SAFETY: the first call only reports the size needed.
        unsafe { InitializeProcThreadAttributeList(std::ptr::null_mut(), 1, 0, &mut size) };
        let mut list = AttributeList(vec![0u64; size.div_ceil(8)]);
        let ptr = list.0.as_mut_ptr() as LPPROC_THREAD_ATTRIBUTE_LIST;
        // SAFETY: `ptr` has `size` bytes, 8-aligned.
        if unsafe { InitializeProcThreadAttributeList(ptr, 1, 0, &mut size) } == 0 {
            bail!(
                "InitializeProcThreadAttributeList: {}",
                std::io::Error::last_os_error()
            );
        }
        // SAFETY: the attribute's value is the HPCON itself, as documented.
        let updated = unsafe {
            UpdateProcThreadAttribute(
                ptr,
                0,
                PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE as usize,
                console.0 as *const core::ffi::c_void,
                std::mem::size_of::<HPCON>(),
                std::ptr::null_mut(),
                std::ptr::null(),
            )
        };
        if updated == 0 {
            bail!(
                "UpdateProcThreadAttribute: {}",
                std::io::Error::last_os_error()
            );
        }
        Ok(list)
    }
}

impl Drop for AttributeList {
    fn drop(&mut self) {
        // SAFETY: initialised in `with_console`, deleted once.
        unsafe {
            DeleteProcThreadAttributeList(self.0.as_mut_ptr() as LPPROC_THREAD_ATTRIBUTE_LIST)
        }
    }
}

#[derive(Debug, Clone)]
struct ConsoleChild {
    process: Arc<OwnedHandle>,
    pid: u32,
}

impl ConsoleChild {
    fn exit_code(&self) -> std::io::Result<u32> {
        let mut code = 0u32;
        // SAFETY: a live process handle and an out pointer.
        if unsafe { GetExitCodeProcess(self.process.as_raw_handle() as HANDLE, &mut code) } == 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(code)
    }
}

impl ChildKiller for ConsoleChild {
    fn kill(&mut self) -> std::io::Result<()> {
        // SAFETY: a live process handle.
        if unsafe { TerminateProcess(self.process.as_raw_handle() as HANDLE, 1) } == 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    fn clone_killer(&self) -> Box<dyn ChildKiller + Send + Sync> {
        Box::new(self.clone())
    }
}

impl Child for ConsoleChild {
    fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        let code = self.exit_code()?;
        Ok((code != STILL_ACTIVE).then(|| ExitStatus::with_exit_code(code)))
    }

    fn wait(&mut self) -> std::io::Result<ExitStatus> {
        // SAFETY: a live process handle.
        let waited =
            unsafe { WaitForSingleObject(self.process.as_raw_handle() as HANDLE, INFINITE) };
        if waited != WAIT_OBJECT_0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(ExitStatus::with_exit_code(self.exit_code()?))
    }

    fn process_id(&self) -> Option<u32> {
        Some(self.pid)
    }

    fn as_raw_handle(&self) -> Option<RawHandle> {
        Some(self.process.as_raw_handle())
    }
}

fn pipe() -> anyhow::Result<(OwnedHandle, OwnedHandle)> {
    let (mut read, mut write): (HANDLE, HANDLE) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: out pointers to two handles; default security, default size.
    if unsafe { CreatePipe(&mut read, &mut write, std::ptr::null(), 0) } == 0 {
        bail!("CreatePipe: {}", std::io::Error::last_os_error());
    }
    // SAFETY: both handles are new and ours.
    Ok(unsafe {
        (
            OwnedHandle::from_raw_handle(read as RawHandle),
            OwnedHandle::from_raw_handle(write as RawHandle),
        )
    })
}

fn coord(size: PtySize) -> COORD {
    COORD {
        X: size.cols.clamp(1, i16::MAX as u16) as i16,
        Y: size.rows.clamp(1, i16::MAX as u16) as i16,
    }
}

/// The command line for `argv`: each word quoted for `CommandLineToArgvW`,
/// but for `cmd /c` (or `/k`), whose command line after the switch cmd.exe
/// reads itself: that part is passed as the user wrote it, behind `/s` and
/// in one pair of quotes that `/s` makes cmd.exe take off, so a quoted path
/// and quoted arguments reach it unchanged (with `/s` given already, the
/// user's words go as they are).
fn command_line(argv: &[OsString]) -> anyhow::Result<Vec<u16>> {
    let words: Vec<String> = argv
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    // The index in argv of the first verbatim word.
    let verbatim = words
        .split_first()
        .and_then(|(program, args)| super::cmd_command_line_from(program, args))
        .map(|first_arg| first_arg + 1);
    let (quoted, tail) = argv.split_at(verbatim.unwrap_or(argv.len()));
    let user_gave_s = quoted.iter().skip(1).any(|a| a.eq_ignore_ascii_case("/s"));
    let mut line = Vec::new();
    for (i, arg) in quoted.iter().enumerate() {
        if i > 0 {
            line.push(' ' as u16);
        }
        if verbatim.is_some() && i + 1 == quoted.len() && !user_gave_s {
            line.extend("/s ".encode_utf16());
        }
        quote_argument(arg, &mut line)?;
    }
    if verbatim.is_some() {
        let mut text: Vec<u16> = Vec::new();
        for (i, word) in tail.iter().enumerate() {
            if i > 0 {
                text.push(' ' as u16);
            }
            text.extend(word.encode_wide());
        }
        if text.contains(&0) {
            bail!("an argument holds a NUL character");
        }
        line.push(' ' as u16);
        if user_gave_s {
            line.extend(text);
        } else {
            line.push('"' as u16);
            line.extend(text);
            line.push('"' as u16);
        }
    }
    Ok(line)
}

/// Appends `arg` quoted so that `CommandLineToArgvW` (and every C runtime)
/// reads it back unchanged: quotes only when needed, backslashes doubled
/// before a quote.
fn quote_argument(arg: &OsString, line: &mut Vec<u16>) -> anyhow::Result<()> {
    let wide: Vec<u16> = arg.encode_wide().collect();
    if wide.contains(&0) {
        bail!("an argument holds a NUL character: {arg:?}");
    }
    let plain = !wide.is_empty()
        && !wide.iter().any(|&c| {
            matches!(
                char::from_u32(c as u32),
                Some(' ' | '\t' | '\n' | '\x0b' | '"')
            )
        });
    if plain {
        line.extend(wide);
        return Ok(());
    }
    line.push('"' as u16);
    let mut backslashes = 0;
    for &c in &wide {
        if c == '\\' as u16 {
            backslashes += 1;
            continue;
        }
        let repeat = if c == '"' as u16 {
            2 * backslashes + 1
        } else {
            backslashes
        };
        line.extend(std::iter::repeat_n('\\' as u16, repeat));
        backslashes = 0;
        line.push(c);
    }
    line.extend(std::iter::repeat_n('\\' as u16, 2 * backslashes));
    line.push('"' as u16);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(arg: &str) -> String {
        let mut line = Vec::new();
        quote_argument(&OsString::from(arg), &mut line).unwrap();
        String::from_utf16(&line).unwrap()
    }

    fn line_of(words: &[&str]) -> String {
        let argv: Vec<OsString> = words.iter().map(OsString::from).collect();
        String::from_utf16(&command_line(&argv).unwrap()).unwrap()
    }

    #[test]
    fn cmd_gets_its_command_line_as_written() {
        let written = r#""C:\Program Files\cg.exe" mailbox send --summary "done""#;
        assert_eq!(
            line_of(&[r"C:\windows\system32\cmd.exe", "/c", written]),
            format!(r#"C:\windows\system32\cmd.exe /s /c "{written}""#)
        );
        assert_eq!(
            line_of(&["cmd", "/d", "/s", "/k", written, "two"]),
            format!("cmd /d /s /k {written} two")
        );
        assert_eq!(line_of(&["cmd", "/c"]), "cmd /s /c \"\"");
        // Anything else is quoted word by word, cmd without /c too.
        assert_eq!(line_of(&["tool.exe", "/c", "a b"]), r#"tool.exe /c "a b""#);
        assert_eq!(line_of(&["cmd", "/d", "a b"]), r#"cmd /d "a b""#);
    }

    #[test]
    fn arguments_are_quoted_for_command_line_to_argv() {
        assert_eq!(quoted("plain"), "plain");
        assert_eq!(quoted(r"C:\dir\file.txt"), r"C:\dir\file.txt");
        assert_eq!(quoted(""), r#""""#);
        assert_eq!(quoted("two words"), r#""two words""#);
        assert_eq!(quoted(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(quoted(r"C:\dir with space\"), r#""C:\dir with space\\""#);
        assert_eq!(quoted(r#"a\"b c"#), r#""a\\\"b c""#);
        assert_eq!(quoted("line\nbreak"), "\"line\nbreak\"");
    }
}
