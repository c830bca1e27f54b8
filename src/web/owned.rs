//! Authorization as extractors. A handler says which record it acts on by the
//! type of its parameter, and the check that the caller may act for that
//! record (`policy::scopes::may_act_for`) runs before the handler body, a
//! refusal answered 403 like every forbidden. The security layer has already
//! decided the route (`policy::scopes::may_call`) and put the caller's
//! [`Principal`] in the request; these decide the record. What an agent may
//! see of a view goes through [`Owned::show`] (`views::redact`).

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::query::{IdQuery, Nothing};
use super::JsonBody;
use crate::credentials::{Grant, Principal};
use crate::error::LauncherError;
use crate::launcher::Launcher;
use crate::model::Session;
use crate::policy::scopes::{may_act_for, owner_of};
use crate::views::redact::Redact;

/// Who calls: the developer or an agent session.
pub struct Caller(pub Principal);

impl Caller {
    /// `view` as this caller may see it: an agent's token and a paired
    /// phone's see no terminal URL (it carries a token that types into a
    /// PTY), typed input or transcript.
    pub fn show<V: Redact>(&self, mut view: V) -> V {
        if !self.sees_transcripts() {
            view.hide_from_agents();
        }
        view
    }

    /// Only the developer at the desk reads transcripts, typed input and
    /// terminal URLs; an agent's token and a paired phone's never do.
    pub fn sees_transcripts(&self) -> bool {
        matches!(self.0, Principal::User)
    }

    /// A paired phone's answer within `notify.remote_decisions` (403
    /// otherwise); the developer's and anyone else's pass.
    pub fn may_answer(
        &self,
        l: &Launcher,
        answer: crate::policy::notice::PageAnswer,
    ) -> Result<(), LauncherError> {
        match self.0 {
            Principal::Phone(_) => Ok(crate::policy::notice::phone_page_may(
                l.notifier.remote_decisions(),
                answer,
            )?),
            _ => Ok(()),
        }
    }

    /// Who decided, as the audit says it: the page at the desk or a phone's.
    pub fn by(&self) -> &'static str {
        match self.0 {
            Principal::Phone(_) => "phone (page)",
            _ => "dashboard",
        }
    }

    /// 403 unless the caller may act for session `id`.
    fn may_act_for(&self, id: &str) -> Result<(), LauncherError> {
        Ok(may_act_for(&self.0, id)?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| {
                LauncherError::Unauthorized(
                    "missing or wrong token: send Authorization: Bearer <token>".into(),
                )
                .into_response()
            })
    }
}

/// Session `id` (`?id=` or `?session_id=`), which the caller may act for,
/// and the route's other parameters.
pub struct Owned<T = Nothing> {
    pub id: String,
    pub caller: Caller,
    pub params: T,
}

impl<T> Owned<T> {
    /// `view` as the caller may see it.
    pub fn show<V: Redact>(&self, view: V) -> V {
        self.caller.show(view)
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Owned<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let IdQuery(id, params) = IdQuery::<T>::from_request_parts(parts, state).await?;
        let caller = Caller::from_request_parts(parts, state).await?;
        caller
            .may_act_for(&id)
            .map_err(IntoResponse::into_response)?;
        Ok(Owned { id, caller, params })
    }
}

/// A department (`?id=` or `?session_id=`) whose records the caller may
/// read: the developer, or the Zhongshu it works for (404 when unknown).
pub struct OwnedDepartment<T = Nothing> {
    pub session: Session,
    pub params: T,
}

impl<T: DeserializeOwned + Send> FromRequestParts<Arc<Launcher>> for OwnedDepartment<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, l: &Arc<Launcher>) -> Result<Self, Response> {
        let IdQuery(id, params) = IdQuery::<T>::from_request_parts(parts, l).await?;
        let caller = Caller::from_request_parts(parts, l).await?;
        let session = l
            .sessions
            .require_session(&id)
            .map_err(IntoResponse::into_response)?;
        caller
            .may_act_for(owner_of(&session))
            .map_err(IntoResponse::into_response)?;
        Ok(OwnedDepartment { session, params })
    }
}

/// A request body that names the Zhongshu it is for (under any of the
/// Python tool's keys).
pub trait NamesZhongshu {
    fn named_zhongshu(&self) -> Option<String>;
}

impl NamesZhongshu for crate::plans::queue::PlanInput {
    fn named_zhongshu(&self) -> Option<String> {
        crate::plans::queue::PlanInput::named_zhongshu(self)
    }
}

impl NamesZhongshu for crate::mailbox::notices::inbox::NotifyInput {
    fn named_zhongshu(&self) -> Option<String> {
        crate::mailbox::notices::inbox::NotifyInput::named_zhongshu(self)
    }
}

/// A body for a Zhongshu the caller may act for: the one it names, else (as
/// the Python tool did) the caller's own session for an agent's token and the
/// newest running Zhongshu for the developer's (400 when there is none).
pub struct ForZhongshu<T> {
    pub id: String,
    pub body: T,
}

