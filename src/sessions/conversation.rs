//! What a session did, for the page, live or finished: the conversation of a
//! backend that keeps one (from its live agent, else from its file), or the
//! transcript of a terminal agent, read from its log as one text (so a
//! character split across two output chunks is whole) from a whole character.

use std::path::Path;

use serde::Serialize;

use super::Sessions;
use crate::agents::conversation;
use crate::agents::plain_words::Places;
use crate::error::LResult;
use crate::views::conversation::{word, WordedView};

/// Bytes of a transcript the page gets (the newest).
pub const TRANSCRIPT_BYTES: u64 = 2 * 1024 * 1024;

/// `GET /api/session_conversation`.
#[derive(Debug, Serialize)]
pub struct ConversationAnswer {
    pub session_id: String,
    /// The agent is live: more will come.
    pub live: bool,
    #[serde(flatten)]
    pub what: What,
}

/// A conversation of items, or a terminal's transcript.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    Items(WordedView),
    Transcript {
        text: String,
        /// Its start was left out (longer than [`TRANSCRIPT_BYTES`]).
        truncated: bool,
    },
}

impl Sessions {
    /// What session `id` did so far.
    pub fn conversation(&self, id: &str) -> LResult<ConversationAnswer> {
        let session = self.require_session(id)?;
        let agent = self.live.agent(id);
        let live = agent.is_some() && session.is_running();
        let capabilities = crate::agents::capabilities_of(&session.agent);
        let log = Path::new(&session.log_path);
        let places = Places {
            worktree: session.workspace().map(|w| Path::new(w.path.as_str())),
            repo: &self.ctx.repo,
        };
        let what = match agent.as_ref().and_then(|a| a.conversation().cloned()) {
            Some(c) => What::Items(word(c.excerpt(), places)),
            None if capabilities.conversation => What::Items(word(
                conversation::read(&conversation::path_for(log)),
                places,
            )),
            None => {
                let (text, truncated) = transcript(log);
                What::Transcript { text, truncated }
            }
        };
        Ok(ConversationAnswer {
            session_id: session.id,
            live,
            what,
        })
    }
}

impl ConversationAnswer {
    /// The answer for a token that sees no transcript (a paired phone's, an
    /// agent's): a terminal's transcript holds what was typed into it and
    /// all it printed, so only the desk reads it.
    pub fn without_transcript(mut self) -> ConversationAnswer {
        if let What::Transcript { text, truncated } = &mut self.what {
            *text = "(a terminal's transcript is shown at the desk only)".into();
            *truncated = false;
        }
        self
    }
}

/// The newest [`TRANSCRIPT_BYTES`] of a transcript file as readable text.
fn transcript(path: &Path) -> (String, bool) {
    match crate::files::read_tail(path, TRANSCRIPT_BYTES) {
        Some((bytes, from)) => (crate::pty::transcript_text(&bytes), from > 0),
        None => (String::new(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transcript_cut_in_a_character_reads_from_the_next_whole_one() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("s.log");
        let rest = ["理部\r\n\x1b[1m完\x1b[0m".as_bytes(), &"部".as_bytes()[..2]].concat();
        // 治 is three bytes: the newest TRANSCRIPT_BYTES begin after its first.
        let mut bytes = "治".as_bytes().to_vec();
        bytes.extend(vec![b'x'; TRANSCRIPT_BYTES as usize - 2 - rest.len()]);
        bytes.extend(&rest);
        std::fs::write(&log, &bytes).unwrap();
        let (text, truncated) = transcript(&log);
        assert!(truncated);
        assert!(!text.contains('\u{fffd}'), "{text:?}");
        assert!(text.starts_with('x'), "{:?}", crate::text::head(&text, 9));
        assert!(
            text.ends_with("理部\n完"),
            "{:?}",
            crate::text::tail(&text, 20)
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_transcript_planted_as_a_link_is_not_read_through() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("credentials");
        std::fs::write(&secret, "token=hunter2").unwrap();
        let log = dir.path().join("zhilibu-1.log");
        std::os::unix::fs::symlink(&secret, &log).unwrap();
        assert_eq!(transcript(&log), (String::new(), false));
    }
}
