//! What isolation asks of the user: a plan naming files the user changed
//! and did not commit, files holding a department's applied change (commit
//! them when ready), and a department's pull request whose checks failed or
//! whose review on the forge waits to go back.

use serde_json::json;

use super::parts::{Action, Call, Does, Hold, Part};
use super::words::{last_seen, plural, title};
use super::{Inputs, NeedView};
use crate::model::{AppliedFile, CheckVerdict, PullRequest, Session};
use crate::policy::needs_you as rules;
use crate::views::session::SessionView;

/// What isolation asks: per session, its plan's uncommitted files and its
/// pull request's failed checks or waiting review; then the files holding
/// a department's applied change.
pub(super) fn isolation(inputs: &Inputs) -> Vec<NeedView> {
    let mut out = Vec::new();
    for v in inputs.sessions {
        out.extend(dirty(v));
        out.extend(pull_request_failed(inputs, v));
        out.extend(pull_request_review(v));
    }
    out.extend(applied(inputs.applied_files));
    out
}

/// Files running plans name that hold a department's applied change, each
/// once however many plans name it: the department's work, waiting for the
/// user's commit (never "revert").
fn applied(applied: &[AppliedFile]) -> Option<NeedView> {
    let first = applied.first()?;
    // "README.md and docs/notes.md hold zhilibu-1's applied change", one
    // clause per department.
    let mut by_session: Vec<(&str, Vec<&str>)> = Vec::new();
    for f in applied {
        match by_session.iter_mut().find(|(id, _)| *id == f.session_id) {
            Some((_, paths)) => paths.push(&f.path),
            None => by_session.push((&f.session_id, vec![&f.path])),
        }
    }
    let said: Vec<String> = by_session
        .iter()
        .map(|(id, paths)| match paths.as_slice() {
            [one] => format!("{one} holds {id}'s applied change"),
            [rest @ .., last] => {
                format!("{} and {last} hold {id}'s applied change", rest.join(", "))
            }
            [] => String::new(),
        })
        .collect();
    let mut item = NeedView::new(
        "applied".into(),
        "applied",
        "",
        format!(
            "{}: commit {} when ready",
            said.join("; "),
            if applied.len() == 1 { "it" } else { "them" }
        ),
    )
    .of(&first.session_id)
    .detail(
        "You applied this department's work into your working tree, uncommitted. Review it there \
         and commit it when ready.",
    );
    item.body = vec![Part::Paths {
        label: "applied, not committed".into(),
        paths: applied.iter().map(|f| f.path.clone()).collect(),
    }];
    item.actions = vec![
        Action::new("Check again", "", "check-dirty", Does::Refresh),
        Action::show(&first.session_id),
    ];
    Some(item)
}

/// A planner's plan naming files the user changed and did not commit.
fn dirty(v: &SessionView) -> Option<NeedView> {
    let s = &v.session;
    let dirty = &v.zhongshu.as_ref()?.plan_dirty_files;
    if dirty.is_empty() {
        return None;
    }
    let mut item = NeedView::new(
        format!("dirty:{}", s.id),
        "dirty",
        last_seen(s),
        format!(
            "{}: its plan names {} file{} you changed and did not commit",
            title(s),
            dirty.len(),
            plural(dirty.len())
        ),
    )
    .of(&s.id)
    .detail(
        "Its departments start from the plan's base commit and do not see your changes there; \
         integrating their work may conflict. Commit or revert them.",
    );
    item.body = vec![Part::Paths {
        label: "uncommitted".into(),
        paths: dirty.clone(),
    }];
    item.actions = vec![
        Action::new("Check again", "", "check-dirty", Does::Refresh),
        Action::show(&s.id),
    ];
    Some(item)
}

/// *Review changes…* of a department.
fn review_changes(id: &str) -> Action {
    Action::new(
        "Review changes…",
        "",
        "review-changes",
        Does::OpenChanges {
            session: id.to_string(),
        },
    )
    .read_as(format!("review the changes of {id}"))
}

