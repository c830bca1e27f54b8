//! Plan checks: which assignments a plan may carry and which model a session
//! gets. The HTTP API, the governance tools and the session start all choose
//! models here, so a model is checked the same way wherever it is named.

use std::collections::HashMap;

use serde::Deserialize;

use super::Refusal;
use crate::config::LauncherSettings;
use crate::model::{AgentState, Assignment, AssignmentStatus, Session, SessionKind, State};

/// An assignment as a request carries it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AssignmentInput {
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub task: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub files: Option<Vec<String>>,
    #[serde(default, alias = "verify_commands")]
    pub verify: Option<Vec<String>>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub model_reason: Option<String>,
    #[serde(default)]
    pub selected: Option<bool>,
    /// The host it works on (issue 53); None: its department's, else here.
    #[serde(default, rename = "where")]
    pub remote: Option<String>,
    /// Several attempts at it (issue 74): a number, or one agent per attempt.
    #[serde(default)]
    pub attempts: Option<super::attempts::AttemptsInput>,
    /// Which attempt it is, as the plan shows it (a plan edited before it
    /// starts keeps its attempts).
    #[serde(default)]
    pub attempt: Option<crate::model::Attempt>,
}

/// What an assignment is checked against.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Department keys an assignment may name, in the order errors list them.
    pub departments: Vec<String>,
    /// Each department's title and duty, by key.
    pub titles: HashMap<String, (String, String)>,
    pub models: Vec<String>,
    /// The model of a department that names none.
    pub default_model: String,
    /// The hosts of `launcher.remotes`, and each department's own (`where:`).
    pub hosts: Vec<String>,
    pub placements: HashMap<String, String>,
    /// Whether the backend's agents can run their commands on a host.
    pub runs_elsewhere: bool,
    /// The launcher's state folder, relative to the repository when inside it.
    pub state_folder: Option<String>,
}

/// A requested model, or the default; one outside `models` is an error.
pub fn pick_model(
    requested: Option<&str>,
    models: &[String],
    default: &str,
) -> Result<String, Refusal> {
    match requested.map(str::trim).filter(|m| !m.is_empty()) {
        None => Ok(default.to_string()),
        Some(m) if models.iter().any(|x| x == m) => Ok(m.to_string()),
        Some(m) => Err(Refusal::Invalid(format!(
            "model {m:?} is not one of {models:?}"
        ))),
    }
}

/// Checks assignment `index` (0-based); the error names it by position and department.
pub fn validate_assignment(
    rules: &Rules,
    index: usize,
    a: &AssignmentInput,
) -> Result<Assignment, Refusal> {
    let name = |msg: String| {
        Refusal::Invalid(format!(
            "assignment {} ({:?}): {msg}",
            index + 1,
            a.department
        ))
    };
    if !rules.departments.contains(&a.department) {
        return Err(name(format!(
            "unknown department; known: {}",
            rules.departments.join(", ")
        )));
    }
    if a.task.trim().is_empty() {
        return Err(name("task must not be empty".into()));
    }
    let model = pick_model(a.model.as_deref(), &rules.models, &rules.default_model)
        .map_err(|r| name(r.to_string()))?;
    for file in a.files.iter().flatten() {
        if let Some(why) = unassignable(file, rules.state_folder.as_deref()) {
            return Err(name(format!("files: {file:?} {why}")));
        }
    }
    let (title, duty) = rules
        .titles
        .get(&a.department)
        .cloned()
        .unwrap_or_else(|| (a.department.clone(), String::new()));
    let remote = placed_on(rules, a).map_err(name)?;
    Ok(Assignment {
        department: a.department.clone(),
        title,
        duty,
        task: a.task.trim().to_string(),
        model,
        files: a.files.clone().unwrap_or_default(),
        verify: a.verify.clone().unwrap_or_default(),
        reason: a.reason.clone(),
        model_reason: a.model_reason.clone(),
        scope_note: None,
        selected: a.selected.unwrap_or(true),
        status: AssignmentStatus::Proposed,
        session_id: None,
        queue_id: None,
        error: None,
        earlier_sessions: Vec::new(),
        sent_back: 0,
        review_comments: 0,
        attempt: a
            .attempt
            .clone()
            .filter(|t| t.n >= 1 && t.n <= t.of && t.of <= super::attempts::MAX_ATTEMPTS),
        remote,
    })
}

