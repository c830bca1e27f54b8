//! Live updates by delta: what changed in the status since the last one the
//! pages were sent. The sessions whose view changed (by id, as the fields that
//! changed), the other status fields that changed (by name); the publisher
//! (`launcher::deltas`) adds the plans and results an event touched. Each
//! delta holds whole entities, so applying one twice, or after a newer full
//! status, is harmless.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::{Map, Value};

use super::session::SessionView;
use super::status::StatusView;
use crate::model::TaskResult;

/// Fields of a session view that change every second: not a change by themselves.
const VOLATILE: [&str; 1] = ["idle_seconds"];
/// Status fields the page rebuilds from `sessions`, or that every delta carries.
const DERIVED: [&str; 4] = [
    "sessions",
    "zhongshu_sessions",
    "department_sessions",
    "audit_seq",
];

/// One published delta, as the `data:` of an `event: delta` frame.
#[derive(Debug, Default, Serialize)]
pub struct Delta {
    pub seq: u64,
    /// New sessions whole; changed ones as their changed fields (with `id`).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub sessions: Map<String, Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// Every session id, newest first, when the set or its order changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<String>>,
    /// Other status fields that changed.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
    /// `GET /api/zhongshu_plan` of each Zhongshu whose plan changed (without
    /// its `session`, which travels in `sessions`).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub plans: Map<String, Value>,
    /// Results registered or updated since the last delta.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<TaskResult>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
            && self.removed.is_empty()
            && self.order.is_none()
            && self.fields.is_empty()
            && self.plans.is_empty()
            && self.results.is_empty()
    }
}

/// What the last delta was computed against: each session's view and the
/// other status fields, as the JSON text sent.
#[derive(Default)]
pub struct Seen {
    sessions: HashMap<String, Vec<u8>>,
    order: Vec<String>,
    /// The status without its sessions and sequence, as JSON text.
    rest: Vec<u8>,
    fields: Map<String, Value>,
    /// Each plan view last sent, as JSON text.
    plans: HashMap<String, String>,
}

/// Which session views of a status may differ from the last build's, whose
/// delta `Seen` recorded; the others are that build's (`status_reusing`
/// reused them, or built them again alike).
#[derive(Debug)]
pub enum Rebuilt {
    All,
    Only(HashSet<String>),
}

impl Rebuilt {
    fn may_differ(&self, id: &str) -> bool {
        match self {
            Rebuilt::All => true,
            Rebuilt::Only(ids) => ids.contains(id),
        }
    }
}

/// What changed in `status` since `seen`, which then becomes the present:
/// its sessions and its other fields; with the session views, handed back
/// for the next build to reuse. Each session's view is compared as its
/// JSON text, so one that did not change costs its serialization alone (no
/// value tree is built, copied or compared for it); only a changed one is
/// read into fields to say which moved. A view `rebuilt` does not name is
/// the last build's, whose text `seen` holds: not serialized again.
pub fn diff_status(
    seen: &mut Seen,
    mut status: StatusView,
    rebuilt: &Rebuilt,
) -> (Delta, Vec<SessionView>) {
    let mut delta = Delta {
        seq: status.audit_seq,
        ..Delta::default()
    };
    let sessions = std::mem::take(&mut status.sessions);
    diff_sessions(
        seen,
        sessions
            .iter()
            .map(|v| (v.session.id.clone(), v, !rebuilt.may_differ(&v.session.id))),
        &mut delta,
    );
    diff_rest(seen, status, &mut delta);
    (delta, sessions)
}

/// Adds to `delta` the status fields but the sessions that changed since
/// `seen`, which then holds them.
fn diff_rest(seen: &mut Seen, mut status: StatusView, delta: &mut Delta) {
    // The page rebuilds these from `sessions`; every delta carries the seq.
    status.zhongshu_sessions.clear();
    status.department_sessions.clear();
    status.audit_seq = 0;
    let rest = serde_json::to_vec(&status).unwrap_or_default();
    if rest == seen.rest {
        return;
    }
    seen.rest = rest;
    let Ok(Value::Object(fields)) = serde_json::to_value(status) else {
        return;
    };
    for (key, value) in fields {
        if DERIVED.contains(&key.as_str()) || seen.fields.get(&key) == Some(&value) {
            continue;
        }
        seen.fields.insert(key.clone(), value.clone());
        delta.fields.insert(key, value);
    }
}

/// Adds Zhongshu `id`'s plan view (`GET /api/zhongshu_plan` as JSON) to
/// `delta` when it changed since `seen`, without its `session` (which
/// travels in `sessions` when it changed).
pub fn diff_plan(seen: &mut Seen, delta: &mut Delta, id: String, mut plan: Value) {
    if let Some(map) = plan.as_object_mut() {
        map.remove("session");
    }
    let text = plan.to_string();
    if seen.plans.get(&id) != Some(&text) {
        seen.plans.insert(id.clone(), text);
        delta.plans.insert(id, plan);
    }
}

/// A session view's JSON text as its fields.
fn fields_of(text: &[u8]) -> Map<String, Value> {
    serde_json::from_slice(text).unwrap_or_default()
}

