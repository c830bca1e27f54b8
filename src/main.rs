//! `codex-governance`: the command line over the library (SPEC 3).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use codex_governance::instance;
use codex_governance::{audit, mailbox, repository, store};

mod cli;
use cli::{phones::pair_phone, report::run_report, serve::serve, worktrees::worktrees};

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
    /// Print the running launcher's dashboard URL (with its token);
    /// `--new-token` replaces the token while no launcher runs.
    Url(UrlArgs),
    /// List the departments' worktrees; `--prune` removes the integrated ones.
    Worktrees(WorktreesArgs),
    /// Write a commented governance.yaml with the defaults (never beside or
    /// over an existing one; `--force` replaces the file that is read).
    Init(InitArgs),
    /// Pair a phone for the page through your tailnet (the launcher runs with
    /// --allow-host): prints its address and QR code once.
    PairPhone(PairPhoneArgs),
    /// Try it without Codex: a scratch repository whose agents are the scripted
    /// fake agent, served on a free port.
    Demo(DemoArgs),
    /// Relays an ACP agent's MCP connection (its stdio) to its session's
    /// governance tools; the launcher names it in the agent's `mcpServers`.
    #[command(hide = true)]
    McpServe {
        /// The session's socket.
        #[arg(long)]
        socket: PathBuf,
    },
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
struct InitArgs {
    #[command(flatten)]
    locate: LocateArgs,
    /// Replace the configuration file that is read (the root's, or the
    /// Python tool's installed tools/codex_governance/governance.yaml) with
    /// the defaults.
    #[arg(long)]
    force: bool,
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

#[derive(Args)]
struct UrlArgs {
    #[command(flatten)]
    locate: LocateArgs,
    /// Replace the dashboard's token (kept across restarts otherwise): tabs
    /// holding the old one stop working. Only while no launcher runs.
    #[arg(long)]
    new_token: bool,
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
    /// Also answer to this one TLS host name, for the page on a paired phone
    /// through your own `tailscale serve` (never Funnel): a phone's token only.
    #[arg(long, value_name = "NAME")]
    allow_host: Option<String>,
}

#[derive(Args)]
struct PairPhoneArgs {
    #[command(flatten)]
    locate: LocateArgs,
    /// The phone's name, as the page lists it.
    #[arg(long, default_value = "phone")]
    label: String,
}

#[derive(Args)]
struct WorktreesArgs {
    #[command(flatten)]
    locate: LocateArgs,
    /// Remove the folders of applied, merged and discarded worktrees, the branches of
    /// integrated ones, and the branches of ones discarded more than
    /// launcher.keep_discarded_days ago. While a launcher runs, it prunes them.
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
    // Before any thread: the forge's token and webhook secret leave the environment every
    // agent, terminal and helper would inherit (it stays in memory).
    codex_governance::forge::token::claim_environment();
    codex_governance::forge::webhook::claim_environment();
    codex_governance::notify::token::claim_environment();
    // The start block of the environment still holds them: /proc shows it
    // to the user's other processes (agents among them) unless hidden.
    if codex_governance::forge::token::any_claimed()
        || codex_governance::forge::webhook::secret().is_some()
        || codex_governance::notify::token::claimed()
    {
        codex_governance::platform::hide_start_environment();
    }
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        // A bare layer: `fmt()`'s own builder would cap the log at INFO
        // whatever the filter lets through.
        let output = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            // Colour codes only for a terminal: a log file or a pipe gets plain text.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
        tracing_subscriber::registry()
            .with(output)
            .with(log_filter())
            .init();
    }
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
        }) => audit_verify(&repo, state_dir),
        Some(Command::Url(args)) => print_url(args),
        Some(Command::Worktrees(args)) => worktrees(args),
        Some(Command::Init(args)) => init(args),
        Some(Command::Demo(args)) => demo(args),
        Some(Command::PairPhone(args)) => pair_phone(args),
        Some(Command::McpServe { socket }) => mcp_serve(&socket),
    }
}

/// `audit verify`: the audit log's hash chain against the database's anchor,
/// then every landing on the branch backed by its `landing_verified` line.
fn audit_verify(repo: &std::path::Path, state_dir: Option<PathBuf>) -> ExitCode {
    let dir = match state_dir_of(repo, state_dir) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    let path = dir.join(audit::AUDIT_FILE);
    let chain = match store::verify_audit(&dir) {
        Ok(v) => v,
        Err(e) => return out(&format!("{}: {e}", path.display()), ExitCode::from(1)),
    };
    let said = format!(
        "ok: {} lines, hash chain intact, ending where the database's anchor says: seq {}, hash {} ({})",
        chain.lines,
        chain.anchor.seq,
        chain.anchor.hash,
        path.display()
    );
    match audit::landings::check(repo, &path) {
        Ok(l) if l.unbacked.is_empty() => out(
            &format!(
                "{said}\nok: {} verified landings on the branch, each with its landing_verified line",
                l.verified
            ),
            ExitCode::SUCCESS,
        ),
        Ok(l) => out(
            &format!(
                "{said}\nnot ok: {} commits on the branch carry {} without a landing_verified line \
                 naming them and their tree: {}",
                l.unbacked.len(),
                audit::landings::TRAILER,
                l.unbacked.join(", ")
            ),
            ExitCode::from(1),
        ),
        Err(e) => out(&format!("{said}\nthe branch: {e}"), ExitCode::from(1)),
    }
}

