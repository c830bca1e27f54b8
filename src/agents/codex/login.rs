//! Whether Codex lacks the login it needs, told at start so the dashboard can
//! say so before any session fails: a short-lived `codex app-server` over
//! stdio is asked `account/read`, the same question a session's start asks.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

use super::native::Program;

/// How long the check waits for each answer; past it nothing is claimed.
const PATIENCE: Duration = Duration::from_secs(20);

/// The problem, in words with the fix, when Codex needs a login it has not.
/// None when it is logged in, needs none (a provider of its own), or cannot
/// be asked in time.
pub fn login_problem(program: &Program) -> Option<String> {
    let path = crate::platform::program_path(&program.path).ok()?;
    let mut child = Command::new(path)
        .arg("app-server")
        .envs(program.env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let needs = ask(&mut child);
    let _ = child.kill();
    let _ = child.wait();
    needs.then(|| super::CodexError::NotLoggedIn.to_string())
}

/// initialize, then account/read: whether it requires an OpenAI login and has no account.
fn ask(child: &mut std::process::Child) -> bool {
    let (Some(mut input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
        return false;
    };
    let (tx, rx) = mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if msg.get("id").is_some() && tx.send(msg).is_err() {
                break;
            }
        }
    });
    let answer = |id: i64| loop {
        match rx.recv_timeout(PATIENCE) {
            Ok(msg) if msg["id"] == id => return Some(msg),
            Ok(_) => continue,
            Err(_) => return None,
        }
    };
    let send = |input: &mut std::process::ChildStdin, msg: Value| writeln!(input, "{msg}").is_ok();
    let init = json!({"id": 1, "method": "initialize", "params": {
        "clientInfo": {"name": "codex-governance", "title": "codex-governance",
                       "version": env!("CARGO_PKG_VERSION")},
        "capabilities": {"experimentalApi": true}}});
    if !send(&mut input, init) || answer(1).is_none() {
        return false;
    }
    let asked = send(&mut input, json!({"method": "initialized"}))
        && send(
            &mut input,
            json!({"id": 2, "method": "account/read", "params": {}}),
        );
    if !asked {
        return false;
    }
    answer(2).is_some_and(|msg| {
        let account = &msg["result"];
        account["requiresOpenaiAuth"].as_bool().unwrap_or(false) && account["account"].is_null()
    })
}
