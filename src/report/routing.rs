//! Routing: which departments a changed path belongs to, and which risk rules fire.
//!
//! `governance.yaml` files were written for the Python tool, whose globs are
//! `fnmatch` patterns: `*` and `?` also match `/`, `[...]` is a character class
//! (`[!...]` negated, `[^...]` a literal `^`, `[z-a]` empty), an unclosed `[` is
//! literal, and there are no `{a,b}` alternations or backslash escapes. On top of
//! that, a pattern matches every path starting with the pattern stripped of trailing
//! `*`.
//!
//! Matching is done by globset (`literal_separator(false)`, so its `*` crosses `/`
//! too). A pattern is parsed the way `fnmatch.translate` reads it and spelled again in
//! globset syntax where the two disagree:
//!
//! * runs of `*` become one `*` (globset's `**/` would also match no folder at all);
//! * globset syntax characters meant literally (`{ } , [ * ? \`) go in a one-character
//!   class such as `[{]`;
//! * a `?` or class becomes an alternation of the characters it accepts, `{a,b,c}`,
//!   so `fnmatch`'s class rules (`[^`, `]` first, odd ranges) never meet globset's,
//!   and a class accepting nothing means the pattern can never match.
//!
//! globset matches bytes: its `?` and classes take one byte, not one character. The
//! alternations above list ASCII characters, which is exact for ASCII paths. For a
//! path with other characters, a pattern with `?` or a class is translated again with
//! the alternations drawn from that path's own characters: a match can only consume
//! characters of the path, and each alternative is a whole character, so this is
//! exact. (Paths like that are rare; the translation is not cached.)
//!
//! A [`Router`] compiles a configuration once and is then reused for every path.

use std::sync::OnceLock;

use globset::{Candidate, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};

use crate::config::{Config, RiskRule};

/// One `fnmatch` pattern plus the Python tool's prefix rule, compiled.
#[derive(Debug, Clone)]
pub struct Glob {
    tokens: Vec<Token>,
    /// The pattern's leading literal text.
    head: String,
    /// The pattern stripped of trailing `*`; paths starting with it match too.
    prefix: Option<String>,
    /// The ASCII translation; `None` if it can never match or globset refused it.
    translated: Option<globset::Glob>,
    /// Compiled on first use: a [`Router`] matches most globs through a `GlobSet`.
    matcher: OnceLock<Option<GlobMatcher>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(char),
    /// `*` (runs collapsed: `**` means the same as `*`).
    Star,
    /// `?` or a `[...]` class: one character from the set.
    One(CharSet),
}

/// A set of characters: `ranges` (inclusive), or every character outside them.
#[derive(Debug, Clone, PartialEq)]
struct CharSet {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl CharSet {
    const ANY: CharSet = CharSet {
        negated: true,
        ranges: Vec::new(),
    };
    const NONE: CharSet = CharSet {
        negated: false,
        ranges: Vec::new(),
    };

