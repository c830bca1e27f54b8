//! Telling a Zhongshu: notices of registered results (one per window), its
//! inbox, the answers to its confirmations, and a restart with what it knew.

pub mod confirm;
pub mod inbox;
pub mod pending;
pub mod restart;

use std::sync::Arc;

use crate::context::Context;
use crate::mailbox::NOTICE_WINDOW;
use crate::sessions::Sessions;

/// Notices to the Zhongshus: what is waiting to be told (per window), told
/// and recorded; the inbox's hint; the answers to their confirmations.
pub struct Notices {
    ctx: Arc<Context>,
    sessions: Arc<Sessions>,
    /// Result keys waiting to be announced, per Zhongshu.
    pending: pending::PendingNotices,
}

impl Notices {
    pub fn new(ctx: Arc<Context>, sessions: Arc<Sessions>) -> Notices {
        Notices {
            ctx,
            sessions,
            pending: Default::default(),
        }
    }

    /// Adds a result to the next notice; the first one opens it. An idle
    /// Zhongshu is told at once (results registered together still make one
    /// notice); one that is working gets what arrives within the window as one.
    pub(crate) fn queue_notice(self: &Arc<Self>, zhongshu_id: &str, keys: Vec<String>) {
        if !self.pending.add(zhongshu_id, keys) {
            return;
        }
        let this = Arc::clone(self);
        let zid = zhongshu_id.to_string();
        self.ctx.spawn(async move {
            if this.sessions.live.is_working(&zid) {
                tokio::time::sleep(NOTICE_WINDOW).await;
            }
            let keys = this.pending.take(&zid);
            this.send_notice(&zid, &keys).await;
        });
    }
}
