//! Checks run ahead of their turn (issue 73 item 3, `launcher.landing.
//! parallel: N`): while one Merge's candidate is verified, the next N − 1
//! Merges of the train are verified on the tree each would have if every
//! Merge before it lands (A, A+B, A+B+C), each in its own candidate.
//!
//! A run ahead is known by the exact tree and checks it ran, nothing else:
//! when a Merge's turn comes and its candidate is that tree, the run's
//! verdict is its own (a red one too: the same tree failed the same
//! checks). Any other tree (one before it was red, your branch moved, the
//! work was recorded again) is verified at its turn as before, so what
//! lands is always a tree that passed. A red verdict ends the runs built on
//! it; each turn ends the runs its new chain no longer holds. Nothing of a
//! run ahead is stored: after a restart every Merge is verified at its turn.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::landing::Stopping;
use super::landing::{self, Waiting};
use crate::context::Context;
use crate::landing::Verdict;
use crate::model::{IntegrationMode, LandingState};

/// A run ahead: its tree and its checks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    tree: String,
    commands: Vec<String>,
}

/// One run ahead of its turn.
struct Run {
    /// The candidates its tree was built on: a red one ends it.
    on: Vec<String>,
    ended: Arc<AtomicBool>,
    /// None while it runs; then its verdict, or None when it gave none.
    verdict: watch::Receiver<Option<Option<Verdict>>>,
}

/// The runs ahead of one launcher.
#[derive(Default)]
pub(super) struct Ahead {
    runs: Mutex<HashMap<Key, Run>>,
}

impl Ahead {
    /// The run ahead on exactly `tree` with `commands`, taken out (its
    /// turn came); None when there is none.
    pub(super) fn take(&self, tree: &str, commands: &[String]) -> Option<Taken> {
        let key = Key {
            tree: tree.to_string(),
            commands: commands.to_vec(),
        };
        self.lock().remove(&key).map(|run| Taken(run.verdict))
    }

    /// A red verdict on `tree`: the runs built on it are ended and
    /// forgotten.
    pub(super) fn red(&self, tree: &str) {
        self.lock().retain(|_, run| {
            let built_on_it = run.on.iter().any(|t| t == tree);
            if built_on_it {
                run.ended.store(true, Ordering::SeqCst);
            }
            !built_on_it
        });
    }

    /// `id`'s candidate is `tree` and its checks start: the Merges after it
    /// in the train (up to `launcher.landing.parallel` − 1) are verified
    /// ahead, each on the tree before it; runs no longer in that chain end.
    pub(super) async fn run_after(
        self: &Arc<Self>,
        ctx: &Arc<Context>,
        id: &str,
        tree: &str,
        stopping: &Stopping,
    ) {
        let ahead = ctx.config.launcher.landing.parallel.saturating_sub(1);
        let chain = if ahead == 0 {
            Vec::new()
        } else {
            // Git merges: off the runtime.
            let (ctx2, id2, tree2) = (Arc::clone(ctx), id.to_string(), tree.to_string());
            tokio::task::spawn_blocking(move || chain_after(&ctx2, &id2, &tree2, ahead))
                .await
                .unwrap_or_default()
        };
        let wanted: Vec<Key> = chain.iter().map(|c| c.key.clone()).collect();
        let mut runs = self.lock();
        runs.retain(|key, run| {
            let kept = wanted.contains(key);
            if !kept {
                run.ended.store(true, Ordering::SeqCst);
            }
            kept
        });
        for link in chain {
            if runs.contains_key(&link.key) {
                continue;
            }
            let (tx, rx) = watch::channel(None);
            let ended = Arc::new(AtomicBool::new(false));
            runs.insert(
                link.key.clone(),
                Run {
                    on: link.on.clone(),
                    ended: Arc::clone(&ended),
                    verdict: rx,
                },
            );
            let (ctx2, this, stopping) = (Arc::clone(ctx), Arc::clone(self), Arc::clone(stopping));
            ctx.spawn(async move {
                let verdict = run_one(&ctx2, &link, ended, stopping).await;
                if verdict.as_ref().is_some_and(|v| !v.passed()) {
                    this.red(&link.key.tree);
                }
                let _no_one_waits = tx.send(Some(verdict));
            });
        }
    }

