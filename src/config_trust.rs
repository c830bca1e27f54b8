//! Whether this repository's `governance.yaml` may run (issue 33 item 11).
//!
//! A cloned repository's configuration is someone else's file: it can name
//! the agent command, loosen the sandbox or integrate without asking
//! (`config::trust`). Until the user agrees in the page (or starts the
//! launcher with `--trust-config`), no session starts. The answer is kept
//! per version of the file (its SHA-256) in the user's own config folder,
//! outside every repository, so the next start of the same file does not
//! ask and a changed file asks again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::config::trust::{ConfigTrust, TrustAsk};

/// Versions of a file the user trusted in this run: every gate read again
/// from the file (a host's fetch-back, a teardown) opens for them too, even
/// where no answer could be kept (no config folder).
static TRUSTED_THIS_RUN: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// Why a trust answer could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(
        "the configuration changed since the page showed it (it is now {now}): look at it again"
    )]
    Changed { now: String },
    #[error("there is nothing to trust: this repository's configuration asks for nothing")]
    NothingAsked,
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The remembered answers: hash -> what was trusted.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Answers {
    #[serde(default)]
    trusted: BTreeMap<String, Remembered>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Remembered {
    file: String,
    at: String,
    /// What that version asked for (`key: value`); empty in answers kept
    /// before they were recorded.
    #[serde(default)]
    asks: Vec<String>,
}

/// An ask as it is remembered and compared.
fn said(a: &TrustAsk) -> String {
    format!("{}: {}", a.key, a.value)
}

/// The user's answers, in `<config folder>/trusted-configs.json`.
#[derive(Debug, Clone)]
pub struct TrustStore {
    file: PathBuf,
}

impl TrustStore {
    /// The store in `dir` (the user's config folder for this tool).
    pub fn in_dir(dir: &Path) -> TrustStore {
        TrustStore {
            file: dir.join("trusted-configs.json"),
        }
    }

    fn read(&self) -> Answers {
        std::fs::read(&self.file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn trusts(&self, hash: &str) -> bool {
        self.read().trusted.contains_key(hash)
    }

    /// What the newest trusted version of `file` asked for, if one was
    /// trusted with its asks recorded.
    fn last_trusted_asks(&self, file: &str) -> Option<Vec<String>> {
        self.read()
            .trusted
            .into_values()
            .filter(|r| r.file == file && !r.asks.is_empty())
            // By the instant, not the text: the offsets of local times differ.
            .max_by_key(|r| chrono::DateTime::parse_from_rfc3339(&r.at).ok())
            .map(|r| r.asks)
    }

    /// Keeps `hash` as trusted with what it `asks` (the file written whole,
    /// then renamed).
    pub fn remember(&self, hash: &str, source: &str, asks: &[TrustAsk]) -> Result<(), TrustError> {
        let io = |source| TrustError::Io {
            path: self.file.display().to_string(),
            source,
        };
        let dir = self.file.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut answers = self.read();
        answers.trusted.insert(
            hash.to_string(),
            Remembered {
                file: source.to_string(),
                at: crate::clock::now_rfc3339(),
                asks: asks.iter().map(said).collect(),
            },
        );
        let text = serde_json::to_vec_pretty(&answers).unwrap_or_default();
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut tmp, &text).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(&self.file).map_err(|e| io(e.error))?;
        Ok(())
    }
}

/// What the page shows while the configuration waits for the user.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TrustRequest {
    /// The file.
    pub file: String,
    /// Its SHA-256: the page sends it back with the answer.
    pub hash: String,
    /// What needs the user's say-so: for a file changed since the user
    /// trusted it, only what changed.
    pub settings: Vec<TrustAsk>,
    /// Settings that need trust and are as the user trusted them before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trusted_before: Vec<String>,
    /// The user trusted an earlier version of this file: the request is
    /// about an edit of it, not a stranger's file (issue 70 item 9).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub edited: bool,
}

/// The gate every session start passes.
#[derive(Debug)]
pub struct TrustGate {
    asked: ConfigTrust,
    file: String,
    store: Option<TrustStore>,
    trusted: AtomicBool,
    /// What the newest trusted earlier version of the file asked for.
    before: Vec<String>,
}

impl TrustGate {
    /// The gate of a loaded configuration.
    pub fn of(config: &crate::config::Config) -> TrustGate {
        let t = &config.trust;
        let file = config
            .source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "governance.yaml".into());
        let store = t.store_dir.as_deref().map(TrustStore::in_dir);
        TrustGate::new(t.clone(), file, store, t.granted)
    }

    /// Open when the file asks for nothing, the user granted it for this run
    /// (`granted`), the store remembers this version of it, or the newest
    /// version the user trusted asked for all it asks, as written (an edit
    /// that changed or added nothing that needs trust does not ask again).
    pub fn new(asked: ConfigTrust, file: String, store: Option<TrustStore>, granted: bool) -> Self {
        let remembered = match (&asked.hash, &store) {
            (Some(h), Some(s)) => s.trusts(h),
            _ => false,
        } || asked
            .hash
            .as_ref()
            .is_some_and(|h| TRUSTED_THIS_RUN.lock().unwrap().contains(h));
        let before = store
            .as_ref()
            .and_then(|s| s.last_trusted_asks(&file))
            .unwrap_or_default();
        // Nothing it asks for is new or changed (some may be gone).
        let nothing_new =
            !before.is_empty() && asked.asks.iter().all(|a| before.contains(&said(a)));
        let trusted = granted || !asked.asks_anything() || remembered || nothing_new;
        TrustGate {
            asked,
            file,
            store,
            trusted: AtomicBool::new(trusted),
            before,
        }
    }

    pub fn is_open(&self) -> bool {
        self.trusted.load(Ordering::Acquire)
    }

    /// What waits for the user; None once trusted.
    pub fn request(&self) -> Option<TrustRequest> {
        if self.is_open() {
            return None;
        }
        let (unchanged, changed): (Vec<&TrustAsk>, Vec<&TrustAsk>) = self
            .asked
            .asks
            .iter()
            .partition(|a| self.before.contains(&said(a)));
        Some(TrustRequest {
            file: self.file.clone(),
            hash: self.asked.hash.clone().unwrap_or_default(),
            // Compared as written; shown (terminal and page) with what could
            // hide the rest written out.
            settings: changed
                .into_iter()
                .map(|a| TrustAsk {
                    value: crate::sanitize::shown(&a.value),
                    ..a.clone()
                })
                .collect(),
            trusted_before: unchanged.into_iter().map(|a| a.key.clone()).collect(),
            edited: !self.before.is_empty(),
        })
    }

    /// Whether what the file says under `key` (the setting or one below
    /// it) is new or changed since the user last trusted it.
    pub fn waits_on(&self, key: &str) -> bool {
        self.request().is_some_and(|r| {
            r.settings.iter().any(|a| {
                a.key == key
                    || a.key
                        .strip_prefix(key)
                        .is_some_and(|rest| rest.starts_with('.'))
            })
        })
    }

    /// Why a session may not start yet; None when it may.
    pub fn refusal(&self) -> Option<String> {
        let r = self.request()?;
        let named: Vec<String> = r
            .settings
            .iter()
            .map(|a| format!("{}: {} ({})", a.key, a.value, a.meaning))
            .collect();
        Some(format!(
            "{} is not trusted yet. It sets {}. Look at it, then trust it in the dashboard \
             (or start with --trust-config); nothing runs until then",
            r.file,
            named.join("; ")
        ))
    }

    /// The user trusts the version `hash` of the file: kept, and the gate opens.
    pub fn trust(&self, hash: &str) -> Result<(), TrustError> {
        let Some(now) = self
            .asked
            .hash
            .as_deref()
            .filter(|_| self.asked.asks_anything())
        else {
            return Err(TrustError::NothingAsked);
        };
        if now != hash {
            return Err(TrustError::Changed {
                now: now.to_string(),
            });
        }
        if let Some(store) = &self.store {
            store.remember(hash, &self.file, &self.asked.asks)?;
        }
        TRUSTED_THIS_RUN.lock().unwrap().insert(hash.to_string());
        self.trusted.store(true, Ordering::Release);
        Ok(())
    }
}

