//! Control and done states in the dashboard (issue 25), in headless Chromium
//! against a real in-process launcher whose agents are the fake agent (`tools/fake-agent`)
//! (behind a wrapper whose first `lingyubu` department fails).
//!
//! A plan that waits for confirmation is reviewed in its dialog, then started.
//! One department asks for confirmation, another fails, a third reports. The
//! question is answered from Needs you (Reject, with a note: the Zhongshu is
//! told), the failed department is retried from Needs you and reports; the
//! plan finishes, its group says so with its counts, and the Zhongshu is told.
//! The drawer shows the packet's header as a table, its prose as text, each
//! changed file once, a diff with Back, and gives the focus back after Esc. A
//! second plan is stopped from its row, after the dialog asks. Every state is
//! shot at 1440x900 and 390x844 (`tests/artifacts/control-*.png`) and axe
//! finds no serious violation in either theme (colour contrast included; the
//! repository has a preflight violation so its path is on the page).
//!
//! Needs chromium and chromedriver (tools/test.sh installs them); missing ones
//! fail the test with a message, they never skip it.

use crate::common::browser;
use crate::common::demo;
use crate::common::flaky;
use crate::common::launcher as support;
use crate::common::page::{self, accessible_in_both_themes};
use crate::common::plans::{department_id, plan_of, wait_plan};

use std::path::Path;

use browser::{Browser, ESCAPE};
use serde_json::{json, Value};
use support::{wait_log, wait_until, Api, PATIENCE};

const QUESTION: &str = "Confirm the README wording before commit";

