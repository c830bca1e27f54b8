//! Built-in departments, risk rules and preflight paths fitted to the
//! repository at hand: what `init` writes, and what applies where the file
//! (or a file) gives none.
//!
//! The Python tool's checks (`python codex_governance.py`, `py_compile` of
//! its three files) do not exist elsewhere, and a planner told to assign
//! them wastes a department. So the checks come from what the repository is
//! (Cargo, npm/pnpm/yarn, Python, Go, make), and are never commands for files
//! that are not there; the texts are English with the Chinese names beside
//! them, and nothing names the Python tool's own files (`PYTHON_LEFTOVERS`).
//! Where the repository shows the Python tool (`python_signs`: its folder,
//! its files, its runtime folder, its history) its defaults apply unchanged,
//! so a team switching keeps its routing. Routing stays the Python tool's
//! (the same globs route the same files), with the build files of those
//! ecosystems added.

use std::path::Path;

use super::defaults::{
    default_departments, default_portability_paths, default_risk_rules, strings,
};
use super::python_signs::python_tool_signs;
use super::{Department, RiskRule};

/// The departments `init` writes for `repo` (and that apply without a file).
pub fn departments_for(repo: &Path) -> Vec<Department> {
    fitted_departments(repo, python_tool_signs(repo).is_some())
}

/// The departments for `repo`, `python` saying whether it had the Python tool.
pub(super) fn fitted_departments(repo: &Path, python: bool) -> Vec<Department> {
    if python {
        return default_departments();
    }
    let checks = Checks::of(repo);
    let mut python = default_departments();
    for d in &mut python {
        d.globs.retain(|g| !PYTHON_LEFTOVERS.contains(&g.as_str()));
        match d.key.as_str() {
            "zhilibu" => {
                d.duty = "Task split, agent rules, README, docs and release notes".into();
                d.globs.push("CHANGELOG.md".into());
                d.verify = strings(&["git status --short"]);
            }
            "gongchengbu" => {
                d.duty = "Build, tooling, scripts, tests, CI and release".into();
                d.globs.extend(strings(BUILD_FILES));
                d.verify = checks.engineering();
            }
            "lingyubu" => {
                d.duty = "Domain code: features, business logic, integration".into();
                d.globs.extend(strings(&[
                    "lib/**",
                    "crates/**",
                    "cmd/**",
                    "internal/**",
                    "pkg/**",
                    "benches/**",
                ]));
                d.verify = checks.domain();
            }
            _ => {}
        }
    }
    python
}

/// The risk rules `init` writes for `repo`: the Python tool's, in English
/// where it never was.
/// The checks a verified landing would run for `repo` (issue 73): its tests
/// as its ecosystem runs them; none when it shows none.
pub fn landing_checks_for(repo: &Path) -> Vec<String> {
    Checks::of(repo).test
}

pub fn risk_rules_for(repo: &Path) -> Vec<RiskRule> {
    fitted_risk_rules(python_tool_signs(repo).is_some())
}

/// The risk rules, `python` saying whether the repository had the Python tool.
pub(super) fn fitted_risk_rules(python: bool) -> Vec<RiskRule> {
    let mut rules = default_risk_rules();
    if python {
        return rules;
    }
    for r in &mut rules {
        r.message = match r.name.as_str() {
            "runtime_artifact" => "output/ holds build products: not source, not to be committed",
            "secret_file" => "looks like an environment or key file: make sure no secret is committed",
            "vendor_tree" => "vendor/ is usually imported from elsewhere: say where from and why before changing it",
            _ => continue,
        }
        .into();
        debug_assert!(r.level.wants_review());
    }
    rules
}

/// The preflight's Markdown files for `repo`: the Python tool's, without its
/// own documents where it never was.
pub fn portability_paths_for(repo: &Path) -> Vec<String> {
    fitted_portability_paths(python_tool_signs(repo).is_some())
}

/// The preflight's paths, `python` saying whether the repository had the Python tool.
pub(super) fn fitted_portability_paths(python: bool) -> Vec<String> {
    let mut paths = default_portability_paths();
    if !python {
        paths.retain(|p| !PYTHON_LEFTOVERS.contains(&p.as_str()));
    }
    paths
}

