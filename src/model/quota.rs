//! The account's usage limits as the agent reports them, merged, and what the
//! launcher keeps of them: the hold, parked sessions. What follows from them
//! (the hold, how long a parked session waits, a plan's budget) is decided in
//! `crate::policy::quota`.

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
/// The windows here are Codex's default bucket (`codex`); other metered
/// limits (a model's own, named by Codex) are in `buckets`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AccountQuota {
    #[serde(default)]
    pub limit_id: Option<String>,
    #[serde(default)]
    pub primary: Option<QuotaWindow>,
    #[serde(default)]
    pub secondary: Option<QuotaWindow>,
    /// Codex's `rateLimitReachedType` (`rate_limit_reached`, a workspace's
    /// credits depleted or spend cap reached) of the latest limit hit; kept
    /// until the hold it caused lifts (a rolling update's null does not clear it).
    #[serde(default)]
    pub reached_type: Option<String>,
    #[serde(default)]
    pub credits: Option<serde_json::Value>,
    /// The workspace's spend control says its cap is reached.
    #[serde(default)]
    pub spend_control_reached: Option<bool>,
    /// When the user's own spend cap resets (unix seconds), when Codex says.
    #[serde(default)]
    pub spend_cap_resets_at: Option<i64>,
    /// Codex's `ordinaryUsageAllowed`: false while the plan's included usage
    /// may not be used (only a fresh read says it may again).
    #[serde(default)]
    pub ordinary_usage_allowed: Option<bool>,
    /// Other metered limits, by Codex's `limitId`.
    #[serde(default)]
    pub buckets: std::collections::BTreeMap<String, LimitBucket>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A metered limit besides the default one (a model's own), as last reported.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LimitBucket {
    /// Codex's `limitName` (a model), when it gave one.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub primary: Option<QuotaWindow>,
    #[serde(default)]
    pub secondary: Option<QuotaWindow>,
    #[serde(default)]
    pub reached_type: Option<String>,
}

/// Takes `new` into `old` when it says something: a window's missing reset
/// or length keeps what was known.
fn merge_window(old: &mut Option<QuotaWindow>, new: &Option<QuotaWindow>) {
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

/// `old` becomes `new` when `new` says something.
fn keep_or_take<T: Clone>(old: &mut Option<T>, new: &Option<T>) {
    if new.is_some() {
        old.clone_from(new);
    }
}

impl LimitBucket {
    pub fn merge(&mut self, update: &LimitBucket) {
        merge_window(&mut self.primary, &update.primary);
        merge_window(&mut self.secondary, &update.secondary);
        keep_or_take(&mut self.name, &update.name);
        keep_or_take(&mut self.reached_type, &update.reached_type);
    }
}

impl AccountQuota {
    /// Takes every field `update` carries; a missing one keeps what was known.
    pub fn merge(&mut self, update: &AccountQuota) {
        merge_window(&mut self.primary, &update.primary);
        merge_window(&mut self.secondary, &update.secondary);
        keep_or_take(&mut self.limit_id, &update.limit_id);
        keep_or_take(&mut self.reached_type, &update.reached_type);
        keep_or_take(&mut self.credits, &update.credits);
        keep_or_take(
            &mut self.spend_control_reached,
            &update.spend_control_reached,
        );
        keep_or_take(&mut self.spend_cap_resets_at, &update.spend_cap_resets_at);
        keep_or_take(
            &mut self.ordinary_usage_allowed,
            &update.ordinary_usage_allowed,
        );
        keep_or_take(&mut self.updated_at, &update.updated_at);
        for (id, bucket) in &update.buckets {
            self.buckets.entry(id.clone()).or_default().merge(bucket);
        }
    }

    /// The limit hit is over (the hold it caused lifted): which kind it was
    /// is no longer news.
    pub fn forget_reached(&mut self) {
        self.reached_type = None;
        for bucket in self.buckets.values_mut() {
            bucket.reached_type = None;
        }
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
    /// The agent's own limit (an ACP agent said so): it waits alone, for
    /// the back-off; the queue is not held for it and no account's reset
    /// moves it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub own: bool,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A usage window `used` percent used, resetting at `resets`.
    pub(crate) fn w(used: f64, resets: Option<i64>) -> Option<QuotaWindow> {
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
    fn buckets_merge_apart_and_a_null_keeps_what_was_said() {
        let bucket = |used: f64, name: Option<&str>| AccountQuota {
            buckets: [(
                "codex_other".to_string(),
                LimitBucket {
                    name: name.map(str::to_string),
                    primary: w(used, Some(700)),
                    ..Default::default()
                },
            )]
            .into(),
            ..Default::default()
        };
        let mut a = AccountQuota {
            primary: w(40.0, Some(500)),
            ordinary_usage_allowed: Some(false),
            reached_type: Some("workspace_owner_credits_depleted".into()),
            ..Default::default()
        };
        a.merge(&bucket(100.0, Some("gpt-other")));
        a.merge(&bucket(100.0, None));
        assert_eq!(a.primary.as_ref().unwrap().used_percent, 40.0);
        let other = &a.buckets["codex_other"];
        assert_eq!(other.name.as_deref(), Some("gpt-other"));
        assert_eq!(other.primary.as_ref().unwrap().used_percent, 100.0);
        assert_eq!(a.ordinary_usage_allowed, Some(false), "a null keeps it");
        a.merge(&AccountQuota {
            ordinary_usage_allowed: Some(true),
            ..Default::default()
        });
        assert_eq!(a.ordinary_usage_allowed, Some(true));
        assert!(a.reached_type.is_some());
        a.forget_reached();
        assert!(a.reached_type.is_none());
    }
}

/// The offer to switch the running sessions to a lighter model near the
/// usage limit, as the quota view and its Needs-you item show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwitchOffer {
    pub model: String,
    pub used_percent: f64,
    /// `5-hour` or `weekly`.
    pub window: &'static str,
    /// The running sessions that would switch.
    pub sessions: Vec<String>,
}
