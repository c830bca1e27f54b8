//! The launcher: the composition root. It builds the services (sessions, the
//! dispatcher, the mailbox), recovers from the previous run, follows the signals
//! the services send (what happens after an exit or a result), gathers what the
//! views read (`views`, with the facts `facts` keeps) and publishes what
//! changed (`deltas`), and shuts everything down, awaiting every task it
//! started.

pub mod deltas;
mod facts;
mod notify_hooks;
pub mod phones;

/// How often the deltas and the facts look for what moves without a change
/// of ours (late transcript bytes, the user's tree).
const TICK: std::time::Duration = std::time::Duration::from_secs(2);
pub mod resume_plan;
mod views;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::task::{JoinHandle, JoinSet};

use crate::config::Config;
use crate::context::Context;
use crate::credentials::Credentials;
pub use crate::error::{LResult, LauncherError};
use crate::integration::Integrations;
use crate::mailbox::Mailbox;
use crate::model::{AuditEvent, SessionStatus, TerminalStatus};
use crate::plans::queue::Dispatcher;
use crate::pty;
use crate::quota::Quota;
use crate::sessions::Sessions;
use crate::signals::{Signal, SignalRx};
use crate::store::{Paths, Store};

/// Wait between a department's report and closing it.
const AUTO_CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Launcher {
    pub ctx: Arc<Context>,
    pub sessions: Arc<Sessions>,
    pub dispatcher: Arc<Dispatcher>,
    pub mailbox: Arc<Mailbox>,
    /// Answers the agents' governance tool calls: held here, as the sessions
    /// hold it weakly (it holds them).
    _tool_handler: Arc<dyn crate::agents::ToolHandler>,
    /// The account's usage limits, the queue's hold and the plans' budgets.
    pub quota: Arc<Quota>,
    /// The departments' worktrees under the user's control.
    pub integrations: Arc<Integrations>,
    /// Several attempts at one task, compared and chosen (issue 74).
    pub attempts: Arc<crate::attempts::Attempts>,
    /// A reviewer agent's second opinion on recorded work (issue 75).
    pub second_opinion: Arc<crate::second_opinion::SecondOpinion>,
    /// The developer's token (the dashboard's); agents never get it.
    pub token: String,
    pub credentials: Arc<Credentials>,
    audit_chain_problem: OnceLock<String>,
    /// What keeps agents from starting, found at start and by each
    /// *Check again* (`POST /api/check_agents`); None before the first check.
    backend_problems: std::sync::RwLock<Option<crate::agents::Problems>>,
    /// The last status body, for the pages that poll it.
    status_cache: crate::views::cache::StatusCache,
    /// What the views read that costs git, file or database reads.
    facts: Arc<facts::FactsCache>,
    signals: Mutex<Option<SignalRx>>,
    signal_loop: Mutex<Option<JoinHandle<()>>>,
    /// Turns true when the launcher stops, ending long-lived streams.
    stopping: tokio::sync::watch::Sender<bool>,
    /// Codex sessions of the previous run whose threads resume after start.
    resumable: Mutex<Vec<String>>,
    /// The state folder's lock, held for the launcher's life.
    /// The state folder's lock: released at the end of `shutdown`, so the next
    /// launcher may start as soon as this one has stopped.
    instance: Mutex<Option<crate::instance::InstanceLock>>,
    lock_watch: Mutex<Option<JoinHandle<()>>>,
    /// What changed, for the dashboards' event streams.
    pub deltas: deltas::Deltas,
    /// When this launcher started: the terminals it opened since are listed,
    /// ended ones too (those of earlier runs are history).
    run_started: chrono::DateTime<chrono::FixedOffset>,
    /// The hosts of `launcher.remotes` as their pre-flight found them.
    pub hosts: Arc<crate::placement::Hosts>,
    /// Notices away from the desk (`launcher.notify`, issue 54).
    pub notifier: Arc<crate::notify::Notifier>,
    /// The phones paired for the page through the tailnet.
    pub phones: Arc<crate::phones::Phones>,
    /// `--allow-host`: where a paired phone finds the page.
    tailnet: OnceLock<crate::net::allowed_host::AllowedHost>,
}

