//! A plan proposed from the governance report (`POST /api/plan_assignments`):
//! one assignment per department that changed files route to, and a review by
//! the Menxia when high or medium risks fired. It starts nothing.

use serde::Serialize;

use crate::config::{RiskLevel, MENXIA};
use crate::report::{Report, Risk};

/// The answer: the task, the proposed plan and the part of the report it used.
#[derive(Debug, Serialize)]
pub struct Proposal {
    pub task: String,
    pub plan: ProposedPlan,
    pub report: ReportExcerpt,
}

#[derive(Debug, Serialize)]
pub struct ProposedPlan {
    pub summary: String,
    pub assignments: Vec<ProposedAssignment>,
}

#[derive(Debug, Serialize)]
pub struct ProposedAssignment {
    pub department: String,
    pub task: String,
    pub model: String,
    pub files: Vec<String>,
    pub verify: Vec<String>,
    pub reason: String,
    pub selected: bool,
}

#[derive(Debug, Serialize)]
pub struct ReportExcerpt {
    pub changed_count: usize,
    pub risks: Vec<Risk>,
    pub uncategorized: Vec<String>,
}

/// Builds the proposal for `task` (trimmed, not empty) from `report`.
pub fn proposal(task: &str, report: Report, model: &str) -> Proposal {
    let mut assignments: Vec<ProposedAssignment> = report
        .departments
        .iter()
        .map(|d| ProposedAssignment {
            department: d.key.clone(),
            task: format!("{task}\n\nYour part: the changed files routed to you."),
            model: model.to_string(),
            files: d.files.clone(),
            verify: d.verify.clone(),
            reason: format!("{} changed file(s) route to {}", d.files.len(), d.key),
            selected: true,
        })
        .collect();
    let risky: Vec<&Risk> = report
        .risks
        .iter()
        .filter(|r| matches!(r.level, RiskLevel::High | RiskLevel::Medium))
        .collect();
    if !risky.is_empty() {
        assignments.push(ProposedAssignment {
            department: MENXIA.to_string(),
            task: format!("{task}\n\nReview the risks the governance report raised."),
            model: model.to_string(),
            files: risky.iter().map(|r| r.path.clone()).collect(),
            verify: Vec::new(),
            reason: format!("{} high or medium risk(s) fired", risky.len()),
            selected: true,
        });
    }
    Proposal {
        task: task.to_string(),
        plan: ProposedPlan {
            summary: format!(
                "Proposed from the governance report ({} changed files).",
                report.changed_count
            ),
            assignments,
        },
        report: ReportExcerpt {
            changed_count: report.changed_count,
            risks: report.risks,
            uncategorized: report.uncategorized,
        },
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
        let p = proposal("Tidy up", report, "gpt-test");

        assert_eq!(p.task, "Tidy up");
        assert_eq!(p.report.changed_count, 2);
        let zhilibu = p
            .plan
            .assignments
            .iter()
            .find(|a| a.department == "zhilibu")
            .expect("README.md routes to the zhilibu");
        assert_eq!(zhilibu.files, ["README.md"]);
        assert_eq!(zhilibu.model, "gpt-test");
        assert!(zhilibu.task.starts_with("Tidy up\n\n"), "{}", zhilibu.task);
        for (key, files) in routed {
            let a = p.plan.assignments.iter().find(|a| a.department == key);
            assert_eq!(a.map(|a| &a.files), Some(&files), "{key}");
        }
        let review = p.plan.assignments.last().unwrap();
        assert_eq!(review.department, MENXIA);
        assert_eq!(review.files, [".env"]);
        assert_eq!(review.reason, "1 high or medium risk(s) fired");
    }
}
