//! Publishing live updates by delta. Every dashboard used to refetch the whole
//! status (about 3 KB per session) on every event; instead one task follows
//! the store's changes, rebuilds the status once (with what waits for the
//! user, which the notifier is handed from the same build), and publishes
//! only what changed (computed by `crate::views::deltas`), with the plans
//! and results a change touched. A tick also catches what changes without a
//! store change (agent output, heartbeats).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::Launcher;
use crate::model::{result_key, TaskResult};
use crate::store::{Event, News};
use crate::views::deltas::{diff_plan, diff_status, Delta, Seen};

/// How often output-only changes (previews, heartbeats) are looked for.
use super::TICK;

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
        // Nothing is built until a page listens (see `next_delta`).
        let mut seen = Seen::default();
        // The notifier has been handed what waits since it started.
        let mut told = false;
        loop {
            let mut events = Vec::new();
            let mut lagged = false;
            tokio::select! {
                _ = &mut stopped => break,
                _ = tokio::time::sleep(TICK) => {}
                // The cached facts moved (a tick saw the user's tree change).
                _ = self.facts.changed.notified() => {}
                ev = rx.recv() => match ev {
                    Ok(ev) => events.push(ev),
                    // Too far behind: everything may have changed.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        seen = Seen::default();
                        lagged = true;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
            while let Ok(ev) = rx.try_recv() {
                events.push(ev);
            }
            // What waits moves with the store: derived again for the
            // notices when it changed, or when they just started.
            let notices = self.notifier.started() && (!told || lagged || !events.is_empty());
            told |= notices;
            let Some(delta) = self.next_delta(&mut seen, &events, notices) else {
                continue;
            };
            match serde_json::to_string(&delta) {
                Ok(text) => {
                    let _ = self.deltas.tx.send(Arc::from(text));
                }
                Err(e) => tracing::error!("cannot serialize a delta: {e}"),
            }
        }
    }

    /// The delta to publish now; None when nothing changed, or while no
    /// page listens: then no status is built (an idle launcher with no page
    /// open holds none, nor the code that builds it) unless `notices` asks
    /// for what waits, and `seen` stays as last sent, so a page's first
    /// delta carries all that changed since (the whole status the first
    /// time, as after a lag). One derivation serves both: the status with
    /// its Needs you, of which the notifier is handed what it may tell.
    fn next_delta(&self, seen: &mut Seen, events: &[Arc<Event>], notices: bool) -> Option<Delta> {
        let pages = self.deltas.tx.receiver_count() > 0;
        if !pages && !notices {
            return None;
        }
        let version = self.ctx.store.version();
        let snap = self.snapshot(|_| true);
        let status = crate::views::status::status(&snap);
        if self.notifier.started() {
            self.notifier
                .waiting_now(version, crate::views::needs_you::notices(&status.needs_you));
        }
        if !pages {
            return None;
        }
        Some(self.diff(seen, events, &snap, status)).filter(|d| !d.is_empty())
    }

    /// What changed since `seen`, which then becomes the present.
    fn diff(
        &self,
        seen: &mut Seen,
        events: &[Arc<Event>],
        snap: &crate::views::Snapshot,
        status: crate::views::status::StatusView,
    ) -> Delta {
        let mut delta = diff_status(seen, status);
        // One snapshot for the status and every touched plan.
        for id in self.touched_plans(events) {
            // The Zhongshu's session travels in `sessions`: not built here.
            let view = crate::views::plan::PlanView {
                session_id: id.clone(),
                session: None,
                plan: crate::views::plan::body(snap, &id),
            };
            if let Ok(plan) = serde_json::to_value(view) {
                diff_plan(seen, &mut delta, id, plan);
            }
        }
        delta.results = self.touched_results(events);
        delta
    }

    /// The Zhongshus with a plan that the events name.
    fn touched_plans(&self, events: &[Arc<Event>]) -> HashSet<String> {
        events
            .iter()
            .flat_map(|e| -> Vec<&str> {
                match &**e {
                    // A commit names its plans and sessions itself.
                    Event::Committed { touched, .. } => touched
                        .plans
                        .iter()
                        .chain(&touched.sessions)
                        .map(String::as_str)
                        .collect(),
                    _ => ["session_id", "parent_session_id", "zhongshu_session_id"]
                        .into_iter()
                        .filter_map(|k| e.field(k))
                        .collect(),
                }
            })
            .filter(|id| self.ctx.store.read(|s| s.plans.contains_key(*id)))
            .map(str::to_string)
            .collect()
    }

    /// The results the changes stored (registered, updated, answered) or
    /// the user saw, each once, as they are now.
    fn touched_results(&self, events: &[Arc<Event>]) -> Vec<TaskResult> {
        let mut seen = HashSet::new();
        events
            .iter()
            .flat_map(|e| -> Vec<String> {
                match &**e {
                    Event::Committed { touched, .. } => touched.results.clone(),
                    Event::News {
                        news:
                            News::ResultSeen {
                                parent,
                                department,
                                report,
                            },
                        ..
                    } => vec![result_key(parent, department, report)],
                    _ => Vec::new(),
                }
            })
            .filter(|key| seen.insert(key.clone()))
            .filter_map(|key| self.ctx.store.result(&key).ok().flatten())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::launcher::Launcher;
    use crate::views::deltas::Seen;

    #[test]
    fn no_status_is_built_while_no_page_listens_and_the_first_page_gets_it_whole() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        crate::launcher::facts::tests::repo_with_a_file(&repo);
        let config = Config::load_with_env(&repo, &Default::default()).unwrap();
        let l = Launcher::open(&repo, config, repo.join(".tmp")).unwrap();
        let mut seen = Seen::default();
        assert!(
            l.next_delta(&mut seen, &[], false).is_none(),
            "no page listens: nothing built"
        );
        let _page = l.deltas.subscribe();
        let first = l.next_delta(&mut seen, &[], false).expect("a page listens");
        assert!(
            first.fields.contains_key("zhongshu_model") && first.fields.contains_key("quota"),
            "nothing was sent before: the first delta is the whole status"
        );
        assert!(
            l.next_delta(&mut seen, &[], false).is_none(),
            "nothing changed since: no delta"
        );
    }

    /// Issue 71 item 1: what waits is derived once per change, in the
    /// status's build, and the notices take it from there: without a page
    /// for them alone, with one from the very build the page's delta comes
    /// from.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_derivation_serves_the_page_and_the_notices() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        crate::launcher::facts::tests::repo_with_a_file(&repo);
        std::fs::write(
            repo.join("governance.yaml"),
            "launcher:\n  notify:\n    command: [\"true\"]\n",
        )
        .unwrap();
        let trusted =
            crate::config::Env::from([("CODEX_GOVERNANCE_TRUST_CONFIG".into(), "1".into())]);
        let config = Config::load_with_env(&repo, &trusted).unwrap();
        let l = Launcher::open(&repo, config, repo.join(".tmp")).unwrap();
        l.start_notifier();
        assert!(l.notifier.started(), "a channel to tell");
        l.ctx
            .store
            .update(|tx| {
                tx.quota_mut().hold = Some(crate::model::Hold {
                    reason: crate::model::HoldReason::Reserve,
                    until: None,
                    text: "held".into(),
                })
            })
            .unwrap();
        let mut seen = Seen::default();
        assert!(
            l.next_delta(&mut seen, &[], true).is_none(),
            "no page listens: no delta"
        );
        let told: Vec<String> = l
            .notifier
            .waiting()
            .items
            .iter()
            .map(|i| i.id.clone())
            .collect();
        assert_eq!(told, ["quota:hold"], "derived for the notices alone");
        assert_eq!(l.notifier.waiting().version, l.ctx.store.version());
        let _page = l.deltas.subscribe();
        let delta = l.next_delta(&mut seen, &[], true).expect("a page listens");
        let items = delta.fields["needs_you"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0]["kind"], "quota");
        assert_eq!(
            items[0]["actions"],
            serde_json::json!([]),
            "nothing queued: nothing to start anyway"
        );
        l.shutdown().await;
    }
}
