//! What the sessions do after their agents: each agent's events followed
//! (recorded by the live agents), a department that ended its turn without
//! reporting reminded once and then closed, a conversation whose connection
//! closed resumed on a new agent (or the session ended), the conversations
//! of the previous run resumed after a restart, and a department's turn
//! held while its host is away longer than Codex waits for it (issue 70
//! item 2: interrupted before Codex would fail its command, then resumed on
//! a new agent, told to run it again, once the host answers).

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::live::{agent_failure, FollowUp};
use super::start::command::launcher_bin;
use super::start::{workspace, Starter};
use super::Sessions;
use crate::agents::{AgentEvent, AgentSpec, Channel};
use crate::error::{LResult, LauncherError};
use crate::model::{AgentState, AuditEvent, CloseReason, Session};

/// What a session of the previous run waits for before it resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suspension {
    /// Its agent program cannot start (Codex missing, too old, logged out).
    AgentProgram,
    /// The repository's configuration changed and waits for the user's
    /// trust: nothing resumes under settings the user has not seen.
    Trust,
}

/// How long a host may be away before its departments' turns are held:
/// well within the time Codex's exec-server client waits for it (45 s),
/// past a blip its own reconnect covers.
const HOLD_AFTER: std::time::Duration = std::time::Duration::from_secs(15);

/// Sent to a department held while its host was away, once it is back.
fn continue_after_host(host: &str) -> String {
    format!(
        "[codex-governance] Your host {host} was unreachable for a while, so the launcher \
         paused your turn; it is back now and your conversation was resumed. A command you \
         started while it was away did not run: run it again, then continue your task and \
         report as instructed."
    )
}

/// Sent to a resumed department that has not reported.
const CONTINUE_AFTER_RESTART: &str = "[codex-governance] The launcher restarted and your \
     conversation was resumed. Continue your task where it stopped, then report as instructed.";

impl Sessions {
    pub(crate) fn follow_agent(
        self: &Arc<Self>,
        id: &str,
        mut events: mpsc::UnboundedReceiver<AgentEvent>,
    ) {
        let this = Arc::clone(self);
        let id = id.to_string();
        self.ctx.spawn(async move {
            while let Some(event) = events.recv().await {
                match this.live.on_agent_event(&id, event).await {
                    FollowUp::Nothing => {}
                    FollowUp::TurnEnded => this.after_turn(&id).await,
                    FollowUp::Closed => this.agent_closed(&id).await,
                }
            }
        });
    }

    /// A department (or a reviewer, issue 75) whose turn ended without a
    /// report gets one reminder; after a second such turn it is closed (a
    /// department's fallback result follows the exit; a reviewer's work is
    /// then held as reviewed by no one, until the user asks again).
    async fn after_turn(self: &Arc<Self>, id: &str) {
        let Some(s) = self.session(id) else { return };
        let reviewer = s.reviewer().map(|r| r.reported_at.is_some());
        let reported = reviewer.unwrap_or_else(|| s.has_reported());
        if (!s.is_department() && reviewer.is_none()) || reported || !s.is_running() || s.closing {
            return;
        }
        if self.live.is_stopping() {
            // Its turn was interrupted by the stop: it resumes, unreminded.
            return;
        }
        if s.agent.parked.is_some() || self.live.held_for_host(id) {
            // Stopped by the account's limit or held while its host is
            // away, not by choice: no reminder.
            return;
        }
        let over_budget = s.parent_session_id().and_then(|z| {
            self.ctx
                .store
                .read(|st| crate::quota::plan_over_budget(st, z, &self.ctx.config.launcher))
        });
        if let Some(why) = over_budget {
            // Held: it finished its turn; it goes on when the budget is raised.
            tracing::info!("{id} is held: its plan {why}");
            return;
        }
        if s.agent.reminders_sent == 0 {
            let saved = self.ctx.store.update(|tx| {
                if let Some(x) = tx.session_mut(id) {
                    x.agent.reminders_sent += 1;
                }
                tx.audit(AuditEvent::DepartmentReminded {
                    session_id: id.to_string(),
                });
            });
            if let Err(e) = saved {
                tracing::error!("recording the reminder to {id}: {e}");
            }
            let text = reminder(&s, self.live.backend_of(&s).channel());
            if let Err(e) = self.live.deliver(id, &text).await {
                tracing::warn!("reminding {id}: {e}");
            }
        } else if let Err(e) = self.close_session(id, CloseReason::NoReport).await {
            tracing::warn!("closing {id} after its reminder: {e}");
        }
    }

    /// The backend's connection went away (Codex's app-server died): unless the
    /// session is being stopped, its conversation resumes on a new one; if it
    /// cannot, the session ends.
    async fn agent_closed(self: &Arc<Self>, id: &str) {
        let Some(session) = self.session(id) else {
            return;
        };
        let Some(agent) = self.live.agent(id) else {
            return;
        };
        if !session.is_running() || session.closing || self.live.is_stopping() {
            return;
        }
        tracing::warn!("{id}: the connection to its agent closed");
        if agent.thread_id().is_some() {
            self.live.set_resuming(id, true);
            self.live.forget_agent(id);
            agent.stop().await;
            let resumed = self.resume_agent(id).await;
            self.live.set_resuming(id, false);
            match resumed {
                Ok(()) => return,
                Err(e) => tracing::warn!("{id} could not resume: {e}"),
            }
        }
        if let Err(e) = self.close_session(id, CloseReason::HelperExited).await {
            tracing::warn!("closing {id}: {e}");
        }
    }