    fn contains(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

impl Glob {
    /// Compiles a pattern; every string is a valid pattern, so this cannot fail.
    pub fn new(pattern: &str) -> Glob {
        let tokens = parse(pattern);
        let head = tokens
            .iter()
            .map_while(|t| match t {
                Token::Literal(c) => Some(*c),
                _ => None,
            })
            .collect();
        let stripped = pattern.trim_end_matches('*');
        let ascii: Vec<char> = (0..=127u8).map(char::from).collect();
        Glob {
            translated: translate(&tokens, &ascii),
            matcher: OnceLock::new(),
            tokens,
            head,
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
        self.prefix_match(path) || self.fnmatch(path)
    }

    fn prefix_match(&self, path: &str) -> bool {
        self.prefix.as_deref().is_some_and(|p| path.starts_with(p))
    }

    /// Whether the pattern has a `?` or class (which globset would match bytewise).
    fn has_sets(&self) -> bool {
        self.tokens.iter().any(|t| matches!(t, Token::One(_)))
    }

    /// fnmatch only.
    fn fnmatch(&self, path: &str) -> bool {
        if path.is_ascii() || !self.has_sets() {
            let matcher = self.matcher.get_or_init(|| {
                let translated = self.translated.as_ref();
                translated.map(globset::Glob::compile_matcher)
            });
            return matcher.as_ref().is_some_and(|m| m.is_match(path));
        }
        let mut alphabet: Vec<char> = path.chars().collect();
        alphabet.sort_unstable();
        alphabet.dedup();
        translate(&self.tokens, &alphabet).is_some_and(|g| g.compile_matcher().is_match(path))
    }
}

/// The globset form of `tokens`, each `?` or class spelled as the `alphabet`
/// characters it accepts. `None` if a class accepts none of them (nothing can match)
/// or globset rejects the result.
fn translate(tokens: &[Token], alphabet: &[char]) -> Option<globset::Glob> {
    let mut text = String::new();
    for token in tokens {
        match token {
            Token::Literal(c) => push_literal(&mut text, *c),
            Token::Star => text.push('*'),
            // globset's `?` is one byte: one character when every character is ASCII.
            Token::One(set) if *set == CharSet::ANY && alphabet.iter().all(char::is_ascii) => {
                text.push('?')
            }
            Token::One(set) => {
                let mut accepted = alphabet.iter().filter(|&&c| set.contains(c));
                text.push('{');
                push_literal(&mut text, *accepted.next()?);
                for &c in accepted {
                    text.push(',');
                    push_literal(&mut text, c);
                }
                text.push('}');
            }
        }
    }
    GlobBuilder::new(&text)
        .literal_separator(false)
        .backslash_escape(false)
        .build()
        .ok()
}

/// Appends `c` as a globset literal: characters that globset reads as syntax go in a
/// one-character class (`\` too, a separator to globset on Windows).
fn push_literal(text: &mut String, c: char) {
    if matches!(c, '*' | '?' | '[' | '{' | '}' | ',' | '\\') {
        text.extend(['[', c, ']']);
    } else {
        text.push(c);
    }
}

/// Reads a pattern the way Python's `fnmatch.translate` does.
fn parse(pattern: &str) -> Vec<Token> {
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
            '?' => tokens.push(Token::One(CharSet::ANY)),
            '[' => match parse_class(&pat, i) {
                Some((set, next)) => {
                    tokens.push(Token::One(set));
                    i = next;
                }
                None => tokens.push(Token::Literal('[')),
            },
            c => tokens.push(Token::Literal(c)),
        }
    }
    tokens
}

/// Reads the class starting after the `[` at `start`, returning it and the index
/// after its `]`; `None` if it is unclosed.
///
/// A port of `fnmatch.translate` (Python 3.11): ranges are split at `-` into chunks,
/// empty ranges are dropped, and the result is read like a regex class.
fn parse_class(pat: &[char], start: usize) -> Option<(CharSet, usize)> {
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
        return Some((CharSet::NONE, next)); // every range was empty
    }
    let negated = items[0] == ('!', false);
    let body = if negated { &items[1..] } else { &items[..] };
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
    Some((CharSet { negated, ranges }, next))
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

/// One department's globs, compiled for matching many paths.
#[derive(Debug, Clone)]
struct Department {
    key: String,
    /// Every glob's prefix-rule text.
    prefixes: Vec<String>,
    /// The globs without `?` or classes, whose translation is exact for every path.
    set: GlobSet,
    /// The other globs, matched one at a time (see the module documentation).
    singles: Vec<Glob>,
}

impl Department {
    fn new(key: &str, patterns: &[String]) -> Department {
        let globs: Vec<Glob> = patterns.iter().map(|p| Glob::new(p)).collect();
        let prefixes = globs.iter().filter_map(|g| g.prefix.clone()).collect();
        let (mut singles, plain): (Vec<Glob>, Vec<Glob>) =
            globs.into_iter().partition(Glob::has_sets);
        let mut builder = GlobSetBuilder::new();
        for glob in plain.iter().filter_map(|g| g.translated.clone()) {
            builder.add(glob);
        }
        let set = builder.build().unwrap_or_else(|_| {
            singles.extend(plain); // unlikely (size limits): fall back to one at a time
            GlobSet::empty()
        });
        Department {
            key: key.to_string(),
            prefixes,
            set,
            singles,
        }
    }

