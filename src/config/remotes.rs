//! `launcher.remotes` (issue 53): other machines departments may work on.
//! Each is reached with the user's own `ssh` (their `~/.ssh/config`, agent,
//! ProxyJump and known hosts apply), so a host is whatever that `ssh`
//! accepts; or, for a container or a pod (issue 76), through a provider's
//! `exec` line: the program and words that run a command inside
//! (`[podman, exec, -i, cg-gpu]`, `[kubectl, exec, -i, pod/x, --]`), given
//! the command's words after them. The values reach a command line, here and on the host: a host
//! that could read as an option, a path that is not absolute, and a name
//! that is not an id are refused here, and the remote command is quoted
//! word by word where it is built (`crate::placement` (its `ssh.rs`)). A host named in a
//! cloned repository's file asks for the user's trust before anything runs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::provider_lifecycle::{Each, Lifecycle};
use super::ConfigError;

/// The file's words for one host under `launcher.remotes`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct FileRemote {
    #[serde(default)]
    pub ssh: Option<String>,
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default)]
    pub codex: Option<String>,
    #[serde(default)]
    pub max_departments: Option<usize>,
    /// Read as text so a wrong word gets this file's own message.
    #[serde(default)]
    pub sandbox: Option<String>,
    #[serde(default)]
    pub provider: Option<FileProvider>,
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    #[serde(default)]
    pub warm: Option<usize>,
}

/// The file's words for a host reached through a program (`provider:`).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct FileProvider {
    #[serde(default)]
    pub exec: Option<Vec<String>>,
    #[serde(default)]
    pub create: Option<Vec<String>>,
    #[serde(default)]
    pub destroy: Option<Vec<String>>,
}

/// The keys of one host, for did-you-mean.
pub const KEYS: &[&str] = &[
    "ssh",
    "provider",
    "repo",
    "codex",
    "max_departments",
    "sandbox",
    "labels",
    "warm",
];

/// The keys of a host's `provider:`.
pub const PROVIDER_KEYS: &[&str] = &["exec", "create", "destroy"];

/// How the launcher reaches a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// The user's ssh, to this destination.
    Ssh(String),
    /// This program and its words, then the command's words, run the
    /// command inside (`provider.exec`, `{name}` and `{repo}` filled in).
    Exec(Vec<String>),
}

impl Reach {
    /// How the user sees it: the ssh destination, or the exec line.
    pub fn shown(&self) -> String {
        match self {
            Reach::Ssh(destination) => destination.clone(),
            Reach::Exec(argv) => argv.join(" "),
        }
    }
}

/// Whether a host's departments must run in Codex's sandbox there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteSandbox {
    /// The pre-flight proves the sandbox works there, or the host is refused.
    #[default]
    Required,
    /// The user skips the pre-flight's proof: the host is ready without it.
    /// Its departments' commands still ask Codex for its sandbox there; what
    /// runs where it cannot start is Codex's to say, unproven.
    None,
}

/// A host departments may work on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remote {
    /// Its name in this file (`where: NAME`), an id.
    pub name: String,
    /// How it is reached.
    pub reach: Reach,
    /// The repository's clone on the host (absolute).
    pub repo: String,
    /// The Codex program on the host.
    pub codex: String,
    pub max_departments: usize,
    pub sandbox: RemoteSandbox,
    /// What a department's `where: {labels: [...]}` picks it by.
    pub labels: Vec<String>,
    /// The containers the launcher makes and removes for it, if it does.
    pub lifecycle: Option<Lifecycle>,
    /// The container of the launcher's making this value reaches (its
    /// exec line filled in by [`Remote::in_container`]).
    pub container: Option<String>,
}

impl Remote {
    /// This host as it reaches container `id` of its making: `{session}`
    /// in its exec line is `id`.
    pub fn in_container(&self, id: &str) -> Remote {
        let mut there = self.clone();
        if let Reach::Exec(line) = &mut there.reach {
            *line = Lifecycle::filled(line, id);
        }
        there.container = Some(id.to_string());
        there
    }

