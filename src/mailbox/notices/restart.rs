//! Resuming a Zhongshu: inline (the running session gets the resume prompt) or
//! as a new session that carries the old plan and results (as read).

use std::sync::Arc;

use serde::Serialize;

use crate::error::{LResult, LauncherError};
use crate::mailbox::Mailbox;
use crate::model::{AuditEvent, Plan, Session, SessionKind, TaskResult};
use crate::sessions::start::prompts::ResumePrompt;
use crate::sessions::StartSpec;

/// What a restart did (`POST /api/restart_zhongshu_session` answers it with
/// the session's view).
#[derive(Debug, Serialize)]
pub struct Restarted {
    pub resumed_inline: bool,
    pub session_id: String,
    /// The session asked to restart (the Python tool's `source_session_id`).
    pub source_session_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_from_session_id: Option<String>,
}

impl Mailbox {
    /// `POST /api/restart_zhongshu_session`.
    pub async fn restart_zhongshu(
        self: &Arc<Self>,
        id: &str,
        model: Option<&str>,
    ) -> LResult<Restarted> {
        let z = self.sessions.require_zhongshu(id)?;
        let what = self.resume_context(&z)?;
        if z.is_running() && self.sessions.live.agent(id).is_some() {
            let prompt = what.render(id, self.ctx.url(), self.sessions.has_tools(None))?;
            self.sessions.session_input(id, &prompt).await?;
            self.ctx.store.audit_or_log(AuditEvent::ZhongshuResumed {
                session_id: id.to_string(),
                resumed_from_session_id: None,
                inline: true,
                results_copied: None,
            });
            return Ok(Restarted {
                resumed_inline: true,
                session_id: id.to_string(),
                source_session_id: id.to_string(),
                resumed_from_session_id: None,
            });
        }
        self.restart_as_new(&z, what, model).await
    }

    /// What the resume prompt tells: the plan, the departments, recent results.
    fn resume_context(&self, z: &Session) -> LResult<ResumeContext> {
        let results = self.ctx.store.results_page(&z.id, 10, None)?.results;
        let (plan, departments) = self.ctx.store.read(|s| {
            let departments = s.children_of(&z.id).map(department_line).collect();
            (s.plans.get(&z.id).cloned(), departments)
        });
        Ok(ResumeContext {
            task: z.task.clone(),
            plan,
            departments,
            results: results.iter().map(result_line).collect(),
        })
    }

    /// A new session, carrying the old plan and results (as read).
    async fn restart_as_new(
        self: &Arc<Self>,
        z: &Session,
        what: ResumeContext,
        model: Option<&str>,
    ) -> LResult<Restarted> {
        let id = z.id.as_str();
        let model = model.map(str::to_string).or(Some(z.model.clone()));
        let model = self
            .sessions
            .pick_model(model.as_deref(), SessionKind::Zhongshu)?;
        let mut spec = StartSpec::zhongshu(z.task.clone(), Some(model));
        spec.resumed_from_session_id = Some(id.to_string());
        // `{session_id}` becomes the new session's id when it starts.
        spec.prompt_override = Some(what.render(
            "{session_id}",
            self.ctx.url(),
            self.sessions.has_tools(None),
        )?);
        let new = self.sessions.start_session(spec).await?;
        let new_id = new.id.clone();
        self.ctx.store.update(|tx| {
            if let Some(mut p) = what.plan.clone() {
                p.session_id = new_id.clone();
                let status = p.status;
                tx.insert_plan(p);
                if let Some(z) = tx.session_mut(&new_id).and_then(|x| x.zhongshu_mut()) {
                    z.plan_status = Some(status);
                }
            }
            let copied = tx.copy_results(id, &new_id);
            tx.audit(AuditEvent::ZhongshuResumed {
                session_id: new_id.clone(),
                resumed_from_session_id: Some(id.to_string()),
                inline: false,
                results_copied: Some(copied),
            });
        })?;
        Ok(Restarted {
            resumed_inline: false,
            session_id: new_id,
            source_session_id: id.to_string(),
            resumed_from_session_id: Some(id.to_string()),
        })
    }
}

/// The parts of a resume prompt.
struct ResumeContext {
    task: String,
    plan: Option<Plan>,
    departments: Vec<String>,
    results: Vec<String>,
}

impl ResumeContext {
    fn render(&self, session_id: &str, url: &str, tools: bool) -> LResult<String> {
        use askama::Template;
        ResumePrompt {
            session_id,
            task: &self.task,
            plan_summary: self.plan.as_ref().map(|p| p.summary.as_str()).unwrap_or(""),
            departments: &self.departments,
            results: &self.results,
            url,
            tools,
        }
        .render()
        .map_err(|e| LauncherError::Internal(format!("resume template: {e}")))
    }
}

/// `lingyubu-2 (lingyubu): exited / reported`.
fn department_line(c: &Session) -> String {
    format!(
        "{} ({}): {} / {}",
        c.id,
        c.department.as_deref().unwrap_or("?"),
        if c.is_running() { "running" } else { "exited" },
        if c.has_reported() {
            "reported"
        } else {
            "pending"
        }
    )
}

/// `lingyubu-2 (lingyubu, mailbox, risks: 1) said: "the summary"`: the
/// launcher's facts, then the department's words as quoted data.
fn result_line(r: &TaskResult) -> String {
    format!(
        "{} ({}, {}{}, risks: {}) said: {}",
        r.department_session_id,
        r.department,
        r.source.as_str(),
        if r.verified { ", verified" } else { "" },
        r.risks.len(),
        crate::sanitize::quoted(&r.summary, 160)
    )
}
