//! Account-wide news from the app-server: its rate-limit snapshots
//! (`account/rateLimits/updated`, which names no thread, and the answer to
//! `account/rateLimits/read`), turned into the launcher's quota record.

use serde_json::Value;

use crate::model::{AccountQuota, QuotaWindow};

/// The method of the notification that carries a snapshot.
pub const RATE_LIMITS_UPDATED: &str = "account/rateLimits/updated";

/// A snapshot (`{rateLimits: {...}}` or the snapshot itself); fields Codex
/// left null stay unset, so merging keeps what an earlier one said.
pub fn rate_limits(params: &Value) -> Option<AccountQuota> {
    let r = params.get("rateLimits").unwrap_or(params);
    if !r.is_object() {
        return None;
    }
    let window = |w: &Value| -> Option<QuotaWindow> {
        Some(QuotaWindow {
            used_percent: w.get("usedPercent")?.as_f64()?,
            window_minutes: w["windowDurationMins"].as_i64(),
            resets_at: w["resetsAt"].as_i64(),
        })
    };
    let text = |k: &str| r[k].as_str().map(str::to_string);
    Some(AccountQuota {
        limit_id: text("limitId"),
        primary: window(&r["primary"]),
        secondary: window(&r["secondary"]),
        reached_type: text("rateLimitReachedType"),
        credits: Some(r["credits"].clone()).filter(|c| !c.is_null()),
        updated_at: Some(crate::clock::now_rfc3339()),
    })
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
