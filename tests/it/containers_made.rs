//! Containers of the launcher's making (issue 76): a provider's `create`
//! and `destroy` lines, one container per department (`{session}`), `warm`
//! made ahead, and what a `kill -9` left removed at the next start. Real
//! podman (`common/podman.rs`), the real Codex on a scripted model.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::common::model_server::{exec, tool_call};
use crate::common::podman::{codex_inside, Podman};
use crate::common::scenario::{Codex, CodexScenario, Scenario};

/// The repository's clone the launcher makes inside each container.
const CLONE: &str = "/work/repo";

/// The provider's lines, each run through a script that writes down what
/// it does (`create cg-…`, `destroy cg-…`) before it does it.
struct Lines {
    dir: tempfile::TempDir,
}

impl Lines {
    fn new() -> Lines {
        let dir = tempfile::tempdir().unwrap();
        let marks = dir.path().join("marks");
        let script = format!(
            "#!/bin/sh\nwhat=$1; shift\nfor w; do case $w in cg-*) echo \"$what $w\" >> {};; \
             esac; done\nif [ \"$what\" = create ] && [ -e {} ]; then case \"$*\" in *cg-warm-*) ;; \
             *) echo 'Error: no room on this machine' >&2; exit 1;; esac; fi\nexec \"$@\"\n",
            marks.display(),
            dir.path().join("refuse").display()
        );
        let logged = dir.path().join("logged");
        std::fs::write(&logged, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&logged, std::fs::Permissions::from_mode(0o755)).unwrap();
        Lines { dir }
    }

    /// From now on a department's own container is (or is no longer)
    /// refused by `create`; those made ahead never are.
    fn refuse(&self, refused: bool) {
        let flag = self.dir.path().join("refuse");
        match refused {
            true => std::fs::write(flag, "").unwrap(),
            false => std::fs::remove_file(flag).unwrap(),
        }
    }

    fn logged(&self) -> PathBuf {
        self.dir.path().join("logged")
    }

