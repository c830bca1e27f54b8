//! What the cached facts were read from, what moved since (found in memory,
//! under the store's lock), and the reads themselves (git, files, the
//! database), done outside it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::model::{Session, State, WorkspaceState};
use crate::store::{Change, Store};
use crate::views::{Facts, PlanFiles, ReportFact};

/// How long after its end a session's files are watched for late bytes.
const LATE_BYTES: i64 = 60;

/// What the facts were read from.
#[derive(Default)]
pub(super) struct Inputs {
    /// Per Zhongshu whose plan names files to look at (and the changes
    /// seen when they were read: see [`Reading`]).
    plans: HashMap<String, (PlanInputs, u64)>,
    /// Per session whose preview was read (and when, as for plans).
    previews: HashMap<String, (PreviewInputs, u64)>,
    /// Per department with a last report: that report's result key.
    reports: HashMap<String, String>,
    /// Whether the reports and unread counts were read once (at open).
    read_once: bool,
    /// How many changes' readings were kept.
    changes: u64,
}

/// A plan's named files and the applied departments' commits.
#[derive(Debug, Clone, PartialEq)]
struct PlanInputs {
    /// The files the user had changed when the plan registered.
    named: Vec<String>,
    /// The files its own departments' Applies wrote (a reminder to commit
    /// them stands until they are committed, whatever other plans do).
    applied_paths: Vec<String>,
    applied: Vec<(String, String)>,
}

/// A session's state and its file's length when its preview was read.
#[derive(Debug, Clone, PartialEq)]
struct PreviewInputs {
    running: bool,
    ended_at: Option<String>,
    bytes: Option<u64>,
}

/// What to read, found in memory.
#[derive(Default)]
pub(super) struct Work {
    plans: Vec<(String, PlanInputs)>,
    plans_gone: Vec<String>,
    previews: Vec<Session>,
    previews_gone: Vec<String>,
    /// Per department: its last report's key (None: it has none any more).
    reports: Vec<(String, Option<String>)>,
    /// Whether the unread counts are read again.
    unread: bool,
}

impl Work {
    /// Reads what it names (git, files, the database); nothing is kept yet.
    pub(super) fn fetch(self, repo: &Path, store: &Store) -> Fetched {
        Fetched {
            plans: (self.plans.into_iter())
                .map(|(z, read)| {
                    let files = plan_files(repo, &read);
                    (z, read, files)
                })
                .collect(),
            plans_gone: self.plans_gone,
            previews: (self.previews.into_iter())
                .map(|s| {
                    let read = PreviewInputs::of(&s, file_bytes(&s));
                    let preview = crate::sessions::preview::from_files(&s);
                    (s.id, read, preview)
                })
                .collect(),
            previews_gone: self.previews_gone,
            reports: (self.reports.into_iter())
                .map(|(id, key)| {
                    let fact = key.as_deref().and_then(|k| report_fact(store, k));
                    (id, key, fact)
                })
                .collect(),
            unread: self.unread.then(|| unread_counts(store)),
        }
    }

    /// Leaves removals to the changes that make them ([`Inputs::moved`]).
    pub(super) fn without_removals(mut self) -> Work {
        self.plans_gone.clear();
        self.previews_gone.clear();
        self
    }

    /// The departments whose report it reads again.
    #[cfg(test)]
    pub(super) fn reports_named(&self) -> Vec<&str> {
        self.reports.iter().map(|(id, _)| id.as_str()).collect()
    }

    #[cfg(test)]
    pub(super) fn counts_unread_again(&self) -> bool {
        self.unread
    }

    pub(super) fn is_empty(&self) -> bool {
        self.plans.is_empty()
            && self.plans_gone.is_empty()
            && self.previews.is_empty()
            && self.previews_gone.is_empty()
            && self.reports.is_empty()
            && !self.unread
    }
}

/// What a [`Work`] read, to keep.
pub(super) struct Fetched {
    plans: Vec<(String, PlanInputs, PlanFiles)>,
    plans_gone: Vec<String>,
    previews: Vec<(String, PreviewInputs, String)>,
    previews_gone: Vec<String>,
    reports: Vec<(String, Option<String>, Option<ReportFact>)>,
    unread: Option<HashMap<String, usize>>,
}

/// Which reading a [`Fetched`] comes from.
#[derive(Clone, Copy)]
pub(super) enum Reading {
    /// A change's, read with the inputs held: kept, as of this new change.
    Change,
    /// A tick's, read without them, when the inputs had seen `seen`
    /// changes: kept where no change read the same again since.
    Tick { seen: u64 },
}