/// The host an assignment goes to (its `where:`, else its department's),
/// or why it cannot go there.
fn placed_on(rules: &Rules, a: &AssignmentInput) -> Result<Option<String>, String> {
    let remote = a
        .remote
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .or_else(|| rules.placements.get(&a.department).cloned());
    if let Some(host) = remote.as_ref().filter(|h| !rules.hosts.contains(h)) {
        return Err(match rules.hosts.is_empty() {
            true => format!("where: {host:?}, but no host is named under launcher.remotes"),
            false => format!(
                "where: {host:?} is not a host of launcher.remotes; known: {}",
                rules.hosts.join(", ")
            ),
        });
    }
    if let Some(host) = remote.as_ref().filter(|_| !rules.runs_elsewhere) {
        return Err(format!(
            "where: {host:?}, but the configured backend's agents run their commands on \
             this machine only (Codex's can run on a host)"
        ));
    }
    Ok(remote)
}

/// Why a plan's `files` entry (a path or glob) cannot be a department's
/// scope: outside the repository, Git's own folder, or the launcher's state
/// folder. None when it can.
pub fn unassignable(file: &str, state_folder: Option<&str>) -> Option<&'static str> {
    let path = file.trim();
    let bytes = path.as_bytes();
    if path.is_empty() {
        return Some("is empty");
    }
    if path.starts_with('/')
        || path.starts_with('\\')
        || path.starts_with('~')
        || (bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic())
    {
        return Some("is not a path inside the repository (it is absolute)");
    }
    let parts: Vec<&str> = path
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Some("leaves the repository (..)");
    }
    let first = parts.first().copied().unwrap_or("");
    if first.eq_ignore_ascii_case(".git") {
        return Some("is Git's own folder, which only git writes");
    }
    let state = state_folder.unwrap_or(".tmp").trim_matches('/');
    let in_state = !state.is_empty()
        && parts
            .iter()
            .take(state.split('/').count())
            .copied()
            .eq(state.split('/'));
    if in_state {
        return Some("is the launcher's state folder, which no department changes");
    }
    None
}

/// What the plan review says of an assignment's scope, once: an open scope
/// (no files, no department globs) under `launcher.scope: block`, or files
/// reaching outside the department's globs (plan files narrow a scope, never
/// widen it: what lies outside stays out of scope, and integrating it needs
/// the user's override under `block`).
pub fn scope_note(
    department: &str,
    files: &[String],
    globs: &[String],
    block: bool,
) -> Option<String> {
    if files.is_empty() && globs.is_empty() {
        return block.then(|| {
            format!(
                "open scope under launcher.scope: block: {department} may change any file \
                 (no files assigned, no department globs)"
            )
        });
    }
    if globs.is_empty() {
        return None;
    }
    // A file entry is within the globs when they match it as a path (a
    // pattern like `docs/x/*.md` is within `docs/**`; `*` is within nothing
    // narrower than `**`).
    let within = crate::glob::PatternSet::new(globs);
    let outside: Vec<&str> = files
        .iter()
        .map(|f| f.trim_start_matches("./"))
        .filter(|f| !within.is_match(f))
        .collect();
    (!outside.is_empty()).then(|| {
        let shown = match globs.len() {
            0..=4 => globs.join(", "),
            n => format!("{}, … {} more", globs[..3].join(", "), n - 3),
        };
        format!(
            "files reaching outside {department}'s scope ({shown}): {}: they stay out of its \
             scope; integrating changes there is a REVIEW finding{}",
            outside.join(", "),
            if block {
                " and needs your override (launcher.scope: block)"
            } else {
                ""
            }
        )
    })
}

