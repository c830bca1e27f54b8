//! The governance report against real repositories built in temporary folders.

use crate::common::footprint;
use crate::common::git;

use std::fs;
use std::path::Path;

use codex_governance::config::{Config, Env};
use codex_governance::report::{
    build_report, render_markdown, render_text, route_path, Classification, Decision, Mode,
    PatternKind, Report, ReportError,
};
use git2::{IndexAddOption, Repository};
use serde_json::Value;
use tempfile::TempDir;

/// A scratch repository driven through git2.
struct TestRepo {
    dir: TempDir,
    git: Repository,
}

impl TestRepo {
    fn new() -> TestRepo {
        let dir = tempfile::tempdir().unwrap();
        let git = Repository::init(dir.path()).unwrap();
        TestRepo { dir, git }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, content: &str) -> &Self {
        let path = self.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
        self
    }

    fn remove(&self, rel: &str) -> &Self {
        fs::remove_file(self.path().join(rel)).unwrap();
        self
    }

    /// `git add -A`.
    fn stage_all(&self) -> &Self {
        let mut index = self.git.index().unwrap();
        index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
        index.update_all(["*"], None).unwrap();
        index.write().unwrap();
        self
    }

    /// `git add PATH` (or `git rm --cached PATH` when the file is gone).
    fn stage(&self, rel: &str) -> &Self {
        let mut index = self.git.index().unwrap();
        if self.path().join(rel).exists() {
            index.add_path(Path::new(rel)).unwrap();
        } else {
            index.remove_path(Path::new(rel)).unwrap();
        }
        index.write().unwrap();
        self
    }

    /// Commits the index; returns the commit id as hex.
    fn commit(&self, message: &str) -> String {
        git::commit_index(&self.git, message)
    }

    fn config(&self) -> Config {
        Config::load_with_env(self.path(), &Env::new()).unwrap()
    }

    fn report(&self, mode: Mode) -> Report {
        build_report(self.path(), &self.config(), &mode).unwrap()
    }