/// Says on stderr and in the audit log that the state folder was tightened.
fn report_tightened(store: &Store, dir: &Path, tightened: &crate::private_state::Tightened) {
    for (path, e) in &tightened.failed {
        eprintln!(
            "codex-governance: warning: cannot make {} private: {e}",
            path.display()
        );
    }
    if !tightened.any() {
        return;
    }
    let what = tightened.describe(dir);
    eprintln!("codex-governance: {what}");
    store.audit_or_log(AuditEvent::StateFolderTightened {
        folder: dir.display().to_string(),
        was_mode: tightened.folder_was.map(|m| format!("{m:04o}")),
        entries: tightened.entries,
    });
}

/// The dashboard's token, kept in the state folder (made at the first start).
fn dashboard_token(state_dir: &Path) -> anyhow::Result<String> {
    let (token, _) = crate::dashboard_token::load_or_make(state_dir)
        .map_err(|e| anyhow::anyhow!("the dashboard's token in {}: {e}", state_dir.display()))?;
    Ok(token)
}

/// The sessions of a launcher opening: its team of backends, and told
/// when a host goes or comes back.
fn sessions_of(
    ctx: &Arc<Context>,
    credentials: &Arc<Credentials>,
    signals: crate::signals::SignalTx,
    quota: &Arc<Quota>,
) -> Arc<Sessions> {
    let agent = &ctx.config.launcher.agent;
    let backend = crate::agents::team_for(
        &agent.backend,
        &agent.departments,
        &ctx.config.launcher.agent_command,
    );
    let sessions = Arc::new(Sessions::new(
        Arc::clone(ctx),
        backend,
        Arc::clone(credentials),
        signals,
        Arc::clone(quota.changed()),
        crate::tools::spec::specs,
    ));
    // Held weakly: the sessions hold the hosts.
    let held = Arc::downgrade(&sessions);
    sessions
        .placement
        .on_host_change(Arc::new(move |host, state| {
            if let Some(sessions) = held.upgrade() {
                sessions.host_changed(host, state);
            }
        }));
    sessions
}

impl Launcher {
    /// Opens the state directory and recovers from the previous run (SPEC 14).
    pub fn open(repo: &Path, config: Config, state_dir: PathBuf) -> anyhow::Result<Arc<Launcher>> {
        let repo = dunce::canonicalize(repo).unwrap_or_else(|_| repo.to_path_buf());
        // Paths are shown to users: never in Windows' verbatim `\\?\` form.
        let state_dir = dunce::simplified(&state_dir).to_path_buf();
        let (paths, store, instance) = open_state(&repo, state_dir)?;
        let ctx = Arc::new(Context::new(repo, config, paths, store));
        let credentials: Arc<Credentials> = Default::default();
        let (tx, rx) = crate::signals::channel();
        let quota = Arc::new(Quota::new(Arc::clone(&ctx)));
        let sessions = sessions_of(&ctx, &credentials, tx.clone(), &quota);
        let dispatcher = Arc::new(Dispatcher::new(
            Arc::clone(&ctx),
            Arc::clone(&sessions),
            tx.clone(),
        ));
        let mailbox = Arc::new(Mailbox::new(Arc::clone(&ctx), Arc::clone(&sessions), tx));
        let integrations = Arc::new(Integrations::new(Arc::clone(&ctx), Arc::clone(&sessions)));
        let attempts = Arc::new(crate::attempts::Attempts::new(
            Arc::clone(&ctx),
            Arc::clone(&sessions),
            Arc::clone(&integrations),
        ));
        let second_opinion = Arc::new(crate::second_opinion::SecondOpinion::new(
            Arc::clone(&ctx),
            Arc::clone(&sessions),
            Arc::clone(&integrations),
        ));
        let facts = Arc::new(
            facts::FactsCache::new(ctx.repo.clone())
                .watch_config(crate::config::changes::Watch::new(&ctx.repo, &ctx.config)),
        );
        let tool_handler: Arc<dyn crate::agents::ToolHandler> =
            Arc::new(crate::tools::runner::Runner::new(
                Arc::clone(&ctx),
                Arc::clone(&sessions),
                Arc::clone(&dispatcher),
                Arc::clone(&mailbox),
                Arc::clone(&integrations),
            ));
        sessions
            .live
            .answer_tools_with(Arc::downgrade(&tool_handler));
        let token = dashboard_token(&ctx.paths.state_dir)?;
        let hosts = Arc::clone(&sessions.placement.hosts);
        let ctx_state_dir = ctx.paths.state_dir.clone();
        let notifier =
            crate::notify::Notifier::new(Arc::clone(&ctx), &crate::config::process_env());
        let launcher = Arc::new(Launcher {
            ctx,
            sessions,
            dispatcher,
            mailbox,
            quota,
            _tool_handler: tool_handler,
            integrations,
            attempts,
            second_opinion,
            token,
            credentials,
            audit_chain_problem: OnceLock::new(),
            backend_problems: std::sync::RwLock::new(None),
            status_cache: Default::default(),
            facts,
            signals: Mutex::new(Some(rx)),
            signal_loop: Mutex::new(None),
            stopping: tokio::sync::watch::Sender::new(false),
            resumable: Mutex::new(Vec::new()),
            instance: Mutex::new(Some(instance)),
            lock_watch: Mutex::new(None),
            deltas: deltas::Deltas::default(),
            run_started: crate::clock::now().fixed_offset(),
            hosts,
            notifier,
            phones: Arc::new(crate::phones::Phones::load(&ctx_state_dir)),
            tailnet: OnceLock::new(),
        });
        launcher.recover()?;
        launcher.facts.keep(&launcher.ctx.store);
        Ok(launcher)
    }

