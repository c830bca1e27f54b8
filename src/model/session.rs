//! A session record: what every agent session has, and what only a Zhongshu
//! or only a department has, as a tagged part the compiler checks.

use serde::{Deserialize, Serialize};

use super::{CloseReason, NoticeStatus, PlanStatus, ReportStatus, SessionKind, SessionStatus};

/// Text typed into a session. The API shows it under both its names and the
/// Python tool's (`sent_at`, `text`, `prompt`: what was delivered, the text
/// itself here). Only delivered input is recorded (a failed one is a failed
/// request), so `ok` is true and `error` empty, as Python showed a success.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct InputRecord {
    pub at: String,
    pub input: String,
}

impl Serialize for InputRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("InputRecord", 7)?;
        out.serialize_field("at", &self.at)?;
        out.serialize_field("input", &self.input)?;
        out.serialize_field("sent_at", &self.at)?;
        out.serialize_field("text", &self.input)?;
        out.serialize_field("prompt", &self.input)?;
        out.serialize_field("ok", &true)?;
        out.serialize_field("error", "")?;
        out.end()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MailboxPaths {
    pub root: std::path::PathBuf,
    pub incoming: std::path::PathBuf,
    pub archive: std::path::PathBuf,
    #[serde(default)]
    pub rejected: std::path::PathBuf,
}

impl MailboxPaths {
    /// The mailbox of one Zhongshu under the mailboxes' root; `zhongshu_id`
    /// must already be validated.
    pub fn of(root: &std::path::Path, zhongshu_id: &str) -> MailboxPaths {
        let root = root.join(zhongshu_id);
        MailboxPaths {
            incoming: root.join("incoming"),
            archive: root.join("archive"),
            rejected: root.join("rejected"),
            root,
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    pub id: String,
    pub role: String,
    pub department: Option<String>,
    pub title: String,
    pub model: String,
    pub task: String,
    pub pid: Option<u32>,
    pub status: SessionStatus,
    pub exit_code: Option<i32>,
    pub started_at: String,
    pub ended_at: Option<String>,
    #[serde(default)]
    pub ended_reason: Option<String>,
    pub prompt_path: String,
    pub log_path: String,
    #[serde(default)]
    pub last_activity_at: Option<String>,
    #[serde(default)]
    pub input_history: Vec<InputRecord>,
    #[serde(default)]
    pub browser_terminal_id: Option<String>,
    /// What only a Zhongshu or only a department has; its tag is `session_kind`.
    #[serde(flatten)]
    pub kind: KindPart,
    /// Set while the launcher is closing it, so the exit is recorded as a close
    /// (stored only while set; the API never shows it false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub closing: bool,
    /// Why the launcher closed it, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<CloseReason>,
    /// The agent: backend, state from its events, approvals, tokens.
    #[serde(flatten, default)]
    pub agent: super::AgentInfo,
}

/// The fields of one kind of session, tagged by `session_kind` in the JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "session_kind", rename_all = "snake_case")]
pub enum KindPart {
    Zhongshu(ZhongshuPart),
    Department(DepartmentPart),
    Reviewer(ReviewerPart),
}

/// What a reviewer session has (issue 75): the attempt it reviews, at
/// which recorded commit, and the folder it reads that commit's tree in.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ReviewerPart {
    /// The planner of the reviewed department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_session_id: Option<String>,
    /// The department session whose work it reviews.
    pub reviews: String,
    /// That session's recorded commit.
    pub commit: String,
    /// The department key whose agent reviews.
    pub agent_key: String,
    /// The review ran on the department's own vendor, its other one's
    /// account being held (`review.fallback: same_vendor`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub same_vendor: bool,
    /// The folder holding the reviewed tree, read-only to it.
    pub folder: String,
    /// Its findings came (`governance_report_findings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_at: Option<String>,
    /// Its summary, the reviewer's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Its findings: important, minor, nit.
    #[serde(default)]
    pub counts: [usize; 3],
}

/// What a Zhongshu (planner) session has.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ZhongshuPart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<MailboxPaths>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_status: Option<PlanStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_notification_status: Option<NoticeStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from_session_id: Option<String>,
}

