//! `codex-governance`: the command line over the library (SPEC 3).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use codex_governance::config::Config;
use codex_governance::report::{self, Mode};
use codex_governance::{audit, mailbox, web};

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
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Repository root (default: the current folder).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Loopback address to bind: 127.0.0.1, ::1 or localhost.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port; 0 picks a free one.
    #[arg(long, default_value_t = 6211)]
    port: u16,
    /// Runtime folder (default: <repo>/.tmp).
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

#[derive(Args)]
struct ReportArgs {
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Index against HEAD.
    #[arg(long, conflicts_with = "base")]
    staged: bool,
    /// Tree of REF against the working tree.
    #[arg(long, value_name = "REF", allow_hyphen_values = true)]
    base: Option<String>,
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    #[arg(long)]
    markdown: bool,
    /// Exit 1 when a preflight check says REVIEW.
    #[arg(long)]
    preflight: bool,
}

#[derive(Subcommand)]
enum MailboxCommand {
    /// Write one department report into the mailbox, atomically.
    Send(Box<mailbox::send::SendArgs>),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain.
    Verify {
        #[arg(long)]
        state_dir: Option<PathBuf>,
        #[arg(long, default_value = ".")]
        repo: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CODEX_GOVERNANCE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Report(args)) => run_report(args),
        Some(Command::Mailbox {
            command: MailboxCommand::Send(args),
        }) => match mailbox::send::send(*args) {
            Ok(done) => {
                println!("{done}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!("{e:#}")),
        },
        Some(Command::Audit {
            command: AuditCommand::Verify { state_dir, repo },
        }) => {
            let dir = state_dir.unwrap_or_else(|| repo.join(".tmp"));
            let path = dir.join(audit::AUDIT_FILE);
            match audit::verify(&path) {
                Ok(n) => {
                    println!("ok: {n} lines, hash chain intact ({})", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("{}: {e}", path.display());
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("codex-governance: {message}");
    ExitCode::from(2)
}

fn run_report(args: ReportArgs) -> ExitCode {
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
    let report = match report::build_report(&args.repo, &config, &mode) {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    let out = if args.json {
        serde_json::to_string_pretty(&report).expect("report serializes")
    } else if args.markdown {
        report::render_markdown(&report)
    } else {
        report::render_text(&report)
    };
    println!("{out}");
    if args.preflight && report.preflight_needs_review() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    if let Err(e) = web::loopback_ip(&args.host) {
        return fail(&e);
    }
    let config = match Config::load(&args.repo) {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    for w in &config.warnings {
        eprintln!("warning: {w}");
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
            Err(e) => return fail(&format!("{e:#}")),
        };
        println!("codex-governance listening on {}", running.dashboard_url());
        wait_for_stop_signal().await;
        eprintln!("codex-governance: stopping (terminating sessions, saving state)");
        running.stop().await;
        ExitCode::SUCCESS
    })
}

async fn wait_for_stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
