//! The review queue's item (issue 37): every department whose recorded work
//! waits for the user, in the order they started, in one item ("3
//! departments' changes wait for you: zhilibu (1 file), …") with *Review
//! next*; once every plan whose work waits has finished, that this is the
//! end of it, and what to do.

use std::collections::BTreeSet;

use super::parts::{Action, Does, Part, QueueEntry};
use super::words::{count, cut_text, task_words};
use super::{Inputs, NeedView};
use crate::model::{Decision, LandingState, PlanStatus, RiskLevel};
use crate::policy::needs_you as rules;
use crate::views::session::SessionView;

/// The item for all waiting work, or none when nothing waits.
pub(super) fn item(inputs: &Inputs) -> Option<NeedView> {
    let mut all: Vec<&SessionView> = inputs
        .sessions
        .iter()
        .filter(|v| v.session.is_department() && v.awaits_user)
        .collect();
    all.sort_by(|a, b| {
        (a.session.started_at.as_str(), a.session.id.as_str())
            .cmp(&(b.session.started_at.as_str(), b.session.id.as_str()))
    });
    let first = all.first()?;
    let lines: Vec<String> = all.iter().map(|v| short_line(v, &all)).collect();
    let newest = all
        .iter()
        .map(|v| {
            let s = &v.session;
            s.ended_at
                .as_deref()
                .or(s.department_part().and_then(|d| d.reported_at.as_deref()))
                .unwrap_or(&s.started_at)
        })
        .max()
        .unwrap_or("");
    let state = &inputs.snap.state;
    let mut item = NeedView::new(
        "changes".into(),
        "changes",
        newest,
        format!("{}: {}", headline(inputs, &all), lines.join(", ")),
    )
    .detail(
        "Review next opens each in the drawer, one after the other: apply, merge, discard or \
         send it back.",
    )
    .told(
        all.iter()
            .filter_map(|v| state.sessions.get(&v.session.id))
            .filter_map(rules::review_ready),
    );
    item.body = vec![Part::Queue {
        entries: all
            .iter()
            .zip(lines)
            .map(|(v, line)| QueueEntry {
                session: v.session.id.clone(),
                line,
                title: format!("review the changes of {}", v.session.id),
                parts: details(v),
            })
            .collect(),
    }];
    item.actions = vec![Action::new(
        "Review next",
        "primary review-next",
        "review-next",
        Does::OpenChanges {
            session: first.session.id.clone(),
        },
    )
    .titled("open the waiting changes in the drawer, one after the other")];
    Some(item)
}

/// How one waiting department reads in the list: "lingyubu (2 files · REVIEW)".
fn short_line(v: &SessionView, all: &[&SessionView]) -> String {
    let s = &v.session;
    // One naming for the whole list: departments' names while each is one,
    // else every session's id (never "gongchengbu-1 … lingyubu" side by side).
    let by_id = all.iter().any(|o| match &o.session.department {
        None => true,
        Some(d) => {
            all.iter()
                .filter(|x| x.session.department.as_ref() == Some(d))
                .count()
                > 1
        }
    });
    let who = match (&s.department, by_id) {
        (Some(d), false) => d.as_str(),
        _ => s.id.as_str(),
    };
    let ws = s.workspace();
    let flags: Vec<String> = [
        s.department_part()
            .and_then(|d| d.attempt.as_ref())
            .map(|a| format!("attempt {} of {}: compare", a.n, a.of)),
        ws.and_then(|w| w.diff_stat.as_ref())
            .map(|d| count(d.files, "file")),
        ws.and_then(|w| w.review.as_ref())
            .filter(|r| r.decision == Decision::Review)
            .map(|_| "REVIEW".into()),
        v.workspace_facts
            .filter(|f| f.conflicting)
            .map(|_| "conflicts".into()),
    ]
    .into_iter()
    .flatten()
    .collect();
    match flags.is_empty() {
        true => who.to_string(),
        false => format!("{who} ({})", flags.join(" · ")),
    }
}

