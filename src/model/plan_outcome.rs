//! When a plan is done, and how it ended: every assignment that was to run has
//! ended (reported, failed, ended without a report, or stopped), and a
//! department that ended silently has its fallback result. Until then the plan
//! is not finished; a retry makes it unfinished again.

use serde::{Deserialize, Serialize};

use super::{AssignmentStatus, PlainState, Plan, Session, StateWord};

/// How a finished (or stopped) plan's assignments ended.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanOutcome {
    /// Assignments that were to run (the user's unticked ones are not counted).
    pub assignments: usize,
    pub reported: usize,
    /// Ended with an error, or could not start.
    pub failed: usize,
    /// Ended without a report (a fallback result stands in for it).
    pub no_report: usize,
    /// Stopped by the developer, or dropped from the queue unstarted.
    pub stopped: usize,
}

impl PlanOutcome {
    /// "3 of 3 ended: 2 reported, 1 failed", the zero counts left out.
    pub fn words(&self) -> String {
        let parts: Vec<String> = [
            (self.reported, "reported"),
            (self.failed, "failed"),
            (self.no_report, "without a report"),
            (self.stopped, "stopped"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| format!("{n} {w}"))
        .collect();
        let ended = self.reported + self.failed + self.no_report + self.stopped;
        if parts.is_empty() {
            return "no assignment ran".to_string();
        }
        format!(
            "{ended} of {} ended: {}",
            self.assignments,
            parts.join(", ")
        )
    }
}

/// How one assignment's department stands, for the count.
enum Ended {
    Reported,
    Failed,
    NoReport,
    Stopped,
}

/// How `plan` ended, once all its assignments have; None while one is queued,
/// running, or ended without its fallback result yet. `session` finds an
/// assignment's session; `settled` says whether an ended session's result
/// (its report or its fallback) is registered.
pub fn plan_outcome<'a>(
    plan: &Plan,
    session: impl Fn(&str) -> Option<&'a Session>,
    settled: impl Fn(&Session) -> bool,
) -> Option<PlanOutcome> {
    let mut o = PlanOutcome::default();
    for a in plan.assignments.iter().filter(|a| a.selected) {
        let ended = match a.status {
            AssignmentStatus::Skipped => continue,
            AssignmentStatus::Proposed | AssignmentStatus::Queued => return None,
            AssignmentStatus::Failed => Ended::Failed,
            AssignmentStatus::Dropped => Ended::Stopped,
            AssignmentStatus::Started => {
                let s = a.session_id.as_deref().and_then(&session)?;
                department_end(s, &settled)?
            }
        };
        o.assignments += 1;
        match ended {
            Ended::Reported => o.reported += 1,
            Ended::Failed => o.failed += 1,
            Ended::NoReport => o.no_report += 1,
            Ended::Stopped => o.stopped += 1,
        }
    }
    Some(o)
}

/// How a started department ended; None while it still runs (unreported) or
/// waits for its fallback.
fn department_end(s: &Session, settled: &impl Fn(&Session) -> bool) -> Option<Ended> {
    if s.has_reported() {
        return Some(Ended::Reported);
    }
    if s.is_running() || !settled(s) {
        return None;
    }
    let PlainState { state, .. } = super::plain_state(s);
    Some(match state {
        StateWord::Failed => Ended::Failed,
        StateWord::StoppedByYou => Ended::Stopped,
        _ => Ended::NoReport,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Assignment, CloseReason, KindPart, PlanStatus, ReportStatus};

    fn session(id: &str) -> Session {
        Session::sample_department(id)
    }

    fn ended(s: Session, code: i32, reason: Option<CloseReason>) -> Session {
        s.ended_for_test(code, reason)
    }

    fn reported(mut s: Session) -> Session {
        if let KindPart::Department(d) = &mut s.kind {
            d.report_status = Some(ReportStatus::Reported);
        }
        s
    }

    fn assignment(status: AssignmentStatus, session: Option<&str>) -> Assignment {
        Assignment {
            department: "lingyubu".into(),
            title: "领域部".into(),
            duty: String::new(),
            task: "t".into(),
            model: "m".into(),
            files: vec![],
            verify: vec![],
            reason: None,
            model_reason: None,
            scope_note: None,
            selected: status != AssignmentStatus::Skipped,
            status,
            session_id: session.map(str::to_string),
            attempt: None,
            remote: None,
            queue_id: None,
            error: None,
            earlier_sessions: vec![],
            sent_back: 0,
            review_comments: 0,
        }
    }

    fn plan(assignments: Vec<Assignment>) -> Plan {
        Plan {
            session_id: "zhongshu-1".into(),
            revision: 1,
            summary: "s".into(),
            assignments,
            needs_confirmation: false,
            status: PlanStatus::Dispatched,
            registered_at: "now".into(),
            confirmed_at: None,
            finished_at: None,
            outcome: None,
            attempt_choices: Default::default(),
            budget_usd: None,
            budget_tokens: None,
            budget_reached: None,
            base: None,
        }
    }

    #[test]
    fn a_plan_finishes_when_every_assignment_ended_and_counts_how() {
        let sessions = [
            reported(ended(session("d-1"), 143, Some(CloseReason::Reported))),
            ended(session("d-2"), 3, None),
            ended(session("d-3"), 0, None),
            ended(session("d-4"), 143, Some(CloseReason::PlanStopped)),
        ];
        let find = |id: &str| sessions.iter().find(|s| s.id == id);
        let p = plan(vec![
            assignment(AssignmentStatus::Started, Some("d-1")),
            assignment(AssignmentStatus::Started, Some("d-2")),
            assignment(AssignmentStatus::Started, Some("d-3")),
            assignment(AssignmentStatus::Started, Some("d-4")),
            assignment(AssignmentStatus::Dropped, None),
            assignment(AssignmentStatus::Failed, None),
            assignment(AssignmentStatus::Skipped, None),
        ]);
        let o = plan_outcome(&p, find, |_| true).expect("finished");
        assert_eq!(
            o,
            PlanOutcome {
                assignments: 6,
                reported: 1,
                failed: 2,
                no_report: 1,
                stopped: 2,
            }
        );
        assert_eq!(
            o.words(),
            "6 of 6 ended: 1 reported, 2 failed, 1 without a report, 2 stopped"
        );
        assert!(
            plan_outcome(&p, find, |_| false).is_none(),
            "a silent end waits for its fallback result"
        );
    }

    #[test]
    fn anything_queued_or_running_keeps_it_open() {
        let running = [session("d-1")];
        let find = |id: &str| running.iter().find(|s| s.id == id);
        let p = plan(vec![assignment(AssignmentStatus::Started, Some("d-1"))]);
        assert!(plan_outcome(&p, find, |_| true).is_none(), "running");
        let reported_running = [reported(session("d-1"))];
        let find = |id: &str| reported_running.iter().find(|s| s.id == id);
        assert_eq!(
            plan_outcome(&p, find, |_| false).map(|o| o.reported),
            Some(1),
            "a department that reported is done even before it is closed"
        );
        let p = plan(vec![assignment(AssignmentStatus::Queued, None)]);
        assert!(plan_outcome(&p, |_| None, |_| true).is_none(), "queued");
    }
}
