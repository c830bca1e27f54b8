//! One process in a pseudo-terminal, with its output fanned out.
//!
//! The launcher owns every agent's PTY. A reader thread copies output into the
//! transcript log, a bounded in-memory scrollback (for late joiners) and a bounded
//! broadcast channel (for live terminals and streams); a slow subscriber lags and
//! skips ahead instead of growing memory. A waiter thread reaps the process and
//! publishes its exit code.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use crate::terminal_text::{preview, strip_escapes, transcript_text};
use anyhow::{anyhow, Context};
use portable_pty::{CommandBuilder, MasterPty, PtySize};
use tokio::sync::{broadcast, watch};

use crate::paste_mode::PasteMode;
use crate::platform;

/// Bytes of output kept in memory for late joiners.
pub const SCROLLBACK_BYTES: usize = 512 * 1024;
/// Output chunks buffered per subscriber before it lags.
const CHANNEL_CHUNKS: usize = 1024;
/// Grace between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// What to start.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub cols: u16,
    pub rows: u16,
    /// Raw output is appended here, if set.
    pub transcript: Option<Transcript>,
}

/// Whether a program started in a PTY inherits the launcher's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inherit {
    Launchers,
    Nothing,
}

/// A transcript file: `path`, a launcher file in the state folder `root`
/// (opened through [`crate::files::open_own`]: never through a link).
#[derive(Debug, Clone)]
pub struct Transcript {
    pub root: PathBuf,
    pub path: PathBuf,
}

/// Output shared between the reader thread and subscribers.
struct Output {
    scrollback: VecDeque<u8>,
    last_output: Option<Instant>,
    last_output_wall: Option<std::time::SystemTime>,
    total_bytes: u64,
    /// Whether the program asked for bracketed paste.
    paste_mode: PasteMode,
}

/// A running (or finished) process in a PTY.
pub struct Pty {
    pid: u32,
    /// Both `None` once released: an ended session keeps no descriptors.
    master: Mutex<Option<Box<dyn MasterPty + Send>>>,
    writer: Mutex<Option<Box<dyn Write + Send>>>,
    output: Mutex<Output>,
    chunks: broadcast::Sender<Arc<[u8]>>,
    exit: watch::Receiver<Option<i32>>,
    /// Turns true once the reader hit end of output (every byte was published).
    output_closed: watch::Sender<bool>,
    size: Mutex<(u16, u16)>,
}

impl std::fmt::Debug for Pty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pty").field("pid", &self.pid).finish()
    }
}

/// A start failure in words. For a program it cannot find, portable-pty lists
/// every folder of PATH (Unix) and Windows says "file not found": "not
/// installed, or not on PATH" is what the user needs.
fn start_failure(program: &str, e: &anyhow::Error) -> anyhow::Error {
    let text = format!("{e:#}");
    let bare = !program.contains(['/', '\\']);
    let not_found = e
        .chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::NotFound);
    if text.contains("No viable candidates found in PATH") || (bare && not_found) {
        return anyhow!(
            "cannot start {program:?}: it is not installed, or not in a folder on PATH"
        );
    }
    anyhow!("cannot start {program:?}: {text}")
}

impl Pty {
    /// Starts `spec.program` directly (no shell) in a new PTY and session,
    /// with the launcher's environment and `spec.env`.
    pub fn spawn(spec: SpawnSpec) -> anyhow::Result<Arc<Pty>> {
        Pty::start(spec, Inherit::Launchers)
    }

    /// Like [`Pty::spawn`], but the program's environment is `spec.env`
    /// (and `TERM`) alone: nothing of the launcher's (an agent's, built from
    /// an allowlist).
    pub fn spawn_with_env_only(spec: SpawnSpec) -> anyhow::Result<Arc<Pty>> {
        Pty::start(spec, Inherit::Nothing)
    }

