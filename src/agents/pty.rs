//! The PTY backend: `agent_command` run directly (no shell) in a PTY owned by
//! the launcher. Text is typed in, Ctrl-C interrupts; the agent reports through
//! the HTTP API with its scoped token (it has no other channel) and runs with
//! the user's rights: there is no sandbox.

use std::path::Path;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::mpsc;

use super::{
    Agent, AgentBackend, AgentError, AgentSpec, Channel, Delivery, Started, START_COLS, START_ROWS,
};
use crate::model::{ApprovalDecision, Backend};
use crate::pty::{self, Pty, SpawnSpec, Transcript};

pub struct PtyBackend {
    /// `agent_command`, with placeholders.
    command: Vec<String>,
}

impl PtyBackend {
    pub fn new(command: Vec<String>) -> PtyBackend {
        PtyBackend { command }
    }
}

impl AgentBackend for PtyBackend {
    fn kind(&self) -> Backend {
        Backend::Pty
    }

    fn channel(&self) -> Channel {
        Channel::Api
    }

    fn problems(&self) -> BoxFuture<'_, Vec<String>> {
        async { Vec::new() }.boxed()
    }

    fn start(&self, spec: AgentSpec) -> BoxFuture<'_, Result<Started, AgentError>> {
        async move {
            let placeholders = Placeholders {
                model: &spec.model,
                repo: &spec.cwd,
                prompt: &spec.prompt,
                prompt_file: &spec.prompt_path,
                session_id: &spec.session_id,
            };
            check_cmd_line(&self.command, &placeholders)?;
            let argv = build_argv(&self.command, &placeholders);
            let (program, args) = argv
                .split_first()
                .ok_or_else(|| AgentError::Missing("launcher.agent_command is empty".into()))?;
            // Its environment is the launcher's allowlist (`spec.env`) alone.
            let pty = Pty::spawn_with_env_only(SpawnSpec {
                program: program.clone(),
                args: args.to_vec(),
                cwd: spec.cwd.clone(),
                env: spec.env.clone(),
                cols: START_COLS,
                rows: START_ROWS,
                transcript: Some(Transcript {
                    root: spec.state_dir.clone(),
                    path: spec.log_path.clone(),
                }),
            })
            .map_err(|e| AgentError::Failed(format!("{e:#}")))?;
            // A PTY agent says nothing the launcher can read: no events.
            let (_, events) = mpsc::unbounded_channel();
            let agent: Arc<dyn Agent> = Arc::new(PtyAgent { pty });
            Ok(Started { agent, events })
        }
        .boxed()
    }
}

struct PtyAgent {
    pty: Arc<Pty>,
}

impl Agent for PtyAgent {
    fn terminal(&self) -> Option<Arc<Pty>> {
        Some(Arc::clone(&self.pty))
    }

    fn thread_id(&self) -> Option<&str> {
        None
    }

    fn helper_pid(&self) -> Option<u32> {
        None
    }

    fn working(&self) -> bool {
        self.pty.exit_code().is_none()
    }

    fn send<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Delivery, AgentError>> {
        let pty = Arc::clone(&self.pty);
        let text = text.to_string();
        async move {
            tokio::task::spawn_blocking(move || pty.paste_line(&text))
                .await
                .map_err(|e| AgentError::Failed(e.to_string()))?
                .map_err(|e| AgentError::Failed(e.to_string()))?;
            Ok(Delivery::Typed)
        }
        .boxed()
    }

    fn interrupt(&self) -> BoxFuture<'_, Result<(), AgentError>> {
        let pty = Arc::clone(&self.pty);
        async move {
            tokio::task::spawn_blocking(move || pty.write(b"\x03"))
                .await
                .map_err(|e| AgentError::Failed(e.to_string()))?
                .map_err(|e| AgentError::Failed(e.to_string()))
        }
        .boxed()
    }

    fn decide(&self, _: &str, _: ApprovalDecision, _: &'static str) -> Result<(), AgentError> {
        Err(AgentError::Unsupported {
            backend: "pty",
            what: "answer approvals (it asks in its terminal)",
        })
    }

    fn stop(&self) -> BoxFuture<'_, i32> {
        async move { self.pty.terminate(pty::KILL_GRACE).await }.boxed()
    }
}

/// Values for the placeholders of `agent_command`.
pub struct Placeholders<'a> {
    pub model: &'a str,
    pub repo: &'a Path,
    pub prompt: &'a str,
    pub prompt_file: &'a Path,
    pub session_id: &'a str,
}

