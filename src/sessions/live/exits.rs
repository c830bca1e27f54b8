//! The end of a session: its exit recorded once (whoever notices first), its
//! token revoked, its terminal marked, its temporary folder removed, and the
//! launcher told so it can file a fallback result and pump the queue.

use std::sync::Arc;

use super::LiveAgents;
use crate::clock;
use crate::model::{AuditEvent, SessionStatus, TerminalStatus};
use crate::pty::Pty;
use crate::sessions::RELEASED_SCROLLBACK;
use crate::signals::Signal;

impl LiveAgents {
    /// Waits for a session's process to end, then records it (unless the
    /// launcher is stopping and the agent's thread will resume).
    pub(in crate::sessions) fn watch_exit(self: &Arc<Self>, id: &str, pty: &Arc<Pty>) {
        let launcher = Arc::clone(self);
        let pty = Arc::clone(pty);
        let id = id.to_string();
        self.ctx.spawn(async move {
            let code = pty.wait().await;
            // Let the reader drain the last output into the log and scrollback.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let agent = launcher.agent(&id);
            // While the launcher stops, `terminate_all` decides each session's
            // end (suspended to resume, or stopped with the launcher): it may
            // already have forgotten the agent by now, so the registry cannot.
            let suspended = launcher.is_stopping();
            // A terminal replaced by a resume is not the session's end.
            let replaced = launcher.is_resuming(&id)
                || !launcher
                    .pty(&id)
                    .is_some_and(|current| Arc::ptr_eq(&current, &pty));
            if !suspended && !replaced {
                if let Some(agent) = agent {
                    agent.stop().await;
                }
                launcher.forget_agent(&id);
                if launcher.record_exit(&id, code, None) {
                    launcher.after_exit(&id).await;
                }
            }
            // Free the terminal's descriptors once the last output is in.
            let mut closed = pty.output_closed_watch();
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(2), closed.wait_for(|c| *c))
                    .await;
            pty.release(RELEASED_SCROLLBACK);
        });
    }

    /// Records that a session's process ended; true if this call recorded it.
    pub(crate) fn record_exit(&self, id: &str, code: i32, reason: Option<&str>) -> bool {
        // An ended session's token opens nothing any more.
        self.credentials.revoke(id);
        let last_activity = self
            .pty(id)
            .and_then(|p| p.last_output_wall())
            .map(|t| clock::rfc3339(&chrono::DateTime::<chrono::Local>::from(t)));
        let now = clock::now_rfc3339();
        let changed = self.ctx.store.record(|tx| {
            let session = tx.session_mut(id)?;
            if session.status == SessionStatus::Exited {
                return None;
            }
            session.status = SessionStatus::Exited;
            session.exit_code = Some(code);
            session.ended_at = Some(now.clone());
            session.ended_reason = Some(
                reason
                    .map(str::to_string)
                    .unwrap_or_else(|| if session.closing { "closed" } else { "exited" }.into()),
            );
            if last_activity.is_some() {
                session.last_activity_at = last_activity.clone();
            }
            session.agent.agent_state = crate::model::AgentState::Exited;
            session.agent.pending_approvals.clear();
            session.agent.attention = None;
            let terminal = session.browser_terminal_id.clone();
            if let Some(t) = terminal.and_then(|t| tx.terminal_mut(&t)) {
                t.status = TerminalStatus::Exited;
            }
            tx.audit(AuditEvent::SessionExited {
                session_id: id.to_string(),
                exit_code: Some(code),
                reason: reason.map(str::to_string),
            });
            Some(())
        });
        match changed {
            Ok(Some(())) => true,
            Ok(None) => false,
            Err(e) => {
                tracing::error!("recording the exit of {id}: {e}");
                false
            }
        }
    }

    /// A session of the previous run that could not be resumed ends now.
    pub async fn end_unresumable(self: &Arc<Self>, id: &str) {
        if self.record_exit(id, -1, Some("launcher_restart")) {
            self.after_exit(id).await;
        }
    }

    /// After an exit: the launcher registers owed fallbacks and pumps the queue.
    pub(in crate::sessions) async fn after_exit(self: &Arc<Self>, id: &str) {
        crate::sessions::start::workspace::release_temp_dir(&self.ctx, id);
        if self
            .signals
            .send(Signal::SessionExited(id.to_string()))
            .is_err()
        {
            tracing::warn!("session {id} ended while the launcher stops");
        }
    }
}
