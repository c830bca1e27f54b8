//! Confinement of an ACP agent: its whole process runs in Codex's sandbox
//! (`codex sandbox`, Linux), under a permission profile made for the session
//! from its [`Sandbox`]: it writes only its working folder (a department's
//! worktree), its drop folder and its private temporary folder; it cannot
//! see the launcher's state folder but for its own tools' socket folder
//! (writable: Codex's sandbox opens a folder inside a denied one only so;
//! it holds nothing but that socket); the user's tree and the other
//! worktrees are read-only; `/tmp` and `$TMPDIR` too. The sandbox's network
//! stays on, but the agent starts in a network of its own that holds only
//! its model (`super::reach`, `platform::net_fence`).
//!
//! The profile's name is fresh per launch, and the repository's own Codex
//! settings are made inert for the run (`projects.<path>.trust_level =
//! "untrusted"`): a cloned repository's `.codex/config.toml` can neither
//! widen the profile nor add to the agent's environment.

use std::path::{Path, PathBuf};

use super::reach::ModelReach;
use crate::agents::Sandbox;

/// The profile names this launcher uses (each run adds a fresh suffix).
const PROFILE_PREFIX: &str = "codex-governance-acp";

/// How an ACP agent is held.
pub(super) enum Hold {
    /// As it is: the user let it run unconfined.
    Unconfined,
    /// Its whole process in Codex's sandbox (this Codex CLI).
    Whole(PathBuf),
    /// Whole in Codex's sandbox (this Codex CLI), with a settings folder of
    /// its own in the session's temporary folder (an agent that writes its
    /// settings folder: Codex's adapter, Claude Code's).
    WithHome(PathBuf, AgentHome),
}

/// An agent's settings folder of the session's own: the agent writes it,
/// and the user's stays read-only to it.
#[derive(Debug, Clone, Copy)]
pub(super) struct AgentHome {
    /// Its name in the session's temporary folder.
    pub folder: &'static str,
    /// The variable that points the agent at it.
    pub variable: &'static str,
    /// The user's own, under `HOME`, where the variable is not set.
    pub users: &'static str,
    /// What of the user's is copied in (settings, login).
    pub copies: &'static [&'static str],
    /// Files the launcher writes there: their paths in it and their text.
    pub written: &'static [(&'static str, &'static str)],
    /// Variables the agent gets beside the folder's.
    pub env: &'static [(&'static str, &'static str)],
    /// The agent's settings folder in its working folder, denied to it: a
    /// cloned repository's settings there (its programs, policies and
    /// variables) never apply.
    pub inert: &'static [&'static str],
    /// Where its model is: all its network reaches.
    pub model: ModelReach,
}

/// Codex's adapter: its app-server writes its home. Its login is copied
/// only when it is a key (`own_home`): a ChatGPT login's refresh would
/// spend the user's token.
pub(super) const CODEX_HOME: AgentHome = AgentHome {
    folder: "codex-home",
    variable: "CODEX_HOME",
    users: ".codex",
    copies: &["config.toml", "auth.json"],
    written: &[],
    env: &[
        ("INITIAL_AGENT_MODE", "agent-full-access"),
        // The launcher's MCP server is the session's, even where a Codex
        // setting names one `codex-governance`.
        ("DISABLE_MCP_CONFIG_FILTERING", "true"),
    ],
    // Codex's sandbox keeps `.codex` read-only; the trust below keeps it inert.
    inert: &[],
    model: ModelReach {
        variable: "OPENAI_BASE_URL",
        default_host: "api.openai.com:443",
    },
};

/// Claude Code: it writes its settings folder and `.claude.json` there. Its
/// login is not copied (a refresh would spend the user's token): it uses
/// the key `agent_env` passes. It asks before each tool use, so each is a
/// Needs-you approval (its auto mode would ask a model instead). The
/// working folder's `.claude` and `.mcp.json` are denied: a cloned
/// repository's hooks, permission rules and MCP servers never load.
pub(super) const CLAUDE_HOME: AgentHome = AgentHome {
    folder: "claude-config",
    variable: "CLAUDE_CONFIG_DIR",
    users: ".claude",
    copies: &[],
    written: &[(
        "settings.json",
        "{\"permissions\": {\"defaultMode\": \"default\"}}\n",
    )],
    env: &[],
    inert: &[".claude", ".mcp.json"],
    model: ModelReach {
        variable: "ANTHROPIC_BASE_URL",
        default_host: "api.anthropic.com:443",
    },
};

