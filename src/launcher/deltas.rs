//! Publishing live updates by delta. Every dashboard used to refetch the whole
//! status (about 3 KB per session) on every event; instead one task follows
//! the store's changes, derives the status once per change (with what waits
//! for the user, which the notifier is handed from the same build), and
//! publishes only what changed (computed by `crate::views::deltas`), with
//! the plans and results a change touched. A tick also catches what changes
//! without a store change (agent output, heartbeats).
//!
//! With 50 sessions and more, building and serializing every session's view
//! per change was most of a change's cost, though a change most often moves
//! one session. So when only session records changed since the last build
//! the pages were sent, only the views of those sessions' families are built
//! again (`views::status::family` says which views a session's record can
//! move, and why), the others are reused with their text as last sent (and
//! so is a view built again that came out as it was), and the rest of the
//! status (counts, Needs you, quota…) is derived again whole. Anything else (a plan, the queue, the quota, the terminals, the
//! cached facts, news, a lag, the first build) builds every view, and so
//! does the tick: what moves with the clock or the live agents alone (idle
//! times, heartbeats, previews) in a reused view lags until the next whole
//! build, one `TICK` at most.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::Launcher;
use crate::model::{result_key, State, TaskResult};
use crate::store::{Event, News, Touched};
use crate::views::deltas::{diff_plan, diff_status, Delta, Rebuilt, Seen};
use crate::views::session::SessionView;
use crate::views::status::{family, StatusView};
use crate::views::Snapshot;

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
        let mut sent = Sent::default();
        // The notifier has been handed what waits since it started.
        let mut told = false;
        loop {
            let mut events = Vec::new();
            let mut lagged = false;
            // Every view is built again (see the module's doc).
            let mut whole = false;
            tokio::select! {
                _ = &mut stopped => break,
                _ = tokio::time::sleep(TICK) => whole = true,
                // The cached facts moved (a tick saw the user's tree change).
                _ = self.facts.changed.notified() => whole = true,
                ev = rx.recv() => match ev {
                    Ok(ev) => events.push(ev),
                    // Too far behind: everything may have changed.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        sent = Sent::default();
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
            let Some(delta) = self.next_delta(&mut sent, &events, notices, whole) else {
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
    /// for what waits, and `sent` stays as last sent, so a page's first
    /// delta carries all that changed since (the whole status the first
    /// time, as after a lag). One derivation serves both: the status with
    /// its Needs you, of which the notifier is handed what it may tell.
    /// `whole`: every view is built again (a tick, the facts moved).
    fn next_delta(
        &self,
        sent: &mut Sent,
        events: &[Arc<Event>],
        notices: bool,
        whole: bool,
    ) -> Option<Delta> {
        let pages = self.deltas.tx.receiver_count() > 0;
        if !pages && !notices {
            return None;
        }
        let version = self.ctx.store.version();
        // Before the snapshot reads them: a move meanwhile is seen next time.
        let facts = self.facts.version();
        let mut snap = self.snapshot(|_| false);
        // Views are reused only into a page's delta: `seen` holds their text.
        let last = sent
            .last
            .take()
            .filter(|b| pages && !whole && b.facts == facts && b.whole_at.elapsed() < TICK);
        let (status, rebuilt, whole_at) = self.build(&mut snap, last, events);
        if self.notifier.started() {
            self.notifier
                .waiting_now(version, crate::views::needs_you::notices(&status.needs_you));
        }
        if !pages {
            return None;
        }
        let (delta, views) = self.diff(&mut sent.seen, events, &snap, status, &rebuilt);
        sent.last = Some(Built {
            views,
            state: snap.state,
            facts,
            whole_at,
        });
        Some(delta).filter(|d| !d.is_empty())
    }

    /// The status of `snap`: from `last`'s views when only session records
    /// changed since (those that may have moved built again), else whole;
    /// which views may differ from those `seen` holds the text of, and when
    /// the last whole build was.
    fn build(
        &self,
        snap: &mut Snapshot,
        last: Option<Built>,
        events: &[Arc<Event>],
    ) -> (StatusView, Rebuilt, Instant) {
        let partial = last.and_then(|last| {
            let mut ids = sessions_named(events)?;
            ids.extend(family::sessions_changed(&last.state, &snap.state)?);
            let rebuild = family::to_rebuild(&last.state, &snap.state, &ids);
            Some((last.views, rebuild, last.whole_at))
        });
        match partial {
            Some((views, rebuild, whole_at)) => {
                self.add_live(snap, |s| rebuild.contains(&s.id));
                let (status, changed) = crate::views::status::status_reusing(snap, views, &rebuild);
                (status, Rebuilt::Only(changed), whole_at)
            }
            None => {
                self.add_live(snap, |_| true);
                let status = crate::views::status::status(snap);
                (status, Rebuilt::All, Instant::now())
            }
        }
    }

    /// What changed since `seen`, which then becomes the present; with the
    /// session views, for the next build to reuse.
    fn diff(
        &self,
        seen: &mut Seen,
        events: &[Arc<Event>],
        snap: &Snapshot,
        status: StatusView,
        rebuilt: &Rebuilt,
    ) -> (Delta, Vec<SessionView>) {
        let (mut delta, views) = diff_status(seen, status, rebuilt);
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
        (delta, views)
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

/// What the pages were last sent, and what the next build may reuse.
#[derive(Default)]
struct Sent {
    seen: Seen,
    /// None until a build was diffed into `seen` (and after a lag).
    last: Option<Built>,
}

/// The last build whose delta `Sent::seen` recorded.
struct Built {
    /// Its session views, whose text `seen` holds.
    views: Vec<SessionView>,
    /// The tables it read: what changed since is found against them, and a
    /// session removed since moves its family as it was.
    state: State,
    /// The cached facts' version it read.
    facts: u64,
    /// When every view was last built (a whole build is due every `TICK`,
    /// however often changes come).
    whole_at: Instant,
}

/// The sessions a wake-up's events name, when they changed session records
/// (and results) alone; None when they changed anything else (a plan, the
/// queue, the quota, the terminals) or carried news: a whole build.
fn sessions_named(events: &[Arc<Event>]) -> Option<Vec<&str>> {
    let mut ids = Vec::new();
    for e in events {
        match &**e {
            Event::Committed { touched, .. } => {
                // Each table, so that a new one is not forgotten here.
                let Touched {
                    sessions,
                    plans,
                    terminals,
                    queue,
                    quota,
                    // Sent apart (`touched_results`); what the views show of
                    // them comes with the facts.
                    results: _,
                    results_marked: _,
                } = touched;
                if !plans.is_empty() || *terminals || *queue || *quota {
                    return None;
                }
                ids.extend(sessions.iter().map(String::as_str));
            }
            // A line of the audit log changes no table; the sessions it
            // names are built again all the same, with their live facts.
            Event::Audited { .. } => ids.extend(
                ["session_id", "parent_session_id", "zhongshu_session_id"]
                    .into_iter()
                    .filter_map(|k| e.field(k)),
            ),
            Event::News { .. } => return None,
        }
    }
    Some(ids)
}

#[cfg(test)]
mod tests {
    use super::Sent;
    use crate::config::Config;
    use crate::launcher::Launcher;

    /// Issue 71 item 1: a wake-up whose changes touched session records
    /// (and results) alone builds again the views of what they name; one
    /// that touched a plan, the queue, the quota or the terminals, or
    /// carried news, builds all.
    #[test]
    fn only_changes_of_sessions_alone_reuse_views() {
        use std::sync::Arc;

        use crate::store::{Event, News, Touched};

        let commit = |touched: Touched| Arc::new(Event::Committed { seq: 1, touched });
        let of = |ids: &[&str]| Touched {
            sessions: ids.iter().map(|s| s.to_string()).collect(),
            results: vec!["a result".into()],
            ..Touched::default()
        };
        let line = Arc::new(Event::audited(
            2,
            serde_json::json!({"event": "agent_needs_input", "session_id": "d-2"}),
        ));
        let events = [commit(of(&["d-1"])), line, commit(of(&["z-1"]))];
        assert_eq!(
            super::sessions_named(&events),
            Some(vec!["d-1", "d-2", "z-1"])
        );
        let others = [
            Touched {
                plans: vec!["z-1".into()],
                ..of(&["z-1"])
            },
            Touched {
                queue: true,
                ..of(&[])
            },
            Touched {
                quota: true,
                ..of(&[])
            },
            Touched {
                terminals: true,
                ..of(&[])
            },
        ];
        for touched in others {
            let events = [commit(of(&["d-1"])), commit(touched)];
            assert_eq!(super::sessions_named(&events), None);
        }
        let news = News::ResultsRead {
            parent: "z-1".into(),
            count: 1,
        };
        let events = [Arc::new(Event::News { seq: 1, news })];
        assert_eq!(super::sessions_named(&events), None);
    }

    /// A launcher with the default configuration over a fresh repository
    /// (the folder, kept while the launcher is used).
    fn launcher_in_a_repo() -> (tempfile::TempDir, std::sync::Arc<Launcher>) {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        crate::launcher::facts::tests::repo_with_a_file(&repo);
        let config = Config::load_with_env(&repo, &Default::default()).unwrap();
        let l = Launcher::open(&repo, config, repo.join(".tmp")).unwrap();
        (dir, l)
    }

    /// A change of one planner's record reaches the page as that change
    /// alone; its view is built again, the other planner's reused.
    #[test]
    fn a_change_of_one_session_is_built_again_in_part() {
        let (_dir, l) = launcher_in_a_repo();
        let planner = |id: &str| -> crate::model::Session {
            serde_json::from_value(serde_json::json!({
                "id": id, "session_kind": "zhongshu", "role": "planner", "department": null,
                "title": "t", "model": "m", "task": "do", "pid": 1, "status": "exited",
                "exit_code": 0, "started_at": "s", "ended_at": "e", "prompt_path": "",
                "log_path": "", "backend": "pty",
            }))
            .unwrap()
        };
        l.ctx
            .store
            .update(|tx| {
                tx.insert_session(planner("zhongshu-1"));
                tx.insert_session(planner("zhongshu-2"));
            })
            .unwrap();
        let _page = l.deltas.subscribe();
        let mut sent = Sent::default();
        let first = l
            .next_delta(&mut sent, &[], false, true)
            .expect("all of it");
        assert_eq!(first.sessions.len(), 2);
        // A mark on the view kept of zhongshu-1: it stays if reused.
        let kept = &mut sent.last.as_mut().expect("kept for the next change").views;
        let other = kept.iter_mut().find(|v| v.session.id == "zhongshu-1");
        other.unwrap().transcript_preview = Some("reused".into());
        let mut rx = l.ctx.store.subscribe();
        l.ctx
            .store
            .update(|tx| tx.session_mut("zhongshu-2").unwrap().title = "renamed".into())
            .unwrap();
        let events: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        let delta = l
            .next_delta(&mut sent, &events, false, false)
            .expect("the change");
        assert_eq!(
            serde_json::to_value(&delta.sessions).unwrap(),
            serde_json::json!({"zhongshu-2": {"id": "zhongshu-2", "title": "renamed", "idle_seconds": null}})
        );
        let kept = serde_json::to_value(&sent.last.as_ref().unwrap().views).unwrap();
        let whole = serde_json::to_value(l.status_view().sessions).unwrap();
        assert_eq!(kept[0], whole[0], "zhongshu-2's view, built again");
        assert_eq!(kept[1]["transcript_preview"], "reused", "zhongshu-1's");
    }

    #[test]
    fn no_status_is_built_while_no_page_listens_and_the_first_page_gets_it_whole() {
        let (_dir, l) = launcher_in_a_repo();
        let mut seen = Sent::default();
        assert!(
            l.next_delta(&mut seen, &[], false, false).is_none(),
            "no page listens: nothing built"
        );
        let _page = l.deltas.subscribe();
        let first = l
            .next_delta(&mut seen, &[], false, false)
            .expect("a page listens");
        assert!(
            first.fields.contains_key("zhongshu_model") && first.fields.contains_key("quota"),
            "nothing was sent before: the first delta is the whole status"
        );
        assert!(
            l.next_delta(&mut seen, &[], false, false).is_none(),
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
        let mut seen = Sent::default();
        assert!(
            l.next_delta(&mut seen, &[], true, false).is_none(),
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
        let delta = l
            .next_delta(&mut seen, &[], true, false)
            .expect("a page listens");
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
