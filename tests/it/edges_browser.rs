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
//! - Item 6, Apply and Merge right after a report: a department (the fake
//!   agent, which lingers after its report and ignores the launcher's polite
//!   stop, so its session ends some 6 s later) is opened in the changes
//!   drawer while it finishes its turn. The drawer says "… reported and is
//!   finishing its turn: Apply and Merge are ready in a moment", shows Apply
//!   and Merge held (never "wait for its report" or "still working"); once
//!   the session has ended they are usable without a click, and Merge (at
//!   1440) or Apply (at 390) brings the file in. One department per size.
//! - Item 9, trust: an ACP planner done with its plan is suspended by a
//!   restart under the user's own edit of a file they trusted (it adds
//!   `agent_env`). The trust banner says "Your edit of … adds settings that
//!   run programs or send data", lists only the new setting and what was
//!   trusted before, never the stranger's wording; Needs you holds no item of
//!   the suspension, only what any finished planner shows. Apart: the live
//!   configuration banner names a misspelt key with its did-you-mean, in the
//!   words the start uses for the file as it is now.
//! - Item 10, Decline in the page: a plan waiting for confirmation shows
//!   Decline in Needs you, in full view at both sizes; pressed, the item
//!   goes, the plan says it was declined, nothing starts, the launcher
//!   audits it as the dashboard's and tells the planner (who registers a
//!   revision for the next size).
//!
//! Screenshots: `tests/artifacts/edges-*.png`.

use crate::common::browser::Browser;
use crate::common::launcher::*;
use crate::common::mailbox::start_department;
use crate::common::page;
use crate::common::scenario::{self, id_of, recorded, Scenario};

use serde_json::{json, Value};

/// The two sizes every check runs at, the desk first.
const SIZES: [(u32, u32); 2] = [(1440, 900), (390, 844)];

/// The dashboard of the launcher at `url` in headless Chromium at the desk's
/// size, its event stream live; a failed wait leaves `failure` (a .png name).
async fn desk_dashboard(url: &str, token: &str, failure: &str) -> Browser {
    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact(failure);
    d.open_dashboard(url, token).await;
    d
}

/// Closes the changes drawer as a user does (Escape) and waits until it is.
async fn close_the_drawer(d: &Browser) {
    d.press_keys(crate::common::browser::ESCAPE).await;
    d.gone("the drawer closed", "#drawer:not([hidden])").await;
}

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

    let d = desk_dashboard(&server.url, &server.token, "edges-scope-story-failure.png").await;
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
        close_the_drawer(&d).await;
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
    two_comments_on_the_diff(&api, &first).await;

    let d = desk_dashboard(
        &launcher.url,
        &launcher.token,
        "edges-send-back-turn-failure.png",
    )
    .await;
    let next = sent_back_with_the_note(&d, &api, &first).await;
    // It reports at once (the note's last line): its drawer is still then.
    open_what_the_next_attempt_did(&d, &api, &next).await;
    // What the agent got: its own log of the prompt.
    let turn = the_turn_the_agent_got(&repo, &next).await;
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
        the_turn_is_one_block_as_sent(&d, &turn, &size).await;
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

/// Two draft comments on `id`'s diff of src/a.rs: one on the base's line 3
/// (quoting a `|` and an em dash), one of two lines, the second indented, on
/// the new line 1.
async fn two_comments_on_the_diff(api: &Api, id: &str) {
    comment(
        api,
        id,
        3,
        "old",
        "Keep this line \u{2014} \"a | b\" is the format.",
    )
    .await;
    comment(
        api,
        id,
        1,
        "new",
        "Not this: say what changed & why\n  (two lines, the second indented)",
    )
    .await;
}

/// Opens `first`'s changes from Needs you and sends them back with [`NOTE`]
/// and both comments; returns the next attempt, once the launcher audits it.
async fn sent_back_with_the_note(d: &Browser, api: &Api, first: &str) -> String {
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
    sent["successor"].as_str().unwrap().to_string()
}

