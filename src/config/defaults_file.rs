//! `codex-governance init`: the defaults for this repository as a commented
//! `governance.yaml` (fitted to it, or the Python tool's where it was), so a
//! team starts from a file it can read and change.

use std::path::Path;

use super::{
    default_agent_command, departments_for, landing_checks_for, portability_paths_for,
    risk_rules_for,
};

/// The defaults for `repo` (its checks come from what it is), as a YAML file
/// with a comment per section.
pub fn commented_defaults(repo: &Path) -> String {
    let mut out = String::from(
        "# governance.yaml: codex-governance's configuration (the Python tool's file works too).\n\
         # Every section is optional: a missing one is the one below, the defaults\n\
         # `codex-governance init` chose for this repository.\n\n\
         # Departments: key -> title, duty, globs (changed files they own), verify (checks).\n\
         departments:\n",
    );
    for d in departments_for(repo) {
        out.push_str(&format!(
            "  {}:\n    title: {}\n    duty: {}\n",
            d.key,
            q(&d.title),
            q(&d.duty)
        ));
        out.push_str(&list("    globs", &d.globs));
        out.push_str(&list("    verify", &d.verify));
    }
    out.push_str(
        "\n# Risk rules: a changed path containing `pattern` (unless it matches allow_pattern).\n\
         # level: high, medium or low.\nrisk_rules:\n",
    );
    for r in risk_rules_for(repo) {
        out.push_str(&format!(
            "  - name: {}\n    level: {}\n    pattern: {}\n    message: {}\n",
            q(&r.name),
            r.level.as_str(),
            q(&r.pattern),
            q(&r.message)
        ));
        if let Some(a) = &r.allow_pattern {
            out.push_str(&format!("    allow_pattern: {}\n", q(a)));
        }
    }
    out.push_str("\n# Preflight: Markdown files scanned for machine-specific paths.\npreflight:\n");
    out.push_str(&list("  portability_paths", &portability_paths_for(repo)));
    out.push_str(
        "\n# The launcher. backend: codex (Codex's app-server; the default command) or pty.\nlauncher:\n",
    );
    out.push_str(
        "  # The agent program (the default needs no trust; another one asks before it runs).\n",
    );
    out.push_str(&list("  # agent_command", &default_agent_command()));
    out.push_str(
        "  max_departments: 2\n  max_zhongshu: 4\n  require_plan_confirmation: false\n  \
         # backend: codex\n",
    );
    out.push_str(&crate::agents::BackendWords::commented_defaults());
    out.push_str(
        "  # Each department works in its own git worktree (shared: the one working tree).\n  \
         isolation: worktree\n  \
         # Out-of-scope changes: warn (a REVIEW finding) or block (integrate only with an override).\n  \
         scope: warn\n  \
         # Run a Zhongshu's proposed integration without asking you.\n  \
         auto_integrate: false\n  \
         # auto: sparse for large trees when the department has a scope; full; sparse.\n  \
         worktree_checkout: auto\n  \
         # Paths every sparse worktree checks out too (what builds need).\n  \
         worktree_include: []\n  \
         # Largest file a department's work is recorded with (bytes); a larger one\n  \
         # stays in its worktree, named as a finding.\n  \
         worktree_max_file_bytes: 52428800\n  \
         # Merge: squash (one commit per department attempt, in your name) or history\n  \
         # (a merge commit keeping the department's own commits).\n  \
         merge: squash\n  \
         # Days a discarded department's branch is kept (worktrees --prune deletes it after).\n  \
         keep_discarded_days: 7\n",
    );
    out.push_str(
        "  # Pull request, a fourth way to integrate: the branch is pushed to `remote`\n  \
         # with your Git credentials and a pull request opened through the forge's API\n  \
         # (token from GITHUB_TOKEN, GH_TOKEN or `gh auth token`; never stored).\n  \
         pull_requests:\n    remote: origin\n    api_url: https://api.github.com\n    \
         # repo: owner/name   (derived from the remote's URL)\n    \
         # base: main         (default: your current branch)\n    \
         # A failing check sends the work back to its department without a click,\n    \
         # at most max_send_backs times per pull request.\n    \
         auto_send_back: false\n    max_send_backs: 2\n    poll_seconds: 30\n    \
         # A merged pull request's branch is deleted on the remote unless kept.\n    \
         keep_branch: false\n",
    );
    out.push_str(
        "  # A new department worktree made ready before its agent starts (README:\n  \
         # \"Worktrees that build\"): setup commands run in it as you (a failure\n  \
         # waits for you), teardown before it is removed, copy brings untracked or\n  \
         # ignored files (globs) from your tree.\n  \
         worktree:\n    setup: []\n    setup_timeout_seconds: 600\n    teardown: []\n    \
         copy: []\n",
    );
    // Off until you turn it on: its commands would ask for trust, and where
    // no sandbox runs them (macOS, Windows) every Merge would be refused.
    out.push_str(
        "  # Verified landing (README): a Merge lands only after these checks pass on\n  \
         # its exact tree (your branch as it is now, plus its change), run by the\n  \
         # launcher in Codex's sandbox on Linux (no network unless agent_network).\n  \
         # landing:\n",
    );
    out.push_str(&list("  #   verify", &landing_checks_for(repo)));
    out.push_str("  #   timeout_seconds: 1800\n  #   on_failure: send_back\n  #   parallel: 1\n");
    out
}

/// A YAML string in double quotes (JSON strings are valid YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

fn list(key: &str, items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("{key}: [{}]\n", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_defaults_load_as_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), "[package]\n").unwrap();
        let defaults =
            super::super::Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let written = commented_defaults(dir.path());
        assert!(written.contains("cargo test"), "{written}");
        assert!(
            written.contains("  # landing:\n  #   verify: [\"cargo test\"]\n"),
            "{written}"
        );
        assert!(!written.contains("codex_governance.py"), "{written}");
        std::fs::write(dir.path().join(super::super::CONFIG_FILE), written).unwrap();
        let loaded = super::super::Config::load_with_env(dir.path(), &Default::default()).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        // Issue 49 item 3: what init writes is the user's own and asks nothing.
        assert!(!loaded.trust.asks_anything(), "{:?}", loaded.trust.asks);
        // What init wrote is what loads, and what applies without a file
        // (issue 49 item 4): the defaults fitted to this repository.
        assert_eq!(
            loaded.departments,
            super::super::departments_for(dir.path())
        );
        assert_eq!(loaded.risk_rules, super::super::risk_rules_for(dir.path()));
        assert_eq!(defaults.departments, loaded.departments);
        assert_eq!(defaults.risk_rules, loaded.risk_rules);
        assert_eq!(defaults.preflight, loaded.preflight);
        assert_eq!(loaded.launcher.agent, defaults.launcher.agent);
        assert_eq!(loaded.launcher.isolation, defaults.launcher.isolation);
    }
}
