//! Starting a session: the request is checked, the prompt written, the agent
//! started in a PTY with its own token and environment, the session recorded
//! and audited, its exit watched and its browser terminal opened.

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub mod command;
mod prompt;
pub mod prompts;
mod sandbox;
pub mod setup;
pub(crate) mod workspace;

use super::live::agent_failure;
use super::Sessions;
use crate::agents::AgentSpec;
use crate::clock;
use crate::config::Department;
use crate::context::Context;
use crate::error::{LResult, LauncherError};
use crate::ids;
use crate::model::{
    AgentInfo, AgentState, AuditEvent, DepartmentPart, KindPart, MailboxPaths, PlanStatus,
    ReportStatus, Session, SessionKind, SessionStatus, Workspace, ZhongshuPart,
};
use crate::policy::placement::{self, BuildPlace, Chosen, Facts, PlacementRefusal};
use crate::policy::start;
use crate::pty::Pty;
use crate::signals::Signal;

/// What to start.
#[derive(Debug, Clone)]
pub struct StartSpec {
    pub kind: SessionKind,
    pub task: String,
    pub model: Option<String>,
    pub department: Option<String>,
    pub parent_session_id: Option<String>,
    pub files: Vec<String>,
    pub verify: Vec<String>,
    /// A prompt to use instead of the template (resume); `{session_id}` in it
    /// becomes the new session's id.
    pub prompt_override: Option<String>,
    pub resumed_from_session_id: Option<String>,
    /// The queue item this start came from.
    pub queue_id: Option<String>,
    /// A department session whose worktree this one works on in (a send back).
    pub workspace_from: Option<String>,
    /// A conversation this session carries on (a send back of a Codex
    /// department): its thread resumes, and `text` is its next turn.
    pub continues: Option<Continuation>,
    /// The host of `launcher.remotes` a department works on (issue 53).
    pub remote: Option<String>,
    /// One of several attempts at its assignment (issue 74): its agent may
    /// be another department's.
    pub attempt: Option<crate::model::Attempt>,
    /// A reviewer of a department's recorded work (issue 75), with its
    /// prompt in `prompt_override`.
    pub reviews: Option<crate::model::ReviewerPart>,
}

/// The thread a new session resumes, and what it is told first.
#[derive(Debug, Clone)]
pub struct Continuation {
    pub thread_id: String,
    pub text: String,
}

impl StartSpec {
    /// The department key whose agent drives it ([`Session::agent_key`]).
    pub fn agent_key(&self) -> Option<&str> {
        if let Some(r) = &self.reviews {
            return Some(&r.agent_key);
        }
        self.attempt
            .as_ref()
            .and_then(|a| a.agent.as_deref())
            .or(self.department.as_deref())
    }

    pub fn zhongshu(task: String, model: Option<String>) -> StartSpec {
        StartSpec {
            kind: SessionKind::Zhongshu,
            task,
            model,
            department: None,
            parent_session_id: None,
            files: Vec::new(),
            verify: Vec::new(),
            prompt_override: None,
            resumed_from_session_id: None,
            queue_id: None,
            workspace_from: None,
            continues: None,
            remote: None,
            attempt: None,
            reviews: None,
        }
    }
}

/// A start request, checked.
#[derive(Clone)]
pub(super) struct Checked {
    pub(super) task: String,
    pub(super) model: String,
    pub(super) department: Option<Department>,
    pub(super) parent: Option<String>,
    pub(super) resumed_from: Option<String>,
    /// The department's own worktree, once made (or handed over).
    pub(super) workspace: Option<Workspace>,
    pub(super) continues: Option<Continuation>,
    /// What a reviewer reviews.
    pub(super) reviews: Option<crate::model::ReviewerPart>,
}

impl Checked {
    /// The session's title (also its Codex thread's name).
    fn title_hint(&self, id: &str) -> String {
        if let Some(r) = &self.reviews {
            return format!("Second opinion on {} · {id}", r.reviews);
        }
        match &self.department {
            Some(d) => format!("{} {} · {}", d.key, d.title, id),
            None => format!("Zhongshu 中书省 · {id}"),
        }
    }

