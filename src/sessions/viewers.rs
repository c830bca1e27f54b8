//! A session's own terminal. Where the terminal is the agent (a PTY agent)
//! it opens with the session and its end is the session's end. Where the
//! backend starts it on demand (Codex's TUI, about 90 MB a session), it runs
//! only for viewers: opening the session's terminal starts it, and once nobody
//! has watched it for `launcher.tui_idle_seconds` it stops; the agent goes on
//! without it. A planner's is the same, unless `launcher.planner_keeps_tui`
//! (off by default) keeps it running, watched or not, while its plan goes on;
//! once it is done with it (`policy::plan::planner_finished`) its terminal goes
//! as a department's does.

use std::sync::Arc;
use std::time::Duration;

use super::live::agent_failure;
use super::SessionTerminals;
use crate::agents::settings::TerminalOnDemand;
use crate::error::{LResult, LauncherError};
use crate::model::TerminalKind;
use crate::pty::Pty;
use crate::terminal::TerminalInfo;

/// How long a terminal started for a viewer waits for the viewer's page to
/// connect before it counts as unwatched.
const FIRST_VIEWER_GRACE: Duration = Duration::from_secs(60);

impl SessionTerminals {
    /// After a start or a resume: the terminal the agent came with is the
    /// session's (watched to its end); an on-demand one starts now only for a
    /// planner that keeps its own (`launcher.planner_keeps_tui: true`), and
    /// otherwise when someone opens it ([`Self::attach_viewer`]).
    pub(super) async fn show(
        self: &Arc<Self>,
        id: &str,
        terminal: Option<Arc<Pty>>,
        planner: bool,
        title: &str,
    ) {
        if !self.on_demand(Some(id)) {
            let Some(pty) = terminal else { return };
            self.live.watch_exit(id, &pty);
            let opened = self
                .open(
                    TerminalKind::AgentSession,
                    pty,
                    Some(id.to_string()),
                    title.to_string(),
                )
                .await;
            if let Err(e) = opened {
                tracing::warn!("no browser terminal for {id}: {e}");
            }
            return;
        }
        if planner && self.kept_for_nobody(id) {
            if let Err(e) = self.attach(id, true).await {
                tracing::warn!("no terminal for the planner {id}: {e}");
            }
        }
    }

    /// How long an on-demand terminal outlives its viewers (the backend's
    /// settings: `launcher.tui_idle_seconds`, `launcher.planner_keeps_tui`).
    fn on_demand_settings(&self, id: &str) -> TerminalOnDemand {
        let agent = &self.ctx.config.launcher.agent;
        self.live
            .session(id)
            .and_then(|s| s.agent_key().map(str::to_string))
            .and_then(|d| agent.departments.get(&d))
            .unwrap_or(&agent.backend)
            .terminal()
    }

    /// Whether session `id`'s on-demand terminal runs with nobody watching: a
    /// planner's, while it is not done with its plan and
    /// `launcher.planner_keeps_tui` holds.
    fn kept_for_nobody(&self, id: &str) -> bool {
        self.on_demand_settings(id).planner_keeps
            && self.ctx.store.read(|state| {
                state.sessions.get(id).is_some_and(|s| {
                    s.is_zhongshu() && !crate::policy::plan::planner_finished(state, s)
                })
            })
    }

    /// `POST /api/session_terminal/attach`: the session's own terminal, started
    /// for this viewer when it has none.
    pub async fn attach_viewer(self: &Arc<Self>, id: &str) -> LResult<TerminalInfo> {
        let session = self.live.require_session(id)?;
        if !session.is_running() {
            return Err(LauncherError::Conflict(format!(
                "session {id} is not running: its conversation is shown instead"
            )));
        }
        self.live.wait_until_live(id).await?;
        let keep = session.is_zhongshu() && self.on_demand_settings(&session.id).planner_keeps;
        self.attach(id, keep).await
    }

    async fn attach(self: &Arc<Self>, id: &str, keep: bool) -> LResult<TerminalInfo> {
        let _one = self.attaching.lock().await;
        if let Some(open) = self.listeners.for_session(id, TerminalKind::AgentSession) {
            if open.status == "running" {
                return Ok(open);
            }
        }
        let agent = self
            .live
            .agent(id)
            .ok_or_else(|| LauncherError::Conflict(format!("session {id} has no live agent")))?;
        let pty = agent.attach_terminal().await.map_err(agent_failure)?;
        let title = self.live.session(id).map(|s| s.title).unwrap_or_default();
        self.live.insert_pty(id, Arc::clone(&pty));
        self.ctx.store.update(|tx| {
            if let Some(x) = tx.session_mut(id) {
                x.pid = Some(pty.pid());
            }
        })?;
        let info = match self
            .open(
                TerminalKind::AgentSession,
                Arc::clone(&pty),
                Some(id.to_string()),
                title,
            )
            .await
        {
            Ok(info) => info,
            Err(e) => {
                self.detach(id, &pty).await;
                return Err(e);
            }
        };
        self.watch_viewers(id, &info.id, pty, keep);
        Ok(info)
    }

    /// Stops a session's on-demand terminal `pty` (if it is still the
    /// session's) and closes its listener; the agent goes on.
    pub(super) async fn detach(&self, id: &str, pty: &Arc<Pty>) {
        let current = self.live.pty(id).is_some_and(|p| Arc::ptr_eq(&p, pty));
        if current {
            self.live.remove_pty(id);
        }
        if let Some(t) =
            self.listeners.list().into_iter().find(|t| {
                t.session_id.as_deref() == Some(id) && t.kind == TerminalKind::AgentSession
            })
        {
            if let Err(e) = self.close_record(&t.id).await {
                tracing::warn!("closing the terminal of {id}: {e}");
            }
        }
        if let Some(agent) = self.live.agent(id).filter(|_| current) {
            agent.detach_terminal().await;
        } else {
            pty.terminate(crate::pty::KILL_GRACE).await;
        }
        if current {
            let saved = self.ctx.store.update(|tx| {
                if let Some(x) = tx.session_mut(id) {
                    x.pid = None;
                }
            });
            if let Err(e) = saved {
                tracing::warn!("recording that {id} has no terminal: {e}");
            }
        }
    }

    /// Follows an on-demand terminal: it goes once nobody watched it for
    /// `tui_idle_seconds` (unless `keep` and [`Self::kept_for_nobody`] still
    /// holds then: a planner's goes that long after its plan is done), or
    /// when it ends by itself.
    fn watch_viewers(self: &Arc<Self>, id: &str, terminal_id: &str, pty: Arc<Pty>, keep: bool) {
        let Some(mut viewers) = self.listeners.viewers(terminal_id) else {
            return;
        };
        let idle = self.on_demand_settings(id).idle();
        let this = Arc::clone(self);
        let id = id.to_string();
        self.ctx.spawn(async move {
            let mut watched = false;
            loop {
                let now = *viewers.borrow_and_update();
                watched |= now > 0;
                let wait = if watched || keep {
                    idle
                } else {
                    idle.max(FIRST_VIEWER_GRACE)
                };
                tokio::select! {
                    _ = pty.wait() => break,
                    changed = viewers.changed() => if changed.is_err() { return },
                    _ = tokio::time::sleep(wait), if now == 0 => {
                        if keep && this.kept_for_nobody(&id) {
                            continue;
                        }
                        tracing::info!("{id}: nobody watched its terminal for {wait:?}: stopped");
                        break;
                    }
                }
            }
            if this.live.session(&id).is_some_and(|s| s.is_running()) {
                this.detach(&id, &pty).await;
            }
        });
    }
}
