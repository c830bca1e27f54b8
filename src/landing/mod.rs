//! Verified landing (issue 73): the launcher runs the checks itself, on the
//! exact tree a Merge would put on the user's branch, before it lands.
//!
//! The checks come from the configuration and run over a department's code,
//! so they run as an agent would, whatever the department's backend: in
//! Codex's sandbox (`codex sandbox`, the profile an ACP agent gets,
//! [`Confinement`]), writable only in the candidate's folder and a
//! temporary folder of its own; the user's tree and the worktrees readable
//! only; the launcher's state folder, the user's local sockets and the
//! secrets in their home hidden; no network unless `launcher.agent_network`;
//! the agents' allowlisted environment. The candidate is the merge's tree
//! written out as plain files ([`export_tree`]) in a folder of its own
//! beside the worktrees, with no `.git` leading back; it goes when the run
//! ends. Where no sandbox can run, checks are refused with the reason and
//! only a Merge without checks lands.
//!
//! Here: one candidate's run, blocking (callers run it off the runtime).
//! The saga (`integration::saga`) decides when a candidate is built and
//! what a verdict does.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::agents::acp::confine::Confinement;
use crate::agents::Sandbox;
use crate::context::Context;
use crate::worktrees::export::export_tree;
use crate::worktrees::setup::{run_commands, RunIn};
use crate::worktrees::WorktreeError;

/// Names a run's folder in the environment of everything its checks run,
/// so what a crash left of them is found and ended at the next start.
const MARKER: &str = "CODEX_GOVERNANCE_LANDING";

/// The setting that limits a landing's checks.
const LIMIT: &str = "launcher.landing.timeout_seconds";

/// Files and folders in the user's home that hold keys and logins: hidden
/// from the checks (a build needs none of them).
const HOME_SECRETS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    ".docker",
    ".config/gh",
    ".config/gcloud",
    ".netrc",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".claude",
    ".claude.json",
    ".gemini",
];

/// Why a candidate's checks could not run.
#[derive(Debug, thiserror::Error)]
pub enum LandingError {
    /// No sandbox to run them in: only a Merge without checks lands.
    #[error(
        "the checks cannot run confined here ({0}): nothing landed; Merge without checks \
         lands it unverified"
    )]
    NoSandbox(String),
    /// The candidate could not be written out.
    #[error("the candidate could not be written out: {0}")]
    Candidate(#[source] WorktreeError),
}

/// One candidate's checks, run.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// What failed (the command and its exit, or the time limit); None: green.
    pub failure: Option<String>,
    /// What the checks wrote (each after `$ command`), its newest part.
    pub output: String,
    pub seconds: u64,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// A candidate to verify.
pub struct Candidate<'a> {
    /// The department whose work it carries (names its folder).
    pub session: &'a str,
    /// The tree that would land.
    pub tree: &'a str,
    pub commands: &'a [String],
    /// True once the launcher is stopping: the running check is stopped.
    pub stopping: &'a (dyn Fn() -> bool + Sync),
}

/// The Codex CLI whose sandbox runs the checks, or why there is none.
pub fn confiner(ctx: &Context) -> Result<PathBuf, LandingError> {
    if !cfg!(target_os = "linux") {
        return Err(LandingError::NoSandbox(
            "the checks' sandbox is Codex's on Linux, and this system is not Linux".into(),
        ));
    }
    let command = &ctx.config.launcher.agent.confiner;
    let program = crate::agents::codex::native::resolve(command).path;
    match crate::platform::program_path(&program).map(|p| std::path::absolute(&p).unwrap_or(p)) {
        Ok(path) if path.is_file() => Ok(path),
        Ok(path) => Err(LandingError::NoSandbox(format!(
            "no Codex CLI at {}",
            path.display()
        ))),
        Err(e) => Err(LandingError::NoSandbox(format!(
            "the Codex CLI {command}: {e}"
        ))),
    }
}

/// Writes the candidate out, runs its checks confined, and removes it.
pub fn verify(ctx: &Context, candidate: &Candidate<'_>) -> Result<Verdict, LandingError> {
    let codex = confiner(ctx)?;
    let folders = Folders::new(&ctx.repo, candidate.session);
    let result = folders.make(&ctx.repo, candidate.tree).map(|()| {
        let started = Instant::now();
        let ran = run_confined(ctx, &codex, &folders, candidate);
        Verdict {
            failure: ran.failure,
            output: ran.output,
            seconds: started.elapsed().as_secs(),
        }
    });
    folders.remove();
    result
}

/// Where one run's candidate and temporary folder are.
struct Folders {
    tree: PathBuf,
    temp: PathBuf,
}

impl Folders {
    fn new(repo: &Path, session: &str) -> Folders {
        let root = landing_root(repo);
        let run = format!("{session}-{}", &crate::secret::new_token()[..12]);
        Folders {
            tree: root.join(&run),
            temp: root.join(format!("{run}.tmp")),
        }
    }

