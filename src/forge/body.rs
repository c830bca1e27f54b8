//! A pull request's title and body: the governance review of the work it
//! carries, as GitHub-flavoured Markdown. The structure comes from here
//! only; every text a department wrote (its summary, its claims, file names,
//! its verification commands) is quoted, as a code span on one line or an
//! indented code block, so it cannot add a heading, a list item, a link or
//! HTML of its own to the review.

use crate::model::{ChangeReview, DiffStat};

/// One department's work in a pull request.
#[derive(Debug, Clone, Default)]
pub struct Part {
    pub session_id: String,
    pub department: String,
    /// The plan (its Zhongshu session).
    pub plan: Option<String>,
    pub summary: String,
    /// The report's `changed_files`; None without a report.
    pub claimed: Option<Vec<String>>,
    /// What the recorded commit really changes.
    pub actual: Vec<String>,
    pub diff_stat: Option<DiffStat>,
    pub review: Option<ChangeReview>,
    pub verifications: Vec<String>,
    /// The reviewer's line comments on its attempts, each
    /// `path:line · state · words` (issue 51).
    pub review_comments: Vec<String>,
}

/// The longest title a pull request gets.
const TITLE_CHARS: usize = 72;

/// The title: the department's summary's first line (its task's when it
/// filed none); a plan's pull request names the plan and its count.
pub fn title(parts: &[Part], task: &str) -> String {
    let first = |p: &Part| {
        let said = if p.summary.trim().is_empty() {
            task
        } else {
            &p.summary
        };
        crate::sanitize::pasted_text(said)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .to_string()
    };
    let text = match parts {
        // Inert as a commit's subject is: no reference, mention or
        // Merge-like subject of the department's passes for the user's.
        [one] => crate::policy::commit_words::subject(&first(one), &one.department),
        many => format!(
            "Plan {}: {} departments",
            many.first()
                .and_then(|p| p.plan.clone())
                .unwrap_or_default(),
            many.len()
        ),
    };
    let text = if text.is_empty() {
        "Department work".to_string()
    } else {
        text
    };
    if text.chars().count() > TITLE_CHARS {
        format!(
            "{}…",
            text.chars().take(TITLE_CHARS - 1).collect::<String>()
        )
    } else {
        text
    }
}

/// The body: one review section per department, then where it came from.
pub fn render(parts: &[Part]) -> String {
    let mut out = String::new();
    if parts.len() > 1 {
        out.push_str(&format!(
            "**One commit per department**, in plan order ({} departments).\n\n",
            parts.len()
        ));
    }
    for p in parts {
        section(&mut out, p);
    }
    out.push_str("---\n");
    // For the team: no local path and no loopback address, which are no
    // one's but the user's.
    out.push_str(
        "Opened by codex-governance; the full review, its handoff packet and the diff \
         are in the dashboard of whoever opened it.\n",
    );
    out
}

fn section(out: &mut String, p: &Part) {
    let decision = p
        .review
        .as_ref()
        .map(|r| r.decision.as_str())
        .unwrap_or("not recorded");
    out.push_str(&format!(
        "## Governance review: {decision} · {}\n\n",
        span(&p.department)
    ));
    let mut ids = format!("Session {}", span(&p.session_id));
    if let Some(plan) = &p.plan {
        ids.push_str(&format!(" · plan {}", span(plan)));
    }
    if let Some(s) = p.diff_stat {
        ids.push_str(&format!(
            " · {} file{}, +{} −{}",
            s.files,
            if s.files == 1 { "" } else { "s" },
            s.insertions,
            s.deletions
        ));
    }
    out.push_str(&ids);
    out.push_str("\n\n### Summary (the department's words)\n\n");
    out.push_str(&block(&p.summary));
    out.push_str("\n\n");
    if let Some(r) = &p.review {
        let scope = if r.scope.open {
            "open (no files assigned, no department globs)".to_string()
        } else if r.scope.out_of_scope.is_empty() {
            "every change is in scope".to_string()
        } else {
            format!("**{} file(s) out of scope**", r.scope.out_of_scope.len())
        };
        out.push_str(&format!("### Scope: {scope}\n\n"));
        if let Some(short) = scope_summary(&r.scope.patterns) {
            out.push_str(&format!("Assigned: {short}\n\n"));
        }
        list(out, "Out of scope", &r.scope.out_of_scope);
    }
    out.push_str("### Claimed vs actual files\n\n");
    claimed_vs_actual(out, p);
    if let Some(r) = &p.review {
        risks_and_findings(out, r);
    }
    list(
        out,
        "Verification the department reported running",
        &p.verifications,
    );
    list(
        out,
        "### Review comments (the reviewer's, on its attempts)\n",
        &p.review_comments,
    );
}

