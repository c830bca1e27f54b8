//! Agent sessions: Zhongshu planners and department workers, each an agent of
//! the configured backend (`crate::agents`) with a PTY the user watches.
//!
//! Starting writes the prompt file, starts the agent with its environment,
//! records and audits the session, opens its browser terminal and watches for its
//! exit; an exit frees its queue slot and pumps the queue.

pub mod conversation;
mod follow;
mod live;
pub mod preview;
pub mod start;
pub mod terminals;
mod viewers;

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::agents::{AgentBackend, ToolSpec};
use crate::clock;
use crate::context::Context;
use crate::credentials::Credentials;
use crate::error::{LResult, LauncherError};
use crate::model::{AuditEvent, CloseReason, InputRecord, Session, SessionKind, TerminalRecord};
use crate::signals::SignalTx;

pub use follow::Suspension;
pub use live::LiveAgents;
pub use start::{Continuation, StartSpec};
pub use terminals::SessionTerminals;

/// Output an ended session keeps in memory for late viewers.
const RELEASED_SCROLLBACK: usize = 64 * 1024;

/// The agent sessions, a facade over the pieces that own their state: the
/// live agents and their PTYs ([`LiveAgents`]), starting one
/// ([`start::Starter`]), their browser terminals and their tokens. Starting,
/// typing into, closing and recording the end of a session happen here; what
/// follows an end (fallbacks, the queue) is signalled to the launcher.
pub struct Sessions {
    pub(crate) ctx: Arc<Context>,
    /// The live agents, their PTYs and what they say.
    pub live: Arc<LiveAgents>,
    /// Their browser terminals.
    pub terminals: Arc<SessionTerminals>,
    /// Session tokens: agents get these, never the developer's.
    pub credentials: Arc<Credentials>,
    /// Serializes Zhongshu starts (the `max_zhongshu` limit).
    zhongshu_start: tokio::sync::Mutex<()>,
    signals: SignalTx,
    /// Whether the repository's configuration may run: no session starts
    /// before the user trusts what it sets.
    pub trust: crate::config_trust::TrustGate,
    /// The governance tools each kind of session gets (with a backend that
    /// takes tools), given by the launcher.
    tool_specs: fn(SessionKind) -> Vec<ToolSpec>,
    /// Departments whose agent waits for their worktree's set-up (issue 52).
    pub(crate) waiting_setup:
        std::sync::Mutex<std::collections::HashMap<String, start::setup::Waiting>>,
    /// The hosts departments may work on, and the connections to them.
    pub placement: Arc<crate::placement::Placement>,
}

impl Sessions {
    /// The dashboard's shell button: refused while the configuration waits
    /// for the user's trust, since a cloned file may name the shell.
    pub async fn start_shell(
        &self,
        shell: Option<String>,
        args: Vec<String>,
    ) -> LResult<(crate::terminal::TerminalInfo, bool)> {
        if let Some(why) = self.trust.refusal() {
            return Err(LauncherError::Conflict(why));
        }
        self.terminals.start_interactive(shell, args).await
    }

    pub fn new(
        ctx: Arc<Context>,
        backends: crate::agents::Team,
        credentials: Arc<Credentials>,
        signals: SignalTx,
        quota_changed: Arc<tokio::sync::Notify>,
        tool_specs: fn(SessionKind) -> Vec<ToolSpec>,
    ) -> Sessions {
        let live = LiveAgents::new(
            Arc::clone(&ctx),
            backends,
            Arc::clone(&credentials),
            signals.clone(),
            quota_changed,
        );
        let live = Arc::new(live);
        Sessions {
            trust: crate::config_trust::TrustGate::of(&ctx.config),
            terminals: Arc::new(SessionTerminals::new(Arc::clone(&ctx), Arc::clone(&live))),
            ctx,
            live,
            tool_specs,
            credentials,
            zhongshu_start: tokio::sync::Mutex::new(()),
            signals,
            waiting_setup: Default::default(),
            placement: Arc::default(),
        }
    }

    /// The launcher's own backend: the planner's, and that of every
    /// department that names none.
    pub fn backend(&self) -> &Arc<dyn AgentBackend> {
        self.live.backend()
    }

    /// The backend that drives the agents of `department` (None: a planner).
    pub fn backend_for(&self, department: Option<&str>) -> &Arc<dyn AgentBackend> {
        self.live.backends().of(department)
    }