/// Once `next` has its work recorded, opens its drawer from the one shown
/// and unfolds its "What it did".
async fn open_what_the_next_attempt_did(d: &Browser, api: &Api, next: &str) {
    api.wait_session(next, "its work recorded", |s| {
        s["workspace"]["state"] == "pending" && s["status"] == "exited"
    })
    .await;
    d.click(&format!(
        "#drawer .decision-actions [data-open-changes=\"{next}\"]"
    ))
    .await;
    d.wait_text("the next attempt's drawer", "#drawer-title", next)
        .await;
    d.click("#drawer .decision-what-it-did > summary").await;
}

/// The send-back turn as `next`'s agent logged it, after the launcher's mark.
async fn the_turn_the_agent_got(repo: &TestRepo, next: &str) -> String {
    let log = wait_log(repo, next, "sent your work back").await;
    let got = prompt_with(&log, "sent your work back");
    let (_, turn) = got
        .split_once("[codex-governance] ")
        .unwrap_or_else(|| panic!("no launcher's mark in {got:?}"));
    turn.to_string()
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

// ---------------------------------------------------------------------------
// Item 6: Apply and Merge right after a report wait for the end of the turn

/// The fake agent's directive: writes `file` and reports it, then lingers
/// (`--after-report wait`) and ignores the launcher's polite stop after the
/// report (`--ignore-sigterm`): its session ends at the stop's SIGKILL, some
/// 6 s after the report (AUTO_CLOSE_GRACE + pty::KILL_GRACE).
fn reports_then_lingers(file: &str) -> String {
    format!(
        "change {file} [[fake-agent: --write '{file}=pub fn changed() {{}}\\n' \
         --changed-file {file} --summary 'changed {file}' --after-report wait --ignore-sigterm]]"
    )
}

/// The decision at the foot of the changes drawer of `arguments[0]`, once it
/// is drawn (null while the drawer loads or shows another).
const DRAWER_DECISION: &str = "
    const drawer = document.querySelector('#drawer');
    const b = document.querySelector('#drawer-body');
    const actions = b && b.querySelector('.decision-actions');
    if (!drawer || drawer.hidden || !actions
        || !document.querySelector('#drawer-title').textContent.includes(arguments[0])) return null;
    const choice = (what) => {
      const e = actions.querySelector(`[data-decide=\"${what}\"]`);
      return e && {shown: e.getClientRects().length > 0,
        held: e.disabled || e.getAttribute('aria-disabled') === 'true', title: e.title};
    };
    const blocked = actions.querySelector('.decision-blocked');
    return {
      apply: choice('apply'),
      merge: choice('merge'),
      blocked: blocked ? blocked.textContent : null,
      verdict: (b.querySelector('.decision-verdict') || {}).textContent || '',
      actions: actions.textContent,
      all: b.textContent,
    };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_and_merge_right_after_a_report_wait_for_the_end_of_the_turn() {
    crate::needs!(Chromium);
    let (repo, server) = Scenario::new()
        .files(&[("src/a.rs", "// a\n"), ("src/b.rs", "// b\n")])
        .committed()
        .serve()
        .await;
    let api = &server.api;
    let z = api.start_zhongshu("two changes, one at a time").await;
    let d = desk_dashboard(
        &server.url,
        &server.token,
        "edges-finishing-turn-failure.png",
    )
    .await;
    // One department per size, started when the page is ready for it: its
    // report leaves some 6 s before its session ends.
    for ((w, h), (file, choice)) in SIZES
        .into_iter()
        .zip([("src/a.rs", "merge"), ("src/b.rs", "apply")])
    {
        let size = format!("{w}x{h}");
        d.resize(w, h).await;
        let id = reported_and_lingering(api, &z, file).await;
        show_panel(&d, "sessions-panel").await;
        d.click(&format!(".session-row[data-id=\"{id}\"] .open-changes"))
            .await;
        the_drawer_waits_for_the_end_of_its_turn(&d, api, &id, &size).await;
        page::assert_no_sideways_scroll(&d, &format!("the drawer at {size}")).await;
        d.shoot(
            &format!("edges-finishing-turn-{size}.png"),
            Some("#drawer .decision-actions"),
        )
        .await;
        // The launcher ends the session; the drawer shows the choices anew.
        the_choices_free_once_the_session_ends(&d, api, &id, &size).await;
        decided_from_the_drawer(&d, api, &repo, &id, file, choice, &size).await;
        close_the_drawer(&d).await;
    }
    d.quit().await;
    server.stop().await;
}

/// Starts a lingyubu of `z` that changes `file` and lingers after its report
/// ([`reports_then_lingers`]); returns it once reported, its session running.
async fn reported_and_lingering(api: &Api, z: &str, file: &str) -> String {
    let id = start_department(api, z, "lingyubu", &reports_then_lingers(file)).await;
    api.wait_session(&id, "reported, its session still running", |s| {
        s["workspace"]["state"] == "pending" && s["status"] == "running"
    })
    .await;
    id
}

/// Once the launcher has ended `id`'s session (its work still pending), the
/// drawer shows Apply and Merge usable without a click, the wait unsaid.
async fn the_choices_free_once_the_session_ends(d: &Browser, api: &Api, id: &str, size: &str) {
    let ended = api
        .wait_session(id, "its session ended", |s| s["status"] == "exited")
        .await;
    assert_eq!(ended["workspace"]["state"], "pending", "{size}: {ended}");
    let ready = d
        .wait(
            &format!("{id}'s Apply and Merge ready by themselves ({size})"),
            &format!(
                "const v = (() => {{ {DRAWER_DECISION} }})(); \
                 return v && v.apply && v.merge && !v.apply.held && !v.merge.held && !v.blocked ? v : null;"
            ),
            vec![json!(id)],
        )
        .await;
    let all = ready["all"].as_str().unwrap();
    assert!(!all.contains("finishing its turn"), "{size}: {all:?}");
    assert!(
        ready["apply"]["shown"] == true && ready["merge"]["shown"] == true,
        "{size}: {ready}"
    );
}

/// Presses `choice` (merge or apply) in `id`'s drawer: the launcher settles
/// the work so, `file` in the repository is the department's, and the drawer
/// says it is integrated.
async fn decided_from_the_drawer(
    d: &Browser,
    api: &Api,
    repo: &TestRepo,
    id: &str,
    file: &str,
    choice: &str,
    size: &str,
) {
    d.click(&format!("#drawer [data-decide=\"{choice}\"]"))
        .await;
    let settled = if choice == "merge" {
        "merged"
    } else {
        "applied"
    };
    api.wait_session(id, &format!("{settled} from the drawer"), |s| {
        s["workspace"]["state"] == settled
    })
    .await;
    let text = std::fs::read_to_string(repo.path.join(file)).unwrap();
    assert_eq!(
        text, "pub fn changed() {}\n",
        "{size}: {file} after {choice}"
    );
    d.wait_text(
        &format!("the drawer saying it is {settled} ({size})"),
        "#drawer .decision-actions",
        &format!("integrated ({settled})"),
    )
    .await;
}

/// Right after the report, while the session ends its turn: the drawer says
/// so and holds Apply and Merge (never asking for the report that came).
async fn the_drawer_waits_for_the_end_of_its_turn(d: &Browser, api: &Api, id: &str, size: &str) {
    let said = d
        .wait(
            &format!("{id}'s decision in the drawer ({size})"),
            DRAWER_DECISION,
            vec![json!(id)],
        )
        .await;
    // Read within the ~6 s the session lingers; said on failure, as a page
    // drawn after the end shows the choices free.
    let session = &api.session(id).await["status"];
    let finishing =
        format!("{id} reported and is finishing its turn: Apply and Merge are ready in a moment");
    for what in ["apply", "merge"] {
        let c = &said[what];
        assert!(
            c["shown"] == true && c["held"] == true,
            "{size}: {what} shown and held (the session now: {session}): {said}"
        );
        assert_eq!(c["title"], finishing.as_str(), "{size}: {said}");
    }
    let blocked = said["blocked"].as_str().unwrap_or_default();
    assert!(blocked.starts_with(&finishing), "{size}: {said}");
    let all = said["all"].as_str().unwrap();
    for never in [
        "wait for its report",
        "has not reported",
        "when it reports",
        "still running",
    ] {
        assert!(!all.contains(never), "{size}: {never:?} in {all:?}");
    }
}

/// Shows `panel` where views are tabs (a narrow window); wide, all show.
async fn show_panel(d: &Browser, panel: &str) {
    let tab = format!(".view-tab[data-panel=\"{panel}\"]");
    if d.visible(&tab).await {
        d.click(&tab).await;
    }
}

// ---------------------------------------------------------------------------
// Item 10: a plan waiting for confirmation has Decline in Needs you

/// The plan item of `arguments[0]` in Needs you at revision `arguments[1]`,
/// once it shows that revision's Decline (null before).
const PLAN_ITEM: &str = "
    const item = document.querySelector(
      `#needs-you-list .need[data-kind=\"plan\"][data-session=\"${arguments[0]}\"][data-revision=\"${arguments[1]}\"]`);
    const decline = item && item.querySelector('button[data-action=\"decline-plan\"]');
    if (!decline) return null;
    const r = decline.getBoundingClientRect();
    return {
      text: item.querySelector('.need-text').textContent,
      buttons: [...item.querySelectorAll('.need-actions button')].map((b) => b.textContent),
      decline: {shown: decline.getClientRects().length > 0, disabled: decline.disabled,
        left: r.left, right: r.right, width: r.width, height: r.height},
      window: window.innerWidth,
    };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_waiting_for_confirmation_is_declined_from_needs_you() {
    crate::needs!(Chromium);
    let (repo, server) = Scenario::new().serve().await;
    let api = &server.api;
    let z = api.start_zhongshu("Plan the docs").await;
    let d = desk_dashboard(&server.url, &server.token, "edges-decline-plan-failure.png").await;
    // A plan at each size: the planner revises the declined one.
    for (revision, (w, h)) in (1u64..).zip(SIZES) {
        let size = format!("{w}x{h}");
        d.resize(w, h).await;
        a_plan_awaiting_confirmation(api, &z, revision).await;
        decline_is_in_full_view(&d, &z, revision, &size).await;
        page::assert_no_sideways_scroll(&d, &format!("Needs you at {size}")).await;
        d.shoot_centered(
            &format!("edges-decline-plan-{size}.png"),
            &page::plan_item(&z),
        )
        .await;
        declined_from_needs_you(&d, &z, &size).await;
        // The plan says so where it is shown, and the launcher has it declined.
        the_plan_shows_declined(&d, &size).await;
        the_launcher_has_it_declined(api, &z, revision, &size).await;
        // Its toast gone, the next size's is its own.
        d.gone("the decline's toast", "#toasts .toast").await;
    }
    assert!(api.audit_events("plan_confirmed").await.is_empty());
    // Its planner was told of each (the fake agent echoes what it got).
    wait_showing("the planner told of both", PATIENCE, || async {
        let log = repo.log(&z);
        let told =
            |r: u64| format!("ECHO: [codex-governance] The user declined your plan (revision {r}) in the dashboard:");
        if log.contains(&told(1)) && log.contains(&told(2)) {
            Ok(())
        } else {
            Err(log)
        }
    })
    .await;
    d.quit().await;
    server.stop().await;
}

/// Planner `z` reports its plan's `revision` (zhilibu writes the docs), to
/// wait for the user's confirmation.
async fn a_plan_awaiting_confirmation(api: &Api, z: &str, revision: u64) {
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": format!("Docs, revision {revision}"),
                "needs_confirmation": true,
                "assignments": [{"department": "zhilibu", "task": "Write the docs",
                                 "files": ["README.md"]}]}),
    )
    .await;
}

