//! The edges of issue 70 in the real page, in headless Chromium at 1440×900
//! and then 390×844 (one launcher and one browser per test, resized):
//!
//! - Item 5, one scope story: lingyubu's globs hold `src/**`, and its plan
//!   assigns it `tests/stress.rs` too (the fake agent in a PTY changes both
//!   and reports both). Needs you lists the file once, as assigned by the
//!   planner outside its globs; the changes drawer's verdict, its findings and
//!   its scope line each say it once, as the planner's choice, and nothing in
//!   the drawer calls it in scope (it is not among the scope's assigned files).
//! - Item 7, the send-back turn as the agent got it: an ACP department (the
//!   fake ACP agent, which loads its session, so the send-back goes on in the
//!   same conversation) is sent back from the drawer with a note of several
//!   lines and two line comments (quoted lines with their `|` gutter and
//!   indentation, an em dash, `&&`, `<none>`, an apostrophe). The next
//!   attempt's "What it did" shows the launcher's turn as one monospace
//!   block whose text is what the agent's own log says it got, the gutters
//!   and indentation kept on their lines, no entity written out.
//!
//! Screenshots: `tests/artifacts/edges-*.png`.

use crate::common::browser::Browser;
use crate::common::launcher::*;
use crate::common::page;
use crate::common::scenario::{self, id_of, recorded, Scenario};

use serde_json::{json, Value};

/// The two sizes every check runs at, the desk first.
const SIZES: [(u32, u32); 2] = [(1440, 900), (390, 844)];

// ---------------------------------------------------------------------------
// Item 5: one scope story

/// The file the planner assigns lingyubu outside its globs.
const STRESS: &str = "tests/stress.rs";

/// The fake agent's directive: lingyubu changes src/lib.rs (in its globs)
/// and tests/stress.rs (assigned, outside them) and reports both.
const STRESS_WORK: &str =
    "--work-seconds 1 --write 'src/lib.rs=pub fn a() -> u8 {\\n    1\\n}\\n' \
     --write 'tests/stress.rs=// stress, now with a loop\\n' \
     --changed-file src/lib.rs --changed-file tests/stress.rs --summary 'Stressed the library'";

/// What the drawer says of a department's scope, read from the page.
const DRAWER_SCOPE: &str = "
    const drawer = document.querySelector('#drawer');
    const b = document.querySelector('#drawer-body');
    const v = b && b.querySelector('.decision-verdict');
    const s = b && b.querySelector('details.decision-scope');
    if (!drawer || drawer.hidden || !v || !s || !b.querySelector('.decision-findings')
        || !document.querySelector('#drawer-title').textContent.includes(arguments[0])) return null;
    return {
      verdict: v.textContent,
      scope: s.querySelector('summary').textContent,
      lists: [...s.querySelectorAll('.kv')].map((k) => [k.querySelector('.kv-key').textContent,
        [...k.querySelectorAll('li')].map((li) => li.textContent)]),
      findings: [...b.querySelectorAll('.decision-findings li')].map((li) => li.textContent),
      all: b.textContent,
    };";

