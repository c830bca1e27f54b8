//! The user's answer to a repository configuration that waits for trust
//! (`config_trust` in `/api/status`). The developer's only.

use axum::extract::State;
use axum::response::Response;

use super::L;
use crate::model::AuditEvent;
use crate::web::answer::reply;
use crate::web::JsonBody;

/// `POST /api/trust_config {hash}`: the hash the page showed.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TrustInput {
    hash: String,
}

#[derive(serde::Serialize)]
struct Trusted {
    trusted: String,
}

pub(super) async fn trust_config(State(l): L, JsonBody(b): JsonBody<TrustInput>) -> Response {
    let answer = l
        .sessions
        .trust
        .trust(&b.hash)
        .map_err(crate::error::LauncherError::from)
        .and_then(|()| {
            let file = l
                .ctx
                .config
                .source
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            l.ctx.store.update(|tx| {
                tx.audit(AuditEvent::ConfigTrusted {
                    file,
                    config_hash: b.hash.clone(),
                });
            })?;
            Ok(Trusted {
                trusted: b.hash.clone(),
            })
        });
    if answer.is_ok() {
        // Sessions that waited for the trust resume now, and the hosts the
        // file names may be reached.
        let this = std::sync::Arc::clone(&l);
        l.ctx.spawn(async move {
            // What the file names may run now: the backend is asked, the
            // phone is told.
            this.start_notifier();
            this.recheck_backend().await;
            this.resume_sessions().await;
            if !this.ctx.config.launcher.remotes.is_empty() {
                this.check_remotes().await;
            }
        });
    }
    reply(answer)
}