/// Sessions whose view changed, as the fields that changed (ignoring the
/// per-second idle time alone); new sessions whole; removed ones; and the
/// order when it changed. `sessions` is each view's id, the view, and
/// whether it is the one `seen` holds the text of (reused from the last
/// build: then it is not serialized again), in the status's order.
fn diff_sessions<'a, V: Serialize + 'a>(
    seen: &mut Seen,
    sessions: impl ExactSizeIterator<Item = (String, &'a V, bool)>,
    delta: &mut Delta,
) {
    let mut order = Vec::with_capacity(sessions.len());
    let mut present = HashMap::with_capacity(sessions.len());
    for (id, view, reused) in sessions {
        let text = match seen.sessions.remove(&id) {
            Some(before) if reused => before,
            None => {
                let text = serde_json::to_vec(view).unwrap_or_default();
                delta
                    .sessions
                    .insert(id.clone(), Value::Object(fields_of(&text)));
                text
            }
            Some(before) => {
                let text = serde_json::to_vec(view).unwrap_or_default();
                if before != text {
                    if let Some(patch) = changed_fields(&fields_of(&before), &fields_of(&text)) {
                        delta.sessions.insert(id.clone(), Value::Object(patch));
                    }
                }
                text
            }
        };
        order.push(id.clone());
        present.insert(id, text);
    }
    // What is left of the last present is gone.
    delta.removed = seen.sessions.drain().map(|(id, _)| id).collect();
    delta.removed.sort();
    if order != seen.order {
        delta.order = Some(order.clone());
    }
    seen.sessions = present;
    seen.order = order;
}

/// The fields of `after` that differ from `before` (a field that went away is
/// null), with the id; None when only volatile fields moved.
fn changed_fields(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Option<Map<String, Value>> {
    let mut patch: Map<String, Value> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for key in before.keys().filter(|k| !after.contains_key(*k)) {
        patch.insert(key.clone(), Value::Null);
    }
    if patch.keys().all(|k| VOLATILE.contains(&k.as_str())) {
        return None;
    }
    for key in ["id"].into_iter().chain(VOLATILE) {
        if let Some(v) = after.get(key) {
            patch.insert(key.to_string(), v.clone());
        }
    }
    Some(patch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Diffs `sessions` (an array of views as JSON) against `seen`; those
    /// `reused` name are the views of the last build.
    fn diff(seen: &mut Seen, sessions: Value, reused: &[&str]) -> Delta {
        let mut d = Delta::default();
        let views = sessions.as_array().unwrap();
        let items = views.iter().map(|v| {
            let id = v["id"].as_str().unwrap();
            (id.to_string(), v, reused.contains(&id))
        });
        diff_sessions(seen, items, &mut d);
        d
    }

    #[test]
    fn only_changed_sessions_are_sent_and_idle_time_alone_is_no_change() {
        let mut snap = Seen::default();
        let first = json!([{"id": "z-1", "state": "working", "idle_seconds": 1},
                           {"id": "d-1", "state": "working", "idle_seconds": 1}]);
        let d = diff(&mut snap, first, &[]);
        assert_eq!(d.sessions.len(), 2, "everything is new at first");
        assert_eq!(d.order, Some(vec!["z-1".to_string(), "d-1".to_string()]));

        let later = json!([{"id": "z-1", "state": "working", "idle_seconds": 9},
                           {"id": "d-1", "state": "reported", "idle_seconds": 1}]);
        let d = diff(&mut snap, later, &[]);
        assert_eq!(d.sessions.keys().collect::<Vec<_>>(), vec!["d-1"]);
        assert_eq!(
            d.sessions["d-1"],
            json!({"id": "d-1", "state": "reported", "idle_seconds": 1}),
            "only what changed, with the id and the fresh idle time"
        );
        assert!(d.order.is_none(), "same sessions, same order");
        assert!(d.removed.is_empty());

        let d = diff(&mut snap, json!([{"id": "d-1", "state": "reported"}]), &[]);
        assert_eq!(d.removed, vec!["z-1".to_string()]);
        assert_eq!(d.order, Some(vec!["d-1".to_string()]));
        assert!(
            d.sessions.is_empty(),
            "an idle time going away is no change"
        );
    }

    /// Issue 71 item 1: a view reused from the last build is not serialized
    /// again, its text as last sent stands; one the last delta did not carry
    /// is sent whole all the same.
    #[test]
    fn a_reused_view_keeps_its_text_and_is_no_change() {
        let mut seen = Seen::default();
        let first = json!([{"id": "z-1", "state": "working"}, {"id": "d-1", "state": "working"}]);
        diff(&mut seen, first, &[]);
        // Were z-1 serialized again, its new state would be a change.
        let later = json!([{"id": "z-1", "state": "other"}, {"id": "d-1", "state": "reported"},
                           {"id": "d-2", "state": "working"}]);
        let d = diff(&mut seen, later, &["z-1", "d-2"]);
        let mut changed: Vec<_> = d.sessions.keys().collect();
        changed.sort();
        assert_eq!(changed, ["d-1", "d-2"], "z-1 reused: its text stands");
        assert_eq!(seen.sessions["z-1"], br#"{"id":"z-1","state":"working"}"#);
        assert_eq!(d.sessions["d-2"], json!({"id": "d-2", "state": "working"}));
    }

    #[test]
    fn an_empty_delta_says_so() {
        assert!(Delta::default().is_empty());
        let d = Delta {
            removed: vec!["x".into()],
            ..Delta::default()
        };
        assert!(!d.is_empty());
        let text = serde_json::to_string(&Delta::default()).unwrap();
        assert_eq!(text, r#"{"seq":0}"#, "empty parts are left out");
    }
}
