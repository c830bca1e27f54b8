//! The Python tool's files and expectations, run against ours: its config
//! locations and leniency (each case with the result the Python tool gives),
//! its built-in departments and risk rules, and its own preflight test.
//! Line numbers cite GitLaughs/codex-governance at commit 7da9f0b.

use std::path::Path;
use std::process::Command;

use codex_governance::config::{Config, Env, RiskLevel};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_codex-governance");

fn repo() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dunce::canonicalize(dir.path()).unwrap().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    git2::Repository::init(&root).unwrap();
    (dir, root)
}

fn load(root: &Path) -> Config {
    Config::load_with_env(root, &Env::new()).expect("loads as the Python tool would")
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn the_installed_layouts_config_is_found_and_the_root_wins() {
    let (_d, root) = repo();
    write(
        &root,
        "tools/codex_governance/governance.yaml",
        "departments:\n  tools_only: {globs: [x/**]}\n",
    );
    let cfg = load(&root);
    assert_eq!(cfg.departments[0].key, "tools_only");
    assert!(cfg
        .source
        .unwrap()
        .ends_with("tools/codex_governance/governance.yaml"));
    write(
        &root,
        "governance.yaml",
        "departments:\n  root_one: {globs: [y/**]}\n",
    );
    assert_eq!(
        load(&root).departments[0].key,
        "root_one",
        "the root's file comes first"
    );
}

#[test]
fn python_leniency_case_by_case() {
    let (_d, root) = repo();
    // (yaml, what the Python tool makes of it)
    write(
        &root,
        "governance.yaml",
        "risk_rules:\n  - {pattern: 'build\\out\\'}\n  - {name: Loud, level: HIGH, pattern: secret}\n  - {name: odd, level: severe, pattern: odd}\ndepartments:\n  docs: {globs: ['docs\\**', 42]}\n  broken: not-a-map\n",
    );
    let cfg = load(&root);
    let r = &cfg.risk_rules;
    assert_eq!(
        (
            r[0].name.as_str(),
            r[0].level.clone(),
            r[0].pattern.as_str()
        ),
        ("custom", RiskLevel::Medium, "build/out/")
    );
    assert_eq!(r[1].level, RiskLevel::High, "level in another case");
    // codex_governance.py:160 keeps the word (`str(item.get("level"))`); the
    // Python page uses it as the risk's CSS class and label (dashboard.html:1337-1339).
    assert_eq!(
        r[2].level,
        RiskLevel::Other("severe".into()),
        "an unknown level is kept as written"
    );
    assert_eq!(
        cfg.departments.len(),
        1,
        "a department that is not a map is skipped"
    );
    assert_eq!(cfg.departments[0].globs, ["docs/**", "42"]);
    // `risk_rules: []` means the built-in rules, as in Python.
    write(&root, "governance.yaml", "risk_rules: []\n");
    let names: Vec<String> = load(&root)
        .risk_rules
        .iter()
        .map(|r| r.name.clone())
        .collect();
    assert_eq!(names, ["runtime_artifact", "secret_file", "vendor_tree"]);
}

/// A repository showing the Python tool by its runtime folder: its audit
/// log, whose lines carry no hash chain (codex_governance.py's `audit`).
fn with_pythons_state_files(root: &Path) {
    write(
        root,
        ".tmp/codex_governance_audit.jsonl",
        "{\"ts\": \"2026-05-18 20:00:00\", \"event\": \"session_started\"}\n",
    );
}

/// A repository whose history held the Python tool, deleted while switching.
fn with_python_in_history(root: &Path) {
    let git = git2::Repository::open(root).unwrap();
    let sig = git2::Signature::now("u", "u@example.com").unwrap();
    let commit = |message: &str| {
        let mut index = git.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.update_all(["*"], None).unwrap();
        let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
        let parents: Vec<git2::Commit> = git
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .into_iter()
            .collect();
        let parents: Vec<&git2::Commit> = parents.iter().collect();
        git.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap();
    };
    write(
        root,
        "tools/codex_governance/codex_governance.py",
        "# python\n",
    );
    commit("the Python tool");
    std::fs::remove_dir_all(root.join("tools")).unwrap();
    commit("switch to the Rust launcher");
}

#[test]
fn without_a_file_the_python_defaults_route_the_same() {
    let (_d, root) = repo();
    with_pythons_state_files(&root);
    let cfg = load(&root);
    let keys: Vec<&str> = cfg.departments.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(keys, ["zhilibu", "gongchengbu", "lingyubu"]);
    for f in [
        "app.py",
        "tests/test_x.py",
        "src/main.rs",
        "README.md",
        ".env",
        "output/a.bin",
    ] {
        write(&root, f, "x\n");
    }
    let report = report_json(&root);
    let text = report.to_string();
    let owner = |file: &str| owners(&report, file);
    assert_eq!(owner("app.py"), ["gongchengbu"], "{text}");
    assert_eq!(owner("tests/test_x.py"), ["gongchengbu"], "{text}");
    assert_eq!(owner("src/main.rs"), ["lingyubu"], "{text}");
    assert_eq!(owner("README.md"), ["zhilibu"], "{text}");
    assert!(
        text.contains("secret_file") && text.contains("runtime_artifact"),
        "{text}"
    );
}

#[test]
fn the_python_projects_own_preflight_case() {
    let (_d, root) = repo();
    write(
        &root,
        "docs/governance/authority.md",
        "# Authority\nBad link: [local](E:/private/output.txt)\nInline code is an example: `E:/SYMTH_files/output/evb/latest/`\n```powershell\ncd E:/See-you-more-than-her\n```",
    );
    write(
        &root,
        "docs/contracts/nested/deep.md",
        "path after underscore: x_E:/data and 中E:/data\n",
    );
    let out = Command::new(BIN)
        .args(["report", "--json", "--repo"])
        .arg(&root)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let scan = &report["preflight"]["checks"]["portability_reference_scan"];
    let violations: Vec<&Value> = scan["violations"].as_array().unwrap().iter().collect();
    let in_authority: Vec<&&Value> = violations
        .iter()
        .filter(|v| v["path"] == "docs/governance/authority.md")
        .collect();
    assert_eq!(in_authority.len(), 1, "{scan}");
    assert_eq!(in_authority[0]["pattern"], "WINDOWS_DRIVE");
    assert!(scan["exceptions"].as_array().unwrap().len() >= 2, "{scan}");
    // A file directly in docs/governance is scanned; drive letters after `_` or non-ASCII count.
    let deep = violations
        .iter()
        .filter(|v| v["path"] == "docs/contracts/nested/deep.md")
        .count();
    assert_eq!(deep, 2, "{scan}");
    assert_eq!(scan["decision"], "REVIEW");
}

fn run(args: &[&str], root: &Path) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--repo")
        .arg(root)
        .env_remove("CODEX_GOVERNANCE_SESSION_ID")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn report_json(root: &Path) -> Value {
    let (code, stdout, stderr) = run(&["report", "--json"], root);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// The departments a path routes to in a report.
fn owners(report: &Value, file: &str) -> Vec<String> {
    report["departments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["files"].as_array().unwrap().iter().any(|f| f == file))
        .map(|d| d["key"].as_str().unwrap().to_string())
        .collect()
}

/// The Python tool's `DEFAULT_DEPARTMENTS` and `DEFAULT_RISK_RULES`
/// (codex_governance.py:46-99), exactly.
fn assert_pythons_defaults(cfg: &Config) {
    assert_eq!(
        cfg.departments,
        codex_governance::config::default_departments()
    );
    assert_eq!(
        cfg.risk_rules,
        codex_governance::config::default_risk_rules()
    );
}

/// Without a file, where the repository shows the Python tool, Python's
/// `DEFAULT_DEPARTMENTS` and `DEFAULT_RISK_RULES` (codex_governance.py:46-99)
/// apply exactly, whatever else the repository is: a team that deletes the
/// Python folder while switching keeps its routing. Build files the fitted
/// defaults would route stay uncategorized, as there.
#[test]
fn without_a_file_the_defaults_are_pythons_exactly() {
    let (_d, root) = repo();
    with_python_in_history(&root);
    write(&root, "Cargo.toml", "[package]\nname = \"x\"\n");
    assert_pythons_defaults(&load(&root));
    for f in [
        "Makefile",
        ".github/workflows/ci.yml",
        "lib/x.rs",
        "src/main.rs",
    ] {
        write(&root, f, "x\n");
    }
    let report = report_json(&root);
    let uncategorized: Vec<&str> = report["uncategorized"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        uncategorized,
        [
            ".github/workflows/ci.yml",
            "Cargo.toml",
            "Makefile",
            "lib/x.rs"
        ],
        "{report}"
    );
    assert_eq!(owners(&report, "src/main.rs"), ["lingyubu"]);
    assert!(
        report["verify_commands"]
            .as_array()
            .unwrap()
            .contains(&Value::from("git status --short")),
        "{report}"
    );
}

/// The configuration that is read is governed like every file: `*.yaml`
/// routes it to 工程部 (codex_governance.py:60), and in the installed layout
/// the Python tool's own file's `tools/codex_governance/**` routes it to both
/// 治理部 and 工程部 (governance.yaml:26, :34).
#[test]
fn the_loaded_governance_yaml_is_in_the_report_routed_as_python() {
    let (_d, root) = repo();
    write(
        &root,
        "governance.yaml",
        "launcher:\n  max_departments: 3\n",
    );
    assert_eq!(
        owners(&report_json(&root), "governance.yaml"),
        ["gongchengbu"]
    );

    let (_d2, root) = repo();
    let installed = "tools/codex_governance/governance.yaml";
    // The shape of the installed layout's file: both departments own the
    // tool's folder.
    write(
        &root,
        installed,
        "departments:\n  zhilibu:\n    title: 治理部\n    globs: [docs/**, tools/codex_governance/**]\n  \
         gongchengbu:\n    title: 工程部\n    globs: [scripts/**, tools/codex_governance/**]\n",
    );
    assert_eq!(
        owners(&report_json(&root), installed),
        ["zhilibu", "gongchengbu"]
    );
}

/// `init` never writes a root file beside the Python tool's installed one
/// (which the root's would shadow): it refuses, naming it, and `--force`
/// writes the defaults into it. Where the Python tool was, its own defaults
/// are written (codex_governance.py:46-99).
#[test]
fn init_never_shadows_the_installed_file() {
    let (_d, root) = repo();
    let installed = root
        .join("tools")
        .join("codex_governance")
        .join("governance.yaml");
    write(
        &root,
        "tools/codex_governance/governance.yaml",
        "risk_rules:\n  - {name: mine, level: high, pattern: x/}\n",
    );
    let (code, _, stderr) = run(&["init"], &root);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&installed.display().to_string()),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(
        !root.join("governance.yaml").exists(),
        "no root file shadows it"
    );
    let (code, stdout, stderr) = run(&["init", "--force"], &root);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&installed.display().to_string()),
        "{stdout}"
    );
    assert!(!root.join("governance.yaml").exists());
    let cfg = load(&root);
    assert_eq!(cfg.source.as_deref(), Some(installed.as_path()));
    assert_pythons_defaults(&cfg);
}