    fn changed(&self, mode: Mode) -> Vec<String> {
        self.report(mode).changed_paths
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A repository with a committed `governance.yaml` and a few files.
fn committed(config: &str, files: &[&str]) -> TestRepo {
    let repo = TestRepo::new();
    if !config.is_empty() {
        repo.write("governance.yaml", config);
    }
    for f in files {
        repo.write(f, &format!("content of {f}\n"));
    }
    repo.stage_all();
    repo.commit("initial");
    repo
}

#[test]
fn worktree_has_staged_unstaged_untracked_and_deleted() {
    let repo = committed("", &["a.txt", "b.txt", "c.txt", "keep.txt"]);
    repo.write("a.txt", "unstaged edit\n");
    repo.write("b.txt", "staged edit\n").stage("b.txt");
    repo.remove("c.txt");
    repo.write("new/deep/er/x.txt", "untracked\n");
    repo.write("new/y.txt", "untracked\n");
    let all = ["a.txt", "b.txt", "c.txt", "new/deep/er/x.txt", "new/y.txt"];
    assert_eq!(repo.changed(Mode::Worktree), strings(&all));
    let report = repo.report(Mode::Worktree);
    assert_eq!(report.changed_count, 5);
    assert_eq!(report.base, None);
    assert_eq!(repo.changed(Mode::Staged), strings(&["b.txt"]));
}

#[test]
fn staged_rename_shows_the_new_path_only() {
    let repo = committed("", &["keep.txt"]);
    repo.write(
        "old name.txt",
        "a file long enough to be recognised as renamed\n"
            .repeat(5)
            .as_str(),
    );
    repo.stage_all();
    repo.commit("add");
    fs::create_dir_all(repo.path().join("moved")).unwrap();
    fs::rename(
        repo.path().join("old name.txt"),
        repo.path().join("moved/new name.txt"),
    )
    .unwrap();
    repo.stage("old name.txt").stage("moved/new name.txt");
    assert_eq!(repo.changed(Mode::Staged), strings(&["moved/new name.txt"]));
    assert_eq!(
        repo.changed(Mode::Worktree),
        strings(&["moved/new name.txt"])
    );
    // Edited after staging the rename: still one path.
    repo.write("moved/new name.txt", "changed\n");
    assert_eq!(
        repo.changed(Mode::Worktree),
        strings(&["moved/new name.txt"])
    );
}

#[test]
fn unstaged_rename_includes_the_new_path() {
    let repo = committed("", &["keep.txt"]);
    repo.write(
        "old.txt",
        &"some stable content for rename detection\n".repeat(5),
    );
    repo.stage_all();
    repo.commit("add");
    fs::rename(repo.path().join("old.txt"), repo.path().join("new.txt")).unwrap();
    let changed = repo.changed(Mode::Worktree);
    assert!(changed.contains(&"new.txt".to_string()), "{changed:?}");
    let base = repo.changed(Mode::Base("HEAD".into()));
    assert_eq!(base, strings(&["new.txt"]), "base mode detects the rename");
}

#[test]
fn staged_deletion_is_reported() {
    let repo = committed("", &["a.txt", "b.txt"]);
    repo.remove("a.txt").stage("a.txt");
    assert_eq!(repo.changed(Mode::Staged), strings(&["a.txt"]));
    assert_eq!(repo.changed(Mode::Worktree), strings(&["a.txt"]));
}

#[test]
fn unborn_head_counts_as_empty() {
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n")
        .write("dir/b.txt", "b\n")
        .write("dir/sub/c.txt", "c\n");
    repo.stage("a.txt");
    assert_eq!(repo.changed(Mode::Staged), strings(&["a.txt"]));
    assert_eq!(
        repo.changed(Mode::Worktree),
        strings(&["a.txt", "dir/b.txt", "dir/sub/c.txt"])
    );
    let err = build_report(repo.path(), &repo.config(), &Mode::Base("HEAD".into())).unwrap_err();
    assert!(matches!(err, ReportError::BadBase { .. }), "{err}");
}

#[test]
fn ignored_files_are_not_reported() {
    let repo = committed("", &[".gitignore", "keep.txt"]);
    repo.write(".gitignore", "*.log\nbuild/\n");
    repo.stage_all();
    repo.commit("ignore");
    repo.write("debug.log", "x")
        .write("build/out/a.o", "x")
        .write("src/new.rs", "x");
    assert_eq!(repo.changed(Mode::Worktree), strings(&["src/new.rs"]));
    assert_eq!(
        repo.changed(Mode::Base("HEAD".into())),
        strings(&["src/new.rs"])
    );
}

#[test]
fn spaces_and_non_ascii_paths_are_verbatim() {
    let repo = committed("", &["docs/设计 文档.md", "my file.txt"]);
    repo.write("docs/设计 文档.md", "edited\n");
    repo.write("新 目录/ä ö.txt", "untracked\n");
    let expected = strings(&["docs/设计 文档.md", "新 目录/ä ö.txt"]);
    assert_eq!(repo.changed(Mode::Worktree), expected);
    assert_eq!(repo.changed(Mode::Base("HEAD".into())), expected);
    repo.stage("docs/设计 文档.md");
    assert_eq!(repo.changed(Mode::Staged), strings(&["docs/设计 文档.md"]));
    let json = serde_json::to_string(&repo.report(Mode::Worktree)).unwrap();
    assert!(json.contains("\"docs/设计 文档.md\""), "{json}");
}

#[test]
fn base_mode_compares_a_revision_with_the_working_tree() {
    let repo = committed("", &["a.txt", "b.txt", "gone.txt"]);
    let first = repo.commit("empty second commit");
    repo.write("a.txt", "second\n")
        .write("c.txt", "new\n")
        .remove("gone.txt");
    repo.stage_all();
    repo.commit("third");
    repo.write("b.txt", "worktree edit\n")
        .write("d/e.txt", "untracked\n");
    let expected = strings(&["a.txt", "b.txt", "c.txt", "d/e.txt", "gone.txt"]);
    let report = repo.report(Mode::Base("HEAD~1".into()));
    assert_eq!(report.changed_paths, expected);
    assert_eq!(report.base.as_deref(), Some("HEAD~1"));
    assert_eq!(repo.changed(Mode::Base(first.clone())), expected);
    assert_eq!(repo.changed(Mode::Base(first[..10].to_string())), expected);
    assert_eq!(
        repo.changed(Mode::Base("HEAD".into())),
        strings(&["b.txt", "d/e.txt"])
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["mode"], "base");
    assert_eq!(json["base"], "HEAD~1");
}

#[test]
fn bad_base_is_refused_without_side_effects() {
    let repo = committed("", &["a.txt"]);
    // Payloads that name files point into a folder of their own.
    let outside = tempfile::tempdir().unwrap();
    let o = |name: &str| outside.path().join(name).display().to_string();
    let before = footprint::Footprint::take(repo.path(), None, outside.path());
    let payloads = [
        format!("--output={}", o("x")),
        format!("--output={}", repo.path().join("x").display()),
        format!("-c core.hooksPath={}", o("hooks")),
        format!("--git-dir={}", o("git")),
        "HEAD:refs/heads/pwned".into(),
        "refs/heads/pwned".into(),
        "nonexistent".into(),
        "-n".into(),
        "".into(),
        "HEAD~5".into(),
        "HEAD..HEAD".into(),
    ];
    for reference in &payloads {
        let err =
            build_report(repo.path(), &repo.config(), &Mode::Base(reference.clone())).unwrap_err();
        assert!(
            matches!(err, ReportError::BadBase { .. }),
            "{reference}: {err}"
        );
        let message = err.to_string();
        assert!(message.contains(&format!("{reference:?}")), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }
    let after = footprint::Footprint::take(repo.path(), None, outside.path());
    let changes = after.changes_since(&before);
    assert!(changes.is_empty(), "bad bases changed: {changes:#?}");
}

#[test]
fn not_a_repo_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::load_with_env(dir.path(), &Env::new()).unwrap();
    let err = build_report(dir.path(), &cfg, &Mode::Worktree).unwrap_err();
    assert!(matches!(err, ReportError::NotARepo { .. }), "{err}");
    assert!(!err.to_string().contains('\n'));

    let repo = committed("", &["sub/a.txt"]);
    let err = build_report(&repo.path().join("sub"), &cfg, &Mode::Worktree).unwrap_err();
    assert!(matches!(err, ReportError::NotARepo { .. }), "{err}");
    assert!(err.to_string().contains("inside the repository"), "{err}");

    let missing = dir.path().join("missing");
    let err = build_report(&missing, &cfg, &Mode::Worktree).unwrap_err();
    assert!(matches!(err, ReportError::NotARepo { .. }), "{err}");
}

const ROUTING: &str = r#"
departments:
  docs:
    title: 文档部
    duty: Docs.
    globs: ["docs/**", "*.md"]
    verify: [markdownlint, git diff --check]
  python:
    title: 蛇部
    duty: Python.
    globs: ["*.py", "tools"]
    verify: [pytest -q, git diff --check]
  classes:
    title: 类部
    duty: Classes.
    globs: ["[ab]*.txt", "[!a-z]*.cfg"]
    verify: [zz-check]
  idle:
    title: 闲部
    duty: Never touched.
    globs: ["nothing/**"]
    verify: [never-run]
risk_rules:
  - {name: secret_file, level: high, pattern: .env, message: secrets, allow_pattern: .env.example}
  - {name: vendored, level: medium, pattern: VENDOR/, message: vendored}
"#;

#[test]
fn routing_risks_verify_and_uncategorized() {
    let repo = committed(ROUTING, &["seed.txt"]);
    for f in [
        "a/b/c.py",
        "docs/guide/intro.md",
        "docs/notes.md",
        "README.md",
        "toolshed/x.sh",
        "tools/run.sh",
        "apple.txt",
        "cherry.txt",
        "Z.cfg",
        "z.cfg",
        ".env",
        ".env.example",
        "config/.ENV",
        "lib/vendor/x.c",
    ] {
        repo.write(f, "x\n");
    }
    // Windows names ignore case: there `z.cfg` is the file `Z.cfg` again.
    let lower_cfg: &[&str] = if cfg!(windows) { &[] } else { &["z.cfg"] };
    let report = repo.report(Mode::Worktree);
    assert_routed(&report, lower_cfg);
    let risks: Vec<(&str, &str)> = report
        .risks
        .iter()
        .map(|r| (r.path.as_str(), r.name.as_str()))
        .collect();
    assert_eq!(
        risks,
        [
            (".env", "secret_file"),
            ("config/.ENV", "secret_file"),
            ("lib/vendor/x.c", "vendored")
        ]
    );
    assert_eq!(report.risks[0].message, "secrets");
    assert_eq!(
        report.verify_commands,
        strings(&["git diff --check", "markdownlint", "pytest -q", "zz-check"])
    );
    assert_eq!(
        report.title,
        format!("Governance report: {}", repo.config().launcher.project_name)
    );

    let cfg = repo.config();
    assert_eq!(
        route_path(&cfg, "docs/x.py"),
        strings(&["docs", "python"]),
        "two departments"
    );
    assert!(route_path(&cfg, "other/file").is_empty());
}

/// Each file of `routing_risks_verify_and_uncategorized` in its department
/// (in the config's order, only those with files), the rest uncategorized.
fn assert_routed(report: &Report, lower_cfg: &[&str]) {
    let files = |key: &str| -> Vec<String> {
        report
            .departments
            .iter()
            .find(|d| d.key == key)
            .map(|d| d.files.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        report
            .departments
            .iter()
            .map(|d| d.key.as_str())
            .collect::<Vec<_>>(),
        ["docs", "python", "classes"],
        "config order, only departments with files"
    );
    assert_eq!(
        files("docs"),
        strings(&["README.md", "docs/guide/intro.md", "docs/notes.md"])
    );
    assert_eq!(
        files("python"),
        strings(&["a/b/c.py", "tools/run.sh", "toolshed/x.sh"]),
        "`*.py` crosses folders; `tools` is a prefix"
    );
    assert_eq!(files("classes"), strings(&["Z.cfg", "apple.txt"]));
    assert_eq!(
        report.uncategorized,
        strings(
            &[
                &[
                    ".env",
                    ".env.example",
                    "cherry.txt",
                    "config/.ENV",
                    "lib/vendor/x.c"
                ][..],
                lower_cfg
            ]
            .concat()
        )
    );
}

const PREFLIGHT: &str = r#"
preflight:
  portability_paths: [AGENTS.md, "docs/governance/**/*.md"]
"#;

#[test]
fn preflight_classifies_examples_and_violations() {
    let repo = committed(PREFLIGHT, &[".gitignore"]);
    repo.write(".gitignore", "docs/governance/private/\n");
    repo.write(
        "AGENTS.md",
        "# Agents\n\nRun from /home/alice/repo.\n\n```sh\ncd /Users/bob\n```\n\n    C:\\work\\x\n\nUse `~/bin` or E:/tmp here.\n",
    );
    repo.write("docs/governance/a/b.md", "fine\n\tfile:///etc\n");
    repo.write("docs/governance/c.txt", "/home/not-markdown\n");
    repo.write("docs/other.md", "/home/not-in-scope\n");
    repo.write("docs/governance/private/p.md", "/home/ignored\n");
    fs::write(
        repo.path().join("docs/governance/a/bin.md"),
        [0xff, 0xfe, b'/', b'h'],
    )
    .unwrap();
    let report = repo.report(Mode::Worktree);
    let scan = &report.preflight.checks.portability_reference_scan;
    assert_eq!(
        scan.scanned_files,
        strings(&["AGENTS.md", "docs/governance/a/b.md"])
    );
    assert_eq!(scan.decision, Decision::Review);
    assert!(report.preflight_needs_review());
    let view =
        |fs: &[codex_governance::report::Finding]| -> Vec<(String, usize, usize, PatternKind)> {
            fs.iter()
                .map(|f| (f.path.clone(), f.line, f.column, f.pattern))
                .collect()
        };
    assert_eq!(
        view(&scan.violations),
        [
            ("AGENTS.md".to_string(), 3, 10, PatternKind::PosixHome),
            ("AGENTS.md".to_string(), 11, 16, PatternKind::WindowsDrive),
        ]
    );
    assert_eq!(
        view(&scan.exceptions),
        [
            ("AGENTS.md".to_string(), 6, 4, PatternKind::MacUsers),
            ("AGENTS.md".to_string(), 9, 5, PatternKind::WindowsDrive),
            ("AGENTS.md".to_string(), 11, 6, PatternKind::HomeShortcut),
            (
                "docs/governance/a/b.md".to_string(),
                2,
                2,
                PatternKind::FileUri
            ),
        ]
    );
    assert!(scan
        .violations
        .iter()
        .all(|f| f.classification == Classification::Violation));
    assert!(scan
        .exceptions
        .iter()
        .all(|f| f.classification == Classification::Example));
    assert_eq!(scan.violations[0].excerpt, "Run from /home/alice/repo.");

    // Fix the two violations: only examples remain.
    repo.write(
        "AGENTS.md",
        "Run from the repository root.\n\nUse `~/bin`.\n",
    );
    let report = repo.report(Mode::Worktree);
    let scan = &report.preflight.checks.portability_reference_scan;
    assert_eq!(scan.decision, Decision::Pass);
    assert!(!report.preflight_needs_review());
    assert_eq!(scan.exceptions.len(), 2);
}

/// The report's top-level keys, in the SPEC's order.
const TOP_KEYS: [&str; 11] = [
    "title",
    "mode",
    "base",
    "changed_count",
    "changed_paths",
    "provinces",
    "departments",
    "uncategorized",
    "risks",
    "verify_commands",
    "preflight",
];

/// The keys of a JSON object, sorted.
fn sorted_keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v = strings(v);
    v.sort();
    v
}

#[test]
fn json_shape_matches_the_spec() {
    let repo = committed(PREFLIGHT, &["README.md"]);
    repo.write("AGENTS.md", "see /home/x and `~/y`\n")
        .write("src/main.rs", "x")
        .write(".env", "x");
    let json = serde_json::to_value(repo.report(Mode::Worktree)).unwrap();
    assert_eq!(sorted_keys(&json), sorted(&TOP_KEYS));
    // Keys come out in the SPEC's order.
    let text = serde_json::to_string(&repo.report(Mode::Worktree)).unwrap();
    let at: Vec<usize> = TOP_KEYS
        .iter()
        .map(|k| text.find(&format!("\"{k}\"")).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    let scan = &json["preflight"]["checks"]["portability_reference_scan"];
    for (what, v, want) in [
        (
            "a province",
            &json["provinces"][0],
            &["key", "title", "duty"][..],
        ),
        (
            "a department",
            &json["departments"][0],
            &["key", "title", "duty", "files", "verify"],
        ),
        (
            "a risk",
            &json["risks"][0],
            &["path", "name", "level", "message"],
        ),
        (
            "the portability scan",
            scan,
            &[
                "decision",
                "scope",
                "scanned_files",
                "violations",
                "exceptions",
            ],
        ),
        (
            "a finding",
            &scan["violations"][0],
            &[
                "path",
                "line",
                "column",
                "pattern",
                "excerpt",
                "classification",
            ],
        ),
    ] {
        assert_eq!(sorted_keys(v), sorted(want), "the keys of {what}");
    }
    assert_eq!(sorted_keys(&json["preflight"]), ["checks"]);
    assert_eq!(
        sorted_keys(&json["preflight"]["checks"]),
        ["portability_reference_scan"]
    );
    assert_json_values(&json);
    // Round trip.
    let back: Report = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(serde_json::to_value(back).unwrap(), json);
}

/// The values of the report the SPEC fixes: mode, base, counts, provinces,
/// the risk's level, the scan's decision and its findings' words.
fn assert_json_values(json: &Value) {
    assert_eq!(json["mode"], "worktree");
    assert!(json["base"].is_null());
    assert_eq!(json["changed_count"], 3);
    let provinces: Vec<&str> = json["provinces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(provinces, ["zhongshu", "menxia", "shangshu"]);
    assert_eq!(json["provinces"][0]["title"], "中书省");
    assert_eq!(json["risks"][0]["level"], "high");
    let scan = &json["preflight"]["checks"]["portability_reference_scan"];
    assert_eq!(scan["decision"], "REVIEW");
    let f = &scan["violations"][0];
    assert_eq!(f["pattern"], "POSIX_HOME");
    assert_eq!(f["classification"], "violation");
    assert_eq!(f["column"], 5);
    assert_eq!(scan["exceptions"][0]["pattern"], "HOME_SHORTCUT");
    assert_eq!(scan["exceptions"][0]["classification"], "example");
}

#[test]
fn mode_parse() {
    assert_eq!(Mode::parse(None, None).unwrap(), Mode::Worktree);
    assert_eq!(Mode::parse(Some(""), Some("")).unwrap(), Mode::Worktree);
    assert_eq!(Mode::parse(Some("worktree"), None).unwrap(), Mode::Worktree);
    assert_eq!(Mode::parse(Some("staged"), None).unwrap(), Mode::Staged);
    assert_eq!(
        Mode::parse(Some("base"), Some("main")).unwrap(),
        Mode::Base("main".into())
    );
    assert_eq!(
        Mode::parse(None, Some("v1")).unwrap(),
        Mode::Base("v1".into())
    );
    for (m, b) in [
        (Some("base"), None),
        (Some("staged"), Some("main")),
        (Some("nope"), None),
    ] {
        let err = Mode::parse(m, b).unwrap_err();
        assert!(matches!(err, ReportError::BadMode(_)), "{err}");
    }
}

#[test]
fn text_and_markdown_renderings() {
    let repo = committed(ROUTING, &["seed.txt"]);
    for i in 0..11 {
        repo.write(&format!("docs/page{i:02}.md"), "x");
    }
    repo.write("odd`name.py", "x")
        .write(".env", "x")
        .write("AGENTS.md", "/home/me\n");
    let report = repo.report(Mode::Worktree);

    let text = render_text(&report);
    for needle in [
        "Governance report:",
        "Zhongshu 中书省",
        "Menxia 门下省",
        "[high] secret_file (1): secrets",
        "Shangshu 尚书省",
        "docs 文档部",
        "    - ... and 4 more",
        "Suggested verification",
        "  - pytest -q",
        "portability_reference_scan: REVIEW",
        "violation AGENTS.md:1:1 POSIX_HOME /home/me",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }

    let md = render_markdown(&report);
    for needle in [
        "## Governance report:",
        "### Zhongshu 中书省",
        "### Menxia 门下省",
        "- **high** `secret_file` (1): secrets",
        "#### docs 文档部 (12 files)",
        "- ... and 4 more",
        "- ``odd`name.py``",
        "- [ ] `git diff --check`",
        "### Preflight",
        "- violation `AGENTS.md:1:1` POSIX_HOME: `/home/me`",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
}

/// `init` fits the checks to the repository (without a file the Python
/// tool's defaults apply: `tests/python_compat.rs`); the state folder is no
/// change, the configuration file is one like any other.
#[test]
fn init_gives_a_rust_repository_cargo_checks_and_only_the_state_folder_is_no_change() {
    let repo = TestRepo::new();
    repo.write("Cargo.toml", "[package]\nname = \"demo\"\n")
        .write("src/lib.rs", "pub fn f() {}\n")
        .write("README.md", "# demo\n");
    let defaults = codex_governance::config::commented_defaults(repo.path());
    repo.write("governance.yaml", &defaults);
    repo.stage_all().commit("start");
    repo.write("src/lib.rs", "pub fn f() -> u8 { 1 }\n")
        .write(
            "Cargo.toml",
            "[package]\nname = \"demo\"\nversion = \"0.2.0\"\n",
        )
        .write("README.md", "# demo\n\nMore.\n");
    let report = repo.report(Mode::Worktree);
    assert_eq!(
        report.verify_commands,
        strings(&[
            "cargo build --all-targets",
            "cargo clippy --all-targets",
            "cargo test",
            "git status --short",
        ]),
        "{report:?}"
    );
    assert!(
        !report
            .departments
            .iter()
            .any(|d| d.verify.iter().any(|v| v.contains("python"))),
        "no Python tool checks in a Rust repository"
    );
    assert!(
        report.departments.iter().all(|d| d.duty.is_ascii()),
        "English duties (the titles keep the Chinese names)"
    );
    // The state folder is not a change, even where its .gitignore went
    // missing; the configuration file is (it sets the routing and the risks).
    repo.write(
        "governance.yaml",
        &format!("{defaults}\n# max_departments: 3\n"),
    )
    .write(".tmp/codex_governance_audit.jsonl", "{}\n");
    let changed = repo.changed(Mode::Worktree);
    assert_eq!(
        changed,
        strings(&["Cargo.toml", "README.md", "governance.yaml", "src/lib.rs"]),
        "{changed:?}"
    );
}
