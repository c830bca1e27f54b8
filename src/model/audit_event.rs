//! Every event the audit log records, as one typed enum: the compiler checks each
//! event's fields where it is raised, and this file is the list of what the log
//! can say. The JSON line is unchanged: `event` is the snake_case variant name,
//! the fields sit beside it (absent optional ones are left out only where the
//! log never carried them).

use serde::Serialize;
use serde_json::Value;

use super::{
    ApprovalDecision, ApprovalKind, CheckVerdict, CloseReason, ConfirmationDecision, Decision,
    IntegrationMode, NoticeStatus, PatchChange, PlanOutcome, PlanStatus, PullRequestState,
    ResultSource, SessionKind, TerminalKind,
};

fn is_false(b: &bool) -> bool {
    !*b
}

/// One audited change.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AuditEvent {
    LauncherStarted {
        pid: u32,
        url: String,
        repo: String,
    },
    LauncherStopped {
        pid: u32,
    },
    /// `url --new-token`: the dashboard's token was replaced; tabs holding
    /// the old one stop working.
    TokenRotated {
        by: String,
    },
    AuditChainBroken {
        problem: String,
        file: String,
    },
    /// The state folder (or files in it) was readable by others and was made private.
    StateFolderTightened {
        folder: String,
        was_mode: Option<String>,
        entries: usize,
    },
    /// Something under one of the launcher's names in the state folder was not
    /// the launcher's (a link, another user's file, a hard link): moved aside.
    StateEntrySetAside {
        path: String,
        why: String,
        moved_to: String,
    },
    SessionStarted {
        session_id: String,
        session_kind: SessionKind,
        department: Option<String>,
        parent_session_id: Option<String>,
        model: String,
        pid: u32,
        resumed_from_session_id: Option<String>,
        thread_id: Option<String>,
    },
    /// `exit_code` is absent when a restart found the session gone.
    SessionExited {
        session_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        reason: Option<String>,
    },
    SessionClosed {
        session_id: String,
        reason: CloseReason,
    },
    SessionSuspended {
        session_id: String,
    },
    /// The user stopped the session's running turn.
    SessionInterrupted {
        session_id: String,
    },
    /// The account's usage limit stopped the session's turn: it waits for the
    /// reset (`until`), then gets one continue turn.
    SessionParked {
        session_id: String,
        until: String,
        reason: String,
    },
    /// The reset came: the parked session gets its continue turn.
    SessionUnparked {
        session_id: String,
        parked_since: String,
    },
    /// No department starts until the hold lifts (`reason`: limit or reserve).
    QueueHeld {
        reason: String,
        until: Option<String>,
        text: String,
    },
    /// Departments start again.
    QueueReleased {
        was: String,
    },
    /// The user started departments despite the hold, until `until`.
    QuotaOverridden {
        until: String,
        hold: String,
    },
    /// The user answered "switch to a lighter model?" near the usage limit
    /// (`choice`: switch, keep or never); the sessions switched for their next turns.
    ModelSwitchAnswered {
        choice: String,
        model: String,
        sessions: Vec<String>,
    },
    /// The user raised a plan's budget.
    BudgetRaised {
        zhongshu_id: String,
        budget_usd: Option<f64>,
        budget_tokens: Option<u64>,
    },
    /// A plan's departments spent its budget: no more of them start.
    BudgetReached {
        zhongshu_id: String,
        text: String,
    },
    /// An agent called one of the launcher's tools.
    ToolCalled {
        session_id: String,
        call_id: String,
        tool: String,
    },
    /// The launcher answered a tool call.
    ToolAnswered {
        session_id: String,
        call_id: String,
        tool: String,
        success: bool,
        #[serde(skip_serializing_if = "is_false")]
        repeated: bool,
    },
    SessionResumed {
        session_id: String,
        thread_id: String,
        pid: u32,
    },
    SessionResumeFailed {
        session_id: String,
        error: String,
    },
    /// A session that could not resume because its agent program cannot
    /// start (Codex missing): it stays suspended and resumes on Check again
    /// or at a later start.
    SessionWaitingForAgent {
        session_id: String,
        reason: String,
    },
    SessionInput {
        session_id: String,
        chars: usize,
        delivery: String,
    },
    TerminalStarted {
        terminal_id: String,
        kind: TerminalKind,
        session_id: Option<String>,
    },
    TerminalClosed {
        terminal_id: String,
    },
    ZhongshuPlanRegistered {
        session_id: String,
        assignments: usize,
        needs_confirmation: bool,
        status: PlanStatus,
    },
    PlanConfirmed {
        session_id: String,
        /// The plan's revision the user confirmed.
        revision: u64,
        queued: usize,
        /// A phone's decision token's nonce, kept with the decision it made.
        #[serde(skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
    AssignmentQueued {
        queue_id: String,
        parent_session_id: Option<String>,
        department: String,
        model: String,
    },
    AssignmentStarted {
        queue_id: String,
        session_id: String,
        department: String,
        parent_session_id: Option<String>,
        /// Set when a restart found the assignment's session already started.
        #[serde(skip_serializing_if = "is_false")]
        recovered: bool,
    },
    AssignmentFailed {
        queue_id: String,
        department: String,
        error: String,
    },
    /// A queued assignment that will never start: its planner was closed or
    /// its plan stopped.
    AssignmentDropped {
        queue_id: String,
        department: String,
        parent_session_id: Option<String>,
        reason: String,
    },
    /// The developer retried an assignment: a department that failed or ended
    /// without a report (`retried_session_id`), or a start that failed.
    AssignmentRetried {
        queue_id: String,
        department: String,
        parent_session_id: Option<String>,
        retried_session_id: Option<String>,
    },
    /// The developer moved a queued assignment to another machine (issue
    /// 53): `host` a host of `launcher.remotes`, or None for this one.
    AssignmentPlaced {
        queue_id: String,
        department: String,
        host: Option<String>,
    },
    /// The developer stopped a plan: its departments and its planner are
    /// closed, its queued assignments dropped.
    PlanStopped {
        session_id: String,
        departments: Vec<String>,
        dropped: usize,
    },
    /// The user declined a plan awaiting confirmation (from a phone): none
    /// of it started, and its planner was told.
    PlanDeclined {
        session_id: String,
        revision: u64,
        by: String,
        /// The phone's decision token's nonce.
        #[serde(skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
    /// Every assignment of a plan ended (or, for a stopped plan, every
    /// department it had).
    PlanFinished {
        session_id: String,
        status: PlanStatus,
        #[serde(flatten)]
        outcome: PlanOutcome,
    },
    /// The developer answered a report's confirmation request (or put it
    /// aside); an answer goes to the Zhongshu.
    ConfirmationAnswered {
        parent_session_id: String,
        department_session_id: String,
        report_id: String,
        decision: ConfirmationDecision,
        note_chars: usize,
        delivery: Option<String>,
    },
    /// The developer put a failed department aside in "Needs you".
    NeedsYouDismissed {
        session_id: String,
    },
    ResultRegistered(ResultFields),
    /// A department's later report replaced its earlier one.
    ResultUpdated(ResultFields),
    ResultArchiveFailed {
        parent_session_id: String,
        file: String,
        error: String,
    },
    ResultRejected {
        parent_session_id: String,
        file: String,
        rejected_as: String,
        error: String,
    },
    MailboxUnusable {
        parent_session_id: String,
        error: String,
    },
    ZhongshuNotified {
        session_id: String,
        status: NoticeStatus,
        results: usize,
        chars: usize,
        error: Option<String>,
        delivery: Option<String>,
        /// How long the delivery took (a turn's start answered, or the text typed).
        #[serde(skip_serializing_if = "Option::is_none")]
        delivery_ms: Option<u64>,
    },
    /// Inline (the same session got the resume prompt) or as a new session.
    ZhongshuResumed {
        session_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        resumed_from_session_id: Option<String>,
        inline: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        results_copied: Option<usize>,
    },
    DepartmentReminded {
        session_id: String,
    },
    TurnStarted {
        session_id: String,
        turn_id: String,
    },
    TurnCompleted {
        session_id: String,
        turn_id: String,
        status: String,
        error: Option<String>,
    },
    ApprovalRequested {
        session_id: String,
        request_id: String,
        kind: ApprovalKind,
        command: Option<String>,
        /// A file change's files and diffs, as the user was shown them.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        changes: Vec<PatchChange>,
        cwd: Option<String>,
        reason: Option<String>,
    },
    ApprovalDecided {
        session_id: String,
        request_id: String,
        decision: Option<ApprovalDecision>,
        by: String,
        /// A phone's decision token's nonce, kept with the decision it made.
        #[serde(skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
    /// A notice of a Needs-you item reached a channel (issue 54).
    NoticeDelivered {
        item_id: String,
        kind: String,
        channel: String,
        attempt: u32,
        /// What the notice showed, digested: after a restart an item still
        /// waiting with this digest is not told again.
        digest: String,
    },
    /// A phone's button decided an item (its signed token checked).
    PhoneDecided {
        item_id: String,
        decision: String,
        channel: String,
        nonce: String,
    },
    /// The user paired a phone for the page through the tailnet.
    PhonePaired {
        phone_id: String,
        label: String,
    },
    /// A paired phone's token was ended.
    PhoneUnpaired {
        phone_id: String,
        label: String,
    },
    /// A reply on the phone's topic was refused, with why.
    PhoneDecisionRefused {
        item_id: Option<String>,
        decision: Option<String>,
        channel: String,
        reason: String,
    },
    /// A notice did not reach a channel; `retrying`: it is tried again.
    NoticeFailed {
        item_id: String,
        kind: String,
        channel: String,
        attempt: u32,
        error: String,
        retrying: bool,
    },
    AgentError {
        session_id: String,
        message: String,
        will_retry: bool,
    },
    AgentNeedsInput {
        session_id: String,
        text: String,
    },
    /// A department got its own worktree.
    WorktreeCreated {
        session_id: String,
        path: String,
        branch: String,
        base: String,
        /// Files checked out, of `total` (fewer when sparse).
        files: usize,
        total: usize,
    },
    /// The launcher committed a department's worktree (on `reason`: report, exit…).
    WorktreeRecorded {
        session_id: String,
        commit: String,
        new_commit: bool,
        reason: String,
        files: usize,
        insertions: usize,
        deletions: usize,
        decision: Decision,
        out_of_scope: usize,
    },
    /// A department's worktree was added on another machine (issue 53): its
    /// commands and file changes run there, in Codex's environment `host`.
    RemoteWorktreeAdded {
        session_id: String,
        host: String,
        remote_path: String,
        branch: String,
        base: String,
    },
    /// A remote department's work was committed there and fetched back.
    RemoteWorkFetched {
        session_id: String,
        host: String,
        remote_path: String,
        commit: String,
    },
    /// A container of the launcher's making went away while departments
    /// worked in it: made again under the same id, their worktrees there
    /// again from what was last fetched back (issue 76).
    ContainerRemade {
        host: String,
        container: String,
        session_ids: Vec<String>,
    },
    /// A remote department's worktree, branch and refs there were removed.
    RemoteWorktreeRemoved {
        session_id: String,
        host: String,
        remote_path: String,
    },
    /// A worktree's folder was removed (its branch stays).
    WorktreeRemoved {
        session_id: String,
        path: String,
        reason: String,
    },
    /// A department's branch was deleted: its work is integrated, or it was
    /// discarded longer ago than `launcher.keep_discarded_days`.
    BranchDeleted {
        session_id: String,
        branch: String,
        commit: Option<String>,
        reason: String,
    },
    /// A merged pull request's branch was deleted on the remote (the
    /// launcher pushed it; `pull_requests.keep_branch` is off).
    RemoteBranchDeleted {
        session_id: String,
        number: u64,
        remote: String,
        branch: String,
        commit: String,
    },
    /// A merged pull request's branch stays on the remote, and why
    /// (`pull_requests.keep_branch`, not the launcher's, a failed push).
    RemoteBranchKept {
        session_id: String,
        number: u64,
        branch: String,
        reason: String,
    },
    /// The user undid an Apply or a Merge: every path it wrote holds its
    /// earlier content again (a Merge's branch is back where it was), and the
    /// work is pending again.
    IntegrationReverted {
        session_id: String,
        mode: IntegrationMode,
        paths: usize,
        /// The branch's tip again (Merge).
        #[serde(skip_serializing_if = "Option::is_none")]
        head: Option<String>,
    },
    /// An integration predicted a conflict: nothing was changed.
    IntegrationConflict {
        session_id: String,
        mode: IntegrationMode,
        files: Vec<String>,
    },
    /// An integration began: its paths are recorded before any is written.
    IntegrationStarted {
        session_id: String,
        mode: IntegrationMode,
        head: String,
        paths: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<String>,
    },
    IntegrationDone {
        session_id: String,
        mode: IntegrationMode,
        #[serde(skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
        /// Set when a restart finished it.
        #[serde(skip_serializing_if = "is_false")]
        recovered: bool,
    },
    /// An integration was undone (a failure, or a crash found at start).
    IntegrationUndone {
        session_id: String,
        mode: IntegrationMode,
        error: String,
    },
    /// A Merge's candidate passed the launcher's own checks and lands as
    /// `commit`, whose tree is `tree` (issue 73).
    LandingVerified {
        session_id: String,
        /// The commit that lands (a Merge's; an Apply verified has none).
        #[serde(skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
        tree: String,
        commands: Vec<String>,
        exit: i32,
        seconds: u64,
    },
    /// A department started as one of several attempts at one assignment
    /// of `zhongshu_id`'s plan (issue 74).
    AttemptStarted {
        session_id: String,
        zhongshu_id: Option<String>,
        group: usize,
        n: usize,
        of: usize,
        /// The department whose agent it borrows.
        #[serde(skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
    /// One attempt was chosen (`by`: the user, or `attempts_choose:
    /// verified`); the others are settled.
    AttemptChosen {
        zhongshu_id: String,
        group: usize,
        chosen: String,
        others: Vec<String>,
        by: String,
    },
    /// An attempt's recorded tree went through the landing checks, without
    /// landing (`failure` None: green).
    AttemptChecked {
        session_id: String,
        tree: String,
        commands: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        failure: Option<String>,
        seconds: u64,
    },
    /// A Merge's candidate failed the checks: nothing landed.
    LandingFailed {
        session_id: String,
        tree: String,
        commands: Vec<String>,
        failure: String,
        seconds: u64,
    },
    /// A Merge landed without the checks, as the user asked.
    LandedUnverified {
        session_id: String,
        reason: String,
    },
    /// The user trusted this version of the repository's configuration.
    ConfigTrusted {
        file: String,
        config_hash: String,
    },
    /// The user integrated changes outside the department's scope (`launcher.scope: block`).
    ScopeOverridden {
        session_id: String,
        files: Vec<String>,
    },
    /// The user discarded a department's worktree; its branch stays.
    WorktreeDiscarded {
        session_id: String,
        branch: String,
        commit: Option<String>,
    },
    /// A department ended having changed nothing: its worktree and branch
    /// were removed, and nothing waits for the user.
    WorktreeSettledEmpty {
        session_id: String,
        branch: String,
        path: String,
    },
    /// The user sent a department's work back with a note.
    SentBack {
        session_id: String,
        chars: usize,
        /// The session that works on in the worktree (none: the running one got a turn).
        #[serde(skip_serializing_if = "Option::is_none")]
        successor: Option<String>,
    },
    /// The reviewer commented on a line of a department's diff (a draft).
    ReviewCommentAdded {
        session_id: String,
        comment_id: String,
        path: String,
        line: u32,
        side: super::DiffSide,
    },
    /// A draft review comment was deleted before it was sent.
    ReviewCommentDeleted {
        session_id: String,
        comment_id: String,
    },
    /// A review comment was resolved, or reopened.
    ReviewCommentResolved {
        session_id: String,
        comment_id: String,
        resolved: bool,
    },
    /// A reviewer agent was started on a department's recorded work (issue 75).
    ReviewStarted {
        session_id: String,
        reviews: String,
        commit: String,
        agent: String,
        #[serde(skip_serializing_if = "is_false")]
        same_vendor: bool,
    },
    /// No reviewer could be started on a department's work.
    ReviewFailed {
        reviews: String,
        error: String,
    },
    /// A reviewer reported its findings.
    ReviewFindings {
        session_id: String,
        reviews: String,
        important: usize,
        minor: usize,
        nit: usize,
        file_notes: usize,
    },
    /// The user accepted a reviewer's finding as their own comment.
    ReviewFindingAccepted {
        session_id: String,
        comment_id: String,
    },
    /// The user dismissed a reviewer's finding.
    ReviewFindingDismissed {
        session_id: String,
        comment_id: String,
        reason: String,
    },
    /// The user integrated past the reviewer's open important findings.
    ReviewOverridden {
        session_id: String,
        findings: Vec<String>,
        reason: String,
    },
    /// A send-back carried the attempt's draft review comments.
    ReviewSentBack {
        session_id: String,
        comments: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        successor: Option<String>,
    },
    /// A Zhongshu proposed integrating a department's result.
    IntegrationProposed {
        session_id: String,
        by: String,
        mode: IntegrationMode,
    },
    /// A department's work was pushed and a pull request opened for it (or
    /// one already open for its branch reused). A plan's pull request names
    /// every department it carries.
    PullRequestOpened {
        session_id: String,
        number: u64,
        url: String,
        branch: String,
        base: String,
        commit: String,
        #[serde(skip_serializing_if = "is_false")]
        reused: bool,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        carries: Vec<String>,
    },
    /// The department reported again: its pull request got a new commit.
    PullRequestUpdated {
        session_id: String,
        number: u64,
        commit: String,
    },
    /// Opening or updating a pull request failed; nothing stays half-done.
    PullRequestFailed {
        session_id: String,
        error: String,
    },
    /// CI's verdict on a pull request's head changed.
    PullRequestChecks {
        session_id: String,
        number: u64,
        head: String,
        verdict: CheckVerdict,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        failing: Vec<String>,
    },
    /// A pull request was merged or closed on the forge: the work is settled.
    PullRequestSettled {
        session_id: String,
        number: u64,
        state: PullRequestState,
    },
    /// A failing check was sent back to the department, with its log.
    FailureSentBack {
        session_id: String,
        number: u64,
        check: String,
        /// `launcher.pull_requests.auto_send_back` did it, not a click.
        #[serde(skip_serializing_if = "is_false")]
        automatic: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        successor: Option<String>,
    },
    /// New reviews or line comments were read from a pull request; `waiting`
    /// of them wait to be sent back.
    ForgeReviewRead {
        session_id: String,
        number: u64,
        read: usize,
        waiting: usize,
    },
    /// The forge's review was sent back to the department, its comments
    /// quoted as untrusted text.
    ForgeReviewSentBack {
        session_id: String,
        number: u64,
        notes: usize,
        #[serde(skip_serializing_if = "is_false")]
        automatic: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        successor: Option<String>,
    },
    /// A forge line comment was answered with the commit of its fix.
    ForgeReplyPosted {
        session_id: String,
        number: u64,
        comment_id: u64,
        commit: String,
    },
    /// A reviewer agent's findings went into the department's pull request
    /// as one review (issue 75): `on_lines` of them as line comments, the
    /// rest in its text; `accepted` of them the user's.
    ForgeFindingsPosted {
        session_id: String,
        number: u64,
        review_id: u64,
        findings: Vec<String>,
        on_lines: usize,
        accepted: usize,
    },
    /// Posting them failed; they are tried again with the next look at the
    /// pull request.
    ForgeFindingsFailed {
        session_id: String,
        number: u64,
        error: String,
    },
    /// Answering a forge line comment failed (or replies are off); it is
    /// not tried again.
    ForgeReplyFailed {
        session_id: String,
        number: u64,
        comment_id: u64,
        error: String,
    },
}

/// A registered result, as the log records it. A launcher fallback has no file.
#[derive(Debug, Clone, Serialize)]
pub struct ResultFields {
    pub parent_session_id: String,
    pub department_session_id: String,
    pub department: String,
    pub report_id: String,
    pub source: ResultSource,
    /// The Python tool's counts on this line: risks reported, and whether
    /// the report asks the user to confirm something.
    pub risk_count: usize,
    pub needs_user_confirmation: bool,
    #[serde(flatten)]
    pub file: Option<ResultFile>,
}

/// The mailbox file a result came from.
#[derive(Debug, Clone, Serialize)]
pub struct ResultFile {
    pub verified: bool,
    pub file: String,
    pub sha256: Option<String>,
}

impl AuditEvent {
    /// The event's name and its fields, as the log line carries them.
    pub fn into_parts(self) -> (String, Value) {
        let mut fields = match serde_json::to_value(&self) {
            Ok(Value::Object(m)) => m,
            // Every variant is a map of plain fields: this cannot fail.
            other => unreachable!("audit event did not serialize to a map: {other:?}"),
        };
        let name = match fields.remove("event") {
            Some(Value::String(s)) => s,
            _ => unreachable!("audit event without its tag"),
        };
        (name, Value::Object(fields))
    }

    /// The event's name (`session_started`).
    pub fn name(&self) -> String {
        self.clone().into_parts().0
    }
}

impl From<AuditEvent> for (String, Value) {
    fn from(e: AuditEvent) -> Self {
        e.into_parts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_keep_the_log_format() {
        let (name, fields) = AuditEvent::SessionExited {
            session_id: "d-1".into(),
            exit_code: None,
            reason: Some("launcher_restart".into()),
        }
        .into_parts();
        assert_eq!(name, "session_exited");
        assert_eq!(
            fields,
            json!({"session_id": "d-1", "reason": "launcher_restart"})
        );

        let (name, fields) = AuditEvent::ResultRegistered(ResultFields {
            parent_session_id: "zhongshu-1".into(),
            department_session_id: "d-2".into(),
            department: "libu".into(),
            report_id: "r1".into(),
            source: ResultSource::Mailbox,
            risk_count: 2,
            needs_user_confirmation: true,
            file: Some(ResultFile {
                verified: true,
                file: "r1.json".into(),
                sha256: Some("ab".into()),
            }),
        })
        .into_parts();
        assert_eq!(name, "result_registered");
        assert_eq!(fields["file"], "r1.json");
        assert_eq!(fields["verified"], true);
        assert_eq!(fields["source"], "mailbox");
        assert_eq!(fields["risk_count"], 2, "the Python tool's counts");
        assert_eq!(fields["needs_user_confirmation"], true);

        let (name, fields) = AuditEvent::AssignmentStarted {
            queue_id: "q-1".into(),
            session_id: "d-3".into(),
            department: "bingbu".into(),
            parent_session_id: None,
            recovered: false,
        }
        .into_parts();
        assert_eq!(name, "assignment_started");
        assert!(fields.get("recovered").is_none());
        assert_eq!(fields["parent_session_id"], Value::Null);
    }
}