/// What the launcher's own log shows: `CODEX_GOVERNANCE_LOG` (`info`, or
/// `warn,codex_governance=debug`: a level, or targets with theirs), else
/// warnings. The file watcher's own notes (a watch on a folder that went away)
/// are not the user's business: its errors still show.
fn log_filter() -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    let quiet = Targets::new()
        .with_default(LevelFilter::WARN)
        .with_target("notify", LevelFilter::ERROR);
    let Ok(given) = std::env::var("CODEX_GOVERNANCE_LOG") else {
        return quiet;
    };
    // Spaces around the parts and empty parts are not targets.
    let parts: Vec<&str> = given
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return quiet;
    }
    match parts.join(",").parse::<Targets>() {
        // Only targets named: everything else logs warnings, as without it.
        Ok(t) if t.default_level().is_none() => t.with_default(LevelFilter::WARN),
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "codex-governance: CODEX_GOVERNANCE_LOG={given:?} is not a log filter ({e}): \
                 write a level (info) or targets with levels (warn,codex_governance=debug); \
                 logging warnings"
            );
            quiet
        }
    }
}

/// `mcp-serve`: the relay, until the agent or the launcher ends it.
fn mcp_serve(socket: &std::path::Path) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start: {e}")),
    };
    match runtime.block_on(codex_governance::agents::acp::mcp::relay(socket)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("{}: {e}", socket.display())),
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

/// A command that prints a token is refused inside an agent's session.
fn refused_in_agent_session(command: &str, what: &str) -> Option<ExitCode> {
    let session = std::env::var("CODEX_GOVERNANCE_SESSION_ID").ok()?;
    eprintln!(
        "codex-governance: `{command}` prints {what} and is refused inside an agent \
         session ({session}); run it in your own shell"
    );
    Some(ExitCode::from(2))
}

fn print_url(args: UrlArgs) -> ExitCode {
    // The URL carries the developer's token: an agent must not get it this way.
    if let Some(refused) = refused_in_agent_session("url", "the developer's token") {
        return refused;
    }
    let dir = match state_dir_of(&args.locate.repo, args.locate.state_dir) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    if args.new_token {
        return rotate_token(&dir);
    }
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

/// `url --new-token`: with the state folder's lock held (no launcher runs),
/// the rotation is audited, then the new token written.
fn rotate_token(dir: &std::path::Path) -> ExitCode {
    let _lock = match instance::lock(dir) {
        Ok(l) => l,
        Err(e) => {
            return fail(&format!(
                "{e}; stop it first (its tabs stop working with the new token), then run \
                 `codex-governance url --new-token` again"
            ))
        }
    };
    let store = match codex_governance::store::Store::open(dir) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    if let Err(e) = store.update(|tx| {
        tx.audit(codex_governance::model::AuditEvent::TokenRotated {
            by: "url --new-token".into(),
        })
    }) {
        return fail(&e.to_string());
    }
    match codex_governance::dashboard_token::rotate(dir) {
        Ok(_) => out(
            "codex-governance: the dashboard's token was replaced; the next start serves \
             the new one (open the URL it prints)",
            ExitCode::SUCCESS,
        ),
        Err(e) => fail(&format!(
            "cannot write the new token in {}: {e}",
            dir.display()
        )),
    }
}

/// `init`: the defaults as a commented file. Where a configuration file is
/// read already (the root's, or the Python tool's installed one), nothing is
/// written: a root file would shadow the installed one and its rules would
/// silently stop applying. `--force` replaces the file that is read.
fn init(args: InitArgs) -> ExitCode {
    use codex_governance::config;
    let root = match root_of(&args.locate.repo) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let path = config::config_path(&root);
    if path.exists() && !args.force {
        let what = if path == config::installed_config_path(&root) {
            "the Python tool's installed configuration, which is read: a root governance.yaml \
             would shadow it and its departments and risk rules would stop applying"
        } else {
            "the configuration that is read"
        };
        return fail(&format!(
            "{} exists; nothing was written: it is {what}. `codex-governance init --force` \
             replaces it with the defaults",
            path.display()
        ));
    }
    let signs = config::python_tool_signs(&root);
    match std::fs::write(&path, config::commented_defaults(&root)) {
        Ok(()) => out(
            &format!(
                "wrote {} ({})",
                path.display(),
                match signs {
                    Some(sign) => format!("the Python tool's defaults, as it had them: {sign}"),
                    None => "the built-in defaults fitted to this repository, commented".into(),
                }
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
        d::open_or_create(&dir, &agent)
    });
    let (repo, again) = match made {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    eprintln!(
        "codex-governance: demo repository at {}{} (it stays after you stop: `demo --dir {}` \
         serves it again; delete it when done)",
        repo.display(),
        if again { ", as you left it" } else { "" },
        repo.display()
    );
    eprintln!(
        "codex-governance: open the URL below, type any task (\"Tidy the notes\") and press Start planner: \
         the planner registers a plan, its three departments each work in their own worktree \
         and report (one asks you a question, one strays outside its scope, two of them clash), \
         and Needs you ends with their changes to review, apply or merge"
    );
    // A demo served again takes its last port when it is free, so a tab
    // left open on it comes back by itself.
    let port = match (again, args.port) {
        (true, 0) => codex_governance::instance::last_port(&repo.join(".tmp"))
            .filter(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
            .unwrap_or(0),
        (_, port) => port,
    };
    serve(ServeArgs {
        repo,
        host: args.host,
        port,
        state_dir: None,
        // The demo's configuration is the one `demo` just wrote.
        trust_config: true,
        allow_host: None,
    })
}

fn fail(message: &str) -> ExitCode {
    eprintln!("codex-governance: {message}");
    ExitCode::from(2)
}
