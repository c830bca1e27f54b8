//! The forge's words: every text the forge sends back (a check's name, title
//! and summary, a status's description, a URL, a job's log, an error
//! message, what its Git server says to a push) passes through
//! [`from_forge`] where it enters the launcher, before anything stores,
//! serves or forwards it. A forge that echoes the token (a proxy, a buggy
//! server, a CI job that printed it) must not put it into the database, a
//! page or a department's turn.
//!
//! Masking is done on the text's final form: the cleaning that can join
//! characters runs first (terminal escape sequences, control characters,
//! zero-width and bidirectional marks removed; `ghp_ab ESC[31m cd` becomes
//! `ghp_abcd`), then every token the launcher knows and every string shaped
//! like a GitHub token become `***`. What comes out holds nothing a later
//! step (the log's excerpt, [`crate::sanitize`]) removes, so no later
//! cleaning can join a token back together.

/// What a masked token reads as.
pub const MASK: &str = "***";

/// Known token values shorter than this are not masked: no GitHub token is
/// that short, and masking a few letters everywhere would garble the text.
const MIN_KNOWN_LEN: usize = 8;

/// `text` from the forge, cleaned and with every token in it masked: the
/// values [`super::token::known`] holds and the well-known shapes.
pub fn from_forge(text: &str) -> String {
    let known = super::token::known();
    let values: Vec<&str> = known.iter().map(|s| s.expose()).collect();
    masked(&cleaned(text), &values)
}

/// An answer's body from the forge: a JSON document with each of its
/// strings passed through [`from_forge`] (a JSON escape cannot hide a token
/// from the masking, which reads the decoded text), else the body as text.
pub fn body_from_forge(body: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut doc) => {
            let known = super::token::known();
            let values: Vec<&str> = known.iter().map(|s| s.expose()).collect();
            each_string(&mut doc, &mut |s| *s = masked(&cleaned(s), &values));
            serde_json::to_vec(&doc).unwrap_or_default()
        }
        Err(_) => from_forge(&String::from_utf8_lossy(body)).into_bytes(),
    }
}

fn each_string(v: &mut serde_json::Value, f: &mut impl FnMut(&mut String)) {
    match v {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| each_string(i, f)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|i| each_string(i, f)),
        _ => {}
    }
}

/// `text` without terminal escape sequences (CSI `ESC [ … final`, OSC
/// `ESC ] … BEL` or `ESC \`, any other escape with its next character),
/// control characters but tab and line feed (a carriage return becomes a
/// line feed), zero-width characters and bidirectional marks.
pub fn cleaned(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    for f in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&f) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(f) = chars.next() {
                        if f == '\u{7}' {
                            break;
                        }
                        if f == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            c if crate::sanitize::is_control(c) || is_invisible(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Characters that show nothing, or only reorder what is shown.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// The prefixes of GitHub's tokens: personal (classic and fine-grained),
/// OAuth, user-to-server, server-to-server and refresh tokens.
const TOKEN_PREFIXES: [&str; 6] = ["github_pat_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_"];
/// Characters after a prefix for a string to be taken for a token.
const MIN_TOKEN_BODY: usize = 20;

/// `text` with each of `known` (of [`MIN_KNOWN_LEN`] characters or more)
/// and each string shaped like a GitHub token replaced by [`MASK`].
pub fn masked(text: &str, known: &[&str]) -> String {
    let mut out = text.to_string();
    for value in known.iter().filter(|v| v.len() >= MIN_KNOWN_LEN) {
        if out.contains(value) {
            out = out.replace(value, MASK);
        }
    }
    without_token_shapes(&out)
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn without_token_shapes(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let prefix = TOKEN_PREFIXES
            .iter()
            .find(|p| bytes[i..].starts_with(p.as_bytes()));
        let Some(prefix) = prefix else {
            i += 1;
            continue;
        };
        let body_start = i + prefix.len();
        let body_end = body_start
            + bytes[body_start..]
                .iter()
                .take_while(|b| is_token_char(**b))
                .count();
        if body_end - body_start >= MIN_TOKEN_BODY {
            out.push_str(&text[copied..i]);
            out.push_str(MASK);
            copied = body_end;
            i = body_end;
        } else {
            i = body_start;
        }
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &str = "ghp_KNOWN0token0aaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn a_token_split_by_an_escape_is_masked_once_joined() {
        let split = "error: ghp_KNOWN0token0\u{1b}[31maaaaaaaaaaaaaaaaaaaaaaaaa\u{1b}[0m done";
        assert_eq!(masked(&cleaned(split), &[KNOWN]), "error: *** done");
        for split in [
            "ghp_KNOWN0token0\u{1b}]0;title\u{7}aaaaaaaaaaaaaaaaaaaaaaaaa",
            "ghp_KNOWN0token0\u{1b}]8;;x\u{1b}\\aaaaaaaaaaaaaaaaaaaaaaaaa",
            "ghp_KNOWN0token0\u{200b}aaaaaaaaaaaaaaaaaaaaaaaaa",
            "ghp_KNOWN0token0\u{202e}aaaaaaaaaaaaaaaaaaaaaaaaa",
            "ghp_KNOWN0token0\u{9b}aaaaaaaaaaaaaaaaaaaaaaaaa",
            "ghp_KNOWN0token0\u{7}aaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            let out = masked(&cleaned(split), &[KNOWN]);
            assert_eq!(out, MASK, "{split:?}");
        }
        // What comes out is what a later cleaning leaves alone.
        let once = cleaned("a\r\nb\rc\u{1b}[1md\u{85}e\tf");
        assert_eq!(once, "a\nb\ncde\tf");
        assert_eq!(crate::sanitize::pasted_text(&once), once);
        assert_eq!(cleaned(&once), once);
    }

    #[test]
    fn known_values_and_token_shapes_are_masked_and_other_words_kept() {
        let other = "some0other0secret0value";
        let text = format!(
            "{other} and ghs_{} and github_pat_{} and gho_short and sha 0123456789abcdef",
            "x".repeat(36),
            "A1_".repeat(25)
        );
        assert_eq!(
            masked(&text, &[other, "tiny"]),
            "*** and *** and *** and gho_short and sha 0123456789abcdef"
        );
        assert_eq!(masked("no tokens, tiny", &["tiny"]), "no tokens, tiny");
    }

    #[test]
    fn a_json_escape_does_not_hide_a_token_from_the_mask() {
        // `\u0067` is `g`: the raw bytes do not hold the token, its text does.
        let body = br#"{"output": {"title": "\u0067hp_abcdefghijklmnopqrstuvwxyz0123456789"}, "n": 7, "url": "https://x/ghp_abcdefghijklmnopqrstuvwxyz0123456789"}"#;
        let out: serde_json::Value = serde_json::from_slice(&body_from_forge(body)).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"output": {"title": "***"}, "n": 7, "url": "https://x/***"})
        );
        let log = b"line \x1b[31mghp_abcdefghijkl\x1b[0mmnopqrstuvwxyz0123456789\r\n";
        assert_eq!(body_from_forge(log), b"line ***\n");
    }
}
