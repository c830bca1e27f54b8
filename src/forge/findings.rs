//! A reviewer agent's findings as a review on the pull request (issue 75,
//! item 5). The review is posted with the user's token, so the forge shows
//! it as the user's: every finding says whose words it is. One the user
//! accepted is theirs ("accepted by the user"); any other is the agent's,
//! named with its session. The agent's text is always an indented code
//! block ([`super::body::block`]): it cannot mention anyone, link, or add
//! Markdown of its own. A finding on a line the diff shows is a line
//! comment; a note on a file, or every finding when the forge refuses the
//! lines, goes into the review's text.

use super::body::{block, span};
use super::{NewReview, ReviewLine};
use crate::model::Severity;

/// Characters of one finding's (or the summary's) text the review carries.
const FINDING_CHARS: usize = 4000;

/// One finding, as the review shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// `rc-N`.
    pub id: String,
    /// The reviewer session that reported it.
    pub reviewer: String,
    /// The department key whose agent reviewed.
    pub agent: String,
    pub path: String,
    pub line: u32,
    pub new_side: bool,
    /// On a line the diff shows (else a note on the file).
    pub on_diff: bool,
    pub severity: Severity,
    pub body: String,
    pub accepted: bool,
}

/// The reviewer's summary of the reviewed work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub reviewer: String,
    pub agent: String,
    pub text: String,
}

/// The review of `findings` on head `commit`; with `lines_in_text` every
/// finding goes into the review's text (the forge refused the lines).
pub fn review(
    commit: &str,
    findings: &[Posted],
    summaries: &[Summary],
    lines_in_text: bool,
) -> NewReview {
    let mut body = format!(
        "**A second opinion**, from a reviewer agent that codex-governance ran read-only over \
         this work ({}). Each finding says whose words it is: the agent's, quoted as it wrote \
         them, or the user's where the user accepted it.\n",
        span(&commit.chars().take(12).collect::<String>())
    );
    for s in summaries {
        body.push_str(&format!(
            "\n{} summed it up (its words, not the user's):\n\n{}\n",
            whose(&s.reviewer, &s.agent),
            block(&cut(&s.text))
        ));
    }
    let (on_lines, in_text): (Vec<&Posted>, Vec<&Posted>) =
        findings.iter().partition(|f| f.on_diff && !lines_in_text);
    if !in_text.is_empty() {
        body.push_str("\nFindings on the files:\n");
        for f in &in_text {
            body.push_str(&format!(
                "\n- {} at {}: {}\n\n{}\n",
                severity(f.severity),
                span(&format!("{}:{}", f.path, f.line)),
                attribution(f),
                indented(&block(&cut(&f.body)))
            ));
        }
    }
    let lines = on_lines
        .iter()
        .map(|f| ReviewLine {
            path: f.path.clone(),
            line: f.line,
            new_side: f.new_side,
            body: format!(
                "{}: {}\n\n{}",
                severity(f.severity),
                attribution(f),
                block(&cut(&f.body))
            ),
        })
        .collect();
    NewReview {
        commit: commit.to_string(),
        body,
        lines,
    }
}

fn severity(s: Severity) -> String {
    format!("**{}**", s.as_str())
}

/// Whose words a finding is.
fn attribution(f: &Posted) -> String {
    if f.accepted {
        format!(
            "a finding of {} that the user accepted as their own",
            whose(&f.reviewer, &f.agent)
        )
    } else {
        format!(
            "from {}, its words, not the user's",
            whose(&f.reviewer, &f.agent)
        )
    }
}

fn whose(reviewer: &str, agent: &str) -> String {
    format!("reviewer agent {} ({})", span(reviewer), span(agent))
}

fn cut(text: &str) -> String {
    text.chars().take(FINDING_CHARS).collect()
}

/// A code block inside a list item: four more spaces.
fn indented(block: &str) -> String {
    block
        .lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, line: u32, on_diff: bool, accepted: bool, body: &str) -> Posted {
        Posted {
            id: id.into(),
            reviewer: "reviewer-3".into(),
            agent: "gongbu".into(),
            path: "src/lib.rs".into(),
            line,
            new_side: true,
            on_diff,
            severity: if accepted {
                Severity::Nit
            } else {
                Severity::Important
            },
            body: body.into(),
            accepted,
        }
    }

    #[test]
    fn each_finding_says_whose_words_it_is_and_the_agents_text_stays_quoted() {
        let hostile = "@everyone see [this](https://evil.example) ![x](https://evil.example/p.png)";
        let findings = [
            finding("rc-1", 7, true, false, hostile),
            finding("rc-2", 3, true, true, "name it total"),
            finding("rc-3", 40, false, false, "no tests"),
        ];
        let summary = Summary {
            reviewer: "reviewer-3".into(),
            agent: "gongbu".into(),
            text: "one bug".into(),
        };
        let r = review(&"a".repeat(40), &findings, &[summary], false);
        assert_eq!(r.commit, "a".repeat(40));
        assert_eq!(r.lines.len(), 2, "{r:?}");
        let agents = &r.lines[0];
        assert_eq!((agents.line, agents.new_side), (7, true));
        assert!(
            agents.body.starts_with(
                "**important**: from reviewer agent `reviewer-3` (`gongbu`), its words, not the user's"
            ),
            "{}",
            agents.body
        );
        // The agent's words are a code block: no mention, link or image.
        assert!(
            agents.body.contains(&format!("\n    {hostile}")),
            "{}",
            agents.body
        );
        assert!(
            r.lines[1]
                .body
                .contains("that the user accepted as their own"),
            "{}",
            r.lines[1].body
        );
        assert!(r.body.contains("`src/lib.rs:40`"), "{}", r.body);
        assert!(r.body.contains("\n        no tests"), "{}", r.body);
        assert!(r
            .body
            .contains("summed it up (its words, not the user's):\n\n    one bug"));
        assert!(r.body.contains("`aaaaaaaaaaaa`"), "{}", r.body);
    }

    #[test]
    fn refused_lines_go_into_the_text() {
        let findings = [finding("rc-1", 7, true, false, "off by one")];
        let r = review("abc", &findings, &[], true);
        assert!(r.lines.is_empty());
        assert!(r.body.contains("`src/lib.rs:7`"), "{}", r.body);
    }
}
