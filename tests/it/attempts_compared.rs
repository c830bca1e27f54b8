//! Several attempts at one task (issue 74) end to end: a real launcher, the
//! fake agent in real PTYs, the launcher's checks in Codex's real sandbox
//! (the pinned CLI), real Git. One assignment asks for two attempts; each
//! writes its own session id, and the check passes only for the one whose
//! id ends in `-1`: the comparison shows one green and one red attempt from
//! one base commit, a `kill -9` before the choice loses nothing, the green
//! one is chosen and merges, and the other is settled with its branch kept.

use crate::common::launcher::*;
use crate::common::scenario::{self, id_of, Scenario};

use reqwest::StatusCode;
use serde_json::{json, Value};

const CHECK: &str = "grep -q -- '-1$' src/who.txt";

fn repo() -> TestRepo {
    Scenario::new()
        .launcher(&format!(
            "  codex_command: {}\n  landing:\n    verify: [\"{CHECK}\"]\n",
            crate::common::model_server::codex_bin().display()
        ))
        .files(&[("src/lib.rs", "// a crate\n")])
        .committed()
        .max_departments(2)
        .repo()
}

/// `id`'s attempts as `GET /api/attempts` compares them, once each has its
/// verification.
async fn compared(api: &Api, id: &str) -> Value {
    wait_until("both attempts verified", PATIENCE, || async {
        let (code, v) = api.get(&format!("/api/attempts?session_id={id}")).await;
        let done = code == StatusCode::OK
            && v["attempts"]
                .as_array()
                .is_some_and(|a| a.len() == 2 && a.iter().all(|x| !x["check"]["passed"].is_null()));
        done.then_some(v)
    })
    .await
}

fn audited(repo: &TestRepo, event: &str) -> Vec<Value> {
    let log = std::fs::read_to_string(repo.state_dir().join("codex_governance_audit.jsonl"))
        .unwrap_or_default();
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["event"] == event)
        .collect()
}

#[test]
fn two_attempts_are_verified_compared_kept_across_kill_9_and_the_chosen_one_merges() {
    crate::needs!(Codex);
    let repo = repo();
    let rt = test_runtime();
    let mut launcher = spawn_launcher(&repo.path, &[]);
    let (z, ids) = rt.block_on(async {
        let api = &launcher.api;
        let z = scenario::start_plan(
            api,
            "one task, two attempts",
            "two attempts",
            vec![
                json!({"department": "lingyubu", "files": ["src/"], "attempts": 2,
                "task": "Say who [[fake-agent: --work-seconds 1 --write 'src/who.txt={session}' \
                         --changed-file src/who.txt --summary 'I wrote who I am']]"}),
            ],
        )
        .await;
        let ds = scenario::recorded(api, &z, 2).await;
        let ids: Vec<String> = ds.iter().map(id_of).collect();
        // One base commit for both.
        assert_eq!(
            ds[0]["workspace"]["base"], ds[1]["workspace"]["base"],
            "{ds:?}"
        );
        let v = compared(api, &ids[0]).await;
        assert_eq!(v["chosen"], Value::Null, "{v}");
        (z, ids)
    });
    // Cut before the choice: both attempts and their verification stay.
    launcher.kill9();
    let launcher = spawn_launcher(&repo.path, &[]);
    rt.block_on(async {
        let api = &launcher.api;
        let v = compared(api, &ids[1]).await;
        let attempts = v["attempts"].as_array().unwrap();
        let (green, red): (Vec<&Value>, Vec<&Value>) =
            attempts.iter().partition(|a| a["check"]["passed"] == true);
        assert_eq!((green.len(), red.len()), (1, 1), "{v}");
        let (green, red) = (green[0], red[0]);
        let (g, r) = (
            green["session_id"].as_str().unwrap().to_string(),
            red["session_id"].as_str().unwrap().to_string(),
        );
        assert!(g.ends_with("-1"), "{v}");
        assert_eq!(
            red["check"]["failure"],
            format!("`{CHECK}` exited with 1"),
            "{v}"
        );
        for a in attempts {
            assert_eq!(a["diff_stat"]["files"], 1, "{v}");
            assert_eq!(a["reported"], "I wrote who I am", "{v}");
            assert_eq!(a["awaits_user"], true, "{v}");
            assert_eq!(a["of"], 2, "{v}");
        }
        // Their trees, one against the other.
        let between = api.get_ok(&format!("/api/attempts/diff?a={g}&b={r}")).await;
        let diff = between["diff"].as_str().unwrap();
        assert!(
            diff.contains(&format!("-{g}")) && diff.contains(&format!("+{r}")),
            "{diff}"
        );
        // Neither goes on before it is chosen.
        let (code, body) = api
            .post("/api/integrate", &json!({"session_id": g, "mode": "merge"}))
            .await;
        assert_eq!(code, StatusCode::CONFLICT, "{body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("choose it among them first"),
            "{body}"
        );
        let chosen = api
            .post_ok("/api/choose_attempt", &json!({"session_id": g}))
            .await;
        assert_eq!(chosen["others"], json!([r]), "{chosen}");
        let (code, body) = api
            .post("/api/choose_attempt", &json!({"session_id": r}))
            .await;
        assert_eq!(code, StatusCode::CONFLICT, "a second choice: {body}");
        // The other is settled: worktree gone, branch kept.
        let settled = api
            .wait_status("the other attempt settled", |s| {
                departments(s)
                    .iter()
                    .any(|d| d["id"] == r && d["workspace"]["state"] == "discarded")
            })
            .await;
        let other = departments(&settled)
            .into_iter()
            .find(|d| d["id"] == r)
            .unwrap();
        let path = other["workspace"]["path"].as_str().unwrap();
        assert!(!std::path::Path::new(path).exists(), "its worktree is gone");
        let branch = other["workspace"]["branch"].as_str().unwrap();
        let git = git2::Repository::open(&repo.path).unwrap();
        assert!(
            git.find_branch(branch, git2::BranchType::Local).is_ok(),
            "its branch stays"
        );
        let merged = api
            .post_ok("/api/integrate", &json!({"session_id": g, "mode": "merge"}))
            .await;
        assert_eq!(merged["workspace"]["state"], "merged", "{merged}");
        assert_eq!(
            std::fs::read_to_string(repo.path.join("src/who.txt")).unwrap(),
            g
        );
        let v = api.get_ok(&format!("/api/attempts?session_id={g}")).await;
        assert_eq!(v["chosen"], g.as_str(), "{v}");
    });
    assert_eq!(audited(&repo, "attempt_started").len(), 2);
    assert_eq!(audited(&repo, "attempt_checked").len(), 2);
    let chosen = audited(&repo, "attempt_chosen");
    assert_eq!(chosen.len(), 1, "{chosen:?}");
    assert_eq!(chosen[0]["zhongshu_id"], z.as_str());
    assert_eq!(chosen[0]["by"], "user");
    drop(launcher);
}
