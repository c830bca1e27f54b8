//! Sessions and the account's usage limits. A turn the limit stopped parks its
//! session: not reminded, not failed, no fallback. At the reset (plus a few
//! seconds) each parked session gets exactly one continue turn, in the order
//! they parked. While a limit is reached or the 5-hour window is over the
//! reserve, no department starts (the queue's hold, decided here and recorded
//! with its transitions); the user can start anyway. Parking and the hold are
//! persisted, so a restart before the reset waits and one after it continues.

mod budget;
pub mod clock;
pub mod model_switch;

pub use budget::BudgetInput;
pub(crate) use budget::{budget_stops, plan_over_budget};

use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::sync::Notify;

use crate::context::Context;

use crate::error::LResult;
use crate::model::{AccountQuota, AuditEvent, Hold, Parked, QuotaState, State};
use crate::policy::queue::Room;
use crate::policy::quota as rules;
use crate::store::Tx;

/// Seconds since the epoch.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A few seconds after the reset, so parked sessions do not all hit the
/// service at the very second it opens again.
fn jitter_secs() -> i64 {
    let mut b = [0u8; 1];
    let _ = getrandom::fill(&mut b);
    1 + i64::from(b[0] % 3)
}

/// The latest reset still to come that a running session parked at the
/// account's limit waits for (one parked at its agent's own limit holds
/// nothing else; one whose reset came holds nothing while its agent resumes).
fn parked_until(state: &State) -> Option<i64> {
    let now = unix_now();
    state
        .sessions
        .values()
        .filter(|s| s.is_running())
        .filter_map(|s| s.agent.parked.as_ref().filter(|p| !p.own).map(|p| p.until))
        .filter(|until| *until > now)
        .max()
}

/// Parks `id` when the usage limit stopped the turn that just ended (in the
/// transaction recording that end). Whether it parked.
pub(crate) fn park_if_limited(tx: &mut Tx, id: &str) -> bool {
    let Some(s) = tx.session(id) else {
        return false;
    };
    let (Some(reason), true) = (s.agent.limit_hit.clone(), s.is_running()) else {
        return false;
    };
    let now = unix_now();
    let own = s.agent.limit_own;
    let (until, known_reset) = match own {
        // No account's reset is its: the back-off, final.
        true => rules::park_until(&Default::default(), now, jitter_secs()),
        false => rules::park_until(&tx.state().quota.account, now, jitter_secs()),
    };
    let order = {
        let q = tx.quota_mut();
        q.parked_count += 1;
        q.parked_count
    };
    let since = crate::clock::now_rfc3339();
    if let Some(s) = tx.session_mut(id) {
        s.agent.limit_hit = None;
        s.agent.limit_own = false;
        s.agent.parked = Some(Parked {
            until,
            reason: reason.clone(),
            since,
            order,
            known_reset: known_reset || own,
            own,
        });
    }
    tx.audit(AuditEvent::SessionParked {
        session_id: id.to_string(),
        until: unix_rfc3339(until),
        reason,
    });
    true
}

/// The queue's hold as of now.
fn current_hold(state: &State, reserve_percent: f64) -> Option<Hold> {
    rules::hold(
        &state.quota,
        unix_now(),
        reserve_percent,
        parked_until(state),
    )
}

/// What the queue's hold is now, recorded when it changed (held, lifted, or
/// held for another reason) with its audit event.
pub(crate) fn settle_hold(tx: &mut Tx, reserve_percent: f64) -> Option<Hold> {
    let hold = current_hold(tx.state(), reserve_percent);
    let before = tx.state().quota.hold.clone();
    if before == hold {
        return hold;
    }
    let none_parked = parked_until(tx.state()).is_none();
    let q = tx.quota_mut();
    q.hold = hold.clone();
    if hold.is_none() {
        q.told.clear();
        if none_parked {
            q.account.forget_reached();
        }
    }
    match &hold {
        Some(h) => tx.audit(AuditEvent::QueueHeld {
            reason: h.reason.as_str().to_string(),
            until: h.until.map(unix_rfc3339),
            text: h.text.clone(),
        }),
        None => tx.audit(AuditEvent::QueueReleased {
            was: before.map(|b| b.text).unwrap_or_default(),
        }),
    }
    hold
}

