//! The last lines of what a session did, for its tile: from its live
//! conversation or terminal (memory), or, once it runs no longer, from its
//! files. The file reads are the launcher's cached facts (refreshed when a
//! session ends, not while a status is built).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::agents::conversation::{self, Conversation};
use crate::model::Session;
use crate::pty::{preview, Pty};

/// Bytes of output the preview looks at.
const PREVIEW_BYTES: usize = 4096;
/// Lines it keeps.
const PREVIEW_LINES: usize = 8;

/// The preview from the live agent's conversation, else its terminal; None
/// when it has neither.
pub fn live(conversation: Option<&Conversation>, pty: Option<&Arc<Pty>>) -> Option<String> {
    match (conversation, pty) {
        (Some(c), _) => Some(c.preview(PREVIEW_LINES)),
        (None, Some(p)) => Some(preview(&p.tail(PREVIEW_BYTES), PREVIEW_LINES)),
        (None, None) => None,
    }
}

/// The file a session's preview is read from once it has no live agent:
/// its conversation file when its backend keeps one, else its terminal's
/// transcript.
pub fn source(session: &Session) -> PathBuf {
    let log = Path::new(&session.log_path);
    if crate::agents::capabilities_of(&session.agent).conversation {
        conversation::path_for(log)
    } else {
        log.to_path_buf()
    }
}

/// The preview from the session's file ([`source`]).
pub fn from_files(session: &Session) -> String {
    let file = source(session);
    if crate::agents::capabilities_of(&session.agent).conversation {
        conversation::file_preview(&file, PREVIEW_LINES)
    } else {
        log_preview(&file)
    }
}

/// Preview from the transcript file of a session whose PTY is gone.
fn log_preview(path: &Path) -> String {
    let Some((buf, from)) = crate::files::read_tail(path, PREVIEW_BYTES as u64) else {
        return String::new();
    };
    // Started mid-file, it may start mid-character: from the next whole one.
    let whole = if from > 0 {
        crate::text::from_char_start(&buf)
    } else {
        &buf[..]
    };
    preview(whole, PREVIEW_LINES)
}
