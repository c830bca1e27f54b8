//! The end of a plan: once every assignment that was to run has ended (and a
//! silent end has its fallback result), the plan is marked finished with its
//! counts, in one change with its audit line, and the launcher is told so its
//! Zhongshu hears of it. A stopped plan gets its counts the same way.

use crate::context::Context;
use crate::model::{AuditEvent, Plan, PlanStatus, Session};
use crate::sessions::start::workspace::sync_plan_status;

/// Marks finished every dispatched plan whose assignments all ended, and a
/// stopped plan once its departments have; returns the Zhongshu ids of the
/// plans that finished now (a stopped one is not announced: its planner
/// is closed).
pub(super) fn settle_plans(ctx: &Context) -> Vec<String> {
    let open: Vec<(Plan, Vec<Session>)> = ctx.store.read(|s| {
        s.plans
            .values()
            .filter(|p| open_plan(p))
            .map(|p| {
                let sessions = p
                    .assignments
                    .iter()
                    .filter_map(|a| a.session_id.as_deref())
                    .filter_map(|id| s.sessions.get(id).cloned())
                    .collect();
                (p.clone(), sessions)
            })
            .collect()
    });
    let mut finished = Vec::new();
    for (p, sessions) in open {
        let settled = |s: &Session| ctx.store.has_result_for(&s.id).unwrap_or(false);
        let find = |id: &str| sessions.iter().find(|s| s.id == id);
        let Some(outcome) = crate::model::plan_outcome(&p, find, settled) else {
            continue;
        };
        let zid = p.session_id.clone();
        let now = crate::clock::now_rfc3339();
        let done = ctx.store.update(|tx| {
            let current = tx.plan_mut(&zid)?;
            if current.revision != p.revision || !open_plan(current) {
                return None;
            }
            if current.status == PlanStatus::Dispatched {
                current.status = PlanStatus::Finished;
            }
            current.finished_at = Some(now.clone());
            current.outcome = Some(outcome);
            let status = current.status;
            sync_plan_status(tx, &zid);
            tx.audit(AuditEvent::PlanFinished {
                session_id: zid.clone(),
                status,
                outcome,
            });
            Some(status)
        });
        match done {
            Ok(Some(PlanStatus::Finished)) => finished.push(zid),
            Ok(_) => {}
            Err(e) => tracing::error!("marking the plan of {zid} finished: {e}"),
        }
    }
    finished
}

/// A plan whose end is still to be recorded.
fn open_plan(p: &Plan) -> bool {
    match p.status {
        PlanStatus::Dispatched => true,
        PlanStatus::Stopped => p.outcome.is_none(),
        _ => false,
    }
}
