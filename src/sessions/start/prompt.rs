//! A session's prompt file: the role's template rendered (or a resume prompt
//! taken as it is), sanitised, and written under the state directory.

use std::path::PathBuf;

use askama::Template;

use super::command::launcher_bin;
use super::prompts;
use super::{Checked, StartSpec, Starter};
use crate::clock;
use crate::config::Department;
use crate::context::Context;
use crate::error::{LResult, LauncherError};

impl Starter<'_> {
    /// Renders (or takes) the prompt, sanitised, and writes it; (text, file).
    pub(super) fn write_prompt(
        &self,
        spec: &StartSpec,
        c: &Checked,
        id: &str,
    ) -> LResult<(String, PathBuf)> {
        let prompt = match (&spec.prompt_override, &c.department) {
            (Some(p), _) => p.replace("{session_id}", id),
            (None, None) => {
                render_zhongshu_prompt(self.ctx, id, &c.task, self.sessions.has_tools(None))?
            }
            (None, Some(d)) => self.render_department_prompt(spec, c, d, id)?,
        };
        // Tasks and plan summaries inside it come from agents and users.
        let prompt = crate::sanitize::pasted_text(&prompt);
        let path = self
            .ctx
            .paths
            .prompts_dir()
            .join(format!("{}-{id}.txt", clock::file_stamp()));
        crate::files::write_atomic(&path, prompt.as_bytes()).map_err(|e| {
            LauncherError::Internal(format!("cannot write {}: {e}", path.display()))
        })?;
        Ok((prompt, path))
    }

    fn render_department_prompt(
        &self,
        spec: &StartSpec,
        c: &Checked,
        d: &Department,
        id: &str,
    ) -> LResult<String> {
        let parent = c.parent.as_deref().unwrap_or("");
        prompts::DepartmentPrompt {
            project_name: &self.ctx.config.launcher.project_name,
            repo: &self.ctx.repo.display().to_string(),
            title: &d.title,
            department: &d.key,
            duty: &d.duty,
            parent_session_id: parent,
            session_id: id,
            task: &c.task,
            files: &spec.files,
            verify: &spec.verify,
            mailbox: &self
                .ctx
                .paths
                .mailbox(parent)
                .incoming
                .display()
                .to_string(),
            bin: &launcher_bin(),
            tools: self.sessions.has_tools(spec.agent_key()),
            worktree: c
                .workspace
                .as_ref()
                .map(|w| (w.path.as_str(), w.branch.as_str(), w.sparse.is_some())),
        }
        .render()
        .map_err(|e| LauncherError::Internal(format!("prompt template: {e}")))
    }
}

/// The Zhongshu prompt, from the launcher's configuration.
fn render_zhongshu_prompt(l: &Context, id: &str, task: &str, tools: bool) -> LResult<String> {
    let departments = l.config.assignable_departments();
    prompts::ZhongshuPrompt {
        project_name: &l.config.launcher.project_name,
        repo: &l.repo.display().to_string(),
        workflow_doc: &l.config.launcher.workflow_doc,
        task,
        url: l.url(),
        session_id: id,
        departments: &departments,
        models: &l.config.launcher.models,
        department_model: &l.config.launcher.department_model,
        max_departments: l.config.launcher.max_departments,
        tools,
    }
    .render()
    .map_err(|e| LauncherError::Internal(format!("prompt template: {e}")))
}
