//! A `governance.yaml` edited while the launcher runs (issue 49 item 5):
//! the launcher keeps the configuration it started with, so the page says
//! which keys changed since, that they apply at the next start, and whether
//! the file as it is now would load at all (a start must not be the first
//! to tell). [`Watch::look`] is cheap when nothing moved: one `stat`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;
use serde_yaml_ng::Value;

use super::Config;

/// What changed in the configuration file since the launcher started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigChange {
    /// The file, from the repository's root.
    pub file: String,
    /// The keys whose values differ (added, removed or changed), as paths
    /// (`launcher.scope`, `departments.docs.globs`); a list is one value.
    pub keys: Vec<String>,
    /// When the change takes effect, in words.
    pub applies: String,
    /// Why the file as it is now would not load, if it would not.
    pub problem: Option<String>,
    /// What the start would warn of in the file as it is now (an unknown
    /// key with its did-you-mean), named as the start names it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The launcher reads its configuration once: every change waits for it.
pub const APPLIES: &str = "at the next start";

/// The key paths whose values differ between two texts of the file; YAML's
/// error when the new text is not YAML.
pub fn changed_keys(before: &str, after: &str) -> Result<Vec<String>, serde_yaml_ng::Error> {
    let parse = |t: &str| -> Result<Value, serde_yaml_ng::Error> {
        if t.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_yaml_ng::from_str(t)
    };
    let before = parse(before).unwrap_or(Value::Null);
    let after = parse(after)?;
    let mut keys = Vec::new();
    differ("", &before, &after, &mut keys);
    Ok(keys)
}

fn differ(at: &str, before: &Value, after: &Value, keys: &mut Vec<String>) {
    if before == after {
        return;
    }
    let empty = serde_yaml_ng::Mapping::new();
    let (b, a) = match (before, after) {
        (Value::Mapping(b), Value::Mapping(a)) => (b, a),
        (Value::Mapping(b), Value::Null) => (b, &empty),
        (Value::Null, Value::Mapping(a)) => (&empty, a),
        _ => {
            keys.push(if at.is_empty() {
                "(the whole file)".into()
            } else {
                at.into()
            });
            return;
        }
    };
    let mut names: Vec<&Value> = b
        .keys()
        .chain(a.keys().filter(|k| !b.contains_key(*k)))
        .collect();
    names.dedup();
    for name in names {
        let word = match name {
            Value::String(s) => s.clone(),
            other => serde_yaml_ng::to_string(other)
                .unwrap_or_default()
                .trim()
                .to_string(),
        };
        let path = if at.is_empty() {
            word
        } else {
            format!("{at}.{word}")
        };
        let null = Value::Null;
        differ(
            &path,
            b.get(name).unwrap_or(&null),
            a.get(name).unwrap_or(&null),
            keys,
        );
    }
}

/// Watches the file the launcher's configuration came from.
pub struct Watch {
    repo: PathBuf,
    path: PathBuf,
    /// The text the launcher started with ("" without a file).
    started: String,
    /// The file's size and time when last looked at; None: not looked at yet.
    stamp: Option<Option<(u64, SystemTime)>>,
    /// The file as the last look loaded it, when it changed and loads.
    loaded: Option<Config>,
}

impl Watch {
    /// Watches `config`'s file (where one would be read, without one).
    pub fn new(repo: &Path, config: &Config) -> Watch {
        Watch {
            repo: repo.to_path_buf(),
            path: config
                .source
                .clone()
                .unwrap_or_else(|| super::config_path(repo)),
            started: config.text.clone(),
            stamp: None,
            loaded: None,
        }
    }

    /// The changed file as the last look loaded it (None: unchanged, or it
    /// does not load), for what the next start will ask.
    pub fn loaded(&self) -> Option<&Config> {
        self.loaded.as_ref()
    }

    /// The file, from the repository's root.
    fn shown_file(&self) -> String {
        self.path
            .strip_prefix(&self.repo)
            .unwrap_or(&self.path)
            .display()
            .to_string()
    }

