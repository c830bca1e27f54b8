//! A department's changes and the user's control over them (issue 26):
//! `GET /api/changes` (its recorded changes, or one file's diff) for the
//! developer and for the Zhongshu of that department; `POST /api/integrate`,
//! `/api/discard`, `/api/send_back`, `/api/worktrees/prune` for the
//! developer's token only;
//! `POST /api/propose_integration` for a Zhongshu about its own departments. Ids are checked before they reach the services; Git works
//! off the runtime.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::L;
use crate::credentials::Principal;
use crate::error::{LResult, LauncherError};
use crate::integration::landing::Asked;
use crate::integration::record::fence;
use crate::model::{IntegrationMode, Session};
use crate::policy::landing::Checks;
use crate::review::changes::{change_diff, changes_view, decide, Surroundings};
use crate::review::overlaps::Neighbour;
use crate::views::changes::ReportBrief;
use crate::web::answer::reply;
use crate::web::owned::{Caller, ForDepartment, NamesDepartment, OwnedDepartment};
use crate::web::JsonBody;

/// Runs blocking work (the store, libgit2) off the runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> LResult<T> + Send + 'static,
) -> LResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(e.into()))
}

fn checked(id: &str) -> LResult<()> {
    crate::ids::check_id("session_id", id)
        .map(|_| ())
        .map_err(LauncherError::from)
}

/// `GET /api/changes`'s parameter beside the id: one file's diff instead of the list.
#[derive(Deserialize)]
pub(super) struct ChangesQuery {
    path: Option<String>,
}

/// `GET /api/changes?session_id=<department>[&path=<file>]`: a Zhongshu's
/// token reads only its own departments.
pub(super) async fn changes(
    State(l): L,
    OwnedDepartment { session, params: q }: OwnedDepartment<ChangesQuery>,
) -> Response {
    let id = session.id.clone();
    let repo = l.ctx.repo.clone();
    let scope = l.ctx.config.launcher.isolation.scope;
    match q.path {
        Some(path) => {
            let Some(ws) = session.workspace().cloned() else {
                return LauncherError::NotFound(format!("{id} has no worktree")).into_response();
            };
            reply(blocking(move || change_diff(&repo, &ws, &path)).await)
        }
        None => {
            let report = session
                .last_report_key()
                .and_then(|key| l.ctx.store.result(&key).ok().flatten());
            let (waiting, applied): (Vec<Session>, Vec<(String, String)>) =
                l.ctx.store.read(|st| {
                    let waiting = st
                        .sessions
                        .values()
                        .filter(|o| {
                            o.id != id && o.workspace().is_some_and(|w| w.state.awaits_user())
                        })
                        .cloned()
                        .collect();
                    (waiting, st.applied_commits())
                });
            let fence = fence(&l.ctx);
            let landing_checks = crate::integration::landing::checks_of(&l.ctx, &session);
            // An attempt not chosen (yet) is not applied or merged (issue 74).
            let not_chosen = l.ctx.store.read(|st| {
                let s = st.sessions.get(&id)?;
                let chosen = crate::policy::attempts::chosen_of(st, s);
                crate::policy::attempts::may_integrate(st, s, chosen)
                    .err()
                    .map(|r| r.to_string())
            });
            let ctx = l.ctx.clone();
            reply(
                blocking(move || {
                    // A reviewer's open important findings hold it (issue 75).
                    let held = match crate::review::gate::check_gate(&ctx, &id, None) {
                        Ok(()) => None,
                        Err(LauncherError::Conflict(why)) => Some(why),
                        Err(e) => return Err(e),
                    };
                    let around = Surroundings {
                        fence: &fence,
                        waiting: waiting
                            .iter()
                            .filter_map(|o| {
                                Some(Neighbour {
                                    session_id: &o.id,
                                    department: o.department.as_deref(),
                                    workspace: o.workspace()?,
                                })
                            })
                            .collect(),
                        applied,
                    };
                    let mut view = decide(changes_view(&repo, &session, scope)?, &repo, &around);
                    view.report = report.as_ref().map(ReportBrief::from);
                    view.landing_checks = match landing_checks {
                        Checks::Run(commands) => Some(commands),
                        Checks::Unverified => None,
                    };
                    view.attempt = session.department_part().and_then(|d| d.attempt.clone());
                    if held.is_some() {
                        view.review_held = true;
                        view.integration_blocked = held;
                    }
                    if not_chosen.is_some() {
                        view.integration_blocked = not_chosen;
                    }
                    Ok(view)
                })
                .await,
            )
        }
    }
}

#[derive(Deserialize)]
pub(super) struct Integrate {
    session_id: String,
    mode: IntegrationMode,
    /// `launcher.scope: block`: integrate out-of-scope changes all the same (audited).
    #[serde(default)]
    override_scope: bool,
    /// A Merge lands without its checks (issue 73), for `reason` (audited).
    #[serde(default)]
    without_checks: bool,
    #[serde(default)]
    reason: Option<String>,
    /// *Apply verified*: an Apply runs the landing checks first.
    #[serde(default)]
    verify: bool,
    /// `review.gate: block_on_important`: integrate past the reviewer's
    /// open important findings, for `reason` (audited `review_overridden`).
    #[serde(default)]
    override_review: bool,
}

