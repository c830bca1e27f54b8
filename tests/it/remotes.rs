//! Departments on other machines (issue 53), first step: the hosts of
//! `launcher.remotes` are checked over the user's ssh before any department
//! is placed there. A real OpenSSH server on loopback, the pinned Codex CLI
//! on both sides.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::common::elsewhere::{
    closed, committed_text, fetched_from, host_checked, integrated, merged_here, removed_there,
    worktree_there,
};
use crate::common::launcher::{department_id, departments};
use crate::common::model_server::{exec, message, tool_call};
use crate::common::scenario::{Codex, Scenario};
use crate::common::scripted::{self, reports_after, runs_then_reports};
use crate::common::sshd::{Sshd, HOST};
use crate::common::tier::codex;

/// The host's clone of the repository: a plain clone in a folder of its own.
fn clone_on_host(repo: &Path, dir: &Path) -> String {
    let there = tempfile::Builder::new()
        .prefix("host-clone-")
        .tempdir_in(dir)
        .unwrap()
        .keep();
    let out = std::process::Command::new("git")
        .arg("clone")
        .arg("-q")
        .arg(repo)
        .arg(&there)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    there.display().to_string()
}

/// The host's clone of a repository like the scenarios' (committed).
async fn seeded_clone(dir: &Path) -> String {
    let seed = Scenario::codex().committed().start().await;
    clone_on_host(&seed.repo.path, dir)
}

/// A launcher whose `launcher.remotes` names the loopback host as gpu1, with
/// `codex` as the Codex program there.
async fn with_host(sshd: &Sshd, dir: &Path, codex_there: &str, extra: &str) -> Codex {
    let clone = seeded_clone(dir).await;
    Scenario::codex()
        .committed()
        .launcher(&format!(
            "  remotes:\n    gpu1:\n      ssh: {HOST}\n      repo: {clone}\n      codex: {codex_there}\n{extra}"
        ))
        .env("CODEX_GOVERNANCE_SSH", &sshd.ssh_wrapper().display().to_string())
        .start()
        .await
}

