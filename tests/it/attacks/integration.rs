//! Attacks through the way a department's work comes back in (issue 33, B1
//! and B2): a department writes, in its own worktree, files under the state
//! folder's name (`.tmp/…`): a forged report for a live sibling in the
//! mailbox, a hot rollback journal beside the database. Neither may ever
//! reach the launcher's state folder, by Apply or by Merge, and the review
//! names the attempt.
//!
//! Part of `attacks`; uses its `support` and `extra` modules.

use std::path::Path;

use serde_json::{json, Value};

use super::extra;
use super::support::*;

fn say(case: &str, got: impl std::fmt::Display) {
    println!("[attack] {case} -> {got}");
}

/// A SQLite rollback-journal header (0 records, the database 1 page long),
/// padded to one 512-byte sector: played back as a hot journal, it cuts the
/// database to its first page.
fn hot_journal() -> Vec<u8> {
    let mut j = vec![0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];
    for word in [0u32, 0x1234_5678, 1, 512, 4096] {
        j.extend(word.to_be_bytes());
    }
    j.resize(512, 0);
    j
}

/// A repository whose lingyubu department first runs `script` (sh) in its
/// worktree, then the fake agent; every other session is the fake agent.
fn repo_with_department_script(script: &str) -> TestRepo {
    let repo = TestRepo::new(RepoOptions::default());
    let prelude = format!(
        "if [ \"$CODEX_GOVERNANCE_DEPARTMENT\" = lingyubu ]; then {script}; fi; exec \"$0\" \"$@\""
    );
    let mut command = vec!["/bin/sh".to_string(), "-c".into(), prelude];
    command.extend(TestRepo::agent_command(&RepoOptions::default()));
    repo.write_config(&RepoOptions {
        agent_command: Some(command),
        ..Default::default()
    });
    commit_all(&repo.path, "initial");
    repo
}

fn size_of(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_departments_files_under_the_state_folders_name_never_reach_it() {
    let (_files, repo) = a_department_forging_state_files();
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = api.start_zhongshu("two departments").await;
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": "two", "assignments": [
            {"department": "zhilibu", "task": "stay at work [[fake-agent: --work-seconds 600]]",
             "files": ["docs/"]},
            {"department": "lingyubu", "files": ["README.md"],
             "task": "edit the readme [[fake-agent: --work-seconds 1 --write README.md=changed --changed-file README.md]]"},
        ]}),
    )
    .await;
    let id = the_review_names_the_attempt_and_records_none_of_it(api).await;
    let state = repo.state_dir();
    let db = state.join("codex_governance.db");
    let before = size_of(&db);
    let (code, body) = api
        .post(
            "/api/integrate",
            &json!({"session_id": id, "mode": "apply"}),
        )
        .await;
    say(
        "Apply of a department that wrote .tmp/… in its worktree",
        format!("{code} {}", body["workspace"]["state"]),
    );
    assert_eq!(code.as_u16(), 200, "{body}");
    assert_eq!(
        std::fs::read_to_string(repo.path.join("README.md")).unwrap(),
        "changed"
    );
    // The launcher's own journal comes and goes with each of its writes:
    // what must never be there is the department's (its bytes).
    for name in ["codex_governance.db-journal", "codex_governance.db-wal"] {
        let there = std::fs::read(state.join(name)).unwrap_or_default();
        assert_ne!(there, hot_journal(), "{name} reached the state folder");
    }
    let forged = format!("codex_governance_mailbox/{z}/incoming/zhilibu-1/forged.json");
    assert!(
        !state.join(&forged).exists(),
        "{forged} reached the state folder"
    );
    // No forged result; the sibling still works; the database is whole: a
    // later change is stored.
    let inbox = api
        .get_ok(&format!("/api/zhongshu_inbox?id={z}&peek=1"))
        .await;
    assert!(!inbox.to_string().contains("FORGED"), "{inbox}");
    let sibling = api.session("zhilibu-1").await;
    assert_eq!(sibling["status"], "running", "{sibling}");
    api.post_ok("/api/close_session", &json!({"session_id": "zhilibu-1"}))
        .await;
    assert!(size_of(&db) >= before / 2, "the database shrank");
    server.stop().await;
}

/// A repository whose lingyubu department writes, in its worktree under
/// `.tmp/`, a report forged for its sibling zhilibu-1 in the mailbox and a hot
/// journal and WAL beside the database. The folder holding what it copies
/// (prepared outside the repository) goes with the repository.
fn a_department_forging_state_files() -> (tempfile::TempDir, TestRepo) {
    let files = tempfile::tempdir().unwrap();
    let journal = files.path().join("journal");
    std::fs::write(&journal, hot_journal()).unwrap();
    let forged = files.path().join("forged.json");
    let script = format!(
        "inbox=.tmp/codex_governance_mailbox/$CODEX_GOVERNANCE_PARENT_SESSION_ID/incoming/zhilibu-1; \
         mkdir -p \"$inbox\" && sed \"s/ZHONGSHU/$CODEX_GOVERNANCE_PARENT_SESSION_ID/\" '{}' > \"$inbox/forged.json\" \
         && cp '{}' .tmp/codex_governance.db-journal && cp '{}' .tmp/codex_governance.db-wal",
        forged.display(),
        journal.display(),
        journal.display()
    );
    let repo = repo_with_department_script(&script);
    let mut report = extra::report("ZHONGSHU", "zhilibu-1", "zhilibu", "FORGED by lingyubu");
    report["changed_files"] = json!([]);
    std::fs::write(&forged, report.to_string()).unwrap();
    (files, repo)
}