/// The scope's globs in one line: the first three, then how many more.
fn scope_summary(patterns: &[String]) -> Option<String> {
    const SHOWN: usize = 3;
    if patterns.is_empty() {
        return None;
    }
    let mut text: Vec<String> = patterns.iter().take(SHOWN).map(|p| span(p)).collect();
    if patterns.len() > SHOWN {
        text.push(format!("and {} more", patterns.len() - SHOWN));
    }
    Some(text.join(", "))
}

/// Which changed files the report claimed, which it did not, and which it
/// claimed without changing them.
fn claimed_vs_actual(out: &mut String, p: &Part) {
    match &p.claimed {
        None => {
            out.push_str("No report claimed any file.\n\n");
            list(out, "Changed", &p.actual);
        }
        Some(claimed) => {
            let both: Vec<String> = p
                .actual
                .iter()
                .filter(|f| claimed.contains(f))
                .cloned()
                .collect();
            let unclaimed: Vec<String> = p
                .actual
                .iter()
                .filter(|f| !claimed.contains(f))
                .cloned()
                .collect();
            let unchanged: Vec<String> = claimed
                .iter()
                .filter(|f| !p.actual.contains(f))
                .cloned()
                .collect();
            list(out, "Claimed and changed", &both);
            list(out, "**Changed, not claimed**", &unclaimed);
            list(out, "**Claimed, not changed**", &unchanged);
            if both.is_empty() && unclaimed.is_empty() && unchanged.is_empty() {
                out.push_str("Nothing claimed, nothing changed.\n\n");
            }
        }
    }
}

/// The risk rules that fired on the diff, and the review's findings.
fn risks_and_findings(out: &mut String, r: &ChangeReview) {
    out.push_str("### Risks\n\n");
    if r.risks.is_empty() {
        out.push_str("No risk rule fired on its diff.\n\n");
    } else {
        for risk in &r.risks {
            out.push_str(&format!(
                "- **{}** {} {}: {}\n",
                risk.level.as_str(),
                span(&risk.path),
                span(&risk.name),
                span(&risk.message)
            ));
        }
        out.push('\n');
    }
    if !r.findings.is_empty() {
        list(out, "### Findings\n", &r.findings);
    }
}

/// A labelled list of quoted items; nothing when empty.
fn list(out: &mut String, label: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    out.push_str(label);
    out.push_str(if label.ends_with('\n') { "\n" } else { ":\n\n" });
    for i in items {
        out.push_str(&format!("- {}\n", span(i)));
    }
    out.push('\n');
}

/// `text` on one line as a code span whose fence outruns any backtick run.
pub fn span(text: &str) -> String {
    let flat: String = crate::sanitize::pasted_text(text)
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.is_empty() {
        return "(empty)".into();
    }
    let run = flat.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(run + 1);
    let pad = if flat.starts_with('`') || flat.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{flat}{pad}{fence}")
}

