//! Browser terminals over a real WebSocket: security checks, the protocol, several
//! clients, exit codes, closing, and a client that never reads.

use crate::common::scenario::{OpenTerminal, Scenario, TerminalScenario};
use crate::common::terminal as client;

use std::time::Duration;

use client::*;
use codex_governance::terminal::{TerminalInfo, TerminalKind};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message};

/// `/bin/sh` with `args` behind an interactive terminal titled `sh`; on
/// Windows its own `cmd` (under Wine a native `/bin/sh` started in a pseudo
/// console left the test process's handles unusable for the tests beside it).
fn shell(args: &[&str]) -> TerminalScenario {
    let program = if cfg!(windows) { "cmd" } else { "/bin/sh" };
    Scenario::terminal(program, args)
        .env("LANG", "C.UTF-8")
        .env("PS1", "$ ")
}

fn refused_status(result: Result<Ws, tungstenite::Error>) -> u16 {
    match result {
        Err(tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("expected a refusal, the upgrade succeeded"),
    }
}

#[tokio::test]
async fn refuses_bad_token_origin_and_host() {
    let t = shell(&[]).open().await;
    let (terms, info) = (&t.terms, &t.info);
    let port = info.port;
    let token = token_of(info);
    let host = format!("127.0.0.1:{port}");
    let own = format!("http://127.0.0.1:{port}");
    let wrong = "0".repeat(64);

    let status = refused_status(connect_with(port, Some(&wrong), &host, Some(&own)).await);
    assert_eq!(status, 401, "wrong token");
    let status = refused_status(connect_with(port, None, &host, Some(&own)).await);
    assert_eq!(status, 401, "no token");
    let status =
        refused_status(connect_with(port, Some(&token), &host, Some("http://evil.example")).await);
    assert_eq!(status, 403, "foreign origin");
    let status = refused_status(connect_with(port, Some(&token), &host, Some("null")).await);
    assert_eq!(status, 403, "opaque origin");
    let status = refused_status(connect_with(port, Some(&token), &host, None).await);
    assert_eq!(status, 403, "no origin");
    let status = refused_status(connect_with(port, Some(&token), "evil.example", Some(&own)).await);
    assert_eq!(status, 421, "wrong host");
    let status = refused_status(connect_with(port, Some(&token), "127.0.0.1:1", Some(&own)).await);
    assert_eq!(status, 421, "wrong port in host");

    // The terminal's own origins and the dashboard's (either loopback spelling) are fine.
    for origin in [own.as_str(), DASHBOARD, "http://localhost:6211"] {
        let ws = connect_with(port, Some(&token), &host, Some(origin)).await;
        assert!(ws.is_ok(), "origin {origin} should be allowed");
    }
    let localhost = format!("localhost:{port}");
    assert!(connect_with(port, Some(&token), &localhost, Some(&own))
        .await
        .is_ok());

    // A dashboard that learns its port later.
    terms.set_allowed_origins(vec!["http://127.0.0.1:7000".into()]);
    let status = refused_status(connect_with(port, Some(&token), &host, Some(DASHBOARD)).await);
    assert_eq!(
        status, 403,
        "old dashboard origin after set_allowed_origins"
    );
    assert!(
        connect_with(port, Some(&token), &host, Some("http://127.0.0.1:7000"))
            .await
            .is_ok()
    );

    t.close().await;
}

#[tokio::test]
async fn page_and_assets_are_guarded() {
    let t = shell(&[])
        .kind(TerminalKind::SessionPreview, "zhongshu-1")
        .title("Zhongshu <1>")
        .open()
        .await;
    let http = reqwest::Client::new();
    the_page_is_guarded(&http, &t.info).await;
    the_assets_are_served_and_nothing_else(&http, t.info.port).await;
    t.close().await;
}

/// The terminal's page: its headers, its escaped title, no inline script;
/// refused without the token, from a foreign origin or for a foreign host.
async fn the_page_is_guarded(http: &reqwest::Client, info: &TerminalInfo) {
    let port = info.port;
    let base = format!("http://127.0.0.1:{port}");
    let page = http.get(&info.url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers().clone();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h.get("access-control-allow-origin").is_none());
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        csp.contains(&format!("connect-src 'self' ws://127.0.0.1:{port}")),
        "{csp}"
    );
    assert!(
        csp.contains("frame-ancestors 'self'") && csp.contains(DASHBOARD),
        "{csp}"
    );
    let body = page.text().await.unwrap();
    assert!(
        body.contains("Zhongshu &#60;1&#62;"),
        "title escaped: {body}"
    );
    assert!(!body.contains("<1>"), "title escaped: {body}");
    assert!(body.contains("data-kind=\"session_preview\""));
    assert!(!body.contains("<script>"), "no inline script");

    let status = |r: reqwest::Response| r.status().as_u16();
    let r = http
        .get(format!("{base}/?token={}", "f".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let err: serde_json::Value = r.json().await.unwrap();
    assert_eq!(err["ok"], false);
    assert_eq!(
        status(http.get(format!("{base}/")).send().await.unwrap()),
        401
    );
    let foreign = http
        .get(&info.url)
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(status(foreign), 403);
    let rebound = http
        .get(&info.url)
        .header("Host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(status(rebound), 421);
}

/// Its script and xterm.js are served with their types; nothing else is,
/// the launcher's API least of all.
async fn the_assets_are_served_and_nothing_else(http: &reqwest::Client, port: u16) {
    let base = format!("http://127.0.0.1:{port}");
    let js = http
        .get(format!("{base}/static/terminal.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(js.headers()["x-content-type-options"], "nosniff");
    let xterm = http
        .get(format!("{base}/static/vendor/xterm/xterm.mjs"))
        .send()
        .await
        .unwrap();
    assert_eq!(xterm.status(), 200);
    let missing = http
        .get(format!("{base}/static/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let err: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(err, serde_json::json!({"ok": false, "error": "not found"}));
    let api = http.get(format!("{base}/api/status")).send().await.unwrap();
    assert_eq!(api.status().as_u16(), 404);
}

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "drives /bin/sh; tests/it/windows_terminal.rs runs the terminal with the fake agent on Windows"
)]
async fn input_reaches_an_interactive_shell_and_resize_reaches_the_pty() {
    let t = shell(&[]).open().await;
    let mut ws = connect(&t.info).await;
    let mut seen = Seen::default();

    type_line(&mut ws, "echo hi-$((40+2))").await;
    read_output(&mut ws, &mut seen, "hi-42").await;

    send_json(
        &mut ws,
        serde_json::json!({"type": "resize", "cols": 100, "rows": 30}),
    )
    .await;
    type_line(&mut ws, "stty size").await;
    read_output(&mut ws, &mut seen, "30 100").await;
    assert_eq!(t.pty.size(), (100, 30));

    // Malformed frames get an error frame and the connection keeps going.
    ws.send(Message::Text("not json".into())).await.unwrap();
    send_json(&mut ws, serde_json::json!({"type": "dance"})).await;
    read_until(&mut ws, &mut seen, "two error frames", |s| {
        s.control.iter().filter(|c| c["type"] == "error").count() >= 2
    })
    .await;
    type_line(&mut ws, "echo still-$((1+1))").await;
    read_output(&mut ws, &mut seen, "still-2").await;

    t.close().await;
}

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "drives /bin/sh; tests/it/windows_terminal.rs runs the terminal with the fake agent on Windows"
)]
async fn a_preview_refuses_input() {
    let t = shell(&[])
        .kind(TerminalKind::SessionPreview, "s-1")
        .title("preview")
        .open()
        .await;
    let pty = &t.pty;
    let mut ws = connect(&t.info).await;
    let mut seen = Seen::default();
    read_until(&mut ws, &mut seen, "read_only frame", |s| {
        s.has_control("read_only")
    })
    .await;

    type_line(&mut ws, "echo leak-$((1+1))").await;
    read_until(&mut ws, &mut seen, "error frame", |s| {
        s.has_control("error")
    })
    .await;
    let error = seen.control.iter().find(|c| c["type"] == "error").unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("read-only"),
        "{error}"
    );

    // PTY input is ordered: had the refused line got through, it would run first.
    pty.write(b"echo marker-$((2+3))\r").unwrap();
    read_output(&mut ws, &mut seen, "marker-5").await;
    assert!(
        !seen.text().contains("leak"),
        "the preview's input reached the PTY: {:?}",
        seen.text()
    );
    assert!(!String::from_utf8_lossy(&pty.tail(1 << 20)).contains("leak"));

    // A preview does not resize the session it watches.
    send_json(
        &mut ws,
        serde_json::json!({"type": "resize", "cols": 120, "rows": 40}),
    )
    .await;
    pty.write(b"stty size\r").unwrap();
    read_output(&mut ws, &mut seen, "24 80").await;
    assert_eq!(pty.size(), (80, 24));

    t.close().await;
}

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "drives /bin/sh; tests/it/windows_terminal.rs runs the terminal with the fake agent on Windows"
)]
async fn two_clients_see_output_and_a_late_joiner_gets_the_scrollback() {
    let t = shell(&["-c", "echo early-bird; exec /bin/sh"])
        .kind(TerminalKind::AgentSession, "zhongshu-1")
        .title("z")
        .open()
        .await;
    // Wait until the early output is in the scrollback, before anyone connects.
    tokio::time::timeout(PATIENCE, async {
        while !String::from_utf8_lossy(&t.pty.tail(4096)).contains("early-bird") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("early output");

    two_clients_and_a_late_joiner(&t.info, "early-bird", "echo both-$((1+2))", "both-3").await;
    assert_eq!(
        t.terms
            .for_session("zhongshu-1", TerminalKind::AgentSession)
            .unwrap()
            .id,
        t.info.id
    );
    assert!(t
        .terms
        .for_session("zhongshu-1", TerminalKind::SessionPreview)
        .is_none());

    t.close().await;
}

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "drives /bin/sh; tests/it/windows_terminal.rs runs the terminal with the fake agent on Windows"
)]
async fn the_exit_frame_carries_the_exit_code() {
    let OpenTerminal { terms, info, .. } = shell(&["-c", "read line; echo got-$line; exit 7"])
        .open()
        .await;
    assert_eq!(info.status, "running");
    let mut ws = connect(&info).await;
    let mut seen = Seen::default();
    type_line(&mut ws, "go").await;
    read_until(&mut ws, &mut seen, "exit frame", |s| s.has_control("exit")).await;
    let exit = seen.control.iter().find(|c| c["type"] == "exit").unwrap();
    assert_eq!(exit["code"], 7);
    assert!(
        seen.text().contains("got-go"),
        "output before the exit frame: {:?}",
        seen.text()
    );

    // The registry says so too, and a client joining now gets scrollback then the code.
    tokio::time::timeout(PATIENCE, async {
        while terms.get(&info.id).unwrap().status != "exited" {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("status exited");
    assert_eq!(terms.get(&info.id).unwrap().exit_code, Some(7));
    let mut late = connect(&info).await;
    let mut seen_late = Seen::default();
    read_until(&mut late, &mut seen_late, "exit frame", |s| {
        s.has_control("exit")
    })
    .await;
    assert!(seen_late.text().contains("got-go"));
    assert_eq!(seen_late.control.last().unwrap()["code"], 7);

    // Typing into an exited process is refused, not a crash.
    type_line(&mut late, "anyone").await;
    read_until(&mut late, &mut seen_late, "error frame", |s| {
        s.has_control("error")
    })
    .await;
    terms.close_all().await;
}

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "drives /bin/sh; tests/it/windows_terminal.rs runs the terminal with the fake agent on Windows"
)]
async fn close_frees_the_port_and_disconnects_clients() {
    let OpenTerminal { terms, pty, info } = shell(&[]).open().await;
    let other = terms
        .open(TerminalKind::Interactive, pty.clone(), None, "sh 2".into())
        .await
        .unwrap();
    assert_ne!(info.id, other.id);
    assert_ne!(token_of(&info), token_of(&other));
    assert_eq!(terms.list().len(), 2);

    let mut ws = connect(&info).await;
    let mut seen = Seen::default();
    type_line(&mut ws, "echo open-$((3*3))").await;
    read_output(&mut ws, &mut seen, "open-9").await;

    let closed = terms.close(&info.id).await.expect("closed");
    assert_eq!(closed.status, "closed");
    assert!(terms.get(&info.id).is_none());
    assert!(terms.close(&info.id).await.is_none(), "closing twice");
    assert_eq!(terms.list().len(), 1);

    let ended = tokio::time::timeout(PATIENCE, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "client not disconnected");
    // The port is free: a connection is refused, or (when another test's listener
    // took the port meanwhile) it no longer serves this terminal's page.
    if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", info.port)).await {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let request = format!(
            "GET /?token={} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            token_of(&info),
            info.port
        );
        let _ = stream.write_all(request.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            !answer.starts_with("HTTP/1.1 200"),
            "port {} still serves the closed terminal: {answer:.200}",
            info.port
        );
    }
    assert!(pty.exit_code().is_none(), "close must not kill the PTY");

    terms.close_all().await;
    assert!(terms.list().is_empty());
    assert!(TcpStream::connect(("127.0.0.1", other.port)).await.is_err());
    pty.terminate(Duration::from_secs(1)).await;
}