    /// Whether the agents of `department` (None: a planner) reach the
    /// launcher through tools rather than the API.
    pub fn has_tools(&self, department: Option<&str>) -> bool {
        self.backend_for(department).channel() == crate::agents::Channel::Tools
    }

    /// Starts a session now (the queue decides when departments may start).
    pub async fn start_session(self: &Arc<Self>, spec: StartSpec) -> LResult<Session> {
        start::Starter::new(self).start(spec).await
    }

    /// Checks a model against the configured choices, defaulting by kind.
    pub fn pick_model(&self, model: Option<&str>, kind: SessionKind) -> LResult<String> {
        Ok(crate::policy::plan::model_for(
            model,
            kind,
            &self.ctx.config.launcher,
        )?)
    }

    /// 429 when `launcher.max_zhongshu` Zhongshu sessions already run.
    fn check_zhongshu_limit(&self) -> LResult<()> {
        let max = self.ctx.config.launcher.max_zhongshu;
        let running = self.ctx.store.read(|s| {
            s.sessions
                .values()
                .filter(|x| x.is_zhongshu() && x.is_running())
                .count()
        });
        Ok(crate::policy::queue::may_start_zhongshu(running, max)?)
    }

    /// Closes a department that reported (SPEC 8 step 6).
    pub(crate) async fn auto_close(self: &Arc<Self>, session_id: &str) {
        let Some(session) = self.session(session_id) else {
            return;
        };
        let marked = session.department_part().is_some_and(|d| {
            d.auto_closed && d.auto_close_reason.as_deref() == Some("mailbox_report_received")
        });
        if !marked {
            let saved = self.ctx.store.update(|tx| {
                if let Some(d) = tx.session_mut(session_id).and_then(|x| x.department_mut()) {
                    d.auto_closed = true;
                    d.auto_close_reason = Some("mailbox_report_received".into());
                }
            });
            if let Err(e) = saved {
                tracing::error!("marking {session_id} auto-closed: {e}");
            }
        }
        if session.is_running() {
            if let Err(e) = self.close_session(session_id, CloseReason::Reported).await {
                tracing::warn!("auto-close {session_id}: {e}");
            }
        }
    }

    /// The launcher begins to stop: see [`Self::terminate_all`].
    pub fn begin_stop(&self) {
        self.live.begin_stop();
    }

    /// Terminates every live session (SIGTERM, then SIGKILL) and every terminal.
    /// Codex sessions are suspended instead of ended: their threads resume at
    /// the next start.
    pub async fn terminate_all(&self) {
        self.begin_stop();
        let mut waits = Vec::new();
        for (id, agent) in self.live.live_agents() {
            let resumes = agent.thread_id().is_some();
            if let Err(e) = self.ctx.store.update(|tx| {
                if let Some(session) = tx.session_mut(&id) {
                    session.closing = !resumes;
                }
            }) {
                tracing::error!("marking {id} closing: {e}");
            }
            waits.push(async move {
                let code = agent.stop().await;
                self.live.forget_agent(&id);
                (id, code, resumes)
            });
        }
        for (id, code, resumes) in futures_util::future::join_all(waits).await {
            if resumes {
                self.ctx.store.audit_or_log(AuditEvent::SessionSuspended {
                    session_id: id.clone(),
                });
            } else {
                self.live.record_exit(&id, code, Some("launcher_stopped"));
            }
        }
        self.terminals.close_all().await;
        // What the agents shared (Codex's app-server) goes after them.
        self.live.backends().shutdown().await;
        // Then the relays to hosts and their ssh connections: nothing is left
        // to serve, and the tasks waited on next include them (issue 70
        // item 4: a stop waited 10 s for a host's relay).
        self.placement.close().await;
        // The containers made ahead, and the hosts' own with no work left.
        let (placement, ctx) = (Arc::clone(&self.placement), Arc::clone(&self.ctx));
        if let Err(e) =
            tokio::task::spawn_blocking(move || placement.tidy_containers(&ctx, true)).await
        {
            tracing::error!("removing containers at the stop: {e}");
        }
        // Every session's process is gone: what followed them ends now.
        self.ctx.wait_tasks().await;
    }

