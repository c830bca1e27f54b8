//! Several attempts at one assignment (issue 74): how many, by whose agent,
//! and which attempt may be chosen. An assignment asks `attempts: 2` (its
//! department's agent twice) or `attempts: [codex, claude]` (one per agent
//! named: a word an agent of this launcher answers to, or a department key
//! whose agent it borrows); its department may set a default. Each attempt
//! becomes an assignment of its own, from the plan's one base commit.

use super::Refusal;
pub use crate::model::AttemptsInput;
use crate::model::{Attempt, Session, State};

/// An attempt's agent when it is the launcher's own, beside a department
/// that has one of its own (no department key has this form).
pub const LAUNCHERS_AGENT: &str = "(launcher)";

/// The most attempts one assignment may ask for.
pub const MAX_ATTEMPTS: usize = 5;

/// An agent of this launcher an attempt may name: the department key whose
/// agent it is (None: the launcher's own), the words it answers to
/// (`codex`, its `acp_agent`, the department's key), and whether it is a
/// department's agent of its own (else the launcher's drives it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedAgent {
    pub key: Option<String>,
    pub words: Vec<String>,
    pub own: bool,
}

/// What each attempt of an assignment of `department` runs with: one entry
/// per attempt, the department key whose agent drives it (None: its own
/// department's). Empty: a plain assignment (one attempt, asked or not).
pub fn lay_out(
    asked: Option<&AttemptsInput>,
    default: Option<&AttemptsInput>,
    department: &str,
    agents: &[NamedAgent],
) -> Result<Vec<Option<String>>, Refusal> {
    let Some(asked) = asked.or(default) else {
        return Ok(Vec::new());
    };
    let each: Vec<Option<String>> = match asked {
        AttemptsInput::Count(0) => {
            return Err(Refusal::Invalid(
                "attempts: 0 is not allowed: 1 or more (2 runs its agent twice)".into(),
            ))
        }
        AttemptsInput::Count(n) => vec![None; *n],
        AttemptsInput::Agents(words) if words.is_empty() => {
            return Err(Refusal::Invalid(
                "attempts: [] names no agent: name one per attempt, or give a number".into(),
            ))
        }
        AttemptsInput::Agents(words) => words
            .iter()
            .map(|w| agent_key(w, department, agents))
            .collect::<Result<_, _>>()?,
    };
    if each.len() > MAX_ATTEMPTS {
        return Err(Refusal::Invalid(format!(
            "attempts: {} is more than {MAX_ATTEMPTS}: each attempt is an agent and a worktree of \
             its own",
            each.len()
        )));
    }
    Ok(if each.len() == 1 && each[0].is_none() {
        Vec::new()
    } else {
        each
    })
}

/// The department key whose agent `word` names for an attempt at
/// `department`'s assignment; None when that is its own department's.
pub fn agent_key(
    word: &str,
    department: &str,
    agents: &[NamedAgent],
) -> Result<Option<String>, Refusal> {
    let word = word.trim();
    let by_key = agents
        .iter()
        .find(|a| a.key.as_deref() == Some(word))
        .or_else(|| agents.iter().find(|a| a.words.iter().any(|w| w == word)));
    let own_agent = agents
        .iter()
        .any(|a| a.key.as_deref() == Some(department) && a.own);
    match by_key {
        Some(a) if a.key.as_deref() == Some(department) => Ok(None),
        // The launcher's agent, or a department's that is the launcher's.
        Some(a) if !a.own => Ok(own_agent.then(|| LAUNCHERS_AGENT.to_string())),
        Some(a) => Ok(a.key.clone()),
        None => {
            let mut known: Vec<&str> = agents
                .iter()
                .flat_map(|a| a.words.iter().map(String::as_str))
                .collect();
            known.sort_unstable();
            known.dedup();
            Err(Refusal::Invalid(format!(
                "attempts: no agent of this launcher is {word:?}: name a department whose agent \
                 to borrow, or an agent one runs ({}); an agent of its own is set under \
                 departments.<key>.acp_agent",
                known.join(", ")
            )))
        }
    }
}

/// The attempts of group `group` laid out as `each` says.
pub fn attempts_of(group: usize, each: &[Option<String>]) -> Vec<Attempt> {
    each.iter()
        .enumerate()
        .map(|(i, agent)| Attempt {
            group,
            n: i + 1,
            of: each.len(),
            agent: agent.clone(),
        })
        .collect()
}

/// Whether `session` may be chosen among its attempts: it is one, its work
/// waits, and none of them was chosen.
pub fn may_choose(
    session: &str,
    attempt: Option<&Attempt>,
    waits: bool,
    chosen: Option<&str>,
) -> Result<(), Refusal> {
    if attempt.is_none() {
        return Err(Refusal::Invalid(format!(
            "{session} is not an attempt: its work goes on as any department's"
        )));
    }
    if let Some(chosen) = chosen {
        return Err(Refusal::Conflict(format!(
            "{chosen} was chosen among these attempts already"
        )));
    }
    if !waits {
        return Err(Refusal::Conflict(format!(
            "{session}'s work does not wait for you: only recorded work can be chosen"
        )));
    }
    Ok(())
}

