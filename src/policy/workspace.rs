//! A department's workspace as one state machine (issue 50, item 1): every
//! change of [`WorkspaceState`] is an [`Event`] asked of [`next`], and
//! [`enter`] is the one place a state is written. A step the machine does not
//! know is refused, never written: it would be a race (two commands on one
//! worktree) or a bug, and a refused step leaves the record as it was.

use super::Refusal;
use crate::model::{IntegrationMode, Workspace, WorkspaceState};

/// What happened to a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Its worktree was recorded on its branch: work in progress waits for
    /// the user from now on; a later record keeps the state it has.
    Recorded,
    /// An Apply or Merge wrote its intent and starts writing.
    IntegrationBegun,
    /// An Undo of an integration wrote its intent and starts writing.
    UndoBegun,
    /// An integration (or an Undo that did not happen) stands: the work is in
    /// the user's repository as `mode` brought it.
    Integrated(IntegrationMode),
    /// An integration was taken back (it failed, a crash cut it, or Undo).
    IntegrationUndone,
    /// Integrating it would conflict.
    Conflict,
    /// The user threw it away (its branch stays).
    Discarded,
    /// Its department ended having changed nothing.
    SettledEmpty,
    /// The user sent it back: a successor works on in the worktree.
    SentBack,
    /// The successor of a send-back could not start: the work waits again.
    SendBackReturned,
    /// A pull request carries it now.
    PullRequestOpened,
    /// Its pull request was merged or closed on the forge.
    PullRequestClosed { merged: bool },
}

use WorkspaceState as S;

/// The state `event` leads to from `from`; a refusal for a step that does not
/// fit (the record stays as it is).
pub fn next(from: WorkspaceState, event: Event) -> Result<WorkspaceState, Refusal> {
    let waits = matches!(from, S::Pending | S::Conflicting);
    let to = match event {
        Event::Recorded if from == S::Working => Some(S::Pending),
        Event::Recorded => Some(from),
        Event::IntegrationBegun if waits => Some(S::Integrating),
        Event::UndoBegun if matches!(from, S::Applied | S::Merged | S::InReview) => {
            Some(S::Integrating)
        }
        Event::Integrated(mode) if from == S::Integrating => Some(match mode {
            IntegrationMode::Apply => S::Applied,
            IntegrationMode::Merge => S::Merged,
            IntegrationMode::PullRequest => S::InReview,
        }),
        Event::IntegrationUndone if from == S::Integrating => Some(S::Pending),
        Event::Conflict if waits || from == S::Integrating => Some(S::Conflicting),
        Event::Discarded if waits => Some(S::Discarded),
        Event::SettledEmpty if matches!(from, S::Working | S::Pending) => Some(S::NoChanges),
        Event::SentBack if waits || from == S::InReview => Some(S::SentBack),
        Event::SendBackReturned if from == S::SentBack => Some(S::Pending),
        Event::PullRequestOpened
            if waits || matches!(from, S::Working | S::InReview | S::Integrating) =>
        {
            Some(S::InReview)
        }
        Event::PullRequestClosed { merged } if waits || from == S::InReview => {
            Some(if merged { S::PrMerged } else { S::PrClosed })
        }
        // Work settled otherwise (applied, discarded, sent back) keeps its state.
        Event::PullRequestClosed { .. } => Some(from),
        _ => None,
    };
    to.ok_or_else(|| Refusal::Conflict(format!("a worktree that is {from} cannot take {event:?}")))
}

/// Writes the state `event` leads to into `w`; refuses (and writes nothing)
/// a step that does not fit.
pub fn enter(w: &mut Workspace, event: Event) -> Result<(), Refusal> {
    w.state = next(w.state, event)?;
    Ok(())
}