/// Files under a label, when there are any.
fn paths(label: &str, paths: impl IntoIterator<Item = String>) -> Option<Part> {
    let paths: Vec<String> = paths.into_iter().filter(|p| !p.is_empty()).collect();
    (!paths.is_empty()).then(|| Part::Paths {
        label: label.into(),
        paths,
    })
}

/// What one department's line in the item says beyond its name.
fn details(v: &SessionView) -> Vec<Part> {
    let Some(ws) = v.session.workspace() else {
        return Vec::new();
    };
    let r = ws.review.as_ref();
    let claim = r.and_then(|r| r.claim.as_ref());
    let planned: Vec<String> = r
        .map(|r| r.scope.assigned_outside.clone())
        .unwrap_or_default();
    let out_of_scope = r
        .map(|r| r.scope.out_of_scope.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !planned.contains(p));
    let risks = r
        .map(|r| r.risks.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|x| x.level != RiskLevel::Low)
        .map(|x| format!("{} ({}, {})", x.path, x.name, x.level.as_str()));
    let conflicting = v.workspace_facts.is_some_and(|f| f.conflicting);
    [
        paths(
            "assigned by the planner outside its globs (out of scope)",
            planned.clone(),
        ),
        paths("out of its scope", out_of_scope),
        paths(
            "changed but not reported",
            claim.map(|c| c.unreported.clone()).unwrap_or_default(),
        ),
        paths(
            "reported but not changed",
            claim.map(|c| c.unchanged.clone()).unwrap_or_default(),
        ),
        paths("risks", risks),
        conflicting
            .then(|| paths("conflicting", ws.conflicts.clone()))
            .flatten(),
        ws.landing
            .as_ref()
            .filter(|l| l.state == LandingState::Failed)
            .map(|l| Part::Line {
                class: "need-detail landing-failed",
                text: format!(
                    "its Merge's checks failed, nothing landed: {}",
                    l.failure.as_deref().unwrap_or("failed")
                ),
            }),
        v.integration_needs_override.then(|| Part::Line {
            class: "need-detail",
            text: "launcher.scope is block: integrating it needs your override for the files \
                   out of its scope (audited)."
                .into(),
        }),
    ]
    .into_iter()
    .flatten()
    .collect()
}

const NUMBERS: [&str; 11] = [
    "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
];

/// What the item says first: while plans run, what waits; once every plan
/// whose work waits has finished, that this is the end of it, and what to do.
fn headline(inputs: &Inputs, all: &[&SessionView]) -> String {
    let plans: BTreeSet<Option<&str>> = all.iter().map(|v| v.session.parent_session_id()).collect();
    let view = |id: &str| inputs.sessions.iter().find(|v| v.session.id == id);
    // Finished, and none of their departments still at work or being recorded.
    let busy = inputs.sessions.iter().any(|v| {
        plans.contains(&v.session.parent_session_id())
            && (v.session.is_running() || v.workspace_facts.is_some_and(|f| f.working))
    });
    let ended = !busy
        && plans.iter().all(|id| {
            let status = id
                .and_then(view)
                .and_then(|v| v.session.zhongshu())
                .and_then(|z| z.plan_status);
            matches!(status, Some(PlanStatus::Finished | PlanStatus::Stopped))
        });
    let n = all.len();
    if !ended {
        return match n {
            1 => "1 department's changes wait for you".into(),
            _ => format!("{n} departments' changes wait for you"),
        };
    }
    let number = NUMBERS
        .get(n)
        .map_or_else(|| n.to_string(), |w| w.to_string());
    // With other planners about, say whose plan it is.
    let planners = inputs
        .sessions
        .iter()
        .filter(|v| v.session.is_zhongshu())
        .count();
    let whose = match (plans.iter().next(), plans.len(), planners > 1) {
        (Some(Some(id)), 1, true) => {
            let task = view(id).map_or("", |v| v.session.task.as_str());
            format!(" ({id}: {})", cut_text(&task_words(task), 40))
        }
        _ => String::new(),
    };
    format!(
        "{}{whose}: apply or merge the {}",
        if plans.len() == 1 {
            "Plan finished"
        } else {
            "Plans finished"
        },
        if n == 1 {
            "department's changes".to_string()
        } else {
            format!("{number} departments' changes")
        }
    )
}
