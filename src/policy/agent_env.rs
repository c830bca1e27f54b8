//! Which of the launcher's environment variables an agent gets (issue 48,
//! item 11). The user's environment holds secrets (API keys, cloud
//! credentials, proxies with passwords): an agent is someone else's code, so
//! it gets only what a build needs, named here, and what the user names in
//! `launcher.agent_env`. Everything else stays with the launcher.

/// What passes on every system: where programs and the user's files are,
/// the user's name and shell, language and time, the terminal, the temporary
/// folder (the launcher sets the agent's own), the certificates tools trust,
/// and where the common toolchains live. Not the network's settings
/// (proxies may hold passwords, and agents have no network unless the user
/// turns it on), agent sockets (`SSH_AUTH_SOCK`), the display, or anything
/// holding a key: name those in `launcher.agent_env`.
pub const ALWAYS: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TERM",
    "COLORTERM",
    "TZ",
    "TMPDIR",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
    // The certificates tools trust (paths, no keys).
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO",
    // Toolchains: where they are installed, which version is chosen.
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "GOPATH",
    "GOROOT",
    "JAVA_HOME",
    "PYENV_ROOT",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "NVM_DIR",
    "NODE_PATH",
    "PNPM_HOME",
    "DOTNET_ROOT",
    "ANDROID_HOME",
];

/// What a Windows process needs besides: the system's folders, the user's
/// profile folders, how programs are found and the processor.
pub const WINDOWS: &[&str] = &[
    "SystemRoot",
    "SystemDrive",
    "windir",
    "ComSpec",
    "PATHEXT",
    "OS",
    "USERNAME",
    "USERPROFILE",
    "HOMEDRIVE",
    "HOMEPATH",
    "APPDATA",
    "LOCALAPPDATA",
    "ProgramData",
    "ALLUSERSPROFILE",
    "PUBLIC",
    "ProgramFiles",
    "ProgramFiles(x86)",
    "ProgramW6432",
    "CommonProgramFiles",
    "CommonProgramFiles(x86)",
    "CommonProgramW6432",
    "TEMP",
    "TMP",
    "NUMBER_OF_PROCESSORS",
    "PROCESSOR_ARCHITECTURE",
    "PROCESSOR_IDENTIFIER",
    "PROCESSOR_LEVEL",
    "PROCESSOR_REVISION",
];

/// The launcher's own variables: it sets an agent's itself, so none of its
/// environment's passes (a launcher started inside an agent session holds
/// that session's token).
pub const LAUNCHERS_OWN: &str = "CODEX_GOVERNANCE_";

/// The system an agent runs on: Windows' names add to the list and are
/// compared without case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    Unix,
    Windows,
}

/// The variables of `environment` an agent gets: the allowlist and the
/// user's `named` ones (a name, or a prefix ending in `*`), in the order
/// they come, never the launcher's own.
pub fn allowed<I>(environment: I, named: &[String], system: System) -> Vec<(String, String)>
where
    I: IntoIterator<Item = (String, String)>,
{
    let windows = system == System::Windows;
    let lists = ALWAYS
        .iter()
        .copied()
        .chain(WINDOWS.iter().copied().filter(|_| windows))
        .chain(named.iter().map(String::as_str));
    let patterns: Vec<&str> = lists.collect();
    environment
        .into_iter()
        .filter(|(name, _)| !starts_with(name, LAUNCHERS_OWN, windows))
        .filter(|(name, _)| patterns.iter().any(|p| matches(p, name, windows)))
        .collect()
}

/// An agent's whole environment: what passes of `environment` ([`allowed`]),
/// then the launcher's `own` variables for it (who it is, its PATH and
/// temporary folder), which win over a passed one of the same name.
pub fn for_agent<I>(
    environment: I,
    named: &[String],
    system: System,
    own: Vec<(String, String)>,
) -> Vec<(String, String)>
where
    I: IntoIterator<Item = (String, String)>,
{
    let windows = system == System::Windows;
    let mut env: Vec<(String, String)> = allowed(environment, named, system)
        .into_iter()
        .filter(|(name, _)| {
            !own.iter()
                .any(|(set, _)| set.len() == name.len() && starts_with(name, set, windows))
        })
        .collect();
    env.extend(own);
    env
}