/// Fills `{model}`, `{repo}`, `{prompt}`, `{prompt_file}` and `{session_id}` in
/// each word; nothing passes through a shell, so a prompt with spaces, quotes
/// or `$(...)` arrives as one literal argument.
pub fn build_argv(template: &[String], p: &Placeholders<'_>) -> Vec<String> {
    let pairs = p.pairs();
    template.iter().map(|word| fill(word, &pairs)).collect()
}

impl Placeholders<'_> {
    fn pairs(&self) -> [(&'static str, String); 5] {
        [
            ("{model}", self.model.to_string()),
            ("{repo}", self.repo.display().to_string()),
            ("{prompt_file}", self.prompt_file.display().to_string()),
            ("{prompt}", self.prompt.to_string()),
            ("{session_id}", self.session_id.to_string()),
        ]
    }
}

/// `cmd /c` reads the rest of its command line itself (the spawn passes it
/// verbatim): a placeholder's value there, such as a prompt an agent wrote,
/// must hold nothing cmd.exe would act on, or it would run as a command.
fn check_cmd_line(template: &[String], p: &Placeholders<'_>) -> Result<(), AgentError> {
    let Some((program, args)) = template.split_first() else {
        return Ok(());
    };
    let Some(from) = crate::platform::cmd_command_line_from(program, args) else {
        return Ok(());
    };
    for word in &args[from..] {
        for (name, value) in p.pairs() {
            let what = word
                .contains(name)
                .then(|| crate::platform::cmd_special_in(&value))
                .flatten();
            if let Some(what) = what {
                return Err(AgentError::Missing(format!(
                    "launcher.agent_command runs `{program} {switch}`, which reads its command \
                     line itself, and the value of {name} holds {what}, which cmd.exe would \
                     interpret: pass the prompt in a file (the {{prompt_file}} placeholder)",
                    switch = args[from - 1]
                )));
            }
        }
    }
    Ok(())
}

/// Replaces each placeholder once per occurrence, left to right, without
/// re-scanning inserted text (a prompt containing `{model}` stays literal).
fn fill(word: &str, pairs: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    'outer: while !rest.is_empty() {
        if rest.starts_with('{') {
            for (name, value) in pairs {
                if let Some(after) = rest.strip_prefix(name) {
                    out.push_str(value);
                    rest = after;
                    continue 'outer;
                }
            }
        }
        let c = rest.chars().next().unwrap();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_without_rescanning() {
        let t: Vec<String> = [
            "codex",
            "-m",
            "{model}",
            "--cd",
            "{repo}",
            "{prompt}",
            "x{session_id}y",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let argv = build_argv(
            &t,
            &Placeholders {
                model: "gpt-5.5",
                repo: Path::new("/r p"),
                prompt: "say \"hi\" {model} $(rm -rf /)",
                prompt_file: Path::new("/p.txt"),
                session_id: "zhongshu-1",
            },
        );
        assert_eq!(argv[2], "gpt-5.5");
        assert_eq!(argv[4], "/r p");
        assert_eq!(argv[5], "say \"hi\" {model} $(rm -rf /)");
        assert_eq!(argv[6], "xzhongshu-1y");
    }

    #[test]
    fn a_cmd_command_line_takes_no_placeholder_value_cmd_would_run() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let p = |prompt: &'static str| Placeholders {
            model: "gpt-5.5",
            repo: Path::new("/r"),
            prompt,
            prompt_file: Path::new("/p.txt"),
            session_id: "lingyubu-1",
        };
        let by_file = words(&[
            "cmd",
            "/c",
            "\"C:\\a b\\x.exe\" --prompt-file \"{prompt_file}\"",
        ]);
        assert!(check_cmd_line(&by_file, &p("a & calc")).is_ok());
        let inline = words(&["cmd", "/c", "x.exe \"{prompt}\""]);
        assert!(check_cmd_line(&inline, &p("plain words")).is_ok());
        let err = check_cmd_line(&inline, &p("fix it\" & calc & \"")).unwrap_err();
        assert!(err.to_string().contains("{prompt} holds `\"`"), "{err}");
        assert!(err.to_string().contains("{prompt_file}"), "{err}");
        // Only cmd's own command line: another program gets its words as arguments.
        assert!(check_cmd_line(&words(&["agent", "/c", "{prompt}"]), &p("a & b")).is_ok());
        assert!(check_cmd_line(&words(&["cmd", "{prompt}"]), &p("a & b")).is_ok());
    }
}