/// The attempt `s` is, with the planner whose plan holds its group.
pub fn attempt_of(s: &Session) -> Option<(&str, &Attempt)> {
    let d = s.department_part()?;
    Some((d.parent_session_id.as_deref()?, d.attempt.as_ref()?))
}

/// The attempts of `s`'s group, in their order: one session each (an
/// attempt sent back is the session that goes on with it).
pub fn members<'a>(state: &'a State, s: &Session) -> Vec<&'a Session> {
    let Some((parent, attempt)) = attempt_of(s) else {
        return Vec::new();
    };
    let mut all: Vec<&Session> = state
        .sessions
        .values()
        .filter(|x| {
            attempt_of(x).is_some_and(|(p, a)| p == parent && a.group == attempt.group)
                && x.workspace().is_none_or(|w| w.successor.is_none())
        })
        .collect();
    all.sort_by_key(|x| attempt_of(x).map(|(_, a)| a.n));
    all
}

/// The attempt chosen in `s`'s group, if one was.
pub fn chosen_of<'a>(state: &'a State, s: &Session) -> Option<&'a str> {
    let (parent, attempt) = attempt_of(s)?;
    state
        .plans
        .get(parent)?
        .attempt_choices
        .get(&attempt.group.to_string())
        .map(String::as_str)
}

/// Whether `s` is `chosen` or goes on with its work (sent back, once or
/// more).
pub fn continues(state: &State, s: &Session, chosen: &str) -> bool {
    let mut at = Some(s.id.clone());
    for _ in 0..64 {
        match at {
            Some(id) if id == chosen => return true,
            Some(id) => {
                at = state
                    .sessions
                    .get(&id)
                    .or(Some(s).filter(|s| s.id == id))
                    .and_then(|x| x.workspace())
                    .and_then(|w| w.predecessor.clone());
            }
            None => return false,
        }
    }
    false
}

/// An attempt's work goes on to Apply, Merge or a pull request only once it
/// was chosen among its group (another's chosen: it is settled).
pub fn may_integrate(state: &State, s: &Session, chosen: Option<&str>) -> Result<(), Refusal> {
    let Some((_, attempt)) = attempt_of(s) else {
        return Ok(());
    };
    match chosen {
        Some(c) if continues(state, s, c) => Ok(()),
        Some(c) => Err(Refusal::Conflict(format!(
            "{c} was chosen among these attempts, not {}: its work is settled",
            s.id
        ))),
        None => Err(Refusal::Conflict(format!(
            "{} is attempt {} of {}: choose it among them first (Compare, POST \
             /api/choose_attempt)",
            s.id, attempt.n, attempt.of
        ))),
    }
}

