//! A session's conversation as the page shows it: what the agent was told, what
//! it said, the commands it ran with their output and exit codes, the files it
//! changed with their diffs, its tool calls and the approvals it asked for.
//! Backends that keep one (Codex, from its thread's items) fill a
//! [`Conversation`]; the page reads it live and after the session ended.
//!
//! Why the launcher keeps its own copy rather than asking the backend again:
//! a finished session may have no backend process left to ask (Codex's
//! app-server runs only while a Codex session does), and the copy costs one
//! appended JSON line per finished item. Memory stays small: only items still
//! in progress (and the last few finished ones, for the preview) are held; the
//! rest is read back from the file when the page asks, at most
//! [`READ_BYTES`] of it.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::model::{ApprovalDecision, ApprovalKind, PatchChange};

/// Bytes of one text an entry keeps (a message, a command's output, a result).
pub const TEXT_BYTES: usize = 32 * 1024;
/// Bytes of a conversation file read back for the page (the newest).
pub const READ_BYTES: u64 = 8 * 1024 * 1024;
/// Finished entries held in memory for the preview.
const RECENT: usize = 4;

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    InProgress,
    Completed,
    Failed,
    Declined,
}

/// One thing that happened in the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The backend's id of the item (unique in the conversation).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    pub status: EntryStatus,
    /// A text of it was cut to [`TEXT_BYTES`] (the output keeps its end).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut: bool,
    #[serde(flatten)]
    pub what: What,
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum What {
    /// What the agent was told: the user's input, the launcher's task and notices.
    User {
        text: String,
    },
    /// What the agent said.
    Agent {
        text: String,
    },
    Command {
        command: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<String>,
        output: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<i64>,
    },
    FileChange {
        changes: Vec<PatchChange>,
    },
    ToolCall {
        tool: String,
        arguments: String,
        result: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        success: Option<bool>,
    },
    /// The agent asked the user; `decision` once answered (`by` whom).
    Approval {
        request_id: String,
        kind: ApprovalKind,
        summary: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decision: Option<ApprovalDecision>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    Error {
        message: String,
    },
    /// Anything else the backend records (a plan, a web search), named.
    Other {
        name: String,
        text: String,
    },
}

impl What {
    /// Every text of it as the user is shown agent words
    /// ([`crate::sanitize::shown`]): bidirectional marks and controls written
    /// out, so none reorders or hides what the page shows.
    pub fn shown(self) -> What {
        use crate::sanitize::shown as s;
        let opt = |o: Option<String>| o.map(|t| s(&t));
        match self {
            What::User { text } => What::User { text: s(&text) },
            What::Agent { text } => What::Agent { text: s(&text) },
            What::Command {
                command,
                cwd,
                output,
                exit_code,
                duration_ms,
            } => What::Command {
                command: s(&command),
                cwd: opt(cwd),
                output: s(&output),
                exit_code,
                duration_ms,
            },
            What::FileChange { changes } => What::FileChange {
                changes: changes
                    .into_iter()
                    .map(|c| PatchChange {
                        path: s(&c.path),
                        move_to: opt(c.move_to),
                        diff: s(&c.diff),
                        ..c
                    })
                    .collect(),
            },
            What::ToolCall {
                tool,
                arguments,
                result,
                success,
            } => What::ToolCall {
                tool: s(&tool),
                arguments: s(&arguments),
                result: s(&result),
                success,
            },
            What::Approval {
                request_id,
                kind,
                summary,
                reason,
                decision,
                by,
            } => What::Approval {
                request_id,
                kind,
                summary: s(&summary),
                reason: opt(reason),
                decision,
                by,
            },
            What::Error { message } => What::Error {
                message: s(&message),
            },
            What::Other { name, text } => What::Other {
                name: s(&name),
                text: s(&text),
            },
        }
    }
}

impl Entry {
    /// The entry's text that grows while it is in progress.
    fn growing(&mut self) -> Option<&mut String> {
        match &mut self.what {
            What::Agent { text } => Some(text),
            What::Command { output, .. } => Some(output),
            _ => None,
        }
    }

    /// A line or two for a preview.
    fn preview(&self) -> String {
        match &self.what {
            What::User { text } => format!("› {text}"),
            What::Agent { text } => text.clone(),
            What::Command {
                command,
                output,
                exit_code,
                ..
            } => {
                let last = output.lines().rev().find(|l| !l.trim().is_empty());
                let code = exit_code
                    .map(|c| format!(" (exit {c})"))
                    .unwrap_or_default();
                format!("$ {command}{code}\n{}", last.unwrap_or(""))
            }
            What::FileChange { changes } => {
                let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
                format!("changed {}", paths.join(", "))
            }
            What::ToolCall { tool, .. } => format!("called {tool}"),
            What::Approval { summary, .. } => format!("asks: {summary}"),
            What::Error { message } => format!("error: {message}"),
            What::Other { name, text } => format!("{name}: {text}"),
        }
    }
}

/// What is read of a conversation at one moment: the newest [`READ_BYTES`]
/// of its file, then the entries in progress. The page's answer is made of
/// it (`views::conversation`).
#[derive(Debug, Clone, Serialize)]
pub struct Excerpt {
    /// Changes whenever the conversation does: ask again only when it moved.
    pub rev: u64,
    pub entries: Vec<Entry>,
    /// Older entries were left out (the file is larger than [`READ_BYTES`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// The conversation file beside a session's transcript (`<id>.log`).
pub fn path_for(log_path: &Path) -> PathBuf {
    log_path.with_extension("conversation.jsonl")
}

/// A live conversation: the entries in progress in memory, finished ones
/// appended to the file.
pub struct Conversation {
    root: PathBuf,
    path: PathBuf,
    live: Mutex<Live>,
}

#[derive(Default)]
struct Live {
    /// Entries in progress, in the order they began.
    open: Vec<Entry>,
    /// The last few finished entries (the preview).
    recent: VecDeque<Entry>,
    rev: u64,
    file: Option<std::fs::File>,
    /// Whether writing failed once (said once in the log).
    write_failed: bool,
    activity: Option<(Instant, SystemTime)>,
    /// The text of the agent's last finished message (its question, as a rule).
    last_message: Option<String>,
}

impl Live {
    fn touch(&mut self) {
        self.rev += 1;
        self.activity = Some((Instant::now(), SystemTime::now()));
    }
}

impl Conversation {
    /// A conversation kept in `path`, a launcher file in the state folder `root`.
    pub fn new(root: &Path, path: PathBuf) -> Conversation {
        Conversation {
            root: root.to_path_buf(),
            path,
            live: Mutex::new(Live::default()),
        }
    }

    /// An entry began (or changed while in progress).
    pub fn begin(&self, entry: Entry) {
        let mut live = self.live.lock().unwrap();
        match live.open.iter_mut().find(|e| e.id == entry.id) {
            Some(e) => *e = entry,
            None => live.open.push(entry),
        }
        live.touch();
    }

    /// More text for an entry in progress (a message or a command's output).
    pub fn grow(&self, id: &str, more: &str) {
        let mut live = self.live.lock().unwrap();
        let Some(entry) = live.open.iter_mut().find(|e| e.id == id) else {
            return;
        };
        let mut cut = false;
        if let Some(text) = entry.growing() {
            cut = crate::text::push_bounded(text, more, TEXT_BYTES);
        }
        entry.cut |= cut;
        live.touch();
    }

    /// An entry finished: it leaves memory for the file.
    pub fn finish(&self, entry: Entry) {
        let mut live = self.live.lock().unwrap();
        live.open.retain(|e| e.id != entry.id);
        self.append(&mut live, std::slice::from_ref(&entry));
        if let What::Agent { text } = &entry.what {
            live.last_message = Some(text.clone());
        }
        live.recent.push_back(entry);
        if live.recent.len() > RECENT {
            live.recent.pop_front();
        }
        live.touch();
    }

    /// Finishes the entry in progress `id` after `update` (an approval's decision).
    pub fn finish_open(&self, id: &str, update: impl FnOnce(&mut Entry)) {
        let found = {
            let live = self.live.lock().unwrap();
            live.open.iter().find(|e| e.id == id).cloned()
        };
        if let Some(mut entry) = found {
            update(&mut entry);
            self.finish(entry);
        }
    }

    /// Whether an entry with this id is in progress.
    pub fn is_open(&self, id: &str) -> bool {
        self.live.lock().unwrap().open.iter().any(|e| e.id == id)
    }

    /// A resumed conversation: the backend's own history (`done`, `open`),
    /// of which what the file lacks (finished while the launcher was away) is
    /// appended; what is in progress is held again.
    pub fn resume(&self, done: Vec<Entry>, open: Vec<Entry>) {
        let known: std::collections::HashSet<String> = read_entries(&self.path)
            .0
            .into_iter()
            .map(|e| e.id)
            .collect();
        let said = done.iter().rev().find_map(|e| match &e.what {
            What::Agent { text } => Some(text.clone()),
            _ => None,
        });
        let missing: Vec<Entry> = done
            .into_iter()
            .filter(|e| !known.contains(&e.id))
            .collect();
        let mut live = self.live.lock().unwrap();
        if said.is_some() {
            live.last_message = said;
        }
        self.append(&mut live, &missing);
        live.open = open;
        live.touch();
    }

    fn append(&self, live: &mut Live, entries: &[Entry]) {
        if entries.is_empty() {
            return;
        }
        let mut lines = Vec::new();
        for e in entries {
            if let Ok(mut line) = serde_json::to_vec(e) {
                line.push(b'\n');
                lines.extend(line);
            }
        }
        if live.file.is_none() {
            match crate::files::open_own(&self.root, &self.path, crate::files::Access::Append) {
                Ok(mut f) => {
                    // A line a crash tore ends here, so the next one starts whole.
                    if !ends_a_line(&self.path) {
                        let _ = f.write_all(b"\n");
                    }
                    live.file = Some(f);
                }
                Err(e) => {
                    if !live.write_failed {
                        tracing::warn!(
                            "cannot keep the conversation in {}: {e}",
                            self.path.display()
                        );
                    }
                    live.write_failed = true;
                    return;
                }
            }
        }
        if let Some(f) = live.file.as_mut() {
            if let Err(e) = f.write_all(&lines) {
                if !live.write_failed {
                    tracing::warn!("cannot write {}: {e}", self.path.display());
                }
                live.write_failed = true;
            }
        }
    }

    /// What the agent said last (its last finished message), if anything yet.
    pub fn last_message(&self) -> Option<String> {
        self.live.lock().unwrap().last_message.clone()
    }

    pub fn rev(&self) -> u64 {
        self.live.lock().unwrap().rev
    }

    /// When something last happened in it (monotonic, wall clock).
    pub fn activity(&self) -> Option<(Instant, SystemTime)> {
        self.live.lock().unwrap().activity
    }

    /// The conversation now: the file's entries, then those in progress.
    pub fn excerpt(&self) -> Excerpt {
        let (rev, open) = {
            let live = self.live.lock().unwrap();
            (live.rev, live.open.clone())
        };
        let (mut entries, truncated) = read_entries(&self.path);
        for e in open {
            match entries.iter_mut().find(|x| x.id == e.id) {
                Some(x) => *x = e,
                None => entries.push(e),
            }
        }
        Excerpt {
            rev,
            entries,
            truncated,
        }
    }

    /// The last `lines` lines of what happened, for a tile's preview.
    pub fn preview(&self, lines: usize) -> String {
        let live = self.live.lock().unwrap();
        let text: Vec<String> = live
            .recent
            .iter()
            .chain(live.open.iter())
            .map(Entry::preview)
            .collect();
        crate::pty::preview(text.join("\n").as_bytes(), lines)
    }
}

/// The last `lines` lines of a finished conversation, from the end of its
/// file only (a status builds one per session).
pub fn file_preview(path: &Path, lines: usize) -> String {
    const TAIL: u64 = 16 * 1024;
    let Some((bytes, _)) = crate::files::read_tail(path, TAIL) else {
        return String::new();
    };
    let text: Vec<String> = bytes
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<Entry>(line).ok())
        .map(|e| e.preview())
        .collect();
    crate::pty::preview(text.join("\n").as_bytes(), lines)
}

/// Whether the file is empty or ends with a line feed.
fn ends_a_line(path: &Path) -> bool {
    crate::files::read_tail(path, 1).is_none_or(|(last, _)| last.last().is_none_or(|b| *b == b'\n'))
}

/// A finished conversation, from its file (the newest [`READ_BYTES`]).
pub fn read(path: &Path) -> Excerpt {
    let (entries, truncated) = read_entries(path);
    let rev = crate::files::regular_len(path).unwrap_or(0);
    Excerpt {
        rev,
        entries,
        truncated,
    }
}

/// The entries of a conversation file, a later line replacing an earlier one
/// with the same id; and whether its start was left out. A line that is not
/// an entry (cut by a crash) is skipped.
fn read_entries(path: &Path) -> (Vec<Entry>, bool) {
    let Some((bytes, from)) = crate::files::read_tail(path, READ_BYTES) else {
        return (Vec::new(), false);
    };
    let mut text: &[u8] = &bytes;
    if from > 0 {
        // Begin at the first whole line.
        let nl = text
            .iter()
            .position(|b| *b == b'\n')
            .map_or(text.len(), |i| i + 1);
        text = &text[nl..];
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = Default::default();
    for line in text.split(|b| *b == b'\n') {
        let Ok(entry) = serde_json::from_slice::<Entry>(line) else {
            continue;
        };
        match at.get(&entry.id) {
            Some(&i) => entries[i] = entry,
            None => {
                at.insert(entry.id.clone(), entries.len());
                entries.push(entry);
            }
        }
    }
    (entries, from > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(id: &str, status: EntryStatus, output: &str) -> Entry {
        Entry {
            id: id.into(),
            turn_id: Some("t1".into()),
            status,
            cut: false,
            what: What::Command {
                command: "ls".into(),
                cwd: None,
                output: output.into(),
                exit_code: None,
                duration_ms: None,
            },
        }
    }

    #[test]
    fn entries_in_progress_grow_then_finish_into_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("s-1.log"));
        let c = Conversation::new(dir.path(), path.clone());
        c.begin(command("c1", EntryStatus::InProgress, ""));
        c.grow("c1", "治");
        c.grow("c1", "理部\n");
        let rev = c.rev();
        let v = c.excerpt();
        assert_eq!(v.entries.len(), 1);
        assert!(matches!(&v.entries[0].what, What::Command { output, .. } if output == "治理部\n"));
        assert!(!path.exists(), "nothing finished yet");
        c.finish(command("c1", EntryStatus::Completed, "治理部\n"));
        assert!(c.rev() > rev);
        // The file alone now holds it: a finished session reads it back.
        let after = read(&path);
        assert_eq!(after.entries.len(), 1);
        assert_eq!(after.entries[0].status, EntryStatus::Completed);
        assert!(c.preview(4).contains("治理部"));
    }

    #[test]
    fn output_keeps_its_newest_whole_characters() {
        let dir = tempfile::tempdir().unwrap();
        let c = Conversation::new(dir.path(), dir.path().join("x.conversation.jsonl"));
        c.begin(command("c1", EntryStatus::InProgress, ""));
        let chunk = "部".repeat(TEXT_BYTES / 3 + 7);
        c.grow("c1", &chunk);
        let v = c.excerpt();
        let What::Command { output, .. } = &v.entries[0].what else {
            panic!()
        };
        assert!(output.len() <= TEXT_BYTES && output.chars().all(|ch| ch == '部'));
        assert!(v.entries[0].cut);
    }

    #[test]
    fn a_resume_appends_only_what_the_file_lacks_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.conversation.jsonl");
        let c = Conversation::new(dir.path(), path.clone());
        c.finish(command("a", EntryStatus::Completed, "1"));
        drop(c);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"id\":\"torn")
            .unwrap();
        let c = Conversation::new(dir.path(), path.clone());
        c.resume(
            vec![
                command("a", EntryStatus::Completed, "1"),
                command("b", EntryStatus::Failed, "2"),
            ],
            vec![command("c", EntryStatus::InProgress, "")],
        );
        let ids: Vec<String> = c.excerpt().entries.into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }
}