/// A Codex program for the host: `codex-cli <version>` for `--version`, the
/// real one for everything else, or with `sandbox` run without one.
fn codex_there(dir: &Path, version: Option<&str>, unsandboxed: bool) -> String {
    let real = codex().display().to_string();
    let mut script = String::from("#!/bin/sh\n");
    if let Some(v) = version {
        script.push_str(&format!(
            "[ \"$1\" = --version ] && {{ echo 'codex-cli {v}'; exit 0; }}\n"
        ));
    }
    if unsandboxed {
        script.push_str("[ \"$1\" = sandbox ] && { shift; shift; exec \"$@\"; }\n");
    }
    script.push_str(&format!("exec {real} \"$@\"\n"));
    let path = dir.join(format!("codex-{}-{unsandboxed}", version.unwrap_or("real")));
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_with_the_same_codex_git_and_a_holding_sandbox_is_ready() {
    crate::needs!(Codex, Sshd);
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let real = codex().display().to_string();
    let c = with_host(&sshd, dir.path(), &real, "").await;
    let gpu1 = host_checked(&c, "gpu1").await;
    assert_eq!(gpu1["state"], "ready", "{gpu1}\n{}", sshd.log());
    let detail = gpu1["detail"].as_str().unwrap();
    assert!(detail.contains("in Codex's sandbox"), "{detail}");
    assert!(
        gpu1["codex_version"] == crate::common::model_server::codex_version().as_str(),
        "{gpu1}"
    );
    assert_eq!(gpu1["max_departments"], 2);
    // Its host key changes: refused, nothing run; the server gone: unreachable.
    let mut sshd = sshd;
    sshd.change_host_key();
    let answer = c.api().post_ok("/api/check_remotes", &json!({})).await;
    let gpu1 = &answer["remotes"][0];
    assert_eq!(gpu1["state"], "refused", "{gpu1}");
    assert!(
        gpu1["detail"].as_str().unwrap().contains("host key"),
        "{gpu1}"
    );
    // Issue 69 item 4: a key in no known_hosts is refused even where the
    // user's ssh config says accept-new, and it is not written.
    let known = sshd.forget_host_key_accepting_new();
    let answer = c.api().post_ok("/api/check_remotes", &json!({})).await;
    let gpu1 = &answer["remotes"][0];
    assert_eq!(gpu1["state"], "refused", "{gpu1}");
    let detail = gpu1["detail"].as_str().unwrap();
    assert!(
        detail.contains("host key") && detail.contains("once, as you"),
        "{gpu1}"
    );
    assert_eq!(
        std::fs::read_to_string(&known).unwrap(),
        "",
        "a key was accepted"
    );
    sshd.stop();
    let answer = c.api().post_ok("/api/check_remotes", &json!({})).await;
    assert_eq!(answer["remotes"][0]["state"], "unreachable", "{answer}");
    let mut c = c;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_with_another_codex_or_no_sandbox_is_refused_with_the_reason() {
    crate::needs!(Codex, Sshd);
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let other = codex_there(dir.path(), Some("0.170.0"), false);
    let mut c = with_host(&sshd, dir.path(), &other, "").await;
    let gpu1 = host_checked(&c, "gpu1").await;
    assert_eq!(gpu1["state"], "refused", "{gpu1}");
    assert_eq!(
        gpu1["detail"],
        format!(
            "Codex 0.170.0 on gpu1 and {} here: install the same version on both",
            crate::common::tier::CODEX_VERSION
        ),
    );
    c.stop().await;

    let loose = codex_there(dir.path(), None, true);
    let mut c = with_host(&sshd, dir.path(), &loose, "").await;
    let gpu1 = host_checked(&c, "gpu1").await;
    assert_eq!(gpu1["state"], "refused", "{gpu1}");
    let detail = gpu1["detail"].as_str().unwrap();
    assert!(
        detail.contains("let a command write to your home folder"),
        "{detail}"
    );
    let home = std::env::var("HOME").unwrap();
    assert!(
        !Path::new(&home)
            .join(".codex-governance-sandbox-probe")
            .exists(),
        "the probe is cleaned up"
    );
    c.stop().await;

    // The check knowingly skipped: ready, and said so as it is (issue 70
    // item 3: the thread still asks for Codex's sandbox there).
    let mut c = with_host(&sshd, dir.path(), &loose, "      sandbox: none\n").await;
    let gpu1 = host_checked(&c, "gpu1").await;
    assert_eq!(gpu1["state"], "ready", "{gpu1}");
    let detail = gpu1["detail"].as_str().unwrap();
    assert!(
        detail.contains("not checked, as you set (sandbox: none)")
            && !detail.contains("unsandboxed"),
        "{gpu1}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_named_by_an_untrusted_file_is_not_reached_until_trusted() {
    crate::needs!(Codex, Sshd);
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let real = codex().display().to_string();
    let clone = seeded_clone(dir.path()).await;
    let mut c = Scenario::codex()
        .committed()
        .launcher(&format!(
            "  remotes:\n    gpu1:\n      ssh: {HOST}\n      repo: {clone}\n      codex: {real}\n"
        ))
        .env(
            "CODEX_GOVERNANCE_SSH",
            &sshd.ssh_wrapper().display().to_string(),
        )
        .env("CODEX_GOVERNANCE_TRUST_CONFIG", "0")
        .env(
            "CODEX_GOVERNANCE_CONFIG_HOME",
            &dir.path().join("config").display().to_string(),
        )
        .start()
        .await;
    let status = c
        .api()
        .wait_status("gpu1 waits for trust", |s| {
            s["remotes"][0]["state"] == "awaits_trust"
        })
        .await;
    let trust = &status["config_trust"];
    assert!(
        trust.to_string().contains("launcher.remotes.gpu1"),
        "{trust}"
    );
    // Nothing reached the host meanwhile.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!sshd.log().contains("Accepted publickey"), "{}", sshd.log());
    let hash = trust["hash"].as_str().unwrap().to_string();
    c.api()
        .post_ok("/api/trust_config", &json!({"hash": hash}))
        .await;
    let gpu1 = host_checked(&c, "gpu1").await;
    assert_eq!(gpu1["state"], "ready", "{gpu1}");
    assert!(sshd.log().contains("Accepted publickey"), "{}", sshd.log());
    c.stop().await;
}

/// A launcher whose zhilibu department works on gpu1 (the loopback host,
/// `clone` its clone there), once gpu1's pre-flight found it ready.
async fn placed_on_gpu1(sshd: &Sshd, clone: &str) -> Codex {
    placed_on_gpu1_with(sshd, clone, "").await
}

/// [`placed_on_gpu1`] with more of `launcher:` (`extra`, indented as its keys).
async fn placed_on_gpu1_with(sshd: &Sshd, clone: &str, extra: &str) -> Codex {
    let real = codex().display().to_string();
    // An ignored file of the user's own, for `launcher.worktree.copy`.
    let c = Scenario::codex()
        .file(".gitignore", ".env\n")
        .file(".env", "TOKEN=mine\n")
        .committed()
        .launcher(&format!(
            "  remotes:\n    gpu1:\n      ssh: {HOST}\n      repo: {clone}\n      codex: {real}\n{extra}\
             departments:\n  zhilibu:\n    title: Notes\n    globs: ['**']\n    where: gpu1\n"
        ))
        .env(
            "CODEX_GOVERNANCE_SSH",
            &sshd.ssh_wrapper().display().to_string(),
        )
        .start()
        .await;
    let gpu1 = host_checked(&c, "gpu1").await;
    assert_eq!(gpu1["state"], "ready", "{gpu1}\n{}", sshd.log());
    c
}

/// A loopback host, a folder for the test, the host's clone in it, and a
/// launcher whose zhilibu works there.
async fn placed() -> (Sshd, tempfile::TempDir, String, Codex) {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let clone = seeded_clone(dir.path()).await;
    let c = placed_on_gpu1(&sshd, &clone).await;
    (sshd, dir, clone, c)
}

/// gpu1's server stops, and a check finds it unreachable.
async fn gpu1_goes_away(sshd: &mut Sshd, c: &Codex) {
    sshd.stop();
    let answer = c.api().post_ok("/api/check_remotes", &json!({})).await;
    assert_eq!(answer["remotes"][0]["state"], "unreachable", "{answer}");
}

/// A hook in the host's clone that leaves a mark when it runs.
fn plant_hooks(clone: &Path, marks: &Path) {
    let hooks = clone.join(".git/hooks");
    for hook in [
        "post-checkout",
        "pre-receive",
        "reference-transaction",
        "pre-commit",
    ] {
        let path = hooks.join(hook);
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho {hook} >> {}\n", marks.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Issue 53 items 1-3 and 5: a department placed on gpu1 works in a
/// worktree there through Codex's exec-server over the user's ssh; its
/// report brings the work back, the review shows it and Merge lands it;
/// the clone's hooks never run; the audit names the host, the remote path
/// and the fetched commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_on_another_machine_works_there_and_its_work_is_merged_here() {
    crate::needs!(Codex, Sshd);
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let clone = seeded_clone(dir.path()).await;
    let marks = dir.path().join("hook-marks");
    plant_hooks(Path::new(&clone), &marks);
    // Set-up commands run where the department works (issue 76): in its
    // worktree on gpu1, never in its local one. It writes beside the
    // worktree there, so nothing of it is the department's work.
    let setup =
        "  worktree:\n    setup:\n      - pwd > \"../SETUP-RAN-$CODEX_GOVERNANCE_SESSION\"\n    \
                 teardown:\n      - pwd > \"../TEARDOWN-$CODEX_GOVERNANCE_SESSION\"\n    \
                 copy: ['.env']\n";
    let c = placed_on_gpu1_with(&sshd, &clone, setup).await;
    let outside = dir.path().join("outside.txt");
    writes_notes_and_tries_the_clone_and_outside(&c, &clone, &outside);
    c.api().start_zhongshu("Plan one change").await;
    let dept = c.first_department().await;
    let there = worktree_there(&clone, &dept);
    it_wrote_in_its_worktree_there_only(&c, &clone, &outside, &there).await;
    its_setup_ran_there_only(&c, &dept, &there);
    c.output("call_report").await;
    c.turn_ended(&dept).await;
    its_work_came_back(&c, &dept, &there).await;
    closed(&c, &dept).await;
    applied_then_undone(&c, &dept).await;
    merged_here(&c, &dept, "NOTES.md", "notes\n").await;
    nothing_of_it_is_left_there(&c, &dept, &there, &clone, &marks).await;
    let torn = Path::new(&there).with_file_name(format!("TEARDOWN-{dept}"));
    let torn = std::fs::read_to_string(torn).unwrap_or_default();
    assert_eq!(torn.trim(), there, "its teardown ran in its worktree there");
    let mut c = c;
    c.stop().await;
}

/// The department writes NOTES.md in its worktree, then tries a file in
/// the host's clone and one outside both (each marked with its exit code),
/// and reports NOTES.md.
fn writes_notes_and_tries_the_clone_and_outside(c: &Codex, clone: &str, outside: &Path) {
    c.plans_one_notes_department();
    let cmd = format!(
        "echo notes > NOTES.md; echo \" WT-RC=$?\"; echo \" AT=$(pwd)\"; \
         touch {clone}/PLANTED; echo \" CLONE-RC=$?\"; \
         touch {outside}; echo \" OUT-RC=$?\"",
        outside = outside.display()
    );
    runs_then_reports(
        &c.server,
        "zhilibu",
        "call_write",
        &cmd,
        "notes written",
        &["NOTES.md"],
    );
}

/// Its command ran in its worktree there, which holds NOTES.md; a write
/// outside that worktree, in the clone or elsewhere, was refused.
async fn it_wrote_in_its_worktree_there_only(c: &Codex, clone: &str, outside: &Path, there: &str) {
    let out = c.output("call_write").await;
    scripted::done(&out, &["WT-RC"]);
    scripted::refused(&out, &["CLONE-RC", "OUT-RC"]);
    assert!(!Path::new(clone).join("PLANTED").exists());
    assert!(!outside.exists());
    assert!(out.contains(&format!("AT={there}")), "{out}");
    assert_eq!(
        std::fs::read_to_string(Path::new(there).join("NOTES.md")).unwrap(),
        "notes\n"
    );
}

/// The set-up commands ran in its worktree there (they wrote its path
/// beside it), never in its local one.
fn its_setup_ran_there_only(c: &Codex, dept: &str, there: &str) {
    let mark = Path::new(there).with_file_name(format!("SETUP-RAN-{dept}"));
    let written = std::fs::read_to_string(&mark).unwrap_or_default();
    assert_eq!(
        written.trim(),
        there,
        "the set-up ran in its worktree there"
    );
    let copied = std::fs::read_to_string(Path::new(there).join(".env")).unwrap_or_default();
    assert_eq!(
        copied, "TOKEN=mine\n",
        "launcher.worktree.copy's file is there"
    );
    let local = c.repo.path.parent().unwrap().join(format!(
        "{}.worktrees",
        c.repo.path.file_name().unwrap().to_string_lossy()
    ));
    assert!(
        !local.join(format!("SETUP-RAN-{dept}")).exists(),
        "the set-up ran here"
    );
}

/// Its report fetched its work back from gpu1, out of the worktree there
/// that the audit says was added for it.
async fn its_work_came_back(c: &Codex, dept: &str, there: &str) {
    fetched_from(c, dept, "gpu1", there).await;
    let added = c
        .wait_audit("remote_worktree_added", |e| e["session_id"] == dept)
        .await;
    assert_eq!(added["remote_path"], there, "{added}");
}

/// Apply writes its work into the user's tree; Undo takes it back.
async fn applied_then_undone(c: &Codex, dept: &str) {
    integrated(c, dept, "apply").await;
    let applied = c.repo.path.join("NOTES.md");
    assert_eq!(std::fs::read_to_string(&applied).unwrap(), "notes\n");
    c.api()
        .post_ok("/api/undo_integration", &json!({"session_id": dept}))
        .await;
    assert!(!applied.exists(), "Undo took the applied file back");
}

/// Settled: its worktree, branch and base ref on the host are gone, and no
/// hook of the host's clone ever ran.
async fn nothing_of_it_is_left_there(
    c: &Codex,
    dept: &str,
    there: &str,
    clone: &str,
    marks: &Path,
) {
    removed_there(c, dept).await;
    assert!(!Path::new(there).exists(), "{there}");
    let refs = std::process::Command::new("git")
        .args(["for-each-ref", "--format=%(refname)"])
        .current_dir(clone)
        .output()
        .unwrap();
    let refs = String::from_utf8_lossy(&refs.stdout).to_string();
    assert!(!refs.contains(dept), "{refs}");
    assert!(
        !marks.exists(),
        "a hook of the host's clone ran: {}",
        std::fs::read_to_string(marks).unwrap_or_default()
    );
}

/// Issue 53 items 4 and 5: a department placed on a host that does not
/// answer waits in the queue, saying for what (in Needs you and the
/// header), and never fails; once the host is back and the user presses
/// *Check again*, it starts there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_waits_for_its_host_and_starts_once_it_is_back() {
    crate::needs!(Codex, Sshd, Chromium);
    let (mut sshd, _dir, _clone, c) = placed().await;
    gpu1_goes_away(&mut sshd, &c).await;
    c.plans_one_notes_department();
    c.server.on(
        "department (zhilibu)",
        vec![tool_call(
            "call_report",
            "governance_report_result",
            json!({"summary": "nothing to change", "changed_files": []}),
        )],
    );
    c.api().start_zhongshu("Plan one change").await;
    let status = c
        .api()
        .wait_status("the assignment waits for gpu1", |s| {
            s["queue"][0]["waiting"]
                .as_str()
                .is_some_and(|w| w.starts_with("waiting for gpu1:"))
        })
        .await;
    let item = &status["queue"][0];
    assert_eq!(item["status"], "queued", "{item}");
    assert_eq!(item["where"], "gpu1", "{item}");
    assert!(
        crate::common::launcher::departments(&status).is_empty(),
        "nothing started: {status}"
    );
    let page = c.dashboard("remote-waits").await;
    let item = page
        .wait_text(
            "the host's item",
            "#needs-you-list",
            "1 queued department waits for gpu1",
        )
        .await;
    assert!(item.contains("not reachable"), "{item}");
    page.wait_text("the host in the header", "#stats", "on gpu1 (unreachable)")
        .await;
    // Why, in ssh's words, on hover over its counter.
    let why = page
        .js(
            "return [...document.querySelectorAll('#stats .stat')].find((s) => s.textContent.includes('on gpu1')).title;",
            vec![],
        )
        .await;
    let detail = c.api().status().await["remotes"][0]["detail"].clone();
    assert!(why.as_str().is_some_and(|w| w.contains("gpu1")), "{why}");
    assert_eq!(why, detail);
    header_in_one_row(&page).await;
    sshd.restart();
    page.click("#needs-you-list button[data-action=\"check-hosts\"]")
        .await;
    let dept = c.first_department().await;
    page.wait_text("the host's slot taken", "#stats", "1/2 on gpu1")
        .await;
    c.output("call_report").await;
    let added = c
        .wait_audit("remote_worktree_added", |e| e["session_id"] == dept)
        .await;
    assert_eq!(added["host"], "gpu1", "{added}");
    let mut c = c;
    c.stop().await;
}

/// Issue 70 item 13: with a host's counter in it, the header keeps one row
/// at 1440 px (the connection's *live* was seen alone on a second one), and
/// on a phone at most three rows (it took five) before what needs the user.
async fn header_in_one_row(page: &crate::common::browser::Browser) {
    // How far apart the header's parts sit (their middles), and its height.
    let measure = || async {
        let rows = "const parts = [...document.querySelectorAll('.topbar .stat, .topbar .brand, #conn')]\
            .filter((p) => p.getClientRects().length > 0);\
            const mids = parts.map((p) => { const r = p.getBoundingClientRect(); return r.top + r.height / 2; });\
            return [Math.round(Math.max(...mids) - Math.min(...mids)), Math.round(document.querySelector('.topbar').getBoundingClientRect().height)];";
        let got = page.js(rows, vec![]).await;
        let figure = |i: usize| got[i].as_i64().expect("a figure");
        (figure(0), figure(1))
    };
    page.set_size(1440, 900).await;
    let (spread, height) = measure().await;
    assert!(
        spread < 12,
        "the header's parts share one row at 1440 px: {spread} px apart, {height} px high"
    );
    page.shoot("remote-header-1440x900.png", None).await;
    page.set_size(390, 844).await;
    let (_, height) = measure().await;
    page.shoot("remote-header-390x844.png", None).await;
    assert!(
        height <= 110,
        "the phone's header takes at most three rows: {height} px"
    );
    page.set_size(1440, 900).await;
}

/// Issue 53 item 4: the launcher stops while a department on gpu1 is
/// mid-turn; the next launcher rebuilds the connection, the thread resumes
/// on the same worktree there, and what it did before and after the restart
/// comes back together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_a_remote_department_on_its_worktree_there() {
    crate::needs!(Codex, Sshd);
    let (_sshd, _dir, clone, mut c) = placed().await;
    c.plans_one_notes_department();
    c.server.on(
        "department (zhilibu)",
        vec![exec("call_before", "echo before > NOTES.md")],
    );
    let _held = c
        .server
        .on_held("call_before", vec![message("still working")]);
    c.server.on(
        "The launcher restarted",
        vec![exec(
            "call_after",
            "echo after >> NOTES.md; echo \" AT=$(pwd)\"",
        )],
    );
    c.server.on(
        "call_after",
        vec![tool_call(
            "call_report",
            "governance_report_result",
            json!({"summary": "notes before and after", "changed_files": ["NOTES.md"]}),
        )],
    );
    c.api().start_zhongshu("Plan one change").await;
    let dept = c.first_department().await;
    c.output("call_before").await;
    c.wait_agent(&dept, "mid-turn", |s| s["agent_state"] == "working")
        .await;
    c.stop().await;

    c.relaunch();
    assert_eq!(host_checked(&c, "gpu1").await["state"], "ready");
    c.wait_audit("session_resumed", |e| e["session_id"] == dept)
        .await;
    let out = c.output("call_after").await;
    let there = worktree_there(&clone, &dept);
    assert!(out.contains(&format!("AT={there}")), "{out}");
    c.output("call_report").await;
    c.wait_audit("remote_work_fetched", |e| e["session_id"] == dept)
        .await;
    let changes = c
        .api()
        .get_ok(&format!("/api/changes?session_id={dept}"))
        .await;
    let files = changes["files"].to_string();
    assert!(files.contains("NOTES.md"), "{changes}");
    let mirror = changes["workspace"]["path"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(Path::new(mirror).join("NOTES.md")).unwrap(),
        "before\nafter\n"
    );
    c.stop().await;
}

/// Issue 53 item 4: the ssh under a department's connection to gpu1 dies
/// between two of its commands; Codex reconnects through the relay (a new
/// ssh) and the next command runs on the same worktree there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_ssh_is_reconnected_and_the_department_goes_on() {
    crate::needs!(Codex, Sshd);
    let (sshd, _dir, clone, mut c) = placed().await;
    let (dept, go_on) = between_two_commands(&c).await;
    // Working on gpu1, it takes gpu1's slot, not one of this machine's.
    let status = c.api().get_ok("/api/status").await;
    assert_eq!(
        status["active_department_sessions"], 0,
        "{}",
        status["remotes"]
    );
    assert_eq!(status["remotes"][0]["in_use"], 1, "{}", status["remotes"]);
    let killed = kill_exec_server_ssh(&sshd);
    assert!(killed > 0, "an ssh carried the exec-server");
    // Codex reconnects at once (a new ssh); a command sent in the instant
    // before it is refused by Codex ("transport disconnected"), which a model's
    // turn never is this fast: the next command goes once it has.
    crate::common::launcher::wait_until(
        "Codex reconnected",
        crate::common::launcher::PATIENCE,
        || async { (!exec_server_ssh(&sshd).is_empty()).then_some(()) },
    )
    .await;
    go_on.notify_one();
    let out = c.output("call_two").await;
    let there = worktree_there(&clone, &dept);
    assert!(out.contains(&format!("AT={there}")), "{out}");
    assert!(Path::new(&there).join("TWO.md").exists());
    c.output("call_report").await;
    c.wait_audit("remote_work_fetched", |e| e["session_id"] == dept)
        .await;
    c.stop().await;
}

/// A planned department on gpu1 runs one command, and its second waits
/// until the test lets it go on (its id, and the word that lets it).
async fn between_two_commands(c: &Codex) -> (String, std::sync::Arc<tokio::sync::Notify>) {
    c.plans_one_notes_department();
    c.server.on(
        "department (zhilibu)",
        vec![exec("call_one", "echo one > ONE.md")],
    );
    let go_on = c.server.on_held(
        "call_one",
        vec![exec("call_two", "echo two > TWO.md; echo \" AT=$(pwd)\"")],
    );
    c.server.on(
        "call_two",
        vec![tool_call(
            "call_report",
            "governance_report_result",
            json!({"summary": "two notes", "changed_files": ["ONE.md", "TWO.md"]}),
        )],
    );
    c.api().start_zhongshu("Plan one change").await;
    let dept = c.first_department().await;
    c.output("call_one").await;
    (dept, go_on)
}

/// gpu1's server stops and the ssh carrying its exec-server is killed, as a
/// network drops it; Codex reconnects to the relay, which finds the host
/// down and holds the connection: a command goes out then. (One sent in the
/// instant before Codex sees its connection closed is refused by Codex: a
/// known race, seen under load, not what these tests are about.)
async fn gpu1_drops_mid_turn(sshd: &mut Sshd, c: &Codex) {
    sshd.stop();
    assert!(
        kill_exec_server_ssh(sshd) > 0,
        "an ssh carried the exec-server"
    );
    c.api()
        .wait_status("gpu1 unreachable", |s| {
            s["remotes"][0]["state"] == "unreachable"
        })
        .await;
}

/// Kills (SIGKILL) every ssh client that carries a `codex exec-server`:
/// the connection drops as a network would drop it. How many.
/// Kills the ssh clients carrying an exec-server to `sshd` (this test's own:
/// tests beside it keep theirs); how many.
fn kill_exec_server_ssh(sshd: &Sshd) -> usize {
    let pids = exec_server_ssh(sshd);
    for pid in &pids {
        let _ = std::process::Command::new("kill")
            .args(["-9", pid])
            .status();
    }
    pids.len()
}

/// The ssh clients carrying an exec-server to `sshd`, by pid.
fn exec_server_ssh(sshd: &Sshd) -> Vec<String> {
    let config = sshd.ssh_wrapper().with_file_name("ssh_config");
    let out = std::process::Command::new("pgrep")
        .args([
            "-f",
            &format!("ssh -F {} .*exec-server --listen stdio", config.display()),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Issue 53 item 4: gpu1 goes away mid-turn (its ssh killed, its server
/// down); the department's next command waits, the header says gpu1 is
/// unreachable, and when gpu1 is back the command runs there and the work
/// comes back. Nothing failed meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_down_mid_turn_holds_the_department_until_it_is_back() {
    crate::needs!(Codex, Sshd);
    let (mut sshd, _dir, clone, mut c) = placed().await;
    let (dept, go_on) = between_two_commands(&c).await;
    gpu1_drops_mid_turn(&mut sshd, &c).await;
    go_on.notify_one();
    let s = c
        .wait_agent(&dept, "still working", |s| s["status"] == "running")
        .await;
    assert_ne!(s["failed"], true, "{s}");
    assert!(c.server.outputs("call_two").is_empty(), "the command waits");
    sshd.restart();
    let out = c.output("call_two").await;
    let there = worktree_there(&clone, &dept);
    assert!(out.contains(&format!("AT={there}")), "{out}");
    c.output("call_report").await;
    c.wait_audit("remote_work_fetched", |e| e["session_id"] == dept)
        .await;
    let status = c.api().status().await;
    assert_eq!(
        status["remotes"][0]["state"], "ready",
        "{}",
        status["remotes"]
    );
    c.stop().await;
}

/// Issue 70 item 2: gpu1 away for longer than Codex's exec-server client
/// waits for it (45 s; it then fails the command it holds and every later
/// one). The launcher holds the department's turn before that (interrupted,
/// no reminder), asks gpu1 again until it answers, then resumes the
/// department on a new agent and tells it to run the command again: it runs
/// there once, and the department reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_away_longer_than_codex_waits_holds_the_turn_and_the_command_runs_once_back() {
    crate::needs!(Codex, Sshd);
    let (mut sshd, _dir, clone, mut c) = placed().await;
    c.plans_one_notes_department();
    let counted = "echo two >> TWO.md; echo \" AT=$(pwd) RUNS=$(wc -l < TWO.md)\"";
    c.server.on(
        "department (zhilibu)",
        vec![exec("call_one", "echo one > ONE.md")],
    );
    let go_on = c
        .server
        .on_held("call_one", vec![exec("call_two", counted)]);
    c.server.on(
        "was unreachable for a while",
        vec![exec("call_again", counted)],
    );
    c.server.on(
        "call_again",
        vec![tool_call(
            "call_report",
            "governance_report_result",
            json!({"summary": "two notes", "changed_files": ["ONE.md", "TWO.md"]}),
        )],
    );
    c.api().start_zhongshu("Plan one change").await;
    let dept = c.first_department().await;
    c.output("call_one").await;
    let away = std::time::Instant::now();
    gpu1_drops_mid_turn(&mut sshd, &c).await;
    // The command goes out while gpu1 is away.
    go_on.notify_one();
    c.wait_audit("session_interrupted", |e| e["session_id"] == dept)
        .await;
    // Past the time Codex's client waits for a dropped host.
    tokio::time::sleep(std::time::Duration::from_secs(60).saturating_sub(away.elapsed())).await;
    let s = c.api().session(&dept).await;
    assert_eq!(s["status"], "running", "{s}");
    assert!(
        c.server.outputs("call_two").is_empty(),
        "nothing ran while gpu1 was away"
    );
    assert!(
        c.api().audit_events("department_reminded").await.is_empty(),
        "held, not reminded"
    );
    sshd.restart();
    let out = c.output("call_again").await;
    let there = worktree_there(&clone, &dept);
    assert!(out.contains(&format!("AT={there}")), "{out}");
    assert!(out.contains("RUNS=1"), "the command ran there once: {out}");
    // Its report records its work fetched from gpu1 first: in one
    // fresh-clone run beside the macOS lane it took over 120 s (not
    // explained; see the closing note of 2026-11-28), so longer here.
    crate::common::launcher::wait_until(
        "the output of call_report",
        Duration::from_secs(300),
        || async { c.server.outputs("call_report").into_iter().next() },
    )
    .await;
    c.wait_audit("remote_work_fetched", |e| e["session_id"] == dept)
        .await;
    let resumed = c.api().audit_events("session_resumed").await;
    assert!(
        resumed.iter().any(|e| e["session_id"] == dept),
        "{resumed:?}"
    );
    assert_eq!(c.api().status().await["remotes"][0]["state"], "ready");
    c.stop().await;
}

/// Issue 53, done when: one plan with a department here and one on gpu1,
/// both reviewed and merged; prints the audit lines that tell the story
/// (the closing note shows them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_a_local_and_a_remote_department_runs_to_merge() {
    crate::needs!(Codex, Sshd);
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let clone = seeded_clone(dir.path()).await;
    let mut c = notes_on_gpu1_and_docs_here(&sshd, &clone).await;
    assert_eq!(host_checked(&c, "gpu1").await["state"], "ready");
    plans_notes_there_and_docs_here(&c);
    c.api().start_zhongshu("Notes there, docs here").await;
    // The planner sees the hosts it may place assignments on, with their free slots.
    let seen = c.output("call_status").await;
    assert!(
        seen.contains("\"hosts\"") && seen.contains("gpu1") && seen.contains("free_slots"),
        "{seen}"
    );
    let notes = department_started(&c, "zhilibu").await;
    let docs = department_started(&c, "wenshu").await;
    for id in [&notes, &docs] {
        closed(&c, id).await;
        integrated(&c, id, "merge").await;
    }
    for (file, text) in [("notes/A.md", "zhilibu\n"), ("docs/B.md", "wenshu\n")] {
        assert_eq!(committed_text(&c.repo.path, file), text, "{file}");
    }
    print_the_story(&c).await;
    let fetched = c.api().audit_events("remote_work_fetched").await;
    assert!(fetched.iter().any(|e| e["session_id"] == notes.as_str()));
    assert!(!fetched.iter().any(|e| e["session_id"] == docs.as_str()));
    c.stop().await;
}

/// A launcher whose zhilibu (notes/) works on gpu1 and whose wenshu
/// (docs/) works here.
async fn notes_on_gpu1_and_docs_here(sshd: &Sshd, clone: &str) -> Codex {
    let real = codex().display().to_string();
    Scenario::codex()
        .committed()
        .launcher(&format!(
            "  remotes:\n    gpu1:\n      ssh: {HOST}\n      repo: {clone}\n      codex: {real}\n\
             departments:\n  zhilibu:\n    title: Notes\n    globs: ['notes/**']\n    where: gpu1\n\
             \x20 wenshu:\n    title: Docs\n    globs: ['docs/**']\n"
        ))
        .env(
            "CODEX_GOVERNANCE_SSH",
            &sshd.ssh_wrapper().display().to_string(),
        )
        .start()
        .await
}

/// The planner plans notes/A.md for zhilibu and docs/B.md for wenshu, then
/// asks the plan's status; each department writes its file (and prints its
/// host's name) and reports it.
fn plans_notes_there_and_docs_here(c: &Codex) {
    c.server.on(
        "You are Zhongshu",
        vec![tool_call(
            "call_plan",
            "governance_register_plan",
            json!({"summary": "notes there, docs here", "assignments": [
                {"department": "zhilibu", "task": "Write notes/A.md", "files": ["notes/A.md"]},
                {"department": "wenshu", "task": "Write docs/B.md", "files": ["docs/B.md"]}]}),
        )],
    );
    c.server.on(
        "call_plan",
        vec![tool_call(
            "call_status",
            "governance_plan_status",
            json!({}),
        )],
    );
    for (dept, file, call) in [
        ("zhilibu", "notes/A.md", "call_notes"),
        ("wenshu", "docs/B.md", "call_docs"),
    ] {
        c.server.on(
            &format!("department ({dept})"),
            vec![exec(
                call,
                &format!("mkdir -p $(dirname {file}) && echo {dept} > {file}; hostname"),
            )],
        );
        let report = format!("{call}_report");
        reports_after(
            &c.server,
            call,
            &report,
            &format!("{file} written"),
            &[file],
        );
    }
}

/// The session id of department `dept`, once it started.
async fn department_started(c: &Codex, dept: &str) -> String {
    let s = c
        .api()
        .wait_status(&format!("{dept} started"), |s| {
            departments(s).iter().any(|d| d["department"] == dept)
        })
        .await;
    department_id(&s, dept)
}

/// Prints the audit lines that tell a plan's story, from its sessions'
/// starts to their worktrees' removal here and there.
async fn print_the_story(c: &Codex) {
    let all = c.api().get_ok("/api/audit?limit=1000").await;
    println!("[audit of the mixed plan]");
    let told = [
        "session_started",
        "worktree_created",
        "remote_worktree_added",
        "remote_work_fetched",
        "worktree_recorded",
        "integration_done",
        "remote_worktree_removed",
        "worktree_removed",
    ];
    for e in all["events"].as_array().unwrap() {
        if told.contains(&e["event"].as_str().unwrap_or_default()) {
            println!("{e}");
        }
    }
}

/// Issue 53 item 1: the user moves an assignment that waits for gpu1 to
/// this machine; it starts here. A host that is not configured is refused,
/// naming the known ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_assignment_moved_here_starts_here() {
    crate::needs!(Codex, Sshd, Chromium);
    let (mut sshd, _dir, _clone, mut c) = placed().await;
    gpu1_goes_away(&mut sshd, &c).await;
    c.plans_one_notes_department();
    c.server.on(
        "department (zhilibu)",
        vec![exec("call_here", "echo \" AT=$(pwd)\"")],
    );
    c.api().start_zhongshu("Plan one change").await;
    let status = c
        .api()
        .wait_status("the assignment waits for gpu1", |s| {
            s["queue"][0]["waiting"].is_string()
        })
        .await;
    let queue_id = status["queue"][0]["id"].as_str().unwrap().to_string();
    let (code, refused) = c
        .api()
        .post(
            "/api/queue/place",
            &json!({"queue_id": queue_id, "where": "gpu9"}),
        )
        .await;
    assert_eq!(code, 400, "{refused}");
    assert!(refused.to_string().contains("known: gpu1"), "{refused}");
    // In the page: the queue says why it waits, and its place moves here.
    let page = c.dashboard("remote-move").await;
    page.wait_text("why it waits", "#queue", "waiting for gpu1")
        .await;
    page.js(
        "const s = document.querySelector('#queue .queue-place'); s.value = ''; \
         s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await;
    let dept = c.first_department().await;
    let out = c.output("call_here").await;
    assert!(!out.contains(".governance/"), "it works here: {out}");
    let placed = c.api().audit_events("assignment_placed").await;
    assert_eq!(placed[0]["queue_id"], queue_id.as_str(), "{placed:?}");
    let added = c.api().audit_events("remote_worktree_added").await;
    assert!(added.is_empty(), "{added:?}");
    drop(dept);
    c.stop().await;
}

/// A file over `worktree_max_file_bytes` a department leaves on its host
/// (a sparse 3 GiB file) is neither read nor fetched: the review names it,
/// Merge brings the rest, and its worktree there is kept with it, as a
/// worktree here holding what no record has is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_the_limit_stays_on_its_host_with_its_worktree() {
    crate::needs!(Codex, Sshd);
    let (_sshd, _dir, clone, mut c) = placed().await;
    c.plans_one_notes_department();
    runs_then_reports(
        &c.server,
        "zhilibu",
        "call_write",
        "echo notes > NOTES.md; truncate -s 3G BIG.bin; echo \" BIG-RC=$?\"",
        "notes written",
        &["NOTES.md"],
    );
    c.api().start_zhongshu("Plan one change").await;
    let dept = c.first_department().await;
    let there = worktree_there(&clone, &dept);
    assert!(c.output("call_write").await.contains("BIG-RC=0"));
    c.output("call_report").await;
    let recorded = c
        .wait_agent(&dept, "recorded", |s| {
            s["workspace"]["review"]["findings"]
                .to_string()
                .contains("BIG.bin")
        })
        .await;
    let findings = recorded["workspace"]["review"]["findings"].to_string();
    assert!(
        findings.contains("not recorded, kept in its worktree"),
        "{findings}"
    );
    c.turn_ended(&dept).await;
    closed(&c, &dept).await;
    merged_here(&c, &dept, "NOTES.md", "notes\n").await;
    let big = std::process::Command::new("git")
        .args(["cat-file", "-e", "HEAD:BIG.bin"])
        .current_dir(&c.repo.path)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!big.success());
    // Settled, its worktree there is kept with the file, and the log says why.
    crate::common::launcher::wait_until(
        "the host's worktree kept",
        Duration::from_secs(60),
        || async {
            c.launcher
                .stderr()
                .contains("kept: it holds what no record has")
                .then_some(())
        },
    )
    .await;
    assert!(Path::new(&there).join("BIG.bin").exists(), "{there}");
    assert!(c
        .api()
        .audit_events("remote_worktree_removed")
        .await
        .is_empty());
    c.stop().await;
}

