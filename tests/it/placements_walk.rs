//! The closing walk of issue 76 ("where work runs"): one plan whose
//! departments work in each place a department can work: here, in a
//! worktree of its own; on an ssh host (OpenSSH on loopback); and in podman
//! containers the launcher makes, one made when its department starts
//! (cold) and one made ahead (`warm: 1`). Each runs the real Codex on the
//! scripted model, writes its own file, reports, is reviewed and merged
//! here. The test prints the plan's audit story and issue 76's figures: how
//! long each department took from the start of its start to its first
//! command's output reaching the model.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::common::elsewhere::{merged_here, removed_there, worktree_there};
use crate::common::launcher::{department_id, departments};
use crate::common::mailbox::audit_lines;
use crate::common::model_server::{exec, outputs_of, tool_call, ModelServer};
use crate::common::podman::{codex_inside, Podman};
use crate::common::scenario::{Codex, CodexScenario, Scenario, CODEX_PATIENCE};
use crate::common::sshd::{Sshd, HOST};
use crate::common::tier::codex;

/// The repository's clone the launcher makes inside each container.
const CLONE: &str = "/work/repo";

/// A department of the walk: its key, the host it works on (None: here),
/// what the figures call it, and the file it writes.
struct Dept {
    key: &'static str,
    host: Option<&'static str>,
    place: &'static str,
    file: &'static str,
}

impl Dept {
    /// Its command's call id.
    fn call(&self) -> String {
        format!("call_{}", self.key)
    }
}

/// In the queue's order (it starts them one at a time): here, the
/// container made when it starts, the one made ahead, the ssh host.
const WALK: [Dept; 4] = [
    Dept {
        key: "herebu",
        host: None,
        place: "here",
        file: "HERE.md",
    },
    Dept {
        key: "boxbu",
        host: Some("box"),
        place: "container cold",
        file: "BOX.md",
    },
    Dept {
        key: "poolbu",
        host: Some("pool"),
        place: "warm",
        file: "POOL.md",
    },
    Dept {
        key: "sshbu",
        host: Some("gpu1"),
        place: "ssh host",
        file: "SSH.md",
    },
];

/// A host of `launcher.remotes` whose departments each work in a podman
/// container of the launcher's making (`extra`: more of its keys).
fn container_host(podman: &Podman, name: &str, extra: &str) -> String {
    let quoted = |words: Vec<String>| {
        words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "    {name}:\n      provider:\n        exec: [{}]\n        create: [{}]\n        \
         destroy: [{}]\n      repo: {CLONE}\n      codex: {}\n      max_departments: 1\n{extra}",
        quoted(podman.exec_argv("cg-{session}")),
        quoted(podman.run_argv("cg-{session}")),
        quoted(podman.remove_argv("cg-{session}")),
        codex_inside()
    )
}

/// The ssh host's clone: an empty repository (the launcher pushes each
/// department's base there), as inside a container it makes.
fn clone_on_host(dir: &Path) -> String {
    let clone = dir.join("host-clone");
    let made = std::process::Command::new("git")
        .args(["init", "-q"])
        .arg(&clone)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    clone.display().to_string()
}

/// A launcher with the three hosts (gpu1 over ssh, box and pool in
/// containers, pool keeping one made ahead) and the walk's departments.
fn walk_scenario(podman: &Podman, sshd: &Sshd, clone: &str) -> CodexScenario {
    let mut yaml = format!(
        "  remotes:\n    gpu1:\n      ssh: {HOST}\n      repo: {clone}\n      codex: {}\n",
        codex().display()
    );
    yaml.push_str(&container_host(podman, "box", ""));
    yaml.push_str(&container_host(podman, "pool", "      warm: 1\n"));
    yaml.push_str("departments:\n");
    for d in &WALK {
        yaml.push_str(&format!(
            "  {}:\n    title: {}\n    globs: ['**']\n",
            d.key, d.file
        ));
        if let Some(host) = d.host {
            yaml.push_str(&format!("    where: {host}\n"));
        }
    }
    let mut scenario = Scenario::codex().committed().launcher(&yaml).env(
        "CODEX_GOVERNANCE_SSH",
        &sshd.ssh_wrapper().display().to_string(),
    );
    for (key, value) in podman.env() {
        scenario = scenario.env(&key, &value);
    }
    scenario
}

