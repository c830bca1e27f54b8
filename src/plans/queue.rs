//! Plans, assignments and the department queue (SPEC 7).
//!
//! A plan's selected assignments go into one persisted FIFO queue; the queue is
//! pumped when a slot frees (a department reported, exited or was closed), never
//! by a read. A start that fails keeps its item with the error.

use std::sync::Arc;

pub(crate) use super::queue_records::mark_assignment;
use super::queue_records::{assign_queue_ids, audit_queued, failed, queue_item, started};
use crate::clock;
use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::model::plan;
use crate::model::{Assignment, AuditEvent, Plan, PlanStatus, QueueItem, QueueStatus, SessionKind};
use crate::policy::queue::{self as rules, Room};
use crate::quota;
use crate::sessions::{Sessions, StartSpec};
use crate::signals::{Signal, SignalTx};
use plan::enqueue_selected;

pub use super::plan_input::{first_named, PlanBody, PlanInput};
pub use crate::policy::plan::AssignmentInput;

/// What `start_department` did.
pub enum Dispatch {
    /// The id of the session that started.
    Started(String),
    Queued(Box<QueueItem>),
}

/// Plans, assignments and the queue: which departments start, and when.
pub struct Dispatcher {
    pub(super) ctx: Arc<Context>,
    pub(super) sessions: Arc<Sessions>,
    /// Serializes queue pumps so two releases never over-start.
    pub(super) pump_lock: tokio::sync::Mutex<()>,
    /// Tells the launcher when a plan finished.
    signals: SignalTx,
}

impl Dispatcher {
    pub fn new(ctx: Arc<Context>, sessions: Arc<Sessions>, signals: SignalTx) -> Dispatcher {
        Dispatcher {
            ctx,
            sessions,
            pump_lock: tokio::sync::Mutex::new(()),
            signals,
        }
    }

    /// Checks an assignment against the configured departments and models.
    fn validate_assignment(&self, index: usize, a: &AssignmentInput) -> LResult<Assignment> {
        let c = &self.ctx.config;
        let all = c.assignable_departments();
        let titles = all
            .iter()
            .map(|d| (d.key.clone(), (d.title.clone(), d.duty.clone())))
            .collect();
        let placements = all
            .iter()
            .filter_map(|d| Some((d.key.clone(), d.remote.clone()?)))
            .collect();
        let departments = all.into_iter().map(|d| d.key).collect();
        let rules = crate::policy::plan::Rules {
            departments,
            titles,
            models: c.launcher.models.clone(),
            default_model: c.launcher.department_model.clone(),
            hosts: c.launcher.remotes.iter().map(|r| r.name.clone()).collect(),
            placements,
            runs_elsewhere: self
                .sessions
                .backend_for(Some(a.department.trim()))
                .capabilities()
                .runs_elsewhere,
            state_folder: self
                .ctx
                .paths
                .state_dir
                .strip_prefix(&self.ctx.repo)
                .ok()
                .and_then(|p| p.to_str())
                .map(|p| p.replace('\\', "/")),
        };
        let mut checked = crate::policy::plan::validate_assignment(&rules, index, a)?;
        let globs = c
            .department(&checked.department)
            .map(|d| d.globs)
            .unwrap_or_default();
        let block = c.launcher.isolation.scope == crate::config::ScopeMode::Block;
        checked.scope_note =
            crate::policy::plan::scope_note(&checked.department, &checked.files, &globs, block);
        Ok(checked)
    }

