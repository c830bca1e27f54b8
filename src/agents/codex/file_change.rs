//! What a Codex patch would change, for its approval. Codex's
//! `item/fileChange/requestApproval` names only the item it is about; the
//! files and diffs come earlier, in the `fileChange` item of `item/started`
//! (`changes: [{path, kind: {type, move_path}, diff}]`). This module reads that
//! item into the launcher's [`PatchChange`]s: checked field by field, every
//! text made safe to show (the agent writes it), and the diffs cut to a budget
//! so one approval cannot swell the session record.

use serde::Deserialize;
use serde_json::Value;

use crate::model::{PatchChange, PatchKind};
use crate::sanitize::shown;

/// Diff text kept per approval, over all its files (the rest is in the agent's terminal).
pub const DIFF_BUDGET: usize = 32 * 1024;

#[derive(Deserialize)]
struct WireChange {
    path: String,
    kind: WireKind,
    #[serde(default)]
    diff: String,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum WireKind {
    Add,
    Delete,
    Update {
        #[serde(default, alias = "movePath")]
        move_path: Option<String>,
    },
}

/// Why a `fileChange` item could not be read; the text says what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum FileChangeError {
    #[error("a fileChange item without an id")]
    NoId,
    #[error("fileChange {id}: unreadable changes: {source}")]
    Unreadable {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("fileChange {id}: a change without a usable path")]
    NoPath { id: String },
}

/// The item's id and its changes when `item` is a `fileChange` item; `None`
/// for any other item. A malformed one is an error that says what is wrong.
pub fn from_item(item: &Value) -> Option<Result<(String, Vec<PatchChange>), FileChangeError>> {
    if item["type"] != "fileChange" {
        return None;
    }
    let Some(id) = item["id"].as_str() else {
        return Some(Err(FileChangeError::NoId));
    };
    let wire: Vec<WireChange> = match serde_json::from_value(item["changes"].clone()) {
        Ok(w) => w,
        Err(source) => {
            return Some(Err(FileChangeError::Unreadable {
                id: id.to_string(),
                source,
            }))
        }
    };
    let mut budget = DIFF_BUDGET;
    let mut changes = Vec::with_capacity(wire.len());
    for w in wire {
        if w.path.is_empty() || w.path.contains('\0') {
            return Some(Err(FileChangeError::NoPath { id: id.to_string() }));
        }
        let (kind, move_to) = match w.kind {
            WireKind::Add => (PatchKind::Add, None),
            WireKind::Delete => (PatchKind::Delete, None),
            WireKind::Update { move_path } => (PatchKind::Update, move_path),
        };
        let (diff, diff_cut) = cut(&shown(&w.diff), budget);
        budget -= diff.len();
        changes.push(PatchChange {
            path: shown(&w.path),
            kind,
            move_to: move_to.as_deref().map(shown),
            diff,
            diff_cut,
        });
    }
    Some(Ok((id.to_string(), changes)))
}

/// At most `max` bytes of `text`, cut at a line end where there is one (and
/// at a character boundary always), and whether anything was cut.
fn cut(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_string(), false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end].rfind('\n').map_or(end, |nl| nl + 1);
    (text[..end].to_string(), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_file_change_item_becomes_its_files_and_diffs() {
        let item = json!({"type": "fileChange", "id": "call_1", "status": "inProgress",
            "changes": [
                {"path": "/r/a.txt", "kind": {"type": "update", "move_path": null},
                 "diff": "@@ -1 +1 @@\n-one\n+two\n"},
                {"path": "/r/b.txt", "kind": {"type": "update", "move_path": "/r/c.txt"}, "diff": ""},
                {"path": "/r/new.txt", "kind": {"type": "add"}, "diff": "hello\n"},
                {"path": "/r/old.txt", "kind": {"type": "delete"}, "diff": "bye\n"}]});
        let (id, changes) = from_item(&item).unwrap().unwrap();
        assert_eq!(id, "call_1");
        let kinds: Vec<_> = changes.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                PatchKind::Update,
                PatchKind::Update,
                PatchKind::Add,
                PatchKind::Delete
            ]
        );
        assert_eq!(changes[0].path, "/r/a.txt");
        assert_eq!(changes[0].diff, "@@ -1 +1 @@\n-one\n+two\n");
        assert_eq!(changes[1].move_to.as_deref(), Some("/r/c.txt"));
        assert!(changes.iter().all(|c| !c.diff_cut));
    }

    #[test]
    fn other_items_are_not_file_changes_and_bad_ones_say_why() {
        assert!(from_item(&json!({"type": "commandExecution", "id": "x"})).is_none());
        let no_path = json!({"type": "fileChange", "id": "c",
            "changes": [{"path": "", "kind": {"type": "add"}, "diff": ""}]});
        assert!(from_item(&no_path)
            .unwrap()
            .unwrap_err()
            .to_string()
            .contains("path"));
        let odd_kind = json!({"type": "fileChange", "id": "c",
            "changes": [{"path": "/a", "kind": {"type": "chmod"}, "diff": ""}]});
        assert!(from_item(&odd_kind)
            .unwrap()
            .unwrap_err()
            .to_string()
            .contains("unreadable"));
        let no_id = json!({"type": "fileChange", "changes": []});
        assert!(from_item(&no_id).unwrap().is_err());
    }

    #[test]
    fn hidden_characters_are_written_out_and_big_diffs_cut_at_a_line() {
        let line = "+0123456789abcdef\n";
        let big = line.repeat(DIFF_BUDGET / line.len() + 10);
        let item = json!({"type": "fileChange", "id": "c", "changes": [
            {"path": "/r/evil\u{202e}txt.sh", "kind": {"type": "add"}, "diff": big},
            {"path": "/r/small.txt", "kind": {"type": "add"}, "diff": "x\n"},
            {"path": "/r/late.txt", "kind": {"type": "add"}, "diff": "y".repeat(40)}]});
        let (_, changes) = from_item(&item).unwrap().unwrap();
        assert_eq!(changes[0].path, "/r/evil\\u{202e}txt.sh");
        assert!(changes[0].diff_cut);
        assert!(changes[0].diff.ends_with('\n'), "cut at a line end");
        let left = DIFF_BUDGET - changes[0].diff.len();
        assert!((2..line.len()).contains(&left), "{left}");
        // The budget is shared: what the first left holds the small one whole,
        // and the last one only in part.
        assert_eq!(
            (changes[1].diff.as_str(), changes[1].diff_cut),
            ("x\n", false)
        );
        assert!(changes[2].diff_cut);
        assert_eq!(changes[2].diff.len(), left - 2);
        assert_eq!(changes[2].path, "/r/late.txt");
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        let (text, was_cut) = cut("ééé", 3);
        assert_eq!((text.as_str(), was_cut), ("é", true));
    }
}
