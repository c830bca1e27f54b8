//! `codex-governance [serve]`: loads the configuration, says what applies,
//! serves the dashboard and runs the launcher until the stop signal.

use std::process::ExitCode;

use crate::{fail, root_of};
use codex_governance::config::Config;
use codex_governance::instance::InstanceError;
use codex_governance::net::allowed_host::AllowedHost;
use codex_governance::web;

use crate::ServeArgs;

pub fn serve(mut args: ServeArgs) -> ExitCode {
    if let Err(e) = web::loopback_ip(&args.host) {
        return fail(&e.to_string());
    }
    let allow_host = match args.allow_host.as_deref().map(AllowedHost::parse) {
        Some(Err(e)) => return fail(&e.to_string()),
        Some(Ok(name)) => Some(name),
        None => None,
    };
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
    if let Some(note) = config.shadow_note() {
        eprintln!("codex-governance: {note}");
    }
    for w in &config.warnings {
        eprintln!("codex-governance: warning: {w}");
    }
    for line in
        codex_governance::config::ignored_python_variables(&codex_governance::config::process_env())
    {
        eprintln!("codex-governance: {line}");
    }
    config.trust.granted |= args.trust_config;
    if let Some(why) = codex_governance::config_trust::TrustGate::of(&config).refusal() {
        eprintln!("codex-governance: {why}");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let code = runtime.block_on(async move {
        let opts = web::ServeOptions {
            repo: args.repo,
            host: args.host,
            port: args.port,
            state_dir: args.state_dir, allow_host,
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
        // Before the ready line, which a reader may take as the end of start-up.
        tracing::debug!(
            "serving {} on {}",
            running.launcher.ctx.repo.display(),
            running.addr
        );
        println!("codex-governance listening on {}", running.dashboard_url());
        if let Some(name) = running.launcher.tailnet() {
            eprintln!(
                "codex-governance: the page also answers at {} through your tailscale serve, \
                 to paired phones only (pair one in Notifications, or `codex-governance pair-phone`)",
                name.origin()
            );
        }
        wait_for_stop_signal().await;
        eprintln!(
            "codex-governance: stopping (sessions with a thread are suspended and resume at the \
             next start, the others end; the state is saved)"
        );
        running.stop().await;
        ExitCode::SUCCESS
    });
    // The stop above awaited every task it owns; a blocking thread still
    // held by the file system (an agent's file request on a stalled mount)
    // must not keep the process: the runtime lets go of it.
    runtime.shutdown_timeout(STOP_GRACE);
    code
}

/// How long the runtime waits for blocking threads once the launcher stopped.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

async fn wait_for_stop_signal() {
    if let Err(e) = codex_governance::platform::stop_signal().await {
        eprintln!("codex-governance: cannot wait for the stop signal: {e}");
        std::future::pending::<()>().await;
    }
}