/// Needs you shows `z`'s plan at `revision` with its three buttons, Decline
/// usable and in full view in the window.
async fn decline_is_in_full_view(d: &Browser, z: &str, revision: u64, size: &str) {
    let item = d
        .wait(
            &format!("the plan's Decline in Needs you ({size})"),
            PLAN_ITEM,
            vec![json!(z), json!(revision)],
        )
        .await;
    assert_eq!(
        item["text"],
        format!("Planner {z}: its plan awaits your confirmation"),
        "{size}: {item}"
    );
    assert_eq!(
        item["buttons"],
        json!(["Review and start…", "Show", "Decline"]),
        "{size}: {item}"
    );
    let decline = &item["decline"];
    assert!(
        decline["shown"] == true
            && decline["disabled"] == false
            && decline["left"].as_f64().unwrap() >= 0.0
            && decline["right"].as_f64().unwrap() <= item["window"].as_f64().unwrap()
            && decline["height"].as_f64().unwrap() >= 20.0,
        "{size}: Decline in full view: {item}"
    );
}

/// Presses Decline on `z`'s plan: its item goes and a toast says nothing of
/// the plan started.
async fn declined_from_needs_you(d: &Browser, z: &str, size: &str) {
    d.click(&format!(
        "{} button[data-action=\"decline-plan\"]",
        page::plan_item(z)
    ))
    .await;
    d.gone(
        &format!("the plan item, declined ({size})"),
        &page::plan_item(z),
    )
    .await;
    d.wait_text(
        &format!("the decline's toast ({size})"),
        "#toasts",
        &format!("Declined {z}'s plan: nothing of it started"),
    )
    .await;
}