    /// A plan's assignments checked; one asking for several attempts (or
    /// whose department asks by default) becomes one assignment per
    /// attempt (issue 74), each naming its group and agent.
    /// `first_group` numbers the groups (past an earlier plan's); `as_laid`:
    /// the user's edited plan, whose attempts come back as they were laid out
    /// (a planner's `attempt` is ignored: only `attempts` asks for them).
    fn checked_assignments(
        &self,
        raw: &[AssignmentInput],
        first_group: usize,
        as_laid: bool,
    ) -> LResult<Vec<Assignment>> {
        let agents = self.named_agents();
        let mut out = Vec::new();
        for (i, a) in raw.iter().enumerate() {
            let mut checked = self.validate_assignment(i, a)?;
            if !as_laid {
                checked.attempt = None;
            }
            if let Some(t) = &checked.attempt {
                let known = t.agent.as_deref().is_none_or(|k| {
                    k == crate::policy::attempts::LAUNCHERS_AGENT
                        || agents.iter().any(|n| n.key.as_deref() == Some(k))
                });
                if !known {
                    return Err(crate::policy::Refusal::Invalid(format!(
                        "assignment {}: its attempt names no agent of this launcher",
                        i + 1
                    ))
                    .into());
                }
            }
            if checked.attempt.is_some() && a.attempts.is_none() {
                out.push(checked);
                continue;
            }
            let default = self
                .ctx
                .config
                .department(&checked.department)
                .and_then(|d| d.attempts);
            let each = crate::policy::attempts::lay_out(
                a.attempts.as_ref(),
                default.as_ref(),
                &checked.department,
                &agents,
            )
            .map_err(|r| {
                crate::policy::Refusal::Invalid(format!(
                    "assignment {} ({:?}): {r}",
                    i + 1,
                    checked.department
                ))
            })?;
            if each.is_empty() {
                out.push(checked);
                continue;
            }
            for attempt in crate::policy::attempts::attempts_of(first_group + i, &each) {
                if let (Some(host), Some(agent)) = (&checked.remote, &attempt.agent) {
                    if !self
                        .sessions
                        .backend_for(Some(agent))
                        .capabilities()
                        .runs_elsewhere
                    {
                        return Err(crate::policy::Refusal::Invalid(format!(
                            "assignment {} ({:?}): attempt {} works on {host}, and the agent it \
                             borrows runs its commands on this machine only",
                            i + 1,
                            checked.department,
                            attempt.n
                        ))
                        .into());
                    }
                }
                let mut one = checked.clone();
                one.attempt = Some(attempt);
                out.push(one);
            }
        }
        Ok(out)
    }

