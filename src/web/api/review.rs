//! Review in the page: a result's handoff packet (rendered safely) and raw
//! report, and one changed file's diff. The developer's token only.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{QueryMap, L};
use crate::report::file_diff::{check_path, file_diff};
use crate::web::answer::{failure, ok, reply};

/// `GET /api/handoff?session_id=<zhongshu>&department_session_id=..&report_id=..`
pub(super) async fn handoff(State(l): L, QueryMap(q): QueryMap) -> Response {
    let mut ids = Vec::new();
    for name in ["session_id", "department_session_id", "report_id"] {
        let Some(v) = q.get(name) else {
            return failure(StatusCode::BAD_REQUEST, &format!("missing ?{name}="));
        };
        if let Err(e) = crate::ids::check_id(name, v) {
            return failure(StatusCode::BAD_REQUEST, &e);
        }
        ids.push(v.clone());
    }
    let launcher = Arc::clone(&l);
    let view = tokio::task::spawn_blocking(move || {
        launcher.mailbox.handoff_view(&ids[0], &ids[1], &ids[2])
    })
    .await;
    match view {
        Ok(v) => reply(v),
        Err(e) => failure(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `GET /api/diff?path=<repository path>&base=<revision>`: against HEAD without a base.
pub(super) async fn diff(State(l): L, QueryMap(q): QueryMap) -> Response {
    let Some(path) = q.get("path").cloned() else {
        return failure(StatusCode::BAD_REQUEST, "missing ?path=");
    };
    if let Err(e) = check_path(&path) {
        return failure(StatusCode::BAD_REQUEST, &e);
    }
    let base = q.get("base").cloned().filter(|b| !b.is_empty());
    let repo = l.ctx.repo.clone();
    let asked = path.clone();
    let built = tokio::task::spawn_blocking(move || file_diff(&repo, &path, base.as_deref())).await;
    match built {
        Ok(Ok(Some(d))) => ok(d),
        Ok(Ok(None)) => failure(
            StatusCode::NOT_FOUND,
            &format!("{asked} has no change against that revision"),
        ),
        Ok(Err(e)) => failure(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(e) => failure(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