    fn start(spec: SpawnSpec, inherit: Inherit) -> anyhow::Result<Arc<Pty>> {
        // Before the program starts: a transcript that cannot be opened (a
        // planted link) leaves no process behind.
        let log = match &spec.transcript {
            Some(t) => Some(
                crate::files::open_own(&t.root, &t.path, crate::files::Access::Append)
                    .with_context(|| format!("cannot open transcript {}", t.path.display()))?,
            ),
            None => None,
        };
        let pair = platform::pty_system()
            .openpty(PtySize {
                rows: spec.rows.max(1),
                cols: spec.cols.max(1),
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(|e| anyhow!("cannot open a pseudo-terminal: {e}"))?;
        // Windows: `codex` is `codex.cmd` (run as `node <script>`), found on PATH.
        let launch = platform::resolve_program(&spec.program, &spec.args, &spec.env, &spec.cwd)
            .map_err(|e| anyhow!("cannot start {:?}: {e}", spec.program))?;
        let mut cmd = CommandBuilder::new(&launch.program);
        cmd.args(&launch.args);
        cmd.cwd(&spec.cwd);
        if inherit == Inherit::Nothing {
            cmd.env_clear();
        }
        cmd.env("TERM", "xterm-256color");
        for (k, v) in &spec.env {
            cmd.env(k, v);
        }
        let child = pair
            .slave
            .spawn_command(cmd)
            .map_err(|e| start_failure(&spec.program, &e))?;
        drop(pair.slave);
        let pid = child
            .process_id()
            .ok_or_else(|| anyhow!("started {:?} but it has no pid", spec.program))?;
        // Held already: on Windows the ConPTY spawner put it in its job before
        // it ran; on Unix it leads its own session.
        let ends = pair.master.try_clone_reader().and_then(|reader| {
            let writer = pair.master.take_writer()?;
            Ok((reader, writer))
        });
        let (reader, writer) = match ends {
            Ok(ends) => ends,
            Err(e) => {
                platform::kill_tree(pid);
                return Err(anyhow!("cannot use the pseudo-terminal: {e}"));
            }
        };
        let (chunks, _) = broadcast::channel(CHANNEL_CHUNKS);
        let (exit_tx, exit) = watch::channel(None);
        let pty = Arc::new(Pty {
            pid,
            master: Mutex::new(Some(pair.master)),
            writer: Mutex::new(Some(writer)),
            output: Mutex::new(Output {
                scrollback: VecDeque::with_capacity(64 * 1024),
                last_output: None,
                last_output_wall: None,
                total_bytes: 0,
                paste_mode: PasteMode::default(),
            }),
            chunks,
            exit,
            output_closed: watch::Sender::new(false),
            size: Mutex::new((spec.cols, spec.rows)),
        });

        let watched = read_output(Arc::clone(&pty), reader, log)
            .and_then(|()| wait_for_exit(Arc::downgrade(&pty), child, exit_tx));
        if let Err(e) = watched {
            // Nothing would read it or see it end: it goes, with what it started.
            platform::kill_tree(pid);
            return Err(e);
        }
        Ok(pty)
    }

    fn publish(&self, chunk: &[u8]) {
        let mut out = self.output.lock().unwrap();
        out.scrollback.extend(chunk);
        let excess = out.scrollback.len().saturating_sub(SCROLLBACK_BYTES);
        if excess > 0 {
            out.scrollback.drain(..excess);
            drop_partial_char(&mut out.scrollback);
        }
        out.last_output = Some(Instant::now());
        out.last_output_wall = Some(std::time::SystemTime::now());
        out.total_bytes += chunk.len() as u64;
        out.paste_mode.feed(chunk);
        // Sent under the lock so a subscriber sees each byte exactly once.
        let _ = self.chunks.send(Arc::from(chunk));
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The scrollback so far and a receiver for everything after it.
    pub fn subscribe(&self) -> (Vec<u8>, broadcast::Receiver<Arc<[u8]>>) {
        let mut out = self.output.lock().unwrap();
        let rx = self.chunks.subscribe();
        let snapshot = out.scrollback.make_contiguous().to_vec();
        (snapshot, rx)
    }

    /// The last `max` bytes of output or less, from a whole character on.
    pub fn tail(&self, max: usize) -> Vec<u8> {
        let out = self.output.lock().unwrap();
        let skip = out.scrollback.len().saturating_sub(max);
        let tail: Vec<u8> = out.scrollback.iter().skip(skip).copied().collect();
        if skip == 0 {
            return tail;
        }
        crate::text::from_char_start(&tail).to_vec()
    }

    /// When output last arrived, if ever.
    pub fn last_output(&self) -> Option<Instant> {
        self.output.lock().unwrap().last_output
    }

    /// Wall-clock time of the last output, if any.
    pub fn last_output_wall(&self) -> Option<std::time::SystemTime> {
        self.output.lock().unwrap().last_output_wall
    }

    pub fn total_output_bytes(&self) -> u64 {
        self.output.lock().unwrap().total_bytes
    }

    /// Writes raw bytes to the process's terminal.
    pub fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut guard = self.writer.lock().unwrap();
        let w = guard.as_mut().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "terminal closed")
        })?;
        w.write_all(bytes)?;
        w.flush()
    }

    /// Types text followed by Enter: as a bracketed paste when the program
    /// asked for one, else as plain text. Control characters are removed first
    /// ([`crate::sanitize`]), so the text cannot end the paste or press keys.
    pub fn paste_line(&self, text: &str) -> std::io::Result<()> {
        let clean = crate::sanitize::pasted_text(text);
        let mut bytes = Vec::with_capacity(clean.len() + 16);
        if self.bracketed_paste() {
            bytes.extend_from_slice(b"\x1b[200~");
            bytes.extend_from_slice(clean.as_bytes());
            bytes.extend_from_slice(b"\x1b[201~");
        } else {
            bytes.extend_from_slice(plain_paste(&clean).as_bytes());
        }
        self.write(&bytes)?;
        // Enter as its own write, so TUIs that debounce pastes see a separate key.
        std::thread::sleep(Duration::from_millis(30));
        self.write(b"\r")
    }

    /// Whether the program asked for bracketed paste (`ESC[?2004h`).
    pub fn bracketed_paste(&self) -> bool {
        self.output.lock().unwrap().paste_mode.is_on()
    }

    pub fn resize(&self, cols: u16, rows: u16) -> anyhow::Result<()> {
        let (cols, rows) = (cols.clamp(2, 1000), rows.clamp(1, 1000));
        self.master
            .lock()
            .unwrap()
            .as_ref()
            .ok_or_else(|| anyhow!("terminal closed"))?
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(|e| anyhow!("resize failed: {e}"))?;
        *self.size.lock().unwrap() = (cols, rows);
        Ok(())
    }

    /// Closes the terminal's descriptors and trims the scrollback to `keep` bytes,
    /// once the process has ended: viewers still get the tail and the exit code.
    pub fn release(&self, keep: usize) {
        self.writer.lock().unwrap().take();
        self.master.lock().unwrap().take();
        let mut out = self.output.lock().unwrap();
        let excess = out.scrollback.len().saturating_sub(keep);
        out.scrollback.drain(..excess);
        if excess > 0 {
            drop_partial_char(&mut out.scrollback);
        }
        out.scrollback.shrink_to_fit();
    }

    pub fn size(&self) -> (u16, u16) {
        *self.size.lock().unwrap()
    }

    /// The exit code once the process has ended.
    pub fn exit_code(&self) -> Option<i32> {
        *self.exit.borrow()
    }

    /// A receiver that turns `Some(code)` when the process ends.
    pub fn exit_watch(&self) -> watch::Receiver<Option<i32>> {
        self.exit.clone()
    }

    /// A receiver that turns `true` once all output has been read and published
    /// (the last holder of the terminal closed it). Lets a viewer send the exit
    /// code after the final bytes, not before.
    pub fn output_closed_watch(&self) -> watch::Receiver<bool> {
        self.output_closed.subscribe()
    }

    /// Waits for the process to end.
    pub async fn wait(&self) -> i32 {
        let mut rx = self.exit.clone();
        loop {
            if let Some(code) = *rx.borrow_and_update() {
                return code;
            }
            if rx.changed().await.is_err() {
                return self.exit_code().unwrap_or(-1);
            }
        }
    }

    /// SIGTERM to the process group, SIGKILL after `grace` if it is still there.
    /// Returns once the process has been reaped.
    pub async fn terminate(&self, grace: Duration) -> i32 {
        if let Some(code) = self.exit_code() {
            platform::kill_tree(self.pid);
            return code;
        }
        if !platform::terminate_tree(self.pid) {
            // No signal reaches it: Ctrl-C typed into its terminal asks politely.
            let _ = self.write(b"\x03");
        }
        match tokio::time::timeout(grace, self.wait()).await {
            Ok(code) => {
                // Children that outlived the leader go too.
                platform::kill_tree(self.pid);
                code
            }
            Err(_) => {
                platform::kill_tree(self.pid);
                self.wait().await
            }
        }
    }
}

