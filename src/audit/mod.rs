//! The tamper-evident audit log: one JSON object per line, hash-chained.
//!
//! Each line carries `seq`, `ts`, `event`, its fields, `prev_hash` and `hash`, where
//! `hash` is SHA-256 (hex) of `prev_hash` followed by the line's stored text with
//! its top-level `hash` member taken out. Lines are written in the launcher's own
//! canonical form ([`canonical`]), never in whatever order a dependency's feature
//! flags give serde_json, and checked against their stored bytes, so a log written
//! by any earlier release still verifies.
//! A line is written with one `write` and synced before the change it records is
//! acknowledged, so a crash leaves at worst a torn last line, which the next start
//! sets aside (the chain continues from the last whole line).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub mod canonical;
pub mod landings;
mod seek;

pub const AUDIT_FILE: &str = "codex_governance_audit.jsonl";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One appended line, as written.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: u64,
    pub line: Value,
}

/// A line rendered before it is written: the store renders each change's lines
/// inside its transaction, so the chain's head is known (and kept in the
/// database) before the log is touched.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub seq: u64,
    /// The whole JSON line, without its newline.
    pub line: String,
    pub hash: String,
}

impl Rendered {
    /// A line as stored (in the log or the outbox): its seq and hash read back.
    pub fn parse(line: &str) -> Option<Rendered> {
        let v: Value = serde_json::from_str(line).ok()?;
        Some(Rendered {
            seq: v.get("seq")?.as_u64()?,
            hash: v.get("hash")?.as_str()?.to_string(),
            line: line.to_string(),
        })
    }
}

/// Where a chain ends: the seq and hash of its last line (seq 0: no line yet).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

impl Head {
    /// The head of an empty log.
    pub fn genesis() -> Head {
        Head {
            seq: 0,
            hash: GENESIS.to_string(),
        }
    }

    /// The head after `line`.
    pub fn of(line: &Rendered) -> Head {
        Head {
            seq: line.seq,
            hash: line.hash.clone(),
        }
    }
}

struct Tail {
    file: File,
    seq: u64,
    hash: String,
}

/// Appends to the audit log; cheap to share behind an `Arc`.
pub struct AuditLog {
    path: PathBuf,
    tail: Mutex<Tail>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read {0}: {1}")]
    Io(String, std::io::Error),
    #[error("line {line}: {reason}")]
    Bad { line: usize, reason: String },
}

fn hash_line(prev_hash: &str, without_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(without_hash.as_bytes());
    hex::encode(h.finalize())
}