/// Issue 53 item 3: sent back, a department on gpu1 carries on its thread
/// on the same worktree there; before its work is fetched back nothing of
/// it is in its worktree here, and the second fetch brings both attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_department_sent_back_goes_on_in_its_worktree_there() {
    crate::needs!(Codex, Sshd);
    let (_sshd, _dir, clone, mut c) = placed().await;
    c.plans_one_notes_department();
    c.server.on(
        "department (zhilibu)",
        vec![exec("call_first", "echo first > NOTES.md")],
    );
    let report = c.server.on_held(
        "call_first",
        vec![tool_call(
            "call_report_first",
            "governance_report_result",
            json!({"summary": "first", "changed_files": ["NOTES.md"]}),
        )],
    );
    c.server.on(
        "SENDBACK-MARK",
        vec![exec(
            "call_second",
            "echo second >> NOTES.md; echo \" AT=$(pwd)\"",
        )],
    );
    c.server.on(
        "call_second",
        vec![tool_call(
            "call_report_second",
            "governance_report_result",
            json!({"summary": "second", "changed_files": ["NOTES.md"]}),
        )],
    );
    c.api().start_zhongshu("Plan one change").await;
    let dept = c.first_department().await;
    let there = worktree_there(&clone, &dept);
    c.output("call_first").await;
    let here = c
        .wait_agent(&dept, "its worktree here", |s| {
            s["workspace"]["path"].is_string()
        })
        .await;
    let mirror = here["workspace"]["path"].as_str().unwrap().to_string();
    assert!(Path::new(&there).join("NOTES.md").exists());
    assert!(
        !Path::new(&mirror).join("NOTES.md").exists(),
        "nothing comes here before its work is fetched back"
    );
    report.notify_one();
    closed(&c, &dept).await;
    let sent = c
        .api()
        .post_ok(
            "/api/send_back",
            &json!({"session_id": dept, "note": "SENDBACK-MARK add a second line"}),
        )
        .await;
    let successor = sent["successor"].as_str().unwrap().to_string();
    let out = c.output("call_second").await;
    assert!(
        out.contains(&format!("AT={there}")),
        "the same worktree there: {out}"
    );
    let done = c
        .wait_agent(&successor, "reported again and recorded", |s| {
            s["status"] == "exited" && s["workspace"]["state"] == "pending"
        })
        .await;
    assert_eq!(
        done["workspace"]["remote"]["path"],
        there.as_str(),
        "{done}"
    );
    assert_eq!(
        std::fs::read_to_string(Path::new(&mirror).join("NOTES.md")).unwrap(),
        "first\nsecond\n"
    );
    c.stop().await;
}

