//! Cutting text where a reader can still read it: every cut falls on a
//! character boundary (a byte offset into UTF-8 would leave half a 治 and show
//! "�"), and raw output bytes read from the middle of a stream start at the
//! next whole character.

/// The first `max` bytes of `text` or less, ending on a character boundary.
pub fn head(text: &str, max: usize) -> &str {
    &text[..floor_boundary(text, max)]
}

/// The last `max` bytes of `text` or less, starting on a character boundary.
pub fn tail(text: &str, max: usize) -> &str {
    &text[ceil_boundary(text, text.len().saturating_sub(max))..]
}

/// The character boundary at or before byte `i` (`str::floor_char_boundary`,
/// newer than this crate's oldest Rust).
fn floor_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The character boundary at or after byte `i`.
fn ceil_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The last `max` bytes of raw output, without a character cut at the front
/// (see [`from_char_start`]).
pub fn utf8_tail(bytes: &[u8], max: usize) -> &[u8] {
    let from = bytes.len().saturating_sub(max);
    if from == 0 {
        return bytes;
    }
    from_char_start(&bytes[from..])
}

/// Raw output cut somewhere in its middle, from its first whole character:
/// UTF-8 continuation bytes (`10xxxxxx`) left over from a character that
/// began before the cut are dropped (at most three).
pub fn from_char_start(bytes: &[u8]) -> &[u8] {
    let skip = bytes
        .iter()
        .take(3)
        .take_while(|b| (**b & 0b1100_0000) == 0b1000_0000)
        .count();
    &bytes[skip..]
}

/// Appends `more` to `text`, keeping at most `max` bytes (the newest): the
/// front is dropped on a character boundary. True when something was dropped.
pub fn push_bounded(text: &mut String, more: &str, max: usize) -> bool {
    text.push_str(more);
    if text.len() <= max {
        return false;
    }
    let cut = ceil_boundary(text, text.len() - max);
    text.drain(..cut);
    true
}

/// An operating system's error as people say it: its "(os error N)" tail
/// goes, and the commonest two are said in words ("No such file or
/// directory (os error 2)" is "not found").
pub fn os_error_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(" (os error ") {
        let Some(end) = rest[at..].find(')') else {
            break;
        };
        let said = &rest[..at];
        let words = [
            ("No such file or directory", "not found"),
            ("Permission denied", "not allowed (permission denied)"),
        ]
        .iter()
        .find_map(|(raw, plain)| said.strip_suffix(raw).map(|head| format!("{head}{plain}")));
        out.push_str(&words.unwrap_or_else(|| said.to_string()));
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_fall_between_characters() {
        let s = "治理部 ok";
        assert_eq!(head(s, 4), "治");
        assert_eq!(head(s, 2), "");
        assert_eq!(tail(s, 8), "部 ok");
        assert_eq!(tail(s, 100), s);
        assert_eq!(head(s, 100), s);
    }

    #[test]
    fn a_raw_tail_starts_at_a_whole_character() {
        let bytes = "治理部".as_bytes();
        // 7 bytes from the end start inside 治.
        let t = utf8_tail(bytes, 7);
        assert_eq!(std::str::from_utf8(t).unwrap(), "理部");
        assert_eq!(utf8_tail(bytes, 100), bytes);
        assert_eq!(utf8_tail(b"abc", 2), b"bc");
    }

    #[test]
    fn bounded_text_keeps_the_newest_whole_characters() {
        let mut s = String::from("治理");
        assert!(push_bounded(&mut s, "部", 7));
        assert_eq!(s, "理部");
        let mut t = String::new();
        assert!(!push_bounded(&mut t, "ab", 2));
        assert_eq!(t, "ab");
    }

    #[test]
    fn an_os_error_is_said_in_words() {
        assert_eq!(
            os_error_words("codex: No such file or directory (os error 2); try again"),
            "codex: not found; try again"
        );
        assert_eq!(
            os_error_words("open x: Permission denied (os error 13)"),
            "open x: not allowed (permission denied)"
        );
        assert_eq!(os_error_words("busy (os error 16)"), "busy");
        assert_eq!(os_error_words("nothing raw"), "nothing raw");
    }
}
