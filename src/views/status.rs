//! `GET /api/status`: the whole launcher on one page (the sessions, the
//! queue, the terminals, the configuration, the mailbox ingestion, the
//! agents, the quota), and the part of it an agent's token may see. Where
//! the Python tool named a field differently, both names are present.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::agents::{agents, AgentsView};
use super::quota::{quota, QuotaView};
use super::redact::Redact;
use super::session::{active_counts, session, SessionView};
use super::snapshot::Snapshot;
use super::terminals::{listed_terminals, TerminalView};
use crate::config::Department;
use crate::model::{IngestionHealth, QueueItem, Session, SessionKind};

pub mod family;

/// The API version the status carries.
pub const API_VERSION: u32 = 8;

/// `GET /api/status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub ok: bool,
    pub api_version: u32,
    pub repo: String,
    pub project_name: String,
    pub workflow_doc: String,
    /// The Python tool's `departments`: key -> [title, duty].
    pub departments: BTreeMap<String, (String, String)>,
    pub department_list: Vec<Department>,
    /// Every planner that runs (the Python tool's count), those done with
    /// their plan included.
    pub active_zhongshu_sessions: usize,
    /// Planners that run and are not done with their plan: what the page
    /// counts as running.
    pub planners_running: usize,
    /// Sessions suspended until their agent program can start: they run
    /// nothing, whatever slot they keep for their resume.
    pub suspended_sessions: usize,
    /// The hosts of `launcher.remotes` and where each stands (issue 53).
    pub remotes: Vec<crate::model::RemoteHost>,
    /// Planners done with their plan (`policy::plan::planner_finished`),
    /// oldest first: the page offers to close them in one go.
    pub finished_planners: Vec<String>,
    /// Files of the user's tree that hold a department's applied change and
    /// that a running plan names, each once however many plans name it.
    pub applied_files: Vec<crate::model::AppliedFile>,
    pub active_department_sessions: usize,
    pub active_terminals: usize,
    pub active_sessions_total: usize,
    pub queued_count: usize,
    pub max_department_sessions: usize,
    pub max_terminals: usize,
    pub department_queue: Vec<QueueItem>,
    /// The landing train (issue 73): Merges waiting for their turn or
    /// running their checks, in order.
    pub landing_train: Vec<super::train::TrainEntry>,
    /// The Python tool used ttyd; terminals are built in here.
    pub ttyd: Ttyd,
    pub model_choices: Vec<String>,
    pub zhongshu_model: String,
    pub department_model: String,
    pub require_plan_confirmation: bool,
    pub terminal_shells: Vec<String>,
    pub queue: Vec<QueueItem>,
    /// Absent for an agent's token: each terminal URL carries a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_terminals: Option<Vec<TerminalView>>,
    pub zhongshu_sessions: Vec<SessionView>,
    pub department_sessions: Vec<SessionView>,
    pub sessions: Vec<SessionView>,
    pub audit_seq: u64,
    pub audit_chain_problem: Option<String>,
    pub mailbox_ingestion: IngestionView,
    /// How agents run and what they can reach, in words for the dashboard.
    pub agents: AgentsView,
    /// The account's usage limits, the queue's hold, parked sessions, budgets.
    pub quota: QuotaView,
    /// What the repository's configuration sets that waits for the user's
    /// trust before any session starts; null once trusted.
    pub config_trust: Option<crate::config_trust::TrustRequest>,
    /// What the configuration loader warned about (unknown keys with the
    /// closest known one, values it ignored), each `file:line: text`.
    pub config_warnings: Vec<String>,
    /// Which `governance.yaml` is read (and which is not, when both the
    /// root's and the Python tool's installed one exist).
    pub config_file: ConfigFileView,
    /// Everything that waits for the user, newest first, with its words and
    /// actions (`views::needs_you`): the page draws these, decides nothing.
    /// None for an agent's token.
    pub needs_you: Vec<super::needs_you::NeedView>,
    /// Present for a paired phone's token only: what the phone may do, so the
    /// page offers nothing it would refuse.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneView>,
}

/// What the page on a paired phone offers (issue 54, tier 2).
#[derive(Debug, Clone, Serialize)]
pub struct PhoneView {
    pub label: String,
    pub approve_commands: bool,
    pub approve_file_changes: bool,
    pub approve_for_session: bool,
    pub confirm_plans: bool,
    pub confirm_questions: bool,
}

/// The configuration file in use, as `/api/status` says it.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigFileView {
    /// The file read; null when none exists (the built-in defaults apply).
    pub path: Option<String>,
    /// The installed file beside the root's, not read.
    pub shadowed: Option<String>,
    /// The sentence the dashboard shows when a file is not read.
    pub note: Option<String>,
    /// What was edited in the file since the launcher started, and when it
    /// applies; null while the file is as it started with.
    pub changed: Option<crate::config::changes::ConfigChange>,
}

