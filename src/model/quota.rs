//! The account's usage limits and what follows from them: whether departments
//! may start, how long a session that hit the limit waits, and whether a plan
//! spent its budget. Pure rules over the merged snapshot Codex reports; the
//! sessions service and the queue call them.

use serde::{Deserialize, Serialize};

/// One rate-limit window (Codex's 5-hour "primary", weekly "secondary").
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct QuotaWindow {
    pub used_percent: f64,
    #[serde(default)]
    pub window_minutes: Option<i64>,
    /// Unix seconds.
    #[serde(default)]
    pub resets_at: Option<i64>,
}

/// The account's limits as last reported; updates are partial and merged.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AccountQuota {
    #[serde(default)]
    pub limit_id: Option<String>,
    #[serde(default)]
    pub primary: Option<QuotaWindow>,
    #[serde(default)]
    pub secondary: Option<QuotaWindow>,
    /// Codex's `rateLimitReachedType` (`rate_limit_reached`, a workspace's
    /// credits or usage limit...), while one is reached.
    #[serde(default)]
    pub reached_type: Option<String>,
    #[serde(default)]
    pub credits: Option<serde_json::Value>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl AccountQuota {
    /// Takes every field `update` carries; a missing one keeps what was known.
    pub fn merge(&mut self, update: &AccountQuota) {
        fn window(old: &mut Option<QuotaWindow>, new: &Option<QuotaWindow>) {
            let Some(new) = new else { return };
            let w = old.get_or_insert_with(QuotaWindow::default);
            w.used_percent = new.used_percent;
            if new.window_minutes.is_some() {
                w.window_minutes = new.window_minutes;
            }
            if new.resets_at.is_some() {
                w.resets_at = new.resets_at;
            }
        }
        window(&mut self.primary, &update.primary);
        window(&mut self.secondary, &update.secondary);
        if update.limit_id.is_some() {
            self.limit_id.clone_from(&update.limit_id);
        }
        if update.reached_type.is_some() {
            self.reached_type.clone_from(&update.reached_type);
        }
        if update.credits.is_some() {
            self.credits.clone_from(&update.credits);
        }
        if update.updated_at.is_some() {
            self.updated_at.clone_from(&update.updated_at);
        }
    }

    fn windows(&self) -> impl Iterator<Item = &QuotaWindow> {
        self.primary.iter().chain(self.secondary.iter())
    }

    /// Until when (unix seconds) a used-up window blocks work, if one does.
    pub fn exhausted_until(&self, now: i64) -> Option<i64> {
        self.windows()
            .filter(|w| w.used_percent >= 100.0)
            .filter_map(|w| w.resets_at)
            .filter(|&r| r > now)
            .max()
    }
}

word_enum!(
    /// Why no department starts.
    HoldReason { Limit => "limit", Reserve => "reserve" }
);

/// The queue is held: no department starts until `until` (or a change).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hold {
    pub reason: HoldReason,
    /// Unix seconds; none when the reset time is unknown.
    #[serde(default)]
    pub until: Option<i64>,
    /// In words, for the dashboard and the Zhongshu.
    pub text: String,
}

/// What the launcher keeps about quota: the snapshot, the current hold, the
/// user's "start anyway", and the order in which sessions were parked.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct QuotaState {
    #[serde(default)]
    pub account: AccountQuota,
    #[serde(default)]
    pub hold: Option<Hold>,
    /// "Start anyway" holds until then (unix seconds).
    #[serde(default)]
    pub start_anyway_until: Option<i64>,
    #[serde(default)]
    pub parked_count: u64,
    /// Zhongshus told of the current hold (each once; cleared when it lifts).
    #[serde(default)]
    pub told: std::collections::BTreeSet<String>,
    /// The user's answers to "switch to a lighter model?" near the limit.
    #[serde(default)]
    pub model_switch: ModelSwitchAnswers,
}

/// The user's answers to the offer Codex's own terminal made near the usage
/// limit ("Approaching rate limits · Switch to …?"), now a Needs-you item.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ModelSwitchAnswers {
    /// Answered while usage is over the threshold: not asked again until it
    /// falls below it and rises again.
    #[serde(default)]
    pub answered: bool,
    /// "Keep the model and stop asking".
    #[serde(default)]
    pub never: bool,
}

