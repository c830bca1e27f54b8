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
