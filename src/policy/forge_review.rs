//! Which of a pull request's reviews and line comments on the forge are new,
//! and when they go back to the department (issue 51, item 4). A teammate's
//! "changes requested" or line comment is worth a send back; an approval or
//! a review without words is only noted; the launcher's own replies never
//! count as news.

use crate::model::{ForgeComment, ForgeNote};

/// How a reply the launcher posts begins (see [`reply_text`]).
pub const REPLY_PREFIX: &str = "Addressed in ";

/// What one read of the forge brings.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Taken {
    /// Keys of everything new, to remember as seen.
    pub seen: Vec<String>,
    /// New notes that join the waiting review.
    pub waiting: Vec<ForgeNote>,
}

/// A review asking for changes, or a line comment: a reason to send back.
pub fn asks_for_a_send_back(note: &ForgeNote) -> bool {
    note.line_comment || note.verdict.as_deref() == Some("CHANGES_REQUESTED")
}

/// A note the launcher may carry: words or a request for changes (a pending
/// review is its author's draft, a dismissed one withdrawn).
fn worth_carrying(note: &ForgeNote) -> bool {
    match note.verdict.as_deref() {
        Some("PENDING" | "DISMISSED") => false,
        Some("CHANGES_REQUESTED") => true,
        _ => !note.body.trim().is_empty(),
    }
}

/// The new notes among `reviews` and `comments`, given the keys already
/// `seen`, the reviews the launcher posted itself (`own_reviews`: a
/// reviewer agent's findings) and whether a review already waits. New words
/// without a request for changes join only a review that waits or arrives
/// with them; otherwise they are only seen. The launcher's own replies and
/// reviews are seen, never carried.
pub fn take(
    seen: &[String],
    already_waiting: bool,
    own_reviews: &[u64],
    reviews: &[ForgeNote],
    comments: &[ForgeComment],
) -> Taken {
    let mut taken = Taken::default();
    let own_comment = |c: &ForgeComment| {
        (c.in_reply_to.is_some() && c.note.body.starts_with(REPLY_PREFIX))
            || c.review.is_some_and(|r| own_reviews.contains(&r))
    };
    let fresh = reviews
        .iter()
        .map(|r| (r, own_reviews.contains(&r.id)))
        .chain(comments.iter().map(|c| (&c.note, own_comment(c))))
        .filter(|(n, _)| !seen.contains(&n.key()));
    let mut candidates = Vec::new();
    for (note, ours) in fresh {
        taken.seen.push(note.key());
        if !ours && worth_carrying(note) {
            candidates.push(note.clone());
        }
    }
    if already_waiting || candidates.iter().any(asks_for_a_send_back) {
        taken.waiting = candidates;
    }
    taken
}

/// `auto_send_back`: a waiting review goes back without a click while the
/// pull request's send backs stay under `max_send_backs`.
pub fn sends_by_itself(auto: bool, waiting: &[ForgeNote], send_backs: u32, max: u32) -> bool {
    auto && !waiting.is_empty() && send_backs < max
}

/// The reply a forge comment gets once the fix is pushed.
pub fn reply_text(commit: &str) -> String {
    format!("{REPLY_PREFIX}{commit} (sent back to the department by codex-governance).")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(id: u64, verdict: &str, body: &str) -> ForgeNote {
        ForgeNote {
            id,
            line_comment: false,
            author: "alice".into(),
            verdict: Some(verdict.into()),
            path: None,
            line: None,
            body: body.into(),
        }
    }

    fn comment(id: u64, body: &str) -> ForgeNote {
        ForgeNote {
            id,
            line_comment: true,
            author: "bob".into(),
            verdict: None,
            path: Some("src/a.rs".into()),
            line: Some(1),
            body: body.into(),
        }
    }

    fn thread(note: ForgeNote, in_reply_to: Option<u64>, review: Option<u64>) -> ForgeComment {
        ForgeComment {
            note,
            in_reply_to,
            review,
        }
    }

    #[test]
    fn changes_requested_and_line_comments_wait_and_are_seen_once() {
        let reviews = [review(1, "CHANGES_REQUESTED", "")];
        let comments = [
            thread(comment(10, "rename"), None, Some(1)),
            thread(comment(11, "why?"), None, None),
        ];
        let first = take(&[], false, &[], &reviews, &comments);
        assert_eq!(first.seen, vec!["r1", "c10", "c11"]);
        assert_eq!(first.waiting.len(), 3);
        let again = take(&first.seen, true, &[], &reviews, &comments);
        assert_eq!(again, Taken::default(), "a repeat read brings nothing");
    }

    #[test]
    fn an_approval_or_a_comment_only_review_is_seen_but_asks_nothing() {
        let reviews = [review(1, "APPROVED", ""), review(2, "COMMENTED", "nice")];
        let t = take(&[], false, &[], &reviews, &[]);
        assert_eq!(t.seen, vec!["r1", "r2"]);
        assert!(t.waiting.is_empty(), "{t:?}");
        // Words join a review that already waits.
        let t = take(&[], true, &[], &reviews, &[]);
        assert_eq!(t.waiting, vec![reviews[1].clone()]);
        let drafts = [review(3, "PENDING", "draft"), review(4, "DISMISSED", "no")];
        assert!(take(&[], true, &[], &drafts, &[]).waiting.is_empty());
    }

    #[test]
    fn the_launchers_own_replies_are_not_news() {
        let ours = comment(12, &reply_text("abc123"));
        let t = take(
            &[],
            false,
            &[],
            &[],
            &[thread(ours.clone(), Some(10), None)],
        );
        assert_eq!(t.seen, vec!["c12"]);
        assert!(t.waiting.is_empty());
        // The same words as a new thread are someone's comment.
        let t = take(&[], false, &[], &[], &[thread(ours, None, None)]);
        assert_eq!(t.waiting.len(), 1);
    }

    #[test]
    fn the_launchers_own_review_and_its_line_comments_are_not_news() {
        let posted = review(5, "COMMENTED", "A second opinion");
        let on_line = thread(comment(13, "off by one"), None, Some(5));
        let someone = thread(comment(14, "and this?"), None, Some(6));
        let t = take(&[], false, &[5], &[posted], &[on_line, someone.clone()]);
        assert_eq!(t.seen, vec!["r5", "c13", "c14"]);
        assert_eq!(
            t.waiting,
            vec![someone.note],
            "only a teammate's words wait"
        );
    }

    #[test]
    fn sending_by_itself_stops_at_max_send_backs() {
        let w = [comment(1, "x")];
        assert!(sends_by_itself(true, &w, 0, 2));
        assert!(sends_by_itself(true, &w, 1, 2));
        assert!(!sends_by_itself(true, &w, 2, 2));
        assert!(!sends_by_itself(false, &w, 0, 2));
        assert!(!sends_by_itself(true, &[], 0, 2));
    }
}
