//! Notices away from the desk (issue 54, tier 0). The dashboard tells the
//! user what waits only while it is watched; this service is handed what
//! waits each time the launcher derives it (once per store change, the same
//! derivation the page draws, `views::needs_you`, through
//! [`Notifier::waiting_now`]), asks the rules whether to tell it now
//! (`policy::notice`: dwell, a tab in use, once per item, cooldown, quiet
//! hours) and hands each notice to the configured channels (`channels`:
//! ntfy, a program). One tracked task follows what waits; each delivery
//! runs as its own tracked task with back-off, so a
//! slow or failing channel never holds the launcher. Every delivery and
//! every failure is audited, and the last ones are kept for the page.

pub mod channels;
pub mod decision_token;
mod presence;
pub mod replies;
mod telegram;
pub mod token;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::notify::NotifySettings;
use crate::context::Context;
use crate::model::notice::Channel;
use crate::model::AuditEvent;
use crate::policy::needs_you::{self, NeedItem};
use crate::policy::notice::{self, Moment, NotNow, Notice, Timing};
use crate::views::notify::{ChannelView, Delivery, DeliveryState, NotifyView};
use channels::{Button, DeliveryError, Http};
pub use replies::Deciders;

pub use presence::PRESENCE_FRESH;
/// The longest the notifier sleeps between two looks.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// Waits before the 2nd, 3rd and 4th try of a delivery (429: at least the last).
const BACK_OFF: [Duration; 3] = [
    Duration::from_secs(2),
    Duration::from_secs(8),
    Duration::from_secs(30),
];
/// Deliveries kept for the page.
const KEPT: usize = 20;

/// What the notifier remembers of the items it saw.
#[derive(Default)]
struct Tracker {
    first_seen_ms: HashMap<String, u64>,
    told: HashSet<String>,
    session_told_ms: HashMap<String, u64>,
    /// Items told before this start (the audit's `notice_delivered`), by id,
    /// with what their notice showed: one still waiting unchanged is told.
    told_earlier: HashMap<String, String>,
}

/// What waits for the user as the launcher last derived it, and the
/// store's version it was derived at (or after).
#[derive(Debug, Default)]
pub struct Waiting {
    pub version: u64,
    pub items: Vec<NeedItem>,
}

/// How long a phone's answer waits for what waits to be derived again
/// after the store moved, before it is checked against the last derivation.
const CATCH_UP: Duration = Duration::from_secs(2);

/// How far back in the audit log a start looks for notices delivered and
/// tokens used before it.
const REMEMBERED_LINES: usize = 2000;

/// What the audit's `lines` say was told, by item (with its digest), and
/// which decision tokens' nonces were used.
fn remembered(lines: &[serde_json::Value]) -> (HashMap<String, String>, HashSet<String>) {
    let mut told = HashMap::new();
    let mut used = HashSet::new();
    for line in lines {
        let text = |k: &str| line[k].as_str().map(str::to_string);
        match line["event"].as_str() {
            Some("notice_delivered") => {
                if let (Some(item), Some(digest)) = (text("item_id"), text("digest")) {
                    told.insert(item, digest);
                }
            }
            Some("approval_decided" | "plan_confirmed" | "phone_decided") => {
                used.extend(text("nonce"));
            }
            _ => {}
        }
    }
    (told, used)
}

pub struct Notifier {
    ctx: Arc<Context>,
    settings: NotifySettings,
    ntfy_token: Option<crate::secret::Secret>,
    telegram_token: Option<crate::secret::Secret>,
    /// The Telegram buttons handed out and not yet pressed, by nonce.
    pressable: Mutex<telegram::Pressable>,
    /// Made on the first notice: loading the system's roots costs memory and
    /// start-up time a launcher without a notice channel never needs.
    http: std::sync::OnceLock<Http>,
    origin: Instant,
    /// Which dashboard tabs are in use.
    presence: presence::Presence,
    /// Wakes the follower when a tab leaves: what it held may go now.
    left: tokio::sync::Notify,
    tracker: Mutex<Tracker>,
    /// What waits, as the launcher's derivation last found it.
    waiting: watch::Sender<Arc<Waiting>>,
    deliveries: Mutex<VecDeque<Delivery>>,
    next_delivery: AtomicU64,
    /// Signs the buttons' tokens; None when it could not be kept (no buttons then).
    key: Option<decision_token::Key>,
    deciders: std::sync::OnceLock<Arc<dyn Deciders>>,
    /// Nonces of the tokens used, in this run and (from the audit) before it.
    used_nonces: Mutex<HashSet<String>>,
    /// Refusals audited in the current minute: (its start, count).
    refusals: Mutex<(u64, u32)>,
}

