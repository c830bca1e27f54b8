//! One derivation, each item kind: what waits, its words, its actions (the
//! call each makes) and what a notice of it tells.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::{notices, Does, NeedView, Part};
use crate::config::Config;
use crate::model::{Backend, Capabilities, Session, State, WorkspaceState};
use crate::policy::needs_you::NeedKind;
use crate::views::{BackendFacts, Facts, LauncherFacts, Moment, PlanFiles, ReportFact, Snapshot};

/// A session from `fields` over a running department's defaults.
fn session(fields: Value) -> Session {
    let mut v = json!({
        "id": "lingyubu-1", "session_kind": "department", "role": "department",
        "department": "lingyubu", "title": "lingyubu · lingyubu-1", "model": "m", "task": "do it",
        "pid": 1, "status": "running", "exit_code": null, "started_at": "2026-05-01T08:00:00Z",
        "ended_at": null, "prompt_path": "", "log_path": "", "agent_state": "working",
        "parent_session_id": "zhongshu-1", "backend": "codex",
        "capabilities": {"reports_turns": true},
    });
    v.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    serde_json::from_value(v).unwrap()
}

/// The running planner `zhongshu-1`, with `fields`.
fn planner(fields: Value) -> Session {
    let mut v = json!({
        "id": "zhongshu-1", "session_kind": "zhongshu", "role": "planner", "department": null,
        "title": "Zhongshu", "task": "Tidy the notes", "parent_session_id": null,
        "agent_state": "idle",
    });
    v.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    session(v)
}

fn plan(status: &str) -> crate::model::Plan {
    serde_json::from_value(json!({
        "session_id": "zhongshu-1", "revision": 2, "summary": "three parts",
        "assignments": [{"department": "lingyubu", "task": "edit", "model": "m", "selected": true}],
        "needs_confirmation": true, "status": status, "registered_at": "r",
    }))
    .unwrap()
}

/// What `state` holds, with `facts`, as the launcher would see it.
struct World {
    state: State,
    facts: Facts,
    model_switch: Option<crate::model::SwitchOffer>,
}

impl World {
    fn of(sessions: Vec<Session>) -> World {
        let mut state = State::default();
        for s in sessions {
            state.sessions.insert(s.id.clone(), s);
        }
        World {
            state,
            facts: Facts::default(),
            model_switch: None,
        }
    }

    fn with_plan(mut self, status: &str) -> World {
        self.state.plans.insert("zhongshu-1".into(), plan(status));
        self
    }

    fn snapshot<'a>(&self, config: &'a Config, repo: &'a std::path::Path) -> Snapshot<'a> {
        Snapshot {
            state: self.state.clone(),
            config,
            repo,
            mailbox_root: repo.join("mailbox"),
            live: HashMap::new(),
            facts: Arc::new(self.facts.clone()),
            launcher: LauncherFacts {
                audit_seq: 1,
                audit_chain_problem: None,
                ingestion: crate::model::IngestionHealth::Idle,
                backend: BackendFacts {
                    kind: Backend::Codex,
                    capabilities: Capabilities::default(),
                    problems: vec![],
                    planner_problems: vec![],
                },
                trust: None,
                model_switch: self.model_switch.clone(),
                run_started: chrono::Utc::now().fixed_offset(),
                remotes: Vec::new(),
            },
            at: Moment::now(),
        }
    }

    /// Needs you, as the desk's status carries it.
    fn needs(&self) -> Vec<NeedView> {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load_with_env(dir.path(), &Default::default()).unwrap();
        crate::views::status::status(&self.snapshot(&config, dir.path())).needs_you
    }

    /// Needs you, as a paired phone's status carries it.
    fn phones_needs(&self) -> Vec<NeedView> {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let snap = self.snapshot(&config, dir.path());
        crate::views::status::for_phone(&snap, "phone", Default::default()).needs_you
    }
}

/// The one item of `kind` (an item of another kind may be there too).
fn one(items: &[NeedView], kind: &str) -> NeedView {
    let of: Vec<_> = items.iter().filter(|i| i.kind == kind).collect();
    assert_eq!(of.len(), 1, "one {kind} item: {items:#?}");
    of[0].clone()
}

