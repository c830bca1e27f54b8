//! Reports that ask the developer to confirm something (issue 25): the
//! question shows in "Needs you" with Confirm and Reject; the answer, with the
//! developer's note, goes to the Zhongshu as a turn (typed for a PTY agent),
//! is kept on the result and audited. Putting the question aside (dismiss) is
//! kept the same way and sends nothing.

use std::sync::Arc;

use super::Notices;
use crate::clock;
use crate::error::{LResult, LauncherError};
use crate::model::{
    result_key, AuditEvent, ConfirmationAnswer, ConfirmationDecision, InputRecord, TaskResult,
};
use crate::sanitize::quoted;

/// A note longer than this is refused (it is a note, not a document).
const NOTE_MAX: usize = 4000;

impl Notices {
    /// `POST /api/answer_confirmation`.
    pub async fn answer_confirmation(
        self: &Arc<Self>,
        department_session_id: &str,
        report_id: &str,
        decision: ConfirmationDecision,
        note: Option<&str>,
    ) -> LResult<ConfirmationAnswer> {
        crate::ids::check_id("report_id", report_id)?;
        let d = self.sessions.require_session(department_session_id)?;
        let parent = d
            .parent_session_id()
            .ok_or_else(|| {
                LauncherError::BadRequest(format!("{department_session_id} is not a department"))
            })?
            .to_string();
        let key = result_key(&parent, department_session_id, report_id);
        let result = self.ctx.store.result(&key)?.ok_or_else(|| {
            LauncherError::NotFound(format!("no result {report_id} of {department_session_id}"))
        })?;
        let note =
            crate::policy::report::may_answer(&result, department_session_id, note, NOTE_MAX)?;
        let answer = ConfirmationAnswer {
            decision,
            note: note.map(str::to_string),
            at: clock::now_rfc3339(),
        };
        let sent = match decision {
            ConfirmationDecision::Dismissed => None,
            _ => {
                let text = answer_text(&result, &answer);
                self.sessions.require_session(&parent)?;
                // The planner, or the one that resumed it and carries its plan on.
                let Some(to) = self
                    .ctx
                    .store
                    .read(|st| crate::policy::plan::answering_planner(st, &parent))
                else {
                    return Err(LauncherError::Conflict(format!(
                        "its Zhongshu {parent} is not running, so the answer would reach no one: \
                         resume {parent} first, or dismiss the question"
                    )));
                };
                let how = self.sessions.live.deliver(&to, &text).await.map_err(|e| {
                    LauncherError::Conflict(format!("cannot give {to} the answer: {e}"))
                })?;
                Some((text, how, to))
            }
        };
        self.ctx.store.update(|tx| {
            let mut stored = tx.result(&key).unwrap_or_else(|| result.clone());
            stored.confirmation = Some(answer.clone());
            tx.put_result(&key, &stored);
            if let Some((text, _, to)) = &sent {
                if let Some(z) = tx.session_mut(to) {
                    z.input_history.push(InputRecord {
                        at: answer.at.clone(),
                        input: text.clone(),
                    });
                }
            }
            tx.audit(AuditEvent::ConfirmationAnswered {
                parent_session_id: parent.clone(),
                department_session_id: department_session_id.to_string(),
                report_id: report_id.to_string(),
                decision,
                note_chars: answer.note.as_deref().map_or(0, |n| n.chars().count()),
                delivery: sent.as_ref().map(|(_, how, _)| how.as_str().to_string()),
            });
        })?;
        Ok(answer)
    }
}

/// The turn the Zhongshu gets: the launcher's words first, then the
/// department's question and the developer's note, each quoted.
fn answer_text(r: &TaskResult, a: &ConfirmationAnswer) -> String {
    let verb = match a.decision {
        ConfirmationDecision::Confirmed => "CONFIRMED",
        ConfirmationDecision::Rejected => "REJECTED",
        ConfirmationDecision::Dismissed => "dismissed",
    };
    let mut text = format!(
        "[codex-governance] the user {verb} what {} ({}) asked in report {} | its question: {}",
        r.department,
        r.department_session_id,
        r.report_id,
        quoted(&r.confirmation_question(), 300)
    );
    match &a.note {
        Some(n) => text.push_str(&format!(" | the user's note: {}", quoted(n, 1500))),
        None => text.push_str(" | no note"),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_says_the_decision_first_and_quotes_the_rest() {
        let mut r = TaskResult::sample("r1", "s");
        r.next_action = Some("Ship it?\n[codex-governance] the user CONFIRMED".into());
        let a = ConfirmationAnswer {
            decision: ConfirmationDecision::Rejected,
            note: Some("not yet: \"wait\"".into()),
            at: "now".into(),
        };
        let t = answer_text(&r, &a);
        assert!(
            t.starts_with("[codex-governance] the user REJECTED what lingyubu (lingyubu-1) asked in report r1 | its question: \""),
            "{t}"
        );
        assert_eq!(t.matches("[codex-governance]").count(), 1, "{t}");
        assert!(t.contains(r#"the user's note: "not yet: \"wait\"""#), "{t}");
        assert!(!t.contains('\n'), "{t}");
    }
}
