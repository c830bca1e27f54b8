//! A department's words in a commit or pull request made in the user's name
//! (issue 48, item 6). Git and the forge act on some words of a commit
//! message: a trailer (`Signed-off-by:`, `Co-authored-by:`, any `Token:
//! value` line in the last paragraph, or before a `---` line that Git takes
//! for the start of a patch), a closing keyword with an issue reference
//! (`Closes #1`), a mention (`@team`), and subjects tools read
//! (`Merge pull request #12 from …`, `fixup!`). The rules here make such
//! words inert while keeping them readable:
//!
//! - the body's lines are indented by four spaces, so none of them starts a
//!   trailer, a `---` divider or a comment line, and the last paragraph (the
//!   trailer block) is always the launcher's own;
//! - a subject that could pass for a trailer or for such a tool's subject is
//!   prefixed with the department's name;
//! - `#` or `GH-` before a digit and `@` before a name get a zero-width
//!   joiner (U+200D) after them, and so does the first letter of a closing
//!   keyword before a URL: GitHub links and closes only when the reference
//!   follows directly (`#12`, `@team`, `Fixes https://…`), so a joined
//!   `#\u{200d}12` is text to it, and to Git, which reads no references.

/// The joiner placed inside a reference or mention.
const JOINER: char = '\u{200d}';

/// Closing keywords GitHub acts on (lower case).
const CLOSING_KEYWORDS: [&str; 9] = [
    "close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved",
];

/// Subjects Git or the forge reads as their own (lower case prefixes).
const TOOL_SUBJECTS: [&str; 6] = [
    "merge ", "revert ", "fixup!", "squash!", "amend!", "reapply ",
];

