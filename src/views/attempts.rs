//! `GET /api/attempts`: one assignment's attempts side by side (issue 74),
//! each with its agent and model, where its work stands, its files and
//! diff stat, its scope verdict, what it reported, the launcher's own
//! verification of its tree, its tokens and cost, wall time and send-backs,
//! and which was chosen.

use std::collections::HashMap;

use serde::Serialize;

use crate::config::LauncherSettings;
use crate::model::{AttemptCheck, Backend, Decision, DiffStat, Session, State};
use crate::policy::attempts as rules;

/// One group of attempts.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptsView {
    pub zhongshu_id: String,
    pub group: usize,
    pub department: String,
    pub task: String,
    /// The attempt chosen; None while you may choose.
    pub chosen: Option<String>,
    /// Whether the launcher chooses by itself (`attempts_choose: verified`).
    pub chosen_by_verification: bool,
    pub attempts: Vec<AttemptView>,
}

/// One attempt.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptView {
    pub session_id: String,
    pub n: usize,
    pub of: usize,
    /// The department whose agent it borrows; None: its own department's.
    pub borrowed_agent: Option<String>,
    pub backend: Backend,
    pub model: String,
    pub running: bool,
    /// Its workspace's state (`pending`, `discarded`, `merged`, …).
    pub state: Option<String>,
    /// Its work waits for you: it may be chosen.
    pub awaits_user: bool,
    pub diff_stat: Option<DiffStat>,
    pub scope: Option<Decision>,
    pub out_of_scope: Vec<String>,
    /// What it reported, in its words (quoted by the page, never as yours).
    pub reported: Option<String>,
    /// The launcher's checks on its tree; None: none ran (or none are set).
    pub check: Option<AttemptCheck>,
    pub tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    pub started_at: String,
    pub ended_at: Option<String>,
    /// Its run's wall time, in seconds, once it ended.
    pub seconds: Option<i64>,
    pub send_backs: usize,
    pub chosen: bool,
}

/// The attempts of `ids` (one group, in order), with each one's last report
/// (`reported`, by session).
pub fn attempts(
    state: &State,
    launcher: &LauncherSettings,
    ids: &[String],
    reported: &HashMap<String, String>,
) -> Option<AttemptsView> {
    let members: Vec<&Session> = ids.iter().filter_map(|id| state.sessions.get(id)).collect();
    let first = members.first()?;
    let (zhongshu, attempt) = rules::attempt_of(first)?;
    let chosen = rules::chosen_of(state, first).map(str::to_string);
    let attempts = members
        .iter()
        .map(|s| one(state, launcher, s, chosen.as_deref(), reported))
        .collect();
    Some(AttemptsView {
        zhongshu_id: zhongshu.to_string(),
        group: attempt.group,
        department: first.department.clone().unwrap_or_default(),
        task: first.task.clone(),
        chosen,
        chosen_by_verification: launcher.isolation.attempts_choose
            == crate::config::AttemptsChoose::Verified,
        attempts,
    })
}

fn one(
    state: &State,
    launcher: &LauncherSettings,
    s: &Session,
    chosen: Option<&str>,
    reported: &HashMap<String, String>,
) -> AttemptView {
    let (_, attempt) = rules::attempt_of(s).expect("a member of a group is an attempt");
    let ws = s.workspace();
    let seconds = s.ended_at.as_deref().and_then(|end| {
        let at = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
        Some((at(end)? - at(&s.started_at)?).num_seconds())
    });
    AttemptView {
        session_id: s.id.clone(),
        n: attempt.n,
        of: attempt.of,
        borrowed_agent: attempt.agent.clone(),
        backend: s.agent.backend,
        model: s.model.clone(),
        running: s.is_running(),
        state: ws.map(|w| w.state.as_str().to_string()),
        awaits_user: !s.is_running() && ws.is_some_and(|w| w.state.awaits_user()),
        diff_stat: ws.and_then(|w| w.diff_stat),
        scope: ws.and_then(|w| w.review.as_ref()).map(|r| r.decision),
        out_of_scope: ws
            .and_then(|w| w.review.as_ref())
            .map(|r| r.scope.out_of_scope.clone())
            .unwrap_or_default(),
        reported: reported.get(&s.id).cloned(),
        check: ws.and_then(|w| w.attempt_check.clone()),
        tokens: s.agent.token_usage.as_ref().map(|u| u.total_tokens),
        cost_usd: super::session::cost_usd(s, launcher),
        started_at: s.started_at.clone(),
        ended_at: s.ended_at.clone(),
        seconds,
        send_backs: send_backs(state, s),
        chosen: chosen == Some(s.id.as_str()),
    }
}

/// How many times its work was sent back (the sessions before it).
fn send_backs(state: &State, s: &Session) -> usize {
    let mut n = 0;
    let mut at = s.workspace().and_then(|w| w.predecessor.clone());
    while let Some(id) = at.take() {
        n += 1;
        if n > 64 {
            break;
        }
        at = state
            .sessions
            .get(&id)
            .and_then(|p| p.workspace())
            .and_then(|w| w.predecessor.clone());
    }
    n
}