/// The Zhongshus with departments waiting under the hold that were not told
/// yet, now marked told: each hears once why its work waits.
pub(crate) fn untold_waiting(
    tx: &mut Tx,
    account: &crate::policy::queue::AccountUse,
) -> Vec<String> {
    let waiting: std::collections::BTreeSet<String> = tx
        .queue()
        .iter()
        .filter(|q| q.status == crate::model::QueueStatus::Queued)
        .filter(|q| account.draws(&q.department))
        .filter_map(|q| q.parent_session_id.clone())
        .collect();
    let untold: Vec<String> = waiting
        .into_iter()
        .filter(|z| !tx.state().quota.told.contains(z))
        .collect();
    if !untold.is_empty() {
        tx.quota_mut().told.extend(untold.iter().cloned());
    }
    untold
}

/// What a department start waits for, as of now, read without recording
/// anything (the dispatcher records the hold's and the budgets' changes
/// as it pumps the queue). A finished plan counts too: a send back reopens it.
pub(crate) fn room(state: &State, config: &crate::config::LauncherSettings) -> Room {
    let over_budget = state
        .plans
        .values()
        .filter_map(|p| {
            plan_over_budget(state, &p.session_id, config).map(|t| (p.session_id.clone(), t))
        })
        .collect();
    let taken = state.slots_by_host();
    let hosts = config
        .remotes
        .iter()
        .map(|r| {
            let room = crate::policy::queue::HostRoom {
                in_use: taken.get(&Some(r.name.clone())).copied().unwrap_or(0),
                max: r.max_departments,
                unready: None,
                labels: r.labels.clone(),
            };
            (r.name.clone(), room)
        })
        .collect();
    Room {
        slots_in_use: taken.get(&None).copied().unwrap_or(0),
        max_departments: config.max_departments,
        hold: current_hold(state, config.quota_reserve_percent),
        account: account_use(&config.agent),
        over_budget,
        hosts,
        labelled: Default::default(),
    }
}

/// Which departments' agents draw on the Codex account, as their backends
/// say (`Capabilities::shares_codex_account`): a new backend says so itself.
fn account_use(agents: &crate::config::AgentSettings) -> crate::policy::queue::AccountUse {
    let codex = |b: &crate::agents::BackendSettings| {
        crate::agents::capabilities(b.kind()).shares_codex_account
    };
    crate::policy::queue::AccountUse {
        by_default: codex(&agents.backend),
        departments: agents
            .departments
            .iter()
            .map(|(key, b)| (key.clone(), codex(b)))
            .collect(),
    }
}

/// RFC 3339 in local time, for audit lines and views.
pub fn unix_rfc3339(unix: i64) -> String {
    use chrono::TimeZone;
    chrono::Local
        .timestamp_opt(unix, 0)
        .single()
        .map(|t| crate::clock::rfc3339(&t))
        .unwrap_or_else(|| unix.to_string())
}

/// The one turn a parked session gets at the reset.
fn continue_text(p: &Parked) -> String {
    format!(
        "[codex-governance] The usage limit that stopped your turn at {} has reset. \
         Continue your assignment where you left off.",
        p.since
    )
}

/// What the quota service asks of the sessions: it tells a session to go on
/// (after the reset, or when its plan's budget was raised). The sessions
/// service implements it; the quota service never depends on it.
pub trait Agents: Send + Sync {
    /// Err (why) unless `id` is a Zhongshu session.
    fn require_zhongshu(&self, id: &str) -> LResult<()>;
    /// Whether a running session has its agent now (not while it resumes).
    fn is_live(&self, id: &str) -> bool;
    /// Waits until a running session has its agent (one may be resuming).
    fn wait_until_live<'a>(&'a self, id: &'a str) -> BoxFuture<'a, LResult<()>>;
    /// Puts text into a live session.
    fn deliver<'a>(&'a self, id: &'a str, text: &'a str) -> BoxFuture<'a, LResult<()>>;
    /// The live session's next turns use `model` (Err: why not).
    fn set_model<'a>(&'a self, id: &'a str, model: &'a str) -> BoxFuture<'a, LResult<()>>;
}

/// The account's usage limits, the queue's hold and the plans' budgets, as
/// the launcher keeps them: it owns the quota's record in the store and is
/// told when it changed (a session parked, a snapshot, start anyway), so the
/// quota clock looks again when to wake.
pub struct Quota {
    ctx: Arc<Context>,
    changed: Arc<Notify>,
}

impl Quota {
    pub fn new(ctx: Arc<Context>) -> Quota {
        Quota {
            ctx,
            changed: Arc::default(),
        }
    }

    /// Notified whenever the quota changed; the sessions notify it when a
    /// session parks.
    pub fn changed(&self) -> &Arc<Notify> {
        &self.changed
    }