/// Each action as (label, data-action, route of its first call, its body).
fn calls(item: &NeedView) -> Vec<(String, Option<&'static str>, Option<&'static str>, Value)> {
    item.actions
        .iter()
        .map(|a| match &a.does {
            Does::Call(c) => (
                a.label.clone(),
                a.action,
                Some(c.requests[0].path),
                Value::Object(c.requests[0].body.clone()),
            ),
            other => (
                a.label.clone(),
                a.action,
                None,
                serde_json::to_value(other).unwrap(),
            ),
        })
        .collect()
}

#[test]
fn an_approval_is_an_item_its_card_draws_and_a_notice_tells() {
    let d = session(json!({"agent_state": "needs_user", "pending_approvals": [{
        "request_id": "7", "session_id": "lingyubu-1", "kind": "command",
        "command": "cargo test", "requested_at": "now"}]}));
    let items = World::of(vec![planner(json!({})), d]).needs();
    let item = one(&items, "approval");
    assert_eq!(item.key, "approval:lingyubu-1:7");
    assert_eq!(item.request.as_deref(), Some("7"));
    assert_eq!(item.session.as_deref(), Some("lingyubu-1"));
    let told = notices(&items);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].kind, NeedKind::Approval);
    assert_eq!(told[0].id, "approval:lingyubu-1:7");
}

#[test]
fn a_plan_awaiting_confirmation_is_started_after_review_or_declined() {
    let z = planner(json!({"plan_status": "awaiting_confirmation"}));
    let items = World::of(vec![z])
        .with_plan("awaiting_confirmation")
        .needs();
    let item = one(&items, "plan");
    assert_eq!(item.key, "plan:zhongshu-1");
    assert_eq!(
        item.text,
        "Planner zhongshu-1: its plan awaits your confirmation"
    );
    assert_eq!(item.detail, "three parts");
    assert_eq!(item.revision, Some(2));
    assert!(
        matches!(&item.body[1], Part::Plan { assignments, .. } if assignments.len() == 1),
        "{:?}",
        item.body
    );
    let calls = calls(&item);
    assert_eq!(calls[0].1, Some("start-plan"));
    assert_eq!(
        calls[0].3,
        json!({"does": "review_plan", "session": "zhongshu-1"})
    );
    assert_eq!(calls[1].1, Some("show"));
    assert_eq!(
        (calls[2].1, calls[2].2, &calls[2].3),
        (
            Some("decline-plan"),
            Some("/api/decline_plan"),
            &json!({"parent_session_id": "zhongshu-1", "revision": 2})
        )
    );
    let told = notices(&items);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].id, "plan:zhongshu-1:2");
    assert_eq!(told[0].kind, NeedKind::PlanConfirmation);
}

#[test]
fn an_agents_question_is_an_item_with_its_words_and_a_notice() {
    let d = session(json!({"agent_state": "needs_user",
        "attention": {"kind": "input", "text": "Which branch?"}}));
    let items = World::of(vec![planner(json!({})), d]).needs();
    let item = one(&items, "input");
    assert_eq!(item.text, "lingyubu · lingyubu-1 needs you (input)");
    assert_eq!(item.detail, "Which branch?");
    assert_eq!(calls(&item)[0].1, Some("show"));
    let told = notices(&items);
    assert_eq!(told[0].kind, NeedKind::Question);
    assert_eq!(told[0].id, "attention:lingyubu-1:question");
}

#[test]
fn a_failed_worktree_set_up_offers_retry_start_anyway_and_discard() {
    let mut d = session(json!({"agent_state": "starting", "pid": null}));
    let mut ws = crate::model::Workspace::new("/w".into(), "b".into(), "base".into(), "w".into());
    ws.setup = Some(crate::model::WorktreeSetup {
        state: crate::model::SetupState::Failed,
        output: "$ make\nno rule".into(),
        failure: Some("`make` exited with 2".into()),
    });
    d.department_mut().unwrap().workspace = Some(Box::new(ws));
    let items = World::of(vec![planner(json!({})), d]).needs();
    let item = one(&items, "setup");
    assert_eq!(item.detail, "`make` exited with 2");
    assert_eq!(
        item.body,
        [Part::Output {
            text: "$ make\nno rule".into()
        }]
    );
    let answers: Vec<_> = calls(&item)
        .into_iter()
        .map(|(_, action, path, body)| (action.unwrap(), path.unwrap(), body["action"].clone()))
        .collect();
    assert_eq!(
        answers,
        [
            ("setup-retry", "/api/worktree_setup", json!("retry")),
            (
                "setup-start-anyway",
                "/api/worktree_setup",
                json!("start_anyway")
            ),
            ("setup-discard", "/api/worktree_setup", json!("discard")),
        ]
    );
}

