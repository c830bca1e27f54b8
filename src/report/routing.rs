//! Routing: which departments a changed path belongs to, and which risk rules fire.
//!
//! `governance.yaml` files were written for the Python tool, whose globs are
//! `fnmatch` patterns: `*` and `?` also match `/`, `[...]` is a character class
//! (`[!...]` negated, `[^...]` a literal `^`), an unclosed `[` is literal, and there are
//! no `{a,b}` alternations or backslash escapes. On top of that, a pattern matches
//! every path starting with the pattern stripped of trailing `*`. Glob libraries
//! (globset included) disagree with `fnmatch` on most of those points, so the
//! patterns are compiled here into a tiny matcher with exactly those semantics. A
//! [`Router`] compiles a configuration once and is then reused for every path.

use crate::config::{Config, RiskRule};

/// One compiled `fnmatch` pattern plus the Python tool's prefix rule.
#[derive(Debug, Clone)]
pub struct Glob {
    tokens: Vec<Token>,
    /// Literal text every fnmatch match starts with (quick rejection).
    head: String,
    /// Literal text every fnmatch match ends with (quick rejection).
    tail: String,
    /// The pattern stripped of trailing `*`; paths starting with it match too.
    prefix: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(char),
    /// `?`, or a negated class with nothing in it.
    AnyChar,
    /// `*` (runs collapsed: `**` means the same as `*`).
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// A class whose every range was empty: matches nothing.
    Never,
}

impl Token {
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            Token::AnyChar => true,
            Token::Star => false,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
            Token::Never => false,
        }
    }
}

impl Glob {
    /// Compiles a pattern; every string is a valid pattern, so this cannot fail.
    pub fn new(pattern: &str) -> Glob {
        let tokens = compile(pattern);
        let literal = |t: &Token| match t {
            Token::Literal(c) => Some(*c),
            _ => None,
        };
        let head = tokens.iter().map_while(literal).collect();
        let mut tail: Vec<char> = tokens.iter().rev().map_while(literal).collect();
        tail.reverse();
        let stripped = pattern.trim_end_matches('*');
        Glob {
            tail: if tail.len() == tokens.len() {
                String::new() // all literal: `head` already says everything
            } else {
                tail.into_iter().collect()
            },
            head,
            tokens,
            prefix: (!stripped.is_empty()).then(|| stripped.to_string()),
        }
    }

    /// Text every matching path starts with (used to prune directory walks): the
    /// pattern's leading literals, which the prefix rule's text also starts with.
    pub fn literal_start(&self) -> &str {
        &self.head
    }

    /// Whether `path` matches (fnmatch or the prefix rule).
    pub fn is_match(&self, path: &str) -> bool {
        if self.prefix.as_deref().is_some_and(|p| path.starts_with(p)) {
            return true;
        }
        if !path.starts_with(&self.head) || !path.ends_with(&self.tail) {
            return false;
        }
        let chars: Vec<char> = path.chars().collect();
        self.matches_chars(&chars)
    }

    /// fnmatch only, on a path already split into characters.
    fn matches_chars(&self, text: &[char]) -> bool {
        let tokens = &self.tokens;
        let (mut t, mut p) = (0, 0);
        // Where the last `*` was and how much text it has swallowed so far.
        let mut star: Option<(usize, usize)> = None;
        while p < text.len() {
            match tokens.get(t) {
                Some(Token::Star) => {
                    star = Some((t, p));
                    t += 1;
                    continue;
                }
                Some(tok) if tok.matches(text[p]) => {
                    t += 1;
                    p += 1;
                    continue;
                }
                _ => {}
            }
            match star {
                Some((st, sp)) => {
                    t = st + 1;
                    p = sp + 1;
                    star = Some((st, sp + 1));
                }
                None => return false,
            }
        }
        tokens[t..].iter().all(|tok| *tok == Token::Star)
    }

