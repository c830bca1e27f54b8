//! How a command reaches a host: through a provider's exec line (a
//! container's or a pod's: its words, then the command's, as they are), or
//! through the user's own `ssh`, so their configuration, agent, ProxyJump and known
//! hosts apply. It is always run with `BatchMode=yes` (no password or
//! passphrase prompt) and `StrictHostKeyChecking=yes`: a host key must
//! already be known, so an unknown or changed one is refused, never accepted,
//! whatever the user's configuration says for the host (`accept-new`, `no`);
//! options on the command line win over every configuration file. The destination comes
//! after `--`, so it cannot read as an option, and the command the host's
//! shell runs is built here with every word quoted.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::config::remotes::{Reach, Remote};

/// How long ssh may take to connect.
const CONNECT_TIMEOUT_SECONDS: u32 = 15;

/// Why a command on a host did not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    #[error("ssh cannot start: {0}")]
    Missing(String),
    #[error("{host} is not reachable: {detail}")]
    Unreachable { host: String, detail: String },
    #[error(
        "{host}'s host key is unknown or not the one your ssh knows (nothing was run): \
         {detail}; check the key and add it by running `ssh {host}` once, as you"
    )]
    HostKey { host: String, detail: String },
    #[error("{host} refused your ssh key: {detail}")]
    AuthRefused { host: String, detail: String },
    #[error("{host} did not answer within {seconds} s")]
    TimedOut { host: String, seconds: u64 },
}

/// What a command printed on the host, and how it ended there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// The user's ssh program.
#[derive(Debug, Clone)]
pub struct Ssh {
    program: PathBuf,
}

impl Ssh {
    /// `program` as the user names it (`ssh`, or a path): a bare name is
    /// found in PATH's absolute folders only.
    pub fn new(program: &str) -> Result<Ssh, SshError> {
        crate::platform::program_path(std::path::Path::new(program))
            .map(|program| Ssh { program })
            .map_err(|e| SshError::Missing(e.to_string()))
    }

    /// Runs `words` on `host` (through ssh, its shell gets them quoted, word
    /// by word; through an exec line, they follow it as they are), waiting
    /// at most `patience`.
    pub async fn run(
        &self,
        host: &Remote,
        words: &[&str],
        patience: Duration,
    ) -> Result<Ran, SshError> {
        let (program, args) = self.command_line(host, words, false);
        let mut cmd = tokio::process::Command::new(&program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| SshError::Missing(format!("{}: {e}", program.display())))?;
        let out = tokio::time::timeout(patience, child.wait_with_output())
            .await
            .map_err(|_| SshError::TimedOut {
                host: host.reach.shown(),
                seconds: patience.as_secs(),
            })?
            .map_err(|e| SshError::Missing(e.to_string()))?;
        ended(host, &out)
    }

    /// The program and its arguments that run `words` on `host`; a long
    /// connection (`alive`) over ssh asks the host whether it is there.
    fn command_line(&self, host: &Remote, words: &[&str], alive: bool) -> (PathBuf, Vec<String>) {
        match &host.reach {
            Reach::Ssh(destination) => {
                let mut args = if alive { alive_options() } else { Vec::new() };
                args.extend(argv(destination, words));
                (self.program.clone(), args)
            }
            Reach::Exec(line) => {
                let args = line[1..]
                    .iter()
                    .cloned()
                    .chain(words.iter().map(|w| w.to_string()))
                    .collect();
                (PathBuf::from(&line[0]), args)
            }
        }
    }

