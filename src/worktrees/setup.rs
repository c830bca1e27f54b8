//! Making a new department worktree ready (issue 52): the user's
//! `launcher.worktree.setup` commands run in it before its agent starts,
//! `teardown` commands before it is removed. They run as the user, through
//! the platform's shell, with the repository, the worktree and the session
//! named in `CODEX_GOVERNANCE_REPO`, `…_WORKTREE` and `…_SESSION`; they come
//! only from the configuration file (trusted when it is a cloned one), never
//! from a department or the network. What they write is kept (its newest
//! part) for the department's conversation and the page.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The setting that limits set-up and teardown commands.
pub const SETUP_LIMIT: &str = "launcher.worktree.setup_timeout_seconds";

/// The most of the commands' output kept.
pub const OUTPUT_BYTES: u64 = 16 * 1024;

/// How a run of commands went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandsRun {
    /// Each command after `$ command`, what it wrote (the newest
    /// [`OUTPUT_BYTES`]).
    pub output: String,
    /// Why it failed; None when every command exited 0.
    pub failure: Option<String>,
}

/// Where and for whom the commands run.
pub struct RunIn<'a> {
    pub repo: &'a Path,
    pub worktree: &'a Path,
    pub session: &'a str,
    /// All the commands together may take this long.
    pub timeout: Duration,
    /// Asked while a command runs: true stops it with all it started (the
    /// launcher is stopping and waits for this set-up to end).
    pub stopping: &'a (dyn Fn() -> bool + Sync),
    /// More environment for the commands (`caches::setup_env`).
    pub env: &'a [(&'a str, &'a str)],
    /// How a command line starts: None, through the platform's shell as the
    /// user; else as this builds it (a landing's checks: confined, their
    /// environment set).
    pub start: Option<StartLine<'a>>,
    /// What a command past the time limit is said to have passed (the
    /// setting that sets it).
    pub limit: &'static str,
}

/// Builds the process a command line runs as.
pub type StartLine<'a> = &'a (dyn Fn(&str) -> std::io::Result<std::process::Command> + Sync);

/// Runs `commands` in order in the worktree; the first that fails (or the
/// time limit) stops the rest. A command past the time limit is stopped
/// with all it started (its process group; on Windows its job).
pub fn run_commands(commands: &[String], at: &RunIn<'_>) -> CommandsRun {
    let deadline = Instant::now() + at.timeout;
    let mut output = String::new();
    for line in commands {
        output.push_str(&format!("$ {line}\n"));
        let (written, failure) = run_one(line, at, deadline);
        output.push_str(&written);
        if !written.is_empty() && !written.ends_with('\n') {
            output.push('\n');
        }
        if failure.is_some() {
            return CommandsRun {
                output: newest(output),
                failure,
            };
        }
    }
    CommandsRun {
        output: newest(output),
        failure: None,
    }
}