    fn is_match_prepared(&self, path: &str, chars: &[char]) -> bool {
        if self.prefix.as_deref().is_some_and(|p| path.starts_with(p)) {
            return true;
        }
        path.starts_with(&self.head) && path.ends_with(&self.tail) && self.matches_chars(chars)
    }
}

/// Translates a pattern the way Python's `fnmatch.translate` does.
fn compile(pattern: &str) -> Vec<Token> {
    let pat: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < pat.len() {
        let c = pat[i];
        i += 1;
        match c {
            '*' => {
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
            }
            '?' => tokens.push(Token::AnyChar),
            '[' => match compile_class(&pat, i) {
                Some((token, next)) => {
                    tokens.push(token);
                    i = next;
                }
                None => tokens.push(Token::Literal('[')),
            },
            c => tokens.push(Token::Literal(c)),
        }
    }
    tokens
}

/// Compiles the class starting after the `[` at `start`; `None` if it is unclosed.
///
/// A port of `fnmatch.translate` (Python 3.11): ranges are split at `-` into chunks,
/// empty ranges are dropped, and the result is read like a regex class.
fn compile_class(pat: &[char], start: usize) -> Option<(Token, usize)> {
    let n = pat.len();
    let mut j = start;
    if j < n && pat[j] == '!' {
        j += 1;
    }
    if j < n && pat[j] == ']' {
        j += 1;
    }
    while j < n && pat[j] != ']' {
        j += 1;
    }
    if j >= n {
        return None;
    }
    // Each chunk's characters are literal; between two chunks is a range dash.
    let mut chunks: Vec<Vec<char>> = Vec::new();
    let mut i = start;
    if pat[start..j].contains(&'-') {
        let mut k = if pat[i] == '!' { i + 2 } else { i + 1 };
        while let Some(dash) = (k..j).find(|&p| pat[p] == '-') {
            chunks.push(pat[i..dash].to_vec());
            i = dash + 1;
            k = dash + 3;
        }
        if i < j {
            chunks.push(pat[i..j].to_vec());
        } else if let Some(last) = chunks.last_mut() {
            last.push('-');
        }
        for k in (1..chunks.len()).rev() {
            let (prev_last, first) = (chunks[k - 1].last().copied(), chunks[k].first().copied());
            if let (Some(a), Some(b)) = (prev_last, first) {
                if a > b {
                    let next = chunks.remove(k);
                    let prev = &mut chunks[k - 1];
                    prev.pop();
                    prev.extend_from_slice(&next[1..]);
                }
            }
        }
    } else {
        chunks.push(pat[start..j].to_vec());
    }
    // Flatten to (char, is_range_dash) like the regex text Python builds.
    let mut items: Vec<(char, bool)> = Vec::new();
    for (idx, chunk) in chunks.iter().enumerate() {
        if idx > 0 {
            items.push(('-', true));
        }
        items.extend(chunk.iter().map(|&c| (c, false)));
    }
    let next = j + 1;
    if items.is_empty() {
        return Some((Token::Never, next));
    }
    let negated = items[0] == ('!', false);
    let body = if negated { &items[1..] } else { &items[..] };
    if body.is_empty() {
        return Some((Token::AnyChar, next));
    }
    let mut ranges = Vec::new();
    let mut idx = 0;
    while idx < body.len() {
        let lo = body[idx].0;
        if idx + 2 < body.len() && body[idx + 1].1 {
            ranges.push((lo, body[idx + 2].0));
            idx += 3;
        } else {
            ranges.push((lo, lo));
            idx += 1;
        }
    }
    Some((Token::Class { negated, ranges }, next))
}

/// A risk rule ready to test paths against.
#[derive(Debug, Clone)]
struct CompiledRule {
    pattern: String,
    pattern_lower: String,
    allow: Option<String>,
}

