//! Which session views a change can move (issue 71 item 1): when a change
//! touched session records alone, the delta publisher (`launcher::deltas`)
//! builds again only the views of the sessions it names and of their
//! families, and reuses the others from its previous build.
//!
//! Why a family suffices, read from `views::session::session` and what it
//! calls: a session's view reads its own record, its plan, the facts and
//! live facts kept for it, the time, the terminals, the queue, and these
//! other sessions' records, each through one link:
//!
//! - a planner: its departments (`children_of`: `child_department_ids`,
//!   `plan_files_shown`, `planner_finished`); the planners it was resumed
//!   from and their departments (`planner_finished`'s lineage); the
//!   attempts its plan's assignments name and their send-back successors
//!   (`plan_results`);
//! - a department: its planner and the planners resumed from it
//!   (`answering_planner` in `confirmation`); the session its send-back or
//!   retry started (`superseded_by`); its reviewers (`second_opinion`);
//! - a reviewer: nothing of another session; the reviewed one reads it.
//!
//! So the sessions a change of one session can move are those linked to
//! it, directly or through others, by a parent, a resume, a review, a
//! successor, a retry or a plan's assignment: its family, a planner's
//! lineage with all their departments, attempts and reviewers. Links are
//! taken both before and after the change, so that a session removed (or
//! a link dropped) moves its former family too. One fact crosses
//! families: how many sessions hold a slot (`plan_auto_dispatch.active` of
//! every plan); when it moved, every planner with a plan is built again.
//! Plans, the queue, the terminals, the quota, the facts, the live agents
//! and the time are no session's record: a change of those is a full build.

use std::collections::{HashMap, HashSet};

use crate::model::State;

/// The sessions to build again after a change of the sessions `touched`,
/// from `before` (the tables the previous build read) to `now`: their
/// families in both, and every planner with a plan when the number of
/// sessions holding a slot moved.
pub fn to_rebuild(before: &State, now: &State, touched: &[&str]) -> HashSet<String> {
    let mut ids = families(before, touched);
    ids.extend(families(now, touched));
    let slots = |s: &State| s.sessions.values().filter(|x| x.holds_slot()).count();
    if slots(before) != slots(now) {
        ids.extend(now.plans.keys().cloned());
    }
    ids
}

/// The sessions whose records differ from `before` to `now` (changed, new
/// or removed); None when another table a view reads differs (a plan, the
/// queue, the terminals, the quota): then every view is built again. Read
/// from the tables, not from the changes' events: a change is in the
/// tables a moment before its event is sent, and a change undone after a
/// failed commit sends none.
pub fn sessions_changed<'a>(before: &'a State, now: &'a State) -> Option<Vec<&'a str>> {
    // Each table, so that a new one is not forgotten here.
    let State {
        counters: _,
        sessions,
        plans,
        queue,
        terminals,
        quota,
    } = now;
    if *plans != before.plans
        || *queue != before.queue
        || *terminals != before.terminals
        || *quota != before.quota
    {
        return None;
    }
    let changed = sessions
        .iter()
        .filter(|(id, s)| before.sessions.get(*id) != Some(*s))
        .map(|(id, _)| id.as_str());
    let gone = before
        .sessions
        .keys()
        .filter(|id| !sessions.contains_key(*id))
        .map(String::as_str);
    Some(changed.chain(gone).collect())
}

/// The sessions of `state` in the family of one of `ids`: linked to it by
/// a parent, a resume, a review, a successor, a retry or a plan's
/// assignment, directly or not (see the module's doc). An id `state` does
/// not hold still gathers those that name it (a removed planner's departments).
pub fn families(state: &State, ids: &[&str]) -> HashSet<String> {
    let mut up: HashMap<&str, &str> = HashMap::new();
    for (a, b) in links(state) {
        let (a, b) = (root(&up, a), root(&up, b));
        if a != b {
            up.insert(a, b);
        }
    }
    let wanted: HashSet<&str> = ids.iter().map(|id| root(&up, id)).collect();
    state
        .sessions
        .keys()
        .filter(|id| wanted.contains(root(&up, id)))
        .cloned()
        .collect()
}