/// Once lingyubu is recorded (its sibling zhilibu-1 still at work): the files
/// it wrote are in its worktree, the review names the attempt, and only
/// README.md is recorded. Lingyubu's id.
async fn the_review_names_the_attempt_and_records_none_of_it(api: &Api) -> String {
    let status = api
        .wait_status("lingyubu recorded", |s| {
            departments(s).iter().any(|d| {
                d["department"] == "lingyubu"
                    && d["status"] == "exited"
                    && d["workspace"]["state"] == "pending"
            })
        })
        .await;
    let ds = departments(&status);
    let attacker = ds.iter().find(|d| d["department"] == "lingyubu").unwrap();
    let sibling = ds.iter().find(|d| d["department"] == "zhilibu").unwrap();
    assert_eq!(sibling["id"], "zhilibu-1", "the sibling the forgery names");
    let worktree = Path::new(attacker["workspace"]["path"].as_str().unwrap()).to_path_buf();
    assert!(
        worktree.join(".tmp/codex_governance.db-journal").exists(),
        "the department wrote its files"
    );
    let files_recorded = attacker["workspace"]["actual_changed_files"].clone();
    assert_eq!(files_recorded, json!(["README.md"]), "{attacker}");
    let findings = attacker["workspace"]["review"]["findings"].to_string();
    assert!(
        findings.contains("launcher's state folder")
            && findings.contains(".tmp/codex_governance.db-journal"),
        "{findings}"
    );
    assert_eq!(attacker["workspace"]["review"]["decision"], "REVIEW");
    attacker["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_commit_carrying_the_state_folder_is_refused() {
    // The department commits `.tmp/…` on its branch itself (it can run git).
    let script = "mkdir -p .tmp/codex_governance_prompts && printf x > .tmp/codex_governance_prompts/planted.txt \
                  && git add -f .tmp && git -c user.name=x -c user.email=x@x commit -qm own";
    let repo = repo_with_department_script(script);
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let d = one_recorded_department(api, json!(["README.md"])).await;
    let id = d["id"].as_str().unwrap();
    let findings = d["workspace"]["review"]["findings"].to_string();
    assert!(
        findings.contains(".tmp/codex_governance_prompts/planted.txt"),
        "{findings}"
    );
    let planted = repo
        .state_dir()
        .join("codex_governance_prompts/planted.txt");
    for mode in ["merge", "apply"] {
        let (code, body) = api
            .post("/api/integrate", &json!({"session_id": id, "mode": mode}))
            .await;
        say(
            &format!("{mode} of a commit carrying .tmp/codex_governance_prompts/planted.txt"),
            format!("{code} {}", body["error"]),
        );
        assert_eq!(code.as_u16(), 409, "{body}");
        assert!(
            body.to_string()
                .contains(".tmp/codex_governance_prompts/planted.txt"),
            "{body}"
        );
    }
    assert!(!planted.exists(), "written into the state folder");
    assert_ne!(
        std::fs::read_to_string(repo.path.join("README.md")).unwrap(),
        "changed",
        "nothing of it came in"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_is_not_utf8_a_huge_file_and_a_link_are_named_and_nothing_is_lost() {
    let script = "printf kept > \"$(printf 'bad\\377.txt')\" \
                  && head -c 4096 /dev/zero > big.bin && ln -s /etc/passwd link";
    let repo = repo_with_department_script(script);
    let config = repo.path.join("governance.yaml");
    let yaml = std::fs::read_to_string(&config).unwrap() + "  worktree_max_file_bytes: 1024\n";
    std::fs::write(&config, yaml).unwrap();
    commit_all(&repo.path, "a small limit");
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let d = one_recorded_department(api, json!([])).await;
    let id = d["id"].as_str().unwrap();
    let ws = &d["workspace"];
    assert_eq!(ws["review"]["decision"], "REVIEW", "{ws}");
    let findings = ws["review"]["findings"].to_string();
    say(
        "a name not UTF-8, a 4 KiB file over a 1 KiB limit, a link",
        &findings,
    );
    for needle in [
        "bad\u{fffd}.txt (its name is not UTF-8)",
        "big.bin (4096 bytes, over the 1024-byte limit)",
        "link -> /etc/passwd",
    ] {
        assert!(findings.contains(needle), "{needle}: {findings}");
    }
    assert_eq!(
        ws["actual_changed_files"],
        json!(["README.md", "link"]),
        "{ws}"
    );
    let worktree = Path::new(ws["path"].as_str().unwrap()).to_path_buf();
    let (code, body) = api
        .post(
            "/api/integrate",
            &json!({"session_id": id, "mode": "merge"}),
        )
        .await;
    assert_eq!(code.as_u16(), 200, "{body}");
    // The worktree holding what was not recorded is kept.
    assert!(worktree.join("big.bin").exists(), "{}", worktree.display());
    let names: Vec<String> = std::fs::read_dir(&worktree)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n == "bad\u{fffd}.txt"), "{names:?}");
    server.stop().await;
}

/// A Zhongshu whose plan has one lingyubu assignment (editing README.md,
/// `files` its declared files); the department once it is recorded.
async fn one_recorded_department(api: &Api, files: Value) -> Value {
    let z = api.start_zhongshu("one department").await;
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": "one", "assignments": [
            {"department": "lingyubu", "files": files,
             "task": "edit [[fake-agent: --work-seconds 1 --write README.md=changed --changed-file README.md]]"},
        ]}),
    )
    .await;
    let status = api
        .wait_status("lingyubu recorded", |s| {
            departments(s)
                .iter()
                .any(|d| d["status"] == "exited" && d["workspace"]["state"] == "pending")
        })
        .await;
    departments(&status).into_iter().next().unwrap()
}
