//! Reviewing the team's work from the dashboard (issue 14, item 3).
//!
//! The developer reads what a department reported and what it changed without
//! leaving the page, so the launcher serves three read-only views, each for the
//! developer's token only:
//!
//! - [`handoff`]: a registered result's handoff packet, as Markdown and as HTML
//!   rendered here with every piece of raw HTML escaped ([`markdown`]);
//! - [`raw`]: the report exactly as it was received (the archived mailbox file),
//!   or the stored result when no file was kept;
//! - [`diff`]: one changed file's diff against HEAD or a base revision, through
//!   libgit2, for a path checked by [`repo_path`];
//! - [`changes`]: what an isolated department changed (its recorded commit
//!   against its base), file by file;
//! - [`comments`]: the reviewer's comments on lines of that diff, sent back
//!   to the department as one review.
//!
//! Agent text reaches all three (reports, packets, the files agents wrote), so
//! nothing here trusts it: files are read only inside the launcher's state
//! folder, without following links and up to a size limit ([`state_file`]);
//! Markdown never becomes live markup; diff paths never leave the repository.
//! This module knows nothing of HTTP: `web::api::review` parses requests and
//! maps [`crate::error::LauncherError`] kinds to statuses.

pub mod changes;
mod comment_lines;
pub mod comments;
pub mod diff;
pub mod gate;
pub mod handoff;
pub mod markdown;
pub mod overlaps;
pub mod patch;
pub mod raw;
pub mod repo_path;
pub mod seen;
pub mod state_file;

use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::model::{result_key, TaskResult};

pub use diff::{file_diff, FileDiff, MAX_LINES};
pub use handoff::handoff;
pub use markdown::safe_html;
pub use raw::result_raw;
pub use repo_path::check_path;

/// Which registered result a request names: its Zhongshu (`session_id`), the
/// department session that sent it and its report id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRef {
    pub session_id: String,
    pub department_session_id: String,
    pub report_id: String,
}

impl ResultRef {
    /// From a request's three ids (as its query names them); each must be
    /// present and valid.
    pub fn named(
        session_id: Option<String>,
        department_session_id: Option<String>,
        report_id: Option<String>,
    ) -> LResult<ResultRef> {
        let field = |name: &str, value: Option<String>| -> LResult<String> {
            let value =
                value.ok_or_else(|| LauncherError::BadRequest(format!("missing ?{name}=")))?;
            crate::ids::check_id(name, &value)?;
            Ok(value)
        };
        Ok(ResultRef {
            session_id: field("session_id", session_id)?,
            department_session_id: field("department_session_id", department_session_id)?,
            report_id: field("report_id", report_id)?,
        })
    }

    /// The stored result, or NotFound.
    pub fn load(&self, ctx: &Context) -> LResult<TaskResult> {
        let key = result_key(
            &self.session_id,
            &self.department_session_id,
            &self.report_id,
        );
        ctx.store.result(&key)?.ok_or_else(|| {
            LauncherError::NotFound(format!(
                "no result {} of {} for {}",
                self.report_id, self.department_session_id, self.session_id
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(ids: [Option<&str>; 3]) -> LResult<ResultRef> {
        let [s, d, r] = ids.map(|v| v.map(str::to_string));
        ResultRef::named(s, d, r)
    }

    #[test]
    fn a_result_is_named_by_three_valid_ids() {
        let ids = [Some("zhongshu-1"), Some("lingyubu-2"), Some("r_3")];
        assert_eq!(
            named(ids).unwrap(),
            ResultRef {
                session_id: "zhongshu-1".into(),
                department_session_id: "lingyubu-2".into(),
                report_id: "r_3".into(),
            }
        );
        let err = named([Some("zhongshu-1"), None, Some("r")]).unwrap_err();
        assert!(
            matches!(&err, LauncherError::BadRequest(m) if m == "missing ?department_session_id="),
            "{err}"
        );
        let err = named([Some("../zhongshu-1"), Some("d"), Some("r")]).unwrap_err();
        assert!(
            matches!(&err, LauncherError::BadRequest(m) if m.starts_with("session_id must match")),
            "{err}"
        );
    }
}
