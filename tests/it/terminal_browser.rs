//! The terminal page in headless Chromium: xterm.js renders the shell, typed keys
//! reach it, the page's size reaches the PTY, previews say they are read-only,
//! and the exit code is shown. Needs chromium and chromedriver (tools/test.sh).

use crate::common::browser;
use crate::common::scenario::{OpenTerminal, Scenario};

use std::sync::Arc;
use std::time::Duration;

use browser::{save_artifact, Browser, BUFFER_TEXT, ENTER};
use codex_governance::pty::Pty;
use codex_governance::terminal::TerminalKind;
use serde_json::json;

const PATIENCE: Duration = Duration::from_secs(30);
/// The terminal on the page: a user clicks it, then types.
const TERMINAL: &str = "#terminal";

/// `program` with `args` behind a terminal of `kind` (a session's when it
/// is not interactive) titled `title`, and its page in headless Chromium.
async fn on_the_page(
    program: &str,
    args: &[&str],
    kind: TerminalKind,
    title: &str,
) -> (OpenTerminal, Browser) {
    let scenario = Scenario::terminal(program, args)
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .env("PS1", "demo$ ")
        .title(title);
    let scenario = match kind {
        TerminalKind::Interactive => scenario,
        other => scenario.kind(other, "zhongshu-1"),
    };
    let t = scenario.open().await;
    let browser = Browser::start(1100, 700).await;
    browser.goto(&t.info.url).await;
    (t, browser)
}

/// Clicks the terminal to focus it, then presses the keys of `text`.
async fn type_in_terminal(browser: &Browser, text: &str) {
    browser.click(TERMINAL).await;
    browser.press_keys(text).await;
}

