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
