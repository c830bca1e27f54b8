//! The mailbox end to end (SPEC 8, 9, 14): a real server, real PTYs running
//! the fake agent (`tools/fake-agent`), real files. Reports through `codex-governance mailbox
//! send`, every kind of bad file, duplicate ids, fallback results, notices,
//! resuming a Zhongshu, and a launcher killed while a report arrives.
//!
//! No timing is asserted: every wait is a generous wait-until loop.

use crate::common::launcher as support;
use crate::common::mailbox as extra;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use extra::*;
use support::*;

fn read(path: &Value) -> String {
    let p = path
        .as_str()
        .unwrap_or_else(|| panic!("not a path: {path}"));
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {p}: {e}"))
}

fn under(path: &Value, dir: &Path) -> bool {
    path.as_str()
        .map(|p| Path::new(p).parent() == Some(dir))
        .unwrap_or(false)
}

/// Fake-agent flags that keep every agent up long enough for the slowest test.
const LONG_LIVED: &[&str] = &["--max-lifetime", "300"];

/// The directive of a department that neither reports nor exits by itself: the
/// test drops its reports.
const QUIET: &str = "[[fake-agent: --no-report --after-report wait]]";

/// Starts a quiet department (see [`QUIET`]) on `words`; returns its id.
async fn start_quiet_department(api: &Api, z: &str, department: &str, words: &str) -> String {
    start_department(api, z, department, &format!("{words} {QUIET}")).await
}

/// Waits for a settled result of department session `d` in the inbox of `z`.
async fn wait_result_of(api: &Api, z: &str, what: &str, d: &str) -> Value {
    wait_result(api, z, what, |r| r["department_session_id"] == json!(d)).await
}

/// A long-lived launcher running one Zhongshu with one quiet department.
struct QuietDepartment {
    repo: TestRepo,
    server: InProcess,
    /// The Zhongshu.
    z: String,
    /// Its department.
    d: String,
    /// The Zhongshu's mailbox.
    mb: Mailbox,
}

/// Serves a [`LONG_LIVED`] repository, starts a Zhongshu on `task` and a quiet
/// `department` on `words` under it.
async fn zhongshu_with_quiet_department(
    task: &str,
    department: &str,
    words: &str,
) -> QuietDepartment {
    let (repo, server) = serve(LONG_LIVED).await;
    let z = server.api.start_zhongshu(task).await;
    let d = start_quiet_department(&server.api, &z, department, words).await;
    let mb = mailbox(&repo.state_dir(), &z);
    QuietDepartment {
        repo,
        server,
        z,
        d,
        mb,
    }
}

/// Checks a result against SPEC 8 and what the department reported.
fn assert_result_shape(r: &Value, z: &str, archive: &Path) {
    for key in RESULT_FIELDS {
        assert!(r.get(*key).is_some(), "result lacks {key}: {r}");
    }
    assert_eq!(r["parent_session_id"], json!(z), "{r}");
    assert!(
        is_rfc3339(&r["reported_at"]),
        "reported_at is RFC 3339: {r}"
    );
    for key in [
        "changed_files",
        "verifications_run",
        "verifications_skipped",
        "risks",
    ] {
        assert!(r[key].is_array(), "{key} is a list: {r}");
    }
    assert!(r["needs_user_confirmation"].is_boolean(), "{r}");
    assert!(r["read"].is_boolean(), "{r}");
    assert!(
        under(&r["handoff_packet"], archive),
        "packet in archive/: {r}"
    );
    assert!(
        Path::new(r["handoff_packet"].as_str().unwrap()).is_file(),
        "packet exists: {r}"
    );
    if r["source"] == "mailbox" {
        assert!(
            under(&r["mailbox_file"], archive),
            "report file in archive/: {r}"
        );
        assert!(
            Path::new(r["mailbox_file"].as_str().unwrap()).is_file(),
            "archived file exists: {r}"
        );
    }
}

/// Checks a handoff packet's layout (SPEC 8 step 4).
fn assert_packet(text: &str, r: &Value, objective: &str) {
    assert!(
        text.starts_with("# Codex Department Handoff\n"),
        "title: {text}"
    );
    for needle in [
        r["parent_session_id"].as_str().unwrap(),
        r["department_session_id"].as_str().unwrap(),
        r["department"].as_str().unwrap(),
        r["source"].as_str().unwrap(),
        r["reported_at"].as_str().unwrap(),
        r["summary"].as_str().unwrap(),
    ] {
        assert!(text.contains(needle), "packet names {needle:?}: {text}");
    }
    let mut last = 0;
    for section in PACKET_SECTIONS {
        let at = text
            .find(section)
            .unwrap_or_else(|| panic!("packet lacks {section}: {text}"));
        assert!(at >= last, "{section} out of order: {text}");
        last = at;
    }
    let objective_section =
        &text[text.find("## Objective").unwrap()..text.find("## Summary").unwrap()];
    assert!(
        objective_section.contains(objective),
        "the Objective is the department's task {objective:?}: {objective_section}"
    );
    for key in [
        "changed_files",
        "verifications_run",
        "verifications_skipped",
        "risks",
    ] {
        for item in r[key].as_array().unwrap() {
            assert!(
                text.contains(item.as_str().unwrap()),
                "packet lists {item}: {text}"
            );
        }
    }
    if let Some(next) = r["next_action"].as_str() {
        assert!(text.contains(next), "packet names the next action: {text}");
    }
}

