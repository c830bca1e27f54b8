//! The phone (issue 37 item 6): at 390×844 in headless Chromium, with three
//! departments of a real in-process launcher (the fake agent, in worktrees)
//! and the usage meter showing both windows, no view scrolls sideways, the
//! meter collapses to its percentages, and every title wraps only at a space
//! or after a '-', never inside a word ("gongchen / gbu-1" was the slip).
//! Screenshots: `tests/artifacts/phone-*-390x844.png`.

use crate::common::browser;
use crate::common::launcher as support;
use crate::common::page;

use browser::Browser;
use serde_json::{json, Value};
use support::*;

/// Titles whose lines break anywhere but at a space or after '-' or '·':
/// each character's box is measured, and a new line must follow one of them.
const MID_WORD_BREAKS: &str = r#"
const bad = [];
for (const e of document.querySelectorAll('.slot-title, .row-name')) {
  if (!e.offsetParent) continue;
  const chars = [];
  const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    for (let i = 0; i < n.length; i++) {
      const r = document.createRange();
      r.setStart(n, i);
      r.setEnd(n, i + 1);
      const box = r.getClientRects()[0];
      chars.push([n.data[i], box ? box.top : null]);
    }
  }
  let last = null;
  for (let i = 0; i < chars.length; i++) {
    const [c, top] = chars[i];
    if (top === null || /\s/.test(c)) continue;
    if (last && top > last.top + 2) {
      const between = chars.slice(last.i, i).map((x) => x[0]).join('');
      if (!/[-\s·]/.test(between)) bad.push(`${e.textContent} | before "${c}" at ${i}`);
    }
    last = { i, top };
  }
}
return bad;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_nothing_scrolls_sideways_and_titles_wrap_at_hyphens() {
    crate::needs!(Chromium);
    let repo = TestRepo::new(RepoOptions {
        max_departments: 3,
        ..Default::default()
    });
    let launcher = InProcess::start(&repo).await;
    let api = launcher.api.clone();
    three_departments_reported(&api).await;
    let d = Browser::start(390, 844)
        .await
        .with_failure_artifact("phone-failure.png");
    d.open_dashboard(&launcher.url, &launcher.token).await;
    d.present("four tiles", "#grid[data-count=\"4\"]").await;
    the_meter_collapses_to_its_percentages(&d, &api).await;
    d.settle().await;
    no_view_scrolls_sideways_or_breaks_a_title_inside_a_word(&d).await;
    d.shoot("phone-top-390x844.png", None).await;
    // A tile's title has a line of its own (its state and buttons go below),
    // and where it wraps, only at a space or a '-' (checked above).
    d.click(".view-tab[data-panel=\"terminals-panel\"]").await;
    each_title_on_a_line_of_its_own(&d).await;
    nothing_is_cut(&d, "on a phone").await;
    no_keyboard_hints_and_the_task_box_whole(&d).await;
    // Four tiles side by side on a desktop: their titles are whole too.
    d.resize(1440, 900).await;
    d.settle().await;
    nothing_is_cut(&d, "at 1440x900").await;
    d.shoot("tiles-whole-1440x900.png", Some("#terminals-panel"))
        .await;
    assert_eq!(d.open_alert().await, None);
    d.quit().await;
    launcher.stop().await;
}

/// Each view in turn (terminals, sessions, plan, report, timeline): nothing
/// scrolls sideways, no title breaks inside a word, and the timeline's
/// labels are clear of their bars. A shot of each.
async fn no_view_scrolls_sideways_or_breaks_a_title_inside_a_word(d: &Browser) {
    for (panel, name) in [
        ("terminals-panel", "terminals"),
        ("sessions-panel", "sessions"),
        ("focus-panel", "plan"),
        ("report-panel", "report"),
        ("timeline-panel", "timeline"),
    ] {
        d.click(&format!(".view-tab[data-panel=\"{panel}\"]")).await;
        d.settle().await;
        page::assert_no_sideways_scroll(d, &format!("{panel} on a phone")).await;
        let cut = d.js(MID_WORD_BREAKS, vec![]).await;
        assert_eq!(cut, json!([]), "titles broken inside a word in {panel}");
        if panel == "timeline-panel" {
            labels_clear_of_their_bars(d).await;
        }
        d.shoot(&format!("phone-{name}-390x844.png"), Some(".view-tabs"))
            .await;
    }
}

/// Every shown tile's title takes (nearly) its bar's whole width: a line
/// of its own.
async fn each_title_on_a_line_of_its_own(d: &Browser) {
    let own_line = d
        .js(
            "return [...document.querySelectorAll('#grid .slot')].filter((s) => s.offsetParent).map((s) => {
               const t = s.querySelector('.slot-title').getBoundingClientRect();
               const bar = s.querySelector('.slot-bar').getBoundingClientRect();
               return t.width >= 0.8 * bar.width;
             });",
            vec![],
        )
        .await;
    let own_line = own_line.as_array().unwrap();
    assert!(
        !own_line.is_empty() && own_line.iter().all(|x| x == true),
        "each title on a line of its own: {own_line:?}"
    );
}

