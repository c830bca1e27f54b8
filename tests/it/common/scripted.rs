//! What the scripted model answers that the Codex tests repeat (a
//! department that runs a command, then reports), and how such a command's
//! output tells what it was let do: it prints ` NAME=$?` after each thing it
//! tries, and a test reads each mark as done (0) or refused (anything else).
#![allow(dead_code)]

use serde_json::json;

use super::model_server::{exec, tool_call, ModelServer};

/// After the tool call `after`, the model reports `files` with `summary`
/// (its call named `call`).
pub fn reports_after(server: &ModelServer, after: &str, call: &str, summary: &str, files: &[&str]) {
    server.on(
        after,
        vec![tool_call(
            call,
            "governance_report_result",
            json!({"summary": summary, "changed_files": files}),
        )],
    );
}

/// The department `department`'s first answer runs `cmd` (the call `call`);
/// its next reports `files` with `summary` (the call `call_report`).
pub fn runs_then_reports(
    server: &ModelServer,
    department: &str,
    call: &str,
    cmd: &str,
    summary: &str,
    files: &[&str],
) {
    server.on(&format!("department ({department})"), vec![exec(call, cmd)]);
    reports_after(server, call, "call_report", summary, files);
}

/// Each of `marks` printed 0 in `out`: what it marks was done.
pub fn done(out: &str, marks: &[&str]) {
    for mark in marks {
        assert!(out.contains(&format!("{mark}=0")), "{mark} done: {out}");
    }
}

/// Each of `marks` printed something other than 0 in `out`: what it marks
/// was refused.
pub fn refused(out: &str, marks: &[&str]) {
    for mark in marks {
        assert!(
            out.contains(&format!("{mark}=")) && !out.contains(&format!("{mark}=0")),
            "{mark} refused: {out}"
        );
    }
}
