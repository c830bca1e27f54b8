//! The podman harness (`common/podman.rs`) that the tests of departments in
//! containers stand on (issue 76): a real container from the machine's own
//! files, no registry; git and the pinned Codex's exec-server inside through
//! `podman exec -i`; what a container writes stays in it; a removed container
//! ends the exec in it; nothing is left behind.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::podman::{processes_naming, Podman};
use crate::common::tier::CODEX_VERSION;

/// Waits for `child` up to `limit`; kills it and fails past that.
fn wait_for(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still ran after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_container_runs_git_keeps_its_files_and_takes_a_clone() {
    crate::needs!(Podman, Codex);
    let podman = Podman::new();
    let c = podman.start("cg-files");

    let version = stdout(&c.exec(&["git", "--version"]));
    assert!(version.starts_with("git version"), "{version}");

    // /work is the container's own: not this machine's /work, not the root folder.
    let probe = format!("cg-probe-{}", std::process::id());
    let written = c.exec(&[
        "sh",
        "-c",
        "echo inside > /work/\"$1\" && cat /work/\"$1\"",
        "sh",
        &probe,
    ]);
    assert_eq!(stdout(&written), "inside\n");
    assert!(!Path::new("/work").join(&probe).exists());
    assert!(!podman.state_dir().join("rootfs/work").join(&probe).exists());

    // A clone inside of a repository here, carried by git over the exec channel.
    let here = tempfile::tempdir().unwrap();
    git2::Repository::init(here.path()).unwrap();
    std::fs::write(here.path().join("README"), "from here\n").unwrap();
    let head = crate::common::git::commit_all(here.path(), "first");
    c.init_clone("/work/repo", here.path());
    let there = stdout(&c.exec(&["git", "-C", "/work/repo", "rev-parse", "HEAD"]));
    assert_eq!(there.trim(), head);
    assert_eq!(
        stdout(&c.exec(&["cat", "/work/repo/README"])),
        "from here\n"
    );
}

#[test]
fn the_pinned_codex_exec_server_answers_inside() {
    crate::needs!(Podman, Codex);
    let podman = Podman::new();
    let c = podman.start("cg-exec-server");
    // Run as a provider's `exec` would be: its argv, then the command, with
    // the harness's podman variables and nothing else.
    let exec = podman.exec_argv(c.name());
    assert_eq!(Path::new(&exec[0]), podman.program());
    let mut server = Command::new(&exec[0])
        .args(&exec[1..])
        .args([&c.codex_path(), "exec-server", "--listen", "stdio"])
        .env_clear()
        .envs(podman.env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = server.stdin.take().unwrap();
    let output = server.stdout.take().unwrap();
    let (lines, replies) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let initialize = json!({"id": 1, "method": "initialize", "params": {"clientName": "probe"}});
    writeln!(input, "{initialize}").unwrap();
    input.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let reply: Value = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = replies
            .recv_timeout(left)
            .expect("the exec-server answers initialize");
        let message: Value = serde_json::from_str(&line).unwrap();
        if message["id"] == 1 {
            break message;
        }
    };
    assert_eq!(
        reply["result"]["environmentInfo"]["executorVersion"], CODEX_VERSION,
        "{reply}"
    );
    // Its stdin closed, the server ends, and the exec with it.
    drop(input);
    let status = wait_for(&mut server, Duration::from_secs(30), "the exec-server");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_removed_container_ends_its_exec_and_the_harness_leaves_none() {
    crate::needs!(Podman, Codex);
    let podman = Podman::new();
    let _kept = podman.start("cg-kept");
    let doomed = podman.start("cg-doomed");
    let mut listed = podman.leftovers(podman.label());
    listed.sort();
    assert_eq!(listed, ["cg-doomed", "cg-kept"]);
    assert!(podman.leftovers("cg.test=nobody").is_empty());

    // `podman rm -f` while an exec runs in it: the exec ends, not zero
    // (137 or 255, by a race inside podman).
    let mut exec = doomed
        .command(&["sleep", "300"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !doomed
        .exec(&["pgrep", "-f", "^sleep 300$"])
        .status
        .success()
    {
        assert!(Instant::now() < deadline, "sleep 300 never ran inside");
        std::thread::sleep(Duration::from_millis(100));
    }
    // As a provider's `destroy` would.
    let destroy = podman.remove_argv(doomed.name());
    let removed = Command::new(&destroy[0])
        .args(&destroy[1..])
        .env_clear()
        .envs(podman.env())
        .output()
        .unwrap();
    stdout(&removed);
    let status = wait_for(
        &mut exec,
        Duration::from_secs(30),
        "the exec in a removed container",
    );
    assert!(!status.success(), "{status:?}");
    assert_eq!(podman.leftovers(podman.label()), ["cg-kept"]);
    // Removing it again is no error (a destroy that runs twice).
    assert!(podman.remove("cg-doomed"));

    // Dropped, the harness removes the container before its state folder:
    // no conmon naming the folder, no runtime state of the container.
    let id = podman
        .command()
        .args(["inspect", "--format", "{{.Id}}", "cg-kept"])
        .output()
        .unwrap();
    let id = stdout(&id).trim().to_string();
    assert!(Path::new("/run/crun").join(&id).exists());
    let state = podman.state_dir().to_path_buf();
    assert!(
        !processes_naming(&state).is_empty(),
        "conmon names the state folder"
    );
    drop(podman);
    assert!(!state.exists());
    assert_eq!(processes_naming(&state), Vec::<u32>::new());
    assert!(!Path::new("/run/crun").join(&id).exists());
}

/// Issue 76 item 2: a department placed on a host reached through a
/// provider's exec line (`provider: {exec: [podman, exec, -i, cg-{name}]}`)
/// works in a podman container: its command runs inside, in its worktree
/// there (the file is there and not here), its work comes back through
/// git's own transport over the same line (no port opened inside), and
/// Merge lands it; settled, its worktree there is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_in_a_container_works_inside_and_its_work_is_merged_here() {
    use crate::common::model_server::{exec, tool_call};
    crate::needs!(Podman, Codex);
    let podman = Podman::new();
    let container = podman.start("cg-box");
    let c = placed_in_box(&podman, &container).await;
    c.plans_one_notes_department();
    c.server.on(
        "department (zhilibu)",
        vec![exec(
            "call_write",
            "echo notes > NOTES.md; echo \" WT-RC=$?\"; echo \" AT=$(pwd)\"; \
             echo \" HOST=$(cat /etc/hostname)\"",
        )],
    );
    c.server.on(
        "call_write",
        vec![tool_call(
            "call_report",
            "governance_report_result",
            json!({"summary": "notes written", "changed_files": ["NOTES.md"]}),
        )],
    );
    c.api().start_zhongshu("Plan one change").await;
    let dept = c.first_department().await;
    let out = c.output("call_write").await;
    let there = format!("{BOX_CLONE}.governance/{dept}");
    assert!(out.contains("WT-RC=0"), "{out}");
    assert!(out.contains(&format!("AT={there}")), "{out}");
    // The command ran inside: its hostname is the container's, and the
    // file is in the container's worktree, not at that path here.
    let hostname = stdout(&container.exec(&["cat", "/etc/hostname"]));
    assert!(out.contains(&format!("HOST={}", hostname.trim())), "{out}");
    let inside = stdout(&container.exec(&["cat", &format!("{there}/NOTES.md")]));
    assert_eq!(inside, "notes\n");
    assert!(!Path::new(&there).exists(), "{there} is here");
    c.output("call_report").await;
    c.turn_ended(&dept).await;
    let fetched = c
        .wait_audit("remote_work_fetched", |e| e["session_id"] == dept)
        .await;
    assert_eq!(fetched["host"], "box", "{fetched}");
    assert_eq!(fetched["remote_path"], there.as_str(), "{fetched}");
    merged_and_gone_from(&c, &dept, &container, &there).await;
    let mut c = c;
    c.stop().await;
}

/// The clone inside the container `cg-box`.
const BOX_CLONE: &str = "/work/repo";

/// A launcher (the real Codex, a scripted model) whose zhilibu works on
/// `box`, reached through `container`'s exec line, once box's pre-flight
/// found it ready.
async fn placed_in_box(
    podman: &Podman,
    container: &crate::common::podman::Container,
) -> crate::common::scenario::Codex {
    let c = box_scenario(podman, container, &podman.exec_argv("cg-{name}"))
        .await
        .start()
        .await;
    let state = box_checked(&c).await;
    assert_eq!(state["state"], "ready", "{state}");
    c
}

/// A launcher's scenario whose zhilibu works on `box`, reached through
/// `exec`: the repository's clone made inside `container` first, from a
/// repository of the same commits; podman's state as the harness keeps it.
async fn box_scenario(
    podman: &Podman,
    container: &crate::common::podman::Container,
    exec: &[String],
) -> crate::common::scenario::CodexScenario {
    use crate::common::scenario::Scenario;
    let seed = Scenario::codex().committed().start().await;
    container.init_clone(BOX_CLONE, &seed.repo.path);
    drop(seed);
    let codex_inside = container.codex_path();
    // Quoted: `{` begins a mapping in YAML's flow style.
    let exec_line = exec
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut scenario = Scenario::codex().committed().launcher(&format!(
        "  remotes:\n    box:\n      provider:\n        exec: [{exec_line}]\n      repo: {BOX_CLONE}\n      \
         codex: {codex_inside}\n\
         departments:\n  zhilibu:\n    title: Notes\n    globs: ['**']\n    where: box\n"
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

/// Issue 76: a provider named by a repository's own file runs nothing
/// until the user trusts the file (its exec line runs on this machine, as
/// the user): the host waits for trust and the line's program has not run;
/// trusted, the pre-flight runs through it and finds the container ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_named_by_an_untrusted_file_runs_nothing_until_trusted() {
    crate::needs!(Podman, Codex);
    let podman = Podman::new();
    let container = podman.start("cg-box");
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("exec-ran");
    let line = dir.path().join("exec-inside");
    std::fs::write(
        &line,
        format!(
            "#!/bin/sh\necho ran >> {}\nexec {} \"$@\"\n",
            marks.display(),
            podman.exec_argv("").join(" ").trim_end()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&line, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exec = [line.display().to_string(), "cg-{name}".to_string()];
    let mut c = box_scenario(&podman, &container, &exec)
        .await
        .env("CODEX_GOVERNANCE_TRUST_CONFIG", "0")
        .env(
            "CODEX_GOVERNANCE_CONFIG_HOME",
            &dir.path().join("config").display().to_string(),
        )
        .start()
        .await;
    let status = c
        .api()
        .wait_status("box waits for trust", |s| {
            s["remotes"][0]["state"] == "awaits_trust"
        })
        .await;
    let trust = &status["config_trust"];
    assert!(
        trust.to_string().contains("launcher.remotes.box"),
        "{trust}"
    );
    assert!(
        trust.to_string().contains(&line.display().to_string()),
        "the trust prompt shows the line that would run: {trust}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!marks.exists(), "the exec line ran before trust");
    let hash = trust["hash"].as_str().unwrap().to_string();
    c.api()
        .post_ok("/api/trust_config", &json!({"hash": hash}))
        .await;
    let state = box_checked(&c).await;
    assert_eq!(state["state"], "ready", "{state}");
    assert!(marks.exists(), "the pre-flight ran through the exec line");
    c.stop().await;
}

/// `dept`'s work merged here; settled, its worktree `there` inside is gone.
async fn merged_and_gone_from(
    c: &crate::common::scenario::Codex,
    dept: &str,
    container: &crate::common::podman::Container,
    there: &str,
) {
    c.wait_agent(dept, "closed", |s| s["agent_state"] == "exited")
        .await;
    c.api()
        .post_ok(
            "/api/integrate",
            &json!({"session_id": dept, "mode": "merge"}),
        )
        .await;
    let landed = Command::new("git")
        .args(["show", "HEAD:NOTES.md"])
        .current_dir(&c.repo.path)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&landed.stdout), "notes\n");
    c.wait_audit("remote_worktree_removed", |e| e["session_id"] == dept)
        .await;
    let gone = container.exec(&["test", "-e", there]);
    assert!(!gone.status.success(), "{there} is still inside");
}