/// Shoots the page at both sizes (on the phone, with `tab` chosen), then
/// comes back to 1440x900. `at` scrolls an element to the top first.
async fn shoot_both(d: &Browser, name: &str, at: Option<&str>, tab: &str) {
    for (w, h) in [(1440, 900), (390, 844)] {
        d.resize(w, h).await;
        if w < 900 {
            d.js(
                "const t = document.querySelector(`.view-tab[data-panel=\"${arguments[0]}\"]`); if (t) t.click();",
                vec![json!(tab)],
            )
            .await;
        }
        d.shoot(&format!("control-{name}-{w}x{h}.png"), at).await;
    }
    d.resize(1440, 900).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_walked_to_its_end_confirmed_retried_and_another_stopped() {
    crate::needs!(Chromium);
    let repo = flaky::flaky_repo(2);
    // A preflight violation, so its path is on the page for the contrast check.
    std::fs::write(
        repo.path.join("AGENTS.md"),
        "Logs are in /home/alice/logs.\n",
    )
    .unwrap();
    let launcher = support::InProcess::start(&repo).await;
    let api = launcher.api.clone();
    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact("control-failure.png");
    d.open_dashboard(&launcher.url, &launcher.token).await;

    let z = start_a_plan_that_waits(&api, &repo).await;
    review_the_whole_plan_then_start_it(&d, &api, &z).await;
    see_a_question_and_a_failure_in_needs_you(&d).await;
    reject_the_question_with_a_note(&d, &repo, &z).await;
    retry_the_failure_until_the_plan_finishes(&d, &api, &repo, &z).await;
    check_the_finished_plan(&d, &z).await;
    read_the_packet_in_the_drawer(&d, &repo).await;
    stop_a_second_plan_from_its_row(&d, &api, &repo).await;

    // -- the report, with its preflight violation, in both themes
    d.js(
        "document.querySelector('#report-panel').scrollIntoView();",
        vec![],
    )
    .await;
    d.present("the violation's path", ".finding-violation .path")
        .await;
    accessible_in_both_themes(&d, "the report with a violation").await;

    assert_eq!(d.open_alert().await, None);
    d.quit().await;
    launcher.stop().await;
}

/// A plan that waits for confirmation: zhilibu will ask a question,
/// lingyubu fail (the flaky wrapper), gongchengbu report. Returns its planner.
async fn start_a_plan_that_waits(api: &Api, repo: &support::TestRepo) -> String {
    let plan = repo.write_json(
        "plan.json",
        &json!({
            "summary": "Docs, code and tooling",
            "needs_confirmation": true,
            "assignments": [
                {"department": "zhilibu",
                 "task": format!("Reword the README [[fake-agent: --needs-confirmation --changed-file README.md --summary 'Reworded the README intro' --next-action '{QUESTION}']]"),
                 "verify": ["git diff --stat"], "reason": "the README is theirs"},
                {"department": "lingyubu", "task": "Fix the parser"},
                {"department": "gongchengbu", "task": "Tidy the scripts [[fake-agent: --work-seconds 1]]"},
            ]
        }),
    );
    api.start_zhongshu(&format!(
        "Tidy up [[fake-agent: --plan-file {}]]",
        plan.display()
    ))
    .await
}

/// "Review and start" shows the whole plan first, and nothing starts while
/// it is shown; its dialog starts it.
async fn review_the_whole_plan_then_start_it(d: &Browser, api: &Api, z: &str) {
    let plan_item = page::plan_item(z);
    let review = format!("{plan_item} button[data-action=\"start-plan\"]:not([disabled])");
    d.present("the plan in Needs you, loaded", &review).await;
    d.click(&review).await;
    d.present("the plan dialog", "#plan-dialog[open]").await;
    let shown = d.text_of("#plan-dialog").await;
    for needed in [
        "revision 1",
        "Docs, code and tooling",
        "Reword the README",
        "Fix the parser",
        "Tidy the scripts",
        "git diff --stat",
        "the README is theirs",
        "Start 3 assignments",
    ] {
        assert!(shown.contains(needed), "{needed:?} in the dialog: {shown}");
    }
    assert!(
        api.status().await["department_sessions"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing starts while the plan is shown"
    );
    shoot_both(d, "plan-review", None, "terminals-panel").await;
    accessible_in_both_themes(d, "the plan dialog").await;
    d.click("#plan-dialog button[data-action=\"start-reviewed\"]")
        .await;
    d.present("the dialog to close", "#plan-dialog:not([open])")
        .await;
    d.gone("the plan item to go", &plan_item).await;
}

const CONFIRM_ITEM: &str = "#needs-you-list .need[data-kind=\"confirm\"]";
const FAILED_ITEM: &str = "#needs-you-list .need[data-kind=\"failed\"]";

/// A question and a failure (with Retry) wait in Needs you; the task form
/// stays in view above the fold.
async fn see_a_question_and_a_failure_in_needs_you(d: &Browser) {
    d.present("the question in Needs you", CONFIRM_ITEM).await;
    d.present("the failure in Needs you", FAILED_ITEM).await;
    assert!(d.text_of(CONFIRM_ITEM).await.contains(QUESTION));
    d.present(
        "Retry on the failure",
        &format!("{FAILED_ITEM} button[data-action=\"retry\"]"),
    )
    .await;
    let form_top = d
        .js(
            "return document.querySelector('#start-form').getBoundingClientRect().top;",
            vec![],
        )
        .await;
    assert!(
        form_top.as_f64().unwrap() < 900.0,
        "the task form is in view: {form_top}"
    );
    shoot_both(d, "needs-you", None, "terminals-panel").await;
    accessible_in_both_themes(d, "a question and a failure in Needs you").await;
}

/// Reject, with a note: the Zhongshu is told the question, the answer and the note.
async fn reject_the_question_with_a_note(d: &Browser, repo: &support::TestRepo, z: &str) {
    let note = format!("{CONFIRM_ITEM} textarea.need-note");
    d.click(&note).await;
    d.type_into(&note, "Keep the old intro").await;
    d.click(&format!("{CONFIRM_ITEM} button[data-action=\"reject\"]"))
        .await;
    d.gone("the answered question", CONFIRM_ITEM).await;
    let log = wait_log(repo, z, "the user REJECTED what zhilibu").await;
    assert!(log.contains("Keep the old intro"), "{log}");
    assert!(log.contains(QUESTION), "{log}");
}

/// Retry the failure: it runs again, reports, and the plan finishes; the
/// plan keeps the earlier session, and the Zhongshu is told.
async fn retry_the_failure_until_the_plan_finishes(
    d: &Browser,
    api: &Api,
    repo: &support::TestRepo,
    z: &str,
) {
    let failed_id = d.data_of(FAILED_ITEM, "session").await;
    d.click(&format!("{FAILED_ITEM} button[data-action=\"retry\"]"))
        .await;
    d.gone("the retried failure", FAILED_ITEM).await;
    page::wait_group_says(d, z, "plan finished · 3 of 3 ended: 3 reported").await;
    let plan = plan_of(api, z).await;
    assert_eq!(plan["status"], "finished", "{plan}");
    assert_eq!(
        plan["assignments"][1]["earlier_sessions"],
        json!([failed_id])
    );
    wait_log(repo, z, "your plan finished: 3 of 3 ended: 3 reported").await;
}

/// The finished plan: the Zhongshu's row says so, every ended department
/// says how long it ran, the inbox counts the failure as a failure.
async fn check_the_finished_plan(d: &Browser, z: &str) {
    let group = format!(".zgroup[data-id=\"{z}\"]");
    assert!(
        d.text_of(&format!(
            "{group} .session-row[data-id=\"{z}\"] .badge.plan"
        ))
        .await
        .contains("plan finished: 3 of 3 ended: 3 reported"),
        "the Zhongshu's row says it"
    );
    d.wait("durations on the rows",
        "return [...document.querySelectorAll(arguments[0])].every((e) => /^ran \\d/.test(e.textContent));",
        vec![json!(format!("{group} .session-row.kind-department[data-status=\"exited\"] .row-time"))],
    )
    .await;
    let summary = d.text_of("#inbox-summary").await;
    assert!(
        summary.contains("1 failed") && summary.contains("3 reported"),
        "{summary}"
    );
    shoot_both(d, "finished", Some("#sessions-panel"), "sessions-panel").await;
    accessible_in_both_themes(d, "a finished plan").await;
}

/// The drawer: the packet's header as a table, its prose as text, each
/// changed file once, a diff with Back; Esc gives the focus back.
async fn read_the_packet_in_the_drawer(d: &Browser, repo: &support::TestRepo) {
    let open = ".inbox-result[data-department=\"zhilibu\"] button.open-handoff";
    d.present("the zhilibu card", open).await;
    assert!(
        !d.text_of(".inbox-result[data-department=\"zhilibu\"]")
            .await
            .contains("none"),
        "no 'none' rows on a card"
    );
    d.click(open).await;
    d.present(
        "the packet's table",
        "#drawer:not([hidden]) table.packet-meta",
    )
    .await;
    assert_eq!(
        d.text_of("#drawer-title").await,
        "Report of zhilibu 治理部 · governance & docs · zhilibu-1"
    );
    let prose = d.text_of("#drawer .packet-text").await;
    assert!(
        prose.contains("Reword the README"),
        "the objective as text: {prose}"
    );
    assert_eq!(
        d.js(
            "return [document.querySelectorAll('#drawer [data-open-diff][data-path=\"README.md\"]').length, document.querySelectorAll('#drawer .drawer-markdown pre').length];",
            vec![],
        )
        .await,
        json!([1, 0]),
        "the changed file once; no prose left as code"
    );
    shoot_both(d, "drawer", None, "focus-panel").await;
    accessible_in_both_themes(d, "the drawer").await;
    std::fs::write(repo.path.join("README.md"), "# test repo\n\nA new intro.\n").unwrap();
    d.click("#drawer [data-open-diff][data-path=\"README.md\"]")
        .await;
    d.present("the diff", "#drawer table.diff").await;
    d.click("#drawer button.drawer-back").await;
    d.present("the packet again", "#drawer table.packet-meta")
        .await;
    d.press_keys(ESCAPE).await;
    d.present("the drawer to close", "#drawer[hidden]").await;
    d.wait("the focus back on an Open packet button",
        "const a = document.activeElement; return !!a && a.matches('button.open-handoff[data-department=\"zhilibu-1\"]');",
        vec![],
    )
    .await;
}

/// A second plan (two running, one queued) is stopped from its row, after
/// the dialog asks; its group says so with its counts.
async fn stop_a_second_plan_from_its_row(d: &Browser, api: &Api, repo: &support::TestRepo) {
    let long = "[[fake-agent: --no-report --work-seconds 300]]";
    let plan2 = repo.write_json(
        "plan2.json",
        &json!({"summary": "Long work", "assignments": [
            {"department": "lingyubu", "task": format!("Long domain work {long}")},
            {"department": "zhilibu", "task": format!("Long docs work {long}")},
            {"department": "gongchengbu", "task": format!("Long tooling work {long}")},
        ]}),
    );
    let z2 = api
        .start_zhongshu(&format!(
            "Long [[fake-agent: --plan-file {}]]",
            plan2.display()
        ))
        .await;
    api.wait_status("two running, one queued", |s| {
        s["queue"].as_array().map(Vec::len) == Some(1)
            && support::running(&support::departments(s)).len() == 2
    })
    .await;
    let stop = format!(".session-row[data-id=\"{z2}\"] button.act-stop-plan");
    d.present("Stop plan on the row", &stop).await;
    d.click(&stop).await;
    d.present("the stop dialog", "#control-dialog[open]").await;
    let asked = d.text_of("#control-dialog").await;
    assert!(
        asked.contains("2 running departments stop") && asked.contains("1 queued assignment"),
        "{asked}"
    );
    shoot_both(d, "stop-ask", None, "sessions-panel").await;
    accessible_in_both_themes(d, "the stop dialog").await;
    d.click("#control-dialog button[data-choice=\"stop\"]")
        .await;
    wait_plan(api, &z2, "the plan stopped with its counts", |p| {
        p["status"] == "stopped" && p["outcome"]["stopped"] == 3
    })
    .await;
    page::wait_group_says(d, &z2, "plan stopped · 3 of 3 ended: 3 stopped").await;
    shoot_both(d, "stopped", Some("#sessions-panel"), "sessions-panel").await;
    accessible_in_both_themes(d, "a stopped plan").await;
}

/// The README's demo walked in the page with no help: `codex-governance demo`
/// (as `cargo run --release -- demo` runs it), the URL it prints, a plain task
/// typed into the form and *Start planner*. The page says it is a demo of
/// scripted agents (not the unsandboxed warning); the plan registers, its
/// three departments work in their own worktrees and report, and the plan
/// finishes with its counts. Needs you then shows what review is (issue 37
/// item 7): zhilibu asks a question (Confirm), lingyubu strayed outside its
/// scope (REVIEW) and clashes with zhilibu in README.md, and the last card
/// says to apply or merge the three departments' changes, which the drawer
/// does. Shot at both sizes (`control-demo-*.png`); axe finds nothing serious.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_demo_from_a_plain_task_to_a_finished_plan_in_the_page() {
    crate::needs!(Chromium);
    let (mut l, repo, _) = demo::start_demo("press Start planner").await;
    let _cleanup = demo::DemoRepo(repo.clone());
    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact("control-demo-failure.png");
    d.open_dashboard(&l.url, &l.token).await;
    let banner = d
        .wait_text("the demo banner", "#agents-banner:not([hidden])", "Demo")
        .await;
    assert!(
        banner.starts_with("Demo: scripted agents, no Codex.") && !banner.contains("unsandboxed"),
        "{banner}"
    );
    run_a_plain_task_from_the_form(&d, &l.api, &repo).await;
    see_the_end_of_the_demo_and_confirm(&d).await;
    let status = l.api.status().await;
    discard_the_stray_department_and_apply_the_others(&d, &status, &repo).await;
    d.quit().await;
    l.terminate();
}

/// A plain task typed into the form and *Start planner*: the plan finishes,
/// three reports land in the inbox, and each department worked in its own
/// worktree: nothing is in yours yet.
async fn run_a_plain_task_from_the_form(d: &Browser, api: &Api, repo: &Path) {
    d.click("#task").await;
    d.type_into("#task", "Tidy the notes").await;
    d.click("#start-zhongshu").await;
    d.present("the planner's group", ".zgroup[data-id]").await;
    let z = d.data_of(".zgroup[data-id]", "id").await;
    page::wait_group_says(d, &z, "plan finished · 3 of 3 ended: 3 reported").await;
    let plan = plan_of(api, &z).await;
    assert_eq!(plan["status"], "finished", "{plan}");
    assert_eq!(plan["outcome"]["reported"], 3, "{plan}");
    d.wait(
        "three reports in the inbox",
        "return document.querySelectorAll('.inbox-result').length === 3;",
        vec![],
    )
    .await;
    let summary = d.text_of("#inbox-summary").await;
    assert!(summary.contains("3 reported"), "{summary}");
    // Its plan ended: the planner waits on you, not "working", and the demo's
    // scripted agents take no model, so none is shown (walk 4 of issue 49).
    let planner = api.session(&z).await;
    assert_eq!(
        planner["state_text"], "waiting for your review",
        "{planner}"
    );
    d.wait(
        "no model chip for the scripted agents",
        "return document.querySelector('.plan-assignment') && !document.querySelector('.plan-assignment .badge.model') || null;",
        vec![],
    )
    .await;
    for file in ["docs/notes.md", "tests/notes.md", "src/notes.md"] {
        let notes = std::fs::read_to_string(repo.join(file)).unwrap();
        assert!(!notes.contains("Tidy the notes"), "{file}: {notes}");
    }
}

const DEMO_QUEUE: &str = "#needs-you-list .need[data-kind=\"changes\"]";

/// The end of the demo: the last card lists the three departments' changes
/// (lingyubu's with a REVIEW), zhilibu's question is confirmed from Needs you.
async fn see_the_end_of_the_demo_and_confirm(d: &Browser) {
    let card = d
        .wait_text("the last card", DEMO_QUEUE, "apply or merge the three")
        .await;
    assert!(
        card.starts_with("Plan finished: apply or merge the three departments' changes: "),
        "{card}"
    );
    for part in [
        "zhilibu (2 files)",
        "gongchengbu (1 file)",
        "lingyubu (2 files · REVIEW)",
    ] {
        assert!(card.contains(part), "{part} in {card}");
    }
    let ask = "#needs-you-list .need[data-kind=\"confirm\"]";
    let question = d
        .wait_text("zhilibu's question", ask, "Should README.md")
        .await;
    assert!(
        question.contains("Confirm") && question.contains("Reject"),
        "{question}"
    );
    shoot_both(d, "demo-end", None, "terminals-panel").await;
    accessible_in_both_themes(d, "the end of the demo").await;
    d.click(&format!("{ask} button[data-action=\"confirm\"]"))
        .await;
    d.gone("the answered question", ask).await;
}

/// The drawer names lingyubu's stray README.md and its clash; it is
/// discarded (asked first), the other two applied to your tree; the last
/// card goes.
async fn discard_the_stray_department_and_apply_the_others(
    d: &Browser,
    status: &Value,
    repo: &Path,
) {
    let (zhilibu, gongchengbu, lingyubu) = (
        department_id(status, "zhilibu"),
        department_id(status, "gongchengbu"),
        department_id(status, "lingyubu"),
    );
    d.click(&format!("{DEMO_QUEUE} [data-open-changes=\"{lingyubu}\"]"))
        .await;
    d.wait_text(
        "lingyubu's verdict",
        "#drawer .decision-verdict",
        "README.md is outside lingyubu's scope and was not in its report.",
    )
    .await;
    assert!(d
        .text_of("#drawer .decision-verdict")
        .await
        .contains(&format!("It conflicts with {zhilibu}")));
    shoot_both(d, "demo-drawer", None, "terminals-panel").await;
    d.click("#drawer [data-decide=\"discard\"]").await;
    d.click("#drawer [data-confirm=\"discard\"]").await;
    for (dept, applied) in [
        (&zhilibu, "docs/notes.md"),
        (&gongchengbu, "tests/notes.md"),
    ] {
        d.wait_text("the drawer", "#drawer .decision-actions", "Your decision")
            .await;
        d.click(&format!("{DEMO_QUEUE} [data-open-changes=\"{dept}\"]"))
            .await;
        d.wait(
            &format!("{dept}'s changes"),
            "return document.querySelector('#drawer-title').textContent.includes(arguments[0]) && !!document.querySelector('#drawer [data-decide=\"apply\"]');",
            vec![json!(dept)],
        )
        .await;
        d.click("#drawer [data-decide=\"apply\"]").await;
        wait_until(&format!("{applied} applied"), PATIENCE, || async {
            let notes = std::fs::read_to_string(repo.join(applied)).unwrap_or_default();
            notes.contains("Tidy the notes").then_some(())
        })
        .await;
        d.present("Undo", "#drawer button.undo-integration").await;
        // Its branch went with the Apply (walk 4 of issue 49: the drawer
        // still named it as if it were there).
        d.wait_text(
            "the deleted branch said",
            "#drawer .decision-state",
            "is deleted",
        )
        .await;
    }
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    assert!(
        readme.contains("zhilibu (") && !readme.contains("lingyubu ("),
        "{readme}"
    );
    d.gone("the last card", DEMO_QUEUE).await;
}