/// What in the Python tool's defaults names the Python tool's own files
/// (its release plan, its PowerShell launchers, its documents): routed or
/// scanned only where it was.
const PYTHON_LEFTOVERS: &[&str] = &[
    "INDEPENDENT_RELEASE_PLAN.md",
    "*.ps1",
    "docs/18_Codex三省六部协作制.md",
    "tools/codex_governance/README.md",
    "tools/codex_governance/API.md",
];

/// Build and manifest files: the engineering department's.
const BUILD_FILES: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    "package.json",
    "package-lock.json",
    "pnpm-lock.yaml",
    "pnpm-workspace.yaml",
    "yarn.lock",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "requirements*.txt",
    "go.mod",
    "go.sum",
    "Makefile",
    "makefile",
    "GNUmakefile",
    "Dockerfile",
    ".github/**",
];

/// The checks a repository's own build files offer, found by looking.
#[derive(Debug, Default, PartialEq)]
struct Checks {
    build: Vec<String>,
    test: Vec<String>,
    lint: Vec<String>,
}

impl Checks {
    fn of(repo: &Path) -> Checks {
        let mut c = Checks::default();
        let has = |name: &str| repo.join(name).is_file();
        if has("Cargo.toml") {
            c.build.push("cargo build --all-targets".into());
            c.test.push("cargo test".into());
            c.lint.push("cargo clippy --all-targets".into());
        }
        if has("package.json") {
            node(repo, &mut c);
        }
        let pytest = has("pytest.ini")
            || has("conftest.py")
            || has("tox.ini")
            || read(repo, "pyproject.toml").is_some_and(|t| t.contains("[tool.pytest"))
            || read(repo, "setup.cfg").is_some_and(|t| t.contains("[tool:pytest]"));
        if pytest {
            c.test.push("python -m pytest".into());
        } else if has("pyproject.toml") || has("setup.py") {
            c.build.push("python -m compileall -q .".into());
        }
        if has("go.mod") {
            c.build.push("go build ./...".into());
            c.test.push("go test ./...".into());
            c.lint.push("go vet ./...".into());
        }
        if let Some(makefile) = ["Makefile", "makefile", "GNUmakefile"]
            .iter()
            .find_map(|m| read(repo, m))
        {
            let target = |t: &str| makefile.lines().any(|l| l.starts_with(&format!("{t}:")));
            for t in ["test", "check"] {
                if target(t) {
                    c.test.push(format!("make {t}"));
                }
            }
            if target("lint") {
                c.lint.push("make lint".into());
            }
            if c.build.is_empty() && c.test.is_empty() {
                c.build.push("make".into());
            }
        }
        c
    }

    /// What the engineering department runs: build, lint, tests.
    fn engineering(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .build
            .iter()
            .chain(&self.lint)
            .chain(&self.test)
            .cloned()
            .collect();
        if v.is_empty() {
            v.push("git status --short".into());
        }
        v
    }

    /// What the domain department runs: the tests (else the build).
    fn domain(&self) -> Vec<String> {
        let mut v = if self.test.is_empty() {
            self.build.clone()
        } else {
            self.test.clone()
        };
        if v.is_empty() {
            v.push("git status --short".into());
        }
        v
    }
}

fn read(repo: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(repo.join(name)).ok()
}

