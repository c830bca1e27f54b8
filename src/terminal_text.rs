//! A terminal's output as text a person reads: escape sequences and
//! carriage returns removed, whole characters only, and the last lines for a
//! preview. Pure functions over the bytes a PTY gave (`pty` keeps them).

/// The readable text of a transcript (raw terminal output, maybe cut at
/// both ends): from its first whole character to its last whole one, escape
/// sequences and carriage returns removed.
pub fn transcript_text(bytes: &[u8]) -> String {
    let mut bytes = crate::text::from_char_start(bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        if e.error_len().is_none() {
            // A character still arriving at the end.
            bytes = &bytes[..e.valid_up_to()];
        }
    }
    strip_escapes(bytes)
}

/// Removes terminal escape sequences and carriage returns, for previews.
pub fn strip_escapes(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                Some('[') => {
                    // CSI: parameters then one final byte in @..~
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') | Some('P') | Some('_') | Some('^') => {
                    // OSC/DCS/APC/PM: until BEL or ESC \
                    while let Some(c) = chars.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                Some('(') | Some(')') => {
                    chars.next();
                }
                _ => {}
            },
            '\r' => {}
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Characters of one preview line; longer lines are cut.
const PREVIEW_LINE_CHARS: usize = 240;

/// The last `lines` non-empty lines of output, escapes stripped.
pub fn preview(bytes: &[u8], lines: usize) -> String {
    let text = strip_escapes(bytes);
    let kept: Vec<String> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .map(|l| match l.char_indices().nth(PREVIEW_LINE_CHARS) {
            Some((i, _)) => format!("{}…", &l[..i]),
            None => l.to_string(),
        })
        .collect();
    kept[kept.len().saturating_sub(lines)..].join("\n")
}