/// What Needs you says of a department's waiting work, read from the page.
const NEEDS_YOU_ENTRY: &str = "
    const e = document.querySelector(`#needs-you-list .queue-entry[data-session=\"${arguments[0]}\"]`);
    if (!e || !e.getClientRects().length) return null;
    return {
      text: e.textContent,
      lists: [...e.querySelectorAll('.need-files')].map((f) => [f.querySelector('.need-files-label').textContent,
        [...f.querySelectorAll('li')].map((li) => li.textContent)]),
    };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_the_planner_assigned_outside_the_globs_is_one_story_in_the_drawer_and_needs_you() {
    crate::needs!(Chromium);
    let (_repo, server) = Scenario::new()
        .files(&[("src/lib.rs", "pub fn a() {}\n"), (STRESS, "// stress\n")])
        .committed()
        .serve()
        .await;
    let z = scenario::start_plan(
        &server.api,
        "stress the library",
        "stress it",
        vec![
            json!({"department": "lingyubu", "files": ["src/lib.rs", STRESS],
                    "task": format!("stress the library [[fake-agent: {STRESS_WORK}]]")}),
        ],
    )
    .await;
    let dept = id_of(&recorded(&server.api, &z, 1).await[0]);

    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact("edges-scope-story-failure.png");
    d.open_dashboard(&server.url, &server.token).await;
    for (w, h) in SIZES {
        let size = format!("{w}x{h}");
        d.resize(w, h).await;
        needs_you_says_it_once(&d, &dept, &size).await;
        d.shoot_centered(
            &format!("edges-scope-story-needs-you-{size}.png"),
            "#needs-you",
        )
        .await;
        d.click(&format!("#needs-you-list [data-open-changes=\"{dept}\"]"))
            .await;
        the_drawer_says_it_once(&d, &dept, &size).await;
        page::assert_no_sideways_scroll(&d, &format!("the drawer at {size}")).await;
        d.shoot(
            &format!("edges-scope-story-{size}.png"),
            Some("#drawer .decision-lead"),
        )
        .await;
        // The scope line and the findings, the scope's list open.
        d.js(
            "document.querySelector('#drawer details.decision-scope').open = true;",
            vec![],
        )
        .await;
        d.shoot(
            &format!("edges-scope-story-findings-{size}.png"),
            Some("#drawer details.decision-scope"),
        )
        .await;
        d.press_keys(crate::common::browser::ESCAPE).await;
        d.gone("the drawer closed", "#drawer:not([hidden])").await;
    }
    d.quit().await;
    server.stop().await;
}

/// Needs you lists the file once, as the planner's: not as out of the
/// department's own scope, never as in it.
async fn needs_you_says_it_once(d: &Browser, dept: &str, size: &str) {
    let entry = d
        .wait(
            &format!("{dept}'s line in Needs you ({size})"),
            NEEDS_YOU_ENTRY,
            vec![json!(dept)],
        )
        .await;
    let lists = labelled(&entry["lists"]);
    assert_eq!(
        lists,
        [(
            "assigned by the planner outside its globs (out of scope): ".to_string(),
            vec![STRESS.to_string()]
        )],
        "{size}: {entry}"
    );
    let text = entry["text"].as_str().unwrap();
    assert_eq!(text.matches(STRESS).count(), 1, "{size}: {text:?}");
    assert!(
        !text.to_lowercase().contains("in scope"),
        "{size}: {text:?}"
    );
}