/// Waits until every host's pre-flight found it ready (pool's container
/// made ahead is then made).
async fn hosts_ready(c: &Codex) {
    let status = c
        .api()
        .wait_status("the three hosts checked", |s| {
            let hosts = s["remotes"].as_array().cloned().unwrap_or_default();
            hosts.len() == 3 && hosts.iter().all(|h| h["checked_at"].is_string())
        })
        .await;
    for host in status["remotes"].as_array().unwrap() {
        assert_eq!(host["state"], "ready", "{host}");
    }
}

/// The planner's plan: one assignment per department; each department
/// writes its file and says where it ran, then reports its file once the
/// returned handle is told (so no report is recorded while departments
/// start, and the figures time the starts alone).
fn plans_the_walk(c: &Codex) -> Vec<Arc<Notify>> {
    let assignments: Vec<Value> = WALK
        .iter()
        .map(|d| json!({"department": d.key, "task": format!("Write {}", d.file), "files": [d.file]}))
        .collect();
    c.server.on(
        "You are Zhongshu",
        vec![tool_call(
            "call_plan",
            "governance_register_plan",
            json!({"summary": "one change in each place", "assignments": assignments}),
        )],
    );
    let mut holds = Vec::new();
    for d in &WALK {
        let cmd = format!(
            "echo {} > {}; echo \" AT=$(pwd) HOST=$(uname -n) END\"",
            d.key, d.file
        );
        c.server.on(
            &format!("department ({})", d.key),
            vec![exec(&d.call(), &cmd)],
        );
        let report = json!({"summary": format!("{} written", d.file), "changed_files": [d.file]});
        holds.push(c.server.on_held(
            &d.call(),
            vec![tool_call(
                &format!("report_{}", d.key),
                "governance_report_result",
                report,
            )],
        ));
    }
    holds
}

/// When the model was first given each department's command output: the
/// model server keeps no time, so it is looked at every 20 ms. Once all
/// were (or the patience ran out), the reports held by `holds` go.
fn watch_first_outputs(
    server: &ModelServer,
    holds: Vec<Arc<Notify>>,
) -> tokio::task::JoinHandle<HashMap<String, DateTime<Utc>>> {
    let server = server.clone();
    tokio::spawn(async move {
        let calls: Vec<String> = WALK.iter().map(Dept::call).collect();
        let mut seen = HashMap::new();
        let deadline = Instant::now() + CODEX_PATIENCE;
        while seen.len() < calls.len() && Instant::now() < deadline {
            let requests = server.requests();
            for call in &calls {
                if !seen.contains_key(call) && !outputs_of(&requests, call).is_empty() {
                    seen.insert(call.clone(), Utc::now());
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for hold in holds {
            hold.notify_one();
        }
        seen
    })
}

/// The walk's department sessions, by key, once all four started.
async fn the_departments(c: &Codex) -> HashMap<&'static str, String> {
    let status = c
        .api()
        .wait_status("the four departments", |s| departments(s).len() >= 4)
        .await;
    WALK.iter()
        .map(|d| (d.key, department_id(&status, d.key)))
        .collect()
}

/// What a command printed after `NAME=` (up to the next space).
fn said<'a>(out: &'a str, name: &str) -> &'a str {
    let at = out
        .find(&format!("{name}="))
        .unwrap_or_else(|| panic!("no {name}= in {out}"));
    out[at + name.len() + 1..]
        .split_whitespace()
        .next()
        .unwrap()
}