/// Waiting for the limit to reset: the session gets one continue turn then.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Parked {
    /// Unix seconds (the reset plus a small jitter).
    pub until: i64,
    pub reason: String,
    pub since: String,
    /// Parking order: the continue turns go out in it.
    pub order: u64,
    /// `until` is the reset Codex reported (not a guess made before it did).
    #[serde(default)]
    pub known_reset: bool,
}

/// How long a session waits when Codex did not say when the limit resets.
pub const UNKNOWN_RESET_WAIT_SECS: i64 = 300;

/// When a session that hit the limit now continues, and whether that is the
/// reset Codex reported: the latest reset of a used-up window, else (no such
/// report yet) a few minutes, to be corrected by [`known_reset`] when the
/// report comes.
pub fn park_until(account: &AccountQuota, now: i64, jitter_secs: i64) -> (i64, bool) {
    match account.exhausted_until(now) {
        Some(reset) => (reset + jitter_secs, true),
        None => (now + UNKNOWN_RESET_WAIT_SECS + jitter_secs, false),
    }
}

/// A parked session's wait once a snapshot says when the used-up window
/// resets; none when it is already right (or nothing is used up).
pub fn known_reset(
    parked: &Parked,
    account: &AccountQuota,
    now: i64,
    jitter_secs: i64,
) -> Option<i64> {
    if parked.known_reset {
        return None;
    }
    account.exhausted_until(now).map(|r| r + jitter_secs)
}

/// Whether (and why) no department may start now.
///
/// A used-up window or a parked session holds until the reset; the primary
/// window at or above `reserve_percent` holds too. "Start anyway" lifts both
/// until the time it was given for.
pub fn hold(
    q: &QuotaState,
    now: i64,
    reserve_percent: f64,
    parked_until: Option<i64>,
) -> Option<Hold> {
    if q.start_anyway_until.is_some_and(|t| t > now) {
        return None;
    }
    let limit = q.account.exhausted_until(now).max(parked_until);
    if let Some(until) = limit {
        return Some(Hold {
            reason: HoldReason::Limit,
            until: Some(until),
            text: format!("the usage limit is reached until {}", local_time(until)),
        });
    }
    let primary = q.account.primary.as_ref()?;
    let resets = primary.resets_at.filter(|&r| r > now);
    if primary.used_percent >= reserve_percent && (resets.is_some() || primary.resets_at.is_none())
    {
        let when = resets.map(|r| format!(" until {}", local_time(r)));
        return Some(Hold {
            reason: HoldReason::Reserve,
            until: resets,
            text: format!(
                "the 5-hour window is {:.0}% used (reserve: new departments wait at {:.0}%){}",
                primary.used_percent,
                reserve_percent,
                when.unwrap_or_default()
            ),
        });
    }
    None
}

/// A plan's spending against its budget: the first limit it reached, in words.
pub fn budget_reached(
    spent_usd: f64,
    spent_tokens: u64,
    budget_usd: Option<f64>,
    budget_tokens: Option<u64>,
) -> Option<String> {
    if let Some(b) = budget_usd.filter(|&b| spent_usd >= b) {
        return Some(format!("spent ${spent_usd:.2} of its ${b:.2} budget"));
    }
    if let Some(b) = budget_tokens.filter(|&b| spent_tokens >= b) {
        return Some(format!("used {spent_tokens} of its {b} token budget"));
    }
    None
}