    /// The name its relay and its environment go by: the host's, or for a
    /// container of a department's own, `host.container`.
    pub fn place_id(&self) -> String {
        match (&self.container, &self.lifecycle) {
            (Some(id), Some(l)) if l.each == Each::Department => format!("{}.{id}", self.name),
            _ => self.name.clone(),
        }
    }
}

pub const DEFAULT_MAX_DEPARTMENTS: usize = 2;

/// Checks the file's words; `file` names the file in errors.
pub fn resolve(
    file: &str,
    words: Option<BTreeMap<String, FileRemote>>,
) -> Result<Vec<Remote>, ConfigError> {
    let mut remotes = Vec::new();
    for (name, w) in words.unwrap_or_default() {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            file: file.to_string(),
            key: if key.is_empty() {
                format!("launcher.remotes.{name}")
            } else {
                format!("launcher.remotes.{name}.{key}")
            },
            message,
        };
        if !crate::ids::is_valid_id(&name) {
            return Err(invalid(
                "",
                "not allowed as a host's name: letters, digits, _ and -, at most 128".into(),
            ));
        }
        let repo = w.repo.as_deref().map(str::trim).unwrap_or_default();
        let reach = reach(&name, &w, repo).map_err(|(key, why)| invalid(key, why))?;
        let lifecycle =
            lifecycle(&name, &w, repo, &reach).map_err(|(key, why)| invalid(key, why))?;
        let labels = w.labels.clone().unwrap_or_default();
        if let Some(bad) = labels.iter().find(|l| !crate::ids::is_valid_id(l)) {
            return Err(invalid(
                "labels",
                format!("{bad:?} is not a label: letters, digits, _ and -, such as gpu"),
            ));
        }
        if let Some(why) = bad_remote_path(repo) {
            return Err(invalid("repo", why));
        }
        let codex = w.codex.as_deref().map(str::trim).unwrap_or("codex");
        if let Some(why) = bad_program(codex, repo) {
            return Err(invalid("codex", why));
        }
        let max_departments = w.max_departments.unwrap_or(DEFAULT_MAX_DEPARTMENTS);
        if max_departments == 0 {
            return Err(invalid(
                "max_departments",
                format!("0 is not allowed: a number above 0 (did you mean {DEFAULT_MAX_DEPARTMENTS}, the default?)"),
            ));
        }
        let sandbox = match w.sandbox.as_deref().map(str::trim) {
            None | Some("required") => RemoteSandbox::Required,
            Some("none") => RemoteSandbox::None,
            Some(other) => {
                return Err(invalid(
                    "sandbox",
                    format!("{other:?} is not a choice: required (the default) or none"),
                ))
            }
        };
        remotes.push(Remote {
            name,
            reach,
            repo: repo.to_string(),
            codex: codex.to_string(),
            max_departments,
            sandbox,
            labels,
            lifecycle,
            container: None,
        });
    }
    Ok(remotes)
}

/// How host `name` is reached: its ssh destination, or its provider's
/// exec line (one of the two), or the key at fault and why.
fn reach(name: &str, w: &FileRemote, repo: &str) -> Result<Reach, (&'static str, String)> {
    let exec = match (&w.ssh, &w.provider) {
        (Some(_), Some(_)) => {
            return Err((
                "provider",
                "a host is reached with ssh or through a provider, not both: keep one".into(),
            ))
        }
        (_, None) => {
            let ssh = w.ssh.as_deref().map(str::trim).unwrap_or_default();
            return match bad_destination(ssh) {
                Some(why) => Err(("ssh", why)),
                None => Ok(Reach::Ssh(ssh.to_string())),
            };
        }
        (None, Some(p)) => p.exec.clone().unwrap_or_default(),
    };
    let filled = fill(&exec, name, repo);
    match super::provider_lifecycle::bad_line(&filled) {
        Some(why) => Err(("provider.exec", why)),
        None => Ok(Reach::Exec(filled)),
    }
}

