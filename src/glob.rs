//! The glob engine of the report and the routing: `governance.yaml` files were
//! written for the Python tool, whose globs are
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
//! A [`PatternSet`] compiles a list of patterns once and is then reused for every
//! path (a department's globs or scope).

use std::sync::OnceLock;

use globset::{Candidate, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};

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
    /// Compiled on first use: a [`PatternSet`] matches most globs through a `GlobSet`.
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
        let pattern = &*separators(pattern);
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
        let path = &*separators(path);
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

/// Windows: a backslash is a path separator, in patterns and paths alike, as
/// for the Python tool there (its `fnmatch` compares both after `normcase`) and
/// for globset (which reads a path's `\` as `/` there).
fn separators(text: &str) -> std::borrow::Cow<'_, str> {
    if crate::platform::BACKSLASH_SEPARATES && text.contains('\\') {
        text.replace('\\', "/").into()
    } else {
        text.into()
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

/// Patterns with the report's glob semantics, compiled for matching many paths.
#[derive(Debug, Clone)]
pub struct PatternSet {
    /// Every glob's prefix-rule text.
    prefixes: Vec<String>,
    /// The globs without `?` or classes, whose translation is exact for every path.
    set: GlobSet,
    /// The other globs, matched one at a time (see the module documentation).
    singles: Vec<Glob>,
}

impl PatternSet {
    pub fn new(patterns: &[String]) -> PatternSet {
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
        PatternSet {
            prefixes,
            set,
            singles,
        }
    }

    /// Whether `path` matches any of the patterns.
    pub fn is_match(&self, path: &str) -> bool {
        self.matches(path, &Candidate::new(path))
    }

    /// As [`Self::is_match`], with the path's candidate made once for many sets.
    pub fn matches(&self, path: &str, candidate: &Candidate) -> bool {
        self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
            || self.set.is_match_candidate(candidate)
            || self.singles.iter().any(|g| g.fnmatch(path))
    }
}

/// Whether `path` matches `pattern` under the report's glob semantics.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    Glob::new(pattern).is_match(path)
}

#[cfg(test)]
#[path = "glob_tests.rs"]
mod tests;