impl Fetched {
    /// Keeps what was read in `facts`, noting in `inputs` what from.
    pub(super) fn keep(self, reading: Reading, inputs: &mut Inputs, facts: &mut Facts) {
        let at = match reading {
            Reading::Change => {
                inputs.changes += 1;
                inputs.changes
            }
            Reading::Tick { seen } => seen,
        };
        // A tick's read is older than a change's that read the same since.
        let current = |read_at: Option<u64>| match reading {
            Reading::Change => true,
            Reading::Tick { seen } => read_at.is_none_or(|a| a <= seen),
        };
        if !self.plans.is_empty() || !self.plans_gone.is_empty() {
            let files = Arc::make_mut(&mut facts.plan_files);
            for z in self.plans_gone {
                files.remove(&z);
                inputs.plans.remove(&z);
            }
            for (z, read, found) in self.plans {
                let known = inputs.plans.get(&z).map(|(_, a)| *a);
                // A tick adds no plan: one it does not know was dropped meanwhile.
                let tick_without = matches!(reading, Reading::Tick { .. }) && known.is_none();
                if current(known) && !tick_without {
                    files.insert(z.clone(), found);
                    inputs.plans.insert(z, (read, at));
                }
            }
        }
        if !self.previews.is_empty() || !self.previews_gone.is_empty() {
            let previews = Arc::make_mut(&mut facts.previews);
            for id in self.previews_gone {
                previews.remove(&id);
                inputs.previews.remove(&id);
            }
            for (id, read, preview) in self.previews {
                if current(inputs.previews.get(&id).map(|(_, a)| *a)) {
                    previews.insert(id.clone(), preview);
                    inputs.previews.insert(id, (read, at));
                }
            }
        }
        if !self.reports.is_empty() {
            let reports = Arc::make_mut(&mut facts.reports);
            for (id, key, fact) in self.reports {
                match fact {
                    Some(fact) => reports.insert(id.clone(), fact),
                    None => reports.remove(&id),
                };
                match key {
                    Some(key) => inputs.reports.insert(id, key),
                    None => inputs.reports.remove(&id),
                };
            }
        }
        if let Some(unread) = self.unread {
            facts.unread = Arc::new(unread);
            inputs.read_once = true;
        }
    }
}

impl Inputs {
    /// What a change of the store (which wrote `change` of the results) moved.
    pub(super) fn moved(&self, state: &State, change: &Change) -> Work {
        let mut work = Work::default();
        self.plans_moved(state, false, &mut work);
        self.previews_moved(state, &mut work);
        self.reports_moved(state, change, &mut work);
        work
    }

    /// How many changes' readings were kept so far.
    pub(super) fn changes_seen(&self) -> u64 {
        self.changes
    }

    /// Every plan's files to read again (the user's tree moves without us).
    pub(super) fn plans_now(&self, state: &State) -> Work {
        let mut work = Work::default();
        self.plans_moved(state, true, &mut work);
        work
    }

    /// Adds to `work` the `watched` sessions without a `live` agent or
    /// terminal whose file grew (or shrank) since its preview was read.
    pub(super) fn grown(
        &self,
        work: &mut Work,
        watched: Vec<Session>,
        live: &dyn Fn(&str) -> bool,
    ) {
        work.previews = watched
            .into_iter()
            .filter(|s| !live(&s.id))
            .filter(|s| {
                let bytes = file_bytes(s);
                self.previews
                    .get(&s.id)
                    .is_none_or(|(p, _)| p.bytes != bytes)
            })
            .collect();
    }

    /// The plans whose files to read again: those whose inputs moved (all
    /// of them when `all`), and those that name none any more.
    fn plans_moved(&self, state: &State, all: bool, work: &mut Work) {
        let applied = state.applied_commits();
        let mut named: HashMap<&str, PlanInputs> = plans_with_named_files(state)
            .map(|(z, files, applied_paths)| {
                let inputs = PlanInputs {
                    named: files.to_vec(),
                    applied_paths,
                    applied: applied.clone(),
                };
                (z, inputs)
            })
            .collect();
        work.plans_gone = self
            .plans
            .keys()
            .filter(|z| !named.contains_key(z.as_str()))
            .cloned()
            .collect();
        work.plans = named
            .drain()
            .filter(|(z, read)| all || self.plans.get(*z).map(|(p, _)| p) != Some(read))
            .map(|(z, read)| (z.to_string(), read))
            .collect();
    }