impl AuditLog {
    /// Opens (or creates, owner-only) the log in `dir`, continuing its chain.
    pub fn open(dir: &Path) -> anyhow::Result<AuditLog> {
        let path = dir.join(AUDIT_FILE);
        let Head { seq, hash } = head_of(&path)?;
        let file = crate::files::open_own(dir, &path, crate::files::Access::ReadAppend)?;
        let len = file.metadata()?.len();
        let whole = whole_lines_len(&file, len)?;
        if whole < len {
            // A torn last line from a crash: cut it off so the next line starts
            // clean. Whole lines stay, ours or not (a Python-era log is kept).
            file.set_len(whole)?;
            file.sync_all()?;
        }
        Ok(AuditLog {
            path,
            tail: Mutex::new(Tail { file, seq, hash }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The seq of the last line written.
    pub fn last_seq(&self) -> u64 {
        self.tail.lock().unwrap().seq
    }

    /// The seq and hash of the last line written.
    pub fn head(&self) -> Head {
        let tail = self.tail.lock().unwrap();
        Head {
            seq: tail.seq,
            hash: tail.hash.clone(),
        }
    }

    /// Appends one event with the next seq, synced before returning.
    pub fn append(&self, event: &str, fields: Value) -> std::io::Result<Entry> {
        let head = self.head();
        let line = render(head.seq + 1, event, &fields, &head.hash)?;
        let mut entries = self.append_rendered(&[line])?;
        Ok(entries.remove(0))
    }

    /// Appends rendered lines with one write and one sync (each line whole).
    /// Lines at or below the last written seq are skipped.
    pub fn append_rendered(&self, lines: &[Rendered]) -> std::io::Result<Vec<Entry>> {
        let mut tail = self.tail.lock().unwrap();
        let (mut last, mut prev) = (tail.seq, tail.hash.clone());
        let mut buf = Vec::new();
        let mut entries = Vec::with_capacity(lines.len());
        for line in lines.iter().filter(|l| l.seq > tail.seq) {
            buf.extend_from_slice(line.line.as_bytes());
            buf.push(b'\n');
            entries.push(Entry {
                seq: line.seq,
                line: serde_json::from_str(&line.line)?,
            });
            last = line.seq;
            prev = line.hash.clone();
        }
        let len = tail.file.metadata()?.len();
        if let Err(e) = tail
            .file
            .write_all(&buf)
            .and_then(|_| tail.file.sync_data())
        {
            // A partial write (a full disk) must not leave a torn line in the middle
            // of the log, where the next line would follow it: cut it off.
            let _ = tail.file.set_len(len);
            return Err(e);
        }
        tail.seq = last;
        tail.hash = prev;
        Ok(entries)
    }

    /// Lines with `seq > since`, oldest first, at most `limit`.
    pub fn read_since(&self, since: u64, limit: usize) -> std::io::Result<Vec<Value>> {
        seek::read_since(&self.path, since, limit)
    }

    /// The `limit` lines before `before`, oldest first (a page back in time).
    /// A `before` past the end is the end: the newest page.
    pub fn read_before(&self, before: u64, limit: usize) -> std::io::Result<Vec<Value>> {
        let end = self.last_seq() + 1;
        seek::read_before(&self.path, before.min(end), limit)
    }
}

/// One line's JSON and hash: `seq`, `ts`, `event`, the fields, `prev_hash`, `hash`.
pub fn render(seq: u64, event: &str, fields: &Value, prev: &str) -> std::io::Result<Rendered> {
    let mut obj = Map::new();
    obj.insert("seq".into(), seq.into());
    obj.insert("ts".into(), crate::clock::now_rfc3339().into());
    obj.insert("event".into(), event.into());
    if let Value::Object(f) = fields {
        for (k, v) in f {
            if !matches!(k.as_str(), "seq" | "ts" | "event" | "prev_hash" | "hash") {
                obj.insert(k.clone(), v.clone());
            }
        }
    }
    let (line, hash) = seal(obj, prev)?;
    Ok(Rendered { seq, line, hash })
}

/// Chains a line's fields on from `prev`: sets `prev_hash`, adds `hash` (over
/// `prev` and the line without it); (the line, its hash).
pub fn seal(mut obj: Map<String, Value>, prev: &str) -> serde_json::Result<(String, String)> {
    obj.remove("hash");
    obj.insert("prev_hash".into(), prev.into());
    let mut line = Value::Object(obj);
    let hash = hash_line(prev, &canonical::to_string(&line));
    line["hash"] = hash.clone().into();
    Ok((canonical::to_string(&line), hash))
}

/// The head of the log at `path` (genesis when there is none), read from its end.
pub fn head_of(path: &Path) -> anyhow::Result<Head> {
    let (seq, hash) = scan_tail(path)?;
    Ok(Head { seq, hash })
}

/// The length of the log's whole lines: up to and including its last newline.
fn whole_lines_len(mut file: &File, len: u64) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(nl) = chunk.iter().rposition(|b| *b == b'\n') {
            return Ok(start + nl as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// Finds the last whole, valid line: (seq, hash). Reads from the end, so
/// opening costs the same however long the log is.
fn scan_tail(path: &Path) -> anyhow::Result<(u64, String)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, GENESIS.to_string())),
        Err(e) => return Err(e.into()),
    };
    let len = file.metadata()?.len();
    let mut window = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        Read::by_ref(&mut file)
            .take(len - start)
            .read_to_end(&mut buf)?;
        // Whole lines of the window, last first (the first may be cut by the window).
        let mut end = buf.len();
        while let Some(nl) = buf[..end].iter().rposition(|b| *b == b'\n') {
            let line_start = buf[..nl].iter().rposition(|b| *b == b'\n').map(|i| i + 1);
            let Some(line_start) = line_start.or((start == 0).then_some(0)) else {
                break;
            };
            if let Ok(v) = serde_json::from_slice::<Value>(&buf[line_start..nl]) {
                if let (Some(seq), Some(hash)) = (
                    v.get("seq").and_then(Value::as_u64),
                    v.get("hash").and_then(Value::as_str),
                ) {
                    return Ok((seq, hash.to_string()));
                }
            }
            end = line_start.saturating_sub(1);
            if line_start == 0 {
                break;
            }
        }
        if start == 0 {
            return Ok((0, GENESIS.to_string()));
        }
        window *= 4;
    }
}

/// The chain checked one line at a time, from a known head.
struct Chain {
    head: Head,
}

impl Chain {
    fn check(&mut self, n: usize, line: &str) -> Result<(), VerifyError> {
        let bad = |reason: String| VerifyError::Bad { line: n, reason };
        let obj: Map<String, Value> = match serde_json::from_str(line) {
            Ok(Value::Object(o)) => o,
            _ => return Err(bad("not a JSON object".into())),
        };
        let Some(Value::String(hash)) = obj.get("hash").cloned() else {
            return Err(bad("no hash".into()));
        };
        let claimed_prev = obj.get("prev_hash").and_then(Value::as_str).unwrap_or("");
        if claimed_prev != self.head.hash {
            return Err(bad(
                "prev_hash does not match the previous line's hash".into()
            ));
        }
        let seq = obj.get("seq").and_then(Value::as_u64).unwrap_or(0);
        if seq != self.head.seq + 1 {
            return Err(bad(format!("seq {seq} follows {}", self.head.seq)));
        }
        // The bytes it was hashed from, as this line stores them.
        let without = canonical::without_member(line, "hash").map_err(|e| bad(e.to_string()))?;
        if hash_line(&self.head.hash, &without) != hash {
            return Err(bad("hash does not match the line's content".into()));
        }
        self.head = Head { seq, hash };
        Ok(())
    }
}

/// Checks the chain; Ok(number of lines) or the first bad line.
pub fn verify(path: &Path) -> Result<usize, VerifyError> {
    let file = File::open(path).map_err(|e| VerifyError::Io(path.display().to_string(), e))?;
    let mut chain = Chain {
        head: Head::genesis(),
    };
    let mut count = 0;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| VerifyError::Bad {
            line: n,
            reason: format!("unreadable: {e}"),
        })?;
        chain.check(n, &line)?;
        count = n;
    }
    Ok(count)
}