/// Which attempt `attempts_choose: verified` chooses: the one attempt whose
/// own verification is green and whose scope is clean, once every attempt
/// has ended and each one's work that waits has its verdict; None before,
/// or when not exactly one qualifies.
pub fn verified_choice<'a>(members: &[&'a Session]) -> Option<&'a str> {
    // Ended but not recorded yet, or recorded and its check not done.
    let undecided = |m: &&Session| {
        m.is_running()
            || m.workspace().is_some_and(|w| {
                w.state == crate::model::WorkspaceState::Working
                    || (w.state.awaits_user()
                        && w.attempt_check.as_ref().and_then(|c| c.passed).is_none())
            })
    };
    if members.is_empty() || members.iter().any(undecided) {
        return None;
    }
    let green: Vec<&str> = members
        .iter()
        .filter(|m| {
            m.workspace().is_some_and(|w| {
                w.state.awaits_user()
                    && w.attempt_check.as_ref().and_then(|c| c.passed) == Some(true)
                    && w.review
                        .as_ref()
                        .is_some_and(|r| r.decision == crate::model::Decision::Pass)
            })
        })
        .map(|m| m.id.as_str())
        .collect();
    match green.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agents() -> Vec<NamedAgent> {
        vec![
            NamedAgent {
                key: None,
                words: vec!["codex".into()],
                own: false,
            },
            NamedAgent {
                key: Some("lingyubu".into()),
                words: vec!["lingyubu".into()],
                own: false,
            },
            NamedAgent {
                key: Some("hubu".into()),
                words: vec!["claude".into(), "hubu".into()],
                own: true,
            },
        ]
    }

    #[test]
    fn a_count_or_agents_lay_out_the_attempts() {
        let a = agents();
        assert_eq!(lay_out(None, None, "lingyubu", &a), Ok(vec![]));
        assert_eq!(
            lay_out(Some(&AttemptsInput::Count(1)), None, "lingyubu", &a),
            Ok(vec![])
        );
        assert_eq!(
            lay_out(None, Some(&AttemptsInput::Count(2)), "lingyubu", &a),
            Ok(vec![None, None])
        );
        let words = AttemptsInput::Agents(vec!["codex".into(), "claude".into()]);
        assert_eq!(
            lay_out(Some(&words), None, "lingyubu", &a),
            Ok(vec![None, Some("hubu".into())])
        );
        // Its own department's agent by its key is its own; the launcher's
        // beside a department with its own agent is named apart.
        let own = AttemptsInput::Agents(vec!["hubu".into(), "codex".into(), "lingyubu".into()]);
        assert_eq!(
            lay_out(Some(&own), None, "hubu", &a),
            Ok(vec![
                None,
                Some(LAUNCHERS_AGENT.into()),
                Some(LAUNCHERS_AGENT.into())
            ])
        );
    }

    #[test]
    fn wrong_attempts_are_refused_saying_what_to_write() {
        let a = agents();
        let said = |x: AttemptsInput| {
            lay_out(Some(&x), None, "lingyubu", &a)
                .unwrap_err()
                .to_string()
        };
        assert!(said(AttemptsInput::Count(0)).contains("attempts: 0 is not allowed"));
        assert!(said(AttemptsInput::Count(6)).contains("more than 5"));
        assert!(said(AttemptsInput::Agents(vec![])).contains("names no agent"));
        let unknown = said(AttemptsInput::Agents(vec!["gemini".into()]));
        assert!(unknown.contains("\"gemini\""), "{unknown}");
        assert!(
            unknown.contains("claude, codex, hubu, lingyubu"),
            "{unknown}"
        );
    }

    #[test]
    fn one_choice_per_group_of_waiting_work() {
        let a = attempts_of(0, &[None, None]);
        assert_eq!((a[1].n, a[1].of, a[1].group), (2, 2, 0));
        assert!(may_choose("x-1", Some(&a[0]), true, None).is_ok());
        assert!(matches!(
            may_choose("x-1", Some(&a[0]), true, Some("x-2")),
            Err(Refusal::Conflict(_))
        ));
        assert!(matches!(
            may_choose("x-1", None, true, None),
            Err(Refusal::Invalid(_))
        ));
        assert!(matches!(
            may_choose("x-1", Some(&a[0]), false, None),
            Err(Refusal::Conflict(_))
        ));
    }

    /// An attempt of group 0 of zhongshu-1 whose work waits, its check as given.
    fn waiting(id: &str, n: usize, passed: Option<bool>) -> Session {
        let mut s = Session::sample_department(id).ended_for_test(0, None);
        let d = s.department_mut().unwrap();
        d.attempt = Some(Attempt {
            group: 0,
            n,
            of: 2,
            agent: None,
        });
        let mut ws =
            crate::model::Workspace::new("/w".into(), "b".into(), "base".into(), id.into());
        ws.state = crate::model::WorkspaceState::Pending;
        ws.commit = Some("c".into());
        ws.review = Some(crate::model::ChangeReview {
            decision: crate::model::Decision::Pass,
            scope: crate::model::ScopeCheck {
                open: false,
                patterns: vec!["src/**".into()],
                out_of_scope: Vec::new(),
                assigned_outside: Vec::new(),
            },
            claim: None,
            risks: Vec::new(),
            findings: Vec::new(),
        });
        ws.attempt_check = Some(crate::model::AttemptCheck {
            tree: "t".into(),
            commands: vec!["true".into()],
            passed,
            failure: None,
            output: String::new(),
            seconds: None,
        });
        d.workspace = Some(Box::new(ws));
        s
    }

    #[test]
    fn the_launcher_chooses_only_the_one_green_attempt_once_all_have_their_verdict() {
        let (a, b) = (
            waiting("x-1", 1, Some(true)),
            waiting("x-2", 2, Some(false)),
        );
        assert_eq!(verified_choice(&[&a, &b]), Some("x-1"));
        let still_checking = waiting("x-2", 2, None);
        assert_eq!(
            verified_choice(&[&a, &still_checking]),
            None,
            "x-2 may be green too"
        );
        let both = waiting("x-2", 2, Some(true));
        assert_eq!(
            verified_choice(&[&a, &both]),
            None,
            "two green: the user chooses"
        );
        let mut running = waiting("x-2", 2, Some(false));
        running.status = crate::model::SessionStatus::Running;
        assert_eq!(verified_choice(&[&a, &running]), None);
        let mut state = State::default();
        state.sessions.insert(a.id.clone(), a.clone());
        state.sessions.insert(b.id.clone(), b.clone());
        let ids: Vec<&str> = members(&state, &b).iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["x-1", "x-2"]);
        assert!(may_integrate(&state, &a, None).is_err(), "not chosen yet");
        assert!(may_integrate(&state, &a, Some("x-1")).is_ok());
        assert!(may_integrate(&state, &b, Some("x-1")).is_err());
        // Sent back twice, it is still the chosen one's work.
        let mut again = waiting("x-3", 1, Some(true));
        again.workspace_mut().unwrap().predecessor = Some("x-1b".into());
        let mut between = waiting("x-1b", 1, Some(true));
        between.workspace_mut().unwrap().predecessor = Some("x-1".into());
        state.sessions.insert(between.id.clone(), between);
        assert!(may_integrate(&state, &again, Some("x-1")).is_ok());
    }
}