#[test]
fn a_planner_without_a_plan_is_answered_and_a_phone_sees_none_of_its_words() {
    let z = planner(json!({"turn_count": 2, "last_message": "Which files?"}));
    let world = World::of(vec![z]);
    let item = one(&world.needs(), "no-plan");
    assert_eq!(item.key, "no-plan:zhongshu-1:2");
    assert_eq!(
        item.text,
        "Planner zhongshu-1 ended its turn without a plan and says:"
    );
    assert_eq!(
        item.body,
        [Part::Said {
            text: "Which files?".into()
        }]
    );
    assert_eq!(item.input.as_ref().map(|i| i.name), Some("input"));
    let Does::Call(send) = &item.actions[0].does else {
        panic!("{:?}", item.actions[0])
    };
    assert_eq!(send.requests[0].path, "/api/session_input");
    assert_eq!(send.fill.as_ref().map(|f| f.field), Some("input"));
    assert_eq!(item.actions[1].action, Some("ask-plan"));
    let phone = one(&world.phones_needs(), "no-plan");
    assert!(phone.body.is_empty(), "{phone:?}");
    assert_eq!(
        phone.text,
        "Planner zhongshu-1 ended its turn without a plan"
    );
}

#[test]
fn a_department_ended_without_a_report_is_retried_or_dismissed() {
    let d = session(json!({})).ended_for_test(1, None);
    let items = World::of(vec![planner(json!({})), d]).needs();
    let item = one(&items, "failed");
    assert_eq!(item.key, "ended:lingyubu-1");
    let calls = calls(&item);
    let actions: Vec<_> = calls.iter().map(|c| c.1.unwrap()).collect();
    assert_eq!(actions, ["retry", "show", "dismiss"]);
    assert_eq!(calls[0].2, Some("/api/retry"));
    assert_eq!(calls[2].3, json!({"session_id": "lingyubu-1"}));
    let told = notices(&items);
    assert_eq!(told[0].kind, NeedKind::EndedWithoutReport);
    // Its planner closed: nothing left to decide.
    let gone = planner(json!({})).ended_for_test(0, None);
    let d = session(json!({})).ended_for_test(1, None);
    assert!(World::of(vec![gone, d]).needs().is_empty());
}

#[test]
fn suspended_sessions_are_one_item_with_check_again() {
    let s = |id: &str| {
        session(json!({"id": id, "agent_state": "starting", "pid": 7,
            "attention": {"kind": "backend", "text": "Codex is not installed"}}))
    };
    let items = World::of(vec![planner(json!({})), s("lingyubu-1"), s("lingyubu-2")]).needs();
    let item = one(&items, "suspended");
    assert_eq!(
        item.text,
        "2 sessions suspended: they resume on the same conversation once the note at the top is dealt with"
    );
    assert_eq!(item.actions[0].does, Does::CheckAgents);
    assert_eq!(notices(&items).len(), 2, "each session's own notice");
}

#[test]
fn finished_planners_are_closed_in_one_go() {
    let item = super::groups::finished_planners(&["zhongshu-1".into(), "zhongshu-2".into()])
        .expect("an item");
    assert_eq!(item.text, "2 planners are done with their plans");
    let Does::Call(close) = &item.actions[0].does else {
        panic!()
    };
    let closed: Vec<_> = close
        .requests
        .iter()
        .map(|r| r.body["session_id"].clone())
        .collect();
    assert_eq!(closed, [json!("zhongshu-1"), json!("zhongshu-2")]);
    assert_eq!(item.actions[0].label, "Close 2 finished planners");
    assert!(super::groups::finished_planners(&[]).is_none());
}

/// A department that reported asking `question`, its planner `running`.
fn asked(running: bool) -> World {
    let z = match running {
        true => planner(json!({})),
        false => planner(json!({})).ended_for_test(0, None),
    };
    let d = session(json!({"last_report_id": "r1", "report_status": "reported",
        "reported_at": "2026-05-01T09:00:00Z"}))
    .ended_for_test(0, None);
    let mut world = World::of(vec![z, d]);
    world.facts.reports = Arc::new(HashMap::from([(
        "lingyubu-1".into(),
        ReportFact {
            report_id: "r1".into(),
            needs_confirmation: true,
            question: "Ship it?".into(),
            answer: None,
        },
    )]));
    world
}