/// The plan's badge, where the plan is shown, says it was declined.
async fn the_plan_shows_declined(d: &Browser, size: &str) {
    show_panel(d, "focus-panel").await;
    let badge = d
        .wait(
            &format!("the plan's status after the decline ({size})"),
            "const b = document.querySelector('#plan .plan-head .badge'); \
             return b && b.getClientRects().length && !b.textContent.includes('awaits') ? b.textContent : null;",
            vec![],
        )
        .await;
    assert_eq!(badge, "declined: nothing of it started", "{size}");
}

/// The launcher has `z`'s plan at `revision` declined, audited as the
/// dashboard's (one audit line per revision), and nothing of it queued or
/// started.
async fn the_launcher_has_it_declined(api: &Api, z: &str, revision: u64, size: &str) {
    let plan = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_eq!(plan["plan"]["revision"], revision, "{size}: {plan}");
    assert_eq!(plan["plan"]["status"], "none", "{size}: {plan}");
    let declined = api.audit_events("plan_declined").await;
    assert_eq!(declined.len() as u64, revision, "{size}: {declined:?}");
    let last = declined.last().unwrap();
    assert!(
        last["session_id"] == z && last["revision"] == revision && last["by"] == "dashboard",
        "{size}: {last}"
    );
    let status = api.status().await;
    assert_eq!(status["queued_count"], 0, "{size}: nothing of it queued");
    assert!(departments(&status).is_empty(), "{size}: nothing started");
}

