//! The facts cache against a real repository, store and files.

use std::path::Path;

use serde_json::json;

use super::*;
use crate::model::{result_key, Session, TaskResult};
use inputs::Reading;

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
    cache.keep(&store);
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

#[test]
fn a_result_written_reads_again_its_departments_report_alone() {
    let (_dir, cache, store) = setup();
    let department = |id: &str| {
        session(json!({
            "id": id, "session_kind": "department", "status": "exited",
            "log_path": "", "parent_session_id": "zhongshu-1", "last_report_id": "r1",
        }))
    };
    store
        .update(|tx| {
            tx.insert_session(department("lingyubu-1"));
            tx.insert_session(department("gongchengbu-2"));
        })
        .unwrap();
    let change = |key: &str| Change {
        results_written: true,
        result_keys: vec![key.to_string()],
    };
    let key = result_key("zhongshu-1", "lingyubu-1", "r1");
    let work = {
        let inputs = cache.inputs.lock().unwrap();
        store.read(|state| inputs.moved(state, &change(&key)))
    };
    assert_eq!(
        work.reports_named(),
        vec!["lingyubu-1"],
        "one department's report"
    );
    assert!(work.counts_unread_again());
    // A change that wrote no result reads no report and counts nothing again.
    let work = {
        let inputs = cache.inputs.lock().unwrap();
        store.read(|state| inputs.moved(state, &Change::default()))
    };
    assert!(work.reports_named().is_empty() && !work.counts_unread_again());
}

/// A plan whose named files are `named`, the user's uncommitted files at
/// its registration.
fn plan_naming(named: &[&str]) -> crate::model::Plan {
    serde_json::from_value(json!({
        "session_id": "zhongshu-1", "revision": 1, "summary": "s", "assignments": [],
        "needs_confirmation": false, "status": "dispatched", "registered_at": "t",
        "base": {"commit": "0".repeat(40), "dirty_files": named},
    }))
    .unwrap()
}

#[test]
fn a_ticks_reading_older_than_a_changes_is_not_kept() {
    let (dir, cache, store) = setup();
    let repo = dir.path().join("repo");
    std::fs::write(repo.join("src/a.rs"), "the user's edit\n").unwrap();
    store
        .update(|tx| tx.insert_plan(plan_naming(&["src/a.rs"])))
        .unwrap();
    let dirty = |c: &FactsCache| c.current().plan_files["zhongshu-1"].dirty.clone();
    assert_eq!(dirty(&cache), ["src/a.rs"]);
    // A tick reads the tree (the edit still there), without the inputs held...
    let (work, seen) = {
        let inputs = cache.inputs();
        let work = store.read(|state| inputs.plans_now(state));
        (work, inputs.changes_seen())
    };
    let stale = work.fetch(&repo, &store);
    // ...meanwhile the user reverts it and a change reads the plan again.
    std::fs::write(repo.join("src/a.rs"), "a\n").unwrap();
    store
        .update(|tx| tx.insert_plan(plan_naming(&["src/a.rs", "src/b.rs"])))
        .unwrap();
    assert!(dirty(&cache).is_empty(), "the change's reading");
    cache.take(stale, Reading::Tick { seen }, &mut cache.inputs());
    assert!(
        dirty(&cache).is_empty(),
        "the tick's older reading is not kept"
    );
}