/// Text typed as a plain (not bracketed) paste. Windows consoles end a line
/// on Enter (CR) only, so there each line end is typed as CR, as terminals do
/// when they paste; a Unix PTY reads either as a line end.
fn plain_paste(clean: &str) -> std::borrow::Cow<'_, str> {
    match crate::platform::PASTE_LINE_END {
        "\n" => clean.into(),
        end => clean.replace('\n', end).into(),
    }
}

/// Scrollback trimmed at its front starts at a whole character: the rest of
/// one cut there (UTF-8 continuation bytes, at most three) goes too.
fn drop_partial_char(scrollback: &mut VecDeque<u8>) {
    for _ in 0..3 {
        match scrollback.front() {
            Some(b) if (b & 0b1100_0000) == 0b1000_0000 => {
                scrollback.pop_front();
            }
            _ => break,
        }
    }
}

/// Kills the process tree led by `pid` (sessions lead their own).
pub fn kill_tree(pid: u32) {
    platform::kill_tree(pid);
}

/// True while a process with this pid exists.
pub fn process_alive(pid: u32) -> bool {
    platform::process_alive(pid)
}

/// The reader thread: output into the transcript, the scrollback and the
/// subscribers, until the PTY closes.
fn read_output(
    pty: Arc<Pty>,
    mut reader: Box<dyn Read + Send>,
    mut log: Option<std::fs::File>,
) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name(format!("pty-read-{}", pty.pid))
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let chunk = &buf[..n];
                if let Some(f) = log.as_mut() {
                    // A full disk must not stop the session; the scrollback still has it.
                    let _ = f.write_all(chunk);
                }
                pty.publish(chunk);
            }
            pty.output_closed.send_replace(true);
        })
        .context("cannot start the PTY reader thread")?;
    Ok(())
}

