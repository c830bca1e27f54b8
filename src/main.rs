//! `codex-governance`: the command line over the library (SPEC 3).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use codex_governance::config::Config;
use codex_governance::instance::{self, InstanceError};
use codex_governance::report::{self, Mode};
use codex_governance::{audit, mailbox, repository, store, web};

#[derive(Parser)]
#[command(
    name = "codex-governance",
    version,
    about = "Govern a team of coding agents from the root of a Git repository"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the dashboard and run the launcher (the default).
    Serve(ServeArgs),
    /// Print the governance report of the repository's changes.
    Report(ReportArgs),
    /// Department mailbox tools.
    Mailbox {
        #[command(subcommand)]
        command: MailboxCommand,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Print the running launcher's dashboard URL (with its token).
    Url(LocateArgs),
    /// List the departments' worktrees; `--prune` removes the integrated ones.
    Worktrees(WorktreesArgs),
    /// Write a commented governance.yaml with the defaults (never overwrites).
    Init(LocateArgs),
    /// Try it without Codex: a scratch repository whose agents are the scripted
    /// fake agent, served on a free port.
    Demo(DemoArgs),
}

#[derive(Args)]
struct DemoArgs {
    /// Where to make the demo repository (new or empty; default: a new folder
    /// under the system's temporary folder).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The fake agent program (default: beside this binary, else on PATH).
    #[arg(long)]
    agent: Option<PathBuf>,
    /// Loopback address to bind: 127.0.0.1, ::1 or localhost.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port; 0 (the default) picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
}

#[derive(Args)]
struct LocateArgs {
    /// A folder inside the repository (default: the current folder).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// The launcher's runtime folder (default: <repository root>/.tmp).
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// A folder inside the repository; its root is served (default: the current folder).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Loopback address to bind: 127.0.0.1, ::1 or localhost.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port; 0 picks a free one.
    #[arg(long, default_value_t = 6211)]
    port: u16,
    /// Runtime folder: state, audit log, logs, mailboxes (default: <repository root>/.tmp).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Trust what this repository's governance.yaml sets (its agent command, a
    /// looser sandbox, integration without asking) for this run, without
    /// asking in the dashboard.
    #[arg(long)]
    trust_config: bool,
}

#[derive(Args)]
struct WorktreesArgs {
    #[command(flatten)]
    locate: LocateArgs,
    /// Remove the folders of applied, merged and discarded worktrees, the branches of
    /// integrated ones, and the branches of ones discarded more than
    /// launcher.keep_discarded_days ago.
    #[arg(long)]
    prune: bool,
    /// Print the list as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ReportArgs {
    /// A folder inside the repository (default: the current folder).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Index against HEAD.
    #[arg(long, conflicts_with = "base")]
    staged: bool,
    /// Tree of REF against the working tree.
    #[arg(long, value_name = "REF", allow_hyphen_values = true)]
    base: Option<String>,
    /// Print the report as JSON.
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print the report as Markdown.
    #[arg(long)]
    markdown: bool,
    /// Exit 1 when a preflight check says REVIEW.
    #[arg(long)]
    preflight: bool,
    /// The recorded work of one department session (its commit against its base).
    #[arg(long, value_name = "ID", conflicts_with_all = ["staged", "base"])]
    session: Option<String>,
    /// The launcher's runtime folder, for --session (default: <repository root>/.tmp).
    #[arg(long, requires = "session")]
    state_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum MailboxCommand {
    /// Write one department report into the mailbox, atomically.
    Send(Box<mailbox::client::send::SendArgs>),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain, and its end against the database's anchor.
    Verify {
        /// The launcher's runtime folder (default: <repository root>/.tmp).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// A folder inside the repository (default: the current folder).
        #[arg(long, default_value = ".")]
        repo: PathBuf,
    },
}

fn main() -> ExitCode {
    // Before any thread: the forge's token leaves the environment every
    // agent, terminal and helper would inherit (it stays in memory).
    codex_governance::forge::token::claim_environment();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CODEX_GOVERNANCE_LOG")
                // The file watcher's own notes (a watch on a folder that went
                // away) are not the user's business: its errors still show.
                .unwrap_or_else(|_| "warn,notify=error".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Report(args)) => run_report(args),
        Some(Command::Mailbox {
            command: MailboxCommand::Send(args),
        }) => match mailbox::client::send::send(*args) {
            Ok(done) => out(&done, ExitCode::SUCCESS),
            Err(e) => fail(&format!("{e:#}")),
        },
        Some(Command::Audit {
            command: AuditCommand::Verify { state_dir, repo },
        }) => {
            let dir = match state_dir_of(&repo, state_dir) {
                Ok(d) => d,
                Err(e) => return fail(&e),
            };
            let path = dir.join(audit::AUDIT_FILE);
            match store::verify_audit(&dir) {
                Ok(v) => out(
                    &format!(
                        "ok: {} lines, hash chain intact, ending where the database's anchor says: seq {}, hash {} ({})",
                        v.lines,
                        v.anchor.seq,
                        v.anchor.hash,
                        path.display()
                    ),
                    ExitCode::SUCCESS,
                ),
                Err(e) => out(&format!("{}: {e}", path.display()), ExitCode::from(1)),
            }
        }
        Some(Command::Url(args)) => print_url(args),
        Some(Command::Worktrees(args)) => worktrees(args),
        Some(Command::Init(args)) => init(args),
        Some(Command::Demo(args)) => demo(args),
    }
}