    /// Marks sessions of an earlier launcher exited and stops their processes,
    /// in one change with its audit events.
    fn recover(&self) -> anyhow::Result<()> {
        let now = crate::clock::now_rfc3339();
        let (stale, resumable, own_agents) = self.ctx.store.update(|tx| {
            let running: Vec<String> = tx
                .state()
                .sessions
                .values()
                .filter(|s| s.status == SessionStatus::Running)
                .map(|s| s.id.clone())
                .collect();
            let mut stale = Vec::new();
            let mut resumable = Vec::new();
            let mut own_agents = Vec::new();
            for id in running {
                if let Some(session) = tx.session_mut(&id).filter(|s| s.agent.thread_id.is_some()) {
                    // A Codex thread outlives its processes: it resumes after
                    // start, on the app-server left running if there is one.
                    // An agent process of the session's own (an ACP agent's,
                    // whose session is loaded again in a new one) goes.
                    stale.push((id.clone(), session.pid));
                    if let Some(helper) = session.agent.server_pid {
                        own_agents.push((id.clone(), helper));
                    }
                    session.pid = None;
                    session.agent.server_pid = None;
                    session.closing = false;
                    // Not idle until its agent is back: input waits for it.
                    session.agent.agent_state = crate::model::AgentState::Starting;
                    resumable.push(id.clone());
                    continue;
                }
                if let Some(session) = tx.session_mut(&id) {
                    session.status = SessionStatus::Exited;
                    session.ended_at = Some(now.clone());
                    session.ended_reason = Some("launcher_restart".into());
                    session.closing = false;
                    // Its terminal's process, else its agent's own (ACP).
                    stale.push((id.clone(), session.pid.or(session.agent.server_pid)));
                }
                tx.audit(AuditEvent::SessionExited {
                    session_id: id.clone(),
                    exit_code: None,
                    reason: Some("launcher_restart".to_string()),
                });
            }
            recover_queue(tx);
            for id in tx.terminal_ids() {
                if let Some(t) = tx.terminal_mut(&id) {
                    if t.status != TerminalStatus::Closed {
                        t.status = TerminalStatus::Closed;
                        t.closed_at = Some(now.clone());
                    }
                }
            }
            (stale, resumable, own_agents)
        })?;
        *self.resumable.lock().unwrap() = resumable;
        for (id, pid) in &own_agents {
            // The shared app-server carries no session's id: it stays.
            if runs_session(*pid, id) {
                pty::kill_tree(*pid);
            }
        }
        for (id, pid) in &stale {
            if let Some(pid) = *pid {
                // The session led its own process group and session; what is
                // left of it goes (its sandboxes may have outlived the leader).
                if runs_session(pid, id) {
                    pty::kill_tree(pid);
                }
                crate::platform::kill_leftovers(pid, id);
            }
        }
        Ok(())
    }

