//! The dashboard end to end, in headless Chromium, against a real in-process
//! launcher whose agents are the fake agent (`tools/fake-agent`) (SPEC 12).
//!
//! One long scenario, told as named steps (`Steps`), because every step
//! builds on the previous one's state:
//! start a Zhongshu session from the form; its plan arrives; two departments show
//! their live terminals in the grid while the third waits in the queue; typing
//! into a session reaches its PTY; a department finishes and the queued one starts;
//! the report tabs switch (worktree, staged, base with a ref); a second Zhongshu
//! session's plan waits for confirmation and only the ticked, edited assignments
//! start; reports land in the inbox without a reload and are marked read; closing
//! works; losing the launcher shows "reconnecting…". Hostile text is rendered as
//! text throughout and no alert ever fires.
//!
//! Departments are held at a gate (a small shell wrapper around the fake agent
//! that waits for a file the test creates), so the test decides when each one
//! works and reports: nothing depends on timing. Screenshots of the main states,
//! at 1280 px and 760 px, go to `tests/artifacts/dashboard-*.png`.
//!
//! Needs chromium and chromedriver (tools/test.sh installs them); missing ones
//! fail the test with a message, they never skip it.

use crate::common::browser;
use crate::common::launcher as support;
use crate::common::page;
use crate::common::plans::plan_of;

use std::path::{Path, PathBuf};
use std::time::Duration;

use browser::{free_port, save_artifact, Browser, BUFFER_TEXT, ENTER, WAIT};
use serde_json::{json, Value};
use support::git::commit_paths;
use support::{InProcess, RepoOptions, TestRepo};

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// Screenshots at 1280 px and (when `both`) 760 px wide, then back to 1280 px.
async fn shoot(d: &Browser, name: &str, both: bool) {
    let png = full_page(d, 1280).await;
    save_artifact(&format!("dashboard-{name}-1280.png"), &png);
    if both {
        let png = full_page(d, 760).await;
        save_artifact(&format!("dashboard-{name}-760.png"), &png);
    }
    d.resize(1280, 1000).await;
}

/// The whole page: the window is made as tall as the page (so the terminals'
/// frames are painted too), scrolled to the top, and captured once still.
async fn full_page(d: &Browser, width: u32) -> Vec<u8> {
    d.resize(width, 1000).await;
    // The layout and the terminals' fit settle after the resize.
    d.settle().await;
    let height = d
        .js("return document.documentElement.scrollHeight;", vec![])
        .await
        .as_u64()
        .unwrap_or(1000)
        .clamp(600, 7000) as u32;
    d.set_size(width, height).await;
    let inner = d
        .js("return window.innerHeight;", vec![])
        .await
        .as_u64()
        .unwrap_or(0) as u32;
    if inner < height {
        d.set_size(width, (2 * height).saturating_sub(inner).min(7200))
            .await;
    }
    d.scroll_to(None).await;
    d.settle().await;
    d.screenshot_png().await.expect("a screenshot")
}

/// No element was made from agent or user text: the page has no images at all.
async fn assert_no_injected_markup(d: &Browser, when: &str) {
    let imgs = d
        .js(
            "return [document.querySelectorAll('img').length, !!document.querySelector('img[src=\"x\"]')];",
            vec![],
        )
        .await;
    assert_eq!(
        imgs,
        json!([0, false]),
        "{when}: an <img> was created from text"
    );
    assert_eq!(d.open_alert().await, None, "{when}: an alert fired");
}