    /// The sessions whose preview to read: those that ended since it was
    /// read (and, the first time, every session).
    fn previews_moved(&self, state: &State, work: &mut Work) {
        let first = !self.read_once;
        for s in state.sessions.values() {
            let known = self.previews.get(&s.id).map(|(p, _)| p);
            let moved = match known {
                None => first || !s.is_running(),
                Some(p) => p.running != s.is_running() || p.ended_at != s.ended_at,
            };
            if moved {
                work.previews.push(s.clone());
            }
        }
        work.previews_gone = self
            .previews
            .keys()
            .filter(|id| !state.sessions.contains_key(*id))
            .cloned()
            .collect();
    }

    /// The departments whose last report to read again (a new one, or one
    /// the change wrote; the first time, all), and whether to count the
    /// unread results again (the change wrote results).
    fn reports_moved(&self, state: &State, change: &Change, work: &mut Work) {
        let first = !self.read_once;
        let keys: HashMap<&str, String> = state
            .sessions
            .values()
            .filter_map(|s| Some((s.id.as_str(), s.last_report_key()?)))
            .collect();
        for (id, key) in &keys {
            let rewritten = change.result_keys.iter().any(|k| k == key);
            if first || rewritten || self.reports.get(*id) != Some(key) {
                work.reports.push((id.to_string(), Some(key.clone())));
            }
        }
        for id in self.reports.keys() {
            if !keys.contains_key(id.as_str()) {
                work.reports.push((id.clone(), None));
            }
        }
        work.unread = first || change.results_written;
    }
}

impl PreviewInputs {
    fn of(s: &Session, bytes: Option<u64>) -> PreviewInputs {
        PreviewInputs {
            running: s.is_running(),
            ended_at: s.ended_at.clone(),
            bytes,
        }
    }
}

/// The sessions whose files may still grow: those that run, and those that
/// ended within the last [`LATE_BYTES`] seconds.
pub(super) fn watched(state: &State, now: i64) -> Vec<Session> {
    state
        .sessions
        .values()
        .filter(|s| s.is_running() || ended_lately(s, now))
        .cloned()
        .collect()
}

/// Whether `s` ended within the last [`LATE_BYTES`] seconds.
fn ended_lately(s: &Session, now: i64) -> bool {
    s.ended_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| now - t.timestamp() <= LATE_BYTES)
}

/// The length of the file `s`'s preview is read from, if it is there.
fn file_bytes(s: &Session) -> Option<u64> {
    let file = crate::sessions::preview::source(s);
    crate::files::regular_len(&file)
}

/// The plans whose named files the user's tree may still change: those with
/// dirty files at registration that go on or whose work waits, and those
/// whose departments' Applies wrote files (with those files).
fn plans_with_named_files(state: &State) -> impl Iterator<Item = (&str, &[String], Vec<String>)> {
    state.plans.values().filter_map(|p| {
        let dirty = p
            .base
            .as_ref()
            .map_or(&[][..], |b| b.dirty_files.as_slice());
        let applied = applied_paths(state, &p.session_id);
        let shown = crate::views::planner::plan_files_shown(state, p);
        (shown && !(dirty.is_empty() && applied.is_empty())).then_some((
            p.session_id.as_str(),
            dirty,
            applied,
        ))
    })
}

/// The files Zhongshu `z`'s departments' Applies wrote.
fn applied_paths(state: &State, z: &str) -> Vec<String> {
    let mut paths: Vec<String> = state
        .children_of(z)
        .filter_map(|c| c.workspace())
        .filter(|w| w.state == WorkspaceState::Applied)
        .filter_map(|w| w.integrated.as_ref())
        .flat_map(|i| i.paths.iter().map(|p| p.path.clone()))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Which of a plan's named files the user's tree still changes, the user's
/// and the departments' applied ones apart.
fn plan_files(repo: &Path, read: &PlanInputs) -> PlanFiles {
    let mut all = read.named.clone();
    all.extend(read.applied_paths.iter().cloned());
    all.sort();
    all.dedup();
    let (applied, mut dirty) = crate::worktrees::dirty::plan_files(repo, &all, &read.applied);
    // A file its Apply wrote and the user changed since is the user's own
    // business, not a file the plan found dirty.
    dirty.retain(|f| read.named.contains(f));
    PlanFiles { dirty, applied }
}

/// The stored result `key`, as far as it asks the user something.
fn report_fact(store: &Store, key: &str) -> Option<ReportFact> {
    let result = store.result(key).ok().flatten()?;
    Some(ReportFact {
        question: result.confirmation_question(),
        report_id: result.report_id,
        needs_confirmation: result.needs_user_confirmation,
        answer: result.confirmation,
    })
}

/// Unread results per Zhongshu (none when the database cannot be read).
fn unread_counts(store: &Store) -> HashMap<String, usize> {
    store.unread_counts().unwrap_or_else(|e| {
        tracing::error!("unread counts: {e}");
        HashMap::new()
    })
}