impl Notifier {
    /// The notifier of `ctx`'s configuration; the ntfy token is read from
    /// `env` here and kept in memory only.
    pub fn new(ctx: Arc<Context>, env: &crate::config::Env) -> Arc<Notifier> {
        let settings = ctx.config.launcher.notify.clone();
        let ntfy_token = token::ntfy_token(env);
        let telegram_token = token::telegram_token(env);
        let (told_earlier, used_nonces) = match settings.any_channel() {
            true => ctx
                .store
                .audit_log()
                .read_before(u64::MAX, REMEMBERED_LINES)
                .map(|lines| remembered(&lines))
                .unwrap_or_else(|e| {
                    tracing::warn!("reading the notices told before this start: {e}");
                    Default::default()
                }),
            false => Default::default(),
        };
        let key = match settings.ntfy.is_some() || settings.telegram.is_some() {
            true => decision_token::Key::load_or_make(&ctx.paths.state_dir)
                .map_err(|e| tracing::warn!("no key for the notices' buttons: {e}"))
                .ok(),
            false => None,
        };
        let pressable = match settings.telegram.is_some() {
            true => telegram::Pressable::load(&ctx.paths.state_dir),
            false => telegram::Pressable::default(),
        };
        Arc::new(Notifier {
            ctx,
            settings,
            ntfy_token,
            pressable: Mutex::new(pressable),
            telegram_token,
            http: std::sync::OnceLock::new(),
            origin: Instant::now(),
            presence: presence::Presence::default(),
            left: tokio::sync::Notify::new(),
            tracker: Mutex::new(Tracker {
                told_earlier,
                ..Default::default()
            }),
            waiting: watch::Sender::new(Arc::default()),
            deliveries: Mutex::default(),
            next_delivery: AtomicU64::new(1),
            key,
            deciders: std::sync::OnceLock::new(),
            used_nonces: Mutex::new(used_nonces),
            refusals: Mutex::default(),
        })
    }

    /// The client notices go out on, made when first needed.
    fn http(&self) -> &Http {
        self.http.get_or_init(channels::http)
    }

    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    /// What a phone may decide (`launcher.notify.remote_decisions`).
    pub fn remote_decisions(&self) -> notice::RemoteDecisions {
        self.settings.remote_decisions
    }

    /// Dashboard tab `tab` is visible and used, or left (hidden, closed):
    /// a "yes" counts for [`PRESENCE_FRESH`], a "left" at once, for that tab
    /// only ([`presence`]).
    pub fn page_seen(&self, tab: Option<&str>, visible: bool) {
        self.presence.said(tab, visible, self.now_ms());
        if !visible {
            self.left.notify_one();
        }
    }

    fn tab_in_use(&self, now_ms: u64) -> bool {
        self.presence.in_use_until(now_ms).is_some()
    }

    fn timing(&self) -> Timing {
        Timing {
            dwell_ms: self.settings.dwell_seconds * 1000,
            cooldown_ms: self.settings.cooldown_seconds * 1000,
            quiet: self.settings.quiet(),
        }
    }

    /// Whether it follows what waits (it was started, with a channel to tell).
    pub fn started(&self) -> bool {
        self.deciders.get().is_some()
    }

    /// What waits for the user now, derived at the store's `version` (or
    /// after): the follower looks again when it changed.
    pub fn waiting_now(&self, version: u64, items: Vec<NeedItem>) {
        self.waiting.send_if_modified(|w| {
            let moved = w.items != items;
            *w = Arc::new(Waiting { version, items });
            moved
        });
    }

    /// What waits, as last handed over.
    pub fn waiting(&self) -> Arc<Waiting> {
        Arc::clone(&self.waiting.borrow())
    }

