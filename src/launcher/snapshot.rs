//! Gathering what the views read (`crate::views::Snapshot`) from the
//! services: the store's tables, what the live agents and terminals say now,
//! the launcher's own facts, and the facts that cost I/O.

use std::collections::HashMap;
use std::sync::Arc;

use super::{facts, Launcher};
use crate::model::{Session, State};
use crate::views::{BackendFacts, Facts, LauncherFacts, Live, Moment, Snapshot};

impl Launcher {
    /// The launcher now, with the live facts of the sessions `shown` keeps.
    pub(super) fn snapshot(&self, shown: impl Fn(&Session) -> bool) -> Snapshot<'_> {
        let at = Moment::now();
        let mut state = self.ctx.store.read(State::clone);
        for s in state.sessions.values_mut() {
            // Records of older launchers carry none: their backend's.
            s.agent.capabilities = Some(crate::agents::capabilities_of(&s.agent));
        }
        let live: HashMap<String, Live> = state
            .sessions
            .values()
            .filter(|s| shown(s))
            .filter_map(|s| Some((s.id.clone(), self.live_of(&state, s)?)))
            .collect();
        let facts = Arc::new(self.facts_now(&state, &live, &shown));
        let launcher = self.launcher_facts(&state);
        Snapshot {
            state,
            config: &self.ctx.config,
            repo: &self.ctx.repo,
            mailbox_root: self.ctx.paths.mailbox_root(),
            live,
            facts,
            launcher,
            at,
        }
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
            conversation_rev: conversation.map(|c| c.rev()),
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
            },
            trust: self.sessions.trust.request(),
            model_switch: crate::quota::model_switch::offer(state, &self.ctx.config.launcher),
            run_started: self.run_started,
        }
    }

    /// The facts that cost I/O, read now for the sessions `shown` keeps.
    fn facts_now(
        &self,
        state: &State,
        live: &HashMap<String, Live>,
        shown: &impl Fn(&Session) -> bool,
    ) -> Facts {
        let store = &self.ctx.store;
        let applied = facts::applied_commits(state);
        let plan_files = facts::plans_with_dirty_files(state)
            .map(|(z, named)| {
                let files = facts::plan_files(&self.ctx.repo, named, &applied);
                (z.to_string(), files)
            })
            .collect();
        let sessions = state.sessions.values().filter(|s| shown(s));
        let previews = sessions
            .clone()
            .filter(|s| live.get(&s.id).is_none_or(|l| l.preview.is_none()))
            .map(|s| (s.id.clone(), crate::sessions::preview::from_files(s)))
            .collect();
        let reports = sessions
            .filter_map(|s| Some((s.id.clone(), facts::report_fact(store, s)?)))
            .collect();
        Facts {
            plan_files,
            previews,
            reports,
            unread: facts::unread_counts(store),
        }
    }
}
