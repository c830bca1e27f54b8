//! The launcher as a whole: health, status, the Zhongshu list, the governance
//! report, open terminals and the audit log, page by page.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{Params, L};
use crate::credentials::Principal;
use crate::error::{ErrorCode, LauncherError};
use crate::views::report::ReportView;
use crate::views::status::IngestionView;
use crate::views::terminals::TerminalView;
use crate::web::answer::reply;
use crate::web::answer::{ok, with_status};
use crate::web::owned::Caller;
use crate::web::query::whole;

/// 200 while the launcher works; 503 when the mailbox ingestion is stuck.
pub(super) async fn healthz(State(l): L) -> Response {
    let ingestion = l.mailbox.ingestion_health();
    let chain = l.audit_chain_problem();
    let degraded = ingestion.is_stuck() || chain.is_some();
    let body = Health {
        status: if degraded { "degraded" } else { "ok" },
        mailbox_ingestion: crate::views::status::ingestion(&ingestion),
        audit_chain: Chain {
            ok: chain.is_none(),
            problem: chain.map(str::to_string),
        },
    };
    if ingestion.is_stuck() {
        return with_status(ErrorCode::Unavailable, body);
    }
    ok(body)
}

/// `GET /healthz`.
#[derive(Serialize)]
pub(super) struct Health {
    status: &'static str,
    mailbox_ingestion: IngestionView,
    audit_chain: Chain,
}

#[derive(Serialize)]
pub(super) struct Chain {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

pub(super) async fn status(State(l): L, Caller(p): Caller) -> Response {
    if let Principal::Session(grant) = &p {
        // An agent sees its own group only, without transcripts or terminal URLs.
        return Json(l.status_for_agent(grant)).into_response();
    }
    if let Principal::Phone(phone) = &p {
        return Json(l.status_for_phone(phone)).into_response();
    }
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        l.status_bytes(),
    )
        .into_response()
}

/// `POST /api/check_agents`: *Check again* after installing or logging in
/// to Codex; the problems found now (none: sessions can start).
pub(super) async fn check_agents(
    State(l): L,
    // An object, as every POST takes (nothing in it is read).
    crate::web::JsonBody(_): crate::web::JsonBody<serde_json::Map<String, serde_json::Value>>,
) -> Response {
    let problems = l.recheck_backend().await;
    reply(Ok::<_, crate::error::LauncherError>(
        serde_json::json!({ "problems": problems }),
    ))
}

/// `POST /api/check_remotes`: the pre-flight of every host of
/// `launcher.remotes` again; what each found.
pub(super) async fn check_remotes(
    State(l): L,
    crate::web::JsonBody(_): crate::web::JsonBody<serde_json::Map<String, serde_json::Value>>,
) -> Response {
    let remotes = l.check_remotes().await;
    reply(Ok::<_, crate::error::LauncherError>(
        serde_json::json!({ "remotes": remotes }),
    ))
}

pub(super) async fn zhongshu_sessions(State(l): L) -> Response {
    Json(l.zhongshu_sessions_view()).into_response()
}

/// `GET /api/report`'s parameters.
#[derive(Deserialize)]
pub(super) struct ReportQuery {
    mode: Option<String>,
    base: Option<String>,
}

pub(super) async fn report(State(l): L, Params(q): Params<ReportQuery>) -> Response {
    let mode = match crate::report::Mode::parse(q.mode.as_deref(), q.base.as_deref()) {
        Ok(m) => m,
        Err(e) => return LauncherError::BadRequest(e.to_string()).into_response(),
    };
    let launcher = Arc::clone(&l);
    let built = tokio::task::spawn_blocking(move || {
        crate::report::build_report(&launcher.ctx.repo, &launcher.ctx.config, &mode)
    })
    .await;
    let built = built
        .map_err(LauncherError::from)
        .and_then(|r| r.map_err(|e| LauncherError::BadRequest(e.to_string())));
    // The Python tool's shape (`{ok, report}`), and ours flat beside it.
    reply(built.map(ReportView::from))
}

pub(super) async fn browser_terminals(State(l): L) -> Response {
    let terminals = l.ctx.store.read(|s| l.listed_terminals(s));
    ok(Terminals {
        terminals: terminals.clone(),
        browser_terminals: terminals,
    })
}

/// Open terminals, under our name and the Python tool's.
#[derive(Serialize)]
pub(super) struct Terminals {
    terminals: Vec<TerminalView>,
    browser_terminals: Vec<TerminalView>,
}

/// `GET /api/audit`'s parameters: lines after `since`, or the page before
/// `before`, `limit` at a time (1000 unless given; 1 to 10,000).
#[derive(Deserialize)]
pub(super) struct AuditQuery {
    #[serde(default, deserialize_with = "whole")]
    since: Option<u64>,
    #[serde(default, deserialize_with = "whole")]
    limit: Option<usize>,
    #[serde(default, deserialize_with = "whole")]
    before: Option<u64>,
}

pub(super) async fn audit(State(l): L, Params(q): Params<AuditQuery>) -> Response {
    let (since, limit, before) = (
        q.since.unwrap_or(0),
        q.limit.unwrap_or(1000).clamp(1, 10_000),
        q.before,
    );
    let log = l.ctx.store.audit_log();
    let page = match before {
        Some(before) => log.read_before(before, limit),
        None => log.read_since(since, limit),
    };
    match page {
        Ok(events) => {
            // A page back in time says where the one before it ends.
            let first = events.first().and_then(|e| e["seq"].as_u64());
            let next_before = before.and(first).filter(|seq| *seq > 1);
            ok(AuditPage {
                events,
                last_seq: log.last_seq(),
                next_before,
            })
        }
        Err(source) => LauncherError::Io {
            what: "cannot read the audit log".into(),
            source,
        }
        .into_response(),
    }
}

/// `GET /api/audit`: lines as written, and where the page before this one ends.
#[derive(Serialize)]
pub(super) struct AuditPage {
    events: Vec<serde_json::Value>,
    last_seq: u64,
    next_before: Option<u64>,
}