impl<T: DeserializeOwned + NamesZhongshu> FromRequest<Arc<Launcher>> for ForZhongshu<T> {
    type Rejection = Response;

    async fn from_request(req: Request, l: &Arc<Launcher>) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let caller = Caller::from_request_parts(&mut parts, l).await?;
        let JsonBody(body) =
            JsonBody::<T>::from_request(Request::from_parts(parts, body), l).await?;
        let id = named_or_newest(l, &caller.0, body.named_zhongshu())
            .map_err(IntoResponse::into_response)?;
        caller
            .may_act_for(&id)
            .map_err(IntoResponse::into_response)?;
        Ok(ForZhongshu { id, body })
    }
}

/// The Zhongshu a request names, else the caller's own session for an
/// agent's token and the newest running Zhongshu for the developer's.
pub fn named_or_newest(
    l: &Launcher,
    p: &Principal,
    named: Option<String>,
) -> Result<String, LauncherError> {
    if let Some(id) = named {
        return Ok(id);
    }
    if let Principal::Session(g) = p {
        return Ok(g.session_id.clone());
    }
    l.ctx
        .store
        .read(|s| s.newest_running_zhongshu().map(|z| z.id.clone()))
        .ok_or_else(|| {
            LauncherError::BadRequest(
                "parent_session_id is required because no Zhongshu session is running".into(),
            )
        })
}

/// A request body that names a department (`session_id`).
pub trait NamesDepartment {
    fn department(&self) -> &str;
}

/// A body about a department the caller may act for: any for the developer;
/// for a Zhongshu's token, one of its own departments (403 otherwise, 404
/// when there is no such session). The id is checked first (400).
pub struct ForDepartment<T> {
    pub caller: Caller,
    pub body: T,
}

impl<T: DeserializeOwned + NamesDepartment> FromRequest<Arc<Launcher>> for ForDepartment<T> {
    type Rejection = Response;

    async fn from_request(req: Request, l: &Arc<Launcher>) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let caller = Caller::from_request_parts(&mut parts, l).await?;
        let JsonBody(body) =
            JsonBody::<T>::from_request(Request::from_parts(parts, body), l).await?;
        let id = body.department();
        crate::ids::check_id("session_id", id)
            .map_err(|e| LauncherError::from(e).into_response())?;
        if let Principal::Session(_) = caller.0 {
            let session = l
                .sessions
                .require_session(id)
                .map_err(IntoResponse::into_response)?;
            caller
                .may_act_for(owner_of(&session))
                .map_err(IntoResponse::into_response)?;
        }
        Ok(ForDepartment { caller, body })
    }
}

/// A body sent with a session's own token (its grant), read first (a body
/// that is not an object is a 400 whoever sends it): a department speaks only
/// for itself, so the developer's token is refused.
pub struct FromSession<T> {
    pub grant: Grant,
    pub body: T,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for FromSession<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let caller = Caller::from_request_parts(&mut parts, state).await?;
        let JsonBody(body) =
            JsonBody::<T>::from_request(Request::from_parts(parts, body), state).await?;
        match caller.0 {
            Principal::Session(grant) => Ok(FromSession { grant, body }),
            Principal::User | Principal::Phone(_) => Err(LauncherError::Forbidden(
                "results are submitted with a department session's token (codex-governance mailbox send)"
                    .into(),
            )
            .into_response()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SessionKind;

    fn parts(uri: &str, caller: Option<Principal>) -> Parts {
        let mut parts = axum::http::Request::builder()
            .uri(uri)
            .body(())
            .unwrap()
            .into_parts()
            .0;
        if let Some(p) = caller {
            parts.extensions.insert(p);
        }
        parts
    }

    fn zhongshu(id: &str) -> Principal {
        Principal::Session(Grant {
            session_id: id.into(),
            kind: SessionKind::Zhongshu,
            parent_session_id: None,
            department: None,
        })
    }

    async fn owned(uri: &str, caller: Option<Principal>) -> Result<String, u16> {
        Owned::<Nothing>::from_request_parts(&mut parts(uri, caller), &())
            .await
            .map(|o| o.id)
            .map_err(|r| r.status().as_u16())
    }

    #[tokio::test]
    async fn a_session_token_reaches_its_own_id_only_and_anything_else_is_403() {
        let own = owned("/x?id=zhongshu-1", Some(zhongshu("zhongshu-1"))).await;
        assert_eq!(own, Ok("zhongshu-1".to_string()));
        let other = owned("/x?id=zhongshu-2", Some(zhongshu("zhongshu-1"))).await;
        assert_eq!(other, Err(403));
        let user = owned("/x?session_id=zhongshu-2", Some(Principal::User)).await;
        assert_eq!(user, Ok("zhongshu-2".to_string()));
        // The id is read first (400), and no caller is no access (401).
        assert_eq!(owned("/x", Some(zhongshu("zhongshu-1"))).await, Err(400));
        assert_eq!(owned("/x?id=zhongshu-1", None).await, Err(401));
    }
}
