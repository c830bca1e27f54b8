//! Text and Markdown renderings of a [`Report`].
//!
//! Text is for a terminal before commit; Markdown is for a pull-request
//! description. Both follow the JSON's sections. Paths and config text come from
//! the repository, so control and bidi-override characters are shown escaped rather
//! than sent to a terminal or a page, and code spans are fenced so a backtick in a
//! file name cannot break out of them.

use super::{PortabilityScan, Report, Risk};
use crate::config::RiskLevel;

/// Files shown per department (and paths per risk rule) before "... and N more".
pub const MAX_LISTED: usize = 8;

pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    let w = &mut out;
    line(w, &clean(&report.title));
    let base = report
        .base
        .as_deref()
        .map(|b| format!(" {}", clean(b)))
        .unwrap_or_default();
    line(
        w,
        &format!(
            "Mode: {}{base} · {}",
            mode_name(report),
            count(report.changed_count, "changed path")
        ),
    );
    for province in &report.provinces {
        line(w, "");
        line(
            w,
            &format!(
                "{} {} — {}",
                capitalized(&province.key),
                clean(&province.title),
                clean(&province.duty)
            ),
        );
        match province.key.as_str() {
            "zhongshu" => line(w, &format!("  {}", summary(report))),
            "menxia" => text_risks(w, &report.risks),
            "shangshu" => {
                if report.departments.is_empty() {
                    line(w, "  No department has changes.");
                }
                for d in &report.departments {
                    line(
                        w,
                        &format!(
                            "  {} {} — {} ({})",
                            clean(&d.key),
                            clean(&d.title),
                            clean(&d.duty),
                            count(d.files.len(), "file")
                        ),
                    );
                    listed(w, "    ", &d.files, clean);
                    for v in &d.verify {
                        line(w, &format!("    verify: {}", clean(v)));
                    }
                }
            }
            _ => {}
        }
    }
    if !report.uncategorized.is_empty() {
        line(w, "");
        line(
            w,
            &format!("Uncategorized ({})", report.uncategorized.len()),
        );
        listed(w, "  ", &report.uncategorized, clean);
    }
    line(w, "");
    line(w, "Suggested verification");
    if report.verify_commands.is_empty() {
        line(w, "  (none)");
    }
    for v in &report.verify_commands {
        line(w, &format!("  - {}", clean(v)));
    }
    line(w, "");
    line(w, "Preflight");
    let scan = &report.preflight.checks.portability_reference_scan;
    line(
        w,
        &format!("  portability_reference_scan: {}", scan_summary(scan)),
    );
    for f in scan.violations.iter().chain(&scan.exceptions) {
        let kind = serde_json::to_value(f.classification).unwrap_or_default();
        let pattern = serde_json::to_value(f.pattern).unwrap_or_default();
        line(
            w,
            &format!(
                "    {:<9} {}:{}:{} {} {}",
                kind.as_str().unwrap_or(""),
                clean(&f.path),
                f.line,
                f.column,
                pattern.as_str().unwrap_or(""),
                clean(&f.excerpt)
            ),
        );
    }
    out
}

pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let w = &mut out;
    line(w, &format!("## {}", clean(&report.title)));
    line(w, "");
    let base = report
        .base
        .as_deref()
        .map(|b| format!(" {}", code(b)))
        .unwrap_or_default();
    line(
        w,
        &format!(
            "Mode: {}{base} · {}",
            code(mode_name(report)),
            count(report.changed_count, "changed path")
        ),
    );
    for province in &report.provinces {
        line(w, "");
        line(
            w,
            &format!(
                "### {} {}",
                capitalized(&province.key),
                clean(&province.title)
            ),
        );
        line(w, "");
        line(w, &clean(&province.duty));
        line(w, "");
        match province.key.as_str() {
            "zhongshu" => line(w, &summary(report)),
            "menxia" => markdown_risks(w, &report.risks),
            "shangshu" => {
                if report.departments.is_empty() {
                    line(w, "No department has changes.");
                }
                for (i, d) in report.departments.iter().enumerate() {
                    if i > 0 {
                        line(w, "");
                    }
                    line(
                        w,
                        &format!(
                            "#### {} {} ({})",
                            clean(&d.key),
                            clean(&d.title),
                            count(d.files.len(), "file")
                        ),
                    );
                    line(w, "");
                    if !d.duty.is_empty() {
                        line(w, &clean(&d.duty));
                        line(w, "");
                    }
                    listed(w, "- ", &d.files, code);
                    if !d.verify.is_empty() {
                        line(w, "");
                        let cmds: Vec<String> = d.verify.iter().map(|v| code(v)).collect();
                        line(w, &format!("Verify: {}", cmds.join(", ")));
                    }
                }
            }
            _ => {}
        }
    }
    if !report.uncategorized.is_empty() {
        line(w, "");
        line(
            w,
            &format!("### Uncategorized ({})", report.uncategorized.len()),
        );
        line(w, "");
        listed(w, "- ", &report.uncategorized, code);
    }
    line(w, "");
    line(w, "### Suggested verification");
    line(w, "");
    if report.verify_commands.is_empty() {
        line(w, "None.");
    }
    for v in &report.verify_commands {
        line(w, &format!("- [ ] {}", code(v)));
    }
    line(w, "");
    line(w, "### Preflight");
    line(w, "");
    let scan = &report.preflight.checks.portability_reference_scan;
    line(
        w,
        &format!("`portability_reference_scan`: {}", scan_summary(scan)),
    );
    if !scan.violations.is_empty() || !scan.exceptions.is_empty() {
        line(w, "");
    }
    for f in scan.violations.iter().chain(&scan.exceptions) {
        let kind = serde_json::to_value(f.classification).unwrap_or_default();
        let pattern = serde_json::to_value(f.pattern).unwrap_or_default();
        line(
            w,
            &format!(
                "- {} {} {}: {}",
                kind.as_str().unwrap_or(""),
                code(&format!("{}:{}:{}", f.path, f.line, f.column)),
                pattern.as_str().unwrap_or(""),
                code(&f.excerpt)
            ),
        );
    }
    out
}

