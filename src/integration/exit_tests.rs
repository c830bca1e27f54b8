//! A department's exit and a pull request's record counted: the worktree is
//! recorded again only when it moved since its last record (issue 50 item 1).

use std::path::Path;

use super::fixture::{events_since, integrations, recorded_department, session, ID};
use super::record_now;
use crate::model::WorkspaceState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_after_its_report_with_no_new_work_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) = recorded_department(dir.path(), "report");
    let integrations = integrations(&ctx);
    let (version, seq) = (ctx.store.version(), ctx.store.audit_log().last_seq());
    integrations.department_exited(ID).await;
    assert_eq!(ctx.store.version(), version, "no store change");
    assert_eq!(events_since(&ctx, seq), Vec::<String>::new());
    let w = session(&ctx).workspace().cloned().unwrap();
    assert_eq!(w.state, WorkspaceState::Pending);
    assert_eq!(w.actual_changed_files, ["src/a.rs"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_after_new_work_records_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, ws) = recorded_department(dir.path(), "report");
    std::fs::write(Path::new(&ws.path).join("README.md"), "later\n").unwrap();
    let integrations = integrations(&ctx);
    let (version, seq) = (ctx.store.version(), ctx.store.audit_log().last_seq());
    integrations.department_exited(ID).await;
    assert_eq!(ctx.store.version() - version, 1, "the record");
    assert_eq!(events_since(&ctx, seq), ["worktree_recorded"]);
    let w = session(&ctx).workspace().cloned().unwrap();
    assert_eq!(w.actual_changed_files, ["README.md", "src/a.rs"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_requests_record_right_after_the_exit_records_nothing_again() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) = recorded_department(dir.path(), "exit");
    let integrations = integrations(&ctx);
    let (version, seq) = (ctx.store.version(), ctx.store.audit_log().last_seq());
    let w = record_now(&ctx, &integrations.sessions, &session(&ctx), "pull_request")
        .await
        .unwrap();
    assert_eq!(ctx.store.version(), version, "no store change");
    assert_eq!(events_since(&ctx, seq), Vec::<String>::new());
    assert!(w.commit.is_some() && w.review.is_some(), "{w:?}");
}