// ---------------------------------------------------------------------------
// The whole flow

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    windows,
    ignore = "its agent command waits on a barrier in /bin/sh; tests/it/windows_loop.rs runs a plan on Windows"
)]
async fn plan_reports_packets_close_queue_and_one_notice() {
    let repo = TestRepo::with_flags(&[]);
    let barrier = repo.files.join("barrier");
    let tasks = plan_of_three_reporting_parts(&repo, &barrier);
    let server = InProcess::start(&repo).await;
    let api = &server.api;
    let z = api.start_zhongshu("full mailbox flow").await;
    wait_plan_accepted(&repo, &z).await;
    let mb = mailbox(&repo.state_dir(), &z);
    let status = api
        .wait_status("2 departments running, 1 queued", |s| {
            running(&departments(s)).len() == 2 && s["queue"].as_array().map(Vec::len) == Some(1)
        })
        .await;
    let first_two: Vec<(String, String)> = departments(&status)
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_string(),
                d["department"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        first_two
            .iter()
            .map(|(_, d)| d.as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["lingyubu", "zhilibu"])
    );
    // Both departments run their agent at the same moment.
    std::fs::write(&barrier, "go").unwrap();
    let inbox_two = wait_inbox(api, &z, "two results", |i| results(i).len() >= 2).await;
    let two = results(&inbox_two);
    assert_eq!(two.len(), 2, "{inbox_two}");
    assert_eq!(
        inbox_two["unread_count"],
        json!(2),
        "peek leaves them unread: {inbox_two}"
    );
    for (id, dept) in &first_two {
        let r = two
            .iter()
            .find(|r| r["department_session_id"] == json!(id))
            .unwrap_or_else(|| panic!("no result for {id}: {inbox_two}"));
        let task = &tasks.iter().find(|(d, _)| d == dept).unwrap().1;
        reported_as_told_through_mailbox_send(&repo, r, (&z, id, dept), task, &mb.archive).await;
    }
    for (id, _) in &first_two {
        closed_by_the_launcher_after_its_report(api, id).await;
    }
    let g_id = the_queued_third_starts_reports_and_is_closed(api, &z, &mb, &tasks[2].1).await;
    let ids: Vec<&str> = first_two
        .iter()
        .map(|(id, _)| id.as_str())
        .chain([g_id.as_str()])
        .collect();
    // Audit: one result_registered per report.
    let audit = audit_lines(&repo.state_dir());
    for id in &ids {
        let n = audit_events(&audit, "result_registered")
            .iter()
            .filter(|e| e["report_id"] == json!(id) && e["parent_session_id"] == json!(z))
            .count();
        assert_eq!(n, 1, "one result_registered for {id}");
    }
    let notices = every_notice_once_echoed(&repo, api, &z, &g_id).await;
    the_first_two_share_a_notice_if_they_landed_together(&notices, &two, &first_two);
    each_result_is_announced_once_in_a_short_notice(&repo, &notices, &z, &ids);
    server.stop().await;
}

/// Writes the plan of three parts (lingyubu, zhilibu, then gongchengbu, which
/// reports well after the first two, so its notice is separate) that the
/// Zhongshu of `repo` reports at once, its departments waiting for `barrier`
/// and reporting with `mailbox send`. The (department, task) pairs.
fn plan_of_three_reporting_parts(repo: &TestRepo, barrier: &Path) -> Vec<(&'static str, String)> {
    let directive = |dept: &str, extra: &str| {
        format!(
            "[[fake-agent: --report-via cli --after-report wait --summary '{dept} finished' \
             --risk '{dept} risk' --changed-file src/{dept}.rs --verification 'cargo test {dept}: ok' \
             --next-action 'review {dept}' {extra}]]"
        )
    };
    let tasks = vec![
        (
            "lingyubu",
            format!("Fix the domain parser {}", directive("lingyubu", "")),
        ),
        (
            "zhilibu",
            format!("Update the docs {}", directive("zhilibu", "")),
        ),
        (
            "gongchengbu",
            format!(
                "Tidy the tooling {}",
                directive("gongchengbu", "--work-seconds 4")
            ),
        ),
    ];
    let plan = json!({
        "summary": "three parts",
        "assignments": tasks.iter().map(|(d, t)| json!({"department": d, "task": t})).collect::<Vec<_>>(),
    });
    let plan_file = repo.write_json("plan.json", &plan);
    repo.write_config(&RepoOptions {
        agent_command: Some(barrier_agent_command(
            barrier,
            &[
                "--plan-file".into(),
                plan_file.display().to_string(),
                "--max-lifetime".into(),
                "300".into(),
            ],
        )),
        max_departments: 2,
        ..Default::default()
    });
    tasks
}

/// Result `r` of department session `id` (`dept`, of Zhongshu `z`) holds what
/// its task told it to report, its packet is laid out, and the department
/// wrote it through `codex-governance mailbox send`: the command answers after
/// the launcher registered the result (over the API).
async fn reported_as_told_through_mailbox_send(
    repo: &TestRepo,
    r: &Value,
    (z, id, dept): (&str, &str, &str),
    task: &str,
    archive: &Path,
) {
    assert_result_shape(r, z, archive);
    assert_eq!(
        r["report_id"],
        json!(id),
        "the session id is the default report id: {r}"
    );
    assert_eq!(r["department"], json!(dept));
    assert_eq!(r["summary"], json!(format!("{dept} finished")));
    assert_eq!(r["changed_files"], json!([format!("src/{dept}.rs")]));
    assert_eq!(
        r["verifications_run"],
        json!([format!("cargo test {dept}: ok")])
    );
    assert_eq!(r["verifications_skipped"], json!([]));
    assert_eq!(r["risks"], json!([format!("{dept} risk")]));
    assert_eq!(r["next_action"], json!(format!("review {dept}")));
    assert_eq!(r["needs_user_confirmation"], json!(false));
    assert_eq!(r["source"], json!("mailbox"));
    assert_eq!(r["read"], json!(false));
    assert_packet(&read(&r["handoff_packet"]), r, task);
    let log = wait_log(repo, id, "FAKE_AGENT_REPORT_CLI ").await;
    assert!(
        log.contains("FAKE_AGENT_REPORT_CLI 0 "),
        "mailbox send worked: {log}"
    );
    assert!(log.contains("(verified)"), "submitted over the API: {log}");
}

/// A reported department is closed by the launcher, and says so in plain
/// words: reported, not "exited (143)".
async fn closed_by_the_launcher_after_its_report(api: &Api, id: &str) {
    let s = api
        .wait_session(id, "auto-closed", |s| {
            s["status"] == "exited" && s["auto_closed"] == true
        })
        .await;
    assert_eq!(
        s["auto_close_reason"],
        json!("mailbox_report_received"),
        "{s}"
    );
    assert_eq!(s["report_status"], json!("reported"), "{s}");
    assert_eq!(
        s["ended_reason"],
        json!("closed"),
        "the launcher closed it (it would have waited): {s}"
    );
    assert_eq!(s["state"], json!("reported"), "{s}");
    assert_eq!(s["state_reason"], json!("closed after its report"), "{s}");
    assert!(is_rfc3339(&s["reported_at"]), "{s}");
    assert_eq!(s["last_report_id"], json!(id), "{s}");
}

/// The queued gongchengbu (on `task`) starts, reports and is closed too; its id.
async fn the_queued_third_starts_reports_and_is_closed(
    api: &Api,
    z: &str,
    mb: &Mailbox,
    task: &str,
) -> String {
    let third = api
        .wait_status("gongchengbu started", |s| {
            departments(s)
                .iter()
                .any(|d| d["department"] == "gongchengbu")
        })
        .await;
    let g = departments(&third)
        .into_iter()
        .find(|d| d["department"] == "gongchengbu")
        .unwrap();
    let g_id = g["id"].as_str().unwrap().to_string();
    assert!(third["queue"].as_array().unwrap().is_empty(), "{third}");
    let r3 = wait_result_of(api, z, "gongchengbu result", &g_id).await;
    assert_result_shape(&r3, z, &mb.archive);
    assert_packet(&read(&r3["handoff_packet"]), &r3, task);
    api.wait_session(&g_id, "auto-closed", |s| {
        s["status"] == "exited" && s["auto_closed"] == true
    })
    .await;
    g_id
}