/// npm, pnpm or yarn, by lock file; only the scripts package.json has.
fn node(repo: &Path, c: &mut Checks) {
    let tool = if repo.join("pnpm-lock.yaml").is_file() {
        "pnpm"
    } else if repo.join("yarn.lock").is_file() {
        "yarn"
    } else {
        "npm"
    };
    let scripts = read(repo, "package.json")
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("scripts").cloned())
        .unwrap_or_default();
    let has = |s: &str| scripts.get(s).is_some_and(serde_json::Value::is_string);
    let run = |s: &str| match (tool, s) {
        ("npm", "test") => "npm test".to_string(),
        ("npm", s) => format!("npm run {s}"),
        (t, s) => format!("{t} {s}"),
    };
    if has("build") {
        c.build.push(run("build"));
    }
    if has("lint") {
        c.lint.push(run("lint"));
    }
    if has("test") {
        c.test.push(run("test"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    fn verify(dir: &tempfile::TempDir, key: &str) -> Vec<String> {
        departments_for(dir.path())
            .into_iter()
            .find(|d| d.key == key)
            .unwrap()
            .verify
    }

    #[test]
    fn a_rust_repository_gets_cargo_checks_and_no_python_ones() {
        let dir = repo(&[("Cargo.toml", "[package]\nname = \"x\"\n")]);
        assert_eq!(
            verify(&dir, "gongchengbu"),
            [
                "cargo build --all-targets",
                "cargo clippy --all-targets",
                "cargo test"
            ]
        );
        assert_eq!(verify(&dir, "lingyubu"), ["cargo test"]);
        assert_eq!(verify(&dir, "zhilibu"), ["git status --short"]);
        let all: Vec<String> = departments_for(dir.path())
            .into_iter()
            .flat_map(|d| d.verify)
            .collect();
        assert!(!all.iter().any(|c| c.contains("python")), "{all:?}");
        let d = departments_for(dir.path());
        assert!(d.iter().all(|d| d.duty.is_ascii()), "English duties: {d:?}");
        assert_eq!(d[0].title, "治理部", "the Chinese names stay");
        assert!(risk_rules_for(dir.path())
            .iter()
            .all(|r| r.message.is_ascii()));
    }

    #[test]
    fn node_python_go_and_make_offer_only_what_they_have() {
        let pnpm = repo(&[
            (
                "package.json",
                r#"{"scripts": {"test": "vitest", "lint": "eslint ."}}"#,
            ),
            ("pnpm-lock.yaml", ""),
        ]);
        assert_eq!(verify(&pnpm, "gongchengbu"), ["pnpm lint", "pnpm test"]);
        let npm = repo(&[("package.json", r#"{"scripts": {"build": "tsc"}}"#)]);
        assert_eq!(verify(&npm, "lingyubu"), ["npm run build"]);
        let py = repo(&[("pyproject.toml", "[tool.pytest.ini_options]\n")]);
        assert_eq!(verify(&py, "lingyubu"), ["python -m pytest"]);
        let plain_py = repo(&[("setup.py", "")]);
        assert_eq!(verify(&plain_py, "lingyubu"), ["python -m compileall -q ."]);
        let go = repo(&[("go.mod", "module x\n")]);
        assert_eq!(
            verify(&go, "gongchengbu"),
            ["go build ./...", "go vet ./...", "go test ./..."]
        );
        let make = repo(&[("Makefile", "all:\n\tcc x.c\ntest: all\n\t./t\n")]);
        assert_eq!(verify(&make, "lingyubu"), ["make test"]);
        let bare_make = repo(&[("Makefile", "all:\n")]);
        assert_eq!(verify(&bare_make, "gongchengbu"), ["make"]);
        let nothing = repo(&[]);
        assert_eq!(verify(&nothing, "gongchengbu"), ["git status --short"]);
    }

    /// Issue 49 item 4: no Python-tool file is routed or scanned where the
    /// Python tool never was.
    #[test]
    fn no_python_tool_leftovers_where_it_never_was() {
        let dir = repo(&[("Cargo.toml", "")]);
        let globs: Vec<String> = departments_for(dir.path())
            .into_iter()
            .flat_map(|d| d.globs)
            .collect();
        let paths = portability_paths_for(dir.path());
        for leftover in PYTHON_LEFTOVERS {
            assert!(
                !globs.iter().any(|g| g == leftover),
                "{leftover}: {globs:?}"
            );
            assert!(
                !paths.iter().any(|p| p == leftover),
                "{leftover}: {paths:?}"
            );
        }
        assert!(paths.contains(&"AGENTS.md".to_string()), "{paths:?}");
        let python = repo(&[("tools/codex_governance/README.md", "")]);
        assert_eq!(
            portability_paths_for(python.path()),
            default_portability_paths()
        );
    }

    #[test]
    fn the_python_tools_layout_keeps_its_own_defaults() {
        let dir = repo(&[("tools/codex_governance/README.md", "")]);
        assert_eq!(departments_for(dir.path()), default_departments());
        assert_eq!(risk_rules_for(dir.path()), default_risk_rules());
    }

    #[test]
    fn the_routing_stays_the_python_tools_plus_build_files() {
        let dir = repo(&[("Cargo.toml", "")]);
        let fitted = departments_for(dir.path());
        for (mine, python) in fitted.iter().zip(default_departments()) {
            assert_eq!(mine.key, python.key);
            assert!(python
                .globs
                .iter()
                .filter(|g| !PYTHON_LEFTOVERS.contains(&g.as_str()))
                .all(|g| mine.globs.contains(g)));
        }
        let eng = fitted.iter().find(|d| d.key == "gongchengbu").unwrap();
        assert!(eng.globs.contains(&"Cargo.toml".to_string()));
    }
}
