//! Whether a department's work may be integrated (issue 35 item 2): the
//! readiness gate (not while it runs, only work that waits for the user),
//! the scope gate with its override, whether the page must ask for that
//! override, and whether `launcher.auto_integrate` carries out a proposal
//! now. The integration service and the session view both ask here.

use super::Refusal;
use crate::config::ScopeMode;
use crate::model::{ChangeReview, IntegrationMode, Session, Workspace, WorkspaceState};

/// Refuses a department still at work, or one whose work is settled.
pub fn ready(s: &Session, ws: &Workspace) -> Result<(), Refusal> {
    let recorded = ws.commit.is_some() && ws.state.awaits_user();
    if s.is_running() && recorded {
        return Err(Refusal::Conflict(finishing_turn(&s.id)));
    }
    if s.is_running() {
        return Err(Refusal::Conflict(format!(
            "{} is still running: wait for its report or close it first",
            s.id
        )));
    }
    match ws.state {
        WorkspaceState::Pending | WorkspaceState::Conflicting => Ok(()),
        WorkspaceState::Working => match ws
            .workplace
            .host()
            .and_then(|r| Some((r, r.refused.as_ref()?)))
        {
            Some((remote, why)) => Err(Refusal::Conflict(format!(
                "{}'s work on {} was not brought back here, so there is nothing to integrate: \
                 {why}. Discard it (its branch on {} keeps the work) and start its task again",
                s.id, remote.host, remote.host
            ))),
            None => Err(Refusal::Conflict(format!(
                "{} has not been recorded yet: wait for its exit",
                s.id
            ))),
        },
        WorkspaceState::SentBack => Err(Refusal::Conflict(format!(
            "{} was sent back: its work goes on in {}",
            s.id,
            ws.successor.as_deref().unwrap_or("its successor")
        ))),
        other => Err(Refusal::Conflict(format!("{} is {other}", s.id))),
    }
}

/// A department whose report came and whose agent is still ending its
/// turn (issue 70 item 6): never asked for the report again.
pub fn finishing_turn(id: &str) -> String {
    format!("{id} reported and is finishing its turn: Apply and Merge are ready in a moment")
}

/// An integration the gate let through: plainly, or by the user's override of
/// an out-of-scope change (the files it overrode, for the audit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Open,
    Overridden(Vec<String>),
}

/// Whether a result may be integrated: with `scope: block`, one with files out
/// of scope needs the user's explicit override.
pub fn may_integrate(
    mode: ScopeMode,
    review: Option<&ChangeReview>,
    override_scope: bool,
) -> Result<Gate, Refusal> {
    let outside = review.map(ChangeReview::out_of_scope).unwrap_or_default();
    match (mode, outside.is_empty(), override_scope) {
        (_, true, _) | (ScopeMode::Warn, false, _) => Ok(Gate::Open),
        (ScopeMode::Block, false, true) => Ok(Gate::Overridden(outside.to_vec())),
        (ScopeMode::Block, false, false) => Err(Refusal::Conflict(format!(
            "launcher.scope is block and {} outside the department's scope: {}; integrate \
             with an explicit override (override_scope: true) if you accept {}",
            match outside.len() {
                1 => "1 changed file is".to_string(),
                n => format!("{n} changed files are"),
            },
            outside.join(", "),
            if outside.len() == 1 { "it" } else { "them" }
        ))),
    }
}

/// Whether integrating the waiting work `ws` needs the scope override: with
/// `scope: block`, work out of scope that waits for the user.
pub fn needs_override(mode: ScopeMode, ws: Option<&Workspace>) -> bool {
    mode == ScopeMode::Block
        && ws.is_some_and(|ws| {
            ws.state.awaits_user()
                && ws
                    .review
                    .as_ref()
                    .is_some_and(|r| !r.out_of_scope().is_empty())
        })
}

/// Whether a proposal made now is carried out at once: with
/// `launcher.auto_integrate`, for a department that stopped and whose work waits.
pub fn auto_integrates_now(auto: bool, s: &Session, ws: &Workspace) -> bool {
    auto && !s.is_running() && ws.state.awaits_user()
}

/// The proposal carried out when a department exits, with `launcher.auto_integrate`.
pub fn auto_integrates_at_exit(auto: bool, ws: &Workspace) -> Option<IntegrationMode> {
    ws.proposal.as_ref().filter(|_| auto).map(|p| p.mode)
}

