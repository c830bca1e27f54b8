//! One word for where a session stands, derived from its process, its agent's
//! state and its report: what the dashboard shows instead of exit codes and
//! raw reasons. A department that reported and was closed is "reported", not
//! "exited (143)"; one that failed without a report says so.

use serde::Serialize;

use super::{AgentState, CloseReason, Session, SetupState};

/// The word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StateWord {
    Starting,
    Working,
    /// Parked by the account's usage limit until its reset.
    WaitingForQuota,
    Idle,
    NeedsYou,
    Reported,
    Failed,
    NoReport,
    StoppedByYou,
    /// A PTY agent the launcher's stop ended: its plan can resume it.
    StoppedWithLauncher,
    Finished,
}

/// The word, its text for people, and why (in words), when there is a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlainState {
    pub state: StateWord,
    pub state_text: String,
    pub state_reason: Option<String>,
}

/// Where `s` stands.
pub fn plain_state(s: &Session) -> PlainState {
    let reason = s.close_reason.map(reason_words).map(str::to_string);
    let (state, text) = if s.has_reported() {
        // Reported: done, even in the moment before the launcher closes it.
        (StateWord::Reported, "reported".to_string())
    } else if let (Some(p), true) = (&s.agent.parked, s.is_running()) {
        let text = format!(
            "waiting for quota until {}",
            crate::clock::local_time(p.until)
        );
        return PlainState {
            state: StateWord::WaitingForQuota,
            state_text: text,
            state_reason: Some(p.reason.clone()),
        };
    } else if let (Some(k), true, AgentState::Working) =
        (s.agent.retrying, s.is_running(), s.agent.agent_state)
    {
        (StateWord::Working, format!("reconnecting ({k}/5)"))
    } else if let (Some(setup), true) = (
        s.workspace()
            .and_then(|w| w.setup.as_ref())
            .filter(|x| matches!(x.state, SetupState::Running | SetupState::Failed)),
        s.is_running() && s.pid.is_none(),
    ) {
        return setting_up(setup);
    } else if s.is_running() {
        match s.agent.agent_state {
            // A conversation that exists and is starting is coming back.
            // Suspended: its agent program cannot start now (Codex missing).
            AgentState::Starting if s.is_suspended() => {
                let why = s.agent.attention.as_ref().map(|a| a.text.clone());
                return PlainState {
                    state: StateWord::Starting,
                    state_text: "suspended".to_string(),
                    state_reason: why,
                };
            }
            AgentState::Starting if s.agent.thread_id.is_some() => {
                (StateWord::Starting, "resuming".to_string())
            }
            AgentState::Starting => (StateWord::Starting, "starting".to_string()),
            AgentState::NeedsUser => (StateWord::NeedsYou, needs_you_text(s)),
            AgentState::Idle => (StateWord::Idle, "idle".to_string()),
            AgentState::Working | AgentState::Exited => (StateWord::Working, "working".into()),
        }
    } else {
        after_its_end(s)
    };
    PlainState {
        state,
        state_text: text,
        state_reason: reason.or_else(|| ended_words(s)),
    }
}

/// Where a session that no longer runs stands: finished, stopped by you or
/// with the launcher, failed, or (a department) ended with no report.
fn after_its_end(s: &Session) -> (StateWord, String) {
    if s.close_reason == Some(CloseReason::Api)
        && s.zhongshu().and_then(|z| z.plan_status) == Some(super::PlanStatus::Finished)
    {
        // A planner closed once its plan had finished ("Close finished planners").
        (StateWord::Finished, "finished".to_string())
    } else if matches!(
        s.close_reason,
        Some(CloseReason::Api | CloseReason::TerminalClosed | CloseReason::PlanStopped)
    ) {
        (StateWord::StoppedByYou, "stopped by you".to_string())
    } else if s.ended_reason.as_deref() == Some("launcher_stopped") {
        (
            StateWord::StoppedWithLauncher,
            "stopped with the launcher".to_string(),
        )
    } else if s.is_department() {
        match s.exit_code {
            Some(code) if code != 0 && s.close_reason.is_none() => {
                (StateWord::Failed, failed_words(s, code))
            }
            _ => (StateWord::NoReport, "no report".to_string()),
        }
    } else {
        match s.exit_code {
            Some(code) if code != 0 && s.close_reason.is_none() => {
                (StateWord::Failed, failed_words(s, code))
            }
            _ => (StateWord::Finished, "finished".to_string()),
        }
    }
}

