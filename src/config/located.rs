//! Where in `governance.yaml` a key stands, so a warning or an error names the
//! file and the line (issue 37: the page shows them, with one prefix), and
//! the one check a glob needs before it is used: an unclosed `[`.
//!
//! The YAML parser keeps no positions for the keys it ignores, so the line is
//! found in the text by the key's path, one segment after the other, each
//! deeper than the last (`launcher.max_departmens`, `risk_rules[1].level`,
//! `departments.docs.globs[0]`). A key written inside a flow mapping or list
//! (`- {name: x, level: y}`) is on the line of its parent.

/// The 1-based line of the key at `path` in `text`, when it can be found.
pub fn line_of(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut at: Option<usize> = None;
    let mut indent: isize = -1;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let from = at.map_or(0, |i| i + 1);
        if !name.is_empty() {
            match find_key(&lines, from, indent, name) {
                Some(i) => {
                    at = Some(i);
                    indent = indentation(lines[i]);
                }
                // Inside a flow mapping: on its parent's line.
                None => return at.map(|i| i + 1),
            }
        }
        if let Some(k) = index {
            let from = at.map_or(0, |i| i + 1);
            match find_item(&lines, from, indent, k) {
                Some(i) => {
                    at = Some(i);
                    indent = indentation(lines[i]);
                }
                None => return at.map(|i| i + 1),
            }
        }
    }
    at.map(|i| i + 1)
}

fn indentation(line: &str) -> isize {
    (line.len() - line.trim_start().len()) as isize
}

/// The line at or after `from` holding `name:` deeper than `indent`, before
/// the block at `indent` ends.
fn find_key(lines: &[&str], from: usize, indent: isize, name: &str) -> Option<usize> {
    for (i, line) in lines.iter().enumerate().skip(from) {
        let body = line.trim_start().trim_start_matches("- ");
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let depth = indentation(line);
        if depth <= indent && !line.trim_start().starts_with("- ") {
            return None;
        }
        let key = body.trim_start_matches(['"', '\'']);
        if key.starts_with(name)
            && key[name.len()..]
                .trim_start_matches(['"', '\''])
                .starts_with(':')
        {
            return Some(i);
        }
    }
    None
}

/// The `k`-th (0-based) list item (`- `) at or after `from` deeper than `indent`.
fn find_item(lines: &[&str], from: usize, indent: isize, k: usize) -> Option<usize> {
    let mut seen = 0;
    for (i, line) in lines.iter().enumerate().skip(from) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if indentation(line) < indent || (indentation(line) == indent && !trimmed.starts_with('-'))
        {
            return None;
        }
        if trimmed.starts_with("- ") || trimmed == "-" {
            if seen == k {
                return Some(i);
            }
            seen += 1;
        }
    }
    None
}

/// What is wrong with a glob, if anything: an `[` that no `]` closes (the
/// Python tool read it as a literal `[`, silently matching nothing useful).
pub fn glob_problem(pattern: &str) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '[' {
            // As fnmatch reads a class: `!` first, then a `]` right after is literal.
            let mut j = i + 1;
            if chars.get(j) == Some(&'!') {
                j += 1;
            }
            if chars.get(j) == Some(&']') {
                j += 1;
            }
            match chars[j.min(chars.len())..].iter().position(|&c| c == ']') {
                Some(close) => i = j + close + 1,
                None => {
                    let fixed: String = chars[..i]
                        .iter()
                        .chain(&['[', '[', ']'])
                        .chain(&chars[i + 1..])
                        .collect();
                    return Some(format!(
                        "the '[' at character {} is never closed by a ']'; allowed: a class \
                         closed by ']', or [[] for a literal '[' (did you mean {fixed:?}?)",
                        i + 1
                    ));
                }
            }
        } else {
            i += 1;
        }
    }
    None
}

pub use crate::suggest::closest;

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# settings\nlauncher:\n  max_departmens: 3\n  models: [a, b]\nrisk_rules:\n  - {name: x, level: extreme, pattern: y}\n  - name: z\n    levle: high\ndepartments:\n  docs:\n    globs:\n      - README.md\n      - 'src/[**'\n";

    #[test]
    fn keys_are_found_by_their_path() {
        assert_eq!(line_of(FILE, "launcher.max_departmens"), Some(3));
        assert_eq!(line_of(FILE, "launcher.models"), Some(4));
        assert_eq!(line_of(FILE, "risk_rules[0].level"), Some(6));
        assert_eq!(line_of(FILE, "risk_rules[1].levle"), Some(8));
        assert_eq!(line_of(FILE, "departments.docs.globs[1]"), Some(13));
        assert_eq!(line_of(FILE, "nowhere"), None);
    }

    #[test]
    fn an_unclosed_bracket_is_named() {
        assert_eq!(glob_problem("src/**"), None);
        assert_eq!(glob_problem("src/[ab]*.rs"), None);
        assert_eq!(glob_problem("[]]x"), None);
        assert_eq!(glob_problem("[!]]x"), None);
        let why = glob_problem("src/[**").unwrap();
        assert!(why.contains("character 5"), "{why}");
        assert!(why.contains("(did you mean \"src/[[]**\"?)"), "{why}");
    }

    #[test]
    fn typos_are_close_and_other_words_are_not() {
        let known = ["max_departments", "models", "merge"];
        assert_eq!(closest("max_departmens", &known), Some("max_departments"));
        assert_eq!(closest("modles", &known), Some("models"));
        assert_eq!(closest("zzz", &known), None);
        assert_eq!(closest("backend", &known), None);
    }
}
