//! A department's report through its own channel: `POST /api/submit_result`
//! with its session token, or the `governance_report_result` tool. The report is
//! bound to the sending session (it cannot speak for another), kept in
//! `archive/` as a file like any other, registered through the same path as
//! mailbox files and marked `verified: true`.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::report_file::sha256_hex;
use super::{Outcome, Report};
use crate::credentials::Grant;
use crate::error::{LResult, LauncherError};
use crate::mailbox::names::unique_name;
use crate::mailbox::Mailbox;
use crate::model::{SessionKind, TaskResult, ToolReceipt};

impl Mailbox {
    pub async fn submit_result(
        self: &Arc<Self>,
        grant: &Grant,
        mut body: Map<String, Value>,
        receipt: Option<ToolReceipt>,
    ) -> LResult<Submitted> {
        let (Some(parent), Some(department)) = (&grant.parent_session_id, &grant.department) else {
            return Err(LauncherError::BadRequest(
                "only a department session submits results".into(),
            ));
        };
        debug_assert_eq!(grant.kind, SessionKind::Department);
        speak_for_itself(grant, parent, department, &mut body)?;
        let mut result =
            self.ingest
                .validate(parent, &body, crate::policy::report::Channel::Token)?;
        result.verified = true;
        let paths = self.ctx.paths.mailbox(parent);
        let bytes = serde_json::to_vec_pretty(&Value::Object(body))?;
        let name = format!("{}-{}.json", grant.session_id, crate::clock::file_stamp());
        let dest = unique_name(&paths.archive, &name, &mut HashSet::new());
        crate::platform::create_private_dir(&paths.archive)
            .and_then(|_| crate::files::write_atomic(&dest, &bytes))
            .map_err(|e| {
                LauncherError::Internal(format!("cannot write {}: {e}", dest.display()))
            })?;
        let report = Report {
            path: dest.clone(),
            name,
            hash: sha256_hex(&bytes),
            result,
            archived: true,
            receipt,
        };
        let ingest = Arc::clone(&self.ingest);
        let parent_id = parent.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let mut outcome = Outcome::default();
            ingest.register_batch(
                &ingest.ctx.paths.mailbox(&parent_id),
                vec![report],
                &mut outcome,
            );
            outcome
        })
        .await?;
        if let Some((_, reason)) = outcome.refused.first() {
            return Err(LauncherError::Conflict(reason.clone()));
        }
        let Some((key, _)) = outcome.registered.first().cloned() else {
            return Err(LauncherError::Internal(
                "the result was not registered (see the launcher log)".into(),
            ));
        };
        self.after_results(parent, outcome.registered);
        let result = self.ctx.store.result(&key)?;
        Ok(Submitted {
            result,
            verified: true,
            file: dest,
        })
    }
}

/// Fills the report's own ids from the token and refuses ids of another
/// session: a session reports only for itself.
fn speak_for_itself(
    grant: &Grant,
    parent: &str,
    department: &str,
    body: &mut Map<String, Value>,
) -> LResult<()> {
    for (key, own) in [
        ("department_session_id", grant.session_id.as_str()),
        ("department", department),
        ("parent_session_id", parent),
    ] {
        match body.get(key) {
            None | Some(Value::Null) => {
                body.insert(key.into(), own.into());
            }
            Some(Value::String(v)) if v == own => {}
            Some(other) => {
                return Err(LauncherError::Forbidden(format!(
                "{key} is {other}, but this token belongs to {}: a session reports only for itself",
                grant.session_id
            )))
            }
        }
    }
    Ok(())
}

/// The answer to `POST /api/submit_result`: the registered result and its file.
#[derive(Debug, serde::Serialize)]
pub struct Submitted {
    pub result: Option<TaskResult>,
    pub verified: bool,
    pub file: std::path::PathBuf,
}
