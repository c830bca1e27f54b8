//! A plan proposed from the governance report (`POST /api/plan_assignments`):
//! one assignment per department that changed files route to, and a review by
//! the Menxia when high or medium risks fired. It starts nothing. The answer
//! has the Python tool's shape (titles, duties, limits and model choices beside
//! the plan, the whole report beside it).

use serde::Serialize;

use super::queue::Dispatcher;
use crate::config::{Config, RiskLevel, MENXIA};
use crate::error::{LResult, LauncherError};
use crate::report::{Report, Risk};

/// The answer: the task, the proposed plan and the report it came from.
#[derive(Debug, Serialize)]
pub struct Proposal {
    pub task: String,
    pub plan: ProposedPlan,
    pub report: Report,
}

#[derive(Debug, Serialize)]
pub struct ProposedPlan {
    pub summary: String,
    pub menxia_required: bool,
    pub max_terminals: usize,
    pub max_department_sessions: usize,
    pub active_terminals: usize,
    pub active_department_sessions: usize,
    pub active_zhongshu_sessions: usize,
    pub model_choices: Vec<String>,
    pub zhongshu_model: String,
    pub department_model: String,
    pub assignments: Vec<ProposedAssignment>,
}

#[derive(Debug, Serialize)]
pub struct ProposedAssignment {
    pub department: String,
    pub title: String,
    pub duty: String,
    pub task: String,
    pub model: String,
    /// Why this model (the Python tool's `model_reason`).
    pub model_reason: String,
    pub files: Vec<String>,
    pub verify: Vec<String>,
    pub reason: String,
    pub selected: bool,
}

/// The Python tool's model choice per assignment (`recommended_model`): the
/// Zhongshu's (strongest) model for the Menxia, for every department when a
/// high risk fired, and for engineering and domain work on a large change
/// (20 changed files, or 12 of its own); the department model otherwise.
struct Recommend<'a> {
    department_model: &'a str,
    zhongshu_model: &'a str,
    high_risk: bool,
    changed: usize,
}

impl<'a> Recommend<'a> {
    fn new(report: &Report, department_model: &'a str, zhongshu_model: &'a str) -> Self {
        Recommend {
            department_model,
            zhongshu_model,
            high_risk: report.risks.iter().any(|r| r.level == RiskLevel::High),
            changed: report.changed_count,
        }
    }

    fn model(&self, key: &str, files: &[String]) -> (String, &'static str) {
        let heavy = matches!(key, "gongchengbu" | "lingyubu");
        let (model, why) = if key == MENXIA {
            (
                self.zhongshu_model,
                "the Menxia reviews the risks: the strongest model",
            )
        } else if self.high_risk {
            (
                self.zhongshu_model,
                "a high risk fired: the strongest model, to keep misjudgment cheap",
            )
        } else if heavy && (self.changed >= 20 || files.len() >= 12) {
            (
                self.zhongshu_model,
                "a large change in engineering or domain work: the strongest model",
            )
        } else {
            (self.department_model, "the configured department model")
        };
        (model.to_string(), why)
    }
}

/// How many sessions run now: (Zhongshu, departments holding a slot).
pub type Active = (usize, usize);

