//! The facts the views read that cost git, file or database reads, kept here
//! so that no status build reads them (`crate::views::Facts`):
//!
//! - a plan's named files that the user's tree still changes, and which of
//!   them hold a department's applied change (libgit2, file hashes);
//! - the previews of sessions that run no longer (their transcript or
//!   conversation files);
//! - a department's last report's question and the unread results (the
//!   database).
//!
//! They are read again when what they come from moves: after every change
//! the store commits (its observer calls [`FactsCache::catch_up`] before the
//! change is acknowledged, so a command's answer and the next status agree
//! with it), and every [`TICK`] for what moves without a change of ours
//! ([`FactsCache::tick`]: the user edits and commits the plan's files; a
//! transcript's last bytes land after its session ended). Each part is read
//! only when its inputs moved, so a change that touches none costs a
//! comparison in memory.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::model::{result_key, Session, State, WorkspaceState};
use crate::store::Store;
use crate::views::{Facts, PlanFiles, ReportFact};

/// How often what moves without our changes is looked at again.
pub(super) const TICK: Duration = Duration::from_secs(2);
/// How long after its end a session's files are watched for late bytes.
const LATE_BYTES: i64 = 60;

/// The cached facts and what each was read from.
pub struct FactsCache {
    repo: PathBuf,
    current: RwLock<Arc<Facts>>,
    /// Moves whenever the facts do (the status cache's key has it).
    version: AtomicU64,
    inputs: Mutex<Inputs>,
    /// Told when a fact changed (the deltas look again).
    pub(super) changed: tokio::sync::Notify,
}

/// What the facts were read from.
#[derive(Default)]
struct Inputs {
    /// Per Zhongshu whose plan names files to look at.
    plans: HashMap<String, PlanInputs>,
    /// Per session whose preview was read.
    previews: HashMap<String, PreviewInputs>,
    /// Per department with a last report: that report's result key.
    reports: HashMap<String, String>,
    /// The store's results version the reports and unread counts are of.
    results: Option<u64>,
}

/// A plan's named files and the applied departments' commits.
#[derive(Debug, Clone, PartialEq)]
struct PlanInputs {
    named: Vec<String>,
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
struct Work {
    plans: Vec<(String, PlanInputs)>,
    plans_gone: Vec<String>,
    previews: Vec<Session>,
    previews_gone: Vec<String>,
    /// Per department: its last report's key (None: it has none any more).
    reports: Vec<(String, Option<String>)>,
    /// The results version, when the unread counts are read again.
    unread: Option<u64>,
}

impl Work {
    fn is_empty(&self) -> bool {
        self.plans.is_empty()
            && self.plans_gone.is_empty()
            && self.previews.is_empty()
            && self.previews_gone.is_empty()
            && self.reports.is_empty()
            && self.unread.is_none()
    }
}

impl FactsCache {
    pub fn new(repo: PathBuf) -> FactsCache {
        FactsCache {
            repo,
            current: RwLock::default(),
            version: AtomicU64::new(0),
            inputs: Mutex::default(),
            changed: tokio::sync::Notify::new(),
        }
    }

