//! `GET /`: the dashboard page (askama template, embedded static JS and CSS).
//!
//! The page holds no data and no secret, so it is served without the token. The
//! URL the launcher prints carries the token in its fragment (`/#token=...`),
//! which browsers never send; the page's script moves it to `sessionStorage`,
//! clears the address bar and sends it as `Authorization: Bearer` on each call.
//! No cookie is set: browsers share cookies across ports, so another local
//! service (or a second launcher) would receive it (see SECURITY.md).

use super::routes::Routes;
use askama::Template;
use axum::extract::Path;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::query::Params;
use crate::error::LauncherError;

pub fn routes() -> Routes {
    Routes::new().get("/", page).get("/static/{*path}", asset)
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard;

/// The page's query: nothing is read from it but a misplaced token.
#[derive(Deserialize)]
struct PageQuery {
    token: Option<String>,
}

async fn page(Params(q): Params<PageQuery>) -> Response {
    if q.token.is_some() {
        // A token in the query would travel in the request line (logs, history).
        return LauncherError::BadRequest(
            "the token goes in the URL fragment, never the query: open the URL the launcher printed (…/#token=…)".into(),
        )
        .into_response();
    }
    let html = Dashboard.render();
    match html {
        Ok(html) => (
            [
                (header::CACHE_CONTROL, "no-store"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src http://127.0.0.1:* http://localhost:*; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
                ),
                (header::X_FRAME_OPTIONS, "DENY"),
            ],
            Html(html),
        )
            .into_response(),
        Err(e) => LauncherError::from(e).into_response(),
    }
}

async fn asset(Path(path): Path<String>) -> Response {
    crate::terminal::assets::static_response(&path)
}
