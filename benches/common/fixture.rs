//! The benches' shared fixture: a repository whose agent prints a line every
//! ~10 ms, and a state file holding 100 finished sessions (10 Zhongshu with 9
//! departments each), with logs, plans, results and terminal records.

#![allow(dead_code)]

use std::path::Path;

use serde_json::json;

use codex_governance::model::State;
use codex_governance::store::STATE_FILE;

pub const ZHONGSHU: usize = 10;
pub const DEPARTMENTS_EACH: usize = 9;

pub fn make_repo(repo: &Path) {
    std::fs::create_dir_all(repo).unwrap();
    git2::Repository::init(repo).expect("git init");
    std::fs::write(repo.join("README.md"), "# bench\n").unwrap();
    // The live-session phase runs this "agent": a line every ~10 ms.
    std::fs::write(
        repo.join("governance.yaml"),
        r#"launcher:
  agent_command: ["/bin/sh", "-c", "while :; do echo working $(date +%N); sleep 0.01; done", "{prompt}"]
  max_departments: 2
"#,
    )
    .unwrap();
}

pub fn stamp(minute: usize) -> String {
    format!(
        "2026-05-01T{:02}:{:02}:00.000+02:00",
        8 + minute / 60,
        minute % 60
    )
}

/// 10 Zhongshu sessions × (1 + 9 departments) = 100 sessions, all finished.
pub fn write_state(state_dir: &Path) {
    write_state_of(state_dir, ZHONGSHU);
}

