//! What the API shows of the whole launcher: the status (cached), the status an
//! agent may see, Zhongshu sessions with their departments, and a Zhongshu's
//! context for a restart.

use std::collections::HashMap;

use super::status_cache::{CachedStatus, OUTPUT_STALENESS};
use super::view_types::*;
use super::{LResult, Launcher, LauncherError};
use crate::credentials::Grant;
use crate::model::{QueueItem, Session, SessionKind, State, TerminalStatus};
use crate::sessions::view::SessionView;

pub const API_VERSION: u32 = 8;

impl Launcher {
    /// `GET /api/status` as JSON bytes, from the cache when nothing relevant changed.
    pub fn status_bytes(&self) -> bytes::Bytes {
        let output: u64 = self
            .sessions
            .live
            .live_ptys()
            .iter()
            .map(|(_, p)| p.total_output_bytes())
            .sum();
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let key = [
            self.ctx.store.version(),
            self.ctx.store.audit_log().last_seq(),
            second,
        ];
        let mut entry = self.status_cache.entry.lock().unwrap();
        if let Some(c) = entry.as_ref() {
            if c.key == key && (c.output == output || c.built.elapsed() < OUTPUT_STALENESS) {
                return c.body.clone();
            }
        }
        let body = bytes::Bytes::from(serde_json::to_vec(&self.status_view()).unwrap_or_default());
        *entry = Some(CachedStatus {
            key,
            output,
            built: std::time::Instant::now(),
            body: body.clone(),
        });
        body
    }

    /// `GET /api/status`.
    pub fn status_view(&self) -> StatusView {
        self.status_view_of(|_| true)
    }

    /// The status with the sessions `shown` keeps (the counts stay the launcher's).
    fn status_view_of(&self, shown: impl Fn(&Session) -> bool) -> StatusView {
        let state = self.ctx.store.read(State::clone);
        let unread = self.unread_counts();
        let l = &self.ctx.config.launcher;
        let sessions: Vec<SessionView> = state
            .sessions
            .values()
            .rev()
            .filter(|s| shown(s) && !s.launching())
            .map(|s| crate::sessions::view::session_view(&self.sessions, &state, &unread, s))
            .collect();
        let pick = |kind: SessionKind| -> Vec<SessionView> {
            sessions
                .iter()
                .filter(|s| s.session.session_kind() == kind)
                .cloned()
                .collect()
        };
        let (active_zhongshu, active_departments) = active_counts(&state);
        let department_list = self.ctx.config.assignable_departments();
        let departments = department_list
            .iter()
            .map(|d| (d.key.clone(), (d.title.clone(), d.duty.clone())))
            .collect();
        StatusView {
            ok: true,
            api_version: API_VERSION,
            repo: self.ctx.repo.display().to_string(),
            project_name: l.project_name.clone(),
            workflow_doc: l.workflow_doc.clone(),
            departments,
            department_list,
            active_zhongshu_sessions: active_zhongshu,
            active_department_sessions: active_departments,
            active_terminals: active_departments,
            active_sessions_total: active_departments + active_zhongshu,
            queued_count: state.queue.len(),
            max_department_sessions: l.max_departments,
            max_terminals: l.max_departments,
            department_queue: state.queue.clone(),
            ttyd: Ttyd {
                enabled: false,
                available: false,
                port: 0,
                builtin_terminals: true,
            },
            model_choices: l.models.clone(),
            zhongshu_model: l.zhongshu_model.clone(),
            department_model: l.department_model.clone(),
            require_plan_confirmation: l.require_plan_confirmation,
            terminal_shells: l.terminal_shells.clone(),
            queue: state.queue.clone(),
            browser_terminals: Some(self.listed_terminals(&state)),
            zhongshu_sessions: pick(SessionKind::Zhongshu),
            department_sessions: pick(SessionKind::Department),
            sessions,
            audit_seq: self.ctx.store.audit_log().last_seq(),
            audit_chain_problem: self.audit_chain_problem().map(str::to_string),
            mailbox_ingestion: self.mailbox.ingestion_health().view(),
            agents: self.agents_view(),
            quota: crate::quota::quota_view(&state, l),
            config_trust: self.sessions.trust.request(),
            config_warnings: self.config_warnings(),
            config_file: ConfigFileView {
                path: self
                    .ctx
                    .config
                    .source
                    .as_ref()
                    .map(|p| p.display().to_string()),
                shadowed: self
                    .ctx
                    .config
                    .shadowed
                    .as_ref()
                    .map(|p| p.display().to_string()),
                note: self.ctx.config.shadow_note(),
            },
        }
    }

    /// The configuration's warnings, each naming its file from the
    /// repository's root.
    fn config_warnings(&self) -> Vec<String> {
        let root = format!("{}{}", self.ctx.repo.display(), std::path::MAIN_SEPARATOR);
        self.ctx
            .config
            .warnings
            .iter()
            .map(|w| w.strip_prefix(&root).unwrap_or(w).to_string())
            .collect()
    }

