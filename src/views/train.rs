//! The landing train as the page shows it (issue 73 item 3): every Merge
//! waiting for its turn or running its checks, in the order asked, with the
//! check running now (ahead of its turn too, with `landing.parallel`) and
//! what the user may do: take a waiting one out, open its changes.

use serde::Serialize;

use crate::model::{IntegrationMode, LandingState, Session, State};
use crate::policy::landing::{in_train, train_order};

/// One Merge in the train.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainEntry {
    pub session_id: String,
    /// Its department, or its id when the department is in the train twice.
    pub who: String,
    /// 1 for the one whose turn it is.
    pub place: usize,
    pub state: LandingState,
    pub mode: IntegrationMode,
    pub commands: Vec<String>,
    /// The check running now; with `ahead`, a run before its turn.
    pub running: Option<String>,
    /// Its checks run before its turn, on the tree it will have when the
    /// Merges before it land.
    pub ahead: bool,
    pub asked_at: String,
    /// When its own checks started (its turn).
    pub started_at: Option<String>,
    /// *Remove from the train* is offered: it waits for its turn.
    pub removable: bool,
}

/// The train, in its order.
pub fn train(state: &State) -> Vec<TrainEntry> {
    let mut waiting: Vec<&Session> = state
        .sessions
        .values()
        .filter(|s| landing(s).is_some())
        .collect();
    waiting.sort_by(|a, b| {
        let at = |s: &Session| landing(s).map(|l| l.asked_at.clone()).unwrap_or_default();
        train_order((&at(a), &a.id), (&at(b), &b.id))
    });
    let twice = |d: &str| {
        waiting
            .iter()
            .filter(|s| s.department.as_deref() == Some(d))
            .count()
            > 1
    };
    let by_id = waiting
        .iter()
        .any(|s| s.department.as_deref().is_none_or(twice));
    waiting
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let l = landing(s)?;
            let queued = l.state == LandingState::Queued;
            Some(TrainEntry {
                session_id: s.id.clone(),
                who: match (&s.department, by_id) {
                    (Some(d), false) => d.clone(),
                    _ => s.id.clone(),
                },
                place: i + 1,
                state: l.state,
                mode: l.mode,
                commands: l.commands.clone(),
                running: l.running.clone(),
                ahead: queued && l.running.is_some(),
                asked_at: l.asked_at.clone(),
                started_at: l.started_at.clone().filter(|_| !queued),
                removable: queued,
            })
        })
        .collect()
}

fn landing(s: &Session) -> Option<&crate::model::Landing> {
    s.workspace()?.landing.as_ref().filter(|l| in_train(l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Landing;

    fn in_line(state: &mut State, id: &str, department: &str, at: &str, landing: LandingState) {
        let mut s = Session::sample_department(id);
        s.department = Some(department.into());
        let ws = crate::model::Workspace::new("/w".into(), "b".into(), "base".into(), id.into());
        s.department_mut().unwrap().workspace = Some(Box::new(ws));
        s.workspace_mut().unwrap().landing = Some(Landing {
            state: landing,
            asked_at: at.into(),
            commands: vec!["cargo test".into()],
            mode: IntegrationMode::Merge,
            override_scope: false,
            tree: None,
            started_at: Some("2026-11-28T10:00:00Z".into()),
            running: (landing == LandingState::Verifying).then(|| "cargo test".into()),
            failure: None,
            output: String::new(),
            seconds: None,
        });
        state.sessions.insert(id.into(), s);
    }

    #[test]
    fn the_train_is_in_the_order_asked_whatever_the_offset() {
        let mut state = State::default();
        in_line(
            &mut state,
            "lingyubu-2",
            "lingyubu",
            "2026-11-28T11:00:05+01:00",
            LandingState::Queued,
        );
        in_line(
            &mut state,
            "zhilibu-1",
            "zhilibu",
            "2026-11-28T10:00:00Z",
            LandingState::Verifying,
        );
        in_line(
            &mut state,
            "gongbu-1",
            "gongbu",
            "2026-11-28T10:00:09Z",
            LandingState::Failed,
        );
        let t = train(&state);
        let ids: Vec<&str> = t.iter().map(|e| e.session_id.as_str()).collect();
        assert_eq!(
            ids,
            ["zhilibu-1", "lingyubu-2"],
            "the failed one left the train"
        );
        assert_eq!((t[0].place, t[1].place), (1, 2));
        assert_eq!(t[0].who, "zhilibu");
        assert!(!t[0].removable && t[1].removable);
        assert_eq!(t[0].running.as_deref(), Some("cargo test"));
        assert!(!t[0].ahead && !t[1].ahead);
        assert_eq!(t[1].started_at, None, "a waiting one has not started");
    }

    #[test]
    fn a_department_twice_names_every_entry_by_id_and_a_run_ahead_shows() {
        let mut state = State::default();
        in_line(
            &mut state,
            "lingyubu-1",
            "lingyubu",
            "2026-11-28T10:00:00Z",
            LandingState::Verifying,
        );
        in_line(
            &mut state,
            "lingyubu-2",
            "lingyubu",
            "2026-11-28T10:00:01Z",
            LandingState::Queued,
        );
        in_line(
            &mut state,
            "zhilibu-1",
            "zhilibu",
            "2026-11-28T10:00:02Z",
            LandingState::Queued,
        );
        state
            .sessions
            .get_mut("lingyubu-2")
            .and_then(|s| s.workspace_mut())
            .and_then(|w| w.landing.as_mut())
            .unwrap()
            .running = Some("cargo test".into());
        let t = train(&state);
        let who: Vec<&str> = t.iter().map(|e| e.who.as_str()).collect();
        assert_eq!(who, ["lingyubu-1", "lingyubu-2", "zhilibu-1"]);
        assert!(t[1].ahead, "{:?}", t[1]);
        assert!(!t[2].ahead);
    }
}
