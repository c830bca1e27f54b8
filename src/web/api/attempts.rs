//! Attempts compared and chosen (issue 74), for the developer's token:
//! `GET /api/attempts?session_id=|queue_id=` (one group side by side),
//! `GET /api/attempts/diff?a=&b=` (attempt A's tree against B's), `POST
//! /api/choose_attempt {session_id}`, `POST /api/attempts/another
//! {session_id, agent?, note?}` (*Try again with…*).

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::L;
use crate::error::LauncherError;
use crate::web::answer::reply;
use crate::web::query::Params;
use crate::web::JsonBody;

/// The largest diff between two attempts answered, in bytes.
const DIFF_MAX: usize = 512 * 1024;

#[derive(Deserialize)]
pub(super) struct GroupQuery {
    session_id: Option<String>,
    queue_id: Option<String>,
}

pub(super) async fn list(State(l): L, Params(q): Params<GroupQuery>) -> Response {
    let id = match (q.session_id, q.queue_id) {
        (Some(id), _) => crate::ids::check_id("session_id", &id).map(|_| id.clone()),
        (None, Some(id)) => crate::ids::check_id("queue_id", &id).map(|_| id.clone()),
        (None, None) => {
            return LauncherError::BadRequest("name session_id or queue_id".into()).into_response()
        }
    };
    let id = match id {
        Ok(id) => id,
        Err(e) => return LauncherError::from(e).into_response(),
    };
    let ids = match l.attempts.group_of(&id) {
        Ok(ids) => ids,
        Err(e) => return e.into_response(),
    };
    let reported = {
        let (l, ids) = (std::sync::Arc::clone(&l), ids.clone());
        tokio::task::spawn_blocking(move || last_reports(&l, &ids))
            .await
            .unwrap_or_default()
    };
    let view = l
        .ctx
        .store
        .read(|st| crate::views::attempts::attempts(st, &l.ctx.config.launcher, &ids, &reported));
    reply(view.ok_or_else(|| LauncherError::NotFound(format!("no attempts of {id}"))))
}

/// Each attempt's last report's summary.
fn last_reports(l: &crate::launcher::Launcher, ids: &[String]) -> HashMap<String, String> {
    ids.iter()
        .filter_map(|id| {
            let results = l.ctx.store.results_of_department(id).ok()?;
            let last = results.into_iter().last()?;
            Some((
                id.clone(),
                crate::text::head(&last.summary, 2000).to_string(),
            ))
        })
        .collect()
}

#[derive(Deserialize)]
pub(super) struct Choose {
    session_id: String,
}

pub(super) async fn choose(State(l): L, JsonBody(b): JsonBody<Choose>) -> Response {
    if let Err(e) = crate::ids::check_id("session_id", &b.session_id) {
        return LauncherError::from(e).into_response();
    }
    reply(
        l.attempts
            .choose(&b.session_id, crate::attempts::BY_USER)
            .await,
    )
}

#[derive(Deserialize)]
pub(super) struct Another {
    session_id: String,
    /// A word an attempt may name (`codex`, an ACP agent, a department key);
    /// absent: its department's own agent.
    agent: Option<String>,
    note: Option<String>,
}

/// `POST /api/attempts/another {session_id, agent?, note?}`: *Try again
/// with…*, one more attempt from the same base and task.
pub(super) async fn another(State(l): L, JsonBody(b): JsonBody<Another>) -> Response {
    if let Err(e) = crate::ids::check_id("session_id", &b.session_id) {
        return LauncherError::from(e).into_response();
    }
    reply(
        l.dispatcher
            .another_attempt(&b.session_id, b.agent.as_deref(), b.note.as_deref())
            .await,
    )
}

#[derive(Deserialize)]
pub(super) struct DiffQuery {
    a: String,
    /// Absent: `a`'s own change (its base against its tree), to set the
    /// attempts' changes side by side.
    b: Option<String>,
}

#[derive(Serialize)]
struct Between {
    a: String,
    b: Option<String>,
    /// A unified diff of A's recorded tree against B's.
    diff: String,
    truncated: bool,
}

pub(super) async fn diff(State(l): L, Params(q): Params<DiffQuery>) -> Response {
    for id in std::iter::once(&q.a).chain(q.b.as_ref()) {
        if let Err(e) = crate::ids::check_id("session_id", id) {
            return LauncherError::from(e).into_response();
        }
    }
    let group = match l.attempts.group_of(&q.a) {
        Ok(g) => g,
        Err(e) => return e.into_response(),
    };
    if let Some(b) = q.b.as_ref().filter(|b| !group.contains(b)) {
        return LauncherError::BadRequest(format!("{b} is not an attempt of {}'s group", q.a))
            .into_response();
    }
    let recorded = |id: &str| {
        l.ctx.store.read(|st| {
            let w = st.sessions.get(id)?.workspace()?;
            Some((w.base.clone(), w.commit.clone()?))
        })
    };
    let Some((base, ca)) = recorded(&q.a) else {
        return LauncherError::Conflict(format!("{} has no recorded work to compare", q.a))
            .into_response();
    };
    // Against another attempt's tree, or its own base.
    let (ca, cb) = match &q.b {
        Some(b) => match recorded(b) {
            Some((_, cb)) => (ca, cb),
            None => {
                return LauncherError::Conflict(format!("{b} has no recorded work to compare"))
                    .into_response()
            }
        },
        None => (base, ca),
    };
    let repo = l.ctx.repo.clone();
    let answer = tokio::task::spawn_blocking(move || {
        crate::review::patch::between(&repo, &ca, &cb, DIFF_MAX)
    })
    .await
    .map_err(LauncherError::from)
    .and_then(|r| r);
    reply(answer.map(|(diff, truncated)| Between {
        a: q.a,
        b: q.b,
        diff,
        truncated,
    }))
}