    /// Host `host`'s departments' connection stopped or started answering.
    /// Gone for [`HOLD_AFTER`]: each running department there is held (its
    /// turn interrupted before Codex fails the command it waits on). Back:
    /// each held one resumes on a new agent (Codex's client for the host
    /// may have given up) and is told to run that command again.
    pub fn host_changed(self: &Arc<Self>, host: &str, state: crate::model::RemoteState) {
        use crate::model::RemoteState;
        let this = Arc::clone(self);
        let host = host.to_string();
        match state {
            RemoteState::Unreachable => {
                let going = self.live.host_went(&host);
                let stopped = self.placement.stopped();
                self.ctx.spawn(async move {
                    tokio::select! {
                        _ = stopped => {}
                        _ = tokio::time::sleep(HOLD_AFTER) => {
                            if this.live.host_away_since(&host, going) {
                                this.hold_for_host(&host).await;
                            }
                        }
                    }
                });
            }
            RemoteState::Ready => {
                for id in self.live.host_back(&host) {
                    let (this, host) = (Arc::clone(&this), host.clone());
                    self.ctx
                        .spawn(async move { this.resume_after_host(&id, &host).await });
                }
            }
            _ => {}
        }
    }

    /// Holds every running department on `host`: a working one's turn is
    /// interrupted (its command waits for no failure).
    async fn hold_for_host(self: &Arc<Self>, host: &str) {
        let on_host: Vec<String> = self.ctx.store.read(|st| {
            st.sessions
                .values()
                .filter(|s| s.is_running() && !s.closing)
                .filter(|s| s.slot_host() == Some(host))
                .map(|s| s.id.clone())
                .collect()
        });
        for id in on_host {
            self.live.hold_for_host(&id, host);
            let working = self.live.agent(&id).is_some_and(|a| a.working());
            tracing::info!("{id}: its host {host} is away; its turn is held until it is back");
            if working {
                if let Err(e) = self.live.interrupt(&id).await {
                    tracing::warn!("holding {id} while {host} is away: {e}");
                }
            }
        }
    }

    /// A department held while its host was away goes on: a new agent on
    /// its conversation, told to run again what did not run.
    async fn resume_after_host(self: &Arc<Self>, id: &str, host: &str) {
        let Some(agent) = self.live.agent(id) else {
            return;
        };
        if self.live.is_stopping() || !self.session(id).is_some_and(|s| s.is_running()) {
            return;
        }
        self.live.set_resuming(id, true);
        self.live.forget_agent(id);
        agent.stop().await;
        let resumed = self
            .resume_agent_saying(id, &continue_after_host(host))
            .await;
        self.live.set_resuming(id, false);
        if let Err(e) = resumed {
            tracing::warn!("{id} could not resume after {host} came back: {e}");
            if let Err(e) = self.close_session(id, CloseReason::HelperExited).await {
                tracing::warn!("closing {id}: {e}");
            }
        }
    }

    /// Sessions of the previous run that cannot resume now: suspended (their
    /// slots and places kept), each saying what it waits for in a few words
    /// (the note at the top of the page says the whole of it, once), audited
    /// once each with the whole reason.
    pub fn wait_for_agent(&self, ids: &[String], why: &str, waits_for: Suspension) {
        let text = match waits_for {
            Suspension::AgentProgram => {
                "waiting for its agent program to start: the note at the top says what to do"
            }
            Suspension::Trust => {
                "waiting for your trust of the repository's configuration, which changed: \
                 the note at the top shows it"
            }
        }
        .to_string();
        let saved = self.ctx.store.update(|tx| {
            for id in ids {
                if let Some(x) = tx.session_mut(id) {
                    x.agent.agent_state = AgentState::Starting;
                    x.agent.attention = Some(crate::model::Attention {
                        kind: match waits_for {
                            Suspension::AgentProgram => crate::model::AttentionKind::Backend,
                            Suspension::Trust => crate::model::AttentionKind::ConfigTrust,
                        },
                        text: text.clone(),
                    });
                }
                tx.audit(AuditEvent::SessionWaitingForAgent {
                    session_id: id.clone(),
                    reason: crate::text::os_error_words(why),
                });
            }
        });
        if let Err(e) = saved {
            tracing::error!("recording the sessions waiting for their agent: {e}");
        }
    }

    /// After a launcher restart: the session's conversation resumes with new
    /// processes; the session keeps its slot and place in the plan.
    pub async fn resume_agent(self: &Arc<Self>, id: &str) -> LResult<()> {
        self.resume_agent_saying(id, CONTINUE_AFTER_RESTART).await
    }

