//! The review drawer's routes (issue 14, item 3): a result's handoff packet,
//! its report as received, and one changed file's diff. Read-only and for the
//! developer's token only (`policy::scopes` lists none of them for agents). The
//! work is in [`crate::review`]; files and Git are read off the async runtime.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use serde::Deserialize;

use super::{Params, L};
use crate::error::{LResult, LauncherError};
use crate::review::{self, ResultRef};
use crate::views::inbox::SeenView;
use crate::web::answer::reply;
use crate::web::JsonBody;

/// Runs blocking work (the store, files, libgit2) off the runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> LResult<T> + Send + 'static,
) -> LResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(e.into()))
}

/// The ids that name a registered result: its Zhongshu (`session_id`), the
/// department session that sent it and its report id.
#[derive(Deserialize)]
pub(super) struct ResultQuery {
    session_id: Option<String>,
    department_session_id: Option<String>,
    report_id: Option<String>,
}

impl ResultQuery {
    fn checked(self) -> LResult<ResultRef> {
        ResultRef::named(self.session_id, self.department_session_id, self.report_id)
    }
}

/// `GET /api/handoff?session_id=<zhongshu>&department_session_id=..&report_id=..`
pub(super) async fn handoff(State(l): L, Params(q): Params<ResultQuery>) -> Response {
    let which = match q.checked() {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let ctx = Arc::clone(&l.ctx);
    reply(blocking(move || review::handoff(&ctx, &which)).await)
}

/// `GET /api/result_raw?session_id=<zhongshu>&department_session_id=..&report_id=..`
pub(super) async fn result_raw(State(l): L, Params(q): Params<ResultQuery>) -> Response {
    let which = match q.checked() {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let ctx = Arc::clone(&l.ctx);
    reply(blocking(move || review::result_raw(&ctx, &which)).await)
}

#[derive(serde::Deserialize)]
pub(super) struct MarkSeen {
    /// The planner whose results these are.
    parent_session_id: String,
    #[serde(default)]
    department_session_id: Option<String>,
    #[serde(default)]
    report_id: Option<String>,
}

/// `POST /api/mark_seen {parent_session_id, department_session_id?, report_id?}`:
/// the developer saw these results (the page's read state, not the planner's).
pub(super) async fn mark_seen(State(l): L, JsonBody(b): JsonBody<MarkSeen>) -> Response {
    let ids = [
        Some(("parent_session_id", &b.parent_session_id)),
        b.department_session_id
            .as_ref()
            .map(|v| ("department_session_id", v)),
        b.report_id.as_ref().map(|v| ("report_id", v)),
    ];
    for (name, value) in ids.into_iter().flatten() {
        if let Err(e) = crate::ids::check_id(name, value) {
            return LauncherError::from(e).into_response();
        }
    }
    let ctx = Arc::clone(&l.ctx);
    reply(
        blocking(move || {
            review::seen::mark_seen(
                &ctx,
                &b.parent_session_id,
                b.department_session_id.as_deref(),
                b.report_id.as_deref(),
            )
            .map(|marked| SeenView { marked })
        })
        .await,
    )
}

/// `GET /api/diff`'s parameters.
#[derive(Deserialize)]
pub(super) struct DiffQuery {
    path: Option<String>,
    base: Option<String>,
}

/// `GET /api/diff?path=<repository path>&base=<revision>`: against HEAD without a base.
pub(super) async fn diff(State(l): L, Params(q): Params<DiffQuery>) -> Response {
    let Some(path) = q.path else {
        return LauncherError::BadRequest("missing ?path=".into()).into_response();
    };
    // Checked here too, so a bad path never costs a blocking thread.
    if let Err(e) = review::check_path(&path) {
        return e.into_response();
    }
    let base = q.base.filter(|b| !b.is_empty());
    let repo = l.ctx.repo.clone();
    reply(blocking(move || review::file_diff(&repo, &path, base.as_deref())).await)
}
