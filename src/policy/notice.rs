//! When a Needs-you item becomes a notice to the user's phone, what the
//! notice says, and what the phone may decide (issue 54). A notice is for the
//! user away from the desk: an item answered within the dwell sends nothing,
//! nothing is sent while a dashboard tab is in use, each item is told once,
//! a session's items are spaced by a cooldown, and quiet hours hold notices
//! (an item still waiting when they end is told then). What a notice shows is
//! minimal unless the user asks for more: the kind, the plan and the
//! department, never an agent's words (a command, a path, a diff).

use super::needs_you::{NeedItem, NeedKind};
use super::Refusal;
pub use crate::config::notify::{Detail, QuietHours, RemoteDecisions};

/// The rules' settings (`launcher.notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// An item must wait this long (milliseconds) before it is told.
    pub dwell_ms: u64,
    /// Two notices of one session are at least this far apart (milliseconds).
    pub cooldown_ms: u64,
    pub quiet: Option<QuietHours>,
}

/// What the notifier knows of one item at the moment it asks.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    /// When the item was first seen waiting (milliseconds, any fixed origin).
    pub first_seen_ms: u64,
    pub now_ms: u64,
    /// A dashboard tab was in use (visible, recently) at `now`.
    pub tab_in_use: bool,
    /// This item was already told.
    pub already_told: bool,
    /// The last notice of the item's session, if any.
    pub session_last_told_ms: Option<u64>,
    /// Minutes since local midnight.
    pub minute_of_day: u16,
}

/// Why a waiting item is not told now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotNow {
    /// Told once already: never again.
    AlreadyTold,
    /// Still within the dwell: ask again at the given time.
    Dwell {
        until_ms: u64,
    },
    /// The user is at the page.
    TabInUse,
    /// Its session was told recently: ask again at the given time.
    Cooldown {
        until_ms: u64,
    },
    QuietHours,
}

/// Whether an item is told now; `Err` says why not.
pub fn tell_now(t: Timing, m: Moment) -> Result<(), NotNow> {
    if m.already_told {
        return Err(NotNow::AlreadyTold);
    }
    let dwell_end = m.first_seen_ms.saturating_add(t.dwell_ms);
    if m.now_ms < dwell_end {
        return Err(NotNow::Dwell {
            until_ms: dwell_end,
        });
    }
    if m.tab_in_use {
        return Err(NotNow::TabInUse);
    }
    if let Some(last) = m.session_last_told_ms {
        let cooldown_end = last.saturating_add(t.cooldown_ms);
        if m.now_ms < cooldown_end {
            return Err(NotNow::Cooldown {
                until_ms: cooldown_end,
            });
        }
    }
    if t.quiet.is_some_and(|q| q.contains(m.minute_of_day)) {
        return Err(NotNow::QuietHours);
    }
    Ok(())
}

/// The most of an agent's words a full notice carries.
pub const FULL_DETAIL_CHARS: usize = 300;

/// One notice, as every channel sends it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notice {
    pub item_id: String,
    pub kind: NeedKind,
    pub title: String,
    pub body: String,
    /// ntfy's 1–5 (5: urgent).
    pub priority: u8,
    pub tags: Vec<&'static str>,
    /// The dashboard, at the item's session.
    pub link: String,
    pub plan: Option<String>,
    pub department: Option<String>,
    /// The item's digest: told again after a restart only when it moved.
    pub digest: String,
}