impl CompiledRule {
    fn fires(&self, path: &str, path_lower: &str) -> bool {
        if self.pattern.is_empty() {
            return false; // an empty pattern would flag every path; treat it as unset
        }
        let hit = path_lower.contains(&self.pattern_lower) || path.starts_with(&self.pattern);
        hit && !self.allow.as_deref().is_some_and(|a| path.starts_with(a))
    }
}

/// A configuration's department globs and risk rules, compiled once.
#[derive(Debug, Clone)]
pub struct Router {
    departments: Vec<(String, Vec<Glob>)>,
    rules: Vec<(RiskRule, CompiledRule)>,
}

impl Router {
    pub fn new(config: &Config) -> Router {
        let departments = config
            .departments
            .iter()
            .map(|d| {
                (
                    d.key.clone(),
                    d.globs.iter().map(|g| Glob::new(g)).collect(),
                )
            })
            .collect();
        let rules = config
            .risk_rules
            .iter()
            .map(|r| {
                let compiled = CompiledRule {
                    pattern: r.pattern.clone(),
                    pattern_lower: r.pattern.to_lowercase(),
                    allow: r.allow_pattern.clone().filter(|a| !a.is_empty()),
                };
                (r.clone(), compiled)
            })
            .collect();
        Router { departments, rules }
    }

    /// Indexes (into `config.departments`) of every department `path` belongs to.
    pub fn route(&self, path: &str) -> Vec<usize> {
        let chars: Vec<char> = path.chars().collect();
        self.departments
            .iter()
            .enumerate()
            .filter(|(_, (_, globs))| globs.iter().any(|g| g.is_match_prepared(path, &chars)))
            .map(|(i, _)| i)
            .collect()
    }

    /// Keys of every department `path` belongs to, in configuration order.
    pub fn route_keys(&self, path: &str) -> Vec<String> {
        self.route(path)
            .into_iter()
            .map(|i| self.departments[i].0.clone())
            .collect()
    }

    /// The risk rules that fire for `path`, in configuration order.
    pub fn risks<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a RiskRule> + 'a {
        let lower = path.to_lowercase();
        self.rules
            .iter()
            .filter(move |(_, c)| c.fires(path, &lower))
            .map(|(r, _)| r)
    }
}

/// Department keys `path` routes to under `config` (compiles the globs each call;
/// use a [`Router`] for many paths).
pub fn route_path(config: &Config, path: &str) -> Vec<String> {
    Router::new(config).route_keys(path)
}