// ---------------------------------------------------------------------------
// Item 9: your own edit, a finished planner and a typo, with trust pending

/// The variable the user's edit hands agents: a setting that sends data.
const EDGES_VAR: &str = "CG_EDGES_VAR";

/// What the page shows while the configuration waits for trust: the trust
/// banner and the items of Needs you.
const TRUST_AND_NEEDS: &str = "
    const banner = document.querySelector('#trust-banner');
    if (!banner || banner.hidden || !banner.querySelector('#trust-config')) return null;
    return {
      banner: banner.textContent,
      lead: banner.querySelector('strong').textContent,
      settings: [...banner.querySelectorAll('.trust-settings li')].map((li) => li.textContent),
      before: (banner.querySelector('.trust-before') || {}).textContent || null,
      needs: [...document.querySelectorAll('#needs-you-list > li.need')].map((li) =>
        ({kind: li.dataset.kind, session: li.dataset.session || null, text: li.textContent})),
    };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_of_a_trusted_file_is_yours_and_a_finished_planner_is_no_item_while_trust_waits() {
    crate::needs!(Chromium);
    let repo = acp_repo();
    let home = tempfile::tempdir().unwrap();
    let env = trust_asked_env(home.path());
    // The user trusts the file as it is, and a planner finishes its plan:
    // its one department looks and changes nothing.
    let (mut first, z) = a_trusted_planner_done_with_its_plan(&repo, &env).await;
    // A clean stop suspends it; the user then edits the file: it now hands
    // agents a variable of theirs.
    first.terminate();
    let config = repo.path.join("governance.yaml");
    let yaml = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{yaml}  agent_env: [\"{EDGES_VAR}\"]\n")).unwrap();
    let launcher = spawn_launcher_env(&repo.path, &[], &env);
    let status = suspended_for_trust(&launcher.api, &z).await;
    assert_eq!(status["config_trust"]["edited"], true, "{status}");
    let file = status["config_trust"]["file"].as_str().unwrap().to_string();

    let d = desk_dashboard(&launcher.url, &launcher.token, "edges-trust-failure.png").await;
    d.wait_applied(status["audit_seq"].as_u64().unwrap()).await;
    for (w, h) in SIZES {
        let size = format!("{w}x{h}");
        d.resize(w, h).await;
        let shown = d
            .wait(
                &format!("the trust banner ({size})"),
                TRUST_AND_NEEDS,
                vec![],
            )
            .await;
        the_banner_says_it_is_your_edit(&shown, &file, &size);
        the_finished_planner_is_no_item_of_trust(&shown, &z, &size);
        page::assert_no_sideways_scroll(&d, &format!("the trust banner at {size}")).await;
        d.shoot(&format!("edges-trust-{size}.png"), None).await;
    }
    d.quit().await;
    drop(launcher);
    first.wait();
}