/// The drawer's verdict, findings and scope line each name the file once, as
/// the planner's choice; nothing in it calls the file in scope.
async fn the_drawer_says_it_once(d: &Browser, dept: &str, size: &str) {
    let said = d
        .wait(
            &format!("{dept}'s changes in the drawer ({size})"),
            DRAWER_SCOPE,
            vec![json!(dept)],
        )
        .await;
    let verdict = said["verdict"].as_str().unwrap();
    assert_eq!(verdict.matches(STRESS).count(), 1, "{size}: {verdict:?}");
    assert!(
        verdict.starts_with(&format!(
            "The planner assigned {STRESS} outside lingyubu's globs: a plan narrows a scope \
             and never widens it, so it stays out of scope."
        )),
        "{size}: {verdict:?}"
    );
    assert!(
        !verdict.contains("outside lingyubu's scope"),
        "{size}: {verdict:?}"
    );
    let findings: Vec<&str> = said["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|f| f.contains(STRESS))
        .collect();
    assert_eq!(findings.len(), 1, "{size}: {said}");
    assert!(
        findings[0].starts_with(&format!(
            "the planner assigned {STRESS} outside the department's globs ("
        )) && findings[0].ends_with("so this change is out of scope"),
        "{size}: {findings:?}"
    );
    assert!(
        !findings[0].contains("changed 1 file outside"),
        "{size}: {findings:?}"
    );
    let scope = said["scope"].as_str().unwrap();
    assert!(
        scope.starts_with("scope: src/lib.rs + ")
            && scope.ends_with(&format!(" (not {STRESS}: assigned outside the globs)")),
        "{size}: {scope:?}"
    );
    assert_eq!(scope.matches(STRESS).count(), 1, "{size}: {scope:?}");
    let lists = labelled(&said["lists"]);
    assert_eq!(lists[0].0, "assigned files", "{size}: {lists:?}");
    assert_eq!(lists[0].1, ["src/lib.rs"], "{size}: {lists:?}");
    assert!(
        lists
            .iter()
            .all(|(_, items)| !items.iter().any(|p| p == STRESS)),
        "{size}: {lists:?}"
    );
    let all = said["all"].as_str().unwrap().to_lowercase();
    assert!(!all.contains("in scope"), "{size}: {all:?}");
}

/// `[[label, [items…]], …]` from the page, as pairs.
fn labelled(lists: &Value) -> Vec<(String, Vec<String>)> {
    serde_json::from_value(lists.clone()).unwrap_or_else(|e| panic!("{e}: {lists}"))
}

// ---------------------------------------------------------------------------
// Item 7: the send-back turn as the agent got it

/// src/a.rs as the base has it: indented lines, an em dash, `|`, `&&`, `<…>`.
const BASE_A: &str = "fn main() {\n    // keep the gutter \u{2014} it reads a | b\n    \
                      let s = \"a | b\";\n    if s.len() > 3 && s != \"<none>\" {\n        \
                      println!(\"{s}\");\n    }\n}\n";

/// The note typed into Send back…, several lines (WebDriver types `\n` as
/// Enter); its last line has the next attempt report at once.
const NOTE: &str = "Put it back as it was \u{2014} keep the gutter:\n  1. the pipe stays\n  \
                    2. so does the && check\n\
                    [[acp: tool governance_report_result {\"summary\": \"put it back\"}]]";

/// The launcher's turn that sent it back, as one block, read from the
/// department's "What it did" in the drawer.
const SENT_BACK_TURN: &str = "
    const turns = [...document.querySelectorAll('#drawer .decision-what-it-did .conv-notice')]
      .filter((e) => e.textContent.includes('sent your work back'));
    const t = turns[0];
    if (!t) return null;
    const cs = getComputedStyle(t);
    const entry = t.closest('.conv-entry');
    const raw = entry && entry.querySelector('details.conv-raw .conv-text');
    return {
      blocks: turns.length,
      tag: t.tagName,
      who: entry ? entry.querySelector('.conv-who').textContent : '',
      text: t.textContent,
      shown: t.innerText,
      font: cs.fontFamily,
      whiteSpace: cs.whiteSpace,
      lines: t.textContent.split('\\n').length,
      rows: (t.scrollHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom))
        / parseFloat(cs.lineHeight),
      raw: raw ? raw.textContent : '',
    };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_send_back_turn_shows_as_the_agent_got_it() {
    crate::needs!(Chromium);
    let repo = acp_repo();
    // The launcher binary: an ACP agent's tools go through its `mcp-serve`.
    let mut launcher = spawn_launcher(&repo.path, &[]);
    let api = launcher.api.clone();
    let first = tidied_by_an_acp_department(&api).await;
    comment(
        &api,
        &first,
        3,
        "old",
        "Keep this line \u{2014} \"a | b\" is the format.",
    )
    .await;
    comment(
        &api,
        &first,
        1,
        "new",
        "Not this: say what changed & why\n  (two lines, the second indented)",
    )
    .await;

    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact("edges-send-back-turn-failure.png");
    d.open_dashboard(&launcher.url, &launcher.token).await;
    d.click(&format!("#needs-you-list [data-open-changes=\"{first}\"]"))
        .await;
    d.wait_count(
        "the two comments on the diff",
        "#drawer tr.comment-draft",
        2,
    )
    .await;
    d.click("#drawer .decide-send-back").await;
    d.present("the note", "#drawer textarea.send-back-note")
        .await;
    d.type_into("#drawer textarea.send-back-note", NOTE).await;
    let typed = d.value_of("#drawer textarea.send-back-note").await;
    assert_eq!(typed, NOTE, "the note as typed");
    d.click("#drawer [data-confirm=\"send_back\"]").await;
    let sent = wait_until("the review sent back", PATIENCE, || async {
        api.audit_events("review_sent_back").await.pop()
    })
    .await;
    assert_eq!(sent["comments"], 2, "{sent}");
    let next = sent["successor"].as_str().unwrap().to_string();
    // It reports at once (the note's last line): its drawer is still then.
    api.wait_session(&next, "its work recorded", |s| {
        s["workspace"]["state"] == "pending" && s["status"] == "exited"
    })
    .await;
    d.click(&format!(
        "#drawer .decision-actions [data-open-changes=\"{next}\"]"
    ))
    .await;
    d.wait_text("the next attempt's drawer", "#drawer-title", &next)
        .await;
    d.click("#drawer .decision-what-it-did > summary").await;
    // What the agent got: its own log of the prompt.
    let log = wait_log(&repo, &next, "sent your work back").await;
    let got = prompt_with(&log, "sent your work back");
    let (_, turn) = got
        .split_once("[codex-governance] ")
        .unwrap_or_else(|| panic!("no launcher's mark in {got:?}"));
    // Its answer too, so the conversation is still for the screenshots.
    d.wait(
        "the agent's answer to the turn",
        "const c = document.querySelector('#drawer .decision-what-it-did .conversation'); \
         return c && [...c.querySelectorAll('.conv-agent')].some((e) => e.textContent.includes('heard:'));",
        vec![],
    )
    .await;
    d.gone("the toast of the send-back", "#toasts .toast").await;
    for (w, h) in SIZES {
        let size = format!("{w}x{h}");
        d.resize(w, h).await;
        the_turn_is_one_block_as_sent(&d, turn, &size).await;
        page::assert_no_sideways_scroll(&d, &format!("the drawer at {size}")).await;
        d.shoot(
            &format!("edges-send-back-turn-{size}.png"),
            Some("#drawer .decision-what-it-did .conv-entry:has(.conv-turn)"),
        )
        .await;
    }
    d.quit().await;
    launcher.terminate();
}

