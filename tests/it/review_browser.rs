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
use crate::common::page;
use crate::common::plans::department_id;

use browser::{Browser, ENTER, ESCAPE};
use serde_json::{json, Value};
use support::*;

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
    crate::needs!(Chromium);
    let repo = repo_of_three_files();
    let launcher = InProcess::start(&repo).await;
    let api = launcher.api.clone();
    let status = three_departments_waiting(&api).await;
    // The user edits a file gongchengbu changed, and does not commit it.
    std::fs::write(repo.path.join("tools/build.sh"), "make fast\n").unwrap();

    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact("review-failure.png");
    d.open_dashboard(&launcher.url, &launcher.token).await;
    let r = Review {
        d: &d,
        api: &api,
        repo: &repo,
        zhilibu: department_id(&status, "zhilibu"),
        lingyubu: department_id(&status, "lingyubu"),
        gongchengbu: department_id(&status, "gongchengbu"),
    };
    let first = r.check_the_one_item_in_needs_you(&status).await;
    r.open_the_first_and_step_to_zhilibu(&first).await;
    r.check_zhilibus_decision().await;
    r.check_the_decision_buttons().await;
    r.shoot_and_check_the_drawer_in_both_themes().await;
    r.fit_the_drawer_and_the_queue_on_a_phone().await;
    r.step_through_lingyubus_files().await;
    r.send_back_asks_for_a_note_and_esc_cancels().await;
    r.discard_lingyubu_by_keyboard().await;
    r.check_gongchengbus_conflict_and_large_diff().await;
    r.apply_gongchengbu_by_keyboard().await;
    r.merge_zhilibu_last().await;
    assert_no_missing(&d, "the end").await;
    assert_eq!(d.open_alert().await, None);
    d.quit().await;
    launcher.stop().await;
}

/// README.md, src/a.rs and tools/build.sh, committed; three departments may
/// run at once.
fn repo_of_three_files() -> TestRepo {
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
    repo
}

/// The README as zhilibu writes it: an install step before Usage.
fn readme_with_install() -> String {
    README.replace("## Usage", "## Install\n\nnpm i\n\n## Usage")
}

/// A plan of three departments (zhilibu in scope; lingyubu also writing
/// README.md, out of scope and unreported; gongchengbu with a large file),
/// run to the end; returns the status once their work waits for review.
async fn three_departments_waiting(api: &Api) -> Value {
    let z = api.start_zhongshu("three departments").await;
    let code_readme = README.replace("## Usage", "## Build\n\nmake\n\n## Usage");
    // A large file: its diff starts collapsed.
    let big: String = (1..=400).map(|n| format!("line {n}\n")).collect();
    api.post_ok(
        "/api/report_zhongshu_plan",
        &json!({"session_id": z, "summary": "three departments", "assignments": [
            {"department": "zhilibu", "files": ["README.md"],
             "task": task("document install", &[("README.md", &readme_with_install())], &["README.md"], "Documented the install step")},
            {"department": "lingyubu", "files": ["src/a.rs"],
             "task": task("code", &[("src/a.rs", "fn a() { b() }\n"), ("README.md", &code_readme)], &["src/a.rs"], "Called b from a")},
            {"department": "gongchengbu", "files": ["tools/build.sh", "tools/big.txt"],
             "task": task("build", &[("tools/build.sh", "make all\n"), ("tools/big.txt", &big)], &["tools/build.sh", "tools/big.txt"], "Built everything")},
        ]}),
    )
    .await;
    api.wait_status("three departments' work recorded", |s| {
        departments(s)
            .iter()
            .filter(|d| d["status"] == "exited" && d["workspace"]["state"] == "pending")
            .count()
            == 3
    })
    .await
}

/// The review's steps, in order, on one page: the three departments' ids.
struct Review<'a> {
    d: &'a Browser,
    api: &'a Api,
    repo: &'a TestRepo,
    zhilibu: String,
    lingyubu: String,
    gongchengbu: String,
}

/// The Needs you item for the plan's waiting work.
const QUEUE_ITEM: &str = "#needs-you-list > li.need[data-kind=\"changes\"]";

