//! Browser terminals over a real WebSocket with the fake agent as the program,
//! so they run on Windows too (tests/it/terminal_ws.rs drives `/bin/sh`): output
//! and input, two clients and a late joiner, a read-only preview, the exit code
//! through the pseudo console, and a resize the program sees.
//!
//! Nothing asserts on time: every wait polls for an event with a generous limit.

use crate::common::launcher as support;
use crate::common::scenario::{OpenTerminal, Scenario};
use crate::common::terminal as client;

use client::*;
use codex_governance::terminal::TerminalKind;
use serde_json::json;

use support::{fake_agent, wait_until};

/// A terminal of `kind` (a session's when not interactive) on the fake agent
/// in a pseudo-terminal: a department that reports nothing and then echoes
/// its input, or runs with `flags` instead.
async fn opened(kind: TerminalKind, flags: &[&str]) -> OpenTerminal {
    let default = [
        "--no-report",
        "--after-report",
        "wait",
        "--quiet-env",
        "--lines",
        "1",
    ];
    let flags = if flags.is_empty() {
        &default[..]
    } else {
        flags
    };
    let scenario = Scenario::terminal(&fake_agent().display().to_string(), flags)
        .env("CODEX_GOVERNANCE_SESSION_KIND", "department")
        .env("CODEX_GOVERNANCE_DEPARTMENT", "lingyubu")
        .title("agent");
    match kind {
        TerminalKind::Interactive => scenario.open().await,
        other => scenario.kind(other, "zhongshu-1").open().await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_reaches_the_agent_and_every_client_sees_its_output() {
    let t = opened(TerminalKind::AgentSession, &[]).await;
    two_clients_and_a_late_joiner(
        &t.info,
        "FAKE_AGENT_START",
        "typed in a",
        "ECHO: typed in a",
    )
    .await;
    t.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_shows_output_and_refuses_input() {
    let t = opened(TerminalKind::SessionPreview, &[]).await;
    let mut ws = connect(&t.info).await;
    let mut seen = Seen::default();
    read_output(&mut ws, &mut seen, "FAKE_AGENT_WAITING").await;
    assert!(seen.has_control("read_only"), "{:?}", seen.control);
    type_line(&mut ws, "not from a preview").await;
    read_until(&mut ws, &mut seen, "the refusal", |s| {
        s.has_control("error")
    })
    .await;
    // Its own terminal's input still reaches the agent, which never saw the preview's.
    t.pty.write(b"from the session\r").unwrap();
    read_output(&mut ws, &mut seen, "ECHO: from the session").await;
    assert!(
        !seen.text().contains("ECHO: not from a preview"),
        "{:?}",
        seen.text()
    );
    t.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exit_code_reaches_a_client_after_the_last_output() {
    let flags = ["--no-report", "--quiet-env", "--exit-code", "7"];
    let t = opened(TerminalKind::Interactive, &flags).await;
    let mut ws = connect(&t.info).await;
    let mut seen = Seen::default();
    read_until(&mut ws, &mut seen, "the exit frame", |s| {
        s.has_control("exit")
    })
    .await;
    let exit = seen.control.iter().find(|c| c["type"] == "exit").unwrap();
    assert_eq!(exit["code"], 7, "{exit}");
    assert!(
        seen.text().contains("FAKE_AGENT_EXIT 7"),
        "output first: {:?}",
        seen.text()
    );
    t.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    windows,
    ignore = "Wine 8's ResizePseudoConsole is not implemented (E_NOTIMPL); needs a real Windows"
)]
async fn a_resize_reaches_the_program() {
    let t = opened(TerminalKind::Interactive, &[]).await;
    let mut ws = connect(&t.info).await;
    let mut seen = Seen::default();
    read_output(&mut ws, &mut seen, "FAKE_AGENT_WAITING").await;
    send_json(&mut ws, json!({"type": "resize", "cols": 100, "rows": 30})).await;
    wait_until("the PTY takes the size", PATIENCE, || async {
        (t.pty.size() == (100, 30)).then_some(())
    })
    .await;
    type_line(&mut ws, "/size").await;
    read_output(&mut ws, &mut seen, "FAKE_AGENT_SIZE 100x30").await;
    t.close().await;
}