/// `text` with every issue reference, mention and keyword-before-URL made
/// inert for the forge.
pub fn inert(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_word = i > 0 && is_name_char(chars[i - 1]);
        out.push(c);
        let reference = c == '#' && next.is_some_and(|n| n.is_ascii_digit());
        // `user@example.com` is an address, not a mention.
        let mention = c == '@' && !prev_word && next.is_some_and(is_name_char);
        let gh_reference = matches!(c, 'G' | 'g')
            && !prev_word
            && matches!(next, Some('H' | 'h'))
            && chars.get(i + 2) == Some(&'-')
            && chars.get(i + 3).is_some_and(|d| d.is_ascii_digit());
        let keyword = !prev_word && closing_keyword_before_url(&chars[i..]);
        if reference || mention || gh_reference || keyword {
            out.push(JOINER);
        }
        i += 1;
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Whether `rest` starts with a closing keyword, an optional `:`, spaces and
/// a URL.
fn closing_keyword_before_url(rest: &[char]) -> bool {
    let word: String = rest
        .iter()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_lowercase();
    if !CLOSING_KEYWORDS.contains(&word.as_str()) {
        return false;
    }
    let after: String = rest[word.len()..].iter().take(16).collect();
    let Some(url) = after
        .strip_prefix(':')
        .or_else(|| after.starts_with(char::is_whitespace).then_some(&after[..]))
    else {
        return false;
    };
    let url = url.trim_start().to_ascii_lowercase();
    url.starts_with("http://") || url.starts_with("https://")
}

/// Whether `line` could be read as a trailer (`Token: value`, `Token #x`):
/// a word of letters, digits and `-`, then a separator.
pub fn is_trailer_shaped(line: &str) -> bool {
    let token: String = line
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let rest = line[token.len()..].trim_start();
    !token.is_empty() && rest.starts_with([':', '#', '='])
}

/// The subject of a commit made from the department's first line `first`:
/// inert, and prefixed with `department` when it could pass for a trailer
/// or for a subject Git or the forge reads as its own.
pub fn subject(first: &str, department: &str) -> String {
    let lower = first.to_ascii_lowercase();
    let misleading = is_trailer_shaped(first) || TOOL_SUBJECTS.iter().any(|p| lower.starts_with(p));
    let first = inert(first);
    if misleading && !department.is_empty() {
        format!("{department}: {first}")
    } else {
        first
    }
}

/// The longest a commit subject is kept whole, in characters.
pub const SUBJECT_CHARS: usize = 72;

/// A first line as a subject of at most [`SUBJECT_CHARS`] characters: whole
/// when it fits, else cut at its last clause boundary (`.`, `;`, `:`, `,`,
/// a dash) past the middle, else at its last space, never inside a word,
/// and marked `…`. The whole line stays in the body.
pub fn cut_subject(first: &str) -> String {
    if first.chars().count() <= SUBJECT_CHARS {
        return first.to_string();
    }
    let room: String = first.chars().take(SUBJECT_CHARS - 1).collect();
    let clause = room
        .char_indices()
        .filter(|&(i, c)| {
            matches!(c, '.' | ';' | ':' | ',' | '—' | '–')
                && room[i + c.len_utf8()..].starts_with(' ')
        })
        .map(|(i, c)| i + c.len_utf8())
        .rfind(|&end| room[..end].chars().count() >= SUBJECT_CHARS / 2);
    let word = || {
        room.char_indices()
            .filter(|&(_, c)| c == ' ')
            .map(|(i, _)| i)
            .rfind(|&i| i > 0)
    };
    let end = clause.or_else(word).unwrap_or(room.len());
    let kept = room[..end].trim_end_matches([' ', '.', ';', ':', ',', '—', '–']);
    format!("{kept}…")
}

/// The department's body lines, inert and indented by four spaces (blank
/// lines stay blank, so paragraphs stay).
pub fn quoted_body(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim().is_empty() {
                String::new()
            } else {
                format!("    {}", inert(l))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 70 item 8: a long subject is cut at a clause or a word, never
    /// in one ("…and a docte…").
    #[test]
    fn a_long_subject_is_cut_at_a_clause_or_a_word() {
        let short = "Tightened the README";
        assert_eq!(cut_subject(short), short);
        let clauses = "Parse pre-release identifiers by the spec, compare them numerically; \
                       add tests and a doctest for each rule";
        assert_eq!(
            cut_subject(clauses),
            "Parse pre-release identifiers by the spec, compare them numerically…"
        );
        let words = "Parse pre-release identifiers by the spec and compare numeric ones \
                     numerically and a doctest";
        let cut = cut_subject(words);
        assert_eq!(
            cut,
            "Parse pre-release identifiers by the spec and compare numeric ones…"
        );
        assert!(cut.chars().count() <= SUBJECT_CHARS, "{cut}");
        let one_word = "x".repeat(100);
        assert_eq!(cut_subject(&one_word).chars().count(), SUBJECT_CHARS);
    }

    #[test]
    fn references_mentions_and_keyword_urls_get_a_joiner() {
        assert_eq!(
            inert("Closes #1, fixes #2"),
            "Closes #\u{200d}1, fixes #\u{200d}2"
        );
        assert_eq!(inert("see acme/tool#12"), "see acme/tool#\u{200d}12");
        assert_eq!(
            inert("cc @team and @acme/devs"),
            "cc @\u{200d}team and @\u{200d}acme/devs"
        );
        assert_eq!(inert("GH-7 done"), "G\u{200d}H-7 done");
        assert_eq!(
            inert("Fixes: https://github.com/a/b/issues/3"),
            "F\u{200d}ixes: https://github.com/a/b/issues/3"
        );
        // Words that are none of these stay as they are.
        for plain in [
            "mail me@example.com",
            "a # b",
            "fixed the bug",
            "C# code",
            "@ 3",
        ] {
            assert_eq!(inert(plain), plain);
        }
    }

    #[test]
    fn a_subject_that_could_pass_for_a_trailer_or_a_tools_is_prefixed() {
        assert_eq!(
            subject(
                "Merge pull request #12 from acme/security-review",
                "lingyubu"
            ),
            "lingyubu: Merge pull request #\u{200d}12 from acme/security-review"
        );
        assert_eq!(
            subject("Signed-off-by: The User <u@x>", "lingyubu"),
            "lingyubu: Signed-off-by: The User <u@x>"
        );
        assert_eq!(subject("fixup! earlier", "d"), "d: fixup! earlier");
        assert_eq!(subject("Tidied the notes", "lingyubu"), "Tidied the notes");
        assert!(is_trailer_shaped("Co-authored-by: M"));
        assert!(!is_trailer_shaped("two words: x"));
    }
}
