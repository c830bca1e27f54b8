//! A department whose commands run at the user's tree's path (issue 52):
//! an exec-server here, in a namespace that shows its worktree there, the
//! state folder carried where it still finds its drop folder; its sandbox
//! and variables as it sees them from there.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{HereRefused, Placement};
use crate::agents::{ExecServer, RemoteEnvironment, Sandbox};
use crate::context::Context;
use crate::model::{Session, Workspace};
use crate::policy::agent_env;
use crate::policy::placement::NotShownThere;

/// Its exec-server here, shown its worktree at the user's path. The binds
/// name nothing of one session, so the session that goes on in the
/// worktree after a send back keeps its relay.
pub(super) async fn environment(
    p: &Placement,
    ctx: &Arc<Context>,
    ws: &Workspace,
    server: Option<ExecServer>,
) -> Result<RemoteEnvironment, HereRefused> {
    crate::platform::namespaces_work().map_err(NotShownThere::from)?;
    let server = server.ok_or(NotShownThere::NoExecServer)?;
    let repo = users_path(&ctx.repo);
    exec_server_outside(&repo, &server)?;
    let shown = crate::worktrees::at_users_path::prepare(
        &ctx.repo,
        ws,
        std::slice::from_ref(&ctx.paths.state_dir),
    )?;
    let mut env = agent_env::outside_tree_resolved(
        crate::platform::text_env(),
        &repo.display().to_string(),
        crate::platform::real_path_text,
    );
    env.extend(server.env);
    env.push(("RUST_LOG".into(), "warn".into()));
    let here = super::relay::Here {
        name: ws.name.clone(),
        program: server.program,
        env,
        binds: shown.binds,
        cwd: shown.cwd.clone(),
        errors: super::relay::ErrorLog {
            state_dir: ctx.paths.state_dir.clone(),
            path: ctx.paths.logs_dir().join(format!("here-{}.log", ws.name)),
        },
    };
    let relay = p.relay_here(ctx, here, Path::new(&ws.path)).await?;
    Ok(RemoteEnvironment {
        id: super::host::here_id(&ws.name),
        url: relay.url(),
        secret: relay.secret().clone(),
        cwd: shown.cwd,
        here: true,
    })
}

/// There (its worktree, in its namespace) and its drop folder writable,
/// the worktrees folder readable only, the state folder hidden where it is
/// carried (and where it is, when outside the tree).
pub(super) fn sandbox(ctx: &Context, session: &Session, ws: &Workspace, temp: PathBuf) -> Sandbox {
    let repo = users_path(&ctx.repo);
    let state = &ctx.paths.state_dir;
    let carried = state_carried(&repo, ws);
    let drop = session
        .department_part()
        .and_then(|d| d.drop_folder.as_deref())
        .and_then(|d| seen_in_state(state, &carried, Path::new(d)));
    let mut hidden = vec![carried];
    // In the tree, the worktree covers it (a rule for it there would make a
    // folder in the worktree); elsewhere by its real path, since a link's
    // own path in the tree is the worktree's there.
    let real_state = users_path(state);
    if !real_state.starts_with(&repo) {
        hidden.push(real_state);
    }
    let worktrees = crate::worktrees::root_for(&ctx.repo);
    Sandbox {
        network: ctx.config.launcher.agent.agent_network,
        hidden,
        read_only: vec![worktrees].into_iter().filter(|w| w.is_dir()).collect(),
        writable: std::iter::once(repo).chain(drop).collect(),
        temp: Some(temp),
        work_read_only: false,
    }
}

/// Its environment names its drop folder and prompt file where it sees them.
pub(super) fn shown_vars(
    repo: &Path,
    state: &Path,
    ws: &Workspace,
    vars: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let carried = state_carried(&users_path(repo), ws);
    vars.into_iter()
        .map(|(k, v)| match k.as_str() {
            "CODEX_GOVERNANCE_MAILBOX" | "CODEX_GOVERNANCE_PROMPT_FILE" => {
                match seen_in_state(state, &carried, Path::new(&v)) {
                    Some(seen) => (k, seen.display().to_string()),
                    None => (k, v),
                }
            }
            _ => (k, v),
        })
        .collect()
}

/// Refuses an exec-server that the worktree shown over `repo` would hand
/// the department: its program, or a path its settings name, in the tree.
pub fn exec_server_outside(repo: &Path, server: &ExecServer) -> Result<(), NotShownThere> {
    let program = dunce::canonicalize(&server.program).unwrap_or_else(|_| server.program.clone());
    let tree = repo.display().to_string();
    let program = program.display().to_string();
    if !Path::new(&program).is_absolute() || agent_env::names_path_in(&program, &tree) {
        return Err(NotShownThere::ProgramInTree(program));
    }
    if let Some((k, _)) = server
        .env
        .iter()
        .find(|(_, v)| v.split(':').any(|p| agent_env::names_path_in(p, &tree)))
    {
        return Err(NotShownThere::SettingInTree(k.clone()));
    }
    Ok(())
}

/// Where a department at the user's path sees the state folder.
fn state_carried(repo: &Path, ws: &Workspace) -> PathBuf {
    crate::worktrees::at_users_path::carried_path(repo, &ws.name, 0)
}

/// Where `real`, in the state folder, is seen through `carried`.
fn seen_in_state(state: &Path, carried: &Path, real: &Path) -> Option<PathBuf> {
    real.strip_prefix(state).ok().map(|rel| carried.join(rel))
}

/// The user's tree's path as the namespace shows the worktree there.
fn users_path(repo: &Path) -> PathBuf {
    dunce::canonicalize(repo).unwrap_or_else(|_| repo.to_path_buf())
}