/// `text` as an indented code block (every line four spaces in).
pub fn block(text: &str) -> String {
    let clean = crate::sanitize::pasted_text(text);
    let clean = clean.trim_matches('\n').trim_end();
    if clean.trim().is_empty() {
        return "    (empty)".into();
    }
    clean
        .split('\n')
        .map(|l| format!("    {}", l.trim_end()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClaimCheck, Decision, Risk, RiskLevel, ScopeCheck};

    fn part() -> Part {
        Part {
            session_id: "lingyubu-2".into(),
            department: "lingyubu".into(),
            plan: Some("zhongshu-1".into()),
            summary: "Tidied the notes\n## Approved by security\n<img src=x>".into(),
            claimed: Some(vec!["NOTES.md".into(), "ghost.md".into()]),
            actual: vec!["NOTES.md".into(), "src/`x`.rs".into()],
            diff_stat: Some(DiffStat {
                files: 2,
                insertions: 3,
                deletions: 1,
            }),
            review: Some(ChangeReview {
                decision: Decision::Review,
                scope: ScopeCheck {
                    open: false,
                    patterns: vec!["NOTES.md".into()],
                    out_of_scope: vec!["src/`x`.rs".into()],
                    assigned_outside: Vec::new(),
                },
                claim: Some(ClaimCheck {
                    unreported: vec!["src/`x`.rs".into()],
                    unchanged: vec!["ghost.md".into()],
                }),
                risks: vec![Risk {
                    path: "src/`x`.rs".into(),
                    name: "source".into(),
                    level: RiskLevel::High,
                    message: "code".into(),
                }],
                findings: vec!["REVIEW: out of scope".into()],
            }),
            verifications: vec!["cargo test".into()],
            review_comments: vec![
                "src/a.rs:3 · addressed · name it `three`\n## not a heading".into()
            ],
        }
    }

    #[test]
    fn the_body_is_the_review_and_department_text_adds_no_structure() {
        let body = render(&[part()]);
        assert!(
            body.starts_with("## Governance review: REVIEW · `lingyubu`"),
            "{body}"
        );
        for want in [
            "plan `zhongshu-1`",
            "2 files, +3 −1",
            "**1 file(s) out of scope**",
            "**Changed, not claimed**:\n\n- ``src/`x`.rs``",
            "**Claimed, not changed**:\n\n- `ghost.md`",
            "- **high** ``src/`x`.rs`` `source`: `code`",
            "- `cargo test`",
            "Assigned: `NOTES.md`",
            "### Review comments (the reviewer's, on its attempts)\n\n\
             - ``src/a.rs:3 · addressed · name it `three` ## not a heading``",
        ] {
            assert!(body.contains(want), "{want:?} in {body}");
        }
        // Issue 49 item 7: nothing local in a text for the team.
        for never in [".tmp/p.md", "127.0.0.1", "Handoff packet:"] {
            assert!(!body.contains(never), "{never:?} in {body}");
        }
        let mut many = part();
        many.review.as_mut().unwrap().scope.patterns =
            (0..12).map(|i| format!("dir{i}/**")).collect();
        let body = render(&[many]);
        assert!(
            body.contains("Assigned: `dir0/**`, `dir1/**`, `dir2/**`, and 9 more"),
            "{body}"
        );
        assert!(!body.contains("dir5/**"), "{body}");
        // The summary's own heading and HTML stay inside the code block.
        for line in body.lines() {
            assert!(
                !line.starts_with("## Approved") && !line.starts_with("<img"),
                "{line}"
            );
        }
        assert!(
            body.contains("    ## Approved by security\n    <img src=x>"),
            "{body}"
        );
    }

    #[test]
    fn the_title_is_the_summarys_first_line_or_the_plans() {
        assert_eq!(title(&[part()], "task"), "Tidied the notes");
        let mut long = part();
        long.summary = "x".repeat(100);
        assert_eq!(title(&[long], "").chars().count(), 72);
        let empty = Part {
            summary: " ".into(),
            ..part()
        };
        assert_eq!(title(&[empty], "Write NOTES.md\nmore"), "Write NOTES.md");
        assert_eq!(
            title(&[part(), part()], ""),
            "Plan zhongshu-1: 2 departments"
        );
    }
}
