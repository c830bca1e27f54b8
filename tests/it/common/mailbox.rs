//! Mailbox helpers on top of `common/launcher.rs`: dropping report files the way
//! departments do (temporary name, then a rename), listing folders, reading the
//! audit log from disk, the inbox, and an agent command that makes departments
//! wait for a barrier file before they run (so several report at nearly the same
//! moment).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::launcher::{fake_agent, wait_until, Api, BIN, PATIENCE};

/// Every field a result carries (SPEC 8).
pub const RESULT_FIELDS: &[&str] = &[
    "report_id",
    "parent_session_id",
    "department_session_id",
    "department",
    "summary",
    "changed_files",
    "verifications_run",
    "verifications_skipped",
    "risks",
    "needs_user_confirmation",
    "next_action",
    "reported_at",
    "source",
    "read",
    "mailbox_file",
    "handoff_packet",
];

/// The sections of a handoff packet, in order, after its title (SPEC 8 step 4).
pub const PACKET_SECTIONS: [&str; 6] = [
    "## Objective",
    "## Summary",
    "## Changed Files",
    "## Verification",
    "## Risks",
    "## Next Action",
];

/// `incoming/`, `archive/`, `rejected/` of one Zhongshu under a state dir.
pub struct Mailbox {
    pub root: PathBuf,
    pub incoming: PathBuf,
    pub archive: PathBuf,
    pub rejected: PathBuf,
}

pub fn mailbox(state_dir: &Path, zhongshu_id: &str) -> Mailbox {
    let root = state_dir.join("codex_governance_mailbox").join(zhongshu_id);
    Mailbox {
        incoming: root.join("incoming"),
        archive: root.join("archive"),
        rejected: root.join("rejected"),
        root,
    }
}

/// Writes `bytes` to `dir/.name.tmp`, then renames it to `dir/name`.
pub fn drop_bytes(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    let dest = dir.join(name);
    std::fs::rename(&tmp, &dest).unwrap_or_else(|e| panic!("rename to {}: {e}", dest.display()));
    dest
}

/// A JSON report dropped atomically.
pub fn drop_json(dir: &Path, name: &str, report: &Value) -> PathBuf {
    drop_bytes(dir, name, &serde_json::to_vec_pretty(report).unwrap())
}

/// A complete, valid report for a department session of `parent`.
pub fn report(parent: &str, session: &str, department: &str, summary: &str) -> Value {
    json!({
        "parent_session_id": parent,
        "department_session_id": session,
        "department": department,
        "summary": summary,
        "changed_files": ["src/lib.rs"],
        "verifications_run": ["cargo test: ok"],
        "verifications_skipped": ["cargo bench: slow"],
        "risks": ["none known"],
        "next_action": "review",
        "needs_user_confirmation": false,
    })
}

/// Names in `dir`, sorted (empty when the folder is missing).
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Names in `dir` that are not folders (in `incoming/`: everything but the
/// departments' own drop folders).
pub fn loose_names(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| !dir.join(n).is_dir())
        .collect()
}

/// Names a report scan would take: `*.json`, not starting with `.`.
pub fn report_names(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .collect()
}

