//! A second opinion before anything lands (issue 75), end to end: a real
//! launcher, a department run by the fake agent in a real PTY, its reviewer
//! the fake ACP agent confined read-only by Codex's real sandbox (the pinned
//! CLI), real Git. The department plants an off-by-one at `src/lib.rs:7`;
//! the reviewer tries to write a file and to report for the department's
//! session (both refused), then reports line 7 `important` and a line the
//! diff does not show (a note on the file). Merge is refused while the
//! finding is open; the user accepts it and sends the work back, the next
//! attempt fixes line 7 and is reviewed again (the earlier finding shows
//! addressed), its new important finding is overridden with a reason, and
//! the work lands.

use crate::common::audit::{audited, audited_once};
use crate::common::launcher::*;
use crate::common::scenario::{self, id_of, Scenario};

use reqwest::StatusCode;
use serde_json::{json, Value};

/// The department's version of `src/lib.rs`: line 7 is off by one.
const BUGGY: &str = "pub fn sum(v: &[u32]) -> u32 {\\n    let mut total = 0;\\n    let n = v.len();\\n    \
    let mut i = 0;\\n    // every element\\n    while i < n {\\n        total += v[i + 1];\\n        \
    i += 1;\\n    }\\n    total\\n}\\n";
/// The next attempt's: line 7 fixed.
const FIXED: &str =
    "pub fn sum(v: &[u32]) -> u32 {\\n    let mut total = 0;\\n    let n = v.len();\\n    \
    let mut i = 0;\\n    // every element\\n    while i < n {\\n        total += v[i];\\n        \
    i += 1;\\n    }\\n    total\\n}\\n";

fn repo(script: &std::path::Path) -> TestRepo {
    let reviewer =
        serde_json::to_string(&vec![fake_agent().display().to_string(), "--acp".into()]).unwrap();
    let _ = script;
    Scenario::new()
        .launcher(&format!(
            "  codex_command: {codex}\n  review:\n    agent: gongbu\n    gate: block_on_important\n\
             departments:\n  lingyubu:\n    title: Sums\n    globs: [\"src/**\"]\n  \
             gongbu:\n    title: Reviewer\n    globs: [\"docs/**\"]\n    backend: acp\n    \
             acp_agent: other\n    acp_command: {reviewer}\n",
            codex = crate::common::model_server::codex_bin().display(),
        ))
        .files(&[("src/lib.rs", "// sums\n")])
        .committed()
        .repo()
}