/// `line` with host `name`'s `{name}` and `{repo}`.
fn fill(line: &[String], name: &str, repo: &str) -> Vec<String> {
    line.iter()
        .map(|word| word.replace("{name}", name).replace("{repo}", repo))
        .collect()
}

/// The containers host `name`'s provider has the launcher make, if any.
fn lifecycle(
    name: &str,
    w: &FileRemote,
    repo: &str,
    reach: &Reach,
) -> Result<Option<Lifecycle>, (&'static str, String)> {
    let Reach::Exec(exec) = reach else {
        return match w.warm {
            Some(n) if n > 0 => Err(("warm", "makes containers ahead: only for a provider".into())),
            _ => Ok(None),
        };
    };
    let provider = w.provider.clone().unwrap_or_default();
    let line = |l: Option<Vec<String>>| l.map(|l| fill(&l, name, repo));
    super::provider_lifecycle::resolve(exec, line(provider.create), line(provider.destroy), w.warm)
}

/// Why `ssh` cannot be handed to `ssh` as a destination, if it cannot.
fn bad_destination(ssh: &str) -> Option<String> {
    if ssh.is_empty() {
        return Some(
            "missing: the host as your ssh knows it, such as gpu1 or me@gpu1.example.com".into(),
        );
    }
    if ssh.starts_with('-') {
        return Some(format!(
            "{ssh:?} would read as an option of ssh: a host, such as gpu1"
        ));
    }
    // `[user@]host` of letters, digits, `.`, `_` and `-` only: git reads a
    // `/` as a local path and `::` as a remote helper, and a shell in the
    // user's ssh configuration (`ProxyCommand %h`) would read `$` or a quote.
    let plain = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    // ssh takes the host after the last `@` (`alice@corp.example@gpu1`).
    let (user_fits, host) = match ssh.rsplit_once('@') {
        Some((user, host)) => (user.split('@').all(plain), host),
        None => (true, ssh),
    };
    if ssh.len() > 255 || !user_fits || !plain(host) {
        return Some(format!(
            "{ssh:?} is not a host: [user@]host of letters, digits, '.', '_' and '-', such as \
             gpu1 or me@gpu1.example.com"
        ));
    }
    None
}

/// Why `codex` cannot be the program run on the host, if it cannot: a bare
/// name (looked up on the host's PATH) or an absolute path outside the
/// repository's clone (whose files the repository's author wrote).
fn bad_program(codex: &str, repo: &str) -> Option<String> {
    let bare = !codex.contains('/');
    // `//p/x` and `/./p/x` name `/p/x`.
    let parts = |path: &str| -> Vec<String> {
        path.split('/')
            .filter(|part| !part.is_empty() && *part != ".")
            .map(str::to_string)
            .collect()
    };
    let program = parts(codex);
    let inside = |root: &str| program.starts_with(&parts(root));
    let fine = !codex.is_empty()
        && !codex.starts_with('-')
        && !has_control(codex)
        && !codex.chars().any(char::is_whitespace)
        && (bare
            || (codex.starts_with('/')
                && !codex.split('/').any(|part| part == "..")
                && !inside(repo)
                && !inside(&format!("{}.governance", repo.trim_end_matches('/')))));
    (!fine).then(|| {
        format!(
            "{codex:?} is not a program the launcher runs: a name on the host's PATH or an \
             absolute path outside the repository's clone, such as codex or \
             /usr/local/bin/codex"
        )
    })
}