    /// Some(what the page should say) when the file moved since the last
    /// look (None inside: it is as the launcher started with it again);
    /// None when it did not move.
    pub fn look(&mut self) -> Option<Option<ConfigChange>> {
        let stamp = std::fs::symlink_metadata(&self.path)
            .ok()
            .map(|m| (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
        if self.stamp == Some(stamp) {
            return None;
        }
        self.stamp = Some(stamp);
        self.loaded = None;
        // Read as the launcher reads it at start: a link, a FIFO or a device
        // planted there is a problem to show, never followed or waited on.
        let now = match crate::files::read_regular_text(&self.path, super::MAX_CONFIG_BYTES) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                let file = self.shown_file();
                return Some(Some(ConfigChange {
                    problem: Some(format!("{file}: {e}")),
                    file,
                    keys: Vec::new(),
                    applies: APPLIES.into(),
                    warnings: Vec::new(),
                }));
            }
        };
        if now == self.started {
            return Some(None);
        }
        let file = self.shown_file();
        let (keys, problem) = match changed_keys(&self.started, &now) {
            Ok(keys) => match Config::load(&self.repo) {
                Ok(config) => {
                    self.loaded = Some(config);
                    (keys, None)
                }
                Err(e) => (keys, Some(e.to_string())),
            },
            Err(e) => (Vec::new(), Some(format!("{file}: not YAML: {e}"))),
        };
        if keys.is_empty() && problem.is_none() {
            // Comments or layout alone: nothing to apply.
            return Some(None);
        }
        let root = format!("{}{}", self.repo.display(), std::path::MAIN_SEPARATOR);
        let warnings = self
            .loaded
            .as_ref()
            .map(|c| c.warnings.iter().map(|w| w.replace(&root, "")).collect())
            .unwrap_or_default();
        Some(Some(ConfigChange {
            file,
            keys,
            applies: APPLIES.into(),
            problem: problem.map(|p| p.replace(&root, "")),
            warnings,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_changed_keys_are_named_and_comments_are_no_change() {
        let before = "# mine\nlauncher:\n  scope: warn\n  max_departments: 2\ndepartments:\n  docs: {globs: [a]}\n";
        let after = "launcher:\n  scope: block\n  max_departments: 2\n  merge: history\ndepartments:\n  docs: {globs: [a, b]}\n";
        assert_eq!(
            changed_keys(before, after).unwrap(),
            ["launcher.scope", "launcher.merge", "departments.docs.globs"]
        );
        assert_eq!(
            changed_keys(before, &format!("# more\n{before}")).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            changed_keys("", "launcher:\n  scope: block\n").unwrap(),
            ["launcher.scope"]
        );
        assert_eq!(
            changed_keys(before, "").unwrap(),
            [
                "launcher.scope",
                "launcher.max_departments",
                "departments.docs.globs"
            ]
        );
        assert!(changed_keys(before, "launcher: [unclosed\n").is_err());
    }

    #[test]
    fn an_edit_is_seen_once_and_a_bad_value_is_said() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(super::super::CONFIG_FILE);
        std::fs::write(&file, "launcher:\n  scope: warn\n").unwrap();
        let config = Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let mut watch = Watch::new(dir.path(), &config);
        assert_eq!(watch.look(), Some(None), "the first look: as started");
        assert_eq!(watch.look(), None, "nothing moved");
        std::fs::write(&file, "launcher:\n  scope: warm\n  merge: history\n").unwrap();
        let change = watch.look().expect("moved").expect("changed");
        assert_eq!(change.keys, ["launcher.scope", "launcher.merge"]);
        assert_eq!(change.applies, "at the next start");
        assert_eq!(change.file, "governance.yaml");
        let problem = change.problem.unwrap();
        assert!(
            problem.starts_with("governance.yaml:2: launcher.scope"),
            "{problem}"
        );
        std::fs::write(&file, "launcher:\n  scope: warn\n").unwrap();
        assert_eq!(watch.look(), Some(None), "back as it started");
        // An unknown key is named with its did-you-mean, as the start names
        // it (issue 70 item 9).
        std::fs::write(&file, "launcher:\n  scope: warn\n  max_departmens: 3\n").unwrap();
        let change = watch.look().expect("moved").expect("changed");
        assert!(
            change.warnings.iter().any(|w| w.contains("max_departmens")
                && w.contains("max_departments")
                && !w.contains(&dir.path().display().to_string())),
            "{:?}",
            change.warnings
        );
    }

    /// An agent that can write the user's tree plants a FIFO or a link to an
    /// endless device at `governance.yaml`: the watcher and the next load say
    /// what is there; neither waits on it nor reads through it.
    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_link_planted_at_the_file_is_said_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(super::super::CONFIG_FILE);
        std::fs::write(&file, "launcher:\n  scope: warn\n").unwrap();
        let config = Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let mut watch = Watch::new(dir.path(), &config);
        assert_eq!(watch.look(), Some(None));
        std::fs::remove_file(&file).unwrap();
        crate::files::make_fifo(&file);
        let change = watch.look().expect("moved").expect("said");
        let problem = change.problem.unwrap();
        assert!(problem.contains("not a regular file"), "{problem}");
        let loaded = Config::load_with_env(dir.path(), &Default::default()).unwrap_err();
        assert!(
            loaded.to_string().contains("not a regular file"),
            "{loaded}"
        );
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &file).unwrap();
        let change = watch.look().expect("moved").expect("said");
        let problem = change.problem.unwrap();
        assert!(problem.contains("a symbolic link"), "{problem}");
        let loaded = Config::load_with_env(dir.path(), &Default::default()).unwrap_err();
        assert!(loaded.to_string().contains("a symbolic link"), "{loaded}");
    }
}