    /// The facts as of now.
    pub fn current(&self) -> Arc<Facts> {
        Arc::clone(&self.current.read().unwrap())
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// After a change of the store: reads again what it moved (the first
    /// time, everything). Whether a fact changed.
    pub fn catch_up(&self, store: &Store) -> bool {
        let mut inputs = self.inputs.lock().unwrap();
        let results = store.results_version();
        let work = store.read(|state| {
            let mut work = Work::default();
            inputs.plans_moved(state, false, &mut work);
            inputs.previews_moved(state, &mut work);
            inputs.reports_moved(state, results, &mut work);
            work
        });
        self.carry_out(store, &mut inputs, work)
    }

    /// What moves without a change of ours: the plans' files (while a plan
    /// names some), and the files of sessions not `live` that run or ended
    /// lately, when they grew. Whether a fact changed.
    pub fn tick(&self, store: &Store, live: &dyn Fn(&str) -> bool) -> bool {
        let mut inputs = self.inputs.lock().unwrap();
        let now = chrono::Utc::now().timestamp();
        let (mut work, watched) = store.read(|state| {
            let mut work = Work::default();
            inputs.plans_moved(state, true, &mut work);
            let watched: Vec<Session> = state
                .sessions
                .values()
                .filter(|s| s.is_running() || ended_lately(s, now))
                .cloned()
                .collect();
            (work, watched)
        });
        work.previews = watched
            .into_iter()
            .filter(|s| !live(&s.id))
            .filter(|s| {
                let bytes = file_bytes(s);
                inputs.previews.get(&s.id).is_none_or(|p| p.bytes != bytes)
            })
            .collect();
        self.carry_out(store, &mut inputs, work)
    }

    /// Reads what `work` names and publishes the facts if they changed.
    fn carry_out(&self, store: &Store, inputs: &mut Inputs, work: Work) -> bool {
        if work.is_empty() {
            return false;
        }
        let mut next = (*self.current()).clone();
        for z in work.plans_gone {
            next.plan_files.remove(&z);
            inputs.plans.remove(&z);
        }
        for (z, read) in work.plans {
            next.plan_files
                .insert(z.clone(), plan_files(&self.repo, &read));
            inputs.plans.insert(z, read);
        }
        for id in work.previews_gone {
            next.previews.remove(&id);
            inputs.previews.remove(&id);
        }
        for s in work.previews {
            let read = PreviewInputs::of(&s, file_bytes(&s));
            next.previews
                .insert(s.id.clone(), crate::sessions::preview::from_files(&s));
            inputs.previews.insert(s.id, read);
        }
        for (id, key) in work.reports {
            match key.as_deref().and_then(|k| report_fact(store, k)) {
                Some(fact) => next.reports.insert(id.clone(), fact),
                None => next.reports.remove(&id),
            };
            match key {
                Some(key) => inputs.reports.insert(id, key),
                None => inputs.reports.remove(&id),
            };
        }
        if let Some(results) = work.unread {
            next.unread = unread_counts(store);
            inputs.results = Some(results);
        }
        self.publish(next)
    }

    /// Makes `next` the current facts if they differ, and says so to the
    /// deltas (a change's events may have reached them first). Whether
    /// they did.
    fn publish(&self, next: Facts) -> bool {
        let mut current = self.current.write().unwrap();
        if **current == next {
            return false;
        }
        *current = Arc::new(next);
        self.version.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_one();
        true
    }
}

impl Inputs {
    /// The plans whose files to read again: those whose inputs moved (all
    /// of them when `all`), and those that name none any more.
    fn plans_moved(&self, state: &State, all: bool, work: &mut Work) {
        let applied = applied_commits(state);
        let mut named: HashMap<&str, PlanInputs> = plans_with_named_files(state)
            .map(|(z, files)| {
                let inputs = PlanInputs {
                    named: files.to_vec(),
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
            .filter(|(z, read)| all || self.plans.get(*z) != Some(read))
            .map(|(z, read)| (z.to_string(), read))
            .collect();
    }

    /// The sessions whose preview to read: those that ended since it was
    /// read (and, the first time, every session).
    fn previews_moved(&self, state: &State, work: &mut Work) {
        let first = self.results.is_none();
        for s in state.sessions.values() {
            let known = self.previews.get(&s.id);
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

    /// The departments whose last report to read again (all when results
    /// were written since), and whether to count the unread results again.
    fn reports_moved(&self, state: &State, results: u64, work: &mut Work) {
        let written = self.results != Some(results);
        let keys: HashMap<&str, String> = state
            .sessions
            .values()
            .filter_map(|s| Some((s.id.as_str(), last_report_key(s)?)))
            .collect();
        for (id, key) in &keys {
            if written || self.reports.get(*id) != Some(key) {
                work.reports.push((id.to_string(), Some(key.clone())));
            }
        }
        for id in self.reports.keys() {
            if !keys.contains_key(id.as_str()) {
                work.reports.push((id.clone(), None));
            }
        }
        work.unread = written.then_some(results);
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

/// Whether `s` ended within the last [`LATE_BYTES`] seconds (its files may
/// still grow).
fn ended_lately(s: &Session, now: i64) -> bool {
    s.ended_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| now - t.timestamp() <= LATE_BYTES)
}

/// The length of the file `s`'s preview is read from, if it is there.
fn file_bytes(s: &Session) -> Option<u64> {
    let file = crate::sessions::preview::source(s);
    std::fs::metadata(file).ok().map(|m| m.len())
}

/// The plans whose named files the user's tree may still change: those with
/// dirty files at registration that go on or whose work waits.
fn plans_with_named_files(state: &State) -> impl Iterator<Item = (&str, &[String])> {
    state.plans.values().filter_map(|p| {
        let dirty = &p.base.as_ref()?.dirty_files;
        let shown = p.outcome.is_none() || crate::views::session::work_waits(state, &p.session_id);
        (shown && !dirty.is_empty()).then_some((p.session_id.as_str(), dirty.as_slice()))
    })
}

/// The department sessions whose work is applied in the user's tree, with
/// their recorded commits.
fn applied_commits(state: &State) -> Vec<(String, String)> {
    state
        .sessions
        .values()
        .filter_map(|s| {
            let w = s.workspace()?;
            let commit = w.commit.clone()?;
            (w.state == WorkspaceState::Applied).then(|| (s.id.clone(), commit))
        })
        .collect()
}

/// Which of a plan's named files the user's tree still changes, the user's
/// and the departments' applied ones apart.
fn plan_files(repo: &std::path::Path, read: &PlanInputs) -> PlanFiles {
    let dirty = crate::worktrees::dirty::still_dirty(repo, &read.named);
    let (applied, dirty) = crate::worktrees::dirty::attribute_applied(repo, &read.applied, dirty);
    PlanFiles { dirty, applied }
}

/// A department's last report's result key.
fn last_report_key(s: &Session) -> Option<String> {
    let d = s.department_part()?;
    Some(result_key(
        d.parent_session_id.as_deref()?,
        &s.id,
        d.last_report_id.as_deref()?,
    ))
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

impl super::Launcher {
    /// Reads every fact once (the previous run's previews, plans, reports),
    /// then has the store's observer keep them after every change.
    pub(super) fn keep_facts(&self) {
        self.facts.catch_up(&self.ctx.store);
        let facts = Arc::clone(&self.facts);
        if !self.ctx.store.observe(Box::new(move |store: &Store| {
            facts.catch_up(store);
        })) {
            tracing::error!("the store already had an observer: the facts follow ticks only");
        }
    }

    /// Every [`TICK`], off the runtime, until the launcher stops: what
    /// moves without a change of ours ([`FactsCache::tick`]).
    pub(super) fn start_facts_tick(self: &Arc<Self>) {
        let this = Arc::clone(self);
        let stopped = self.stopped();
        self.ctx.spawn(async move {
            let ticks = async {
                loop {
                    tokio::time::sleep(TICK).await;
                    let this = Arc::clone(&this);
                    let looked = tokio::task::spawn_blocking(move || {
                        let live = this.sessions.live.as_ref();
                        let is_live = |id: &str| live.pty(id).is_some() || live.agent(id).is_some();
                        this.facts.tick(&this.ctx.store, &is_live)
                    })
                    .await;
                    if let Err(e) = looked {
                        tracing::error!("the facts' tick failed: {e}");
                    }
                }
            };
            tokio::select! {
                _ = ticks => {}
                _ = stopped => {}
            }
        });
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::model::TaskResult;

    /// A repository at `repo` with `src/a.rs` ("a") committed.
    pub(in crate::launcher) fn repo_with_a_file(repo: &Path) {
        let git = git2::Repository::init(repo).unwrap();
        std::fs::create_dir_all(repo.join("src")).unwrap();
        std::fs::write(repo.join("src/a.rs"), "a\n").unwrap();
        let mut index = git.index().unwrap();
        index.add_path(Path::new("src/a.rs")).unwrap();
        index.write().unwrap();
        let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
        let me = git2::Signature::now("t", "t@example.com").unwrap();
        git.commit(Some("HEAD"), &me, &me, "first", &tree, &[])
            .unwrap();
    }

    /// A repository with `src/a.rs` committed, and a store beside it whose
    /// observer keeps `cache` (as the launcher does).
    fn setup() -> (tempfile::TempDir, Arc<FactsCache>, Store) {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        repo_with_a_file(&repo);
        let store = Store::open(&dir.path().join("state")).unwrap();
        let cache = Arc::new(FactsCache::new(repo));
        cache.catch_up(&store);
        let kept = Arc::clone(&cache);
        assert!(store.observe(Box::new(move |s: &Store| {
            kept.catch_up(s);
        })));
        (dir, cache, store)
    }

    fn session(fields: serde_json::Value) -> Session {
        let mut v = json!({
            "role": "r", "department": null, "title": "t", "model": "m", "task": "do",
            "pid": 1, "exit_code": null, "started_at": "s", "ended_at": null,
            "prompt_path": "", "backend": "pty",
        });
        v.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_plans_dirty_files_are_read_at_its_change_and_again_at_a_tick() {
        let (dir, cache, store) = setup();
        let repo = dir.path().join("repo");
        std::fs::write(repo.join("src/a.rs"), "the user's edit\n").unwrap();
        let plan = serde_json::from_value(json!({
            "session_id": "zhongshu-1", "revision": 1, "summary": "s", "assignments": [],
            "needs_confirmation": false, "status": "dispatched", "registered_at": "t",
            "base": {"commit": "0".repeat(40), "dirty_files": ["src/a.rs"]},
        }))
        .unwrap();
        store.update(|tx| tx.insert_plan(plan)).unwrap();
        let dirty = |c: &FactsCache| c.current().plan_files["zhongshu-1"].dirty.clone();
        assert_eq!(
            dirty(&cache),
            ["src/a.rs"],
            "read at the change, before it returned"
        );
        // The user reverts it: no change of ours says so, the tick does.
        std::fs::write(repo.join("src/a.rs"), "a\n").unwrap();
        store.update(|tx| tx.next_id("q")).unwrap();
        assert_eq!(
            dirty(&cache),
            ["src/a.rs"],
            "a change that moves no input reads nothing"
        );
        let version = cache.version();
        assert!(cache.tick(&store, &|_| false));
        assert!(dirty(&cache).is_empty());
        assert!(cache.version() > version, "the status cache sees it");
        assert!(!cache.tick(&store, &|_| false), "nothing moved since");
    }

    #[test]
    fn an_ended_sessions_preview_is_read_when_it_ends_and_kept_without_its_file() {
        let (dir, cache, store) = setup();
        let log = dir.path().join("lingyubu-1.log");
        std::fs::write(&log, "working\n").unwrap();
        let d = session(json!({
            "id": "lingyubu-1", "session_kind": "department", "status": "running",
            "log_path": log.display().to_string(), "parent_session_id": "zhongshu-1",
        }));
        store.update(|tx| tx.insert_session(d)).unwrap();
        let preview = |c: &FactsCache| c.current().previews.get("lingyubu-1").cloned();
        assert_eq!(preview(&cache), None, "a running session's preview is live");
        std::fs::write(&log, "working\ndone: all green\n").unwrap();
        store
            .update(|tx| {
                let s = tx.session_mut("lingyubu-1").unwrap();
                s.status = crate::model::SessionStatus::Exited;
                s.ended_at = Some(crate::clock::now_rfc3339());
            })
            .unwrap();
        assert_eq!(preview(&cache).as_deref(), Some("working\ndone: all green"));
        // Its last bytes land after the end: a tick reads them.
        std::fs::write(&log, "working\ndone: all green\nbye\n").unwrap();
        assert!(cache.tick(&store, &|_| false));
        assert_eq!(
            preview(&cache).as_deref(),
            Some("working\ndone: all green\nbye")
        );
        std::fs::remove_file(&log).unwrap();
        store.update(|tx| tx.next_id("q")).unwrap();
        assert_eq!(
            preview(&cache).as_deref(),
            Some("working\ndone: all green\nbye")
        );
    }

    #[test]
    fn reports_and_unread_counts_follow_the_results_written() {
        let (_dir, cache, store) = setup();
        let d = session(json!({
            "id": "lingyubu-1", "session_kind": "department", "status": "exited",
            "log_path": "", "parent_session_id": "zhongshu-1", "last_report_id": "r1",
        }));
        store.update(|tx| tx.insert_session(d)).unwrap();
        assert!(cache.current().reports.is_empty(), "no result yet");
        let mut r = TaskResult::sample("r1", "did it");
        r.department_session_id = "lingyubu-1".into();
        r.needs_user_confirmation = true;
        r.next_action = Some("Ship it?".into());
        let key = result_key("zhongshu-1", "lingyubu-1", "r1");
        store.update(|tx| tx.put_result(&key, &r)).unwrap();
        let facts = cache.current();
        let report = &facts.reports["lingyubu-1"];
        assert!(report.needs_confirmation);
        assert_eq!(report.question, "Ship it?");
        assert_eq!(facts.unread.get("zhongshu-1"), Some(&1));
        store.update(|tx| tx.mark_read("zhongshu-1")).unwrap();
        assert_eq!(cache.current().unread.get("zhongshu-1"), None);
    }
}
