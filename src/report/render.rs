//! Text and Markdown renderings of a [`Report`].
//!
//! Text is for a terminal before commit; Markdown is for a pull-request
//! description. Both follow the JSON's sections. Paths and config text come from
//! the repository, so control and bidi-override characters are shown escaped rather
//! than sent to a terminal or a page, and code spans are fenced so a backtick in a
//! file name cannot break out of them.

use std::fmt::Write;

use super::{PortabilityScan, Report, Risk};

/// Files shown per department (and paths per risk rule) before "... and N more".
pub const MAX_LISTED: usize = 8;

/// `writeln!` into a `String`, which cannot fail.
macro_rules! put {
    ($out:expr) => {
        $out.push('\n')
    };
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    let w = &mut out;
    put!(w, "{}", clean(&report.title));
    let base = report.base.as_deref().map(clean);
    let base = base.map(|b| format!(" {b}")).unwrap_or_default();
    let changed = count(report.changed_count, "changed path");
    put!(w, "Mode: {}{base} · {changed}", report.mode.as_str());
    for p in &report.provinces {
        put!(w);
        let name = capitalized(&p.key);
        put!(w, "{name} {} — {}", clean(&p.title), clean(&p.duty));
        match p.key.as_str() {
            "zhongshu" => put!(w, "  {}", summary(report)),
            "menxia" => text_risks(w, &report.risks),
            "shangshu" => {
                if report.departments.is_empty() {
                    put!(w, "  No department has changes.");
                }
                for d in &report.departments {
                    let files = count(d.files.len(), "file");
                    let (key, title, duty) = (clean(&d.key), clean(&d.title), clean(&d.duty));
                    put!(w, "  {key} {title} — {duty} ({files})");
                    listed(w, "    - ", &d.files, clean);
                    for v in &d.verify {
                        put!(w, "    verify: {}", clean(v));
                    }
                }
            }
            _ => {}
        }
    }
    if !report.uncategorized.is_empty() {
        put!(w);
        put!(w, "Uncategorized ({})", report.uncategorized.len());
        listed(w, "  - ", &report.uncategorized, clean);
    }
    put!(w);
    put!(w, "Suggested verification");
    if report.verify_commands.is_empty() {
        put!(w, "  (none)");
    }
    for v in &report.verify_commands {
        put!(w, "  - {}", clean(v));
    }
    put!(w);
    put!(w, "Preflight");
    let scan = &report.preflight.checks.portability_reference_scan;
    put!(w, "  portability_reference_scan: {}", scan_summary(scan));
    for f in scan.violations.iter().chain(&scan.exceptions) {
        put!(
            w,
            "    {:<9} {}:{}:{} {} {}",
            f.classification.as_str(),
            clean(&f.path),
            f.line,
            f.column,
            f.pattern.as_str(),
            clean(&f.excerpt)
        );
    }
    out
}

pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let w = &mut out;
    put!(w, "## {}", clean(&report.title));
    put!(w);
    let base = report.base.as_deref().map(code);
    let base = base.map(|b| format!(" {b}")).unwrap_or_default();
    let changed = count(report.changed_count, "changed path");
    put!(w, "Mode: {}{base} · {changed}", code(report.mode.as_str()));
    for p in &report.provinces {
        put!(w);
        put!(w, "### {} {}", capitalized(&p.key), clean(&p.title));
        put!(w);
        put!(w, "{}", clean(&p.duty));
        put!(w);
        match p.key.as_str() {
            "zhongshu" => put!(w, "{}", summary(report)),
            "menxia" => markdown_risks(w, &report.risks),
            "shangshu" => {
                if report.departments.is_empty() {
                    put!(w, "No department has changes.");
                }
                for (i, d) in report.departments.iter().enumerate() {
                    if i > 0 {
                        put!(w);
                    }
                    let files = count(d.files.len(), "file");
                    put!(w, "#### {} {} ({files})", clean(&d.key), clean(&d.title));
                    put!(w);
                    if !d.duty.is_empty() {
                        put!(w, "{}", clean(&d.duty));
                        put!(w);
                    }
                    listed(w, "- ", &d.files, code);
                    if !d.verify.is_empty() {
                        let cmds: Vec<String> = d.verify.iter().map(|v| code(v)).collect();
                        put!(w);
                        put!(w, "Verify: {}", cmds.join(", "));
                    }
                }
            }
            _ => {}
        }
    }
    if !report.uncategorized.is_empty() {
        put!(w);
        put!(w, "### Uncategorized ({})", report.uncategorized.len());
        put!(w);
        listed(w, "- ", &report.uncategorized, code);
    }
    put!(w);
    put!(w, "### Suggested verification");
    put!(w);
    if report.verify_commands.is_empty() {
        put!(w, "None.");
    }
    for v in &report.verify_commands {
        put!(w, "- [ ] {}", code(v));
    }
    put!(w);
    put!(w, "### Preflight");
    put!(w);
    let scan = &report.preflight.checks.portability_reference_scan;
    put!(w, "`portability_reference_scan`: {}", scan_summary(scan));
    if !scan.violations.is_empty() || !scan.exceptions.is_empty() {
        put!(w);
    }
    for f in scan.violations.iter().chain(&scan.exceptions) {
        put!(
            w,
            "- {} {} {}: {}",
            f.classification.as_str(),
            code(&format!("{}:{}:{}", f.path, f.line, f.column)),
            f.pattern.as_str(),
            code(&f.excerpt)
        );
    }
    out
}

/// Up to [`MAX_LISTED`] items, one per line, then "... and N more".
fn listed(out: &mut String, prefix: &str, items: &[String], show: impl Fn(&str) -> String) {
    for item in items.iter().take(MAX_LISTED) {
        put!(out, "{prefix}{}", show(item));
    }
    if items.len() > MAX_LISTED {
        put!(out, "{prefix}... and {} more", items.len() - MAX_LISTED);
    }
}

fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
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
    format!(
        "{} ({} scanned, {}, {})",
        scan.decision.as_str(),
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
    groups.sort_by_key(|(r, _)| r.level.clone()); // stable: first appearance within a level
    groups
}

fn text_risks(out: &mut String, risks: &[Risk]) {
    if risks.is_empty() {
        put!(out, "  No risk rules fired.");
    }
    for (rule, paths) in grouped(risks) {
        let (level, name, n) = (rule.level.as_str(), clean(&rule.name), paths.len());
        put!(out, "  [{level}] {name} ({n}): {}", clean(&rule.message));
        listed(out, "    - ", &paths, clean);
    }
}

fn markdown_risks(out: &mut String, risks: &[Risk]) {
    if risks.is_empty() {
        put!(out, "No risk rules fired.");
    }
    for (rule, paths) in grouped(risks) {
        let (level, name, n) = (rule.level.as_str(), code(&rule.name), paths.len());
        put!(out, "- **{level}** {name} ({n}): {}", clean(&rule.message));
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