/// A committed repository with src/a.rs whose agents are the fake ACP agent
/// (offering `session/load`), let run unconfined.
fn acp_repo() -> TestRepo {
    let argv = [
        fake_agent().display().to_string(),
        "--acp".into(),
        "--load-session".into(),
    ];
    let yaml = format!(
        "launcher:\n  backend: acp\n  acp_agent: other\n  acp_command: {}\n  \
         acp_unsandboxed: true\n  max_departments: 2\n  models: [m1]\n  \
         require_plan_confirmation: false\n",
        serde_json::to_string(&argv).unwrap()
    );
    Scenario::new()
        .config(&yaml)
        .files(&[("src/a.rs", BASE_A)])
        .committed()
        .repo()
}

/// A plan whose lingyubu (ACP) rewrites src/a.rs whole and reports; returns
/// that department once its work is recorded.
async fn tidied_by_an_acp_department(api: &Api) -> String {
    let task = "Tidy src/a.rs [[acp: write src/a.rs]] \
                [[acp: tool governance_report_result {\"summary\": \"tidied src/a.rs\", \"changed_files\": [\"src/a.rs\"]}]]";
    let z = scenario::start_plan(
        api,
        "Plan a tidy-up",
        "tidy",
        vec![json!({"department": "lingyubu", "files": ["src/a.rs"], "task": task})],
    )
    .await;
    id_of(&recorded(api, &z, 1).await[0])
}