    fn kind(&self) -> SessionKind {
        match (&self.department, &self.reviews) {
            (Some(_), _) => SessionKind::Department,
            (None, Some(_)) => SessionKind::Reviewer,
            (None, None) => SessionKind::Zhongshu,
        }
    }
}

/// Starting one session: the request checked, its id issued, its folders,
/// worktree and prompt made, its record written, its agent started into the
/// live agents, its exit watched and its terminal opened. A start that fails
/// leaves nothing behind and gives its id back.
pub struct Starter<'a> {
    sessions: &'a Arc<Sessions>,
    ctx: &'a Arc<Context>,
}

impl<'a> Starter<'a> {
    pub fn new(sessions: &'a Arc<Sessions>) -> Starter<'a> {
        Starter {
            sessions,
            ctx: &sessions.ctx,
        }
    }

    /// Starts a session now (the queue decides when departments may start).
    pub async fn start(&self, spec: StartSpec) -> LResult<Session> {
        if let Some(why) = self.sessions.trust.refusal() {
            return Err(LauncherError::Conflict(why));
        }
        let checked = self.check_start(&spec)?;
        // Zhongshu starts are serialized so the limit below cannot be overrun.
        let _zhongshu_start = match spec.kind {
            SessionKind::Zhongshu => Some(self.sessions.zhongshu_start.lock().await),
            SessionKind::Department | SessionKind::Reviewer => None,
        };
        if spec.kind == SessionKind::Zhongshu {
            self.sessions.check_zhongshu_limit()?;
        }
        let prefix = match (&checked.department, &checked.reviews) {
            (Some(d), _) => d.key.clone(),
            (None, Some(_)) => "reviewer".into(),
            (None, None) => "zhongshu".into(),
        };
        let id = self.ctx.store.update(|tx| tx.next_id(&prefix))?;
        match self.start_as(&spec, checked, &id).await {
            Ok(session) => Ok(session),
            Err(e) => {
                self.give_back_id(&id);
                Err(e)
            }
        }
    }

    /// Starts the session `id` (just issued). A failure leaves no record.
    async fn start_as(&self, spec: &StartSpec, checked: Checked, id: &str) -> LResult<Session> {
        let (spec, id) = (spec, id.to_string());
        let mailbox = self.prepare_mailbox(spec.kind, &id)?;
        let drop_folder = match spec.kind {
            SessionKind::Department => self.prepare_drop_folder(checked.parent.as_deref(), &id)?,
            SessionKind::Zhongshu | SessionKind::Reviewer => None,
        };
        let mut checked = checked;
        let place = self.choose_place(spec)?;
        let at_users_path = place == Chosen::AtUsersPath;
        let mut made =
            workspace::prepare_workspace(self.ctx, spec, &checked, &id, at_users_path).await?;
        if let Chosen::Host(name) = place {
            if let Err(e) = self.place_on_host(name, made.as_mut()).await {
                workspace::drop_workspace(self.ctx, &id, made.as_ref().map(|m| &m.workspace), spec);
                return Err(e);
            }
        }
        checked.workspace = made.as_ref().map(|m| m.workspace.clone());
        self.plan_setup(spec, &mut checked);
        let (prompt, prompt_path) = match self.write_prompt(spec, &checked, &id) {
            Ok(p) => p,
            Err(e) => {
                workspace::drop_workspace(self.ctx, &id, made.as_ref().map(|m| &m.workspace), spec);
                return Err(e);
            }
        };
        let log_path = self.ctx.paths.logs_dir().join(format!("{id}.log"));
        let backend = self.sessions.backend_for(spec.agent_key());
        let agent = AgentInfo {
            backend: backend.kind(),
            capabilities: Some(backend.capabilities()),
            ..AgentInfo::default()
        };
        let session = new_record(
            agent,
            spec,
            &checked,
            &id,
            (mailbox, drop_folder),
            &prompt_path,
            &log_path,
        );
        // Recorded before the agent starts, so an agent that calls back at once finds itself.
        let inserted = self.ctx.store.update(|tx| {
            tx.insert_session(session.clone());
            if let Some(made) = &made {
                workspace::workspace_taken(tx, &id, made, spec);
            }
        });
        if let Err(e) = inserted {
            workspace::drop_workspace(self.ctx, &id, made.as_ref().map(|m| &m.workspace), spec);
            return Err(e.into());
        }
        let waiting = setup::Waiting {
            checked,
            prompt,
            prompt_path,
            log_path,
        };
        if checked_sets_up(&waiting.checked) {
            setup::begin(self.sessions, &id, waiting);
            return Ok(self.sessions.session(&id).unwrap_or(session));
        }
        self.launch(&id, waiting, false).await?;
        Ok(self.sessions.session(&id).unwrap_or(session))
    }

    /// A new worktree with set-up commands: the agent waits for them. A
    /// host's department works in its worktree there, where the set-up does
    /// not run: its first turn says so (issue 70 item 1).
    fn plan_setup(&self, spec: &StartSpec, checked: &mut Checked) {
        let configured = !self.ctx.config.launcher.worktree.setup.is_empty();
        if !configured || spec.workspace_from.is_some() {
            return;
        }
        if let Some(ws) = checked.workspace.as_mut() {
            ws.setup = Some(crate::model::WorktreeSetup {
                state: crate::model::SetupState::Running,
                output: String::new(),
                failure: None,
            });
        }
    }

    /// Starts the agent of the recorded session `id` and shows its terminal.
    /// A failure forgets the session (a start's caller is told), or, once it
    /// was shown (`shown`: after its set-up), ends it as failed.
    pub(super) async fn launch(&self, id: &str, w: setup::Waiting, shown: bool) -> LResult<()> {
        let setup::Waiting {
            checked,
            prompt,
            prompt_path,
            log_path,
        } = w;
        let id = id.to_string();
        let kind = checked.kind();
        let title = checked.title_hint(&id);
        let terminal = self
            .spawn_agent(&checked, &id, &prompt, &prompt_path, &log_path, shown)
            .await?;
        if kind == SessionKind::Zhongshu
            && self
                .sessions
                .signals
                .send(Signal::ZhongshuStarted(id.clone()))
                .is_err()
        {
            tracing::warn!("{id} started while the launcher stops");
        }
        self.sessions
            .terminals
            .show(&id, terminal, kind == SessionKind::Zhongshu, &title)
            .await;
        Ok(())
    }

    /// Task, model, department and parent of a start request, or why not.
    fn check_start(&self, spec: &StartSpec) -> LResult<Checked> {
        let task = start::check_task(&spec.task)?;
        let model = self.sessions.pick_model(spec.model.as_deref(), spec.kind)?;
        let department = match spec.kind {
            SessionKind::Zhongshu | SessionKind::Reviewer => None,
            SessionKind::Department => {
                let key = spec.department.clone().unwrap_or_default();
                Some(self.ctx.config.department(&key).ok_or_else(|| {
                    LauncherError::BadRequest(format!("unknown department {key:?}"))
                })?)
            }
        };
        let parent = match &spec.parent_session_id {
            Some(p) => {
                ids::check_id("parent_session_id", p)?;
                let found = self
                    .ctx
                    .store
                    .read(|s| s.sessions.get(p).map(|x| x.is_zhongshu()));
                match found {
                    Some(true) => start::Parent::Zhongshu(p.clone()),
                    Some(false) => start::Parent::NotZhongshu(p.clone()),
                    None => start::Parent::Missing(p.clone()),
                }
            }
            None => start::Parent::Absent,
        };
        let parent = start::check_parent(spec.kind, parent)?;
        Ok(Checked {
            task,
            model,
            department,
            parent,
            resumed_from: spec.resumed_from_session_id.clone(),
            workspace: None,
            continues: spec.continues.clone(),
            reviews: spec.reviews.clone(),
        })
    }

    /// A Zhongshu's mailbox folders, created before it starts.
    fn prepare_mailbox(&self, kind: SessionKind, id: &str) -> LResult<Option<MailboxPaths>> {
        if kind != SessionKind::Zhongshu {
            return Ok(None);
        }
        let mb = self.ctx.paths.mailbox(id);
        for dir in [&mb.incoming, &mb.archive, &mb.rejected] {
            crate::platform::create_private_dir(dir).map_err(|e| {
                LauncherError::Internal(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        Ok(Some(mb))
    }

    /// A department's own drop folder under its Zhongshu's `incoming/`.
    /// A new session's drop folder is new: one found in its place (a link to
    /// an outside folder, say) was not made by the launcher and is refused.
    fn prepare_drop_folder(&self, parent: Option<&str>, id: &str) -> LResult<Option<PathBuf>> {
        let Some(parent) = parent else {
            return Ok(None);
        };
        let incoming = self.ctx.paths.mailbox(parent).incoming;
        let dir = incoming.join(id);
        crate::platform::create_private_dir(&incoming).map_err(|e| {
            LauncherError::Internal(format!("cannot create {}: {e}", incoming.display()))
        })?;
        crate::files::create_own_dir(&self.ctx.paths.state_dir, &dir).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                LauncherError::Conflict(format!(
                    "the drop folder {} is there already, and the launcher did not make it \
                     (a new session's is always new): move it away and start again",
                    dir.display()
                ))
            } else {
                LauncherError::Internal(format!("cannot create {}: {e}", dir.display()))
            }
        })?;
        Ok(Some(dir))
    }

    /// A start that failed gives its id back (when no later one was issued),
    /// with the files made for it: ids are spent only by sessions that start.
    fn give_back_id(&self, id: &str) {
        let paths = &self.ctx.paths;
        let _ = std::fs::remove_file(paths.logs_dir().join(format!("{id}.log")));
        let mailbox = paths.mailbox(id);
        for dir in [&mailbox.incoming, &mailbox.archive, &mailbox.rejected] {
            let _ = std::fs::remove_dir(dir);
        }
        let _ = std::fs::remove_dir(paths.mailbox_root().join(id));
        let drops = self.ctx.store.read(|s| {
            s.sessions
                .values()
                .filter(|z| z.is_zhongshu())
                .map(|z| paths.mailbox(&z.id).incoming.join(id))
                .collect::<Vec<_>>()
        });
        for dir in drops {
            let _ = std::fs::remove_dir(dir);
        }
        if let Err(e) = self.ctx.store.update(|tx| tx.release_id(id)) {
            tracing::warn!("giving back the id {id}: {e}");
        }
    }

    /// Starts the agent (with its own token where it reports over the API);
    /// records its pid with `session_started` (its terminal's, or the
    /// backend's helper process while it has none); its terminal, if it has
    /// one. A failure leaves no process, no token and no record behind.
    async fn spawn_agent(
        &self,
        c: &Checked,
        id: &str,
        prompt: &str,
        prompt_path: &Path,
        log_path: &Path,
        shown: bool,
    ) -> LResult<Option<Arc<Pty>>> {
        let session = self.sessions.require_session(id)?;
        let place = match self.agent_place(&session).await {
            Ok(p) => p,
            Err(e) => {
                self.unstarted(id, shown).await;
                return Err(e);
            }
        };
        let kind = c.kind();
        let spec = AgentSpec {
            session_id: id.to_string(),
            kind,
            title: c.title_hint(id),
            model: c.model.clone(),
            cwd: workspace::workdir(self.ctx, &session),
            prompt: prompt.to_string(),
            prompt_path: prompt_path.to_path_buf(),
            first_turn: Some(match &c.continues {
                Some(k) => k.text.clone(),
                None => spec_first_turn(c, prompt),
            }),
            env: place.env,
            log_path: log_path.to_path_buf(),
            state_dir: self.ctx.paths.state_dir.clone(),
            tools: (self.sessions.tool_specs)(kind),
            sandbox: place.sandbox,
            own_worktree: session.workspace().is_some_and(|w| !w.removed),
            resume: c.continues.as_ref().map(|k| k.thread_id.clone()),
            environment: place.environment,
        };
        let backend = self.sessions.backend_for(session.agent_key());
        let started = match backend.start(spec).await {
            Ok(started) => started,
            Err(e) => {
                self.unstarted(id, shown).await;
                return Err(agent_failure(e));
            }
        };
        let agent = started.agent;
        let pty = agent.terminal();
        let said = Said {
            pid: pty.as_ref().map(|p| p.pid()),
            thread_id: agent.thread_id().map(str::to_string),
            server_pid: agent.helper_pid(),
            capabilities: agent.capabilities(),
        };
        let recorded = self.ctx.store.update(|tx| keep_started(tx, id, c, &said));
        if let Err(e) = recorded {
            agent.stop().await;
            self.unstarted(id, shown).await;
            return Err(e.into());
        }
        self.sessions.live.adopt_agent(id, agent);
        self.sessions.follow_agent(id, started.events);
        Ok(pty)
    }
}

/// What a started agent says of itself.
struct Said {
    pid: Option<u32>,
    thread_id: Option<String>,
    server_pid: Option<u32>,
    capabilities: Option<crate::agents::Capabilities>,
}

/// Keeps what a started agent said on session `id`, with its audit line (and
/// an attempt's first start's).
fn keep_started(tx: &mut crate::store::Tx, id: &str, c: &Checked, said: &Said) {
    if let Some(x) = tx.session_mut(id) {
        x.pid = said.pid;
        x.agent.thread_id = said.thread_id.clone();
        x.agent.server_pid = said.server_pid;
        if let Some(own) = said.capabilities {
            x.agent.capabilities = Some(own);
        }
        // An agent that does not report its turns works while it runs.
        if !crate::agents::capabilities_of(&x.agent).reports_turns {
            x.agent.agent_state = AgentState::Working;
        }
    }
    tx.audit(AuditEvent::SessionStarted {
        session_id: id.to_string(),
        session_kind: c.kind(),
        department: c.department.as_ref().map(|d| d.key.clone()),
        parent_session_id: c.parent.clone(),
        model: c.model.clone(),
        pid: said.pid.or(said.server_pid).unwrap_or_default(),
        resumed_from_session_id: c.resumed_from.clone(),
        thread_id: said.thread_id.clone(),
    });
    // An attempt sent back goes on: it started once.
    let attempt = tx
        .session(id)
        .filter(|s| s.workspace().is_none_or(|w| w.predecessor.is_none()))
        .and_then(|s| s.department_part())
        .and_then(|d| d.attempt.clone());
    if let Some(a) = attempt {
        tx.audit(AuditEvent::AttemptStarted {
            session_id: id.to_string(),
            zhongshu_id: c.parent.clone(),
            group: a.group,
            n: a.n,
            of: a.of,
            agent: a.agent,
        });
    }
}

impl Starter<'_> {
    /// Where a new department works (`policy::placement::choose`): the
    /// facts are its assignment's host, its backend, `launcher.isolation`
    /// and, for the user's tree's path (issue 52), `worktree.caches`, a
    /// Cargo build of the user's and a machine that makes user and mount
    /// namespaces. Where only the machine refuses the user's path it works
    /// in its worktree's own folder, and the log says why.
    fn choose_place(&self, spec: &StartSpec) -> LResult<Chosen> {
        let backend = self.sessions.backend_for(spec.agent_key());
        let caches = self.ctx.config.launcher.worktree.caches;
        let repo = &self.ctx.repo;
        let server = backend.exec_server();
        let runs_elsewhere = backend.capabilities().runs_elsewhere;
        let facts = Facts {
            host: spec.remote.clone(),
            handed_over: spec.workspace_from.is_some(),
            own_worktree: self.ctx.config.launcher.isolation.isolation
                == crate::config::Isolation::Worktree,
            runs_elsewhere,
            build: BuildPlace {
                caches: caches != crate::config::worktree_ready::Caches::Off,
                cargo_build: repo.join("Cargo.toml").is_file() && repo.join("target").is_dir(),
                exec_server_here: runs_elsewhere && server.is_some(),
                namespaces: crate::platform::namespaces_work()
                    .map_err(Into::into)
                    .and_then(|()| match &server {
                        Some(server) => crate::placement::exec_server_outside(repo, server),
                        None => Ok(()),
                    }),
            },
        };
        let choice = placement::choose(&facts).map_err(crate::policy::Refusal::from)?;
        if let Some(why) = choice.not_at_users_path {
            tracing::warn!(
                "a department's first build cannot reuse the user's incremental caches \
                 (it builds in its worktree's own folder): {why}"
            );
        }
        Ok(choice.chosen)
    }

    /// A department placed on host `name` (its assignment's or its
    /// configuration's `where: HOST`) gets its worktree there too (issue 53):
    /// the plan's base pushed to the host's clone and a worktree added on its
    /// branch.
    async fn place_on_host(&self, name: String, made: Option<&mut workspace::Made>) -> LResult<()> {
        let Some(made) = made else {
            let refused = PlacementRefusal::NoWorktree { host: name };
            return Err(crate::policy::Refusal::from(refused).into());
        };
        self.sessions
            .placement
            .make_host_worktree(self.ctx, name.clone(), &mut made.workspace)
            .await
            .map_err(|e| match e {
                // Its host is taken out of use until its next check: it waits.
                crate::placement::HostWorktreeError::Container(_) => {
                    LauncherError::Unavailable(format!("cannot start on {name}: {e}"))
                }
                _ => LauncherError::Conflict(format!("cannot start on {name}: {e}")),
            })
    }
}

/// Whether the session waits for its worktree's set-up commands.
fn checked_sets_up(c: &Checked) -> bool {
    c.workspace
        .as_ref()
        .and_then(|w| w.setup.as_ref())
        .is_some_and(|s| s.state == crate::model::SetupState::Running)
}

impl Starter<'_> {
    /// An agent that did not start: a session not shown yet is forgotten;
    /// one shown (waiting for its set-up) ends failed, as an agent that
    /// exited at once, so its plan and "Needs you" follow it.
    async fn unstarted(&self, id: &str, shown: bool) {
        if !shown {
            self.sessions.forget_session(id);
            return;
        }
        self.sessions
            .live
            .record_exit(id, -1, Some("agent_start_failed"));
        self.sessions.live.after_exit(id).await;
    }
}

