//! Where a review comment stands on a later attempt (issue 51, item 3).
//!
//! A comment is written on one attempt's diff; after a send-back the next
//! attempt changes the file again. The reviewer should see, without reading
//! the whole diff again, which comments the department acted on: a comment
//! is *addressed* when its line, or the lines right next to it, changed
//! between the two attempts, and *open* when they are untouched, shown at
//! the line where it now is. The services read the two versions through Git
//! and hand the differences here as ranges; nothing here does I/O.

use crate::model::{CommentState, ReviewComment};

/// One run of changed lines between two versions of a file (a hunk without
/// context lines, as Git numbers it: an insertion has `old_lines == 0` and
/// `old_start` the line it follows; a removal has `new_lines == 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangedRun {
    pub old_start: u32,
    pub old_lines: u32,
    pub new_start: u32,
    pub new_lines: u32,
}

/// A comment carried to a later version of its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followed {
    /// Its line is untouched, now at `line`.
    Open { line: u32 },
    /// Its line or a neighbour changed; `line` is where the change now starts.
    Addressed { line: u32 },
}

impl Followed {
    pub fn line(self) -> u32 {
        match self {
            Followed::Open { line } | Followed::Addressed { line } => line,
        }
    }
}

/// Follows line `line` of the earlier version through `runs` (ascending,
/// as a diff lists them) to the later version.
pub fn follow_line(line: u32, runs: &[ChangedRun]) -> Followed {
    let mut shift: i64 = 0;
    for r in runs {
        let addressed = Followed::Addressed {
            line: r.new_start.max(1),
        };
        if r.old_lines == 0 {
            // Lines inserted right before or right after it speak to it.
            if r.old_start == line || r.old_start + 1 == line {
                return addressed;
            }
            if r.old_start < line {
                shift += i64::from(r.new_lines);
                continue;
            }
            break;
        }
        let end = r.old_start + r.old_lines;
        if (r.old_start..end).contains(&line) {
            return addressed;
        }
        if end <= line {
            shift += i64::from(r.new_lines) - i64::from(r.old_lines);
            continue;
        }
        break;
    }
    Followed::Open {
        line: (i64::from(line) + shift).max(1) as u32,
    }
}

/// A comment on the base's side (`old`) stays at its line, which the base
/// keeps; it is addressed when what the department's version has in its
/// place (`before`: on the attempt it was written on; `now`: on the later
/// one; None where the base line is kept) differs.
pub fn follow_base_line(line: u32, before: Option<&[String]>, now: Option<&[String]>) -> Followed {
    if before == now {
        Followed::Open { line }
    } else {
        Followed::Addressed { line }
    }
}

/// The state `GET /api/review_comments` shows for comment `c` read from
/// attempt `attempt`: resolved wins; on its own attempt a draft or sent;
/// on a later one as [`follow_line`] found it (`followed`).
pub fn state(c: &ReviewComment, attempt: &str, followed: Option<Followed>) -> CommentState {
    if c.resolved {
        return CommentState::Resolved;
    }
    if c.session_id == attempt {
        return match c.sent_at {
            Some(_) => CommentState::Sent,
            None => CommentState::Draft,
        };
    }
    match followed {
        Some(Followed::Addressed { .. }) => CommentState::Addressed,
        _ => CommentState::Open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DiffSide;

    fn run(old_start: u32, old_lines: u32, new_start: u32, new_lines: u32) -> ChangedRun {
        ChangedRun {
            old_start,
            old_lines,
            new_start,
            new_lines,
        }
    }

    #[test]
    fn an_untouched_line_is_open_where_the_changes_above_moved_it() {
        assert_eq!(follow_line(10, &[]), Followed::Open { line: 10 });
        // Two lines inserted after line 2, one removed at 5: 10 -> 11.
        let runs = [run(2, 0, 3, 2), run(5, 1, 6, 0), run(20, 1, 21, 1)];
        assert_eq!(follow_line(10, &runs), Followed::Open { line: 11 });
        // Changes below it do not move it.
        assert_eq!(follow_line(1, &runs), Followed::Open { line: 1 });
    }

    #[test]
    fn a_changed_removed_or_neighboured_line_is_addressed() {
        // Line 5 rewritten as two lines at 5.
        assert_eq!(
            follow_line(5, &[run(5, 1, 5, 2)]),
            Followed::Addressed { line: 5 }
        );
        // Lines 4 to 6 removed (new_start names the line before: 3).
        assert_eq!(
            follow_line(5, &[run(4, 3, 3, 0)]),
            Followed::Addressed { line: 3 }
        );
        // A line inserted right after 5, or right before it.
        assert_eq!(
            follow_line(5, &[run(5, 0, 6, 1)]),
            Followed::Addressed { line: 6 }
        );
        assert_eq!(
            follow_line(5, &[run(4, 0, 5, 1)]),
            Followed::Addressed { line: 5 }
        );
        // One inserted two lines above is not about it.
        assert_eq!(
            follow_line(5, &[run(3, 0, 4, 1)]),
            Followed::Open { line: 6 }
        );
    }

    #[test]
    fn a_base_side_comment_is_addressed_when_what_replaced_its_line_changed() {
        let was = vec!["let x = 1;".to_string()];
        let fixed = vec!["let x = 2;".to_string()];
        assert_eq!(
            follow_base_line(7, Some(&was), Some(&was)),
            Followed::Open { line: 7 }
        );
        assert_eq!(
            follow_base_line(7, Some(&was), Some(&fixed)),
            Followed::Addressed { line: 7 }
        );
        // The base line put back: addressed.
        assert_eq!(
            follow_base_line(7, Some(&was), None),
            Followed::Addressed { line: 7 }
        );
    }

    #[test]
    fn resolved_wins_and_an_attempts_own_comments_are_drafts_or_sent() {
        let mut c = ReviewComment {
            id: "rc-1".into(),
            session_id: "lingyubu-1".into(),
            path: "a".into(),
            line: 1,
            side: DiffSide::New,
            body: "b".into(),
            created_at: String::new(),
            commit: String::new(),
            base: String::new(),
            sent_at: None,
            resolved: false,
            finding: None,
        };
        assert_eq!(state(&c, "lingyubu-1", None), CommentState::Draft);
        c.sent_at = Some("t".into());
        assert_eq!(state(&c, "lingyubu-1", None), CommentState::Sent);
        let addressed = Some(Followed::Addressed { line: 1 });
        assert_eq!(state(&c, "lingyubu-2", addressed), CommentState::Addressed);
        let open = Some(Followed::Open { line: 1 });
        assert_eq!(state(&c, "lingyubu-2", open), CommentState::Open);
        c.resolved = true;
        assert_eq!(state(&c, "lingyubu-2", open), CommentState::Resolved);
    }
}
