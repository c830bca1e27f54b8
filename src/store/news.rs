//! What the store tells its followers (the page's event stream, the status
//! deltas, notify): each audited line as written, news that is not
//! audited, and after every committed change the rows it wrote, typed. On
//! `/api/events` the first two are `{event, seq, data}` as before; a page
//! hears of the third through the status's delta it causes.

use serde_json::{json, Value};

use crate::model::RemoteHost;

/// One change told to the followers.
#[derive(Debug, Clone)]
pub enum Event {
    /// A line of the audit log, as it was written.
    Audited { seq: u64, name: String, line: Value },
    /// News that is not audited, beside the audit seq it follows.
    News { seq: u64, news: News },
    /// A change was committed (after its audit lines, if it had any).
    Committed { seq: u64, touched: Touched },
}

/// What one committed change wrote, by table: a change that wrote no audit
/// line (an agent's token usage, a turn's state) is news all the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    /// The sessions whose records it changed, added or removed.
    pub sessions: Vec<String>,
    /// The plans it changed (by their planner's session id).
    pub plans: Vec<String>,
    pub terminals: bool,
    pub queue: bool,
    pub quota: bool,
    /// The results it stored or removed, by key.
    pub results: Vec<String>,
    /// It marked results read or seen, or copied them.
    pub results_marked: bool,
}

impl Touched {
    /// It wrote nothing.
    pub fn is_empty(&self) -> bool {
        *self == Touched::default()
    }
}

/// Changes the audit log does not keep.
#[derive(Debug, Clone)]
pub enum News {
    /// A notice's delivery moved on (sent, failed, given up).
    NoticeDelivery { id: String },
    /// The user saw a department's report in the review.
    ResultSeen {
        parent: String,
        department: String,
        report: String,
    },
    /// A Zhongshu's inbox was read.
    ResultsRead { parent: String, count: usize },
    /// The agents' programs were checked again.
    AgentsChecked { problems: Vec<String> },
    /// The hosts of `launcher.remotes` were checked, or one changed.
    HostsChecked { hosts: Vec<RemoteHost> },
}

impl Event {
    pub fn audited(seq: u64, line: Value) -> Event {
        let name = line["event"].as_str().unwrap_or("").to_string();
        Event::Audited { seq, name, line }
    }

    /// The audit seq it carries (the latest one for news).
    pub fn seq(&self) -> u64 {
        match self {
            Event::Audited { seq, .. } | Event::News { seq, .. } | Event::Committed { seq, .. } => {
                *seq
            }
        }
    }

    /// Its name on the event stream (`session_started`, `remotes_checked`).
    pub fn name(&self) -> &str {
        match self {
            Event::Audited { name, .. } => name,
            Event::News { news, .. } => news.name(),
            Event::Committed { .. } => "committed",
        }
    }

    /// Its fields on the event stream.
    pub fn data(&self) -> Value {
        match self {
            Event::Audited { line, .. } => line.clone(),
            Event::News { news, .. } => news.data(),
            Event::Committed { touched, .. } => json!({
                "sessions": touched.sessions,
                "plans": touched.plans,
                "queue": touched.queue,
                "quota": touched.quota,
                "results": touched.results,
                "results_marked": touched.results_marked,
            }),
        }
    }

    /// Whether a page hears it as a line of the event stream: an audited
    /// line or news, not a commit (its delta says what it changed).
    pub fn for_pages(&self) -> bool {
        !matches!(self, Event::Committed { .. })
    }

    /// A text field of its data (`session_id`, `parent_session_id`).
    pub fn field(&self, key: &str) -> Option<&str> {
        match (self, key) {
            (Event::Audited { line, .. }, _) => line.get(key).and_then(Value::as_str),
            (
                Event::News {
                    news: News::ResultSeen { parent, .. } | News::ResultsRead { parent, .. },
                    ..
                },
                "parent_session_id",
            ) => Some(parent),
            (
                Event::News {
                    news: News::ResultSeen { department, .. },
                    ..
                },
                "department_session_id",
            ) => Some(department),
            (Event::News { .. } | Event::Committed { .. }, _) => None,
        }
    }
}

impl News {
    fn name(&self) -> &'static str {
        match self {
            News::NoticeDelivery { .. } => "notice_delivery",
            News::ResultSeen { .. } => "result_seen",
            News::ResultsRead { .. } => "results_read",
            News::AgentsChecked { .. } => "agents_checked",
            News::HostsChecked { .. } => "remotes_checked",
        }
    }

    fn data(&self) -> Value {
        match self {
            News::NoticeDelivery { id } => json!({ "id": id }),
            News::ResultSeen {
                parent,
                department,
                report,
            } => json!({
                "parent_session_id": parent,
                "department_session_id": department,
                "report_id": report,
            }),
            News::ResultsRead { parent, count } => {
                json!({ "parent_session_id": parent, "count": count })
            }
            News::AgentsChecked { problems } => json!({ "problems": problems }),
            News::HostsChecked { hosts } => json!({ "remotes": hosts }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn news_keeps_the_names_and_fields_the_page_heard_before() {
        let seen = Event::News {
            seq: 7,
            news: News::ResultSeen {
                parent: "z-1".into(),
                department: "d-1".into(),
                report: "r-1".into(),
            },
        };
        assert_eq!(seen.name(), "result_seen");
        assert_eq!(seen.seq(), 7);
        assert_eq!(
            seen.data(),
            json!({"parent_session_id": "z-1", "department_session_id": "d-1", "report_id": "r-1"})
        );
        assert_eq!(seen.field("parent_session_id"), Some("z-1"));
        assert_eq!(seen.field("session_id"), None);
        let line = Event::audited(8, json!({"event": "session_started", "session_id": "d-1"}));
        assert_eq!(line.name(), "session_started");
        assert_eq!(line.field("session_id"), Some("d-1"));
        let hosts = Event::News {
            seq: 8,
            news: News::HostsChecked { hosts: Vec::new() },
        };
        assert_eq!(hosts.name(), "remotes_checked");
        assert_eq!(hosts.data(), json!({"remotes": []}));
    }

    /// Every committed change is told with the rows and results it wrote,
    /// an audit line or not (issue 71 item 1): a session's record changed
    /// without one (as an agent's token usage is) reaches the followers all
    /// the same, and a change that wrote no row (an audit line alone) is
    /// told by its line only.
    #[test]
    fn a_commit_is_told_with_the_rows_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).unwrap();
        let mut rx = store.subscribe();
        let d = crate::model::Session::sample_department("lingyubu-1");
        store.update(|tx| tx.insert_session(d)).unwrap();
        store
            .record(|tx| tx.session_mut("lingyubu-1").unwrap().agent.turn_count += 1)
            .unwrap();
        store.audit_or_log(crate::model::AuditEvent::LauncherStopped { pid: 1 });
        let r = crate::model::TaskResult::sample("r1", "done");
        store
            .update(|tx| tx.put_result("zhongshu-1/r1", &r))
            .unwrap();
        let mut heard = Vec::new();
        while let Ok(e) = rx.try_recv() {
            heard.push(match &*e {
                Event::Committed { touched, .. } => {
                    assert!(!e.for_pages(), "a page hears its delta");
                    format!("committed {:?} {:?}", touched.sessions, touched.results)
                }
                other => other.name().to_string(),
            });
        }
        assert_eq!(
            heard,
            [
                r#"committed ["lingyubu-1"] []"#,
                r#"committed ["lingyubu-1"] []"#,
                "launcher_stopped",
                r#"committed [] ["zhongshu-1/r1"]"#,
            ]
        );
    }
}
