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
    assert!(glob_match("docs/**/*.md", "docs/a.md") || glob_match("docs/**/*.md", "docs/x/a.md"));
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
        // Windows reads a backslash as `/`.
        let start = separators(start);
        assert_eq!(Glob::new(pattern).literal_start(), start, "{pattern:?}");
    }
}

#[test]
fn pattern_sets_agree_with_single_globs() {
    let patterns: Vec<String> = ["docs/**", "*.py", "?.txt", "[!a]x", "Makefile", "[z-a]"]
        .map(String::from)
        .to_vec();
    let dept = PatternSet::new(&patterns);
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
            dept.matches(path, &Candidate::new(path)),
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
        Some(Token::Literal(c)) => text.first() == Some(c) && reference(&tokens[1..], &text[1..]),
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
        // The oracle reads a backslash as Windows does there (`/`).
        let (pattern, text) = (separators(&pattern), separators(&text));
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