/// A backend whose commands run on this machine only (the PTY backend here)
/// is never placed on a host: the start is refused, saying why; nothing is
/// queued, made here, or asked of the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_of_a_backend_that_runs_here_only_is_not_placed_on_a_host() {
    let repo = Scenario::new()
        .launcher(
            "  remotes:\n    gpu1:\n      ssh: gpu1.invalid\n      \
             repo: /srv/never\ndepartments:\n  zhilibu:\n    title: Notes\n    globs: ['**']\n    \
             where: gpu1\n",
        )
        .committed()
        .repo();
    let server = crate::common::launcher::InProcess::start(&repo).await;
    let api = &server.api;
    let z = api.start_zhongshu("Plan").await;
    let (status, body) = api
        .post(
            "/api/start_department",
            &json!({"parent_session_id": z, "department": "zhilibu", "task": "Notes"}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("\"gpu1\"") && error.contains("this machine only"),
        "{body}"
    );
    let status = api.get_ok("/api/status").await;
    assert_eq!(status["queue"], json!([]), "nothing queued: {status}");
    let sessions = api.get_ok("/api/sessions").await;
    assert!(
        !sessions.to_string().contains("zhilibu-"),
        "no department session was left: {sessions}"
    );
    let worktrees = repo.root.join("repo.worktrees");
    assert!(
        std::fs::read_dir(&worktrees).map_or(true, |d| d
            .filter_map(Result::ok)
            .all(|e| e.file_name().to_string_lossy().starts_with('.'))),
        "no worktree was made here"
    );
}