/// Why an integration of `files` would conflict, in the user's words: the
/// files the user's working tree holds changes to (`uncommitted`) named as
/// such, the others as changed on both sides.
pub fn conflict_reason(files: &[String], uncommitted: &[String], unsafe_paths: bool) -> String {
    if unsafe_paths {
        return "they would be written through a link, into .git or into the launcher's state \
                folder"
            .to_string();
    }
    let yours: Vec<&str> = files
        .iter()
        .filter(|f| uncommitted.contains(f))
        .map(String::as_str)
        .collect();
    if yours.is_empty() {
        "the same lines changed on both sides".to_string()
    } else if yours.len() == files.len() {
        let them = if files.len() == 1 { "it" } else { "them" };
        format!("your working tree has uncommitted, untracked or ignored changes to {them}")
    } else {
        format!(
            "your working tree has uncommitted changes to {}; the others changed on both sides",
            yours.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "would conflict in README.md (they conflict, or hold uncommitted,
    /// untracked or ignored files of yours)" said neither (found walking the
    /// demo): now the user's changed files are named as such.
    #[test]
    fn a_conflict_says_which_files_are_the_users() {
        let files = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let both = files(&["README.md", "src/a.rs"]);
        assert_eq!(
            conflict_reason(&both, &[], false),
            "the same lines changed on both sides"
        );
        assert_eq!(
            conflict_reason(&both, &files(&["README.md"]), false),
            "your working tree has uncommitted changes to README.md; the others changed on both sides"
        );
        assert_eq!(
            conflict_reason(&files(&["README.md"]), &files(&["README.md", "x"]), false),
            "your working tree has uncommitted, untracked or ignored changes to it"
        );
        assert_eq!(
            conflict_reason(&both, &both, false),
            "your working tree has uncommitted, untracked or ignored changes to them"
        );
        assert!(conflict_reason(&both, &[], true).contains("through a link"));
    }
    use crate::model::{Proposal, SessionStatus};

    fn waiting(state: WorkspaceState, out_of_scope: &[&str]) -> Workspace {
        let mut ws: Workspace = serde_json::from_value(serde_json::json!({
            "path": "wt", "branch": "b", "base": "c", "name": "d-1", "state": state,
        }))
        .unwrap();
        ws.review = Some(ChangeReview {
            decision: crate::model::Decision::Pass,
            scope: crate::model::ScopeCheck {
                open: false,
                patterns: vec!["src/**".into()],
                out_of_scope: out_of_scope.iter().map(|s| s.to_string()).collect(),
                assigned_outside: Vec::new(),
            },
            claim: None,
            risks: Vec::new(),
            findings: Vec::new(),
        });
        ws
    }

    #[test]
    fn only_stopped_work_that_waits_may_go_and_out_of_scope_work_asks_for_the_override() {
        let mut s = Session::sample_department("d-1");
        s.status = SessionStatus::Running;
        let ws = waiting(WorkspaceState::Pending, &[]);
        assert!(matches!(ready(&s, &ws), Err(Refusal::Conflict(m)) if m.contains("still running")));
        assert!(!auto_integrates_now(true, &s, &ws), "it runs");
        s.status = SessionStatus::Exited;
        assert_eq!(ready(&s, &ws), Ok(()));
        assert!(auto_integrates_now(true, &s, &ws));
        assert!(!auto_integrates_now(false, &s, &ws));
        let sent = waiting(WorkspaceState::SentBack, &[]);
        assert!(matches!(ready(&s, &sent), Err(Refusal::Conflict(m)) if m.contains("sent back")));
        let outside = waiting(WorkspaceState::Pending, &["Cargo.toml"]);
        assert!(needs_override(ScopeMode::Block, Some(&outside)));
        assert!(!needs_override(ScopeMode::Warn, Some(&outside)));
        assert!(!needs_override(ScopeMode::Block, Some(&ws)));
        let settled = waiting(WorkspaceState::Merged, &["Cargo.toml"]);
        assert!(!needs_override(ScopeMode::Block, Some(&settled)));
        let mut proposed = ws.clone();
        proposed.proposal = Some(Proposal {
            mode: IntegrationMode::Merge,
            note: None,
            by: "z-1".into(),
            at: "now".into(),
        });
        assert_eq!(
            auto_integrates_at_exit(true, &proposed),
            Some(IntegrationMode::Merge)
        );
        assert_eq!(auto_integrates_at_exit(false, &proposed), None);
        assert_eq!(auto_integrates_at_exit(true, &ws), None);
    }

    /// Issue 69 item 9: a host's work whose fetch back was refused says why
    /// it cannot be integrated and what the user can do, not "wait".
    #[test]
    fn refused_work_from_a_host_says_why_and_what_to_do() {
        let mut s = Session::sample_department("d-1");
        s.status = SessionStatus::Exited;
        let mut ws = waiting(WorkspaceState::Working, &[]);
        assert!(
            matches!(ready(&s, &ws), Err(Refusal::Conflict(m)) if m.contains("not been recorded"))
        );
        ws.workplace = crate::model::Workplace::Host(crate::model::RemoteWork {
            host: "gpu1".into(),
            path: "/w".into(),
            branch: "b".into(),
            fetched: None,
            removed: false,
            refused: Some("fetching the work back failed: error in commit: bad tree".into()),
            container: None,
        });
        let Err(Refusal::Conflict(m)) = ready(&s, &ws) else {
            panic!("refused work was let through");
        };
        assert!(
            m.contains("on gpu1 was not brought back") && m.contains("bad tree"),
            "{m}"
        );
        assert!(
            m.contains("Discard it") && !m.contains("wait for its exit"),
            "{m}"
        );
    }

    /// Issue 70 item 6: right after its report, while its agent ends its
    /// turn, a Merge says so rather than asking for the report that came.
    #[test]
    fn a_department_that_reported_and_ends_its_turn_is_ready_in_a_moment() {
        let mut s = Session::sample_department("d-1");
        s.status = SessionStatus::Running;
        let mut ws = waiting(WorkspaceState::Pending, &[]);
        ws.commit = Some("c0ffee".into());
        let Err(Refusal::Conflict(m)) = ready(&s, &ws) else {
            panic!("a running department was let through");
        };
        assert_eq!(m, finishing_turn("d-1"));
        assert!(!m.contains("wait for its report"), "{m}");
        s.status = SessionStatus::Exited;
        assert_eq!(ready(&s, &ws), Ok(()));
    }
}