fn line(out: &mut String, text: &str) {
    out.push_str(text);
    out.push('\n');
}

/// Up to [`MAX_LISTED`] items, one per line, then "... and N more".
fn listed(out: &mut String, prefix: &str, items: &[String], show: impl Fn(&str) -> String) {
    for item in items.iter().take(MAX_LISTED) {
        line(out, &format!("{prefix}{}", show(item)));
    }
    if items.len() > MAX_LISTED {
        line(
            out,
            &format!("{prefix}... and {} more", items.len() - MAX_LISTED),
        );
    }
}

fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn mode_name(report: &Report) -> &'static str {
    match report.mode {
        super::ModeName::Worktree => "worktree",
        super::ModeName::Staged => "staged",
        super::ModeName::Base => "base",
    }
}

fn capitalized(key: &str) -> String {
    let mut chars = key.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Zhongshu's one-line view of the change.
fn summary(report: &Report) -> String {
    let routed = report
        .changed_count
        .saturating_sub(report.uncategorized.len());
    format!(
        "{}: {routed} routed to {}, {} uncategorized; {}.",
        count(report.changed_count, "changed path"),
        count(report.departments.len(), "department"),
        report.uncategorized.len(),
        count(report.risks.len(), "risk"),
    )
}

fn scan_summary(scan: &PortabilityScan) -> String {
    let decision = serde_json::to_value(scan.decision).unwrap_or_default();
    format!(
        "{} ({} scanned, {}, {})",
        decision.as_str().unwrap_or(""),
        count(scan.scanned_files.len(), "file"),
        count(scan.violations.len(), "violation"),
        count(scan.exceptions.len(), "example"),
    )
}

/// Risks grouped by rule, highest level first, each with its paths.
fn grouped(risks: &[Risk]) -> Vec<(&Risk, Vec<String>)> {
    let mut groups: Vec<(&Risk, Vec<String>)> = Vec::new();
    for r in risks {
        match groups.iter_mut().find(|(g, _)| g.name == r.name) {
            Some((_, paths)) => paths.push(r.path.clone()),
            None => groups.push((r, vec![r.path.clone()])),
        }
    }
    groups.sort_by_key(|(r, _)| r.level); // stable: first appearance within a level
    groups
}

fn level(l: RiskLevel) -> &'static str {
    l.as_str()
}

fn text_risks(out: &mut String, risks: &[Risk]) {
    if risks.is_empty() {
        line(out, "  No risk rules fired.");
        return;
    }
    for (rule, paths) in grouped(risks) {
        line(
            out,
            &format!(
                "  [{}] {} ({}): {}",
                level(rule.level),
                clean(&rule.name),
                paths.len(),
                clean(&rule.message)
            ),
        );
        listed(out, "    ", &paths, clean);
    }
}

fn markdown_risks(out: &mut String, risks: &[Risk]) {
    if risks.is_empty() {
        line(out, "No risk rules fired.");
        return;
    }
    for (rule, paths) in grouped(risks) {
        line(
            out,
            &format!(
                "- **{}** {} ({}): {}",
                level(rule.level),
                code(&rule.name),
                paths.len(),
                clean(&rule.message)
            ),
        );
        listed(out, "  - ", &paths, code);
    }
}

/// One line, with control and bidi-override characters escaped.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
        if c.is_control() || bidi {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A Markdown code span that holds `s` verbatim, whatever backticks it contains.
fn code(s: &str) -> String {
    let s = clean(s);
    if s.is_empty() {
        return "(empty)".into();
    }
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    // CommonMark strips one space from each side when both are present.
    let pad = s.starts_with('`')
        || s.ends_with('`')
        || (s.starts_with(' ') && s.ends_with(' ') && !s.trim().is_empty());
    let pad = if pad { " " } else { "" };
    format!("{fence}{pad}{s}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code("a.md"), "`a.md`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x``"), "``` `x`` ```");
        assert_eq!(code(" a "), "`  a  `");
    }

    #[test]
    fn clean_escapes_controls() {
        assert_eq!(clean("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(clean("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(clean("设计 文档.md"), "设计 文档.md");
    }
}