/// Checks the chain of the log's whole lines: (number of lines, the head). A
/// last line without its newline is being written (or was cut by a crash,
/// and the next start sets it aside): it is left out.
pub fn verify_whole_lines(path: &Path) -> Result<(usize, Head), VerifyError> {
    let io = |e| VerifyError::Io(path.display().to_string(), e);
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, Head::genesis())),
        Err(e) => return Err(io(e)),
    };
    let mut reader = BufReader::new(file);
    let mut chain = Chain {
        head: Head::genesis(),
    };
    let mut line = Vec::new();
    let mut count = 0;
    loop {
        line.clear();
        reader.read_until(b'\n', &mut line).map_err(io)?;
        if line.pop() != Some(b'\n') {
            return Ok((count, chain.head));
        }
        count += 1;
        let text = std::str::from_utf8(&line).map_err(|e| VerifyError::Bad {
            line: count,
            reason: format!("not UTF-8: {e}"),
        })?;
        chain.check(count, text)?;
    }
}

/// Compares the log's head with the head the database keeps (the anchor,
/// written in the same transaction as the outbox). `pending` are the outbox's
/// lines: committed, perhaps not yet in the log. The log may lag the anchor by
/// pending lines that continue its chain; it may not pass it or differ from it.
/// Where the log and the database's anchor part ways, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AnchorMismatch(pub String);

