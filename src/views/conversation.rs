//! `GET /api/session_conversation`'s entries: each as the backend recorded it,
//! with its plain form beside it (`agents::plain_words`), so the page shows
//! people's words first and the raw form one click away.

use serde::Serialize;

use crate::agents::conversation::{Entry, Excerpt};
use crate::agents::plain_words::{plain, Places, Plain};

/// An entry as the page gets it: raw, with its [`Plain`] form where the raw
/// one is not plain already.
#[derive(Debug, Clone, Serialize)]
pub struct Worded {
    #[serde(flatten)]
    pub entry: Entry,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plain: Option<Plain>,
}

/// A conversation as the page gets it.
#[derive(Debug, Clone, Serialize)]
pub struct WordedView {
    pub rev: u64,
    pub entries: Vec<Worded>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// `excerpt` with every entry's plain form.
pub fn word(excerpt: Excerpt, places: Places<'_>) -> WordedView {
    WordedView {
        rev: excerpt.rev,
        truncated: excerpt.truncated,
        entries: excerpt
            .entries
            .into_iter()
            .map(|entry| {
                // Agent words as every place shows them: nothing reorders or hides.
                let entry = Entry {
                    what: entry.what.shown(),
                    ..entry
                };
                Worded {
                    plain: plain(&entry.what, places),
                    entry,
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::agents::conversation::{EntryStatus, What};

    /// Issue 69 item 7: an agent's message and tool-call title reach the
    /// page with their bidirectional marks and controls written out.
    #[test]
    fn agent_words_reach_the_page_with_nothing_reordering_them() {
        let entry = |id: &str, what: What| Entry {
            id: id.into(),
            turn_id: None,
            status: EntryStatus::Completed,
            cut: false,
            what,
        };
        let view = Excerpt {
            rev: 1,
            truncated: false,
            entries: vec![
                entry(
                    "1",
                    What::Agent {
                        text: "all good \u{202e}txt.exe\r\nnext".into(),
                    },
                ),
                entry(
                    "2",
                    What::ToolCall {
                        tool: "Read \u{2067}secret\u{1b}[2K".into(),
                        arguments: "{}".into(),
                        result: String::new(),
                        success: Some(true),
                    },
                ),
            ],
        };
        let places = Places {
            worktree: None,
            repo: Path::new("/r"),
        };
        let text = serde_json::to_string(&word(view, places)).unwrap();
        for raw in ['\u{202e}', '\u{2067}', '\u{1b}', '\r'] {
            assert!(!text.contains(raw), "{raw:?} in {text}");
        }
        // JSON would write a raw ESC as \u001b: it was written out before.
        assert!(
            !text.contains(r"\u001b") && text.contains(r"\\u{001b}"),
            "{text}"
        );
        assert!(
            text.contains(r"txt.exe\nnext") && text.contains(r"\\u{202e}"),
            "{text}"
        );
    }
}