/// The notice lines in Zhongshu `z`'s transcript once the one naming the
/// third department `g_id` is there and the agent echoed every notice the
/// audit says was sent.
async fn every_notice_once_echoed(repo: &TestRepo, api: &Api, z: &str, g_id: &str) -> Vec<String> {
    let zs = api
        .wait_session(z, "notified", |s| s["auto_notification_status"] == "sent")
        .await;
    assert_eq!(zs["auto_notification_status"], json!("sent"));
    wait_until("two notices (or three)", PATIENCE, || async {
        let log = repo.log(z);
        notice_lines(&log)
            .iter()
            .any(|l| l.contains(g_id))
            .then_some(log)
    })
    .await;
    // Every notice sent is audited: count them once the agent echoed each.
    wait_until("every audited notice echoed", PATIENCE, || async {
        let sent = audit_events(&audit_lines(&repo.state_dir()), "zhongshu_notified")
            .iter()
            .filter(|e| e["status"] == "sent")
            .count();
        (notice_lines(&repo.log(z)).len() == sent).then_some(())
    })
    .await;
    notice_lines(&repo.log(z))
}

/// The first two results (`two`, of `first_two`) landed together, so they make
/// one notice and the third its own; reported apart, they may have two.
fn the_first_two_share_a_notice_if_they_landed_together(
    notices: &[String],
    two: &[Value],
    first_two: &[(String, String)],
) {
    let t: Vec<i64> = two.iter().map(|r| rfc3339_ms(&r["reported_at"])).collect();
    let together = (t[0] - t[1]).abs() < 1500;
    if !together {
        eprintln!(
            "the two reports were {} ms apart: separate notices allowed",
            (t[0] - t[1]).abs()
        );
        assert!((2..=3).contains(&notices.len()), "{notices:#?}");
        return;
    }
    assert_eq!(
        notices.len(),
        2,
        "one notice for the two, one for the third: {notices:#?}"
    );
    let both = &notices[0];
    assert!(both.contains("2 new results"), "{both}");
    for (id, _) in first_two {
        assert!(
            both.contains(id.as_str()),
            "the joint notice names {id}: {both}"
        );
    }
    assert!(
        !notices[1].contains(first_two[0].0.as_str())
            && !notices[1].contains(first_two[1].0.as_str())
    );
}

/// Whatever the grouping, each result of `ids` is announced exactly once, in
/// a notice under 1000 characters naming Zhongshu `z`'s inbox and the risks;
/// each notice is audited.
fn each_result_is_announced_once_in_a_short_notice(
    repo: &TestRepo,
    notices: &[String],
    z: &str,
    ids: &[&str],
) {
    for id in ids {
        let n = notices
            .iter()
            .filter(|l| l.contains(&format!("({id}, ")))
            .count();
        assert_eq!(n, 1, "{id} is in exactly one notice: {notices:#?}");
    }
    for n in notices {
        assert!(
            n.chars().count() < 1000,
            "notice under 1000 characters: {n}"
        );
        assert!(
            n.contains(&format!("/api/zhongshu_inbox?id={z}&peek=1")),
            "inbox URL: {n}"
        );
        assert!(n.contains("risks: "), "{n}");
    }
    assert!(
        notices[0].contains("next (their words): "),
        "{}",
        notices[0]
    );
    let notified = audit_events(&audit_lines(&repo.state_dir()), "zhongshu_notified")
        .into_iter()
        .filter(|e| e["session_id"] == json!(z) && e["status"] == "sent")
        .count();
    assert_eq!(notified, notices.len(), "each notice audited");
}

// ---------------------------------------------------------------------------
// Bad files

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_file_is_rejected_with_a_reason_and_good_ones_still_register() {
    let (repo, server) = serve(LONG_LIVED).await;
    let api = &server.api;
    let z = api.start_zhongshu("bad files").await;
    let other_z = api.start_zhongshu("another planner").await;
    let d = start_quiet_department(api, &z, "lingyubu", "domain").await;
    let mb = mailbox(&repo.state_dir(), &z);
    let bad: Vec<BadFile> = malformed_reports(&z, &d)
        .into_iter()
        .chain(misaddressed_reports(&z, &d, &other_z))
        .collect();
    for (name, content, _) in &bad {
        drop_bytes(&mb.incoming, name, content);
    }
    let odd = drop_odd_entries(&repo, &mb, &z, &d);
    drop_good_ones_with_a_bom_and_slowly(&mb, &z, &d).await;
    let rejected_names: Vec<&str> = bad
        .iter()
        .map(|(n, _, _)| *n)
        .chain(odd.specials.iter().map(|(n, _)| *n))
        .collect();
    wait_until("every bad file rejected", PATIENCE, || async {
        let r = names(&mb.rejected);
        rejected_names
            .iter()
            .all(|n| r.contains(&n.to_string()) && r.contains(&format!("{n}.reason.json")))
            .then_some(())
    })
    .await;
    wait_until("the orphan rejected", PATIENCE, || async {
        names(&odd.orphan.rejected)
            .contains(&"orphan.json.reason.json".to_string())
            .then_some(())
    })
    .await;
    let inbox2 = wait_inbox(api, &z, "bom and slow registered", |i| {
        results(i).len() >= 2
    })
    .await;
    // A good report after all of that still registers.
    drop_json(
        &mb.incoming,
        "last.json",
        &good(&z, &d, "the last word", "last"),
    );
    let last = wait_result(api, &z, "last registered", |r| r["report_id"] == "last").await;
    assert_result_shape(&last, &z, &mb.archive);
    let reasons: Vec<(&str, &str)> = bad
        .iter()
        .map(|(n, _, w)| (*n, *w))
        .chain(odd.specials.iter().copied())
        .collect();
    let audit = audit_lines(&repo.state_dir());
    each_rejected_once_with_its_reason(&mb, &audit, &z, &reasons);
    odd_entries_are_moved_as_they_were(&mb, &odd, &audit);
    only_the_good_ones_are_results(api, &repo, &mb, [&z, &other_z], &inbox2).await;
    server.stop().await;
}

/// A bad report file: (name, content, a word its rejection reason must contain).
type BadFile = (&'static str, Vec<u8>, &'static str);

/// A valid report of department `d` of Zhongshu `z` under `report_id`.
fn good(z: &str, d: &str, summary: &str, report_id: &str) -> Value {
    let mut r = report(z, d, "lingyubu", summary);
    r["report_id"] = json!(report_id);
    r
}