/// A session whose agent waits for its worktree's set-up commands (issue 52).
fn setting_up(setup: &super::WorktreeSetup) -> PlainState {
    match setup.state {
        SetupState::Failed => PlainState {
            state: StateWord::NeedsYou,
            state_text: "set-up failed".to_string(),
            state_reason: setup.failure.clone(),
        },
        _ => PlainState {
            state: StateWord::Starting,
            state_text: "setting up its worktree".to_string(),
            state_reason: None,
        },
    }
}

fn needs_you_text(s: &Session) -> String {
    match &s.agent.attention {
        Some(a) => format!("needs you: {}", a.text),
        None => "needs you".to_string(),
    }
}

/// A close reason in words.
fn reason_words(r: CloseReason) -> &'static str {
    match r {
        CloseReason::Api => "closed by you",
        CloseReason::TerminalClosed => "its terminal was closed by you",
        CloseReason::NoReport => "closed after a reminder: it did not report",
        CloseReason::HelperExited => "Codex's app-server under it ended",
        CloseReason::Reported => "closed after its report",
        CloseReason::PlanStopped => "you stopped its plan",
        CloseReason::AttemptSettled => "another attempt at its task was chosen or verified first",
    }
}

/// Why a session ended when the launcher did not close it.
fn ended_words(s: &Session) -> Option<String> {
    match s.ended_reason.as_deref()? {
        "launcher_restart" => Some("the launcher restarted and could not resume it".into()),
        "launcher_stopped" => Some("the launcher stopped".into()),
        "exited" | "closed" => None,
        other => Some(crate::text::os_error_words(&other.replace('_', " "))),
    }
}

