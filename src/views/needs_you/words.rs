//! The small ways Needs you words things: how it names a session, sentences
//! with their full stops, counts with their nouns, a cut line, and a
//! sent-back task as the user wrote it.

use crate::model::Session;

/// How an item names a session: "Planner zhongshu-1", a department by its title.
pub fn title(s: &Session) -> String {
    if s.is_zhongshu() {
        format!("Planner {}", s.id)
    } else if s.title.is_empty() {
        s.id.clone()
    } else {
        s.title.clone()
    }
}

/// When the session last did something, else when it started.
pub fn last_seen(s: &Session) -> &str {
    s.last_activity_at.as_deref().unwrap_or(&s.started_at)
}

/// The parts that say something, as sentences each ending in a full stop
/// (unless it ends in one already).
pub fn sentences(parts: &[Option<&str>]) -> String {
    parts
        .iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .map(|p| {
            let p = p.trim();
            if p.ends_with(['.', '!', '?', '…']) {
                p.to_string()
            } else {
                format!("{p}.")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// "1 file", "3 files": a count with its noun agreeing.
pub fn count(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// "s" unless `n` is 1.
pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The first `max` characters of `text`, with "…" when it was longer.
pub fn cut_text(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Where the launcher's words to the agent begin in a sent-back session's
/// task (`integration::send_back`).
const SENT_BACK: &str = "\n\n[Sent back by the user] ";
/// The launcher's stand-in for a send-back without a note.
const NO_NOTE: &str = "see the comments below";

/// A session's task as the user wrote it: a sent-back one shows its task
/// and the user's note, not the launcher's instructions around them.
pub fn task_words(task: &str) -> String {
    let Some(at) = task.find(SENT_BACK) else {
        return task.to_string();
    };
    let mut rest = task[at + SENT_BACK.len()..].split("\n\n");
    let note = rest.next().unwrap_or("");
    let next = rest.next().unwrap_or("");
    let before = &task[..at];
    // With line comments (`review::comments::review_text`): their count.
    let comments = next.strip_prefix("The user's review: ").and_then(|r| {
        let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
        let after = &r[digits.len()..];
        (!digits.is_empty() && after.starts_with(" comment")).then_some(digits)
    });
    let Some(n) = comments else {
        return format!("{before}\nSent back by you: {note}");
    };
    let comments = format!("{n} line comment{}", if n == "1" { "" } else { "s" });
    if note == NO_NOTE {
        return format!("{before}\nSent back by you with {comments}");
    }
    format!("{before}\nSent back by you: {note} (with {comments})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_end_in_one_full_stop_each() {
        assert_eq!(
            sentences(&[Some("it failed"), None, Some(""), Some("Its result is in.")]),
            "it failed. Its result is in."
        );
    }

    #[test]
    fn a_sent_back_task_reads_as_the_user_wrote_it() {
        let task = "Fix it\n\n[Sent back by the user] use the helper\n\nYour earlier work…";
        assert_eq!(task_words(task), "Fix it\nSent back by you: use the helper");
        let reviewed = "Fix it\n\n[Sent back by the user] see the comments below\n\n\
                        The user's review: 2 comments on…\n\nYour earlier work";
        assert_eq!(
            task_words(reviewed),
            "Fix it\nSent back by you with 2 line comments"
        );
        assert_eq!(cut_text("abcdef", 4), "abc…");
        assert_eq!(cut_text("abc", 4), "abc");
    }
}