/// What a Codex session is asked first: the task (the role prompt is its
/// developer instructions); a resume prompt as it is.
fn spec_first_turn(c: &Checked, prompt: &str) -> String {
    match &c.resumed_from {
        Some(_) => prompt.to_string(),
        None => c.task.clone(),
    }
}

/// The record of a session about to start.
fn new_record(
    agent: AgentInfo,
    spec: &StartSpec,
    c: &Checked,
    id: &str,
    (mailbox, drop_folder): (Option<MailboxPaths>, Option<PathBuf>),
    prompt_path: &Path,
    log_path: &Path,
) -> Session {
    let title = c.title_hint(id);
    let zhongshu = spec.kind == SessionKind::Zhongshu;
    let role = match spec.kind {
        SessionKind::Zhongshu => "planner",
        SessionKind::Department => "department",
        SessionKind::Reviewer => "reviewer",
    };
    Session {
        id: id.to_string(),
        role: role.into(),
        department: c.department.as_ref().map(|d| d.key.clone()),
        title,
        model: c.model.clone(),
        task: c.task.clone(),
        pid: None,
        status: SessionStatus::Running,
        exit_code: None,
        started_at: clock::now_rfc3339(),
        ended_at: None,
        ended_reason: None,
        prompt_path: prompt_path.display().to_string(),
        log_path: log_path.display().to_string(),
        last_activity_at: None,
        input_history: Vec::new(),
        browser_terminal_id: None,
        kind: if let Some(r) = &c.reviews {
            KindPart::Reviewer(crate::model::ReviewerPart {
                parent_session_id: c.parent.clone(),
                ..r.clone()
            })
        } else if zhongshu {
            KindPart::Zhongshu(ZhongshuPart {
                mailbox,
                plan_status: Some(PlanStatus::None),
                auto_notification_status: None,
                resumed_from_session_id: spec.resumed_from_session_id.clone(),
            })
        } else {
            KindPart::Department(DepartmentPart {
                parent_session_id: c.parent.clone(),
                report_status: Some(ReportStatus::Pending),
                files: spec.files.clone(),
                verify: spec.verify.clone(),
                queue_id: spec.queue_id.clone(),
                drop_folder: drop_folder.map(|d| d.display().to_string()),
                workspace: c.workspace.clone().map(Box::new),
                attempt: spec.attempt.clone(),
                ..DepartmentPart::default()
            })
        },
        closing: false,
        close_reason: None,
        agent,
    }
}
