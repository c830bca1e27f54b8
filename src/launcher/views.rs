//! What the API shows of the launcher: each answer gathers a snapshot
//! (`crate::views::Snapshot`) from the services (the store's tables, what the
//! live agents and terminals say now, the launcher's own facts and the facts
//! `facts` cached) and builds its view with `crate::views`; the status is
//! cached as bytes for the pages that poll it. Nothing here reads git, a
//! file or the database while a status is built.

use std::collections::HashMap;

use bytes::Bytes;

use super::{LResult, Launcher, LauncherError};
use crate::credentials::Grant;
use crate::model::{Plan, Session, SessionKind, State};
use crate::views::cache::CacheKey;
use crate::views::inbox::{InboxView, Read};
use crate::views::plan::{AssignmentsView, ContextView, PlanView, ZhongshuSessionsView};
use crate::views::quota::QuotaView;
use crate::views::session::{SessionView, StartedView};
use crate::views::status::{AgentGroup, StatusView};
use crate::views::terminals::TerminalView;
use crate::views::{BackendFacts, LauncherFacts, Live, Moment, Snapshot};

impl Launcher {
    /// `GET /api/status` as JSON bytes, from the cache when nothing relevant changed.
    pub fn status_bytes(&self) -> Bytes {
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
        let key = CacheKey {
            store: self.ctx.store.version(),
            audit_seq: self.ctx.store.audit_log().last_seq(),
            facts: self.facts.version(),
            second,
        };
        self.status_cache.get_or_build(key, output, || {
            Bytes::from(serde_json::to_vec(&self.status_view()).unwrap_or_default())
        })
    }

    /// `GET /api/status`.
    pub fn status_view(&self) -> StatusView {
        crate::views::status::status(&self.snapshot(|_| true))
    }

    /// `GET /api/status` for a paired phone's token.
    pub fn status_for_phone(&self, phone: &crate::phones::PhoneGrant) -> StatusView {
        crate::views::status::for_phone(
            &self.snapshot(|_| true),
            &phone.label,
            self.notifier.remote_decisions(),
        )
    }

    /// `GET /api/status` for an agent's token: its own group only.
    pub fn status_for_agent(&self, grant: &Grant) -> StatusView {
        let zhongshu = match grant.kind {
            SessionKind::Zhongshu => Some(grant.session_id.as_str()),
            SessionKind::Department | SessionKind::Reviewer => grant.parent_session_id.as_deref(),
        };
        let who = AgentGroup {
            session_id: &grant.session_id,
            zhongshu,
        };
        // Live facts (previews, terminals) only for the group's sessions.
        crate::views::status::for_agent(&self.snapshot(|s| who.shows(s)), &who)
    }

    /// Session `id` as the API shows it.
    pub fn session_view(&self, id: &str) -> Option<SessionView> {
        crate::views::session::by_id(&self.snapshot(|s| s.id == id), id)
    }

    /// `GET /api/zhongshu_sessions`: each with its children and report count.
    pub fn zhongshu_sessions_view(&self) -> ZhongshuSessionsView {
        let snap = self.snapshot(|_| true);
        let counts = snap
            .state
            .sessions
            .values()
            .filter(|s| s.is_zhongshu())
            .map(|z| {
                let count = self.ctx.store.result_count(&z.id).unwrap_or(0);
                (z.id.clone(), count)
            })
            .collect();
        crate::views::plan::zhongshu_sessions(&snap, &counts)
    }

    /// `GET /api/zhongshu_context`: what a restart needs.
    pub fn zhongshu_context_view(&self, id: &str) -> LResult<ContextView> {
        let in_group = |s: &crate::model::Session| s.id == id || s.parent_session_id() == Some(id);
        let snap = self.snapshot(in_group);
        if !snap.state.sessions.contains_key(id) {
            return Err(LauncherError::NotFound(format!("no session {id}")));
        }
        let recent = self.ctx.store.results_page(id, 20, None)?.results;
        crate::views::plan::context(&snap, id, recent)
            .ok_or_else(|| LauncherError::NotFound(format!("no session {id}")))
    }

