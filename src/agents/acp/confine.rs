//! Confinement of an ACP agent: its whole process runs in Codex's sandbox
//! (`codex sandbox`, Linux), under a permission profile made for the session
//! from its [`Sandbox`]: it writes only its working folder (a department's
//! worktree), its drop folder and its private temporary folder; it cannot
//! see the launcher's state folder but for its own tools' socket folder
//! (writable: Codex's sandbox opens a folder inside a denied one only so;
//! it holds nothing but that socket); the user's tree and the other
//! worktrees are read-only; `/tmp` and `$TMPDIR` too. The network stays on:
//! the agent reaches its model through it (and so can its commands).
//!
//! The profile's name is fresh per launch, and the repository's own Codex
//! settings are made inert for the run (`projects.<path>.trust_level =
//! "untrusted"`): a cloned repository's `.codex/config.toml` can neither
//! widen the profile nor add to the agent's environment.

use std::path::{Path, PathBuf};

use crate::agents::Sandbox;

/// The profile names this launcher uses (each run adds a fresh suffix).
const PROFILE_PREFIX: &str = "codex-governance-acp";

/// What a confined agent is started with: Codex's CLI and where the
/// session's tools socket lives.
pub(super) struct Confinement<'a> {
    /// The Codex CLI (its `sandbox` subcommand).
    pub codex: &'a Path,
    pub sandbox: &'a Sandbox,
    /// The agent's working folder.
    pub cwd: &'a Path,
    /// Folders of its own inside hidden ones (its tools' socket folder).
    pub reach: &'a [PathBuf],
    /// Folders whose Codex settings must not apply (the working folder and
    /// the repository it was checked out from).
    pub untrusted: &'a [PathBuf],
}

impl Confinement<'_> {
    /// The program and arguments that run `agent` confined.
    pub fn command(&self, agent: &[String]) -> Vec<String> {
        let name = format!("{PROFILE_PREFIX}-{}", &crate::secret::new_token()[..16]);
        let mut argv = vec![
            self.codex.display().to_string(),
            "sandbox".into(),
            "-c".into(),
            format!("permissions.{name}={}", self.profile()),
            "-c".into(),
            format!("projects={}", self.untrusted_projects()),
            // The agent's environment is the session's, already allowlisted.
            "-c".into(),
            "shell_environment_policy={inherit=\"all\", ignore_default_excludes=true, \
             exclude=[], include_only=[]}"
                .into(),
            "-P".into(),
            name,
            "-C".into(),
            self.cwd.display().to_string(),
            "--".into(),
        ];
        argv.extend(agent.iter().cloned());
        argv
    }

    /// The permission profile, as an inline TOML table.
    fn profile(&self) -> String {
        let sandbox = self.sandbox;
        // One entry per path (TOML refuses a key twice): the later, wider one.
        let mut filesystem: Vec<(String, &str)> = Vec::new();
        let mut put = |path: &Path, access: &'static str| {
            let path = path.display().to_string();
            filesystem.retain(|(p, _)| *p != path);
            filesystem.push((path, access));
        };
        for dir in &sandbox.hidden {
            put(dir, "deny");
        }
        for dir in &sandbox.read_only {
            put(dir, "read");
        }
        for dir in self.reach {
            put(dir, "write");
        }
        put(self.cwd, "write");
        for dir in &sandbox.writable {
            put(dir, "write");
        }
        if let Some(temp) = &sandbox.temp {
            // `:workspace` lets a process write /tmp and $TMPDIR: not here.
            put(Path::new(":slash_tmp"), "read");
            put(Path::new(":tmpdir"), "read");
            put(temp, "write");
        }
        let entries: Vec<String> = filesystem
            .into_iter()
            .map(|(path, access)| format!("{}=\"{access}\"", quoted(&path)))
            .collect();
        format!(
            "{{extends=\":workspace\", filesystem={{{}}}, network={{enabled=true}}}}",
            entries.join(", ")
        )
    }

    fn untrusted_projects(&self) -> String {
        let entries: Vec<String> = self
            .untrusted
            .iter()
            .map(|p| {
                format!(
                    "{}={{trust_level=\"untrusted\"}}",
                    quoted(&p.display().to_string())
                )
            })
            .collect();
        format!("{{{}}}", entries.join(", "))
    }
}

/// A TOML basic string (JSON's escapes are TOML's).
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox() -> Sandbox {
        Sandbox {
            network: false,
            hidden: vec!["/r/.tmp/state".into()],
            writable: vec!["/r/.tmp/state/drop/d1".into()],
            read_only: vec!["/r".into(), "/r.worktrees".into()],
            temp: Some("/r.worktrees/.tmp/d1".into()),
        }
    }

    #[test]
    fn the_agent_runs_under_a_fresh_profile_that_writes_only_its_own_folders() {
        let sandbox = sandbox();
        let reach = [PathBuf::from("/r/.tmp/state/acp/d1")];
        let untrusted = [PathBuf::from("/r.worktrees/d1"), PathBuf::from("/r")];
        let c = Confinement {
            codex: Path::new("/bin/codex"),
            sandbox: &sandbox,
            cwd: Path::new("/r.worktrees/d1"),
            reach: &reach,
            untrusted: &untrusted,
        };
        let argv = c.command(&["agent".into(), "--acp".into()]);
        assert_eq!(argv[..2], ["/bin/codex", "sandbox"]);
        assert_eq!(argv[argv.len() - 3..], ["--", "agent", "--acp"]);
        let profile = argv
            .iter()
            .position(|a| a == "-P")
            .map(|i| &argv[i + 1])
            .unwrap();
        assert!(profile.starts_with("codex-governance-acp-"), "{profile}");
        let defined = argv.iter().find(|a| a.starts_with("permissions.")).unwrap();
        assert!(
            defined.starts_with(&format!("permissions.{profile}=")),
            "{defined}"
        );
        for part in [
            "\"/r/.tmp/state\"=\"deny\"",
            "\"/r\"=\"read\"",
            "\"/r.worktrees\"=\"read\"",
            "\"/r/.tmp/state/acp/d1\"=\"write\"",
            "\"/r.worktrees/d1\"=\"write\"",
            "\"/r/.tmp/state/drop/d1\"=\"write\"",
            "\":slash_tmp\"=\"read\"",
            "\"/r.worktrees/.tmp/d1\"=\"write\"",
            "extends=\":workspace\"",
        ] {
            assert!(defined.contains(part), "{part} in {defined}");
        }
        assert!(argv.contains(&
            "projects={\"/r.worktrees/d1\"={trust_level=\"untrusted\"}, \"/r\"={trust_level=\"untrusted\"}}"
                .to_string()));
        // A folder named twice is one entry, the wider access.
        let planner = Confinement {
            cwd: Path::new("/r"),
            ..c
        };
        let defined = planner.profile();
        assert_eq!(defined.matches("\"/r\"=").count(), 1, "{defined}");
        assert!(defined.contains("\"/r\"=\"write\""), "{defined}");
        // A second start gets another name: a repository cannot target it.
        let again = c.command(&["agent".into()]);
        assert_ne!(
            again.iter().position(|a| a == "-P").map(|i| &again[i + 1]),
            Some(profile)
        );
    }

    #[test]
    fn a_path_with_quotes_stays_one_toml_string() {
        assert_eq!(quoted("/a \"b\"\\c"), "\"/a \\\"b\\\"\\\\c\"");
    }
}