#[test]
fn a_reports_question_is_confirmed_with_a_note_or_put_aside_while_its_planner_is_away() {
    let item = one(&asked(true).needs(), "confirm");
    assert_eq!(item.key, "confirm:lingyubu-1:r1");
    assert_eq!(item.detail, "Ship it?");
    assert_eq!(item.input.as_ref().map(|i| i.class), Some("need-note"));
    let calls = calls(&item);
    assert_eq!(
        calls[0].3,
        json!({"department_session_id": "lingyubu-1", "report_id": "r1", "decision": "confirm"})
    );
    let actions: Vec<_> = calls.iter().map(|c| c.1).collect();
    assert_eq!(
        actions,
        [
            Some("confirm"),
            Some("reject"),
            Some("dismiss"),
            None,
            Some("show")
        ]
    );
    let away = one(&asked(false).needs(), "confirm");
    assert!(away.input.is_none());
    assert!(matches!(&away.body[0], Part::Why { text } if text.contains("is not running")));
    let actions: Vec<_> = away.actions.iter().map(|a| a.action).collect();
    assert_eq!(actions, [Some("show-planner"), Some("dismiss"), None]);
}

#[test]
fn a_plan_naming_uncommitted_files_and_applied_work_are_items_of_the_tree() {
    let mut world = World::of(vec![planner(json!({}))]).with_plan("dispatched");
    world.state.plans.get_mut("zhongshu-1").unwrap().base = Some(crate::model::PlanBase {
        commit: "0".repeat(40),
        dirty_files: vec!["src/a.rs".into()],
    });
    world.facts.plan_files = Arc::new(HashMap::from([(
        "zhongshu-1".into(),
        PlanFiles {
            dirty: vec!["src/a.rs".into()],
            applied: vec![crate::model::AppliedFile {
                path: "README.md".into(),
                session_id: "zhilibu-1".into(),
            }],
        },
    )]));
    let items = world.needs();
    let dirty = one(&items, "dirty");
    assert_eq!(
        dirty.text,
        "Planner zhongshu-1: its plan names 1 file you changed and did not commit"
    );
    assert_eq!(dirty.actions[0].does, Does::Refresh);
    let applied = one(&items, "applied");
    assert_eq!(
        applied.text,
        "README.md holds zhilibu-1's applied change: commit it when ready"
    );
}

/// A department whose recorded work stands at `state`.
fn recorded(id: &str, state: WorkspaceState) -> Session {
    let mut d = session(json!({"id": id, "report_status": "reported", "last_report_id": id}))
        .ended_for_test(0, None);
    let mut ws = crate::model::Workspace::new("/w".into(), "b".into(), "base".into(), id.into());
    ws.state = state;
    ws.commit = Some("c1".into());
    ws.diff_stat = Some(crate::model::DiffStat {
        files: 2,
        insertions: 1,
        deletions: 0,
    });
    d.department_mut().unwrap().workspace = Some(Box::new(ws));
    d
}

#[test]
fn waiting_work_is_one_item_for_the_queue_and_a_notice_each() {
    let a = recorded("lingyubu-1", WorkspaceState::Pending);
    let mut b = recorded("lingyubu-2", WorkspaceState::Conflicting);
    b.started_at = "2026-05-01T08:05:00Z".into();
    let items = World::of(vec![planner(json!({})), a, b]).needs();
    let item = one(&items, "changes");
    assert_eq!(
        item.text,
        "2 departments' changes wait for you: lingyubu-1 (2 files), lingyubu-2 (2 files · conflicts)"
    );
    let Part::Queue { entries } = &item.body[0] else {
        panic!("{:?}", item.body)
    };
    let order: Vec<_> = entries.iter().map(|e| e.session.as_str()).collect();
    assert_eq!(
        order,
        ["lingyubu-1", "lingyubu-2"],
        "in the order they started"
    );
    assert_eq!(
        item.actions[0].does,
        Does::OpenChanges {
            session: "lingyubu-1".into()
        }
    );
    let told: Vec<_> = notices(&items).into_iter().map(|n| n.id).collect();
    assert_eq!(told, ["review:lingyubu-1:c1", "review:lingyubu-2:c1"]);
}