/// Prints to stdout; a reader that went away (`| head`) ends the output quietly.
fn out(text: &str, code: ExitCode) -> ExitCode {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => code,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => code,
        Err(e) => fail(&format!("cannot write the output: {e}")),
    }
}

/// The repository root containing `start`, or the one-line reason.
fn root_of(start: &std::path::Path) -> Result<PathBuf, String> {
    repository::discover(start).map_err(|e| e.to_string())
}

fn state_dir_of(repo: &std::path::Path, state_dir: Option<PathBuf>) -> Result<PathBuf, String> {
    match state_dir {
        Some(d) => Ok(d),
        None => Ok(root_of(repo)?.join(".tmp")),
    }
}

fn print_url(args: LocateArgs) -> ExitCode {
    // The URL carries the developer's token: an agent must not get it this way.
    if let Ok(session) = std::env::var("CODEX_GOVERNANCE_SESSION_ID") {
        eprintln!(
            "codex-governance: `url` prints the developer's token and is refused inside an agent \
             session ({session}); run it in your own shell"
        );
        return ExitCode::from(2);
    }
    let dir = match state_dir_of(&args.repo, args.state_dir) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    match instance::running(&dir) {
        Some(f) => out(&f.dashboard_url(), ExitCode::SUCCESS),
        None => {
            eprintln!(
                "codex-governance: no launcher is running for {} (start one with `codex-governance`)",
                dir.display()
            );
            ExitCode::from(1)
        }
    }
}

fn init(args: LocateArgs) -> ExitCode {
    let root = match root_of(&args.repo) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let path = root.join(codex_governance::config::CONFIG_FILE);
    if path.exists() {
        return fail(&format!("{} exists; nothing was written", path.display()));
    }
    match std::fs::write(&path, codex_governance::config::commented_defaults(&root)) {
        Ok(()) => out(
            &format!(
                "wrote {} (the built-in defaults for this repository, commented)",
                path.display()
            ),
            ExitCode::SUCCESS,
        ),
        Err(e) => fail(&format!("cannot write {}: {e}", path.display())),
    }
}