/// Gemini CLI: its home (`GEMINI_CLI_HOME`) holds its settings and chats.
/// Its login is not copied: it uses the key `agent_env` passes. Its user
/// settings there switch off its usage statistics, telemetry, updates and
/// `.env` files (a system settings file would win over all, but Gemini
/// skips one not owned by root in root-owned folders); the working folder's
/// `.gemini` is denied, so nothing of a cloned repository's (its settings,
/// MCP servers, hooks, policies, commands) loads above them. The working
/// folder is trusted (`GEMINI_CLI_TRUST_WORKSPACE`) only so that the
/// session's own MCP server is kept, and it is not relaunched (so a stop
/// reaches it).
pub(super) const GEMINI_HOME: AgentHome = AgentHome {
    folder: "gemini-home",
    variable: "GEMINI_CLI_HOME",
    users: ".gemini",
    copies: &[],
    written: &[(
        ".gemini/settings.json",
        "{\"privacy\": {\"usageStatisticsEnabled\": false}, \
         \"telemetry\": {\"enabled\": false}, \
         \"general\": {\"enableAutoUpdate\": false, \"enableAutoUpdateNotification\": false}, \
         \"advanced\": {\"ignoreLocalEnv\": true}}\n",
    )],
    env: &[
        ("GEMINI_CLI_TRUST_WORKSPACE", "true"),
        ("GEMINI_CLI_NO_RELAUNCH", "true"),
    ],
    inert: &[".gemini"],
    model: ModelReach {
        variable: "GOOGLE_GEMINI_BASE_URL",
        default_host: "generativelanguage.googleapis.com:443",
    },
};

/// What a confined program is started with: Codex's CLI and where the
/// session's tools socket lives. Also what the launcher's own runs over an
/// agent's work are confined by (`crate::landing`): the same profile, the
/// network off unless the sandbox allows it.
pub(crate) struct Confinement<'a> {
    /// The Codex CLI (its `sandbox` subcommand).
    pub codex: &'a Path,
    pub sandbox: &'a Sandbox,
    /// The agent's working folder.
    pub cwd: &'a Path,
    /// Folders of its own inside hidden ones (its tools' socket folder).
    pub reach: &'a [PathBuf],
    /// Folders denied though inside a writable one (an agent's settings
    /// folder in its working folder: [`AgentHome::inert`]).
    pub inert: &'a [PathBuf],
    /// Codex's project keys whose settings must not apply (the working
    /// folder and the repository it was checked out from, as Codex looks
    /// them up: `codex::project_trust::lookup_keys`).
    pub untrusted: &'a [String],
    /// Its network holds only its model (`platform::net_fence`): the local
    /// sockets that are files are denied too where the launcher knows they
    /// gather (`/run`, the user's `~/.ssh`, a database's and an editor's in
    /// `/tmp`). Unfenced, the sandbox's network is on only when the
    /// [`Sandbox`] allows it.
    pub fenced: bool,
}

/// A path the profile cannot name faithfully (not UTF-8: Codex would read
/// another path, and a deny on a path that is not there holds nothing).
#[derive(Debug, thiserror::Error)]
#[error("cannot confine the agent: the path {0} is not UTF-8")]
pub struct NotUtf8(pub String);

/// What a process with the network on could connect to and have commands
/// run outside the sandbox, denied: the user's local sockets (the session
/// bus and the user's systemd, tmux, X11, ssh-agent, Docker) and the user's
/// Codex home (its app-server's control socket; its login and past
/// conversations too). Abstract sockets stay reachable but for an agent in
/// a network of its own (`platform::net_fence`), which holds those too.
pub(super) fn user_sockets() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    match std::env::var_os("CODEX_HOME") {
        Some(home) => found.push(home.into()),
        None => {
            if let Some(home) = std::env::var_os("HOME") {
                found.push(Path::new(&home).join(".codex"));
            }
        }
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        found.push(dir.into());
    }
    if let Some(uid) = crate::platform::user_id() {
        found.push(format!("/run/user/{uid}").into());
        found.push(format!("/tmp/tmux-{uid}").into());
        found.push(format!("/tmp/codex-daemon-{uid}").into());
    }
    if let Some(agent) = std::env::var_os("SSH_AUTH_SOCK") {
        if let Some(dir) = Path::new(&agent).parent() {
            found.push(dir.to_path_buf());
        }
    }
    for fixed in [
        "/tmp/.X11-unix",
        "/tmp/.ICE-unix",
        "/run/docker.sock",
        "/var/run/docker.sock",
        "/run/dbus",
        "/var/run/dbus",
    ] {
        found.push(fixed.into());
    }
    // As the kernel names them: bwrap cannot mount over a path through a
    // link (`/var/run` is `/run`).
    let mut real: Vec<PathBuf> = Vec::new();
    for path in found.into_iter().filter_map(|p| p.canonicalize().ok()) {
        if path != Path::new("/") && !real.contains(&path) {
            real.push(path);
        }
    }
    real
}