/// Switches into the grid slot of `session`, waits for `needle` in its xterm
/// buffer, and switches back.
async fn wait_terminal_text(d: &Browser, session: &str, needle: &str) -> String {
    let frame = format!(".slot[data-session=\"{session}\"] iframe.slot-frame");
    d.switch_to_frame(&frame).await;
    let script = format!(
        "const text = (() => {{ {BUFFER_TEXT} }})(); return text.includes(arguments[0]) ? text : null;"
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    let found = loop {
        let v = d.js(&script, vec![json!(needle)]).await;
        if let Some(s) = v.as_str() {
            break s.to_string();
        }
        if tokio::time::Instant::now() >= deadline {
            let all = d
                .js(&format!("return (() => {{ {BUFFER_TEXT} }})();"), vec![])
                .await;
            d.switch_to_parent().await;
            panic!(
                "timed out waiting for {needle:?} in the terminal of {session}; it shows:\n{}",
                all.as_str().unwrap_or("")
            );
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    };
    d.switch_to_parent().await;
    found
}

// ---------------------------------------------------------------------------
// The repository and the agents

/// Wraps the fake agent: a department prints a line, then waits until the test
/// creates `<gates>/<session id>` (or `<gates>/ALL`) before the agent runs.
const GATE_SCRIPT: &str = r#"#!/bin/sh
gates=$1; id=$2; shift 2
if [ "$CODEX_GOVERNANCE_SESSION_KIND" = department ]; then
  echo "GATE $id waiting for the test"
  while [ ! -e "$gates/$id" ] && [ ! -e "$gates/ALL" ]; do sleep 0.1; done
  echo "GATE $id released"
fi
exec "$@"
"#;

struct Scene {
    repo: TestRepo,
    gates: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let repo = TestRepo::new(RepoOptions::default());
        let gates = repo.files.join("gates");
        std::fs::create_dir_all(&gates).unwrap();
        let script = repo.files.join("gate.sh");
        std::fs::write(&script, GATE_SCRIPT).unwrap();
        let mut command = vec![
            "/bin/sh".to_string(),
            script.display().to_string(),
            gates.display().to_string(),
            "{session_id}".into(),
        ];
        command.extend(TestRepo::agent_command(&RepoOptions::default()));
        repo.write_config(&RepoOptions {
            agent_command: Some(command),
            max_departments: 2,
            ..Default::default()
        });
        build_history(&repo.path);
        Scene { repo, gates }
    }

    fn release(&self, id: &str) {
        std::fs::write(self.gates.join(id), b"go").unwrap();
    }
}

/// Two commits, then a working tree with unstaged, staged, untracked, risky,
/// uncategorized and machine-local (preflight) changes.
fn build_history(path: &Path) {
    let write = |p: &str, body: &str| {
        let f = path.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, body).unwrap();
    };
    write(".gitignore", ".tmp/\n");
    write("src/lib.rs", "pub fn answer() -> u32 { 42 }\n");
    commit_paths(
        path,
        &[".gitignore", "README.md", "governance.yaml", "src/lib.rs"],
        "first",
    );
    write("docs/second.md", "# Second\n");
    commit_paths(path, &["docs/second.md"], "second");
    // worktree changes
    write(
        "README.md",
        "# test repo\n\nClone it to /home/alice/src first.\n\n```sh\ncd /Users/bob/src\n```\n",
    );
    write("src/lib.rs", "pub fn answer() -> u32 { 43 }\n");
    write(".env", "SECRET=1\n");
    write("notes.txt", "loose notes\n");
    write("src/staged.rs", "pub fn staged() {}\n");
    let repo = git2::Repository::open(path).unwrap();
    let mut index = repo.index().unwrap();
    index.add_path(Path::new("src/staged.rs")).unwrap();
    index.write().unwrap();
}

fn plan_file(scene: &Scene, name: &str, plan: &Value) -> String {
    scene.repo.write_json(name, plan).display().to_string()
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_end_to_end() {
    crate::needs!(Chromium);
    let _ = std::fs::remove_file(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts/dashboard-failure.png"),
    );
    let scene = Scene::new();
    let launcher = InProcess::start(&scene.repo).await;
    let api = launcher.api.clone();
    let d = Browser::start(1280, 1000)
        .await
        .with_failure_artifact("dashboard-failure.png");
    let s = Steps {
        d: &d,
        api: &api,
        scene: &scene,
    };
    s.open_the_printed_url(&launcher.url, &launcher.token).await;
    s.check_the_empty_page().await;
    s.start_a_planner_with_a_hostile_task().await;
    s.check_the_dispatched_plan_and_the_queue().await;
    s.check_the_terminals_in_the_grid().await;
    s.check_the_responsive_grid().await;
    s.continue_the_planner_from_its_row().await;
    s.release_zhilibu_and_start_the_queued_department().await;
    s.check_the_worktree_report().await;
    s.check_the_staged_report().await;
    s.check_the_base_report().await;
    s.start_a_planner_whose_plan_waits().await;
    s.edit_the_plan_to_confirm().await;
    s.confirm_the_edited_plan().await;
    s.let_every_department_run().await;
    s.close_a_planner_from_its_row().await;
    s.check_the_inbox().await;
    s.mark_all_read().await;
    s.resume_the_running_planner().await;
    // -- the launcher goes away and comes back. An in-process server cannot drop
    // the page's open event stream, so this part runs the real binary on the
    // same state: open its URL, stop it (SIGTERM), then start it again.
    tokio::time::timeout(Duration::from_secs(30), launcher.stop())
        .await
        .expect("the launcher stops while a dashboard is connected");
    let port = s.lose_the_launcher().await;
    let mut second = s.come_back_with_a_new_token(port).await;
    d.quit().await;
    second.terminate();
}

/// The end-to-end scenario's steps, in its order; each builds on the state
/// the previous ones left.
struct Steps<'a> {
    d: &'a Browser,
    api: &'a support::Api,
    scene: &'a Scene,
}

