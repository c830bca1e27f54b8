//! The governance report: what a commit would change, and who should look at it.
//!
//! Before committing, the planner (Zhongshu) and the reviewer (Menxia) need one view
//! of the change: which files route to which department, which risk rules fire,
//! which checks to run, and whether the governance docs stay portable. The report is
//! built from Git (read-only, through `git2`) and the configuration, and is the same
//! data for `codex-governance report` (text, Markdown, JSON) and `GET /api/report`.
//!
//! - [`changes`]: changed paths for each [`Mode`];
//! - [`routing`]: department globs and risk rules (a rule of [`crate::policy`]);
//! - [`preflight`]: the portability scan of governance Markdown;
//! - [`render`]: text and Markdown output;
//! - `index_file`: the index read as Git reads it;
//! - `workdir`: the working tree's side of `worktree`, read on several threads.

pub mod changes;
mod index_file;
pub mod preflight;
pub mod render;
mod workdir;
pub use crate::policy::routing;

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::Config;
pub use preflight::{Classification, Decision, Finding, PatternKind, PortabilityScan};
pub use render::{render_markdown, render_text};
pub use routing::{route_path, Risk, Router};

/// Which changes the report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Staged, unstaged and untracked changes (the default).
    Worktree,
    /// The index against HEAD.
    Staged,
    /// The tree of a revision against the working tree.
    Base(String),
    /// One department's recorded work: its commit against its base commit.
    Session(SessionRange),
}

/// What `report --session` covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRange {
    pub session_id: String,
    pub base: String,
    pub commit: String,
}

/// The mode's name, as it appears in the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModeName {
    Worktree,
    Staged,
    Base,
    Session,
}

impl ModeName {
    pub fn as_str(self) -> &'static str {
        match self {
            ModeName::Worktree => "worktree",
            ModeName::Staged => "staged",
            ModeName::Base => "base",
            ModeName::Session => "session",
        }
    }
}

impl Mode {
    /// Reads `mode`/`base` as the CLI and `GET /api/report?mode=&base=` give them;
    /// empty strings count as absent, and a base alone means base mode.
    pub fn parse(mode: Option<&str>, base: Option<&str>) -> Result<Mode, ReportError> {
        let mode = mode.map(str::trim).filter(|m| !m.is_empty());
        let base = base.filter(|b| !b.trim().is_empty());
        match (mode, base) {
            (None | Some("worktree"), None) => Ok(Mode::Worktree),
            (Some("staged"), None) => Ok(Mode::Staged),
            (None | Some("base"), Some(b)) => Ok(Mode::Base(b.to_string())),
            (Some("base"), None) => Err(ReportError::BadMode(
                "mode base needs a base revision".into(),
            )),
            (Some(m @ ("worktree" | "staged")), Some(_)) => Err(ReportError::BadMode(format!(
                "a base revision is only used with mode base, not {m}"
            ))),
            (Some(m), _) => Err(ReportError::BadMode(format!(
                "unknown mode {m:?} (expected worktree, staged or base)"
            ))),
        }
    }

    pub fn name(&self) -> ModeName {
        match self {
            Mode::Worktree => ModeName::Worktree,
            Mode::Staged => ModeName::Staged,
            Mode::Base(_) => ModeName::Base,
            Mode::Session(_) => ModeName::Session,
        }
    }

    pub fn base(&self) -> Option<&str> {
        match self {
            Mode::Base(b) => Some(b),
            Mode::Session(s) => Some(&s.base),
            _ => None,
        }
    }
}

/// Why no report could be built. Every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("not a Git repository: {path}{detail}")]
    NotARepo { path: String, detail: String },
    #[error("bad base {reference:?}: {reason}")]
    BadBase { reference: String, reason: String },
    #[error("bad report mode: {0}")]
    BadMode(String),
    #[error("git: {0}")]
    Git(String),
    /// The index is refused before anything reads it (see `index_file`).
    #[error("the index {path} is not read: {why}")]
    Index { path: String, why: String },
    /// `report --session`: the session's recorded work cannot be found.
    #[error("{0}")]
    NoRecordedWork(String),
}