/// What a notice of `item` says; `dashboard` is the dashboard's address
/// (without its token: the link opens the page, which asks for it).
pub fn notice(item: &NeedItem, detail: Detail, dashboard: &str) -> Notice {
    let (what, priority, tag) = match item.kind {
        NeedKind::Approval => ("asks for an approval", 4, "lock"),
        NeedKind::PlanConfirmation => ("has a plan awaiting confirmation", 4, "clipboard"),
        NeedKind::Question => ("asks a question", 4, "question"),
        NeedKind::Login => ("needs a login", 3, "key"),
        NeedKind::Error => ("stopped on an error", 3, "warning"),
        NeedKind::Trust => ("waits for trust", 3, "shield"),
        NeedKind::QuotaHold => ("holds the queue: usage limit", 3, "hourglass"),
        NeedKind::EndedWithoutReport => ("ended without a report", 3, "x"),
        NeedKind::ReviewReady => ("has work ready for your review", 3, "eyes"),
        NeedKind::CheckFailed => ("has a pull request whose check failed", 4, "rotating_light"),
    };
    let who = match (&item.department, &item.plan) {
        (Some(d), Some(p)) => format!("Department {d} (plan {p})"),
        (Some(d), None) => format!("Department {d}"),
        (None, Some(p)) => format!("Planner {p}"),
        (None, None) => "The launcher".to_string(),
    };
    // An approval says what it asks, in words safe at every detail.
    let what = match &item.answers {
        crate::policy::needs_you::Answers::Approval { gist, .. } if !gist.is_empty() => gist,
        _ => what,
    };
    let mut body = format!("{who} {what}.");
    if detail == Detail::Full && !item.detail.is_empty() {
        let cut: String = item.detail.chars().take(FULL_DETAIL_CHARS).collect();
        let more = if cut.len() < item.detail.len() {
            "…"
        } else {
            ""
        };
        body.push_str(&format!("\n{cut}{more}"));
    }
    let link = match &item.session_id {
        Some(s) => format!("{}/#session={s}", dashboard.trim_end_matches('/')),
        None => dashboard.to_string(),
    };
    Notice {
        item_id: item.id.clone(),
        kind: item.kind,
        title: format!("codex-governance: {}", item.kind.as_str().replace('_', " ")),
        body,
        priority,
        tags: vec![tag],
        link,
        plan: item.plan.clone(),
        department: item.department.clone(),
        digest: item.digest.clone(),
    }
}

/// A decision a phone's button carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneDecision {
    Decline,
    Approve,
    ConfirmPlan,
}

impl PhoneDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneDecision::Decline => "decline",
            PhoneDecision::Approve => "approve",
            PhoneDecision::ConfirmPlan => "confirm_plan",
        }
    }
}

/// What a phone decides on an item: whether it fits the item's kind and the
/// user's `remote_decisions`. `file_change` says an approval asks to change
/// files only (not to run a command).
pub fn may_decide(
    allowed: RemoteDecisions,
    kind: NeedKind,
    decision: PhoneDecision,
    file_change: bool,
) -> Result<(), Refusal> {
    // Declining is always there (issue 70 item 10): an approval and a plan.
    let fits = matches!(
        (kind, decision),
        (
            NeedKind::Approval,
            PhoneDecision::Decline | PhoneDecision::Approve
        ) | (
            NeedKind::PlanConfirmation,
            PhoneDecision::ConfirmPlan | PhoneDecision::Decline
        )
    );
    if !fits {
        return Err(Refusal::Invalid(format!(
            "a phone cannot {} a {} item",
            decision.as_str().replace('_', " "),
            kind.as_str().replace('_', " ")
        )));
    }
    let permitted = match decision {
        PhoneDecision::Decline => true,
        PhoneDecision::Approve if file_change => allowed != RemoteDecisions::DeclineOnly,
        PhoneDecision::Approve | PhoneDecision::ConfirmPlan => allowed == RemoteDecisions::All,
    };
    if permitted {
        Ok(())
    } else {
        Err(Refusal::Forbidden(format!(
            "launcher.notify.remote_decisions does not let a phone {} (allow it there)",
            decision.as_str().replace('_', " ")
        )))
    }
}

/// Whether a Telegram button press counts: pressed in the configured chat,
/// by one of the users the configuration names (in a group chat any member
/// could press it otherwise).
pub fn telegram_press_may(
    chat_id: i64,
    user_ids: &[i64],
    pressed_in: Option<i64>,
    pressed_by: Option<i64>,
) -> Result<(), Refusal> {
    if pressed_in != Some(chat_id) {
        return Err(Refusal::Forbidden(
            "a button pressed in another chat".into(),
        ));
    }
    match pressed_by {
        Some(user) if user_ids.contains(&user) => Ok(()),
        _ if user_ids.is_empty() => Err(Refusal::Forbidden(
            "pressed in a group chat, whose deciders launcher.notify.telegram.user_ids does \
             not name"
                .into(),
        )),
        _ => Err(Refusal::Forbidden(
            "pressed by someone launcher.notify.telegram.user_ids does not name".into(),
        )),
    }
}

/// What a paired phone's page (issue 54, tier 2) answers: the same rules as
/// a notice's button; approving for the rest of the session only with `all`;
/// a department's question confirmed, or answered with a note (words the
/// planner reads as the user's), only with `all` (a bare rejection or
/// putting it aside is safe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAnswer {
    Approval {
        accept: bool,
        file_change: bool,
        for_session: bool,
    },
    ConfirmPlan,
    Question {
        confirm: bool,
        with_note: bool,
    },
}

