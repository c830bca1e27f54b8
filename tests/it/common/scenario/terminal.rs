//! The terminal scenario: a program in a new 80×24 pseudo-terminal, opened
//! as a browser terminal of a kind (interactive, a session's preview or its
//! agent's own) in a registry that lets the dashboard's origin in.

use std::sync::Arc;
use std::time::Duration;

use codex_governance::pty::Pty;
use codex_governance::terminal::{TerminalInfo, TerminalKind, Terminals};

use super::Scenario;
use crate::common::terminal::{spawn_pty, DASHBOARD};

/// A terminal to open: see [`Scenario::terminal`].
pub struct TerminalScenario {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    kind: TerminalKind,
    session: Option<String>,
    title: String,
}

impl Scenario {
    /// `program` with `args` in a pseudo-terminal, an interactive terminal
    /// titled with the program's name.
    pub fn terminal(program: &str, args: &[&str]) -> TerminalScenario {
        let title = program.rsplit(['/', '\\']).next().unwrap_or(program);
        TerminalScenario {
            program: program.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            kind: TerminalKind::Interactive,
            session: None,
            title: title.to_string(),
        }
    }
}

impl TerminalScenario {
    /// `key=value` in the program's environment.
    pub fn env(mut self, key: &str, value: &str) -> TerminalScenario {
        self.env.push((key.into(), value.into()));
        self
    }

    /// A terminal of `kind` for session `session`.
    pub fn kind(mut self, kind: TerminalKind, session: &str) -> TerminalScenario {
        self.kind = kind;
        self.session = Some(session.to_string());
        self
    }

    pub fn title(mut self, title: &str) -> TerminalScenario {
        self.title = title.to_string();
        self
    }

    /// The program started and its terminal opened.
    pub async fn open(self) -> OpenTerminal {
        let terms = Terminals::new(vec![DASHBOARD.into()]);
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let pty = spawn_pty(&self.program, &args, &env);
        let info = terms
            .open(self.kind, pty.clone(), self.session, self.title)
            .await
            .unwrap();
        OpenTerminal { terms, pty, info }
    }
}

/// An open terminal: its registry, its program, what it was opened as.
pub struct OpenTerminal {
    pub terms: Terminals,
    pub pty: Arc<Pty>,
    pub info: TerminalInfo,
}

impl OpenTerminal {
    /// Closes every terminal of the registry, then ends the program.
    pub async fn close(self) {
        self.terms.close_all().await;
        self.pty.terminate(Duration::from_secs(1)).await;
    }
}
