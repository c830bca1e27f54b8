//! A failing job's log, cut to what a department needs: the lines around the
//! last error (or the end), without timestamps and terminal colours, at most
//! [`EXCERPT_LINES`] lines and [`EXCERPT_CHARS`] characters. It is someone
//! else's text: the caller quotes it as untrusted data
//! ([`crate::sanitize::quoted`]) before any agent sees it.

/// At most this many lines of a log are sent back.
pub const EXCERPT_LINES: usize = 60;
/// At most this many characters of a log are sent back.
pub const EXCERPT_CHARS: usize = 6000;

/// Lines that mark where a job failed.
const MARKERS: [&str; 6] = ["##[error]", "error", "failed", "panicked", "FAIL", "Error"];

/// The part of `log` worth reading, cleaned.
pub fn excerpt(log: &str) -> String {
    let lines: Vec<String> = log.lines().map(clean_line).collect();
    let last_error = lines
        .iter()
        .rposition(|l| MARKERS.iter().any(|m| l.contains(m)));
    let end = match last_error {
        // A few lines after the error (the exit code, a summary).
        Some(i) => (i + 6).min(lines.len()),
        None => lines.len(),
    };
    let start = end.saturating_sub(EXCERPT_LINES);
    let mut out = lines[start..end].join("\n");
    let mut cut = start > 0;
    let chars = out.chars().count();
    if chars > EXCERPT_CHARS {
        out = out.chars().skip(chars - EXCERPT_CHARS).collect();
        cut = true;
    }
    let out = out.trim_matches('\n');
    if cut {
        format!("[…]\n{out}")
    } else {
        out.to_string()
    }
}

/// A log line without its timestamp (`2024-05-01T10:00:00.1234567Z `) and
/// without terminal escape sequences.
fn clean_line(line: &str) -> String {
    let line = line.trim_end_matches('\r');
    let line = match line.split_once(' ') {
        Some((stamp, rest)) if is_timestamp(stamp) => rest,
        _ => line,
    };
    without_escapes(line)
}

fn is_timestamp(s: &str) -> bool {
    s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T'
}

/// Drops CSI sequences (`ESC [ … final`) and lone escapes; what
/// [`crate::sanitize::pasted_text`] would leave of them is noise.
fn without_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for f in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&f) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_excerpt_ends_near_the_last_error_without_stamps_or_colours() {
        let mut log = String::new();
        for i in 0..200 {
            log.push_str(&format!("2024-05-01T10:00:00.1234567Z step {i}\n"));
        }
        log.push_str(
            "2024-05-01T10:00:01.0000000Z \u{1b}[31merror: test notes::tidy failed\u{1b}[0m\n",
        );
        for i in 0..100 {
            log.push_str(&format!("2024-05-01T10:00:02.0000000Z cleanup {i}\n"));
        }
        let e = excerpt(&log);
        assert!(e.starts_with("[…]\n"), "{e}");
        assert!(e.contains("\nerror: test notes::tidy failed\n"), "{e}");
        assert!(!e.contains('\u{1b}') && !e.contains("2024-05-01T"), "{e}");
        assert!(e.lines().count() <= EXCERPT_LINES + 1, "{e}");
        assert!(!e.contains("cleanup 10"), "{e}");
        assert_eq!(excerpt("ok\nall good"), "ok\nall good");
        let huge = "x".repeat(50_000);
        assert!(excerpt(&huge).chars().count() <= EXCERPT_CHARS + 4);
    }
}
