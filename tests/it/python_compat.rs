//! The Python tool's files and expectations, run against ours: its config
//! locations and leniency (each case with the result the Python tool gives),
//! its built-in departments and risk rules, and its own preflight test.

use std::path::Path;
use std::process::Command;

use codex_governance::config::{Config, Env, RiskLevel};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_codex-governance");

fn repo() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap().join("repo");
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
        (r[0].name.as_str(), r[0].level, r[0].pattern.as_str()),
        ("custom", RiskLevel::Medium, "build/out/")
    );
    assert_eq!(r[1].level, RiskLevel::High, "level in another case");
    assert_eq!(r[2].level, RiskLevel::Medium, "an unknown level is medium");
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

#[test]
fn without_a_file_the_python_defaults_route_the_same() {
    let (_d, root) = repo();
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
    let out = Command::new(BIN)
        .args(["report", "--json", "--repo"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = report.to_string();
    let owner = |file: &str| -> Vec<String> {
        report["departments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["files"].as_array().unwrap().iter().any(|f| f == file))
            .map(|d| d["key"].as_str().unwrap().to_string())
            .collect()
    };
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
