//! Review comments on a department's diff lines (issue 51), for the
//! developer's token only (the route table's default: no agent writes the
//! reviewer's words): `POST /api/review_comments`, `GET
//! /api/review_comments?session_id=`, `POST /api/review_comments/delete`,
//! `POST /api/review_comments/resolve`, and a reviewer agent's findings
//! (issue 75): `POST /api/review_comments/accept {id}`, `POST
//! /api/review_comments/dismiss {id, reason}`, `POST /api/review_again
//! {session_id}` (a new reviewer on the recorded work). Git and the store work off the
//! runtime; every failure is a `LauncherError`, mapped in `web/answer.rs`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{IdQuery, L};
use crate::error::{LResult, LauncherError};
use crate::model::{DiffSide, ReviewComment};
use crate::review::comments::{self, NewComment};
use crate::web::answer::reply;
use crate::web::JsonBody;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> LResult<T> + Send + 'static,
) -> LResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(e.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Add {
    session_id: String,
    path: String,
    line: u32,
    side: DiffSide,
    body: String,
}

/// The comment a change touched.
#[derive(Serialize)]
struct One {
    comment: ReviewComment,
}

pub(super) async fn add(State(l): L, JsonBody(b): JsonBody<Add>) -> Response {
    if let Err(e) = crate::ids::check_id("session_id", &b.session_id) {
        return LauncherError::from(e).into_response();
    }
    let ctx = l.ctx.clone();
    let new = NewComment {
        session_id: b.session_id,
        path: b.path,
        line: b.line,
        side: b.side,
        body: b.body,
    };
    let added = blocking(move || comments::add(&ctx, new)).await;
    reply(added.map(|comment| One { comment }))
}

pub(super) async fn list(State(l): L, IdQuery(id, _): IdQuery) -> Response {
    let ctx = l.ctx.clone();
    reply(blocking(move || comments::list(&ctx, &id)).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Delete {
    id: String,
}

pub(super) async fn delete(State(l): L, JsonBody(b): JsonBody<Delete>) -> Response {
    let ctx = l.ctx.clone();
    let deleted = blocking(move || comments::delete(&ctx, &b.id)).await;
    reply(deleted.map(|comment| One { comment }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Resolve {
    id: String,
    resolved: bool,
}

pub(super) async fn resolve(State(l): L, JsonBody(b): JsonBody<Resolve>) -> Response {
    let ctx = l.ctx.clone();
    let changed = blocking(move || comments::resolve(&ctx, &b.id, b.resolved)).await;
    after_decision(&l, &changed);
    reply(changed.map(|comment| One { comment }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Accept {
    id: String,
}

pub(super) async fn accept(State(l): L, JsonBody(b): JsonBody<Accept>) -> Response {
    let ctx = l.ctx.clone();
    let changed = blocking(move || comments::accept(&ctx, &b.id)).await;
    reply(changed.map(|comment| One { comment }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Dismiss {
    id: String,
    reason: String,
}

pub(super) async fn dismiss(State(l): L, JsonBody(b): JsonBody<Dismiss>) -> Response {
    let ctx = l.ctx.clone();
    let changed = blocking(move || comments::dismiss(&ctx, &b.id, &b.reason)).await;
    after_decision(&l, &changed);
    reply(changed.map(|comment| One { comment }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Again {
    session_id: String,
}

/// The reviewer it started.
#[derive(Serialize)]
struct Started {
    reviewer: String,
}

pub(super) async fn review_again(State(l): L, JsonBody(b): JsonBody<Again>) -> Response {
    let started = l.second_opinion.review_again(&b.session_id).await;
    reply(started.map(|s| Started { reviewer: s.id }))
}

/// A finding dismissed or resolved may let held work go on (a pull
/// request's follow-up, the planner's proposal): checked in a task of the
/// launcher's, after the answer.
fn after_decision(l: &crate::launcher::Launcher, changed: &LResult<ReviewComment>) {
    let Ok(c) = changed else { return };
    if c.finding.is_none() {
        return;
    }
    let (so, id) = (
        std::sync::Arc::clone(&l.second_opinion),
        c.session_id.clone(),
    );
    l.ctx.spawn(async move { so.recheck(&id).await });
}