/// The model a session of `kind` gets: the one asked for, checked against
/// `launcher.models`, else the role's default.
pub fn model_for(
    requested: Option<&str>,
    kind: SessionKind,
    settings: &LauncherSettings,
) -> Result<String, Refusal> {
    let default = match kind {
        SessionKind::Zhongshu => &settings.zhongshu_model,
        SessionKind::Department => &settings.department_model,
        SessionKind::Reviewer => settings
            .review
            .model
            .as_ref()
            .unwrap_or(&settings.department_model),
    };
    pick_model(requested, &settings.models, default)
}
/// The user's uncommitted files that a plan's assignments name (their
/// `files`, read with the glob rules): the departments start from the plan's
/// base commit, so they do not see these changes.
pub fn dirty_named(dirty: &[String], assignments: &[Assignment]) -> Vec<String> {
    let named: Vec<String> = assignments.iter().flat_map(|a| a.files.clone()).collect();
    if named.is_empty() {
        return Vec::new();
    }
    let set = crate::glob::PatternSet::new(&named);
    dirty.iter().filter(|d| set.is_match(d)).cloned().collect()
}

/// Whether `planner`'s plan ended and nothing of it runs: it still runs,
/// but no turn of its runs and none of its departments runs or waits in the
/// queue. Its departments' work may still wait for the user's review: what
/// is left is the user's, so it is not running work (the page's count, its
/// tile, its running time), though it may not be done yet.
pub fn plan_at_rest(state: &State, planner: &Session) -> bool {
    rests(state, planner, false)
}

/// Whether `planner` is done: its plan is at rest ([`plan_at_rest`]) and
/// none of its departments' work waits for the user's review (a send-back
/// needs its planner). Such a planner only costs (an idle agent, a terminal
/// of about 100 MB) and crowds the page: it counts as finished, keeps no
/// terminal for nobody, yields its tile and may be closed in one go. An
/// agent that reports no turns (a PTY agent) is done with its plan. A
/// planner resumed as a new session carries its predecessors' plan on:
/// their departments count as its own.
pub fn planner_finished(state: &State, planner: &Session) -> bool {
    rests(state, planner, true)
}

fn rests(state: &State, planner: &Session, review_too: bool) -> bool {
    if !planner.is_zhongshu() || !planner.is_running() {
        return false;
    }
    let plan_ended = state
        .plans
        .get(&planner.id)
        .is_some_and(|p| p.outcome.is_some());
    let turns = crate::agents::capabilities_of(&planner.agent).reports_turns;
    // Starting is not a turn: a planner suspended until Codex can start, or
    // coming back after a restart, is as done with its plan as it was.
    let in_turn = turns
        && matches!(
            planner.agent.agent_state,
            AgentState::Working | AgentState::NeedsUser
        );
    let waits_for_review = |d: &Session| {
        review_too
            && d.workspace().is_some_and(|w| {
                !w.state.is_settled() && w.state != crate::model::WorkspaceState::SentBack
            })
    };
    let lineage = lineage(state, planner);
    let works = lineage.iter().any(|id| {
        state
            .children_of(id)
            .any(|d| d.holds_slot() || waits_for_review(d))
    }) || state.queue.iter().any(|q| {
        q.parent_session_id
            .as_deref()
            .is_some_and(|p| lineage.contains(&p))
    });
    plan_ended && !in_turn && !works
}

/// The running planner that resumed `parent` (directly or through earlier
/// resumes), newest first: the one a retry of `parent`'s assignments reports to.
pub fn resumed_planner(st: &State, parent: &str) -> Option<String> {
    let descends = |z: &Session| {
        let mut from = z.zhongshu().and_then(|p| p.resumed_from_session_id.clone());
        for _ in 0..64 {
            match from {
                Some(p) if p == parent => return true,
                Some(p) => {
                    from = st
                        .sessions
                        .get(&p)
                        .and_then(|up| up.zhongshu())
                        .and_then(|up| up.resumed_from_session_id.clone());
                }
                None => return false,
            }
        }
        false
    };
    st.sessions
        .values()
        .filter(|z| z.is_zhongshu() && z.is_running() && !z.closed_by_user() && descends(z))
        .max_by(|a, b| a.started_at.cmp(&b.started_at))
        .map(|z| z.id.clone())
}

