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
use crate::common::browser::Browser;
use crate::common::forge::Forge;
use crate::common::launcher::*;
use crate::common::scenario::drawer::{self, Shot};
use crate::common::scenario::{self, id_of, merging, Scenario};
use crate::pull_requests::{World, TOKEN};

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
    let _ = script;
    repo_with("block_on_important", "", "")
}

/// The repository of these tests: `gate` for `review.gate`, `launcher`
/// more settings under `launcher:` (two spaces in), `departments` more
/// departments (two spaces in).
fn repo_with(gate: &str, launcher: &str, departments: &str) -> TestRepo {
    let reviewer =
        serde_json::to_string(&vec![fake_agent().display().to_string(), "--acp".into()]).unwrap();
    Scenario::new()
        .launcher(&format!(
            "  codex_command: {codex}\n  review:\n    agent: gongbu\n    gate: {gate}\n{launcher}\
             departments:\n  lingyubu:\n    title: Sums\n    globs: [\"src/**\"]\n  \
             gongbu:\n    title: Reviewer\n    globs: [\"docs/**\"]\n    backend: acp\n    \
             acp_agent: other\n    acp_command: {reviewer}\n{departments}",
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

/// A plan of one department that writes `content` into `src/lib.rs`, its
/// reviewer running `script`; the department's session once its work is
/// recorded.
async fn one_department(api: &Api, content: &str, script: &std::path::Path) -> String {
    let task = format!(
        "Sum a slice [[fake-agent: --write 'src/lib.rs={content}' --changed-file src/lib.rs \
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
    id_of(&scenario::recorded(api, &z, 1).await[0])
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
        let first = one_department(api, BUGGY, &script).await;
        let (rc, reviewer) = line_7_important_and_a_note_on_the_file(api, &first).await;
        the_reviewer_could_not_write_nor_speak_for_the_department(&repo, &reviewer).await;
        // Merge is held, naming the finding; an override needs a reason.
        merging::merge_refused(api, &first, &format!("{rc} (src/lib.rs:7)")).await;
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
        let (second, new) =
            accepted_sent_back_and_reviewed_again(api, &repo, &script, &first, &rc).await;
        merging::merge_refused(api, &second, &format!("{new} (src/lib.rs:2)")).await;
        merging::merged_with(
            api,
            &second,
            json!({"override_review": true, "reason": "overflow is out of reach for our inputs"}),
        )
        .await;
        let lib = std::fs::read_to_string(repo.path.join("src/lib.rs")).unwrap();
        assert!(lib.contains("total += v[i];"), "{lib}");
    });
    the_audit_tells_two_reviews_an_acceptance_and_an_override(&rt, &repo);
}

/// The first review's findings on `first`: line 7 important, line 40 (not
/// in the diff) a note on the file, neither the user's draft. The line 7
/// finding's id and its reviewer's session.
async fn line_7_important_and_a_note_on_the_file(api: &Api, first: &str) -> (String, String) {
    let v = findings(api, first, 2).await;
    let comments = v["comments"].as_array().unwrap();
    let on_line = comments.iter().find(|c| c["line"] == 7).expect("line 7");
    let note = comments.iter().find(|c| c["line"] == 40).expect("line 40");
    assert_eq!(on_line["finding"]["severity"], "important", "{v}");
    assert_eq!(on_line["finding"].get("file_note"), None, "{v}");
    assert_eq!(note["finding"]["file_note"], true, "{v}");
    assert_eq!(v["drafts"], 0, "a finding is not the user's draft: {v}");
    let reviewer = on_line["finding"]["reviewer"].as_str().unwrap().to_string();
    assert!(reviewer.starts_with("reviewer-"), "{v}");
    (on_line["id"].as_str().unwrap().to_string(), reviewer)
}

/// What the reviewer tried and could not do: write a file (read-only) or
/// report for the department's session; its one tool took its own review.
async fn the_reviewer_could_not_write_nor_speak_for_the_department(
    repo: &TestRepo,
    reviewer: &str,
) {
    let log = wait_log(repo, reviewer, "Your review is registered").await;
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
}

/// The finding `rc` accepted and `first` sent back; the next attempt (told
/// the finding) fixes line 7 and is reviewed again: the earlier finding
/// shows addressed, a new one is on line 2. The next attempt and its
/// finding's id.
async fn accepted_sent_back_and_reviewed_again(
    api: &Api,
    repo: &TestRepo,
    script: &std::path::Path,
    first: &str,
    rc: &str,
) -> (String, String) {
    api.post_ok("/api/review_comments/accept", &json!({"id": rc}))
        .await;
    write_script(
        script,
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
    let log = wait_log(repo, &second, "FAKE_AGENT_ARGV").await;
    assert!(
        log.contains("v[i + 1] reads past the end: off by one"),
        "{log}"
    );
    let v = findings(api, &second, 1).await;
    let comments = v["comments"].as_array().unwrap();
    let earlier = comments
        .iter()
        .find(|c| c["id"] == rc)
        .expect("the earlier finding is listed");
    assert_eq!(earlier["state"], "addressed", "{v}");
    let new = comments
        .iter()
        .find(|c| c["session_id"] == second.as_str())
        .unwrap();
    assert_eq!(new["line"], 2, "{v}");
    let new = new["id"].as_str().unwrap().to_string();
    (second, new)
}

/// The audit: two reviews started (by gongbu), the first's findings
/// counted, one accepted, the override with its reason; the story as the
/// audit log tells it is printed (for the record; hashes cut).
fn the_audit_tells_two_reviews_an_acceptance_and_an_override(
    rt: &tokio::runtime::Runtime,
    repo: &TestRepo,
) {
    let started = audited_once(repo, "review_started", 2);
    let overridden = rt.block_on(audited_once(repo, "review_overridden", 1));
    let started = rt.block_on(started);
    assert_eq!(started.len(), 2, "{started:?}");
    assert_eq!(started[0]["agent"], "gongbu", "{started:?}");
    assert_eq!(
        overridden[0]["reason"], "overflow is out of reach for our inputs",
        "{overridden:?}"
    );
    let found = audited(repo, "review_findings");
    assert_eq!(
        (
            found[0]["important"].clone(),
            found[0]["minor"].clone(),
            found[0]["file_notes"].clone()
        ),
        (json!(1), json!(1), json!(1)),
        "{found:?}"
    );
    assert_eq!(audited(repo, "review_finding_accepted").len(), 1);
    for line in crate::common::mailbox::audit_lines(&repo.state_dir()) {
        let event = line["event"].as_str().unwrap_or_default();
        if event.starts_with("review_") || event == "sent_back" || event == "integration_done" {
            let mut line = line.clone();
            if let Some(o) = line.as_object_mut() {
                o.remove("hash");
                o.remove("prev_hash");
            }
            eprintln!("{line}");
        }
    }
}

/// The drawer shows the reviewer's findings quoted with their severity
/// (screenshots `second-opinion-{1440x900,390x844}.png`, axe), holds Apply
/// and Merge with the gate's words, and takes Accept, a Dismiss with its
/// reason, and an Override with its reason, each from the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drawer_shows_the_findings_and_takes_accept_dismiss_and_an_override() {
    crate::needs!(Codex, Chromium);
    let scratch = tempfile::tempdir().unwrap();
    let script = scratch.path().join("review.txt");
    write_script(
        &script,
        &[json!({"findings": [
            {"path": "src/lib.rs", "line": 7, "side": "new", "severity": "important",
             "body": "v[i + 1] reads past the end: off by one"},
            {"path": "src/lib.rs", "line": 3, "side": "new", "severity": "nit",
             "body": "n is used once: inline it"},
            {"path": "src/lib.rs", "line": 40, "side": "new", "severity": "minor",
             "body": "the file has no tests"}],
         "summary": "one bug, no tests"})],
    );
    let repo = repo(&script);
    // The reviewer's tools relay through the launcher's own binary: a
    // launcher of its own, not one in this test's process.
    let mut server = spawn_launcher(&repo.path, &[]);
    let api = &server.api;
    let id = one_department(api, BUGGY, &script).await;
    let v = findings(api, &id, 3).await;
    let rc = |line: u64| finding_on(&v, line);
    let page = scenario::dashboard(&server.url, &server.token, "second-opinion").await;
    the_drawer_quotes_the_findings_and_holds_the_merge(&page, &rc(7)).await;
    // Accept the nit, dismiss the minor with a reason.
    accept_one_and_dismiss_another_with_a_reason(&page, &rc(3), &rc(40)).await;
    // Override from the page, with a reason.
    page.type_into("#drawer-body .override-review-reason", "hotfix, tracked")
        .await;
    page.click("#drawer-body .override-review-merge").await;
    wait_until("merged past the finding", PATIENCE, || async {
        let s = api.session(&id).await;
        (s["workspace"]["state"] == "merged").then_some(())
    })
    .await;
    let overridden = audited_once(&repo, "review_overridden", 1).await;
    assert_eq!(overridden[0]["reason"], "hotfix, tracked", "{overridden:?}");
    assert_eq!(overridden[0]["findings"], json!([rc(7)]), "{overridden:?}");
    assert_eq!(
        audited_once(&repo, "review_finding_dismissed", 1).await[0]["reason"],
        "tests come next"
    );
    page.quit().await;
    merging::ends_well(&mut server);
}

/// The plan card counts the findings; its next review opens the drawer,
/// which quotes them (who reviewed, how many of each severity), says Merge
/// is held by the important one `bug`, and shows it under its line
/// (screenshots at the desk and on a phone, axe).
async fn the_drawer_quotes_the_findings_and_holds_the_merge(page: &Browser, bug: &str) {
    page.wait_text(
        "the plan card's second opinion",
        ".plan-assignment .second-opinion",
        "1 important, 1 minor, 1 nit",
    )
    .await;
    page.click("[data-action=\"review-next\"]").await;
    let said = page
        .wait_text(
            "the findings in the drawer",
            "#drawer-body .review-comments",
            "Reviewed by reviewer-",
        )
        .await;
    assert!(said.contains("1 important, 1 minor, 1 nit"), "{said}");
    page.wait_text(
        "Merge held by the gate",
        "#drawer-body .decision-blocked",
        &format!("{bug} (src/lib.rs:7)"),
    )
    .await;
    let row = format!("#drawer-body tr.comment-row[data-comment-id=\"{bug}\"]");
    page.present("the line 7 finding under its line", &row)
        .await;
    page.settle().await;
    drawer::at_desk_and_on_a_phone(
        page,
        "second-opinion",
        "a reviewer's findings in the drawer",
        Shot::Centered(&row),
        Shot::Centered("#drawer-body .review-comments"),
    )
    .await;
}

/// In the drawer: `accepted` is accepted as yours, `dismissed` dismissed
/// with a reason, each saying so on its card.
async fn accept_one_and_dismiss_another_with_a_reason(
    page: &Browser,
    accepted: &str,
    dismissed: &str,
) {
    let card = |c: &str| format!("#drawer-body .finding[data-comment-id=\"{c}\"]");
    page.click(&format!(
        "{} button[aria-label^=\"accept\"]",
        card(accepted)
    ))
    .await;
    page.wait_text("accepted", &card(accepted), "accepted as yours")
        .await;
    page.click(&format!(
        "{} button[aria-label^=\"dismiss\"]",
        card(dismissed)
    ))
    .await;
    page.type_into(
        &format!("{} .dismiss-reason", card(dismissed)),
        "tests come next",
    )
    .await;
    page.click(&format!("{} .comment-actions button", card(dismissed)))
        .await;
    page.wait_text("dismissed", &card(dismissed), "dismissed: tests come next")
        .await;
}

/// A reviewer that ends without a review does not open the gate: it is
/// reminded once, then closed, and Merge says so; *Review again* starts a
/// new reviewer, whose empty report lets the work land.
#[test]
fn a_reviewer_that_ends_without_a_review_holds_the_work_until_it_is_reviewed_again() {
    crate::needs!(Codex);
    let scratch = tempfile::tempdir().unwrap();
    // No script yet: the first reviewer reports nothing.
    let script = scratch.path().join("review.txt");
    let repo = repo(&script);
    let rt = test_runtime();
    let mut launcher = spawn_launcher(&repo.path, &[]);
    rt.block_on(async {
        let api = &launcher.api;
        let id = one_department(api, FIXED, &script).await;
        let body = wait_until("the silent reviewer closed", PATIENCE, || async {
            let (code, body) = api
                .post(
                    "/api/integrate",
                    &json!({"session_id": id, "mode": "merge"}),
                )
                .await;
            assert_eq!(code, StatusCode::CONFLICT, "{body}");
            body.to_string()
                .contains("ended without a review")
                .then_some(body)
        })
        .await;
        assert!(body.to_string().contains("reviewer-1"), "{body}");
        let log = wait_log(&repo, "reviewer-1", "Your turn ended without your review").await;
        assert!(log.contains("governance_report_findings"), "{log}");
        write_script(
            &script,
            &[json!({"findings": [], "summary": "nothing to add"})],
        );
        let again = api
            .post_ok("/api/review_again", &json!({"session_id": id}))
            .await;
        assert_eq!(again["reviewer"], "reviewer-2", "{again}");
        wait_until("merged once reviewed", PATIENCE, || async {
            let (code, _) = api
                .post(
                    "/api/integrate",
                    &json!({"session_id": id, "mode": "merge"}),
                )
                .await;
            (code == StatusCode::OK).then_some(())
        })
        .await;
    });
    let found = rt.block_on(audited_once(&repo, "review_findings", 1));
    assert_eq!(found[0]["session_id"], "reviewer-2", "{found:?}");
    merging::ends_well(&mut launcher);
}

/// `kill -9` after the reviewer reported: its findings, and the hold they
/// put on the work, are there after the restart; a reviewed tree no
/// reviewer reads any more is swept at the start.
#[test]
fn findings_and_their_hold_outlive_kill_9() {
    crate::needs!(Codex);
    let scratch = tempfile::tempdir().unwrap();
    let script = scratch.path().join("review.txt");
    write_script(
        &script,
        &[json!({"findings": [
            {"path": "src/lib.rs", "line": 7, "side": "new", "severity": "important",
             "body": "v[i + 1] reads past the end: off by one"}],
         "summary": "one bug"})],
    );
    let repo = repo(&script);
    let rt = test_runtime();
    let mut launcher = spawn_launcher(&repo.path, &[]);
    let (id, rc) = rt.block_on(async {
        let api = &launcher.api;
        let id = one_department(api, BUGGY, &script).await;
        let v = findings(api, &id, 1).await;
        (id, v["comments"][0]["id"].as_str().unwrap().to_string())
    });
    launcher.kill9();
    // A tree a reviewer cut by the kill was reading (as its folder stays).
    let review = repo.path.with_extension("worktrees").join(".review");
    let stale = review.join("lingyubu-9-0123456789ab-deadbeef");
    std::fs::create_dir_all(stale.join("src")).unwrap();
    std::fs::write(stale.join("src/lib.rs"), "// left\n").unwrap();
    let mut launcher = spawn_launcher(&repo.path, &[]);
    rt.block_on(async {
        let api = &launcher.api;
        let v = findings(api, &id, 1).await;
        assert_eq!(v["comments"][0]["id"], rc.as_str(), "{v}");
        merging::merge_refused(api, &id, &format!("{rc} (src/lib.rs:7)")).await;
        wait_until("the stale tree swept", PATIENCE, || async {
            (!stale.exists()).then_some(())
        })
        .await;
        assert!(review.is_dir(), "{}", review.display());
    });
    merging::ends_well(&mut launcher);
}

/// The audit line of `id`'s findings posted into its pull request.
async fn posted_for(repo: &TestRepo, id: &str) -> Value {
    wait_until(&format!("{id}'s findings posted"), PATIENCE, || async {
        let all = audited(repo, "forge_findings_posted");
        all.into_iter().find(|e| e["session_id"] == id)
    })
    .await
}

/// A finding the test reads: its comment's id by line.
fn finding_on(v: &Value, line: u64) -> String {
    let c = v["comments"].as_array().unwrap().iter();
    let mut c = c.filter(|c| c["author"] == "reviewer" && c["line"] == line);
    c.next().expect("the finding")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Item 5: a reviewer's open findings go into the department's pull request
/// as a review posted with the user's token, each saying whose words it
/// is: the agent's (quoted, its session named) or, once accepted, the
/// user's; a note on a file in the review's text. Findings that come after
/// the pull request was opened follow it there. Reading the forge back
/// never takes that review for a teammate's: nothing waits to be sent back.
#[test]
fn a_reviewers_findings_go_into_the_pull_request_in_whose_words_they_are() {
    crate::needs!(Codex);
    let scratch = tempfile::tempdir().unwrap();
    let (early, late, go) = (
        scratch.path().join("early.txt"),
        scratch.path().join("late.txt"),
        scratch.path().join("go"),
    );
    write_script(
        &early,
        &[json!({"findings": [
            {"path": "src/lib.rs", "line": 7, "side": "new", "severity": "important",
             "body": "v[i + 1] reads past the end @everyone"},
            {"path": "src/lib.rs", "line": 3, "side": "new", "severity": "nit",
             "body": "n could be inlined"},
            {"path": "src/lib.rs", "line": 40, "side": "new", "severity": "minor",
             "body": "the file has no tests"}],
         "summary": "one bug"})],
    );
    write_script(
        &late,
        &[json!({"findings": [
            {"path": "lib/two.rs", "line": 1, "side": "new", "severity": "important",
             "body": "two is not three"}],
         "summary": "late"})],
    );
    let rt = test_runtime();
    rt.block_on(async {
        let w = a_forge_with_two_reviewed_departments(scratch.path()).await;
        let mut launcher = w.launch();
        let api = &launcher.api;
        let (first, second) = two_departments_recorded(api, &early, &late, &go).await;
        // Findings first, one accepted, then the pull request.
        let v = findings(api, &first, 3).await;
        let (bug, nit, note) = (finding_on(&v, 7), finding_on(&v, 3), finding_on(&v, 40));
        api.post_ok("/api/review_comments/accept", &json!({"id": nit}))
            .await;
        open_its_pull_request(api, &first).await;
        let posted = posted_for(&w.repo, &first).await;
        assert_eq!(posted["findings"], json!([bug, nit, note]), "{posted}");
        assert_eq!(
            (posted["on_lines"].clone(), posted["accepted"].clone()),
            (json!(2), json!(1))
        );
        the_review_says_in_whose_words_each_finding_is(&w, &posted);
        // Findings that come after the pull request was opened follow it.
        open_its_pull_request(api, &second).await;
        assert!(
            w.forge.reviews(2).is_empty(),
            "its reviewer has not reported"
        );
        std::fs::write(&go, "").unwrap();
        let later = posted_for(&w.repo, &second).await;
        let lines = w
            .forge
            .comments_of_review(2, later["review_id"].as_u64().unwrap());
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(
            (lines[0]["path"].clone(), lines[0]["line"].clone()),
            (json!("lib/two.rs"), json!(1))
        );
        read_back_never_waiting_to_be_sent_back(&w, api, [&first, &second]).await;
        merging::ends_well(&mut launcher);
    });
}

/// A forge (`acme/tool`, its remote in `scratch`) the repository pushed its
/// base to, with a second department (hubu, `lib/`) and no review gate.
async fn a_forge_with_two_reviewed_departments(scratch: &std::path::Path) -> World {
    let remote = scratch.join("remote.git");
    git2::Repository::init_bare(&remote).unwrap();
    let forge = Forge::start("acme/tool", TOKEN, remote.clone()).await;
    let repo = repo_with(
        "off",
        &format!(
            "  pull_requests:\n    repo: acme/tool\n    api_url: {}\n    poll_seconds: 1\n",
            forge.api_url()
        ),
        "  hubu:\n    title: Two\n    globs: [\"lib/**\"]\n",
    );
    let w = World {
        repo,
        remote,
        forge,
    };
    w.set_origin(&w.file_url());
    w.push_base();
    w
}

/// A plan of lingyubu (the bug, reviewed by `early`) and hubu (reviewed by
/// `late` once `go` is there), both recorded: their sessions.
async fn two_departments_recorded(
    api: &Api,
    early: &std::path::Path,
    late: &std::path::Path,
    go: &std::path::Path,
) -> (String, String) {
    let z = scenario::start_plan(
        api,
        "sum",
        "two departments",
        vec![
            json!({"department": "lingyubu", "files": ["src/"], "task": format!(
                "Sum [[fake-agent: --write 'src/lib.rs={BUGGY}' --changed-file src/lib.rs \
                 --summary 'summed']] [[acp: script {}]]", early.display())}),
            json!({"department": "hubu", "files": ["lib/"], "task": format!(
                "Two [[fake-agent: --write 'lib/two.rs=2\\n' --changed-file lib/two.rs \
                 --summary 'two']] [[acp: await {}]] [[acp: script {}]]",
                go.display(), late.display())}),
        ],
    )
    .await;
    let done = scenario::recorded(api, &z, 2).await;
    let id = |dept: &str| id_of(done.iter().find(|d| d["department"] == dept).expect(dept));
    (id("lingyubu"), id("hubu"))
}

/// Opens `id`'s pull request.
async fn open_its_pull_request(api: &Api, id: &str) {
    let (code, body) = api
        .post(
            "/api/integrate",
            &json!({"session_id": id, "mode": "pull_request"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

/// The review `posted` into pull request 1, a comment: a note on a file in
/// its text; on its lines, the agent's finding quoted with its session
/// named, and the accepted one as the user's own.
fn the_review_says_in_whose_words_each_finding_is(w: &World, posted: &Value) {
    let reviews = w.forge.reviews(1);
    assert_eq!(reviews.len(), 1, "{reviews:?}");
    let review = &reviews[0];
    assert_eq!(review["event"], "COMMENT", "{review}");
    assert_eq!(review["id"], posted["review_id"], "{review}");
    let text = review["body"].as_str().unwrap();
    assert!(text.contains("**A second opinion**"), "{text}");
    assert!(text.contains("`src/lib.rs:40`"), "{text}");
    assert!(text.contains("\n        the file has no tests"), "{text}");
    let lines = w
        .forge
        .comments_of_review(1, review["id"].as_u64().unwrap());
    let on = |n: u64| {
        lines
            .iter()
            .find(|c| c["line"] == n)
            .expect("a line comment")
    };
    let agents = on(7)["body"].as_str().unwrap();
    assert!(
        agents.starts_with("**important**: from reviewer agent `reviewer-")
            && agents.contains("(`gongbu`), its words, not the user's"),
        "{agents}"
    );
    assert!(
        agents.contains("\n    v[i + 1] reads past the end @everyone"),
        "{agents}"
    );
    let accepted = on(3)["body"].as_str().unwrap();
    assert!(
        accepted.contains("that the user accepted as their own"),
        "{accepted}"
    );
    assert_eq!(on(3)["side"], "RIGHT");
}

/// Read back at the next looks at the forge, the reviews are seen, never
/// waiting to be sent back, and each finding went once.
async fn read_back_never_waiting_to_be_sent_back(w: &World, api: &Api, ids: [&str; 2]) {
    let reads = |w: &World| {
        w.forge
            .seen()
            .iter()
            .filter(|s| s.method == "GET" && s.path.contains("/reviews"))
            .count()
    };
    let before = reads(w);
    wait_until("two more looks at the reviews", PATIENCE, || async {
        (reads(w) >= before + 4).then_some(())
    })
    .await;
    for id in ids {
        let s = api.session(id).await;
        let pr = &s["workspace"]["pull_request"];
        assert_eq!(pr.get("review_waiting"), None, "{pr}");
        assert!(pr["seen_notes"].as_array().unwrap().len() >= 2, "{pr}");
    }
    assert!(api.audit_events("forge_review_sent_back").await.is_empty());
    assert_eq!(
        api.audit_events("forge_findings_posted").await.len(),
        2,
        "each finding goes once"
    );
}

/// A launcher whose Codex (the default reviewer of its ACP department,
/// gongbu) is held by its usage limit, `review` its review settings; the
/// department (which writes `OWN.md`, reports, and as a reviewer runs
/// `script`) reports only once the hold is in force: the launcher and the
/// department's session once its work is recorded.
async fn held_codex_and_a_reported_acp_department(
    review: &str,
    script: &std::path::Path,
    go: &std::path::Path,
) -> (crate::common::scenario::Codex, String) {
    use crate::common::model_server::{unix_now, usage_limit_body};
    use crate::common::scenario::CODEX_PATIENCE;
    let acp =
        serde_json::to_string(&vec![fake_agent().display().to_string(), "--acp".into()]).unwrap();
    let c = Scenario::codex()
        .launcher(&format!(
            "  review:\n{review}    gate: block_on_important\n\
             departments:\n  zhilibu:\n    title: Notes\n    globs: [NOTES.md]\n  \
             gongbu:\n    title: Own\n    globs: [OWN.md]\n    backend: acp\n    \
             acp_agent: other\n    acp_command: {acp}\n"
        ))
        .committed()
        .start()
        .await;
    c.server.on_status(
        "department (zhilibu)",
        429,
        &[
            ("x-codex-primary-used-percent", "100"),
            ("x-codex-primary-window-minutes", "300"),
            ("x-codex-primary-reset-at", "{now+900}"),
        ],
        usage_limit_body(unix_now() + 900),
    );
    let api = c.api();
    let report = json!({"summary": "own", "changed_files": ["OWN.md"]});
    let z = scenario::start_plan(
        api,
        "two",
        "two departments",
        vec![
            json!({"department": "gongbu", "files": ["OWN.md"], "task": format!(
                "Own [[acp: await {}]] [[acp: write OWN.md]] \
                 [[acp: tool governance_report_result {report}]] [[acp: script {}]]",
                go.display(), script.display())}),
            json!({"department": "zhilibu", "files": ["NOTES.md"], "task": "Write NOTES.md"}),
        ],
    )
    .await;
    wait_until("Codex's account held", CODEX_PATIENCE, || async {
        let status = api.status().await;
        (status["quota"]["hold"]["reason"] == "limit").then_some(())
    })
    .await;
    std::fs::write(go, "").unwrap();
    let done = scenario::recorded(api, &z, 1).await;
    assert_eq!(done[0]["department"], "gongbu", "{:?}", done[0]);
    let id = id_of(&done[0]);
    (c, id)
}

/// The finding the scripted reviewers of these tests report on `OWN.md`.
fn own_finding(script: &std::path::Path) {
    write_script(
        script,
        &[json!({"findings": [
            {"path": "OWN.md", "line": 1, "side": "new", "severity": "minor",
             "body": "say whose file this is"}],
         "summary": "fine"})],
    );
}

/// With the reviewer's account held by the quota and `fallback:
/// same_vendor`, the review runs on the department's own agent, stamped so
/// on the session, the plan card's view and the audit. Codex (the other
/// vendor, the default reviewer of this ACP department) hits its usage limit
/// first; the department reports only once the hold is in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_other_vendor_held_the_review_runs_on_the_departments_own_stamped() {
    crate::needs!(Codex);
    let scratch = tempfile::tempdir().unwrap();
    let (script, go) = (scratch.path().join("review.txt"), scratch.path().join("go"));
    own_finding(&script);
    let (mut c, id) =
        held_codex_and_a_reported_acp_department("    fallback: same_vendor\n", &script, &go).await;
    let api = c.api();
    let v = findings(api, &id, 1).await;
    let reviewer = v["comments"][0]["finding"]["reviewer"]
        .as_str()
        .unwrap()
        .to_string();
    let started = c
        .wait_audit("review_started", |e| e["session_id"] == reviewer.as_str())
        .await;
    assert_eq!(
        (started["agent"].clone(), started["same_vendor"].clone()),
        (json!("gongbu"), json!(true)),
        "{started}"
    );
    let session = api.session(&reviewer).await;
    assert_eq!(session["backend"], "acp", "{session}");
    let card = api.session(&id).await;
    assert_eq!(
        card["second_opinion"]["same_vendor"], true,
        "the plan card's view says so: {card}"
    );
    c.stop().await;
}

/// Without the fallback the review waits for the account: it does not start
/// under the hold (said once in the audit), and starts on Codex as soon as
/// the user starts anyway (as it would when the hold lifts at the reset).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_held_by_the_quota_starts_once_the_user_starts_anyway() {
    use crate::common::model_server::tool_call;
    crate::needs!(Codex);
    let scratch = tempfile::tempdir().unwrap();
    let (script, go) = (scratch.path().join("review.txt"), scratch.path().join("go"));
    let (mut c, id) = held_codex_and_a_reported_acp_department("", &script, &go).await;
    c.server.on(
        "Your session id is reviewer-",
        vec![tool_call(
            "call-findings",
            "governance_report_findings",
            json!({"findings": [{"path": "OWN.md", "line": 1, "side": "new",
                                 "severity": "nit", "body": "a line of its own"}],
                   "summary": "fine"}),
        )],
    );
    let api = c.api();
    let failed = c
        .wait_audit("review_failed", |e| e["reviews"] == id.as_str())
        .await;
    assert!(
        failed["error"].as_str().unwrap_or("").contains("held"),
        "{failed}"
    );
    let (code, body) = api
        .post(
            "/api/integrate",
            &json!({"session_id": id, "mode": "merge"}),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "its review is due: {body}");
    api.post_ok("/api/quota/start_anyway", &json!({})).await;
    let v = findings(api, &id, 1).await;
    let reviewer = v["comments"][0]["finding"]["reviewer"].as_str().unwrap();
    let started = c
        .wait_audit("review_started", |e| e["session_id"] == reviewer)
        .await;
    // Codex's: another maker's than the department's, not stamped.
    assert_ne!(started["agent"], "gongbu", "{started}");
    assert_eq!(started.get("same_vendor"), None, "{started}");
    assert_eq!(api.session(reviewer).await["backend"], "codex");
    assert_eq!(
        api.audit_events("review_failed").await.len(),
        1,
        "said once"
    );
    c.stop().await;
}
