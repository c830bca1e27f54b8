//! Reading a Zhongshu's inbox (`GET /api/zhongshu_inbox`, the planner's
//! `governance_read_inbox` tool): a page of its results, marking what it had
//! not read unless it only peeks. The answer is built by `views::inbox`.

use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::model::TaskResult;
use crate::sessions::Sessions;
use crate::store::ResultPage;

/// What one read of the inbox found.
#[derive(Debug)]
pub struct InboxRead {
    /// What this read marked read (none when peeking).
    pub newly_read: Vec<TaskResult>,
    pub page: ResultPage,
    /// The Zhongshu's result count, when asked.
    pub total: Option<usize>,
}

/// A page of Zhongshu `id`'s results (`limit` of them before `before`);
/// marks its unread results read unless `peek`.
pub fn read_inbox(
    ctx: &Context,
    sessions: &Sessions,
    id: &str,
    peek: bool,
    (limit, before): (usize, Option<i64>),
    count: bool,
) -> LResult<InboxRead> {
    let z = sessions.require_session(id)?;
    if !z.is_zhongshu() {
        return Err(LauncherError::BadRequest(format!(
            "{id} is not a Zhongshu session"
        )));
    }
    // Python-era readers take what this call read as `unread_results`.
    let newly_read: Vec<TaskResult> = if peek {
        Vec::new()
    } else {
        ctx.store.update(|tx| tx.mark_read(id))?
    };
    let marked = newly_read.len();
    if marked > 0 {
        ctx.store.tell(crate::store::News::ResultsRead {
            parent: id.to_string(),
            count: marked,
        });
    }
    // Counting costs a pass over this Zhongshu's results: only when asked.
    let (page, total) = if count {
        let (page, total) = ctx.store.results_page_counted(id, limit, before)?;
        (page, Some(total))
    } else {
        (ctx.store.results_page(id, limit, before)?, None)
    };
    Ok(InboxRead {
        newly_read,
        page,
        total,
    })
}