/// An approval a remote department's command asks for is a Needs-you
/// approval here, like a local one's: answered from the page's API, the
/// command runs on the host (in its worktree there), once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_departments_approval_is_asked_here_and_the_command_runs_there() {
    use crate::common::model_server::exec_escalated;
    crate::needs!(Codex, Sshd);
    let (_sshd, _dir, clone, c) = placed().await;
    c.plans_one_notes_department();
    c.server.on(
        "department (zhilibu)",
        vec![exec_escalated(
            "call_ask",
            "echo asked > ASKED.md; echo \" AT=$(pwd)\"",
            "REMOTE-ASK",
        )],
    );
    c.server.on(
        "call_ask",
        vec![tool_call(
            "call_report",
            "governance_report_result",
            json!({"summary": "asked", "changed_files": ["ASKED.md"]}),
        )],
    );
    c.api().start_zhongshu("Plan one change").await;
    let dept = c.first_department().await;
    let pending = c
        .wait_approval("the remote department's approval", |a| {
            a["reason"] == "REMOTE-ASK"
        })
        .await;
    assert_eq!(pending["session_id"], dept.as_str(), "{pending}");
    let there = worktree_there(&clone, &dept);
    assert!(
        !Path::new(&there).join("ASKED.md").exists(),
        "nothing ran before the answer"
    );
    c.decide(&dept, &pending["request_id"], "accept").await;
    let out = c.output("call_ask").await;
    assert!(out.contains(&format!("AT={there}")), "{out}");
    assert_eq!(
        std::fs::read_to_string(Path::new(&there).join("ASKED.md")).unwrap(),
        "asked\n"
    );
    let decided = c.api().audit_events("approval_decided").await;
    assert_eq!(decided.len(), 1, "{decided:?}");
    assert_eq!(decided[0]["session_id"], dept.as_str(), "{decided:?}");
    c.output("call_report").await;
    c.wait_audit("remote_work_fetched", |e| e["session_id"] == dept)
        .await;
}