impl Steps<'_> {
    /// Opens the printed URL: the token moves from the fragment to session
    /// storage and leaves the address bar; no cookie is ever set.
    async fn open_the_printed_url(&self, url: &str, token: &str) {
        let d = self.d;
        d.goto(&format!("{url}/#token={token}")).await;
        let location = d.js("return location.href;", vec![]).await;
        assert_eq!(location, json!(format!("{url}/")), "the token left the URL");
        d.wait_text("the live indicator", "#conn", "live").await;
        assert_eq!(
            d.js(
                "return sessionStorage.getItem('codex_governance_token');",
                vec![]
            )
            .await,
            json!(token),
            "the token is in session storage"
        );
        assert_eq!(d.js("return document.cookie;", vec![]).await, json!(""));
        assert_eq!(d.cookies().await, Vec::<Value>::new(), "no cookie at all");
    }

    /// The page itself holds no data: the header fills in from the API; no
    /// session yet, so the grid is one hint.
    async fn check_the_empty_page(&self) {
        let d = self.d;
        let repo_path = self.scene.repo.path.display().to_string();
        d.wait_text("the repository path", "#repo-path", &repo_path)
            .await;
        d.wait_count("the model choices", "#model option", 2).await;
        assert_eq!(
            d.value_of("#model").await,
            json!("gpt-5.5"),
            "the default model is zhongshu_model"
        );
        d.present(
            "the worktree report",
            "#report[data-mode=\"worktree\"] .dept-card",
        )
        .await;
        assert_eq!(
            d.count(".slot.empty").await,
            1,
            "empty slots are collapsed to one hint before any session"
        );
        assert!(
            d.text_of("#grid").await.contains("No terminal yet"),
            "the hint says what will appear"
        );
        shoot(d, "empty", true).await;
    }

    /// Starts a Zhongshu session from the form, with a hostile task and model
    /// gpt-5.4: both arrive unchanged, the task is shown as text.
    async fn start_a_planner_with_a_hostile_task(&self) {
        let d = self.d;
        let plan1 = plan_file(
            self.scene,
            "plan1.json",
            &json!({
                "summary": "Docs, tooling and code in parallel",
                "assignments": [
                    {"department": "zhilibu", "files": ["README.md"], "verify": ["git diff --check"],
                     "reason": "the README changed",
                     "task": format!("Update the README [[fake-agent: --summary '{HOSTILE} README updated' --changed-file README.md --verification 'git diff --check' --risk 'docs may drift from code' --next-action 'review the README wording']]")},
                    {"department": "gongchengbu", "task": "Check the tooling [[fake-agent: --summary 'tooling checked']]"},
                    {"department": "lingyubu", "files": ["src/lib.rs"], "task": "Fix the answer [[fake-agent: --summary 'answer fixed' --changed-file src/lib.rs]]"},
                ]
            }),
        );
        let task1 = format!(
            "Tidy the docs {HOSTILE} and fix the answer [[fake-agent: --plan-file {plan1}]]"
        );
        d.type_into("#task", &task1).await;
        d.click("#model option[value=\"gpt-5.4\"]").await;
        d.click("#start-zhongshu").await;

        d.present("the Zhongshu row", ".session-row[data-id=\"zhongshu-1\"]")
            .await;
        let z1 = self.api.session("zhongshu-1").await;
        assert_eq!(z1["model"], "gpt-5.4", "the chosen model was used");
        assert_eq!(z1["task"], json!(task1), "the task arrived unchanged");
        let shown = d
            .wait_text(
                "the hostile task shown as text",
                ".session-row[data-id=\"zhongshu-1\"] .row-task",
                HOSTILE,
            )
            .await;
        assert!(shown.contains(HOSTILE), "{shown}");
        assert_eq!(d.value_of("#task").await, json!(""), "the form was cleared");
        assert!(d
            .text_of("#start-msg")
            .await
            .starts_with("Started zhongshu-1"));
        // It goes once the next task is typed (walk 4 of issue 49: it stayed).
        d.type_into("#task", "n").await;
        d.wait(
            "the start's news gone",
            "return document.querySelector('#start-msg').textContent === '' || null;",
            vec![],
        )
        .await;
        d.clear("#task").await;
        assert_no_injected_markup(d, "after starting with a hostile task").await;
    }

    /// Its plan arrives, three assignments dispatched: two departments in the
    /// grid, the third queued.
    async fn check_the_dispatched_plan_and_the_queue(&self) {
        let d = self.d;
        d.wait_count("the dispatched plan", "#plan .plan-assignment", 3)
            .await;
        assert!(d.text_of("#plan").await.contains("dispatched"));
        assert_eq!(
            d.value_of("#focus").await,
            json!("zhongshu-1"),
            "the newest Zhongshu is in focus"
        );
        d.present(
            "zhilibu-1 in the grid",
            ".slot[data-session=\"zhilibu-1\"] iframe.slot-frame",
        )
        .await;
        d.present(
            "gongchengbu-1 in the grid",
            ".slot[data-session=\"gongchengbu-1\"] iframe.slot-frame",
        )
        .await;
        d.wait_count("one queued assignment", "#queue .queue-item", 1)
            .await;
        assert!(
            d.text_of("#queue").await.contains("lingyubu"),
            "lingyubu waits in the queue"
        );
        let status = self.api.status().await;
        assert_eq!(status["queue"].as_array().map(Vec::len), Some(1));
    }

    /// Zhongshu first, then its departments, each slot showing its session's
    /// terminal, whose xterm rendered the agent's output; heartbeat and title bar.
    async fn check_the_terminals_in_the_grid(&self) {
        let d = self.d;
        let order = d
            .js(
                "return Array.from(document.querySelectorAll('#grid .slot')).sort((a, b) => a.dataset.slot - b.dataset.slot).map(s => s.dataset.session || 'empty');",
                vec![],
            )
            .await;
        assert_eq!(
            order,
            json!(["zhongshu-1", "zhilibu-1", "gongchengbu-1"]),
            "Zhongshu first, then its departments; no empty slot is drawn"
        );
        for id in ["zhongshu-1", "zhilibu-1", "gongchengbu-1"] {
            let url = self.api.session(id).await["browser_terminal_url"].clone();
            assert!(
                url.as_str()
                    .is_some_and(|u| u.starts_with("http://127.0.0.1:")),
                "{id}: {url}"
            );
            let src = d
                .js(
                    "return document.querySelector(`.slot[data-session=\"${arguments[0]}\"] iframe`).getAttribute('src');",
                    vec![json!(id)],
                )
                .await;
            assert_eq!(src, url, "{id}: the slot shows the session's terminal");
            let title = d
                .text_of(&format!(".slot[data-session=\"{id}\"] .slot-title"))
                .await;
            assert!(title.contains(id), "{id}: slot title {title:?}");
        }
        wait_terminal_text(d, "zhilibu-1", "GATE zhilibu-1 waiting").await;
        wait_terminal_text(d, "gongchengbu-1", "GATE gongchengbu-1 waiting").await;
        wait_terminal_text(d, "zhongshu-1", "FAKE_AGENT_PLAN_STATUS 200").await;
        d.wait_text(
            "a heartbeat",
            ".slot[data-session=\"zhilibu-1\"] .hb",
            "active",
        )
        .await;
        assert!(d
            .text_of(".slot[data-session=\"zhilibu-1\"] .badge")
            .await
            .contains("working"));
    }

    /// A responsive grid: 2×2 at 1280 px, one column at 760 px, never wider
    /// than the window.
    async fn check_the_responsive_grid(&self) {
        let d = self.d;
        let geometry = "const s = Array.from(document.querySelectorAll('#grid .slot')).sort((a, b) => a.dataset.slot - b.dataset.slot).map(e => e.getBoundingClientRect()); return [s[0].left, s[0].top, s[1].left, s[1].top];";
        let g = d.js(geometry, vec![]).await;
        assert!(
            g[0].as_f64() < g[2].as_f64() && g[1] == g[3],
            "2 columns at 1280 px: {g}"
        );
        shoot(d, "running", true).await;
        d.resize(760, 1000).await;
        d.wait(
            "one column at 760 px",
            "const s = Array.from(document.querySelectorAll('#grid .slot')).sort((a, b) => a.dataset.slot - b.dataset.slot).map(e => e.getBoundingClientRect()); return s[0].left === s[1].left && s[1].top > s[0].top;",
            vec![])
        .await;
        page::assert_no_sideways_scroll(d, "the grid at 760 px").await;
        d.resize(1280, 1000).await;
    }

    /// Continue: what is typed into the Zhongshu session from its row reaches
    /// its PTY and its terminal.
    async fn continue_the_planner_from_its_row(&self) {
        let d = self.d;
        d.click(".session-row[data-id=\"zhongshu-1\"] .act-continue")
            .await;
        d.type_into(
            ".session-row[data-id=\"zhongshu-1\"] .continue-input",
            &format!("hello from the dashboard{ENTER}"),
        )
        .await;
        support::wait_log(
            &self.scene.repo,
            "zhongshu-1",
            "ECHO: hello from the dashboard",
        )
        .await;
        wait_terminal_text(d, "zhongshu-1", "ECHO: hello from the dashboard").await;
    }

    /// zhilibu-1 works and reports; the queued lingyubu-1 starts; the
    /// timeline has one row per session.
    async fn release_zhilibu_and_start_the_queued_department(&self) {
        let d = self.d;
        self.scene.release("zhilibu-1");
        d.present(
            "the queued department in the grid",
            ".slot[data-session=\"lingyubu-1\"] iframe.slot-frame",
        )
        .await;
        d.wait_count("an empty queue", "#queue .queue-item", 0)
            .await;
        d.present(
            "zhilibu-1 shown as exited",
            ".session-row[data-id=\"zhilibu-1\"][data-status=\"exited\"]",
        )
        .await;
        wait_terminal_text(d, "lingyubu-1", "GATE lingyubu-1 waiting").await;
        d.wait(
            "a timeline row per session",
            "return document.querySelectorAll('#timeline svg .tl-row').length === 4;",
            vec![],
        )
        .await;
        assert!(
            d.count("#timeline svg .tl-exit").await >= 1,
            "an exit marker for zhilibu-1"
        );
    }

    /// The worktree report: every change, its risk, the preflight findings,
    /// the uncategorized file, and a copy button that confirms.
    async fn check_the_worktree_report(&self) {
        let d = self.d;
        let worktree = d.text_of("#report").await;
        for needle in [
            "zhilibu",
            "README.md",
            "src/lib.rs",
            ".env",
            "notes.txt",
            "git status --short",
            "REVIEW",
            "/home/alice",
        ] {
            assert!(
                worktree.contains(needle),
                "worktree report lacks {needle:?}: {worktree}"
            );
        }
        assert!(
            d.count("#report .report-risks .risk-high").await >= 1,
            "a high risk for .env"
        );
        assert!(
            d.count("#report .report-preflight .violations .finding")
                .await
                >= 1
        );
        assert!(
            d.count("#report .report-preflight .exceptions .finding")
                .await
                >= 1
        );
        assert!(d
            .text_of("#report .report-uncategorized")
            .await
            .contains("notes.txt"));
        the_copy_button_confirms(d, "#report .report-verify .copy-btn").await;
    }

    /// The staged tab: only the staged file, no base form.
    async fn check_the_staged_report(&self) {
        let d = self.d;
        d.click(".report-tab[data-mode=\"staged\"]").await;
        d.present("the staged report", "#report[data-mode=\"staged\"]")
            .await;
        let staged = d.text_of("#report").await;
        assert!(staged.contains("src/staged.rs"), "staged report: {staged}");
        assert!(
            !staged.contains("notes.txt"),
            "untracked files are not staged: {staged}"
        );
        assert!(d.hidden("#report-base-form").await);
    }

    /// The base tab: a bad ref is an error, HEAD~1 shows the second commit;
    /// then back to the worktree.
    async fn check_the_base_report(&self) {
        let d = self.d;
        d.click(".report-tab[data-mode=\"base\"]").await;
        d.wait(
            "the base ref input",
            "return !document.querySelector('#report-base-form').hidden;",
            vec![],
        )
        .await;
        d.clear("#report-base").await;
        d.type_into("#report-base", "no-such-ref").await;
        d.click("#report-base-go").await;
        d.wait("a bad ref error", "const e = document.querySelector('#report-error'); return !e.hidden && e.textContent.includes('no-such-ref');", vec![])
            .await;
        d.clear("#report-base").await;
        d.type_into("#report-base", &format!("HEAD~1{ENTER}")).await;
        d.present(
            "the base report",
            "#report[data-mode=\"base\"][data-base=\"HEAD~1\"]",
        )
        .await;
        let base = d.text_of("#report").await;
        assert!(
            base.contains("docs/second.md"),
            "HEAD~1 shows the second commit: {base}"
        );
        assert!(base.contains("against HEAD~1"), "{base}");
        assert!(d.hidden("#report-error").await);
        d.blur().await;
        shoot(d, "report-base", false).await;
        d.click(".report-tab[data-mode=\"worktree\"]").await;
        d.present(
            "the worktree report again",
            "#report[data-mode=\"worktree\"]",
        )
        .await;
    }

    /// A second Zhongshu whose plan waits for confirmation: its form, in focus.
    async fn start_a_planner_whose_plan_waits(&self) {
        let d = self.d;
        let plan2 = plan_file(
            self.scene,
            "plan2.json",
            &json!({
                "summary": "Confirm before anything runs",
                "needs_confirmation": true,
                "assignments": [
                    {"department": "zhilibu", "task": "Z2 docs", "files": ["README.md"], "reason": "docs"},
                    {"department": "gongchengbu", "task": "Z2 tooling (untick me)"},
                    {"department": "lingyubu", "task": "Z2 code", "files": ["src/lib.rs"]},
                ]
            }),
        );
        d.type_into(
            "#task",
            &format!("Second task [[fake-agent: --plan-file {plan2}]]"),
        )
        .await;
        d.click("#start-zhongshu").await;
        d.wait_count("the plan to confirm", "#plan-form .plan-assignment", 3)
            .await;
        assert_eq!(d.value_of("#focus").await, json!("zhongshu-2"));
        d.wait_text(
            "the awaiting badge",
            ".session-row[data-id=\"zhongshu-2\"] .badge.plan",
            "awaits confirmation",
        )
        .await;
        assert_eq!(
            plan_of(self.api, "zhongshu-2").await["status"],
            "awaiting_confirmation"
        );
    }

    /// Unticks the second assignment, edits the first's task, changes the
    /// third's model; a live refresh does not wipe the edits.
    async fn edit_the_plan_to_confirm(&self) {
        let d = self.d;
        d.click(".plan-assignment[data-index=\"1\"] .pa-select")
            .await;
        d.clear(".plan-assignment[data-index=\"0\"] .pa-task").await;
        d.type_into(
            ".plan-assignment[data-index=\"0\"] .pa-task",
            "Z2 docs, edited in the dashboard",
        )
        .await;
        d.click(".plan-assignment[data-index=\"2\"] .pa-model option[value=\"gpt-5.5\"]")
            .await;
        d.wait_text(
            "the confirm button count",
            "#plan-confirm",
            "Start 2 ticked assignments",
        )
        .await;
        // an SSE-driven refresh must not wipe the edits
        self.api
            .post_ok(
                "/api/session_input",
                &json!({"session_id": "zhongshu-1", "input": "poke"}),
            )
            .await;
        let seq = self.api.status().await["audit_seq"]
            .as_u64()
            .expect("an audit seq");
        d.wait_applied(seq).await;
        assert_eq!(
            d.js("return [document.querySelector('.plan-assignment[data-index=\"0\"] .pa-task').value, document.querySelector('.plan-assignment[data-index=\"1\"] .pa-select').checked, document.querySelector('.plan-assignment[data-index=\"2\"] .pa-model').value];", vec![]).await,
            json!(["Z2 docs, edited in the dashboard", false, "gpt-5.5"]),
            "edits survive live refreshes"
        );
        shoot(d, "plan-confirm", true).await;
    }

    /// Confirmed: only the ticked, edited assignments start, and wait in the
    /// queue behind zhongshu-1's departments; the grid leads with zhongshu-2.
    async fn confirm_the_edited_plan(&self) {
        let d = self.d;
        d.click("#plan-confirm").await;
        d.wait_count("the dispatched plan view", "#plan .plan-assignment.view", 3)
            .await;
        let plan = plan_of(self.api, "zhongshu-2").await;
        assert_eq!(plan["status"], "dispatched", "{plan}");
        let a = &plan["assignments"];
        assert_eq!(a[0]["task"], "Z2 docs, edited in the dashboard", "{plan}");
        assert_eq!(a[1]["selected"], false, "{plan}");
        assert_eq!(a[1]["status"], "skipped", "{plan}");
        assert_eq!(a[2]["model"], "gpt-5.5", "{plan}");
        assert_ne!(a[0]["status"], "skipped", "{plan}");
        assert_ne!(a[2]["status"], "skipped", "{plan}");
        assert!(d.text_of("#plan").await.contains("skipped"));
        // both slots are taken by zhongshu-1's departments: zhongshu-2's two wait
        d.wait_count(
            "zhongshu-2's two queued assignments",
            "#queue .queue-item",
            2,
        )
        .await;
        let queue = self.api.status().await["queue"].clone();
        let queued: Vec<&str> = queue
            .as_array()
            .unwrap()
            .iter()
            .filter(|q| q["parent_session_id"] == "zhongshu-2")
            .map(|q| q["department"].as_str().unwrap())
            .collect();
        assert_eq!(
            queued,
            ["zhilibu", "lingyubu"],
            "only the ticked assignments: {queue}"
        );
        assert_eq!(
            queue
                .as_array()
                .unwrap()
                .iter()
                .find(|q| q["department"] == "zhilibu")
                .unwrap()["task"],
            "Z2 docs, edited in the dashboard"
        );
        d.wait(
            "zhongshu-2 in the first slot",
            "const s = document.querySelector('#grid .slot[data-slot=\"0\"]'); return s && s.dataset.session === 'zhongshu-2';",
            vec![])
        .await;
    }

    /// Every department runs; the queue drains; a timeline row per session.
    async fn let_every_department_run(&self) {
        let d = self.d;
        self.scene.release("ALL");
        // Five departments through two slots, each with its worktree and
        // review: a busy machine takes longer than one patience for that.
        support::wait_showing(
            "every department to finish",
            support::PATIENCE * 3,
            || async {
                let s = self.api.status().await;
                let ds = support::departments(&s);
                let queue = s["queue"].as_array().map_or(0, |q| q.len());
                let states: Vec<String> = ds
                    .iter()
                    .map(|d| format!("{} {}", d["id"], d["status"]))
                    .collect();
                match queue == 0 && ds.len() == 5 && ds.iter().all(|d| d["status"] == "exited") {
                    true => Ok(()),
                    false => Err(format!("{queue} queued; {}", states.join(", "))),
                }
            },
        )
        .await;
        d.wait_count("an empty queue at the end", "#queue .queue-item", 0)
            .await;
        d.wait(
            "a timeline row per session at the end",
            "return document.querySelectorAll('#timeline svg .tl-row').length === 7;",
            vec![],
        )
        .await;
        assert_no_injected_markup(d, "after the departments ran").await;
    }

    /// Closes a planner from its row: a dialog asks first.
    async fn close_a_planner_from_its_row(&self) {
        let d = self.d;
        d.click(".session-row[data-id=\"zhongshu-2\"] .act-close")
            .await;
        d.present("the close dialog", "#control-dialog[open]").await;
        d.click("#control-dialog button[data-choice=\"keep\"]")
            .await;
        self.api
            .wait_session("zhongshu-2", "closed", |s| s["status"] == "exited")
            .await;
        d.present(
            "zhongshu-2 shown as exited",
            ".session-row[data-id=\"zhongshu-2\"][data-status=\"exited\"]",
        )
        .await;
    }

    /// zhongshu-1's results land in the inbox without a reload (mailbox
    /// ingestion): the hostile summary as text, every part of the report, the
    /// handoff packet, unread; report marks on the timeline.
    async fn check_the_inbox(&self) {
        let d = self.d;
        d.click("#focus option[value=\"zhongshu-1\"]").await;
        let card = ".inbox-result[data-department=\"zhilibu\"]";
        d.present("zhilibu's result in the inbox", card).await;
        let summary = d.text_of(&format!("{card} .result-summary")).await;
        assert!(
            summary.contains(HOSTILE),
            "the hostile summary is shown as text: {summary:?}"
        );
        assert_no_injected_markup(d, "after a hostile result summary").await;
        let body = d.text_of(card).await;
        for needle in [
            "README.md",
            "git diff --check",
            "docs may drift from code",
            "review the README wording",
            "mailbox",
            "zhilibu-1",
        ] {
            assert!(
                body.contains(needle),
                "the result card lacks {needle:?}: {body}"
            );
        }
        let handoff = d.text_of(&format!("{card} .result-paths code.path")).await;
        assert!(
            handoff.contains("handoff-") && handoff.ends_with(".md"),
            "handoff path {handoff:?}"
        );
        assert!(
            Path::new(&handoff).exists(),
            "the handoff packet exists: {handoff}"
        );
        assert_eq!(d.data_of(card, "read").await, "false");
        d.wait_count("three results for zhongshu-1", "#inbox .inbox-result", 3)
            .await;
        assert!(
            d.count("#timeline svg .tl-report").await >= 3,
            "report markers on the timeline"
        );
        shoot(d, "inbox", true).await;
    }

    /// Mark all read is the developer's read state (issue 37): every card is
    /// seen, kept by the launcher; what the planner has not read stays so.
    async fn mark_all_read(&self) {
        let inbox_url = "/api/zhongshu_inbox?id=zhongshu-1&peek=1";
        let planner_unread = self.api.get_ok(inbox_url).await["unread_count"].clone();
        self.d.click("#inbox-mark-read").await;
        self.d
            .wait_count(
                "every result seen",
                "#inbox .inbox-result[data-seen=\"true\"]",
                3,
            )
            .await;
        let inbox = self.api.get_ok(inbox_url).await;
        assert_eq!(inbox["unread_count"], planner_unread, "{inbox}");
        assert!(
            inbox["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["seen"] == true),
            "{inbox}"
        );
    }

    /// Resumes the running Zhongshu: a resume prompt is typed into it.
    async fn resume_the_running_planner(&self) {
        let d = self.d;
        d.click(".session-row[data-id=\"zhongshu-1\"] .act-resume")
            .await;
        d.click(".session-row[data-id=\"zhongshu-1\"] .resume-form button[type=\"submit\"]")
            .await;
        d.wait(
            "the resume notice",
            "return Array.from(document.querySelectorAll('#toasts .toast-info')).some(t => /resume prompt|Resumed/.test(t.textContent));",
            vec![])
        .await;
    }

    /// The launcher binary on the same state: the page, on its URL, shows
    /// the earlier sessions, then says "reconnecting" once it is stopped.
    /// Returns the port it served on.
    async fn lose_the_launcher(&self) -> u16 {
        let d = self.d;
        let port = free_port();
        let mut first = support::spawn_launcher_at(&self.scene.repo.path, port);
        d.goto(&format!("{}/#token={}", first.url, first.token))
            .await;
        d.wait_text("live on the binary", "#conn", "live").await;
        d.present(
            "the sessions of the earlier launcher",
            ".session-row[data-id=\"zhongshu-1\"][data-status=\"exited\"]",
        )
        .await;
        first.terminate();
        d.wait_text("the reconnecting indicator", "#conn", "reconnecting")
            .await;
        shoot(d, "reconnecting", false).await;
        port
    }

    /// Back on the same port: the token was kept for the state folder, so
    /// the open page is live again without a reload (issue 49 item 2). Then
    /// the user rotates the token (`url --new-token`) and starts it again:
    /// the page says what to do; a token put in the fragment of the open page
    /// is refused, one opened afresh is taken. Returns the launcher, still
    /// running.
    async fn come_back_with_a_new_token(&self, port: u16) -> support::Subprocess {
        let d = self.d;
        let mut kept = support::spawn_launcher_at(&self.scene.repo.path, port);
        d.wait_text("live again, on the kept token", "#conn", "live")
            .await;
        assert!(
            d.hidden("#auth-banner").await,
            "no token banner: it was kept"
        );
        kept.terminate();
        d.wait_text("reconnecting again", "#conn", "reconnecting")
            .await;
        let repo = self.scene.repo.path.to_str().unwrap();
        let (code, _, err) = support::run_binary(&["url", "--new-token", "--repo", repo]);
        assert_eq!(code, 0, "{err}");
        let second = support::spawn_launcher_at(&self.scene.repo.path, port);
        d.wait(
            "the token banner",
            "return !document.querySelector('#auth-banner').hidden;",
            vec![],
        )
        .await;
        // Said in words, the command as code; Start is off and says why
        // (walk 4 of issue 49: raw backticks, and Start pressable into
        // "missing or wrong token: send Authorization: Bearer <token>").
        let said = d
            .js(
                "const b = document.querySelector('#auth-banner'); \
                 return [b.textContent, (b.querySelector('code') || {}).textContent || null, \
                 document.querySelector('#start-zhongshu').disabled, \
                 document.querySelector('#start-msg').textContent];",
                vec![],
            )
            .await;
        assert!(!said[0].as_str().unwrap().contains('`'), "{said}");
        assert_eq!(said[1], "codex-governance url", "{said}");
        assert_eq!(said[2], true, "Start is off: {said}");
        assert!(
            said[3].as_str().unwrap().contains("the launcher's token"),
            "{said}"
        );
        // Same page, new fragment: a token that appears after the page loaded is
        // never taken, since an in-page link could put one there (issue 23); the
        // page clears it and says how to use it.
        d.goto(&format!("{}/#token={}", second.url, second.token))
            .await;
        d.wait(
            "the late token refused",
            "const t = [...document.querySelectorAll('.toast')].find(t => t.textContent.includes('was ignored')); \
             return t && location.hash === '' ? t.textContent : null;",
            vec![])
        .await;
        assert!(!d.hidden("#auth-banner").await, "still the old token");
        // Opened afresh (as in a new tab), the page takes it.
        d.goto("about:blank").await;
        d.goto(&format!("{}/#token={}", second.url, second.token))
            .await;
        d.wait_text("live again", "#conn", "live").await;
        assert!(d.hidden("#auth-banner").await, "the token banner went away");
        d.wait(
            "Start on again",
            "return !document.querySelector('#start-zhongshu').disabled || null;",
            vec![],
        )
        .await;
        // The same URL opened again in this tab is no news: no warning
        // (found walking as a new user).
        d.js(
            "document.querySelectorAll('.toast').forEach((t) => t.remove());",
            vec![],
        )
        .await;
        d.goto(&format!("{}/#token={}", second.url, second.token))
            .await;
        d.wait(
            "the address cleared",
            "return location.hash === '';",
            vec![],
        )
        .await;
        d.settle().await;
        let warned = d
            .js(
                "return [...document.querySelectorAll('.toast')].filter(t => t.textContent.includes('was ignored')).length;",
                vec![],
            )
            .await;
        assert_eq!(warned, json!(0), "the page's own token is not a late one");
        d.present(
            "the sessions after the restart",
            ".session-row[data-id=\"zhongshu-2\"][data-status=\"exited\"]",
        )
        .await;
        assert_no_injected_markup(d, "at the end").await;
        second
    }
}