/// The Python tool's ttyd capability, answered as "off": there is no ttyd
/// (terminals are built in). `port` is 0: no ttyd port is open.
#[derive(Debug, Clone, Serialize)]
pub struct Ttyd {
    pub enabled: bool,
    pub available: bool,
    pub port: u16,
    pub builtin_terminals: bool,
}

/// The mailbox ingestion's state as the status and `/healthz` show it.
#[derive(Debug, Clone, Serialize)]
pub struct IngestionView {
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `mailbox_ingestion` object of `/healthz` and the status.
pub fn ingestion(health: &IngestionHealth) -> IngestionView {
    let mut v = IngestionView {
        state: "idle",
        folder: None,
        seconds: None,
        since: None,
        error: None,
    };
    match health {
        IngestionHealth::Idle => {}
        IngestionHealth::Busy { folder, seconds } => {
            v.state = "busy";
            v.folder = Some(folder.clone());
            v.seconds = Some(*seconds);
        }
        IngestionHealth::Stuck {
            folder,
            seconds,
            since,
        } => {
            v.state = "stuck";
            v.folder = Some(folder.clone());
            v.seconds = Some(*seconds);
            v.since = Some(since.clone());
            v.error = Some(format!(
                "mailbox ingestion stuck on {folder} for {seconds} s: no report registers until it returns"
            ));
        }
    }
    v
}

/// `GET /api/status`: every session but those still launching.
pub fn status(snap: &Snapshot) -> StatusView {
    status_of(snap, |_| true, false)
}

/// `GET /api/status` after a change of session records alone (issue 71
/// item 1): the views of the sessions `rebuild` names, and of any `before`
/// lacks, are built again; the others are taken from `before`, the views of
/// the previous build, whose tables differ from `snap`'s in no record those
/// views read (`family::to_rebuild` says which may have moved). All else is
/// derived from `snap` as [`status`] does, so the two agree but for what
/// moves with the clock and the live agents alone in a reused view (its
/// idle time, heartbeat, preview), as of the build it comes from until the
/// next whole one. With the status, the sessions whose view differs from
/// `before`'s (built again and changed, or new): the others need no
/// serializing to be compared.
pub fn status_reusing(
    snap: &Snapshot,
    before: Vec<SessionView>,
    rebuild: &HashSet<String>,
) -> (StatusView, HashSet<String>) {
    let mut kept: HashMap<String, SessionView> = before
        .into_iter()
        .map(|v| (v.session.id.clone(), v))
        .collect();
    let mut changed = HashSet::new();
    let sessions = shown_sessions(
        snap,
        |_| true,
        |s| match kept.remove(&s.id) {
            Some(v) if !rebuild.contains(&s.id) => v,
            was => {
                let v = session(snap, s);
                if was.as_ref() != Some(&v) {
                    changed.insert(s.id.clone());
                }
                v
            }
        },
    );
    (status_from(snap, |_| true, sessions), changed)
}

/// The Python tool's ttyd, answered as off: terminals are the launcher's own.
const BUILTIN_TERMINALS: Ttyd = Ttyd {
    enabled: false,
    available: false,
    port: 0,
    builtin_terminals: true,
};

/// Which configuration file is read, what it shadows, and its edits since
/// the start.
fn config_file(snap: &Snapshot) -> ConfigFileView {
    let config = snap.config;
    ConfigFileView {
        path: config.source.as_ref().map(|p| p.display().to_string()),
        shadowed: config.shadowed.as_ref().map(|p| p.display().to_string()),
        note: config.shadow_note(),
        changed: snap.facts.config_change.as_deref().cloned(),
    }
}

/// The files the plans' applied work holds, each once.
fn applied_files(sessions: &[SessionView]) -> Vec<crate::model::AppliedFile> {
    let mut applied: Vec<crate::model::AppliedFile> = Vec::new();
    for f in sessions
        .iter()
        .filter_map(|s| s.zhongshu.as_ref())
        .flat_map(|z| &z.plan_applied_files)
    {
        if !applied.contains(f) {
            applied.push(f.clone());
        }
    }
    applied
}

/// The planners `shown` keeps that are done with their plan, oldest first.
fn finished_planners(state: &crate::model::State, shown: impl Fn(&Session) -> bool) -> Vec<String> {
    state
        .sessions
        .values()
        .filter(|s| shown(s) && crate::policy::plan::planner_finished(state, s))
        .map(|s| s.id.clone())
        .collect()
}

/// Planners that run but do nothing now: finished, their plan at rest, or
/// suspended.
fn planners_at_rest(state: &crate::model::State) -> usize {
    state
        .sessions
        .values()
        .filter(|s| {
            s.is_zhongshu()
                && (crate::policy::plan::planner_finished(state, s)
                    || crate::policy::plan::plan_at_rest(state, s)
                    || s.is_suspended())
        })
        .count()
}

/// The status with the sessions `shown` keeps (the counts stay the
/// launcher's), each as an agent's token sees it when `redacted`, and what
/// waits for the user derived from them.
fn status_of(snap: &Snapshot, shown: impl Fn(&Session) -> bool, redacted: bool) -> StatusView {
    let sessions = shown_sessions(snap, &shown, |s| {
        let mut v = session(snap, s);
        if redacted {
            v.hide_from_agents();
        }
        v
    });
    status_from(snap, shown, sessions)
}

/// The views of the sessions `shown` keeps but those still launching,
/// newest first, each as `view` makes it.
fn shown_sessions(
    snap: &Snapshot,
    shown: impl Fn(&Session) -> bool,
    view: impl FnMut(&Session) -> SessionView,
) -> Vec<SessionView> {
    snap.state
        .sessions
        .values()
        .rev()
        .filter(|s| shown(s) && !s.launching())
        .map(view)
        .collect()
}

/// The status around the session views `sessions`: the counts (the
/// launcher's), the lists, the quota and what waits for the user, derived
/// from `snap` and them.
fn status_from(
    snap: &Snapshot,
    shown: impl Fn(&Session) -> bool,
    sessions: Vec<SessionView>,
) -> StatusView {
    let state = &snap.state;
    let pick = |kind: SessionKind| -> Vec<SessionView> {
        sessions
            .iter()
            .filter(|s| s.session.session_kind() == kind)
            .cloned()
            .collect()
    };
    let (active_zhongshu, active_departments) = active_counts(state);
    let finished_planners = finished_planners(state, shown);
    let applied_files = applied_files(&sessions);
    let quota = quota(snap);
    let needs_you = super::needs_you::needs_you(&super::needs_you::Inputs {
        snap,
        sessions: &sessions,
        quota: &quota,
        queue: &state.queue,
        finished_planners: &finished_planners,
        applied_files: &applied_files,
    });
    let config = snap.config;
    let l = &config.launcher;
    let department_list = config.assignable_departments();
    StatusView {
        ok: true,
        api_version: API_VERSION,
        repo: snap.repo.display().to_string(),
        project_name: l.project_name.clone(),
        workflow_doc: l.workflow_doc.clone(),
        departments: department_list
            .iter()
            .map(|d| (d.key.clone(), (d.title.clone(), d.duty.clone())))
            .collect(),
        department_list,
        active_zhongshu_sessions: active_zhongshu,
        planners_running: active_zhongshu.saturating_sub(planners_at_rest(state)),
        finished_planners,
        suspended_sessions: state.sessions.values().filter(|s| s.is_suspended()).count(),
        remotes: snap.launcher.remotes.clone(),
        applied_files,
        active_department_sessions: active_departments,
        active_terminals: active_departments,
        active_sessions_total: active_zhongshu
            + state.sessions.values().filter(|s| s.holds_slot()).count(),
        queued_count: state.queue.len(),
        max_department_sessions: l.max_departments,
        max_terminals: l.max_departments,
        department_queue: state.queue.clone(),
        landing_train: super::train::train(state),
        ttyd: BUILTIN_TERMINALS,
        model_choices: l.models.clone(),
        zhongshu_model: l.zhongshu_model.clone(),
        department_model: l.department_model.clone(),
        require_plan_confirmation: l.require_plan_confirmation,
        terminal_shells: l.terminal_shells.clone(),
        queue: state.queue.clone(),
        browser_terminals: Some(listed_terminals(state, snap.launcher.run_started)),
        zhongshu_sessions: pick(SessionKind::Zhongshu),
        department_sessions: pick(SessionKind::Department),
        sessions,
        audit_seq: snap.launcher.audit_seq,
        audit_chain_problem: snap.launcher.audit_chain_problem.clone(),
        mailbox_ingestion: ingestion(&snap.launcher.ingestion),
        agents: agents(config, &snap.launcher.backend, snap.launcher.trust.as_ref()),
        quota,
        config_trust: snap.launcher.trust.clone(),
        config_warnings: config_warnings(snap),
        config_file: config_file(snap),
        needs_you,
        phone: None,
    }
}

/// `GET /api/status` for a paired phone's token: the user's view redacted as
/// an agent's ([`Redact`]: no terminal URL, terminal list, transcript
/// preview, typed input or planner's last message), without the trust
/// request (decided at the desk), and with
/// what `remote_decisions` lets the phone answer.
pub fn for_phone(
    snap: &Snapshot,
    label: &str,
    allowed: crate::policy::notice::RemoteDecisions,
) -> StatusView {
    use crate::policy::notice::{phone_page_may, PageAnswer};
    // Its Needs you is derived from the sessions as it sees them.
    let mut v = status_of(snap, |_| true, true);
    v.hide_from_agents();
    v.config_trust = None;
    let may = |a| phone_page_may(allowed, a).is_ok();
    v.phone = Some(PhoneView {
        label: label.to_string(),
        approve_commands: may(PageAnswer::Approval {
            accept: true,
            file_change: false,
            for_session: false,
        }),
        approve_file_changes: may(PageAnswer::Approval {
            accept: true,
            file_change: true,
            for_session: false,
        }),
        approve_for_session: may(PageAnswer::Approval {
            accept: true,
            file_change: true,
            for_session: true,
        }),
        confirm_plans: may(PageAnswer::ConfirmPlan),
        confirm_questions: may(PageAnswer::Question {
            confirm: true,
            with_note: true,
        }),
    });
    v
}

impl Redact for StatusView {
    /// What an agent's token and a paired phone's see alike: no terminal
    /// list, and every session as `SessionView::hide_from_agents` leaves it.
    fn hide_from_agents(&mut self) {
        self.browser_terminals = None;
        for list in [
            &mut self.sessions,
            &mut self.zhongshu_sessions,
            &mut self.department_sessions,
        ] {
            list.iter_mut().for_each(SessionView::hide_from_agents);
        }
    }
}

/// The configuration's warnings, each naming its file from the repository's root.
fn config_warnings(snap: &Snapshot) -> Vec<String> {
    let root = format!("{}{}", snap.repo.display(), std::path::MAIN_SEPARATOR);
    snap.config
        .warnings
        .iter()
        .map(|w| w.strip_prefix(&root).unwrap_or(w).to_string())
        .collect()
}

/// Who an agent's token speaks for: its session, and the Zhongshu whose
/// group it belongs to (itself for a Zhongshu).
pub struct AgentGroup<'a> {
    pub session_id: &'a str,
    pub zhongshu: Option<&'a str>,
}