    /// *Try again with…* (issue 74): one more attempt at `id`'s assignment,
    /// from the plan's same base and task (with the user's `note`), by
    /// `agent` (a word an attempt may name; None: its department's own),
    /// queued as any assignment. Refused once the group was chosen.
    pub async fn another_attempt(
        self: &Arc<Self>,
        id: &str,
        agent: Option<&str>,
        note: Option<&str>,
    ) -> LResult<QueueItem> {
        use crate::policy::attempts;
        let s = self.sessions.require_session(id)?;
        let Some((parent, attempt)) = attempts::attempt_of(&s) else {
            return Err(crate::policy::Refusal::Invalid(format!(
                "{id} is not one of several attempts"
            ))
            .into());
        };
        let (parent, group) = (parent.to_string(), attempt.group);
        let department = s.department.clone().unwrap_or_default();
        let borrowed = match agent.map(str::trim).filter(|a| !a.is_empty()) {
            Some(word) => attempts::agent_key(word, &department, &self.named_agents())?,
            None => None,
        };
        let note = note
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| crate::text::head(n, 2000).to_string());
        let asked = NewAttempt {
            id,
            parent: &parent,
            group,
            agent: borrowed,
            note,
        };
        let item = self.ctx.store.update(|tx| add_attempt(tx, &asked))??;
        self.pump_queue().await;
        item.ok_or_else(|| LauncherError::Internal("the new attempt was not queued".into()))
    }

    /// The agents an attempt may name: the launcher's own, and each
    /// department's (its own where it has one).
    fn named_agents(&self) -> Vec<crate::policy::attempts::NamedAgent> {
        named_agents(&self.ctx.config)
    }

    /// `POST /api/report_zhongshu_plan` (and the `governance_register_plan` tool,
    /// whose receipt is recorded with the plan).
    pub async fn register_plan(
        self: &Arc<Self>,
        input: PlanInput,
        receipt: Option<crate::model::ToolReceipt>,
    ) -> LResult<Plan> {
        self.sessions.require_zhongshu(&input.session_id)?;
        let session_id = input.session_id.clone();
        let body = input.body();
        let summary = body.summary.unwrap_or_default();
        let raw = body.assignments.unwrap_or_default();
        let asked = body.needs_confirmation.unwrap_or(false);
        let first_group = self
            .ctx
            .store
            .read(|st| plan::first_free_group(st.plans.get(&session_id)));
        let assignments = self.checked_assignments(&raw, first_group, false)?;
        let needs_confirmation = rules::needs_confirmation(
            asked,
            self.ctx.config.launcher.require_plan_confirmation,
            assignments.len(),
        );
        let status = rules::plan_status(assignments.len(), needs_confirmation);
        let base = crate::worktrees::plan_base(&self.ctx.repo, &assignments).await;
        let mut plan = Plan {
            session_id: session_id.clone(),
            revision: 0,
            summary,
            assignments,
            needs_confirmation,
            status,
            registered_at: clock::now_rfc3339(),
            confirmed_at: None,
            base,
            finished_at: None,
            budget_usd: None,
            budget_tokens: None,
            budget_reached: None,
            outcome: None,
            attempt_choices: Default::default(),
        };
        let queued = if needs_confirmation {
            Vec::new()
        } else {
            enqueue_selected(&mut plan)
        };
        let sid = session_id;
        let stored = plan.clone();
        let count = plan.assignments.len();
        self.ctx.store.update(|tx| {
            tx.insert_plan(plan::revised(stored, tx.plan(&sid)));
            if let Some(z) = tx.session_mut(&sid) {
                if let Some(receipt) = receipt {
                    z.agent.record_tool_call(receipt);
                }
                if let Some(z) = z.zhongshu_mut() {
                    z.plan_status = Some(status);
                }
            }
            tx.audit(AuditEvent::ZhongshuPlanRegistered {
                session_id: sid.clone(),
                assignments: count,
                needs_confirmation,
                status,
            });
            assign_queue_ids(tx, &sid, queued);
        })?;
        self.pump_queue().await;
        Ok(self
            .ctx
            .store
            .read(|s| s.plans.get(&sid).cloned())
            .unwrap_or(plan))
    }

    /// `POST /api/start_assignments`: confirm a plan, optionally with edited
    /// assignments. `seen` is the revision the user confirmed: 409 if the plan
    /// was registered again since.
    pub async fn start_assignments(
        self: &Arc<Self>,
        parent: &str,
        edited: Option<Vec<AssignmentInput>>,
        seen: Option<u64>,
        nonce: Option<String>,
    ) -> LResult<Plan> {
        self.sessions.require_zhongshu(parent)?;
        let existing = self.ctx.store.read(|s| s.plans.get(parent).cloned());
        // Without a revision from the user, the plan read here must still be there.
        let expected = seen.or(existing.as_ref().map(|p| p.revision));
        let mut plan = match (existing, edited) {
            (_, Some(list)) => {
                let old = self.ctx.store.read(|s| s.plans.get(parent).cloned());
                let first_group = plan::first_free_group(old.as_ref());
                let assignments = self.checked_assignments(&list, first_group, true)?;
                let old_budget = old
                    .as_ref()
                    .map_or((None, None), |p| (p.budget_usd, p.budget_tokens));
                Plan {
                    session_id: parent.to_string(),
                    revision: old.as_ref().map_or(0, |p| p.revision),
                    summary: old.as_ref().map(|p| p.summary.clone()).unwrap_or_default(),
                    assignments,
                    needs_confirmation: true,
                    status: PlanStatus::Dispatched,
                    confirmed_at: None,
                    base: old.as_ref().and_then(|p| p.base.clone()),
                    registered_at: old
                        .as_ref()
                        .map(|p| p.registered_at.clone())
                        .unwrap_or_else(clock::now_rfc3339),
                    finished_at: None,
                    budget_usd: old_budget.0,
                    budget_tokens: old_budget.1,
                    budget_reached: None,
                    outcome: None,
                    attempt_choices: old
                        .as_ref()
                        .map(|p| p.attempt_choices.clone())
                        .unwrap_or_default(),
                }
            }
            (Some(p), None) => p,
            (None, None) => {
                return Err(LauncherError::NotFound(format!(
                    "{parent} has no plan to start"
                )))
            }
        };
        plan.confirmed_at = Some(clock::now_rfc3339());
        plan.status = PlanStatus::Dispatched;
        plan::skip_unselected(&mut plan);
        let queued = enqueue_selected(&mut plan);
        let pid = parent.to_string();
        self.ctx.store.update(|tx| {
            rules::confirmable(&pid, tx.plan(&pid), expected)?;
            tx.insert_plan(plan.clone());
            if let Some(z) = tx.session_mut(&pid).and_then(|z| z.zhongshu_mut()) {
                z.plan_status = Some(PlanStatus::Dispatched);
            }
            tx.audit(AuditEvent::PlanConfirmed {
                session_id: pid.clone(),
                revision: plan.revision,
                queued: queued.len(),
                nonce: nonce.clone(),
            });
            assign_queue_ids(tx, &pid, queued);
            Ok::<_, crate::policy::Refusal>(())
        })??;
        self.pump_queue().await;
        Ok(self
            .ctx
            .store
            .read(|s| s.plans.get(parent).cloned())
            .unwrap_or(plan))
    }

    /// `POST /api/start_department`: one department started by hand, as the
    /// Python tool did: under the named Zhongshu (else the newest running
    /// one), refused while every department slot is taken, and otherwise put
    /// at the head of the queue and started. (Plans queue: only a start by
    /// hand is refused, so a Python dashboard can say why.)
    pub async fn start_department(
        self: &Arc<Self>,
        input: AssignmentInput,
        parent: Option<String>,
    ) -> LResult<Dispatch> {
        let parent = match parent.filter(|p| !p.is_empty()) {
            Some(p) => {
                self.sessions.require_zhongshu(&p)?;
                p
            }
            None => self
                .ctx
                .store
                .read(|s| s.newest_running_zhongshu().map(|z| z.id.clone()))
                .ok_or_else(|| {
                    LauncherError::BadRequest(
                        "parent_session_id is required because no Zhongshu session is running"
                            .into(),
                    )
                })?,
        };
        let room = self
            .ctx
            .store
            .read(|s| quota::room(s, &self.ctx.config.launcher));
        rules::may_start_by_hand(&room)?;
        let a = self.validate_assignment(0, &input)?;
        let pid = parent;
        let item = self.ctx.store.update(|tx| {
            let id = tx.next_id("q");
            let item = queue_item(id, Some(pid), &a, None);
            tx.queue_mut().insert(0, item.clone());
            audit_queued(tx, &item);
            item
        })?;
        self.pump_queue().await;
        let started = self.ctx.store.read(|s| {
            s.sessions
                .values()
                .find(|x| {
                    x.department_part().and_then(|d| d.queue_id.as_deref())
                        == Some(item.id.as_str())
                })
                .map(|x| x.id.clone())
        });
        let still_queued = self
            .ctx
            .store
            .read(|s| s.queue.iter().find(|q| q.id == item.id).cloned());
        match (still_queued, started) {
            (Some(q), _) => Ok(Dispatch::Queued(Box::new(q))),
            (None, Some(id)) => Ok(Dispatch::Started(id)),
            (None, None) => Ok(Dispatch::Queued(Box::new(item))),
        }
    }

    /// Starts queued items while slots are free. Failed items stay, marked
    /// failed; items of a planner the developer closed are dropped, never
    /// started. Then plans whose assignments all ended are marked finished.
    pub async fn pump_queue(self: &Arc<Self>) {
        self.pump_starts().await;
        for id in super::settle::settle_plans(&self.ctx) {
            if self.signals.send(Signal::PlanFinished(id)).is_err() {
                tracing::warn!("a plan finished while the launcher stops");
            }
        }
    }

    async fn pump_starts(self: &Arc<Self>) {
        let _guard = self.pump_lock.lock().await;
        loop {
            let mut told = Vec::new();
            // Each host's readiness as its last pre-flight found it (issue 53).
            let unready: std::collections::HashMap<String, Option<String>> = self
                .sessions
                .placement
                .hosts
                .all()
                .into_iter()
                .map(|h| {
                    let why = (h.state != crate::model::RemoteState::Ready).then_some(h.detail);
                    (h.name, why)
                })
                .collect();
            let next = self
                .ctx
                .store
                .update(|tx| take_next(tx, &self.ctx.config, &unready, &mut told));
            for (zhongshu_id, text) in told {
                if self
                    .signals
                    .send(Signal::Tell { zhongshu_id, text })
                    .is_err()
                {
                    tracing::warn!("the queue's news while the launcher stops");
                }
            }
            let item = match next {
                Ok(Some(item)) => item,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!("queue: {e}");
                    return;
                }
            };
            let spec = StartSpec {
                kind: SessionKind::Department,
                task: item.task.clone(),
                model: Some(item.model.clone()),
                department: Some(item.department.clone()),
                parent_session_id: item.parent_session_id.clone(),
                files: item.files.clone(),
                verify: item.verify.clone(),
                prompt_override: None,
                resumed_from_session_id: None,
                queue_id: Some(item.id.clone()),
                workspace_from: item.workspace_from.clone(),
                continues: None,
                remote: item.remote.clone(),
                attempt: item.attempt.clone(),
                reviews: None,
            };
            let outcome = match self.sessions.start_session(spec).await {
                Ok(session) => self.ctx.store.record(|tx| started(tx, &item, &session.id)),
                // Its host cannot take it now (its container could not be
                // made): it waits for the host, as for one not ready.
                Err(LauncherError::Unavailable(why)) if item.remote.is_some() => self
                    .ctx
                    .store
                    .record(|tx| super::queue_records::waits_again(tx, &item, &why)),
                Err(e) => self
                    .ctx
                    .store
                    .record(|tx| failed(tx, &item, &e.to_string())),
            };
            if let Err(e) = outcome {
                tracing::error!("queue: {e}");
            }
        }
    }
}

