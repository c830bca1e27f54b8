//! The account's usage limits and what follows from them (issue 35 item 2):
//! whether the queue is held, how long a session that hit the limit waits
//! and when its wait is corrected to the reset Codex reported, what a plan's
//! departments cost and whether they spent its budget. Pure rules over the
//! merged snapshot the agent reports; the quota service records what they
//! decide, and `crate::policy::queue` keeps departments waiting by them.

use crate::config::ModelPrice;
use crate::model::{AccountQuota, Hold, HoldReason, Parked, QuotaState, QuotaWindow, TokenUsage};

/// Until when (unix seconds) a used-up window of the default bucket blocks
/// work, if one does.
pub fn exhausted_until(account: &AccountQuota, now: i64) -> Option<i64> {
    latest_reset(account.primary.iter().chain(account.secondary.iter()), now)
}

/// The latest future reset of the used-up windows among `windows`.
fn latest_reset<'a>(windows: impl Iterator<Item = &'a QuotaWindow>, now: i64) -> Option<i64> {
    windows
        .filter(|w| w.used_percent >= 100.0)
        .filter_map(|w| w.resets_at)
        .filter(|&r| r > now)
        .max()
}

/// Until when whatever stopped a turn blocks it, as far as Codex said: a
/// used-up window of any bucket (a model's own limit included), or the spend
/// cap while it is reached.
fn blocked_until(account: &AccountQuota, now: i64) -> Option<i64> {
    let buckets = account
        .buckets
        .values()
        .flat_map(|b| b.primary.iter().chain(b.secondary.iter()));
    let spend_cap = account
        .spend_cap_resets_at
        .filter(|_| account.spend_control_reached == Some(true))
        .filter(|&r| r > now);
    exhausted_until(account, now)
        .max(latest_reset(buckets, now))
        .max(spend_cap)
}

/// How long a session waits when Codex did not say when the limit resets.
pub const UNKNOWN_RESET_WAIT_SECS: i64 = 300;

