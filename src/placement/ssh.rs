//! The user's own `ssh`, so their configuration, agent, ProxyJump and known
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

    /// Runs `words` on `host` (its shell gets them quoted, word by word),
    /// waiting at most `patience`.
    pub async fn run(
        &self,
        host: &str,
        words: &[&str],
        patience: Duration,
    ) -> Result<Ran, SshError> {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(argv(host, words))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| SshError::Missing(format!("{}: {e}", self.program.display())))?;
        let out = tokio::time::timeout(patience, child.wait_with_output())
            .await
            .map_err(|_| SshError::TimedOut {
                host: host.to_string(),
                seconds: patience.as_secs(),
            })?
            .map_err(|e| SshError::Missing(e.to_string()))?;
        ended(host, &out)
    }

    /// [`Ssh::run`] for a thread that may block (a record, an integration):
    /// ssh's keep-alive ends a connection that died, and `patience` one
    /// that lives on (a department's files can make its host's work slow).
    pub fn run_blocking(
        &self,
        host: &str,
        words: &[&str],
        patience: Duration,
    ) -> Result<Ran, SshError> {
        let mut args = alive_options();
        args.extend(argv(host, words));
        let missing =
            |e: std::io::Error| SshError::Missing(format!("{}: {e}", self.program.display()));
        let mut child = std::process::Command::new(&self.program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(missing)?;
        let out = crate::bounded_run::wait_within(&mut child, patience)
            .map_err(missing)?
            .ok_or_else(|| SshError::TimedOut {
                host: host.to_string(),
                seconds: patience.as_secs(),
            })?;
        ended(host, &out)
    }

    /// Starts `words` on `host` for a long talk over its standard input and
    /// output, its error output (and ssh's) to `errors`; a connection that
    /// stops answering is ended by ssh's own keep-alive.
    pub fn spawn_stdio(
        &self,
        host: &str,
        words: &[&str],
        errors: Stdio,
    ) -> Result<tokio::process::Child, SshError> {
        let mut args = alive_options();
        args.extend(argv(host, words));
        tokio::process::Command::new(&self.program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(errors)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SshError::Missing(format!("{}: {e}", self.program.display())))
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

/// How a command on `host` ended: 255 is ssh's own failure; anything else
/// is the command's.
fn ended(host: &str, out: &std::process::Output) -> Result<Ran, SshError> {
    let ran = Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    match ran.code {
        Some(255) => Err(ssh_failure(host, &ran.stderr)),
        _ => Ok(ran),
    }
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
