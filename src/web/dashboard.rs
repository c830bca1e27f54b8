//! `GET /`: the dashboard page (askama template, embedded static JS and CSS).
//!
//! Opening the URL the launcher printed (`/?token=...`) sets the token as an
//! HttpOnly, SameSite=Strict cookie and redirects to `/`, so the token leaves the
//! address bar and the page's own API calls carry it.

use std::collections::HashMap;
use std::sync::Arc;

use super::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::failure;
use super::security::{cookie_value, token_eq, COOKIE_NAME};
use crate::launcher::Launcher;

pub fn routes() -> Routes {
    Routes::new().get("/", page).get("/static/{*path}", asset)
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard<'a> {
    project_name: &'a str,
    repo: &'a str,
}

async fn page(
    State(l): State<Arc<Launcher>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = q.get("token") {
        if !token_eq(token, &l.token) {
            return failure(StatusCode::UNAUTHORIZED, "wrong token");
        }
        let cookie = format!("{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict");
        return (
            StatusCode::SEE_OTHER,
            [
                (header::SET_COOKIE, cookie),
                (header::LOCATION, "/".to_string()),
            ],
        )
            .into_response();
    }
    let authorized = cookie_value(&headers, COOKIE_NAME)
        .map(|t| token_eq(t, &l.token))
        .unwrap_or(false);
    if !authorized {
        return failure(
            StatusCode::UNAUTHORIZED,
            "open the URL the launcher printed (it carries ?token=)",
        );
    }
    let html = Dashboard {
        project_name: &l.config.launcher.project_name,
        repo: &l.repo.display().to_string(),
    }
    .render();
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
        Err(e) => failure(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn asset(Path(path): Path<String>) -> Response {
    crate::terminal::assets::static_response(&path)
}