/// Who hears the answer to a question of `parent`'s department: `parent`
/// while it runs, else the planner that resumed it (None: no one runs).
pub fn answering_planner(st: &State, parent: &str) -> Option<String> {
    match st.sessions.get(parent) {
        Some(p) if p.is_running() => Some(parent.to_string()),
        _ => resumed_planner(st, parent),
    }
}

/// A planner and those it was resumed from (as a new session), newest first.
fn lineage<'a>(state: &'a State, planner: &'a Session) -> Vec<&'a str> {
    let mut ids = vec![planner.id.as_str()];
    let mut from = planner
        .zhongshu()
        .and_then(|z| z.resumed_from_session_id.as_deref());
    while let Some(id) = from.filter(|id| !ids.contains(id)) {
        ids.push(id);
        from = state
            .sessions
            .get(id)
            .and_then(|s| s.zhongshu())
            .and_then(|z| z.resumed_from_session_id.as_deref());
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 49 item 9: "Resumed zhongshu-2 as zhongshu-3", and zhongshu-3
    /// was "done with its plan" while zhongshu-2's departments waited for
    /// review. A resumed planner's predecessors' work is its own.
    #[test]
    fn a_resumed_planner_is_not_finished_while_its_predecessors_work_waits() {
        let planner = |id: &str, from: Option<&str>| -> Session {
            serde_json::from_value(serde_json::json!({
                "id": id, "session_kind": "zhongshu", "role": "planner", "title": "t",
                "model": "m", "task": "x", "pid": 1, "status": "running", "exit_code": null,
                "started_at": "s", "ended_at": null, "prompt_path": "", "log_path": "",
                "resumed_from_session_id": from,
            }))
            .unwrap()
        };
        let mut state = State::default();
        let old = planner("zhongshu-2", None).ended_for_test(0, None);
        let new = planner("zhongshu-3", Some("zhongshu-2"));
        let mut d = Session::sample_department("lingyubu-1").ended_for_test(0, None);
        if let Some(dep) = d.department_mut() {
            dep.parent_session_id = Some("zhongshu-2".into());
        }
        let plan: crate::model::Plan = serde_json::from_value(serde_json::json!({
            "session_id": "zhongshu-3", "revision": 1, "summary": "s", "assignments": [],
            "needs_confirmation": false, "status": "dispatched", "registered_at": "t",
            "outcome": {"assignments": 1, "reported": 1, "failed": 0, "no_report": 0, "stopped": 0},
        }))
        .unwrap();
        state.plans.insert("zhongshu-3".into(), plan);
        for s in [old, new.clone()] {
            state.sessions.insert(s.id.clone(), s);
        }
        state.sessions.insert(d.id.clone(), d.clone());
        assert!(
            planner_finished(&state, &new),
            "nothing of its lineage waits"
        );
        if let Some(dep) = d.department_mut() {
            let pending = serde_json::json!({"path": "p", "branch": "b", "base": "c",
                                             "name": "n", "state": "pending"});
            dep.workspace = Some(serde_json::from_value(pending).unwrap());
        }
        state.sessions.insert(d.id.clone(), d);
        assert!(
            !planner_finished(&state, &new),
            "its predecessor's department waits for review"
        );
        // Walk 6 of issue 49: not done, but not running work either.
        assert!(
            plan_at_rest(&state, &new),
            "what is left is the user's review"
        );
    }

    /// Walk 3 of issue 49: a start without Codex suspends every session; a
    /// planner whose plan had finished then counted as running again ("3
    /// planners running") and its "Close finished planner" item went away.
    /// Waiting to resume is not a turn.
    #[test]
    fn a_suspended_planner_whose_plan_finished_is_still_finished() {
        let suspended: Session = serde_json::from_value(serde_json::json!({
            "id": "zhongshu-1", "session_kind": "zhongshu", "role": "planner", "title": "t",
            "model": "m", "task": "x", "pid": null, "status": "running", "exit_code": null,
            "started_at": "s", "ended_at": null, "prompt_path": "", "log_path": "",
            "backend": "codex", "agent_state": "starting", "thread_id": "th",
            "attention": {"kind": "backend", "text": "Codex is not installed"},
        }))
        .unwrap();
        assert!(crate::agents::capabilities_of(&suspended.agent).reports_turns);
        let mut state = State::default();
        let plan: crate::model::Plan = serde_json::from_value(serde_json::json!({
            "session_id": "zhongshu-1", "revision": 1, "summary": "s", "assignments": [],
            "needs_confirmation": false, "status": "finished", "registered_at": "t",
            "outcome": {"assignments": 1, "reported": 1, "failed": 0, "no_report": 0, "stopped": 0},
        }))
        .unwrap();
        state.plans.insert("zhongshu-1".into(), plan);
        state
            .sessions
            .insert(suspended.id.clone(), suspended.clone());
        assert!(planner_finished(&state, &suspended));
        let mut working = suspended;
        working.agent.agent_state = AgentState::Working;
        working.agent.attention = None;
        assert!(!planner_finished(&state, &working), "in a turn");
    }

    fn rules() -> Rules {
        Rules {
            departments: vec!["lingyubu".into(), "menxia".into()],
            titles: HashMap::from([(
                "lingyubu".to_string(),
                ("领域部".to_string(), "domain code".to_string()),
            )]),
            models: vec!["gpt-5.5".into(), "gpt-5.4".into()],
            default_model: "gpt-5.4".into(),
            hosts: vec!["gpu1".into()],
            placements: HashMap::from([("lingyubu".to_string(), "gpu1".to_string())]),
            runs_elsewhere: true,
            state_folder: Some(".tmp".into()),
        }
    }

    /// Issue 69 item 8: a plan cannot assign what no department may change.
    #[test]
    fn files_outside_the_repository_or_in_git_or_the_state_folder_are_refused() {
        for (file, why) in [
            (".tmp/**", "state folder"),
            ("./.tmp/launcher.json", "state folder"),
            (".git/**", "Git's own folder"),
            (".GIT/config", "Git's own folder"),
            ("../outside/**", "leaves the repository"),
            ("src/../../x", "leaves the repository"),
            ("/etc/passwd", "absolute"),
            ("C:/Windows", "absolute"),
            ("~/.ssh/id_ed25519", "absolute"),
        ] {
            let mut a = input("menxia", "t");
            a.files = Some(vec!["src/lib.rs".into(), file.into()]);
            let refused = validate_assignment(&rules(), 0, &a)
                .unwrap_err()
                .to_string();
            assert!(
                refused.starts_with("assignment 1 (\"menxia\"): files: ") && refused.contains(why),
                "{file}: {refused}"
            );
        }
        for fine in [
            "src/**",
            "./docs/",
            ".github/workflows/ci.yml",
            ".tmpfile",
            "a/.tmp/x",
        ] {
            assert_eq!(unassignable(fine, Some(".tmp")), None, "{fine}");
        }
        assert!(unassignable("state/x", Some("state")).is_some());
    }

    #[test]
    fn an_assignment_works_where_it_says_else_where_its_department_does() {
        let placed = validate_assignment(&rules(), 0, &input("lingyubu", "t")).unwrap();
        assert_eq!(placed.remote.as_deref(), Some("gpu1"));
        let here = validate_assignment(&rules(), 0, &input("menxia", "t")).unwrap();
        assert_eq!(here.remote, None);
        let mut elsewhere = input("menxia", "t");
        elsewhere.remote = Some("gpu2".into());
        let refused = validate_assignment(&rules(), 0, &elsewhere).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "assignment 1 (\"menxia\"): where: \"gpu2\" is not a host of launcher.remotes; \
             known: gpu1"
        );
    }

    #[test]
    fn a_backend_whose_agents_run_here_only_places_nothing_on_a_host() {
        let here_only = Rules {
            runs_elsewhere: false,
            ..rules()
        };
        let refused = validate_assignment(&here_only, 0, &input("lingyubu", "t")).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "assignment 1 (\"lingyubu\"): where: \"gpu1\", but the configured backend's agents \
             run their commands on this machine only (Codex's can run on a host)"
        );
        let here = validate_assignment(&here_only, 0, &input("menxia", "t")).unwrap();
        assert_eq!(here.remote, None, "a department placed nowhere starts here");
    }

    fn input(department: &str, task: &str) -> AssignmentInput {
        AssignmentInput {
            department: department.into(),
            task: task.into(),
            ..Default::default()
        }
    }

    #[test]
    fn assignments_are_checked_and_named() {
        let ok = validate_assignment(&rules(), 0, &input("lingyubu", "  do it  ")).unwrap();
        assert_eq!(ok.task, "do it");
        assert_eq!(
            (ok.title.as_str(), ok.duty.as_str()),
            ("领域部", "domain code")
        );
        assert_eq!(ok.model, "gpt-5.4");
        assert!(ok.selected);
        let e = validate_assignment(&rules(), 2, &input("nope", "t")).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "assignment 3 (\"nope\"): unknown department; known: lingyubu, menxia"
            ),
            "{e}"
        );
        let e = validate_assignment(&rules(), 0, &input("lingyubu", " ")).unwrap_err();
        assert!(e.to_string().contains("task must not be empty"), "{e}");
        let mut bad_model = input("lingyubu", "t");
        bad_model.model = Some("gpt-1".into());
        let e = validate_assignment(&rules(), 0, &bad_model).unwrap_err();
        assert!(
            e.to_string().contains("model \"gpt-1\" is not one of"),
            "{e}"
        );
        assert_eq!(
            pick_model(Some(" gpt-5.5 "), &rules().models, "x").unwrap(),
            "gpt-5.5"
        );
    }

    #[test]
    fn the_plan_review_names_an_open_scope_under_block_and_files_outside_the_globs() {
        let globs = vec![
            "docs/**".to_string(),
            "README.md".to_string(),
            "**/README.md".to_string(),
        ];
        assert!(scope_note("zhilibu", &[], &[], true)
            .unwrap()
            .starts_with("open scope under launcher.scope: block"));
        assert_eq!(scope_note("zhilibu", &[], &[], false), None);
        assert_eq!(
            scope_note("zhilibu", &["docs/a.md".into()], &globs, true),
            None
        );
        let wide = scope_note(
            "zhilibu",
            &["*".into(), "tools/deploy.sh".into(), "docs/x/*.md".into()],
            &globs,
            true,
        )
        .unwrap();
        assert!(
            wide.contains(
                "outside zhilibu's scope (docs/**, README.md, **/README.md): *, tools/deploy.sh:"
            ) && wide.ends_with("needs your override (launcher.scope: block)"),
            "{wide}"
        );
    }

    #[test]
    fn only_dirty_files_the_plan_names_are_reported() {
        let mut a = validate_assignment(&rules(), 0, &input("lingyubu", "t")).unwrap();
        a.files = vec!["src/lib.rs".into(), "docs/".into()];
        let dirty = vec![
            "src/lib.rs".to_string(),
            "src/main.rs".to_string(),
            "docs/a.md".to_string(),
        ];
        assert_eq!(
            dirty_named(&dirty, std::slice::from_ref(&a)),
            ["src/lib.rs", "docs/a.md"]
        );
        a.files.clear();
        assert!(dirty_named(&dirty, &[a]).is_empty());
    }
}