/// `zhongshu` Zhongshu sessions × (1 + 9 departments), all finished.
pub fn write_state_of(state_dir: &Path, zhongshu: usize) {
    let depts = ["lingyubu", "zhilibu", "gongchengbu", "menxia"];
    let logs = state_dir.join("codex_governance_logs");
    let prompts = state_dir.join("codex_governance_prompts");
    let mailbox_root = state_dir.join("codex_governance_mailbox");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::create_dir_all(&prompts).unwrap();
    let mut sessions = serde_json::Map::new();
    let mut plans = serde_json::Map::new();
    let mut results = serde_json::Map::new();
    let mut terminals = serde_json::Map::new();
    let mut counters = serde_json::Map::new();
    let mut minute = 0;
    let write_files = |id: &str| -> (String, String) {
        let log = logs.join(format!("{id}.log"));
        let mut text = String::new();
        for i in 0..120 {
            text.push_str(&format!(
                "\x1b[32m•\x1b[0m {id} step {i}: edited src/module_{i}.rs, ran cargo test (ok)\r\n"
            ));
        }
        std::fs::write(&log, text).unwrap();
        let prompt = prompts.join(format!("20260501T080000000-{id}.txt"));
        std::fs::write(&prompt, format!("prompt of {id}\n")).unwrap();
        (prompt.display().to_string(), log.display().to_string())
    };
    let mut dept_counts = std::collections::BTreeMap::<&str, u64>::new();
    for z in 1..=zhongshu {
        let zid = format!("zhongshu-{z}");
        let mb = mailbox_root.join(&zid);
        for sub in ["incoming", "archive", "rejected"] {
            std::fs::create_dir_all(mb.join(sub)).unwrap();
        }
        let (prompt, log) = write_files(&zid);
        minute += 1;
        let mut children = Vec::new();
        let mut assignments = Vec::new();
        for d in 0..DEPARTMENTS_EACH {
            let key = depts[d % depts.len()];
            let n = dept_counts.entry(key).or_insert(0);
            *n += 1;
            let did = format!("{key}-{n}");
            let (dprompt, dlog) = write_files(&did);
            minute += 1;
            let task = format!("Part {d} of task {z}: change the {key} files and run the checks");
            sessions.insert(
                did.clone(),
                json!({
                    "id": did, "session_kind": "department", "role": "department",
                    "department": key, "title": format!("{key} · {did}"), "model": "gpt-5.4",
                    "task": task, "pid": 40_000 + minute, "status": "exited", "exit_code": 0,
                    "started_at": stamp(minute), "ended_at": stamp(minute + 5),
                    "ended_reason": "closed", "prompt_path": dprompt, "log_path": dlog,
                    "last_activity_at": stamp(minute + 5), "input_history": [],
                    "browser_terminal_id": format!("term-{did}"),
                    "parent_session_id": zid, "report_status": "reported",
                    "reported_at": stamp(minute + 5), "last_report_id": did,
                    "auto_closed": true, "auto_close_reason": "mailbox_report_received",
                    "files": [format!("src/{key}/mod.rs")], "verify": ["cargo test"],
                }),
            );
            terminals.insert(
                format!("term-{did}"),
                json!({"id": format!("term-{did}"), "kind": "codex_session", "session_id": did,
                       "title": did, "url": "http://127.0.0.1:1/?token=x", "status": "closed",
                       "started_at": stamp(minute), "closed_at": stamp(minute + 5)}),
            );
            results.insert(
                format!("{zid}/{did}"),
                json!({
                    "report_id": did, "parent_session_id": zid, "department_session_id": did,
                    "department": key, "summary": format!("{did} finished its part; all checks pass"),
                    "changed_files": [format!("src/{key}/mod.rs")], "verifications_run": ["cargo test: ok"],
                    "verifications_skipped": [], "risks": [], "needs_user_confirmation": false,
                    "next_action": "review", "reported_at": stamp(minute + 5), "source": "mailbox",
                    "read": d % 2 == 0, "mailbox_file": null, "handoff_packet": null, "revision": 1,
                    "objective": task,
                }),
            );
            assignments.push(json!({
                "department": key, "task": task, "model": "gpt-5.4", "files": [], "verify": [],
                "selected": true, "status": "started", "session_id": did,
            }));
            children.push(did);
        }
        sessions.insert(
            zid.clone(),
            json!({
                "id": zid, "session_kind": "zhongshu", "role": "planner", "department": null,
                "title": format!("Zhongshu 中书省 · {zid}"), "model": "gpt-5.5",
                "task": format!("Task {z}: a user request of a few words"),
                "pid": 30_000 + z, "status": "exited", "exit_code": 0,
                "started_at": stamp(minute), "ended_at": stamp(minute + 30), "ended_reason": "closed",
                "prompt_path": prompt, "log_path": log, "input_history": [
                    {"at": stamp(minute + 1), "input": "please continue"}],
                "browser_terminal_id": format!("term-{zid}"),
                "mailbox": {"root": mb, "incoming": mb.join("incoming"), "archive": mb.join("archive"),
                            "rejected": mb.join("rejected")},
                "plan_status": "dispatched",
            }),
        );
        terminals.insert(
            format!("term-{zid}"),
            json!({"id": format!("term-{zid}"), "kind": "codex_session", "session_id": zid,
                   "title": zid, "url": "http://127.0.0.1:1/?token=x", "status": "closed",
                   "started_at": stamp(minute), "closed_at": stamp(minute + 30)}),
        );
        plans.insert(
            zid.clone(),
            json!({"session_id": zid, "summary": format!("plan of task {z}"), "assignments": assignments,
                   "needs_confirmation": false, "status": "dispatched", "registered_at": stamp(minute)}),
        );
    }
    counters.insert("zhongshu".into(), json!(zhongshu));
    for (k, n) in dept_counts {
        counters.insert(k.into(), json!(n));
    }
    let state = json!({
        "counters": counters, "sessions": sessions, "plans": plans, "results": results,
        "queue": [], "terminals": terminals,
    });
    // Checked against the real type, so a schema change fails loudly here.
    let parsed: State =
        serde_json::from_value(state.clone()).expect("fixture matches state::State");
    assert_eq!(parsed.sessions.len(), zhongshu * (1 + DEPARTMENTS_EACH));
    // Written as an earlier version's state file: the launcher imports it.
    std::fs::write(
        state_dir.join(STATE_FILE),
        serde_json::to_vec(&state).unwrap(),
    )
    .unwrap();
}

// ---------------------------------------------------------------------------
// Load