    /// Takes a (partial) rate-limit snapshot into the account's record.
    /// A session parked before the report said when the limit resets waits
    /// for that reset from now on.
    pub fn record(&self, update: &AccountQuota) {
        let saved = self.ctx.store.update(|tx| {
            tx.quota_mut().account.merge(update);
            model_switch::rearm(tx);
            let now = unix_now();
            let account = tx.state().quota.account.clone();
            let ids: Vec<String> = tx.state().sessions.keys().cloned().collect();
            for id in ids {
                let Some(p) = tx.session(&id).and_then(|s| s.agent.parked.clone()) else {
                    continue;
                };
                if let Some(until) = rules::known_reset(&p, &account, now, jitter_secs()) {
                    if let Some(s) = tx.session_mut(&id) {
                        s.agent.parked = Some(Parked {
                            until,
                            known_reset: true,
                            ..p
                        });
                    }
                    tx.audit(AuditEvent::SessionParked {
                        session_id: id,
                        until: unix_rfc3339(until),
                        reason: "the usage limit's reset is now known".into(),
                    });
                }
            }
        });
        if let Err(e) = saved {
            tracing::error!("recording the account's rate limits: {e}");
        }
        self.changed.notify_one();
    }

    pub fn state(&self) -> QuotaState {
        self.ctx.store.read(|s| s.quota.clone())
    }

    /// Running parked sessions, in the order they parked.
    pub fn parked(&self) -> Vec<(String, Parked)> {
        let mut all: Vec<(String, Parked)> = self.ctx.store.read(|s| {
            s.sessions
                .values()
                .filter(|x| x.is_running())
                .filter_map(|x| Some((x.id.clone(), x.agent.parked.clone()?)))
                .collect()
        });
        all.sort_by_key(|(_, p)| p.order);
        all
    }

    /// When the quota clock must look again: the first parked session's
    /// reset, or the end of the queue's hold. A session whose reset came while
    /// its agent resumes is left out: the resume tells the clock when it is live.
    pub fn next_wake(&self, agents: &dyn Agents) -> Option<i64> {
        let now = unix_now();
        let parked = self
            .parked()
            .into_iter()
            .filter(|(id, p)| p.until > now || agents.is_live(id))
            .map(|(_, p)| p.until)
            .min();
        let hold = self.ctx.store.read(|s| s.quota.hold.as_ref()?.until);
        parked.into_iter().chain(hold).min()
    }