fn matches(pattern: &str, name: &str, ignore_case: bool) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => starts_with(name, prefix, ignore_case),
        None if ignore_case => name.eq_ignore_ascii_case(pattern),
        None => name == pattern,
    }
}

fn starts_with(name: &str, prefix: &str, ignore_case: bool) -> bool {
    match name.get(..prefix.len()) {
        Some(head) if ignore_case => head.eq_ignore_ascii_case(prefix),
        Some(head) => head == prefix,
        None => false,
    }
}

/// The environment of a program the launcher starts where a department's
/// worktree covers `tree` (its exec-server at the user's path, issue 52):
/// nothing there may choose what it loads, so no `LD_*` or `DYLD_*`
/// variable, no `PATH` entry that is relative or in `tree`, and no other
/// variable that names a path in `tree` (`PWD`, a `CODEX_HOME` there).
pub fn outside_tree<I>(environment: I, tree: &str) -> Vec<(String, String)>
where
    I: IntoIterator<Item = (String, String)>,
{
    let inside = |p: &str| names_path_in(p, tree);
    environment
        .into_iter()
        .filter(|(k, _)| !k.starts_with("LD_") && !k.starts_with("DYLD_"))
        .filter_map(|(k, v)| {
            if k == "PATH" {
                let kept: Vec<&str> = v
                    .split(':')
                    .filter(|p| p.starts_with('/') && !inside(p))
                    .collect();
                return Some((k, kept.join(":")));
            }
            (!v.split(':').any(inside)).then_some((k, v))
        })
        .collect()
}

/// [`outside_tree`], also without a `PATH` entry or path whose real path
/// (`resolve`: links followed) lies in `tree`: an alias of the tree names
/// what is shown there too.
pub fn outside_tree_resolved<I>(
    environment: I,
    tree: &str,
    resolve: impl Fn(&str) -> String,
) -> Vec<(String, String)>
where
    I: IntoIterator<Item = (String, String)>,
{
    let inside = |p: &str| names_path_in(p, tree) || names_path_in(&resolve(p), tree);
    outside_tree(environment, tree)
        .into_iter()
        .filter_map(|(k, v)| {
            if k == "PATH" {
                let kept: Vec<&str> = v.split(':').filter(|p| !inside(p)).collect();
                return Some((k, kept.join(":")));
            }
            (!v.split(':').any(|p| p.starts_with('/') && inside(p))).then_some((k, v))
        })
        .collect()
}