/// Marks each queued item that waits for its host with why (and clears
/// the mark of one that no longer does), so the page can say so.
fn note_host_waits(tx: &mut crate::store::Tx, room: &Room) {
    let waits: Vec<Option<String>> = tx
        .queue()
        .iter()
        .map(|q| {
            (q.status == QueueStatus::Queued)
                .then(|| crate::policy::queue::waits_for_host(q, room))
                .flatten()
        })
        .collect();
    let changed = tx.queue().iter().zip(&waits).any(|(q, w)| &q.waiting != w);
    if changed {
        for (q, w) in tx.queue_mut().iter_mut().zip(waits) {
            q.waiting = w;
        }
    }
}

/// The agents this launcher runs, by the words an attempt (or a reviewer)
/// names them with.
pub fn named_agents(c: &crate::config::Config) -> Vec<crate::policy::attempts::NamedAgent> {
    let words = |s: &crate::agents::BackendSettings| {
        s.attempt_word()
            .map(str::to_string)
            .into_iter()
            .collect::<Vec<_>>()
    };
    let mut agents = vec![crate::policy::attempts::NamedAgent {
        key: None,
        words: words(&c.launcher.agent.backend),
        own: false,
    }];
    for d in c.assignable_departments() {
        let own = c.launcher.agent.departments.get(&d.key);
        let mut named = vec![d.key.clone()];
        named.extend(own.map(words).unwrap_or_default());
        agents.push(crate::policy::attempts::NamedAgent {
            key: Some(d.key),
            words: named,
            own: own.is_some(),
        });
    }
    agents
}