/// A repository whose history held the Python tool (deleted while
/// switching) gets its defaults from `init`, not the fitted ones.
#[test]
fn init_writes_pythons_defaults_where_the_python_tool_was() {
    let (_d, root) = repo();
    write(&root, "codex_governance.py", "# the Python tool\n");
    let (code, stdout, stderr) = run(&["init"], &root);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("the Python tool's defaults"), "{stdout}");
    assert_pythons_defaults(&load(&root));
}

/// Issue 49 item 4: without a file, a Cargo repository that never had the
/// Python tool gets what `init` would write for it: its departments verify
/// with Cargo, never with `python codex_governance.py`.
#[test]
fn without_a_file_a_cargo_repository_verifies_with_cargo() {
    let (_d, root) = repo();
    write(&root, "Cargo.toml", "[package]\nname = \"x\"\n");
    let cfg = load(&root);
    assert_eq!(
        cfg.departments,
        codex_governance::config::departments_for(&root)
    );
    let verify: Vec<&str> = cfg
        .departments
        .iter()
        .flat_map(|d| d.verify.iter().map(String::as_str))
        .collect();
    assert!(verify.contains(&"cargo test"), "{verify:?}");
    assert!(!verify.iter().any(|c| c.contains("python")), "{verify:?}");
    write(&root, "src/main.rs", "fn main() {}\n");
    let report = report_json(&root);
    let commands = report["verify_commands"].to_string();
    assert!(commands.contains("cargo test"), "{commands}");
    assert!(!commands.contains("codex_governance.py"), "{commands}");
    assert_eq!(owners(&report, "Cargo.toml"), ["gongchengbu"], "{report}");
}

