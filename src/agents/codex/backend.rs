//! Codex as an agent backend: a session is a thread (started or resumed) on
//! the launcher's one shared app-server. Codex's own TUI (`codex resume
//! <thread> --remote`, about 90 MB) runs in a PTY only while someone watches
//! it: the launcher drives the thread without it (turns, approvals,
//! interrupts), and the page shows the conversation from the thread's items.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::native::Program;
use super::server::ServerSpec;
use super::settings::{ApprovalPolicy, Settings};
use super::shared::SharedServer;
use super::{CodexAgent, CodexError, ThreadSpec};
use tokio::sync::mpsc;

use crate::agents::conversation::{self, Conversation};
use crate::agents::{
    AccountEvent, Agent, AgentBackend, AgentError, AgentSpec, Channel, Delivery, Started,
    START_COLS, START_ROWS,
};
use crate::model::{ApprovalDecision, Backend};
use crate::pty::{self, Pty, SpawnSpec, Transcript};

pub struct CodexBackend {
    /// As configured (`codex` on PATH unless set), for messages.
    codex: String,
    /// What runs: the native binary of an npm install, else `codex`.
    program: Program,
    approval_policy: ApprovalPolicy,
    /// The one app-server of this launcher, started with the first session.
    server: tokio::sync::Mutex<Option<Arc<SharedServer>>>,
    /// Where the server's account-wide news goes (usage limits).
    account: std::sync::Mutex<Option<super::shared::Account>>,
}

impl CodexBackend {
    pub fn new(settings: &Settings) -> CodexBackend {
        CodexBackend {
            codex: settings.command.clone(),
            program: super::native::resolve(&settings.command),
            approval_policy: settings.approval_policy,
            server: tokio::sync::Mutex::new(None),
            account: std::sync::Mutex::new(None),
        }
    }

    /// The shared server: the running one, the one a crashed launcher left, or a new one.
    async fn server(&self, spec: &AgentSpec) -> Result<Arc<SharedServer>, CodexError> {
        let mut slot = self.server.lock().await;
        if let Some(s) = slot.as_ref().filter(|s| s.usable()) {
            return Ok(Arc::clone(s));
        }
        if let Some(gone) = slot.take() {
            // Its threads resume on the next one; what is left of it goes.
            gone.stop().await;
        }
        let logs = spec
            .log_path
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(|| spec.state_dir.clone());
        let account = self.account.lock().unwrap().clone();
        let server = SharedServer::open(
            ServerSpec {
                codex: &self.program,
                state_dir: &spec.state_dir,
                cwd: &spec.cwd,
                log_path: logs.join("codex-app-server.log"),
            },
            account,
        )
        .await?;
        *slot = Some(Arc::clone(&server));
        Ok(server)
    }

    async fn open(&self, spec: AgentSpec) -> Result<Started, CodexError> {
        let server = self.server(&spec).await?;
        let items = Arc::new(Conversation::new(
            &spec.state_dir,
            conversation::path_for(&spec.log_path),
        ));
        let (conversation, events) = CodexAgent::open(
            server,
            &spec.session_id,
            ThreadSpec {
                cwd: spec.cwd.clone(),
                model: spec.model.clone(),
                // A session that only reads (a reviewer) asks nothing: an
                // approved command would run outside its sandbox.
                approval_policy: if spec.sandbox.work_read_only {
                    ApprovalPolicy::Never
                } else {
                    self.approval_policy
                },
                instructions: spec.prompt.clone(),
                name: spec.title.clone(),
                shell_env: spec.env.clone(),
                tools: spec.tools.clone(),
                sandbox: spec.sandbox.clone(),
                resume: spec.resume.clone(),
                environment: spec.environment.clone(),
            },
            items,
        )
        .await?;
        let (tui_args, tui_env) = conversation.tui_command(&spec.cwd);
        let mut env = spec.env;
        env.extend(self.program.env.iter().cloned());
        env.extend(tui_env);
        let tui = SpawnSpec {
            program: self.program.path.display().to_string(),
            args: tui_args,
            cwd: spec.cwd.clone(),
            env,
            cols: START_COLS,
            rows: START_ROWS,
            transcript: Some(Transcript {
                root: spec.state_dir.clone(),
                path: spec.log_path,
            }),
        };
        if let Some(text) = &spec.first_turn {
            if let Err(e) = conversation.send_text(text).await {
                conversation.stop().await;
                return Err(e);
            }
        }
        let agent: Arc<dyn Agent> = Arc::new(CodexSession {
            conversation,
            tui_spec: tui,
            tui: std::sync::Mutex::new(None),
            attaching: tokio::sync::Mutex::new(false),
        });
        Ok(Started { agent, events })
    }
}

impl AgentBackend for CodexBackend {
    fn kind(&self) -> Backend {
        Backend::Codex
    }

    fn channel(&self) -> Channel {
        Channel::Tools
    }

