//! Reading results: they live only in the database and grow with history, so
//! every read is a query (on the reader connection), paged or counted, never a
//! scan of everything in memory.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::{schema, ResultPage, Store, StoreError};
use crate::model::TaskResult;

impl Store {
    pub(super) fn query<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut reader = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        let conn = match reader.as_mut() {
            Some(conn) => conn,
            None => reader.insert(schema::open_reader(&self.db_path).map_err(StoreError::Persist)?),
        };
        f(conn).map_err(StoreError::Persist)
    }

    pub fn result(&self, key: &str) -> Result<Option<TaskResult>, StoreError> {
        self.query(|c| schema::get_result(c, key))
    }

    /// Results of one Zhongshu, newest first, `limit` at a time.
    pub fn results_page(
        &self,
        parent: &str,
        limit: usize,
        before: Option<i64>,
    ) -> Result<ResultPage, StoreError> {
        self.query(|c| page_of(c, parent, limit, before))
    }

    /// A page and the Zhongshu's result count, read in one transaction, so a
    /// report registered between the two reads cannot make them disagree.
    pub fn results_page_counted(
        &self,
        parent: &str,
        limit: usize,
        before: Option<i64>,
    ) -> Result<(ResultPage, usize), StoreError> {
        self.query(|c| {
            let snapshot = c.unchecked_transaction()?;
            let page = page_of(&snapshot, parent, limit, before)?;
            let count = count_of(&snapshot, parent)?;
            Ok((page, count))
        })
    }

    /// Unread results per Zhongshu.
    pub fn unread_counts(&self) -> Result<HashMap<String, usize>, StoreError> {
        self.query(|c| {
            c.prepare_cached("SELECT parent, COUNT(*) FROM results WHERE read = 0 GROUP BY parent")?
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as usize)))?
                .collect()
        })
    }

    /// How many results are stored in all.
    pub fn result_total(&self) -> Result<usize, StoreError> {
        self.query(|c| {
            c.prepare_cached("SELECT COUNT(*) FROM results")?
                .query_row([], |r| r.get::<_, i64>(0))
                .map(|n| n as usize)
        })
    }

    /// How many results a Zhongshu has.
    pub fn result_count(&self, parent: &str) -> Result<usize, StoreError> {
        self.query(|c| count_of(c, parent))
    }

    /// Whether any result is filed for a department session.
    pub fn has_result_for(&self, department_session_id: &str) -> Result<bool, StoreError> {
        self.query(|c| schema::results_of_department(c, department_session_id))
            .map(|r| !r.is_empty())
    }

    /// The review comments written on one attempt, oldest first.
    pub fn review_comments_of(
        &self,
        session_id: &str,
    ) -> Result<Vec<crate::model::ReviewComment>, StoreError> {
        self.query(|c| schema::review_comments_of(c, session_id))
    }

    pub fn review_comment(
        &self,
        id: &str,
    ) -> Result<Option<crate::model::ReviewComment>, StoreError> {
        self.query(|c| schema::get_review_comment(c, id))
    }

    /// The results filed for a department session, oldest first.
    pub fn results_of_department(
        &self,
        department_session_id: &str,
    ) -> Result<Vec<TaskResult>, StoreError> {
        self.query(|c| schema::results_of_department(c, department_session_id))
    }
}

fn page_of(
    c: &Connection,
    parent: &str,
    limit: usize,
    before: Option<i64>,
) -> rusqlite::Result<ResultPage> {
    let mut stmt = c.prepare_cached(
        "SELECT ord, read, json FROM results WHERE parent = ?1 AND ord < ?2
         ORDER BY ord DESC LIMIT ?3",
    )?;
    let rows: Vec<(i64, TaskResult)> = stmt
        .query_map(
            params![parent, before.unwrap_or(i64::MAX), limit as i64 + 1],
            schema::result_from_row,
        )?
        .collect::<Result<_, _>>()?;
    let more = rows.len() > limit;
    let rows: Vec<_> = rows.into_iter().take(limit).collect();
    Ok(ResultPage {
        next_before: more.then(|| rows.last().map(|r| r.0)).flatten(),
        results: rows.into_iter().map(|r| r.1).collect(),
    })
}