/// Every line of the audit log under `state_dir`, parsed (torn lines skipped).
pub fn audit_lines(state_dir: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(state_dir.join("codex_governance_audit.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

pub fn audit_events<'a>(lines: &'a [Value], event: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == event).collect()
}

/// `GET /api/zhongshu_inbox?id=Z&peek=1`, every page: `results` holds them all.
pub async fn inbox(api: &Api, zhongshu: &str) -> Value {
    let mut first = api
        .get_ok(&format!(
            "/api/zhongshu_inbox?id={zhongshu}&peek=1&limit=1000&count=1"
        ))
        .await;
    let mut all = results(&first);
    let mut before = first["next_before"].as_i64();
    while let Some(b) = before {
        let page = api
            .get_ok(&format!(
                "/api/zhongshu_inbox?id={zhongshu}&peek=1&limit=1000&before={b}"
            ))
            .await;
        all.extend(results(&page));
        before = page["next_before"].as_i64();
    }
    assert_eq!(
        all.len() as u64,
        first["result_count"].as_u64().unwrap_or(0)
    );
    first["results"] = Value::Array(all);
    first
}

pub fn results(inbox: &Value) -> Vec<Value> {
    inbox["results"].as_array().cloned().unwrap_or_default()
}

/// A result whose handoff packet and (for a mailbox report) archived file are on
/// disk: the inbox can show a result a moment before both are written.
pub fn settled(r: &Value) -> bool {
    let exists = |key: &str| {
        r[key]
            .as_str()
            .map(|p| Path::new(p).is_file())
            .unwrap_or(false)
    };
    exists("handoff_packet") && (r["source"] != "mailbox" || exists("mailbox_file"))
}

/// Waits until the inbox (peeked) has a settled result satisfying `pred`; returns it.
pub async fn wait_result(
    api: &Api,
    zhongshu: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    wait_until(&format!("{zhongshu} inbox: {what}"), PATIENCE, || async {
        results(&inbox(api, zhongshu).await)
            .into_iter()
            .find(|r| pred(r) && settled(r))
    })
    .await
}

/// Waits until the inbox (peeked) satisfies `pred` with every result settled.
pub async fn wait_inbox(
    api: &Api,
    zhongshu: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    wait_until(&format!("{zhongshu} inbox: {what}"), PATIENCE, || async {
        let i = inbox(api, zhongshu).await;
        (pred(&i) && results(&i).iter().all(settled)).then_some(i)
    })
    .await
}

/// Starts a department by hand; returns its session id (fails if it was queued).
pub async fn start_department(api: &Api, zhongshu: &str, department: &str, task: &str) -> String {
    let a = api
        .post_ok(
            "/api/start_department",
            &json!({"parent_session_id": zhongshu, "department": department, "task": task}),
        )
        .await;
    assert_ne!(a["queued"], json!(true), "{department} was queued: {a}");
    a["session_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no session_id in {a}"))
        .to_string()
}

/// Agent command running the fake agent through `/bin/sh`, where departments
/// first wait until `barrier` exists. `flags` go to the fake agent before
/// `--prompt {prompt}`.
pub fn barrier_agent_command(barrier: &Path, flags: &[String]) -> Vec<String> {
    let b = barrier.display().to_string();
    assert!(
        !b.contains('\'') && !b.contains('{'),
        "barrier path must be shell-safe: {b}"
    );
    let script = format!(
        "if [ \"$CODEX_GOVERNANCE_SESSION_KIND\" = department ]; then \
         while [ ! -e '{b}' ]; do sleep 0.02; done; fi; exec \"$@\""
    );
    let mut cmd = vec![
        "/bin/sh".to_string(),
        "-c".into(),
        script,
        "sh".into(),
        fake_agent().display().to_string(),
        "--bin".into(),
        BIN.into(),
    ];
    cmd.extend(flags.iter().cloned());
    cmd.push("--prompt".into());
    cmd.push("{prompt}".into());
    cmd
}

/// Lines of a transcript carrying the notice the fake agent echoed back.
pub fn notice_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| {
            l.find("ECHO: [codex-governance]")
                .map(|i| l[i + 6..].to_string())
        })
        .collect()
}

/// True when `s` is an RFC 3339 time with an offset.
pub fn is_rfc3339(s: &Value) -> bool {
    s.as_str()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
        .unwrap_or(false)
}

pub fn rfc3339_ms(s: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

/// Drops into `incoming` what is no regular file: `x.json`, a link to `target`
/// (where links can be made: not under Wine, whose CreateSymbolicLinkW is a
/// stub; that is said on stdout); `y.json`, a FIFO (Unix has them); `z.json`, a
/// folder. Returns each name with the word its rejection reason must hold.
pub fn drop_special_files(incoming: &Path, target: &Path) -> Vec<(&'static str, &'static str)> {
    let mut dropped = Vec::new();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(target, incoming.join("x.json")).unwrap();
        dropped.push(("x.json", "symbolic link"));
        mkfifo(&incoming.join("y.json"));
        dropped.push(("y.json", "FIFO"));
    }
    #[cfg(windows)]
    {
        let link = incoming.join("x.json");
        std::os::windows::fs::symlink_file(target, &link).unwrap();
        if std::fs::symlink_metadata(&link).is_ok() {
            dropped.push(("x.json", "reparse point"));
        } else {
            println!("[windows] no link was made (Wine): x.json is not dropped");
        }
    }
    std::fs::create_dir(incoming.join("z.json")).unwrap();
    dropped.push(("z.json", "directory"));
    dropped
}

/// Makes a FIFO at `path`.
#[cfg(unix)]
pub fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(
        rc,
        0,
        "mkfifo {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// `session_id=..&department_session_id=..&report_id=..` naming result `r`.
pub fn naming(r: &Value) -> String {
    format!(
        "session_id={}&department_session_id={}&report_id={}",
        r["parent_session_id"].as_str().unwrap(),
        r["department_session_id"].as_str().unwrap(),
        r["report_id"].as_str().unwrap()
    )
}