    /// What waits as derived since the store's present version, waiting a
    /// moment for the derivation to catch up with a change just made.
    async fn waiting_since_now(&self) -> Arc<Waiting> {
        let version = self.ctx.store.version();
        let deadline = Instant::now() + CATCH_UP;
        loop {
            let w = Arc::clone(&self.waiting.borrow());
            if w.version >= version || Instant::now() >= deadline {
                return w;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Follows the store, and the reply topic, until `stopping` turns true,
    /// each as one tracked task; a phone's decisions call `deciders`. Once:
    /// a later call does nothing.
    pub fn start(self: &Arc<Self>, stopping: watch::Receiver<bool>, deciders: Arc<dyn Deciders>) {
        if !self.settings.any_channel() || self.deciders.set(deciders).is_err() {
            return;
        }
        let this = Arc::clone(self);
        let stop = stopping.clone();
        self.ctx.spawn(async move { this.follow(stop).await });
        if self.settings.ntfy.is_some() && self.key.is_some() {
            let this = Arc::clone(self);
            let stopping = stopping.clone();
            self.ctx
                .spawn(async move { this.follow_replies(stopping).await });
        }
        if self.settings.telegram.is_some() && self.key.is_some() && self.telegram_token.is_some() {
            let this = Arc::clone(self);
            self.ctx
                .spawn(async move { this.follow_telegram(stopping).await });
        }
    }

    async fn follow(self: Arc<Self>, mut stopping: watch::Receiver<bool>) {
        let mut rx = self.waiting.subscribe();
        let mut wait = Duration::ZERO;
        loop {
            tokio::select! {
                _ = stopping.wait_for(|v| *v) => break,
                _ = tokio::time::sleep(wait) => {}
                _ = self.left.notified() => {}
                moved = rx.changed() => if moved.is_err() { break },
            }
            rx.mark_unchanged();
            let (due, next) = self.look();
            wait = next;
            for item in due {
                self.send_all(&item, stopping.clone());
            }
        }
    }

    /// The items to tell now, and how long until the next look.
    fn look(&self) -> (Vec<NeedItem>, Duration) {
        let waiting = Arc::clone(&self.waiting.borrow());
        let items = waiting.items.clone();
        let now_ms = self.now_ms();
        let tab_in_use = self.tab_in_use(now_ms);
        let minute_of_day = {
            use chrono::Timelike;
            let t = crate::clock::now();
            (t.hour() * 60 + t.minute()) as u16
        };
        let timing = self.timing();
        let mut t = self.tracker.lock().unwrap();
        let waiting: HashSet<&str> = items.iter().map(|i| i.id.as_str()).collect();
        // An item answered is forgotten: asked again later, it is new.
        t.first_seen_ms
            .retain(|id, _| waiting.contains(id.as_str()));
        t.told.retain(|id| waiting.contains(id.as_str()));
        let mut due = Vec::new();
        let mut next = LOOK_EVERY;
        for item in items {
            if t.told_earlier.get(&item.id) == Some(&item.digest) {
                t.told_earlier.remove(&item.id);
                t.told.insert(item.id.clone());
            }
            let first_seen_ms = *t.first_seen_ms.entry(item.id.clone()).or_insert(now_ms);
            let session = item.session_id.clone().unwrap_or_default();
            let m = Moment {
                first_seen_ms,
                now_ms,
                tab_in_use,
                already_told: t.told.contains(&item.id),
                session_last_told_ms: t.session_told_ms.get(&session).copied(),
                minute_of_day,
            };
            match notice::tell_now(timing, m) {
                Ok(()) => {
                    t.told.insert(item.id.clone());
                    t.session_told_ms.insert(session, now_ms);
                    due.push(item);
                }
                Err(NotNow::Dwell { until_ms } | NotNow::Cooldown { until_ms }) => {
                    next = next.min(Duration::from_millis(until_ms.saturating_sub(now_ms)));
                }
                Err(_) => {}
            }
        }
        (due, next)
    }

    fn dashboard(&self) -> String {
        self.settings
            .dashboard_url
            .clone()
            .unwrap_or_else(|| self.ctx.url().to_string())
    }

    /// Hands `item`'s notice to every channel, each as its own tracked task.
    fn send_all(self: &Arc<Self>, item: &NeedItem, stopping: watch::Receiver<bool>) {
        let notice = notice::notice(item, self.settings.detail, &self.dashboard());
        for channel in self.channels() {
            let this = Arc::clone(self);
            let notice = notice.clone();
            let stopping = stopping.clone();
            let buttons = match channel {
                Channel::Ntfy | Channel::Telegram => self.buttons_for(item),
                Channel::Command => Vec::new(),
            };
            self.ctx
                .spawn(async move { this.deliver(channel, notice, buttons, stopping).await });
        }
    }

    fn channels(&self) -> Vec<Channel> {
        let mut out = Vec::new();
        if self.settings.ntfy.is_some() {
            out.push(Channel::Ntfy);
        }
        if self.settings.telegram.is_some() {
            out.push(Channel::Telegram);
        }
        if self.settings.command.is_some() {
            out.push(Channel::Command);
        }
        out
    }

    /// *Send a test notice*: one notice on every channel, now, whatever the
    /// rules say; returns the ids of the deliveries started.
    pub fn send_test(self: &Arc<Self>, stopping: watch::Receiver<bool>) -> Vec<u64> {
        let item = NeedItem {
            id: "test".into(),
            kind: needs_you::NeedKind::Question,
            session_id: None,
            plan: None,
            department: None,
            detail: String::new(),
            digest: String::new(),
            answers: needs_you::Answers::Nothing,
        };
        let mut notice = notice::notice(&item, self.settings.detail, &self.dashboard());
        notice.title = "codex-governance: test notice".into();
        notice.body = "Notices from codex-governance reach you here.".into();
        let first = self.next_delivery.load(Ordering::Relaxed);
        for channel in self.channels() {
            let this = Arc::clone(self);
            let notice = notice.clone();
            let stopping = stopping.clone();
            self.ctx
                .spawn(async move { this.deliver(channel, notice, Vec::new(), stopping).await });
        }
        (first..first + self.channels().len() as u64).collect()
    }

    /// One notice on one channel, tried again with back-off until it goes,
    /// a try fails for good, or the launcher stops.
    async fn deliver(
        self: Arc<Self>,
        channel: Channel,
        notice: Notice,
        buttons: Vec<Button>,
        mut stopping: watch::Receiver<bool>,
    ) {
        let id = self.record(channel, &notice);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = match channel {
                Channel::Ntfy => match &self.settings.ntfy {
                    Some(n) => {
                        channels::publish_ntfy(
                            self.http(),
                            n,
                            self.ntfy_token.as_ref().map(crate::secret::Secret::expose),
                            &notice,
                            &buttons,
                        )
                        .await
                    }
                    None => return,
                },
                Channel::Telegram => match (&self.settings.telegram, &self.telegram_token) {
                    (Some(tg), Some(token)) => {
                        let inline = self.telegram_buttons(buttons.clone());
                        telegram::send(self.http(), tg, token.expose(), &notice, &inline).await
                    }
                    (Some(_), None) => Err(DeliveryError::NoTelegramToken),
                    (None, _) => return,
                },
                Channel::Command => match &self.settings.command {
                    Some(argv) => channels::run_command(argv, &notice).await,
                    None => return,
                },
            };
            let error = result.as_ref().err();
            let again = error
                .filter(|e| e.retryable())
                .and_then(|e| Some((e, *BACK_OFF.get(attempt as usize - 1)?)));
            self.ctx.store.audit_or_log(match error {
                None => AuditEvent::NoticeDelivered {
                    item_id: notice.item_id.clone(),
                    kind: notice.kind.as_str().to_string(),
                    channel: channel.as_str().to_string(),
                    attempt,
                    digest: notice.digest.clone(),
                },
                Some(e) => AuditEvent::NoticeFailed {
                    item_id: notice.item_id.clone(),
                    kind: notice.kind.as_str().to_string(),
                    channel: channel.as_str().to_string(),
                    attempt,
                    error: e.to_string(),
                    retrying: again.is_some(),
                },
            });
            let state = match (error, again) {
                (None, _) => DeliveryState::Sent,
                (Some(_), Some(_)) => DeliveryState::Retrying,
                (Some(_), None) => DeliveryState::Failed,
            };
            self.update(id, state, attempt, error.map(ToString::to_string));
            let Some((e, wait)) = again else { return };
            let wait = if *e == DeliveryError::RateLimited {
                wait.max(BACK_OFF[2])
            } else {
                wait
            };
            tokio::select! {
                _ = stopping.wait_for(|v| *v) => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn record(&self, channel: Channel, notice: &Notice) -> u64 {
        let id = self.next_delivery.fetch_add(1, Ordering::Relaxed);
        let mut kept = self.deliveries.lock().unwrap();
        kept.push_front(Delivery {
            id,
            at: crate::clock::now_rfc3339(),
            item_id: notice.item_id.clone(),
            kind: notice.kind,
            channel,
            state: DeliveryState::Sending,
            attempts: 0,
            error: None,
        });
        kept.truncate(KEPT);
        id
    }

    fn update(&self, id: u64, state: DeliveryState, attempts: u32, error: Option<String>) {
        let mut kept = self.deliveries.lock().unwrap();
        if let Some(d) = kept.iter_mut().find(|d| d.id == id) {
            d.state = state;
            d.attempts = attempts;
            d.error = error;
        }
        drop(kept);
        self.ctx
            .store
            .tell(crate::store::News::NoticeDelivery { id: id.to_string() });
    }

    /// What the page shows.
    pub fn view(&self) -> NotifyView {
        let deliveries: Vec<Delivery> = self.deliveries.lock().unwrap().iter().cloned().collect();
        let failing = |c: Channel| {
            deliveries
                .iter()
                .find(|d| d.channel == c && d.state != DeliveryState::Sending)
                .filter(|d| d.state != DeliveryState::Sent)
                .and_then(|d| d.error.clone())
        };
        let mut channels = Vec::new();
        if let Some(n) = &self.settings.ntfy {
            channels.push(ChannelView {
                channel: Channel::Ntfy,
                target: format!("{}/{}", n.server, n.topic),
                token_set: self.ntfy_token.is_some(),
                failing: failing(Channel::Ntfy),
            });
        }
        if let Some(t) = &self.settings.telegram {
            channels.push(ChannelView {
                channel: Channel::Telegram,
                target: format!("chat {}", t.chat_id),
                token_set: self.telegram_token.is_some(),
                failing: failing(Channel::Telegram),
            });
        }
        if let Some(argv) = &self.settings.command {
            channels.push(ChannelView {
                channel: Channel::Command,
                target: argv[0].clone(),
                token_set: false,
                failing: failing(Channel::Command),
            });
        }
        NotifyView {
            channels,
            detail: self.settings.detail,
            remote_decisions: self.settings.remote_decisions,
            dwell_seconds: self.settings.dwell_seconds,
            quiet_hours: self.settings.quiet_hours.clone(),
            tab_in_use: self.tab_in_use(self.now_ms()),
            deliveries,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::remembered;

    #[test]
    fn a_start_remembers_the_notices_told_and_the_tokens_used_before_it() {
        let lines = [
            json!({"event": "notice_delivered", "item_id": "plan:zhongshu-1", "digest": "d1"}),
            json!({"event": "notice_delivered", "item_id": "plan:zhongshu-1", "digest": "d2"}),
            json!({"event": "notice_failed", "item_id": "approval:z:1", "digest": "x"}),
            json!({"event": "approval_decided", "by": "phone (ntfy)", "nonce": "n1"}),
            json!({"event": "approval_decided", "by": "dashboard"}),
            json!({"event": "plan_confirmed", "nonce": "n2"}),
            json!({"event": "phone_decided", "nonce": "n3"}),
        ];
        let (told, used) = remembered(&lines);
        assert_eq!(told.len(), 1, "a failed notice was not told: {told:?}");
        assert_eq!(told["plan:zhongshu-1"], "d2", "the last notice of an item");
        let mut used: Vec<_> = used.into_iter().collect();
        used.sort();
        assert_eq!(used, ["n1", "n2", "n3"]);
    }
}