/// Work in review whose pull request's checks fail: *Send back with the failure*.
fn pull_request_failed(inputs: &Inputs, v: &SessionView) -> Option<NeedView> {
    let s = &v.session;
    let pr = s.workspace()?.pull_request.as_ref()?;
    let in_review = v.workspace_facts.is_some_and(|f| f.in_review);
    if !in_review || crate::model::verdict_of(&pr.checks) != Some(CheckVerdict::Failed) {
        return None;
    }
    let failing: Vec<&str> = pr
        .checks
        .iter()
        .filter(|c| c.verdict == CheckVerdict::Failed)
        .map(|c| c.name.as_str())
        .collect();
    let first = failing.first().copied().unwrap_or("its check");
    let send_back = send_back(
        s,
        "/api/send_back_failure",
        format!("Sent {} back with the failure of {first}.", s.id),
    );
    let mut item = pull_request_item(
        s,
        pr,
        "pr-failed",
        format!(
            "{}: CI failed on its pull request #{} ({})",
            title(s),
            pr.number,
            failing.join(", ")
        ),
    )
    .of(&s.id)
    .detail(
        "Send it back with the failure (its log goes to the same department, whose next report \
         updates the pull request), or review its changes.",
    )
    .told(
        inputs
            .snap
            .state
            .sessions
            .get(&s.id)
            .and_then(rules::check_failed),
    );
    item.body = vec![Part::Link {
        url: pr.url.clone(),
    }];
    item.actions = vec![
        Action {
            label: "Send back with the failure".into(),
            class: "primary send-back-failure".into(),
            action: None,
            title: Some(
                "the failing job's name, its log (trimmed, quoted as untrusted text) and the pull \
                 request's link go to the same department as its next turn; its next report \
                 updates this pull request"
                    .into(),
            ),
            aria_label: Some(format!("send {} back with the failure of {first}", s.id)),
            does: Does::Call(send_back),
        },
        review_changes(&s.id),
        Action::show(&s.id),
    ];
    Some(item)
}

/// A pull request whose review on the forge waits to go back to its
/// department: *Send back with the review*.
fn pull_request_review(v: &SessionView) -> Option<NeedView> {
    let s = &v.session;
    let pr = s.workspace()?.pull_request.as_ref()?;
    let n = pr.review_waiting.len();
    if n == 0 {
        return None;
    }
    // In one order whatever order the forge listed them in.
    let mut authors: Vec<&str> = pr
        .review_waiting
        .iter()
        .map(|r| r.author.as_str())
        .collect();
    authors.sort_unstable();
    authors.dedup();
    let send_back = send_back(
        s,
        "/api/send_back_review",
        format!("Sent {} back with the review.", s.id),
    );
    let mut item = pull_request_item(
        s,
        pr,
        "pr-review",
        format!(
            "{}: a review on its pull request #{} asks for changes ({n} note{} by {})",
            title(s),
            pr.number,
            plural(n),
            authors.join(", ")
        ),
    )
    .of(&s.id)
    .detail(
        "Send it back with the review (its comments go to the same department as untrusted \
         text; its next report updates the pull request and answers them), or review its changes.",
    );
    item.body = vec![Part::Link {
        url: pr.url.clone(),
    }];
    item.actions = vec![
        Action {
            label: "Send back with the review".into(),
            class: "primary send-back-review".into(),
            action: None,
            title: Some(
                "the forge's review and line comments (quoted as untrusted text, with their \
                 authors) go to the same department as its next turn; its next report updates \
                 this pull request and answers each comment"
                    .into(),
            ),
            aria_label: Some(format!(
                "send {} back with the review of its pull request ({n} note{})",
                s.id,
                plural(n)
            )),
            does: Does::Call(send_back),
        },
        review_changes(&s.id),
        Action::show(&s.id),
    ];
    Some(item)
}

/// A pull request's item, keyed `<kind>:<session>`, dated by its last check.
fn pull_request_item(s: &Session, pr: &PullRequest, kind: &str, text: String) -> NeedView {
    let at = pr
        .checked_at
        .as_deref()
        .or(s.ended_at.as_deref())
        .unwrap_or(&s.started_at);
    NeedView::new(format!("{kind}:{}", s.id), "pull-request", at, text)
}

/// Sends `s` back through `route` with what its pull request brought.
fn send_back(s: &Session, route: &'static str, done: String) -> Call {
    Call::one(route, json!({"session_id": s.id}), s.id.clone())
        .done(done)
        .hold(Hold::Nothing)
}
