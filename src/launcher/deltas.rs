//! Live updates by delta. Every dashboard used to refetch the whole status
//! (about 3 KB per session) on every event; instead one task follows the
//! store's events, rebuilds the status once, and publishes only what changed:
//! the sessions whose view changed (by id), the other status fields that
//! changed (by name), the plans and results an event touched. Each delta holds
//! whole entities, so applying one twice, or after a newer full status, is
//! harmless. A tick also catches what changes without an event (agent output,
//! heartbeats).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::Launcher;
use crate::model::{result_key, TaskResult};
use crate::store::Event;

/// How often output-only changes (previews, heartbeats) are looked for.
const TICK: Duration = Duration::from_secs(2);
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
    fn is_empty(&self) -> bool {
        self.sessions.is_empty()
            && self.removed.is_empty()
            && self.order.is_none()
            && self.fields.is_empty()
            && self.plans.is_empty()
            && self.results.is_empty()
    }
}

/// What the last delta was computed against.
#[derive(Default)]
struct Snapshot {
    sessions: HashMap<String, Map<String, Value>>,
    order: Vec<String>,
    fields: Map<String, Value>,
    plans: HashMap<String, String>,
}

/// The publisher: subscribe to get every delta as JSON text.
pub struct Deltas {
    tx: broadcast::Sender<Arc<str>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Default for Deltas {
    fn default() -> Self {
        Deltas {
            tx: broadcast::channel(256).0,
            task: Mutex::new(None),
        }
    }
}

impl Deltas {
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }

    /// Awaits the task (it ends when the launcher stops).
    pub async fn join(&self) {
        let task = self.task.lock().unwrap().take();
        if let Some(task) = task {
            if let Err(e) = task.await {
                tracing::error!("the delta task ended badly: {e}");
            }
        }
    }
}

impl Launcher {
    /// Starts the task that publishes deltas, once.
    pub(super) fn start_deltas(self: &Arc<Self>) {
        let mut slot = self.deltas.task.lock().unwrap();
        if slot.is_some() {
            return;
        }
        let this = Arc::clone(self);
        *slot = Some(tokio::spawn(async move { this.follow_changes().await }));
    }

