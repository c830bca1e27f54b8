//! The agent's terminal: lines out (flushed at once, so the PTY sees them),
//! stdin echoed or recorded, and the platform's stop requests: SIGTERM and
//! SIGALRM on Unix, Ctrl-C / Ctrl-Break typed into the console on Windows
//! (what the launcher sends to stop an agent there).

use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the agent speaks as an agent would (the demo) rather than in the
/// tests' marker lines.
static PLAIN_VOICE: AtomicBool = AtomicBool::new(false);

/// From now on the agent speaks plainly (`--demo` runs).
pub fn speak_plainly() {
    PLAIN_VOICE.store(true, Ordering::Relaxed);
}

/// The marker line for the tests, or the words a person reads in the demo.
pub fn say(marker: &str, words: &str) {
    out(if PLAIN_VOICE.load(Ordering::Relaxed) {
        words
    } else {
        marker
    });
}

/// Prints one line and flushes it. A terminal that went away ends the agent.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.write_all(b"\n"))
        .and_then(|_| stdout.flush());
    if let Err(e) = written {
        std::process::exit(if e.kind() == std::io::ErrorKind::BrokenPipe {
            0
        } else {
            1
        });
    }
}

/// JSON with every non-ASCII character escaped (`\uXXXX`), like Python's
/// `ensure_ascii`: the line survives any console code page.
pub fn ascii_json(value: &serde_json::Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// Removes what the Python agent's pattern removed: CSI and OSC sequences,
/// two-byte escapes, and control characters other than tab and newline.
pub fn strip_escapes(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\x1b' {
            if let Some(end) = escape_end(&chars, i) {
                i = end;
                continue;
            }
        }
        let control = matches!(c, '\x00'..='\x08' | '\x0b'..='\x1f' | '\x7f');
        if !control {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// Where the escape sequence starting at `chars[start]` ends (exclusive), if complete.
fn escape_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    match chars.get(i)? {
        '[' => {
            i += 1;
            while chars.get(i).is_some_and(|c| ('0'..='?').contains(c)) {
                i += 1;
            }
            while chars.get(i).is_some_and(|c| (' '..='/').contains(c)) {
                i += 1;
            }
            chars
                .get(i)
                .filter(|c| ('@'..='~').contains(*c))
                .map(|_| i + 1)
        }
        ']' => {
            i += 1;
            while let Some(c) = chars.get(i) {
                match c {
                    '\x07' => return Some(i + 1),
                    '\x1b' => return (chars.get(i + 1) == Some(&'\\')).then_some(i + 2),
                    _ => i += 1,
                }
            }
            None
        }
        c if ('@'..='Z').contains(c) || ('\\'..='_').contains(c) => Some(i + 1),
        _ => None,
    }
}

/// Echoes each stdin line as `ECHO: <line>` (`/size` prints FAKE_AGENT_SIZE
/// <cols>x<rows>, the terminal's size) until end of input, or records
/// the raw bytes with `record` (a folder). Ctrl-C does not end the echo loop on
/// Unix (as the Python agent's did).
pub fn echo_stdin_forever(record: Option<&str>, plain_paste: bool) {
    if let Some(folder) = record {
        record_stdin_forever(Path::new(folder), plain_paste);
        return;
    }
    os::ignore_interrupts();
    if PLAIN_VOICE.load(Ordering::Relaxed) {
        os::no_echo();
    }
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text == "/size" {
            let (cols, rows) = os::terminal_size();
            out(&format!("FAKE_AGENT_SIZE {cols}x{rows}"));
            continue;
        }
        let text = strip_escapes(text);
        say(&format!("ECHO: {text}"), &crate::demo::heard(&text));
    }
}

/// Appends every byte typed into the terminal to `<folder>/<session id>.stdin`,
/// exactly as received: raw mode, so Ctrl-C and Enter are bytes, not signals or
/// line ends. Asks for bracketed paste first, as TUIs do, unless `plain_paste`.
fn record_stdin_forever(folder: &Path, plain_paste: bool) {
    let session = std::env::var("CODEX_GOVERNANCE_SESSION_ID").unwrap_or_else(|_| "unknown".into());
    let path = folder.join(format!("{session}.stdin"));
    os::raw_mode();
    if !plain_paste {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout
            .write_all(b"\x1b[?2004h")
            .and_then(|_| stdout.flush());
    }
    let mut file = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) => {
            out(&format!(
                "FAKE_AGENT_RECORDING_ERROR {}: {e}",
                path.display()
            ));
            return;
        }
    };
    out(&format!("FAKE_AGENT_RECORDING {}", path.display()));
    let mut buf = [0u8; 4096];
    let mut stdin = std::io::stdin().lock();
    loop {
        match stdin.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if file.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// Ends the process after `seconds`, whatever it is doing.
pub fn limit_lifetime(seconds: f64) {
    os::limit_lifetime(seconds);
}

/// Prints FAKE_AGENT_SIGTERM_IGNORED on each polite stop request instead of stopping.
pub fn ignore_stop_requests() {
    os::ignore_stop_requests();
}

/// The process group shown in FAKE_AGENT_START (the pid where there are none).
pub fn process_group() -> u32 {
    os::process_group()
}

/// Windows: reads and writes the console itself when it was given no standard
/// handles, as Wine 8's pseudo consoles start their programs (Windows gives
/// them the console's). Nothing to do elsewhere.
pub fn use_console_if_unset() {
    os::use_console_if_unset();
}

#[cfg(unix)]
mod os {
    const IGNORED: &[u8] = b"FAKE_AGENT_SIGTERM_IGNORED\n";

    extern "C" fn on_term(_: libc::c_int) {
        // SAFETY: write(2) is async-signal-safe; the buffer is static.
        unsafe {
            libc::write(1, IGNORED.as_ptr().cast(), IGNORED.len());
        }
    }

    pub fn ignore_stop_requests() {
        // SAFETY: installs a handler that only calls write(2).
        unsafe {
            libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t);
        }
    }

    pub fn ignore_interrupts() {
        // SAFETY: ignoring a signal touches no memory.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
        }
    }

    pub fn limit_lifetime(seconds: f64) {
        // SAFETY: alarm(2) only schedules SIGALRM, whose default ends the process.
        unsafe {
            libc::alarm(seconds.max(1.0) as libc::c_uint);
        }
    }

    /// The terminal no longer echoes what is typed (the demo agent tells
    /// what it heard in its own words instead).
    pub fn no_echo() {
        // SAFETY: termios of stdin, read then written back without ECHO.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) == 0 {
                t.c_lflag &= !libc::ECHO;
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }

    pub fn raw_mode() {
        // SAFETY: termios of stdin, read then written back with cfmakeraw applied.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) == 0 {
                libc::cfmakeraw(&mut t);
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }

    pub fn process_group() -> u32 {
        // SAFETY: getpgid(0) reads this process's group.
        unsafe { libc::getpgid(0) as u32 }
    }

    pub fn use_console_if_unset() {}

    pub fn terminal_size() -> (u16, u16) {
        // SAFETY: TIOCGWINSZ fills a winsize structure.
        unsafe {
            let mut size: libc::winsize = std::mem::zeroed();
            libc::ioctl(1, libc::TIOCGWINSZ, &mut size);
            (size.ws_col, size.ws_row)
        }
    }
}

