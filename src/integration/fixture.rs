//! A department with a recorded worktree on a real repository and store,
//! for the tests that count the store changes and records of a step.

use std::path::Path;
use std::sync::Arc;

use super::{record, Integrations};
use crate::config::Config;
use crate::context::Context;
use crate::model::{Session, Workspace};
use crate::sessions::Sessions;
use crate::store::{Paths, Store};
use crate::worktrees::testing::{fresh_worktree, repo_with};

pub const ID: &str = "lingyubu-1";

/// A context on `repo` with its state folder beside it.
fn context(dir: &Path, repo: &Path) -> Arc<Context> {
    let paths = Paths::new(dir.join("state"));
    let store = Store::open(&paths.state_dir).unwrap();
    let config = Config::load_with_env(repo, &Default::default()).unwrap();
    Arc::new(Context::new(repo.to_path_buf(), config, paths, store))
}

/// A department that wrote `src/a.rs` in its worktree and ended, its work
/// recorded for `reason` (the last record before the user acts).
pub fn recorded_department(dir: &Path, reason: &str) -> (Arc<Context>, Workspace) {
    let (repo, _) = repo_with(dir, &[("src/a.rs", "a\n"), ("README.md", "r\n")]);
    let ctx = context(dir, &repo);
    let ws = fresh_worktree(&repo, ID);
    std::fs::write(Path::new(&ws.path).join("src/a.rs"), "A\n").unwrap();
    let mut s = Session::sample_department(ID).ended_for_test(0, None);
    s.department_mut().unwrap().workspace = Some(Box::new(ws.clone()));
    ctx.store.update(|tx| tx.insert_session(s.clone())).unwrap();
    let snap = record::take(&ctx, &s, None).unwrap().unwrap();
    assert!(ctx
        .store
        .update(|tx| record::store(tx, ID, &snap, reason))
        .unwrap());
    (ctx, ws)
}

/// [`recorded_department`] as its exit recorded it.
pub fn exited_department(dir: &Path) -> (Arc<Context>, Workspace) {
    recorded_department(dir, "exit")
}

/// The integrations of `ctx`, with sessions that start no agent.
pub fn integrations(ctx: &Arc<Context>) -> Integrations {
    let backend = crate::agents::team_for(
        &ctx.config.launcher.agent.backend,
        &ctx.config.launcher.agent.departments,
        &ctx.config.launcher.agent_command,
    );
    let (signals, _) = crate::signals::channel();
    let sessions = Sessions::new(
        Arc::clone(ctx),
        backend,
        Default::default(),
        signals,
        Default::default(),
        |_| Vec::new(),
    );
    Integrations::new(Arc::clone(ctx), Arc::new(sessions))
}

pub fn session(ctx: &Context) -> Session {
    ctx.store.read(|st| st.sessions.get(ID).cloned()).unwrap()
}

/// The audit events after `seq`, by name.
pub fn events_since(ctx: &Context, seq: u64) -> Vec<String> {
    ctx.store
        .audit_log()
        .read_since(seq, 100)
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}