/// A report of department `d` of Zhongshu `z` with `key` set to `value`
/// (`None`: without `key`), as bytes.
fn bad_one(z: &str, d: &str, key: &str, value: Option<Value>) -> Vec<u8> {
    let mut r = report(z, d, "lingyubu", "bad one");
    match value {
        Some(v) => r[key] = v,
        None => {
            r.as_object_mut().unwrap().remove(key);
        }
    }
    serde_json::to_vec(&r).unwrap()
}

/// Files that are not a report: not JSON, not an object, fields of the wrong
/// type or missing, not UTF-8, binary, too big.
fn malformed_reports(z: &str, d: &str) -> Vec<BadFile> {
    let with = |key: &str, value: Value| bad_one(z, d, key, Some(value));
    let without = |key: &str| bad_one(z, d, key, None);
    let mut big = report(z, d, "lingyubu", "big");
    big["summary"] = json!("x".repeat(1024 * 1024 + 10));
    let utf16: Vec<u8> = {
        let text = serde_json::to_string(&good(z, d, "utf16", "utf16")).unwrap();
        let mut v = vec![0xff, 0xfe];
        v.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
        v
    };
    let binary: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .chain([0, 0xff, 0xfe])
        .collect();
    vec![
        (
            "invalid.json",
            br#"{"summary": "unfinished", "department""#.to_vec(),
            "JSON",
        ),
        ("array.json", b"[1, 2, 3]".to_vec(), "array"),
        ("string.json", br#""just a string""#.to_vec(), "string"),
        ("summary-number.json", with("summary", json!(42)), "summary"),
        (
            "changed-object.json",
            with("changed_files", json!({"a": 1})),
            "changed_files",
        ),
        ("risks-numbers.json", with("risks", json!([1, 2])), "risks"),
        (
            "confirm-string.json",
            with("needs_user_confirmation", json!("yes")),
            "needs_user_confirmation",
        ),
        ("missing-summary.json", without("summary"), "summary"),
        (
            "missing-department.json",
            without("department"),
            "department",
        ),
        (
            "missing-session.json",
            without("department_session_id"),
            "department_session_id",
        ),
        (
            "empty-summary.json",
            with("summary", json!("  ")),
            "summary",
        ),
        ("utf16.json", utf16, "UTF-16"),
        ("binary.json", binary, ""),
        ("big.json", serde_json::to_vec(&big).unwrap(), "bytes"),
    ]
}

/// Reports that name the wrong Zhongshu (`other_z`), a path for an id, a
/// session that is not there or not a department, another department.
fn misaddressed_reports(z: &str, d: &str, other_z: &str) -> Vec<BadFile> {
    let with = |key: &str, value: Value| bad_one(z, d, key, Some(value));
    vec![
        (
            "wrong-parent.json",
            with("parent_session_id", json!(other_z)),
            "parent_session_id",
        ),
        (
            "traversal.json",
            with("department_session_id", json!("../../../etc/passwd")),
            "department_session_id",
        ),
        (
            "traversal-dept.json",
            with("department", json!("../lingyubu")),
            "department",
        ),
        (
            "unknown-session.json",
            with("department_session_id", json!("lingyubu-99")),
            "lingyubu-99",
        ),
        (
            "not-a-department.json",
            with("department_session_id", json!(z)),
            "",
        ),
        (
            "wrong-department.json",
            with("department", json!("zhilibu")),
            "zhilibu",
        ),
    ]
}

/// What [`drop_odd_entries`] dropped.
struct OddEntries {
    /// Entries that are not regular files: (name, a word of the reason).
    specials: Vec<(&'static str, &'static str)>,
    /// The file the `x.json` link names.
    target: PathBuf,
    /// The mailbox of a Zhongshu that does not exist.
    orphan: Mailbox,
}

/// Drops into `mb`'s incoming/ entries that are not regular files (a link, a
/// FIFO, a folder holding a report), files still being written (hidden,
/// ignored), and a report into the folder of no session.
fn drop_odd_entries(repo: &TestRepo, mb: &Mailbox, z: &str, d: &str) -> OddEntries {
    let bytes = |v: &Value| serde_json::to_vec(v).unwrap();
    let target = repo.files.join("target.json");
    std::fs::write(&target, bytes(&good(z, d, "via symlink", "symlinked"))).unwrap();
    let specials = drop_special_files(&mb.incoming, &target);
    std::fs::write(
        mb.incoming.join("z.json").join("inner.json"),
        bytes(&good(z, d, "inner", "inner")),
    )
    .unwrap();
    std::fs::write(
        mb.incoming.join(".in-progress.json"),
        bytes(&good(z, d, "hidden", "hidden")),
    )
    .unwrap();
    std::fs::write(mb.incoming.join(".half.tmp"), b"{").unwrap();
    let orphan = mailbox(&repo.state_dir(), "zhongshu-999");
    std::fs::create_dir_all(&orphan.incoming).unwrap();
    // No pause for the watch: a report it misses in a new folder is found by
    // the sweep of every folder.
    drop_json(
        &orphan.incoming,
        "orphan.json",
        &report("zhongshu-999", d, "lingyubu", "orphan"),
    );
    OddEntries {
        specials,
        target,
        orphan,
    }
}

/// Accepted: a report with a BOM, and one written slowly under its final name.
async fn drop_good_ones_with_a_bom_and_slowly(mb: &Mailbox, z: &str, d: &str) {
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend(serde_json::to_vec(&good(z, d, "with a BOM", "bom")).unwrap());
    drop_bytes(&mb.incoming, "bom.json", &bom);
    let text = serde_json::to_vec_pretty(&good(z, d, "written slowly", "slow")).unwrap();
    let (a, b) = text.split_at(text.len() / 2);
    let mut f = std::fs::File::create(mb.incoming.join("slow.json")).unwrap();
    f.write_all(a).unwrap();
    f.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    f.write_all(b).unwrap();
    f.flush().unwrap();
}

/// Each of `reasons` (file name, a word) was rejected with a reason naming the
/// word, audited once for Zhongshu `z`, and left incoming/.
fn each_rejected_once_with_its_reason(
    mb: &Mailbox,
    audit: &[Value],
    z: &str,
    reasons: &[(&str, &str)],
) {
    for (name, word) in reasons {
        let reason: Value = serde_json::from_str(
            &std::fs::read_to_string(mb.rejected.join(format!("{name}.reason.json"))).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{name}.reason.json is JSON: {e}"));
        let error = reason["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no error: {reason}"));
        assert!(!error.is_empty(), "{name}: {reason}");
        assert!(
            error.contains(word),
            "{name}: the reason names {word:?}: {error}"
        );
        assert_eq!(reason["file"], json!(name), "{reason}");
        assert!(is_rfc3339(&reason["at"]), "{reason}");
        let events: Vec<_> = audit_events(audit, "result_rejected")
            .into_iter()
            .filter(|e| e["file"] == json!(name) && e["parent_session_id"] == json!(z))
            .collect();
        assert_eq!(events.len(), 1, "one result_rejected for {name}");
        assert!(
            !mb.incoming.join(name).exists()
                && std::fs::symlink_metadata(mb.incoming.join(name)).is_err(),
            "{name} left incoming/"
        );
    }
}

/// What was moved is what was dropped: the symlink is still a symlink, the
/// FIFO a FIFO, the folder a folder; the orphan is rejected, naming its
/// Zhongshu, and audited.
fn odd_entries_are_moved_as_they_were(mb: &Mailbox, odd: &OddEntries, audit: &[Value]) {
    if odd.specials.iter().any(|(name, _)| *name == "x.json") {
        let m = std::fs::symlink_metadata(mb.rejected.join("x.json")).unwrap();
        assert!(m.file_type().is_symlink());
        assert_eq!(
            std::fs::read_link(mb.rejected.join("x.json")).unwrap(),
            odd.target,
            "the link is moved, not followed"
        );
        assert!(odd.target.is_file(), "the symlink's target is untouched");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(mb.rejected.join("y.json"))
            .unwrap()
            .file_type()
            .is_fifo());
    }
    assert!(mb.rejected.join("z.json").join("inner.json").is_file());
    let orphan = &odd.orphan;
    let orphan_reason: Value = serde_json::from_slice(
        &std::fs::read(orphan.rejected.join("orphan.json.reason.json")).unwrap(),
    )
    .unwrap();
    assert!(
        orphan_reason["error"]
            .as_str()
            .unwrap()
            .contains("zhongshu-999"),
        "{orphan_reason}"
    );
    assert_eq!(orphan_reason["file"], json!("orphan.json"));
    assert!(orphan.rejected.join("orphan.json").is_file());
    assert!(
        audit_events(audit, "result_rejected")
            .iter()
            .any(|e| e["file"] == "orphan.json" && e["parent_session_id"] == "zhongshu-999"),
        "the orphan's rejection is audited"
    );
}

