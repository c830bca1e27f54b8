//! Attacks on the forge's token (issue 38): it is given to the launcher's
//! environment (`GITHUB_TOKEN` and `GH_TOKEN`, two different secrets) and a
//! whole pull request's life runs (opened, a failing check sent back with its
//! log, updated); a forge that echoes the token back in its error text is
//! met on the way. Neither secret may then be found in the state folder
//! (database, audit log, prompts, transcripts, packets, the launcher file),
//! in the audit, in any page or API answer, or in an agent: not in the
//! environment of any agent process (read from `/proc` while they run), not
//! in what a hostile department dumps of its environment into its worktree
//! and its terminal, not in the commits pushed.
//!
//! Part of `attacks`; uses its `support` module and the scripted forge.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::support::*;
use crate::common::forge::Forge;

const TOKEN: &str = "ghp_ATTACKtoken0one0aaaaaaaaaaaaaaaaaaaa";
const GH_TOKEN: &str = "gho_ATTACKtoken0two0bbbbbbbbbbbbbbbbbbbb";

fn say(case: &str, got: impl std::fmt::Display) {
    println!("[attack] {case} -> {got}");
}

/// Every file under `root` (links not followed) holding either token.
fn files_holding_a_token(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            text.contains(TOKEN) || text.contains(GH_TOKEN)
        })
        .map(|e| e.path().to_path_buf())
        .collect()
}

fn holds_a_token(text: &str) -> bool {
    text.contains(TOKEN) || text.contains(GH_TOKEN)
}

/// The environment of process `pid` and of every process under it.
#[cfg(target_os = "linux")]
fn environments_under(pid: u32) -> Vec<(u32, String)> {
    let mut all = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        if let Ok(env) = std::fs::read(format!("/proc/{p}/environ")) {
            all.push((p, String::from_utf8_lossy(&env).replace('\0', "\n")));
        }
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(child) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            // `pid (comm) state ppid …`: the parent is the second field after the comm.
            let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            if after.split_whitespace().nth(1) == Some(p.to_string().as_str()) {
                todo.push(child);
            }
        }
    }
    all
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forges_token_reaches_no_file_no_page_no_audit_line_and_no_agent() {
    let (repo, remote, forge) = a_hostile_department_and_a_forge().await;
    let mut launcher = spawn_launcher_env(
        &repo.path,
        &[],
        &[
            ("GITHUB_TOKEN".into(), TOKEN.into()),
            ("GH_TOKEN".into(), GH_TOKEN.into()),
        ],
    );
    let api = launcher.api.clone();
    let z = api.start_zhongshu("edit the notes").await;
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": "one", "assignments": [
            {"department": "lingyubu", "files": ["notes.md"],
             "task": "edit [[fake-agent: --work-seconds 4 --write notes.md=changed --changed-file notes.md]]"}]}),
    )
    .await;
    no_running_agent_holds_a_token(&api).await;
    let id = the_departments_own_dump_holds_no_token(&api).await;
    an_echoed_token_is_masked(&forge, &api, &id).await;
    let successor = a_pull_requests_whole_life(&forge, &api, &id).await;

    // The state folder: database, audit log, prompts, transcripts, packets.
    let state = repo.state_dir();
    let leaked = files_holding_a_token(&state);
    say(
        "the state folder searched for either token",
        format!("{} files hold one", leaked.len()),
    );
    assert!(leaked.is_empty(), "{leaked:?}");
    // What the department saw of the log: the token it carried is masked.
    let prompt = std::fs::read_dir(state.join("codex_governance_prompts"))
        .unwrap()
        .flatten()
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(&format!("-{successor}.txt"))
        })
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .expect("the successor's prompt");
    assert!(prompt.contains("GITHUB_TOKEN=***"), "{prompt}");
    // The worktrees, and everything pushed to the remote.
    let worktrees = repo.root.join("repo.worktrees");
    assert!(files_holding_a_token(&worktrees).is_empty());
    assert!(files_holding_a_token(&remote).is_empty());
    no_page_or_answer_holds_a_token(&api, &launcher.url, [&z, &id, &successor]).await;
    launcher.terminate();
    let stderr = launcher.stderr();
    assert!(
        !holds_a_token(&stderr),
        "the launcher's own output: {stderr}"
    );
}

/// A repository whose lingyubu department is hostile: it dumps its
/// environment into its worktree (recorded, pushed) and its terminal (the
/// transcript), then works. Pull requests go to a scripted forge holding
/// `TOKEN`, pushes to a bare remote: (repository, remote, forge).
#[cfg(target_os = "linux")]
async fn a_hostile_department_and_a_forge() -> (TestRepo, PathBuf, Forge) {
    let repo = TestRepo::new(RepoOptions::default());
    let prelude = "if [ \"$CODEX_GOVERNANCE_DEPARTMENT\" = lingyubu ]; then env > agent-env.txt; env; fi; exec \"$0\" \"$@\"";
    let mut command = vec!["/bin/sh".to_string(), "-c".into(), prelude.into()];
    command.extend(TestRepo::agent_command(&RepoOptions::default()));
    repo.write_config(&RepoOptions {
        agent_command: Some(command),
        ..Default::default()
    });
    let remote = repo.root.join("remote.git");
    git2::Repository::init_bare(&remote).unwrap();
    let forge = Forge::start("acme/tool", TOKEN, remote.clone()).await;
    let mut yaml = std::fs::read_to_string(repo.path.join("governance.yaml")).unwrap();
    yaml.push_str(&format!(
        "  pull_requests:\n    repo: acme/tool\n    api_url: {}\n    poll_seconds: 1\n",
        forge.api_url()
    ));
    std::fs::write(repo.path.join("governance.yaml"), yaml).unwrap();
    std::fs::write(repo.path.join("notes.md"), "notes\n").unwrap();
    commit_all(&repo.path, "initial");
    {
        let git = git2::Repository::open(&repo.path).unwrap();
        git.remote("origin", &format!("file://{}", remote.display()))
            .unwrap();
    }
    (repo, remote, forge)
}

