//! The items of one session: its approvals, its plan awaiting confirmation,
//! what its agent asks, its worktree's failed set-up, a planner's turn
//! ended without a plan, a department ended without a report.

use std::collections::HashSet;

use serde_json::json;

use super::parts::{Action, Call, Does, Fill, Hold, InputView, Part};
use super::words::{last_seen, sentences, title};
use super::{Inputs, NeedView};
use crate::model::{AttentionKind, PlanStatus, Session, SetupState, StateWord};
use crate::policy::needs_you as rules;
use crate::views::session::SessionView;

/// What a planner whose turn ended without a plan is asked by *Ask for the plan*.
const ASK_FOR_PLAN: &str = "[codex-governance] The user asks: register your plan now with the governance_register_plan tool, or say what you need to know first.";

/// A state word as the page knows it (`failed`, `no_report`).
fn word(w: StateWord) -> String {
    serde_json::to_value(w)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Each session's own items, session by session, and the suspended ones
/// (one item for all of them, `groups::suspended`).
pub(super) fn items(inputs: &Inputs) -> Vec<NeedView> {
    let state = &inputs.snap.state;
    let running: HashSet<&str> = inputs
        .sessions
        .iter()
        .filter(|s| s.session.is_running())
        .map(|s| s.session.id.as_str())
        .collect();
    let restful: HashSet<&str> = inputs
        .finished_planners
        .iter()
        .map(String::as_str)
        .collect();
    let mut out = Vec::new();
    for v in inputs.sessions {
        let s = &v.session;
        // The rules read the record as kept, not as the page shows it.
        let Some(kept) = state.sessions.get(&s.id) else {
            continue;
        };
        out.extend(rules::approvals(kept).into_iter().map(|n| approval(s, n)));
        if s.zhongshu().and_then(|z| z.plan_status) == Some(PlanStatus::AwaitingConfirmation) {
            out.extend(plan(inputs, v, kept));
        }
        if v.suspended {
            // A planner done with its plan waits for nothing of yours; a
            // suspended planner's question stands meanwhile.
            if !restful.contains(s.id.as_str()) {
                out.extend(no_plan(v));
            }
            continue;
        }
        out.extend(attention(inputs, v, kept));
        out.extend(setup(v));
        out.extend(no_plan(v));
        out.extend(ended(inputs, v, kept, &running));
    }
    out
}

/// An approval the agent waits for (its card is `approvals.js`'s).
fn approval(s: &Session, notice: rules::NeedItem) -> NeedView {
    let request = match &notice.answers {
        rules::Answers::Approval { request_id, .. } => Some(request_id.clone()),
        _ => None,
    };
    let mut item = NeedView::new(
        notice.id.clone(),
        "approval",
        last_seen(s),
        format!("{} asks for an approval", title(s)),
    )
    .of(&s.id)
    .detail(notice.detail.clone());
    item.request = request;
    item.told([notice])
}

/// A plan awaiting confirmation: what it would start, *Review and start…*
/// for exactly that revision, and *Decline*.
fn plan(inputs: &Inputs, v: &SessionView, kept: &Session) -> Option<NeedView> {
    let s = &v.session;
    let plan = inputs.snap.state.plans.get(&s.id)?;
    let detail = if plan.summary.is_empty() {
        s.task.clone()
    } else {
        plan.summary.clone()
    };
    let decline = Call::one(
        "/api/decline_plan",
        json!({"parent_session_id": s.id, "revision": plan.revision}),
        format!("Could not decline {}'s plan", s.id),
    )
    .done(format!(
        "Declined {}'s plan: nothing of it started, and its planner was told to revise it or wait for you.",
        s.id
    ));
    let mut item = NeedView::new(
        format!("plan:{}", s.id),
        "plan",
        last_seen(s),
        format!("{}: its plan awaits your confirmation", title(s)),
    )
    .of(&s.id)
    .detail(detail)
    .told(rules::plan_confirmation(&inputs.snap.state, kept));
    item.revision = Some(plan.revision);
    item.body = vec![
        Part::Line {
            class: "need-revision",
            text: format!("revision {}", plan.revision),
        },
        Part::Plan {
            summary: plan.summary.clone(),
            assignments: plan.assignments.clone(),
        },
    ];
    item.actions = vec![
        Action::new(
            "Review and start…",
            "primary",
            "start-plan",
            Does::ReviewPlan {
                session: s.id.clone(),
            },
        ),
        Action::show(&s.id),
        // Declining is always there, at the desk and on a phone (issue 70 item 10).
        decline.action("Decline", "", "decline-plan"),
    ];
    Some(item)
}

/// What an agent asks beside approvals: a login, a question, an error.
fn attention(inputs: &Inputs, v: &SessionView, kept: &Session) -> Option<NeedView> {
    let s = &v.session;
    let a = s.agent.attention.as_ref()?;
    if !v.asks_user || a.kind == AttentionKind::Approval {
        return None;
    }
    let kind = a.kind.as_str();
    let mut item = NeedView::new(
        format!("attention:{}:{kind}:{}", s.id, a.text),
        kind,
        last_seen(s),
        format!("{} needs you ({})", title(s), kind.replacen('_', " ", 1)),
    )
    .of(&s.id)
    .detail(a.text.clone())
    .told(rules::attention(&inputs.snap.state, kept));
    item.actions = vec![Action::show(&s.id)];
    Some(item)
}

/// A department whose worktree's set-up failed: its agent waits for the user.
fn setup(v: &SessionView) -> Option<NeedView> {
    let s = &v.session;
    let setup = s.workspace().and_then(|w| w.setup.as_ref())?;
    if !s.is_running() || setup.state != SetupState::Failed {
        return None;
    }
    let answer = |label: &str, class: &str, action: &'static str, word: &str| {
        Call::one(
            "/api/worktree_setup",
            json!({"session_id": s.id, "action": word}),
            format!("Could not {} for {}", word.replace('_', " "), s.id),
        )
        .action(label, class, action)
    };
    let mut item = NeedView::new(
        format!("setup:{}", s.id),
        "setup",
        &s.started_at,
        format!(
            "{}: its worktree's set-up failed; its agent has not started",
            title(s)
        ),
    )
    .of(&s.id)
    .detail(setup.failure.clone().unwrap_or_default());
    let output = if setup.output.is_empty() {
        "(no output)".to_string()
    } else {
        setup.output.clone()
    };
    item.body = vec![Part::Output { text: output }];
    item.actions = vec![
        answer("Retry set-up", "primary", "setup-retry", "retry"),
        answer("Start anyway", "", "setup-start-anyway", "start_anyway"),
        answer("Discard", "", "setup-discard", "discard"),
    ];
    Some(item)
}