    /// [`Ssh::run`] for a thread that may block (a record, an integration):
    /// ssh's keep-alive ends a connection that died, and `patience` one
    /// that lives on (a department's files can make its host's work slow).
    pub fn run_blocking(
        &self,
        host: &Remote,
        words: &[&str],
        patience: Duration,
    ) -> Result<Ran, SshError> {
        let (program, args) = self.command_line(host, words, true);
        let missing = |e: std::io::Error| SshError::Missing(format!("{}: {e}", program.display()));
        let mut child = std::process::Command::new(&program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(missing)?;
        let out = crate::bounded_run::wait_within(&mut child, patience)
            .map_err(missing)?
            .ok_or_else(|| SshError::TimedOut {
                host: host.reach.shown(),
                seconds: patience.as_secs(),
            })?;
        ended(host, &out)
    }

    /// A command that runs `words` on `host` (for a caller that starts and
    /// waits for it itself: the user's worktree commands there).
    pub fn std_command(&self, host: &Remote, words: &[&str]) -> std::process::Command {
        let (program, args) = self.command_line(host, words, true);
        let mut cmd = std::process::Command::new(program);
        cmd.args(args);
        cmd
    }

    /// Runs `words` on `host` with `input` on its standard input (blocking).
    pub fn run_with_input(
        &self,
        host: &Remote,
        words: &[&str],
        input: &[u8],
        patience: Duration,
    ) -> Result<Ran, SshError> {
        let mut cmd = self.std_command(host, words);
        let program = cmd.get_program().to_string_lossy().into_owned();
        let missing = |e: std::io::Error| SshError::Missing(format!("{program}: {e}"));
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(missing)?;
        if let Some(mut stdin) = child.stdin.take() {
            // A command that does not read it all ends and says so itself.
            let _ = std::io::Write::write_all(&mut stdin, input);
        }
        let out = crate::bounded_run::wait_within(&mut child, patience)
            .map_err(missing)?
            .ok_or_else(|| SshError::TimedOut {
                host: host.reach.shown(),
                seconds: patience.as_secs(),
            })?;
        ended(host, &out)
    }

    /// Starts `words` on `host` for a long talk over its standard input and
    /// output, its error output (and ssh's) to `errors`; a connection that
    /// stops answering is ended by ssh's own keep-alive.
    pub fn spawn_stdio(
        &self,
        host: &Remote,
        words: &[&str],
        errors: Stdio,
    ) -> Result<tokio::process::Child, SshError> {
        let (program, args) = self.command_line(host, words, true);
        tokio::process::Command::new(&program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(errors)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SshError::Missing(format!("{}: {e}", program.display())))
    }

    /// How git here reaches `repo` on `host`: the URL, and the options
    /// before git's command. Over ssh, the host's `repo` with this ssh
    /// ([`Ssh::git_ssh_command`]); through an exec line, git's `ext`
    /// transport runs git's own pack program inside, its hooks off
    /// (`%s` is git's word for it), allowed for this one command.
    pub fn git_url(&self, host: &Remote) -> (String, Vec<String>) {
        match &host.reach {
            Reach::Ssh(destination) => (format!("{destination}:{}", host.repo), Vec::new()),
            Reach::Exec(line) => {
                let inside = ["git", "-c", "core.hooksPath=/dev/null", "%s", &host.repo];
                let words: Vec<String> = line
                    .iter()
                    .map(|w| ext_word(w))
                    .chain(inside.iter().enumerate().map(|(i, w)| match i {
                        3 => w.to_string(),
                        _ => ext_word(w),
                    }))
                    .collect();
                (
                    format!("ext::{}", words.join(" ")),
                    vec!["-c".into(), "protocol.ext.allow=always".into()],
                )
            }
        }
    }

    /// The command line git is given to reach a host with this ssh
    /// (`GIT_SSH_COMMAND`): the program quoted, BatchMode on, and a fetch
    /// or push over a connection that went silent given up within about 30 s
    /// (not the hours TCP would wait).
    pub fn git_ssh_command(&self) -> String {
        format!(
            "{} -o BatchMode=yes -o StrictHostKeyChecking=yes \
             -o ConnectTimeout={CONNECT_TIMEOUT_SECONDS} {}",
            shell_words::quote(&self.program.display().to_string()),
            alive_options().join(" ")
        )
    }
}

/// How often a long connection asks the host whether it is still there.
const ALIVE_SECONDS: u32 = 10;

/// How a command on `host` ended: 255 is ssh's own failure; through an
/// exec line, 125 and 255 are the container engine's (podman's and
/// docker's: no such container, or not running); anything else is the
/// command's.
fn ended(host: &Remote, out: &std::process::Output) -> Result<Ran, SshError> {
    let ran = Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    match (&host.reach, ran.code) {
        (Reach::Ssh(destination), Some(255)) => Err(ssh_failure(destination, &ran.stderr)),
        (Reach::Exec(_), code) if unreachable_code(host, code) => Err(SshError::Unreachable {
            host: host.name.clone(),
            detail: last_lines(&ran.stderr),
        }),
        _ => Ok(ran),
    }
}

/// Whether a program that reached `host` and ended with `code` failed to
/// reach it (see [`ended`]), so trying again later may.
pub(super) fn unreachable_code(host: &Remote, code: Option<i32>) -> bool {
    match host.reach {
        Reach::Ssh(_) => code == Some(255),
        Reach::Exec(_) => matches!(code, Some(125 | 255)),
    }
}

/// A word of git's `ext::` command: a space and a `%` escaped with `%`.
fn ext_word(word: &str) -> String {
    word.replace('%', "%%").replace(' ', "% ")
}

/// ssh asks a long connection's host whether it is still there.
fn alive_options() -> Vec<String> {
    vec![
        "-o".to_string(),
        format!("ServerAliveInterval={ALIVE_SECONDS}"),
        "-o".into(),
        "ServerAliveCountMax=3".into(),
    ]
}

/// The arguments given to ssh for `words` on `host`.
pub fn argv(host: &str, words: &[&str]) -> Vec<String> {
    vec![
        "-o".into(),
        "BatchMode=yes".into(),
        "-o".into(),
        "StrictHostKeyChecking=yes".into(),
        "-o".into(),
        format!("ConnectTimeout={CONNECT_TIMEOUT_SECONDS}"),
        "-T".into(),
        "--".into(),
        host.to_string(),
        remote_command(words),
    ]
}

/// `words` as one command line for the host's shell, each word quoted.
pub fn remote_command(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| shell_words::quote(w).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// ssh's own failure, told apart by what it said.
fn ssh_failure(host: &str, stderr: &str) -> SshError {
    let detail = last_lines(stderr);
    let host = host.to_string();
    if stderr.contains("Host key verification failed")
        || stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
    {
        SshError::HostKey { host, detail }
    } else if stderr.contains("Permission denied") {
        SshError::AuthRefused { host, detail }
    } else {
        SshError::Unreachable { host, detail }
    }
}

/// The last lines of ssh's words, for a message (its banner of `@`s left out).
fn last_lines(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('@'))
        .collect();
    lines[lines.len().saturating_sub(2)..].join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_follows_the_end_of_options_and_the_command_is_quoted() {
        let a = argv("gpu1", &["codex", "--version", "it's; rm -rf ~"]);
        let end = a.iter().position(|w| w == "--").unwrap();
        assert_eq!(a[end + 1], "gpu1");
        assert!(a.contains(&"BatchMode=yes".to_string()));
        // A key must be known already, whatever the user's config says.
        assert!(a.contains(&"StrictHostKeyChecking=yes".to_string()));
        assert!(a.iter().position(|w| w == "StrictHostKeyChecking=yes") < Some(end));
        assert_eq!(a[end + 2], "codex --version 'it'\\''s; rm -rf ~'");
    }

    #[test]
    fn gits_ssh_gives_up_a_silent_connection() {
        let ssh = Ssh {
            program: "/usr/bin/my ssh".into(),
        };
        let line = ssh.git_ssh_command();
        assert!(
            line.starts_with("'/usr/bin/my ssh' -o BatchMode=yes -o StrictHostKeyChecking=yes"),
            "{line}"
        );
        assert!(line.contains("ServerAliveInterval=10"), "{line}");
        assert!(line.contains("ServerAliveCountMax=3"), "{line}");
    }

    fn in_a_container(line: &[&str]) -> Remote {
        Remote {
            reach: Reach::Exec(line.iter().map(|w| w.to_string()).collect()),
            repo: "/work/my repo%".into(),
            ..crate::placement::host::tests::sample_host()
        }
    }

    #[test]
    fn an_exec_line_takes_the_commands_words_as_they_are() {
        let ssh = Ssh {
            program: "/usr/bin/ssh".into(),
        };
        let host = in_a_container(&["/usr/bin/podman", "exec", "-i", "cg-box"]);
        let (program, args) = ssh.command_line(&host, &["sh", "-c", "echo $HOME; it's"], true);
        assert_eq!(program, PathBuf::from("/usr/bin/podman"));
        assert_eq!(
            args,
            ["exec", "-i", "cg-box", "sh", "-c", "echo $HOME; it's"]
        );
    }

    #[test]
    fn git_reaches_a_container_through_its_exec_line_with_its_hooks_off() {
        let ssh = Ssh {
            program: "/usr/bin/ssh".into(),
        };
        let host = in_a_container(&["/usr/bin/podman", "exec", "-i", "cg box"]);
        let (url, options) = ssh.git_url(&host);
        assert_eq!(
            url,
            "ext::/usr/bin/podman exec -i cg% box git -c core.hooksPath=/dev/null %s /work/my% repo%%"
        );
        assert_eq!(options, ["-c", "protocol.ext.allow=always"]);
        let gpu1 = crate::placement::host::tests::sample_host();
        assert_eq!(ssh.git_url(&gpu1), ("gpu1:/srv/r".to_string(), Vec::new()));
    }

    #[cfg(unix)]
    #[test]
    fn a_container_engines_own_failure_is_an_unreachable_host() {
        use std::os::unix::process::ExitStatusExt;
        let host = in_a_container(&["podman", "exec", "-i", "cg-box"]);
        let out = |code: i32, stderr: &str| std::process::Output {
            status: std::process::ExitStatus::from_raw(code << 8),
            stdout: Vec::new(),
            stderr: stderr.as_bytes().to_vec(),
        };
        let gone = ended(
            &host,
            &out(125, "Error: no container with name or ID \"cg-box\" found"),
        );
        assert!(
            matches!(gone, Err(SshError::Unreachable { .. })),
            "{gone:?}"
        );
        let stopped = ended(
            &host,
            &out(255, "can only create exec sessions on running containers"),
        );
        assert!(
            matches!(stopped, Err(SshError::Unreachable { .. })),
            "{stopped:?}"
        );
        assert_eq!(ended(&host, &out(1, "")).unwrap().code, Some(1));
    }

    #[test]
    fn ssh_failures_are_told_apart() {
        let key = "@@@@\n@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @\n@@@@\nHost key verification failed.\n";
        assert!(matches!(ssh_failure("h", key), SshError::HostKey { .. }));
        assert!(matches!(
            ssh_failure("h", "me@h: Permission denied (publickey)."),
            SshError::AuthRefused { .. }
        ));
        let e = ssh_failure("h", "ssh: connect to host h port 22: Connection refused\n");
        assert_eq!(
            e.to_string(),
            "h is not reachable: ssh: connect to host h port 22: Connection refused"
        );
    }
}
