//! What the API shows of the launcher: each answer gathers a snapshot from
//! the services and builds its view with `crate::views` (the status cached
//! as bytes for the pages that poll it).

use bytes::Bytes;

use super::{LResult, Launcher, LauncherError};
use crate::credentials::Grant;
use crate::model::{Plan, SessionKind, State};
use crate::views::cache::CacheKey;
use crate::views::inbox::{InboxView, Read};
use crate::views::plan::{AssignmentsView, ContextView, PlanView, ZhongshuSessionsView};
use crate::views::quota::QuotaView;
use crate::views::session::{SessionView, StartedView};
use crate::views::status::{AgentGroup, StatusView};
use crate::views::terminals::TerminalView;

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

    /// `GET /api/status` for an agent's token: its own group only.
    pub fn status_for_agent(&self, grant: &Grant) -> StatusView {
        let zhongshu = match grant.kind {
            SessionKind::Zhongshu => Some(grant.session_id.as_str()),
            SessionKind::Department => grant.parent_session_id.as_deref(),
        };
        let who = AgentGroup {
            session_id: &grant.session_id,
            zhongshu,
        };
        crate::views::status::for_agent(&self.snapshot(|_| true), &who)
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
}