/// Whether `path` is `tree` or in it.
pub fn names_path_in(path: &str, tree: &str) -> bool {
    let tree = tree.trim_end_matches('/');
    path == tree
        || path
            .strip_prefix(tree)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_program_under_a_worktree_at_the_users_path_gets_nothing_that_names_the_tree() {
        let vars = [
            ("PATH", "/repo/target/debug:/usr/bin:bin:/repo2/bin"),
            ("LD_LIBRARY_PATH", "/usr/lib"),
            ("PWD", "/repo"),
            ("CODEX_HOME", "/repo/.codex"),
            ("HOME", "/home/me"),
            ("RUST_LOG", "warn"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let kept = super::outside_tree(vars, "/repo");
        let names: Vec<&str> = kept.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["PATH", "HOME", "RUST_LOG"]);
        assert_eq!(kept[0].1, "/usr/bin:/repo2/bin");
        assert!(super::names_path_in("/repo", "/repo/"));
        assert!(!super::names_path_in("/repo2", "/repo"));
    }

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn names(v: &[(String, String)]) -> Vec<&str> {
        v.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn what_a_build_needs_passes_and_the_users_secrets_do_not() {
        let launcher = env(&[
            ("PATH", "/usr/bin"),
            ("HOME", "/home/u"),
            ("LANG", "C.UTF-8"),
            ("LC_ALL", "C"),
            ("CARGO_HOME", "/home/u/.cargo"),
            ("MY_SECRET_TOKEN", "s3cret"),
            ("AWS_SECRET_ACCESS_KEY", "k"),
            ("OPENAI_API_KEY", "sk-1"),
            ("SSH_AUTH_SOCK", "/run/agent"),
            ("HTTPS_PROXY", "http://user:pw@proxy:3128"),
            ("CODEX_GOVERNANCE_TOKEN", "t"),
            ("SystemRoot", "C:\\Windows"),
        ]);
        let got = allowed(launcher, &[], System::Unix);
        assert_eq!(
            names(&got),
            ["PATH", "HOME", "LANG", "LC_ALL", "CARGO_HOME"]
        );
        assert_eq!(got[0].1, "/usr/bin", "values pass unchanged");
    }

    #[test]
    fn the_user_names_more_by_name_or_prefix_but_never_the_launchers_own() {
        let launcher = env(&[
            ("MY_NAMED_VAR", "1"),
            ("MY_NAMED_VAR2", "2"),
            ("NPM_CONFIG_REGISTRY", "r"),
            ("NPM_CONFIG_CACHE", "c"),
            ("MY_SECRET_TOKEN", "s3cret"),
            ("CODEX_GOVERNANCE_TOKEN", "t"),
        ]);
        let named = ["MY_NAMED_VAR".to_string(), "NPM_CONFIG_*".to_string()];
        let got = allowed(launcher.clone(), &named, System::Unix);
        assert_eq!(
            names(&got),
            ["MY_NAMED_VAR", "NPM_CONFIG_REGISTRY", "NPM_CONFIG_CACHE"]
        );
        let all = ["CODEX_GOVERNANCE_TOKEN".to_string(), "*".to_string()];
        assert!(allowed(launcher, &all, System::Unix)
            .iter()
            .all(|(k, _)| k != "CODEX_GOVERNANCE_TOKEN"));
    }

    #[test]
    fn the_launchers_own_variables_win_over_passed_ones() {
        let launcher = env(&[
            ("Path", "C:\\user"),
            ("TMPDIR", "/tmp"),
            ("HOME", "/home/u"),
            ("MY_SECRET_TOKEN", "s3cret"),
        ]);
        let own = env(&[
            ("PATH", "/launcher:/usr/bin"),
            ("TMPDIR", "/agent-tmp"),
            ("CODEX_GOVERNANCE_SESSION_ID", "zhongshu-1"),
        ]);
        let unix = for_agent(launcher.clone(), &[], System::Unix, own.clone());
        assert_eq!(
            unix,
            env(&[
                ("HOME", "/home/u"),
                ("PATH", "/launcher:/usr/bin"),
                ("TMPDIR", "/agent-tmp"),
                ("CODEX_GOVERNANCE_SESSION_ID", "zhongshu-1"),
            ])
        );
        let windows = for_agent(launcher, &[], System::Windows, own);
        assert_eq!(
            names(&windows),
            ["HOME", "PATH", "TMPDIR", "CODEX_GOVERNANCE_SESSION_ID"],
            "Windows' Path is the launcher's PATH"
        );
    }

    #[test]
    fn windows_adds_its_system_variables_without_case() {
        let launcher = env(&[
            ("Path", "C:\\Windows"),
            ("SYSTEMROOT", "C:\\Windows"),
            ("ComSpec", "cmd.exe"),
            ("ProgramFiles(x86)", "C:\\P"),
            ("GITHUB_PAT", "x"),
            ("codex_governance_token", "t"),
        ]);
        let got = allowed(launcher.clone(), &[], System::Windows);
        assert_eq!(
            names(&got),
            ["Path", "SYSTEMROOT", "ComSpec", "ProgramFiles(x86)"]
        );
        assert_eq!(
            names(&allowed(launcher, &[], System::Unix)),
            Vec::<&str>::new(),
            "case counts elsewhere, and Windows' names are Windows' only"
        );
    }

    #[test]
    fn an_alias_of_the_tree_is_the_tree() {
        let resolve = |p: &str| match p {
            "/home/u/bin" => "/repo/bin".to_string(),
            "/home/u/codex-home" => "/repo/.codex".to_string(),
            other => other.to_string(),
        };
        let env = vec![
            (
                "PATH".to_string(),
                "/home/u/bin:/usr/bin:/repo/x".to_string(),
            ),
            ("CODEX_HOME".to_string(), "/home/u/codex-home".to_string()),
            ("LANG".to_string(), "C.UTF-8".to_string()),
        ];
        let kept = outside_tree_resolved(env, "/repo", resolve);
        assert_eq!(
            kept,
            [
                ("PATH".to_string(), "/usr/bin".to_string()),
                ("LANG".to_string(), "C.UTF-8".to_string())
            ]
        );
    }
}
