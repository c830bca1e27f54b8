//! `codex-governance demo`: a whole plan run without Codex, in one command.
//! It makes a scratch Git repository whose `governance.yaml` runs the scripted
//! fake agent (`tools/fake-agent`, with `--demo`: it plans from a plain task,
//! and its departments change a notes file and report), so trying the tool
//! touches no repository of the user's and needs no configuration.
//!
//! The fake agent is not shipped with the launcher: it is found beside this
//! binary or on PATH; under `cargo run` it is built from the checkout first.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The fake agent's program name on this platform.
fn agent_name() -> String {
    format!("fake-agent{}", std::env::consts::EXE_SUFFIX)
}

/// How to get the fake agent, said when it cannot be found.
const HOW_TO_GET_IT: &str = "build it in the codex-governance checkout with \
     `cargo build --release -p fake-agent` (or run the demo there with `cargo run --release -- demo`), \
     or pass its path with --agent";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "the demo's scripted agent ({name}) is neither beside {exe} nor on PATH: {HOW_TO_GET_IT}"
    )]
    NoAgent { name: String, exe: String },
    #[error("--agent {0}: no such file")]
    AgentMissing(String),
    #[error("building the demo's scripted agent failed ({0}): {HOW_TO_GET_IT}")]
    BuildFailed(String),
    #[error(
        "{0} exists, is not empty and is no demo repository made with this agent: choose a new \
         folder for the demo repository"
    )]
    NotEmpty(String),
    #[error("{0}: another user could change the demo's files; choose a folder of your own")]
    NotYours(String),
    #[error("cannot write the demo repository at {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot commit the demo repository's first files: {0}")]
    Git(#[from] git2::Error),
}

/// The fake agent to run: `explicit`, else (under `cargo run`, which names the
/// checkout) built with cargo, else beside this binary, else on PATH.
pub fn find_agent(explicit: Option<&Path>) -> Result<PathBuf, DemoError> {
    if let Some(path) = explicit {
        return match path.is_file() {
            true => Ok(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())),
            false => Err(DemoError::AgentMissing(path.display().to_string())),
        };
    }
    let exe = std::env::current_exe().ok();
    // Under `cargo run` the checkout's agent is built (a no-op when up to
    // date), so a stale one from an older build is never used.
    if let (Some(cargo), Some(manifest)) = (
        std::env::var_os("CARGO"),
        std::env::var_os("CARGO_MANIFEST_DIR"),
    ) {
        let manifest = Path::new(&manifest).join("Cargo.toml");
        let checkout = manifest.with_file_name("tools").join("fake-agent").is_dir();
        if manifest.is_file() && checkout {
            return build_agent(Path::new(&cargo), &manifest, exe.as_deref());
        }
    }
    let beside = exe
        .as_ref()
        .and_then(|e| e.parent())
        .map(|dir| dir.join(agent_name()));
    if let Some(path) = beside.filter(|p| p.is_file()) {
        return Ok(path);
    }
    if let Some(path) = on_path(&agent_name()) {
        return Ok(path);
    }
    Err(DemoError::NoAgent {
        name: agent_name(),
        exe: exe
            .map(|e| e.display().to_string())
            .unwrap_or_else(|| "codex-governance".into()),
    })
}

fn on_path(name: &str) -> Option<PathBuf> {
    crate::platform::find_program(name)
}

/// `cargo build -p fake-agent` in the profile this binary was built with;
/// cargo's own messages say where the program is.
fn build_agent(cargo: &Path, manifest: &Path, exe: Option<&Path>) -> Result<PathBuf, DemoError> {
    let profile = exe
        .and_then(|e| e.parent())
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("release")
        .to_string();
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "-p",
        "fake-agent",
        "--message-format=json-render-diagnostics",
    ])
    .arg("--manifest-path")
    .arg(manifest);
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    eprintln!("codex-governance: building the demo's scripted agent (cargo build -p fake-agent)");
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| DemoError::BuildFailed(e.to_string()))?;
    if !out.status.success() {
        return Err(DemoError::BuildFailed(out.status.to_string()));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "fake-agent")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| DemoError::BuildFailed("cargo named no fake-agent program".into()))
}

/// A new folder for the demo repository under the system's temporary
/// folder, made here with a random name (never one someone else made first:
/// that user could swap the demo's files under it).
pub fn default_dir() -> Result<PathBuf, DemoError> {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let dir = tempfile::Builder::new()
        .prefix(&format!("codex-governance-demo-{stamp}-"))
        .tempdir()
        .map_err(|source| DemoError::Write {
            path: std::env::temp_dir().display().to_string(),
            source,
        })?;
    Ok(dir.keep())
}

/// The demo repository's files, besides `governance.yaml`.
const FILES: &[(&str, &str)] = &[
    (
        "README.md",
        "# Demo project\n\nA scratch repository made by `codex-governance demo`. Its agents are a \
         scripted stand-in for Codex: give the planner any task and watch the plan run, then \
         review what each department changed.\n\n## Usage\n\nRead the notes in docs/, src/ and \
         tests/.\n",
    ),
    ("docs/notes.md", "# Notes on the documentation\n\n"),
    ("src/notes.md", "# Notes on the code\n\n"),
    ("tests/notes.md", "# Notes on the tests\n\n"),
];