impl From<git2::Error> for ReportError {
    fn from(e: git2::Error) -> Self {
        ReportError::Git(e.message().split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// The three provinces, always listed, so readers of the report know who does what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Province {
    pub key: String,
    pub title: String,
    pub duty: String,
}

/// A department the change touches, with its files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepartmentFiles {
    pub key: String,
    pub title: String,
    pub duty: String,
    pub files: Vec<String>,
    pub verify: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreflightChecks {
    pub portability_reference_scan: PortabilityScan,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreflightReport {
    pub checks: PreflightChecks,
}

/// The report; its JSON is the contract of SPEC section 5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub title: String,
    pub mode: ModeName,
    pub base: Option<String>,
    pub changed_count: usize,
    pub changed_paths: Vec<String>,
    pub provinces: Vec<Province>,
    pub departments: Vec<DepartmentFiles>,
    pub uncategorized: Vec<String>,
    pub risks: Vec<Risk>,
    pub verify_commands: Vec<String>,
    pub preflight: PreflightReport,
}

impl Report {
    /// Whether any preflight check asks for review (`report --preflight` exits 1).
    pub fn preflight_needs_review(&self) -> bool {
        self.preflight.checks.portability_reference_scan.decision == Decision::Review
    }
}

/// Builds the report for the repository whose working tree root is `repo`.
/// The launcher's own state folder is no change of the project and is left
/// out; its configuration file is in.
pub fn build_report(repo: &Path, config: &Config, mode: &Mode) -> Result<Report, ReportError> {
    let git = changes::open(repo)?;
    let root = git.workdir().unwrap_or(repo);
    let own = launcher_files();
    let changed = changes::changed_paths(&git, mode)?
        .into_iter()
        .filter(|p| {
            !own.iter()
                .any(|o| p == o || p.starts_with(&format!("{o}/")))
        })
        .collect();
    let scan = preflight::scan(&git, root, &config.preflight.portability_paths);
    Ok(assemble(config, &Router::new(config), mode, changed, scan))
}

/// The report of one department's recorded work (`report --session`): the
/// paths its commit changes against its base, and the preflight scan of the
/// files that commit holds (read from Git, never from its worktree, which
/// its agent may have changed since).
pub fn build_session_report(
    repo: &Path,
    config: &Config,
    range: SessionRange,
) -> Result<Report, ReportError> {
    let git = changes::open(repo)?;
    let commit = git2::Oid::from_str(&range.commit)
        .and_then(|id| git.find_commit(id))
        .map_err(|e| ReportError::BadBase {
            reference: range.commit.clone(),
            reason: e.message().to_string(),
        })?;
    let tree = commit.tree()?;
    let scan = preflight::scan_tree(&git, &tree, &config.preflight.portability_paths)?;
    let mode = Mode::Session(range);
    let changed = changes::changed_paths(&git, &mode)?;
    Ok(assemble(config, &Router::new(config), &mode, changed, scan))
}

/// The launcher's own paths in the working tree, `/`-separated: the default
/// state folder. The configuration it loaded is governed like any file (a
/// change to the routing or risk rules is a change the report shows, routed
/// as the Python tool routed it).
fn launcher_files() -> Vec<String> {
    vec![".tmp".to_string()]
}

/// Puts a report together from changed paths (sorted, unique) and a preflight scan.
pub fn assemble(
    config: &Config,
    router: &Router,
    mode: &Mode,
    changed: Vec<String>,
    scan: PortabilityScan,
) -> Report {
    let mut files: Vec<Vec<String>> = vec![Vec::new(); config.departments.len()];
    let mut uncategorized = Vec::new();
    let mut risks = Vec::new();
    for path in &changed {
        let hits = router.route(path);
        if hits.is_empty() {
            uncategorized.push(path.clone());
        }
        for i in hits {
            files[i].push(path.clone());
        }
        risks.extend(router.risks_of(std::slice::from_ref(path)));
    }
    let departments: Vec<DepartmentFiles> = config
        .departments
        .iter()
        .zip(files)
        .filter(|(_, files)| !files.is_empty())
        .map(|(d, files)| DepartmentFiles {
            key: d.key.clone(),
            title: d.title.clone(),
            duty: d.duty.clone(),
            files,
            verify: d.verify.clone(),
        })
        .collect();
    let verify_commands: BTreeSet<&String> = departments
        .iter()
        .flat_map(|d| &d.verify)
        .filter(|v| !v.trim().is_empty())
        .collect();
    let session = match mode {
        Mode::Session(s) => format!(" · department session {}", s.session_id),
        _ => String::new(),
    };
    Report {
        title: format!(
            "Governance report: {}{session}",
            config.launcher.project_name
        ),
        mode: mode.name(),
        base: mode.base().map(str::to_string),
        changed_count: changed.len(),
        provinces: provinces(),
        verify_commands: verify_commands.into_iter().cloned().collect(),
        departments,
        uncategorized,
        risks,
        changed_paths: changed,
        preflight: PreflightReport {
            checks: PreflightChecks {
                portability_reference_scan: scan,
            },
        },
    }
}

/// Zhongshu plans, Menxia reviews, Shangshu (the departments) executes.
pub fn provinces() -> Vec<Province> {
    let p = |key: &str, title: &str, duty: &str| Province {
        key: key.into(),
        title: title.into(),
        duty: duty.into(),
    };
    vec![
        p(
            "zhongshu",
            "中书省",
            "Planner: reads this report, splits the task and registers a plan of assignments.",
        ),
        p(
            "menxia",
            "门下省",
            "Review and veto: checks the departments' work and the risks below before commit.",
        ),
        p(
            "shangshu",
            "尚书省",
            "Execution: the departments below carry out the assignments and run the checks.",
        ),
    ]
}

/// The report of a department session's recorded work, from the state folder.
pub fn for_session(
    repo: &Path,
    dir: &Path,
    id: &str,
    config: &Config,
) -> Result<Report, ReportError> {
    let missing = ReportError::NoRecordedWork;
    let snapshot = crate::store::load_snapshot(dir)
        .map_err(|e| missing(format!("{}: {e:#}", dir.display())))?;
    let session = snapshot
        .state
        .sessions
        .get(id)
        .ok_or_else(|| missing(format!("no session {id} in {}", dir.display())))?;
    let ws = session.workspace().ok_or_else(|| {
        missing(format!(
            "{id} worked in the shared working tree: run `report` without --session"
        ))
    })?;
    let commit = ws.commit.clone().ok_or_else(|| {
        missing(format!(
            "nothing of {id} is recorded yet: its work is recorded when it reports or exits"
        ))
    })?;
    let range = SessionRange {
        session_id: id.to_string(),
        base: ws.base.clone(),
        commit,
    };
    build_session_report(repo, config, range)
}