/// The waiter thread: the exit code (a signal as 128 + its number) once the
/// process ends. On Windows it then closes the pseudo console: ConPTY keeps
/// its output open after the program ends until then, so the reader would see
/// no end of output, and the last bytes could stay unread.
fn wait_for_exit(
    pty: std::sync::Weak<Pty>,
    mut child: Box<dyn portable_pty::Child + Send + Sync>,
    exit_tx: watch::Sender<Option<i32>>,
) -> anyhow::Result<()> {
    let pid = child.process_id().unwrap_or_default();
    std::thread::Builder::new()
        .name(format!("pty-wait-{pid}"))
        .spawn(move || {
            let code = match child.wait() {
                Ok(status) => match status.signal() {
                    Some(name) if status.exit_code() == 1 => {
                        crate::platform::signal_exit_code(name)
                    }
                    _ => status.exit_code() as i32,
                },
                Err(_) => -1,
            };
            if crate::platform::CLOSE_MASTER_AT_EXIT {
                if let Some(pty) = pty.upgrade() {
                    // Closing flushes the final output to the reader, then ends it
                    // (outside the lock: it may wait for the reader).
                    let master = pty.master.lock().unwrap().take();
                    drop(master);
                }
            }
            let _ = exit_tx.send(Some(code));
        })
        .context("cannot start the PTY waiter thread")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_pastes_end_lines_as_the_platform_reads_them() {
        let typed = plain_paste("one\ntwo");
        if cfg!(windows) {
            assert_eq!(typed, "one\rtwo");
        } else {
            assert_eq!(typed, "one\ntwo");
        }
    }

    #[test]
    fn strips_csi_osc_and_cr() {
        let s = strip_escapes(b"\x1b[1;31mred\x1b[0m\r\n\x1b]0;title\x07ok\x1b[?2004h");
        assert_eq!(s, "red\nok");
        assert_eq!(preview(b"a\n\nb\nc\n", 2), "b\nc");
    }

    #[test]
    fn a_missing_program_is_named_without_the_whole_path() {
        let e = Pty::spawn(SpawnSpec {
            program: "codex-governance-no-such-program".into(),
            args: vec![],
            cwd: std::env::temp_dir(),
            env: vec![("PATH".into(), "/nowhere/a:/nowhere/b".into())],
            cols: 80,
            rows: 24,
            transcript: None,
        })
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            format!(
                "cannot start \"codex-governance-no-such-program\": {}",
                crate::platform::NotOnPath::searched(
                    "codex-governance-no-such-program",
                    Some(std::ffi::OsStr::new("/nowhere/a:/nowhere/b"))
                )
            )
        );
    }
}