fn count_of(c: &Connection, parent: &str) -> rusqlite::Result<usize> {
    c.prepare_cached("SELECT COUNT(*) FROM results WHERE parent = ?1")?
        .query_row([parent], |r| r.get::<_, i64>(0))
        .map(|n| n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::result_key;

    fn result(n: usize) -> TaskResult {
        TaskResult::sample(&format!("r-{n}"), &format!("report {n}"))
    }

    #[test]
    fn the_reader_opens_at_the_first_query_and_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.reader.lock().unwrap().is_none(), "no reader at open");
        assert!(store.result("none").unwrap().is_none());
        assert!(
            store.reader.lock().unwrap().is_some(),
            "kept for the next query"
        );
    }

    #[test]
    fn a_page_and_its_count_agree_while_reports_are_registered() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(dir.path()).unwrap());
        const N: usize = 150;
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || {
                for n in 0..N {
                    let r = result(n);
                    let key =
                        result_key(&r.parent_session_id, &r.department_session_id, &r.report_id);
                    store.update(|tx| tx.put_result(&key, &r)).unwrap();
                }
            })
        };
        let mut reads = 0;
        loop {
            let done = writer.is_finished();
            let (page, count) = store
                .results_page_counted("zhongshu-1", 1000, None)
                .unwrap();
            assert_eq!(page.results.len(), count, "after {reads} reads");
            reads += 1;
            if done {
                assert_eq!(count, N);
                break;
            }
        }
        writer.join().unwrap();
    }

    #[test]
    fn the_observer_hears_every_change_and_the_results_version_moves_with_results() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = std::sync::Arc::clone(&heard);
        assert!(
            store.observe(Box::new(move |s: &Store, c: &crate::store::Change| {
                log.lock()
                    .unwrap()
                    .push((s.results_version(), c.result_keys.clone()))
            }))
        );
        assert!(
            !store.observe(Box::new(|_: &Store, _: &crate::store::Change| {})),
            "one observer"
        );
        store.update(|tx| tx.next_id("q")).unwrap();
        let r = result(1);
        let key = result_key(&r.parent_session_id, &r.department_session_id, &r.report_id);
        store.update(|tx| tx.put_result(&key, &r)).unwrap();
        store.update(|tx| tx.mark_read("zhongshu-1")).unwrap();
        store.record(|tx| tx.next_id("q")).unwrap();
        // Heard after each commit, with the version as it then stood and
        // the results it stored.
        let stored = vec![key.clone()];
        assert_eq!(
            *heard.lock().unwrap(),
            vec![(0, vec![]), (1, stored), (2, vec![]), (2, vec![])]
        );
    }

    #[test]
    fn seen_is_the_developers_and_keeps_the_planners_read_and_the_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for n in 0..3 {
            let mut r = result(n);
            r.department_session_id = format!("lingyubu-{}", n % 2);
            let key = result_key(&r.parent_session_id, &r.department_session_id, &r.report_id);
            store.update(|tx| tx.put_result(&key, &r)).unwrap();
        }
        let order = |store: &Store| -> Vec<(String, bool, bool)> {
            let page = store.results_page("zhongshu-1", 10, None).unwrap();
            page.results
                .into_iter()
                .map(|r| (r.report_id, r.read, r.seen))
                .collect()
        };
        let before = order(&store);
        let one = store
            .update(|tx| tx.mark_seen("zhongshu-1", Some("lingyubu-1"), Some("r-1")))
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].report_id, "r-1");
        let seen: Vec<&str> = order(&store)
            .iter()
            .filter(|x| x.2)
            .map(|x| if x.0 == "r-1" { "r-1" } else { "other" })
            .collect();
        assert_eq!(seen, ["r-1"]);
        let rest = store
            .update(|tx| tx.mark_seen("zhongshu-1", None, None))
            .unwrap();
        assert_eq!(rest.len(), 2, "only the unseen ones");
        let after = order(&store);
        assert!(after.iter().all(|x| x.2), "{after:?}");
        let ids =
            |v: &[(String, bool, bool)]| v.iter().map(|x| (x.0.clone(), x.1)).collect::<Vec<_>>();
        assert_eq!(
            ids(&after),
            ids(&before),
            "the order and the planner's read stay"
        );
        assert_eq!(store.unread_counts().unwrap().get("zhongshu-1"), Some(&3));
    }
}
