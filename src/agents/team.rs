//! The backends one launcher drives its agents with: its own (the planner's,
//! and that of every department that names none) and those departments
//! choose for themselves (`departments.<key>.backend`), so that one team
//! mixes Codex and ACP agents. Whoever asks how an agent is driven asks the
//! team for its department's backend; what all of them share (their
//! problems, their shutdown, their account news) is asked of each once.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{AccountEvent, AgentBackend, BackendSettings};

/// What keeps agents from starting: the launcher's own backend's problems
/// (no planner starts), and those of departments' own backends (only those
/// departments wait).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Problems {
    pub own: Vec<String>,
    pub departments: Vec<String>,
}

impl Problems {
    /// All of them, the launcher's first.
    pub fn all(&self) -> Vec<String> {
        self.own.iter().chain(&self.departments).cloned().collect()
    }
}

/// A launcher's backends.
pub struct Team {
    own: Arc<dyn AgentBackend>,
    /// Department key → its own backend (only those that differ).
    departments: BTreeMap<String, Arc<dyn AgentBackend>>,
    /// Each backend once, the launcher's first, with whom it drives.
    distinct: Vec<(Arc<dyn AgentBackend>, Vec<String>)>,
}

impl Team {
    /// One backend for every agent.
    pub fn single(own: Arc<dyn AgentBackend>) -> Team {
        Team {
            distinct: vec![(Arc::clone(&own), Vec::new())],
            own,
            departments: BTreeMap::new(),
        }
    }

    /// The launcher's backend and the departments' own, made by `make`: a
    /// setting two departments share (or share with the launcher) is one
    /// backend, so one Codex app-server serves all Codex agents.
    pub fn new(
        own: &BackendSettings,
        departments: &BTreeMap<String, BackendSettings>,
        make: impl Fn(&BackendSettings) -> Arc<dyn AgentBackend>,
    ) -> Team {
        let mut made: Vec<(&BackendSettings, Arc<dyn AgentBackend>, Vec<String>)> =
            vec![(own, make(own), Vec::new())];
        let mut by_department = BTreeMap::new();
        for (key, settings) in departments {
            let i = match made.iter().position(|(s, _, _)| *s == settings) {
                Some(i) => i,
                None => {
                    made.push((settings, make(settings), Vec::new()));
                    made.len() - 1
                }
            };
            // The launcher's own backend's problems are everyone's.
            if i > 0 {
                made[i].2.push(key.clone());
            }
            by_department.insert(key.clone(), Arc::clone(&made[i].1));
        }
        Team {
            own: Arc::clone(&made[0].1),
            departments: by_department,
            distinct: made.into_iter().map(|(_, b, keys)| (b, keys)).collect(),
        }
    }

    /// The launcher's own backend: the planner's, and every department's
    /// that names none.
    pub fn own(&self) -> &Arc<dyn AgentBackend> {
        &self.own
    }

    /// The backend that drives a session of `department` (None: a planner).
    pub fn of(&self, department: Option<&str>) -> &Arc<dyn AgentBackend> {
        department
            .and_then(|d| self.departments.get(d))
            .unwrap_or(&self.own)
    }

    /// Each backend once, the launcher's first.
    pub fn each(&self) -> impl Iterator<Item = &Arc<dyn AgentBackend>> {
        self.distinct.iter().map(|(b, _)| b)
    }

    /// What keeps agents from starting, each backend's; a department's own
    /// backend's problems name the departments it drives.
    pub async fn problems(&self) -> Problems {
        let mut found = Problems::default();
        for (backend, departments) in &self.distinct {
            let problems = backend.problems().await;
            if departments.is_empty() {
                found.own.extend(problems);
                continue;
            }
            let whose = match departments.as_slice() {
                [one] => format!("department {one}"),
                many => format!("departments {}", many.join(", ")),
            };
            found
                .departments
                .extend(problems.into_iter().map(|p| format!("{whose}: {p}")));
        }
        found
    }

    /// Ends what each backend shares between its agents (after they stopped).
    pub async fn shutdown(&self) {
        for backend in self.each() {
            backend.shutdown().await;
        }
    }

    /// Ends what a crashed launcher of `state_dir` left running.
    pub async fn end_left_running(&self, state_dir: &std::path::Path) {
        for backend in self.each() {
            backend.end_left_running(state_dir).await;
        }
    }

    /// Sends every backend's account-wide news to `tx`.
    pub fn watch_account(&self, tx: mpsc::UnboundedSender<AccountEvent>) {
        for backend in self.each() {
            backend.watch_account(tx.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::{AgentError, AgentSpec, Channel, Started};
    use crate::model::Backend;
    use futures_util::future::BoxFuture;

    struct Named(Backend, &'static str);

    impl AgentBackend for Named {
        fn kind(&self) -> Backend {
            self.0
        }
        fn channel(&self) -> Channel {
            Channel::Tools
        }
        fn problems(&self) -> BoxFuture<'_, Vec<String>> {
            let p = self.1;
            Box::pin(async move { vec![p.to_string()] })
        }
        fn start(&self, _: AgentSpec) -> BoxFuture<'_, Result<Started, AgentError>> {
            unreachable!("never started here")
        }
    }

    fn acp(agent: crate::agents::acp::settings::Profile) -> BackendSettings {
        BackendSettings::Acp(crate::agents::acp::Settings {
            agent,
            command: agent.default_command(),
            unsandboxed: false,
            confiner: "codex".into(),
            model_hosts: Vec::new(),
        })
    }

    #[tokio::test]
    async fn departments_run_their_own_backend_and_equal_settings_share_one() {
        use crate::agents::acp::settings::Profile;
        let own = BackendSettings::Pty;
        let departments = BTreeMap::from([
            ("a".to_string(), acp(Profile::Claude)),
            ("b".to_string(), acp(Profile::Claude)),
            ("c".to_string(), acp(Profile::Gemini)),
            ("d".to_string(), BackendSettings::Pty),
        ]);
        let made = std::sync::Mutex::new(0);
        let team = Team::new(&own, &departments, |s| {
            *made.lock().unwrap() += 1;
            let said = match s {
                BackendSettings::Acp(a) if a.agent == Profile::Claude => "no claude",
                BackendSettings::Acp(_) => "no gemini",
                _ => "no pty",
            };
            Arc::new(Named(s.kind(), said))
        });
        assert_eq!(*made.lock().unwrap(), 3, "one backend per distinct setting");
        assert_eq!(team.of(None).kind(), Backend::Pty);
        assert_eq!(team.of(Some("a")).kind(), Backend::Acp);
        assert!(Arc::ptr_eq(team.of(Some("a")), team.of(Some("b"))));
        assert!(!Arc::ptr_eq(team.of(Some("a")), team.of(Some("c"))));
        assert!(Arc::ptr_eq(team.of(Some("d")), team.own()));
        assert!(Arc::ptr_eq(team.of(Some("unnamed")), team.own()));
        let problems = team.problems().await;
        assert_eq!(problems.own, ["no pty"]);
        assert_eq!(
            problems.all(),
            [
                "no pty",
                "departments a, b: no claude",
                "department c: no gemini"
            ]
        );
        let single = Team::single(Arc::new(Named(Backend::Codex, "x")));
        assert_eq!(single.each().count(), 1);
        assert_eq!(single.of(Some("a")).kind(), Backend::Codex);
    }
}