    /// The containers each line named, in order: `what` is create or destroy.
    fn ran(&self, what: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("marks"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{what} ")).map(String::from))
            .collect()
    }
}

/// A launcher whose departments zhilibu (`where: box`) and docsbu (`where:
/// {labels: [pods]}`, box's) work on `box`, one at a time, each in a
/// container of its own that podman makes (one kept warm).
fn made_box_scenario(podman: &Podman, lines: &Lines) -> CodexScenario {
    box_scenario_with(
        podman,
        lines,
        "warm: 1\n      max_departments: 1\n      labels: [pods]",
    )
}

/// A launcher whose zhilibu and docsbu work on `box` (podman making a
/// container for each; `settings` more of box's keys).
fn box_scenario_with(podman: &Podman, lines: &Lines, settings: &str) -> CodexScenario {
    let quoted = |words: Vec<String>| {
        words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let logged = |what: &str, argv: Vec<String>| {
        let mut line = vec![lines.logged().display().to_string(), what.to_string()];
        line.extend(argv);
        quoted(line)
    };
    let exec = quoted(podman.exec_argv("cg-{session}"));
    let create = logged("create", podman.run_argv("cg-{session}"));
    let destroy = logged("destroy", podman.remove_argv("cg-{session}"));
    let mut scenario = Scenario::codex().committed().launcher(&format!(
        "  remotes:\n    box:\n      provider:\n        exec: [{exec}]\n        create: [{create}]\n        \
         destroy: [{destroy}]\n      repo: {CLONE}\n      codex: {}\n      {settings}\n\
         departments:\n  zhilibu:\n    title: Notes\n    globs: ['**']\n    where: box\n  \
         docsbu:\n    title: Docs\n    globs: ['**']\n    where: {{labels: [pods]}}\n",
        codex_inside()
    ));
    for (key, value) in podman.env() {
        scenario = scenario.env(&key, &value);
    }
    scenario
}

/// The status's word on box once its pre-flight ran.
async fn box_checked(c: &crate::common::scenario::Codex) -> Value {
    crate::common::elsewhere::host_checked(c, "box").await
}

/// The planner's plan: zhilibu writes NOTES.md, docsbu DOCS.md, each
/// reporting its file.
fn plans_two_departments(c: &Codex) {
    c.server.on(
        "You are Zhongshu",
        vec![tool_call(
            "call_plan",
            "governance_register_plan",
            json!({"summary": "two departments",
                   "assignments": [
                       {"department": "zhilibu", "task": "Write NOTES.md", "files": ["NOTES.md"]},
                       {"department": "docsbu", "task": "Write DOCS.md", "files": ["DOCS.md"]}]}),
        )],
    );
    for (dept, file) in [("zhilibu", "NOTES.md"), ("docsbu", "DOCS.md")] {
        let (call, report) = (format!("call_{dept}"), format!("report_{dept}"));
        c.server.on(
            &format!("department ({dept})"),
            vec![exec(
                &call,
                &format!("echo {dept} > {file}; echo \" HOST=$(cat /etc/hostname)\""),
            )],
        );
        c.server.on(
            &call,
            vec![tool_call(
                &report,
                "governance_report_result",
                json!({"summary": format!("{file} written"), "changed_files": [file]}),
            )],
        );
    }
}

/// The ids of the status's departments, once there are `n`.
async fn departments(c: &Codex, n: usize) -> Vec<String> {
    let status = c
        .api()
        .wait_status("the departments", |s| {
            crate::common::launcher::departments(s).len() >= n
        })
        .await;
    crate::common::launcher::departments(&status)
        .iter()
        .map(crate::common::scenario::id_of)
        .collect()
}

/// Merges department `dept` once it has exited; its worktree there is then
/// left (its container removed).
async fn merged(c: &Codex, dept: &str) {
    c.wait_agent(dept, "closed", |s| s["agent_state"] == "exited")
        .await;
    c.api()
        .post_ok(
            "/api/integrate",
            &json!({"session_id": dept, "mode": "merge"}),
        )
        .await;
    c.wait_audit("remote_worktree_removed", |e| e["session_id"] == dept)
        .await;
}

/// Issue 76: a provider with `create`, `destroy` and `warm: 1`. A
/// container made ahead for the pre-flight and left by a `kill -9` is
/// removed at the next start; each department then works in a container
/// of its own that was made ahead (no `create` when it starts: every
/// container made is a warm one), its command runs there, its work is
/// merged here, and its container is removed once settled, once; at the
/// stop the one still warm goes too, and podman has none left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_are_made_ahead_one_per_department_and_removed_once_settled_or_left() {
    crate::needs!(Podman, Codex);
    let podman = Podman::new();
    let lines = Lines::new();
    let mut c = made_box_scenario(&podman, &lines).start().await;
    assert_eq!(box_checked(&c).await["state"], "ready");
    let first = lines.ran("create");
    assert_eq!(
        podman.leftovers(podman.label()),
        first,
        "the check's container"
    );
    c.launcher.kill9();
    c.relaunch();
    assert_eq!(box_checked(&c).await["state"], "ready");
    assert_eq!(
        lines.ran("destroy"),
        first,
        "what the crash left is removed"
    );

    plans_two_departments(&c);
    c.api().start_zhongshu("Plan two changes").await;
    let depts = departments(&c, 2).await;
    for dept in &depts {
        merged(&c, dept).await;
    }
    for (call, file) in [("call_zhilibu", "NOTES.md"), ("call_docsbu", "DOCS.md")] {
        // Both ran in a container (docsbu placed there by its labels).
        let out = c.output(call).await;
        let here = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        assert!(
            out.contains(" HOST=") && !out.contains(&format!("HOST={}", here.trim())),
            "{out}"
        );
        let landed = std::process::Command::new("git")
            .args(["show", &format!("HEAD:{file}")])
            .current_dir(&c.repo.path)
            .output()
            .unwrap();
        assert!(landed.status.success(), "{file} is merged");
    }
    let made = lines.ran("create");
    assert!(
        made.iter().all(|m| m.starts_with("cg-warm-")),
        "no department waited for a create: {made:?}"
    );
    assert_eq!(made.len(), 4, "two checks' and two made ahead: {made:?}");
    let removed = lines.ran("destroy");
    assert_eq!(
        removed.len(),
        3,
        "the crash's and each department's, once: {removed:?}"
    );
    assert_eq!(podman.leftovers(podman.label()).len(), 1, "one kept warm");
    c.stop().await;
    assert_eq!(
        lines.ran("destroy").len(),
        4,
        "the warm one goes at the stop"
    );
    assert_eq!(podman.leftovers(podman.label()), Vec::<String>::new());
}

/// Issue 76 item 3: a department's container removed mid-turn (`podman rm
/// -f`). Its command goes out while it is gone: the turn is held, the
/// container is made again under the same id with the department's
/// worktree there (from the plan's base: nothing was fetched back yet),
/// the department is told to run it again, and it runs in the new
/// container; its work is reported and merged, nothing failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_removed_mid_turn_is_made_again_and_its_department_goes_on_there() {
    crate::needs!(Podman, Codex);
    let podman = Podman::new();
    let lines = Lines::new();
    let c = box_scenario_with(&podman, &lines, "max_departments: 1\n      labels: [pods]")
        .start()
        .await;
    assert_eq!(box_checked(&c).await["state"], "ready");
    c.plans_one_notes_department();
    let counted = "echo two >> TWO.md; echo \" HOST=$(cat /etc/hostname) RUNS=$(wc -l < TWO.md)\"";
    c.server.on(
        "department (zhilibu)",
        vec![exec("call_one", "echo \" HOST=$(cat /etc/hostname)\"")],
    );
    let go_on = c
        .server
        .on_held("call_one", vec![exec("call_two", counted)]);
    c.server.on(
        "was unreachable for a while",
        vec![exec("call_again", counted)],
    );
    for call in ["call_two", "call_again"] {
        c.server.on(
            call,
            vec![tool_call(
                &format!("report_{call}"),
                "governance_report_result",
                json!({"summary": "two notes", "changed_files": ["TWO.md"]}),
            )],
        );
    }
    c.api().start_zhongshu("Plan one change").await;
    let dept = c.first_department().await;
    let before = c.output("call_one").await;
    let own = lines
        .ran("create")
        .into_iter()
        .find(|m| !m.starts_with("cg-warm-"));
    let own = own.expect("the department's own container");
    assert!(podman.remove(&own), "podman rm -f {own}");
    c.api()
        .wait_status("box unreachable", |s| {
            s["remotes"][0]["state"] == "unreachable"
        })
        .await;
    // Its next command goes out while the container is gone.
    go_on.notify_one();
    let remade = c
        .wait_audit("container_remade", |e| {
            e["container"] == own.trim_start_matches("cg-")
        })
        .await;
    assert_eq!(remade["session_ids"], json!([dept]), "{remade}");
    let after = ran_once_more(&c).await;
    assert!(
        after.contains("RUNS=1"),
        "it ran once, in the new worktree: {after}"
    );
    let host_of = |out: &str| {
        out.split(" HOST=")
            .nth(1)
            .map(|h| h[..12.min(h.len())].to_string())
    };
    assert_ne!(
        host_of(&before),
        host_of(&after),
        "{before} / {after}: a new container"
    );
    assert_eq!(lines.ran("create").iter().filter(|m| **m == own).count(), 2);
    merged(&c, &dept).await;
    let s = c.api().session(&dept).await;
    assert_ne!(s["status"], "failed", "{s}");
    let mut c = c;
    c.stop().await;
    assert_eq!(podman.leftovers(podman.label()), Vec::<String>::new());
}