/// No keyboard hints on a phone, and the task box's example is whole,
/// without a scrollbar (found walking).
async fn no_keyboard_hints_and_the_task_box_whole(d: &Browser) {
    let keys = d
        .js(
            "return getComputedStyle(document.querySelector('#shortcuts-button')).display;",
            vec![],
        )
        .await;
    assert_eq!(keys, "none", "no keyboard hints on a phone");
    let task = d
        .js(
            "const t = document.querySelector('#task'); return [t.scrollHeight, t.clientHeight];",
            vec![],
        )
        .await;
    assert!(
        task[0].as_f64() <= task[1].as_f64(),
        "the task box scrolls: {task}"
    );
}

/// Issue 49 item 14: a Timeline row's label ends before its bar and its
/// markers begin ("gongchengbu #1" ran under its report's diamond).
async fn labels_clear_of_their_bars(d: &Browser) {
    let overlaps = d
        .js(
            "const rows = [...document.querySelectorAll('#timeline .tl-row')];
             return rows.length ? rows.flatMap((g) => {
               const label = g.querySelector('.tl-label').getBoundingClientRect();
               const marks = [...g.querySelectorAll('.tl-bar, .tl-report, .tl-exit')]
                 .map((m) => m.getBoundingClientRect().left);
               const first = Math.min(...marks);
               return label.right > first ? [`${g.querySelector('.tl-label').textContent}: ${label.right} > ${first}`] : [];
             }) : ['no rows'];",
            vec![],
        )
        .await;
    assert_eq!(overlaps, json!([]), "timeline labels under their markers");
}

/// Issue 49 item 14: the view tabs fit their row (no scrollbar), no tile's
/// title is cut short ("lingy…") and no button of a tile's bar pokes out of
/// the tile.
async fn nothing_is_cut(d: &Browser, at: &str) {
    let cut = d
        .js(
            "const bad = [];
             const tabs = document.querySelector('.view-tabs');
             if (tabs.offsetParent && tabs.scrollWidth > tabs.clientWidth)
               bad.push(`the tabs: ${tabs.scrollWidth} > ${tabs.clientWidth}`);
             for (const slot of document.querySelectorAll('#grid .slot')) {
               if (!slot.offsetParent) continue;
               const t = slot.querySelector('.slot-title');
               if (t && t.scrollWidth > t.clientWidth + 1)
                 bad.push(`title cut: ${t.textContent}`);
               const edge = slot.getBoundingClientRect().right;
               for (const b of slot.querySelectorAll('.slot-bar button, .slot-bar a')) {
                 if (b.offsetParent && b.getBoundingClientRect().right > edge + 0.5)
                   bad.push(`${b.textContent} clipped in ${t && t.textContent}`);
               }
             }
             return bad;",
            vec![],
        )
        .await;
    assert_eq!(cut, json!([]), "cut {at}");
}

/// A planner whose three departments write a file each and report, then wait.
async fn three_departments_reported(api: &Api) {
    let z = api.start_zhongshu("three departments").await;
    let work = |file: &str| {
        format!("work [[fake-agent: --write {file}=x --changed-file {file} --after-report wait]]")
    };
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": "three", "assignments": [
            {"department": "zhilibu", "task": work("README.md")},
            {"department": "gongchengbu", "task": work("tools/x.sh")},
            {"department": "lingyubu", "task": work("src/x.rs")},
        ]}),
    )
    .await;
    api.wait_status("three departments reported", |s| {
        departments(s)
            .iter()
            .filter(|d| d["state"] == "reported")
            .count()
            == 3
    })
    .await;
}

/// The account's two usage windows, as Codex's rate-limit events give them,
/// put into the page: the meter shows only their percentages.
async fn the_meter_collapses_to_its_percentages(d: &Browser, api: &Api) {
    let window = |used: f64| json!({"used_percent": used, "window_minutes": 300, "resets_local": "2026-11-30 14:05"});
    let quota: Value = json!({"primary": window(21.0), "secondary": window(64.0), "reserve_percent": 90, "parked": [], "budgets": []});
    let meter = page::inject_until(
        d,
        api,
        json!({}),
        quota,
        "the meter",
        "const m = document.querySelector('#quota-meter'); return m && !m.hidden && m.innerText;",
    )
    .await;
    let meter = meter.as_str().unwrap();
    assert!(
        meter.contains("5h 21%") && meter.contains("week 64%") && !meter.contains("resets"),
        "the meter collapses to its percentages: {meter:?}"
    );
}
