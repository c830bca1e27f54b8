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
