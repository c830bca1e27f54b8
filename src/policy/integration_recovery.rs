//! What the next start does with an integration a crash cut (issue 50 item
//! 1). An Apply or a Merge is a saga: the intent (what every path gets, the
//! merge commit) is stored before Git is touched, one blocking job writes it,
//! and a last store change says it is done. A crash between two of these
//! leaves the intent stored; at the next start Git is read (HEAD, what each
//! path holds) and [`recovery`] decides: finish it, undo it, or nothing of
//! it was written. Pure: the integration service reads Git and asks here.

use crate::model::{PathChange, PendingIntegration};

/// What a path of an interrupted integration holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// What it held before the integration.
    Before,
    /// What the integration writes.
    After,
    /// Neither: someone changed it meanwhile (it is left as it is).
    Other,
}

impl Held {
    /// What `now` (a blob id; None: absent) is of `change`.
    pub fn of(change: &PathChange, now: Option<&str>) -> Held {
        if now == change.after.as_deref() {
            Held::After
        } else if now == change.before.as_deref() {
            Held::Before
        } else {
            Held::Other
        }
    }
}

/// What Git shows of an interrupted integration after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// HEAD's commit now (None: the repository has none).
    pub head: Option<String>,
    /// What each of the intent's paths holds, in the intent's order.
    pub held: Vec<Held>,
}

/// What to do with an interrupted integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// It is in (a Merge's branch names its commit; an Apply wrote every
    /// path): write what is missing (a Merge's index) and record it done.
    Finish,
    /// Part of it is in: write every path back and record it undone.
    Undo,
    /// The crash came before any of it was written: nothing to write back;
    /// it is recorded undone.
    Nothing,
}

/// Finish, undo or nothing, from the stored intent and what Git shows. A
/// Merge is done exactly when HEAD names its commit (the branch moves last,
/// compare-and-swap); an Apply when every path holds what it writes.
pub fn recovery(intent: &PendingIntegration, seen: &Seen) -> Recovery {
    let done = match &intent.target {
        Some(target) => seen.head.as_deref() == Some(target.as_str()),
        None => seen.held.iter().all(|h| *h == Held::After),
    };
    if done {
        Recovery::Finish
    } else if seen.held.contains(&Held::After) {
        Recovery::Undo
    } else {
        Recovery::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::IntegrationMode;

    fn change(path: &str, before: Option<&str>, after: Option<&str>) -> PathChange {
        PathChange {
            path: path.into(),
            before: before.map(str::to_string),
            before_mode: 0o100644,
            after: after.map(str::to_string),
            after_mode: 0o100644,
        }
    }

    fn intent(mode: IntegrationMode) -> PendingIntegration {
        PendingIntegration {
            mode,
            head: "h0".into(),
            target: (mode == IntegrationMode::Merge).then(|| "m1".to_string()),
            branch: (mode == IntegrationMode::Merge).then(|| "refs/heads/main".to_string()),
            paths: vec![
                change("a", Some("a0"), Some("a1")),
                change("new", None, Some("n1")),
            ],
            started_at: "t".into(),
            undo: false,
        }
    }

    fn seen(head: &str, held: [Held; 2]) -> Seen {
        Seen {
            head: Some(head.into()),
            held: held.to_vec(),
        }
    }

    use Held::{After, Before, Other};

    #[test]
    fn a_path_holds_its_before_its_after_or_something_else() {
        let c = change("new", None, Some("n1"));
        assert_eq!(Held::of(&c, None), Before);
        assert_eq!(Held::of(&c, Some("n1")), After);
        assert_eq!(Held::of(&c, Some("x")), Other);
        let gone = change("old", Some("o0"), None);
        assert_eq!(Held::of(&gone, None), After);
        assert_eq!(Held::of(&gone, Some("o0")), Before);
    }

    #[test]
    fn cut_after_the_intent_before_the_git_job_nothing_was_written() {
        for mode in [IntegrationMode::Apply, IntegrationMode::Merge] {
            let got = recovery(&intent(mode), &seen("h0", [Before, Before]));
            assert_eq!(got, Recovery::Nothing, "{mode}");
        }
        // A path the user changed meanwhile is not the integration's.
        let got = recovery(
            &intent(IntegrationMode::Apply),
            &seen("h0", [Other, Before]),
        );
        assert_eq!(got, Recovery::Nothing);
    }

    #[test]
    fn cut_in_the_git_job_before_the_branch_moved_is_undone() {
        for mode in [IntegrationMode::Apply, IntegrationMode::Merge] {
            let got = recovery(&intent(mode), &seen("h0", [After, Before]));
            assert_eq!(got, Recovery::Undo, "{mode}");
        }
        // Every file written, the index too, but the branch did not move yet.
        let got = recovery(&intent(IntegrationMode::Merge), &seen("h0", [After, After]));
        assert_eq!(got, Recovery::Undo);
    }

    #[test]
    fn cut_after_the_git_job_before_the_done_change_is_finished() {
        let got = recovery(&intent(IntegrationMode::Merge), &seen("m1", [After, After]));
        assert_eq!(got, Recovery::Finish);
        let got = recovery(&intent(IntegrationMode::Apply), &seen("h0", [After, After]));
        assert_eq!(got, Recovery::Finish);
        // A merge whose branch moved is in, whatever a file shows (the index
        // and a file the crash caught are written again).
        let got = recovery(
            &intent(IntegrationMode::Merge),
            &seen("m1", [After, Before]),
        );
        assert_eq!(got, Recovery::Finish);
    }

    #[test]
    fn an_apply_with_a_path_changed_meanwhile_is_undone_not_finished() {
        let got = recovery(&intent(IntegrationMode::Apply), &seen("h0", [After, Other]));
        assert_eq!(got, Recovery::Undo);
    }

    #[test]
    fn an_undo_cut_short_is_decided_on_its_reversed_record() {
        let back = intent(IntegrationMode::Merge).reversed("t2".into());
        // The undo moves the branch from m1 back to h0.
        assert_eq!(
            recovery(&back, &seen("h0", [After, After])),
            Recovery::Finish
        );
        assert_eq!(
            recovery(&back, &seen("m1", [Before, Before])),
            Recovery::Nothing
        );
        assert_eq!(
            recovery(&back, &seen("m1", [After, Before])),
            Recovery::Undo
        );
    }
}