/// A planner whose turn ended without a plan (`awaits_reply`): what it
/// said last, a box to answer it, and *Ask for the plan*.
fn no_plan(v: &SessionView) -> Option<NeedView> {
    let waits = v.awaits_reply.as_ref()?;
    let s = &v.session;
    let said = waits.last_message.as_deref().filter(|m| !m.is_empty());
    let before = v.suspended.then(|| {
        format!(
            "{} is suspended: your words reach it as soon as it resumes; nothing is lost meanwhile.",
            s.id
        )
    });
    let turn = |input: Option<&str>| {
        let mut call = Call::one(
            "/api/session_input",
            json!({"session_id": s.id, "input": input}),
            format!("Could not send to {}", s.id),
        )
        .hold(Hold::WhileRunning);
        call.before = before.clone();
        call
    };
    let mut item = NeedView::new(
        format!("no-plan:{}:{}", s.id, waits.turn),
        "no-plan",
        last_seen(s),
        format!(
            "{} ended its turn without a plan{}",
            title(s),
            if said.is_some() { " and says:" } else { "" }
        ),
    )
    .of(&s.id);
    if let Some(said) = said {
        item.body = vec![Part::Said {
            text: said.to_string(),
        }];
    } else {
        item.detail =
            "It is idle and registered no plan. Answer it below, or ask it for the plan.".into();
    }
    item.input = Some(InputView {
        name: "input",
        class: "need-reply",
        in_actions: false,
        rows: Some(2),
        label: format!("your answer to {}", s.id),
        placeholder: Some("Your answer; it goes to the planner as its next turn".into()),
        step: None,
        value: None,
    });
    item.actions = vec![
        turn(None)
            .fill(Fill {
                field: "input",
                required: Some("Write an answer first.".into()),
                number: false,
                whole: false,
                clear: true,
            })
            .done(format!("Sent your answer to {}.", s.id))
            .action("Send answer", "primary", "reply"),
        turn(Some(ASK_FOR_PLAN))
            .done(format!("Asked {} for its plan.", s.id))
            .action("Ask for the plan", "", "ask-plan"),
        Action::show(&s.id),
    ];
    Some(item)
}

/// A department that failed or ended without a report while its planner
/// runs, neither put aside nor retried: *Retry* (when it can be), *Show*,
/// *Dismiss*.
fn ended(
    inputs: &Inputs,
    v: &SessionView,
    kept: &Session,
    running: &HashSet<&str>,
) -> Option<NeedView> {
    let s = &v.session;
    let d = s.department_part()?;
    let planner_runs = s.parent_session_id().is_some_and(|p| running.contains(p));
    if !v.ended_without_report || d.dismissed || d.retried_as.is_some() || !planner_runs {
        return None;
    }
    let mut item = NeedView::new(
        format!("ended:{}", s.id),
        word(v.plain.state),
        s.ended_at.as_deref().unwrap_or(&s.started_at),
        format!("{}: {}", title(s), v.plain.state_text),
    )
    .of(&s.id)
    .detail(sentences(&[
        v.plain.state_reason.as_deref(),
        Some("Its fallback result is in its planner's inbox"),
    ]))
    .told(rules::ended(&inputs.snap.state, kept));
    if retryable(v) {
        item.actions.push(
            Call::one(
                "/api/retry",
                json!({"session_id": s.id}),
                format!("Could not retry {}", s.id),
            )
            .done(format!(
                "Queued {}'s assignment again: it starts when a slot is free.",
                s.id
            ))
            .hold(Hold::Nothing)
            .action("Retry", "primary", "retry"),
        );
    }
    item.actions.push(Action::show(&s.id));
    item.actions.push(
        Call::one(
            "/api/dismiss",
            json!({"session_id": s.id}),
            format!("Could not dismiss {}", s.id),
        )
        .action("Dismiss", "", "dismiss"),
    );
    Some(item)
}

/// A department that ended and may be queued again.
fn retryable(v: &SessionView) -> bool {
    let s = &v.session;
    s.is_department()
        && !s.is_running()
        && s.department_part().is_some_and(|d| d.retried_as.is_none())
        && matches!(
            v.plain.state,
            StateWord::Failed | StateWord::NoReport | StateWord::StoppedByYou
        )
}