/// The launchers' environment: the file's trust asked for (not assumed),
/// trust kept under `home`, and [`EDGES_VAR`] set.
fn trust_asked_env(home: &std::path::Path) -> [(String, String); 3] {
    [
        ("CODEX_GOVERNANCE_TRUST_CONFIG".to_string(), "0".to_string()),
        (
            "CODEX_GOVERNANCE_CONFIG_HOME".to_string(),
            home.display().to_string(),
        ),
        (EDGES_VAR.to_string(), "not a secret".to_string()),
    ]
}

/// A launcher on `repo` whose file the user trusts as it is, and a planner
/// there done with its plan (its one department looked and changed nothing);
/// returns the launcher and the planner.
async fn a_trusted_planner_done_with_its_plan(
    repo: &TestRepo,
    env: &[(String, String)],
) -> (Subprocess, String) {
    let first = spawn_launcher_env(&repo.path, &[], env);
    let hash = first.api.status().await["config_trust"]["hash"]
        .as_str()
        .expect("the file asks for trust")
        .to_string();
    first
        .api
        .post_ok("/api/trust_config", &json!({"hash": hash}))
        .await;
    let z = scenario::start_plan(
        &first.api,
        "Plan a look",
        "look",
        vec![json!({"department": "lingyubu", "files": ["src/a.rs"],
                    "task": "Look at src/a.rs [[acp: tool governance_report_result {\"summary\": \"nothing to change\"}]]"})],
    )
    .await;
    first
        .api
        .wait_status("the planner done with its plan", |s| {
            s["finished_planners"] == json!([z])
        })
        .await;
    (first, z)
}