    /// Looks up a Zhongshu session by a validated id from a request.
    pub fn require_zhongshu(&self, id: &str) -> LResult<Session> {
        let s = self.require_session(id)?;
        if !s.is_zhongshu() {
            return Err(LauncherError::BadRequest(format!(
                "{id} is not a Zhongshu session"
            )));
        }
        Ok(s)
    }

    /// Drops the record of a session that never started.
    fn forget_session(&self, id: &str) {
        self.credentials.revoke(id);
        start::workspace::release_workspace(&self.ctx, id);
        if let Err(e) = self.ctx.store.record(|tx| tx.remove_session(id)) {
            tracing::error!("forgetting {id}: {e}");
        }
    }

    /// Tells the launcher what happened (a signal sent while it stops is dropped).
    pub fn signal(&self, signal: crate::signals::Signal) {
        if self.signals.send(signal).is_err() {
            tracing::debug!("a signal while the launcher stops");
        }
    }

    pub fn session(&self, id: &str) -> Option<Session> {
        self.live.session(id)
    }

    /// Whether the pending approval `request_id` of `session_id` is a patch
    /// naming files, every one of which resolves, now, inside the session's
    /// own worktree: what a phone may approve at `low_risk`. Codex asks
    /// about a patch that writes outside its sandbox, through a link too.
    pub fn patch_stays_in_worktree(&self, session_id: &str, request_id: &str) -> bool {
        // A department on another machine writes there, one at the user's
        // path in its namespace: nothing here says where its paths land.
        let Some(root) = self.session(session_id).and_then(|s| {
            s.workspace()
                .filter(|w| w.workplace == crate::model::Workplace::Own)
                .map(|w| std::path::PathBuf::from(&w.path))
        }) else {
            return false;
        };
        self.live.approvals().iter().any(|a| {
            a.session_id == session_id && a.request_id == request_id && patch_within(a, &root)
        })
    }

    /// Looks up a session by a validated id from a request.
    pub fn require_session(&self, id: &str) -> LResult<Session> {
        self.live.require_session(id)
    }

    /// Stops a session: SIGTERM to its group, SIGKILL after 5 s, reaped.
    pub async fn close_session(
        self: &Arc<Self>,
        id: &str,
        reason: CloseReason,
    ) -> LResult<Session> {
        let session = self.require_session(id)?;
        if session.is_running() {
            self.ctx.store.update(|tx| {
                if let Some(x) = tx.session_mut(id) {
                    x.closing = true;
                    x.close_reason = Some(reason);
                }
            })?;
            let agent = self.live.agent(id);
            // Forgotten first: the end of its stream is then no surprise.
            self.live.forget_agent(id);
            let code = match agent {
                Some(agent) => agent.stop().await,
                None => -1,
            };
            self.live.record_exit(id, code, Some("closed"));
            self.ctx.store.audit_or_log(AuditEvent::SessionClosed {
                session_id: id.to_string(),
                reason,
            });
            self.live.after_exit(id).await;
        }
        if let Some(t) = session.browser_terminal_id.as_deref() {
            self.terminals.close_record(t).await?;
        }
        Ok(self.session(id).unwrap_or(session))
    }

    /// `POST /api/browser_terminal/close`. Where the terminal is the agent,
    /// closing a session's own terminal closes the session.
    pub async fn close_terminal(self: &Arc<Self>, id: &str) -> LResult<Option<TerminalRecord>> {
        if let Some(session_id) = self.terminals.ends_session(id)? {
            self.close_session(&session_id, CloseReason::TerminalClosed)
                .await?;
        }
        self.terminals.close(id).await
    }

    /// Puts text into a running session: a turn for Codex, a bracketed paste
    /// plus Enter for a PTY agent. A session still resuming is waited for.
    pub async fn session_input(self: &Arc<Self>, id: &str, input: &str) -> LResult<Session> {
        let session = self.require_session(id)?;
        if !session.is_running() {
            return Err(LauncherError::Conflict(format!(
                "session {id} is not running"
            )));
        }
        self.live.wait_until_live(id).await?;
        let delivery = self
            .live
            .deliver(id, input)
            .await
            .map_err(|e| LauncherError::Conflict(format!("cannot write to {id}: {e}")))?;
        let at = clock::now_rfc3339();
        self.ctx.store.update(|tx| {
            if let Some(x) = tx.session_mut(id) {
                x.input_history.push(InputRecord {
                    at,
                    input: input.to_string(),
                });
            }
            tx.audit(AuditEvent::SessionInput {
                session_id: id.to_string(),
                chars: input.chars().count(),
                delivery: delivery.as_str().to_string(),
            });
        })?;
        Ok(self.session(id).unwrap_or(session))
    }
}