/// One more attempt asked of session `id`'s task.
struct NewAttempt<'a> {
    id: &'a str,
    parent: &'a str,
    group: usize,
    agent: Option<String>,
    note: Option<String>,
}

/// Adds the attempt to its plan and the queue, each of its group told it
/// is one of one more; the queue's item, or why not.
fn add_attempt(
    tx: &mut crate::store::Tx,
    asked: &NewAttempt<'_>,
) -> Result<Option<QueueItem>, crate::policy::Refusal> {
    use crate::policy::attempts;
    let NewAttempt {
        id, parent, group, ..
    } = *asked;
    if let Some(chosen) = tx
        .state()
        .sessions
        .get(id)
        .and_then(|s| attempts::chosen_of(tx.state(), s).map(str::to_string))
    {
        return Err(crate::policy::Refusal::Conflict(format!(
            "{chosen} was chosen among these attempts: no more start"
        )));
    }
    let plan = tx
        .plan_mut(parent)
        .ok_or_else(|| crate::policy::Refusal::Unknown(format!("{parent} has no plan")))?;
    let group_of = |a: &Assignment| a.attempt.as_ref().filter(|t| t.group == group).cloned();
    let n = plan
        .assignments
        .iter()
        .filter_map(group_of)
        .map(|t| t.n)
        .max()
        .unwrap_or(0)
        + 1;
    if n > attempts::MAX_ATTEMPTS {
        return Err(crate::policy::Refusal::TooMany(format!(
            "{} attempts at this task already: at most {}",
            n - 1,
            attempts::MAX_ATTEMPTS
        )));
    }
    let Some(template) = plan
        .assignments
        .iter()
        .find(|a| group_of(a).is_some())
        .cloned()
    else {
        return Err(crate::policy::Refusal::Unknown(format!(
            "the plan of {parent} holds no attempt of {id}'s task"
        )));
    };
    for a in plan.assignments.iter_mut() {
        if let Some(t) = a.attempt.as_mut().filter(|t| t.group == group) {
            t.of = n;
        }
    }
    let mut one = template;
    one.attempt = Some(crate::model::Attempt {
        group,
        n,
        of: n,
        agent: asked.agent.clone(),
    });
    if let Some(note) = &asked.note {
        one.task = format!("{}\n\n[Another attempt; the user's note] {note}", one.task);
    }
    one.status = crate::model::AssignmentStatus::Queued;
    one.session_id = None;
    one.queue_id = None;
    one.error = None;
    one.earlier_sessions = Vec::new();
    one.sent_back = 0;
    one.review_comments = 0;
    plan.assignments.push(one.clone());
    let index = plan.assignments.len() - 1;
    assign_queue_ids(tx, parent, vec![(index, one)]);
    one_more_for_each(tx, parent, group, n);
    Ok(tx.state().queue.last().cloned())
}

