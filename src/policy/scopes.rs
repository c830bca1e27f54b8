//! Which callers may use which route (issue 13: least privilege for agents).
//!
//! The developer's token reaches every route. A session token reaches only what
//! its role needs: any agent may read the status and the governance report; a
//! Zhongshu may read its own plan, inbox and context and its departments'
//! changes, register its own plan, propose integrating them and notify itself; a department may submit its own result.
//! This table decides the route, and the web layer's security check asks it
//! before any handler runs; ownership (the record a request names belongs to
//! the caller) is [`may_act_for`], which the web layer's extractors
//! (`web::owned`) ask before the handler runs.

use super::Refusal;
use crate::credentials::Principal;
use crate::model::SessionKind;

/// Who a route is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The developer only.
    User,
    /// The developer and every agent session.
    AnySession,
    /// The developer and Zhongshu sessions (their own data).
    Zhongshu,
    /// The developer and department sessions (their own result).
    Department,
}

pub fn scope(method: &str, path: &str) -> Scope {
    match (method, path) {
        ("GET", "/api/status" | "/api/sessions" | "/api/report") => Scope::AnySession,
        (
            "GET",
            "/api/zhongshu_plan" | "/api/zhongshu_inbox" | "/api/zhongshu_context" | "/api/changes",
        ) => Scope::Zhongshu,
        (
            "POST",
            "/api/report_zhongshu_plan"
            | "/api/notify_zhongshu"
            | "/api/plan_assignments"
            | "/api/propose_integration",
        ) => Scope::Zhongshu,
        ("POST", "/api/submit_result") => Scope::Department,
        _ => Scope::User,
    }
}

/// What a paired phone reaches (issue 54, tier 2): it reads what the page
/// shows of the work (the status, a session's conversation, the plan and
/// its changes), answers what waits for the user (within
/// `notify.remote_decisions`, which the handlers ask) and interrupts. No
/// terminal, file contents or diffs, audit, trust, configuration, notice
/// setting, presence, unread marks or integration: a thief of the phone
/// gets no more.
pub fn phone_may_call(method: &str, path: &str) -> bool {
    matches!(
        (method, path),
        (
            "GET",
            "/api/status"
                | "/api/sessions"
                | "/api/events"
                | "/api/approvals"
                | "/api/quota"
                | "/api/report"
                | "/api/changes"
                | "/api/session_conversation"
                | "/api/zhongshu_plan"
        ) | (
            "POST",
            "/api/approval"
                | "/api/start_assignments"
                | "/api/decline_plan"
                | "/api/answer_confirmation"
                | "/api/interrupt"
        )
    )
}

/// Whether `principal` may call the route; refused as [`Refusal::Forbidden`].
pub fn may_call(principal: &Principal, method: &str, path: &str) -> Result<(), Refusal> {
    let grant = match principal {
        Principal::User => return Ok(()),
        Principal::Phone(phone) if phone_may_call(method, path) => return Ok(()),
        Principal::Phone(phone) => {
            return Err(Refusal::Forbidden(format!(
                "the paired phone {:?} may not call {method} {path}: a phone reads, \
                 answers and interrupts; terminals, trust and settings stay at the desk",
                phone.label
            )))
        }
        Principal::Session(grant) => grant,
    };
    let allowed = match scope(method, path) {
        Scope::User => false,
        Scope::AnySession => true,
        Scope::Zhongshu => grant.kind == SessionKind::Zhongshu,
        Scope::Department => grant.kind == SessionKind::Department,
    };
    if allowed {
        return Ok(());
    }
    Err(Refusal::Forbidden(format!(
        "the token of session {} ({}) may not call {method} {path}: agents may read \
         the status and the report; a Zhongshu its own plan, inbox and context, and \
         read and propose integrating its departments' work; a department may submit its own result",
        grant.session_id,
        match grant.kind {
            SessionKind::Zhongshu => "zhongshu",
            SessionKind::Department => "department",
            SessionKind::Reviewer => "reviewer",
        }
    )))
}

/// Whether `principal` may act for session `id`: the developer for every
/// session, a session's token for that session only.
pub fn may_act_for(principal: &Principal, id: &str) -> Result<(), Refusal> {
    if principal.owns(id) {
        return Ok(());
    }
    Err(Refusal::Forbidden(format!(
        "this session's token may not touch the data of session {id}"
    )))
}