/// Unix seconds as the user's local time of day (`14:05`), with the date when
/// it is not today.
pub fn local_time(unix: i64) -> String {
    use chrono::{Local, TimeZone};
    let Some(t) = Local.timestamp_opt(unix, 0).single() else {
        return unix.to_string();
    };
    if t.date_naive() == Local::now().date_naive() {
        t.format("%H:%M").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(used: f64, resets: Option<i64>) -> Option<QuotaWindow> {
        Some(QuotaWindow {
            used_percent: used,
            window_minutes: None,
            resets_at: resets,
        })
    }

    #[test]
    fn partial_updates_keep_what_they_do_not_carry() {
        let mut a = AccountQuota::default();
        a.merge(&AccountQuota {
            primary: Some(QuotaWindow {
                used_percent: 40.0,
                window_minutes: Some(300),
                resets_at: Some(1000),
            }),
            secondary: w(10.0, Some(9000)),
            limit_id: Some("codex".into()),
            ..Default::default()
        });
        // An update with only the primary's percentage, then an all-null one.
        a.merge(&AccountQuota {
            primary: w(97.0, None),
            ..Default::default()
        });
        a.merge(&AccountQuota::default());
        let p = a.primary.clone().unwrap();
        assert_eq!(
            (p.used_percent, p.window_minutes, p.resets_at),
            (97.0, Some(300), Some(1000))
        );
        assert_eq!(a.secondary.unwrap().used_percent, 10.0);
        assert_eq!(a.limit_id.as_deref(), Some("codex"));
    }

    #[test]
    fn a_used_up_window_holds_until_its_reset_and_start_anyway_lifts_it() {
        let mut q = QuotaState::default();
        q.account.primary = w(100.0, Some(2000));
        let h = hold(&q, 1000, 90.0, None).unwrap();
        assert_eq!((h.reason, h.until), (HoldReason::Limit, Some(2000)));
        assert!(hold(&q, 2001, 90.0, None).is_none(), "after the reset");
        q.start_anyway_until = Some(2000);
        assert!(hold(&q, 1000, 90.0, None).is_none());
        // A parked session holds the queue even when the snapshot says nothing.
        let empty = QuotaState::default();
        let h = hold(&empty, 1000, 90.0, Some(1500)).unwrap();
        assert_eq!((h.reason, h.until), (HoldReason::Limit, Some(1500)));
    }

    #[test]
    fn the_reserve_holds_at_or_above_its_percentage() {
        let mut q = QuotaState::default();
        q.account.primary = w(89.0, Some(2000));
        assert!(hold(&q, 1000, 90.0, None).is_none());
        q.account.primary = w(90.0, Some(2000));
        let h = hold(&q, 1000, 90.0, None).unwrap();
        assert_eq!((h.reason, h.until), (HoldReason::Reserve, Some(2000)));
        assert!(h.text.contains("90% used"), "{}", h.text);
        // A reset in the past: the window started again, the figure is stale.
        assert!(hold(&q, 2500, 90.0, None).is_none());
        q.account.primary = w(95.0, None);
        assert_eq!(hold(&q, 1000, 90.0, None).unwrap().until, None);
    }

    #[test]
    fn a_parked_session_waits_for_the_latest_reset_of_a_used_up_window() {
        let mut a = AccountQuota {
            primary: w(100.0, Some(2000)),
            secondary: w(100.0, Some(5000)),
            ..Default::default()
        };
        assert_eq!(park_until(&a, 1000, 2), (5002, true));
        a.secondary = w(50.0, Some(5000));
        assert_eq!(park_until(&a, 1000, 2), (2002, true));
        // The reset unknown (or past): a few minutes, corrected when it is reported.
        a.primary = w(100.0, Some(900));
        let (until, known) = park_until(&a, 1000, 0);
        assert_eq!((until, known), (1000 + UNKNOWN_RESET_WAIT_SECS, false));
        let guess = Parked {
            until,
            reason: "limit".into(),
            since: "t".into(),
            order: 1,
            known_reset: false,
        };
        assert_eq!(known_reset(&guess, &a, 1000, 2), None, "still unknown");
        a.primary = w(100.0, Some(1100));
        assert_eq!(known_reset(&guess, &a, 1000, 2), Some(1102));
        let known = Parked {
            known_reset: true,
            ..guess
        };
        assert_eq!(known_reset(&known, &a, 1000, 2), None);
    }

    #[test]
    fn budgets_say_which_limit_was_reached() {
        assert_eq!(budget_reached(1.0, 10, Some(2.0), Some(100)), None);
        let usd = budget_reached(2.5, 10, Some(2.0), None).unwrap();
        assert!(usd.contains("$2.50 of its $2.00"), "{usd}");
        let tokens = budget_reached(0.0, 150, None, Some(100)).unwrap();
        assert!(tokens.contains("150 of its 100 token"), "{tokens}");
    }
}
