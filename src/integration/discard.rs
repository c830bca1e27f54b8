//! A Discard as the saga's shape (issue 50 item 1): the worktree's record
//! (kept only when it moved since the last one) and the decision in one
//! store change; the caller then removes the folder (one Git job, one
//! change, `tidy.rs`). The branch, with everything recorded, stays.

use std::sync::Arc;

use super::off_runtime;
use super::record;
use super::saga::{changing, latest, not_recorded, ATTEMPTS};
use crate::clock;
use crate::context::Context;
use crate::error::LResult;
use crate::model::{AuditEvent, Session};
use crate::policy::workspace::{enter, next, Event};
use crate::policy::Refusal;

/// A Discard: the record (when it moved) and the decision in one change;
/// the caller removes the folder after.
pub(super) async fn discard(ctx: &Arc<Context>, s: &Session) -> LResult<()> {
    let id = s.id.as_str();
    for _ in 0..ATTEMPTS {
        let claimed = record::last_claim(ctx, id)?;
        let snap = {
            let (ctx, s) = (Arc::clone(ctx), latest(ctx, s));
            off_runtime(move || {
                record::take_if_moved(&ctx, &s, claimed.as_deref())
                    .map_err(|e| not_recorded(&s.id, e))
            })
            .await?
        };
        let kept = ctx.store.update(|tx| {
            let state = tx.session(id).and_then(|s| s.workspace()).map(|w| w.state);
            let state = state.ok_or_else(|| Refusal::Unknown(format!("{id} has no worktree")))?;
            next(state, Event::Discarded)?;
            if let Some(snap) = &snap {
                if record::stale(tx, id, snap) {
                    return Ok(false);
                }
                record::keep(tx, id, snap, "discard");
            }
            let Some(w) = tx.session_mut(id).and_then(|s| s.workspace_mut()) else {
                return Ok(true);
            };
            enter(w, Event::Discarded)?;
            w.settled_at = Some(clock::now_rfc3339());
            w.conflicts.clear();
            let (branch, commit) = (w.branch.clone(), w.commit.clone());
            tx.audit(AuditEvent::WorktreeDiscarded {
                session_id: id.to_string(),
                branch,
                commit,
            });
            Ok::<bool, Refusal>(true)
        })??;
        if kept {
            return Ok(());
        }
    }
    Err(changing(id))
}