    /// `GET /api/zhongshu_plan`.
    pub fn zhongshu_plan_view(&self, id: &str) -> PlanView {
        crate::views::plan::plan(&self.snapshot(|s| s.id == id), id)
    }

    /// Zhongshu `id`'s plan without its session (no live facts needed).
    pub fn zhongshu_plan_body(&self, id: &str) -> crate::views::plan::PlanBody {
        crate::views::plan::body(&self.snapshot(|_| false), id)
    }

    /// The Python tool's answer to a start.
    pub fn started_view(&self, id: &str) -> StartedView {
        crate::views::session::started(&self.snapshot(|s| s.id == id), id)
    }

    /// The Python tool's answer to `start_assignments`, beside our plan.
    pub fn assignments_view(&self, plan: &Plan) -> AssignmentsView {
        let snap = self.snapshot(|s| s.parent_session_id() == Some(plan.session_id.as_str()));
        crate::views::plan::assignments(&snap, plan)
    }

    /// `GET /api/quota` and what its commands answer.
    pub fn quota_view(&self) -> QuotaView {
        crate::views::quota::quota(&self.snapshot(|_| false))
    }

    /// `GET /api/zhongshu_inbox`: a page of Zhongshu `id`'s results, marked
    /// read unless `peek`.
    pub fn inbox_view(
        &self,
        id: &str,
        peek: bool,
        page: (usize, Option<i64>),
        count: bool,
    ) -> LResult<InboxView> {
        let read = crate::mailbox::inbox_read::read_inbox(
            &self.ctx,
            &self.sessions,
            id,
            peek,
            page,
            count,
        )?;
        let read = Read {
            newly_read: read.newly_read,
            results: read.page.results,
            next_before: read.page.next_before,
            total: read.total,
            peek,
        };
        self.ctx.store.read(|s| {
            let z = s
                .sessions
                .get(id)
                .ok_or_else(|| LauncherError::NotFound(format!("no session {id}")))?;
            Ok(crate::views::inbox::inbox(s, z, read))
        })
    }

    /// The terminals `/api/status` and `/api/browser_terminals` list.
    pub fn listed_terminals(&self, state: &State) -> Vec<TerminalView> {
        crate::views::terminals::listed_terminals(state, self.run_started)
    }