#[test]
fn a_pull_requests_failed_check_and_waiting_review_are_sent_back() {
    let mut d = recorded("lingyubu-1", WorkspaceState::InReview);
    let pr: crate::model::PullRequest = serde_json::from_value(json!({
        "url": "https://forge.example/a/b/pull/7", "number": 7, "state": "open", "repo": "a/b",
        "remote": "origin", "branch": "b", "base": "main", "head": "h1", "opened_at": "now",
        "checks": [{"name": "ci", "kind": "check_run", "verdict": "failed"}],
        "review_waiting": [{"id": 1, "line_comment": false, "author": "ana", "body": "rename it"}],
    }))
    .unwrap();
    d.workspace_mut().unwrap().pull_request = Some(pr);
    let items = World::of(vec![planner(json!({})), d]).needs();
    let failed = items
        .iter()
        .find(|i| i.key == "pr-failed:lingyubu-1")
        .unwrap();
    assert_eq!(
        failed.text,
        "lingyubu · lingyubu-1: CI failed on its pull request #7 (ci)"
    );
    assert_eq!(calls(failed)[0].2, Some("/api/send_back_failure"));
    let review = items
        .iter()
        .find(|i| i.key == "pr-review:lingyubu-1")
        .unwrap();
    assert_eq!(calls(review)[0].2, Some("/api/send_back_review"));
    let told: Vec<_> = notices(&items).into_iter().map(|n| n.kind).collect();
    assert_eq!(told, [NeedKind::CheckFailed]);
}

#[test]
fn the_usage_limits_hold_the_offer_of_a_lighter_model_and_a_budget() {
    let mut world = World::of(vec![planner(json!({}))]);
    world.state.quota.hold = Some(crate::model::Hold {
        reason: crate::model::HoldReason::Reserve,
        until: None,
        text: "the reserve is reached".into(),
    });
    world.state.queue.push(
        serde_json::from_value(json!({
            "id": "q-1", "department": "lingyubu", "task": "t", "model": "m", "parent_session_id": "zhongshu-1",
            "queued_at": "2026-05-01T08:00:00Z", "status": "queued", "where": "box",
            "waiting": "box is not reachable",
        }))
        .unwrap(),
    );
    world.model_switch = Some(crate::model::SwitchOffer {
        model: "gpt-mini".into(),
        used_percent: 86.6,
        window: "5-hour",
        sessions: vec!["zhongshu-1".into()],
    });
    let items = world.needs();
    let hold = one(&items, "quota");
    assert_eq!(hold.text, "New departments wait: the reserve is reached");
    assert_eq!(hold.detail, "1 queued department waits.");
    assert_eq!(calls(&hold)[0].2, Some("/api/quota/start_anyway"));
    let offer = one(&items, "rate_limit");
    assert_eq!(
        offer.text,
        "Approaching the usage limit (87% of the 5-hour window): switch to gpt-mini for the next turns?"
    );
    let choices: Vec<_> = calls(&offer)
        .into_iter()
        .map(|c| c.3["choice"].clone())
        .collect();
    assert_eq!(choices, [json!("switch"), json!("keep"), json!("never")]);
    let host = one(&items, "host");
    assert_eq!(host.text, "1 queued department waits for box");
    assert_eq!(host.actions[0].does, Does::CheckHosts);
    assert_eq!(notices(&items)[0].kind, NeedKind::QuotaHold);
    let budget = super::quota::budget(&crate::views::quota::BudgetView {
        zhongshu_id: "zhongshu-1".into(),
        text: "spent its budget ($2.00 of $2.00)".into(),
        budget_usd: Some(2.0),
        budget_tokens: None,
    });
    assert_eq!(
        budget.input.as_ref().and_then(|i| i.value.as_deref()),
        Some("4")
    );
    let Does::Call(raise) = &budget.actions[0].does else {
        panic!()
    };
    assert_eq!(raise.fill.as_ref().map(|f| f.field), Some("budget_usd"));
}

#[test]
fn items_come_newest_first_and_those_without_a_time_last() {
    let old = session(json!({"id": "lingyubu-1", "agent_state": "needs_user",
        "attention": {"kind": "input", "text": "a"}, "last_activity_at": "2026-05-01T08:00:00Z"}));
    let new = session(json!({"id": "lingyubu-2", "agent_state": "needs_user",
        "attention": {"kind": "login", "text": "b"}, "last_activity_at": "2026-05-01T09:00:00Z"}));
    let mut world = World::of(vec![planner(json!({})), old, new]);
    world.state.quota.hold = Some(crate::model::Hold {
        reason: crate::model::HoldReason::Reserve,
        until: None,
        text: "held".into(),
    });
    let kinds: Vec<_> = world.needs().into_iter().map(|i| i.kind).collect();
    assert_eq!(kinds, ["login", "input", "quota"]);
}