pub fn check_anchor(log: &Head, anchor: &Head, pending: &[Rendered]) -> Result<(), AnchorMismatch> {
    let short = |h: &str| h.chars().take(12).collect::<String>();
    if log.seq > anchor.seq {
        return Err(AnchorMismatch(format!(
            "the log goes on past the database's anchor (seq {}): lines {}..={} were not committed \
             with the database (written by someone else, or the database is older than the log)",
            anchor.seq,
            anchor.seq + 1,
            log.seq
        )));
    }
    let mut chain = Chain { head: log.clone() };
    let mut next: Vec<&Rendered> = pending.iter().filter(|l| l.seq > log.seq).collect();
    next.sort_by_key(|l| l.seq);
    for line in next.into_iter().take_while(|l| l.seq <= anchor.seq) {
        if line.seq != chain.head.seq + 1 {
            break; // a gap: missing lines, said below
        }
        chain.check(line.seq as usize, &line.line).map_err(|e| {
            AnchorMismatch(format!(
                "the database's pending line {} does not continue the log (which ends at seq {}): {e}",
                line.seq, log.seq
            ))
        })?;
    }
    if chain.head.seq < anchor.seq {
        return Err(AnchorMismatch(format!(
            "the log ends at seq {} but the database anchors seq {}: lines are missing",
            chain.head.seq, anchor.seq
        )));
    }
    if chain.head.hash != anchor.hash {
        return Err(AnchorMismatch(format!(
            "the line with seq {} hashes to {}…, the database anchors {}…: the log was rewritten",
            anchor.seq,
            short(&chain.head.hash),
            short(&anchor.hash)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chain_verifies_continues_and_detects_edits() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        log.append("launcher_started", json!({"pid": 1})).unwrap();
        log.append("session_started", json!({"session_id": "zhongshu-1"}))
            .unwrap();
        drop(log);
        let log = AuditLog::open(dir.path()).unwrap();
        let e = log.append("launcher_stopped", json!({})).unwrap();
        assert_eq!(e.seq, 3);
        let path = dir.path().join(AUDIT_FILE);
        assert_eq!(verify(&path).unwrap(), 3);
        assert_eq!(log.read_since(1, 10).unwrap().len(), 2);

        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("zhongshu-1", "zhongshu-2")).unwrap();
        match verify(&path) {
            Err(VerifyError::Bad { line: 2, .. }) => {}
            other => panic!("expected line 2 to fail, got {other:?}"),
        }
    }

    #[test]
    fn a_page_before_a_seq_past_the_end_is_the_newest_page() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        for i in 0..5 {
            log.append("e", json!({ "i": i })).unwrap();
        }
        let seqs = |v: Vec<Value>| {
            v.iter()
                .map(|l| l["seq"].as_u64().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(seqs(log.read_before(6, 2).unwrap()), vec![4, 5]);
        assert_eq!(seqs(log.read_before(1_000_000, 2).unwrap()), vec![4, 5]);
        assert_eq!(
            seqs(log.read_before(u64::MAX, 10).unwrap()),
            vec![1, 2, 3, 4, 5]
        );
        assert_eq!(seqs(log.read_before(3, 10).unwrap()), vec![1, 2]);
    }

    #[test]
    fn whole_lines_that_are_not_ours_are_kept_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(AUDIT_FILE);
        // The Python tool's log: JSON lines without seq or hash.
        let python = "{\"event\": \"session_started\", \"session_id\": \"zhongshu-1\"}\n";
        std::fs::write(&path, python).unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        assert_eq!(log.last_seq(), 0);
        drop(log);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), python);
    }

    #[test]
    fn anchors_are_compared_with_the_log_and_the_pending_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        log.append("a", json!({})).unwrap();
        let written = log.head();
        let next = render(2, "b", &json!({}), &written.hash).unwrap();
        let after = render(3, "c", &json!({}), &next.hash).unwrap();
        let anchor = Head::of(&after);
        let pending = [next.clone(), after.clone()];
        assert_eq!(check_anchor(&written, &anchor, &pending), Ok(()));
        assert_eq!(check_anchor(&written, &written, &[]), Ok(()));
        let e = check_anchor(&written, &anchor, &pending[..1]).unwrap_err();
        assert!(e.0.contains("lines are missing"), "{e}");
        let e = check_anchor(&anchor, &written, &[]).unwrap_err();
        assert!(e.0.contains("past the database's anchor"), "{e}");
        let other = Head {
            seq: 1,
            hash: "f".repeat(64),
        };
        let e = check_anchor(&other, &other.clone(), &[]).map(|_| ()).err();
        assert_eq!(e, None, "equal heads agree");
        let e = check_anchor(&written, &other, &[]).unwrap_err();
        assert!(e.0.contains("rewritten"), "{e}");
        // Pending lines that do not continue the log are not taken on trust.
        let e = check_anchor(&other, &anchor, &pending).unwrap_err();
        assert!(e.0.contains("does not continue the log"), "{e}");
    }

    #[test]
    fn a_last_line_without_its_newline_is_left_out_of_the_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        log.append("a", json!({})).unwrap();
        let head = log.head();
        drop(log);
        let path = dir.path().join(AUDIT_FILE);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"seq\":2,\"ts").unwrap();
        assert_eq!(verify_whole_lines(&path).unwrap(), (1, head));
        assert!(verify(&path).is_err(), "the plain check still names it");
    }

    #[test]
    fn torn_line_is_cut_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        log.append("a", json!({})).unwrap();
        drop(log);
        let path = dir.path().join(AUDIT_FILE);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"seq\":2,\"ts\"").unwrap();
        drop(f);
        let log = AuditLog::open(dir.path()).unwrap();
        log.append("b", json!({})).unwrap();
        assert_eq!(verify(&path).unwrap(), 2);
    }
}