/// One command line: what it wrote and why it failed.
fn run_one(line: &str, at: &RunIn<'_>, deadline: Instant) -> (String, Option<String>) {
    let failed = |why: String| (String::new(), Some(why));
    let Ok(mut sink) = tempfile::tempfile() else {
        return failed(format!(
            "`{line}` did not run: no temporary file for its output"
        ));
    };
    let (Ok(out), Ok(err)) = (sink.try_clone(), sink.try_clone()) else {
        return failed(format!(
            "`{line}` did not run: its output could not be kept"
        ));
    };
    let mut cmd = match at.start {
        None => crate::platform::shell_command(line),
        Some(start) => match start(line) {
            Ok(cmd) => cmd,
            Err(e) => return failed(format!("`{line}` did not run: {e}")),
        },
    };
    cmd.current_dir(at.worktree)
        .env("CODEX_GOVERNANCE_REPO", at.repo)
        .env("CODEX_GOVERNANCE_WORKTREE", at.worktree)
        .env("CODEX_GOVERNANCE_SESSION", at.session)
        .envs(at.env.iter().copied())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return failed(format!("`{line}` did not run: {e}")),
    };
    let pid = child.id();
    crate::platform::contain(pid);
    let failure = loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break None,
            Ok(Some(status)) => {
                break Some(match status.code() {
                    Some(code) => format!("`{line}` exited with {code}"),
                    None => format!("`{line}` was stopped by a signal"),
                })
            }
            Ok(None) if (at.stopping)() => {
                crate::platform::kill_tree(pid);
                let _ = child.wait();
                break Some(format!("`{line}` was stopped: the launcher is stopping"));
            }
            Ok(None) if Instant::now() >= deadline => {
                crate::platform::kill_tree(pid);
                let _ = child.wait();
                break Some(format!(
                    "`{line}` did not finish within its time limit ({}) and was stopped",
                    at.limit
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => break Some(format!("`{line}`: {e}")),
        }
    };
    crate::platform::release_tree(pid);
    let mut bytes = Vec::new();
    let len = sink.seek(SeekFrom::End(0)).unwrap_or(0);
    let from = len.saturating_sub(OUTPUT_BYTES);
    if sink.seek(SeekFrom::Start(from)).is_ok() {
        let _ = sink.take(OUTPUT_BYTES).read_to_end(&mut bytes);
    }
    (String::from_utf8_lossy(&bytes).into_owned(), failure)
}

/// The newest [`OUTPUT_BYTES`] of `text`, from a whole character.
fn newest(text: String) -> String {
    let max = OUTPUT_BYTES as usize;
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn run(commands: &[&str], timeout: Duration) -> (tempfile::TempDir, CommandsRun) {
        let dir = tempfile::tempdir().unwrap();
        let commands: Vec<String> = commands.iter().map(|c| c.to_string()).collect();
        let ran = run_commands(
            &commands,
            &RunIn {
                repo: Path::new("/the/repo"),
                worktree: dir.path(),
                session: "bingbu-1",
                timeout,
                stopping: &|| false,
                env: &[],
                start: None,
                limit: SETUP_LIMIT,
            },
        );
        (dir, ran)
    }

    /// A stopping launcher waits for its set-up tasks: the command running
    /// then is stopped at once, not left to run to its time limit.
    #[test]
    fn a_stopping_launcher_stops_the_running_command() {
        let dir = tempfile::tempdir().unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let ran = std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(300));
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            run_commands(
                &["sleep 600".to_string(), "echo never".to_string()],
                &RunIn {
                    repo: Path::new("/the/repo"),
                    worktree: dir.path(),
                    session: "bingbu-1",
                    timeout: Duration::from_secs(900),
                    stopping: &|| stop.load(std::sync::atomic::Ordering::SeqCst),
                    env: &[],
                    start: None,
                    limit: SETUP_LIMIT,
                },
            )
        });
        assert_eq!(
            ran.failure.as_deref(),
            Some("`sleep 600` was stopped: the launcher is stopping")
        );
        assert!(!ran.output.contains("never"), "{}", ran.output);
    }

    #[test]
    fn commands_run_in_order_with_the_names_until_one_fails() {
        let (dir, ran) = run(
            &[
                "echo \"$CODEX_GOVERNANCE_SESSION $CODEX_GOVERNANCE_REPO\" > made.txt; echo one",
                "echo two >&2; exit 3",
                "echo never",
            ],
            Duration::from_secs(60),
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("made.txt")).unwrap(),
            "bingbu-1 /the/repo\n"
        );
        assert!(
            ran.output.contains("$ echo two >&2; exit 3\ntwo\n"),
            "{}",
            ran.output
        );
        assert!(!ran.output.contains("never"), "{}", ran.output);
        assert_eq!(
            ran.failure.as_deref(),
            Some("`echo two >&2; exit 3` exited with 3")
        );
    }

    #[test]
    fn a_command_past_the_time_limit_is_stopped() {
        let (_dir, ran) = run(
            &["echo started; sleep 30", "echo never"],
            Duration::from_millis(300),
        );
        assert!(ran.failure.unwrap().contains("time limit"));
        assert!(
            ran.output.contains("started") && !ran.output.contains("never"),
            "{}",
            ran.output
        );
    }
}
