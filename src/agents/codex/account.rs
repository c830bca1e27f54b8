//! Account-wide news from the app-server: its rate-limit snapshots
//! (`account/rateLimits/updated`, which names no thread, and the answer to
//! `account/rateLimits/read`), turned into the launcher's quota record.
//!
//! Codex 0.169 meters more than one limit: each snapshot names its bucket
//! (`limitId`; `codex` is the default one, others are a model's own, named by
//! `limitName`), says which limit was reached (`rateLimitReachedType`: the
//! rate limit, a workspace's credits depleted or its spend cap reached) and
//! the workspace's spend control; the read answer adds every bucket
//! (`rateLimitsByLimitId`) and whether the plan's included usage may be used
//! (`ordinaryUsageAllowed`). Every name read here is listed in `contract.rs`.

use serde_json::Value;

use crate::model::{AccountQuota, LimitBucket, QuotaWindow};

/// The method of the notification that carries a snapshot.
pub const RATE_LIMITS_UPDATED: &str = "account/rateLimits/updated";

/// The bucket Codex's single-bucket fields have always described.
const DEFAULT_LIMIT: &str = "codex";

/// A snapshot (`{rateLimits: {...}}` or the snapshot itself); fields Codex
/// left null stay unset, so merging keeps what an earlier one said.
pub fn rate_limits(params: &Value) -> Option<AccountQuota> {
    let mut q = AccountQuota::default();
    if !take_snapshot(&mut q, params.get("rateLimits").unwrap_or(params), None) {
        return None;
    }
    q.updated_at = Some(crate::clock::now_rfc3339());
    Some(q)
}

/// The answer to `account/rateLimits/read`: its snapshot, every bucket it
/// lists, and whether ordinary (included) usage is allowed.
pub fn read_answer(answer: &Value) -> Option<AccountQuota> {
    let mut q = rate_limits(answer)?;
    for (id, snapshot) in answer["rateLimitsByLimitId"]
        .as_object()
        .into_iter()
        .flatten()
    {
        take_snapshot(&mut q, snapshot, Some(id.as_str()));
    }
    q.ordinary_usage_allowed = answer["ordinaryUsageAllowed"].as_bool();
    Some(q)
}

/// Whether the read answer says ordinary usage is not allowed (a later read
/// is the only news that lifts it).
pub fn ordinary_usage_refused(answer: &Value) -> bool {
    answer["ordinaryUsageAllowed"] == Value::Bool(false)
}

/// Takes one snapshot into `q`: the default bucket's windows into its own
/// fields, another bucket's into `buckets`; credits and spend control are the
/// account's whichever bucket carried them. False when it is no snapshot.
fn take_snapshot(q: &mut AccountQuota, r: &Value, id: Option<&str>) -> bool {
    if !r.is_object() {
        return false;
    }
    let window = |w: &Value| -> Option<QuotaWindow> {
        Some(QuotaWindow {
            used_percent: w.get("usedPercent")?.as_f64()?,
            window_minutes: w["windowDurationMins"].as_i64(),
            resets_at: w["resetsAt"].as_i64(),
        })
    };
    let text = |k: &str| r[k].as_str().map(str::to_string);
    let id = id.or(r["limitId"].as_str());
    let account = AccountQuota {
        credits: Some(r["credits"].clone()).filter(|c| !c.is_null()),
        spend_control_reached: r["spendControlReached"].as_bool(),
        spend_cap_resets_at: r["individualLimit"]["resetsAt"].as_i64(),
        ..Default::default()
    };
    q.merge(&account);
    match id.filter(|&i| i != DEFAULT_LIMIT) {
        Some(other) => {
            let bucket = LimitBucket {
                name: text("limitName"),
                primary: window(&r["primary"]),
                secondary: window(&r["secondary"]),
                reached_type: text("rateLimitReachedType"),
            };
            q.buckets
                .entry(other.to_string())
                .or_default()
                .merge(&bucket);
        }
        None => q.merge(&AccountQuota {
            limit_id: id.map(str::to_string),
            primary: window(&r["primary"]),
            secondary: window(&r["secondary"]),
            reached_type: text("rateLimitReachedType"),
            ..Default::default()
        }),
    }
    true
}