impl Confinement<'_> {
    /// The program and arguments that run `agent` confined.
    pub fn command(&self, agent: &[String]) -> Result<Vec<String>, NotUtf8> {
        let name = format!("{PROFILE_PREFIX}-{}", &crate::secret::new_token()[..16]);
        let mut argv = vec![
            utf8(self.codex)?.to_string(),
            "sandbox".into(),
            "-c".into(),
            format!("permissions.{name}={}", self.profile(&self.sockets())?),
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
            utf8(self.cwd)?.to_string(),
            "--".into(),
        ];
        argv.extend(agent.iter().cloned());
        Ok(argv)
    }

    /// What an agent with a settings folder of its own (`home`, at `dir`,
    /// seeded by the caller) is started with. Codex's adapter also gets the
    /// Codex CLI underneath (`CODEX_PATH`) and leaves its commands to the
    /// sandbox around it: Codex's own cannot nest in it (`agent-full-access`).
    pub(super) fn home_env(
        &self,
        home: AgentHome,
        dir: &Path,
    ) -> Result<Vec<(String, String)>, NotUtf8> {
        let mut env = vec![(home.variable.to_string(), utf8(dir)?.to_string())];
        if home.variable == CODEX_HOME.variable {
            env.push(("CODEX_PATH".into(), utf8(self.codex)?.to_string()));
        }
        for (name, value) in home.env {
            env.push((name.to_string(), value.to_string()));
        }
        Ok(env)
    }

    /// The folders of local sockets denied to the agent.
    fn sockets(&self) -> Vec<PathBuf> {
        let mut sockets = user_sockets();
        if self.fenced {
            // Outside its network, a socket that is a file still connects
            // (even on a read-only mount): a database's, a resolver's, an
            // ssh connection's, a screen session's.
            let mut more: Vec<PathBuf> = vec![
                "/run".into(),
                "/var/run".into(),
                "/tmp/.s.PGSQL.5432".into(),
                "/tmp/mysql.sock".into(),
            ];
            if let Some(home) = std::env::var_os("HOME") {
                more.push(Path::new(&home).join(".ssh"));
            }
            if let Some(uid) = crate::platform::user_id() {
                more.push(format!("/tmp/emacs{uid}").into());
                more.push(format!("/tmp/screens/S-{uid}").into());
            }
            for path in more.into_iter().filter_map(|p| p.canonicalize().ok()) {
                if !sockets.iter().any(|s| path.starts_with(s) || s == &path) {
                    sockets.push(path);
                }
            }
        }
        sockets
    }

    /// The permission profile, as an inline TOML table; `sockets` denied.
    fn profile(&self, sockets: &[PathBuf]) -> Result<String, NotUtf8> {
        let network = self.fenced || self.sandbox.network;
        let entries: Vec<String> = self
            .entries(sockets)?
            .into_iter()
            .map(|(path, access)| format!("{}=\"{access}\"", quoted(&path)))
            .collect();
        Ok(format!(
            "{{extends=\":workspace\", filesystem={{{}}}, network={{enabled={network}}}}}",
            entries.join(", ")
        ))
    }

    /// The profile's folders and their access, one entry per path (TOML
    /// refuses a key twice): the later, wider one.
    fn entries(&self, sockets: &[PathBuf]) -> Result<Vec<(String, &'static str)>, NotUtf8> {
        let sandbox = self.sandbox;
        let mut filesystem: Vec<(String, &'static str)> = Vec::new();
        let mut bad: Option<NotUtf8> = None;
        let mut put = |path: &Path, access: &'static str| match utf8(path) {
            Ok(path) => {
                filesystem.retain(|(p, _)| p != path);
                filesystem.push((path.to_string(), access));
            }
            Err(e) => bad = Some(e),
        };
        for dir in sockets.iter().chain(&sandbox.hidden) {
            put(dir, "deny");
        }
        for dir in &sandbox.read_only {
            put(dir, "read");
        }
        for dir in self.reach {
            put(dir, "write");
        }
        if sandbox.work_read_only {
            // `:workspace` writes its roots (the working folder): not here.
            put(Path::new(":workspace_roots"), "read");
            put(self.cwd, "read");
        } else {
            put(self.cwd, "write");
        }
        for dir in &sandbox.writable {
            put(dir, "write");
        }
        for dir in self.inert {
            put(dir, "deny");
        }
        if let Some(temp) = &sandbox.temp {
            // `:workspace` lets a process write /tmp and $TMPDIR: not here.
            put(Path::new(":slash_tmp"), "read");
            put(Path::new(":tmpdir"), "read");
            put(temp, "write");
        }
        match bad {
            Some(e) => Err(e),
            None => Ok(without_nested_denies(filesystem)),
        }
    }

    fn untrusted_projects(&self) -> String {
        // Each key once: TOML refuses a key twice.
        let mut keys: Vec<&String> = Vec::new();
        for key in self.untrusted {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let entries: Vec<String> = keys
            .into_iter()
            .map(|key| format!("{}={{trust_level=\"untrusted\"}}", quoted(key)))
            .collect();
        format!("{{{}}}", entries.join(", "))
    }
}