/// Whose a session's records are: a department's (its changes, a proposal to
/// integrate it) are its Zhongshu's; a Zhongshu's are its own.
pub fn owner_of(session: &crate::model::Session) -> &str {
    session.parent_session_id().unwrap_or(&session.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Grant;

    const GET: &str = "GET";
    const POST: &str = "POST";

    /// Why not, if refused.
    fn refusal(p: &Principal, method: &str, path: &str) -> Option<String> {
        may_call(p, method, path).err().map(|r| r.to_string())
    }

    fn session(kind: SessionKind) -> Principal {
        Principal::Session(Grant {
            session_id: "x-1".into(),
            kind,
            parent_session_id: None,
            department: None,
        })
    }

    #[test]
    fn roles_reach_only_their_routes() {
        let z = session(SessionKind::Zhongshu);
        let d = session(SessionKind::Department);
        let get = GET;
        let post = POST;
        assert!(refusal(&Principal::User, post, "/api/close_session").is_none());
        assert!(refusal(&z, get, "/api/status").is_none());
        assert!(refusal(&d, get, "/api/report").is_none());
        assert!(refusal(&z, post, "/api/report_zhongshu_plan").is_none());
        assert!(refusal(&d, post, "/api/report_zhongshu_plan").is_some());
        assert!(refusal(&d, post, "/api/submit_result").is_none());
        assert!(refusal(&z, post, "/api/submit_result").is_some());
        for path in [
            "/api/close_session",
            "/api/session_input",
            "/api/browser_terminal/start",
            "/api/start_assignments",
            "/api/decline_plan",
            "/api/start_department",
            "/api/interrupt",
            "/api/stop_plan",
            "/api/retry",
            "/api/answer_confirmation",
            "/api/dismiss",
            "/api/quota/start_anyway",
            "/api/plan_budget",
        ] {
            assert!(refusal(&z, post, path).is_some(), "{path}");
            assert!(refusal(&d, post, path).is_some(), "{path}");
        }
        assert!(refusal(&d, get, "/api/events").is_some());
        assert!(refusal(&z, get, "/api/audit").is_some());
    }

    #[test]
    fn the_review_routes_are_the_developers_only() {
        for marks in ["/api/mark_seen", "/api/check_agents"] {
            assert_eq!(scope(POST, marks), Scope::User, "{marks}");
            for kind in [SessionKind::Zhongshu, SessionKind::Department] {
                assert!(refusal(&session(kind), POST, marks).is_some(), "{marks}");
            }
        }
        for path in ["/api/handoff", "/api/result_raw", "/api/diff"] {
            assert_eq!(scope(GET, path), Scope::User, "{path}");
            assert!(refusal(&Principal::User, GET, path).is_none(), "{path}");
            for kind in [SessionKind::Zhongshu, SessionKind::Department] {
                let why = refusal(&session(kind), GET, path);
                assert!(why.is_some_and(|w| w.contains("may not call")), "{path}");
            }
        }
    }

    #[test]
    fn integration_is_the_developers_and_proposals_a_zhongshus() {
        for path in [
            "/api/integrate",
            "/api/discard",
            "/api/send_back",
            "/api/undo_integration",
            "/api/worktrees/prune",
            "/api/integrate_plan",
            "/api/send_back_failure",
            "/api/send_back_review",
            "/api/landing/remove",
        ] {
            assert_eq!(scope(POST, path), Scope::User, "{path}");
            for kind in [SessionKind::Zhongshu, SessionKind::Department] {
                assert!(refusal(&session(kind), POST, path).is_some(), "{path}");
            }
        }
        let propose = "/api/propose_integration";
        assert!(refusal(&session(SessionKind::Zhongshu), POST, propose).is_none());
        assert!(refusal(&session(SessionKind::Department), POST, propose).is_some());
        // A Zhongshu reads its departments' changes (the handler checks they are its own).
        let changes = "/api/changes";
        assert!(refusal(&session(SessionKind::Zhongshu), GET, changes).is_none());
        assert!(refusal(&session(SessionKind::Department), GET, changes).is_some());
        // The reviewer's comments are the developer's words: no agent adds,
        // reads, deletes or resolves them (issue 51).
        for (method, path) in [
            (POST, "/api/review_comments"),
            (GET, "/api/review_comments"),
            (POST, "/api/review_comments/delete"),
            (POST, "/api/review_comments/resolve"),
        ] {
            assert_eq!(scope(method, path), Scope::User, "{path}");
            for kind in [SessionKind::Zhongshu, SessionKind::Department] {
                assert!(refusal(&session(kind), method, path).is_some(), "{path}");
            }
        }
        // Where pull requests go is the developer's to read.
        assert_eq!(scope(GET, "/api/pull_requests"), Scope::User);
    }

    #[test]
    fn a_phone_reads_answers_and_interrupts_and_nothing_more() {
        let phone = Principal::Phone(crate::phones::PhoneGrant {
            id: "phone-1".into(),
            label: "pocket".into(),
        });
        for (method, path) in [
            (GET, "/api/status"),
            (GET, "/api/events"),
            (GET, "/api/approvals"),
            (GET, "/api/session_conversation"),
            (POST, "/api/approval"),
            (POST, "/api/start_assignments"),
            (POST, "/api/decline_plan"),
            (POST, "/api/interrupt"),
        ] {
            assert!(refusal(&phone, method, path).is_none(), "{path}");
        }
        for (method, path) in [
            (POST, "/api/browser_terminal/start"),
            (POST, "/api/session_terminal/attach"),
            (POST, "/api/session_input"),
            (GET, "/api/session_stream"),
            (GET, "/api/browser_terminals"),
            (POST, "/api/trust_config"),
            (GET, "/api/notify"),
            (POST, "/api/notify/test"),
            (POST, "/api/phones/pair"),
            (GET, "/api/phones"),
            (GET, "/api/audit"),
            (GET, "/api/handoff"),
            (GET, "/api/result_raw"),
            (GET, "/api/diff"),
            (GET, "/api/zhongshu_sessions"),
            (POST, "/api/mark_seen"),
            (POST, "/api/notify/presence"),
            (POST, "/api/integrate"),
            (POST, "/api/plan_budget"),
            (POST, "/api/close_session"),
            (POST, "/api/submit_result"),
        ] {
            let why = refusal(&phone, method, path);
            assert!(
                why.is_some_and(|w| w.contains("stay at the desk")),
                "{path}"
            );
        }
        assert!(phone.owns("zhongshu-1"));
    }

    #[test]
    fn a_session_acts_for_itself_only_and_the_developer_for_all() {
        let z = session(SessionKind::Zhongshu);
        assert_eq!(may_act_for(&z, "x-1"), Ok(()));
        let other = may_act_for(&z, "x-2").unwrap_err();
        assert!(matches!(other, Refusal::Forbidden(_)), "{other}");
        assert_eq!(may_act_for(&Principal::User, "x-2"), Ok(()));
    }
}
