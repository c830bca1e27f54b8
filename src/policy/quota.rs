//! The account's usage limits and what follows from them (issue 35 item 2):
//! whether the queue is held, how long a session that hit the limit waits
//! and when its wait is corrected to the reset Codex reported, what a plan's
//! departments cost and whether they spent its budget. Pure rules over the
//! merged snapshot the agent reports; the quota service records what they
//! decide, and `crate::policy::queue` keeps departments waiting by them.

use crate::config::ModelPrice;
use crate::model::{AccountQuota, Hold, HoldReason, Parked, QuotaState, TokenUsage};

/// Until when (unix seconds) a used-up window blocks work, if one does.
pub fn exhausted_until(account: &AccountQuota, now: i64) -> Option<i64> {
    account
        .primary
        .iter()
        .chain(account.secondary.iter())
        .filter(|w| w.used_percent >= 100.0)
        .filter_map(|w| w.resets_at)
        .filter(|&r| r > now)
        .max()
}

/// How long a session waits when Codex did not say when the limit resets.
pub const UNKNOWN_RESET_WAIT_SECS: i64 = 300;

/// When a session that hit the limit now continues, and whether that is the
/// reset Codex reported: the latest reset of a used-up window, else (no such
/// report yet) a few minutes, to be corrected by [`known_reset`] when the
/// report comes.
pub fn park_until(account: &AccountQuota, now: i64, jitter_secs: i64) -> (i64, bool) {
    match exhausted_until(account, now) {
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
    exhausted_until(account, now).map(|r| r + jitter_secs)
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
    let limit = exhausted_until(&q.account, now).max(parked_until);
    if let Some(until) = limit {
        return Some(Hold {
            reason: HoldReason::Limit,
            until: Some(until),
            text: format!(
                "the usage limit is reached until {}",
                crate::clock::local_time(until)
            ),
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
