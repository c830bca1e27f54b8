//! Review in the page (issue 37 items 1 and 2), in headless Chromium against a
//! real in-process launcher whose departments (the fake agent) work in real
//! worktrees of a real repository.
//!
//! Three departments wait: zhilibu documents an install step in README.md (in
//! scope, as reported), lingyubu edits src/a.rs and, outside its scope and
//! unreported, inserts into README.md at the same place (a REVIEW and a
//! conflict with zhilibu), gongchengbu edits tools/build.sh, which the user
//! then edits too (a conflict with the user's tree). Needs you holds one item
//! for all three; *Review next* steps through them in the drawer, which leads
//! with the department's summary and verdict, stacks the diffs, collapses the
//! scope, names the conflicts, and decides by keyboard (j/k, then s, d, a, m,
//! each asked first). The plan's results line links to the queue. Nothing
//! shows `null` or `undefined`; axe finds nothing serious in either theme.
//! Screenshots: `tests/artifacts/review-*.png`.

use crate::common::axe;
use crate::common::browser;
use crate::common::launcher as support;

use browser::{Browser, ENTER};
use serde_json::{json, Value};
use support::*;

const ESCAPE: &str = "\u{E00C}";
const README: &str = "# test repo\n\nIntro.\n\n## Usage\n\nRun it.\n";

/// The fake agent's directive: write each file whole, claim `claims`, say `summary`.
fn task(what: &str, writes: &[(&str, &str)], claims: &[&str], summary: &str) -> String {
    let mut d = String::from("--work-seconds 1");
    for (path, text) in writes {
        d.push_str(&format!(" --write '{path}={}'", text.replace('\n', "\\n")));
    }
    for c in claims {
        d.push_str(&format!(" --changed-file {c}"));
    }
    d.push_str(&format!(" --summary '{summary}'"));
    format!("{what} [[fake-agent: {d}]]")
}

/// Text the page shows that a missing value would have printed (an agent's
/// own transcript aside: what it printed is its business, e.g. `null`).
const NO_MISSING: &str = "let t = document.body.innerText; for (const e of document.querySelectorAll('.conv-transcript')) t = t.split(e.innerText).join(''); return [/\\bnull\\b/.test(t), /\\bundefined\\b/.test(t), /NaN/.test(t)];";

async fn assert_no_missing(d: &Browser, at: &str) {
    assert_eq!(
        d.js(NO_MISSING, vec![]).await,
        json!([false, false, false]),
        "null, undefined or NaN in the page at {at}: {}",
        d.js("return document.body.innerText;", vec![]).await
    );
}

/// The id of the department of `z` whose key is `dept`.
fn id_of(status: &Value, dept: &str) -> String {
    departments(status)
        .iter()
        .find(|d| d["department"] == dept)
        .and_then(|d| d["id"].as_str())
        .unwrap_or_else(|| panic!("no {dept}"))
        .to_string()
}