impl AgentGroup<'_> {
    fn holds(&self, id: Option<&str>) -> bool {
        id.is_some() && id == self.zhongshu
    }

    /// Whether `s` is of this group: the agent itself, its Zhongshu, or one
    /// of that Zhongshu's departments.
    pub fn shows(&self, s: &Session) -> bool {
        s.id == self.session_id || self.holds(Some(&s.id)) || self.holds(s.parent_session_id())
    }
}

/// `GET /api/status` for an agent's token: only its own group (its Zhongshu,
/// that Zhongshu's departments and queue, and those of them the quota
/// names), without transcripts, terminal URLs (each carries a token that
/// reaches a PTY) or the terminal list. The slot counts stay the launcher's:
/// they say when a department can start.
pub fn for_agent(snap: &Snapshot, who: &AgentGroup) -> StatusView {
    let shown = |s: &Session| who.shows(s);
    let mut v = status_of(snap, shown, true);
    v.needs_you.clear();
    let visible = |id: &str| snap.state.sessions.get(id).is_some_and(shown);
    v.quota.parked.retain(|p| visible(&p.session_id));
    v.quota.budgets.retain(|b| who.holds(Some(&b.zhongshu_id)));
    if let Some(offer) = &mut v.quota.model_switch {
        offer.sessions.retain(|id| visible(id));
    }
    v.hide_from_agents();
    for queue in [&mut v.queue, &mut v.department_queue] {
        queue.retain(|q| who.holds(q.parent_session_id.as_deref()));
    }
    v.queued_count = v.queue.len();
    v.landing_train.retain(|e| visible(&e.session_id));
    v
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;
    use std::sync::Arc;

    use serde_json::{json, Value};

    use super::*;
    use crate::config::Config;
    use crate::model::{AppliedFile, Backend, Capabilities, State};
    use crate::views::{BackendFacts, Facts, LauncherFacts, Moment, PlanFiles, ReportFact};

    fn record(fields: Value) -> Session {
        let mut v = json!({
            "title": "t", "model": "m", "task": "do", "pid": 1, "exit_code": null,
            "started_at": "2026-01-01T00:00:00Z", "ended_at": null, "prompt_path": "",
        });
        v.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    /// A planner whose plan named two files the user had not committed, and
    /// its department that ended after asking a question; the transcript
    /// files are under `gone`, which does not exist.
    fn state(gone: &Path) -> State {
        let log = |id: &str| gone.join(format!("{id}.log")).display().to_string();
        let z = record(json!({
            "id": "zhongshu-1", "session_kind": "zhongshu", "role": "planner",
            "department": null, "status": "running", "log_path": log("zhongshu-1"),
            "backend": "pty", "capabilities": Capabilities::default(),
        }));
        let d = record(json!({
            "id": "lingyubu-1", "session_kind": "department", "role": "department",
            "department": "lingyubu", "status": "exited", "log_path": log("lingyubu-1"),
            "parent_session_id": "zhongshu-1", "report_status": "reported",
            "last_report_id": "r1", "backend": "pty",
            // Recorded at its start: more than a PTY backend's agents can now.
            "capabilities": Capabilities { interrupts: true, ..Capabilities::default() },
        }));
        let plan = serde_json::from_value(json!({
            "session_id": "zhongshu-1", "revision": 1, "summary": "s", "assignments": [],
            "needs_confirmation": false, "status": "dispatched", "registered_at": "t",
            "base": {"commit": "0".repeat(40), "dirty_files": ["src/a.rs", "src/b.rs"]},
        }))
        .unwrap();
        let mut state = State::default();
        state.sessions.insert(z.id.clone(), z);
        state.sessions.insert(d.id.clone(), d);
        state.plans.insert("zhongshu-1".into(), plan);
        state
    }

    /// What the launcher read per event or tick, not while building.
    fn facts() -> Facts {
        let files = PlanFiles {
            dirty: vec!["src/b.rs".into()],
            applied: vec![AppliedFile {
                path: "src/a.rs".into(),
                session_id: "lingyubu-1".into(),
            }],
        };
        let report = ReportFact {
            report_id: "r1".into(),
            needs_confirmation: true,
            question: "Ship it?".into(),
            answer: None,
        };
        Facts {
            plan_files: Arc::new(HashMap::from([("zhongshu-1".into(), files)])),
            previews: Arc::new(HashMap::from([(
                "lingyubu-1".into(),
                "the last line".into(),
            )])),
            reports: Arc::new(HashMap::from([("lingyubu-1".into(), report)])),
            unread: Arc::new(HashMap::from([("zhongshu-1".into(), 2)])),
            config_change: None,
        }
    }

    /// A status built from a snapshot whose repository, transcripts and
    /// results are nowhere shows the cached facts: a build reads no git, no
    /// file and no database (were it to, the repository that cannot be
    /// opened would make both files dirty, and the previews and the
    /// question would be empty).
    /// A snapshot of `state` in a repository that is nowhere (`gone`).
    fn snapshot<'a>(state: State, config: &'a Config, gone: &'a Path) -> Snapshot<'a> {
        Snapshot {
            state,
            config,
            repo: gone,
            mailbox_root: gone.join("mailbox"),
            live: HashMap::new(),
            facts: Arc::new(facts()),
            launcher: LauncherFacts {
                audit_seq: 7,
                audit_chain_problem: None,
                ingestion: crate::model::IngestionHealth::Idle,
                backend: BackendFacts {
                    kind: Backend::Pty,
                    capabilities: Capabilities::default(),
                    problems: vec![],
                    planner_problems: vec![],
                },
                trust: None,
                model_switch: None,
                run_started: chrono::Utc::now().fixed_offset(),
                remotes: Vec::new(),
            },
            at: Moment::now(),
        }
    }

    #[test]
    fn a_status_is_built_from_the_snapshot_alone() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let gone = dir.path().join("gone");
        let snap = snapshot(state(&gone), &config, &gone);
        let status = serde_json::to_value(status(&snap)).unwrap();
        let of = |id: &str| {
            status["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == id)
                .cloned()
                .unwrap()
        };
        let z = of("zhongshu-1");
        assert_eq!(z["plan_dirty_files"], json!(["src/b.rs"]), "{z}");
        assert_eq!(
            z["plan_applied_files"],
            json!([{"path": "src/a.rs", "session_id": "lingyubu-1"}])
        );
        assert_eq!(z["unread_result_count"], 2);
        let d = of("lingyubu-1");
        assert_eq!(d["transcript_preview"], "the last line", "{d}");
        assert_eq!(d["report_needs_confirmation"], true);
        assert_eq!(d["confirmation"]["question"], "Ship it?");
        assert_eq!(d["capabilities"]["interrupts"], true, "as recorded");
        // It can be interrupted, but it has exited: nothing to interrupt.
        assert_eq!(d["interruptible"], false, "{d}");
        assert_eq!(d["reported"], true, "{d}");
        assert_eq!(d["heartbeat_status"], "exited");
        assert_eq!(status["audit_seq"], 7);
        assert!(!gone.exists());
    }

    /// Issue 69 item 1: a paired phone's status shows no session's
    /// transcript preview or typed input, exactly as an agent's token's view
    /// of the same sessions (one redaction for both).
    #[test]
    fn a_phones_status_holds_no_transcript_nor_typed_input() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let gone = dir.path().join("gone");
        let mut state = state(&gone);
        let typed = crate::model::InputRecord {
            at: "2026-01-01T00:00:00Z".into(),
            input: "RT6-TYPED-INPUT please".into(),
        };
        for s in state.sessions.values_mut() {
            s.input_history.push(typed.clone());
        }
        let snap = snapshot(state, &config, &gone);
        let desk = serde_json::to_string(&status(&snap)).unwrap();
        assert!(desk.contains("the last line") && desk.contains("RT6-TYPED-INPUT"));
        let phone = for_phone(&snap, "my phone", Default::default());
        let text = serde_json::to_string(&phone).unwrap();
        for secret in ["the last line", "RT6-TYPED-INPUT"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let who = AgentGroup {
            session_id: "lingyubu-1",
            zhongshu: Some("zhongshu-1"),
        };
        let agent = for_agent(&snap, &who);
        let sessions = |v: &StatusView| serde_json::to_value(&v.sessions).unwrap();
        assert_eq!(sessions(&phone), sessions(&agent));
        assert!(phone.browser_terminals.is_none() && phone.config_trust.is_none());
    }

    /// Another group beside `state`'s: Zhongshu 2, its plan stopped by its
    /// budget, and its department parked until the usage limit's reset.
    fn with_another_group(mut state: State, gone: &Path) -> State {
        let log = gone.join("x.log").display().to_string();
        let z = record(json!({
            "id": "zhongshu-2", "session_kind": "zhongshu", "role": "planner",
            "department": null, "status": "running", "log_path": log, "backend": "pty",
        }));
        let mut d = record(json!({
            "id": "zhilibu-2", "session_kind": "department", "role": "department",
            "department": "zhilibu", "status": "running", "log_path": log,
            "parent_session_id": "zhongshu-2", "backend": "pty",
        }));
        d.agent.parked = Some(crate::model::Parked {
            until: 1,
            reason: "zhongshu-2's secret plan".into(),
            since: "s".into(),
            order: 1,
            known_reset: false,
            own: false,
        });
        let mut plan = state.plans["zhongshu-1"].clone();
        plan.session_id = "zhongshu-2".into();
        plan.budget_reached = Some("spent its 5 dollars".into());
        for s in [z, d] {
            state.sessions.insert(s.id.clone(), s);
        }
        state.plans.insert("zhongshu-2".into(), plan);
        state
    }

    /// The meter names the account's limit as binding for a session parked
    /// at it, never for one parked at its agent's own limit.
    #[test]
    fn only_a_session_parked_at_the_accounts_limit_makes_it_binding() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let gone = dir.path().join("gone");
        let mut state = with_another_group(state(&gone), &gone);
        state.quota.account.primary = Some(crate::model::QuotaWindow {
            used_percent: 100.0,
            window_minutes: Some(300),
            resets_at: None,
        });
        let parked = |state: &mut State, own: bool| {
            let p = state.sessions.get_mut("zhilibu-2").unwrap();
            p.agent.parked.as_mut().unwrap().own = own;
        };
        parked(&mut state, true);
        let snap = snapshot(state.clone(), &config, &gone);
        let meter = crate::views::quota::quota(&snap);
        assert_eq!(meter.limit, None, "an agent's own limit");
        assert_eq!(meter.parked.len(), 1, "it is parked all the same");
        parked(&mut state, false);
        let snap = snapshot(state, &config, &gone);
        let meter = crate::views::quota::quota(&snap);
        assert_eq!(meter.limit.as_deref(), Some("5-hour window"));
    }

    /// An agent's status shows nothing of another group: not its sessions,
    /// nor those the quota names (parked, over budget, offered a lighter
    /// model).
    #[test]
    fn an_agents_status_names_no_session_of_another_group() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let gone = dir.path().join("gone");
        let mut snap = snapshot(with_another_group(state(&gone), &gone), &config, &gone);
        snap.launcher.model_switch = Some(crate::model::SwitchOffer {
            model: "lighter".into(),
            used_percent: 91.0,
            window: "5-hour",
            sessions: vec!["zhongshu-1".into(), "zhilibu-2".into()],
        });
        let everything = serde_json::to_string(&status(&snap)).unwrap();
        assert!(
            everything.contains("zhilibu-2"),
            "the developer's: {everything}"
        );
        let who = AgentGroup {
            session_id: "lingyubu-1",
            zhongshu: Some("zhongshu-1"),
        };
        let mine = serde_json::to_value(for_agent(&snap, &who)).unwrap();
        let text = mine.to_string();
        for other in ["zhongshu-2", "zhilibu-2"] {
            assert!(!text.contains(other), "{other} in {mine:#}");
        }
        assert_eq!(
            mine["quota"]["model_switch"]["sessions"],
            json!(["zhongshu-1"])
        );
    }

    /// Issue 71 item 1: after a change of session records alone, the status
    /// built from the last build's views, those of the changed sessions'
    /// families built again, is the whole build's, field for field (at one
    /// moment: nothing here moves with the clock); built again the changed
    /// session alone, it would not be.
    #[test]
    fn a_status_built_again_in_part_is_the_whole_status() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let gone = dir.path().join("gone");
        let at = Moment::now();
        let snap_at = |state: State| {
            let mut snap = snapshot(state, &config, &gone);
            snap.at = at;
            snap
        };
        let first = with_another_group(state(&gone), &gone);
        let same = |before: &Snapshot, now: &Snapshot, last: Vec<SessionView>| {
            let ids = family::sessions_changed(&before.state, &now.state).expect("sessions alone");
            let rebuild = family::to_rebuild(&before.state, &now.state, &ids);
            let whole = serde_json::to_value(status(now)).unwrap();
            let (partial, changed) = status_reusing(now, last, &rebuild);
            assert!(changed.is_subset(&rebuild), "{changed:?}");
            let partial = serde_json::to_value(partial).unwrap();
            let views = |v: &Value| v["sessions"].as_array().unwrap().clone();
            for (p, w) in views(&partial).iter().zip(&views(&whole)) {
                assert_eq!(p, w, "{}'s view", w["id"]);
            }
            assert_eq!(partial, whole);
            (rebuild, changed)
        };
        // zhilibu-2 ends: its planner's view moves (its departments'
        // standing), and so does every planner's with a plan, one slot fewer
        // taken (`plan_auto_dispatch`).
        let before = snap_at(first.clone());
        let last = status(&before).sessions;
        let mut changed = first.clone();
        let d = changed.sessions.get_mut("zhilibu-2").unwrap();
        d.status = crate::model::SessionStatus::Exited;
        d.agent.parked = None;
        let now = snap_at(changed.clone());
        let (rebuild, moved) = same(&before, &now, last.clone());
        let want = ["zhongshu-1", "zhongshu-2", "zhilibu-2"];
        assert_eq!(rebuild, want.iter().map(|s| s.to_string()).collect());
        assert_eq!(moved, rebuild, "each of them moved");
        let alone = HashSet::from(["zhilibu-2".to_string()]);
        assert_ne!(
            serde_json::to_value(status_reusing(&now, last, &alone).0).unwrap(),
            serde_json::to_value(status(&now)).unwrap(),
            "its planner's view moved with it"
        );
        // lingyubu-1 is removed: its planner no longer lists it.
        let before = now;
        let last = status(&before).sessions;
        changed.sessions.shift_remove("lingyubu-1");
        let (rebuild, moved) = same(&before, &snap_at(changed), last);
        assert_eq!(rebuild.len(), 2, "{rebuild:?}");
        let planner = HashSet::from(["zhongshu-1".to_string()]);
        assert_eq!(moved, planner, "the removed one is shown no more");
        // Any session removed, started or ended, or asking something.
        let before = snap_at(first.clone());
        let last = status(&before).sessions;
        for id in first.sessions.keys() {
            for change in 0..3 {
                let mut changed = first.clone();
                let s = changed.sessions.get_mut(id).unwrap();
                match change {
                    0 => {
                        s.agent.attention = Some(crate::model::Attention {
                            kind: crate::model::AttentionKind::Input,
                            text: "which branch?".into(),
                        })
                    }
                    1 if s.is_running() => s.status = crate::model::SessionStatus::Exited,
                    1 => s.status = crate::model::SessionStatus::Running,
                    _ => drop(changed.sessions.shift_remove(id)),
                }
                same(&before, &snap_at(changed), last.clone());
            }
        }
    }

    /// A change of anything but session records builds every view again.
    #[test]
    fn a_change_of_a_plan_the_queue_or_the_quota_is_no_change_of_sessions_alone() {
        let gone = Path::new("/nowhere");
        let before = state(gone);
        let mut plan = before.clone();
        plan.plans.get_mut("zhongshu-1").unwrap().revision = 2;
        let mut queue = before.clone();
        queue.queue.push(
            serde_json::from_value(json!({
                "id": "q-1", "parent_session_id": "zhongshu-1", "department": "lingyubu",
                "task": "t", "model": "m", "queued_at": "t", "status": "queued",
            }))
            .unwrap(),
        );
        let mut quota = before.clone();
        quota.quota.hold = Some(crate::model::Hold {
            reason: crate::model::HoldReason::Reserve,
            until: None,
            text: "held".into(),
        });
        for now in [plan, queue, quota] {
            assert!(family::sessions_changed(&before, &now).is_none());
        }
        assert_eq!(family::sessions_changed(&before, &before), Some(vec![]));
    }

    /// Issue 49 item 9: a planner whose plan finished and of which nothing
    /// runs is finished, not running: its state says so, it holds no tile
    /// first, the page's count leaves it out and the status lists it to close.
    #[test]
    fn a_planner_done_with_its_plan_counts_as_finished_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let gone = dir.path().join("gone");
        let mut state = state(&gone);
        let before =
            serde_json::to_value(status(&snapshot(state.clone(), &config, &gone))).unwrap();
        assert_eq!(before["planners_running"], 1, "its plan goes on");
        assert_eq!(before["finished_planners"], json!([]));
        let plan = state.plans.get_mut("zhongshu-1").unwrap();
        plan.status = crate::model::PlanStatus::Finished;
        plan.outcome = Some(crate::model::PlanOutcome {
            assignments: 1,
            reported: 1,
            failed: 0,
            no_report: 0,
            stopped: 0,
        });
        let after = serde_json::to_value(status(&snapshot(state, &config, &gone))).unwrap();
        assert_eq!(
            after["active_zhongshu_sessions"], 1,
            "the Python tool's count"
        );
        assert_eq!(after["planners_running"], 0, "{after}");
        assert_eq!(after["finished_planners"], json!(["zhongshu-1"]));
        let z = &after["zhongshu_sessions"][0];
        assert_eq!(
            (&z["state"], &z["in_progress"]),
            (&json!("finished"), &json!(false)),
            "{z}"
        );
        assert_eq!(z["status"], "running", "it still runs until closed");
    }

    /// Walk 4 of issue 49: sessions suspended until Codex can start run
    /// nothing: the status counts them apart and their views say so.
    #[test]
    fn suspended_sessions_are_counted_apart_from_running_ones() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let gone = dir.path().join("gone");
        let mut state = state(&gone);
        let before =
            serde_json::to_value(status(&snapshot(state.clone(), &config, &gone))).unwrap();
        assert_eq!(
            (&before["planners_running"], &before["suspended_sessions"]),
            (&json!(1), &json!(0))
        );
        for id in ["zhongshu-1", "lingyubu-1"] {
            let record = state.sessions.get_mut(id).unwrap();
            record.agent.agent_state = crate::model::AgentState::Starting;
            record.agent.attention = Some(crate::model::Attention {
                kind: crate::model::AttentionKind::Backend,
                text: "Codex is not installed".into(),
            });
        }
        let after = serde_json::to_value(status(&snapshot(state, &config, &gone))).unwrap();
        assert_eq!(after["planners_running"], 0, "{after}");
        // The fixture's department has exited: only the planner is suspended.
        assert_eq!(after["suspended_sessions"], 1, "{after}");
        let sessions = after["department_sessions"]
            .as_array()
            .into_iter()
            .chain(after["zhongshu_sessions"].as_array())
            .flatten();
        for s in sessions {
            assert_eq!(s["suspended"], s["status"] == "running", "{s}");
        }
    }

    /// Issue 49 item 12: a planner whose turn ended without a plan waits for
    /// the user, and its view carries what it said last (its question).
    #[test]
    fn a_planner_without_a_plan_shows_what_it_said_last() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let gone = dir.path().join("gone");
        let mut state = state(&gone);
        state.plans.clear();
        let z = state.sessions.get_mut("zhongshu-1").unwrap();
        z.agent.capabilities = Some(Capabilities {
            reports_turns: true,
            ..Capabilities::default()
        });
        z.agent.agent_state = crate::model::AgentState::Working;
        z.agent.turn_count = 1;
        let live = crate::views::Live {
            last_message: Some("Which module should I look at first?".into()),
            ..Default::default()
        };
        let mut snap = snapshot(state.clone(), &config, &gone);
        snap.live.insert("zhongshu-1".into(), live.clone());
        let working = crate::views::session::by_id(&snap, "zhongshu-1").unwrap();
        assert!(
            working.awaits_reply.is_none(),
            "in its turn it asks nothing yet"
        );
        state
            .sessions
            .get_mut("zhongshu-1")
            .unwrap()
            .agent
            .agent_state = crate::model::AgentState::Idle;
        let mut snap = snapshot(state, &config, &gone);
        snap.live.insert("zhongshu-1".into(), live);
        let z = serde_json::to_value(crate::views::session::by_id(&snap, "zhongshu-1").unwrap())
            .unwrap();
        assert_eq!(
            z["awaits_reply"],
            json!({"turn": 1, "last_message": "Which module should I look at first?"}),
            "{z}"
        );
        // Walk 4 of issue 49: suspended until Codex can start, its question
        // stays in Needs you.
        let mut state = snap.state.clone();
        let record = state.sessions.get_mut("zhongshu-1").unwrap();
        record.agent.agent_state = crate::model::AgentState::Starting;
        record.agent.attention = Some(crate::model::Attention {
            kind: crate::model::AttentionKind::Backend,
            text: "Codex is not installed".into(),
        });
        let mut suspended = snapshot(state, &config, &gone);
        suspended
            .live
            .insert("zhongshu-1".into(), snap.live["zhongshu-1"].clone());
        let view = crate::views::session::by_id(&suspended, "zhongshu-1").unwrap();
        assert_eq!(
            view.awaits_reply.map(|a| a.last_message),
            Some(Some("Which module should I look at first?".into()))
        );
        // An agent's token sees no transcript: not the planner's words either.
        let who = AgentGroup {
            session_id: "lingyubu-1",
            zhongshu: Some("zhongshu-1"),
        };
        let theirs = serde_json::to_value(for_agent(&snap, &who)).unwrap();
        let z = &theirs["zhongshu_sessions"][0];
        assert_eq!(
            z["awaits_reply"],
            json!({"turn": 1, "last_message": null}),
            "{z}"
        );
    }
}