/// The representative of `id`'s family so far (itself while it has no link).
fn root<'a>(up: &HashMap<&'a str, &'a str>, mut id: &'a str) -> &'a str {
    while let Some(next) = up.get(id) {
        id = next;
    }
    id
}

/// Every link by which a session's view reads another session's record,
/// as pairs of ids (either may name a session no longer there).
fn links(state: &State) -> Vec<(&str, &str)> {
    let started_from: HashMap<&str, &str> = state
        .sessions
        .values()
        .filter_map(|s| Some((s.department_part()?.queue_id.as_deref()?, s.id.as_str())))
        .collect();
    let mut out = Vec::new();
    for s in state.sessions.values() {
        let resumed = s
            .zhongshu()
            .and_then(|z| z.resumed_from_session_id.as_deref());
        let reviews = s.reviewer().map(|r| r.reviews.as_str());
        let successor = s.workspace().and_then(|w| w.successor.as_deref());
        let retry = s
            .department_part()
            .and_then(|d| d.retried_as.as_deref())
            .and_then(|q| started_from.get(q).copied());
        let linked = [s.parent_session_id(), resumed, reviews, successor, retry];
        out.extend(linked.into_iter().flatten().map(|to| (s.id.as_str(), to)));
    }
    for (planner, plan) in &state.plans {
        let named = plan
            .assignments
            .iter()
            .filter_map(|a| a.session_id.as_deref());
        out.extend(named.map(|d| (planner.as_str(), d)));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::model::Session;

    fn session(fields: Value) -> Session {
        let mut v = json!({
            "role": "r", "department": null, "title": "t", "model": "m", "task": "do",
            "pid": 1, "status": "running", "exit_code": null, "started_at": "s",
            "ended_at": null, "prompt_path": "", "log_path": "",
        });
        v.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    fn planner(id: &str) -> Session {
        session(json!({"id": id, "session_kind": "zhongshu"}))
    }

    fn department(id: &str, parent: &str) -> Session {
        session(json!({
            "id": id, "session_kind": "department", "parent_session_id": parent,
        }))
    }

    /// Two planners with two departments each: `z1` (`d1`, `d2`), `z2` (`e1`, `e2`).
    fn two_families() -> State {
        let mut state = State::default();
        for s in [
            planner("z1"),
            department("d1", "z1"),
            department("d2", "z1"),
            planner("z2"),
            department("e1", "z2"),
            department("e2", "z2"),
        ] {
            state.sessions.insert(s.id.clone(), s);
        }
        state
    }

    /// The department record of session `id`, to change.
    fn department_of<'a>(state: &'a mut State, id: &str) -> &'a mut crate::model::DepartmentPart {
        state
            .sessions
            .get_mut(id)
            .unwrap()
            .department_mut()
            .unwrap()
    }

    fn set(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    /// A department's change moves its planner's view (its departments, its
    /// plan's standing) and its siblings' (their planner's answer), never
    /// another planner's family.
    #[test]
    fn a_departments_family_is_its_planner_and_its_planners_departments() {
        let state = two_families();
        assert_eq!(families(&state, &["d1"]), set(&["z1", "d1", "d2"]));
        assert_eq!(families(&state, &["z2"]), set(&["z2", "e1", "e2"]));
        assert_eq!(
            families(&state, &["d1", "e2"]),
            set(&["z1", "d1", "d2", "z2", "e1", "e2"])
        );
    }

    /// A planner resumed as a new session carries its predecessor's plan
    /// on: the predecessor's departments move its view (`planner_finished`)
    /// and it answers their questions (`answering_planner`).
    #[test]
    fn a_resumed_planner_is_of_its_predecessors_family() {
        let mut state = two_families();
        let mut z3 = planner("z3");
        z3.zhongshu_mut().unwrap().resumed_from_session_id = Some("z1".into());
        state.sessions.insert("z3".into(), z3);
        assert_eq!(families(&state, &["d2"]), set(&["z1", "d1", "d2", "z3"]));
    }

    /// An attempt's change moves the one it supersedes (`superseded_by`),
    /// through a send-back's successor or a retry's queue item, and so does a
    /// reviewer's change the session it reviews (`second_opinion`), even were
    /// they recorded under another planner.
    #[test]
    fn successors_retries_and_reviewers_join_the_family_of_what_they_follow() {
        let mut state = two_families();
        let mut w = crate::model::Workspace::new("p".into(), "b".into(), "c".into(), "n".into());
        w.successor = Some("e1".into());
        let sent_back = department_of(&mut state, "d1");
        sent_back.workspace = Some(Box::new(w));
        assert!(families(&state, &["e1"]).contains("d1"), "a successor");

        let mut state = two_families();
        let retried = department_of(&mut state, "d2");
        retried.retried_as = Some("q-7".into());
        let again = department_of(&mut state, "e2");
        again.queue_id = Some("q-7".into());
        assert!(families(&state, &["e2"]).contains("d2"), "a retry");

        let mut state = two_families();
        let reviewer = session(json!({
            "id": "r1", "session_kind": "reviewer", "reviews": "e1",
            "commit": "c", "agent_key": "k", "folder": "f",
        }));
        state.sessions.insert("r1".into(), reviewer);
        assert!(families(&state, &["r1"]).contains("e1"), "a review");
    }

    /// A plan's assignment names its attempt (`plan_results`): the planner
    /// whose plan names a session is of its family.
    #[test]
    fn a_plan_joins_the_sessions_its_assignments_name() {
        let mut state = two_families();
        let plan: crate::model::Plan = serde_json::from_value(json!({
            "session_id": "z1", "revision": 1, "summary": "s", "needs_confirmation": false,
            "status": "dispatched", "registered_at": "t",
            "assignments": [{"department": "x", "task": "t", "model": "m", "session_id": "e1"}],
        }))
        .unwrap();
        state.plans.insert("z1".into(), plan);
        assert!(families(&state, &["e1"]).contains("z1"));
    }

    /// A session removed moves its former family (taken from the tables
    /// before the change), and a session new to the tables its new one; a
    /// removed planner's departments still name it.
    #[test]
    fn a_removed_or_new_session_moves_its_family_before_and_after() {
        let before = two_families();
        let mut now = before.clone();
        now.sessions.shift_remove("d2");
        assert_eq!(to_rebuild(&before, &now, &["d2"]), set(&["z1", "d1", "d2"]));
        let mut now = before.clone();
        now.sessions.shift_remove("z1");
        assert_eq!(families(&now, &["z1"]), set(&["d1", "d2"]));
        let mut now = before.clone();
        now.sessions.insert("e3".into(), department("e3", "z2"));
        assert_eq!(
            to_rebuild(&before, &now, &["e3"]),
            set(&["z2", "e1", "e2", "e3"])
        );
    }

    /// Every plan's auto-dispatch counts the sessions holding a slot,
    /// whoever's: when that count moved, every planner with a plan moves.
    #[test]
    fn a_change_of_the_slots_taken_moves_every_planner_with_a_plan() {
        let mut before = two_families();
        let plan: crate::model::Plan = serde_json::from_value(json!({
            "session_id": "z2", "revision": 1, "summary": "s", "assignments": [],
            "needs_confirmation": false, "status": "dispatched", "registered_at": "t",
        }))
        .unwrap();
        before.plans.insert("z2".into(), plan);
        let mut now = before.clone();
        now.sessions.get_mut("d1").unwrap().agent.turn_count = 3;
        assert_eq!(to_rebuild(&before, &now, &["d1"]), set(&["z1", "d1", "d2"]));
        now.sessions.get_mut("d1").unwrap().status = crate::model::SessionStatus::Exited;
        assert_eq!(
            to_rebuild(&before, &now, &["d1"]),
            set(&["z1", "d1", "d2", "z2"]),
            "d1 no longer holds a slot: z2's plan counts one fewer"
        );
    }
}