/// A failure in words: its exit code, unless it never exited by itself (the
/// launcher could not resume it after a restart: no exit code to speak of).
fn failed_words(s: &Session, code: i32) -> String {
    if s.ended_reason.as_deref() == Some("launcher_restart") {
        "failed: not resumed".into()
    } else {
        format!("failed: exit {code}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Attention, AttentionKind, KindPart, ReportStatus, SessionStatus, ZhongshuPart,
    };

    fn department() -> Session {
        Session::sample_department("d-1")
    }

    fn ended(s: Session, code: i32, reason: Option<CloseReason>) -> Session {
        s.ended_for_test(code, reason)
    }

    /// Issue 49 item 14: no raw "exit -1" for a session the launcher could
    /// not resume, no "(os error 2)" in a reason.
    #[test]
    fn a_failure_is_said_in_words() {
        let mut s = ended(department(), -1, None);
        s.ended_reason = Some("launcher_restart".into());
        let p = plain_state(&s);
        assert_eq!(p.state_text, "failed: not resumed");
        assert_eq!(
            p.state_reason.as_deref(),
            Some("the launcher restarted and could not resume it")
        );
        s.ended_reason = Some("spawn_failed: No such file or directory (os error 2)".into());
        assert_eq!(
            plain_state(&s).state_reason.as_deref(),
            Some("spawn failed: not found")
        );
        assert_eq!(
            plain_state(&ended(department(), 3, None)).state_text,
            "failed: exit 3"
        );
    }

    /// Found walking the demo: a planner closed with "Close 1 finished
    /// planner" read "stopped by you", as if its plan had been cut short.
    #[test]
    fn a_finished_planner_closed_by_you_is_finished() {
        let mut z: Session = serde_json::from_value(serde_json::json!({
            "id": "zhongshu-1", "session_kind": "zhongshu", "role": "planner", "title": "t",
            "model": "m", "task": "x", "pid": 1, "status": "running", "exit_code": null,
            "started_at": "s", "ended_at": null, "prompt_path": "", "log_path": "",
            "plan_status": "finished",
        }))
        .unwrap();
        z = ended(z, 0, Some(CloseReason::Api));
        let p = plain_state(&z);
        assert_eq!(
            (p.state, p.state_text.as_str()),
            (StateWord::Finished, "finished")
        );
        assert_eq!(p.state_reason.as_deref(), Some("closed by you"));
        if let Some(part) = z.zhongshu_mut() {
            part.plan_status = Some(crate::model::PlanStatus::Dispatched);
        }
        assert_eq!(plain_state(&z).state_text, "stopped by you");
    }

    #[test]
    fn a_session_with_a_conversation_that_starts_is_resuming_and_a_stopped_one_says_so() {
        let mut s = department();
        s.agent.agent_state = AgentState::Starting;
        assert_eq!(plain_state(&s).state_text, "starting");
        s.agent.thread_id = Some("t-1".into());
        let p = plain_state(&s);
        assert_eq!(
            (p.state, p.state_text.as_str()),
            (StateWord::Starting, "resuming")
        );
        let mut stopped = ended(department(), 143, None);
        stopped.ended_reason = Some("launcher_stopped".into());
        let p = plain_state(&stopped);
        assert_eq!(p.state, StateWord::StoppedWithLauncher);
        assert_eq!(p.state_text, "stopped with the launcher");
    }

    #[test]
    fn a_department_that_reported_and_was_closed_is_reported() {
        let mut s = ended(department(), 143, Some(CloseReason::Reported));
        if let KindPart::Department(d) = &mut s.kind {
            d.report_status = Some(ReportStatus::Reported);
        }
        let p = plain_state(&s);
        assert_eq!(p.state, StateWord::Reported);
        assert_eq!(p.state_reason.as_deref(), Some("closed after its report"));
        s.status = SessionStatus::Running;
        s.close_reason = None;
        assert_eq!(
            plain_state(&s).state,
            StateWord::Reported,
            "reported before the launcher closed it"
        );
    }

    #[test]
    fn failures_silence_and_the_user_are_told_apart() {
        let p = plain_state(&ended(department(), 3, None));
        assert_eq!(
            (p.state, p.state_text.as_str()),
            (StateWord::Failed, "failed: exit 3")
        );
        assert_eq!(
            plain_state(&ended(department(), 0, None)).state,
            StateWord::NoReport
        );
        let p = plain_state(&ended(department(), -1, Some(CloseReason::NoReport)));
        assert_eq!(p.state, StateWord::NoReport);
        assert!(p.state_reason.unwrap().contains("did not report"));
        let p = plain_state(&ended(department(), 143, Some(CloseReason::Api)));
        assert_eq!(
            (p.state, p.state_text.as_str()),
            (StateWord::StoppedByYou, "stopped by you")
        );
    }

    #[test]
    fn a_running_agent_says_what_it_does() {
        let mut s = department();
        assert_eq!(plain_state(&s).state, StateWord::Working);
        s.agent.agent_state = AgentState::Idle;
        assert_eq!(plain_state(&s).state, StateWord::Idle);
        s.agent.agent_state = AgentState::NeedsUser;
        s.agent.attention = Some(Attention {
            kind: AttentionKind::Approval,
            text: "touch x".into(),
        });
        let p = plain_state(&s);
        assert_eq!(
            (p.state, p.state_text.as_str()),
            (StateWord::NeedsYou, "needs you: touch x")
        );
    }

    #[test]
    fn a_zhongshu_finishes_rather_than_reports() {
        let mut z = department();
        z.kind = KindPart::Zhongshu(ZhongshuPart::default());
        assert_eq!(
            plain_state(&ended(z.clone(), 0, None)).state,
            StateWord::Finished
        );
        let mut restarted = ended(z, 0, None);
        restarted.ended_reason = Some("launcher_restart".into());
        let p = plain_state(&restarted);
        assert!(p.state_reason.unwrap().contains("restarted"));
    }
}
