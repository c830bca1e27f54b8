//! Typed query strings. Each route reads its parameters into a
//! `#[derive(Deserialize)]` struct through `axum::extract::Query`; this is the
//! one place where a query string that does not fit is answered: a 400 in the
//! failure shape, naming a number that is not a whole number, the missing or
//! invalid `?id=`, or else what could not be read. Parameters a route does not
//! know are ignored (no struct denies unknown fields).

use std::str::FromStr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

use crate::error::LauncherError;

/// What a whole-number parameter's deserializer says when it is not one.
const NOT_WHOLE: &str = "must be a whole number";

/// A route's query parameters, read into `T`.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(q)| Params(q))
            .map_err(refused)
    }
}

/// A query parameter that should have been a whole number; answered with a 400.
#[derive(Debug, thiserror::Error)]
#[error("{name} {NOT_WHOLE}")]
pub struct NotAWholeNumber {
    name: String,
}

impl From<NotAWholeNumber> for LauncherError {
    fn from(e: NotAWholeNumber) -> Self {
        LauncherError::BadRequest(e.to_string())
    }
}

/// The answer to a query string `T` cannot be read from.
fn refused(e: QueryRejection) -> Response {
    match not_whole(&e) {
        Some(name) => LauncherError::from(NotAWholeNumber { name }).into_response(),
        None => LauncherError::BadRequest(format!("bad query string: {e}")).into_response(),
    }
}

/// The parameter a [`whole`] deserializer refused, found in the rejection's
/// sources (axum reads queries through `serde_path_to_error`).
fn not_whole(e: &QueryRejection) -> Option<String> {
    type PathError = serde_path_to_error::Error<serde::de::value::Error>;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(found) = err.downcast_ref::<PathError>() {
            return (found.inner().to_string() == NOT_WHOLE).then(|| found.path().to_string());
        }
        source = err.source();
    }
    None
}

/// `?name=` as a whole number of type `T`; absent is None.
pub fn whole<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
{
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom(NOT_WHOLE)),
    }
}

/// `?name=` as yes (`1`, `true`, `yes`) or no (anything else, or absent).
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    Ok(matches!(text.as_deref(), Some("1" | "true" | "yes")))
}

/// A route that takes nothing but its id.
#[derive(Debug, Deserialize)]
pub struct Nothing {}

/// The session a route is about: `?id=`, or the Python tool's `?session_id=`
/// (`id` wins when both are given).
#[derive(Debug, Deserialize)]
struct SessionIds {
    id: Option<String>,
    session_id: Option<String>,
}

/// A validated session id (`?id=`, alias `session_id`), then the route's other
/// parameters `T`.
pub struct IdQuery<T = Nothing>(pub String, pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for IdQuery<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Params(ids) = Params::<SessionIds>::from_request_parts(parts, state).await?;
        let id = ids
            .id
            .or(ids.session_id)
            .ok_or_else(|| LauncherError::BadRequest("missing ?id=".into()).into_response())?;
        crate::ids::check_id("id", &id).map_err(|e| LauncherError::from(e).into_response())?;
        let Params(rest) = Params::<T>::from_request_parts(parts, state).await?;
        Ok(IdQuery(id, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    /// A route's parameters beside its id: two numbers and a flag.
    #[derive(Debug, Deserialize)]
    struct Span {
        #[serde(default, deserialize_with = "whole")]
        from: Option<i64>,
        #[serde(default, deserialize_with = "whole")]
        size: Option<usize>,
        #[serde(default, deserialize_with = "flag")]
        all: bool,
    }

    fn parts(uri: &str) -> Parts {
        axum::http::Request::builder()
            .uri(uri)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    async fn params<T: DeserializeOwned>(uri: &str) -> Result<T, (u16, String)> {
        match Params::<T>::from_request_parts(&mut parts(uri), &()).await {
            Ok(Params(q)) => Ok(q),
            Err(r) => Err(answer(r).await),
        }
    }

    async fn with_id<T: DeserializeOwned>(uri: &str) -> Result<(String, T), (u16, String)> {
        match IdQuery::<T>::from_request_parts(&mut parts(uri), &()).await {
            Ok(IdQuery(id, q)) => Ok((id, q)),
            Err(r) => Err(answer(r).await),
        }
    }

    /// The status and the failure's `error` words.
    async fn answer(r: Response) -> (u16, String) {
        let status = r.status().as_u16();
        let body = to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["ok"], false, "{json}");
        (status, json["error"].as_str().unwrap().to_string())
    }

    #[tokio::test]
    async fn numbers_and_flags_are_typed_and_other_parameters_are_ignored() {
        let q: Span = params("/x?size=5&from=-2&all=yes&other=1").await.unwrap();
        assert_eq!((q.size, q.from, q.all), (Some(5), Some(-2), true));
        let q: Span = params("/x?all=no").await.unwrap();
        assert_eq!((q.size, q.from, q.all), (None, None, false));
    }

    #[tokio::test]
    async fn a_number_that_is_not_one_is_named_in_a_400() {
        for (uri, words) in [
            ("/x?size=abc", "size must be a whole number"),
            ("/x?size=-1", "size must be a whole number"),
            ("/x?from=1.5", "from must be a whole number"),
            ("/x?size=", "size must be a whole number"),
        ] {
            let err = params::<Span>(uri).await.unwrap_err();
            assert_eq!(err, (400, words.to_string()), "{uri}");
        }
    }

    #[tokio::test]
    async fn the_id_is_checked_under_either_name_before_the_rest() {
        let (id, q) = with_id::<Span>("/x?session_id=zhongshu-1&size=2")
            .await
            .unwrap();
        assert_eq!((id.as_str(), q.size), ("zhongshu-1", Some(2)));
        let (id, _) = with_id::<Nothing>("/x?id=a&session_id=b").await.unwrap();
        assert_eq!(id, "a", "id wins");
        let missing = with_id::<Nothing>("/x?all=1").await.unwrap_err();
        assert_eq!(missing, (400, "missing ?id=".to_string()));
        let (status, words) = with_id::<Span>("/x?id=..%2Fetc&size=x").await.unwrap_err();
        assert_eq!(status, 400);
        assert!(words.starts_with("id must match"), "{words}");
        let empty = with_id::<Nothing>("/x?id=").await.unwrap_err();
        assert_eq!(empty.0, 400, "{empty:?}");
        let (_, words) = with_id::<Span>("/x?id=z&size=x").await.unwrap_err();
        assert_eq!(words, "size must be a whole number");
    }
}
