//! A second opinion (issue 75): which recorded work a reviewer agent reads,
//! what its findings may say, and whether its open findings hold an
//! integration. Pure: the service gathers the facts.

use serde::Deserialize;

use super::Refusal;
use crate::config::review::{ReviewGate, ReviewSettings, ReviewWhen};
use crate::limits::{MAX_REVIEW_COMMENTS, MAX_REVIEW_COMMENT_CHARS};
use crate::model::{DiffSide, ReviewComment, Severity};

/// The facts about one department's recorded work that `when: risky` reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkFacts {
    /// The mandate review flagged it (a REVIEW finding).
    pub flagged: bool,
    /// Files it changed outside its scope.
    pub out_of_scope: usize,
    /// Lines added and removed.
    pub changed_lines: u64,
    /// It changed nothing: there is nothing to review.
    pub empty: bool,
}

/// Whether a reviewer reads this work: `department` is its own `review`
/// word, over `launcher.review.when`.
pub fn wanted(
    settings: &ReviewSettings,
    department: Option<ReviewWhen>,
    facts: &WorkFacts,
) -> bool {
    if facts.empty {
        return false;
    }
    match department.unwrap_or(settings.when) {
        ReviewWhen::Off => false,
        ReviewWhen::Always => true,
        ReviewWhen::Risky => {
            facts.flagged || facts.out_of_scope > 0 || facts.changed_lines >= settings.min_lines
        }
    }
}

/// The reviewer's agent when `launcher.review.agent` names none: the first
/// agent of `candidates` (department key, its vendor) of another vendor
/// than the department's own (`own`).
pub fn other_vendor<V: PartialEq>(own: &V, candidates: &[(String, V)]) -> Option<String> {
    candidates
        .iter()
        .find(|(_, vendor)| vendor != own)
        .map(|(key, _)| key.clone())
}

/// Who makes an agent, by the word an attempt names it with: Codex's app
/// server and Codex's ACP adapter are one vendor's; an agent with no word
/// (one of the user's own) is a vendor of its own (`key`).
pub fn vendor(word: Option<&str>, key: &str) -> String {
    match word {
        Some("codex" | "codex-acp") => "openai".into(),
        Some(w) => w.to_string(),
        None => format!("own agent of {key}"),
    }
}

/// The facts of a department's recorded work.
pub fn facts_of(ws: &crate::model::Workspace) -> WorkFacts {
    WorkFacts {
        flagged: ws
            .review
            .as_ref()
            .is_some_and(|r| r.decision == crate::model::Decision::Review),
        out_of_scope: ws.review.as_ref().map_or(0, |r| r.out_of_scope().len()),
        changed_lines: ws
            .diff_stat
            .as_ref()
            .map_or(0, |d| (d.insertions + d.deletions) as u64),
        empty: ws.nothing_to_review || ws.actual_changed_files.is_empty(),
    }
}

/// One finding as the reviewer's tool takes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingInput {
    pub path: String,
    pub line: u32,
    #[serde(default = "new_side")]
    pub side: DiffSide,
    pub severity: Severity,
    pub body: String,
}

fn new_side() -> DiffSide {
    DiffSide::New
}

/// `governance_report_findings`' arguments.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingsInput {
    #[serde(default)]
    pub findings: Vec<FindingInput>,
    pub summary: String,
}

/// Checks a reviewer's report: its size, each finding's words; a path is
/// checked again where it meets the repository.
pub fn check_findings(input: &FindingsInput) -> Result<(), Refusal> {
    if input.findings.len() > MAX_REVIEW_COMMENTS {
        return Err(Refusal::TooMany(format!(
            "{} findings: at most {MAX_REVIEW_COMMENTS} are kept; report the most important",
            input.findings.len()
        )));
    }
    if input.summary.trim().is_empty() {
        return Err(Refusal::Invalid(
            "summary is empty: say in a sentence what you found".into(),
        ));
    }
    for (i, f) in input.findings.iter().enumerate() {
        let chars = f.body.trim().chars().count();
        if chars == 0 {
            return Err(Refusal::Invalid(format!(
                "findings[{i}].body is empty: say what is wrong"
            )));
        }
        if chars > MAX_REVIEW_COMMENT_CHARS {
            return Err(Refusal::Invalid(format!(
                "findings[{i}].body has {chars} characters; at most {MAX_REVIEW_COMMENT_CHARS}"
            )));
        }
        if f.line == 0 {
            return Err(Refusal::Invalid(format!(
                "findings[{i}].line is 0: lines count from 1"
            )));
        }
    }
    Ok(())
}

/// Holds an integration: an important finding neither dismissed nor
/// resolved (accepted ones hold too, until a send-back carries them).
pub fn holds(c: &ReviewComment) -> bool {
    c.finding
        .as_ref()
        .is_some_and(|f| f.severity == Severity::Important && f.dismissed.is_none())
        && !c.resolved
}