/// The teardown commands of `config` (`launcher.worktree.teardown`), only
/// when the user trusts it: a cloned file's commands never run unasked.
pub fn teardown_of(config: &crate::config::Config) -> crate::worktrees::Teardown {
    let w = &config.launcher.worktree;
    if w.teardown.is_empty() || !TrustGate::of(config).is_open() {
        return crate::worktrees::Teardown::default();
    }
    crate::worktrees::Teardown {
        commands: w.teardown.clone(),
        timeout: std::time::Duration::from_secs(w.setup_timeout_seconds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(hash: &str) -> ConfigTrust {
        ConfigTrust {
            asks: vec![TrustAsk {
                key: "launcher.agent_command".into(),
                value: "sh".into(),
                meaning: "runs this program as every agent".into(),
            }],
            hash: Some(hash.into()),
            ..Default::default()
        }
    }

    /// The gate of a file no version of which was trusted in `dir`'s store.
    fn gate_of_a_new_file(dir: &tempfile::TempDir) -> TrustGate {
        let store = TrustStore::in_dir(dir.path());
        TrustGate::new(asked("n1"), "other.yaml".into(), Some(store), false)
    }

    #[test]
    fn what_a_terminal_would_hide_is_written_out_where_it_is_shown() {
        let mut asks = asked("h-shown");
        asks.asks[0].value = "curl x|sh #\u{1b}[2K\u{1b}[1G npm ci".into();
        let gate = TrustGate::new(asks, "g.yaml".into(), None, false);
        let said = gate.refusal().unwrap();
        assert!(said.contains("#\\u{001b}[2K\\u{001b}[1G npm ci"), "{said}");
        assert!(!said.contains('\u{1b}'), "{said}");
        let shown = &gate.request().unwrap().settings[0].value;
        assert!(!shown.contains('\u{1b}'), "{shown}");
    }

    /// Trusted in the page where no answer can be kept, a version of the
    /// file opens every gate read from it again in this run.
    #[test]
    fn a_version_trusted_without_a_store_opens_later_gates_of_this_run() {
        let hash = format!("h-{}", crate::secret::new_token());
        let gate = TrustGate::new(asked(&hash), "g.yaml".into(), None, false);
        assert!(!gate.is_open());
        gate.trust(&hash).unwrap();
        assert!(TrustGate::new(asked(&hash), "g.yaml".into(), None, false).is_open());
        assert!(!TrustGate::new(asked("other"), "g.yaml".into(), None, false).is_open());
    }

    #[test]
    fn an_answer_is_kept_per_version_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = TrustStore::in_dir(dir.path());
        let gate = TrustGate::new(asked("h1"), "g.yaml".into(), Some(store.clone()), false);
        assert!(!gate.is_open());
        assert!(gate
            .refusal()
            .unwrap()
            .contains("launcher.agent_command: sh"));
        assert!(matches!(gate.trust("h0"), Err(TrustError::Changed { .. })));
        gate.trust("h1").unwrap();
        assert!(gate.is_open() && gate.request().is_none());
        // The next start of the same file does not ask; another version does.
        assert!(TrustGate::new(asked("h1"), "g.yaml".into(), Some(store.clone()), false).is_open());
        let mut more = asked("h2");
        more.asks.push(TrustAsk {
            key: "launcher.backend".into(),
            value: "pty".into(),
            meaning: "agents run unsandboxed, as you".into(),
        });
        let changed = TrustGate::new(more, "g.yaml".into(), Some(store.clone()), false);
        assert!(!changed.is_open());
        // It names only what changed, and what stays as trusted by its key.
        let request = changed.request().unwrap();
        let keys: Vec<&str> = request.settings.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["launcher.backend"]);
        assert_eq!(request.trusted_before, ["launcher.agent_command"]);
        // An edit of a file the user trusted (issue 70 item 9), not a stranger's.
        assert!(request.edited && !gate_of_a_new_file(&dir).request().unwrap().edited);
        assert!(!changed.refusal().unwrap().contains("agent_command"));
        // Another version asking for exactly what was trusted does not ask
        // (its hash differs: an edit elsewhere in the file), nor one that
        // asks for less.
        assert!(TrustGate::new(asked("h3"), "g.yaml".into(), Some(store.clone()), false).is_open());
        let mut less = asked("h4");
        less.asks.clear();
        less.asks.push(TrustAsk {
            key: "launcher.isolation".into(),
            value: "shared".into(),
            meaning: "m".into(),
        });
        assert!(!TrustGate::new(less, "g.yaml".into(), Some(store.clone()), false).is_open());
        // What waits is known by its key, and by the keys below it.
        assert!(changed.waits_on("launcher.backend") && changed.waits_on("launcher"));
        assert!(!changed.waits_on("launcher.agent_command") && !changed.waits_on("launcher.back"));
        let calm = TrustGate::new(ConfigTrust::default(), "g.yaml".into(), None, false);
        assert!(calm.is_open());
        assert!(matches!(calm.trust("x"), Err(TrustError::NothingAsked)));
    }
}