fn demo(args: DemoArgs) -> ExitCode {
    use codex_governance::demo as d;
    let made = d::find_agent(args.agent.as_deref()).and_then(|agent| {
        let dir = match args.dir {
            Some(dir) => dir,
            None => d::default_dir()?,
        };
        d::create_repo(&dir, &agent)
    });
    let repo = match made {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    eprintln!(
        "codex-governance: demo repository at {} (it stays after you stop; delete it when done)",
        repo.display()
    );
    eprintln!(
        "codex-governance: open the URL below, type any task (\"Tidy the notes\") and press Start Zhongshu: \
         the planner registers a plan, its departments each change a notes file and report, \
         and the plan finishes with its counts"
    );
    serve(ServeArgs {
        repo,
        host: args.host,
        port: args.port,
        state_dir: None,
        // The demo's configuration is the one `demo` just wrote.
        trust_config: true,
    })
}

fn fail(message: &str) -> ExitCode {
    eprintln!("codex-governance: {message}");
    ExitCode::from(2)
}

fn run_report(mut args: ReportArgs) -> ExitCode {
    args.repo = match root_of(&args.repo) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let config = match Config::load(&args.repo) {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    let mode = match (&args.base, args.staged) {
        (Some(base), _) => Mode::Base(base.clone()),
        (None, true) => Mode::Staged,
        (None, false) => Mode::Worktree,
    };
    let built = match &args.session {
        Some(id) => session_report(&args, id, &config),
        None => report::build_report(&args.repo, &config, &mode).map_err(|e| e.to_string()),
    };
    let report = match built {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let out_text = if args.json {
        serde_json::to_string_pretty(&report).expect("report serializes")
    } else if args.markdown {
        report::render_markdown(&report)
    } else {
        report::render_text(&report)
    };
    let code = if args.preflight && report.preflight_needs_review() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    out(&out_text, code)
}

/// The report of a department session's recorded work, from the state folder.
fn session_report(args: &ReportArgs, id: &str, config: &Config) -> Result<report::Report, String> {
    codex_governance::ids::check_id("--session", id)?;
    let dir = state_dir_of(&args.repo, args.state_dir.clone())?;
    let snapshot = store::load_snapshot(&dir).map_err(|e| format!("{}: {e:#}", dir.display()))?;
    let session = snapshot
        .state
        .sessions
        .get(id)
        .ok_or_else(|| format!("no session {id} in {}", dir.display()))?;
    let ws = session.workspace().ok_or_else(|| {
        format!("{id} worked in the shared working tree: run `report` without --session")
    })?;
    let commit = ws.commit.clone().ok_or_else(|| {
        format!("nothing of {id} is recorded yet: its work is recorded when it reports or exits")
    })?;
    let range = report::SessionRange {
        session_id: id.to_string(),
        base: ws.base.clone(),
        commit,
    };
    report::build_session_report(&args.repo, config, range).map_err(|e| e.to_string())
}

/// `codex-governance worktrees [--prune]`.
fn worktrees(args: WorktreesArgs) -> ExitCode {
    use codex_governance::worktrees::list;
    let root = match root_of(&args.locate.repo) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let dir = match state_dir_of(&root, args.locate.state_dir) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    if args.prune {
        let keep_days = match Config::load(&root) {
            Ok(c) => c.launcher.isolation.keep_discarded_days,
            Err(e) => return fail(&e.to_string()),
        };
        if let Err(e) = prune_worktrees(&root, &dir, keep_days) {
            return fail(&e);
        }
    }
    let snapshot = match store::load_snapshot(&dir) {
        Ok(s) => s,
        Err(e) => return fail(&format!("{}: {e:#}", dir.display())),
    };
    let listed = list::list(&snapshot.state, &root);
    if args.json {
        let text = serde_json::to_string_pretty(&listed).expect("the list serializes");
        return out(&text, ExitCode::SUCCESS);
    }
    out(&list::render(&listed), ExitCode::SUCCESS)
}

/// `worktrees --prune`: removes the folders of integrated and discarded
/// worktrees, each removal kept in the state and audited. Refused while a
/// launcher runs on the state folder (it removes them itself at each start).
fn prune_worktrees(
    root: &std::path::Path,
    dir: &std::path::Path,
    keep_days: u32,
) -> Result<(), String> {
    use codex_governance::model::AuditEvent;
    use codex_governance::worktrees::list;
    let _lock = instance::lock(dir).map_err(|e| match e {
        InstanceError::AlreadyRunning { .. } => format!(
            "a launcher runs on {}: it removes integrated worktrees itself at each start; \
             stop it to prune by hand",
            dir.display()
        ),
        other => other.to_string(),
    })?;
    let store = store::Store::open(dir).map_err(|e| format!("{}: {e:#}", dir.display()))?;
    let prunable = store.read(list::prunable);
    if prunable.is_empty() {
        eprintln!("codex-governance: no integrated worktree to prune");
    }
    for (id, ws) in prunable {
        if let Err(e) = list::prune(root, &ws) {
            eprintln!("codex-governance: {e}");
            continue;
        }
        store
            .update(|tx| {
                if let Some(w) = tx.session_mut(&id).and_then(|s| s.workspace_mut()) {
                    w.removed = true;
                }
                tx.audit(AuditEvent::WorktreeRemoved {
                    session_id: id.clone(),
                    path: ws.path.clone(),
                    reason: "pruned".into(),
                });
            })
            .map_err(|e| format!("recording the removal of {}: {e}", ws.path))?;
        eprintln!("codex-governance: removed {}", ws.path);
    }
    let branches = store.read(|s| list::prunable_branches(s, keep_days, chrono::Utc::now()));
    for (id, ws, why) in branches {
        match list::delete_branch(root, &ws) {
            Ok(true) => {}
            Ok(false) => {
                eprintln!(
                    "codex-governance: kept {} ({id}): gone, checked out, or moved on since it was recorded",
                    ws.branch
                );
                continue;
            }
            Err(e) => {
                eprintln!("codex-governance: {}: {e}", ws.branch);
                continue;
            }
        }
        store
            .update(|tx| {
                if let Some(w) = tx.session_mut(&id).and_then(|s| s.workspace_mut()) {
                    w.branch_deleted = true;
                }
                tx.audit(AuditEvent::BranchDeleted {
                    session_id: id.clone(),
                    branch: ws.branch.clone(),
                    commit: ws.commit.clone(),
                    reason: format!("pruned: {why}"),
                });
            })
            .map_err(|e| format!("recording the deletion of {}: {e}", ws.branch))?;
        eprintln!("codex-governance: deleted the branch {} ({why})", ws.branch);
    }
    Ok(())
}

fn serve(mut args: ServeArgs) -> ExitCode {
    if let Err(e) = web::loopback_ip(&args.host) {
        return fail(&e);
    }
    let root = match root_of(&args.repo) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let given = std::path::absolute(&args.repo).unwrap_or_else(|_| args.repo.clone());
    if dunce::canonicalize(&given).ok().as_ref() != Some(&root) {
        eprintln!(
            "codex-governance: serving the repository at {}",
            root.display()
        );
    }
    args.repo = root;
    let mut config = match Config::load(&args.repo) {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    match &config.source {
        Some(p) => eprintln!("codex-governance: configuration from {}", p.display()),
        None => eprintln!("codex-governance: no governance.yaml: the built-in defaults apply"),
    }
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    config.trust.granted |= args.trust_config;
    if let Some(why) = codex_governance::config_trust::TrustGate::of(&config).refusal() {
        eprintln!("codex-governance: {why}");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        let opts = web::ServeOptions {
            repo: args.repo,
            host: args.host,
            port: args.port,
            state_dir: args.state_dir,
        };
        let running = match web::serve(opts, config).await {
            Ok(r) => r,
            Err(e) => {
                let taken = e.downcast_ref::<InstanceError>().is_some_and(|i| {
                    matches!(
                        i,
                        InstanceError::AlreadyRunning { .. } | InstanceError::Locked(_)
                    )
                });
                eprintln!("codex-governance: {e:#}");
                return ExitCode::from(if taken { 1 } else { 2 });
            }
        };
        println!("codex-governance listening on {}", running.dashboard_url());
        wait_for_stop_signal().await;
        eprintln!("codex-governance: stopping (terminating sessions, saving state)");
        running.stop().await;
        ExitCode::SUCCESS
    })
}

async fn wait_for_stop_signal() {
    if let Err(e) = codex_governance::platform::stop_signal().await {
        eprintln!("codex-governance: cannot wait for the stop signal: {e}");
        std::future::pending::<()>().await;
    }
}