/// Where the second opinion on one attempt's recorded commit stands, for
/// its gate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Review {
    /// None is wanted for this work (`review.when`), or none could be.
    #[default]
    NotWanted,
    /// One is wanted and none started yet for this commit.
    Due,
    /// A reviewer reads it now.
    Reading(String),
    /// Its reviewer ended without reporting.
    EndedWithout(String),
    /// Its reviewer reported.
    Reported,
}

/// The facts the gate reads for one attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    pub review: Review,
    /// Findings on this commit that hold it ([`holds`]), less those the
    /// user overrode: (id, path, line).
    pub holding: Vec<(String, String, u32)>,
    /// The user overrode the review of this very commit: a review not
    /// read yet does not hold it (findings reported since do).
    pub overridden: bool,
}

/// Whether attempt `id` may be integrated as the gate says.
pub fn gate(gate: ReviewGate, id: &str, standing: &Standing) -> Result<(), Refusal> {
    if gate == ReviewGate::Off {
        return Ok(());
    }
    let override_hint = "or override with your reason (override_review: true, reason)";
    match &standing.review {
        _ if standing.overridden && standing.holding.is_empty() => return Ok(()),
        Review::Due => {
            return Err(Refusal::Conflict(format!(
                "{id}: no reviewer has read this work yet (review.gate: block_on_important): ask \
                 for a review (Review again), {override_hint}"
            )))
        }
        Review::Reading(reviewer) => {
            return Err(Refusal::Conflict(format!(
                "{id}: {reviewer} is reviewing this work (review.gate: block_on_important): wait \
                 for its findings, {override_hint}"
            )))
        }
        Review::EndedWithout(reviewer) => {
            return Err(Refusal::Conflict(format!(
                "{id}: {reviewer} ended without a review of this work: review it again, \
                 {override_hint}"
            )))
        }
        Review::NotWanted | Review::Reported => {}
    }
    if standing.holding.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = standing
        .holding
        .iter()
        .map(|(c, path, line)| format!("{c} ({path}:{line})"))
        .collect();
    Err(Refusal::Conflict(format!(
        "{id}: the reviewer's important {} {} open: {}; send back with the accepted findings, \
         dismiss them, {override_hint}",
        if named.len() == 1 {
            "finding"
        } else {
            "findings"
        },
        if named.len() == 1 { "is" } else { "are" },
        named.join(", ")
    )))
}

/// An override's reason, checked.
pub fn override_reason(reason: Option<&str>) -> Result<String, Refusal> {
    let reason = reason.map(str::trim).unwrap_or_default();
    if reason.is_empty() {
        return Err(Refusal::Invalid(
            "an override of the reviewer's findings needs your reason (reason: \"…\")".into(),
        ));
    }
    if reason.chars().count() > MAX_REVIEW_COMMENT_CHARS {
        return Err(Refusal::Invalid(format!(
            "the reason is longer than {MAX_REVIEW_COMMENT_CHARS} characters"
        )));
    }
    Ok(reason.to_string())
}

