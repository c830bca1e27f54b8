use super::*;
use crate::model::{ApprovalKind, TokenUsage};

fn approval(id: &str) -> PendingApproval {
    PendingApproval {
        request_id: id.into(),
        session_id: "d".into(),
        kind: ApprovalKind::Command,
        command: Some("touch x".into()),
        changes: vec![],
        cwd: None,
        reason: Some("needs write".into()),
        requested_at: "t".into(),
    }
}

#[test]
fn events_drive_the_state() {
    let mut a = AgentInfo::default();
    let started = AgentEvent::TurnStarted {
        turn_id: "t1".into(),
    };
    apply(&mut a, &started, true);
    assert_eq!((a.agent_state, a.turn_count), (AgentState::Working, 1));
    apply(&mut a, &AgentEvent::ApprovalRequested(approval("0")), true);
    assert_eq!(a.agent_state, AgentState::NeedsUser);
    assert_eq!(a.pending_approvals.len(), 1);
    let resolved = AgentEvent::ApprovalResolved {
        request_id: "0".into(),
        decision: Some(ApprovalDecision::Decline),
        by: "launcher",
        nonce: None,
    };
    apply(&mut a, &resolved, true);
    assert_eq!(a.agent_state, AgentState::Working);
    assert!(a.pending_approvals.is_empty());
    apply(
        &mut a,
        &AgentEvent::TokenUsage(TokenUsage {
            total_tokens: 9,
            ..Default::default()
        }),
        true,
    );
    assert_eq!(a.token_usage.as_ref().unwrap().total_tokens, 9);
    let done = AgentEvent::TurnCompleted {
        turn_id: "t1".into(),
        status: "completed".into(),
        error: None,
    };
    apply(&mut a, &done, false);
    assert_eq!(a.agent_state, AgentState::Idle);
    assert_eq!(a.last_turn_status.as_deref(), Some("completed"));
}

#[test]
fn errors_need_the_user_until_the_next_turn() {
    let mut a = AgentInfo::default();
    let failed = AgentEvent::Error {
        message: "the model is unavailable".into(),
        will_retry: false,
        limit: None,
    };
    apply(&mut a, &failed, true);
    assert_eq!(a.agent_state, AgentState::NeedsUser);
    assert_eq!(a.attention.as_ref().unwrap().kind, AttentionKind::Error);
    let ended = AgentEvent::TurnCompleted {
        turn_id: "t1".into(),
        status: "failed".into(),
        error: Some("the model is unavailable".into()),
    };
    apply(&mut a, &ended, false);
    assert_eq!(
        a.agent_state,
        AgentState::NeedsUser,
        "the failed turn's error stays"
    );
    apply(
        &mut a,
        &AgentEvent::TurnStarted {
            turn_id: "t2".into(),
        },
        true,
    );
    assert_eq!(a.agent_state, AgentState::Working);
    assert!(a.attention.is_none());
}

#[test]
fn retries_are_reconnecting_and_the_limit_waits_for_the_turn_to_end() {
    let mut a = AgentInfo::default();
    let retry = AgentEvent::Error {
        message: "Reconnecting... 1/5".into(),
        will_retry: true,
        limit: Some(crate::agents::Limit::Account),
    };
    apply(&mut a, &retry, true);
    apply(&mut a, &retry, true);
    assert_eq!((a.agent_state, a.retrying), (AgentState::Working, Some(2)));
    assert!(a.attention.is_none() && a.limit_hit.is_none());
    // A response came: the retries worked.
    apply(&mut a, &AgentEvent::TokenUsage(TokenUsage::default()), true);
    assert_eq!(a.retrying, None);
    let limit = AgentEvent::Error {
        message: "You've hit your usage limit.".into(),
        will_retry: false,
        limit: Some(crate::agents::Limit::Account),
    };
    apply(&mut a, &limit, true);
    assert_eq!(a.limit_hit.as_deref(), Some("You've hit your usage limit."));
    assert_ne!(
        a.agent_state,
        AgentState::NeedsUser,
        "not the user's to fix"
    );
}

/// The backend may have seen a short turn end before its start is recorded:
/// the start still reads as working (not idle with a turn in progress) until
/// the end's event follows. Seen in the 429 test: idle, turn 2, inProgress.
#[test]
fn a_turn_start_recorded_after_the_backend_saw_its_end_is_working() {
    let mut a = AgentInfo::default();
    let started = AgentEvent::TurnStarted {
        turn_id: "t2".into(),
    };
    apply(&mut a, &started, false);
    assert_eq!(a.agent_state, AgentState::Working);
    assert_eq!(a.last_turn_status.as_deref(), Some("inProgress"));
    let done = AgentEvent::TurnCompleted {
        turn_id: "t2".into(),
        status: "completed".into(),
        error: None,
    };
    apply(&mut a, &done, false);
    assert_eq!(a.agent_state, AgentState::Idle);
}

/// Issue 48 item 8: an approval whose command hides a right-to-left override
/// (`echo looks-harmless # <U+202E> sl ; touch …`) is kept, for every view
/// of it, with the override written out, never as the raw character.
#[test]
fn an_approvals_bidirectional_controls_are_written_out_for_every_view() {
    let mut a = AgentInfo::default();
    let mut p = approval("7");
    p.command = Some("echo looks-harmless # \u{202e} sl ; touch pwned".into());
    p.reason = Some("why\u{2066}".into());
    apply(&mut a, &AgentEvent::ApprovalRequested(p), true);
    let kept = &a.pending_approvals[0];
    let command = kept.command.as_deref().unwrap();
    assert!(!command.contains('\u{202e}'), "{command:?}");
    assert!(
        command.contains("\\u{202e} sl ; touch pwned"),
        "{command:?}"
    );
    assert_eq!(kept.reason.as_deref(), Some("why\\u{2066}"));
    assert_eq!(kept.request_id, "7", "the answer still names the request");
}