/// The status once planner `z`, done with its plan, is suspended until the
/// edited file is trusted.
async fn suspended_for_trust(api: &Api, z: &str) -> Value {
    api.wait_status("the planner suspended for trust", |s| {
        s["finished_planners"] == json!([z])
            && s["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["id"] == z && x["attention"]["kind"] == "config_trust")
    })
    .await
}

/// (a) The trust banner calls it the user's edit of `file`, not a stranger's
/// file: it lists only the new setting, and what was trusted before.
fn the_banner_says_it_is_your_edit(shown: &Value, file: &str, size: &str) {
    let lead = shown["lead"].as_str().unwrap();
    assert!(
        lead.starts_with(&format!("Your edit of {file} "))
            && lead.contains("adds settings that run programs or send data"),
        "{size}: {lead:?}"
    );
    let banner = shown["banner"].as_str().unwrap();
    assert!(
        !banner.contains("asks for more than the defaults"),
        "{size}: {banner:?}"
    );
    let settings = &shown["settings"];
    assert_eq!(settings.as_array().unwrap().len(), 1, "{size}: {shown}");
    assert!(
        settings[0]
            .as_str()
            .unwrap()
            .starts_with(&format!("launcher.agent_env: {EDGES_VAR} — ")),
        "{size}: {shown}"
    );
    let before = shown["before"].as_str().unwrap_or_default();
    assert!(
        before.starts_with("As you trusted them before: ")
            && before.contains("launcher.acp_command"),
        "{size}: {shown}"
    );
}

/// (b) Planner `z`, done with its plan, is no item of Needs you for trust
/// (the banner says it): what is left is what any finished planner shows.
fn the_finished_planner_is_no_item_of_trust(shown: &Value, z: &str, size: &str) {
    let needs = shown["needs"].as_array().unwrap();
    assert!(
        !needs.iter().any(|n| n["kind"] == "suspended"
            || n["kind"] == "config_trust"
            || n["kind"] == "trust"
            || n["text"].as_str().unwrap().to_lowercase().contains("trust")),
        "{size}: {needs:?}"
    );
    // What is left is what any finished planner shows, trust or not.
    let kinds: Vec<&str> = needs.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["finished-planners"], "{size}: {needs:?}");
    assert!(
        needs[0]["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Planner {z} is done with its plan")),
        "{size}: {needs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_banner_names_an_unknown_key_with_its_did_you_mean() {
    crate::needs!(Chromium);
    let (repo, server) = Scenario::new().serve().await;
    let d = desk_dashboard(&server.url, &server.token, "edges-typo-failure.png").await;
    // The user edits the file while the launcher runs: a key misspelt.
    let config = repo.path.join("governance.yaml");
    let yaml = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{yaml}  max_departmens: 3\n")).unwrap();
    // What the start says of the file as it is now (its folder left out).
    let root = format!("{}{}", repo.path.display(), std::path::MAIN_SEPARATOR);
    let start: Vec<String> = repo
        .config()
        .warnings
        .iter()
        .map(|w| w.replace(&root, ""))
        .collect();
    assert_eq!(start.len(), 1, "{start:?}");
    assert!(
        start[0].ends_with(
            "unknown key launcher.max_departmens ignored (did you mean launcher.max_departments?)"
        ),
        "{start:?}"
    );
    for (w, h) in SIZES {
        let size = format!("{w}x{h}");
        d.resize(w, h).await;
        let banner = d
            .wait(
                &format!("the live banner's warnings ({size})"),
                "const b = document.querySelector('#config-banner'); \
                 const ws = b && !b.hidden && b.querySelector('.config-changed-warnings'); \
                 return ws && ws.getClientRects().length ? { \
                   changed: b.querySelector('.config-changed').textContent, \
                   warnings: [...ws.querySelectorAll('li')].map((li) => li.textContent) } : null;",
                vec![],
            )
            .await;
        assert_eq!(banner["warnings"], json!(start), "{size}: {banner}");
        let changed = banner["changed"].as_str().unwrap();
        assert!(changed.contains("governance.yaml"), "{size}: {changed:?}");
        page::assert_no_sideways_scroll(&d, &format!("the config banner at {size}")).await;
        d.shoot(&format!("edges-typo-{size}.png"), Some("#config-banner"))
            .await;
    }
    d.quit().await;
    server.stop().await;
}
