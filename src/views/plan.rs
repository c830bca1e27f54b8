//! The planners' screens: a Zhongshu's plan (`GET /api/zhongshu_plan`), the
//! Zhongshu list with their departments (`GET /api/zhongshu_sessions`), what a
//! restart needs (`GET /api/zhongshu_context`) and the answer to starting a
//! plan's assignments. The Python tool's fields sit beside ours.

use std::collections::HashMap;

use serde::Serialize;

use super::redact::Redact;
use super::session::{active_counts, by_id, session, SessionView};
use super::snapshot::Snapshot;
use crate::model::{AssignmentStatus, AutoDispatch, Plan, PlanStatus, QueueItem, TaskResult};

/// One entry of `GET /api/zhongshu_sessions`.
#[derive(Debug, Clone, Serialize)]
pub struct ZhongshuEntry {
    #[serde(flatten)]
    pub session: SessionView,
    pub child_departments: Vec<SessionView>,
    /// The same list under the Python tool's name.
    pub children: Vec<SessionView>,
    pub queued_departments: Vec<QueueItem>,
    pub report_count: usize,
}

/// `GET /api/zhongshu_sessions`.
#[derive(Debug, Clone, Serialize)]
pub struct ZhongshuSessionsView {
    pub ok: bool,
    pub sessions: Vec<ZhongshuEntry>,
    pub zhongshu_sessions: Vec<ZhongshuEntry>,
    pub active_zhongshu_sessions: usize,
    pub active_department_sessions: usize,
    pub max_department_sessions: usize,
    pub queue: Vec<QueueItem>,
}

/// What a restarted Zhongshu needs.
#[derive(Debug, Clone, Serialize)]
pub struct ZhongshuContext {
    pub session: SessionView,
    pub task: String,
    /// `{}` before a plan is registered (as the Python tool gives it).
    #[serde(serialize_with = "plan_or_empty")]
    pub plan: Option<Plan>,
    pub recent_results: Vec<TaskResult>,
    /// The same results under the Python tool's name.
    pub reports: Vec<TaskResult>,
    pub children: Vec<SessionView>,
}

fn plan_or_empty<S: serde::Serializer>(plan: &Option<Plan>, s: S) -> Result<S::Ok, S::Error> {
    match plan {
        Some(p) => p.serialize(s),
        None => serde_json::Map::new().serialize(s),
    }
}

/// `GET /api/zhongshu_context`: the Python tool's `{ok, context}` with ours
/// flat beside it.
#[derive(Debug, Clone, Serialize)]
pub struct ContextView {
    #[serde(flatten)]
    pub flat: ZhongshuContext,
    pub context: ZhongshuContext,
}

/// The plan inside `GET /api/zhongshu_plan`.
#[derive(Debug, Clone, Serialize)]
pub struct PlanBody {
    #[serde(flatten)]
    pub plan: PlanOrEmpty,
    pub ready: bool,
    pub reported_at: Option<String>,
    pub source: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_confirmation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_dispatch: Option<AutoDispatch>,
    pub active_department_sessions: usize,
    pub max_department_sessions: usize,
    pub max_terminals: usize,
    pub active_terminals: usize,
    pub active_zhongshu_sessions: usize,
    pub model_choices: Vec<String>,
}

/// A registered plan, or the empty shape before one is registered.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum PlanOrEmpty {
    Registered(Box<Plan>),
    Empty {
        session_id: String,
        summary: String,
        needs_confirmation: bool,
        assignments: Vec<()>,
    },
}

/// `GET /api/zhongshu_plan`.
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    pub session_id: String,
    pub session: Option<SessionView>,
    pub plan: PlanBody,
}

impl Redact for PlanView {
    /// What an agent's token may see of it (`SessionView::hide_from_agents`).
    fn hide_from_agents(&mut self) {
        if let Some(s) = &mut self.session {
            s.hide_from_agents();
        }
    }
}

impl Redact for AssignmentsView {
    /// Its started sessions as the caller may see them.
    fn hide_from_agents(&mut self) {
        self.started
            .iter_mut()
            .for_each(SessionView::hide_from_agents);
    }
}

impl Redact for ContextView {
    /// What an agent's token may see of it: its sessions without
    /// transcripts or terminal URLs (`SessionView::hide_from_agents`).
    fn hide_from_agents(&mut self) {
        for c in [&mut self.flat, &mut self.context] {
            c.session.hide_from_agents();
            c.children
                .iter_mut()
                .for_each(SessionView::hide_from_agents);
        }
    }
}