    /// The launcher now, with the live facts of the sessions `shown` keeps.
    pub(super) fn snapshot(&self, shown: impl Fn(&Session) -> bool) -> Snapshot<'_> {
        let at = Moment::now();
        let mut state = self.ctx.store.read(State::clone);
        for s in state.sessions.values_mut() {
            // Records of older launchers carry none: their backend's.
            s.agent.capabilities = Some(crate::agents::capabilities_of(&s.agent));
        }
        let launcher = self.launcher_facts(&state);
        let mut snap = Snapshot {
            state,
            config: &self.ctx.config,
            repo: &self.ctx.repo,
            mailbox_root: self.ctx.paths.mailbox_root(),
            live: HashMap::new(),
            facts: self.facts.current(),
            launcher,
            at,
        };
        self.add_live(&mut snap, shown);
        snap
    }

    /// Adds to `snap` the live facts of the sessions `shown` keeps (which
    /// may be decided from its tables).
    pub(super) fn add_live(&self, snap: &mut Snapshot, shown: impl Fn(&Session) -> bool) {
        let state = &snap.state;
        let live: HashMap<String, Live> = state
            .sessions
            .values()
            .filter(|s| shown(s) && !snap.live.contains_key(&s.id))
            .filter_map(|s| Some((s.id.clone(), self.live_of(state, s)?)))
            .collect();
        snap.live.extend(live);
    }

    /// What session `s`'s live agent and terminal say now; None without either.
    fn live_of(&self, state: &State, s: &Session) -> Option<Live> {
        let pty = self.sessions.live.pty(&s.id);
        let agent = self.sessions.live.agent(&s.id);
        if pty.is_none() && agent.is_none() {
            return None;
        }
        let conversation = agent.as_ref().and_then(|a| a.conversation().cloned());
        let activity = agent.as_ref().and_then(|a| a.activity()).or_else(|| {
            let p = pty.as_ref()?;
            Some((p.last_output()?, p.last_output_wall()?))
        });
        let terminal_viewers = s
            .browser_terminal_id
            .as_deref()
            .filter(|t| state.terminals.contains_key(*t))
            .and_then(|t| self.sessions.terminals.listeners.viewers(t))
            .map(|v| *v.borrow());
        Some(Live {
            activity,
            preview: crate::sessions::preview::live(conversation.as_deref(), pty.as_ref()),
            conversation_rev: conversation.as_ref().map(|c| c.rev()),
            last_message: conversation.and_then(|c| c.last_message()),
            terminal_viewers,
        })
    }

    /// The launcher's own facts beside the tables.
    fn launcher_facts(&self, state: &State) -> LauncherFacts {
        let backend = self.sessions.backend();
        LauncherFacts {
            audit_seq: self.ctx.store.audit_log().last_seq(),
            audit_chain_problem: self.audit_chain_problem().map(str::to_string),
            ingestion: self.mailbox.ingestion_health(),
            backend: BackendFacts {
                kind: backend.kind(),
                capabilities: backend.capabilities(),
                problems: self.backend_problems(),
                planner_problems: self.planner_problems(),
            },
            trust: self.sessions.trust.request(),
            model_switch: crate::quota::model_switch::offer(state, &self.ctx.config.launcher),
            run_started: self.run_started,
            remotes: {
                let taken = state.slots_by_host();
                let mut hosts = self.hosts.all();
                for h in &mut hosts {
                    h.in_use = taken.get(&Some(h.name.clone())).copied().unwrap_or(0);
                }
                hosts
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::config::Config;
    use crate::launcher::Launcher;

    /// A status shows what the facts cache read at the last change or tick,
    /// not what git and the files say while it is built: with the finished
    /// session's transcript deleted and the plan's file reverted since, the
    /// status still shows both as they were read, until a tick reads again.
    #[test]
    fn a_status_build_reads_no_transcript_and_no_git() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        crate::launcher::facts::tests::repo_with_a_file(&repo);
        std::fs::write(repo.join("src/a.rs"), "the user's edit\n").unwrap();
        let config = Config::load_with_env(&repo, &Default::default()).unwrap();
        let l = Launcher::open(&repo, config, repo.join(".tmp")).unwrap();
        let log = dir.path().join("zhongshu-1.log");
        std::fs::write(&log, "planning\nthe plan is in\n").unwrap();
        let z = serde_json::from_value(json!({
            "id": "zhongshu-1", "session_kind": "zhongshu", "role": "planner",
            "department": null, "title": "t", "model": "m", "task": "do", "pid": 1,
            "status": "exited", "exit_code": 0, "started_at": "s", "ended_at": "e",
            "prompt_path": "", "log_path": log.display().to_string(), "backend": "pty",
        }))
        .unwrap();
        let plan = serde_json::from_value(json!({
            "session_id": "zhongshu-1", "revision": 1, "summary": "s", "assignments": [],
            "needs_confirmation": false, "status": "dispatched", "registered_at": "t",
            "base": {"commit": "0".repeat(40), "dirty_files": ["src/a.rs"]},
        }))
        .unwrap();
        l.ctx
            .store
            .update(|tx| {
                tx.insert_session(z);
                tx.insert_plan(plan);
            })
            .unwrap();
        let shown = |l: &Launcher| {
            let v = serde_json::to_value(l.status_view()).unwrap();
            let z = v["sessions"][0].clone();
            (
                z["transcript_preview"].clone(),
                z["plan_dirty_files"].clone(),
            )
        };
        let read = (json!("planning\nthe plan is in"), json!(["src/a.rs"]));
        assert_eq!(shown(&l), read);
        std::fs::remove_file(&log).unwrap();
        std::fs::write(repo.join("src/a.rs"), "a\n").unwrap();
        assert_eq!(shown(&l), read, "built from the facts, not from the files");
        assert!(l.facts.tick(&l.ctx.store, &|_| false));
        assert_eq!(shown(&l).1, json!(null), "the tick read the reverted file");
    }
}