/// The demo repository at `dir`: the one an earlier `demo --dir` made there
/// with the same agent (its `governance.yaml` exactly as `demo` writes it, so
/// trusting it trusts nothing a cloned folder could have put there), else a
/// new one. Whether it was there already.
pub fn open_or_create(dir: &Path, agent: &Path) -> Result<(PathBuf, bool), DemoError> {
    let config = dir.join(crate::config::CONFIG_FILE);
    let own =
        std::fs::metadata(dir).is_ok_and(|meta| crate::platform::not_own(&meta, true).is_none());
    let regular = std::fs::symlink_metadata(&config).is_ok_and(|m| m.file_type().is_file());
    let same =
        regular && std::fs::read_to_string(&config).is_ok_and(|text| text == config_text(agent));
    if own && same && dir.join(".git").is_dir() {
        let write_err = |source| DemoError::Write {
            path: dir.display().to_string(),
            source,
        };
        return Ok((dunce::canonicalize(dir).map_err(write_err)?, true));
    }
    create_repo(dir, agent).map(|made| (made, false))
}

/// Writes the demo repository at `dir` (new, or an empty folder) and commits
/// its files, so the departments' changes are what the report shows.
pub fn create_repo(dir: &Path, agent: &Path) -> Result<PathBuf, DemoError> {
    let write_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| DemoError::Write { path, source }
    };
    if let Ok(meta) = std::fs::metadata(dir) {
        if let Some(why) = crate::platform::not_own(&meta, true) {
            return Err(DemoError::NotYours(format!("{} is {why}", dir.display())));
        }
        let mut entries = std::fs::read_dir(dir).map_err(write_err(dir))?;
        if entries.next().is_some() {
            return Err(DemoError::NotEmpty(dir.display().to_string()));
        }
    }
    std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    let dir = dunce::canonicalize(dir).map_err(write_err(dir))?;
    let config = config_text(agent);
    let files = FILES
        .iter()
        .map(|(p, t)| (*p, t.to_string()))
        .chain([(crate::config::CONFIG_FILE, config)]);
    let repo = git2::Repository::init(&dir)?;
    let mut index = repo.index()?;
    for (path, text) in files {
        let full = dir.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(write_err(parent))?;
        }
        std::fs::write(&full, text).map_err(write_err(&full))?;
        index.add_path(Path::new(path))?;
    }
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let who = git2::Signature::now("codex-governance demo", "demo@localhost")?;
    repo.commit(Some("HEAD"), &who, &who, "The demo project", &tree, &[])?;
    Ok(dir)
}

/// `governance.yaml`: the fake agent in demo mode, two seconds of work per
/// department so the dashboard shows them running.
fn config_text(agent: &Path) -> String {
    let command = serde_json::json!([
        agent.display().to_string(),
        "--demo",
        "--work-seconds",
        "2",
        "--model",
        "{model}",
        "--prompt",
        "{prompt}"
    ]);
    format!(
        "# Written by `codex-governance demo`. The agents are the scripted fake agent\n\
         # (tools/fake-agent): no Codex, no network. With --demo a planner plans one\n\
         # assignment per department from a plain task, and each department adds a\n\
         # line to a notes file in its own worktree and reports it with\n\
         # `codex-governance mailbox send`. zhilibu also adds a README line and asks\n\
         # you about it; lingyubu adds one at the same place outside its scope. You\n\
         # then review, apply or merge each department's changes.\n\
         launcher:\n  agent_command: {command}\n  max_departments: 3\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_repository_is_committed_and_its_config_loads() {
        let dir = tempfile::tempdir().unwrap();
        let agent = dir.path().join("fake agent's \"bin\"");
        let root = create_repo(&dir.path().join("demo"), &agent).unwrap();
        let repo = git2::Repository::open(&root).unwrap();
        let statuses = repo.statuses(None).unwrap();
        assert!(statuses.is_empty(), "everything is committed");
        let config = crate::config::Config::load(&root).unwrap();
        assert_eq!(
            config.launcher.agent_command[0],
            agent.display().to_string()
        );
        assert!(config
            .launcher
            .agent_command
            .contains(&"--demo".to_string()));
        std::fs::write(root.join("stray"), "x").unwrap();
        assert!(matches!(
            create_repo(&root, &agent),
            Err(DemoError::NotEmpty(_))
        ));
        // `demo --dir` again on it: the same demo, served again.
        let (again, reused) = open_or_create(&root, &agent).unwrap();
        assert_eq!((again, reused), (root.clone(), true));
        // Not with another agent, nor with its configuration changed.
        let other = dir.path().join("other-agent");
        assert!(matches!(
            open_or_create(&root, &other),
            Err(DemoError::NotEmpty(_))
        ));
        let changed = std::fs::read_to_string(root.join("governance.yaml")).unwrap() + "# more\n";
        std::fs::write(root.join("governance.yaml"), changed).unwrap();
        assert!(matches!(
            open_or_create(&root, &agent),
            Err(DemoError::NotEmpty(_))
        ));
    }

    #[test]
    fn each_default_folder_is_new_and_made_here() {
        let (a, b) = (default_dir().unwrap(), default_dir().unwrap());
        assert_ne!(a, b);
        for dir in [&a, &b] {
            let meta = std::fs::symlink_metadata(dir).unwrap();
            assert!(meta.is_dir());
            assert!(crate::platform::not_own(&meta, true).is_none());
            std::fs::remove_dir(dir).unwrap();
        }
    }

    #[test]
    fn a_missing_agent_path_is_named() {
        let err = find_agent(Some(Path::new("/no/such/fake-agent"))).unwrap_err();
        assert!(err.to_string().contains("/no/such/fake-agent"), "{err}");
    }
}
