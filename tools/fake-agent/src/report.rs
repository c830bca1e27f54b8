//! A department's report: written atomically into its mailbox (as an agent
//! following the prompt would), or sent through `codex-governance mailbox send`.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::term::{out, say};

/// The report, its fields in the order the Python agent wrote them.
#[derive(Serialize)]
pub struct Report {
    pub department_session_id: String,
    pub department: String,
    pub summary: String,
    pub changed_files: Vec<String>,
    pub verifications_run: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verifications_skipped: Vec<String>,
    pub risks: Vec<String>,
    pub next_action: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub needs_user_confirmation: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_id: Option<String>,
}

/// Writes the report as `<session>-<stamp>-<pid>[-n].json` in the mailbox:
/// a synced temporary file, then a rename that never replaces another report.
pub fn write_file(report: &Report) -> bool {
    let Some(mailbox) = std::env::var_os("CODEX_GOVERNANCE_MAILBOX") else {
        out("FAKE_AGENT_REPORT_ERROR no CODEX_GOVERNANCE_MAILBOX");
        return false;
    };
    match write_into(Path::new(&mailbox), report) {
        Ok(path) => {
            out(&format!("FAKE_AGENT_REPORT_WRITTEN {}", path.display()));
            true
        }
        Err(e) => {
            out(&format!("FAKE_AGENT_REPORT_ERROR {e}"));
            false
        }
    }
}

fn write_into(mailbox: &Path, report: &Report) -> std::io::Result<std::path::PathBuf> {
    let session = if report.department_session_id.is_empty() {
        "unknown"
    } else {
        &report.department_session_id
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{session}-"))
        .suffix(".tmp")
        .tempfile_in(mailbox)?;
    let json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    tmp.write_all(&json)?;
    tmp.as_file().sync_all()?;
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let pid = std::process::id();
    let mut n = 1;
    loop {
        let name = match n {
            1 => format!("{session}-{stamp}-{pid}.json"),
            n => format!("{session}-{stamp}-{pid}-{n}.json"),
        };
        let path = mailbox.join(name);
        match tmp.persist_noclobber(&path) {
            Ok(_) => return Ok(path),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                tmp = e.file;
                n += 1;
            }
            Err(e) => return Err(e.error),
        }
    }
}

/// Runs `<bin> mailbox send ...` with the report's fields; prints its exit code
/// and output on one line.
pub fn send_with_cli(bin: &str, report: &Report) -> bool {
    let mut cmd = Command::new(bin);
    cmd.args(["mailbox", "send", "--summary", &report.summary]);
    for f in &report.changed_files {
        cmd.args(["--changed-file", f]);
    }
    for v in &report.verifications_run {
        cmd.args(["--verification", v]);
    }
    for s in &report.verifications_skipped {
        cmd.args(["--skipped", s]);
    }
    for r in &report.risks {
        cmd.args(["--risk", r]);
    }
    if !report.next_action.is_empty() {
        cmd.args(["--next-action", &report.next_action]);
    }
    if report.needs_user_confirmation {
        cmd.arg("--needs-confirmation");
    }
    if let Some(id) = &report.report_id {
        cmd.args(["--report-id", id]);
    }
    match cmd.output() {
        Ok(done) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&done.stdout),
                String::from_utf8_lossy(&done.stderr)
            );
            let code = done.status.code().unwrap_or(-1);
            let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let plainly = match done.status.success() {
                true => "Reported to the launcher.".to_string(),
                false => format!("The launcher did not take my report: {words}"),
            };
            say(&format!("FAKE_AGENT_REPORT_CLI {code} {words}"), &plainly);
            done.status.success()
        }
        Err(e) => {
            say(
                &format!("FAKE_AGENT_REPORT_CLI -1 {e}"),
                &format!("I could not run {bin} to report: {e}"),
            );
            false
        }
    }
}