    /// Whether the agents are `codex-governance demo`'s scripted fake agent.
    fn is_demo(&self) -> bool {
        let command = &self.ctx.config.launcher.agent_command;
        let program = command.first().map(std::path::Path::new);
        program
            .and_then(|p| p.file_stem())
            .is_some_and(|n| n.to_string_lossy() == "fake-agent")
            && command.iter().any(|a| a == "--demo")
    }

    /// `GET /api/status` for an agent's token: only its own group (its Zhongshu,
    /// that Zhongshu's departments and queue), without transcripts, terminal
    /// URLs (each carries a token that reaches a PTY) or the terminal list. The
    /// slot counts stay the launcher's: they say when a department can start.
    /// How agents run and what they reach (the dashboard says it plainly).
    pub fn agents_view(&self) -> AgentsView {
        let backend = self.sessions.backend().kind();
        let network = self.ctx.config.launcher.agent.agent_network;
        let sandboxed = self.sessions.backend().capabilities().sandboxed;
        let reach = match (sandboxed, network) {
            (true, false) => {
                "Codex agents run in Codex's sandbox: they write only the repository \
                (their own mailbox folder aside), cannot see the launcher's state folder, have no \
                network and no key, and reach the launcher only through their governance tools."
            }
            (true, true) => {
                "Codex agents run in Codex's sandbox with the network ON \
                (launcher.agent_network): they write only the repository and cannot see the \
                launcher's state folder, but they can reach any address, loopback included."
            }
            (false, _) => {
                "PTY agents run unsandboxed, as you: they can read and change every file \
                you can (the launcher's state folder and its token included), use the network, and \
                start any program. Use them only with agents you trust."
            }
        };
        AgentsView {
            backend,
            sandboxed,
            network,
            reach: reach.split_whitespace().collect::<Vec<_>>().join(" "),
            problems: self.backend_problems(),
            // The demo's scripted agent runs unsandboxed, in its terminal.
            demo: !sandboxed && self.is_demo(),
        }
    }

    pub fn status_for_agent(&self, grant: &Grant) -> StatusView {
        let group = match grant.kind {
            SessionKind::Zhongshu => Some(grant.session_id.as_str()),
            SessionKind::Department => grant.parent_session_id.as_deref(),
        };
        let in_group = |id: Option<&str>| id.is_some() && id == group;
        let mut v = self.status_view_of(|s| {
            s.id == grant.session_id
                || in_group(Some(&s.id))
                || in_group(
                    s.department_part()
                        .and_then(|d| d.parent_session_id.as_deref()),
                )
        });
        v.browser_terminals = None;
        for list in [
            &mut v.sessions,
            &mut v.zhongshu_sessions,
            &mut v.department_sessions,
        ] {
            list.iter_mut().for_each(SessionView::hide_from_agents);
        }
        for queue in [&mut v.queue, &mut v.department_queue] {
            queue.retain(|q| in_group(q.parent_session_id.as_deref()));
        }
        v.queued_count = v.queue.len();
        v
    }

    /// `GET /api/zhongshu_sessions`: each with its children and unread count.
    pub fn zhongshu_sessions_view(&self) -> ZhongshuSessionsView {
        let state = self.ctx.store.read(State::clone);
        let unread = self.unread_counts();
        let list: Vec<ZhongshuEntry> = state
            .sessions
            .values()
            .rev()
            .filter(|s| s.is_zhongshu() && !s.launching())
            .map(|z| {
                let children: Vec<SessionView> = state
                    .children_of(&z.id)
                    .map(|c| {
                        crate::sessions::view::session_view(&self.sessions, &state, &unread, c)
                    })
                    .collect();
                ZhongshuEntry {
                    session: crate::sessions::view::session_view(
                        &self.sessions,
                        &state,
                        &unread,
                        z,
                    ),
                    child_departments: children.clone(),
                    children,
                    queued_departments: queued_of(&state, &z.id),
                    report_count: self.ctx.store.result_count(&z.id).unwrap_or(0),
                }
            })
            .collect();
        let (active_zhongshu, active_departments) = active_counts(&state);
        ZhongshuSessionsView {
            ok: true,
            sessions: list.clone(),
            zhongshu_sessions: list,
            active_zhongshu_sessions: active_zhongshu,
            active_department_sessions: active_departments,
            max_department_sessions: self.ctx.config.launcher.max_departments,
            queue: state.queue.clone(),
        }
    }

    /// `GET /api/zhongshu_context`: what a restart needs.
    pub fn zhongshu_context_view(&self, id: &str) -> LResult<ContextView> {
        let state = self.ctx.store.read(State::clone);
        let unread = self.unread_counts();
        let z = state
            .sessions
            .get(id)
            .ok_or_else(|| LauncherError::NotFound(format!("no session {id}")))?;
        let children = state
            .children_of(id)
            .map(|c| crate::sessions::view::session_view(&self.sessions, &state, &unread, c))
            .collect();
        let page = self.ctx.store.results_page(id, 20, None)?;
        let context = ZhongshuContext {
            session: crate::sessions::view::session_view(&self.sessions, &state, &unread, z),
            task: z.task.clone(),
            plan: state.plans.get(id).cloned(),
            reports: page.results.clone(),
            recent_results: page.results,
            children,
        };
        Ok(ContextView {
            flat: context.clone(),
            context,
        })
    }