/// The name this machine's kernel gives it, or container `name` gives itself.
fn nodename(podman: Option<(&Podman, &str)>) -> String {
    let out = match podman {
        Some((podman, name)) => podman
            .command()
            .args(["exec", name, "uname", "-n"])
            .output(),
        None => std::process::Command::new("uname").arg("-n").output(),
    }
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Each department's command ran where it should: here in its own
/// worktree; on gpu1 in its worktree beside the host's clone; in box in a
/// container made for it; in pool in one made ahead. Checked before
/// anything is settled (a settled department's container is removed).
async fn each_ran_where_it_should(
    c: &Codex,
    podman: &Podman,
    clone: &str,
    ids: &HashMap<&str, String>,
) {
    let here = nodename(None);
    for d in &WALK {
        let id = &ids[d.key];
        let out = c.output(&d.call()).await;
        let ws = c.api().session(id).await["workspace"].clone();
        let (at, host) = (said(&out, "AT"), said(&out, "HOST"));
        match d.host {
            None => {
                assert_eq!(at, ws["path"].as_str().unwrap(), "{out}");
                assert!(ws["remote"].is_null(), "{ws}");
                assert_eq!(host, here, "{out}");
            }
            Some("gpu1") => {
                assert_eq!(at, worktree_there(clone, id), "{out}");
                assert_eq!(ws["remote"]["host"], "gpu1", "{ws}");
            }
            Some(name) => {
                let container = ws["remote"]["container"].as_str().unwrap();
                let made_ahead = container.starts_with("warm-");
                assert_eq!(made_ahead, name == "pool", "{name}: {container}");
                let inside = nodename(Some((podman, &format!("cg-{container}"))));
                assert_eq!(host, inside, "{out}");
                assert_ne!(host, here, "{out}");
                assert_eq!(at, worktree_there(CLONE, id), "{out}");
            }
        }
    }
}

/// Department `dept`'s work, once it closed: recorded and reviewed (its
/// file, in scope, PASS), then merged here.
async fn reviewed_and_merged(c: &Codex, d: &Dept, id: &str) {
    let s = c
        .wait_agent(id, "closed, its work recorded", |s| {
            s["agent_state"] == "exited" && s["workspace"]["state"] == "pending"
        })
        .await;
    let ws = &s["workspace"];
    assert_eq!(ws["actual_changed_files"], json!([d.file]), "{ws}");
    assert_eq!(ws["review"]["decision"], "PASS", "{ws}");
    merged_here(c, id, d.file, &format!("{}\n", d.key)).await;
    if d.host.is_some() {
        removed_there(c, id).await;
    }
}

/// The audit line of `event` for session `id`.
fn line_of<'a>(lines: &'a [Value], event: &str, id: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["event"] == event && l["session_id"] == id)
        .unwrap_or_else(|| panic!("no {event} line for {id}"))
}

/// Each department's audit lines: the placed ones' worktree there added
/// (on its host), its work fetched back and its worktree there removed,
/// and none of those for the one here; every one's Merge.
fn audited_each(lines: &[Value], ids: &HashMap<&str, String>) {
    for d in &WALK {
        let id = &ids[d.key];
        if let Some(host) = d.host {
            for event in [
                "remote_worktree_added",
                "remote_work_fetched",
                "remote_worktree_removed",
            ] {
                assert_eq!(line_of(lines, event, id)["host"], host, "{event} of {id}");
            }
        }
        if d.host.is_none() {
            let elsewhere = lines
                .iter()
                .filter(|l| l["session_id"] == id.as_str())
                .filter(|l| {
                    l["event"]
                        .as_str()
                        .is_some_and(|e| e.starts_with("remote_"))
                });
            assert_eq!(elsewhere.count(), 0, "{id} worked here");
        }
        assert_eq!(line_of(lines, "integration_done", id)["mode"], "merge");
    }
}