#[cfg(windows)]
mod os {
    use std::os::windows::io::IntoRawHandle;

    use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
    use windows_sys::Win32::System::Console::{
        GetConsoleScreenBufferInfo, GetStdHandle, SetConsoleCtrlHandler, SetConsoleMode,
        SetStdHandle, CONSOLE_SCREEN_BUFFER_INFO, CTRL_BREAK_EVENT, CTRL_C_EVENT,
        ENABLE_VIRTUAL_TERMINAL_INPUT, STD_ERROR_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
    };

    unsafe extern "system" fn on_stop(event: u32) -> i32 {
        if event == CTRL_C_EVENT || event == CTRL_BREAK_EVENT {
            // Handlers run on their own thread: ordinary output is fine here.
            super::out("FAKE_AGENT_SIGTERM_IGNORED");
            return 1;
        }
        0
    }

    /// Ctrl-C and Ctrl-Break are Windows' polite stop (the launcher types Ctrl-C).
    pub fn ignore_stop_requests() {
        // SAFETY: registers a handler with the signature the API requires.
        unsafe {
            SetConsoleCtrlHandler(Some(on_stop), 1);
        }
    }

    /// Ctrl-C is the launcher's stop request on Windows, so it keeps its effect.
    pub fn ignore_interrupts() {}

    pub fn limit_lifetime(seconds: f64) {
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs_f64(seconds.max(1.0)));
            // As SIGALRM would: 128 + 14.
            std::process::exit(142);
        });
    }

    /// Windows' console echo stays (ConPTY echoes through its own mode).
    pub fn no_echo() {}

    pub fn raw_mode() {
        // SAFETY: the console mode of this process's own input handle.
        unsafe {
            SetConsoleMode(
                GetStdHandle(STD_INPUT_HANDLE),
                ENABLE_VIRTUAL_TERMINAL_INPUT,
            );
        }
    }

    pub fn process_group() -> u32 {
        std::process::id()
    }

    pub fn terminal_size() -> (u16, u16) {
        // SAFETY: fills a plain structure for this process's own output handle.
        unsafe {
            let mut info: CONSOLE_SCREEN_BUFFER_INFO = std::mem::zeroed();
            GetConsoleScreenBufferInfo(GetStdHandle(STD_OUTPUT_HANDLE), &mut info);
            let w = info.srWindow;
            ((w.Right - w.Left + 1) as u16, (w.Bottom - w.Top + 1) as u16)
        }
    }

    pub fn use_console_if_unset() {
        for (which, device) in [
            (STD_INPUT_HANDLE, "CONIN$"),
            (STD_OUTPUT_HANDLE, "CONOUT$"),
            (STD_ERROR_HANDLE, "CONOUT$"),
        ] {
            // SAFETY: reads this process's standard handle.
            let handle = unsafe { GetStdHandle(which) };
            if !handle.is_null() && handle != INVALID_HANDLE_VALUE {
                continue;
            }
            let opened = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(device);
            if let Ok(file) = opened {
                // SAFETY: the handle is ours and stays open for the process's life.
                unsafe {
                    SetStdHandle(which, file.into_raw_handle());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_go_and_text_stays() {
        assert_eq!(
            // `ESC =` is no two-byte escape of the pattern: the ESC goes, `=` stays.
            strip_escapes("\x1b[1;31mred\x1b[0m \x1b]0;title\x07ok\x1b=\x07\tend\x1b"),
            "red ok=\tend"
        );
        assert_eq!(strip_escapes("\x1b[200~pasted\x1b[201~"), "pasted");
    }

    #[test]
    fn json_lines_are_ascii() {
        let v = serde_json::json!(["é", "😀", "a\"b"]);
        let s = ascii_json(&v);
        assert!(s.is_ascii(), "{s}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&s).unwrap(), v);
    }
}
