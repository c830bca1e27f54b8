//! The `static/` folder, embedded in the binary (xterm.js, the terminal page's
//! script and style, and the dashboard's assets), served with a fitting
//! Content-Type and `nosniff`.

use axum::http::{header, HeaderValue};

use crate::error::LauncherError;
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

/// Every file under `static/`. In debug builds rust-embed reads them from disk.
#[derive(RustEmbed)]
#[folder = "static/"]
pub struct StaticAssets;

/// The asset at `path` (relative to `static/`, e.g. `vendor/xterm/xterm.mjs`), or a
/// JSON 404. Paths that try to leave the folder are not found.
pub fn static_response(path: &str) -> Response {
    let path = path.trim_start_matches('/');
    let safe = !path.is_empty()
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    let Some(file) = safe.then(|| StaticAssets::get(path)).flatten() else {
        return not_found();
    };
    let mut response = file.data.into_owned().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The JSON 404 every route of ours answers for unknown paths.
pub fn not_found() -> Response {
    LauncherError::NotFound("not found".into()).into_response()
}

fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" | "md" => "text/plain; charset=utf-8",
        // LICENSE, VERSIONS and the like.
        "" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_vendor_files_with_types() {
        let r = static_response("vendor/xterm/xterm.mjs");
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    #[test]
    fn refuses_traversal_and_unknown() {
        for p in [
            "../Cargo.toml",
            "vendor/../../Cargo.toml",
            "",
            "nope.js",
            "a//b",
        ] {
            assert_eq!(static_response(p).status().as_u16(), 404, "{p}");
        }
    }
}