/// Memory actually used by this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    windows,
    ignore = "drives /bin/sh; tests/it/windows_terminal.rs runs the terminal with the fake agent on Windows"
)]
async fn a_client_that_never_reads_does_not_grow_memory() {
    const FLOOD: u64 = 96 * 1024 * 1024;
    let OpenTerminal { terms, pty, info } =
        shell(&["-c", "read go; exec yes flood-line-flood-line-flood-line"])
            .title("yes")
            .open()
            .await;
    let rss_before = rss_kib();

    // The sleeper connects and never reads; the reader counts what it gets.
    let mut sleeper = connect(&info).await;
    let reader = connect(&info).await;
    let start_total = pty.total_output_bytes();
    let reading = tokio::spawn(async move {
        let mut reader = reader;
        let mut got = 0u64;
        while let Some(Ok(m)) = reader.next().await {
            if let Message::Binary(b) = m {
                got += b.len() as u64;
            }
        }
        got
    });
    pty.write(b"go\r").unwrap();

    // Flood until far more than any socket buffer has gone through the PTY.
    tokio::time::timeout(Duration::from_secs(120), async {
        while pty.total_output_bytes() - start_total < FLOOD {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the PTY flooded");
    let produced = pty.total_output_bytes() - start_total;
    let rss_growth_mib = rss_kib().saturating_sub(rss_before) / 1024;

    // The server still answers: a fresh page load works during the flood.
    let page = reqwest::get(&info.url).await.unwrap();
    assert_eq!(page.status(), 200);

    // Now the sleeper wakes: it finds what was in flight, then a lagged notice.
    let mut seen = Seen::default();
    read_until(&mut sleeper, &mut seen, "lagged notice", |s| {
        s.has_control("lagged")
    })
    .await;
    let in_flight = seen.output.len() as u64;
    assert!(
        in_flight < 32 * 1024 * 1024,
        "the sleeper had {in_flight} bytes queued of {produced} produced"
    );
    assert!(
        rss_growth_mib < 256,
        "memory grew by {rss_growth_mib} MiB while {} MiB streamed",
        produced >> 20
    );

    pty.terminate(Duration::from_secs(2)).await;
    terms.close_all().await;
    let got = reading.await.unwrap();
    assert!(got > 0, "the reading client received nothing");
    eprintln!(
        "flood: produced {} MiB, reader got {} MiB, sleeper had {} KiB in flight, rss +{} MiB",
        produced >> 20,
        got >> 20,
        in_flight >> 10,
        rss_growth_mib
    );
}