impl Review<'_> {
    /// One Needs you item for all the waiting work, listing the departments
    /// in the order they started; the plan's results line links to the
    /// queue. Returns the department that started first.
    async fn check_the_one_item_in_needs_you(&self, status: &Value) -> String {
        let d = self.d;
        let text = d
            .wait_text(
                "the review queue in Needs you",
                QUEUE_ITEM,
                "apply or merge the three",
            )
            .await;
        let mut order: Vec<(String, &str)> = [
            (&self.zhilibu, "zhilibu (1 file)"),
            (&self.lingyubu, "lingyubu (2 files · REVIEW)"),
            (&self.gongchengbu, "gongchengbu (2 files)"),
        ]
        .iter()
        .map(|(id, line)| {
            let started = departments(status)
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
        self.check_the_results_line().await;
        assert_no_missing(d, "the queue").await;
        d.shoot("review-queue-1440x900.png", None).await;
        first_started(&order, [&self.zhilibu, &self.lingyubu, &self.gongchengbu])
    }

    /// The plan's results line counts the waiting work and has Review them.
    async fn check_the_results_line(&self) {
        let results = self
            .d
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
            self.d
                .visible("#plan .plan-integration button.review-next")
                .await,
            "the results line has Review them"
        );
    }

    /// Review next opens the department that started first; the drawer's
    /// own Review next steps on to zhilibu.
    async fn open_the_first_and_step_to_zhilibu(&self, first: &str) {
        self.d
            .click(&format!("{QUEUE_ITEM} button.review-next"))
            .await;
        drawer_on(self.d, first).await;
        step_to(self.d, &self.zhilibu).await;
    }

    /// The drawer leads with the decision: zhilibu's summary and verdict,
    /// where it stands in the queue, its diff inline and opened, its scope
    /// one line and closed, the conflict with lingyubu.
    async fn check_zhilibus_decision(&self) {
        let (d, zhilibu, lingyubu) = (self.d, &self.zhilibu, &self.lingyubu);
        let body = drawer_on(d, zhilibu).await;
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
    }

    /// Apply primary, Merge secondary, each with its line; Discard danger;
    /// Send back asks.
    async fn check_the_decision_buttons(&self) {
        let buttons = self
            .d
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
        assert_no_missing(self.d, "zhilibu's drawer").await;
    }

    /// Screenshots of the drawer in both themes; axe finds nothing serious
    /// in either. The drawer covers the toggle: a script presses it.
    async fn shoot_and_check_the_drawer_in_both_themes(&self) {
        let d = self.d;
        d.shoot("review-drawer-1440x900.png", None).await;
        axe::accessible(d, "the changes drawer, system theme").await;
        page::toggle_theme_by_script(d).await;
        axe::accessible(d, "the changes drawer, other theme").await;
        d.shoot("review-drawer-light-1440x900.png", None).await;
        page::toggle_theme_by_script(d).await;
    }

    /// On a phone the drawer and then the queue fit the width.
    async fn fit_the_drawer_and_the_queue_on_a_phone(&self) {
        let d = self.d;
        d.resize(390, 844).await;
        d.settle().await;
        page::assert_no_sideways_scroll(d, "the drawer on a phone").await;
        d.shoot("review-drawer-390x844.png", None).await;
        axe::accessible(d, "the changes drawer on a phone").await;
        d.press_keys(ESCAPE).await;
        d.present("the drawer to close", "#drawer[hidden]").await;
        d.shoot("review-queue-390x844.png", Some("#needs-you"))
            .await;
        d.resize(1440, 900).await;
    }

    /// lingyubu: outside its scope and not in its report, both its files'
    /// diffs stacked; j and k step through them.
    async fn step_through_lingyubus_files(&self) {
        let d = self.d;
        d.click(&format!(
            "#needs-you-list [data-open-changes=\"{}\"]",
            self.lingyubu
        ))
        .await;
        drawer_on(d, &self.lingyubu).await;
        assert_eq!(
            d.text_of("#drawer .decision-verdict").await,
            format!("README.md is outside lingyubu's scope and was not in its report. It conflicts with {}, also waiting for you.", self.zhilibu)
        );
        assert_eq!(
            d.count("#drawer details.file-diff[open] table.diff").await,
            2,
            "both files' diffs stacked, open"
        );
        let current = "return [...document.querySelectorAll('#drawer details.file-diff')].findIndex((x) => x.classList.contains('current'));";
        d.blur().await;
        for (key, at) in [("j", 0), ("j", 1), ("k", 0)] {
            d.press_keys(key).await;
            assert_eq!(d.js(current, vec![]).await, json!(at), "after {key}");
        }
    }

    /// s asks for a note first (Send back stays off until there is one); Esc
    /// cancels the question, the drawer stays.
    async fn send_back_asks_for_a_note_and_esc_cancels(&self) {
        let d = self.d;
        let send_back_disabled =
            "return document.querySelector('#drawer [data-confirm=\"send_back\"]').disabled;";
        d.press_keys("s").await;
        d.present(
            "the note to send back",
            "#drawer .decision-confirm textarea.send-back-note:focus",
        )
        .await;
        assert_eq!(d.js(send_back_disabled, vec![]).await, json!(true));
        d.press_keys("explain the README part").await;
        assert_eq!(d.js(send_back_disabled, vec![]).await, json!(false));
        d.press_keys(ESCAPE).await;
        d.gone(
            "the question to go",
            "#drawer .decision-confirm:not([hidden])",
        )
        .await;
        assert!(
            !d.hidden("#drawer").await,
            "Esc closed the question, not the drawer"
        );
    }

    /// d asks, Enter discards lingyubu's work; the drawer says nothing is
    /// left to decide.
    async fn discard_lingyubu_by_keyboard(&self) {
        let d = self.d;
        d.blur().await;
        d.press_keys("d").await;
        let question = d
            .wait_text(
                "the question before Discard",
                "#drawer .decision-question",
                "Discard",
            )
            .await;
        assert!(question.contains(&self.lingyubu), "{question}");
        d.press_keys(ENTER).await;
        self.api
            .wait_status("lingyubu discarded", |s| {
                departments(s).iter().any(|x| {
                    x["id"] == self.lingyubu.as_str() && x["workspace"]["state"] == "discarded"
                })
            })
            .await;
        d.wait_text(
            "the drawer after Discard",
            "#drawer .decision-actions",
            "Nothing to decide: discarded.",
        )
        .await;
    }

    /// gongchengbu: the user's uncommitted edit stands in the way; its large
    /// file's diff is collapsed and loads when opened.
    async fn check_gongchengbus_conflict_and_large_diff(&self) {
        let d = self.d;
        step_to(d, &self.gongchengbu).await;
        drawer_on(d, &self.gongchengbu).await;
        assert_eq!(
            d.text_of("#drawer .decision-verdict").await,
            "In scope, as reported. Integrating it now meets your uncommitted changes to tools/build.sh."
        );
        assert!(d.text_of("#drawer .decision-conflicts").await.contains(
            "Your uncommitted changes to tools/build.sh: commit, stash or revert it first"
        ));
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
    }

    /// The user's edit reverted, a asks and Enter applies gongchengbu's
    /// change to the working tree; Undo is offered.
    async fn apply_gongchengbu_by_keyboard(&self) {
        let d = self.d;
        let build = self.repo.path.join("tools/build.sh");
        std::fs::write(&build, "make\n").unwrap();
        d.blur().await;
        d.press_keys("a").await;
        d.wait_text(
            "the question before Apply",
            "#drawer .decision-question",
            "Apply",
        )
        .await;
        d.press_keys(ENTER).await;
        wait_until("gongchengbu's change applied", browser::WAIT, || async {
            let text = std::fs::read_to_string(&build).unwrap_or_default();
            (text == "make all\n").then_some(())
        })
        .await;
        d.present(
            "Undo after the Apply",
            "#drawer .decision-actions button.undo-integration",
        )
        .await;
    }

    /// zhilibu last, no conflict left: m asks, Enter merges; the queue is
    /// empty, the results line counts both.
    async fn merge_zhilibu_last(&self) {
        let d = self.d;
        d.click("#drawer .drawer-queue button.review-next").await;
        drawer_on(d, &self.zhilibu).await;
        assert_eq!(
            d.text_of("#drawer .decision-verdict").await,
            "In scope, as reported.",
            "lingyubu was discarded: no conflict left"
        );
        d.blur().await;
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
            std::fs::read_to_string(self.repo.path.join("README.md")).unwrap(),
            readme_with_install()
        );
        d.gone("the queue item", QUEUE_ITEM).await;
        d.wait_text(
            "the results line",
            "#plan .plan-integration",
            "Results: 2 integrated, 1 discarded.",
        )
        .await;
    }
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
