use super::*;

fn one(text: &str) -> Vec<(usize, usize, PatternKind, Classification)> {
    scan_text("a.md", text)
        .into_iter()
        .map(|f| (f.line, f.column, f.pattern, f.classification))
        .collect()
}

use Classification::{Example, Violation};
use PatternKind::*;

#[test]
fn plain_hits_are_violations_with_columns() {
    assert_eq!(one("see /home/me/x"), [(1, 5, PosixHome, Violation)]);
    assert_eq!(one("x\n  /Users/me"), [(2, 3, MacUsers, Violation)]);
    assert_eq!(
        one("é ~/x"),
        [(1, 3, HomeShortcut, Violation)],
        "columns count characters"
    );
    assert_eq!(one("open file:///tmp"), [(1, 6, FileUri, Violation)]);
}

#[test]
fn drive_letters() {
    assert_eq!(one(r"E:\work"), [(1, 1, WindowsDrive, Violation)]);
    assert_eq!(one("at c:/x"), [(1, 4, WindowsDrive, Violation)]);
    assert!(one("http://example.com and https://x").is_empty());
    assert!(one("ab:/x 9c:/z").is_empty());
    // As the Python tool's `(?<![A-Za-z0-9])`: after `_` or a non-ASCII letter it counts.
    assert_eq!(one("_c:/y"), [(1, 2, WindowsDrive, Violation)]);
    assert_eq!(one("中c:/y"), [(1, 2, WindowsDrive, Violation)]);
    assert_eq!(one("(D:/x)"), [(1, 2, WindowsDrive, Violation)]);
}

#[test]
fn examples_in_code() {
    let doc = "text\n```sh\ncd /home/me\n```\n    ls ~/x\n\tls ~/y\nuse `/Users/me` here /home/z\n~~~\n/home/q\n~~~\n/home/after";
    assert_eq!(
        one(doc),
        [
            (3, 4, PosixHome, Example),
            (5, 8, HomeShortcut, Example),
            (6, 5, HomeShortcut, Example),
            (7, 6, MacUsers, Example),
            (7, 22, PosixHome, Violation),
            (9, 1, PosixHome, Example),
            (11, 1, PosixHome, Violation),
        ]
    );
}

#[test]
fn fences_close_only_with_the_same_marker() {
    let doc = "````\n```\n/home/a\n````\n/home/b";
    assert_eq!(
        one(doc),
        [(3, 1, PosixHome, Example), (5, 1, PosixHome, Violation)]
    );
}

#[test]
fn inline_code_spans_need_matching_runs() {
    assert_eq!(one("`` a ` /home/x ``"), [(1, 8, PosixHome, Example)]);
    assert_eq!(
        one("a ` /home/x"),
        [(1, 5, PosixHome, Violation)],
        "unclosed"
    );
    assert_eq!(one("`a` /home/x `b`"), [(1, 5, PosixHome, Violation)]);
}

#[test]
fn overlapping_patterns_each_count() {
    assert_eq!(
        one("file:///home/me"),
        [(1, 1, FileUri, Violation), (1, 8, PosixHome, Violation)]
    );
}

#[test]
fn long_lines_are_windowed_around_the_hit() {
    let line = format!("{} /home/me {}", "x".repeat(500), "y".repeat(500));
    let f = &scan_text("a.md", &line)[0];
    assert!(f.excerpt.contains("/home/me"), "{}", f.excerpt);
    assert!(f.excerpt.chars().count() <= EXCERPT_CHARS + 2);
    assert_eq!(f.column, 502);
}

#[test]
fn names_match_the_json() {
    fn json<T: Serialize>(v: T) -> String {
        serde_json::to_value(v)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }
    for k in [PosixHome, MacUsers, WindowsDrive, FileUri, HomeShortcut] {
        assert_eq!(json(k), k.as_str());
    }
    for c in [Violation, Example] {
        assert_eq!(json(c), c.as_str());
    }
    for d in [Decision::Pass, Decision::Review] {
        assert_eq!(json(d), d.as_str());
    }
}

#[test]
fn decision() {
    let pass = PortabilityScan::from_findings(vec![], scan_text("a.md", "`~/x`"));
    assert_eq!(pass.decision, Decision::Pass);
    assert_eq!(pass.exceptions.len(), 1);
    let review = PortabilityScan::from_findings(vec![], scan_text("a.md", "~/x"));
    assert_eq!(review.decision, Decision::Review);
}
