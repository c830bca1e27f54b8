//! `codex-governance mailbox send`: how a department reports. Writes one JSON
//! report into its Zhongshu's `incoming/` folder atomically (a temporary name
//! starting with `.`, then a rename), defaulting from the agent environment.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use serde_json::{json, Map, Value};

use crate::ids::check_id;

#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// Zhongshu session id (default: $CODEX_GOVERNANCE_PARENT_SESSION_ID).
    #[arg(long)]
    pub parent: Option<String>,
    /// This department's session id (default: $CODEX_GOVERNANCE_SESSION_ID).
    #[arg(long)]
    pub session: Option<String>,
    /// Department key (default: $CODEX_GOVERNANCE_DEPARTMENT).
    #[arg(long)]
    pub department: Option<String>,
    /// What the department did (required, here or in --from-json).
    #[arg(long)]
    pub summary: Option<String>,
    /// A file the department changed, repository-relative (repeatable).
    #[arg(long = "changed-file", value_name = "PATH")]
    pub changed_files: Vec<String>,
    /// A check that was run, as "CMD: result" (repeatable).
    #[arg(long = "verification", value_name = "CMD")]
    pub verifications: Vec<String>,
    /// A check that was not run, and why (repeatable).
    #[arg(long = "skipped", value_name = "TEXT")]
    pub skipped: Vec<String>,
    /// A risk the Zhongshu should know of (repeatable).
    #[arg(long = "risk", value_name = "TEXT")]
    pub risks: Vec<String>,
    /// What should happen next.
    #[arg(long)]
    pub next_action: Option<String>,
    /// The result needs the user's confirmation before it is acted on.
    #[arg(long)]
    pub needs_confirmation: bool,
    /// Id that makes a later report replace this one (default: the session id).
    #[arg(long)]
    pub report_id: Option<String>,
    /// Read the report (or fields to merge under the options) from a file, or - for stdin.
    #[arg(long, value_name = "FILE|-")]
    pub from_json: Option<String>,
    /// The incoming folder (default: $CODEX_GOVERNANCE_MAILBOX, else derived from --state-dir).
    #[arg(long)]
    pub mailbox: Option<PathBuf>,
    /// Runtime folder used to derive the mailbox (default: ./.tmp).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Builds the report from the options, the JSON file and the environment.
pub fn build_report(args: &SendArgs) -> anyhow::Result<Map<String, Value>> {
    let mut report = match args.from_json.as_deref() {
        None => Map::new(),
        Some(source) => {
            let text = if source == "-" {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                s
            } else {
                std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"))?
            };
            match serde_json::from_str(text.trim_start_matches('\u{feff}'))
                .with_context(|| format!("{source} is not valid JSON"))?
            {
                Value::Object(m) => m,
                _ => bail!("{source} must hold a JSON object"),
            }
        }
    };
    let mut set = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            report.insert(key.to_string(), v);
        }
    };
    let list = |v: &Vec<String>| (!v.is_empty()).then(|| json!(v));
    set(
        "parent_session_id",
        args.parent
            .clone()
            .or_else(|| env("CODEX_GOVERNANCE_PARENT_SESSION_ID"))
            .map(Value::from),
    );
    set(
        "department_session_id",
        args.session
            .clone()
            .or_else(|| env("CODEX_GOVERNANCE_SESSION_ID"))
            .map(Value::from),
    );
    set(
        "department",
        args.department
            .clone()
            .or_else(|| env("CODEX_GOVERNANCE_DEPARTMENT"))
            .map(Value::from),
    );
    set("summary", args.summary.clone().map(Value::from));
    set("changed_files", list(&args.changed_files));
    set("verifications_run", list(&args.verifications));
    set("verifications_skipped", list(&args.skipped));
    set("risks", list(&args.risks));
    set("next_action", args.next_action.clone().map(Value::from));
    set("report_id", args.report_id.clone().map(Value::from));
    if args.needs_confirmation {
        report.insert("needs_user_confirmation".into(), true.into());
    }
    for key in ["parent_session_id", "department_session_id", "department"] {
        match report.get(key) {
            Some(Value::String(id)) => {
                check_id(key, id).map_err(anyhow::Error::msg)?;
            }
            _ => bail!("{key} is missing: pass it as an option or run inside a department session"),
        }
    }
    match report.get("summary") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        _ => bail!("--summary is required"),
    }
    Ok(report)
}

/// Submits the report: over the API with the session's own token when the
/// launcher runs (a verified result), else as a file in the mailbox. Returns
/// what to tell the user.
pub fn send(args: SendArgs) -> anyhow::Result<String> {
    let report = build_report(&args)?;
    let in_session = env("CODEX_GOVERNANCE_SESSION_KIND").as_deref() == Some("department");
    if let (true, None, Some(url), Some(token)) = (
        in_session,
        &args.mailbox,
        env("CODEX_GOVERNANCE_URL"),
        env("CODEX_GOVERNANCE_TOKEN"),
    ) {
        match super::submit::submit(&url, &token, &report)? {
            super::submit::Submitted::Registered(answer) => {
                return Ok(format!(
                    "submitted to {url} (verified); kept as {}",
                    answer["file"].as_str().unwrap_or("?")
                ))
            }
            super::submit::Submitted::Unreachable => {
                eprintln!("codex-governance: no launcher answers at {url}; writing the report into the mailbox instead (unverified)");
            }
        }
    }
    write_file(&args, report).map(|p| p.display().to_string())
}

/// Writes the report into the mailbox folder and returns its path.
fn write_file(args: &SendArgs, report: Map<String, Value>) -> anyhow::Result<PathBuf> {
    let parent = report["parent_session_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let session = report["department_session_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let folder = match args
        .mailbox
        .clone()
        .or_else(|| env("CODEX_GOVERNANCE_MAILBOX").map(PathBuf::from))
    {
        Some(f) => f,
        None => args
            .state_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(".tmp"))
            .join("codex_governance_mailbox")
            .join(&parent)
            .join("incoming"),
    };
    if !folder.is_dir() {
        bail!("mailbox folder {} does not exist", folder.display());
    }
    let name = format!("{session}-{}.json", crate::clock::file_stamp());
    let bytes = serde_json::to_vec_pretty(&Value::Object(report))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{session}-"))
        .suffix(".tmp")
        .tempfile_in(&folder)
        .with_context(|| format!("cannot write in {}", folder.display()))?;
    std::io::Write::write_all(&mut tmp, &bytes)?;
    tmp.as_file().sync_all()?;
    let mut path = folder.join(&name);
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = folder.join(format!("{session}-{}-{n}.json", crate::clock::file_stamp()));
    }
    tmp.persist_noclobber(&path).map_err(|e| e.error)?;
    Ok(path)
}