/// A draft line comment on src/a.rs.
async fn comment(api: &Api, id: &str, line: u32, side: &str, body: &str) {
    api.post_ok(
        "/api/review_comments",
        &json!({"session_id": id, "path": "src/a.rs", "line": line, "side": side, "body": body}),
    )
    .await;
}

/// The prompt the fake ACP agent logged that holds `needle`.
fn prompt_with(log: &str, needle: &str) -> String {
    log.lines()
        .filter_map(|l| l.split_once("FAKE_ACP_PROMPT ").map(|(_, p)| p))
        .filter_map(|p| serde_json::from_str::<String>(p.trim()).ok())
        .find(|p| p.contains(needle))
        .unwrap_or_else(|| panic!("no prompt with {needle:?} in {log}"))
}

/// The launcher's turn in "What it did": one monospace block, its text the
/// turn as the agent got it (mark aside), shown with its lines, gutters and
/// indentation, no entity written out.
async fn the_turn_is_one_block_as_sent(d: &Browser, turn: &str, size: &str) {
    let t = d
        .wait(
            &format!("the send-back turn in What it did ({size})"),
            SENT_BACK_TURN,
            vec![],
        )
        .await;
    assert_eq!(t["blocks"], 1, "one block ({size}): {t}");
    assert_eq!(t["who"], "the launcher told it", "{size}: {t}");
    assert_eq!(t["tag"], "PRE", "{size}: {t}");
    assert_eq!(t["text"], turn, "the turn as the agent got it ({size})");
    assert_eq!(
        t["raw"],
        format!("[codex-governance] {turn}"),
        "the words as sent, one click away ({size})"
    );
    let font = t["font"].as_str().unwrap();
    assert!(font.contains("monospace"), "{size}: {font}");
    // Each line on one row, a long one scrolling in its block: wrapped,
    // its rest would start at the left edge like another gutter line.
    let white = t["whiteSpace"].as_str().unwrap();
    assert_eq!(white, "pre", "{size}: white-space {white}");
    let (lines, rows) = (t["lines"].as_f64().unwrap(), t["rows"].as_f64().unwrap());
    assert!(rows < lines + 0.5, "{size}: {rows} rows for {lines} lines");
    // As shown (innerText follows the CSS): each quoted line whole, its
    // number, gutter and indentation on it; the note's lines as typed.
    let shown = t["shown"].as_str().unwrap();
    let lines: Vec<&str> = shown.lines().collect();
    for whole in [
        "The user sent your work back: Put it back as it was \u{2014} keep the gutter:",
        "  1. the pipe stays",
        "  2. so does the && check",
        "1. src/a.rs:3",
        "        2 |     // keep the gutter \u{2014} it reads a | b",
        "   >    3 |     let s = \"a | b\";",
        "        4 |     if s.len() > 3 && s != \"<none>\" {",
        "        5 |         println!(\"{s}\");",
        "   | Keep this line \u{2014} \"a | b\" is the format.",
        "2. src/a.rs:1",
        "   >    1 | written by fake-acp's process",
        "   | Not this: say what changed & why",
        "   |   (two lines, the second indented)",
    ] {
        assert!(
            lines.contains(&whole),
            "{size}: no line {whole:?} in the turn as shown:\n{shown}"
        );
    }
    // No line number, gutter or mark alone on a line.
    let alone: Vec<&&str> = lines
        .iter()
        .filter(|l| {
            let l = l.trim();
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_digit() || c.is_whitespace() || c == '>' || c == '|')
        })
        .collect();
    assert!(alone.is_empty(), "{size}: {alone:?} in\n{shown}");
    let text = t["text"].as_str().unwrap();
    for entity in ["&mdash;", "&amp;", "&lt;", "&gt;", "&quot;", "&#"] {
        assert!(!text.contains(entity), "{size}: {entity} in\n{text}");
    }
}
