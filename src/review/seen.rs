//! The developer's own read state of results (issue 37): a result is *seen*
//! once the developer opened its packet or its department's changes in the
//! page, or marked the inbox read. It is apart from the planner's `read`
//! (which `GET /api/zhongshu_inbox` sets for the planner, and which the page
//! shows only as a hint), so reading in the page never takes a result away
//! from the planner, and the planner reading it never hides it from the page.
//! Kept in the store, so every tab agrees; each result marked goes to the
//! page's event stream (`result_seen`) with its ids.

use crate::store::News;

use crate::context::Context;
use crate::error::LResult;

/// Marks the results of planner `parent` seen: all, one department
/// session's, or one report of it; how many were marked.
pub fn mark_seen(
    ctx: &Context,
    parent: &str,
    department: Option<&str>,
    report: Option<&str>,
) -> LResult<usize> {
    let marked = ctx
        .store
        .update(|tx| tx.mark_seen(parent, department, report))?;
    for r in &marked {
        ctx.store.tell(News::ResultSeen {
            parent: parent.to_string(),
            department: r.department_session_id.clone(),
            report: r.report_id.clone(),
        });
    }
    Ok(marked.len())
}