/// How many findings of each severity, for the plan card and the audit.
pub fn counts(comments: &[ReviewComment]) -> (usize, usize, usize) {
    let of = |s: Severity| {
        comments
            .iter()
            .filter(|c| c.finding.as_ref().is_some_and(|f| f.severity == s))
            .count()
    };
    (
        of(Severity::Important),
        of(Severity::Minor),
        of(Severity::Nit),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Finding;

    fn settings(when: ReviewWhen) -> ReviewSettings {
        ReviewSettings {
            agent: Some("claude".into()),
            when,
            gate: ReviewGate::BlockOnImportant,
            model: None,
            min_lines: 200,
            fallback: Default::default(),
        }
    }

    fn finding(id: &str, severity: Severity) -> ReviewComment {
        ReviewComment {
            id: id.into(),
            session_id: "lingyubu-1".into(),
            path: "src/lib.rs".into(),
            line: 7,
            side: DiffSide::New,
            body: "off by one".into(),
            created_at: String::new(),
            commit: String::new(),
            base: String::new(),
            sent_at: None,
            resolved: false,
            finding: Some(Finding {
                reviewer: "reviewer-2".into(),
                severity,
                file_note: false,
                accepted_at: None,
                dismissed: None,
            }),
        }
    }

    #[test]
    fn risky_work_is_flagged_out_of_scope_or_big_and_empty_work_is_never_read() {
        let small = WorkFacts {
            changed_lines: 10,
            ..WorkFacts::default()
        };
        assert!(wanted(&settings(ReviewWhen::Always), None, &small));
        assert!(!wanted(&settings(ReviewWhen::Risky), None, &small));
        assert!(!wanted(&settings(ReviewWhen::Off), None, &small));
        for risky in [
            WorkFacts {
                flagged: true,
                ..small
            },
            WorkFacts {
                out_of_scope: 1,
                ..small
            },
            WorkFacts {
                changed_lines: 200,
                ..small
            },
        ] {
            assert!(
                wanted(&settings(ReviewWhen::Risky), None, &risky),
                "{risky:?}"
            );
        }
        // A department's own word wins either way.
        assert!(wanted(
            &settings(ReviewWhen::Off),
            Some(ReviewWhen::Always),
            &small
        ));
        assert!(!wanted(
            &settings(ReviewWhen::Always),
            Some(ReviewWhen::Off),
            &small
        ));
        assert_eq!(vendor(Some("codex-acp"), "a"), vendor(Some("codex"), "b"));
        assert_ne!(vendor(Some("claude"), "a"), vendor(Some("gemini"), "a"));
        assert_ne!(vendor(None, "a"), vendor(None, "b"));
        let team = [("hubu".to_string(), 1), ("gongbu".to_string(), 2)];
        assert_eq!(other_vendor(&1, &team).as_deref(), Some("gongbu"));
        assert_eq!(other_vendor(&3, &team).as_deref(), Some("hubu"));
        assert_eq!(other_vendor(&1, &team[..1]), None);
        let empty = WorkFacts {
            empty: true,
            ..small
        };
        assert!(!wanted(&settings(ReviewWhen::Always), None, &empty));
    }

    #[test]
    fn an_open_important_finding_holds_until_dismissed_resolved_or_overridden() {
        let important = finding("rc-1", Severity::Important);
        let minor = finding("rc-2", Severity::Minor);
        assert!(holds(&important) && !holds(&minor));
        let mut accepted = important.clone();
        accepted.finding.as_mut().unwrap().accepted_at = Some("t".into());
        assert!(holds(&accepted), "accepted: held until sent back");
        let mut dismissed = important.clone();
        dismissed.finding.as_mut().unwrap().dismissed = Some("not a bug".into());
        let resolved = ReviewComment {
            resolved: true,
            ..important.clone()
        };
        assert!(!holds(&dismissed) && !holds(&resolved));

        let held = Standing {
            review: Review::Reported,
            holding: vec![("rc-1".into(), "src/lib.rs".into(), 7)],
            overridden: false,
        };
        let refused = gate(ReviewGate::BlockOnImportant, "lingyubu-1", &held).unwrap_err();
        assert!(
            refused.to_string().contains("rc-1 (src/lib.rs:7)"),
            "{refused}"
        );
        assert!(gate(ReviewGate::Off, "lingyubu-1", &held).is_ok());
        // A review still due, reading, or ended without a word holds it.
        for review in [
            Review::Due,
            Review::Reading("reviewer-2".into()),
            Review::EndedWithout("reviewer-2".into()),
        ] {
            let waiting = Standing {
                review,
                ..Standing::default()
            };
            assert!(gate(ReviewGate::BlockOnImportant, "lingyubu-1", &waiting).is_err());
            let overridden = Standing {
                overridden: true,
                ..waiting
            };
            assert!(gate(ReviewGate::BlockOnImportant, "lingyubu-1", &overridden).is_ok());
        }
        // An override does not pass a finding reported after it.
        let later = Standing {
            overridden: true,
            ..held.clone()
        };
        assert!(gate(ReviewGate::BlockOnImportant, "lingyubu-1", &later).is_err());
        let read = Standing {
            review: Review::Reported,
            ..Standing::default()
        };
        assert!(gate(ReviewGate::BlockOnImportant, "lingyubu-1", &read).is_ok());
        assert!(override_reason(Some("  ")).is_err());
        assert_eq!(override_reason(Some(" hotfix ")).unwrap(), "hotfix");
    }

    #[test]
    fn a_report_says_what_is_wrong_on_a_line_within_its_limits() {
        let one = FindingInput {
            path: "src/lib.rs".into(),
            line: 7,
            side: DiffSide::New,
            severity: Severity::Important,
            body: "off by one".into(),
        };
        let ok = FindingsInput {
            findings: vec![one.clone()],
            summary: "one bug".into(),
        };
        assert!(check_findings(&ok).is_ok());
        let zero = FindingsInput {
            findings: vec![FindingInput {
                line: 0,
                ..one.clone()
            }],
            ..ok.clone()
        };
        assert!(check_findings(&zero).is_err());
        let many = FindingsInput {
            findings: vec![one; MAX_REVIEW_COMMENTS + 1],
            ..ok
        };
        assert!(matches!(check_findings(&many), Err(Refusal::TooMany(_))));
    }
}