/// When a session that hit the limit now continues, and whether that is the
/// reset Codex reported: the latest reset of what blocks it, else (no such
/// report yet, or a limit without a reset such as depleted credits) a few
/// minutes, to be corrected by [`known_reset`] when the report comes.
pub fn park_until(account: &AccountQuota, now: i64, jitter_secs: i64) -> (i64, bool) {
    match blocked_until(account, now) {
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
    blocked_until(account, now).map(|r| r + jitter_secs)
}

/// Which limit binds, in words, for the meter and the hold: the kind Codex
/// named (credits, spend cap), the plan's included usage refused, a used-up
/// window of the default bucket, or a model's own limit.
pub fn which_limit(account: &AccountQuota, now: i64) -> Option<String> {
    let reached = account.reached_type.as_deref().into_iter().chain(
        account
            .buckets
            .values()
            .filter_map(|b| b.reached_type.as_deref()),
    );
    for kind in reached {
        match kind {
            "workspace_owner_credits_depleted" | "workspace_member_credits_depleted" => {
                return Some("credits used up".into())
            }
            "workspace_owner_usage_limit_reached" | "workspace_member_usage_limit_reached" => {
                return Some("spend cap reached".into())
            }
            _ => {}
        }
    }
    if account.spend_control_reached == Some(true) {
        return Some("spend cap reached".into());
    }
    if account.ordinary_usage_allowed == Some(false) {
        return Some("included usage not allowed".into());
    }
    let main = used_up_windows(&account.primary, &account.secondary, now);
    if !main.is_empty() {
        return Some(format!("{} window", main.join(" and ")));
    }
    for (id, b) in &account.buckets {
        let used = used_up_windows(&b.primary, &b.secondary, now);
        if !used.is_empty() {
            let name = b.name.as_deref().unwrap_or(id);
            return Some(format!("{name} limit ({} window)", used.join(" and ")));
        }
    }
    account
        .reached_type
        .as_ref()
        .map(|_| "rate limit reached".to_string())
}

/// The names of the used-up windows among a bucket's two.
fn used_up_windows(
    primary: &Option<QuotaWindow>,
    secondary: &Option<QuotaWindow>,
    now: i64,
) -> Vec<String> {
    let used_up = |w: &QuotaWindow| w.used_percent >= 100.0 && w.resets_at.is_none_or(|r| r > now);
    [(primary.as_ref(), "5-hour"), (secondary.as_ref(), "weekly")]
        .into_iter()
        .filter(|&(w, _)| w.is_some_and(used_up))
        .map(|(w, default)| window_name(w, default))
        .collect()
}

/// A window by its length: Codex's 300 minutes are the 5-hour one, a week
/// the weekly one; another length says itself.
fn window_name(w: Option<&QuotaWindow>, default: &str) -> String {
    match w.and_then(|w| w.window_minutes) {
        Some(300) => "5-hour".into(),
        Some(10080) => "weekly".into(),
        Some(m) if m % 60 == 0 => format!("{}-hour", m / 60),
        Some(m) => format!("{m}-minute"),
        None => default.into(),
    }
}

/// Whether (and why) no department may start now.
///
/// A used-up window or a parked session holds until the reset, and the
/// plan's included usage refused holds until a read allows it again; the
/// primary window at or above `reserve_percent` holds too. "Start anyway"
/// lifts them until the time it was given for.
pub fn hold(
    q: &QuotaState,
    now: i64,
    reserve_percent: f64,
    parked_until: Option<i64>,
) -> Option<Hold> {
    if q.start_anyway_until.is_some_and(|t| t > now) {
        return None;
    }
    let limit = exhausted_until(&q.account, now).max(parked_until);
    let refused = q.account.ordinary_usage_allowed == Some(false);
    if limit.is_some() || refused {
        let which = which_limit(&q.account, now)
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        let until = limit
            .map(|u| format!(" until {}", crate::clock::local_time(u)))
            .unwrap_or_default();
        return Some(Hold {
            reason: HoldReason::Limit,
            until: limit,
            text: format!("the usage limit is reached{which}{until}"),
        });
    }
    let primary = q.account.primary.as_ref()?;
    let resets = primary.resets_at.filter(|&r| r > now);
    if primary.used_percent >= reserve_percent && (resets.is_some() || primary.resets_at.is_none())
    {
        let when = resets.map(|r| format!(" until {}", crate::clock::local_time(r)));
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

/// Dollars for `usage` at `price` (per million tokens); cached input at its own price.
pub fn cost_usd(usage: &TokenUsage, price: &ModelPrice) -> f64 {
    let cached = usage.cached_input_tokens.min(usage.input_tokens);
    let fresh = usage.input_tokens - cached;
    let per_token = |dollars_per_million: f64| dollars_per_million / 1_000_000.0;
    fresh as f64 * per_token(price.input)
        + cached as f64 * per_token(price.cached_input.unwrap_or(price.input))
        + usage.output_tokens as f64 * per_token(price.output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::quota::tests::w;

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
            own: false,
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
    fn a_limit_without_a_reset_parks_for_a_while_and_a_models_own_limit_for_its_reset() {
        use crate::model::LimitBucket;
        // Credits depleted: nothing resets; the session tries again later.
        let credits = AccountQuota {
            reached_type: Some("workspace_owner_credits_depleted".into()),
            primary: w(3.0, Some(5000)),
            ..Default::default()
        };
        assert_eq!(
            park_until(&credits, 1000, 0),
            (1000 + UNKNOWN_RESET_WAIT_SECS, false)
        );
        // A model's own limit used up: its reset, though the default bucket is fine.
        let mut bucket = AccountQuota {
            primary: w(40.0, Some(5000)),
            ..Default::default()
        };
        bucket.buckets.insert(
            "codex_other".into(),
            LimitBucket {
                name: Some("gpt-other".into()),
                primary: w(100.0, Some(1600)),
                ..Default::default()
            },
        );
        assert_eq!(park_until(&bucket, 1000, 2), (1602, true));
        // ...which does not hold the queue by itself (other models may run).
        let q = QuotaState {
            account: bucket,
            ..Default::default()
        };
        assert!(hold(&q, 1000, 90.0, None).is_none());
        // The spend cap reached, with the user's cap's reset.
        let cap = AccountQuota {
            spend_control_reached: Some(true),
            spend_cap_resets_at: Some(9000),
            ..Default::default()
        };
        assert_eq!(park_until(&cap, 1000, 0), (9000, true));
    }

    #[test]
    fn the_meter_says_which_limit_binds() {
        use crate::model::LimitBucket;
        let with = |reached: &str| AccountQuota {
            reached_type: Some(reached.into()),
            primary: w(100.0, Some(2000)),
            ..Default::default()
        };
        let which = |a: &AccountQuota| which_limit(a, 1000).unwrap_or_default();
        assert_eq!(
            which(&with("workspace_owner_credits_depleted")),
            "credits used up"
        );
        assert_eq!(
            which(&with("workspace_member_credits_depleted")),
            "credits used up"
        );
        assert_eq!(
            which(&with("workspace_member_usage_limit_reached")),
            "spend cap reached"
        );
        assert_eq!(which(&with("rate_limit_reached")), "5-hour window");
        let mut a = AccountQuota {
            primary: w(100.0, Some(2000)),
            secondary: w(100.0, Some(9000)),
            ..Default::default()
        };
        assert_eq!(which(&a), "5-hour and weekly window");
        a.primary = w(50.0, Some(2000));
        a.secondary = w(20.0, Some(9000));
        assert_eq!(which_limit(&a, 1000), None, "nothing binds");
        a.buckets.insert(
            "codex_other".into(),
            LimitBucket {
                name: Some("gpt-other".into()),
                primary: w(100.0, Some(2000)),
                ..Default::default()
            },
        );
        assert_eq!(which(&a), "gpt-other limit (5-hour window)");
        a.ordinary_usage_allowed = Some(false);
        assert_eq!(which(&a), "included usage not allowed");
        a.spend_control_reached = Some(true);
        assert_eq!(which(&a), "spend cap reached");
    }

    #[test]
    fn included_usage_refused_holds_without_a_reset_until_a_read_allows_it() {
        let mut q = QuotaState::default();
        q.account.primary = w(10.0, Some(2000));
        q.account.ordinary_usage_allowed = Some(false);
        let h = hold(&q, 1000, 90.0, None).unwrap();
        assert_eq!((h.reason, h.until), (HoldReason::Limit, None));
        assert!(h.text.contains("included usage not allowed"), "{}", h.text);
        q.account.ordinary_usage_allowed = Some(true);
        assert!(hold(&q, 1000, 90.0, None).is_none());
        // Credits depleted and a session parked: the hold says so.
        q.account.reached_type = Some("workspace_owner_credits_depleted".into());
        let h = hold(&q, 1000, 90.0, Some(1300)).unwrap();
        assert_eq!(h.until, Some(1300));
        assert!(h.text.contains("(credits used up) until"), "{}", h.text);
    }

    #[test]
    fn budgets_say_which_limit_was_reached() {
        assert_eq!(budget_reached(1.0, 10, Some(2.0), Some(100)), None);
        let usd = budget_reached(2.5, 10, Some(2.0), None).unwrap();
        assert!(usd.contains("$2.50 of its $2.00"), "{usd}");
        let tokens = budget_reached(0.0, 150, None, Some(100)).unwrap();
        assert!(tokens.contains("150 of its 100 token"), "{tokens}");
    }

    #[test]
    fn cost_bills_cached_input_at_its_price_and_output_at_its_own() {
        let usage = TokenUsage {
            input_tokens: 1_000_000,
            cached_input_tokens: 400_000,
            output_tokens: 100_000,
            reasoning_output_tokens: 50_000,
            total_tokens: 1_100_000,
        };
        let price = ModelPrice {
            input: 1.25,
            cached_input: Some(0.125),
            output: 10.0,
        };
        // 600k fresh at 1.25 + 400k cached at 0.125 + 100k out at 10
        assert!((cost_usd(&usage, &price) - (0.75 + 0.05 + 1.0)).abs() < 1e-9);
        let no_cache_price = ModelPrice {
            cached_input: None,
            ..price
        };
        assert!((cost_usd(&usage, &no_cache_price) - (1.25 + 1.0)).abs() < 1e-9);
    }
}