fn buffer_contains(needle: &str) -> String {
    format!(
        "const text = () => {{ {BUFFER_TEXT} }}; return text().includes({});",
        json!(needle)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_in_the_browser() {
    crate::needs!(Chromium);
    let (t, browser) = on_the_page(
        "/bin/bash",
        &["--norc", "--noprofile"],
        TerminalKind::Interactive,
        "bash",
    )
    .await;
    browser
        .wait_js("the prompt", &buffer_contains("demo$"), vec![], PATIENCE)
        .await;
    let title = browser.js("return document.title", vec![]).await;
    assert!(title.as_str().unwrap().contains("bash"), "{title}");
    let page_size = the_pty_takes_the_pages_size(&browser, &t.pty).await;

    type_in_terminal(&browser, &format!("echo 中文-ok-$((6*7)){ENTER}")).await;
    browser
        .wait_js(
            "the command's output",
            &buffer_contains("中文-ok-42"),
            vec![],
            PATIENCE,
        )
        .await;
    type_in_terminal(&browser, &format!("stty size{ENTER}")).await;
    let stty = format!("{} {}", page_size.1, page_size.0);
    browser
        .wait_js("stty size", &buffer_contains(&stty), vec![], PATIENCE)
        .await;
    save_artifact(
        "terminal.png",
        &browser.screenshot_png().await.expect("a screenshot"),
    );

    // Exit: the page shows the code.
    type_in_terminal(&browser, &format!("exit 3{ENTER}")).await;
    let banner = browser
        .wait_js(
            "the exit banner",
            "const s = document.getElementById('status'); return !s.hidden && s.textContent;",
            vec![],
            PATIENCE,
        )
        .await;
    assert!(
        banner
            .as_str()
            .unwrap()
            .contains("process exited with code 3"),
        "{banner}"
    );
    save_artifact(
        "terminal-exited.png",
        &browser.screenshot_png().await.expect("a screenshot"),
    );

    browser.quit().await;
    t.terms.close_all().await;
}

/// The page fitted the terminal to the window and told the PTY: its size
/// (columns, rows), not the PTY's first 80×24.
async fn the_pty_takes_the_pages_size(browser: &Browser, pty: &Arc<Pty>) -> (u16, u16) {
    let size = browser
        .wait_js(
            "the PTY to take the page's size",
            "const t = window.__term; return t && [t.cols, t.rows];",
            vec![],
            PATIENCE,
        )
        .await;
    let page_size = (
        size[0].as_u64().unwrap() as u16,
        size[1].as_u64().unwrap() as u16,
    );
    assert_ne!(
        page_size,
        (80, 24),
        "the page did not fit itself to the window"
    );
    tokio::time::timeout(PATIENCE, async {
        while pty.size() != page_size {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("PTY size {:?} never became {page_size:?}", pty.size()));
    page_size
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_says_it_is_read_only() {
    crate::needs!(Chromium);
    let (t, browser) = on_the_page(
        "/bin/sh",
        &["-c", "echo preview-content; exec cat"],
        TerminalKind::SessionPreview,
        "Zhongshu 中书省",
    )
    .await;

    browser
        .wait_js(
            "the session's output",
            &buffer_contains("preview-content"),
            vec![],
            PATIENCE,
        )
        .await;
    let banner = browser
        .wait_js(
            "the read-only banner",
            "const b = document.getElementById('read-only'); \
             return !b.hidden && b.offsetHeight > 0 && b.textContent;",
            vec![],
            PATIENCE,
        )
        .await;
    assert!(
        banner.as_str().unwrap().contains("read-only preview"),
        "{banner}"
    );

    // Keys typed into a preview go nowhere: `cat` would echo them back.
    type_in_terminal(&browser, &format!("typed-into-preview{ENTER}")).await;
    t.pty.write(b"from-the-session\n").unwrap();
    browser
        .wait_js(
            "the session's own input",
            &buffer_contains("from-the-session"),
            vec![],
            PATIENCE,
        )
        .await;
    let text = browser.js(BUFFER_TEXT, vec![]).await;
    assert!(
        !text.as_str().unwrap().contains("typed-into-preview"),
        "{text}"
    );
    save_artifact(
        "terminal-preview.png",
        &browser.screenshot_png().await.expect("a screenshot"),
    );

    browser.quit().await;
    t.close().await;
}

/// A full-screen program (like vim or the Codex TUI) switches to the alternate
/// screen and draws at cursor positions; emoji and CJK take two cells each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_screen_programs_and_wide_characters_render() {
    crate::needs!(Chromium);
    // Waits for a key, then draws: the page has fitted the PTY by then.
    let script = r#"read -r _; printf '\033[?1049h\033[2J\033[5;10HTUI-OK 🦀 中文|\033[12;3Hbottom'; read -r _; printf '\033[?1049l'; echo back-on-main"#;
    let (t, browser) = on_the_page(
        "/bin/bash",
        &["--norc", "--noprofile", "-c", script],
        TerminalKind::Interactive,
        "tui",
    )
    .await;
    browser
        .wait_js("the terminal", "return !!window.__term", vec![], PATIENCE)
        .await;
    type_in_terminal(&browser, ENTER).await;
    let drawn = browser
        .wait_js(
            "the full-screen drawing",
            r#"const b = window.__term.buffer.active;
               if (b.type !== "alternate") return null;
               const row = b.getLine(4).translateToString(true);
               return row.includes("TUI-OK") && [row, b.getLine(11).translateToString(true)];"#,
            vec![],
            PATIENCE,
        )
        .await;
    let row = drawn[0].as_str().unwrap();
    // Column 10 (1-based) is index 9: nine blanks before the text.
    assert!(row.starts_with("         TUI-OK 🦀 中文|"), "{row:?}");
    assert!(
        drawn[1].as_str().unwrap().starts_with("  bottom"),
        "{drawn}"
    );
    // The crab and each CJK character take two cells: the bar lands at index 9+7+2+1+4.
    let bar = browser
        .js(
            r#"const l = window.__term.buffer.active.getLine(4);
               for (let i = 0; i < l.length; i++) { if (l.getCell(i).getChars() === "|") return i; }
               return -1;"#,
            vec![],
        )
        .await;
    assert_eq!(bar, json!(9 + 7 + 2 + 1 + 4), "cell index of the bar");
    save_artifact(
        "terminal-fullscreen.png",
        &browser.screenshot_png().await.expect("a screenshot"),
    );
    // Leaving the alternate screen restores the normal buffer.
    type_in_terminal(&browser, ENTER).await;
    browser
        .wait_js(
            "the main screen again",
            &format!(
                "const text = () => {{ {BUFFER_TEXT} }}; \
                 return window.__term.buffer.active.type === 'normal' && text().includes('back-on-main');"
            ),
            vec![],
            PATIENCE,
        )
        .await;
    browser.quit().await;
    t.terms.close_all().await;
}