    /// Gives each parked session whose reset has come its one continue turn,
    /// in parking order. The ids resumed. One whose agent is resuming (after a
    /// restart) stays parked until it is live, so that its continue turn is
    /// this one and no other.
    pub async fn resume_parked(&self, agents: &dyn Agents) -> Vec<String> {
        let now = unix_now();
        let mut resumed = Vec::new();
        for (id, parked) in self.parked() {
            if parked.until > now || !agents.is_live(&id) {
                continue;
            }
            // Unparked first (at most one continue turn, even across a crash).
            let unparked = self.ctx.store.update(|tx| {
                let taken = tx.session_mut(&id).and_then(|s| s.agent.parked.take());
                if taken.is_some() {
                    tx.audit(AuditEvent::SessionUnparked {
                        session_id: id.clone(),
                        parked_since: parked.since.clone(),
                    });
                }
                taken.is_some()
            });
            match unparked {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::error!("unparking {id}: {e}");
                    continue;
                }
            }
            if let Err(e) = agents.wait_until_live(&id).await {
                tracing::warn!("{id} was unparked but its agent is not live: {e}");
                continue;
            }
            match agents.deliver(&id, &continue_text(&parked)).await {
                Ok(_) => resumed.push(id),
                Err(e) => tracing::warn!("continuing {id} after the reset: {e}"),
            }
        }
        resumed
    }

    /// The user's "start anyway": departments start despite the hold until
    /// it would have ended (an hour when that is unknown). Audited.
    pub fn start_anyway(&self) -> LResult<QuotaState> {
        let now = unix_now();
        let reserve = self.ctx.config.launcher.quota_reserve_percent;
        let q = self.ctx.store.update(|tx| {
            let hold = current_hold(tx.state(), reserve);
            let until = hold.as_ref().and_then(|h| h.until).unwrap_or(now + 3600);
            tx.quota_mut().start_anyway_until = Some(until);
            tx.audit(AuditEvent::QuotaOverridden {
                until: unix_rfc3339(until),
                hold: hold.map(|h| h.text).unwrap_or_default(),
            });
            tx.state().quota.clone()
        })?;
        self.changed.notify_one();
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::LauncherError;
    use crate::store::Store;
    use serde_json::json;
    use std::collections::HashSet;
    use std::sync::Mutex;

    /// A running department whose turn a usage limit stopped (`own`: its
    /// agent's own).
    fn limited(id: &str, own: bool) -> crate::model::Session {
        let mut s: crate::model::Session = serde_json::from_value(json!({
            "id": id, "session_kind": "department", "role": "department",
            "department": "zhilibu", "status": "running", "log_path": "x.log",
            "parent_session_id": "zhongshu-1", "backend": "acp", "title": "t", "model": "m",
            "task": "do", "pid": 1, "exit_code": null, "started_at": "2026-01-01T00:00:00Z",
            "ended_at": null, "prompt_path": "",
        }))
        .unwrap();
        s.agent.limit_hit = Some("the limit".into());
        s.agent.limit_own = own;
        s
    }

    #[test]
    fn an_agents_own_limit_parks_it_alone_and_the_accounts_holds_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state")).unwrap();
        store
            .update(|tx| {
                tx.insert_session(limited("own-1", true));
                assert!(park_if_limited(tx, "own-1"));
            })
            .unwrap();
        let parked = store.read(|s| s.sessions["own-1"].agent.parked.clone().unwrap());
        assert!(parked.own && parked.known_reset, "{parked:?}");
        assert_eq!(
            store.read(parked_until),
            None,
            "the queue is not held for it"
        );
        store
            .update(|tx| {
                tx.insert_session(limited("account-1", false));
                assert!(park_if_limited(tx, "account-1"));
            })
            .unwrap();
        let account = store.read(|s| s.sessions["account-1"].agent.parked.clone().unwrap());
        assert!(!account.own, "{account:?}");
        assert_eq!(store.read(parked_until), Some(account.until));
    }

    /// Sessions whose agents are live (`live`), and what each was told.
    #[derive(Default)]
    struct Told {
        live: Mutex<HashSet<String>>,
        texts: Mutex<Vec<(String, String)>>,
    }

    impl Agents for Told {
        fn require_zhongshu(&self, _: &str) -> LResult<()> {
            Ok(())
        }
        fn is_live(&self, id: &str) -> bool {
            self.live.lock().unwrap().contains(id)
        }
        fn wait_until_live<'a>(&'a self, id: &'a str) -> BoxFuture<'a, LResult<()>> {
            let live = self.is_live(id);
            Box::pin(async move {
                match live {
                    true => Ok(()),
                    false => Err(LauncherError::Conflict(format!("{id} is not live"))),
                }
            })
        }
        fn deliver<'a>(&'a self, id: &'a str, text: &'a str) -> BoxFuture<'a, LResult<()>> {
            self.texts.lock().unwrap().push((id.into(), text.into()));
            Box::pin(async { Ok(()) })
        }
        fn set_model<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, LResult<()>> {
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn a_due_park_waits_for_its_resuming_agent_then_gets_one_continue_turn() {
        let dir = tempfile::tempdir().unwrap();
        let paths = crate::store::Paths::new(dir.path().join("state"));
        let store = Store::open(&paths.state_dir).unwrap();
        let config = crate::config::Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let ctx = Arc::new(Context::new(dir.path().to_path_buf(), config, paths, store));
        ctx.store
            .update(|tx| {
                tx.insert_session(limited("dept-1", false));
                assert!(park_if_limited(tx, "dept-1"));
                // Its reset came while the launcher was down.
                if let Some(p) = tx
                    .session_mut("dept-1")
                    .and_then(|s| s.agent.parked.as_mut())
                {
                    p.until = unix_now() - 5;
                }
            })
            .unwrap();
        let quota = Quota::new(Arc::clone(&ctx));
        let agents = Told::default();
        // Its conversation is still resuming: it stays parked, holds nothing,
        // and the clock does not wake for it.
        assert!(quota.resume_parked(&agents).await.is_empty());
        assert!(ctx
            .store
            .read(|s| s.sessions["dept-1"].agent.parked.is_some()));
        assert_eq!(ctx.store.read(parked_until), None, "its reset came");
        assert_eq!(quota.next_wake(&agents), None);
        assert!(agents.texts.lock().unwrap().is_empty());
        // Live: the clock is due, one continue turn, and it is no longer parked.
        agents.live.lock().unwrap().insert("dept-1".into());
        assert!(quota.next_wake(&agents).is_some_and(|at| at <= unix_now()));
        assert_eq!(quota.resume_parked(&agents).await, ["dept-1"]);
        assert!(ctx
            .store
            .read(|s| s.sessions["dept-1"].agent.parked.is_none()));
        assert!(quota.resume_parked(&agents).await.is_empty());
        let texts = agents.texts.lock().unwrap();
        assert_eq!(texts.len(), 1, "{texts:?}");
        assert!(texts[0].1.contains("stopped your turn"), "{texts:?}");
    }
}
