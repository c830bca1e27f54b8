//! A report that asks the user to confirm something: *Confirm* / *Reject*
//! with a note, or *Put aside*; the answer goes to the department's running
//! planner (or the one that resumed it), and while none runs, only *Put
//! aside*. The launcher keeps the answer, so an answered question is gone
//! in every tab.

use serde_json::json;

use super::parts::{Action, Call, Does, Fill, Hold, InputView, Part};
use super::words::title;
use super::NeedView;
use crate::model::Session;
use crate::views::session::{ConfirmationView, SessionView};

/// A report that asks the user to confirm something: *Confirm* / *Reject*
/// with a note, or *Put aside*; the answer goes to the running planner,
/// and while none of its planners runs, only *Put aside*.
pub(super) fn confirmation(v: &SessionView) -> Option<NeedView> {
    let s = &v.session;
    let c = v.confirmation.as_ref().filter(|c| c.answer.is_none())?;
    let asked = Asked {
        s,
        c,
        planner: s.parent_session_id().unwrap_or_default(),
    };
    let at = s
        .department_part()
        .and_then(|d| d.reported_at.as_deref())
        .or(s.ended_at.as_deref())
        .unwrap_or(&s.started_at);
    let mut item = NeedView::new(
        format!("confirm:{}:{}", s.id, c.report_id),
        "confirm",
        at,
        format!("{}: its report asks for your confirmation", title(s)),
    )
    .of(&s.id)
    .detail(c.question.clone());
    if c.answered_by.is_none() {
        asked.no_planner_runs(&mut item);
        return Some(item);
    }
    item.input = Some(asked.note());
    item.actions = vec![
        asked
            .answer("confirm", Hold::Item)
            .action("Confirm", "primary", "confirm"),
        asked
            .answer("reject", Hold::Item)
            .action("Reject", "danger", "reject"),
        asked
            .answer("dismiss", Hold::Item)
            .action("Put aside", "", "dismiss"),
        asked.open_report(),
        Action::show(&s.id),
    ];
    Some(item)
}

/// The department whose report asks, what it asks, and its planner.
struct Asked<'a> {
    s: &'a Session,
    c: &'a ConfirmationView,
    planner: &'a str,
}

impl Asked<'_> {
    /// The call that answers `decision` (`confirm`, `reject`, `dismiss`)
    /// with the note typed beside it.
    fn answer(&self, decision: &str, hold: Hold) -> Call {
        let (s, c) = (self.s, self.c);
        let done = match (decision, &c.answered_by) {
            ("dismiss", _) => format!("Put aside {}'s question.", s.id),
            (d, by) => format!(
                "Told {}: you {} {}'s question.",
                by.as_deref().unwrap_or(self.planner),
                if d == "confirm" {
                    "confirmed"
                } else {
                    "rejected"
                },
                s.id
            ),
        };
        Call::one(
            "/api/answer_confirmation",
            json!({"department_session_id": s.id, "report_id": c.report_id, "decision": decision}),
            format!("Could not answer {}", s.id),
        )
        .fill(Fill {
            field: "note",
            required: None,
            number: false,
            whole: false,
            clear: false,
        })
        .done(done)
        .hold(hold)
    }

    fn open_report(&self) -> Action {
        Action {
            label: "Open the report".into(),
            class: String::new(),
            action: None,
            title: None,
            aria_label: None,
            does: Does::OpenHandoff {
                planner: self.planner.to_string(),
                department: self.s.id.clone(),
                report: self.c.report_id.clone(),
            },
        }
    }

    fn note(&self) -> InputView {
        InputView {
            name: "note",
            class: "need-note",
            in_actions: false,
            rows: Some(1),
            label: format!(
                "note to the planner with your answer to {} (optional)",
                self.s.id
            ),
            placeholder: Some("Note with your answer (optional)".into()),
            step: None,
            value: None,
        }
    }

    /// No planner of it runs: an answer would reach no one, so only *Put
    /// aside* (and showing the planner to resume it).
    fn no_planner_runs(&self, item: &mut NeedView) {
        let planner = self.planner;
        item.body = vec![Part::Why {
            text: format!(
                "Its planner {planner} is not running, so an answer would reach no one: resume \
                 {planner} (its row has Resume…) to answer, or put the question aside."
            ),
        }];
        item.actions = vec![
            Action::new(
                format!("Show {planner}"),
                "",
                "show-planner",
                Does::Show {
                    session: planner.to_string(),
                },
            ),
            self.answer("dismiss", Hold::Button)
                .action("Put aside", "", "dismiss"),
            self.open_report(),
        ];
    }
}