    async fn follow_changes(self: Arc<Self>) {
        let mut rx = self.ctx.store.subscribe();
        let mut stopped = Box::pin(self.stopped());
        let mut snapshot = Snapshot::default();
        self.diff(&mut snapshot, &[]);
        loop {
            let mut events = Vec::new();
            tokio::select! {
                _ = &mut stopped => break,
                _ = tokio::time::sleep(TICK) => {}
                ev = rx.recv() => match ev {
                    Ok(ev) => events.push(ev),
                    // Too far behind: everything may have changed.
                    Err(broadcast::error::RecvError::Lagged(_)) => snapshot = Snapshot::default(),
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
            while let Ok(ev) = rx.try_recv() {
                events.push(ev);
            }
            let delta = self.diff(&mut snapshot, &events);
            if delta.is_empty() || self.deltas.tx.receiver_count() == 0 {
                continue;
            }
            match serde_json::to_string(&delta) {
                Ok(text) => {
                    let _ = self.deltas.tx.send(Arc::from(text));
                }
                Err(e) => tracing::error!("cannot serialize a delta: {e}"),
            }
        }
    }

    /// What changed since `snapshot`, which then becomes the present.
    fn diff(&self, snapshot: &mut Snapshot, events: &[Arc<Event>]) -> Delta {
        let status = match serde_json::to_value(self.status_view()) {
            Ok(Value::Object(map)) => map,
            _ => return Delta::default(),
        };
        let mut delta = Delta {
            seq: status.get("audit_seq").and_then(Value::as_u64).unwrap_or(0),
            ..Delta::default()
        };
        diff_sessions(snapshot, &status, &mut delta);
        for (key, value) in status {
            if DERIVED.contains(&key.as_str()) || snapshot.fields.get(&key) == Some(&value) {
                continue;
            }
            snapshot.fields.insert(key.clone(), value.clone());
            delta.fields.insert(key, value);
        }
        self.touched_plans(snapshot, events, &mut delta);
        delta.results = self.touched_results(events);
        delta
    }

    fn touched_plans(&self, snapshot: &mut Snapshot, events: &[Arc<Event>], delta: &mut Delta) {
        let zhongshu: HashSet<String> = events
            .iter()
            .flat_map(|e| {
                ["session_id", "parent_session_id", "zhongshu_session_id"]
                    .into_iter()
                    .filter_map(|k| e.data.get(k).and_then(Value::as_str))
            })
            .filter(|id| self.ctx.store.read(|s| s.plans.contains_key(*id)))
            .map(str::to_string)
            .collect();
        for id in zhongshu {
            let Ok(mut value) = serde_json::to_value(self.zhongshu_plan_view(&id)) else {
                continue;
            };
            // The session itself travels in `sessions` when it changed.
            if let Some(map) = value.as_object_mut() {
                map.remove("session");
            }
            let text = value.to_string();
            if snapshot.plans.get(&id) != Some(&text) {
                snapshot.plans.insert(id.clone(), text);
                delta.plans.insert(id, value);
            }
        }
    }

    fn touched_results(&self, events: &[Arc<Event>]) -> Vec<TaskResult> {
        let mut seen = HashSet::new();
        events
            .iter()
            .filter(|e| {
                matches!(
                    e.event.as_str(),
                    "result_registered"
                        | "result_updated"
                        | "confirmation_answered"
                        | "result_seen"
                )
            })
            .filter_map(|e| {
                let field = |k: &str| e.data.get(k).and_then(Value::as_str);
                let key = result_key(
                    field("parent_session_id")?,
                    field("department_session_id")?,
                    field("report_id")?,
                );
                seen.insert(key.clone()).then_some(key)
            })
            .filter_map(|key| self.ctx.store.result(&key).ok().flatten())
            .collect()
    }
}

/// Sessions whose view changed, as the fields that changed (ignoring the
/// per-second idle time alone); new sessions whole; removed ones; and the order
/// when it changed.
fn diff_sessions(snapshot: &mut Snapshot, status: &Map<String, Value>, delta: &mut Delta) {
    let sessions = status
        .get("sessions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut order = Vec::with_capacity(sessions.len());
    let mut present = HashMap::with_capacity(sessions.len());
    for view in sessions {
        let Value::Object(view) = view else { continue };
        let Some(id) = view.get("id").and_then(Value::as_str).map(str::to_string) else {
            continue;
        };
        match snapshot.sessions.get(&id) {
            None => {
                delta
                    .sessions
                    .insert(id.clone(), Value::Object(view.clone()));
            }
            Some(before) => {
                if let Some(patch) = changed_fields(before, &view) {
                    delta.sessions.insert(id.clone(), Value::Object(patch));
                }
            }
        }
        order.push(id.clone());
        present.insert(id, view);
    }
    delta.removed = snapshot
        .sessions
        .keys()
        .filter(|id| !present.contains_key(*id))
        .cloned()
        .collect();
    if order != snapshot.order {
        delta.order = Some(order.clone());
    }
    snapshot.sessions = present;
    snapshot.order = order;
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

    fn status(sessions: Value) -> Map<String, Value> {
        json!({ "sessions": sessions }).as_object().unwrap().clone()
    }

    #[test]
    fn only_changed_sessions_are_sent_and_idle_time_alone_is_no_change() {
        let mut snap = Snapshot::default();
        let mut d = Delta::default();
        let first = json!([{"id": "z-1", "state": "working", "idle_seconds": 1},
                           {"id": "d-1", "state": "working", "idle_seconds": 1}]);
        diff_sessions(&mut snap, &status(first), &mut d);
        assert_eq!(d.sessions.len(), 2, "everything is new at first");
        assert_eq!(d.order, Some(vec!["z-1".to_string(), "d-1".to_string()]));

        let mut d = Delta::default();
        let later = json!([{"id": "z-1", "state": "working", "idle_seconds": 9},
                           {"id": "d-1", "state": "reported", "idle_seconds": 1}]);
        diff_sessions(&mut snap, &status(later), &mut d);
        assert_eq!(d.sessions.keys().collect::<Vec<_>>(), vec!["d-1"]);
        assert_eq!(
            d.sessions["d-1"],
            json!({"id": "d-1", "state": "reported", "idle_seconds": 1}),
            "only what changed, with the id and the fresh idle time"
        );
        assert!(d.order.is_none(), "same sessions, same order");
        assert!(d.removed.is_empty());

        let mut d = Delta::default();
        diff_sessions(
            &mut snap,
            &status(json!([{"id": "d-1", "state": "reported"}])),
            &mut d,
        );
        assert_eq!(d.removed, vec!["z-1".to_string()]);
        assert_eq!(d.order, Some(vec!["d-1".to_string()]));
        assert!(
            d.sessions.is_empty(),
            "an idle time going away is no change"
        );
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
