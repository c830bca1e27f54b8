//! What a phone's decision calls (`notify::Deciders`): the same service
//! calls the page's handlers make (`POST /api/approval`,
//! `POST /api/start_assignments` with the revision shown).

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::model::ApprovalDecision;
use crate::plans::queue::Dispatcher;
use crate::sessions::Sessions;

pub(super) struct Deciders {
    pub sessions: Arc<Sessions>,
    pub dispatcher: Arc<Dispatcher>,
}

impl crate::notify::Deciders for Deciders {
    fn approval(
        &self,
        session_id: String,
        request_id: String,
        accept: bool,
        by: &'static str,
        nonce: String,
    ) -> BoxFuture<'_, crate::error::LResult<()>> {
        Box::pin(async move {
            let decision = if accept {
                ApprovalDecision::Accept
            } else {
                ApprovalDecision::Decline
            };
            self.sessions
                .live
                .decide_by(&session_id, &request_id, decision, by, Some(nonce))
                .await
                .map(|_| ())
        })
    }

    fn patch_stays_in_worktree(&self, session_id: &str, request_id: &str) -> bool {
        self.sessions
            .patch_stays_in_worktree(session_id, request_id)
    }

    fn confirm_plan(
        &self,
        zhongshu: String,
        revision: u64,
        nonce: String,
    ) -> BoxFuture<'_, crate::error::LResult<()>> {
        Box::pin(async move {
            self.dispatcher
                .start_assignments(&zhongshu, None, Some(revision), Some(nonce))
                .await
                .map(|_| ())
        })
    }

    fn decline_plan(
        &self,
        zhongshu: String,
        revision: u64,
        by: &'static str,
        nonce: String,
    ) -> BoxFuture<'_, crate::error::LResult<()>> {
        Box::pin(async move {
            self.dispatcher
                .decline_plan(&zhongshu, revision, by, Some(nonce))
                .await
        })
    }
}