    fn is_match(&self, path: &str, candidate: &Candidate) -> bool {
        self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
            || self.set.is_match_candidate(candidate)
            || self.singles.iter().any(|g| g.fnmatch(path))
    }
}

/// A configuration's department globs and risk rules, compiled once.
#[derive(Debug, Clone)]
pub struct Router {
    departments: Vec<Department>,
    rules: Vec<(RiskRule, CompiledRule)>,
}

impl Router {
    pub fn new(config: &Config) -> Router {
        let departments = config
            .departments
            .iter()
            .map(|d| Department::new(&d.key, &d.globs))
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
        let candidate = Candidate::new(path);
        self.departments
            .iter()
            .enumerate()
            .filter(|(_, d)| d.is_match(path, &candidate))
            .map(|(i, _)| i)
            .collect()
    }

    /// Keys of every department `path` belongs to, in configuration order.
    pub fn route_keys(&self, path: &str) -> Vec<String> {
        self.route(path)
            .into_iter()
            .map(|i| self.departments[i].key.clone())
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

    /// globset's `?` and classes take one byte; ours take one character.
    #[test]
    fn sets_take_whole_characters() {
        let cases = [
            ("docs/???.md", "docs/设.md", false),
            ("docs/??.md", "docs/设计.md", true),
            ("[!a]", "设", true),
            ("[!设]", "设", false),
            ("[!设]", "计", true),
            ("[设]", "设", true),
            ("[设]", "\u{e8}", false),
            ("[一-龥].md", "设.md", true),
            ("[一-龥].md", "a.md", false),
            ("[a-é]", "à", true),
            ("*[!a]", "x/设", true),
            ("*?b", "设b", true),
            ("*?b", "b", false),
            ("é?", "éé", true),
            ("?é", "éé", true),
            ("?", "éé", false),
            ("[!é]*", "ab", true),
            ("a[z-a]", "a设", false),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(glob_match(pattern, path), expected, "{pattern:?} {path:?}");
        }
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

    /// Where fnmatch and globset syntax differ, and the prefix rule.
    #[test]
    fn fnmatch_table() {
        let cases = [
            // `{`, `}` and `,` are literal: no alternation.
            ("{a,b}", "{a,b}", true),
            ("{a,b}", "a", false),
            ("x{,y}*", "x{,y}z", true),
            ("*}", "a}", true),
            ("[{]", "{", true),
            ("[,]x", ",x", true),
            // `\` is literal, never an escape.
            (r"a\?", r"a\b", true),
            (r"a\?", "a?", false),
            (r"\*", r"\x", true),
            ("[\\*]", "*", true),
            // `[^...]` holds a literal `^`; `[!...]` negates.
            ("[^]", "^", true),
            ("[^]", "a", false),
            ("[^^]", "^", true),
            ("[!^]", "^", false),
            ("[!^]", "a", true),
            ("[!!]", "!", false),
            ("[!]", "[!]", true),
            ("[!a-c]", "b", false),
            ("[!a-c]", "d", true),
            ("[-!]", "!", true),
            // Unclosed `[` is literal.
            ("[", "[", true),
            ("a[b*", "a[bcd", true),
            ("*[", "x[", true),
            ("[!", "[!", true),
            // Empty ranges match nothing.
            ("[z-a]", "z", false),
            ("[z-a]*", "anything", false),
            ("[z-ab]", "b", true), // `z-a` empty, then `b`
            // Runs of `*` are one `*`, crossing `/`.
            ("*.py", "a/b/c.py", true),
            ("docs/**", "docs/x/y", true),
            ("a/**", "a/", true),
            ("a/**/b", "a/b", false),
            ("a/**/b", "a//b", true),
            ("**/b", "b", false),
            ("**b", "b", true),
            ("a***b", "a/x/b", true),
            ("?", "", false),
            ("??", "a/", true),
            // The prefix rule: the pattern stripped of trailing `*`.
            ("docs", "docs/x.md", true),
            ("docs", "docsx", true),
            ("docs/*", "docs/", true),
            ("docs/*", "doc", false),
            ("d?cs", "d?csx", true),
            ("d?cs", "dxcsx", false),
            ("a[b", "a[bc", true),
            ("**", "", true),
            ("*", "", true),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(glob_match(pattern, path), expected, "{pattern:?} {path:?}");
        }
    }

    #[test]
    fn literal_start_is_the_leading_literal_text() {
        for (pattern, start) in [
            ("docs/**/*.md", "docs/"),
            ("AGENTS.md", "AGENTS.md"),
            ("*.md", ""),
            ("a?b", "a"),
            ("a[bc]", "a"),
            ("a[bc", "a[bc"),
            ("{x}/y*", "{x}/y"),
            (r"a\b*", r"a\b"),
        ] {
            assert_eq!(Glob::new(pattern).literal_start(), start, "{pattern:?}");
        }
    }

    #[test]
    fn departments_agree_with_single_globs() {
        let patterns: Vec<String> = ["docs/**", "*.py", "?.txt", "[!a]x", "Makefile", "[z-a]"]
            .map(String::from)
            .to_vec();
        let dept = Department::new("d", &patterns);
        assert_eq!(
            dept.singles.len(),
            3,
            "`?` and classes are matched one at a time"
        );
        for path in [
            "docs/a",
            "a/b.py",
            "b.txt",
            "设.txt",
            "设设.txt",
            "bx",
            "ax",
            "设x",
            "Makefile.old",
            "README",
            "z",
            "",
        ] {
            let expected = patterns.iter().any(|p| glob_match(p, path));
            assert_eq!(
                dept.is_match(path, &Candidate::new(path)),
                expected,
                "{path:?}"
            );
        }
    }

    /// A direct, slow recursive fnmatch: the oracle for the globset translation.
    fn reference(tokens: &[Token], text: &[char]) -> bool {
        match tokens.first() {
            None => text.is_empty(),
            Some(Token::Star) => (0..=text.len()).any(|k| reference(&tokens[1..], &text[k..])),
            Some(Token::Literal(c)) => {
                text.first() == Some(c) && reference(&tokens[1..], &text[1..])
            }
            Some(Token::One(set)) => {
                !text.is_empty() && set.contains(text[0]) && reference(&tokens[1..], &text[1..])
            }
        }
    }

    #[test]
    fn globset_translation_agrees_with_reference() {
        let alphabet = [
            'a', 'b', '/', '设', '*', '?', '[', ']', '!', '-', '^', '{', '}', ',', '\\', 'é',
        ];
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
            // Mostly path-like characters, sometimes syntax characters.
            let text: String = (0..tlen)
                .map(|_| {
                    alphabet[if next(4) == 0 {
                        next(alphabet.len())
                    } else {
                        next(4)
                    }]
                })
                .collect();
            let chars: Vec<char> = text.chars().collect();
            let stripped = pattern.trim_end_matches('*');
            let expected = reference(&parse(&pattern), &chars)
                || (!stripped.is_empty() && text.starts_with(stripped));
            assert_eq!(
                glob_match(&pattern, &text),
                expected,
                "pattern {pattern:?} text {text:?}"
            );
        }
    }
}
