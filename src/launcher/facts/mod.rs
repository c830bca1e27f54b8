//! The facts the views read that cost git, file or database reads, kept here
//! so that no status build reads them (`crate::views::Facts`):
//!
//! - a plan's named files that the user's tree still changes, and which of
//!   them hold a department's applied change (libgit2, file hashes);
//! - the previews of sessions that run no longer (their transcript or
//!   conversation files);
//! - a department's last report's question and the unread results (the
//!   database).
//!
//! They are read again when what they come from moves: after every change
//! the store commits (its observer calls [`FactsCache::catch_up`] before the
//! change is acknowledged, so a command's answer and the next status agree
//! with it), and every [`TICK`] for what moves without a change of ours
//! ([`FactsCache::tick`]: the user edits and commits the plan's files; a
//! transcript's last bytes land after its session ended). Each part is read
//! only when its inputs moved, so a change that touches none costs a
//! comparison in memory (`inputs`). The configuration file is looked at
//! on every tick too (one `stat`): an edit since the start is a fact the
//! page shows (`config::changes`).

mod inputs;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use inputs::{watched, Fetched, Inputs, Reading};

use crate::context::Context;
use crate::sessions::LiveAgents;
use crate::store::{Change, Store};
use crate::views::Facts;

/// How often what moves without our changes is looked at again.
use super::TICK;

/// The cached facts and what each was read from.
pub struct FactsCache {
    repo: PathBuf,
    current: RwLock<Arc<Facts>>,
    /// Moves whenever the facts do (the status cache's key has it).
    version: AtomicU64,
    inputs: Mutex<Inputs>,
    /// Told when a fact changed (the deltas look again).
    pub(super) changed: tokio::sync::Notify,
    /// The configuration file the launcher started with, watched.
    config: Mutex<Option<crate::config::changes::Watch>>,
}

impl FactsCache {
    pub fn new(repo: PathBuf) -> FactsCache {
        FactsCache {
            repo,
            current: RwLock::default(),
            version: AtomicU64::new(0),
            inputs: Mutex::default(),
            changed: tokio::sync::Notify::new(),
            config: Mutex::new(None),
        }
    }

    /// Watches the configuration file for edits while the launcher runs.
    pub fn watch_config(self, watch: crate::config::changes::Watch) -> FactsCache {
        *self.config.lock().unwrap_or_else(PoisonError::into_inner) = Some(watch);
        self
    }

    /// Looks at the configuration file; publishes what changed since the
    /// start when it moved. Whether a fact changed.
    fn look_at_config(&self) -> bool {
        let mut watch = self.config.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(mut change) = watch.as_mut().and_then(|w| w.look()) else {
            return false;
        };
        // A change that needs trust holds the next start: say so now.
        let asks = watch
            .as_ref()
            .and_then(|w| w.loaded())
            .and_then(|c| crate::config_trust::TrustGate::of(c).request());
        if let (Some(change), Some(asks)) = (change.as_mut(), asks) {
            let keys: Vec<&str> = asks.settings.iter().map(|a| a.key.as_str()).collect();
            change.applies = format!(
                "at the next start, which first asks for your trust ({}): nothing resumes \
                 or starts until you trust it",
                keys.join(", ")
            );
        }
        // Under the inputs' lock, as every reading is: none publishes over another.
        let _inputs = self.inputs();
        let mut next = (*self.current()).clone();
        next.config_change = change.map(Arc::new);
        self.publish(next)
    }

    /// The facts as of now.
    pub fn current(&self) -> Arc<Facts> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// After a change of the store: reads again what it moved (the first
    /// time, everything), in the committing thread, before the change is
    /// acknowledged. Whether a fact changed.
    pub fn catch_up(&self, store: &Store, change: &Change) -> bool {
        let mut inputs = self.inputs();
        let work = store.read(|state| inputs.moved(state, change));
        if work.is_empty() {
            return false;
        }
        let fetched = work.fetch(&self.repo, store);
        self.take(fetched, Reading::Change, &mut inputs)
    }

    /// What moves without a change of ours: the plans' files (while a plan
    /// names some), and the files of sessions not `live` that run or ended
    /// lately, when they grew. Read without holding the inputs, so a slow
    /// disk or a large repository never holds up a change's
    /// acknowledgement; what a change read since wins. Whether a fact changed.
    pub fn tick(&self, store: &Store, live: &dyn Fn(&str) -> bool) -> bool {
        let config_moved = self.look_at_config();
        let (work, seen) = {
            let inputs = self.inputs();
            let now = chrono::Utc::now().timestamp();
            let (mut work, watched) =
                store.read(|state| (inputs.plans_now(state), watched(state, now)));
            inputs.grown(&mut work, watched, live);
            (work.without_removals(), inputs.changes_seen())
        };
        if work.is_empty() {
            return config_moved;
        }
        let fetched = work.fetch(&self.repo, store);
        self.take(fetched, Reading::Tick { seen }, &mut self.inputs()) || config_moved
    }

    /// The inputs, locked; a panic elsewhere while they were held leaves
    /// them as they were, which the next reading corrects.
    fn inputs(&self) -> std::sync::MutexGuard<'_, Inputs> {
        self.inputs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps what was read and publishes the facts if they changed.
    fn take(&self, fetched: Fetched, reading: Reading, inputs: &mut Inputs) -> bool {
        let mut next = (*self.current()).clone();
        fetched.keep(reading, inputs, &mut next);
        self.publish(next)
    }

    /// Makes `next` the current facts if they differ, and says so to the
    /// deltas (a change's events may have reached them first). Whether
    /// they did.
    fn publish(&self, next: Facts) -> bool {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if **current == next {
            return false;
        }
        *current = Arc::new(next);
        self.version.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_one();
        true
    }
}

impl FactsCache {
    /// Reads every fact once (the previous run's previews, plans, reports),
    /// then has `store`'s observer keep them after every change.
    pub(super) fn keep(self: &Arc<Self>, store: &Store) {
        self.catch_up(store, &Change::default());
        let facts = Arc::clone(self);
        let observer = Box::new(move |store: &Store, change: &Change| {
            facts.catch_up(store, change);
        });
        if !store.observe(observer) {
            tracing::error!("the store already had an observer: the facts follow ticks only");
        }
    }

    /// Every [`TICK`], off the runtime, until `stopped`: what moves without a
    /// change of ours ([`FactsCache::tick`]; `live` says which sessions have
    /// a live agent or terminal).
    pub(super) fn start_ticks(
        self: &Arc<Self>,
        ctx: &Arc<Context>,
        live: Arc<LiveAgents>,
        stopped: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let (facts, context) = (Arc::clone(self), Arc::clone(ctx));
        ctx.spawn(async move {
            let ticks = async {
                loop {
                    tokio::time::sleep(TICK).await;
                    let (facts, context, live) =
                        (Arc::clone(&facts), Arc::clone(&context), Arc::clone(&live));
                    let looked = tokio::task::spawn_blocking(move || {
                        let is_live = |id: &str| live.pty(id).is_some() || live.agent(id).is_some();
                        facts.tick(&context.store, &is_live)
                    })
                    .await;
                    if let Err(e) = looked {
                        tracing::error!("the facts' tick failed: {e}");
                    }
                }
            };
            tokio::select! {
                _ = ticks => {}
                _ = stopped => {}
            }
        });
    }
}

#[cfg(test)]
pub(super) mod tests;