/// What the quota service asks of the sessions: a session told to go on.
impl crate::quota::Agents for Sessions {
    fn require_zhongshu(&self, id: &str) -> LResult<()> {
        Sessions::require_zhongshu(self, id).map(|_| ())
    }

    fn is_live(&self, id: &str) -> bool {
        self.live.agent(id).is_some()
    }

    fn wait_until_live<'a>(&'a self, id: &'a str) -> BoxFuture<'a, LResult<()>> {
        Box::pin(self.live.wait_until_live(id))
    }

    fn deliver<'a>(&'a self, id: &'a str, text: &'a str) -> BoxFuture<'a, LResult<()>> {
        Box::pin(async move {
            self.live
                .deliver(id, text)
                .await
                .map(|_| ())
                .map_err(|e| LauncherError::Conflict(e.to_string()))
        })
    }

    fn set_model<'a>(&'a self, id: &'a str, model: &'a str) -> BoxFuture<'a, LResult<()>> {
        Box::pin(async move {
            self.live
                .set_model(id, model)
                .await
                .map_err(|e| LauncherError::Conflict(e.to_string()))
        })
    }
}

/// Whether `a` is a patch naming files, every one of which (and where it
/// moves them, and any root it asks to write) resolves inside `root` now.
/// A path shown with a character written out (`\u{202e}`) is not the path
/// Codex writes: it is never low risk.
fn patch_within(a: &crate::model::PendingApproval, root: &std::path::Path) -> bool {
    a.kind == crate::model::ApprovalKind::FileChange
        && !a.changes.is_empty()
        && a.patched_paths().all(|p| {
            !p.contains("\\u{") && crate::files::resolves_inside(root, std::path::Path::new(p))
        })
}

#[cfg(all(test, unix))]
mod patch_tests {
    use super::patch_within;
    use crate::model::{ApprovalKind, PatchChange, PatchKind, PendingApproval};

    fn patch(paths: &[&str], grant_root: Option<&str>) -> PendingApproval {
        PendingApproval {
            request_id: "1".into(),
            session_id: "d".into(),
            kind: ApprovalKind::FileChange,
            command: None,
            changes: paths
                .iter()
                .map(|p| PatchChange {
                    path: p.to_string(),
                    kind: PatchKind::Update,
                    move_to: None,
                    diff: String::new(),
                    diff_cut: false,
                })
                .collect(),
            cwd: grant_root.map(str::to_string),
            reason: None,
            requested_at: "t".into(),
        }
    }

    #[test]
    fn only_a_patch_that_stays_in_the_worktree_is_low_risk() {
        let dir = tempfile::tempdir().unwrap();
        let wt = dir.path().join("wt");
        let home = dir.path().join("home");
        std::fs::create_dir_all(wt.join("src")).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        std::os::unix::fs::symlink(&home, wt.join("dotfiles")).unwrap();
        let at = |rel: &str| wt.join(rel).display().to_string();
        assert!(patch_within(
            &patch(&[&at("src/a.rs"), &at("new.rs")], None),
            &wt
        ));
        // Through a link the department made, to a file outside, or asking
        // for a wider root: Codex would write outside its sandbox.
        assert!(!patch_within(&patch(&[&at("dotfiles/.bashrc")], None), &wt));
        let outside = home.join(".bashrc").display().to_string();
        assert!(!patch_within(
            &patch(&[&at("src/a.rs"), &outside], None),
            &wt
        ));
        let wider = dir.path().display().to_string();
        assert!(!patch_within(&patch(&[&at("src/a.rs")], Some(&wider)), &wt));
        assert!(!patch_within(&patch(&[], None), &wt), "a patch of no file");
        // A name shown with a character written out is not the name written.
        let hidden = at("dotfiles\\u{202e}/.bashrc");
        assert!(!patch_within(&patch(&[&hidden], None), &wt));
        let mut command = patch(&[&at("src/a.rs")], None);
        command.kind = ApprovalKind::Command;
        assert!(!patch_within(&command, &wt));
    }
}