/// Whether a turn's error is the account's limit (parks the session) rather
/// than a failure of the turn: the usage limit, the rate limit, or a 429
/// Codex gave up retrying.
pub fn is_limit(codex_error_info: &Value) -> bool {
    match codex_error_info {
        Value::String(s) => s == "usageLimitExceeded" || s == "rateLimitExceeded",
        Value::Object(o) => o
            .values()
            .any(|v| v["httpStatusCode"].as_u64() == Some(429)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_snapshot_keeps_what_codex_sent_and_leaves_nulls_unset() {
        let q = rate_limits(&json!({"rateLimits": {
            "limitId": "codex", "credits": null, "rateLimitReachedType": null,
            "primary": {"usedPercent": 100, "resetsAt": 1795450005, "windowDurationMins": null},
            "secondary": null
        }}))
        .unwrap();
        let p = q.primary.unwrap();
        assert_eq!(
            (p.used_percent, p.resets_at, p.window_minutes),
            (100.0, Some(1795450005), None)
        );
        assert!(q.secondary.is_none() && q.credits.is_none() && q.reached_type.is_none());
        assert_eq!(q.limit_id.as_deref(), Some("codex"));
        assert!(rate_limits(&json!({"rateLimits": null})).is_none());
    }

    /// Shaped as the pinned Codex (0.169) sends it after a 429
    /// `usage_limit_reached` whose headers say the workspace's credits are
    /// depleted (the window here is not used up).
    #[test]
    fn a_credits_depleted_snapshot_says_so() {
        let q = rate_limits(&json!({"rateLimits": {
            "limitId": "codex", "limitName": null, "normalModelSlug": null,
            "primary": {"usedPercent": 3, "windowDurationMins": 300, "resetsAt": 1795638049},
            "secondary": null,
            "credits": {"hasCredits": false, "unlimited": false, "balance": "0"},
            "individualLimit": null, "spendControlReached": null, "planType": null,
            "rateLimitReachedType": "workspace_owner_credits_depleted"
        }}))
        .unwrap();
        assert_eq!(
            q.reached_type.as_deref(),
            Some("workspace_owner_credits_depleted")
        );
        assert_eq!(q.credits.unwrap()["hasCredits"], false);
        assert_eq!(q.primary.unwrap().used_percent, 3.0);
        assert!(q.buckets.is_empty() && q.spend_control_reached.is_none());
    }

    /// A model's own limit (`x-codex-active-limit: codex_other`) is its
    /// bucket, not the default one's windows.
    #[test]
    fn another_buckets_snapshot_goes_to_its_bucket() {
        let q = rate_limits(&json!({"rateLimits": {
            "limitId": "codex_other", "limitName": "gpt-other",
            "primary": {"usedPercent": 100, "windowDurationMins": 300, "resetsAt": 1795638351},
            "secondary": null, "credits": null, "individualLimit": null,
            "spendControlReached": null, "planType": null, "rateLimitReachedType": null
        }}))
        .unwrap();
        assert!(q.primary.is_none() && q.limit_id.is_none(), "{q:?}");
        let other = &q.buckets["codex_other"];
        assert_eq!(other.name.as_deref(), Some("gpt-other"));
        let p = other.primary.as_ref().unwrap();
        assert_eq!((p.used_percent, p.resets_at), (100.0, Some(1795638351)));
    }

    #[test]
    fn the_read_answer_gives_every_bucket_the_spend_cap_and_ordinary_usage() {
        let answer = json!({
            "rateLimits": {"limitId": "codex", "primary": {"usedPercent": 20},
                           "spendControlReached": true,
                           "individualLimit": {"limit": "50", "used": "50",
                                               "remainingPercent": 0, "resetsAt": 1795700000}},
            "rateLimitsByLimitId": {
                "codex": {"limitId": "codex", "primary": {"usedPercent": 20}},
                "codex_other": {"limitName": "gpt-other", "secondary": {"usedPercent": 70}}
            },
            "ordinaryUsageAllowed": false
        });
        let q = read_answer(&answer).unwrap();
        assert_eq!(q.ordinary_usage_allowed, Some(false));
        assert!(ordinary_usage_refused(&answer));
        assert_eq!(
            (q.spend_control_reached, q.spend_cap_resets_at),
            (Some(true), Some(1795700000))
        );
        assert_eq!(q.primary.unwrap().used_percent, 20.0);
        let other = &q.buckets["codex_other"];
        assert_eq!(other.secondary.as_ref().unwrap().used_percent, 70.0);
        let unknown =
            read_answer(&json!({"rateLimits": {}, "ordinaryUsageAllowed": null})).unwrap();
        assert_eq!(unknown.ordinary_usage_allowed, None, "null is unavailable");
        assert!(!ordinary_usage_refused(&json!({"rateLimits": {}})));
    }

    #[test]
    fn limits_are_told_apart_from_other_failures() {
        assert!(is_limit(&json!("usageLimitExceeded")));
        assert!(is_limit(&json!("rateLimitExceeded")));
        assert!(is_limit(
            &json!({"responseTooManyFailedAttempts": {"httpStatusCode": 429}})
        ));
        assert!(!is_limit(
            &json!({"responseTooManyFailedAttempts": {"httpStatusCode": 500}})
        ));
        assert!(!is_limit(&json!("contextWindowExceeded")));
        assert!(!is_limit(&Value::Null));
    }
}