/// Waits until the drawer shows department `id`'s changes, loaded.
async fn drawer_on(d: &Browser, id: &str) -> String {
    d.wait(
        &format!("{id}'s changes in the drawer"),
        "const h = document.querySelector('#drawer-title'); const b = document.querySelector('#drawer-body'); \
         return !document.querySelector('#drawer').hidden && h.textContent.includes(arguments[0]) \
           && b.querySelector('.decision-actions') && !b.querySelector('.file-diff[open] .file-diff-body .hint') ? b.innerText : null;",
        vec![json!(id)],
    )
    .await
    .as_str()
    .unwrap()
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_queue_and_the_changes_drawer_decide_by_keyboard() {
    let repo = TestRepo::new(RepoOptions {
        max_departments: 3,
        ..Default::default()
    });
    std::fs::write(repo.path.join("README.md"), README).unwrap();
    for (rel, text) in [("src/a.rs", "fn a() {}\n"), ("tools/build.sh", "make\n")] {
        let p = repo.path.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    commit_all(&repo.path, "initial");
    let launcher = InProcess::start(&repo).await;
    let api = launcher.api.clone();
    let z = api.start_zhongshu("three departments").await;
    let docs = README.replace("## Usage", "## Install\n\nnpm i\n\n## Usage");
    let code_readme = README.replace("## Usage", "## Build\n\nmake\n\n## Usage");
    // A large file: its diff starts collapsed.
    let big: String = (1..=400).map(|n| format!("line {n}\n")).collect();
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": "three departments", "assignments": [
            {"department": "zhilibu", "files": ["README.md"],
             "task": task("document install", &[("README.md", &docs)], &["README.md"], "Documented the install step")},
            {"department": "lingyubu", "files": ["src/a.rs"],
             "task": task("code", &[("src/a.rs", "fn a() { b() }\n"), ("README.md", &code_readme)], &["src/a.rs"], "Called b from a")},
            {"department": "gongchengbu", "files": ["tools/build.sh", "tools/big.txt"],
             "task": task("build", &[("tools/build.sh", "make all\n"), ("tools/big.txt", &big)], &["tools/build.sh", "tools/big.txt"], "Built everything")},
        ]}),
    )
    .await;
    let status = api
        .wait_status("three departments' work recorded", |s| {
            departments(s)
                .iter()
                .filter(|d| d["status"] == "exited" && d["workspace"]["state"] == "pending")
                .count()
                == 3
        })
        .await;
    let (zhilibu, lingyubu, gongchengbu) = (
        id_of(&status, "zhilibu"),
        id_of(&status, "lingyubu"),
        id_of(&status, "gongchengbu"),
    );
    // The user edits a file gongchengbu changed, and does not commit it.
    std::fs::write(repo.path.join("tools/build.sh"), "make fast\n").unwrap();

    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact("review-failure.png");
    d.open_dashboard(&launcher.url, &launcher.token).await;

    // -- one Needs you item for all the waiting work
    let item = "#needs-you-list > li.need[data-kind=\"changes\"]";
    let text = d
        .wait_text(
            "the review queue in Needs you",
            item,
            "apply or merge the three",
        )
        .await;
    let mut order: Vec<(String, &str)> = [
        (&zhilibu, "zhilibu (1 file)"),
        (&lingyubu, "lingyubu (2 files · REVIEW)"),
        (&gongchengbu, "gongchengbu (2 files)"),
    ]
    .iter()
    .map(|(id, line)| {
        let started = departments(&status)
            .iter()
            .find(|d| d["id"] == id.as_str())
            .map(|d| d["started_at"].as_str().unwrap().to_string())
            .unwrap();
        (format!("{started}{id}"), *line)
    })
    .collect();
    order.sort();
    let lines: Vec<&str> = order.iter().map(|(_, l)| *l).collect();
    assert!(
        text.starts_with(&format!(
            "Plan finished: apply or merge the three departments' changes: {}",
            lines.join(", ")
        )),
        "{text}"
    );
    assert_eq!(
        d.count("#needs-you-list > li").await,
        1,
        "one item for all the pending work"
    );
    // The plan's results line links to the queue.
    let results = d
        .wait_text(
            "the plan's results line",
            "#plan .plan-integration",
            "waiting for your review",
        )
        .await;
    assert!(
        results.starts_with("Results: 0 integrated, 3 waiting for your review."),
        "{results}"
    );
    assert!(
        d.visible("#plan .plan-integration button.review-next")
            .await,
        "the results line has Review them"
    );
    assert_no_missing(&d, "the queue").await;
    d.shoot("review-queue-1440x900.png", None).await;

    // -- Review next opens the first one; the drawer leads with the decision
    d.click(&format!("{item} button.review-next")).await;
    drawer_on(
        &d,
        &first_started(&order, [&zhilibu, &lingyubu, &gongchengbu]),
    )
    .await;
    step_to(&d, &zhilibu).await;
    let body = drawer_on(&d, &zhilibu).await;
    assert!(body.contains("zhilibu says:"), "{body}");
    assert_eq!(
        d.text_of("#drawer .decision-summary").await,
        "Documented the install step"
    );
    assert_eq!(
        d.text_of("#drawer .decision-verdict").await,
        format!("In scope, as reported. It conflicts with {lingyubu}, also waiting for you.")
    );
    assert!(
        d.text_of("#drawer .drawer-queue").await.contains(" of 3"),
        "{}",
        d.text_of("#drawer .drawer-queue").await
    );
    // The diff inline, opened; the scope one line, closed.
    d.wait_text(
        "zhilibu's diff inline",
        "#drawer details.file-diff[open][data-path=\"README.md\"] table.diff",
        "## Install",
    )
    .await;
    let scope = d
        .js(
            "const s = document.querySelector('#drawer details.decision-scope'); return [s.open, s.querySelector('summary').textContent];",
            vec![],
        )
        .await;
    assert_eq!(scope[0], json!(false), "the scope collapsed");
    let line = scope[1].as_str().unwrap();
    assert!(
        line.starts_with("scope: README.md + ")
            && line.ends_with(" globs")
            && line.matches("README.md").count() == 1,
        "{line}"
    );
    assert_eq!(
        d.text_of("#drawer .decision-conflicts li").await,
        format!(
            "{zhilibu} and {lingyubu} both change README.md before '## Usage'. review {lingyubu}"
        )
    );
    // Apply primary, Merge secondary, each with its line; Discard danger; Send back asks.
    let buttons = d
        .js(
            "return [...document.querySelectorAll('#drawer .decision-actions [data-decide]')].map((b) => [b.textContent, b.className, b.nextElementSibling && b.nextElementSibling.classList.contains('decision-explain') ? b.nextElementSibling.textContent : '']);",
            vec![],
        )
        .await;
    let buttons = buttons.as_array().unwrap();
    assert_eq!(buttons[0][0], "Apply");
    assert!(buttons[0][1].as_str().unwrap().contains("primary"));
    assert!(buttons[0][2]
        .as_str()
        .unwrap()
        .contains("working tree, uncommitted"));
    assert_eq!(buttons[1][0], "Merge");
    assert!(buttons[1][1].as_str().unwrap().contains("secondary"));
    assert!(buttons[1][2].as_str().unwrap().contains("One commit"));
    assert_eq!(buttons[2][0], "Send back…");
    assert_eq!(buttons[3][0], "Discard…");
    assert!(buttons[3][1].as_str().unwrap().contains("danger"));
    assert_no_missing(&d, "zhilibu's drawer").await;
    d.shoot("review-drawer-1440x900.png", None).await;
    // The drawer covers the toggle: a script presses it.
    let toggle = "document.querySelector('#theme-toggle').click();";
    axe::accessible(&d, "the changes drawer, system theme").await;
    d.js(toggle, vec![]).await;
    axe::accessible(&d, "the changes drawer, other theme").await;
    d.shoot("review-drawer-light-1440x900.png", None).await;
    d.js(toggle, vec![]).await;

    // -- the phone: the queue and the drawer fit the width
    d.resize(390, 844).await;
    d.settle().await;
    let overflow = d.sideways_overflow().await;
    assert!(
        overflow <= 0,
        "the drawer is wider than the phone by {overflow}"
    );
    d.shoot("review-drawer-390x844.png", None).await;
    axe::accessible(&d, "the changes drawer on a phone").await;
    d.press_keys(ESCAPE).await;
    d.present("the drawer to close", "#drawer[hidden]").await;
    d.shoot("review-queue-390x844.png", Some("#needs-you"))
        .await;
    d.resize(1440, 900).await;

    // -- lingyubu: outside its scope and not in its report; j/k step through its files
    d.click(&format!(
        "#needs-you-list [data-open-changes=\"{lingyubu}\"]"
    ))
    .await;
    drawer_on(&d, &lingyubu).await;
    assert_eq!(
        d.text_of("#drawer .decision-verdict").await,
        format!("README.md is outside lingyubu's scope and was not in its report. It conflicts with {zhilibu}, also waiting for you.")
    );
    assert_eq!(
        d.count("#drawer details.file-diff[open] table.diff").await,
        2,
        "both files' diffs stacked, open"
    );
    let current = "return [...document.querySelectorAll('#drawer details.file-diff')].findIndex((x) => x.classList.contains('current'));";
    d.js("document.activeElement.blur();", vec![]).await;
    d.press_keys("j").await;
    assert_eq!(d.js(current, vec![]).await, json!(0));
    d.press_keys("j").await;
    assert_eq!(d.js(current, vec![]).await, json!(1));
    d.press_keys("k").await;
    assert_eq!(d.js(current, vec![]).await, json!(0));
    // s asks for a note first (Send back stays off until there is one); Esc cancels, the drawer stays.
    d.press_keys("s").await;
    d.present(
        "the note to send back",
        "#drawer .decision-confirm textarea.send-back-note:focus",
    )
    .await;
    assert_eq!(
        d.js(
            "return document.querySelector('#drawer [data-confirm=\"send_back\"]').disabled;",
            vec![]
        )
        .await,
        json!(true)
    );
    d.press_keys("explain the README part").await;
    assert_eq!(
        d.js(
            "return document.querySelector('#drawer [data-confirm=\"send_back\"]').disabled;",
            vec![]
        )
        .await,
        json!(false)
    );
    d.press_keys(ESCAPE).await;
    d.gone(
        "the question to go",
        "#drawer .decision-confirm:not([hidden])",
    )
    .await;
    assert_eq!(
        d.js("return document.querySelector('#drawer').hidden;", vec![])
            .await,
        json!(false),
        "Esc closed the question, not the drawer"
    );
    // d asks, Enter discards.
    d.js("document.activeElement.blur();", vec![]).await;
    d.press_keys("d").await;
    let question = d
        .wait_text(
            "the question before Discard",
            "#drawer .decision-question",
            "Discard",
        )
        .await;
    assert!(question.contains(&lingyubu), "{question}");
    d.press_keys(ENTER).await;
    api.wait_status("lingyubu discarded", |s| {
        departments(s)
            .iter()
            .any(|x| x["id"] == lingyubu.as_str() && x["workspace"]["state"] == "discarded")
    })
    .await;
    d.wait_text(
        "the drawer after Discard",
        "#drawer .decision-actions",
        "Nothing to decide: discarded.",
    )
    .await;

    // -- gongchengbu: the user's uncommitted edit stands in the way; reverted, a applies
    step_to(&d, &gongchengbu).await;
    drawer_on(&d, &gongchengbu).await;
    assert_eq!(
        d.text_of("#drawer .decision-verdict").await,
        "In scope, as reported. Integrating it now conflicts with your working tree in tools/build.sh."
    );
    assert!(d
        .text_of("#drawer .decision-conflicts")
        .await
        .contains("With your working tree: tools/build.sh."));
    // The large file's diff is collapsed and loads when opened.
    let large = "#drawer details.file-diff[data-path=\"tools/big.txt\"]";
    assert_eq!(
        d.js(
            "const e = document.querySelector(arguments[0]); return [e.open, e.querySelector('summary').textContent.includes('large: collapsed')];",
            vec![json!(large)],
        )
        .await,
        json!([false, true])
    );
    d.click(&format!("{large} summary")).await;
    d.wait_text(
        "the large diff, opened",
        &format!("{large} table.diff"),
        "line 400",
    )
    .await;
    std::fs::write(repo.path.join("tools/build.sh"), "make\n").unwrap();
    d.js("document.activeElement.blur();", vec![]).await;
    d.press_keys("a").await;
    d.wait_text(
        "the question before Apply",
        "#drawer .decision-question",
        "Apply",
    )
    .await;
    d.press_keys(ENTER).await;
    wait_until("gongchengbu's change applied", browser::WAIT, || async {
        let text = std::fs::read_to_string(repo.path.join("tools/build.sh")).unwrap_or_default();
        (text == "make all\n").then_some(())
    })
    .await;
    d.present(
        "Undo after the Apply",
        "#drawer .decision-actions button.undo-integration",
    )
    .await;

    // -- zhilibu last: m asks, Enter merges; the queue is empty, the results line counts both
    d.click("#drawer .drawer-queue button.review-next").await;
    drawer_on(&d, &zhilibu).await;
    assert_eq!(
        d.text_of("#drawer .decision-verdict").await,
        "In scope, as reported.",
        "lingyubu was discarded: no conflict left"
    );
    d.js("document.activeElement.blur();", vec![]).await;
    d.press_keys("m").await;
    d.wait_text(
        "the question before Merge",
        "#drawer .decision-question",
        "Merge",
    )
    .await;
    d.press_keys(ENTER).await;
    d.present(
        "Undo after the Merge",
        "#drawer .decision-actions button.undo-integration",
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(repo.path.join("README.md")).unwrap(),
        docs
    );
    d.gone("the queue item", item).await;
    d.wait_text(
        "the results line",
        "#plan .plan-integration",
        "Results: 2 integrated.",
    )
    .await;
    assert_no_missing(&d, "the end").await;
    assert_eq!(d.open_alert().await, None);
    d.quit().await;
    launcher.stop().await;
}

/// Presses the drawer's Review next until it shows department `id`.
async fn step_to(d: &Browser, id: &str) {
    for _ in 0..3 {
        let shown = d.text_of("#drawer-title").await;
        if shown.contains(id) {
            return;
        }
        d.click("#drawer .drawer-queue button.review-next").await;
        d.wait(
            "the next department's changes",
            "return document.querySelector('#drawer-title').textContent !== arguments[0] \
               && !!document.querySelector('#drawer-body .decision-actions');",
            vec![json!(shown)],
        )
        .await;
    }
}

/// The department Review next opens first: the one that started first.
fn first_started(order: &[(String, &str)], ids: [&String; 3]) -> String {
    ids.into_iter()
        .find(|id| order[0].0.ends_with(id.as_str()))
        .unwrap()
        .to_string()
}