/// The plan's audit lines, from its planner's start: each one's event and
/// session (or what it names in its place), in order.
fn print_story(lines: &[Value], planner: &str) {
    let from = lines
        .iter()
        .position(|l| l["event"] == "session_started" && l["session_id"] == planner)
        .expect("the planner's start");
    println!("the plan's audit story ({planner}):");
    for l in &lines[from..] {
        let text = |k: &str| l[k].as_str().unwrap_or("").to_string();
        let who = [
            "session_id",
            "department",
            "tool",
            "host",
            "remote_path",
            "mode",
        ]
        .iter()
        .map(|k| text(k))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
        let ts = text("ts");
        let time = ts.get(11..23).unwrap_or(&ts);
        println!("  {:>4} {time} {:<26} {who}", l["seq"], text("event"));
    }
}

/// An audit line's time.
fn ts(line: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(line["ts"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// When each department's start began, by session: the queue starts them
/// one at a time, the first once the plan's assignments were queued, each
/// next one once the one before had started (`assignment_started`).
fn starts_begun(lines: &[Value]) -> HashMap<String, DateTime<Utc>> {
    let mut mark = None;
    let mut begun = HashMap::new();
    for l in lines {
        match l["event"].as_str() {
            Some("assignment_queued") => mark = Some(ts(l)),
            Some("assignment_started") => {
                let id = l["session_id"].as_str().unwrap().to_string();
                begun.insert(id, mark.expect("queued before started"));
                mark = Some(ts(l));
            }
            _ => {}
        }
    }
    begun
}

/// Issue 76's figures: each department's first command, from the start of
/// its start to its output reaching the model, beside here's; and how much
/// of it was its start (to its `session_started`). Printed, not asserted.
fn print_figures(
    lines: &[Value],
    ids: &HashMap<&str, String>,
    seen: &HashMap<String, DateTime<Utc>>,
) {
    let begun = starts_begun(lines);
    let mut took = Vec::new();
    for d in &WALK {
        let id = &ids[d.key];
        let from = begun[id];
        let started = (ts(line_of(lines, "session_started", id)) - from).num_milliseconds();
        let first = (seen[&d.call()] - from).num_milliseconds();
        println!(
            "  {id} ({}): its start {started} ms, its first command's output at the model {first} ms",
            d.place
        );
        took.push((d.place, first));
    }
    let here = took[0].1;
    let rest: Vec<String> = took[1..]
        .iter()
        .map(|(place, ms)| format!("{place} {ms} ms ({:+})", ms - here))
        .collect();
    println!("first command: here {here} ms, {}", rest.join(", "));
}

/// Issue 76's closing walk: a plan with a department here, one on an ssh
/// host and two in podman containers of the launcher's making (one made
/// when it starts, one made ahead); each command runs where its
/// department works, each file comes back, is reviewed and merged here;
/// the audit says where each worked, what came back and what was removed
/// there. Prints the plan's audit story and the first-command figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_works_here_on_an_ssh_host_and_in_containers_and_each_is_merged() {
    crate::needs!(Podman, Sshd, Codex);
    let began = Instant::now();
    let (podman, sshd) = (Podman::new(), Sshd::start());
    let dir = tempfile::tempdir().unwrap();
    let clone = clone_on_host(dir.path());
    let mut c = walk_scenario(&podman, &sshd, &clone).start().await;
    hosts_ready(&c).await;
    let holds = plans_the_walk(&c);
    let watched = watch_first_outputs(&c.server, holds);
    let planner = c.api().start_zhongshu("One change in each place").await;
    let ids = the_departments(&c).await;
    let seen = watched.await.unwrap();
    assert_eq!(seen.len(), WALK.len(), "every first output seen: {seen:?}");
    each_ran_where_it_should(&c, &podman, &clone, &ids).await;
    for d in &WALK {
        reviewed_and_merged(&c, d, &ids[d.key]).await;
    }
    let lines = audit_lines(&c.repo.state_dir());
    audited_each(&lines, &ids);
    print_story(&lines, &planner);
    print_figures(&lines, &ids, &seen);
    c.stop().await;
    assert_eq!(podman.leftovers(podman.label()), Vec::<String>::new());
    println!("the walk took {:?}", began.elapsed());
}