/// The answer to `start_assignments` and `confirm_plan`.
#[derive(Debug, Clone, Serialize)]
pub struct AssignmentsView {
    pub plan: Plan,
    pub started: Vec<SessionView>,
    pub queued_count: usize,
    pub queued: Vec<QueueItem>,
    pub active: usize,
    pub active_department_sessions: usize,
    pub active_zhongshu_sessions: usize,
}

/// `GET /api/zhongshu_sessions`: each with its children, queue and report
/// count (`report_counts`, per Zhongshu).
pub fn zhongshu_sessions(
    snap: &Snapshot,
    report_counts: &HashMap<String, usize>,
) -> ZhongshuSessionsView {
    let state = &snap.state;
    let list: Vec<ZhongshuEntry> = state
        .sessions
        .values()
        .rev()
        .filter(|s| s.is_zhongshu() && !s.launching())
        .map(|z| {
            let children: Vec<SessionView> =
                state.children_of(&z.id).map(|c| session(snap, c)).collect();
            ZhongshuEntry {
                session: session(snap, z),
                child_departments: children.clone(),
                children,
                queued_departments: snap.state.queued_of(&z.id).cloned().collect(),
                report_count: report_counts.get(&z.id).copied().unwrap_or(0),
            }
        })
        .collect();
    let (active_zhongshu, active_departments) = active_counts(state);
    ZhongshuSessionsView {
        ok: true,
        sessions: list.clone(),
        zhongshu_sessions: list,
        active_zhongshu_sessions: active_zhongshu,
        active_department_sessions: active_departments,
        max_department_sessions: snap.config.launcher.max_departments,
        queue: state.queue.clone(),
    }
}

/// `GET /api/zhongshu_context` of Zhongshu `id` with its `recent` results;
/// None when there is no such session.
pub fn context(snap: &Snapshot, id: &str, recent: Vec<TaskResult>) -> Option<ContextView> {
    let state = &snap.state;
    let z = state.sessions.get(id)?;
    let context = ZhongshuContext {
        session: session(snap, z),
        task: z.task.clone(),
        plan: state.plans.get(id).cloned(),
        reports: recent.clone(),
        recent_results: recent,
        children: state.children_of(id).map(|c| session(snap, c)).collect(),
    };
    Some(ContextView {
        flat: context.clone(),
        context,
    })
}

/// `GET /api/zhongshu_plan`: the plan with the Python tool's fields beside
/// ours (`ready` false and empty defaults until one is registered).
pub fn plan(snap: &Snapshot, id: &str) -> PlanView {
    PlanView {
        session_id: id.to_string(),
        session: by_id(snap, id),
        plan: body(snap, id),
    }
}

/// Zhongshu `id`'s plan and the counts beside it: [`plan`] without the
/// Zhongshu's session (the state alone, no live facts).
pub fn body(snap: &Snapshot, id: &str) -> PlanBody {
    let l = &snap.config.launcher;
    let (active_zhongshu, active_departments) = active_counts(&snap.state);
    let registered = snap.state.plans.get(id);
    PlanBody {
        plan: match registered {
            Some(p) => {
                // True while the plan waits for the user; the request
                // itself stays in `requested_confirmation`.
                let mut shown = p.clone();
                shown.needs_confirmation = p.status == PlanStatus::AwaitingConfirmation;
                PlanOrEmpty::Registered(Box::new(shown))
            }
            None => PlanOrEmpty::Empty {
                session_id: id.to_string(),
                summary: String::new(),
                needs_confirmation: false,
                assignments: Vec::new(),
            },
        },
        ready: registered.is_some(),
        reported_at: registered.map(|p| p.registered_at.clone()),
        source: registered.map(|_| "api"),
        requested_confirmation: registered.map(|p| p.needs_confirmation),
        auto_dispatch: registered.map(|p| AutoDispatch::of(p, active_departments)),
        active_department_sessions: active_departments,
        max_department_sessions: l.max_departments,
        max_terminals: l.max_departments,
        active_terminals: active_departments,
        active_zhongshu_sessions: active_zhongshu,
        model_choices: l.models.clone(),
    }
}

/// The Python tool's answer to `start_assignments`, beside our plan.
pub fn assignments(snap: &Snapshot, plan: &Plan) -> AssignmentsView {
    let started = plan
        .assignments
        .iter()
        .filter(|a| a.status == AssignmentStatus::Started)
        .filter_map(|a| a.session_id.as_deref())
        .filter_map(|id| by_id(snap, id))
        .collect();
    let queued: Vec<QueueItem> = snap.state.queued_of(&plan.session_id).cloned().collect();
    let (zhongshu, departments) = active_counts(&snap.state);
    AssignmentsView {
        plan: plan.clone(),
        started,
        queued_count: queued.len(),
        queued,
        active: departments,
        active_department_sessions: departments,
        active_zhongshu_sessions: zhongshu,
    }
}
