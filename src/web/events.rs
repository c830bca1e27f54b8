//! Server-sent events: `/api/events` (every state change, `id:` = audit seq,
//! and `event: delta` frames with what changed, see `launcher::deltas`) and
//! `/api/session_stream` (one session's transcript as it grows). The dashboard
//! reacts to these instead of polling.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use super::routes::Routes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::json;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use super::owned::Caller;
use super::query::IdQuery;
use crate::credentials::Principal;
use crate::error::LauncherError;
use crate::launcher::Launcher;

/// A paired phone's stream: no audit line and no delta (they carry command
/// text, paths and terminal URLs), only `event: changed` when something did,
/// at most once a second; the page fetches the phone's status then.
fn phone_events(l: &Arc<Launcher>, place: crate::phones::StreamPlace) -> Response {
    let hello = Event::default()
        .event("hello")
        .data(json!({"audit_seq": l.ctx.store.audit_log().last_seq()}).to_string());
    let paced = stream::unfold(
        (l.ctx.store.subscribe(), place),
        |(mut rx, place)| async move {
            if let Err(RecvError::Closed) = rx.recv().await {
                return None;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            // What came meanwhile is told by this one event.
            while !matches!(
                rx.try_recv(),
                Err(TryRecvError::Empty) | Err(TryRecvError::Closed)
            ) {}
            Some((
                Ok(Event::default().event("changed").data("{}")),
                (rx, place),
            ))
        },
    );
    let stream: EventStream = Box::pin(
        stream::once(async move { Ok(hello) })
            .chain(paced)
            .take_until(l.stopped()),
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/events", events)
        .get("/api/session_stream", session_stream)
}

type EventStream = std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>>;

async fn events(State(l): State<Arc<Launcher>>, Caller(p): Caller, headers: HeaderMap) -> Response {
    if let Principal::Phone(_) = p {
        return match l.phones.open_stream() {
            Some(place) => phone_events(&l, place),
            None => LauncherError::TooMany(format!(
                "{} event streams are open to phones already: close a tab",
                crate::phones::MAX_STREAMS
            ))
            .into_response(),
        };
    }
    let rx = l.ctx.store.subscribe();
    // A reconnecting client gets what it missed from the audit log first.
    let last: Option<u64> = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let missed = match last {
        Some(seq) => l
            .ctx
            .store
            .audit_log()
            .read_since(seq, 1000)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let hello = Event::default()
        .id(l.ctx.store.audit_log().last_seq().to_string())
        .event("hello")
        .data(json!({"audit_seq": l.ctx.store.audit_log().last_seq()}).to_string());
    let replay = missed.into_iter().map(|line| {
        let seq = line["seq"].as_u64().unwrap_or(0);
        Ok(Event::default().id(seq.to_string()).data(line.to_string()))
    });
    let live = BroadcastStream::new(rx).filter_map(|item| {
        std::future::ready(match item {
            // A commit reaches the page as the delta it causes.
            Ok(ev) if !ev.for_pages() => None,
            Ok(ev) => Some(Ok(Event::default().id(ev.seq().to_string()).data(
                json!({"event": ev.name(), "seq": ev.seq(), "data": ev.data()}).to_string(),
            ))),
            Err(BroadcastStreamRecvError::Lagged(n)) => Some(Ok(Event::default()
                .event("lagged")
                .data(json!({"missed": n}).to_string()))),
        })
    });
    // What changed, whole: the page applies it instead of refetching the status.
    let deltas = BroadcastStream::new(l.deltas.subscribe()).map(|item| match item {
        Ok(text) => Ok(Event::default().event("delta").data(&*text)),
        Err(BroadcastStreamRecvError::Lagged(n)) => Ok(Event::default()
            .event("lagged")
            .data(json!({"missed_deltas": n}).to_string())),
    });
    let stream: EventStream = Box::pin(
        stream::once(async move { Ok(hello) })
            .chain(stream::iter(replay))
            .chain(stream::select(live, deltas))
            .take_until(l.stopped()),
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

async fn session_stream(State(l): State<Arc<Launcher>>, IdQuery(id, _): IdQuery) -> Response {
    let Some(pty) = l.sessions.live.pty(&id) else {
        return LauncherError::NotFound(format!("no live session {id}")).into_response();
    };
    let (scrollback, rx) = pty.subscribe();
    let first = Event::default()
        .event("output")
        .data(json!({"text": String::from_utf8_lossy(&scrollback)}).to_string());
    let exited = {
        let pty = Arc::clone(&pty);
        async move {
            pty.wait().await;
            // The reader publishes the last output just after the exit.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let live = BroadcastStream::new(rx)
        .map(|item| match item {
            Ok(chunk) => Ok(Event::default()
                .event("output")
                .data(json!({"text": String::from_utf8_lossy(&chunk)}).to_string())),
            Err(BroadcastStreamRecvError::Lagged(n)) => Ok(Event::default()
                .event("lagged")
                .data(json!({"missed_chunks": n}).to_string())),
        })
        .take_until(exited);
    let ended = stream::once(async move {
        let code = pty.wait().await;
        Ok(Event::default()
            .event("exit")
            .data(json!({"code": code}).to_string()))
    });
    let stream: EventStream = Box::pin(
        stream::once(async move { Ok(first) })
            .chain(live)
            .chain(ended)
            .take_until(l.stopped()),
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