/// What a department session has. SPEC 6: `reported_at`, `last_report_id`
/// and `auto_close_reason` are always present (null until set).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DepartmentPart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_status: Option<ReportStatus>,
    #[serde(default)]
    pub reported_at: Option<String>,
    #[serde(default)]
    pub last_report_id: Option<String>,
    #[serde(default)]
    pub auto_closed: bool,
    #[serde(default)]
    pub auto_close_reason: Option<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub verify: Vec<String>,
    /// The queue item a department was started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// The department's own mailbox folder (`incoming/<session>/`): only reports
    /// from there may speak for it. None for sessions of older launchers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_folder: Option<String>,
    /// Its own git worktree (`launcher.isolation: worktree`); None when it
    /// works in the shared working tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<Box<super::Workspace>>,
    /// The queue item that retries its assignment, once the developer retried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried_as: Option<String>,
    /// The developer dismissed its failure from "Needs you".
    #[serde(default, skip_serializing_if = "is_false")]
    pub dismissed: bool,
    /// One of several attempts at its assignment (issue 74).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<super::Attempt>,
    /// The user integrated it past its reviewer's important findings, with
    /// this reason (issue 75).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_overridden: Option<super::ReviewOverride>,
}

impl Session {
    pub fn is_running(&self) -> bool {
        self.status == SessionStatus::Running
    }
    pub fn session_kind(&self) -> SessionKind {
        match self.kind {
            KindPart::Zhongshu(_) => SessionKind::Zhongshu,
            KindPart::Department(_) => SessionKind::Department,
            KindPart::Reviewer(_) => SessionKind::Reviewer,
        }
    }
    pub fn reviewer(&self) -> Option<&ReviewerPart> {
        match &self.kind {
            KindPart::Reviewer(r) => Some(r),
            _ => None,
        }
    }
    pub fn is_department(&self) -> bool {
        matches!(self.kind, KindPart::Department(_))
    }
    pub fn is_zhongshu(&self) -> bool {
        matches!(self.kind, KindPart::Zhongshu(_))
    }
    pub fn zhongshu(&self) -> Option<&ZhongshuPart> {
        match &self.kind {
            KindPart::Zhongshu(z) => Some(z),
            _ => None,
        }
    }
    pub fn zhongshu_mut(&mut self) -> Option<&mut ZhongshuPart> {
        match &mut self.kind {
            KindPart::Zhongshu(z) => Some(z),
            _ => None,
        }
    }
    /// A department's last report's result key (see `records::result_key`).
    pub fn last_report_key(&self) -> Option<String> {
        let d = self.department_part()?;
        Some(super::records::result_key(
            d.parent_session_id.as_deref()?,
            &self.id,
            d.last_report_id.as_deref()?,
        ))
    }

    /// The department key whose agent drives it: an attempt's borrowed
    /// agent (issue 74), else its department's (None: a planner).
    pub fn agent_key(&self) -> Option<&str> {
        if let Some(r) = self.reviewer() {
            return Some(&r.agent_key);
        }
        self.department_part()
            .and_then(|d| d.attempt.as_ref())
            .and_then(|a| a.agent.as_deref())
            .or(self.department.as_deref())
    }

    pub fn department_part(&self) -> Option<&DepartmentPart> {
        match &self.kind {
            KindPart::Department(d) => Some(d),
            _ => None,
        }
    }
    pub fn department_mut(&mut self) -> Option<&mut DepartmentPart> {
        match &mut self.kind {
            KindPart::Department(d) => Some(d),
            _ => None,
        }
    }
    /// The Zhongshu a department (or the reviewer of its work) works for.
    pub fn parent_session_id(&self) -> Option<&str> {
        match &self.kind {
            KindPart::Department(d) => d.parent_session_id.as_deref(),
            KindPart::Reviewer(r) => r.parent_session_id.as_deref(),
            KindPart::Zhongshu(_) => None,
        }
    }
    pub fn has_reported(&self) -> bool {
        self.department_part()
            .is_some_and(|d| d.report_status == Some(ReportStatus::Reported))
    }
    /// It runs, but its agent program cannot start now (Codex missing after a
    /// restart): it resumes on the same conversation once it can, and holds
    /// no process meanwhile.
    pub fn is_suspended(&self) -> bool {
        self.is_running()
            && self.agent.agent_state == super::AgentState::Starting
            && matches!(
                self.agent.attention.as_ref().map(|a| a.kind),
                Some(super::AttentionKind::Backend | super::AttentionKind::ConfigTrust)
            )
    }
    /// A department holds a queue slot while it runs and has not reported.
    pub fn holds_slot(&self) -> bool {
        self.is_department() && self.is_running() && !self.has_reported()
    }
    /// Whose slot it takes: a host's of `launcher.remotes` (its name), or
    /// this machine's (None).
    pub fn slot_host(&self) -> Option<&str> {
        self.workspace()
            .and_then(|w| w.workplace.host())
            .map(|r| r.host.as_str())
    }
    /// A department's worktree, if it has one.
    pub fn workspace(&self) -> Option<&super::Workspace> {
        self.department_part()?.workspace.as_deref()
    }
    pub fn workspace_mut(&mut self) -> Option<&mut super::Workspace> {
        self.department_mut()?.workspace.as_deref_mut()
    }
    /// Recorded, but its agent has not started yet (no process, no helper
    /// process, no thread): views leave it out, so a start that fails never
    /// shows a session.
    pub fn launching(&self) -> bool {
        self.is_running()
            && self.pid.is_none()
            && self.agent.server_pid.is_none()
            && self.agent.thread_id.is_none()
            && !self.waits_for_setup()
    }
    /// Its agent waits for its worktree's set-up commands (issue 52): shown,
    /// though no process runs yet.
    pub fn waits_for_setup(&self) -> bool {
        self.workspace()
            .and_then(|w| w.setup.as_ref())
            .is_some_and(|x| {
                matches!(
                    x.state,
                    super::SetupState::Running | super::SetupState::Failed
                )
            })
    }
    /// A Zhongshu the developer closed (or whose plan was stopped): its
    /// queued departments never start.
    pub fn closed_by_user(&self) -> bool {
        self.close_reason.is_some_and(|r| r.by_user())
    }
}