pub fn phone_page_may(allowed: RemoteDecisions, answer: PageAnswer) -> Result<(), Refusal> {
    match answer {
        PageAnswer::Approval {
            for_session: true, ..
        } if allowed != RemoteDecisions::All => Err(Refusal::Forbidden(
            "launcher.notify.remote_decisions does not let a phone approve for the rest of a \
             session (allow all there)"
                .into(),
        )),
        PageAnswer::Approval {
            accept,
            file_change,
            ..
        } => {
            let decision = if accept {
                PhoneDecision::Approve
            } else {
                PhoneDecision::Decline
            };
            may_decide(allowed, NeedKind::Approval, decision, file_change)
        }
        PageAnswer::ConfirmPlan => may_decide(
            allowed,
            NeedKind::PlanConfirmation,
            PhoneDecision::ConfirmPlan,
            false,
        ),
        PageAnswer::Question {
            confirm: false,
            with_note: false,
        } => Ok(()),
        PageAnswer::Question { .. } if allowed == RemoteDecisions::All => Ok(()),
        PageAnswer::Question { .. } => Err(Refusal::Forbidden(
            "launcher.notify.remote_decisions does not let a phone confirm a question or send \
             the planner a note (allow all there)"
                .into(),
        )),
    }
}

/// The buttons a notice of a `kind` item carries (at most three), each a
/// decision the phone may take; `file_change`: it asks to approve a patch
/// that stays inside its department's worktree.
pub fn buttons(allowed: RemoteDecisions, kind: NeedKind, file_change: bool) -> Vec<PhoneDecision> {
    [
        PhoneDecision::Approve,
        PhoneDecision::ConfirmPlan,
        PhoneDecision::Decline,
    ]
    .into_iter()
    .filter(|d| may_decide(allowed, kind, *d, file_change).is_ok())
    .take(3)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phones_page_answers_within_what_the_user_allowed() {
        use PageAnswer::*;
        let approval = |accept, file_change, for_session| Approval {
            accept,
            file_change,
            for_session,
        };
        let question = |confirm, with_note| Question { confirm, with_note };
        let decline = approval(false, false, false);
        let run = approval(true, false, false);
        let patch = approval(true, true, false);
        let patch_for_session = approval(true, true, true);
        let only = RemoteDecisions::DeclineOnly;
        assert!(phone_page_may(only, decline).is_ok());
        assert!(phone_page_may(only, question(false, false)).is_ok());
        for refused in [
            run,
            patch,
            ConfirmPlan,
            question(true, false),
            question(false, true),
        ] {
            let why = phone_page_may(only, refused).unwrap_err();
            assert!(matches!(why, Refusal::Forbidden(_)), "{refused:?}");
        }
        assert!(phone_page_may(RemoteDecisions::LowRisk, patch).is_ok());
        assert!(phone_page_may(RemoteDecisions::LowRisk, run).is_err());
        assert!(phone_page_may(RemoteDecisions::LowRisk, patch_for_session).is_err());
        for allowed in [
            run,
            patch,
            patch_for_session,
            ConfirmPlan,
            question(true, false),
            question(false, true),
        ] {
            assert!(phone_page_may(RemoteDecisions::All, allowed).is_ok());
        }
    }

    const T: Timing = Timing {
        dwell_ms: 5_000,
        cooldown_ms: 60_000,
        quiet: None,
    };

    fn moment(now_ms: u64) -> Moment {
        Moment {
            first_seen_ms: 1_000,
            now_ms,
            tab_in_use: false,
            already_told: false,
            session_last_told_ms: None,
            minute_of_day: 12 * 60,
        }
    }

    #[test]
    fn an_item_waits_out_the_dwell_then_is_told() {
        assert_eq!(
            tell_now(T, moment(3_000)),
            Err(NotNow::Dwell { until_ms: 6_000 })
        );
        assert_eq!(tell_now(T, moment(6_000)), Ok(()));
    }

    #[test]
    fn a_tab_in_use_and_a_told_item_send_nothing() {
        let m = Moment {
            tab_in_use: true,
            ..moment(10_000)
        };
        assert_eq!(tell_now(T, m), Err(NotNow::TabInUse));
        let m = Moment {
            already_told: true,
            ..moment(10_000)
        };
        assert_eq!(tell_now(T, m), Err(NotNow::AlreadyTold));
    }

    #[test]
    fn a_session_told_recently_waits_out_its_cooldown() {
        let m = Moment {
            session_last_told_ms: Some(9_000),
            ..moment(10_000)
        };
        assert_eq!(tell_now(T, m), Err(NotNow::Cooldown { until_ms: 69_000 }));
        let m = Moment {
            session_last_told_ms: Some(9_000),
            ..moment(69_000)
        };
        assert_eq!(tell_now(T, m), Ok(()));
    }

    #[test]
    fn quiet_hours_wrap_midnight_and_hold_notices() {
        let quiet = QuietHours {
            start: 22 * 60,
            end: 7 * 60,
        };
        assert!(quiet.contains(23 * 60) && quiet.contains(0) && quiet.contains(6 * 60 + 59));
        assert!(!quiet.contains(7 * 60) && !quiet.contains(12 * 60));
        let t = Timing {
            quiet: Some(quiet),
            ..T
        };
        let night = Moment {
            minute_of_day: 3 * 60,
            ..moment(10_000)
        };
        assert_eq!(tell_now(t, night), Err(NotNow::QuietHours));
        assert_eq!(tell_now(t, moment(10_000)), Ok(()));
    }

    fn approval(detail: &str) -> NeedItem {
        NeedItem {
            id: "approval:lingyubu-1:7".into(),
            kind: NeedKind::Approval,
            session_id: Some("lingyubu-1".into()),
            plan: Some("zhongshu-1".into()),
            department: Some("lingyubu".into()),
            detail: detail.into(),
            digest: "d".into(),
            answers: crate::policy::needs_you::Answers::Approval {
                request_id: "7".into(),
                file_change: false,
                gist: "asks to run a command (curl)".into(),
            },
        }
    }

    #[test]
    fn a_minimal_notice_names_kind_plan_and_department_and_no_agent_words() {
        let secret = "curl -H 'Authorization: token ghp_SECRET' /home/me/.ssh/id_ed25519";
        let n = notice(&approval(secret), Detail::Minimal, "http://127.0.0.1:8765/");
        let text = serde_json::to_string(&n).unwrap();
        assert!(
            !text.contains("ghp_SECRET") && !text.contains(".ssh"),
            "{text}"
        );
        assert_eq!(
            n.body,
            "Department lingyubu (plan zhongshu-1) asks to run a command (curl)."
        );
        assert_eq!(n.link, "http://127.0.0.1:8765/#session=lingyubu-1");
        let full = notice(&approval(secret), Detail::Full, "http://127.0.0.1:8765");
        assert!(full.body.contains("curl"), "{}", full.body);
    }

    #[test]
    fn the_phone_declines_by_default_and_approves_only_when_allowed() {
        use PhoneDecision::*;
        let approval = NeedKind::Approval;
        assert_eq!(
            buttons(RemoteDecisions::DeclineOnly, approval, false),
            [Decline]
        );
        assert_eq!(
            buttons(RemoteDecisions::LowRisk, approval, false),
            [Decline]
        );
        // A patch staying in its worktree: Approve at low_risk.
        assert_eq!(
            buttons(RemoteDecisions::LowRisk, approval, true),
            [Approve, Decline]
        );
        assert_eq!(
            buttons(RemoteDecisions::All, approval, false),
            [Approve, Decline]
        );
        assert_eq!(
            buttons(RemoteDecisions::All, NeedKind::PlanConfirmation, false),
            [ConfirmPlan, Decline]
        );
        // Declining a plan is always there, at decline_only too (issue 70 item 10).
        assert_eq!(
            buttons(
                RemoteDecisions::DeclineOnly,
                NeedKind::PlanConfirmation,
                false
            ),
            [Decline]
        );
        assert!(matches!(
            may_decide(
                RemoteDecisions::DeclineOnly,
                NeedKind::Approval,
                Approve,
                false
            ),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            may_decide(
                RemoteDecisions::LowRisk,
                NeedKind::PlanConfirmation,
                ConfirmPlan,
                false
            ),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            may_decide(RemoteDecisions::All, NeedKind::Question, Decline, false),
            Err(Refusal::Invalid(_))
        ));
    }

    #[test]
    fn a_telegram_press_counts_from_the_named_users_in_the_chat_only() {
        assert_eq!(telegram_press_may(42, &[42], Some(42), Some(42)), Ok(()));
        let why = |r: Result<(), Refusal>| r.unwrap_err().to_string();
        assert!(why(telegram_press_may(42, &[42], Some(43), Some(42))).contains("another chat"));
        assert!(why(telegram_press_may(-100, &[7], Some(-100), Some(8))).contains("does not name"));
        assert!(why(telegram_press_may(-100, &[7], Some(-100), None)).contains("does not name"));
        assert!(why(telegram_press_may(-100, &[], Some(-100), Some(7))).contains("group chat"));
        assert_eq!(
            telegram_press_may(-100, &[7, 9], Some(-100), Some(9)),
            Ok(())
        );
    }
}
