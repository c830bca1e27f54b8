use super::*;
use crate::model::TokenUsage;

fn approval(id: &str) -> PendingApproval {
    PendingApproval {
        request_id: id.into(),
        session_id: "d".into(),
        kind: "command".into(),
        command: Some("touch x".into()),
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
fn errors_and_rate_limits_need_the_user_until_the_next_turn() {
    let mut a = AgentInfo::default();
    let limited = AgentEvent::Error {
        message: "usage limit".into(),
        will_retry: true,
        rate_limit: true,
    };
    apply(&mut a, &limited, true);
    assert_eq!(a.agent_state, AgentState::NeedsUser);
    assert_eq!(a.attention.as_ref().unwrap().kind, AttentionKind::RateLimit);
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