    /// `GET /api/zhongshu_plan`: the plan with the Python tool's fields beside
    /// ours (`ready` false and empty defaults until one is registered).
    pub fn zhongshu_plan_view(&self, id: &str) -> PlanView {
        let state = self.ctx.store.read(State::clone);
        let unread = self.unread_counts();
        let l = &self.ctx.config.launcher;
        let (active_zhongshu, active_departments) = active_counts(&state);
        let registered = state.plans.get(id);
        let auto_dispatch = registered.map(|p| AutoDispatch::of(p, active_departments));
        let plan = PlanBody {
            plan: match registered {
                Some(p) => {
                    // True while the plan waits for the user; the request
                    // itself stays in `requested_confirmation`.
                    let mut shown = p.clone();
                    shown.needs_confirmation =
                        p.status == crate::model::PlanStatus::AwaitingConfirmation;
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
            auto_dispatch,
            active_department_sessions: active_departments,
            max_department_sessions: l.max_departments,
            max_terminals: l.max_departments,
            active_terminals: active_departments,
            active_zhongshu_sessions: active_zhongshu,
            model_choices: l.models.clone(),
        };
        PlanView {
            session_id: id.to_string(),
            session: state
                .sessions
                .get(id)
                .map(|z| crate::sessions::view::session_view(&self.sessions, &state, &unread, z)),
            plan,
        }
    }

    /// The Python tool's answer to a start: the session, its prompt file, pid
    /// and browser terminal, and the counts.
    pub fn started_view(&self, id: &str) -> StartedView {
        let state = self.ctx.store.read(State::clone);
        let session = crate::sessions::view::session_json(&self.sessions, id);
        let terminal = state
            .sessions
            .get(id)
            .and_then(|s| s.browser_terminal_id.as_deref())
            .and_then(|t| state.terminals.get(t))
            .cloned()
            .map(crate::model::TerminalView::from);
        let (zhongshu, departments) = active_counts(&state);
        StartedView {
            session_id: id.to_string(),
            prompt_path: session.as_ref().map(|s| s.session.prompt_path.clone()),
            pid: session.as_ref().and_then(|s| s.session.pid),
            session,
            browser_terminal: terminal,
            active: departments,
            active_zhongshu_sessions: zhongshu,
            active_department_sessions: departments,
            active_sessions_total: zhongshu + departments,
            queued: None,
        }
    }

    /// The Python tool's answer to `start_assignments`, beside our plan.
    pub fn assignments_view(&self, plan: &crate::model::Plan) -> AssignmentsView {
        let state = self.ctx.store.read(State::clone);
        let started = plan
            .assignments
            .iter()
            .filter(|a| a.status == crate::model::AssignmentStatus::Started)
            .filter_map(|a| a.session_id.as_deref())
            .filter_map(|id| crate::sessions::view::session_json(&self.sessions, id))
            .collect();
        let queued = queued_of(&state, &plan.session_id);
        let (zhongshu, departments) = active_counts(&state);
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

    /// The terminals `/api/status` and `/api/browser_terminals` list: the
    /// open ones, and those this launcher opened that ended since (`exited`,
    /// as the Python tool kept them listed).
    pub fn listed_terminals(&self, state: &State) -> Vec<crate::model::TerminalView> {
        let this_run = |started: &str| {
            chrono::DateTime::parse_from_rfc3339(started).is_ok_and(|t| t >= self.run_started)
        };
        state
            .terminals
            .values()
            .filter(|t| t.status != TerminalStatus::Closed || this_run(&t.started_at))
            .cloned()
            .map(crate::model::TerminalView::from)
            .collect()
    }

    /// Unread results per Zhongshu (none shown when the database cannot be read).
    fn unread_counts(&self) -> HashMap<String, usize> {
        self.ctx.store.unread_counts().unwrap_or_else(|e| {
            tracing::error!("unread counts: {e}");
            HashMap::new()
        })
    }
}

/// (running Zhongshu sessions, departments holding a slot).
fn active_counts(state: &State) -> (usize, usize) {
    let zhongshu = state
        .sessions
        .values()
        .filter(|s| s.is_zhongshu() && s.is_running())
        .count();
    let departments = state.sessions.values().filter(|s| s.holds_slot()).count();
    (zhongshu, departments)
}

/// The queue items of one Zhongshu.
fn queued_of(state: &State, parent: &str) -> Vec<QueueItem> {
    state
        .queue
        .iter()
        .filter(|q| q.parent_session_id.as_deref() == Some(parent))
        .cloned()
        .collect()
}
