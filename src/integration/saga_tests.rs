//! The saga counted: store changes and records of a Merge, an Apply and a
//! Discard on a real repository and store.

use std::path::Path;

use super::{integrate, Train, Verification};
use crate::integration::discard::discard;
use crate::integration::fixture::{events_since, exited_department, session};
use crate::model::{IntegrationMode, WorkspaceState};

fn never() -> Train {
    Train {
        stopping: std::sync::Arc::new(|| false),
        ahead: std::sync::Arc::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_right_after_the_exit_is_two_store_changes_and_records_nothing_again() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, ws) = exited_department(dir.path());
    let (version, seq) = (ctx.store.version(), ctx.store.audit_log().last_seq());
    integrate(
        &ctx,
        &session(&ctx),
        IntegrationMode::Merge,
        false,
        &Verification::Unverified,
        &never(),
    )
    .await
    .unwrap();
    assert_eq!(ctx.store.version() - version, 2, "the intent and done");
    assert_eq!(
        events_since(&ctx, seq),
        [
            "integration_started",
            "integration_done",
            "worktree_removed",
            "branch_deleted"
        ],
        "no second worktree_recorded: the worktree did not move since its exit"
    );
    let w = session(&ctx).workspace().cloned().unwrap();
    assert_eq!(w.state, WorkspaceState::Merged);
    assert!(
        w.removed && w.branch_deleted && w.integrating.is_none(),
        "{w:?}"
    );
    assert!(w.integrated.is_some() && w.settled_at.is_some(), "{w:?}");
    assert!(!Path::new(&ws.path).exists(), "the worktree went");
    let root = ctx.repo.join("src/a.rs");
    assert_eq!(std::fs::read_to_string(root).unwrap(), "A\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_that_moved_since_the_exit_is_recorded_in_the_intent_change() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, ws) = exited_department(dir.path());
    std::fs::write(Path::new(&ws.path).join("README.md"), "later\n").unwrap();
    let (version, seq) = (ctx.store.version(), ctx.store.audit_log().last_seq());
    integrate(
        &ctx,
        &session(&ctx),
        IntegrationMode::Apply,
        false,
        &Verification::Unverified,
        &never(),
    )
    .await
    .unwrap();
    assert_eq!(ctx.store.version() - version, 2, "the intent and done");
    assert_eq!(
        events_since(&ctx, seq),
        [
            "worktree_recorded",
            "integration_started",
            "integration_done",
            "worktree_removed",
            "branch_deleted"
        ]
    );
    let w = session(&ctx).workspace().cloned().unwrap();
    assert_eq!(w.state, WorkspaceState::Applied);
    assert_eq!(w.actual_changed_files, ["README.md", "src/a.rs"]);
    let readme = std::fs::read_to_string(ctx.repo.join("README.md")).unwrap();
    assert_eq!(readme, "later\n", "what moved is applied too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discard_right_after_the_exit_records_nothing_again() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) = exited_department(dir.path());
    let (version, seq) = (ctx.store.version(), ctx.store.audit_log().last_seq());
    discard(&ctx, &session(&ctx)).await.unwrap();
    assert_eq!(ctx.store.version() - version, 1, "the decision");
    assert_eq!(events_since(&ctx, seq), ["worktree_discarded"]);
    let w = session(&ctx).workspace().cloned().unwrap();
    assert_eq!(w.state, WorkspaceState::Discarded);
}

/// The state machine's refusals stop the step (issue 71 item 3): an
/// integration settled or taken back on a worktree that no integration
/// began (a second command on it, or a bug) is refused with the machine's
/// words, and nothing of it is written: no state, no audit line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settle_or_undo_the_state_machine_refuses_writes_nothing() {
    use super::{settle, undone, Settled};
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) = exited_department(dir.path());
    let id = session(&ctx).id.clone();
    let before = session(&ctx).workspace().cloned().unwrap();
    assert_eq!(before.state, WorkspaceState::Pending);
    let seq = ctx.store.audit_log().last_seq();
    let refused = settle(
        &ctx,
        &id,
        &Settled {
            mode: IntegrationMode::Merge,
            commit: None,
            recovered: false,
            tidied: Default::default(),
            reason: "merge",
        },
    )
    .unwrap_err();
    assert!(refused.to_string().contains("pending"), "{refused}");
    let refused = undone(&ctx, &id, IntegrationMode::Merge, "failed").unwrap_err();
    assert!(refused.to_string().contains("pending"), "{refused}");
    assert_eq!(events_since(&ctx, seq), Vec::<String>::new());
    let after = session(&ctx).workspace().cloned().unwrap();
    assert_eq!(
        serde_json::to_value(&after).unwrap(),
        serde_json::to_value(&before).unwrap(),
        "the worktree's record is as it was"
    );
}