    /// Called once the server is bound: records the URL agents and terminals use.
    pub fn set_url(&self, url: String) {
        self.ctx.set_url(url.clone());
        self.sessions
            .terminals
            .listeners
            .set_allowed_origins(vec![url]);
    }

    pub fn url(&self) -> &str {
        self.ctx.url()
    }

    /// Called once when served with `--allow-host`.
    pub fn set_tailnet(&self, name: crate::net::allowed_host::AllowedHost) {
        let _ = self.tailnet.set(name);
    }

    /// The page's address for a paired phone, when served with `--allow-host`.
    pub fn tailnet(&self) -> Option<&crate::net::allowed_host::AllowedHost> {
        self.tailnet.get()
    }

    /// Pairing phones for the page (`phones.rs`).
    pub fn phone_desk(&self) -> phones::PhoneDesk<'_> {
        phones::PhoneDesk {
            tailnet: self.tailnet(),
            phones: &self.phones,
            store: &self.ctx.store,
        }
    }

    /// Work after the server is ready: follow the services' signals, watch
    /// mailboxes, register fallbacks owed from before a restart, resume the queue.
    pub async fn start_background(self: &Arc<Self>) {
        self.ctx.set_runtime(tokio::runtime::Handle::current());
        if let Some(rx) = self.signals.lock().unwrap().take() {
            let this = Arc::clone(self);
            *self.signal_loop.lock().unwrap() = Some(tokio::spawn(this.follow_signals(rx)));
        }
        self.check_audit_chain().await;
        self.watch_instance_lock();
        self.start_deltas();
        self.start_notifier();
        self.facts
            .start_ticks(&self.ctx, Arc::clone(&self.sessions.live), self.stopped());
        // Asking Codex (its version, its login) takes a second or two: the
        // rest does not wait for it.
        let this = Arc::clone(self);
        tokio::spawn(async move { this.check_backend().await });
        // Tracked, and given up at the stop: a host that takes its time to
        // answer (ssh's connect timeout is 15 s) never holds a stop; its ssh
        // children end with the check (`kill_on_drop`).
        // No hosts: no task (an idle launcher runs none of its code).
        if !self.ctx.config.launcher.remotes.is_empty() {
            let this = Arc::clone(self);
            let stopped = self.stopped();
            self.ctx.spawn(async move {
                tokio::select! {
                    _ = stopped => {}
                    _ = this.check_remotes() => {}
                }
            });
        }
        self.integrations.recover().await;
        {
            // After the sessions are back: a resumed Merge may send work back.
            let integrations = Arc::clone(&self.integrations);
            let attempts = Arc::clone(&self.attempts);
            let second_opinion = Arc::clone(&self.second_opinion);
            let stopped = self.stopped();
            self.ctx.spawn(async move {
                tokio::select! {
                    _ = stopped => {}
                    _ = async {
                        integrations.resume_train().await;
                        attempts.resume().await;
                        second_opinion.resume().await;
                    } => {}
                }
            });
        }
        self.start_quota_clock();
        self.integrations
            .follow_pull_requests(&self.ctx, self.stopping.subscribe());
        self.resume_sessions().await;
        // An app-server a crashed launcher left that no resumed session took
        // over would otherwise outlive this launcher too.
        self.sessions
            .live
            .backends()
            .end_left_running(&self.ctx.paths.state_dir)
            .await;
        self.mailbox.start().await;
        self.dispatcher.pump_queue().await;
    }

    /// Checks every second that the state folder's lock is still this
    /// launcher's; once it is not (the lock file was deleted or replaced, and
    /// another launcher may own the folder), nothing is written any more.
    fn watch_instance_lock(self: &Arc<Self>) {
        let this = Arc::clone(self);
        let stopped = self.stopped();
        *self.lock_watch.lock().unwrap() = Some(tokio::spawn(async move {
            let watch =
                async {
                    loop {
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        let held = this
                            .instance
                            .lock()
                            .unwrap()
                            .as_ref()
                            .map(|i| i.still_held());
                        if held == Some(false) {
                            let why =
                                format!(
                            "the lock {} was removed or replaced; another launcher may own {}",
                            this.ctx.paths.state_dir.join(crate::instance::LOCK_FILE).display(),
                            this.ctx.paths.state_dir.display()
                        );
                            eprintln!(
                                "codex-governance: {why}: this launcher stops writing; restart it"
                            );
                            this.ctx.store.fence(why);
                            return;
                        }
                    }
                };
            tokio::select! {
                _ = watch => {}
                _ = stopped => {}
            }
        }));
    }

    /// Tells the user's phone from now on, once the configuration may run:
    /// a file waiting for trust names programs (`notify.command`) and
    /// servers that would get the user's tokens (ntfy, Telegram).
    pub fn start_notifier(&self) {
        if self.sessions.trust.refusal().is_some() {
            return;
        }
        self.notifier.start(
            self.stopping.subscribe(),
            Arc::new(notify_hooks::Deciders {
                sessions: Arc::clone(&self.sessions),
                dispatcher: Arc::clone(&self.dispatcher),
            }),
        );
    }

    /// Warns at start when the agent backend cannot run (Codex missing, old or
    /// not logged in). Not while the file waits for the user's trust: asking
    /// runs the programs it names (`codex_command --version`); the answer
    /// asks then.
    async fn check_backend(&self) {
        if self.sessions.trust.refusal().is_some() {
            return;
        }
        let problems = self.sessions.live.backends().problems().await;
        for w in &problems.all() {
            // Said once, plainly (the status and the dashboard's banner carry it too).
            eprintln!("codex-governance: warning: {w}");
        }
        let mut known = self.backend_problems.write().unwrap();
        // A Check again that finished first wins over the start's check.
        if known.is_none() {
            *known = Some(problems);
        }
    }

    /// Checks every host of `launcher.remotes` (at start, and when the user
    /// asks again): what each pre-flight found, in name order.
    pub async fn check_remotes(&self) -> Vec<crate::model::RemoteHost> {
        // No hosts: no `codex --version` at every start for nothing.
        if self.ctx.config.launcher.remotes.is_empty() {
            return Vec::new();
        }
        let trusted = self.sessions.trust.request().is_none();
        // The file's program runs only once the user trusts the file.
        let here = match trusted {
            true => {
                let backend = self.ctx.config.launcher.agent.backend.clone();
                tokio::task::spawn_blocking(move || backend.exec_server_version())
                    .await
                    .ok()
                    .flatten()
            }
            false => None,
        };
        let placement = Arc::clone(&self.sessions.placement);
        placement.check_hosts(&self.ctx, here, trusted).await;
        // Departments waiting for a host that is ready now start.
        self.dispatcher.pump_queue().await;
        self.hosts.all()
    }

    /// *Check again*: asks the backend anew (Codex installed since, logged in
    /// since), keeps the answer and tells the pages; returns it.
    /// Sessions suspended while it could not start resume now.
    pub async fn recheck_backend(self: &Arc<Self>) -> Vec<String> {
        // The programs a file waiting for trust names do not run yet.
        if self.sessions.trust.refusal().is_some() {
            return self.backend_problems();
        }
        let problems = self.sessions.live.backends().problems().await;
        *self.backend_problems.write().unwrap() = Some(problems.clone());
        let problems = problems.all();
        self.ctx.store.tell(crate::store::News::AgentsChecked {
            problems: problems.clone(),
        });
        // Each waits for its own backend: those that can resume do.
        if !self.resumable.lock().unwrap().is_empty() {
            self.resume_sessions().await;
        }
        problems
    }

    /// What keeps agents from starting (Codex missing or too old), with the fix.
    pub fn backend_problems(&self) -> Vec<String> {
        self.backend_problems
            .read()
            .unwrap()
            .as_ref()
            .map(crate::agents::Problems::all)
            .unwrap_or_default()
    }

    /// What keeps a planner from starting: the launcher's own backend's.
    pub fn planner_problems(&self) -> Vec<String> {
        self.backend_problems
            .read()
            .unwrap()
            .as_ref()
            .map(|p| p.own.clone())
            .unwrap_or_default()
    }

    /// The account listener and the quota clock, on the context's tasks.
    fn start_quota_clock(self: &Arc<Self>) {
        let (news, rx) = tokio::sync::mpsc::unbounded_channel();
        self.sessions.live.backends().watch_account(news);
        let (dispatcher, reviews) = (
            Arc::clone(&self.dispatcher),
            Arc::clone(&self.second_opinion),
        );
        // The hold lifted: departments, and reviews that waited, start.
        let pump: crate::quota::clock::Pump = Arc::new(move || {
            let (dispatcher, reviews) = (Arc::clone(&dispatcher), Arc::clone(&reviews));
            Box::pin(async move {
                dispatcher.pump_queue().await;
                reviews.start_due().await;
            })
        });
        let clock = crate::quota::clock::Clock {
            quota: Arc::clone(&self.quota),
            agents: Arc::clone(&self.sessions) as Arc<dyn crate::quota::Agents>,
            pump,
        };
        clock.start(&self.ctx, rx, self.stopping.subscribe());
    }

    /// Resumes the conversations of the previous run. While the agent program
    /// cannot start (Codex missing, not logged in), they stay suspended, each
    /// saying what it waits for, and are tried again on *Check again* and at
    /// every later start, on the same thread: no fallback result, no failed
    /// plan. One that cannot resume otherwise ends its session as a restart
    /// always did (a department's fallback result follows).
    pub async fn resume_sessions(self: &Arc<Self>) {
        let ids = std::mem::take(&mut *self.resumable.lock().unwrap());
        if ids.is_empty() {
            return;
        }
        // A configuration waiting for trust rules nothing yet: the sessions
        // wait with it (they would resume under its settings).
        if let Some(why) = self.sessions.trust.refusal() {
            self.sessions
                .wait_for_agent(&ids, &why, crate::sessions::Suspension::Trust);
            *self.resumable.lock().unwrap() = ids;
            return;
        }
        // Each session waits only for its own backend (its department's).
        let mut waiting: Vec<(String, String)> = Vec::new();
        let mut unavailable: HashMap<Option<String>, String> = HashMap::new();
        for id in ids {
            let department = self
                .sessions
                .session(&id)
                .and_then(|s| s.agent_key().map(str::to_string));
            if let Some(why) = unavailable.get(&department) {
                waiting.push((id, why.clone()));
                continue;
            }
            if let Err(e) = self.sessions.resume_agent(&id).await {
                let backend = self.sessions.backend_for(department.as_deref());
                let problems = backend.problems().await;
                if !problems.is_empty() {
                    let why = problems.join(" ");
                    unavailable.insert(department, why.clone());
                    waiting.push((id, why));
                    continue;
                }
                tracing::warn!("cannot resume {id}: {e}");
                self.ctx
                    .store
                    .audit_or_log(AuditEvent::SessionResumeFailed {
                        session_id: id.clone(),
                        error: e.to_string(),
                    });
                self.sessions.live.end_unresumable(&id).await;
            }
        }
        for why in unavailable.values() {
            let ids: Vec<String> = waiting
                .iter()
                .filter(|(_, w)| w == why)
                .map(|(id, _)| id.clone())
                .collect();
            self.sessions
                .wait_for_agent(&ids, why, crate::sessions::Suspension::AgentProgram);
        }
        *self.resumable.lock().unwrap() = waiting.into_iter().map(|(id, _)| id).collect();
    }

    /// What follows each signal; each runs as its own task, all awaited at stop.
    async fn follow_signals(self: Arc<Self>, mut rx: SignalRx) {
        let mut tasks = JoinSet::new();
        let mut stopping = self.stopping.subscribe();
        loop {
            tokio::select! {
                signal = rx.recv() => {
                    let Some(signal) = signal else { break };
                    let this = Arc::clone(&self);
                    tasks.spawn(async move { this.follow(signal).await });
                }
                _ = stopping.wait_for(|v| *v) => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn follow(self: &Arc<Self>, signal: Signal) {
        match signal {
            Signal::SessionExited(id) => {
                let ended = self.sessions.session(&id);
                let department = ended.as_ref().is_some_and(|s| s.is_department());
                if ended.as_ref().is_some_and(|s| s.reviewer().is_some()) {
                    self.second_opinion.reviewer_exited(&id);
                }
                if department {
                    self.integrations.department_exited(&id).await;
                    self.mailbox.department_exited(&id);
                    // Its work is recorded: a second opinion reads it.
                    self.second_opinion.exited(&id).await;
                }
                self.dispatcher.pump_queue().await;
                if department {
                    // Its checks may take a while: after the queue moved.
                    self.attempts.exited(&id).await;
                }
            }
            Signal::ResultsRegistered { registered, .. } => {
                self.dispatcher.pump_queue().await;
                // The reporting command gets to finish and print its answer first
                // (the agent sees that its report went through); a reported
                // department holds no slot meanwhile.
                tokio::select! {
                    _ = tokio::time::sleep(AUTO_CLOSE_GRACE) => {}
                    _ = self.stopped() => return,
                }
                // Once per department: a burst of reports from one is one close.
                let mut closed = std::collections::HashSet::new();
                for (_, session_id) in registered {
                    if closed.insert(session_id.clone()) {
                        self.sessions.auto_close(&session_id).await;
                    }
                }
            }
            Signal::FindingsReported(id) => {
                tokio::select! {
                    _ = tokio::time::sleep(AUTO_CLOSE_GRACE) => {}
                    _ = self.stopped() => return,
                }
                self.sessions.auto_close(&id).await;
                self.second_opinion.reported(&id).await;
            }
            Signal::SlotFreed => self.dispatcher.pump_queue().await,
            Signal::ZhongshuStarted(id) => self.mailbox.watch_zhongshu(&id),
            Signal::PlanFinished(id) => self.mailbox.notices.plan_finished(&id),
            Signal::Tell { zhongshu_id, text } => self.mailbox.notices.tell(&zhongshu_id, &text),
        }
    }

    /// Verifies the audit log's chain once at start (off the runtime), and says
    /// where the log disagreed with the database's anchor at open. A break is
    /// reported, not repaired: `/healthz`, the status (the dashboard's banner) and
    /// an audit event say where; new lines keep chaining from the last one.
    async fn check_audit_chain(self: &Arc<Self>) {
        let store = &self.ctx.store;
        let path = store.audit_log().path().to_path_buf();
        if !path.exists() {
            return;
        }
        let checked = tokio::task::spawn_blocking(move || crate::audit::verify(&path)).await;
        let problem = match (checked, store.audit_anchor_problem()) {
            (Ok(Ok(_)), None) => return,
            (Ok(Ok(_)), Some(anchor)) => anchor.to_string(),
            (Ok(Err(e)), _) => e.to_string(),
            (Err(e), _) => format!("the check did not finish: {e}"),
        };
        tracing::error!("audit log chain is broken: {problem}");
        store.audit_or_log(AuditEvent::AuditChainBroken {
            problem: problem.clone(),
            file: store.audit_log().path().display().to_string(),
        });
        if self.audit_chain_problem.set(problem).is_err() {
            tracing::warn!("the audit chain was checked twice");
        }
    }

    /// Where the audit log's chain broke, if the start-up check found a break.
    pub fn audit_chain_problem(&self) -> Option<&str> {
        self.audit_chain_problem.get().map(String::as_str)
    }

    /// Resolves when the launcher begins to stop.
    /// Turns true when the launcher stops (for work that must end with it).
    pub fn stopping_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.stopping.subscribe();
        async move {
            // A closed channel means the launcher is gone: stopped as well.
            let _stopped = rx.wait_for(|v| *v).await;
        }
    }

    /// Marks the launcher as stopping: event and transcript streams end, and no
    /// signal is followed any more.
    pub fn begin_stop(&self) {
        self.stopping.send_replace(true);
        // From now on no turn that ends earns a reminder and no exit is a
        // session's end: the stop decides (`Sessions::terminate_all`).
        self.sessions.begin_stop();
    }

    /// Graceful stop: the signal loop and its tasks finish, every session is
    /// terminated (SIGTERM, then SIGKILL), the mailbox thread is joined, audit.
    pub async fn shutdown(self: &Arc<Self>) {
        self.begin_stop();
        let signal_loop = self.signal_loop.lock().unwrap().take();
        if let Some(task) = signal_loop {
            if let Err(e) = task.await {
                tracing::error!("the signal loop ended badly: {e}");
            }
        }
        self.deltas.join().await;
        self.sessions.terminate_all().await;
        // Their exits came after the signal loop ended: their work is recorded here.
        self.integrations.record_cut_off().await;
        self.mailbox.stop().await;
        // What the mailbox's last batch started (notices) is recorded too.
        self.ctx.wait_tasks().await;
        self.ctx.store.audit_or_log(AuditEvent::LauncherStopped {
            pid: std::process::id(),
        });
        let watch = self.lock_watch.lock().unwrap().take();
        if let Some(task) = watch {
            let _ = task.await;
        }
        // Last: the folder is free for the next launcher.
        self.instance.lock().unwrap().take();
    }
}

/// Queue items interrupted by a crash: one whose session was recorded has started
/// (it leaves the queue instead of starting twice); one caught starting waits again.
fn recover_queue(tx: &mut crate::store::Tx) {
    let started: HashMap<String, String> = tx
        .state()
        .sessions
        .values()
        .filter_map(|x| Some((x.department_part()?.queue_id.clone()?, x.id.clone())))
        .collect();
    let queue = std::mem::take(tx.queue_mut());
    let (kept, done) = crate::model::plan::recover_queue(queue, &started);
    for (item, sid) in done {
        crate::plans::queue::mark_assignment(
            tx,
            &item,
            crate::model::AssignmentStatus::Started,
            Some(sid.clone()),
            None,
        );
        tx.audit(AuditEvent::AssignmentStarted {
            queue_id: item.id.clone(),
            session_id: sid.clone(),
            department: item.department.clone(),
            parent_session_id: item.parent_session_id.clone(),
            recovered: true,
        });
    }
    *tx.queue_mut() = kept;
}

/// True when `pid` is still the agent of session `id` (not a reused pid).
fn runs_session(pid: u32, id: &str) -> bool {
    crate::platform::runs_session(pid, id)
}

/// Opens the state folder for this launcher: made private, locked against a
/// second launcher, planted entries set aside (and audited), its folders made.
fn open_state(
    repo: &Path,
    state_dir: PathBuf,
) -> anyhow::Result<(Paths, Store, crate::instance::InstanceLock)> {
    // The folder is made private first (a running launcher's is already).
    let tightened = crate::private_state::secure(repo, &state_dir)?;
    // Nothing of a running launcher is touched: the lock comes first.
    let instance = crate::instance::lock(&state_dir)?;
    let set_aside = crate::private_state::set_aside_planted(repo, &state_dir)?;
    let paths = Paths::new(state_dir);
    for dir in [
        paths.state_dir.clone(),
        paths.prompts_dir(),
        paths.logs_dir(),
        paths.mailbox_root(),
    ] {
        crate::platform::create_private_dir(&dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    if let Err(e) = crate::instance::keep_out_of_git(repo, &paths.state_dir) {
        tracing::warn!("cannot write {}/.gitignore: {e}", paths.state_dir.display());
    }
    let store = Store::open(&paths.state_dir)?;
    report_tightened(&store, &paths.state_dir, &tightened);
    for moved in set_aside {
        eprintln!(
            "codex-governance: {} is {}, not the launcher's: moved aside to {} (the \
             launcher never writes through a link or into another's file)",
            moved.from.display(),
            moved.why,
            moved.to.display()
        );
        store.audit_or_log(AuditEvent::StateEntrySetAside {
            path: moved.from.display().to_string(),
            why: moved.why,
            moved_to: moved.to.display().to_string(),
        });
    }
    Ok((paths, store, instance))
}