/// While the department works: no agent process (nor any process under one)
/// has either token in its environment.
#[cfg(target_os = "linux")]
async fn no_running_agent_holds_a_token(api: &Api) {
    let running = api
        .wait_status("the department running", |s| {
            departments(s)
                .iter()
                .any(|d| d["status"] == "running" && d["pid"].is_u64())
        })
        .await;
    let mut pids: Vec<u32> = running["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["pid"].as_u64().map(|p| p as u32))
        .collect();
    pids.sort();
    let mut seen = 0;
    for pid in &pids {
        for (p, env) in environments_under(*pid) {
            seen += 1;
            assert!(
                !holds_a_token(&env),
                "process {p} (under agent {pid}) has a token"
            );
            assert!(
                !env.lines()
                    .any(|l| l.starts_with("GITHUB_TOKEN=") || l.starts_with("GH_TOKEN=")),
                "process {p} has a token variable"
            );
        }
    }
    say(
        "an agent reads its own environment for GITHUB_TOKEN / GH_TOKEN",
        format!("absent from {seen} agent processes"),
    );
    assert!(
        seen >= 2,
        "the planner and the department were read: {pids:?}"
    );
}

/// Once the department is recorded, what it dumped of its environment holds
/// no token; its id.
#[cfg(target_os = "linux")]
async fn the_departments_own_dump_holds_no_token(api: &Api) -> String {
    let status = api
        .wait_status("the department recorded", |s| {
            departments(s)
                .iter()
                .any(|d| d["status"] == "exited" && d["workspace"]["state"] == "pending")
        })
        .await;
    let d = departments(&status).remove(0);
    let worktree = PathBuf::from(d["workspace"]["path"].as_str().unwrap());
    let dumped = std::fs::read_to_string(worktree.join("agent-env.txt")).unwrap();
    assert!(
        dumped.contains("CODEX_GOVERNANCE_DEPARTMENT=lingyubu"),
        "{dumped}"
    );
    assert!(
        !holds_a_token(&dumped),
        "the department's own dump of its environment"
    );
    d["id"].as_str().unwrap().to_string()
}

/// A forge that echoes the token in its error: the launcher's words (the
/// answer, the audit line) do not repeat it.
#[cfg(target_os = "linux")]
async fn an_echoed_token_is_masked(forge: &Forge, api: &Api, id: &str) {
    forge.fail_next(
        "POST",
        "/repos/acme/tool/pulls",
        422,
        &[],
        json!({"message": format!("Validation Failed for Authorization: Bearer {TOKEN}")}),
    );
    let (code, answer) = api
        .post(
            "/api/integrate",
            &json!({"session_id": id, "mode": "pull_request"}),
        )
        .await;
    say(
        "a forge echoes the token in its error text",
        format!("{code} {}", answer["error"]),
    );
    assert_eq!(code.as_u16(), 409, "{answer}");
    assert!(!holds_a_token(&answer.to_string()), "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("Bearer ***"),
        "{answer}"
    );
}

/// The whole life of department `id`'s pull request: opened, a check failing
/// with the token in its log, sent back, updated. The successor's id.
#[cfg(target_os = "linux")]
async fn a_pull_requests_whole_life(forge: &Forge, api: &Api, id: &str) -> String {
    api.post_ok(
        "/api/integrate",
        &json!({"session_id": id, "mode": "pull_request"}),
    )
    .await;
    let pr = api.session(id).await["workspace"]["pull_request"].clone();
    let head = pr["head"].as_str().unwrap().to_string();
    forge.set_check(
        &head,
        "test",
        "completed",
        Some("failure"),
        5,
        Some(&format!("error: env says GITHUB_TOKEN={TOKEN}\nFAILED\n")),
    );
    api.wait_session(id, "the failure seen", |s| {
        s["workspace"]["pull_request"]["checks"][0]["verdict"] == "failed"
    })
    .await;
    let sent = api
        .post_ok("/api/send_back_failure", &json!({"session_id": id}))
        .await;
    let successor = sent["successor"].as_str().unwrap().to_string();
    api.wait_session(&successor, "reported again, in review", |s| {
        s["workspace"]["state"] == "in_review"
    })
    .await;
    successor
}

/// Every page and answer the developer's token reads, about Zhongshu `z`,
/// department `id` and its `successor`.
#[cfg(target_os = "linux")]
async fn no_page_or_answer_holds_a_token(api: &Api, url: &str, [z, id, successor]: [&str; 3]) {
    let mut pages: Vec<(String, String)> = Vec::new();
    for path in [
        "/api/status".to_string(),
        format!("/api/changes?session_id={id}"),
        format!("/api/changes?session_id={successor}"),
        "/api/pull_requests".into(),
        "/api/audit?since=0&limit=1000".into(),
        format!("/api/zhongshu_inbox?id={z}&peek=1"),
        "/api/approvals".into(),
    ] {
        let (_, v): (_, Value) = api.get(&path).await;
        pages.push((path, v.to_string()));
    }
    for path in ["/", "/static/js/pull_request.js", "/static/js/changes.js"] {
        let text = reqwest::get(format!("{url}{path}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        pages.push((path.to_string(), text));
    }
    for (path, text) in &pages {
        assert!(!holds_a_token(text), "{path} shows a token");
    }
    say(
        "every page and API answer searched for either token",
        format!("{} read, none holds one", pages.len()),
    );
}