/// The output of the department's second command, wherever it ran: held
/// and run again once the container was back (`call_again`), or run
/// there at once when it was back before (`call_two`), with `RUNS=`.
async fn ran_once_more(c: &Codex) -> String {
    crate::common::launcher::wait_until(
        "the second command's output",
        std::time::Duration::from_secs(120),
        || async {
            ["call_again", "call_two"]
                .into_iter()
                .flat_map(|call| c.server.outputs(call))
                .find(|out| out.contains("RUNS="))
        },
    )
    .await
}

/// Issue 76 item 3: a `create` that fails when a department starts does
/// not fail the department: it waits in the queue with the engine's
/// reason, its host out of use until checked again; once `create` works
/// again, *Check again* starts it and it works in its container.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_fails_at_a_start_waits_with_its_reason_until_it_works() {
    crate::needs!(Podman, Codex);
    let podman = Podman::new();
    let lines = Lines::new();
    lines.refuse(true);
    let mut c = box_scenario_with(&podman, &lines, "labels: [pods]")
        .start()
        .await;
    assert_eq!(
        box_checked(&c).await["state"],
        "ready",
        "its check's container is made"
    );
    c.plans_one_notes_department();
    c.server.on(
        "department (zhilibu)",
        vec![exec(
            "call_write",
            "echo notes > NOTES.md; echo \" HOST=$(cat /etc/hostname)\"",
        )],
    );
    c.api().start_zhongshu("Plan one change").await;
    let status = c
        .api()
        .wait_status("the department waits for box", |s| {
            s["queue"][0]["waiting"]
                .as_str()
                .is_some_and(|w| w.contains("no room on this machine"))
        })
        .await;
    assert_eq!(status["remotes"][0]["state"], "unreachable", "{status}");
    assert!(
        crate::common::launcher::departments(&status)
            .iter()
            .all(|d| d["status"] != "failed"),
        "nothing failed: {status}"
    );
    lines.refuse(false);
    c.api().post_ok("/api/check_remotes", &json!({})).await;
    let dept = c.first_department().await;
    let out = c.output("call_write").await;
    assert!(out.contains(" HOST="), "{out}");
    let s = c.api().session(&dept).await;
    assert_eq!(s["department"], "zhilibu", "{s}");
    c.stop().await;
    // Its work is not settled: its container stays for the next start.
    assert_eq!(podman.leftovers(podman.label()), [format!("cg-{dept}")]);
}
