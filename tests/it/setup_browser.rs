//! Setup and configuration in the page (issue 37 item 5), against a real
//! launcher (fake agent) and headless Chromium: a misspelt key is a warning
//! in the page's banner with the file, the line and the closest key, under
//! one prefix on the terminal too; an invalid glob stops the load, naming
//! the pattern, its key, its line and what is wrong. A `governance.yaml`
//! edited while the launcher runs is a banner naming the changed keys, when
//! they apply, and why the file as it is now would not load (issue 49 item 5).

use crate::common::browser;
use crate::common::launcher as support;
use crate::common::page;

use browser::Browser;
use support::*;

/// The repository's `governance.yaml` with `extra` appended under `launcher:`.
fn with_launcher_lines(repo: &TestRepo, extra: &str) {
    let config = repo.path.join("governance.yaml");
    let mut yaml = std::fs::read_to_string(&config).unwrap();
    yaml.push_str(extra);
    std::fs::write(&config, yaml).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_key_is_a_warning_in_the_page_with_its_line_and_the_closest_key() {
    crate::needs!(Chromium);
    let repo = TestRepo::new(RepoOptions::default());
    with_launcher_lines(&repo, "  max_departmens: 4\n");
    let line = std::fs::read_to_string(repo.path.join("governance.yaml"))
        .unwrap()
        .lines()
        .position(|l| l.contains("max_departmens"))
        .unwrap()
        + 1;
    let launcher = InProcess::start(&repo).await;
    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact("setup-config-failure.png");
    d.open_dashboard(&launcher.url, &launcher.token).await;
    let said = d
        .wait_text(
            "the configuration warning in the page",
            "#config-banner:not([hidden])",
            "max_departmens",
        )
        .await;
    let expected = format!(
        "governance.yaml:{line}: unknown key launcher.max_departmens ignored (did you mean launcher.max_departments?)"
    );
    assert_eq!(
        d.text_of("#config-banner li").await,
        expected,
        "one warning, its file from the root, its line: {said}"
    );
    assert!(said.starts_with("Configuration: 1 warning"), "{said}");
    assert!(!said.contains("?."), "no stray optional marker: {said}");
    d.shoot("setup-config-warning-1440x900.png", None).await;
    page::accessible_then_toggled(&d, "the configuration banner").await;
    d.quit().await;
    launcher.stop().await;

    // The terminal says the same under the launcher's one prefix.
    let out = base_command()
        .args(["report", "--repo"])
        .arg(&repo.path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines()
            .any(|l| l.starts_with("codex-governance: warning: ") && l.ends_with(&expected)),
        "{err}"
    );
    assert!(
        !err.lines().any(|l| l.starts_with("warning:")),
        "one prefix: {err}"
    );
}

#[test]
fn an_invalid_glob_is_an_error_at_load_naming_the_pattern() {
    let repo = TestRepo::new(RepoOptions::default());
    let config = repo.path.join("governance.yaml");
    let mut yaml = std::fs::read_to_string(&config).unwrap();
    yaml.push_str("departments:\n  code:\n    title: Code\n    globs:\n      - 'src/[**'\n");
    std::fs::write(&config, &yaml).unwrap();
    let line = yaml.lines().position(|l| l.contains("src/[**")).unwrap() + 1;
    for args in [vec!["report"], vec!["serve", "--port", "0"]] {
        let out = base_command()
            .args(&args)
            .arg("--repo")
            .arg(&repo.path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} refused: {err}");
        assert!(
            err.contains(&format!(
                "governance.yaml:{line}: departments.code.globs[0]: the glob \"src/[**\" is not valid: the '[' at character 5 is never closed"
            )),
            "{args:?}: {err}"
        );
    }
}

/// Issue 49 item 5: an edit of governance.yaml while the launcher runs is
/// noticed: the banner lists the changed keys, says they apply at the next
/// start and, for a value the next start would refuse, says so with its
/// line; put back as it was, the banner goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_while_running_is_a_banner_naming_the_keys_and_when_they_apply() {
    crate::needs!(Chromium);
    let repo = TestRepo::new(RepoOptions::default());
    let config = repo.path.join("governance.yaml");
    let started = std::fs::read_to_string(&config).unwrap();
    let launcher = InProcess::start(&repo).await;
    let d = Browser::start(1440, 900)
        .await
        .with_failure_artifact("setup-config-edited-failure.png");
    d.open_dashboard(&launcher.url, &launcher.token).await;
    d.present("the page", "#config-banner").await;
    assert!(d.hidden("#config-banner").await, "nothing to say at first");

    with_launcher_lines(&repo, "  scope: warm\n  merge: history\n");
    let line = started.lines().count() + 1;
    let said = d
        .wait_text(
            "the banner about the edit",
            "#config-banner:not([hidden]) .config-changed",
            "changed since",
        )
        .await;
    assert_eq!(
        said,
        "governance.yaml changed since the launcher started: launcher.scope, launcher.merge. \
         The launcher keeps the configuration it started with: these changes apply at the \
         next start."
    );
    assert_eq!(
        d.text_of("#config-banner .config-changed-problem code")
            .await,
        format!(
            "governance.yaml:{line}: launcher.scope: \"warm\" is not allowed: one of warn, \
             block (did you mean warn?)"
        )
    );
    d.shoot("setup-config-edited-1440x900.png", None).await;
    page::accessible_then_toggled(&d, "the banner about the edit").await;

    std::fs::write(&config, &started).unwrap();
    d.gone(
        "the banner about the edit",
        "#config-banner .config-changed",
    )
    .await;
    assert!(d.hidden("#config-banner").await, "as it started: no banner");
    d.quit().await;
    launcher.stop().await;
}
