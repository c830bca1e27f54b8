//! The review drawer's routes (issue 14, item 3): a result's handoff packet,
//! its report as received, and one changed file's diff. Read-only and for the
//! developer's token only (`web::scopes` lists none of them for agents). The
//! work is in [`crate::review`]; files and Git are read off the async runtime.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{QueryMap, L};
use crate::error::{LResult, LauncherError};
use crate::review::{self, ResultRef};
use crate::web::answer::reply;

/// Runs blocking work (the store, files, libgit2) off the runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> LResult<T> + Send + 'static,
) -> LResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(LauncherError::Internal(format!("review task failed: {e}"))))
}

/// `GET /api/handoff?session_id=<zhongshu>&department_session_id=..&report_id=..`
pub(super) async fn handoff(State(l): L, QueryMap(q): QueryMap) -> Response {
    let which = match ResultRef::from_query(&q) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let ctx = Arc::clone(&l.ctx);
    reply(blocking(move || review::handoff(&ctx, &which)).await)
}

/// `GET /api/result_raw?session_id=<zhongshu>&department_session_id=..&report_id=..`
pub(super) async fn result_raw(State(l): L, QueryMap(q): QueryMap) -> Response {
    let which = match ResultRef::from_query(&q) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let ctx = Arc::clone(&l.ctx);
    reply(blocking(move || review::result_raw(&ctx, &which)).await)
}

/// `GET /api/diff?path=<repository path>&base=<revision>`: against HEAD without a base.
pub(super) async fn diff(State(l): L, QueryMap(q): QueryMap) -> Response {
    let Some(path) = q.get("path").cloned() else {
        return LauncherError::BadRequest("missing ?path=".into()).into_response();
    };
    // Checked here too, so a bad path never costs a blocking thread.
    if let Err(e) = review::check_path(&path) {
        return e.into_response();
    }
    let base = q.get("base").cloned().filter(|b| !b.is_empty());
    let repo = l.ctx.repo.clone();
    reply(blocking(move || review::file_diff(&repo, &path, base.as_deref())).await)
}