pub(super) async fn integrate(State(l): L, JsonBody(b): JsonBody<Integrate>) -> Response {
    if let Err(e) = checked(&b.session_id) {
        return e.into_response();
    }
    // Its own task: a Merge waiting in the landing train, or running its
    // checks, goes on when the page that asked is closed or reloaded.
    if b.override_review {
        let (ctx, id, reason) = (l.ctx.clone(), b.session_id.clone(), b.reason.clone());
        let overridden = tokio::task::spawn_blocking(move || {
            crate::review::gate::override_review(&ctx, &id, reason.as_deref())
        })
        .await
        .unwrap_or_else(|e| Err(e.into()));
        if let Err(e) = overridden {
            return e.into_response();
        }
    }
    let integrations = std::sync::Arc::clone(&l.integrations);
    let (id, mode, override_scope) = (b.session_id.clone(), b.mode, b.override_scope);
    let (without, verify, reason) = (b.without_checks, b.verify, b.reason.clone());
    let task = tokio::spawn(async move {
        let asked = match (without, verify) {
            (true, _) => Asked::Without(reason.as_deref().unwrap_or("")),
            (false, true) => Asked::ApplyVerified,
            (false, false) => Asked::AsConfigured,
        };
        integrations
            .integrate_checked(&id, mode, override_scope, asked)
            .await
    });
    let answer = task.await.unwrap_or_else(|e| Err(e.into()));
    reply(answer.map(|workspace| Answer {
        session_id: b.session_id,
        workspace,
    }))
}

#[derive(Deserialize)]
pub(super) struct Discard {
    session_id: String,
}

pub(super) async fn discard(State(l): L, JsonBody(b): JsonBody<Discard>) -> Response {
    if let Err(e) = checked(&b.session_id) {
        return e.into_response();
    }
    let answer = l.integrations.discard(&b.session_id).await;
    reply(answer.map(|workspace| Answer {
        session_id: b.session_id,
        workspace,
    }))
}

/// `POST /api/landing/remove {session_id}`: a queued Merge leaves the train.
pub(super) async fn remove_from_train(State(l): L, JsonBody(b): JsonBody<Discard>) -> Response {
    if let Err(e) = checked(&b.session_id) {
        return e.into_response();
    }
    let answer = l.integrations.remove_from_train(&b.session_id);
    reply(answer.map(|workspace| Answer {
        session_id: b.session_id,
        workspace,
    }))
}

pub(super) async fn undo(State(l): L, JsonBody(b): JsonBody<Discard>) -> Response {
    if let Err(e) = checked(&b.session_id) {
        return e.into_response();
    }
    let answer = l.integrations.undo(&b.session_id).await;
    reply(answer.map(|workspace| Answer {
        session_id: b.session_id,
        workspace,
    }))
}

/// `POST /api/worktrees/prune`: `codex-governance worktrees --prune` while
/// the launcher runs (the developer's token only).
/// `POST /api/worktrees/prune {}`: as every POST, an object body.
pub(super) async fn prune(State(l): L, JsonBody(_): JsonBody<super::quota::NoFields>) -> Response {
    reply(l.integrations.prune().await)
}

#[derive(Deserialize)]
pub(super) struct SendBack {
    session_id: String,
    #[serde(default)]
    note: String,
    /// Its red landing's failure goes with the note (issue 73).
    #[serde(default)]
    with_landing_failure: bool,
}

pub(super) async fn send_back(State(l): L, JsonBody(b): JsonBody<SendBack>) -> Response {
    if let Err(e) = checked(&b.session_id) {
        return e.into_response();
    }
    let sent = if b.with_landing_failure {
        l.integrations
            .send_back_landing_failure(&b.session_id, &b.note)
            .await
    } else {
        l.integrations.send_back(&b.session_id, &b.note).await
    };
    reply(sent)
}

#[derive(Deserialize)]
pub(super) struct Propose {
    /// The department session.
    session_id: String,
    mode: IntegrationMode,
    #[serde(default)]
    note: Option<String>,
    /// The proposing Zhongshu (a Zhongshu's own token names itself).
    #[serde(default)]
    parent_session_id: Option<String>,
}

impl NamesDepartment for Propose {
    fn department(&self) -> &str {
        &self.session_id
    }
}

pub(super) async fn propose(
    State(l): L,
    ForDepartment {
        caller: Caller(p),
        body: b,
    }: ForDepartment<Propose>,
) -> Response {
    let by = match (&p, &b.parent_session_id) {
        (Principal::Session(g), _) => g.session_id.clone(),
        (Principal::User | Principal::Phone(_), Some(z)) => z.clone(),
        (Principal::User | Principal::Phone(_), None) => {
            return LauncherError::BadRequest("missing parent_session_id".into()).into_response()
        }
    };
    if let Err(e) = checked(&b.session_id).and_then(|()| checked(&by)) {
        return e.into_response();
    }
    let launcher = Arc::clone(&l);
    let answer = launcher
        .integrations
        .propose(&by, &b.session_id, b.mode, b.note)
        .await;
    reply(answer.map(|workspace| Answer {
        session_id: b.session_id,
        workspace,
    }))
}

#[derive(serde::Serialize)]
struct Answer {
    session_id: String,
    workspace: crate::model::Workspace,
}