/// Builds the proposal for `task` (trimmed, not empty) from `report`.
pub fn proposal(task: &str, report: Report, config: &Config, active: Active) -> Proposal {
    let l = &config.launcher;
    // The same choice as a started department's (`policy::plan::model_for`).
    let model = crate::policy::plan::model_for(None, crate::model::SessionKind::Department, l)
        .unwrap_or_else(|_| l.department_model.clone());
    let titled = |key: &str| {
        config
            .department(key)
            .map(|d| (d.title, d.duty))
            .unwrap_or_else(|| (key.to_string(), String::new()))
    };
    let pick = Recommend::new(&report, &model, &l.zhongshu_model);
    let assignment = |key: &str, task: String, files: Vec<String>, verify, reason| {
        let (title, duty) = titled(key);
        let (model, model_reason) = pick.model(key, &files);
        ProposedAssignment {
            department: key.to_string(),
            title,
            duty,
            task,
            model,
            model_reason: model_reason.into(),
            files,
            verify,
            reason,
            selected: true,
        }
    };
    let mut assignments: Vec<ProposedAssignment> = Vec::new();
    let risky: Vec<&Risk> = report
        .risks
        .iter()
        .filter(|r| r.level.wants_review())
        .collect();
    // The Menxia's review comes first, as the Python tool put it: it looks at
    // every path a risk rule fired on.
    if !risky.is_empty() {
        assignments.push(assignment(
            MENXIA,
            format!("{task}\n\nReview the risks the governance report raised."),
            report.risks.iter().map(|r| r.path.clone()).collect(),
            Vec::new(),
            format!("{} high or medium risk(s) fired", risky.len()),
        ));
    }
    assignments.extend(report.departments.iter().map(|d| {
        assignment(
            &d.key,
            format!("{task}\n\nYour part: the changed files routed to you."),
            d.files.clone(),
            d.verify.clone(),
            format!("{} changed file(s) route to {}", d.files.len(), d.key),
        )
    }));
    Proposal {
        task: task.to_string(),
        plan: ProposedPlan {
            summary: format!(
                "Proposed from the governance report ({} changed files).",
                report.changed_count
            ),
            menxia_required: !risky.is_empty(),
            max_terminals: l.max_departments,
            max_department_sessions: l.max_departments,
            active_terminals: active.1,
            active_department_sessions: active.1,
            active_zhongshu_sessions: active.0,
            model_choices: l.models.clone(),
            zhongshu_model: l.zhongshu_model.clone(),
            department_model: l.department_model.clone(),
            assignments,
        },
        report,
    }
}

impl Dispatcher {
    /// `POST /api/plan_assignments`: a proposal from the governance report; starts nothing.
    pub fn propose_plan(&self, task: &str) -> LResult<Proposal> {
        let task = task.trim();
        if task.is_empty() {
            return Err(LauncherError::BadRequest("task must not be empty".into()));
        }
        let report = crate::report::build_report(
            &self.ctx.repo,
            &self.ctx.config,
            &crate::report::Mode::Worktree,
        )
        .map_err(|e| LauncherError::BadRequest(e.to_string()))?;
        let active = self.ctx.store.read(|s| {
            let zhongshu = s
                .sessions
                .values()
                .filter(|x| x.is_zhongshu() && x.is_running())
                .count();
            (zhongshu, s.slots_in_use())
        });
        Ok(proposal(task, report, &self.ctx.config, active))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::report::{build_report, Mode};

    #[test]
    fn each_routed_department_gets_its_files_and_risks_go_to_the_menxia() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        std::fs::write(dir.path().join("README.md"), "x\n").unwrap();
        std::fs::write(dir.path().join(".env"), "TOKEN=1\n").unwrap();
        let config = Config::load_with_env(dir.path(), &Default::default()).unwrap();
        let report = build_report(dir.path(), &config, &Mode::Worktree).unwrap();
        let routed: Vec<(String, Vec<String>)> = report
            .departments
            .iter()
            .map(|d| (d.key.clone(), d.files.clone()))
            .collect();
        let p = proposal("Tidy up", report, &config, (1, 0));

        assert_eq!(p.task, "Tidy up");
        assert_eq!(p.report.changed_count, 2);
        let zhilibu = p
            .plan
            .assignments
            .iter()
            .find(|a| a.department == "zhilibu")
            .expect("README.md routes to the zhilibu");
        assert_eq!(zhilibu.files, ["README.md"]);
        // A high risk (.env) fired: every assignment gets the strongest model.
        assert_eq!(zhilibu.model, config.launcher.zhongshu_model);
        assert_eq!(zhilibu.title, "治理部");
        assert!(p.plan.menxia_required);
        assert_eq!(p.plan.active_zhongshu_sessions, 1);
        assert!(zhilibu.task.starts_with("Tidy up\n\n"), "{}", zhilibu.task);
        for (key, files) in routed {
            let a = p.plan.assignments.iter().find(|a| a.department == key);
            assert_eq!(a.map(|a| &a.files), Some(&files), "{key}");
        }
        let review = &p.plan.assignments[0];
        assert_eq!(review.department, MENXIA, "the Menxia first, as in Python");
        assert_eq!(review.model, config.launcher.zhongshu_model);
        assert_eq!(review.files, [".env"]);
        assert_eq!(review.reason, "1 high or medium risk(s) fired");
    }
}