/// Whether `path` matches `pattern` under the report's glob semantics.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    Glob::new(pattern).is_match(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_crosses_slashes() {
        assert!(glob_match("*.py", "a/b/c.py"));
        assert!(glob_match("src/*.rs", "src/a/b.rs"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("*.py", "a/b/c.pyc"));
    }

    #[test]
    fn double_star_is_a_star() {
        assert!(glob_match("docs/**", "docs/a/b.md"));
        assert!(glob_match("docs/**", "docs/"));
        assert!(
            glob_match("docs/**/*.md", "docs/a.md") || glob_match("docs/**/*.md", "docs/x/a.md")
        );
        assert!(glob_match("docs/**/*.md", "docs/x/y/a.md"));
        // `**/x` needs a slash in fnmatch (unlike gitignore).
        assert!(!glob_match("**/x.md", "x.md"));
        assert!(glob_match("**/x.md", "a/x.md"));
    }

    #[test]
    fn prefix_rule() {
        assert!(glob_match("src*", "src/x"));
        assert!(glob_match("src", "src/x"));
        assert!(
            glob_match("Makefile", "Makefile.old"),
            "literal prefix, as the Python tool"
        );
        assert!(!glob_match("src", "lib/src"));
        // `*` alone strips to nothing: only fnmatch applies (and `*` matches anything).
        assert!(glob_match("*", "anything/at/all"));
        assert!(!glob_match("*.md", "*.m"));
    }

    #[test]
    fn question_mark_and_classes() {
        assert!(glob_match("a?c", "a/c"));
        assert!(glob_match("[abc].txt", "b.txt"));
        assert!(!glob_match("[abc].txt", "d.txt"));
        assert!(glob_match("[!abc].txt", "d.txt"));
        assert!(!glob_match("[!abc].txt", "a.txt"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(glob_match("[]]", "]"));
        assert!(glob_match("[!]]", "a"));
        assert!(glob_match("[a-]", "-"));
        // `[^...]` is not a negation in fnmatch.
        assert!(glob_match("[^a]", "^"));
        assert!(glob_match("[^a]", "a"));
        assert!(!glob_match("[^a]", "b"));
        // Empty ranges match nothing; a negated empty class matches any character.
        assert!(!glob_match("x[z-a]", "xb"));
        assert!(glob_match("x[!z-a]", "xb"));
    }

    #[test]
    fn odd_patterns_are_literal() {
        assert!(glob_match("a[b", "a[b"), "an unclosed class is a literal [");
        assert!(glob_match("{a,b}.md", "{a,b}.md"));
        assert!(!glob_match("{a,b}.md", "a.md"));
        assert!(glob_match(r"a\*", r"a\xyz"));
        assert!(!glob_match("", "x"));
        assert!(glob_match("", ""));
    }

    #[test]
    fn non_ascii() {
        assert!(glob_match("docs/?.md", "docs/设.md"));
        assert!(glob_match("docs/*文档.md", "docs/设计 文档.md"));
    }

    /// Expected values computed with Python 3.11's `fnmatch.fnmatchcase` plus the prefix rule.
    #[test]
    fn agrees_with_python_on_edge_cases() {
        let cases = [
            ("[!]a]x", "bx", true),
            ("[!]a]x", "]x", false),
            ("[]-a]", "^", true),
            ("[]-a]", "b", false),
            ("[a-c-e]", "-", true),
            ("[a-c-e]", "d", false),
            ("[c-a-e]", "b", false),
            ("[c-a-e]", "d", false),
            ("[!-]", "-", false),
            ("[!-]", "a", true),
            ("[--/]", ".", true),
            ("[z-a-]", "-", true),
            ("[!z-a]x", "zx", true),
            ("a[", "a[", true),
            ("a[]", "a[]", true),
            ("a[!]", "a[!]", true),
            ("*[]]*", "x]y", true),
            ("[[]x", "[x", true),
            ("?", "/", true),
            ("**/*.md", "a/b.md", true),
            ("docs/*/x", "docs/x", false),
            ("a*b*c", "a/b/c", true),
            ("a*b*c", "abx", false),
            ("[a-]x", "-x", true),
            ("[\\]x", "\\x", true),
            ("[&&]", "&", true),
            ("[|]", "|", true),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(glob_match(pattern, path), expected, "{pattern:?} {path:?}");
        }
    }

    /// A direct, slow recursive fnmatch used to cross-check the fast matcher.
    fn reference(tokens: &[Token], text: &[char]) -> bool {
        match tokens.first() {
            None => text.is_empty(),
            Some(Token::Star) => (0..=text.len()).any(|k| reference(&tokens[1..], &text[k..])),
            Some(t) => {
                !text.is_empty() && t.matches(text[0]) && reference(&tokens[1..], &text[1..])
            }
        }
    }

    #[test]
    fn fast_matcher_agrees_with_reference() {
        let alphabet = ['a', 'b', '/', '.', '*', '?', '[', ']', '!', '-'];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..20_000 {
            let plen = next(7);
            let pattern: String = (0..plen).map(|_| alphabet[next(alphabet.len())]).collect();
            let tlen = next(7);
            let text: String = (0..tlen).map(|_| alphabet[next(4)]).collect();
            let glob = Glob::new(&pattern);
            let chars: Vec<char> = text.chars().collect();
            assert_eq!(
                glob.matches_chars(&chars),
                reference(&glob.tokens, &chars),
                "pattern {pattern:?} text {text:?}"
            );
        }
    }
}
