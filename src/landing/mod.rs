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
//! A Cargo candidate gets a copy of the user's `target/` (the caches of
//! issue 52, [`crate::worktrees::caches`]), and where the machine makes
//! user and mount namespaces its checks see it at the user's tree's path
//! (the real tree hidden under it), so rustc's incremental caches apply and
//! `cargo test` rebuilds what the user's own next build would.
//!
//! Here: one candidate's run, blocking (callers run it off the runtime).
//! The saga (`integration::saga`) decides when a candidate is built and
//! what a verdict does.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::agents::acp::confine::Confinement;
use crate::agents::Sandbox;
use crate::context::Context;
use crate::policy::placement::NotShownThere;
use crate::worktrees::caches::seed_cargo_candidate;
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
    /// Told each command line as it starts.
    pub on_command: &'a (dyn Fn(&str) + Sync),
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
    let mut folders = Folders::new(&ctx.repo, candidate.session);
    folders.shown_at = shown_at_users_path(ctx, &codex);
    let result = folders.make(ctx, candidate.tree).map(|()| {
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
    /// The user's tree's path, where the checks see the candidate; None:
    /// they see it in its own folder.
    shown_at: Option<PathBuf>,
}

impl Folders {
    fn new(repo: &Path, session: &str) -> Folders {
        let root = landing_root(repo);
        let run = format!("{session}-{}", &crate::secret::new_token()[..12]);
        Folders {
            tree: root.join(&run),
            temp: root.join(format!("{run}.tmp")),
            shown_at: None,
        }
    }

    /// Where the checks run: the candidate as they see it.
    fn cwd(&self) -> &Path {
        self.shown_at.as_deref().unwrap_or(&self.tree)
    }

    fn make(&self, ctx: &Context, tree: &str) -> Result<(), LandingError> {
        let repo = &ctx.repo;
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
        let files = export_tree(repo, tree, &self.tree).map_err(LandingError::Candidate)?;
        let caches = ctx.config.launcher.worktree.caches;
        let incremental = self.shown_at.is_some();
        match seed_cargo_candidate(repo, &self.tree, caches, incremental, &files) {
            Ok(Some(seed)) => tracing::debug!(
                "a landing's candidate got the user's Cargo build ({} files, {} sources at \
                 the user's times)",
                seed.files,
                seed.sources_matched
            ),
            Ok(None) => {}
            // Slower, not wrong: it builds from nothing.
            Err(e) => tracing::warn!("a landing's candidate builds without caches: {e}"),
        }
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
        cwd: folders.cwd(),
        reach: &[],
        inert: &[],
        untrusted: &untrusted,
        fenced: false,
    };
    let mut env = environment(ctx, &folders.temp);
    if let Some(at) = &folders.shown_at {
        // There the tree's paths are the candidate's: nothing in it may
        // choose what Codex's sandbox loads before it holds.
        env = crate::policy::agent_env::outside_tree_resolved(
            env,
            &at.display().to_string(),
            crate::platform::real_path_text,
        );
    }
    let start = |line: &str| -> std::io::Result<std::process::Command> {
        (candidate.on_command)(line);
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
        #[cfg(target_os = "linux")]
        if let Some(at) = &folders.shown_at {
            crate::platform::mount_ns::bind(&mut cmd, &[(folders.tree.clone(), at.clone())], at)?;
        }
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

/// Whether the candidate's checks see it at the user's tree's path (the
/// rule a department's start follows, `policy::placement::at_users_path`): a
/// Cargo project the user built, caches on, namespaces, and a confiner that
/// the candidate shown there does not hide.
fn shown_at_users_path(ctx: &Context, codex: &Path) -> Option<PathBuf> {
    let repo = dunce::canonicalize(&ctx.repo).ok()?;
    let tree = repo.display().to_string();
    let place = crate::policy::placement::BuildPlace {
        caches: ctx.config.launcher.worktree.caches != crate::config::worktree_ready::Caches::Off,
        cargo_build: repo.join("Cargo.toml").is_file() && repo.join("target").is_dir(),
        exec_server_here: true,
        namespaces: crate::platform::namespaces_work()
            .map_err(NotShownThere::from)
            .and_then(|()| {
                // By its real path: a link into the tree would start the
                // candidate's file once it is shown there.
                let codex = dunce::canonicalize(codex).unwrap_or_else(|_| codex.to_path_buf());
                let codex = codex.display().to_string();
                if crate::policy::agent_env::names_path_in(&codex, &tree) {
                    Err(NotShownThere::ProgramInTree(codex))
                } else {
                    Ok(())
                }
            }),
    };
    match crate::policy::placement::at_users_path(&place) {
        Ok(true) => Some(repo),
        Ok(false) => None,
        Err(why) => {
            tracing::warn!(
                "a landing's checks cannot reuse the user's incremental caches (they run in \
                 the candidate's own folder): {why}"
            );
            None
        }
    }
}

/// What the checks may touch: the candidate and their temporary folder.
fn sandbox(ctx: &Context, folders: &Folders) -> Sandbox {
    // By its real path: a state folder reached through a link lies
    // elsewhere, and shown over the user's tree the link's own path is the
    // candidate's.
    let state =
        dunce::canonicalize(&ctx.paths.state_dir).unwrap_or_else(|_| ctx.paths.state_dir.clone());
    let mut hidden = Vec::new();
    // Shown over the user's tree, the candidate covers a state folder there
    // (a rule for it would make a folder in the candidate).
    if !folders
        .shown_at
        .as_ref()
        .is_some_and(|at| state.starts_with(at))
    {
        hidden.push(state);
    }
    if let Some(home) = std::env::var_os("HOME") {
        let home = Path::new(&home);
        hidden.extend(
            HOME_SECRETS
                .iter()
                .filter_map(|s| home.join(s).canonicalize().ok()),
        );
    }
    let worktrees = crate::worktrees::root_for(&ctx.repo);
    // Shown over the user's tree, the candidate is all the checks see there.
    let users_tree = folders.shown_at.is_none().then(|| ctx.repo.clone());
    Sandbox {
        network: ctx.config.launcher.agent.agent_network,
        hidden,
        read_only: users_tree
            .into_iter()
            .chain([worktrees])
            .filter(|p| p.is_dir())
            .collect(),
        writable: vec![folders.cwd().to_path_buf()],
        temp: Some(folders.temp.clone()),
        work_read_only: false,
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