/// The reviewer's directives for one review: the script the fake ACP agent
/// runs (one tool call per line).
fn write_script(path: &std::path::Path, calls: &[Value]) {
    let lines: Vec<String> = calls
        .iter()
        .map(|c| format!("governance_report_findings {c}"))
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// `id`'s review comments once `n` of them are its reviewer's (its earlier
/// attempts' are listed too).
async fn findings(api: &Api, id: &str, n: usize) -> Value {
    wait_until(&format!("{n} findings on {id}"), PATIENCE, || async {
        let (code, v) = api
            .get(&format!("/api/review_comments?session_id={id}"))
            .await;
        let found = v["comments"].as_array().map_or(0, |c| {
            c.iter()
                .filter(|c| c["author"] == "reviewer" && c["session_id"] == id)
                .count()
        });
        (code == StatusCode::OK && found >= n).then_some(v)
    })
    .await
}

#[test]
fn a_reviewers_important_finding_holds_the_merge_until_sent_back_and_the_next_attempt_lands() {
    crate::needs!(Codex);
    let scratch = tempfile::tempdir().unwrap();
    let script = scratch.path().join("review.txt");
    let repo = repo(&script);
    write_script(
        &script,
        &[
            // For the department's session: refused.
            json!({"session_id": "lingyubu-1", "findings": [], "summary": "all good"}),
            json!({"findings": [
                {"path": "src/lib.rs", "line": 7, "side": "new", "severity": "important",
                 "body": "v[i + 1] reads past the end: off by one"},
                {"path": "src/lib.rs", "line": 40, "side": "new", "severity": "minor",
                 "body": "the file has no tests"}],
             "summary": "one bug, no tests"}),
        ],
    );
    let rt = test_runtime();
    let launcher = spawn_launcher(&repo.path, &[]);
    rt.block_on(async {
        let api = &launcher.api;
        let task = format!(
            "Sum a slice [[fake-agent: --write 'src/lib.rs={BUGGY}' --changed-file src/lib.rs \
             --summary 'summed']] [[acp: write evil.txt]] [[acp: script {}]]",
            script.display()
        );
        let z = scenario::start_plan(
            api,
            "sum",
            "one department",
            vec![json!({"department": "lingyubu", "files": ["src/"], "task": task})],
        )
        .await;
        let first = id_of(&scenario::recorded(api, &z, 1).await[0]);
        let v = findings(api, &first, 2).await;
        let comments = v["comments"].as_array().unwrap();
        let on_line = comments.iter().find(|c| c["line"] == 7).expect("line 7");
        let note = comments.iter().find(|c| c["line"] == 40).expect("line 40");
        assert_eq!(on_line["finding"]["severity"], "important", "{v}");
        assert_eq!(on_line["finding"].get("file_note"), None, "{v}");
        assert_eq!(note["finding"]["file_note"], true, "{v}");
        assert_eq!(v["drafts"], 0, "a finding is not the user's draft: {v}");
        let reviewer = on_line["finding"]["reviewer"].as_str().unwrap().to_string();
        assert!(reviewer.starts_with("reviewer-"), "{v}");

        // What the reviewer tried and could not do.
        let log = wait_log(&repo, &reviewer, "FAKE_ACP_TOOL governance_report_findings").await;
        assert!(
            log.contains("FAKE_ACP_TOOLS [\"governance_report_findings\"]"),
            "{log}"
        );
        let write = log
            .lines()
            .find(|l| l.starts_with("FAKE_ACP_WRITE"))
            .expect("the write directive ran");
        assert!(write.contains("Read-only file system"), "{write}");
        assert!(
            log.contains("leave out session_id: the launcher knows which session is calling"),
            "{log}"
        );
        assert!(
            log.contains("Your review is registered: 1 important, 1 minor"),
            "{log}"
        );

        // Merge is held, naming the finding; an override needs a reason.
        let rc = on_line["id"].as_str().unwrap().to_string();
        let (code, body) = api
            .post(
                "/api/integrate",
                &json!({"session_id": first, "mode": "merge"}),
            )
            .await;
        assert_eq!(code, StatusCode::CONFLICT, "{body}");
        assert!(
            body.to_string().contains(&format!("{rc} (src/lib.rs:7)")),
            "{body}"
        );
        let (code, body) = api
            .post(
                "/api/integrate",
                &json!({"session_id": first, "mode": "merge", "override_review": true}),
            )
            .await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
        let changes = api
            .get_ok(&format!("/api/changes?session_id={first}"))
            .await;
        assert_eq!(changes["review_held"], true, "{changes}");

        // Accepted, sent back; the next review finds line 2 important.
        api.post_ok("/api/review_comments/accept", &json!({"id": rc}))
            .await;
        write_script(
            &script,
            &[json!({"findings": [
                {"path": "src/lib.rs", "line": 2, "side": "new", "severity": "important",
                 "body": "total could overflow"}],
             "summary": "fixed; one more"})],
        );
        let sent = api
            .post_ok(
                "/api/send_back",
                &json!({"session_id": first,
                        "note": format!("Fix it [[fake-agent: --write 'src/lib.rs={FIXED}']]")}),
            )
            .await;
        let second = sent["successor"].as_str().unwrap().to_string();
        let log = wait_log(&repo, &second, "FAKE_AGENT_ARGV").await;
        assert!(
            log.contains("v[i + 1] reads past the end: off by one"),
            "{log}"
        );
        let v = findings(api, &second, 1).await;
        let earlier = v["comments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == rc.as_str())
            .cloned()
            .expect("the earlier finding is listed");
        assert_eq!(earlier["state"], "addressed", "{v}");
        let new = v["comments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["session_id"] == second.as_str())
            .cloned()
            .unwrap();
        assert_eq!(new["line"], 2, "{v}");
        let (code, body) = api
            .post(
                "/api/integrate",
                &json!({"session_id": second, "mode": "merge"}),
            )
            .await;
        assert_eq!(code, StatusCode::CONFLICT, "{body}");
        assert!(
            body.to_string()
                .contains(&format!("{} (src/lib.rs:2)", new["id"].as_str().unwrap())),
            "{body}"
        );
        api.post_ok(
            "/api/integrate",
            &json!({"session_id": second, "mode": "merge", "override_review": true,
                    "reason": "overflow is out of reach for our inputs"}),
        )
        .await;
        let lib = std::fs::read_to_string(repo.path.join("src/lib.rs")).unwrap();
        assert!(lib.contains("total += v[i];"), "{lib}");
    });
    let started = audited_once(&repo, "review_started", 2);
    let overridden = rt.block_on(audited_once(&repo, "review_overridden", 1));
    let started = rt.block_on(started);
    assert_eq!(started.len(), 2, "{started:?}");
    assert_eq!(started[0]["agent"], "gongbu", "{started:?}");
    assert_eq!(
        overridden[0]["reason"], "overflow is out of reach for our inputs",
        "{overridden:?}"
    );
    let found = audited(&repo, "review_findings");
    assert_eq!(
        (
            found[0]["important"].clone(),
            found[0]["minor"].clone(),
            found[0]["file_notes"].clone()
        ),
        (json!(1), json!(1), json!(1)),
        "{found:?}"
    );
    assert_eq!(audited(&repo, "review_finding_accepted").len(), 1);
}
