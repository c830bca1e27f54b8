//! The prompts agents start with, rendered from askama templates in `templates/`.
//!
//! The Zhongshu prompt names the task, the launcher URL, how to register a plan,
//! the inbox and the concurrency limit; the department prompt names its duty,
//! task, files, checks and how to report through the mailbox, then to stop.

use askama::Template;

use crate::config::Department;

#[derive(Template)]
#[template(path = "zhongshu_prompt.txt", escape = "none")]
pub struct ZhongshuPrompt<'a> {
    pub project_name: &'a str,
    pub repo: &'a str,
    pub workflow_doc: &'a str,
    pub task: &'a str,
    pub url: &'a str,
    pub session_id: &'a str,
    pub departments: &'a [Department],
    pub models: &'a [String],
    pub department_model: &'a str,
    pub max_departments: usize,
    /// The agent reaches the launcher through its tools (no token, no network).
    pub tools: bool,
}

#[derive(Template)]
#[template(path = "department_prompt.txt", escape = "none")]
pub struct DepartmentPrompt<'a> {
    pub project_name: &'a str,
    pub repo: &'a str,
    pub title: &'a str,
    pub department: &'a str,
    pub duty: &'a str,
    pub parent_session_id: &'a str,
    pub session_id: &'a str,
    pub task: &'a str,
    pub files: &'a [String],
    pub verify: &'a [String],
    pub mailbox: &'a str,
    /// The launcher binary's absolute path (also `$CODEX_GOVERNANCE_BIN`).
    pub bin: &'a str,
    /// The agent reports through its tool (no token, no network).
    pub tools: bool,
    /// Its own worktree (folder, branch, sparse), when it has one.
    pub worktree: Option<(&'a str, &'a str, bool)>,
}

/// A reviewer's prompt (issue 75): the work it reviews, as data.
#[derive(Template)]
#[template(path = "reviewer_prompt.txt", escape = "none")]
pub struct ReviewerPrompt<'a> {
    pub project_name: &'a str,
    pub session_id: &'a str,
    pub reviews: &'a str,
    pub commit: &'a str,
    pub base: &'a str,
    pub folder: &'a str,
    pub task: &'a str,
    pub report: &'a str,
    pub diff: &'a str,
    pub truncated: bool,
    /// A fresh random word on the lines that part the data: the data cannot
    /// forge an end of itself.
    pub marker: &'a str,
}

#[derive(Template)]
#[template(path = "resume_prompt.txt", escape = "none")]
pub struct ResumePrompt<'a> {
    pub session_id: &'a str,
    pub task: &'a str,
    pub plan_summary: &'a str,
    pub departments: &'a [String],
    pub results: &'a [String],
    pub url: &'a str,
    /// The Zhongshu reads its inbox through its tools.
    pub tools: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 52 item 4: a sparse department is told to name a file its
    /// build missed in its report; a full one is not.
    #[test]
    fn a_sparse_department_is_told_to_name_what_its_build_missed() {
        let prompt = |sparse: bool| {
            DepartmentPrompt {
                project_name: "p",
                repo: "/r",
                title: "t",
                department: "bingbu",
                duty: "d",
                parent_session_id: "zhongshu-1",
                session_id: "bingbu-1",
                task: "x",
                files: &[],
                verify: &[],
                mailbox: "/m",
                bin: "/b",
                tools: true,
                worktree: Some(("/w", "governance/zhongshu-1/bingbu-1", sparse)),
            }
            .render()
            .unwrap()
        };
        let told = "When a\nbuild or check fails for a file that is not checked out, say so in your report";
        assert!(prompt(true).contains(told), "{}", prompt(true));
        assert!(!prompt(false).contains("not checked out"));
    }
}