    /// A Merge joined the train: the chain after the Merge whose checks
    /// run now is laid again (nothing when none runs).
    pub(super) async fn joined(self: &Arc<Self>, ctx: &Arc<Context>, stopping: &Stopping) {
        if ctx.config.launcher.landing.parallel < 2 {
            return;
        }
        let running = ctx.store.read(|st| {
            st.sessions.values().find_map(|s| {
                let l = s.workspace()?.landing.as_ref()?;
                let tree = l
                    .tree
                    .clone()
                    .filter(|_| l.state == LandingState::Verifying)?;
                Some((s.id.clone(), tree))
            })
        });
        if let Some((id, tree)) = running {
            self.run_after(ctx, &id, &tree, stopping).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Run>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A run ahead whose turn came.
pub(super) struct Taken(watch::Receiver<Option<Option<Verdict>>>);

impl Taken {
    /// Its verdict, once reached; None when it gave none.
    pub(super) async fn verdict(mut self) -> Option<Verdict> {
        let reached = self.0.wait_for(Option::is_some).await.ok()?;
        reached.clone().flatten()
    }
}

/// One Merge of the chain: its session, its candidate and what it is built on.
struct Link {
    id: String,
    key: Key,
    on: Vec<String>,
}

/// The queued Merges after `id`, each with the tree it would have on the
/// one before it; the chain stops at a Merge that is not a plain Merge (an
/// Apply verified moves no branch) or whose change conflicts.
fn chain_after(ctx: &Context, id: &str, tree: &str, ahead: usize) -> Vec<Link> {
    let train = landing::train(ctx);
    // An Apply verified moves no branch: nothing after it is built on it.
    if !train
        .iter()
        .any(|w| w.id == id && w.mode == IntegrationMode::Merge)
    {
        return Vec::new();
    }
    let after = train.iter().skip_while(|w| w.id != id).skip(1);
    let mut chain = Vec::new();
    let mut on = vec![tree.to_string()];
    for w in after.take(ahead) {
        match next_tree(ctx, w, on.last().map(String::as_str).unwrap_or(tree)) {
            Some(next) => {
                chain.push(Link {
                    id: w.id.clone(),
                    key: Key {
                        tree: next.clone(),
                        commands: w.commands.clone(),
                    },
                    on: on.clone(),
                });
                on.push(next);
            }
            None => break,
        }
    }
    chain
}

/// The tree `w`'s Merge would have on `on`; None when it cannot be built.
fn next_tree(ctx: &Context, w: &Waiting, on: &str) -> Option<String> {
    if w.mode != IntegrationMode::Merge {
        return None;
    }
    let (base, commit) = ctx.store.read(|st| {
        let ws = st.sessions.get(&w.id)?.workspace()?;
        let queued = ws
            .landing
            .as_ref()
            .is_some_and(|l| l.state == LandingState::Queued);
        queued.then(|| Some((ws.base.clone(), ws.commit.clone()?)))?
    })?;
    match crate::worktrees::integrate::merged_on(&ctx.repo, &base, on, &commit) {
        Ok(tree) => tree,
        Err(e) => {
            tracing::warn!("{}: its candidate ahead could not be built: {e}", w.id);
            None
        }
    }
}

/// Runs one candidate's checks ahead of its turn; None when it gave no
/// verdict (ended, the launcher stopping, the candidate not written).
async fn run_one(
    ctx: &Arc<Context>,
    link: &Link,
    ended: Arc<AtomicBool>,
    stopping: Stopping,
) -> Option<Verdict> {
    let (ctx2, id, key) = (Arc::clone(ctx), link.id.clone(), link.key.clone());
    let (ended2, stopping2) = (Arc::clone(&ended), Arc::clone(&stopping));
    let ran = tokio::task::spawn_blocking(move || {
        let stop = move || stopping2() || ended2.load(Ordering::SeqCst);
        let running = |line: &str| landing::set_running(&ctx2, &id, Some(line), true);
        crate::landing::verify(
            &ctx2,
            &crate::landing::Candidate {
                session: &id,
                tree: &key.tree,
                commands: &key.commands,
                stopping: &stop,
                on_command: &running,
            },
        )
    })
    .await;
    landing::set_running(ctx, &link.id, None, true);
    match ran {
        // Cut short, it says nothing of the tree.
        Ok(Ok(_)) if ended.load(Ordering::SeqCst) || stopping() => None,
        Ok(Ok(verdict)) => Some(verdict),
        Ok(Err(e)) => {
            tracing::warn!("{}: its checks ahead did not run: {e}", link.id);
            None
        }
        Err(e) => {
            tracing::warn!("{}: its checks ahead: {e}", link.id);
            None
        }
    }
}