/// The entries less each deny whose nearest listed folder above it is
/// denied already: Codex's sandbox cannot make a mount point inside a
/// denied folder (bwrap: "Can't mkdir … Read-only file system").
fn without_nested_denies(entries: Vec<(String, &'static str)>) -> Vec<(String, &'static str)> {
    let as_path = |p: &str| -> PathBuf {
        match p {
            ":slash_tmp" => PathBuf::from("/tmp"),
            other => PathBuf::from(other),
        }
    };
    let covered = |path: &str| {
        let path = as_path(path);
        entries
            .iter()
            .filter(|(other, _)| {
                let other = as_path(other);
                other != path && path.starts_with(&other)
            })
            .max_by_key(|(other, _)| as_path(other).components().count())
            .is_some_and(|(_, access)| *access == "deny")
    };
    entries
        .iter()
        .filter(|(path, access)| *access != "deny" || !covered(path))
        .cloned()
        .collect()
}

fn utf8(path: &Path) -> Result<&str, NotUtf8> {
    path.to_str()
        .ok_or_else(|| NotUtf8(path.display().to_string()))
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
            work_read_only: false,
        }
    }

    /// A department's confinement with nothing of its own beside its folder.
    fn plain(sandbox: &Sandbox, fenced: bool) -> Confinement<'_> {
        Confinement {
            codex: Path::new("/bin/codex"),
            sandbox,
            cwd: Path::new("/r.worktrees/d1"),
            reach: &[],
            inert: &[],
            untrusted: &[],
            fenced,
        }
    }

    #[test]
    fn a_reviewer_reads_its_folder_and_writes_only_its_temporary_one() {
        let reviewer = Sandbox {
            work_read_only: true,
            writable: Vec::new(),
            ..sandbox()
        };
        let c = plain(&reviewer, false);
        let entries = c.entries(&[]).unwrap();
        let access = |path: &str| {
            entries
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, a)| a.to_string())
        };
        // `:workspace` writes its roots unless told: a path's "read" alone
        // does not hold against it (tried with `codex sandbox`).
        assert_eq!(access(":workspace_roots").as_deref(), Some("read"));
        assert_eq!(access("/r.worktrees/d1").as_deref(), Some("read"));
        let writes: Vec<&String> = entries
            .iter()
            .filter(|(_, a)| *a == "write")
            .map(|(p, _)| p)
            .collect();
        assert_eq!(writes, ["/r.worktrees/.tmp/d1"], "{entries:?}");
    }

    /// Linux only: the paths are the kernel's (confinement is Linux's).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_fenced_agent_sees_no_local_socket_that_is_a_file() {
        let sandbox = sandbox();
        let c = |fenced| plain(&sandbox, fenced);
        let entries = |fenced| c(fenced).entries(&c(fenced).sockets()).unwrap();
        let access = |entries: &[(String, &str)], path: &str| {
            entries
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, a)| a.to_string())
        };
        let fenced = entries(true);
        assert_eq!(
            access(&fenced, "/run").as_deref(),
            Some("deny"),
            "{fenced:?}"
        );
        assert!(
            fenced.iter().all(|(p, _)| !p.starts_with("/run/")),
            "a deny inside a denied folder: {fenced:?}"
        );
        let open = entries(false);
        assert_eq!(access(&open, ":slash_tmp").as_deref(), Some("read"));
        assert_eq!(access(&open, "/run"), None);
        // Its own folders stay as they were.
        assert_eq!(access(&fenced, "/r.worktrees/d1").as_deref(), Some("write"));
    }

    #[test]
    fn the_agent_runs_under_a_fresh_profile_that_writes_only_its_own_folders() {
        let sandbox = sandbox();
        let reach = [PathBuf::from("/r/.tmp/state/acp/d1")];
        let untrusted = ["/r.worktrees/d1".to_string(), "/r".into(), "/r".into()];
        let c = Confinement {
            codex: Path::new("/bin/codex"),
            sandbox: &sandbox,
            cwd: Path::new("/r.worktrees/d1"),
            reach: &reach,
            inert: &[],
            untrusted: &untrusted,
            fenced: false,
        };
        let argv = c.command(&["agent".into(), "--acp".into()]).unwrap();
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
        let defined = planner.profile(&[]).unwrap();
        assert_eq!(defined.matches("\"/r\"=").count(), 1, "{defined}");
        assert!(defined.contains("\"/r\"=\"write\""), "{defined}");
        // A second start gets another name: a repository cannot target it.
        let again = c.command(&["agent".into()]).unwrap();
        assert_ne!(
            again.iter().position(|a| a == "-P").map(|i| &again[i + 1]),
            Some(profile)
        );
    }

    #[test]
    fn the_users_sockets_are_denied_and_a_path_not_utf8_refused() {
        let sandbox = sandbox();
        let c = plain(&sandbox, false);
        let defined = c.profile(&[PathBuf::from("/run/user/1000")]).unwrap();
        assert!(defined.contains("\"/run/user/1000\"=\"deny\""), "{defined}");
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let odd = PathBuf::from(std::ffi::OsStr::from_bytes(b"/r/st\xff"));
            let bad = Sandbox {
                hidden: vec![odd],
                ..sandbox.clone()
            };
            let c = Confinement { sandbox: &bad, ..c };
            assert!(c.command(&["agent".into()]).is_err());
        }
    }

    #[test]
    fn an_agent_gets_a_settings_folder_of_its_own_and_codexs_adapter_the_cli() {
        let sandbox = sandbox();
        let c = Confinement {
            codex: Path::new("/opt/codex"),
            sandbox: &sandbox,
            cwd: Path::new("/r.worktrees/d1"),
            reach: &[],
            inert: &[],
            untrusted: &[],
            fenced: false,
        };
        let env = c
            .home_env(CODEX_HOME, Path::new("/r.worktrees/.tmp/d1/codex-home"))
            .unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("CODEX_PATH"), Some("/opt/codex"));
        assert_eq!(get("CODEX_HOME"), Some("/r.worktrees/.tmp/d1/codex-home"));
        assert_eq!(get("INITIAL_AGENT_MODE"), Some("agent-full-access"));
        let env = c
            .home_env(CLAUDE_HOME, Path::new("/t/claude-config"))
            .unwrap();
        assert_eq!(
            env,
            [(
                "CLAUDE_CONFIG_DIR".to_string(),
                "/t/claude-config".to_string()
            )]
        );
        let env = c
            .home_env(GEMINI_HOME, Path::new("/t/gemini-home"))
            .unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("GEMINI_CLI_HOME"), Some("/t/gemini-home"));
        assert_eq!(get("GEMINI_CLI_NO_RELAUNCH"), Some("true"));
    }

    #[test]
    fn an_agents_settings_folder_in_its_working_folder_is_denied_inside_the_writable_one() {
        let sandbox = sandbox();
        let inert = [PathBuf::from("/r.worktrees/d1/.gemini")];
        let c = Confinement {
            codex: Path::new("/bin/codex"),
            sandbox: &sandbox,
            cwd: Path::new("/r.worktrees/d1"),
            reach: &[],
            inert: &inert,
            untrusted: &[],
            fenced: false,
        };
        let defined = c.profile(&[]).unwrap();
        assert!(
            defined.contains("\"/r.worktrees/d1\"=\"write\""),
            "{defined}"
        );
        assert!(
            defined.contains("\"/r.worktrees/d1/.gemini\"=\"deny\""),
            "{defined}"
        );
    }

    #[test]
    fn a_path_with_quotes_stays_one_toml_string() {
        assert_eq!(quoted("/a \"b\"\\c"), "\"/a \\\"b\\\"\\\\c\"");
    }
}