    /// [`Sessions::resume_agent`], telling a department that has not
    /// reported `go_on` as its next turn.
    async fn resume_agent_saying(self: &Arc<Self>, id: &str, go_on: &str) -> LResult<()> {
        let s = self.require_session(id)?;
        let thread = s.agent.thread_id.clone().ok_or_else(|| {
            LauncherError::Conflict(format!("session {id} has no conversation to resume"))
        })?;
        let backend = self.live.backend_of(&s);
        if backend.kind() != s.agent.backend {
            return Err(LauncherError::Conflict(format!(
                "session {id} ran on the {} backend; its department now runs on {}: its \
                 conversation cannot go on there",
                s.agent.backend.as_str(),
                backend.kind().as_str()
            )));
        }
        let kind = s.session_kind();
        let prompt_path = PathBuf::from(&s.prompt_path);
        let starter = Starter::new(self);
        let place = starter
            .agent_place(&s)
            .await
            .inspect_err(|_| self.credentials.revoke(id))?;
        let started = backend
            .start(AgentSpec {
                session_id: id.to_string(),
                kind,
                title: s.title.clone(),
                model: s.model.clone(),
                cwd: workspace::workdir(&self.ctx, &s),
                prompt: String::new(),
                prompt_path,
                first_turn: None,
                env: place.env,
                log_path: PathBuf::from(&s.log_path),
                state_dir: self.ctx.paths.state_dir.clone(),
                // A loaded ACP session gets its tools again (Codex keeps a
                // thread's own and takes none on resume).
                tools: (self.tool_specs)(kind),
                sandbox: place.sandbox,
                own_worktree: s.workspace().is_some_and(|w| !w.removed),
                resume: Some(thread.clone()),
                environment: place.environment,
            })
            .await;
        let started = started
            .inspect_err(|_| self.credentials.revoke(id))
            .map_err(agent_failure)?;
        let agent = started.agent;
        let terminal = agent.terminal();
        let pid = terminal.as_ref().map(|t| t.pid());
        let server_pid = agent.helper_pid();
        // A thread whose server kept running may be mid-turn; what it waits for
        // (approvals, tool calls) it asks again, in the events that follow.
        let working = agent.working();
        self.ctx
            .store
            .update(|tx| keep_resumed(tx, id, &thread, (pid, server_pid), working))?;
        self.live.adopt_agent(id, agent);
        self.follow_agent(id, started.events);
        self.terminals
            .show(id, terminal, s.is_zhongshu(), &s.title)
            .await;
        if s.agent.parked.is_some() {
            // Parked: the quota clock gives it its one continue turn at the
            // reset (it waited for this agent if the reset came meanwhile).
            self.live.quota_changed();
        } else if !working && owes_a_report(&s) {
            // Its interrupted turn would otherwise never end in a report.
            if let Err(e) = self.live.deliver(id, go_on).await {
                tracing::warn!("continuing {id}: {e}");
            }
        }
        Ok(())
    }
}

/// The one reminder a department gets: how to report on its channel.
fn reminder(s: &Session, channel: Channel) -> String {
    if s.reviewer().is_some() {
        return format!(
            "[codex-governance] Your turn ended without your review. Report it now, exactly once, \
             with the governance_report_findings tool (an empty list when you found nothing). If \
             you do not, the launcher closes session {id} and records that no review came.",
            id = s.id
        );
    }
    let how = match channel {
        Channel::Tools => format!(
            "call the governance_report_result tool with your summary (and changed_files, \
             verifications_run, risks, next_action as they apply); only if the tool is missing, run \
             \"{}\" mailbox send --summary \"what you did\"",
            launcher_bin()
        ),
        Channel::Api => format!(
            "run \"{}\" mailbox send --summary \"what you did\" (add --changed-file, --verification, \
             --risk, --next-action as they apply)",
            launcher_bin()
        ),
    };
    format!(
        "[codex-governance] Your turn ended without a report to the launcher. Report now, exactly once: \
         {how}. If you do not report, the launcher closes session {id} and records that no report came.",
        id = s.id
    )
}

/// Keeps a resumed agent's processes and state on session `id` (what it
/// waited for it asks again), with its audit line.
fn keep_resumed(
    tx: &mut crate::store::Tx,
    id: &str,
    thread: &str,
    (pid, server_pid): (Option<u32>, Option<u32>),
    working: bool,
) {
    if let Some(x) = tx.session_mut(id) {
        x.pid = pid;
        x.agent.server_pid = server_pid;
        x.agent.pending_approvals.clear();
        x.agent.attention = None;
        x.agent.agent_state = if working {
            AgentState::Working
        } else {
            AgentState::Idle
        };
    }
    tx.audit(AuditEvent::SessionResumed {
        session_id: id.to_string(),
        thread_id: thread.to_string(),
        pid: pid.or(server_pid).unwrap_or_default(),
    });
}

/// A department that has not reported, or a reviewer that has not.
fn owes_a_report(s: &crate::model::Session) -> bool {
    match s.reviewer() {
        Some(r) => r.reported_at.is_none(),
        None => s.is_department() && !s.has_reported(),
    }
}