    fn make(&self, repo: &Path, tree: &str) -> Result<(), LandingError> {
        let root = self.tree.parent().unwrap_or(&self.tree);
        // The folder of candidates goes when a run leaves it empty: another
        // run (a pull request's) may take it away between two steps here.
        let mut made = Ok(());
        for _ in 0..3 {
            made = std::fs::create_dir_all(root).and_then(|()| std::fs::create_dir(&self.temp));
            if !matches!(&made, Err(e) if e.kind() == std::io::ErrorKind::NotFound) {
                break;
            }
        }
        made.map_err(|e| LandingError::Candidate(crate::worktrees::io_error(root)(e)))?;
        export_tree(repo, tree, &self.tree).map_err(LandingError::Candidate)?;
        Ok(())
    }

    fn remove(&self) {
        for folder in [&self.tree, &self.temp] {
            if folder.exists() {
                if let Err(e) = std::fs::remove_dir_all(folder) {
                    tracing::warn!("a landing's folder stays: {}: {e}", folder.display());
                }
            }
        }
        // The folder of candidates goes once no run is left in it.
        if let Some(root) = self.tree.parent() {
            let _gone_only_when_empty = std::fs::remove_dir(root);
        }
    }
}

/// At start (one launcher per repository): candidates a crash left behind
/// go, with their folder.
pub fn clear_stale(repo: &Path) {
    let root = landing_root(repo);
    let runs: Vec<String> = std::fs::read_dir(&root)
        .map(|d| {
            d.flatten()
                .map(|e| e.path().display().to_string())
                .collect()
        })
        .unwrap_or_default();
    let ended = crate::platform::kill_marked(MARKER, &runs);
    if ended > 0 {
        tracing::info!("ended {ended} processes of checks a previous launcher left running");
    }
    if root.exists() {
        if let Err(e) = std::fs::remove_dir_all(&root) {
            tracing::warn!("landings' folder left from before: {}: {e}", root.display());
        }
    }
}

/// The folder landings' candidates are written in, beside the worktrees.
pub fn landing_root(repo: &Path) -> PathBuf {
    crate::worktrees::root_for(repo).join(".landing")
}

fn run_confined(
    ctx: &Context,
    codex: &Path,
    folders: &Folders,
    candidate: &Candidate<'_>,
) -> crate::worktrees::setup::CommandsRun {
    let sandbox = sandbox(ctx, folders);
    let untrusted: Vec<String> = [&folders.tree, &ctx.repo]
        .into_iter()
        .flat_map(|p| crate::agents::codex::project_trust::lookup_keys(p))
        .collect();
    let confinement = Confinement {
        codex,
        sandbox: &sandbox,
        cwd: &folders.tree,
        reach: &[],
        inert: &[],
        untrusted: &untrusted,
        fenced: false,
    };
    let env = environment(ctx, &folders.temp);
    let start = |line: &str| -> std::io::Result<std::process::Command> {
        let argv = confinement
            .command(&["sh".into(), "-c".into(), line.to_string()])
            .map_err(std::io::Error::other)?;
        let mut cmd = std::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .env_clear()
            .envs(env.iter().cloned())
            .env(MARKER, &folders.tree);
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        Ok(cmd)
    };
    run_commands(
        candidate.commands,
        &RunIn {
            repo: &ctx.repo,
            worktree: &folders.tree,
            session: candidate.session,
            timeout: Duration::from_secs(ctx.config.launcher.landing.timeout_seconds),
            stopping: candidate.stopping,
            env: &[],
            start: Some(&start),
            limit: LIMIT,
        },
    )
}

/// What the checks may touch: the candidate and their temporary folder.
fn sandbox(ctx: &Context, folders: &Folders) -> Sandbox {
    let mut hidden = vec![ctx.paths.state_dir.clone()];
    if let Some(home) = std::env::var_os("HOME") {
        let home = Path::new(&home);
        hidden.extend(
            HOME_SECRETS
                .iter()
                .filter_map(|s| home.join(s).canonicalize().ok()),
        );
    }
    let worktrees = crate::worktrees::root_for(&ctx.repo);
    Sandbox {
        network: ctx.config.launcher.agent.agent_network,
        hidden,
        read_only: [ctx.repo.clone(), worktrees]
            .into_iter()
            .filter(|p| p.is_dir())
            .collect(),
        writable: vec![folders.tree.clone()],
        temp: Some(folders.temp.clone()),
    }
}

/// The agents' allowlisted environment, their temporary folder the run's.
fn environment(ctx: &Context, temp: &Path) -> Vec<(String, String)> {
    let system = if cfg!(windows) {
        crate::policy::agent_env::System::Windows
    } else {
        crate::policy::agent_env::System::Unix
    };
    crate::policy::agent_env::for_agent(
        std::env::vars(),
        &ctx.config.launcher.agent.agent_env,
        system,
        vec![("TMPDIR".into(), temp.display().to_string())],
    )
}
