//! `codex-governance report`: the governance report of the repository's
//! changes (or of one session's worktree), as text, Markdown or JSON.

use std::process::ExitCode;

use crate::{fail, out, root_of, state_dir_of};
use codex_governance::config::Config;
use codex_governance::report::{self, Mode};

use crate::ReportArgs;

pub fn run_report(mut args: ReportArgs) -> ExitCode {
    args.repo = match root_of(&args.repo) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let config = match Config::load(&args.repo) {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    for w in &config.warnings {
        eprintln!("codex-governance: warning: {w}");
    }
    let mode = match (&args.base, args.staged) {
        (Some(base), _) => Mode::Base(base.clone()),
        (None, true) => Mode::Staged,
        (None, false) => Mode::Worktree,
    };
    let built = match &args.session {
        Some(id) => codex_governance::ids::check_id("--session", id)
            .map_err(|e| e.to_string())
            .and_then(|_| state_dir_of(&args.repo, args.state_dir.clone()))
            .and_then(|dir| {
                report::for_session(&args.repo, &dir, id, &config).map_err(|e| e.to_string())
            }),
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