/// Each started attempt of `parent`'s `group` is now one of `n`.
fn one_more_for_each(tx: &mut crate::store::Tx, parent: &str, group: usize, n: usize) {
    use crate::policy::attempts;
    let ids: Vec<String> = tx
        .state()
        .sessions
        .values()
        .filter(|x| attempts::attempt_of(x).is_some_and(|(p, a)| p == parent && a.group == group))
        .map(|x| x.id.clone())
        .collect();
    for x in ids {
        if let Some(a) = tx
            .session_mut(&x)
            .and_then(|s| s.department_mut())
            .and_then(|d| d.attempt.as_mut())
        {
            a.of = n;
        }
    }
}

/// In the queue's change: the hold and the budgets settled (what to tell
/// each planner of them into `told`), the room there is here and on each
/// host, and the next item that may start marked starting.
fn take_next(
    tx: &mut crate::store::Tx,
    config: &crate::config::Config,
    unready: &std::collections::HashMap<String, Option<String>>,
    told: &mut Vec<(String, String)>,
) -> Option<QueueItem> {
    let launcher = &config.launcher;
    super::queue_records::drop_orphaned(tx);
    let hold = quota::settle_hold(tx, launcher.quota_reserve_percent);
    let mut room = quota::room(tx.state(), launcher);
    // The hold keeps waiting only the departments that draw on
    // the Codex account; another agent's start as before.
    if let Some(h) = &hold {
        let text = format!(
            "work is held: your queued departments that run Codex do not start \
             while {} (the user can start them anyway)",
            h.text
        );
        *told = quota::untold_waiting(tx, &room.account)
            .into_iter()
            .map(|z| (z, text.clone()))
            .collect();
    }
    let over = quota::budget_stops(tx, launcher);
    for (zhongshu, text) in &over.newly {
        told.push((zhongshu.clone(), format!("your plan {text}: no more of its departments start until the user raises its budget")));
    }
    room.max_departments = launcher.max_departments;
    room.hold = hold;
    room.over_budget = over.plans;
    for (name, host) in room.hosts.iter_mut() {
        host.unready = unready
            .get(name)
            .cloned()
            .unwrap_or_else(|| Some(format!("{name} has not been checked yet")));
    }
    room.labelled = config
        .departments
        .iter()
        .filter(|d| !d.labels.is_empty())
        .map(|d| (d.key.clone(), d.labels.clone()))
        .collect();
    note_host_waits(tx, &room);
    let i = crate::policy::queue::next_start(tx.queue(), &room).ok()?;
    let chosen = crate::policy::queue::labelled_host(&tx.queue()[i], &room).ok()?;
    let item = &mut tx.queue_mut()[i];
    if chosen.is_some() {
        item.remote = chosen;
    }
    item.status = QueueStatus::Starting;
    item.attempts += 1;
    Some(item.clone())
}