/// Why `repo` is not a path on the host the launcher may use, if it is not.
fn bad_remote_path(repo: &str) -> Option<String> {
    if repo.is_empty() {
        return Some(
            "missing: the repository's clone on the host, such as /home/me/src/project".into(),
        );
    }
    if !repo.starts_with('/') || repo.split('/').any(|part| part == "..") || has_control(repo) {
        return Some(format!(
            "{repo:?} is not allowed: an absolute path on the host, without .., such as /home/me/src/project"
        ));
    }
    None
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// What a repository's own file sets here that needs the user's say-so:
/// every host it names (departments would run there, over the user's ssh,
/// with the user's keys), and every host it lets run unsandboxed.
pub fn trust_asks(words: &BTreeMap<String, FileRemote>) -> Vec<(String, String, &'static str)> {
    let mut asks = Vec::new();
    for (name, w) in words {
        let ssh = w.ssh.as_deref().unwrap_or_default().trim();
        let repo = w.repo.as_deref().unwrap_or_default().trim();
        // The program it runs there is part of what is trusted.
        let codex = w.codex.as_deref().map(str::trim).unwrap_or("codex");
        match w
            .provider
            .as_ref()
            .and_then(|p| p.exec.as_ref().map(|e| (p, e)))
        {
            // The provider's lines run here, as you.
            Some((provider, exec)) => asks.push((
                format!("remotes.{name}"),
                provider_lines(provider, exec, repo, codex),
                "departments may work inside what this program reaches: it runs on this \
                 machine, as you, before any of their commands",
            )),
            None => asks.push((
                format!("remotes.{name}"),
                format!("{ssh}:{repo} running {codex}"),
                "departments may work on this machine, reached with your ssh and your keys",
            )),
        }
        if w.sandbox.as_deref().map(str::trim) == Some("none") {
            asks.push((
                format!("remotes.{name}.sandbox"),
                "none".into(),
                "Codex's sandbox is not checked on that machine: its departments' commands \
                 still ask for it, and where it does not work there they run unsandboxed, as you",
            ));
        }
    }
    asks
}

/// A provider's lines as the trust prompt shows them: each that runs here.
fn provider_lines(provider: &FileProvider, exec: &[String], repo: &str, codex: &str) -> String {
    let mut shown = format!("{} then {repo} running {codex}", exec.join(" "));
    for (key, line) in [("create", &provider.create), ("destroy", &provider.destroy)] {
        if let Some(line) = line {
            shown.push_str(&format!("; {key}: {}", line.join(" ")));
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(yaml: &str) -> Result<Vec<Remote>, ConfigError> {
        let words: BTreeMap<String, FileRemote> = serde_yaml_ng::from_str(yaml).unwrap();
        resolve("governance.yaml", Some(words))
    }

    #[test]
    fn a_realm_login_is_a_destination() {
        let r = one("gpu1: {ssh: alice@corp.example.com@gpu1, repo: /p}").unwrap();
        assert_eq!(r[0].reach, Reach::Ssh("alice@corp.example.com@gpu1".into()));
    }

    #[test]
    fn a_host_takes_the_defaults_it_does_not_name() {
        let r = one("gpu1: {ssh: me@gpu1.example.com, repo: /home/me/p}").unwrap();
        assert_eq!(
            r,
            vec![Remote {
                name: "gpu1".into(),
                reach: Reach::Ssh("me@gpu1.example.com".into()),
                repo: "/home/me/p".into(),
                codex: "codex".into(),
                max_departments: DEFAULT_MAX_DEPARTMENTS,
                sandbox: RemoteSandbox::Required,
                labels: Vec::new(),
                lifecycle: None,
                container: None,
            }]
        );
    }

    #[test]
    fn what_could_reach_a_command_line_as_something_else_is_refused() {
        for (yaml, key, said) in [
            (
                "gpu1: {ssh: -oProxyCommand=x, repo: /p}",
                "ssh",
                "option of ssh",
            ),
            ("gpu1: {ssh: 'a b', repo: /p}", "ssh", "[user@]host"),
            ("gpu1: {repo: /p}", "ssh", "missing"),
            ("gpu1: {ssh: h, repo: p}", "repo", "absolute path"),
            ("gpu1: {ssh: h, repo: /a/../b}", "repo", "without .."),
            (
                "gpu1: {ssh: h, repo: /p, codex: --help}",
                "codex",
                "not a program",
            ),
            // The repository's own file as the program, or a relative one.
            (
                "gpu1: {ssh: h, repo: /p, codex: /p/.ci/codex}",
                "codex",
                "outside the repository",
            ),
            (
                "gpu1: {ssh: h, repo: /p, codex: /p.governance/x}",
                "codex",
                "outside the repository",
            ),
            (
                "gpu1: {ssh: h, repo: /p, codex: //p/./.ci/codex}",
                "codex",
                "outside the repository",
            ),
            (
                "gpu1: {ssh: h, repo: /p, codex: bin/codex}",
                "codex",
                "absolute path",
            ),
            // What git or a shell would read as something else.
            ("gpu1: {ssh: a/b, repo: /p}", "ssh", "[user@]host"),
            ("gpu1: {ssh: 'fe80::1', repo: /p}", "ssh", "[user@]host"),
            ("gpu1: {ssh: 'h$(id)', repo: /p}", "ssh", "[user@]host"),
            ("gpu1: {ssh: '@h', repo: /p}", "ssh", "[user@]host"),
            (
                "gpu1: {ssh: h, repo: /p, max_departments: 0}",
                "max_departments",
                "above 0",
            ),
            (
                "gpu1: {ssh: h, repo: /p, sandbox: off}",
                "sandbox",
                "required (the default) or none",
            ),
            ("'../x': {ssh: h, repo: /p}", "", "host's name"),
        ] {
            let e = one(yaml).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(said), "{yaml}: {e}");
        }
    }

    #[test]
    fn a_providers_line_is_one_way_in_and_names_a_program() {
        for (yaml, key, said) in [
            (
                "box: {ssh: h, provider: {exec: [podman]}, repo: /p}",
                "provider",
                "not both",
            ),
            (
                "box: {provider: {exec: []}, repo: /p}",
                "provider.exec",
                "missing",
            ),
            ("box: {provider: {}, repo: /p}", "provider.exec", "missing"),
            (
                "box: {provider: {exec: [bin/run-inside, x]}, repo: /p}",
                "provider.exec",
                "absolute path",
            ),
            (
                "box: {provider: {exec: [--x]}, repo: /p}",
                "provider.exec",
                "not a program",
            ),
        ] {
            let e = one(yaml).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(said), "{yaml}: {e}");
        }
    }

    #[test]
    fn a_providers_exec_line_gets_the_hosts_name_and_folder() {
        let r = one(
            "gpu: {provider: {exec: [podman, exec, -i, 'cg-{name}', '--', 'x{repo}']}, repo: /srv/p}",
        )
        .unwrap();
        assert_eq!(
            r[0].reach,
            Reach::Exec(
                ["podman", "exec", "-i", "cg-gpu", "--", "x/srv/p"]
                    .map(String::from)
                    .to_vec()
            )
        );
        assert_eq!(r[0].reach.shown(), "podman exec -i cg-gpu -- x/srv/p");
    }

    #[test]
    fn every_named_host_and_an_unsandboxed_one_ask_for_trust() {
        let words: BTreeMap<String, FileRemote> = serde_yaml_ng::from_str(
            "gpu1: {ssh: gpu1, repo: /p}\nbox: {ssh: box, repo: /q, sandbox: none}\n\
             pod: {provider: {exec: [kubectl, exec, -i, pod/x, --]}, repo: /w}",
        )
        .unwrap();
        let asks = trust_asks(&words);
        let keys: Vec<&str> = asks.iter().map(|a| a.0.as_str()).collect();
        assert_eq!(
            keys,
            [
                "remotes.box",
                "remotes.box.sandbox",
                "remotes.gpu1",
                "remotes.pod"
            ]
        );
        // A provider's line is what runs here: it is what is trusted.
        assert_eq!(asks[3].1, "kubectl exec -i pod/x -- then /w running codex");
        assert!(
            asks[3].2.contains("runs on this machine, as you"),
            "{}",
            asks[3].2
        );
        // What `sandbox: none` does, and no more (issue 70 item 3): the
        // pre-flight's check is skipped; the commands still ask for it.
        let none = asks[1].2;
        assert!(
            none.contains("not checked") && none.contains("still ask for it"),
            "{none}"
        );
        assert!(
            !none.starts_with("departments' commands run unsandboxed"),
            "{none}"
        );
    }
}