/// Issue 49 item 4: `init` in a repository that never had the Python tool
/// writes nothing of it: no release plan, no PowerShell launchers, no
/// Python documents, no Python checks.
#[test]
fn init_writes_no_python_tool_leftovers() {
    let (_d, root) = repo();
    write(&root, "Cargo.toml", "[package]\nname = \"x\"\n");
    let (code, stdout, stderr) = run(&["init"], &root);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("fitted to this repository"), "{stdout}");
    let written = std::fs::read_to_string(root.join("governance.yaml")).unwrap();
    for leftover in [
        "INDEPENDENT_RELEASE_PLAN.md",
        ".ps1",
        "docs/18_",
        "tools/codex_governance",
        "codex_governance.py",
        "py_compile",
    ] {
        assert!(!written.contains(leftover), "{leftover} in:\n{written}");
    }
    assert!(written.contains("cargo test"), "{written}");
    let cfg = load(&root);
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    std::fs::remove_file(root.join("governance.yaml")).unwrap();
    let without = load(&root);
    assert_eq!(
        without.departments, cfg.departments,
        "the same without the file"
    );
    assert_eq!(without.preflight, cfg.preflight);
}

/// A risk level the Python tool kept as written stays so in the report
/// (codex_governance.py:160, :377-386): `critical` is not `medium`.
#[test]
fn a_critical_risk_stays_critical() {
    let (_d, root) = repo();
    write(
        &root,
        "governance.yaml",
        "risk_rules:\n  - {name: codes, level: critical, pattern: secret/, message: m}\n",
    );
    write(&root, "secret/key", "k\n");
    let report = report_json(&root);
    let levels: Vec<&Value> = report["risks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"] == "codes")
        .map(|r| &r["level"])
        .collect();
    assert_eq!(levels, [&Value::from("critical")], "{report}");
}