/// Issue 37 item 3, terminal agents: once a PTY agent's session ended, its
/// tile shows its whole transcript as text (not only the terminal's last
/// 64 KB), scrollable; a character the agent's output split across two
/// chunks (治 as two bytes, the third after a pause) reads whole, and so do
/// the characters around every cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_pty_sessions_whole_transcript_is_in_its_tile() {
    crate::needs!(Chromium);
    // 2,000 lines of 64 bytes (128 KB) after the first, then the split character.
    let script = "printf 'FIRST-LINE 治理部\\n'; \
         i=0; while [ $i -lt 2000 ]; do \
           printf 'line %04d ........................................ 中书省\\n' $i; i=$((i+1)); done; \
         printf 'SPLIT \\346\\262'; sleep 1; printf '\\273\\347\\220\\206\\351\\203\\250 END\\n'";
    let repo = TestRepo::new(RepoOptions {
        agent_command: Some(vec!["/bin/sh".into(), "-c".into(), script.into()]),
        ..Default::default()
    });
    let launcher = InProcess::start(&repo).await;
    let api = launcher.api.clone();
    let z = api.start_zhongshu("print and end").await;
    api.wait_session(&z, "ended", |s| s["status"] == "exited")
        .await;
    let d = Browser::start(1280, 900)
        .await
        .with_failure_artifact("pty-transcript-failure.png");
    d.goto(&format!("{}/#token={}", launcher.url, launcher.token))
        .await;
    let tile = format!(".slot[data-session=\"{z}\"]");
    let text = d
        .wait_js(
            "the whole transcript in the tile",
            "const c = document.querySelector(arguments[0] + ' .conversation[data-kind=\"transcript\"]');
             const t = c && c.textContent;
             return t && t.includes('END') ? t : null;",
            vec![json!(tile)],
            WAIT,
        )
        .await;
    let text = text.as_str().unwrap();
    assert!(text.contains("FIRST-LINE 治理部"), "the start is there");
    assert!(text.contains("line 1999"), "and everything after it");
    assert!(
        text.contains("SPLIT 治理部 END"),
        "the split character is whole"
    );
    assert!(!text.contains('\u{fffd}'), "no broken character");
    assert_eq!(
        d.count(&format!("{tile} iframe")).await,
        0,
        "the ended terminal's frame gives way to the transcript"
    );
    let scrolls = d
        .js(
            "const l = document.querySelector(arguments[0] + ' .conv-log');
             return [getComputedStyle(l).overflowY, l.scrollHeight > l.clientHeight];",
            vec![json!(tile)],
        )
        .await;
    assert_eq!(scrolls, json!(["auto", true]), "it scrolls");
    // The preview cut in the middle of the output starts at a whole character.
    let preview = api.session(&z).await["transcript_preview"].clone();
    assert!(
        preview.as_str().is_some_and(|p| !p.contains('\u{fffd}')),
        "{preview}"
    );
    shoot(&d, "pty-transcript", false).await;
    page::accessible_then_toggled(&d, "a finished PTY transcript").await;
    d.quit().await;
    launcher.stop().await;
}

/// Clicks the copy button at `css` until it says "copied": that shows for
/// 1.5 s only, and a live update may draw the report anew under the click
/// (it failed so once in a fresh-clone run), so an observer set before the
/// click catches it, and a click a new drawing took is made again.
async fn the_copy_button_confirms(d: &Browser, css: &str) {
    let watch = "window.__copied = false; const sel = arguments[0]; \
        new MutationObserver(() => { \
          if ([...document.querySelectorAll(sel)].some(b => b.textContent === 'copied')) \
            window.__copied = true; \
        }).observe(document.body, {subtree: true, childList: true, characterData: true}); \
        return true;";
    d.js(watch, vec![serde_json::json!(css)]).await;
    for _ in 0..5 {
        d.click(css).await;
        for _ in 0..30 {
            if d.js("return window.__copied === true", vec![]).await == serde_json::json!(true) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    d.wait_text("the copy button to confirm", css, "copied")
        .await;
}