    fn problems(&self) -> BoxFuture<'_, Vec<String>> {
        let codex = self.codex.clone();
        let program = self.program.clone();
        async move {
            // The login is asked only of a Codex that runs and is new enough.
            tokio::task::spawn_blocking(move || {
                super::version_warning(&codex).or_else(|| super::login::login_problem(&program))
            })
            .await
            .ok()
            .flatten()
            .into_iter()
            .collect()
        }
        .boxed()
    }

    fn start(&self, spec: AgentSpec) -> BoxFuture<'_, Result<Started, AgentError>> {
        async move { self.open(spec).await.map_err(agent_error) }.boxed()
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        async move {
            if let Some(server) = self.server.lock().await.take() {
                server.stop().await;
            }
        }
        .boxed()
    }

    fn watch_account(&self, tx: mpsc::UnboundedSender<AccountEvent>) {
        *self.account.lock().unwrap() = Some(tx);
    }

    fn exec_server(&self) -> Option<crate::agents::ExecServer> {
        let program = crate::platform::program_path(&self.program.path).ok()?;
        Some(crate::agents::ExecServer {
            program,
            env: self.program.env.clone(),
        })
    }

    fn end_left_running<'a>(&'a self, state_dir: &'a std::path::Path) -> BoxFuture<'a, ()> {
        async move {
            // Held throughout: a session starting meanwhile adopts it or waits.
            let slot = self.server.lock().await;
            if slot.is_none() {
                super::server::AppServer::end_left_running(state_dir).await;
            }
        }
        .boxed()
    }
}

/// A live Codex session: the conversation, and the TUI showing it while
/// someone watches.
struct CodexSession {
    conversation: Arc<CodexAgent>,
    /// How its TUI starts.
    tui_spec: SpawnSpec,
    tui: std::sync::Mutex<Option<Arc<Pty>>>,
    /// One TUI start at a time; a stop waits for one under way. True once
    /// stopped: no TUI starts after (it would outlive the session).
    attaching: tokio::sync::Mutex<bool>,
}

impl CodexSession {
    fn running_tui(&self) -> Option<Arc<Pty>> {
        self.tui
            .lock()
            .unwrap()
            .clone()
            .filter(|t| t.exit_code().is_none())
    }
}

impl Agent for CodexSession {
    fn terminal(&self) -> Option<Arc<Pty>> {
        self.running_tui()
    }

    fn attach_terminal(&self) -> BoxFuture<'_, Result<Arc<Pty>, AgentError>> {
        async move {
            let stopped = self.attaching.lock().await;
            if *stopped {
                return Err(AgentError::Gone);
            }
            if let Some(tui) = self.running_tui() {
                return Ok(tui);
            }
            let spec = self.tui_spec.clone();
            let tui = tokio::task::spawn_blocking(move || Pty::spawn(spec))
                .await
                .map_err(|e| AgentError::Failed(e.to_string()))?
                .map_err(|e| AgentError::Failed(format!("Codex TUI: {e:#}")))?;
            *self.tui.lock().unwrap() = Some(Arc::clone(&tui));
            Ok(tui)
        }
        .boxed()
    }

    fn detach_terminal(&self) -> BoxFuture<'_, ()> {
        async move {
            let _one = self.attaching.lock().await;
            let tui = self.tui.lock().unwrap().take();
            if let Some(tui) = tui {
                tui.terminate(pty::KILL_GRACE).await;
            }
        }
        .boxed()
    }

    fn set_model<'a>(&'a self, model: &'a str) -> BoxFuture<'a, Result<(), AgentError>> {
        async move {
            self.conversation
                .set_model(model)
                .await
                .map_err(agent_error)
        }
        .boxed()
    }

    fn conversation(&self) -> Option<&Arc<Conversation>> {
        Some(&self.conversation.conversation)
    }

    fn activity(&self) -> Option<(std::time::Instant, std::time::SystemTime)> {
        self.conversation.conversation.activity()
    }

    fn thread_id(&self) -> Option<&str> {
        Some(&self.conversation.thread_id)
    }

    fn helper_pid(&self) -> Option<u32> {
        Some(self.conversation.server_pid())
    }

    fn working(&self) -> bool {
        self.conversation.working()
    }

    fn send<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Delivery, AgentError>> {
        async move { self.conversation.send_text(text).await.map_err(agent_error) }.boxed()
    }

    fn interrupt(&self) -> BoxFuture<'_, Result<(), AgentError>> {
        async move { self.conversation.interrupt().await.map_err(agent_error) }.boxed()
    }

    fn decide(
        &self,
        request_id: &str,
        decision: ApprovalDecision,
        by: &'static str,
    ) -> Result<(), AgentError> {
        self.conversation
            .decide(request_id, decision, by)
            .map_err(agent_error)
    }

    /// The exit code of its TUI, when one ran; 0 otherwise (the thread ended as asked).
    fn stop(&self) -> BoxFuture<'_, i32> {
        async move {
            // A TUI starting now is started first, then stopped with the rest.
            let mut stopped = self.attaching.lock().await;
            *stopped = true;
            drop(stopped);
            let tui = self.tui.lock().unwrap().take();
            let code = match tui {
                Some(tui) => tui.terminate(pty::KILL_GRACE).await,
                None => 0,
            };
            self.conversation.stop().await;
            code
        }
        .boxed()
    }
}

/// Codex's errors in the seam's terms: the user's to fix, or not.
pub(super) fn agent_error(e: CodexError) -> AgentError {
    match e {
        CodexError::Missing(_) => AgentError::Missing(e.to_string()),
        CodexError::NotLoggedIn => AgentError::NotLoggedIn(e.to_string()),
        CodexError::NoSuchApproval(id) => AgentError::NoSuchRequest(id),
        other => AgentError::Failed(other.to_string()),
    }
}