/// Writes the state a fact that already happened outside leads to: a
/// worktree recorded, a pull request opened, pushed to or closed on the
/// forge, a department's worktree removed because it changed nothing, a
/// successor started on a sent-back worktree or given it back. The fact
/// stands whatever the record says, so it is kept beside the state (the
/// caller writes it) and a state it does not fit is kept as it is: work
/// applied, merged or discarded meanwhile stays so (a pull request opened
/// over work discarded a moment before is still recorded, to be closed).
/// Whether the state moved.
pub fn observe(w: &mut Workspace, event: Event) -> bool {
    match next(w.state, event) {
        Ok(to) => {
            let moved = to != w.state;
            w.state = to;
            moved
        }
        Err(_) => false,
    }
}

/// Whether a record just taken (its branch tip `commit`) says more than the
/// one the workspace keeps: the worktree moved since (a new commit), it was
/// never recorded or reviewed, or it is still at work. An integration or a
/// discard writes its record only then, so a worktree is recorded once per
/// attempt, not again at each step.
pub fn record_moved(w: &Workspace, commit: &str) -> bool {
    w.commit.as_deref() != Some(commit) || w.review.is_none() || w.state == S::Working
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [WorkspaceState; 12] = [
        S::Working,
        S::Pending,
        S::Conflicting,
        S::Integrating,
        S::Applied,
        S::Merged,
        S::Discarded,
        S::SentBack,
        S::NoChanges,
        S::InReview,
        S::PrMerged,
        S::PrClosed,
    ];

    /// Every state and event: what the machine allows, and that it refuses
    /// everything else.
    fn table(event: Event, allowed: &[(WorkspaceState, WorkspaceState)]) {
        for from in ALL {
            let got = next(from, event).ok();
            let want = allowed.iter().find(|(f, _)| *f == from).map(|(_, t)| *t);
            assert_eq!(got, want, "{from} + {event:?}");
        }
    }

    #[test]
    fn a_record_makes_work_in_progress_wait_and_keeps_any_other_state() {
        let keep: Vec<_> = ALL
            .iter()
            .map(|s| (*s, if *s == S::Working { S::Pending } else { *s }))
            .collect();
        table(Event::Recorded, &keep);
    }

    #[test]
    fn only_waiting_work_is_integrated_discarded_or_sent_back() {
        let waiting = [S::Pending, S::Conflicting];
        let to = |t| waiting.iter().map(move |f| (*f, t)).collect::<Vec<_>>();
        table(Event::IntegrationBegun, &to(S::Integrating));
        table(Event::Discarded, &to(S::Discarded));
        let mut back = to(S::SentBack);
        // A pull request whose check failed is sent back too.
        back.push((S::InReview, S::SentBack));
        table(Event::SentBack, &back);
        table(Event::SendBackReturned, &[(S::SentBack, S::Pending)]);
    }

    #[test]
    fn an_integration_ends_in_its_mode_or_back_where_it_waited() {
        for (mode, to) in [
            (IntegrationMode::Apply, S::Applied),
            (IntegrationMode::Merge, S::Merged),
            (IntegrationMode::PullRequest, S::InReview),
        ] {
            table(Event::Integrated(mode), &[(S::Integrating, to)]);
        }
        table(Event::IntegrationUndone, &[(S::Integrating, S::Pending)]);
        table(
            Event::UndoBegun,
            &[
                (S::Applied, S::Integrating),
                (S::Merged, S::Integrating),
                (S::InReview, S::Integrating),
            ],
        );
        table(
            Event::Conflict,
            &[
                (S::Pending, S::Conflicting),
                (S::Conflicting, S::Conflicting),
                (S::Integrating, S::Conflicting),
            ],
        );
    }

    #[test]
    fn a_department_that_changed_nothing_settles_only_before_its_work_is_decided() {
        table(
            Event::SettledEmpty,
            &[(S::Working, S::NoChanges), (S::Pending, S::NoChanges)],
        );
    }

    #[test]
    fn a_pull_request_opens_on_waiting_work_and_its_close_settles_only_open_work() {
        table(
            Event::PullRequestOpened,
            &[
                (S::Working, S::InReview),
                (S::Pending, S::InReview),
                (S::Conflicting, S::InReview),
                (S::Integrating, S::InReview),
                (S::InReview, S::InReview),
            ],
        );
        for (merged, to) in [(true, S::PrMerged), (false, S::PrClosed)] {
            let rows: Vec<_> = ALL
                .iter()
                .map(|s| {
                    let open = matches!(s, S::Pending | S::Conflicting | S::InReview);
                    (*s, if open { to } else { *s })
                })
                .collect();
            table(Event::PullRequestClosed { merged }, &rows);
        }
    }

    #[test]
    fn a_refused_step_writes_nothing_and_says_why() {
        let mut w: Workspace = serde_json::from_value(serde_json::json!({
            "path": "/w", "branch": "b", "base": "0", "name": "n", "state": "merged",
        }))
        .unwrap();
        let e = enter(&mut w, Event::Discarded).unwrap_err();
        assert_eq!(w.state, S::Merged);
        assert!(e.to_string().contains("merged"), "{e}");
        enter(&mut w, Event::UndoBegun).unwrap();
        assert_eq!(w.state, S::Integrating);
    }

    #[test]
    fn a_record_is_written_again_only_when_the_worktree_moved() {
        let mut w: Workspace = serde_json::from_value(serde_json::json!({
            "path": "/w", "branch": "b", "base": "0", "name": "n", "state": "pending",
            "commit": "c1",
            "review": {"decision": "PASS", "scope": {"open": true, "patterns": [], "out_of_scope": []},
                       "claim": null, "risks": [], "findings": []},
        }))
        .unwrap();
        assert!(
            !record_moved(&w, "c1"),
            "the same commit, reviewed, waiting"
        );
        assert!(record_moved(&w, "c2"), "a new commit");
        w.state = S::Working;
        assert!(
            record_moved(&w, "c1"),
            "still at work: the record settles it"
        );
        w.state = S::Pending;
        let review = w.review.take();
        assert!(record_moved(&w, "c1"), "never reviewed");
        w.review = review;
        w.commit = None;
        assert!(record_moved(&w, "c1"), "never recorded");
    }

    /// What happened outside stands: a fact that does not fit the state
    /// keeps the state as it is (the caller keeps the fact beside it), and
    /// says so; one that fits moves it, as `enter` would.
    #[test]
    fn a_fact_from_outside_that_does_not_fit_keeps_the_state() {
        let ws = |state: &str| -> Workspace {
            serde_json::from_value(serde_json::json!({
                "path": "/w", "branch": "b", "base": "0", "name": "n", "state": state,
            }))
            .unwrap()
        };
        // A pull request opened over work discarded a moment before.
        let mut w = ws("discarded");
        assert!(!observe(&mut w, Event::PullRequestOpened));
        assert_eq!(w.state, S::Discarded);
        // A worktree removed for changing nothing while it was being merged.
        let mut w = ws("integrating");
        assert!(!observe(&mut w, Event::SettledEmpty));
        assert_eq!(w.state, S::Integrating);
        // A successor given back a worktree that was not sent back.
        let mut w = ws("applied");
        assert!(!observe(&mut w, Event::SendBackReturned));
        assert_eq!(w.state, S::Applied);
        // Recorded never moves settled work, and a close on work settled
        // otherwise keeps it.
        let mut w = ws("merged");
        assert!(!observe(&mut w, Event::Recorded));
        assert!(!observe(&mut w, Event::PullRequestClosed { merged: true }));
        assert_eq!(w.state, S::Merged);
        // One that fits moves it.
        let mut w = ws("working");
        assert!(observe(&mut w, Event::Recorded));
        assert_eq!(w.state, S::Pending);
        assert!(observe(&mut w, Event::PullRequestOpened));
        assert_eq!(w.state, S::InReview);
    }
}
