//! The JSON API (SPEC 10): a compatible superset of the Python launcher's.
//! Handlers parse (bodies with `JsonBody`, queries as typed structs with
//! `Params` and `IdQuery`), send commands to the launcher's services, and
//! answer with the launcher's views in `{"ok": true, ...}`.

use std::sync::Arc;

use axum::extract::State;

use super::query::{IdQuery, Params};
use super::routes::Routes;
use crate::launcher::Launcher;

mod attempts;
mod changes;
mod control;
mod overview;
mod pull_requests;
mod quota;
mod review;
mod review_comments;
mod sessions;
mod trust;
mod zhongshu;

use overview::{
    audit, browser_terminals, check_agents, check_remotes, healthz, report, status,
    zhongshu_sessions,
};
use sessions::{
    browser_terminal_close, browser_terminal_start, close_session, session_browser_terminal_start,
    session_input, start_department, start_zhongshu, submit_result,
};
use zhongshu::{
    decline_plan, notify_zhongshu, plan_assignments, report_plan, restart_zhongshu,
    start_assignments, zhongshu_context, zhongshu_inbox, zhongshu_plan,
};

type L = State<Arc<Launcher>>;

pub fn routes() -> Routes {
    Routes::new()
        .get("/healthz", healthz)
        .get("/api/status", status)
        .get("/api/sessions", status)
        .get("/api/zhongshu_sessions", zhongshu_sessions)
        .get("/api/zhongshu_plan", zhongshu_plan)
        .get("/api/zhongshu_inbox", zhongshu_inbox)
        .get("/api/zhongshu_context", zhongshu_context)
        .get("/api/report", report)
        .get("/api/browser_terminals", browser_terminals)
        .get("/api/audit", audit)
        .get("/api/quota", quota::quota)
        .get("/api/handoff", review::handoff)
        .post("/api/mark_seen", review::mark_seen)
        .get("/api/result_raw", review::result_raw)
        .get("/api/diff", review::diff)
        .post("/api/start_zhongshu_session", start_zhongshu)
        .post("/api/start_zhongshu", start_zhongshu)
        .post("/api/restart_zhongshu_session", restart_zhongshu)
        .post("/api/resume_plan", zhongshu::resume_plan)
        .post("/api/report_zhongshu_plan", report_plan)
        .post("/api/plan_assignments", plan_assignments)
        .post("/api/start_assignments", start_assignments)
        .post("/api/decline_plan", decline_plan)
        .post("/api/start_department", start_department)
        .post(
            "/api/start_department_for_zhongshu",
            sessions::start_department_for_zhongshu,
        )
        .post("/api/session_input", session_input)
        .post("/api/close_session", close_session)
        .post("/api/notify_zhongshu", notify_zhongshu)
        .post("/api/browser_terminal/start", browser_terminal_start)
        .post(
            "/api/session_browser_terminal/start",
            session_browser_terminal_start,
        )
        .post("/api/browser_terminal/close", browser_terminal_close)
        .post("/api/session_terminal/attach", sessions::attach_terminal)
        .get("/api/session_conversation", sessions::conversation)
        .post("/api/submit_result", submit_result)
        .get("/api/changes", changes::changes)
        .post("/api/integrate", changes::integrate)
        .post("/api/discard", changes::discard)
        .post("/api/landing/remove", changes::remove_from_train)
        .get("/api/attempts", attempts::list)
        .get("/api/attempts/diff", attempts::diff)
        .post("/api/choose_attempt", attempts::choose)
        .post("/api/attempts/another", attempts::another)
        .post("/api/undo_integration", changes::undo)
        .post("/api/worktrees/prune", changes::prune)
        .post("/api/send_back", changes::send_back)
        .post("/api/propose_integration", changes::propose)
        .post("/api/review_comments", review_comments::add)
        .get("/api/review_comments", review_comments::list)
        .post("/api/review_comments/delete", review_comments::delete)
        .post("/api/review_comments/resolve", review_comments::resolve)
        .post("/api/review_comments/accept", review_comments::accept)
        .post("/api/review_comments/dismiss", review_comments::dismiss)
        .post("/api/review_again", review_comments::review_again)
        .get("/api/pull_requests", pull_requests::settings)
        .post("/api/integrate_plan", pull_requests::integrate_plan)
        .post("/api/send_back_failure", pull_requests::send_back_failure)
        .post("/api/send_back_review", pull_requests::send_back_review)
        .post("/forge/webhook", pull_requests::forge_webhook)
        .post("/api/interrupt", control::interrupt)
        .post("/api/stop_plan", control::stop_plan)
        .post("/api/retry", control::retry)
        .post("/api/queue/place", control::place)
        .post("/api/answer_confirmation", control::answer_confirmation)
        .post("/api/dismiss", control::dismiss)
        .post("/api/worktree_setup", control::worktree_setup)
        .post("/api/quota/start_anyway", quota::start_anyway)
        .post("/api/quota/model_switch", quota::model_switch)
        .post("/api/plan_budget", quota::plan_budget)
        .post("/api/trust_config", trust::trust_config)
        .post("/api/check_agents", check_agents)
        .post("/api/check_remotes", check_remotes)
}