#[cfg(test)]
impl Session {
    /// A running department `id` of `zhongshu-1`, working, for tests.
    pub fn sample_department(id: &str) -> Session {
        serde_json::from_value(serde_json::json!({
            "id": id, "session_kind": "department", "role": "department",
            "department": "lingyubu", "title": "t", "model": "m", "task": "x", "pid": 1,
            "status": "running", "exit_code": null, "started_at": "s", "ended_at": null,
            "prompt_path": "", "log_path": "", "agent_state": "working",
            "parent_session_id": "zhongshu-1",
        }))
        .unwrap()
    }

    /// This session, ended with `code` (closed by the launcher for `reason`
    /// when given), for tests.
    pub fn ended_for_test(mut self, code: i32, reason: Option<CloseReason>) -> Session {
        self.status = SessionStatus::Exited;
        self.exit_code = Some(code);
        self.close_reason = reason;
        self.ended_reason = Some(if reason.is_some() { "closed" } else { "exited" }.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base(kind: &str) -> serde_json::Value {
        json!({
            "id": "x-1", "session_kind": kind, "role": "r", "department": null,
            "title": "t", "model": "m", "task": "do", "pid": null, "status": "exited",
            "exit_code": 0, "started_at": "s", "ended_at": null, "prompt_path": "",
            "log_path": "",
        })
    }

    #[test]
    fn the_kind_tag_picks_the_part_and_round_trips() {
        let mut d = base("department");
        d["parent_session_id"] = json!("zhongshu-1");
        d["report_status"] = json!("reported");
        d["queue_id"] = json!("q-2");
        let s: Session = serde_json::from_value(d).unwrap();
        assert_eq!(s.session_kind(), SessionKind::Department);
        assert_eq!(s.parent_session_id(), Some("zhongshu-1"));
        assert!(s.has_reported());
        assert!(s.zhongshu().is_none());
        let out = serde_json::to_value(&s).unwrap();
        assert_eq!(out["session_kind"], "department");
        assert_eq!(out["queue_id"], "q-2");
        // SPEC 6: present, null until set.
        for key in ["reported_at", "last_report_id", "auto_close_reason"] {
            assert_eq!(out.get(key), Some(&serde_json::Value::Null), "{key}");
        }
        assert!(out.get("closing").is_none());

        let mut launching = s.clone();
        launching.status = SessionStatus::Running;
        launching.pid = None;
        assert!(launching.launching(), "running without a process yet");
        launching.agent.thread_id = Some("t".into());
        assert!(
            !launching.launching(),
            "a thread resuming after a restart shows"
        );

        let z: Session = serde_json::from_value(base("zhongshu")).unwrap();
        assert!(z.is_zhongshu() && z.department_part().is_none());
        assert_eq!(z.parent_session_id(), None);
        let out = serde_json::to_value(&z).unwrap();
        assert_eq!(out["session_kind"], "zhongshu");
        assert!(out.get("reported_at").is_none());
    }

    #[test]
    fn an_unknown_kind_is_refused() {
        assert!(serde_json::from_value::<Session>(base("emperor")).is_err());
    }
}