/// Only the good ones are results of `z` (none of `other_z`); the hidden files
/// wait in incoming/ beside the departments' own drop folders; the launcher
/// and `z` are still well.
async fn only_the_good_ones_are_results(
    api: &Api,
    repo: &TestRepo,
    mb: &Mailbox,
    [z, other_z]: [&str; 2],
    inbox2: &Value,
) {
    let ids: BTreeSet<String> = results(&inbox(api, z).await)
        .iter()
        .map(|r| r["report_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from(["bom".into(), "slow".into(), "last".into()]),
        "{inbox2}"
    );
    let slow = results(&inbox(api, z).await)
        .into_iter()
        .find(|r| r["report_id"] == "slow")
        .unwrap();
    assert_eq!(slow["summary"], json!("written slowly"));
    assert_eq!(
        loose_names(&mb.incoming),
        vec![".half.tmp".to_string(), ".in-progress.json".to_string()]
    );
    assert!(
        report_names(&mb.archive).iter().any(|n| n == "bom.json")
            && report_names(&mb.archive).iter().any(|n| n == "slow.json"),
        "{:?}",
        names(&mb.archive)
    );
    assert!(
        results(&inbox(api, other_z).await).is_empty(),
        "nothing landed with the other Zhongshu"
    );
    assert!(!repo.state_dir().join("etc").exists());
    api.get_ok("/healthz").await;
    let s = api.session(z).await;
    assert_eq!(s["status"], json!("running"), "{s}");
}

// ---------------------------------------------------------------------------
// Duplicate ids

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_file_with_the_same_id_updates_the_result() {
    let QuietDepartment {
        repo,
        server,
        z,
        d,
        mb,
    } = zhongshu_with_quiet_department("duplicates", "zhilibu", "docs").await;
    let api = &server.api;
    let with_id = |summary: &str, risks: Value| {
        let mut r = report(&z, &d, "zhilibu", summary);
        r["report_id"] = json!("dup");
        r["risks"] = risks;
        r
    };
    drop_json(
        &mb.incoming,
        "first.json",
        &with_id("first version", json!(["old risk"])),
    );
    let first = wait_result(api, &z, "first version", |r| r["report_id"] == "dup").await;
    assert_eq!(first["summary"], json!("first version"));
    assert_eq!(first["revision"], json!(1), "{first}");
    // Read it, so the update shows as unread again.
    api.get_ok(&format!("/api/zhongshu_inbox?id={z}")).await;
    drop_json(
        &mb.incoming,
        "second.json",
        &with_id("second version", json!(["new risk"])),
    );
    let second = wait_result(api, &z, "second version", |r| {
        r["summary"] == "second version"
    })
    .await;
    the_second_replaces_the_first_in_one_result(api, &repo, &mb, &z, &second).await;

    // Two more at once: still one result, the later name wins.
    drop_json(&mb.incoming, "third-a.json", &with_id("third a", json!([])));
    drop_json(&mb.incoming, "third-b.json", &with_id("third b", json!([])));
    let last = wait_result(api, &z, "revision 4", |r| r["revision"] == 4).await;
    assert_eq!(last["summary"], json!("third b"), "{last}");
    assert_eq!(results(&inbox(api, &z).await).len(), 1);
    assert_eq!(
        report_names(&mb.archive).len(),
        4,
        "{:?}",
        names(&mb.archive)
    );
    assert!(report_names(&mb.incoming).is_empty());
    server.stop().await;
}

/// `second`, report "dup" again, is revision 2 of the one result of `z`: its
/// content replaced, unread again, its own file and packet; audited as one
/// registration and one update; both files archived.
async fn the_second_replaces_the_first_in_one_result(
    api: &Api,
    repo: &TestRepo,
    mb: &Mailbox,
    z: &str,
    second: &Value,
) {
    assert_eq!(second["revision"], json!(2), "{second}");
    assert_eq!(
        second["risks"],
        json!(["new risk"]),
        "the content is replaced: {second}"
    );
    assert_eq!(second["read"], json!(false), "{second}");
    assert_result_shape(second, z, &mb.archive);
    assert!(
        second["mailbox_file"]
            .as_str()
            .unwrap()
            .ends_with("second.json"),
        "{second}"
    );
    let packet = read(&second["handoff_packet"]);
    assert!(
        packet.contains("second version") && packet.contains("new risk"),
        "{packet}"
    );
    let all = results(&inbox(api, z).await);
    assert_eq!(
        all.iter().filter(|r| r["report_id"] == "dup").count(),
        1,
        "one result: {all:#?}"
    );
    assert_eq!(all.len(), 1);
    let audit = audit_lines(&repo.state_dir());
    for event in ["result_registered", "result_updated"] {
        let n = audit_events(&audit, event)
            .iter()
            .filter(|e| e["report_id"] == "dup")
            .count();
        assert_eq!(n, 1, "one {event} line for dup");
    }
    assert_eq!(
        report_names(&mb.archive),
        vec!["first.json".to_string(), "second.json".to_string()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identical_copy_under_another_name_is_kept_not_deleted() {
    // SPEC 8: the launcher never loses or silently drops a file. A byte-identical
    // second file (same report id) is one result, but the file itself must end
    // up in archive/ (or rejected/), not vanish.
    let QuietDepartment {
        repo: _repo,
        server,
        z,
        d,
        mb,
    } = zhongshu_with_quiet_department("identical copies", "zhilibu", "docs").await;
    let api = &server.api;
    let body = report(&z, &d, "zhilibu", "same bytes twice");
    drop_json(&mb.incoming, "copy-a.json", &body);
    let first = wait_result(api, &z, "copy-a registered", |r| r["report_id"] == json!(d)).await;
    assert!(first["mailbox_file"]
        .as_str()
        .unwrap()
        .ends_with("copy-a.json"));
    drop_json(&mb.incoming, "copy-b.json", &body);
    wait_until("copy-b leaves incoming/", PATIENCE, || async {
        (!mb.incoming.join("copy-b.json").exists()).then_some(())
    })
    .await;
    let all = results(&inbox(api, &z).await);
    assert_eq!(all.len(), 1, "still one result: {all:#?}");
    let kept: Vec<String> = report_names(&mb.archive)
        .into_iter()
        .chain(report_names(&mb.rejected))
        .collect();
    assert!(
        kept.iter().any(|n| n.starts_with("copy-b")),
        "copy-b.json was deleted: archive/ and rejected/ hold only {kept:?}"
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------
// Fallback results

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_exit_gets_a_fallback_which_a_real_report_replaces() {
    let (repo, server) = serve(LONG_LIVED).await;
    let api = &server.api;
    let z = api.start_zhongshu("fallbacks").await;
    let mb = mailbox(&repo.state_dir(), &z);
    let task = "silent work [[fake-agent: --no-report]]";
    let d = start_department(api, &z, "lingyubu", task).await;
    let d2 = start_department(
        api,
        &z,
        "zhilibu",
        "silent docs [[fake-agent: --no-report]]",
    )
    .await;
    let fb = wait_result_of(api, &z, "fallback", &d).await;
    a_fallback_says_there_was_no_report(api, &repo, &mb, (&z, &d), &fb, task).await;
    // Read them: d2's fallback comes a moment after d's (each 2 s after its exit).
    wait_result_of(api, &z, "fallback of d2", &d2).await;
    let read_inbox = api.get_ok(&format!("/api/zhongshu_inbox?id={z}")).await;
    assert_eq!(read_inbox["unread_count"], json!(0), "{read_inbox}");
    a_late_real_report_replaces_the_fallback(api, &repo, &mb, (&z, &d), task).await;

    // A real report under another id also replaces the fallback.
    wait_result_of(api, &z, "fallback of d2", &d2).await;
    let mut other = report(&z, &d2, "zhilibu", "real, own id");
    other["report_id"] = json!("custom-id");
    drop_json(&mb.incoming, "other.json", &other);
    wait_result(api, &z, "custom-id", |r| r["report_id"] == "custom-id").await;
    let of_d2: Vec<_> = results(&inbox(api, &z).await)
        .into_iter()
        .filter(|r| r["department_session_id"] == json!(d2))
        .collect();
    assert_eq!(of_d2.len(), 1, "{of_d2:#?}");
    assert_eq!(of_d2[0]["source"], json!("mailbox"));

    // A department that fails without a report is called failed, with its code.
    let d3 = start_department(
        api,
        &z,
        "gongchengbu",
        "failing work [[fake-agent: --no-report --exit-code 3]]",
    )
    .await;
    let fb3 = wait_result_of(api, &z, "fallback of d3", &d3).await;
    assert_eq!(fb3["source"], json!("launcher_fallback"), "{fb3}");
    let s3 = api.session(&d3).await;
    assert_eq!(s3["exit_code"], json!(3), "{s3}");
    assert_eq!(s3["state"], json!("failed"), "{s3}");
    assert_eq!(s3["state_text"], json!("failed: exit 3"), "{s3}");
    server.stop().await;
}

/// `fb`, the launcher's result for department `d` of `z` that exited silently
/// on `task`: its shape, its words, its packet, the session's state, audited.
async fn a_fallback_says_there_was_no_report(
    api: &Api,
    repo: &TestRepo,
    mb: &Mailbox,
    (z, d): (&str, &str),
    fb: &Value,
    task: &str,
) {
    assert_result_shape(fb, z, &mb.archive);
    assert_eq!(fb["source"], json!("launcher_fallback"), "{fb}");
    assert_eq!(fb["report_id"], json!(d));
    assert!(
        fb["summary"]
            .as_str()
            .unwrap()
            .contains("without writing a mailbox report"),
        "{fb}"
    );
    let risks = fb["risks"].as_array().unwrap();
    assert!(
        risks
            .iter()
            .any(|r| r.as_str().unwrap().contains("No mailbox report")),
        "{fb}"
    );
    assert_packet(&read(&fb["handoff_packet"]), fb, task);
    let s = api.session(d).await;
    assert_eq!(s["status"], json!("exited"), "{s}");
    // The Python tool's word for a session with a registered result
    // (launcher_fallback included); its state says there was no report.
    assert_eq!(s["report_status"], json!("reported"), "{s}");
    assert_eq!(s["last_report_id"], fb["report_id"], "{s}");
    assert_eq!(s["state"], json!("no_report"), "{s}");
    assert_eq!(s["state_text"], json!("no report"), "{s}");
    let audit = audit_lines(&repo.state_dir());
    assert!(
        audit_events(&audit, "result_registered")
            .iter()
            .any(|e| e["department_session_id"] == json!(d) && e["source"] == "launcher_fallback"),
        "the fallback is audited"
    );
}

/// The real report of department `d` of `z` arrives late: it replaces the
/// fallback under the same id, unread again, and closes the session; audited.
async fn a_late_real_report_replaces_the_fallback(
    api: &Api,
    repo: &TestRepo,
    mb: &Mailbox,
    (z, d): (&str, &str),
    task: &str,
) {
    drop_json(
        &mb.incoming,
        "late.json",
        &report(z, d, "lingyubu", "late but real"),
    );
    let real = wait_result(api, z, "real report", |r| {
        r["department_session_id"] == json!(d) && r["source"] == "mailbox"
    })
    .await;
    assert_result_shape(&real, z, &mb.archive);
    assert_eq!(
        real["report_id"],
        json!(d),
        "same id as the fallback: {real}"
    );
    assert_eq!(real["summary"], json!("late but real"));
    assert_eq!(real["read"], json!(false), "unread again: {real}");
    assert_eq!(
        real["risks"],
        json!(["none known"]),
        "the fallback's risks are gone: {real}"
    );
    let packet = read(&real["handoff_packet"]);
    assert_packet(&packet, &real, task);
    assert!(
        packet.contains("late but real") && packet.contains("\nsource: mailbox\n"),
        "{packet}"
    );
    let of_d: Vec<_> = results(&inbox(api, z).await)
        .into_iter()
        .filter(|r| r["department_session_id"] == json!(d))
        .collect();
    assert_eq!(of_d.len(), 1, "one result for {d}: {of_d:#?}");
    let s = api.session(d).await;
    assert_eq!(s["report_status"], json!("reported"), "{s}");
    assert_eq!(s["auto_closed"], json!(true), "{s}");
    assert_eq!(
        s["auto_close_reason"],
        json!("mailbox_report_received"),
        "{s}"
    );
    let audit = audit_lines(&repo.state_dir());
    assert!(
        audit_events(&audit, "result_updated")
            .iter()
            .any(|e| e["report_id"] == json!(d) && e["source"] == "mailbox"),
        "the replacement is audited"
    );
}

// ---------------------------------------------------------------------------
// Notify and resume (SPEC 9)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_and_restart_zhongshu_inline_and_as_a_new_session() {
    let (repo, server) = serve(LONG_LIVED).await;
    let api = &server.api;
    let z = api.start_zhongshu("resume me").await;
    wait_log(&repo, &z, "FAKE_AGENT_WAITING").await;
    a_notice_is_typed_into_the_zhongshu(api, &repo, &z).await;
    // A plan and a result to carry over.
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": "carried plan", "assignments": []}),
    )
    .await;
    let d = start_department(
        api,
        &z,
        "lingyubu",
        "work [[fake-agent: --summary 'carried result']]",
    )
    .await;
    let r = wait_result_of(api, &z, "the department's report", &d).await;
    assert_eq!(r["summary"], json!("carried result"));

    // Running: the resume prompt is typed into it.
    let inline = api
        .post_ok("/api/restart_zhongshu_session", &json!({"session_id": z}))
        .await;
    assert_eq!(inline["resumed_inline"], json!(true), "{inline}");
    assert_eq!(inline["session_id"], json!(z));
    let log = wait_log(&repo, &z, "ECHO: Resume as Zhongshu").await;
    assert!(log.contains("ECHO: Task: resume me"), "{log}");
    assert!(log.contains("ECHO: Plan: carried plan"), "{log}");
    assert!(log.contains("carried result"), "{log}");
    let s = api.session(&z).await;
    assert!(
        s["input_history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["input"].as_str().unwrap().contains("Resume as Zhongshu")),
        "{s}"
    );
    // Exited: a new session with the old plan and the old results, read.
    api.post_ok("/api/close_session", &json!({"session_id": z}))
        .await;
    api.wait_session(&z, "exited", |s| s["status"] == "exited")
        .await;
    let new_id = resumed_as_a_new_session_with_plan_and_results(api, &z).await;
    // The old session keeps its own.
    assert_eq!(results(&inbox(api, &z).await).len(), 1);
    the_new_agents_prompt_resumes_it_under_its_own_id(&repo, api, &new_id).await;
    server.stop().await;
}

/// `notify_zhongshu` types a one-line notice (risks, next action, the inbox
/// URL) into running Zhongshu `z`; for an unknown Zhongshu it is 404.
async fn a_notice_is_typed_into_the_zhongshu(api: &Api, repo: &TestRepo, z: &str) {
    let n = api
        .post_ok(
            "/api/notify_zhongshu",
            &json!({"parent_session_id": z, "summary": "hello from a tool", "risk_count": 2, "next_action": "look at it"}),
        )
        .await;
    assert_eq!(n["status"], json!("sent"), "{n}");
    let log = wait_log(repo, z, "ECHO: [codex-governance] notice").await;
    let line = notice_lines(&log)
        .into_iter()
        .find(|l| l.contains("hello from a tool"))
        .unwrap();
    assert!(
        line.contains("risks: 2") && line.contains("next: \"look at it\""),
        "{line}"
    );
    assert!(
        line.contains(&format!("zhongshu_inbox?id={z}&peek=1")),
        "{line}"
    );
    assert_eq!(
        api.session(z).await["auto_notification_status"],
        json!("sent")
    );
    let (status, body) = api
        .post(
            "/api/notify_zhongshu",
            &json!({"parent_session_id": "zhongshu-404", "summary": "x"}),
        )
        .await;
    assert_eq!(status.as_u16(), 404, "{body}");
}

/// Restarting exited Zhongshu `z` starts a new session resumed from it, with
/// its task, its plan and its one result copied as read; the new id.
async fn resumed_as_a_new_session_with_plan_and_results(api: &Api, z: &str) -> String {
    let fresh = api
        .post_ok("/api/restart_zhongshu_session", &json!({"session_id": z}))
        .await;
    assert_eq!(fresh["resumed_inline"], json!(false), "{fresh}");
    let new_id = fresh["session_id"].as_str().unwrap().to_string();
    assert_ne!(new_id, z);
    assert_eq!(fresh["resumed_from_session_id"], json!(z), "{fresh}");
    let ns = api
        .wait_session(&new_id, "running", |s| s["status"] == "running")
        .await;
    assert_eq!(ns["resumed_from_session_id"], json!(z), "{ns}");
    assert_eq!(ns["session_kind"], json!("zhongshu"));
    assert_eq!(ns["task"], json!("resume me"));
    let plan = api.get_ok(&format!("/api/zhongshu_plan?id={new_id}")).await;
    assert_eq!(plan["plan"]["summary"], json!("carried plan"), "{plan}");
    let inbox_new = inbox(api, &new_id).await;
    let copied = results(&inbox_new);
    assert_eq!(copied.len(), 1, "{inbox_new}");
    assert_eq!(copied[0]["summary"], json!("carried result"));
    assert_eq!(
        copied[0]["read"],
        json!(true),
        "copied as read: {inbox_new}"
    );
    assert_eq!(copied[0]["parent_session_id"], json!(new_id));
    assert_eq!(inbox_new["unread_count"], json!(0));
    assert_eq!(ns["unread_result_count"], json!(0));
    new_id
}

/// The new agent was started with the resume prompt, naming its own id and
/// its own inbox.
async fn the_new_agents_prompt_resumes_it_under_its_own_id(
    repo: &TestRepo,
    api: &Api,
    new_id: &str,
) {
    let nlog = wait_log(repo, new_id, "FAKE_AGENT_ARGV").await;
    let argv = log_json(&nlog, "FAKE_AGENT_ARGV").unwrap();
    let prompt = argv
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    assert!(prompt.contains("Resume as Zhongshu"), "{prompt}");
    assert!(prompt.contains("carried result"), "{prompt}");
    let ns = api.session(new_id).await;
    let prompt_file = std::fs::read_to_string(ns["prompt_path"].as_str().unwrap()).unwrap();
    assert!(
        prompt_file.contains(&format!("session {new_id}")),
        "{prompt_file}"
    );
    assert!(
        prompt.contains(&format!("zhongshu_inbox?id={new_id}&peek=1")) && !prompt.contains("{new}"),
        "the prompt the agent gets names its inbox: {prompt}"
    );
}

// ---------------------------------------------------------------------------
// Reading the inbox

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_without_peek_marks_results_read() {
    let QuietDepartment {
        repo,
        server,
        z,
        d,
        mb,
    } = zhongshu_with_quiet_department("reading", "lingyubu", "work").await;
    let api = &server.api;
    for i in 0..3 {
        let mut r = report(&z, &d, "lingyubu", &format!("part {i}"));
        r["report_id"] = json!(format!("part-{i}"));
        drop_json(&mb.incoming, &format!("part-{i}.json"), &r);
    }
    let peeked = wait_inbox(api, &z, "three unread", |i| i["unread_count"] == 3).await;
    assert_eq!(peeked["unread"].as_array().unwrap().len(), 3, "{peeked}");
    assert_eq!(peeked["peek"], json!(true));
    // Peeking again changes nothing.
    assert_eq!(inbox(api, &z).await["unread_count"], json!(3));
    assert_eq!(api.session(&z).await["unread_result_count"], json!(3));

    let read = api.get_ok(&format!("/api/zhongshu_inbox?id={z}")).await;
    assert_eq!(read["unread_count"], json!(0), "{read}");
    assert_eq!(read["read"].as_array().unwrap().len(), 3, "{read}");
    assert!(results(&read).iter().all(|r| r["read"] == true), "{read}");
    let after = inbox(api, &z).await;
    assert_eq!(after["unread_count"], json!(0), "{after}");
    assert_eq!(api.session(&z).await["unread_result_count"], json!(0));
    // Marks are saved.
    let stored = codex_governance::store::load_snapshot(&repo.state_dir())
        .unwrap()
        .results;
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|r| r.read), "{stored:?}");
    server.stop().await;
}

// ---------------------------------------------------------------------------
// A launcher killed mid-flow (SPEC 14)

#[test]
fn a_report_dropped_while_the_launcher_is_down_is_ingested_at_startup() {
    let rt = test_runtime();
    let repo = TestRepo::with_flags(LONG_LIVED);
    let state_dir: PathBuf = repo.root.join("state");
    let sd = state_dir.display().to_string();
    let mut first = spawn_launcher(&repo.path, &["--state-dir", &sd]);
    let (z, a, b, pids) = rt.block_on(async {
        let api = &first.api;
        let z = api.start_zhongshu("killed mid-flow").await;
        let a = start_quiet_department(api, &z, "lingyubu", "part a").await;
        let b = start_quiet_department(api, &z, "zhilibu", "part b").await;
        let mut pids = Vec::new();
        for id in [&z, &a, &b] {
            let s = api
                .wait_session(id, "running", |s| s["status"] == "running")
                .await;
            pids.push(s["pid"].as_u64().unwrap() as u32);
        }
        (z, a, b, pids)
    });
    let mb = mailbox(&state_dir, &z);
    assert!(!first.kill9().success());

    // While it is down, department a reports.
    drop_json(
        &mb.incoming,
        "while-down.json",
        &report(&z, &a, "lingyubu", "reported while the launcher was down"),
    );

    let second = spawn_launcher(&repo.path, &["--state-dir", &sd]);
    rt.block_on(async {
        let api = &second.api;
        a_report_of_a_and_a_fallback_for_b(api, &mb, &z, [&a, &b]).await;
        for id in [&z, &a, &b] {
            let s = api.session(id).await;
            assert_eq!(s["status"], json!("exited"), "{s}");
            assert_eq!(s["ended_reason"], json!("launcher_restart"), "{s}");
        }
        let sa = api
            .wait_session(&a, "reported", |s| s["report_status"] == "reported")
            .await;
        assert_eq!(sa["auto_closed"], json!(true), "{sa}");
        assert_eq!(
            sa["auto_close_reason"],
            json!("mailbox_report_received"),
            "{sa}"
        );
        // b's fallback: `reported` as in the Python tool, its state `no_report`.
        let sb = api.session(&b).await;
        assert_eq!(sb["report_status"], json!("reported"), "{sb}");
        assert_eq!(sb["state"], json!("no_report"), "{sb}");
        for pid in &pids {
            wait_gone(*pid, "an agent of the killed launcher").await;
        }
        let audit = audit_lines(&state_dir);
        assert_eq!(
            audit_events(&audit, "result_registered")
                .iter()
                .filter(|e| e["department_session_id"] == json!(a) && e["source"] == "mailbox")
                .count(),
            1
        );
    });
    drop(second);
    let (code, out, err) = run_binary(&["audit", "verify", "--state-dir", &sd]);
    assert_eq!(code, 0, "{out} {err}");
}

/// After the restart, in Zhongshu `z`'s inbox: department `a`'s report
/// dropped while the launcher was down, archived, and a fallback for `b`
/// naming why it ended; nothing else.
async fn a_report_of_a_and_a_fallback_for_b(api: &Api, mb: &Mailbox, z: &str, [a, b]: [&str; 2]) {
    let ra = wait_result_of(api, z, "a's report", a).await;
    assert_eq!(ra["source"], json!("mailbox"), "{ra}");
    assert_eq!(ra["summary"], json!("reported while the launcher was down"));
    assert_result_shape(&ra, z, &mb.archive);
    assert!(
        report_names(&mb.incoming).is_empty(),
        "{:?}",
        names(&mb.incoming)
    );
    assert_eq!(
        report_names(&mb.archive),
        vec!["while-down.json".to_string()]
    );
    let rb = wait_result_of(api, z, "b's fallback", b).await;
    assert_eq!(rb["source"], json!("launcher_fallback"), "{rb}");
    assert!(
        rb["summary"].as_str().unwrap().contains("launcher_restart"),
        "names why it ended: {rb}"
    );
    assert!(
        rb["risks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("No mailbox report")),
        "{rb}"
    );
    assert_result_shape(&rb, z, &mb.archive);
    // Nothing owed to a, no fallback beside its report.
    let all = results(&inbox(api, z).await);
    assert_eq!(all.len(), 2, "{all:#?}");
}
